package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Streams recorded from `go test -json -count=1 -p 1 ./...` (Go 1.26),
// trimmed of timestamps where they do not matter.

// A package with a pass, a skip (with a t.Log before it), subtests that
// pass, skip and fail, and a test that panics.
const streamMixed = `{"Time":"2026-11-23T16:13:10.873752563Z","Action":"start","Package":"example.com/m"}
{"Action":"run","Package":"example.com/m","Test":"TestPass"}
{"Action":"output","Package":"example.com/m","Test":"TestPass","Output":"=== RUN   TestPass\n"}
{"Action":"output","Package":"example.com/m","Test":"TestPass","Output":"--- PASS: TestPass (0.12s)\n"}
{"Action":"pass","Package":"example.com/m","Test":"TestPass","Elapsed":0.12}
{"Action":"run","Package":"example.com/m","Test":"TestSkip"}
{"Action":"output","Package":"example.com/m","Test":"TestSkip","Output":"=== RUN   TestSkip\n"}
{"Action":"output","Package":"example.com/m","Test":"TestSkip","Output":"    a_test.go:7: checking for root\n"}
{"Action":"output","Package":"example.com/m","Test":"TestSkip","Output":"    a_test.go:8: needs root: run as root\n"}
{"Action":"output","Package":"example.com/m","Test":"TestSkip","Output":"--- SKIP: TestSkip (0.00s)\n"}
{"Action":"skip","Package":"example.com/m","Test":"TestSkip","Elapsed":0}
{"Action":"run","Package":"example.com/m","Test":"TestSubs"}
{"Action":"output","Package":"example.com/m","Test":"TestSubs","Output":"=== RUN   TestSubs\n"}
{"Action":"run","Package":"example.com/m","Test":"TestSubs/one"}
{"Action":"output","Package":"example.com/m","Test":"TestSubs/one","Output":"=== RUN   TestSubs/one\n"}
{"Action":"output","Package":"example.com/m","Test":"TestSubs/one","Output":"--- PASS: TestSubs/one (0.00s)\n"}
{"Action":"pass","Package":"example.com/m","Test":"TestSubs/one","Elapsed":0}
{"Action":"run","Package":"example.com/m","Test":"TestSubs/two"}
{"Action":"output","Package":"example.com/m","Test":"TestSubs/two","Output":"=== RUN   TestSubs/two\n"}
{"Action":"output","Package":"example.com/m","Test":"TestSubs/two","Output":"    a_test.go:12: no cgroup v2\n"}
{"Action":"output","Package":"example.com/m","Test":"TestSubs/two","Output":"--- SKIP: TestSubs/two (0.00s)\n"}
{"Action":"skip","Package":"example.com/m","Test":"TestSubs/two","Elapsed":0}
{"Action":"run","Package":"example.com/m","Test":"TestSubs/three"}
{"Action":"output","Package":"example.com/m","Test":"TestSubs/three","Output":"=== RUN   TestSubs/three\n"}
{"Action":"output","Package":"example.com/m","Test":"TestSubs/three","Output":"    a_test.go:13: got 1, want 2\n"}
{"Action":"output","Package":"example.com/m","Test":"TestSubs/three","Output":"        more\n"}
{"Action":"output","Package":"example.com/m","Test":"TestSubs/three","Output":"--- FAIL: TestSubs/three (0.00s)\n"}
{"Action":"fail","Package":"example.com/m","Test":"TestSubs/three","Elapsed":0}
{"Action":"output","Package":"example.com/m","Test":"TestSubs","Output":"--- FAIL: TestSubs (0.00s)\n"}
{"Action":"fail","Package":"example.com/m","Test":"TestSubs","Elapsed":0}
{"Action":"run","Package":"example.com/m","Test":"TestPanic"}
{"Action":"output","Package":"example.com/m","Test":"TestPanic","Output":"=== RUN   TestPanic\n"}
{"Action":"output","Package":"example.com/m","Test":"TestPanic","Output":"--- FAIL: TestPanic (0.00s)\n"}
{"Action":"output","Package":"example.com/m","Test":"TestPanic","Output":"panic: assignment to entry in nil map [recovered, repanicked]\n"}
{"Action":"output","Package":"example.com/m","Test":"TestPanic","Output":"\n"}
{"Action":"output","Package":"example.com/m","Test":"TestPanic","Output":"goroutine 13 [running]:\n"}
{"Action":"output","Package":"example.com/m","Test":"TestPanic","Output":"testing.tRunner.func1.2({0x55b7a0, 0x6cbc40})\n"}
{"Action":"output","Package":"example.com/m","Test":"TestPanic","Output":"\t/usr/local/go/src/testing/testing.go:1974 +0x232\n"}
{"Action":"output","Package":"example.com/m","Test":"TestPanic","Output":"example.com/m.TestPanic(0x2419fa1d4fc8?)\n"}
{"Action":"output","Package":"example.com/m","Test":"TestPanic","Output":"\t/tmp/rec/m/a_test.go:17 +0x28\n"}
{"Action":"output","Package":"example.com/m","Test":"TestPanic","Output":"exit status 2\n"}
{"Action":"fail","Package":"example.com/m","Test":"TestPanic","Elapsed":0}
{"Action":"output","Package":"example.com/m","Output":"FAIL\texample.com/m\t0.021s\n"}
{"Action":"fail","Package":"example.com/m","Elapsed":0.024}
`

