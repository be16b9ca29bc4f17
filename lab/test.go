package main

// lab test: build, vet and test every module of the workshop, one after the
// other, stream what happens, and print a scoreboard.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"boxlab/lab/internal/gotool"
)

func init() {
	register(command{
		name:    "test",
		summary: "build, vet and test the stages, and print the scoreboard",
		run:     cmdTest,
	})
}

// tailLines is how much output is kept of one failing test or package.
const tailLines = 60

// testOptions says what runTests runs.
type testOptions struct {
	Stages  []string  // module names or prefixes ("stage01", "01", "lab"); none: all
	Run     string    // go test -run REGEX
	Bench   bool      // also run every benchmark once
	Verbose bool      // stream every output line
	Out     io.Writer // progress; nil means os.Stdout
	// SkipHostPackages leaves out ensureHostPackages, for callers that
	// have already done it (or tests, which must not install anything).
	SkipHostPackages bool
}

func cmdTest(args []string) error {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetInterspersed(true)
	strict := fs.Bool("strict", false, "count skipped tests as failures, and prove each stage's exercises and walkthrough (what CI runs)")
	run := fs.String("run", "", "run only the tests matching `REGEX` (go test -run)")
	bench := fs.Bool("bench", false, "also run every benchmark once (-bench . -benchtime 1x)")
	verbose := fs.BoolP("verbose", "v", false, "stream every line of the tests' output")
	jsonFile := fs.String("json", "", "also write the results to `FILE` as JSON")
	if done, err := parseFlags(fs, args, `usage: lab test [STAGE...] [--strict] [--run REGEX] [--bench] [-v] [--json FILE]

Builds, vets and tests each module (default: all, the lab first), then prints
a scoreboard. STAGE is a module name or a prefix: stage01, 01, lab.`); done {
		return err
	}
	results, err := runTests(testOptions{
		Stages:  fs.Args(),
		Run:     *run,
		Bench:   *bench,
		Verbose: *verbose,
		Out:     os.Stdout,
	})
	if err != nil {
		return err
	}
	if *strict && *run == "" {
		results = append(results, strictProofs(fs.Args(), os.Stdout)...)
	}
	title := hostTitle()
	if *jsonFile != "" {
		if err := writeResultsJSON(*jsonFile, title, results); err != nil {
			return err
		}
	}
	if code := report(os.Stdout, title, results, *strict); code != 0 {
		return exitError{code}
	}
	return nil
}

// strictProofs is the hook of the exercise and walkthrough proofs into
// `lab test --strict` (CI): for every selected stage, two more scoreboard
// rows whose failures fail the run. See exercise_proofs.go.
func strictProofs(stages []string, out io.Writer) []moduleResult {
	return proveStages(stages, out)
}

// runTests builds, vets and tests the selected modules in workspace order,
// one at a time (stage tests share the kernel's cgroups, links and mounts),
// streaming progress to opts.Out. The error is for a run that could not
// start (unknown stage, no workspace, no go); failing tests are in the
// results.
func runTests(opts testOptions) ([]moduleResult, error) {
	out := opts.Out
	if out == nil {
		out = os.Stdout
	}
	if opts.Run != "" {
		if _, err := regexp.Compile(opts.Run); err != nil {
			return nil, fmt.Errorf("--run: %w", err)
		}
	}
	root, err := workspaceRoot()
	if err != nil {
		return nil, err
	}
	all, err := workspaceModules(root)
	if err != nil {
		return nil, err
	}
	mods, err := selectModules(all, opts.Stages)
	if err != nil {
		return nil, err
	}
	goBin, err := gotool.Path()
	if err != nil {
		return nil, err
	}
	if !opts.SkipHostPackages && anyStage(mods) {
		// Not fatal: the tests that need a missing tool skip or fail
		// with their own reason, and the scoreboard shows it.
		if err := ensureHostPackages(out); err != nil {
			fmt.Fprintf(out, "warning: %v\n", err)
		}
	}
	g := goRunner{bin: goBin, root: root}
	var results []moduleResult
	for _, m := range mods {
		results = append(results, g.module(m, opts, out))
	}
	return results, nil
}

func anyStage(mods []module) bool {
	for _, m := range mods {
		if strings.HasPrefix(m.Name, "stage") {
			return true
		}
	}
	return false
}

// goRunner runs the go command inside the workspace.
type goRunner struct {
	bin  string
	root string
}

