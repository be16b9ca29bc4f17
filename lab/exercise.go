package main

// lab exercise and lab solution: graded exercises generated from the
// reference solutions, so that the two can never drift apart.
//
// # Marker format
//
// A part of a stage that the student writes is one top-level function of
// the stage's package (a non-test .go file in the stage's directory). It is
// marked by a paragraph at the end of its doc comment:
//
//	// enterRoot makes rootfs the root directory of this process. See chroot(2).
//	//
//	// Exercise 1: Which system call changes what "/" means for this
//	// process, and where is the process standing right after it? See
//	// chroot(2) and chdir(2), and "The idea" in README.md.
//	// Graded by: TestRootIsTheImage, TestHostFileInvisible.
//	func enterRoot(rootfs string) error {
//
// The rules, all enforced by parseExercises:
//
//   - "Exercise N:" starts a line of the function's doc comment; N numbers
//     the stage's exercises 1, 2, 3... in any file order, each once.
//   - The hint is the text after "Exercise N:" up to "Graded by:" or the end
//     of the paragraph. Phrase it as a question that leads to a man page or
//     a section of the walkthrough. A section is named by its quoted
//     heading and the README that has it, relative to the stage:
//     "The idea" in README.md, or "Volumes" in ../stage04-overlayfs/README.md
//     for a hint that later stages carry and whose section only its first
//     stage's README has (hints.go checks them in `lab test --strict`).
//   - "Graded by:" names the graded tests (top-level Test or Fuzz functions
//     of the stage's _test.go files) that fail when the function is missing.
//     `lab grade` shows the hint when one of them fails; `lab test --strict`
//     proves that at least one of them does fail when the function is
//     replaced by its stub (exercise_proofs.go).
//   - The function's last result is an error: its stub returns the zero
//     value of every other result and fmt.Errorf("TODO(exercise N): ...").
//     A marker on a function without an error result, or a marker outside a
//     function's (or a marked const's) doc comment, is an error.
//   - Every exercise has at least one mutant in exercise_mutants.txt: a
//     plausible wrong solution (a flag dropped, filepath.Join instead of a
//     resolve inside the root, a time.Sleep loop, the wrong order), written
//     as a text replacement in the function's body and keyed by the
//     function's name (format in exercise_mutants.go). `lab test --strict`
//     proves that each mutant builds and fails one of the tests "Graded
//     by:" names; an exercise without a mutant, or a mutant that survives,
//     fails the proof. A stub fails any test, so only a mutant shows that
//     the named tests check what the question asks.
//   - The one other thing that may be marked is a const declaration of one
//     constant, for a lesson that is a value (stage02's clone flags): its
//     stub is 0 (or "" for a string) with a TODO comment, and the code
//     that uses it fails on its own (init is not PID 1 of a new PID
//     namespace). A comment after the value on its line goes with it.
//
// The student's copy (lab exercise) is the stage with the marked bodies
// replaced by their stubs, generated with go/parser and go/format; the doc
// comment and its hint stay. Imports the stub no longer uses are dropped,
// and fmt is added. By default only the stage's new exercises are stubbed:
// an exercise whose function the previous stage marks too, in the same
// file with the same body, was written there and comes with the reference
// (--from COPY: with the student's own body from their copy of the
// previous stage, the imports it uses added); --all stubs every one.
//
// # Files
//
// exercise.go holds the commands (lab exercise, lab solution);
// exercise_markers.go reads the markers; exercise_stub.go writes the stubs
// and the student's copy; exercise_imports.go keeps a stubbed file's
// imports right; exercise_mutants.go holds the wrong solutions the CI proof
// tries (see "Mutants" above); exercise_proofs.go is that proof.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

func init() {
	register(command{
		name:    "exercise",
		summary: "write a student copy of a stage, with the exercises to fill in",
		run:     cmdExercise,
	})
	register(command{
		name:    "solution",
		summary: "show the reference solution of an exercise",
		run:     cmdSolution,
	})
}