// A package (sub) that does not compile; with -p 1, go test also blames
// the package that comes before it.
const streamBuildFail = `{"ImportPath":"example.com/m/sub [example.com/m/sub.test]","Action":"build-output","Output":"# example.com/m/sub [example.com/m/sub.test]\n"}
{"ImportPath":"example.com/m/sub [example.com/m/sub.test]","Action":"build-output","Output":"sub/b.go:3:23: cannot use \"x\" (untyped string constant) as int value in return statement\n"}
{"ImportPath":"example.com/m/sub [example.com/m/sub.test]","Action":"build-fail"}
{"Action":"start","Package":"example.com/m"}
{"Action":"output","Package":"example.com/m","Output":"FAIL\texample.com/m [build failed]\n"}
{"Action":"fail","Package":"example.com/m","Elapsed":0,"FailedBuild":"example.com/m/sub [example.com/m/sub.test]"}
{"Action":"start","Package":"example.com/m/sub"}
{"Action":"output","Package":"example.com/m/sub","Output":"FAIL\texample.com/m/sub [build failed]\n"}
{"Action":"fail","Package":"example.com/m/sub","Elapsed":0,"FailedBuild":"example.com/m/sub [example.com/m/sub.test]"}
`

// A benchmark run with -bench . -benchtime 1x: benchmarks get a run event
// but never a pass event. The result line comes in two pieces.
const streamBench = `{"Action":"start","Package":"example.com/m/internal/spec"}
{"Action":"run","Package":"example.com/m/internal/spec","Test":"TestParse"}
{"Action":"output","Package":"example.com/m/internal/spec","Test":"TestParse","Output":"=== RUN   TestParse\n"}
{"Action":"output","Package":"example.com/m/internal/spec","Test":"TestParse","Output":"--- PASS: TestParse (0.00s)\n"}
{"Action":"pass","Package":"example.com/m/internal/spec","Test":"TestParse","Elapsed":0}
{"Action":"output","Package":"example.com/m/internal/spec","Output":"goos: linux\n"}
{"Action":"run","Package":"example.com/m/internal/spec","Test":"BenchmarkParse"}
{"Action":"output","Package":"example.com/m/internal/spec","Test":"BenchmarkParse","Output":"=== RUN   BenchmarkParse\n"}
{"Action":"output","Package":"example.com/m/internal/spec","Test":"BenchmarkParse","Output":"BenchmarkParse\n"}
{"Action":"output","Package":"example.com/m/internal/spec","Test":"BenchmarkParse","Output":"BenchmarkParse-2      \t"}
{"Action":"output","Package":"example.com/m/internal/spec","Test":"BenchmarkParse","Output":"       1\t       551.0 ns/op\n"}
{"Action":"output","Package":"example.com/m/internal/spec","Output":"PASS\n"}
{"Action":"output","Package":"example.com/m/internal/spec","Output":"ok  \texample.com/m/internal/spec\t0.028s\n"}
{"Action":"pass","Package":"example.com/m/internal/spec","Elapsed":0.03}
{"Action":"start","Package":"example.com/m/notest"}
{"Action":"output","Package":"example.com/m/notest","Output":"?   \texample.com/m/notest\t[no test files]\n"}
{"Action":"skip","Package":"example.com/m/notest","Elapsed":0}
`

