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
//     a section of the walkthrough.
//   - "Graded by:" names the graded tests (top-level Test or Fuzz functions
//     of the stage's _test.go files) that fail when the function is missing.
//     `lab grade` shows the hint when one of them fails; `lab test --strict`
//     proves that at least one of them does fail when the function is
//     replaced by its stub (exercise_proofs.go).
//   - The function's last result is an error: its stub returns the zero
//     value of every other result and fmt.Errorf("TODO(exercise N): ...").
//     A marker on a function without an error result, or a marker outside a
//     function's (or a marked const's) doc comment, is an error.
//   - The one other thing that may be marked is a const declaration of one
//     constant, for a lesson that is a value (stage02's clone flags): its
//     stub is 0 (or "" for a string) with a TODO comment, and the code
//     that uses it fails on its own (init is not PID 1 of a new PID
//     namespace). A comment after the value on its line goes with it.
//
// The student's copy (lab exercise) is the stage with every marked body
// replaced by its stub, generated with go/parser and go/format; the doc
// comment and its hint stay. Imports the stub no longer uses are dropped,
// and fmt is added.

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
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

// An exercise is one marked function of a stage.
type exercise struct {
	Num   int      // N of "Exercise N:"
	Func  string   // "enterRoot", or "T.method" for a method
	File  string   // base name of the file: "chroot.go"
	Line  int      // line of the func keyword
	Hint  string   // the question, on one line
	Tests []string // "Graded by:" test names

	declStart, declEnd int    // byte offsets of the doc comment + declaration
	bodyStart, bodyEnd int    // byte offsets of what the stub replaces
	zeros              string // func: "" or "0, nil, ", the zero values before the error
	constZero          string // const: the stub's value, "0" or `""`; "" for a func
}

// Title is how lists and hints name the exercise: "1. enterRoot in chroot.go".
func (e exercise) Title() string {
	return fmt.Sprintf("%d. %s in %s", e.Num, e.Func, e.File)
}

// stubError is the message the stub returns; graders and tests look for
// the "TODO(exercise N)" part.
func (e exercise) stubError() string {
	return fmt.Sprintf("TODO(exercise %d): write %s in %s", e.Num, e.Func, e.File)
}

var (
	markerLine = regexp.MustCompile(`^Exercise (\d+):\s*(.*)$`)
	gradedLine = regexp.MustCompile(`^Graded by:\s*(.*)$`)
	testName   = regexp.MustCompile(`\b(?:Test|Fuzz)[A-Za-z0-9_]*`)
)

// parseExercises reads the markers of the stage in dir. It checks every
// rule of the marker format, including that the tests named exist.
func parseExercises(dir string) ([]exercise, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	tests, err := graderTests(dir)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, t := range tests {
		known[t] = true
	}
	var out []exercise
	var errs []error
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		exs, err := parseFileExercises(filepath.Base(path), src)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range exs {
			for _, t := range e.Tests {
				if !known[t] {
					errs = append(errs, fmt.Errorf("%s:%d: exercise %d: Graded by names %s, which is not a test of the stage", e.File, e.Line, e.Num, t))
				}
			}
		}
		out = append(out, exs...)
	}
	slices.SortFunc(out, func(a, b exercise) int { return a.Num - b.Num })
	for i, e := range out {
		if e.Num != i+1 {
			errs = append(errs, fmt.Errorf("%s:%d: exercise %d: exercises must be numbered 1, 2, 3... once each (expected %d)", e.File, e.Line, e.Num, i+1))
			break
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// parseFileExercises finds the markers of one source file.
func parseFileExercises(name string, src []byte) ([]exercise, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var out []exercise
	var errs []error
	docs := map[*ast.CommentGroup]bool{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Doc == nil {
			continue
		}
		docs[fd.Doc] = true
		e, found, err := markerOf(fd.Doc)
		if !found {
			continue
		}
		pos := fset.Position(fd.Pos())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %v", name, pos.Line, err))
			continue
		}
		e.File, e.Line, e.Func = name, pos.Line, funcName(fd)
		if fd.Body == nil {
			errs = append(errs, fmt.Errorf("%s:%d: exercise %d: %s has no body", name, pos.Line, e.Num, e.Func))
			continue
		}
		zeros, err := zeroResults(fd.Type.Results, src, fset)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: exercise %d on %s: %v", name, pos.Line, e.Num, e.Func, err))
			continue
		}
		e.zeros = zeros
		e.declStart = fset.Position(fd.Doc.Pos()).Offset
		e.declEnd = fset.Position(fd.End()).Offset
		e.bodyStart = fset.Position(fd.Body.Lbrace).Offset
		e.bodyEnd = fset.Position(fd.Body.Rbrace).Offset + 1
		out = append(out, e)
	}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST || gd.Doc == nil {
			continue
		}
		docs[gd.Doc] = true
		e, found, err := markerOf(gd.Doc)
		if !found {
			continue
		}
		pos := fset.Position(gd.Pos())
		if err == nil {
			e, err = constExercise(e, gd, src, fset)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %v", name, pos.Line, err))
			continue
		}
		e.File, e.Line = name, pos.Line
		out = append(out, e)
	}
	// A marker anywhere else would silently not be an exercise.
	for _, cg := range f.Comments {
		if docs[cg] {
			continue
		}
		if _, found, _ := markerOf(cg); found {
			errs = append(errs, fmt.Errorf("%s:%d: an Exercise marker must be in the doc comment of a function or of a const", name, fset.Position(cg.Pos()).Line))
		}
	}
	return out, errors.Join(errs...)
}