// stageByName finds the one stage module an argument names.
func stageByName(arg string) (module, string, error) {
	root, err := workspaceRoot()
	if err != nil {
		return module{}, "", err
	}
	all, err := workspaceModules(root)
	if err != nil {
		return module{}, "", err
	}
	mods, err := selectModules(all, []string{arg})
	if err != nil {
		return module{}, "", err
	}
	var stages []module
	for _, m := range mods {
		if strings.HasPrefix(m.Name, "stage") {
			stages = append(stages, m)
		}
	}
	if len(stages) != 1 {
		return module{}, "", fmt.Errorf("%q names %d stages: name one (e.g. stage01-chroot)", arg, len(stages))
	}
	return stages[0], root, nil
}

// studentHome is the home and ids of the person running the lab: under
// sudo, SUDO_USER's, so that the copy is theirs and not root's.
func studentHome() (home string, owner *[2]int, err error) {
	if name := os.Getenv("SUDO_USER"); name != "" && name != "root" && os.Geteuid() == 0 {
		u, err := user.Lookup(name)
		if err != nil {
			return "", nil, fmt.Errorf("SUDO_USER %s: %w", name, err)
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil {
			return "", nil, fmt.Errorf("SUDO_USER %s: bad ids %s:%s", name, u.Uid, u.Gid)
		}
		return u.HomeDir, &[2]int{uid, gid}, nil
	}
	home, err = os.UserHomeDir()
	return home, nil, err
}

// defaultExerciseDir is where lab exercise writes and lab grade looks.
func defaultExerciseDir(stage string) (string, *[2]int, error) {
	home, owner, err := studentHome()
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(home, "boxlab-exercises", stage), owner, nil
}

// exerciseStamp marks a directory as written by lab exercise, so --force
// only ever replaces such a directory.
const exerciseStamp = ".boxlab-exercise"

func cmdExercise(args []string) error {
	fs := pflag.NewFlagSet("exercise", pflag.ContinueOnError)
	force := fs.Bool("force", false, "replace an existing copy (your work in it is lost)")
	list := fs.Bool("list", false, "print the stage's exercise list as the README shows it, and write nothing")
	all := fs.Bool("all", false, "stub every exercise of the stage, the ones carried from earlier stages too")
	from := fs.String("from", "", "your `COPY` of the previous stage: its exercises come with your own solutions")
	if done, err := parseFlags(fs, args, `usage: lab exercise STAGE [DIR] [--all | --from COPY] [--force] [--list]

Writes a copy of STAGE in which the stage's new exercises are stubs for you to
write (default DIR: ~/boxlab-exercises/STAGE). Grade it with 'lab grade STAGE'.
An exercise carried unchanged from the previous stage (you wrote it there)
comes with the reference solution; --from COPY brings your own solution from
your copy of the previous stage instead; --all stubs those too.`); done {
		return err
	}
	if *all && *from != "" {
		return errors.New("--all stubs every exercise, --from carries yours: choose one")
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return exitError{2}
	}
	stage, root, err := stageByName(fs.Arg(0))
	if err != nil {
		return err
	}
	exs, err := parseExercises(stage.Dir)
	if err != nil {
		return err
	}
	if len(exs) == 0 {
		return fmt.Errorf("%s has no exercises marked yet", stage.Name)
	}
	if *list {
		fmt.Print(exerciseListMarkdown(stage.Name, exs))
		return nil
	}
	var stub map[int]bool // nil: all
	prev := ""
	if !*all {
		if prev, stub, err = newExercises(root, stage, exs); err != nil {
			return err
		}
	}
	var carry map[int]carriedBody
	if *from != "" {
		if carry, err = carryFrom(*from, prev, exs, stub); err != nil {
			return err
		}
	}
	dir, owner, err := defaultExerciseDir(stage.Name)
	if err != nil {
		return err
	}
	if fs.NArg() == 2 {
		if dir, err = filepath.Abs(fs.Arg(1)); err != nil {
			return err
		}
	}
	if rel, err := filepath.Rel(root, dir); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		return fmt.Errorf("%s is inside the workshop's repository, whose go.work would claim it: choose a directory outside %s", dir, root)
	}
	if err := prepareExerciseDir(dir, *force); err != nil {
		return err
	}
	if owner != nil {
		// The directories made for the copy belong to the student too.
		home, _, _ := studentHome()
		for d := dir; strings.HasPrefix(d, home+"/"); d = filepath.Dir(d) {
			_ = os.Lchown(d, owner[0], owner[1])
		}
	}
	labDir := filepath.Join(root, "lab")
	if err := writeStageCopy(stage.Dir, dir, copyOptions{labDir: labDir, exs: exs, stub: stub, owner: owner, carry: carry}); err != nil {
		return err
	}
	stamp := filepath.Join(dir, exerciseStamp)
	if err := os.WriteFile(stamp, []byte(stage.Name+"\n"), 0o644); err != nil {
		return err
	}
	if owner != nil {
		_ = os.Lchown(stamp, owner[0], owner[1])
	}
	fmt.Printf("wrote the exercises of %s to %s\n\n", stage.Name, dir)
	var carried []string
	for _, e := range exs {
		if stub != nil && !stub[e.Num] {
			carried = append(carried, strconv.Itoa(e.Num))
			continue
		}
		fmt.Printf("  %s\n      %s\n", e.Title(), e.Hint)
	}
	if len(carried) > 0 && carry != nil {
		fmt.Printf("\nExercises %s come from %s unchanged: with your own solutions from %s.\n",
			strings.Join(carried, ", "), prev, *from)
	} else if len(carried) > 0 {
		fmt.Printf("\nExercises %s come from %s unchanged, with the reference solution\n(you wrote them there): 'lab exercise %s --all' stubs them too.\n",
			strings.Join(carried, ", "), prev, stage.Name)
	}
	gradeArgs := stage.Name
	if def, _, _ := defaultExerciseDir(stage.Name); def != dir {
		gradeArgs += " --dir " + dir
	}
	fmt.Printf("\nWrite them there (go build works in that directory), then grade your work:\n\n  sudo ./lab.sh grade %s\n\nStuck? 'lab solution %s N' shows the reference for exercise N.\n", gradeArgs, stage.Name)
	return nil
}