// A test killed by -timeout: it never gets a result, the package fails.
const streamTimeout = `{"Action":"start","Package":"example.com/m"}
{"Action":"run","Package":"example.com/m","Test":"TestSlow"}
{"Action":"output","Package":"example.com/m","Test":"TestSlow","Output":"=== RUN   TestSlow\n"}
{"Action":"output","Package":"example.com/m","Test":"TestSlow","Output":"panic: test timed out after 1s\n"}
{"Action":"output","Package":"example.com/m","Test":"TestSlow","Output":"\trunning tests:\n"}
{"Action":"output","Package":"example.com/m","Test":"TestSlow","Output":"\t\tTestSlow (1s)\n"}
{"Action":"output","Package":"example.com/m","Output":"FAIL\texample.com/m\t1.026s\n"}
{"Action":"fail","Package":"example.com/m","Elapsed":1.027}
`

// TestMain exits before running any test.
const streamTestMain = `{"Action":"start","Package":"example.com/m"}
{"Action":"output","Package":"example.com/m","Output":"setup: cannot build stage binary\n"}
{"Action":"output","Package":"example.com/m","Output":"FAIL\texample.com/m\t0.025s\n"}
{"Action":"fail","Package":"example.com/m","Elapsed":0.031}
`

func parseStream(t *testing.T, stream string, waitErr error, stderr string, verbose bool) (moduleResult, string) {
	t.Helper()
	var out bytes.Buffer
	res := moduleResult{Module: "m"}
	s := newTestStream(&out, "example.com/m", verbose, &res)
	s.read(strings.NewReader(stream))
	s.finish(waitErr, []byte(stderr))
	return res, out.String()
}

func names(outs []outcome) []string {
	var n []string
	for _, o := range outs {
		n = append(n, o.Name)
	}
	return n
}

func TestStreamMixed(t *testing.T) {
	res, out := parseStream(t, streamMixed, errors.New("exit status 1"), "", false)

	// Every test and subtest with a result counts once.
	require.Equal(t, 2, res.Passed, "TestPass, TestSubs/one")
	require.Equal(t, 2, res.Skipped, "TestSkip, TestSubs/two")
	require.Equal(t, 3, res.Failed, "TestSubs/three, TestSubs, TestPanic")
	require.Equal(t, []string{"TestSubs/three", "TestSubs", "TestPanic"}, names(res.Failures))
	require.Equal(t, []outcome{
		{Name: "TestSkip", Reason: "needs root: run as root"},
		{Name: "TestSubs/two", Reason: "no cgroup v2"},
	}, res.Skips)

	require.Equal(t, []string{"    a_test.go:13: got 1, want 2", "        more"}, res.Failures[0].Output)
	require.Contains(t, res.Failures[2].Output, "panic: assignment to entry in nil map [recovered, repanicked]")

	require.Contains(t, out, "  ok   TestPass (0.12s)\n")
	require.Contains(t, out, "  SKIP TestSkip: needs root: run as root\n")
	require.Contains(t, out, "  SKIP TestSubs/two: no cgroup v2\n")
	require.Contains(t, out, "  FAIL TestSubs/three\n        a_test.go:13: got 1, want 2\n            more\n")
	require.Contains(t, out, "  FAIL TestPanic\n    panic: assignment to entry in nil map")
	require.NotContains(t, out, "=== RUN", "framing is left out without -v")
	require.NotContains(t, out, "[package failed]", "the package failed because its tests did")
}

func TestStreamVerbose(t *testing.T) {
	_, out := parseStream(t, streamMixed, errors.New("exit status 1"), "", true)
	require.Contains(t, out, "    === RUN   TestPass\n")
	require.Contains(t, out, "    a_test.go:7: checking for root\n")
	require.Contains(t, out, "    FAIL\texample.com/m\t0.021s\n")
	require.Equal(t, 1, strings.Count(out, "got 1, want 2"), "with -v a failure's output is not repeated")
}

