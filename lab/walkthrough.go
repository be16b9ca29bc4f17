package main

// Walkthroughs that are checked: a stage README's "How to check your work"
// section is run, command by command, and what each command prints must
// match what the README shows. `lab test --strict` does it for every stage
// (exercise_proofs.go), so a walkthrough can never show output the code no
// longer gives.
//
// # Format of "How to check your work"
//
// The section (a "## How to check your work" heading, up to the next "## "
// heading) holds prose and ```console blocks. In a console block:
//
//   - A line starting with "$ " is a command. It runs with /bin/sh -c in
//     the stage's directory, after the stage binary has been built there
//     (as `go build` in the stage does), with ROOTFS=/var/cache/boxlab/rootfs
//     in the environment and stdin from /dev/null. A leading "sudo " is
//     dropped: CI runs as root. Every command must exit 0: show a failure
//     with `; echo $?`, which also shows its code.
//   - The lines after a command, up to the next command or the end of the
//     block, are its expected output: stdout and stderr together, in the
//     order they were written.
//   - Never put `go test`, `lab.sh test` or `lab.sh grade` in the section:
//     state the test command in prose (the proof refuses them, as they
//     would run the tests from inside the tests).
//
// Matching, line by line, after trailing spaces and trailing empty lines
// are dropped on both sides:
//
//   - `<...>`, or a lowercase word in angle brackets such as `<pid>`,
//     `<inode>` or `<addr>`, in an expected line matches any text within
//     the line. Use them for what depends on the host or the moment: pids,
//     inode numbers, addresses, host names.
//   - A line that is exactly `...` matches any number of lines, none
//     included.
//   - Durations (`3.1s`, `250ms`) and hex ids of 12 to 64 digits are the
//     same wherever they appear: both sides are normalised to `<time>` and
//     `<id>` before matching.
//   - Everything else, numbers included, must match exactly: an exit code
//     of 126 is not 127.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// A walkStep is one command of a walkthrough and the output it must give.
type walkStep struct {
	Cmd  string   // as written, "sudo " included
	Want []string // expected lines
	Line int      // line of the command in the README
}

// readmeSection is one "## " section of a README, fenced code excluded
// from heading detection.
type readmeSection struct {
	Title string
	Line  int      // line of the heading (1-based)
	Body  []string // the lines after the heading
}

// readmeSections splits a markdown document at its level-2 headings. The
// text before the first heading is a section with an empty title.
func readmeSections(md []byte) []readmeSection {
	secs := []readmeSection{{}}
	fenced := false
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
		}
		if !fenced && strings.HasPrefix(l, "## ") {
			secs = append(secs, readmeSection{Title: strings.TrimSpace(l[3:]), Line: n})
			continue
		}
		last := &secs[len(secs)-1]
		last.Body = append(last.Body, l)
	}
	return secs
}

// findSection returns the section whose title is title (case-insensitive).
func findSection(secs []readmeSection, title string) (readmeSection, bool) {
	for _, s := range secs {
		if strings.EqualFold(s.Title, title) {
			return s, true
		}
	}
	return readmeSection{}, false
}

// walkthroughSteps returns the commands of the README's "How to check your
// work" section.
func walkthroughSteps(md []byte) ([]walkStep, error) {
	sec, ok := findSection(readmeSections(md), "How to check your work")
	if !ok {
		return nil, errors.New(`no "## How to check your work" section`)
	}
	var steps []walkStep
	inConsole, fenced := false, false
	for i, l := range sec.Body {
		n := sec.Line + 1 + i
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "```") {
			if !fenced {
				fenced = true
				inConsole = strings.TrimSpace(strings.TrimPrefix(t, "```")) == "console"
			} else {
				fenced, inConsole = false, false
			}
			continue
		}
		if !inConsole {
			continue
		}
		switch {
		case strings.HasPrefix(l, "$ "):
			cmd := strings.TrimSpace(l[2:])
			if forbiddenInWalkthrough.MatchString(cmd) {
				return nil, fmt.Errorf("README.md:%d: %q runs the tests from inside the tests: state the test command in prose", n, cmd)
			}
			steps = append(steps, walkStep{Cmd: cmd, Line: n})
		case len(steps) == 0:
			return nil, fmt.Errorf("README.md:%d: output before any \"$ \" command in a console block", n)
		default:
			steps[len(steps)-1].Want = append(steps[len(steps)-1].Want, l)
		}
	}
	if fenced {
		return nil, errors.New("How to check your work: a code block is not closed")
	}
	if len(steps) == 0 {
		return nil, errors.New("How to check your work has no ```console block with \"$ \" commands")
	}
	return steps, nil
}

var forbiddenInWalkthrough = regexp.MustCompile(`\bgo\s+test\b|lab(\.sh)?\s+(test|grade)\b`)

// shellCommand is the command line run for a step: without sudo.
func (s walkStep) shellCommand() string {
	return strings.TrimPrefix(s.Cmd, "sudo ")
}

var (
	placeholder = regexp.MustCompile(`<(\.\.\.|[a-z][a-z0-9_-]*)>`)
	durations   = regexp.MustCompile(`\b[0-9]+(\.[0-9]+)?(ms|s)\b`)
	hexIDs      = regexp.MustCompile(`\b[0-9a-f]{12,64}\b`)
)

// normaliseLine applies the rules both sides share.
func normaliseLine(l string) string {
	l = strings.TrimRight(l, " \t\r")
	l = hexIDs.ReplaceAllStringFunc(l, func(s string) string {
		if strings.ContainsAny(s, "0123456789") {
			return "<id>"
		}
		return s
	})
	return durations.ReplaceAllString(l, "<time>")
}