// constExercise completes the exercise of a marked const declaration: one
// name, one value, which the stub replaces by 0 (or "" for a string). A
// comment after the value on its last line goes with it.
func constExercise(e exercise, gd *ast.GenDecl, src []byte, fset *token.FileSet) (exercise, error) {
	if len(gd.Specs) != 1 {
		return e, fmt.Errorf("exercise %d: a marked const declares one constant", e.Num)
	}
	vs := gd.Specs[0].(*ast.ValueSpec)
	if len(vs.Names) != 1 || len(vs.Values) != 1 {
		return e, fmt.Errorf("exercise %d: a marked const declares one constant with a value", e.Num)
	}
	e.Func = vs.Names[0].Name
	e.constZero = "0"
	if lit, ok := vs.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
		e.constZero = `""`
	}
	e.declStart = fset.Position(gd.Doc.Pos()).Offset
	e.declEnd = fset.Position(gd.End()).Offset
	e.bodyStart = fset.Position(vs.Values[0].Pos()).Offset
	e.bodyEnd = fset.Position(vs.Values[0].End()).Offset
	rest := e.bodyEnd
	for rest < len(src) && src[rest] != '\n' {
		rest++
	}
	if t := strings.TrimSpace(string(src[e.bodyEnd:rest])); strings.HasPrefix(t, "//") {
		e.bodyEnd = rest
	}
	if e.declEnd < e.bodyEnd {
		e.declEnd = e.bodyEnd
	}
	return e, nil
}

// markerOf reads the "Exercise N:" paragraph of a comment. found says
// whether there is one; err what is wrong with it.
func markerOf(cg *ast.CommentGroup) (e exercise, found bool, err error) {
	lines := strings.Split(cg.Text(), "\n")
	for i, l := range lines {
		m := markerLine.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			continue
		}
		found = true
		e.Num, _ = strconv.Atoi(m[1])
		hint := []string{m[2]}
		graded := false
		for _, l := range lines[i+1:] {
			l = strings.TrimSpace(l)
			if l == "" {
				break
			}
			if g := gradedLine.FindStringSubmatch(l); g != nil {
				graded = true
				l = g[1]
			}
			if graded {
				e.Tests = append(e.Tests, testName.FindAllString(l, -1)...)
			} else {
				hint = append(hint, l)
			}
		}
		e.Hint = strings.TrimSpace(strings.Join(hint, " "))
		switch {
		case e.Num < 1:
			return e, true, fmt.Errorf("exercise %s: numbers start at 1", m[1])
		case e.Hint == "":
			return e, true, fmt.Errorf("exercise %d: no hint after \"Exercise %d:\"", e.Num, e.Num)
		case len(e.Tests) == 0:
			return e, true, fmt.Errorf("exercise %d: no \"Graded by: TestX\" line naming the tests that catch it", e.Num)
		}
		return e, true, nil
	}
	return e, false, nil
}