// cmd is a go command run in dir with GOFLAGS=-buildvcs=false (the lab may
// be a copy without .git) and the workspace's go.work, whatever the caller's
// environment says.
func (g goRunner) cmd(dir string, args ...string) *exec.Cmd {
	c := exec.Command(g.bin, args...)
	c.Dir = dir
	flags := os.Getenv("GOFLAGS")
	if !strings.Contains(flags, "-buildvcs") {
		flags = strings.TrimSpace(flags + " -buildvcs=false")
	}
	c.Env = append(os.Environ(), "GOFLAGS="+flags, "GOWORK="+filepath.Join(g.root, "go.work"))
	return c
}

// goTestArgs is the one go test command line of the lab.
func goTestArgs(opts testOptions) []string {
	// -vet=off: go vet ./... has just run on every package; vetting again
	// would report a vet problem a second time as a build failure.
	args := []string{"test", "-json", "-count=1", "-p", "1", "-vet=off"}
	if opts.Run != "" {
		args = append(args, "-run", opts.Run)
	}
	if opts.Bench {
		args = append(args, "-bench", ".", "-benchtime", "1x")
	}
	return append(args, "./...")
}

// module runs the three steps for one module. A build failure counts once
// and stops there; a vet failure counts once and the tests still run.
func (g goRunner) module(m module, opts testOptions, out io.Writer) moduleResult {
	start := time.Now()
	res := moduleResult{Module: m.Name}
	fmt.Fprintf(out, "== %s: build, vet, test\n", m.Name)

	fail := func(name string, output []byte) {
		lines := tail(splitLines(string(output)), tailLines)
		res.Failed++
		res.Failures = append(res.Failures, outcome{Name: name, Output: lines})
		fmt.Fprintf(out, "  FAIL %s\n", name)
		if !opts.Verbose { // -v has shown it already
			printIndented(out, lines)
		}
	}
	step := func(args ...string) ([]byte, error) {
		if opts.Verbose {
			fmt.Fprintf(out, "  $ go %s\n", strings.Join(args, " "))
		}
		b, err := g.cmd(m.Dir, args...).CombinedOutput()
		if opts.Verbose && len(b) > 0 {
			printIndented(out, splitLines(string(b)))
		}
		return b, err
	}

	b, err := step("build", "-o", os.DevNull, "./...")
	switch {
	case err == nil && bytes.Contains(b, []byte("matched no packages")):
		fmt.Fprintln(out, "  (no Go packages yet)")
		res.Seconds = seconds(time.Since(start))
		return res
	case err != nil:
		fail("go build ./...", errOutput(b, err))
		fmt.Fprintln(out, "  (tests not run: the module does not build)")
		res.Seconds = seconds(time.Since(start))
		return res
	}
	if b, err := step("vet", "./..."); err != nil {
		fail("go vet ./...", errOutput(b, err))
	}

	args := goTestArgs(opts)
	if opts.Verbose {
		fmt.Fprintf(out, "  $ go %s\n", strings.Join(args, " "))
	}
	s := newTestStream(out, m.Path, opts.Verbose, &res)
	var stderr bytes.Buffer
	c := g.cmd(m.Dir, args...)
	c.Stderr = &stderr
	stdout, err := c.StdoutPipe()
	if err == nil {
		err = c.Start()
	}
	if err != nil {
		fail("go test ./...", []byte(err.Error()))
		res.Seconds = seconds(time.Since(start))
		return res
	}
	s.read(stdout)
	s.finish(c.Wait(), stderr.Bytes())
	if s.ran == 0 && res.Failed == 0 {
		fmt.Fprintln(out, "  (no tests)")
	}
	res.Seconds = seconds(time.Since(start))
	return res
}

// seconds rounds d to milliseconds, which is plenty for a scoreboard.
func seconds(d time.Duration) float64 { return d.Round(time.Millisecond).Seconds() }

// errOutput is what to show for a failed step: its output, or the error
// when it printed nothing.
func errOutput(b []byte, err error) []byte {
	if len(bytes.TrimSpace(b)) == 0 {
		return []byte(err.Error())
	}
	return b
}

// testEvent is one line of `go test -json` (go doc test2json), including
// the build events that go test -json has reported since Go 1.24.
type testEvent struct {
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	ImportPath  string // build-output, build-fail
	FailedBuild string // package fail: the import path that did not build
}

// testLog is the output of one test (or one package's own output): the last
// lines, without the === RUN / --- PASS framing.
type testLog struct {
	pkg, test string
	partial   string
	lines     []string
	done      bool
}

func (l *testLog) add(s string, emit func(string)) {
	l.partial += s
	for {
		i := strings.IndexByte(l.partial, '\n')
		if i < 0 {
			return
		}
		line := l.partial[:i]
		l.partial = l.partial[i+1:]
		l.push(line, emit)
	}
}

