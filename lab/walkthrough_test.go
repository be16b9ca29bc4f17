package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const walkReadme = "# Stage\n\n**What you will learn:** things.\n\n## What's new\n\n" +
	"```console\n$ not-this-one\n```\n\n" +
	"## Exercises\n\n1. x\n\n" +
	"## How to check your work\n\nRun `go test` in prose, it is fine.\n\n" +
	"```console\n$ sudo ./stage run $ROOTFS echo hi\nhi\n$ echo a; echo b >&2\na\nb\n```\n\n" +
	"```sh\n$ not a console block\n```\n\n" +
	"```console\n$ true\n```\n\n" +
	"## What goes wrong\n\nThings. `lab reset`.\n\n## Further reading\n\nman pages\n"

func TestWalkthroughSteps(t *testing.T) {
	steps, err := walkthroughSteps([]byte(walkReadme))
	require.NoError(t, err)
	require.Len(t, steps, 3)
	assert.Equal(t, "sudo ./stage run $ROOTFS echo hi", steps[0].Cmd)
	assert.Equal(t, "./stage run $ROOTFS echo hi", steps[0].shellCommand())
	assert.Equal(t, []string{"hi"}, steps[0].Want)
	assert.Equal(t, 20, steps[0].Line)
	assert.Equal(t, []string{"a", "b"}, steps[1].Want)
	assert.Empty(t, steps[2].Want)
	assert.NoError(t, checkReadmeShape([]byte(walkReadme)))
}

func TestWalkthroughStepsRejects(t *testing.T) {
	cases := []struct{ name, md, want string }{
		{"no section", "# S\n", "no \"## How to check your work\" section"},
		{"no commands", "## How to check your work\n\nprose only\n", "no ```console block"},
		{"go test", "## How to check your work\n\n```console\n$ sudo go test ./...\nok\n```\n", "runs the tests from inside the tests"},
		{"lab test", "## How to check your work\n\n```console\n$ sudo ../lab.sh test stage01\n```\n", "runs the tests from inside the tests"},
		{"lab grade", "## How to check your work\n\n```console\n$ ./lab grade stage01\n```\n", "runs the tests from inside the tests"},
		{"output first", "## How to check your work\n\n```console\nhello\n$ true\n```\n", "output before any"},
		{"unclosed", "## How to check your work\n\n```console\n$ true\n", "not closed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := walkthroughSteps([]byte(c.md))
			assert.ErrorContains(t, err, c.want)
		})
	}
}

func TestReadmeShape(t *testing.T) {
	assert.NoError(t, checkReadmeShape([]byte(walkReadme)))
	noLearn := strings.Replace(walkReadme, "What you will learn", "What", 1)
	assert.ErrorContains(t, checkReadmeShape([]byte(noLearn)), "What you will learn")
	swapped := strings.Replace(strings.Replace(walkReadme, "## Exercises", "## TMP", 1), "## What goes wrong", "## Exercises", 1)
	assert.ErrorContains(t, checkReadmeShape([]byte(swapped)), `"How to check your work" is missing or out of order`)
	// A heading inside a code block is not a section.
	fenced := strings.Replace(walkReadme, "## Further reading", "```\n## Further reading\n```", 1)
	assert.ErrorContains(t, checkReadmeShape([]byte(fenced)), "Further reading")
}

func TestOutputMatches(t *testing.T) {
	cases := []struct {
		name      string
		want, got string
		match     bool
	}{
		{"same", "a\nb", "a\nb", true},
		{"trailing space and empty lines", "a\nb\n\n", "a  \nb\n", true},
		{"different", "a\nb", "a\nc", false},
		{"missing line", "a\nb", "a", false},
		{"extra line", "a", "a\nb", false},
		{"placeholder", "pid=<pid> ppid=<...>", "pid=4242 ppid=1", true},
		{"placeholder keeps the rest", "root=<dev>:2", "root=65024:3", false},
		{"placeholder and regexp characters", "x.y=(<n>)", "x.y=(12)", true},
		{"regexp characters are literal", "x.y", "xzy", false},
		{"... matches lines", "first\n...\nlast", "first\n1\n2\n3\nlast", true},
		{"... matches no line", "first\n...\nlast", "first\nlast", true},
		{"... at the end", "first\n...", "first\nmore\nand more", true},
		{"... needs the rest", "first\n...\nlast", "first\n1\n2", false},
		{"durations", "ok  boxlab/stage01 3.1s", "ok  boxlab/stage01 12.25s", true},
		{"milliseconds", "took 250ms", "took 3s", true},
		{"hex ids", "id=0123456789abcdef", "id=fedcba9876543210aa", true},
		{"numbers stay exact", "127", "126", false},
		{"short hex is a number", "code=ab12", "code=ab13", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.match, outputMatches(splitLines(c.want), splitLines(c.got)))
		})
	}
}