func TestStreamBuildFailure(t *testing.T) {
	res, out := parseStream(t, streamBuildFail, errors.New("exit status 1"), "", false)
	require.Equal(t, 0, res.Passed)
	require.Equal(t, 2, res.Failed)
	require.Equal(t, []string{"example.com/m [build failed]", "example.com/m/sub [build failed]"}, names(res.Failures))
	require.Contains(t, res.Failures[0].Output, `sub/b.go:3:23: cannot use "x" (untyped string constant) as int value in return statement`)
	require.Equal(t, 1, strings.Count(out, "cannot use"), "the compiler's output is shown once")
}

func TestStreamBenchmarks(t *testing.T) {
	res, out := parseStream(t, streamBench, nil, "", false)
	require.Equal(t, 2, res.Passed, "TestParse and BenchmarkParse")
	require.Equal(t, 0, res.Failed)
	require.Equal(t, 0, res.Skipped, "a package without test files is no skip")
	require.Contains(t, out, "  ok   internal/spec.TestParse (0.00s)\n")
	require.Contains(t, out, "  ok   internal/spec.BenchmarkParse")
}

func TestStreamTimeout(t *testing.T) {
	res, out := parseStream(t, streamTimeout, errors.New("exit status 1"), "", false)
	require.Equal(t, 1, res.Failed)
	require.Equal(t, []string{"TestSlow"}, names(res.Failures))
	require.Contains(t, out, "    panic: test timed out after 1s\n")
	require.Contains(t, out, "did not finish")
}

func TestStreamTestMainExit(t *testing.T) {
	res, out := parseStream(t, streamTestMain, errors.New("exit status 1"), "", false)
	require.Equal(t, 1, res.Failed)
	require.Equal(t, []string{"example.com/m [package failed]"}, names(res.Failures))
	require.Contains(t, out, "  FAIL example.com/m [package failed]\n    setup: cannot build stage binary\n")
}

func TestStreamGoTestFailsSilently(t *testing.T) {
	res, out := parseStream(t, "", errors.New("exit status 1"), "go: updates to go.mod needed; to update it:\n\tgo mod tidy\n", false)
	require.Equal(t, 1, res.Failed)
	require.Equal(t, []string{"go test ./..."}, names(res.Failures))
	require.Contains(t, out, "    go: updates to go.mod needed")
}

func TestSkipReason(t *testing.T) {
	for _, c := range []struct {
		lines []string
		want  string
	}{
		{[]string{"    a_test.go:8: needs root"}, "needs root"},
		{[]string{"    a_test.go:7: checking", "    kit.go:40: cgroup v2 required:", "        run 'lab doctor'"}, "cgroup v2 required: run 'lab doctor'"},
		{[]string{"plain text"}, "plain text"},
		{nil, "(no reason given)"},
	} {
		require.Equal(t, c.want, skipReason(c.lines), "%q", c.lines)
	}
}