func (l *testLog) flush(emit func(string)) {
	if l.partial != "" {
		l.push(l.partial, emit)
		l.partial = ""
	}
}

func (l *testLog) push(line string, emit func(string)) {
	if emit != nil {
		emit(line)
	}
	if framing.MatchString(line) {
		return
	}
	l.lines = append(l.lines, line)
	if len(l.lines) > tailLines {
		l.lines = l.lines[len(l.lines)-tailLines:]
	}
}

// framing matches the lines the testing package writes around each test.
var framing = regexp.MustCompile(`^\s*(=== (RUN|PAUSE|CONT|NAME)\b|--- (PASS|FAIL|SKIP): )`)

// testStream turns the events of one `go test -json` run into counts in a
// moduleResult and progress lines on out.
type testStream struct {
	out     io.Writer
	modPath string
	verbose bool
	res     *moduleResult

	ran         int                 // tests with a result
	tests       map[string]*testLog // by package + "\x00" + test
	order       []*testLog          // in the order they started
	pkgs        map[string]*testLog // package-level output
	pkgFailures map[string]int      // failed tests by package
	builds      map[string]*testLog // build output by import path
	shown       map[string]string   // build output already printed: import path -> under which package
	stray       testLog             // lines that are not JSON
	failedAny   bool                // a failure was counted by this stream
}

func newTestStream(out io.Writer, modPath string, verbose bool, res *moduleResult) *testStream {
	return &testStream{
		out: out, modPath: modPath, verbose: verbose, res: res,
		tests: map[string]*testLog{}, pkgs: map[string]*testLog{},
		pkgFailures: map[string]int{}, builds: map[string]*testLog{},
		shown: map[string]string{},
	}
}

func (s *testStream) emit() func(string) {
	if !s.verbose {
		return nil
	}
	return func(line string) { fmt.Fprintf(s.out, "    %s\n", line) }
}

// read feeds every line of r to the stream.
func (s *testStream) read(r io.Reader) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			s.feed(line)
		}
		if err != nil {
			return
		}
	}
}

// feed handles one line of go test -json output.
func (s *testStream) feed(line []byte) {
	line = bytes.TrimRight(line, "\r\n")
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	var e testEvent
	if line[0] != '{' || json.Unmarshal(line, &e) != nil {
		s.stray.add(string(line)+"\n", s.emit())
		return
	}
	switch e.Action {
	case "build-output":
		s.log(s.builds, e.ImportPath, "").add(e.Output, s.emit())
	case "run":
		if e.Test != "" {
			s.testLog(e.Package, e.Test)
		}
	case "output":
		if e.Test != "" {
			s.testLog(e.Package, e.Test).add(e.Output, s.emit())
		} else {
			s.log(s.pkgs, e.Package, "").add(e.Output, s.emit())
		}
	case "pass", "fail", "skip":
		if e.Test != "" {
			s.result(s.testLog(e.Package, e.Test), e.Action, e.Elapsed)
		} else {
			s.packageDone(e)
		}
	}
}

func (s *testStream) log(m map[string]*testLog, key, test string) *testLog {
	l, ok := m[key]
	if !ok {
		l = &testLog{pkg: key, test: test}
		m[key] = l
	}
	return l
}

func (s *testStream) testLog(pkg, test string) *testLog {
	key := pkg + "\x00" + test
	l, ok := s.tests[key]
	if !ok {
		l = &testLog{pkg: pkg, test: test}
		s.tests[key] = l
		s.order = append(s.order, l)
	}
	return l
}

// displayName names a test relative to the module: "TestRun/hostname" in
// the module's root package, "labtest.TestLeftovers" in labtest.
func (s *testStream) displayName(pkg, test string) string {
	switch {
	case pkg == s.modPath:
		return test
	case strings.HasPrefix(pkg, s.modPath+"/"):
		return strings.TrimPrefix(pkg, s.modPath+"/") + "." + test
	}
	return pkg + "." + test
}

