package main

// lab grade: run a stage's graded tests against a student's copy (or the
// reference) and print a scoreboard of the checks, with the hint of the
// exercise behind each failure and a score.
//
// The graded tests are always the reference's: go test -overlay puts the
// repository's _test.go files in place of the copy's, so a copy with old
// or edited tests is graded by the current ones.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"boxlab/lab/internal/gotool"
)

func init() {
	register(command{
		name:    "grade",
		summary: "grade your copy of a stage (from 'lab exercise'): each check, hints, a score",
		run:     cmdGrade,
	})
}

// A check is one graded test and how it ended.
type check struct {
	Name   string
	Status string   // "pass", "fail", "skip", "not run"
	Output []string // fail, skip: the test's last lines
}

// gradeRun is the outcome of one go test run of a stage copy.
type gradeRun struct {
	Checks     []check  // one per graded test, in the reference's order
	BuildError []string // the copy does not build: the compiler's output
	Failed     []string // the tests that failed, in the order they failed
	Seconds    float64
}

// Passed counts the passing checks.
func (g gradeRun) Passed() int {
	n := 0
	for _, c := range g.Checks {
		if c.Status == "pass" {
			n++
		}
	}
	return n
}

// gradeOptions says how to run the graded tests.
type gradeOptions struct {
	Run      []string // only these tests (go test -run ^(A|B)$); nil: all
	FailFast bool
	Verbose  io.Writer // stream the go test output here; nil: quiet
}

// runGraded runs the reference's graded tests (from refDir) in dir with
// GOWORK=off, as a student's copy builds, and collects the checks.
func runGraded(refDir, dir string, o gradeOptions) (gradeRun, error) {
	start := time.Now()
	names, err := graderTests(refDir)
	if err != nil {
		return gradeRun{}, err
	}
	if _, err := gotool.Path(); err != nil {
		return gradeRun{}, err
	}
	args := []string{"test", "-json", "-count=1", "-p", "1"}
	if o.FailFast {
		args = append(args, "-failfast")
	}
	if len(o.Run) > 0 {
		args = append(args, "-run", "^("+strings.Join(o.Run, "|")+")$")
	}
	same, err := sameDir(refDir, dir)
	if err != nil {
		return gradeRun{}, err
	}
	if !same {
		overlay, err := testOverlay(refDir, dir)
		if err != nil {
			return gradeRun{}, err
		}
		defer os.Remove(overlay)
		args = append(args, "-overlay", overlay)
	}
	args = append(args, ".")
	cmd := goCmdOff(dir, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return gradeRun{}, err
	}
	if err := cmd.Start(); err != nil {
		return gradeRun{}, err
	}
	c := newGradeCollector(o.Verbose)
	c.read(stdout)
	waitErr := cmd.Wait()
	g := c.result(names)
	if waitErr != nil && len(g.Failed) == 0 && len(g.BuildError) == 0 {
		// go test failed without a failing test: a broken go.mod, a vet
		// error, a package that does not build.
		g.BuildError = tail(append(c.pkgLines(), splitLines(stderr.String())...), tailLines)
		if len(g.BuildError) == 0 {
			g.BuildError = []string{waitErr.Error()}
		}
	}
	if len(g.BuildError) > 0 {
		for i := range g.Checks {
			g.Checks[i].Status = "not run"
		}
	}
	g.Seconds = seconds(time.Since(start))
	return g, nil
}

