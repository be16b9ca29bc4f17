package main

// Mutants: plausible wrong solutions of the exercises, which the CI proof
// (exercise_proofs.go) writes into a copy of the stage one at a time and
// runs the exercise's graded tests on. A stub fails any test; a mutant is
// the answer a student might really give (a flag dropped, the wrong file,
// filepath.Join instead of a resolve inside the root, a time.Sleep loop),
// so a mutant that no named test catches means the grade would pass a
// wrong answer.
//
// They live in exercise_mutants.txt, keyed by the exercise's function (its
// number changes between stages 01 and 02, its function does not), so one
// mutant is tried in every stage that carries the exercise:
//
//	## makeMountsPrivate: MS_REC missing, only / itself becomes private
//	- unix.MS_REC|unix.MS_PRIVATE
//	+ unix.MS_PRIVATE
//
// "## FUNC: what is wrong" starts a mutant (FUNC as the exercise list
// names it, "T.method" for a method). It is one or more hunks: "- " lines,
// the text replaced, then "+ " lines, its replacement ("+" alone: an empty
// line; no "+" line: the text is deleted). The "-" text must occur exactly
// once in the function's body (or a marked const's value); leading and
// trailing blanks of each line do not count, and the result is gofmt'ed,
// so indentation does not matter. A mutant may use only the file's
// imports; the ones it no longer uses are dropped. Lines starting with "#"
// (and not "##") and blank lines between mutants are comments.

import (
	_ "embed"
	"errors"
	"fmt"
	"go/format"
	"regexp"
	"slices"
	"strings"
)

//go:embed exercise_mutants.txt
var mutantsText string

// A mutant is one wrong solution of an exercise.
type mutant struct {
	Func  string // the exercise's function
	What  string // what is wrong, for the proof's report
	Line  int    // its "##" line in exercise_mutants.txt
	hunks []hunk
}

type hunk struct{ old, new []string }

// parseMutants reads the mutants file (see above).
func parseMutants(text string) ([]mutant, error) {
	var out []mutant
	var errs []error
	var cur *mutant
	lastPlus := false
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		switch {
		case strings.HasPrefix(line, "## "):
			fn, what, ok := strings.Cut(strings.TrimPrefix(line, "## "), ": ")
			if !ok || strings.TrimSpace(fn) == "" || strings.TrimSpace(what) == "" {
				errs = append(errs, fmt.Errorf("exercise_mutants.txt:%d: want \"## FUNC: what is wrong\"", n))
				cur = nil
				continue
			}
			out = append(out, mutant{Func: strings.TrimSpace(fn), What: strings.TrimSpace(what), Line: n})
			cur, lastPlus = &out[len(out)-1], false
		case line == "-" || strings.HasPrefix(line, "- ") || line == "+" || strings.HasPrefix(line, "+ "):
			if cur == nil {
				errs = append(errs, fmt.Errorf("exercise_mutants.txt:%d: a \"-\" or \"+\" line outside a mutant", n))
				continue
			}
			text := strings.TrimSpace(line[1:])
			if line[0] == '-' {
				if lastPlus || len(cur.hunks) == 0 {
					cur.hunks = append(cur.hunks, hunk{})
				}
				h := &cur.hunks[len(cur.hunks)-1]
				h.old = append(h.old, text)
				lastPlus = false
				continue
			}
			if len(cur.hunks) == 0 {
				errs = append(errs, fmt.Errorf("exercise_mutants.txt:%d: a \"+\" line before any \"-\" line", n))
				continue
			}
			h := &cur.hunks[len(cur.hunks)-1]
			h.new = append(h.new, text)
			lastPlus = true
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
			if cur != nil && len(cur.hunks) > 0 {
				cur = nil // a blank line or comment ends the mutant
			}
		default:
			errs = append(errs, fmt.Errorf("exercise_mutants.txt:%d: not a \"##\", \"-\", \"+\" or comment line: %q", n, line))
		}
	}
	for _, m := range out {
		if len(m.hunks) == 0 {
			errs = append(errs, fmt.Errorf("exercise_mutants.txt:%d: mutant of %s changes nothing", m.Line, m.Func))
		}
		for _, h := range m.hunks {
			if strings.Join(h.old, "") == "" {
				errs = append(errs, fmt.Errorf("exercise_mutants.txt:%d: mutant of %s replaces an empty text", m.Line, m.Func))
			}
		}
	}
	return out, errors.Join(errs...)
}

// loadMutants is the mutants of the lab, by function.
func loadMutants() (map[string][]mutant, error) {
	ms, err := parseMutants(mutantsText)
	if err != nil {
		return nil, err
	}
	by := map[string][]mutant{}
	for _, m := range ms {
		by[m.Func] = append(by[m.Func], m)
	}
	return by, nil
}

// hunkPattern matches the old text of h: its lines in order, each with
// any blanks around it.
func hunkPattern(h hunk) *regexp.Regexp {
	parts := make([]string, len(h.old))
	for i, l := range h.old {
		parts[i] = regexp.QuoteMeta(l)
	}
	return regexp.MustCompile(strings.Join(parts, `[ \t]*\n[ \t]*`))
}

// mutateSource returns the file src (named name) with mutant m applied to
// the body of exercise e, its unused imports dropped, gofmt'ed.
func mutateSource(name string, src []byte, e exercise, m mutant) ([]byte, error) {
	body := slices.Clone(src[e.bodyStart:e.bodyEnd])
	for i, h := range m.hunks {
		re := hunkPattern(h)
		locs := re.FindAllIndex(body, -1)
		if len(locs) != 1 {
			return nil, fmt.Errorf("mutant %q (exercise_mutants.txt:%d), hunk %d: its \"-\" text occurs %d times in %s's body in %s, not once: update the mutant to the code",
				m.What, m.Line, i+1, len(locs), e.Func, name)
		}
		body = slices.Concat(body[:locs[0][0]], []byte(strings.Join(h.new, "\n")), body[locs[0][1]:])
	}
	out := slices.Concat(src[:e.bodyStart], body, src[e.bodyEnd:])
	out, err := fixImports(name, out, false)
	if err != nil {
		return nil, err
	}
	formatted, err := format.Source(out)
	if err != nil {
		return nil, fmt.Errorf("mutant %q (exercise_mutants.txt:%d): %s does not parse with it: %v", m.What, m.Line, name, err)
	}
	return formatted, nil
}