func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok {
		t = ix.X
	}
	if ix, ok := t.(*ast.IndexListExpr); ok {
		t = ix.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}

// zeroResults checks that the last result is error and returns the zero
// values of the others, each followed by ", ".
func zeroResults(results *ast.FieldList, src []byte, fset *token.FileSet) (string, error) {
	var types []ast.Expr
	if results != nil {
		for _, f := range results.List {
			n := max(len(f.Names), 1)
			for range n {
				types = append(types, f.Type)
			}
		}
	}
	if len(types) == 0 {
		return "", errors.New("an exercise function must return an error as its last result (its stub returns the TODO error)")
	}
	if id, ok := types[len(types)-1].(*ast.Ident); !ok || id.Name != "error" {
		return "", errors.New("an exercise function's last result must be error (its stub returns the TODO error)")
	}
	var b strings.Builder
	for _, t := range types[:len(types)-1] {
		b.WriteString(zeroValue(t, src, fset))
		b.WriteString(", ")
	}
	return b.String(), nil
}

// zeroValue is a Go expression for the zero value of type t, written as a
// person would where the type says enough, else *new(T).
func zeroValue(t ast.Expr, src []byte, fset *token.FileSet) string {
	switch t := t.(type) {
	case *ast.Ident:
		switch t.Name {
		case "bool":
			return "false"
		case "string":
			return `""`
		case "error", "any":
			return "nil"
		case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64",
			"uintptr", "byte", "rune", "float32", "float64", "complex64", "complex128":
			return "0"
		}
	case *ast.StarExpr, *ast.MapType, *ast.ChanType, *ast.FuncType, *ast.InterfaceType:
		return "nil"
	case *ast.ArrayType:
		if t.Len == nil {
			return "nil"
		}
	}
	text := string(src[fset.Position(t.Pos()).Offset:fset.Position(t.End()).Offset])
	return "*new(" + text + ")"
}

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
	exs = slices.Clone(exs)
	slices.SortFunc(exs, func(a, b exercise) int { return b.bodyStart - a.bodyStart })
	out := slices.Clone(src)
	for _, e := range exs {
		out = slices.Concat(out[:e.bodyStart], []byte(stubBody(e)), out[e.bodyEnd:])
	}
	needFmt := slices.ContainsFunc(exs, func(e exercise) bool { return e.constZero == "" })
	out, err := fixImports(name, out, needFmt)
	if err != nil {
		return nil, err
	}
	formatted, err := format.Source(out)
	if err != nil {
		return nil, fmt.Errorf("%s: gofmt the stub: %v", name, err)
	}
	return formatted, nil
}

// fixImports drops the imports no selector uses any more and, when
// needFmt, makes sure fmt is imported. It works on the text (one import per line, as gofmt
// writes them) so that comments stay where they are.
func fixImports(name string, src []byte, needFmt bool) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("%s: parse the stub: %v", name, err)
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := s.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	type edit struct {
		start, end int
		text       string
	}
	var cuts []edit
	hasFmt := false
	fmtAfter := -1 // offset just after the "(" of the first import group
	lineOf := func(p token.Pos, q token.Pos) edit {
		s, e := fset.Position(p).Offset, fset.Position(q).Offset
		for s > 0 && src[s-1] != '\n' {
			s--
		}
		for e < len(src) && src[e] != '\n' {
			e++
		}
		if e < len(src) {
			e++
		}
		return edit{s, e, ""}
	}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT {
			continue
		}
		if gd.Lparen.IsValid() && fmtAfter < 0 {
			fmtAfter = fset.Position(gd.Lparen).Offset + 1
		}
		for _, s := range gd.Specs {
			is := s.(*ast.ImportSpec)
			path, _ := strconv.Unquote(is.Path.Value)
			local := importName(path)
			if is.Name != nil {
				local = is.Name.Name
			}
			if needFmt && path == "fmt" && local == "fmt" {
				hasFmt = true
				continue
			}
			if local == "_" || local == "." || used[local] {
				continue
			}
			if gd.Lparen.IsValid() {
				cuts = append(cuts, lineOf(is.Pos(), is.End()))
			} else {
				cuts = append(cuts, lineOf(gd.Pos(), gd.End()))
			}
		}
	}
	if needFmt && !hasFmt {
		if fmtAfter >= 0 {
			cuts = append(cuts, edit{fmtAfter, fmtAfter, "\n\t\"fmt\""})
		} else {
			at := fset.Position(f.Name.End()).Offset
			cuts = append(cuts, edit{at, at, "\n\nimport \"fmt\"\n"})
		}
	}
	// Apply from the end so that earlier offsets stay valid.
	slices.SortFunc(cuts, func(a, b edit) int { return b.start - a.start })
	out := slices.Clone(src)
	for _, c := range cuts {
		out = slices.Concat(out[:c.start], []byte(c.text), out[c.end:])
	}
	return out, nil
}

