package main

// Writing the student's copy of a stage: the stubs that replace the
// marked bodies, and the copy itself.

import (
	"errors"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// stubBody is what replaces an exercise's body in the student's copy.
func stubBody(e exercise) string {
	if e.constZero != "" {
		return fmt.Sprintf("%s // TODO(exercise %d): the right value; see the question above", e.constZero, e.Num)
	}
	return fmt.Sprintf("{\n\t// TODO(exercise %d): your code here. The question above leads the way;\n"+
		"\t// lab grade tells you when it is right.\n\treturn %sfmt.Errorf(%q)\n}",
		e.Num, e.zeros, e.stubError())
}

// stubSource returns src with the bodies of exs (all in this file)
// replaced by their stubs, its imports fixed, gofmt'ed.
func stubSource(name string, src []byte, exs []exercise) ([]byte, error) {
	return rewriteSource(name, src, exs, nil)
}

// A carriedBody is the student's own body of an exercise, from their copy
// of the previous stage (lab exercise --from), with the import paths it
// uses there, quoted.
type carriedBody struct {
	exercise exercise // the reference's exercise, whose body it replaces
	Body     string
	Imports  []string
}

// rewriteSource returns src with the bodies of stubs replaced by their
// stubs and those of carried (by exercise number) by the student's, its
// imports fixed, gofmt'ed. All are exercises of this file.
func rewriteSource(name string, src []byte, stubs []exercise, carried map[int]carriedBody) ([]byte, error) {
	type edit struct {
		e    exercise
		text string
	}
	var edits []edit
	var imports []string
	for _, e := range stubs {
		edits = append(edits, edit{e, stubBody(e)})
	}
	for num, c := range carried {
		i := slices.IndexFunc(stubs, func(e exercise) bool { return e.Num == num })
		if i >= 0 {
			return nil, fmt.Errorf("%s: exercise %d both stubbed and carried", name, num)
		}
		edits = append(edits, edit{c.exercise, c.Body})
		imports = append(imports, c.Imports...)
	}
	slices.SortFunc(edits, func(a, b edit) int { return b.e.bodyStart - a.e.bodyStart })
	out := slices.Clone(src)
	for _, ed := range edits {
		out = slices.Concat(out[:ed.e.bodyStart], []byte(ed.text), out[ed.e.bodyEnd:])
	}
	needFmt := slices.ContainsFunc(stubs, func(e exercise) bool { return e.constZero == "" })
	out, err := addImports(name, out, imports)
	if err != nil {
		return nil, err
	}
	if out, err = fixImports(name, out, needFmt); err != nil {
		return nil, err
	}
	formatted, err := format.Source(out)
	if err != nil {
		return nil, fmt.Errorf("%s: gofmt the stub: %v", name, err)
	}
	return formatted, nil
}

// copyOptions says how writeStageCopy writes a stage.
type copyOptions struct {
	labDir string              // absolute: the replace target of boxlab/lab
	exs    []exercise          // the stage's exercises (parseExercises)
	stub   map[int]bool        // exercises to replace by their stubs; nil: all
	owner  *[2]int             // chown every file to uid, gid; nil: leave them
	mutant *mutant             // a wrong solution written into its exercise (the CI proof); nil: none
	carry  map[int]carriedBody // the student's own bodies of exercises not stubbed (--from)
}

// writeStageCopy copies the stage in src to dst (which must not exist or
// be empty) with the chosen exercises stubbed and go.mod's replace of the
// lab made absolute, so that the copy builds anywhere with GOWORK=off.
func writeStageCopy(src, dst string, o copyOptions) error {
	byFile := map[string][]exercise{}
	for _, e := range o.exs {
		if o.stub == nil || o.stub[e.Num] {
			byFile[e.File] = append(byFile[e.File], e)
		}
	}
	carried := map[string]map[int]carriedBody{}
	for num, c := range o.carry {
		if carried[c.exercise.File] == nil {
			carried[c.exercise.File] = map[int]carriedBody{}
		}
		carried[c.exercise.File][num] = c
	}
	var mutated *exercise
	if o.mutant != nil {
		for i, e := range o.exs {
			if e.Func == o.mutant.Func {
				mutated = &o.exs[i]
			}
		}
		if mutated == nil {
			return fmt.Errorf("mutant %q (exercise_mutants.txt:%d): %s is not an exercise of %s", o.mutant.What, o.mutant.Line, o.mutant.Func, src)
		}
		if len(byFile[mutated.File]) > 0 {
			return fmt.Errorf("exercise %d is mutated in %s, where exercises are stubbed too", mutated.Num, mutated.File)
		}
	}
	binary := filepath.Base(src)
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == binary || strings.HasSuffix(rel, ".test")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			switch {
			case rel == "go.mod":
				if data, err = absoluteLabReplace(data, o.labDir); err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
			case len(byFile[rel]) > 0 || len(carried[rel]) > 0:
				if data, err = rewriteSource(rel, data, byFile[rel], carried[rel]); err != nil {
					return err
				}
			}
			if mutated != nil && rel == mutated.File {
				if data, err = mutateSource(rel, data, *mutated, *o.mutant); err != nil {
					return err
				}
			}
			if err := os.WriteFile(target, data, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return nil // sockets, symlinks: not part of a stage
		}
		if o.owner != nil {
			return os.Lchown(target, o.owner[0], o.owner[1])
		}
		return nil
	})
}

var labReplace = regexp.MustCompile(`(?m)^(\s*(?:replace\s+)?boxlab/lab(?:\s+v\S+)?\s+=>\s+)(\S+)[ \t]*$`)

// absoluteLabReplace points go.mod's replace of boxlab/lab at labDir.
func absoluteLabReplace(gomod []byte, labDir string) ([]byte, error) {
	if !labReplace.Match(gomod) {
		return nil, errors.New("no `replace boxlab/lab => ../lab` line")
	}
	return labReplace.ReplaceAllFunc(gomod, func(m []byte) []byte {
		sub := labReplace.FindSubmatch(m)
		return append(slices.Clone(sub[1]), []byte(labDir)...)
	}), nil
}
