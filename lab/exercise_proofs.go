package main

// The proofs `lab test --strict` adds for every stage, as two rows of the
// scoreboard whose checks count like tests:
//
// "STAGE exercises"
//   - the exercise markers parse (exercise.go's rules) and there is one;
//   - the README's exercise list matches the markers;
//   - every README section a hint names is a heading of the README it
//     names (hints.go);
//   - the skeleton (every exercise stubbed, as `lab exercise --all` writes
//     it) builds and vets clean with GOWORK=off, and so does the default
//     copy (only the stage's new exercises stubbed);
//   - the skeleton fails the graded tests;
//   - each exercise alone replaced by its stub fails one of the tests its
//     "Graded by:" names, so no exercise is ungraded and no hint is wired
//     to the wrong tests;
//   - each exercise has a mutant (exercise_mutants.go), and each of its
//     mutants, a plausible wrong solution, builds and fails one of the
//     tests it names, so a wrong answer cannot pass the grade.
//
// "STAGE walkthrough"
//   - the README has the shape of a walkthrough (walkthrough.go);
//   - its "What's new" table says what the diff against the previous
//     stage says, file by file (whatsnew.go);
//   - every call of the stage binary in "Step by step" uses only flags
//     that its `VERB --help` lists (transcripts.go);
//   - every command of "How to check your work" exits 0 and prints what
//     the README shows.
//
// That the reference passes the graded tests is the stage's own row.
// Mutants run with -failfast and only the named tests, to keep it quick.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"boxlab/lab/internal/gotool"
	"boxlab/lab/internal/labpaths"
	"boxlab/lab/internal/rootfs"
)

// prover prints one row's checks as they happen and counts them.
type prover struct {
	out io.Writer
	res moduleResult
}

func (p *prover) pass(name string) {
	p.res.Passed++
	fmt.Fprintf(p.out, "  ok   %s\n", name)
}

func (p *prover) fail(name string, lines ...string) {
	p.res.Failed++
	p.res.Failures = append(p.res.Failures, outcome{Name: name, Output: lines})
	fmt.Fprintf(p.out, "  FAIL %s\n", name)
	printIndented(p.out, lines)
}

func (p *prover) check(name string, err error) bool {
	if err != nil {
		p.fail(name, splitLines(err.Error())...)
		return false
	}
	p.pass(name)
	return true
}

// proveStages runs the proofs of the stages among the modules args select
// (as lab test selects them) and returns their scoreboard rows.
func proveStages(args []string, out io.Writer) []moduleResult {
	root, err := workspaceRoot()
	if err != nil {
		return []moduleResult{{Module: "exercise proofs", Failed: 1, Failures: []outcome{{Name: "workspace", Output: []string{err.Error()}}}}}
	}
	all, err := workspaceModules(root)
	if err == nil {
		all, err = selectModules(all, args)
	}
	if err != nil {
		return []moduleResult{{Module: "exercise proofs", Failed: 1, Failures: []outcome{{Name: "workspace", Output: []string{err.Error()}}}}}
	}
	var rows []moduleResult
	for _, m := range all {
		if !strings.HasPrefix(m.Name, "stage") {
			continue
		}
		if gos, _ := filepath.Glob(filepath.Join(m.Dir, "*.go")); len(gos) == 0 {
			continue // a stage directory with no code yet has nothing to prove
		}
		rows = append(rows, proveExercises(m, root, out), proveWalkthrough(m, root, out))
	}
	return rows
}

// proveExercises is the "STAGE exercises" row.
func proveExercises(m module, root string, out io.Writer) moduleResult {
	start := time.Now()
	fmt.Fprintf(out, "== %s: exercises: markers, skeleton, its stub and its mutants per exercise\n", m.Name)
	res := proveExercisesRow(m, root, out)
	res.Seconds = seconds(time.Since(start))
	fmt.Fprintf(out, "  (exercise proofs of %s: %.1fs)\n", m.Name, res.Seconds)
	return res
}

