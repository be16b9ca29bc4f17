package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"boxlab/lab/internal/gotool"
)

const markedSource = `package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// enter makes dir the root. See chroot(2).
//
// Exercise 2: Which system call changes "/"? See
// chroot(2).
// Graded by: TestRoot,
// TestEscape.
func enter(dir string) error {
	// why, not what
	if err := syscall.Chroot(dir); err != nil {
		return fmt.Errorf("chroot %s: %w", dir, err)
	}
	return os.Chdir("/")
}

// count has several results.
//
// Exercise 1: How many? See count(1).
// Graded by: TestCount.
func count(s string) (n int, name string, ok bool, p *int, xs []string, m map[string]int, t thing, err error) {
	return len(s), s, true, nil, nil, nil, thing{}, nil
}

type thing struct{ a int }

// flags are the flags.
//
// Exercise 3: Which flags? See flags(7).
// Graded by: TestCount.
const flags = syscall.CLONE_NEWUTS | // one
	syscall.CLONE_NEWPID // two

// (t thing) a method, not marked.
func (t thing) upper() string { return strings.ToUpper(fmt.Sprint(t.a)) }
`

const markedTests = `package main

import "testing"

func TestMain(m *testing.M) { m.Run() }
func TestRoot(t *testing.T)   {}
func TestEscape(t *testing.T) {}
func TestCount(t *testing.T)  {}
func FuzzX(f *testing.F)      {}
func helper(t *testing.T)     {}
`

func writeStage(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	return dir
}

func TestParseExercises(t *testing.T) {
	dir := writeStage(t, map[string]string{"root.go": markedSource, "x_test.go": markedTests})
	exs, err := parseExercises(dir)
	require.NoError(t, err)
	require.Len(t, exs, 3)
	assert.Equal(t, 1, exs[0].Num)
	assert.Equal(t, "count", exs[0].Func)
	assert.Equal(t, "0, \"\", false, nil, nil, nil, *new(thing), ", exs[0].zeros)
	assert.Equal(t, "enter", exs[1].Func)
	assert.Equal(t, "root.go", exs[1].File)
	assert.Equal(t, `Which system call changes "/"? See chroot(2).`, exs[1].Hint)
	assert.Equal(t, []string{"TestRoot", "TestEscape"}, exs[1].Tests)
	assert.Equal(t, "flags", exs[2].Func)
	assert.Equal(t, "0", exs[2].constZero)

	tests, err := graderTests(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"TestRoot", "TestEscape", "TestCount", "FuzzX"}, tests)

	sol, err := solutionText(dir, exs, "enter")
	require.NoError(t, err)
	assert.Contains(t, sol, "// exercise 2: enter, root.go:16\n// it uses the imports \"fmt\", \"os\", \"syscall\"\n\n// enter makes dir the root.")
	assert.Contains(t, sol, "return os.Chdir(\"/\")\n}\n")
	sol, err = solutionText(dir, exs, "Exercise 3")
	require.NoError(t, err)
	assert.Contains(t, sol, "syscall.CLONE_NEWPID // two\n")
	_, err = solutionText(dir, exs, "9")
	assert.ErrorContains(t, err, "the exercises are 1 (count), 2 (enter), 3 (flags)")
}