// newExercises picks the exercises a copy of stage stubs by default: those
// that are new in it. An exercise whose function the previous stage marks
// too, in the same file, with the same body, was written there; it comes
// with the reference. prev is the previous stage's name ("" for the first).
func newExercises(root string, stage module, exs []exercise) (prev string, stub map[int]bool, err error) {
	stub = map[int]bool{}
	for _, e := range exs {
		stub[e.Num] = true
	}
	all, err := workspaceModules(root)
	if err != nil {
		return "", nil, err
	}
	var before *module
	for i, m := range all {
		if strings.HasPrefix(m.Name, "stage") && m.Name < stage.Name && (before == nil || m.Name > before.Name) {
			before = &all[i]
		}
	}
	if before == nil {
		return "", stub, nil
	}
	old, err := parseExercises(before.Dir)
	if err != nil {
		return "", nil, fmt.Errorf("the exercises of %s, the stage before: %w", before.Name, err)
	}
	for _, e := range exs {
		for _, o := range old {
			if o.Func != e.Func || o.File != e.File {
				continue
			}
			same, err := sameBody(stage.Dir, e, before.Dir, o)
			if err != nil {
				return "", nil, err
			}
			if same {
				delete(stub, e.Num)
			}
		}
	}
	return before.Name, stub, nil
}

// carryFrom reads the student's own bodies of the exercises a copy does
// not stub (the carried ones) from their copy of the previous stage, prev.
func carryFrom(dir, prev string, exs []exercise, stub map[int]bool) (map[int]carriedBody, error) {
	if prev == "" {
		return nil, errors.New("--from: this is the first stage, nothing comes before it")
	}
	stamp, err := os.ReadFile(filepath.Join(dir, exerciseStamp))
	if err != nil {
		return nil, fmt.Errorf("--from %s: not a copy written by 'lab exercise' (%v): give your copy of %s", dir, err, prev)
	}
	if got := strings.TrimSpace(string(stamp)); got != prev {
		return nil, fmt.Errorf("--from %s: a copy of %s, not of %s, the stage before", dir, got, prev)
	}
	carry := map[int]carriedBody{}
	for _, e := range exs {
		if stub[e.Num] {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, e.File))
		if err != nil {
			return nil, fmt.Errorf("--from: exercise %d: %w", e.Num, err)
		}
		theirs, err := parseFileExercises(e.File, src)
		if err != nil {
			return nil, fmt.Errorf("--from: your %s: %w", filepath.Join(dir, e.File), err)
		}
		i := slices.IndexFunc(theirs, func(t exercise) bool { return t.Func == e.Func })
		if i < 0 {
			return nil, fmt.Errorf("--from: your %s has no exercise %s any more", filepath.Join(dir, e.File), e.Func)
		}
		t := theirs[i]
		carry[e.Num] = carriedBody{exercise: e, Body: string(src[t.bodyStart:t.bodyEnd]),
			Imports: importsUsed(e.File, src, t.bodyStart, t.bodyEnd)}
	}
	return carry, nil
}