func TestPrintScoreboard(t *testing.T) {
	var b bytes.Buffer
	printScoreboard(&b, "host: cgroup v1 hybrid", []moduleResult{
		{Module: "lab", Passed: 12, Seconds: 4.1},
		{Module: "stage01-chroot", Passed: 18, Seconds: 9.8},
	})
	require.Equal(t, `scoreboard (host: cgroup v1 hybrid)
stage              passed  failed  skipped    time
lab                    12       0        0    4.1s
stage01-chroot         18       0        0    9.8s
total                  30       0        0   13.9s
30 passed, 0 failed, 0 skipped
`, b.String())

	b.Reset()
	printScoreboard(&b, "cgroup v2 (VM)", []moduleResult{{Module: "stage02-namespaces", Passed: 3, Failed: 1, Skipped: 2, Seconds: 0.04}})
	require.Equal(t, `scoreboard (cgroup v2 (VM))
stage              passed  failed  skipped    time
stage02-namespaces      3       1        2    0.0s
total                   3       1        2    0.0s
3 passed, 1 failed, 2 skipped
`, b.String())
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestReport(t *testing.T) {
	skipped := []moduleResult{{Module: "stage01-chroot", Passed: 2, Skipped: 1,
		Skips: []outcome{{Name: "TestEscape", Reason: "needs root"}}}}

	var b bytes.Buffer
	require.Equal(t, 0, report(&b, "host: cgroup v2", skipped, false))
	require.Contains(t, b.String(), "1 test skipped (see reasons above); run as root with all kernel features for the full lab, see 'lab doctor'\n")
	require.NotContains(t, b.String(), "strict mode")
	require.Equal(t, "2 passed, 0 failed, 1 skipped", lastLine(b.String()))

	b.Reset()
	require.Equal(t, 1, report(&b, "host: cgroup v2", skipped, true))
	require.Contains(t, b.String(), "strict mode: skips count as failures\n  stage01-chroot: TestEscape: needs root\n")
	require.Equal(t, "2 passed, 0 failed, 1 skipped", lastLine(b.String()))

	b.Reset()
	failed := []moduleResult{{Module: "lab", Passed: 1, Failed: 1, Failures: []outcome{{Name: "go vet ./..."}}}}
	require.Equal(t, 1, report(&b, "", failed, false))
	require.Contains(t, b.String(), "failed:\n  lab: go vet ./...\n")
	require.Equal(t, "1 passed, 1 failed, 0 skipped", lastLine(b.String()))

	b.Reset()
	require.Equal(t, 0, report(&b, "", []moduleResult{{Module: "lab", Passed: 4}}, true))
}

func TestResultsJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	in := []moduleResult{{Module: "stage01-chroot", Passed: 1, Skipped: 1, Seconds: 1.5,
		Skips: []outcome{{Name: "TestX", Reason: "needs root"}}}}
	require.NoError(t, writeResultsJSON(path, "cgroup v2 (VM)", in))
	got, err := readResultsJSON(path)
	require.NoError(t, err)
	require.Equal(t, resultsFile{Title: "cgroup v2 (VM)", Modules: in}, got)
}

func TestParseGoWorkUses(t *testing.T) {
	uses, err := parseGoWorkUses([]byte(`go 1.26.0

// the workshop
use ./lab // the helper
use (
	./stage01-chroot
	"./stage02-namespaces"

	// ./stage03-cgroups
)
replace example.com/x => ./x
`))
	require.NoError(t, err)
	require.Equal(t, []string{"./lab", "./stage01-chroot", "./stage02-namespaces"}, uses)

	_, err = parseGoWorkUses([]byte("use (\n./lab\n"))
	require.Error(t, err)
}

func testModules(names ...string) []module {
	var m []module
	for _, n := range names {
		m = append(m, module{Name: n})
	}
	return m
}

func TestSelectModules(t *testing.T) {
	all := testModules("lab", "stage01-chroot", "stage02-namespaces", "stage03-cgroups")
	pick := func(args ...string) []string {
		t.Helper()
		got, err := selectModules(all, args)
		require.NoError(t, err)
		var n []string
		for _, m := range got {
			n = append(n, m.Name)
		}
		return n
	}
	require.Equal(t, []string{"lab", "stage01-chroot", "stage02-namespaces", "stage03-cgroups"}, pick())
	require.Equal(t, []string{"stage01-chroot"}, pick("stage01"))
	require.Equal(t, []string{"stage01-chroot"}, pick("stage01-chroot"))
	require.Equal(t, []string{"stage01-chroot"}, pick("01"))
	require.Equal(t, []string{"stage01-chroot"}, pick("1"))
	require.Equal(t, []string{"stage01-chroot"}, pick("./stage01-chroot/"))
	require.Equal(t, []string{"lab"}, pick("lab"))
	require.Equal(t, []string{"lab", "stage02-namespaces"}, pick("02", "lab", "stage02"), "workspace order, once each")
	require.Equal(t, []string{"stage01-chroot", "stage02-namespaces", "stage03-cgroups"}, pick("stage0"))

	_, err := selectModules(all, []string{"stage01", "stage09", "chroot"})
	require.EqualError(t, err, `unknown stage "stage09", "chroot": valid names are lab, stage01-chroot, stage02-namespaces, stage03-cgroups (or a prefix, e.g. "01")`)
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
}