func TestParseExercisesRejects(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"no error result", "package main\n\n// Exercise 1: Why?\n// Graded by: TestRoot.\nfunc f() int { return 1 }\n", "last result must be error"},
		{"no result", "package main\n\n// Exercise 1: Why?\n// Graded by: TestRoot.\nfunc f() {}\n", "must return an error"},
		{"no tests", "package main\n\n// Exercise 1: Why?\nfunc f() error { return nil }\n", "Graded by"},
		{"unknown test", "package main\n\n// Exercise 1: Why?\n// Graded by: TestNope.\nfunc f() error { return nil }\n", "TestNope, which is not a test"},
		{"no hint", "package main\n\n// Exercise 1:\n// Graded by: TestRoot.\nfunc f() error { return nil }\n", "no hint"},
		{"misplaced", "package main\n\nfunc f() error {\n\t// Exercise 1: Why?\n\t// Graded by: TestRoot.\n\treturn nil\n}\n", "must be in the doc comment"},
		{"gap", "package main\n\n// Exercise 2: Why?\n// Graded by: TestRoot.\nfunc f() error { return nil }\n", "numbered 1, 2, 3"},
		{"twice", "package main\n\n// Exercise 1: Why?\n// Graded by: TestRoot.\nfunc f() error { return nil }\n\n// Exercise 1: How?\n// Graded by: TestRoot.\nfunc g() error { return nil }\n", "numbered 1, 2, 3"},
		{"const group", "package main\n\n// Exercise 1: Why?\n// Graded by: TestRoot.\nconst (\n\ta = 1\n\tb = 2\n)\n", "one constant"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeStage(t, map[string]string{"a.go": c.src, "x_test.go": markedTests})
			_, err := parseExercises(dir)
			assert.ErrorContains(t, err, c.want)
		})
	}
}

func TestStubSource(t *testing.T) {
	exs, err := parseFileExercises("root.go", []byte(markedSource))
	require.NoError(t, err)
	out, err := stubSource("root.go", []byte(markedSource), exs)
	require.NoError(t, err)
	got := string(out)
	assert.Contains(t, got, "// Exercise 2: Which system call changes \"/\"? See\n// chroot(2).\n", "the hint stays")
	assert.Contains(t, got, `return fmt.Errorf("TODO(exercise 2): write enter in root.go")`)
	assert.Contains(t, got, `return 0, "", false, nil, nil, nil, *new(thing), fmt.Errorf("TODO(exercise 1): write count in root.go")`)
	assert.Contains(t, got, "const flags = 0 // TODO(exercise 3)")
	assert.NotContains(t, got, "// two", "the comment after the value goes with it")
	assert.NotContains(t, got, "syscall.Chroot")
	assert.NotContains(t, got, `"syscall"`, "an import the stubs no longer use is dropped")
	assert.NotContains(t, got, `"os"`)
	assert.Contains(t, got, `"strings"`, "an import still used stays")
	assert.NotContains(t, got, "// why, not what", "comments inside the body go with it")

	// Only one: the others stay as they are.
	var enter []exercise
	for _, e := range exs {
		if e.Func == "enter" {
			enter = append(enter, e)
		}
	}
	one, err := stubSource("root.go", []byte(markedSource), enter)
	require.NoError(t, err)
	assert.Contains(t, string(one), "return len(s), s, true")
	assert.Contains(t, string(one), `"syscall"`, "still used by the const")
}

// A stub of a file that does not import fmt gets it; one that stubs only a
// const does not.
func TestStubSourceImports(t *testing.T) {
	src := "package main\n\nimport \"os\"\n\n// Exercise 1: Why?\n// Graded by: TestRoot.\nfunc f() error { return os.Chdir(\"/\") }\n"
	exs, err := parseFileExercises("a.go", []byte(src))
	require.NoError(t, err)
	out, err := stubSource("a.go", []byte(src), exs)
	require.NoError(t, err)
	assert.Contains(t, string(out), "import \"fmt\"")
	assert.NotContains(t, string(out), "\"os\"")

	src = "package main\n\nimport (\n\t\"os\"\n\t\"syscall\"\n)\n\n// Exercise 1: Why?\n// Graded by: TestRoot.\nconst x = syscall.CLONE_NEWNS\n\nvar _ = os.Args\n"
	exs, err = parseFileExercises("a.go", []byte(src))
	require.NoError(t, err)
	out, err = stubSource("a.go", []byte(src), exs)
	require.NoError(t, err)
	assert.NotContains(t, string(out), "fmt")
	assert.NotContains(t, string(out), "syscall")
	assert.Contains(t, string(out), "\"os\"")
}