func TestRunWalkStep(t *testing.T) {
	dir := t.TempDir()
	s := walkStep{Cmd: "sudo sh -c 'echo out; echo err >&2; echo $ROOTFS; pwd'", Line: 3,
		Want: []string{"out", "err", "/the/rootfs", dir}}
	assert.Nil(t, checkWalkStep(dir, s, []string{"ROOTFS=/the/rootfs"}))

	s.Want = []string{"out", "nope"}
	lines := checkWalkStep(dir, s, []string{"ROOTFS=/the/rootfs"})
	require.NotNil(t, lines)
	assert.Contains(t, lines[0], "README.md:3: the output of")
	assert.Contains(t, strings.Join(lines, "\n"), "--- the command printed\nout\nerr\n")

	lines = checkWalkStep(dir, walkStep{Cmd: "exit 3", Line: 9}, nil)
	require.NotNil(t, lines)
	assert.Contains(t, lines[0], "must exit 0")
}

func TestPrintGrade(t *testing.T) {
	exs := []exercise{{Num: 1, Func: "enterRoot", File: "chroot.go", Hint: "Which system call changes what / means?", Tests: []string{"TestRoot"}}}
	g := gradeRun{Checks: []check{
		{Name: "TestRoot", Status: "fail", Output: []string{"    x_test.go:3: exit code 125", "", "stage: TODO(exercise 1): write enterRoot in chroot.go"}},
		{Name: "TestOther", Status: "fail"},
		{Name: "TestUnit", Status: "pass"},
		{Name: "TestSkip", Status: "skip", Output: []string{"    x_test.go:9: needs root"}},
	}}
	var b bytes.Buffer
	printGrade(&b, "stage01-chroot", g, exs, map[int]bool{1: true})
	out := b.String()
	assert.Contains(t, out, "  FAIL TestRoot\n         | x_test.go:3: exit code 125\n         | stage: TODO(exercise 1)")
	assert.Contains(t, out, "hint, exercise 1. enterRoot in chroot.go: Which system call changes\n           what / means?\n")
	assert.Contains(t, out, "still stubs: 1. enterRoot in chroot.go")
	assert.Contains(t, out, "  PASS TestUnit\n")
	assert.Contains(t, out, "  SKIP TestSkip\n         skipped: needs root\n")
	assert.Contains(t, out, "1. enterRoot in chroot.go                TODO (still the stub)")
	assert.Contains(t, out, "score: 1/4 checks passed")

	b.Reset()
	printGrade(&b, "s", gradeRun{Checks: []check{{Name: "TestRoot", Status: "not run"}}, BuildError: []string{"./chroot.go:5:2: undefined: x"}}, exs, nil)
	assert.Contains(t, b.String(), "your copy does not build, so no test ran:\n    ./chroot.go:5:2: undefined: x\n")
	assert.Contains(t, b.String(), "  ---- TestRoot\n")
	assert.Contains(t, b.String(), "score: 0/1")
}

func TestGradeCollector(t *testing.T) {
	events := strings.Join([]string{
		`{"Action":"run","Test":"TestA"}`,
		`{"Action":"output","Test":"TestA","Output":"=== RUN   TestA\n"}`,
		`{"Action":"output","Test":"TestA/sub","Output":"    a_test.go:5: boom\n"}`,
		`{"Action":"fail","Test":"TestA/sub"}`,
		`{"Action":"fail","Test":"TestA"}`,
		`{"Action":"pass","Test":"TestB"}`,
		`{"Action":"output","Output":"FAIL\n"}`,
		`{"Action":"fail"}`,
	}, "\n")
	c := newGradeCollector(nil)
	c.read(strings.NewReader(events))
	g := c.result([]string{"TestA", "TestB", "TestC"})
	assert.Equal(t, []string{"TestA"}, g.Failed)
	assert.Equal(t, []check{
		{Name: "TestA", Status: "fail", Output: []string{"    a_test.go:5: boom"}},
		{Name: "TestB", Status: "pass"},
		{Name: "TestC", Status: "not run"},
	}, g.Checks)
	assert.Equal(t, 1, g.Passed())

	c = newGradeCollector(nil)
	c.read(strings.NewReader(`{"Action":"build-output","ImportPath":"x","Output":"./a.go:1: undefined: y\n"}` + "\n" + `{"Action":"fail","FailedBuild":"x"}`))
	g = c.result([]string{"TestA"})
	assert.Equal(t, []string{"./a.go:1: undefined: y"}, g.BuildError)
}