func proveExercisesRow(m module, root string, out io.Writer) moduleResult {
	p := &prover{out: out, res: moduleResult{Module: m.Name + " exercises"}}

	exs, err := parseExercises(m.Dir)
	if err == nil && len(exs) == 0 {
		err = fmt.Errorf("no exercises marked: mark the lesson's functions (see lab/exercise.go)")
	}
	if !p.check(fmt.Sprintf("exercise markers (%d)", len(exs)), err) {
		return p.res
	}
	md, err := os.ReadFile(filepath.Join(m.Dir, "README.md"))
	if err == nil {
		err = checkReadmeExercises(md, m.Name, exs)
	}
	p.check("README exercise list matches the markers", err)
	p.check("hints name README sections that exist", checkHintSections(m.Dir, exs))

	labDir := filepath.Join(root, "lab")
	tmp, err := os.MkdirTemp("", "boxlab-proof-")
	if err != nil {
		p.fail("skeleton", err.Error())
		return p.res
	}
	defer os.RemoveAll(tmp)
	copyOf := func(name string, stub map[int]bool) (string, error) {
		dir := filepath.Join(tmp, name)
		return dir, writeStageCopy(m.Dir, dir, copyOptions{labDir: labDir, exs: exs, stub: stub})
	}

	skel, err := copyOf("skeleton", nil)
	if err == nil {
		err = goInDir(skel, "build", "-o", os.DevNull, "./...")
	}
	if !p.check("skeleton builds (GOWORK=off)", err) {
		return p.res
	}
	p.check("skeleton vets clean", goInDir(skel, "vet", "./..."))
	// What lab exercise writes by default: the stage's new exercises only.
	_, newOnly, err := newExercises(root, m, exs)
	if err == nil {
		var dir string
		if dir, err = copyOf("new-only", newOnly); err == nil {
			err = goInDir(dir, "build", "-o", os.DevNull, "./...")
		}
	}
	p.check(fmt.Sprintf("the default copy (the %d new exercises stubbed) builds", len(newOnly)), err)

	g, err := runGraded(m.Dir, skel, gradeOptions{FailFast: true})
	switch {
	case err != nil:
		p.fail("skeleton fails the graded tests", err.Error())
	case len(g.BuildError) > 0:
		p.fail("skeleton fails the graded tests", append([]string{"its tests do not build:"}, g.BuildError...)...)
	case len(g.Failed) == 0:
		p.fail("skeleton fails the graded tests", "every graded test passed with every exercise stubbed")
	default:
		p.pass(fmt.Sprintf("skeleton fails the graded tests (%s, %.1fs)", g.Failed[0], g.Seconds))
	}

	for _, e := range exs {
		name := fmt.Sprintf("exercise %d (%s) is caught", e.Num, e.Func)
		dir, err := copyOf(fmt.Sprintf("mutant%d", e.Num), map[int]bool{e.Num: true})
		if err != nil {
			p.fail(name, err.Error())
			continue
		}
		g, err := runGraded(m.Dir, dir, gradeOptions{Run: e.Tests, FailFast: true})
		switch {
		case err != nil:
			p.fail(name, err.Error())
		case len(g.BuildError) > 0:
			p.fail(name, append([]string{"the stage with only this exercise stubbed does not build:"}, g.BuildError...)...)
		case len(g.Failed) == 0:
			p.fail(name, fmt.Sprintf("with %s stubbed, none of the tests it names (%s) fails: name a test that catches it, or add one",
				e.Func, strings.Join(e.Tests, ", ")))
		default:
			p.pass(fmt.Sprintf("%s by %s (%.1fs)", name, g.Failed[0], g.Seconds))
		}
		all, err := loadMutants()
		if err != nil {
			p.fail(fmt.Sprintf("exercise %d (%s): mutants", e.Num, e.Func), err.Error())
			continue
		}
		proveMutants(p, m, e, all[e.Func], tmp, labDir, exs)
	}
	return p.res
}