// sameBody says whether exercise a of the stage in dirA has the same body
// as b of the stage in dirB.
func sameBody(dirA string, a exercise, dirB string, b exercise) (bool, error) {
	srcA, err := os.ReadFile(filepath.Join(dirA, a.File))
	if err != nil {
		return false, err
	}
	srcB, err := os.ReadFile(filepath.Join(dirB, b.File))
	if err != nil {
		return false, err
	}
	if a.bodyEnd > len(srcA) || b.bodyEnd > len(srcB) {
		return false, fmt.Errorf("%s changed while reading it", a.File)
	}
	return bytes.Equal(srcA[a.bodyStart:a.bodyEnd], srcB[b.bodyStart:b.bodyEnd]), nil
}

// prepareExerciseDir makes dir ready for a new copy: created when missing,
// refused when it holds anything, unless force and it is an earlier copy.
func prepareExerciseDir(dir string, force bool) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return os.MkdirAll(dir, 0o755)
	case err != nil:
		return err
	case len(entries) == 0:
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, exerciseStamp)); err != nil {
		return fmt.Errorf("%s is not empty and was not written by 'lab exercise': choose another directory", dir)
	}
	if !force {
		return fmt.Errorf("%s already holds your copy: grade it with 'lab grade', or pass --force to start again (your work there is lost)", dir)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// exerciseListMarkdown is the exercise list of a stage's README, generated
// from the markers; the CI proof checks the README against it.
func exerciseListMarkdown(stage string, exs []exercise) string {
	var b strings.Builder
	for _, e := range exs {
		fmt.Fprintf(&b, "%d. `%s` in `%s`: %s (graded by %s)\n", e.Num, e.Func, e.File, e.Hint, backquoteList(e.Tests))
	}
	return b.String()
}

func backquoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = "`" + v + "`"
	}
	return strings.Join(q, ", ")
}

func cmdSolution(args []string) error {
	if len(args) < 1 || len(args) > 2 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: lab solution STAGE [N|FUNC|FILE]")
		fmt.Fprintln(os.Stderr, "\nPrints the reference solution of exercise N (or of the function FUNC, or of")
		fmt.Fprintln(os.Stderr, "every exercise in FILE; default: all of the stage's exercises).")
		if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return exitError{2}
	}
	stage, _, err := stageByName(args[0])
	if err != nil {
		return err
	}
	exs, err := parseExercises(stage.Dir)
	if err != nil {
		return err
	}
	pick := ""
	if len(args) == 2 {
		pick = args[1]
	}
	out, err := solutionText(stage.Dir, exs, pick)
	if err != nil {
		return err
	}
	fmt.Print(out)
	return nil
}

// solutionText is the reference source of the exercises pick names: a
// number ("1", "exercise 1"), a function name or a file name; "" is all.
func solutionText(dir string, exs []exercise, pick string) (string, error) {
	pick = strings.TrimSpace(strings.TrimPrefix(strings.ToLower(pick), "exercise"))
	var b bytes.Buffer
	var names []string
	for _, e := range exs {
		names = append(names, fmt.Sprintf("%d (%s)", e.Num, e.Func))
		if pick != "" && pick != strconv.Itoa(e.Num) && pick != strings.ToLower(e.Func) && pick != strings.ToLower(e.File) {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, e.File))
		if err != nil {
			return "", err
		}
		if e.declEnd > len(src) {
			return "", fmt.Errorf("%s changed while reading it", e.File)
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "// exercise %d: %s, %s:%d\n", e.Num, e.Func, e.File, e.Line)
		if imps := importsUsed(e.File, src, e.declStart, e.declEnd); len(imps) > 0 {
			fmt.Fprintf(&b, "// it uses the imports %s\n", strings.Join(imps, ", "))
		}
		fmt.Fprintf(&b, "\n%s\n", src[e.declStart:e.declEnd])
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("no exercise %q: the exercises are %s (or a file name)", pick, strings.Join(names, ", "))
	}
	return b.String(), nil
}