// A tiny workspace: go.work lists the stage before the lab, which must
// still come first; the lab's test passes, the stage's test skips.
var tinyWorkspace = map[string]string{
	"go.work":                    "go 1.26\n\nuse (\n\t./stage01-demo\n\t./lab\n)\n",
	"lab/go.mod":                 "module example.com/lab\n\ngo 1.26\n",
	"lab/lab_test.go":            "package lab\n\nimport \"testing\"\n\nfunc TestPasses(t *testing.T) {}\n",
	"stage01-demo/go.mod":        "module example.com/stage01-demo\n\ngo 1.26\n",
	"stage01-demo/main.go":       "package main\n\nfunc main() {}\n",
	"stage01-demo/stage_test.go": "package main\n\nimport \"testing\"\n\nfunc TestNeedsRoot(t *testing.T) {\n\tt.Skip(\"needs root: run as root\")\n}\n",
}

func TestWorkspaceModules(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, tinyWorkspace)
	mods, err := workspaceModules(root)
	require.NoError(t, err)
	require.Equal(t, []module{
		{Name: "lab", Dir: filepath.Join(root, "lab"), Path: "example.com/lab"},
		{Name: "stage01-demo", Dir: filepath.Join(root, "stage01-demo"), Path: "example.com/stage01-demo"},
	}, mods)

	t.Setenv("BOXLAB_ROOT", root)
	got, err := workspaceRoot()
	require.NoError(t, err)
	require.Equal(t, root, got)

	t.Setenv("BOXLAB_ROOT", filepath.Join(root, "lab"))
	_, err = workspaceRoot()
	require.ErrorContains(t, err, "no go.work in")
}

// TestRunTestsEndToEnd runs the real go build/vet/test on a tiny workspace.
func TestRunTestsEndToEnd(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, tinyWorkspace)
	t.Setenv("BOXLAB_ROOT", root)

	var out bytes.Buffer
	results, err := runTests(testOptions{Out: &out, SkipHostPackages: true})
	require.NoError(t, err, out.String())
	require.Len(t, results, 2)

	require.Equal(t, "lab", results[0].Module)
	require.Equal(t, 1, results[0].Passed, out.String())
	require.Equal(t, 0, results[0].Failed, out.String())

	require.Equal(t, "stage01-demo", results[1].Module)
	require.Equal(t, 0, results[1].Failed, out.String())
	require.Equal(t, []outcome{{Name: "TestNeedsRoot", Reason: "needs root: run as root"}}, results[1].Skips)
	require.Greater(t, results[1].Seconds, 0.0)

	require.Contains(t, out.String(), "== lab: build, vet, test\n  ok   TestPasses (")
	require.Contains(t, out.String(), "== stage01-demo: build, vet, test\n  SKIP TestNeedsRoot: needs root: run as root\n")
	_, err = os.Stat(filepath.Join(root, "stage01-demo", "stage01-demo"))
	require.ErrorIs(t, err, os.ErrNotExist, "go build must not leave a binary in the stage")

	var rep bytes.Buffer
	require.Equal(t, 0, report(&rep, "test", results, false))
	require.Equal(t, 1, report(&rep, "test", results, true), "strict: the skip fails the run")
	require.Equal(t, "1 passed, 0 failed, 1 skipped", lastLine(rep.String()))

	// Selection happens before anything runs.
	out.Reset()
	_, err = runTests(testOptions{Out: &out, SkipHostPackages: true, Stages: []string{"stage09"}})
	require.ErrorContains(t, err, "valid names are lab, stage01-demo")
	require.Empty(t, out.String())

	// Only the stage, and a vet failure counts once while its tests run.
	writeFiles(t, root, map[string]string{
		"stage01-demo/vet.go": "package main\n\nimport \"fmt\"\n\nfunc init() { fmt.Printf(\"%d\\n\", \"x\") }\n",
	})
	out.Reset()
	results, err = runTests(testOptions{Out: &out, SkipHostPackages: true, Stages: []string{"01"}})
	require.NoError(t, err)
	require.Len(t, results, 1)
	require.Equal(t, 1, results[0].Failed, out.String())
	require.Equal(t, []string{"go vet ./..."}, names(results[0].Failures))
	require.Equal(t, 1, results[0].Skipped, "the tests still ran")
}