// goCmdOff is a go command run in dir as in a student's copy: outside any
// workspace (GOWORK=off), without VCS stamping.
func goCmdOff(dir string, args ...string) *exec.Cmd {
	bin, err := gotool.Path()
	if err != nil {
		bin = "go" // the caller has checked; let exec report it
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-buildvcs=false")
	return cmd
}

func sameDir(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// testOverlay writes a go build -overlay file that replaces the _test.go
// files of dir by the reference's (and hides the copy's own extra ones).
func testOverlay(refDir, dir string) (string, error) {
	replace := map[string]string{}
	own, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	for _, f := range own {
		replace[f] = "" // deleted unless the reference has it
	}
	ref, err := filepath.Glob(filepath.Join(refDir, "*_test.go"))
	if err != nil {
		return "", err
	}
	for _, f := range ref {
		replace[filepath.Join(dir, filepath.Base(f))] = f
	}
	data, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "boxlab-grade-overlay-*.json")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}

// gradeCollector reads go test -json and keeps, per top-level test, the
// final action and the last lines of output (its subtests' included).
type gradeCollector struct {
	verbose io.Writer
	status  map[string]string
	logs    map[string]*testLog
	failed  []string
	pkg     testLog
	builds  testLog
}

func newGradeCollector(verbose io.Writer) *gradeCollector {
	return &gradeCollector{verbose: verbose, status: map[string]string{}, logs: map[string]*testLog{}}
}

func (c *gradeCollector) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e testEvent
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			c.pkg.add(sc.Text()+"\n", nil)
			continue
		}
		if c.verbose != nil && e.Output != "" {
			fmt.Fprint(c.verbose, e.Output)
		}
		top, _, _ := strings.Cut(e.Test, "/")
		switch {
		case e.Action == "build-output":
			c.builds.add(e.Output, nil)
		case e.Test == "" && e.Action == "output":
			c.pkg.add(e.Output, nil)
		case e.Test == "":
		case e.Action == "output":
			l := c.logs[top]
			if l == nil {
				l = &testLog{test: top}
				c.logs[top] = l
			}
			l.add(e.Output, nil)
		case e.Test == top && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
			c.status[top] = e.Action
			if e.Action == "fail" {
				c.failed = append(c.failed, top)
			}
		}
	}
}

func (c *gradeCollector) pkgLines() []string {
	c.builds.flush(nil)
	c.pkg.flush(nil)
	return append(append([]string{}, c.builds.lines...), c.pkg.lines...)
}

// result builds the checks of the named tests. A build failure reported
// by go test -json becomes BuildError.
func (c *gradeCollector) result(names []string) gradeRun {
	g := gradeRun{Failed: c.failed}
	for _, n := range names {
		ch := check{Name: n, Status: "not run"}
		if s, ok := c.status[n]; ok {
			ch.Status = s
		}
		if l := c.logs[n]; l != nil && ch.Status != "pass" {
			l.flush(nil)
			ch.Output = l.lines
		}
		g.Checks = append(g.Checks, ch)
	}
	c.builds.flush(nil)
	if len(c.builds.lines) > 0 && len(c.failed) == 0 {
		g.BuildError = c.builds.lines
	}
	return g
}

func cmdGrade(args []string) error {
	fs := pflag.NewFlagSet("grade", pflag.ContinueOnError)
	dirFlag := fs.String("dir", "", "your copy of the stage (default ~/boxlab-exercises/STAGE)")
	reference := fs.Bool("reference", false, "grade the reference solution in the repository instead")
	verbose := fs.BoolP("verbose", "v", false, "show all the output of the tests")
	if done, err := parseFlags(fs, args, `usage: lab grade STAGE [--dir DIR | --reference] [-v]

Runs STAGE's graded tests on your copy (from 'lab exercise STAGE') and prints
each check, the hint of the exercise behind each failure, and your score.`); done {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError{2}
	}
	stage, _, err := stageByName(fs.Arg(0))
	if err != nil {
		return err
	}
	dir := *dirFlag
	switch {
	case *reference:
		dir = stage.Dir
	case dir == "":
		if dir, _, err = defaultExerciseDir(stage.Name); err != nil {
			return err
		}
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("no copy of %s at %s: make one with 'lab exercise %s', or pass --dir DIR (or --reference)", stage.Name, dir, stage.Name)
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return fmt.Errorf("%s holds no go.mod: is it a copy of %s made by 'lab exercise'?", dir, stage.Name)
	}
	exs, err := parseExercises(stage.Dir)
	if err != nil {
		return fmt.Errorf("the reference's exercise markers: %w", err)
	}
	fmt.Printf("grading %s in %s\n", stage.Name, dir)
	var stream io.Writer
	if *verbose {
		stream = os.Stdout
	}
	g, err := runGraded(stage.Dir, dir, gradeOptions{Verbose: stream})
	if err != nil {
		return err
	}
	printGrade(os.Stdout, stage.Name, g, exs, todoExercises(dir, exs))
	if len(g.BuildError) > 0 || g.Passed() < len(g.Checks) {
		return exitError{1}
	}
	return nil
}