// The stubbed source compiles and vets clean in a module of its own, and
// running it prints the TODO error.
func TestStubCompiles(t *testing.T) {
	goBin, err := gotool.Path()
	if err != nil {
		t.Skip(err)
	}
	src := markedSource + `
func main() {
	if _, _, _, _, _, _, _, err := count("x"); err != nil {
		fmt.Println(err)
	}
	if err := enter("/nowhere"); err != nil {
		fmt.Println(err)
	}
	fmt.Println(flags, thing{}.upper())
}
`
	exs, err := parseFileExercises("root.go", []byte(src))
	require.NoError(t, err)
	out, err := stubSource("root.go", []byte(src), exs)
	require.NoError(t, err)
	dir := writeStage(t, map[string]string{"root.go": string(out), "go.mod": "module stubtest\n\ngo 1.26.0\n"})
	for _, args := range [][]string{{"vet", "."}, {"run", "."}} {
		cmd := exec.Command(goBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-buildvcs=false")
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %s:\n%s\n--- source\n%s", args[0], b, out)
		if args[0] == "run" {
			assert.Equal(t, "TODO(exercise 1): write count in root.go\nTODO(exercise 2): write enter in root.go\n0 0\n", string(b))
		}
	}
}

func TestImportName(t *testing.T) {
	for path, want := range map[string]string{
		"fmt": "fmt", "golang.org/x/sys/unix": "unix", "gopkg.in/yaml.v3": "yaml",
		"github.com/mattn/go-shellwords": "shellwords", "github.com/x/y/v2": "y",
	} {
		assert.Equal(t, want, importName(path), path)
	}
}

func TestAbsoluteLabReplace(t *testing.T) {
	in := "module boxlab/stage01\n\nreplace boxlab/lab => ../lab\n\nrequire x v1\n"
	out, err := absoluteLabReplace([]byte(in), "/src/boxlab/lab")
	require.NoError(t, err)
	assert.Equal(t, "module boxlab/stage01\n\nreplace boxlab/lab => /src/boxlab/lab\n\nrequire x v1\n", string(out))

	in = "replace (\n\tboxlab/lab => ../lab\n\tother => ./o\n)\n"
	out, err = absoluteLabReplace([]byte(in), "/l")
	require.NoError(t, err)
	assert.Equal(t, "replace (\n\tboxlab/lab => /l\n\tother => ./o\n)\n", string(out))

	_, err = absoluteLabReplace([]byte("module m\n"), "/l")
	assert.Error(t, err)
}

func TestWriteStageCopyAndExerciseDir(t *testing.T) {
	src := writeStage(t, map[string]string{
		"root.go": markedSource, "x_test.go": markedTests, "README.md": "# s\n",
		"go.mod": "module boxlab/stagexx\n\nreplace boxlab/lab => ../lab\n",
	})
	require.NoError(t, os.WriteFile(filepath.Join(src, filepath.Base(src)), []byte("binary"), 0o755))
	exs, err := parseExercises(src)
	require.NoError(t, err)
	dst := filepath.Join(t.TempDir(), "copy")
	require.NoError(t, prepareExerciseDir(dst, false))
	require.NoError(t, writeStageCopy(src, dst, copyOptions{labDir: "/abs/lab", exs: exs, stub: map[int]bool{2: true}}))
	b, err := os.ReadFile(filepath.Join(dst, "root.go"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "TODO(exercise 2)")
	assert.NotContains(t, string(b), "TODO(exercise 1)")
	b, err = os.ReadFile(filepath.Join(dst, "go.mod"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "replace boxlab/lab => /abs/lab\n")
	_, err = os.Stat(filepath.Join(dst, filepath.Base(src)))
	assert.True(t, os.IsNotExist(err), "the built binary is not copied")
	assert.FileExists(t, filepath.Join(dst, "README.md"))
	assert.Equal(t, map[int]bool{2: true}, todoExercises(dst, exs))

	// A second run: refused without --force, and --force only ever
	// replaces a directory that lab exercise wrote.
	assert.ErrorContains(t, prepareExerciseDir(dst, true), "not written by 'lab exercise'")
	require.NoError(t, os.WriteFile(filepath.Join(dst, exerciseStamp), []byte("stagexx\n"), 0o644))
	assert.ErrorContains(t, prepareExerciseDir(dst, false), "--force")
	require.NoError(t, prepareExerciseDir(dst, true))
	entries, err := os.ReadDir(dst)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestExerciseListAndReadme(t *testing.T) {
	exs := []exercise{{Num: 1, Func: "enterRoot", File: "chroot.go", Hint: "Which call?", Tests: []string{"TestA", "TestB"}}}
	list := exerciseListMarkdown("stage01-chroot", exs)
	assert.Equal(t, "1. `enterRoot` in `chroot.go`: Which call? (graded by `TestA`, `TestB`)\n", list)

	md := "# S\n\n## Exercises\n\nIntro.\n\n1. `enterRoot` in `chroot.go`: Which\n   call? (graded by `TestA`, `TestB`)\n\nAfter.\n\n## Next\n"
	assert.NoError(t, checkReadmeExercises([]byte(md), "stage01-chroot", exs))
	bad := strings.Replace(md, "Which\n", "What\n", 1)
	assert.ErrorContains(t, checkReadmeExercises([]byte(bad), "stage01-chroot", exs), "exercise 1 differs")
	assert.ErrorContains(t, checkReadmeExercises([]byte("# S\n"), "s", exs), "no \"## Exercises\" section")
	two := append(exs, exercise{Num: 2, Func: "f", File: "f.go", Hint: "Why?", Tests: []string{"TestC"}})
	assert.ErrorContains(t, checkReadmeExercises([]byte(md), "s", two), "lists 1 exercises, the code marks 2")
}

func TestParseMutants(t *testing.T) {
	ms, err := parseMutants("# comment\n\n## enter: no chdir\n- return os.Chdir(\"/\")\n+ return nil\n\n## enter: two hunks\n- a\n-   b\n+ c\n- d\n\n## count: x\n- len(s)\n+ 0\n")
	require.NoError(t, err)
	require.Len(t, ms, 3)
	assert.Equal(t, mutant{Func: "enter", What: "no chdir", Line: 3, hunks: []hunk{{old: []string{`return os.Chdir("/")`}, new: []string{"return nil"}}}}, ms[0])
	assert.Equal(t, []hunk{{old: []string{"a", "b"}, new: []string{"c"}}, {old: []string{"d"}}}, ms[1].hunks)

	for text, want := range map[string]string{
		"- a\n":              "outside a mutant",
		"## f: x\n+ a\n":     "before any",
		"## f x\n- a\n":      "want \"## FUNC",
		"## f: x\n":          "changes nothing",
		"## f: x\n- a\nzz\n": "not a",
	} {
		_, err := parseMutants(text)
		assert.ErrorContains(t, err, want, text)
	}
}

func TestMutateSource(t *testing.T) {
	exs, err := parseFileExercises("root.go", []byte(markedSource))
	require.NoError(t, err)
	enter := exs[slices.IndexFunc(exs, func(e exercise) bool { return e.Func == "enter" })]
	ms, err := parseMutants("## enter: no chdir\n- return os.Chdir(\"/\")\n+ return nil\n\n## enter: absent\n- syscall.Mkdir\n+ x\n")
	require.NoError(t, err)
	out, err := mutateSource("root.go", []byte(markedSource), enter, ms[0])
	require.NoError(t, err)
	assert.Contains(t, string(out), "return fmt.Errorf(\"chroot %s: %w\", dir, err)\n\t}\n\treturn nil\n}")
	assert.NotContains(t, string(out), `"os"`, "an import the mutant no longer uses is dropped")
	assert.Contains(t, string(out), "// Exercise 2:", "the rest stays")

	_, err = mutateSource("root.go", []byte(markedSource), enter, ms[1])
	assert.ErrorContains(t, err, "occurs 0 times")
}

// The lab's own mutants parse, and each is the mutant of an exercise of a
// stage (a renamed function would leave its mutants behind).
func TestLabMutants(t *testing.T) {
	by, err := loadMutants()
	require.NoError(t, err)
	funcs := map[string]bool{}
	stages, err := filepath.Glob("../stage0*")
	require.NoError(t, err)
	for _, dir := range stages {
		exs, err := parseExercises(dir)
		require.NoError(t, err, dir)
		for _, e := range exs {
			funcs[e.Func] = true
		}
	}
	for fn, ms := range by {
		assert.True(t, funcs[fn], "exercise_mutants.txt:%d: %s is no stage's exercise", ms[0].Line, fn)
	}
}

// A stage's copy stubs by default only the exercises that are new in it:
// one carried with the same body from the stage before comes with the
// reference, one whose body changed is new again.
func TestNewExercises(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "go.work"), []byte("go 1.26.0\n\nuse (\n\t./stage01-a\n\t./stage02-b\n)\n"), 0o644))
	added := markedSource + "\n// more.\n//\n// Exercise 4: What else? See more(1).\n// Graded by: TestRoot.\nfunc more() error { return nil }\n"
	for name, src := range map[string]string{"stage01-a": markedSource, "stage02-b": strings.Replace(added, "return len(s), s, true", "return len(s) + 0, s, true", 1)} {
		dir := filepath.Join(root, name)
		require.NoError(t, os.Mkdir(dir, 0o755))
		for file, text := range map[string]string{"root.go": src, "x_test.go": markedTests, "go.mod": "module boxlab/" + name + "\n\ngo 1.26.0\n"} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644))
		}
	}
	stage := module{Name: "stage02-b", Dir: filepath.Join(root, "stage02-b")}
	exs, err := parseExercises(stage.Dir)
	require.NoError(t, err)
	prev, stub, err := newExercises(root, stage, exs)
	require.NoError(t, err)
	assert.Equal(t, "stage01-a", prev)
	assert.Equal(t, map[int]bool{1: true, 4: true}, stub, "count changed, more is new; enter and flags are carried")

	first := module{Name: "stage01-a", Dir: filepath.Join(root, "stage01-a")}
	exs, err = parseExercises(first.Dir)
	require.NoError(t, err)
	prev, stub, err = newExercises(root, first, exs)
	require.NoError(t, err)
	assert.Empty(t, prev)
	assert.Equal(t, map[int]bool{1: true, 2: true, 3: true}, stub, "the first stage: all new")
}

