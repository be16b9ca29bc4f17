package main

// Reading the exercise markers of a stage (the rules are in exercise.go).

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

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
