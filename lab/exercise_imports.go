package main

// Keeping a stubbed file's imports right, and naming the imports a
// solution uses, on the text so that comments stay where they are.

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

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

// addImports adds the import paths (quoted) that src does not import yet
// to its first import group, for the student's carried code.
func addImports(name string, src []byte, paths []string) ([]byte, error) {
	if len(paths) == 0 {
		return src, nil
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly|parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("%s: parse: %v", name, err)
	}
	have := map[string]bool{}
	for _, is := range f.Imports {
		have[is.Path.Value] = true
	}
	var add strings.Builder
	for _, p := range paths {
		if !have[p] {
			have[p] = true
			add.WriteString("\n\t" + p)
		}
	}
	if add.Len() == 0 {
		return src, nil
	}
	for _, d := range f.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.IMPORT && gd.Lparen.IsValid() {
			at := fset.Position(gd.Lparen).Offset + 1
			return slices.Concat(src[:at], []byte(add.String()), src[at:]), nil
		}
	}
	at := fset.Position(f.Name.End()).Offset
	return slices.Concat(src[:at], []byte("\n\nimport ("+add.String()+"\n)\n"), src[at:]), nil
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