// The workshop's own stages: stage05's copy stubs only its network
// exercises, and every exercise of stage02 is new (stage01's enterRoot is
// not carried).
func TestNewExercisesOfTheStages(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	for stage, want := range map[string]int{"stage02-namespaces": 5, "stage03-cgroups": 8} {
		m := module{Name: stage, Dir: filepath.Join(root, stage)}
		exs, err := parseExercises(m.Dir)
		require.NoError(t, err)
		_, stub, err := newExercises(root, m, exs)
		require.NoError(t, err)
		assert.Len(t, stub, want, stage)
	}
}

// --from brings the student's own bodies of the carried exercises, with
// the imports they use, into the copy of the next stage.
func TestCarryFrom(t *testing.T) {
	prevDir := writeStage(t, map[string]string{"root.go": markedSource, "x_test.go": markedTests, "go.mod": "module boxlab/stage01-a\n\nreplace boxlab/lab => ../lab\n"})
	exs, err := parseExercises(prevDir)
	require.NoError(t, err)
	theirs := filepath.Join(t.TempDir(), "copy")
	require.NoError(t, writeStageCopy(prevDir, theirs, copyOptions{labDir: "/l", exs: exs}))
	require.NoError(t, os.WriteFile(filepath.Join(theirs, exerciseStamp), []byte("stage01-a\n"), 0o644))
	src, err := os.ReadFile(filepath.Join(theirs, "root.go"))
	require.NoError(t, err)
	mine := strings.Replace(string(src), `return fmt.Errorf("TODO(exercise 2): write enter in root.go")`, `return syscall.Chroot(strconv.Quote(dir)) // mine`, 1)
	mine = strings.Replace(mine, "import (\n", "import (\n\t\"strconv\"\n\t\"syscall\"\n", 1)
	require.NotEqual(t, string(src), mine)
	require.NoError(t, os.WriteFile(filepath.Join(theirs, "root.go"), []byte(mine), 0o644))

	_, err = carryFrom(theirs, "stage00-x", exs, nil)
	assert.ErrorContains(t, err, "a copy of stage01-a, not of stage00-x")
	carry, err := carryFrom(theirs, "stage01-a", exs, map[int]bool{1: true})
	require.NoError(t, err)
	assert.Len(t, carry, 2, "enter and flags are carried, count is stubbed")
	assert.Equal(t, []string{`"strconv"`, `"syscall"`}, carry[2].Imports)
	dst := filepath.Join(t.TempDir(), "next")
	require.NoError(t, writeStageCopy(prevDir, dst, copyOptions{labDir: "/l", exs: exs, stub: map[int]bool{1: true}, carry: carry}))
	got, err := os.ReadFile(filepath.Join(dst, "root.go"))
	require.NoError(t, err)
	assert.Contains(t, string(got), "return syscall.Chroot(strconv.Quote(dir)) // mine")
	assert.Contains(t, string(got), "\"strconv\"", "the import the student's code uses is added")
	assert.Contains(t, string(got), "TODO(exercise 1)")
	assert.Contains(t, string(got), "TODO(exercise 3)", "their stub of exercise 3 came along too")
}

