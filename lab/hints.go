package main

// The README sections an exercise's hint sends the student to must exist.
//
// A hint names a section of a walkthrough as a quoted title followed by
// the README that holds it, relative to the stage's directory:
//
//	See chroot(2) and "The idea" in README.md.
//	See the "v1, v2 and hybrid" table in ../stage03-cgroups/README.md.
//	See "Volumes" in ../stage04-overlayfs/README.md.
//
// Several titles may share one README ("A" and "B" in README.md), and
// "table" or "section" may stand between the titles and "in". A hint is
// carried byte-identically into the later stages, where a plain README.md
// means the later stage's own README: a section that only the stage the
// exercise starts in has must be named with that stage's README, which is
// the same path from every stage directory. Quoted words not followed by a
// README (a man page's or the kernel documentation's section names, such
// as cgroup-v2.rst's "Enabling and Disabling") are not checked here.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// hintSectionRef is one section a hint names, in the README it names.
type hintSectionRef struct {
	Title  string // the quoted title, as the hint writes it
	Readme string // the README, relative to the stage directory
}

var (
	// A run of quoted titles, joined by commas, "and" or "or", then
	// optionally "table" or "section", then "in" and a README path.
	hintRefRE = regexp.MustCompile(`((?:"[^"]+"(?:,? and |,? or |, ))*"[^"]+")(?: table| section)? in ((?:\.\./[A-Za-z0-9._-]+/)?README\.md)`)
	quotedRE  = regexp.MustCompile(`"([^"]+)"`)
	readmeRE  = regexp.MustCompile(`(?:\.\./[A-Za-z0-9._-]+/)?README\.md`)
)

// hintSectionRefs returns the sections a hint names. A mention of a
// README that no quoted title goes with is an error: the student would
// not know where to look.
func hintSectionRefs(hint string) ([]hintSectionRef, error) {
	var refs []hintSectionRef
	matches := hintRefRE.FindAllStringSubmatchIndex(hint, -1)
	covered := map[int]bool{} // start offsets of the README paths matched
	for _, m := range matches {
		titles, readme := hint[m[2]:m[3]], hint[m[4]:m[5]]
		covered[m[4]] = true
		for _, q := range quotedRE.FindAllStringSubmatch(titles, -1) {
			refs = append(refs, hintSectionRef{Title: q[1], Readme: readme})
		}
	}
	for _, m := range readmeRE.FindAllStringIndex(hint, -1) {
		if !covered[m[0]] {
			return refs, fmt.Errorf("%s is named without a quoted section title before it (write `\"Title\" in %s`)", hint[m[0]:m[1]], hint[m[0]:m[1]])
		}
	}
	return refs, nil
}

// markdownHeadings returns the titles of a README's ## and ### headings,
// outside fenced blocks.
func markdownHeadings(md []byte) map[string]bool {
	heads := map[string]bool{}
	fenced := false
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		for _, p := range []string{"## ", "### "} {
			if strings.HasPrefix(l, p) {
				heads[strings.TrimSpace(l[len(p):])] = true
			}
		}
	}
	return heads
}

// checkHintSections checks that every section the hints of the stage in
// dir name is a ## or ### heading of the README they name, read relative
// to dir.
func checkHintSections(dir string, exs []exercise) error {
	readmes := map[string]map[string]bool{}
	var problems []string
	for _, e := range exs {
		refs, err := hintSectionRefs(e.Hint)
		if err != nil {
			problems = append(problems, fmt.Sprintf("exercise %d (%s): %v", e.Num, e.Func, err))
		}
		for _, r := range refs {
			heads, ok := readmes[r.Readme]
			if !ok {
				md, err := os.ReadFile(filepath.Join(dir, r.Readme))
				if err != nil {
					problems = append(problems, fmt.Sprintf("exercise %d (%s): %v", e.Num, e.Func, err))
					readmes[r.Readme] = nil
					continue
				}
				heads = markdownHeadings(md)
				readmes[r.Readme] = heads
			}
			if heads == nil {
				continue
			}
			if !heads[r.Title] {
				problems = append(problems, fmt.Sprintf("exercise %d (%s): %q is not a ## or ### heading of %s%s",
					e.Num, e.Func, r.Title, r.Readme, hintSectionElsewhere(dir, r)))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// hintSectionElsewhere says which other stage's README has the section,
// when one does, to say how to fix the hint.
func hintSectionElsewhere(dir string, r hintSectionRef) string {
	others, _ := filepath.Glob(filepath.Join(dir, "..", "stage*", "README.md"))
	for _, o := range others {
		md, err := os.ReadFile(o)
		if err != nil || !markdownHeadings(md)[r.Title] {
			continue
		}
		rel := "../" + filepath.Base(filepath.Dir(o)) + "/README.md"
		return fmt.Sprintf(": %s has it, name that README (`%q in %s`)", rel, r.Title, rel)
	}
	return ""
}