// importName guesses the package name of an import path the way goimports
// does without loading it: the last element, without a .vN suffix or a
// go- prefix ("gopkg.in/yaml.v3" is yaml, "github.com/x/go-shellwords" is
// shellwords). The CI proof compiles the result, so a wrong guess shows.
func importName(path string) string {
	elems := strings.Split(path, "/")
	last := elems[len(elems)-1]
	if len(elems) > 1 && regexp.MustCompile(`^v[0-9]+$`).MatchString(last) {
		last = elems[len(elems)-2]
	}
	if i := strings.Index(last, ".v"); i > 0 {
		last = last[:i]
	}
	last = strings.TrimPrefix(last, "go-")
	return strings.ReplaceAll(last, "-", "_")
}

// graderTests lists the top-level Test and Fuzz functions of the stage's
// _test.go files, in file and line order: the checks of a grade.
func graderTests(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, path := range files {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || fd.Type.Params == nil || len(fd.Type.Params.List) != 1 {
				continue
			}
			n := fd.Name.Name
			if (strings.HasPrefix(n, "Test") && n != "TestMain") || strings.HasPrefix(n, "Fuzz") {
				names = append(names, n)
			}
		}
	}
	return names, nil
}

// copyOptions says how writeStageCopy writes a stage.
type copyOptions struct {
	labDir string       // absolute: the replace target of boxlab/lab
	exs    []exercise   // the stage's exercises (parseExercises)
	stub   map[int]bool // exercises to replace by their stubs; nil: all
	owner  *[2]int      // chown every file to uid, gid; nil: leave them
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
			case len(byFile[rel]) > 0:
				if data, err = stubSource(rel, data, byFile[rel]); err != nil {
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
	if done, err := parseFlags(fs, args, `usage: lab exercise STAGE [DIR] [--force] [--list]

Writes a copy of STAGE in which every exercise is a stub for you to write
(default DIR: ~/boxlab-exercises/STAGE). Grade it with 'lab grade STAGE'.`); done {
		return err
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
	if err := writeStageCopy(stage.Dir, dir, copyOptions{labDir: labDir, exs: exs, owner: owner}); err != nil {
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
	for _, e := range exs {
		fmt.Printf("  %s\n      %s\n", e.Title(), e.Hint)
	}
	gradeArgs := stage.Name
	if def, _, _ := defaultExerciseDir(stage.Name); def != dir {
		gradeArgs += " --dir " + dir
	}
	fmt.Printf("\nWrite them there (go build works in that directory), then grade your work:\n\n  sudo ./lab.sh grade %s\n\nStuck? 'lab solution %s N' shows the reference for exercise N.\n", gradeArgs, stage.Name)
	return nil
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

// importsUsed lists the import paths of the file that the code between
// start and end uses, quoted, so that a pasted solution compiles.
func importsUsed(name string, src []byte, start, end int) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		s, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := s.X.(*ast.Ident); ok {
			if off := fset.Position(id.Pos()).Offset; off >= start && off < end {
				used[id.Name] = true
			}
		}
		return true
	})
	var out []string
	for _, is := range f.Imports {
		path, _ := strconv.Unquote(is.Path.Value)
		local := importName(path)
		if is.Name != nil {
			local = is.Name.Name
		}
		if used[local] {
			out = append(out, strconv.Quote(path))
		}
	}
	return out
}