// The proof fails an exercise without a mutant, and a mutant its tests do
// not catch; it passes one they do.
func TestProveMutants(t *testing.T) {
	if _, err := gotool.Path(); err != nil {
		t.Skip(err)
	}
	tests := "package main\n\nimport \"testing\"\n\nfunc TestEnterRefusesEmpty(t *testing.T) {\n\tif err := enter(\"\"); err == nil || err.Error() != \"empty\" {\n\t\tt.Fatal(\"enter did not refuse an empty directory\", err)\n\t}\n}\n\nfunc TestNothing(t *testing.T) {}\n"
	src := strings.Replace(markedSource, "// Graded by: TestRoot,\n// TestEscape.", "// Graded by: TestEnterRefusesEmpty, TestNothing.", 1)
	src = strings.Replace(src, "// Graded by: TestCount.", "// Graded by: TestNothing.", -1)
	src = strings.Replace(src, "\t// why, not what\n", "\tif dir == \"\" {\n\t\treturn fmt.Errorf(\"empty\")\n\t}\n", 1)
	dir := writeStage(t, map[string]string{"root.go": src, "main.go": "package main\n\nfunc main() {}\n", "x_test.go": tests,
		"go.mod": "module boxlab/stagexx\n\ngo 1.26.0\n\nreplace boxlab/lab => ../lab\n"})
	exs, err := parseExercises(dir)
	require.NoError(t, err)
	enter := exs[slices.IndexFunc(exs, func(e exercise) bool { return e.Func == "enter" })]
	ms, err := parseMutants("## enter: the empty check dropped\n- if dir == \"\" {\n+ if false {\n\n## enter: chdir dropped, which no test checks\n- return os.Chdir(\"/\")\n+ return nil\n")
	require.NoError(t, err)

	p := &prover{out: io.Discard}
	proveMutants(p, module{Name: "stagexx", Dir: dir}, enter, ms, t.TempDir(), "/nowhere/lab", exs)
	assert.Equal(t, 1, p.res.Passed, "the first mutant is caught")
	require.Equal(t, 1, p.res.Failed, "the second survives")
	assert.Contains(t, strings.Join(p.res.Failures[0].Output, "\n"), "every test it names (TestEnterRefusesEmpty, TestNothing) passes")

	p = &prover{out: io.Discard}
	proveMutants(p, module{Name: "stagexx", Dir: dir}, enter, nil, t.TempDir(), "/nowhere/lab", exs)
	require.Equal(t, 1, p.res.Failed)
	assert.Contains(t, strings.Join(p.res.Failures[0].Output, "\n"), "no mutant in lab/exercise_mutants.txt")
}