// proveMutants proves that the tests exercise e names catch each of its
// mutants (exercise_mutants.go): that the copy with the mutant written in
// builds and fails one of them.
func proveMutants(p *prover, m module, e exercise, ms []mutant, tmp, labDir string, exs []exercise) {
	if len(ms) == 0 {
		p.fail(fmt.Sprintf("exercise %d (%s) has a mutant", e.Num, e.Func),
			"no mutant in lab/exercise_mutants.txt: add a plausible wrong solution (\"## "+e.Func+": what is wrong\") that its graded tests must catch")
		return
	}
	for i, mu := range ms {
		name := fmt.Sprintf("exercise %d (%s) mutant %q is caught", e.Num, e.Func, mu.What)
		dir := filepath.Join(tmp, fmt.Sprintf("mutant%d.%d", e.Num, i+1))
		if err := writeStageCopy(m.Dir, dir, copyOptions{labDir: labDir, exs: exs, stub: map[int]bool{}, mutant: &mu}); err != nil {
			p.fail(name, err.Error())
			continue
		}
		g, err := runGraded(m.Dir, dir, gradeOptions{Run: e.Tests, FailFast: true})
		switch {
		case err != nil:
			p.fail(name, err.Error())
		case len(g.BuildError) > 0:
			p.fail(name, append([]string{"the stage with this mutant does not build: a mutant must compile and run (exercise_mutants.txt:" + fmt.Sprint(mu.Line) + ")"}, g.BuildError...)...)
		case len(g.Failed) == 0:
			p.fail(name, fmt.Sprintf("with this wrong %s, every test it names (%s) passes: the grade would pass a wrong answer; name a test that catches it, or add one",
				e.Func, strings.Join(e.Tests, ", ")))
		default:
			p.pass(fmt.Sprintf("%s by %s (%.1fs)", name, g.Failed[0], g.Seconds))
		}
		_ = os.RemoveAll(dir)
	}
}

// goInDir runs a go command in a copy of a stage, as a student would.
func goInDir(dir string, args ...string) error {
	c := goCmdOff(dir, args...)
	if b, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, strings.TrimSpace(string(b)))
	}
	return nil
}

// proveWalkthrough is the "STAGE walkthrough" row.
func proveWalkthrough(m module, root string, out io.Writer) moduleResult {
	start := time.Now()
	fmt.Fprintf(out, "== %s: walkthrough: README shape, Step by step's flags, How to check your work\n", m.Name)
	res := proveWalkthroughRow(m, root, out)
	res.Seconds = seconds(time.Since(start))
	return res
}

func proveWalkthroughRow(m module, root string, out io.Writer) moduleResult {
	p := &prover{out: out, res: moduleResult{Module: m.Name + " walkthrough"}}

	md, err := os.ReadFile(filepath.Join(m.Dir, "README.md"))
	if err != nil {
		p.fail("README.md", err.Error())
		return p.res
	}
	p.check("README has the walkthrough's shape", checkReadmeShape(md))
	if !strings.HasPrefix(m.Name, "stage06-") { // laid out by concern, not as a diff
		mods, err := workspaceModules(root)
		if err == nil {
			err = checkWhatsNew(m.Dir, previousStage(m, mods))
		}
		p.check(`"What's new" matches the diff against the previous stage`, err)
	}
	steps, err := walkthroughSteps(md)
	if !p.check(fmt.Sprintf("How to check your work: %d commands", len(steps)), err) {
		return p.res
	}
	// As the README says: the stage binary built in the stage's directory,
	// and the test image in place.
	g := goRunner{root: root}
	if g.bin, err = gotool.Path(); err == nil {
		var b []byte
		b, err = g.cmd(m.Dir, "build", "-o", stageBinaryPath(m), ".").CombinedOutput()
		if err != nil {
			err = fmt.Errorf("go build: %v\n%s", err, b)
		}
	}
	if !p.check("stage binary builds", err) {
		return p.res
	}
	proveTranscriptFlags(p, md, m.Name, stageBinaryPath(m))
	img, err := rootfs.Build(rootfs.Options{CacheDir: labpaths.CacheDir})
	if !p.check("test image", err) {
		return p.res
	}
	env := []string{"ROOTFS=" + img.Dir, "LC_ALL=C"}
	for _, s := range steps {
		name := "$ " + s.Cmd
		if len(name) > 72 {
			name = name[:69] + "..."
		}
		if lines := checkWalkStep(m.Dir, s, env); lines != nil {
			p.fail(name, lines...)
		} else {
			p.pass(name)
		}
	}
	return p.res
}
