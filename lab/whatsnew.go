package main

// "What's new", checked: every stage README opens with a table of the files
// the stage added, changed, removed or kept from the stage before, and a
// student reads the lesson off it before reading `diff -ru`. The table must
// say what the diff says, file by file, or it teaches the wrong diff.
//
// # Format
//
// The "## What's new" section holds one markdown table. Its first column
// names files in backticks, several to a row when they share a status
// (`exec.go`, `exitcode.go`); README.md itself is not listed. The first
// stage's table has no status column: every file is new. Later stages have
// a status column whose cell is one of
//
//	added | changed | unchanged | removed | changed (was `OLD`)
//
// (bold allowed), "changed (was `OLD`)" being a file renamed from OLD. One
// row may say "every other file" in its first column, status unchanged:
// then every file the table does not name must be unchanged. The
// files compared are the regular files at the top of each stage directory,
// without README.md, the stage binary `go build` leaves there and test
// binaries (*.test).

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// A newRow is one row of a "What's new" table.
type newRow struct {
	Files  []string // nil for the "every other file" row
	Status string   // added, changed, unchanged, removed
	Was    string   // for "changed (was `OLD`)": OLD
	Line   int      // in the README
}

var (
	backticked   = regexp.MustCompile("`([^`]+)`")
	statusPhrase = regexp.MustCompile("^(added|changed|unchanged|removed)(?: \\(was `([^`]+)`\\))?$")
)

// whatsNewRows reads the table of md's "What's new" section. withStatus
// says whether the table has a status column.
func whatsNewRows(md []byte) (rows []newRow, withStatus bool, err error) {
	sec, ok := findSection(readmeSections(md), "What's new")
	if !ok {
		return nil, false, errors.New(`no "## What's new" section`)
	}
	header := true
	for i, l := range sec.Body {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		line := sec.Line + 1 + i
		if header {
			header = false
			if len(cells) < 2 || !strings.EqualFold(cells[0], "file") {
				return nil, false, fmt.Errorf("README.md:%d: the table's first column must be \"file\"", line)
			}
			withStatus = strings.EqualFold(cells[1], "status")
			continue
		}
		if strings.Trim(l, "|-: ") == "" {
			continue // the separator row
		}
		r := newRow{Line: line, Status: "added"}
		for _, m := range backticked.FindAllStringSubmatch(cells[0], -1) {
			r.Files = append(r.Files, m[1])
		}
		rest := strings.EqualFold(cells[0], "every other file")
		if len(r.Files) == 0 && !rest {
			return nil, false, fmt.Errorf("README.md:%d: no `file` in the first column", line)
		}
		if withStatus {
			if len(cells) < 2 {
				return nil, false, fmt.Errorf("README.md:%d: no status", line)
			}
			st := strings.ToLower(strings.ReplaceAll(cells[1], "*", ""))
			m := statusPhrase.FindStringSubmatch(st)
			if m == nil {
				return nil, false, fmt.Errorf("README.md:%d: status %q: use added, changed, unchanged, removed or changed (was `OLD`)", line, cells[1])
			}
			r.Status, r.Was = m[1], m[2]
		}
		if rest && r.Status != "unchanged" {
			return nil, false, fmt.Errorf("README.md:%d: \"every other file\" can only be unchanged: name the files that are %s", line, r.Status)
		}
		rows = append(rows, r)
	}
	if header {
		return nil, false, errors.New(`"What's new" has no table`)
	}
	return rows, withStatus, nil
}

// stageFiles returns the names of the files a "What's new" table speaks of
// in dir: regular files at its top, README.md, the stage binary and test
// binaries left out.
func stageFiles(dir string) (map[string][]byte, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || n == "README.md" || n == filepath.Base(dir) || strings.HasSuffix(n, ".test") || strings.HasPrefix(n, ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		files[n] = b
	}
	return files, nil
}

// diffStatus is what `diff -rq prev cur` says of each file: added,
// changed, unchanged (files of cur) or removed (files only in prev). prev
// nil means cur is the first stage: everything is added.
func diffStatus(prev, cur map[string][]byte) map[string]string {
	st := map[string]string{}
	for n, b := range cur {
		switch old, ok := prev[n]; {
		case !ok:
			st[n] = "added"
		case bytes.Equal(old, b):
			st[n] = "unchanged"
		default:
			st[n] = "changed"
		}
	}
	for n := range prev {
		if _, ok := cur[n]; !ok {
			st[n] = "removed"
		}
	}
	return st
}

// checkWhatsNew compares the "What's new" table of dir's README with the
// files of dir and prevDir ("" for the first stage).
func checkWhatsNew(dir, prevDir string) error {
	md, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		return err
	}
	rows, withStatus, err := whatsNewRows(md)
	if err != nil {
		return err
	}
	cur, err := stageFiles(dir)
	if err != nil {
		return err
	}
	var prev map[string][]byte
	if prevDir != "" {
		if prev, err = stageFiles(prevDir); err != nil {
			return err
		}
		if !withStatus {
			return errors.New(`the "What's new" table needs a status column (added, changed, unchanged, removed): this stage has a previous one`)
		}
	}
	actual := diffStatus(prev, cur)
	var problems []string
	say := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	listed := map[string]int{}
	restLine := 0 // the "every other file" row
	for _, r := range rows {
		if r.Files == nil {
			restLine = r.Line
		}
		for _, f := range r.Files {
			if at, dup := listed[f]; dup {
				say("README.md:%d: `%s` is listed twice (also line %d)", r.Line, f, at)
				continue
			}
			listed[f] = r.Line
			want := actual[f]
			if r.Was != "" {
				// A rename: the new name is new to the diff, the old one gone.
				if _, ok := prev[r.Was]; !ok || actual[r.Was] != "removed" {
					say("README.md:%d: `%s` was `%s`, but `%s` is not a file only the previous stage has", r.Line, f, r.Was, r.Was)
				}
				if want == "added" {
					want = "changed"
				}
				listed[r.Was] = r.Line
			}
			switch {
			case want == "":
				say("README.md:%d: `%s` is in neither stage", r.Line, f)
			case want != r.Status:
				say("README.md:%d: `%s` is %s, the table says %s", r.Line, f, want, r.Status)
			}
		}
	}
	names := make([]string, 0, len(actual))
	for n := range actual {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, ok := listed[n]; !ok && (restLine == 0 || actual[n] != "unchanged") {
			say("`%s` (%s) is not in the table", n, actual[n])
		}
	}
	if len(problems) > 0 {
		return errors.New(`"What's new" does not match the diff against the previous stage:` + "\n" + strings.Join(problems, "\n"))
	}
	return nil
}

// previousStage returns the directory of the stage before m among mods
// (stageNN with NN one less), or "" for the first.
func previousStage(m module, mods []module) string {
	var n int
	if _, err := fmt.Sscanf(m.Name, "stage%02d-", &n); err != nil || n <= 1 {
		return ""
	}
	prefix := fmt.Sprintf("stage%02d-", n-1)
	if i := slices.IndexFunc(mods, func(o module) bool { return strings.HasPrefix(o.Name, prefix) }); i >= 0 {
		return mods[i].Dir
	}
	return ""
}