// todoExercises returns the numbers of the exercises whose stub is still
// in the copy in dir (its "TODO(exercise N)" error is still there).
func todoExercises(dir string, exs []exercise) map[int]bool {
	todo := map[int]bool{}
	for _, e := range exs {
		src, err := os.ReadFile(filepath.Join(dir, e.File))
		if err == nil && bytes.Contains(src, []byte(fmt.Sprintf("TODO(exercise %d)", e.Num))) {
			todo[e.Num] = true
		}
	}
	return todo
}

// gradeOutputLines is how much of a failing test's output the grade shows.
const gradeOutputLines = 8

// printGrade prints the scoreboard of a grade: each check, with the output
// and the exercise hints of a failure, the exercises still to do, the score.
func printGrade(w io.Writer, stage string, g gradeRun, exs []exercise, todo map[int]bool) {
	byTest := map[string][]exercise{}
	for _, e := range exs {
		for _, t := range e.Tests {
			byTest[t] = append(byTest[t], e)
		}
	}
	fmt.Fprintln(w)
	if len(g.BuildError) > 0 {
		fmt.Fprintln(w, "your copy does not build, so no test ran:")
		printIndented(w, tail(g.BuildError, tailLines))
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%s: graded checks\n", stage)
	shown := map[int]bool{} // hints printed in full once
	for _, c := range g.Checks {
		mark := map[string]string{"pass": "PASS", "fail": "FAIL", "skip": "SKIP", "not run": "----"}[c.Status]
		fmt.Fprintf(w, "  %s %s\n", mark, c.Name)
		switch c.Status {
		case "skip":
			fmt.Fprintf(w, "         skipped: %s\n", skipReason(c.Output))
		case "fail":
			for _, l := range tail(trimBlank(c.Output), gradeOutputLines) {
				fmt.Fprintf(w, "         | %s\n", strings.TrimSpace(l))
			}
			hints := byTest[c.Name]
			for _, e := range hints {
				if shown[e.Num] {
					fmt.Fprintf(w, "         hint: exercise %s (see above)\n", e.Title())
					continue
				}
				shown[e.Num] = true
				wrapped(w, "         hint, exercise "+e.Title()+": ", e.Hint)
			}
			if len(hints) == 0 {
				var stubs []string
				for _, e := range exs {
					if todo[e.Num] {
						stubs = append(stubs, e.Title())
					}
				}
				if len(stubs) > 0 {
					wrapped(w, "         ", "not an exercise's own test, but it needs every exercise written; still stubs: "+strings.Join(stubs, "; "))
				} else {
					wrapped(w, "         ", "no exercise names this test: read its output above and the test in "+stage+"'s _test.go files")
				}
			}
		}
	}
	if len(exs) > 0 {
		fmt.Fprintf(w, "\n%s: exercises\n", stage)
		for _, e := range exs {
			state := "written"
			if todo[e.Num] {
				state = "TODO (still the stub)"
			}
			fmt.Fprintf(w, "  %-40s %s\n", e.Title(), state)
		}
	}
	fmt.Fprintf(w, "\nscore: %d/%d checks passed (%.1fs)\n", g.Passed(), len(g.Checks), g.Seconds)
	if g.Passed() < len(g.Checks) {
		fmt.Fprintf(w, "Stuck? 'lab solution %s N' shows the reference for exercise N.\n", stage)
	}
}

func trimBlank(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// wrapped prints prefix (which ends with a space) and text, wrapped at 78
// columns, the continuation lines indented under the check's output.
func wrapped(w io.Writer, prefix, text string) {
	indent := strings.Repeat(" ", 11)
	line, words := prefix, 0
	for _, word := range strings.Fields(text) {
		switch {
		case words == 0:
			line += word
		case len(line)+1+len(word) > 78:
			fmt.Fprintln(w, line)
			line = indent + word
		default:
			line += " " + word
		}
		words++
	}
	fmt.Fprintln(w, line)
}