// linePattern turns an expected line into a regexp: placeholders match any
// text, the rest literally.
func linePattern(want string) *regexp.Regexp {
	want = normaliseLine(want)
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, m := range placeholder.FindAllStringIndex(want, -1) {
		b.WriteString(regexp.QuoteMeta(want[last:m[0]]))
		b.WriteString(".*?")
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(want[last:]))
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func trimTrailingEmpty(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// outputMatches says whether got matches the expected lines of a step.
func outputMatches(want, got []string) bool {
	want, got = trimTrailingEmpty(want), trimTrailingEmpty(got)
	pats := make([]*regexp.Regexp, len(want))
	for i, w := range want {
		if strings.TrimSpace(w) != "..." {
			pats[i] = linePattern(w)
		}
	}
	norm := make([]string, len(got))
	for i, g := range got {
		norm[i] = normaliseLine(g)
	}
	// memo[i][j]: want[i:] against got[j:] was tried and failed.
	failed := map[[2]int]bool{}
	var match func(i, j int) bool
	match = func(i, j int) bool {
		if i == len(pats) {
			return j == len(norm)
		}
		if failed[[2]int{i, j}] {
			return false
		}
		ok := false
		if pats[i] == nil { // "...": skip zero or more lines
			for k := j; k <= len(norm) && !ok; k++ {
				ok = match(i+1, k)
			}
		} else {
			ok = j < len(norm) && pats[i].MatchString(norm[j]) && match(i+1, j+1)
		}
		if !ok {
			failed[[2]int{i, j}] = true
		}
		return ok
	}
	return match(0, 0)
}

// walkthroughTimeout bounds one command of a walkthrough.
const walkthroughTimeout = time.Minute

// runWalkStep runs one step in dir with env added to the environment and
// returns its output lines; err is a failure to run or a non-zero exit.
func runWalkStep(dir string, s walkStep, env []string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), walkthroughTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", s.shellCommand())
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out // one pipe: the order they were written
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s", walkthroughTimeout)
	}
	return splitLines(out.String()), err
}

// checkWalkStep runs a step and explains a mismatch.
func checkWalkStep(dir string, s walkStep, env []string) []string {
	got, err := runWalkStep(dir, s, env)
	var problems []string
	if err != nil {
		problems = append(problems, fmt.Sprintf("README.md:%d: %s: %v (a walkthrough command must exit 0; show a failure with '; echo $?')", s.Line, s.Cmd, err))
	}
	if !outputMatches(s.Want, got) {
		problems = append(problems, fmt.Sprintf("README.md:%d: the output of %s does not match the walkthrough", s.Line, s.Cmd))
	}
	if len(problems) == 0 {
		return nil
	}
	problems = append(problems, "--- the walkthrough shows")
	problems = append(problems, trimTrailingEmpty(s.Want)...)
	problems = append(problems, "--- the command printed")
	return append(problems, tail(got, tailLines)...)
}

// readmeShape lists the level-2 sections every stage README has, in this
// order (other sections may come between them).
var readmeShape = []string{"What's new", "Exercises", "How to check your work", "What goes wrong", "Further reading"}

// checkReadmeShape says what is missing from a stage README's shape.
func checkReadmeShape(md []byte) error {
	secs := readmeSections(md)
	var problems []string
	if !strings.Contains(strings.Join(secs[0].Body, "\n"), "What you will learn") {
		problems = append(problems, `no "What you will learn" before the first section`)
	}
	next := 0
	for _, s := range secs[1:] {
		if next < len(readmeShape) && strings.EqualFold(s.Title, readmeShape[next]) {
			next++
		}
	}
	if next < len(readmeShape) {
		problems = append(problems, fmt.Sprintf("the sections %s must appear in this order; %q is missing or out of order",
			quoteList(readmeShape), readmeShape[next]))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// readmeExerciseItems returns the numbered list items of the README's
// "Exercises" section, each joined on one line.
func readmeExerciseItems(md []byte) ([]string, error) {
	sec, ok := findSection(readmeSections(md), "Exercises")
	if !ok {
		return nil, errors.New(`no "## Exercises" section`)
	}
	item := regexp.MustCompile(`^[0-9]+\. `)
	var items []string
	in := false
	for _, l := range sec.Body {
		t := strings.TrimSpace(l)
		switch {
		case item.MatchString(l):
			items = append(items, t)
			in = true
		case t == "":
			in = false
		case in:
			items[len(items)-1] += " " + t
		}
	}
	return items, nil
}

// checkReadmeExercises compares the README's exercise list with the one
// generated from the markers (lab exercise --list).
func checkReadmeExercises(md []byte, stage string, exs []exercise) error {
	got, err := readmeExerciseItems(md)
	if err != nil {
		return err
	}
	want := splitLines(exerciseListMarkdown(stage, exs))
	fix := fmt.Sprintf("paste the output of 'lab exercise --list %s' into the README's Exercises section", stage)
	if len(got) != len(want) {
		return fmt.Errorf("the README lists %d exercises, the code marks %d: %s", len(got), len(want), fix)
	}
	for i := range want {
		if strings.Join(strings.Fields(got[i]), " ") != strings.Join(strings.Fields(want[i]), " ") {
			return fmt.Errorf("exercise %d differs:\n  README: %s\n  code:   %s\n%s", i+1, got[i], want[i], fix)
		}
	}
	return nil
}

// stageBinaryPath is where the walkthrough expects the stage binary.
func stageBinaryPath(m module) string { return filepath.Join(m.Dir, m.Name) }