// result records the final action of one test and prints its line.
func (s *testStream) result(l *testLog, action string, elapsed float64) {
	if l.done {
		return
	}
	l.flush(s.emit())
	l.done = true
	s.ran++
	name := s.displayName(l.pkg, l.test)
	switch action {
	case "pass":
		s.res.Passed++
		fmt.Fprintf(s.out, "  ok   %s (%.2fs)\n", name, elapsed)
	case "skip":
		s.res.Skipped++
		reason := skipReason(l.lines)
		s.res.Skips = append(s.res.Skips, outcome{Name: name, Reason: reason})
		fmt.Fprintf(s.out, "  SKIP %s: %s\n", name, reason)
	default:
		s.res.Failed++
		s.failedAny = true
		s.pkgFailures[l.pkg]++
		s.res.Failures = append(s.res.Failures, outcome{Name: name, Output: l.lines})
		fmt.Fprintf(s.out, "  FAIL %s\n", name)
		if !s.verbose {
			printIndented(s.out, l.lines)
		}
	}
}

// packageDone closes a package: tests it started without a result get one
// (benchmarks never get a pass event; a timeout or crash leaves the running
// tests without one), and a package that failed with no failing test (it
// did not build, TestMain exited) counts as one failure.
func (s *testStream) packageDone(e testEvent) {
	s.settle(e.Package, e.Action != "fail")
	if e.Action != "fail" || s.pkgFailures[e.Package] > 0 {
		return
	}
	name, lines := e.Package+" [package failed]", []string(nil)
	if p := s.pkgs[e.Package]; p != nil {
		p.flush(s.emit())
		lines = p.lines
	}
	if e.FailedBuild != "" {
		name = e.Package + " [build failed]"
		if b := s.builds[e.FailedBuild]; b != nil {
			b.flush(s.emit())
			lines = b.lines
		}
		// go test -p 1 blames every package after a build failure on it;
		// show the compiler's output once.
		if first, ok := s.shown[e.FailedBuild]; ok {
			lines = []string{"(" + e.FailedBuild + " does not build: see " + first + " above)"}
		} else {
			s.shown[e.FailedBuild] = e.Package
		}
	}
	s.packageFailure(name, lines)
}

func (s *testStream) packageFailure(name string, lines []string) {
	s.res.Failed++
	s.failedAny = true
	s.res.Failures = append(s.res.Failures, outcome{Name: name, Output: lines})
	fmt.Fprintf(s.out, "  FAIL %s\n", name)
	if !s.verbose {
		printIndented(s.out, lines)
	}
}

// settle gives a result to the tests of pkg (all packages when pkg is "")
// that started but never finished.
func (s *testStream) settle(pkg string, pkgPassed bool) {
	for _, l := range s.order {
		if l.done || (pkg != "" && l.pkg != pkg) {
			continue
		}
		l.flush(s.emit())
		switch {
		case strings.HasPrefix(l.test, "Benchmark") && strings.Contains(strings.Join(l.lines, "\n"), "/op"):
			s.result(l, "pass", 0)
		case pkgPassed:
			s.result(l, "pass", 0)
		default:
			l.lines = append(l.lines, "(did not finish: the test binary exited or timed out)")
			s.result(l, "fail", 0)
		}
	}
}

// finish closes the stream once go test has exited. A go test that failed
// without reporting a failure (bad flags, a broken go.mod) counts as one.
func (s *testStream) finish(waitErr error, stderr []byte) {
	s.settle("", false)
	s.stray.flush(s.emit())
	errLines := splitLines(string(stderr))
	if waitErr != nil && !s.failedAny {
		lines := tail(append(append([]string{}, s.stray.lines...), errLines...), tailLines)
		if len(lines) == 0 {
			lines = []string{waitErr.Error()}
		}
		s.packageFailure("go test ./...", lines)
		return
	}
	if waitErr != nil && len(errLines) > 0 {
		fmt.Fprintln(s.out, "  go test stderr:")
		printIndented(s.out, tail(errLines, tailLines))
	}
}

// fileLine matches the prefix t.Log and t.Skip put before a message.
var fileLine = regexp.MustCompile(`^\s+[^\s:]+\.go:\d+: `)

// skipReason picks the t.Skip message out of a skipped test's output: the
// last "file.go:NN: message" line with its continuation lines, without the
// prefix. With no such line, the last non-empty line.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		loc := fileLine.FindStringIndex(lines[i])
		if loc == nil {
			continue
		}
		parts := []string{strings.TrimSpace(lines[i][loc[1]:])}
		for _, c := range lines[i+1:] {
			if c = strings.TrimSpace(c); c != "" {
				parts = append(parts, c)
			}
		}
		return strings.Join(parts, " ")
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if t := strings.TrimSpace(lines[i]); t != "" {
			return t
		}
	}
	return "(no reason given)"
}

func splitLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func tail(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}

func printIndented(w io.Writer, lines []string) {
	for _, l := range lines {
		fmt.Fprintf(w, "    %s\n", l)
	}
}
