package main

// Finding the workshop on disk: the workspace root (the directory holding
// go.work), the modules it lists, and which of them a student asked for.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"boxlab/lab/internal/gotool"
)

// A module is one entry of go.work: the lab itself or a stage.
type module struct {
	Name string // directory name: "lab", "stage01-chroot"
	Dir  string // absolute directory
	Path string // module path from its go.mod: "boxlab/stage01-chroot"
}

// workspaceRoot returns the directory holding go.work. BOXLAB_ROOT wins;
// otherwise it is the parent of the lab module's source directory as it was
// when this binary was built (gotool.WorkspaceDir, from runtime.Caller).
func workspaceRoot() (string, error) {
	root := os.Getenv("BOXLAB_ROOT")
	from := "BOXLAB_ROOT"
	if root == "" {
		root = gotool.WorkspaceDir()
		from = "the lab's source directory"
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(abs, "go.work")); err != nil {
		return "", fmt.Errorf("no go.work in %s (from %s): set BOXLAB_ROOT to the workshop's directory", abs, from)
	}
	return abs, nil
}

// workspaceModules reads root/go.work and returns its modules, the lab
// first and then the others by name (stage01, stage02, ...).
func workspaceModules(root string) ([]module, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		return nil, err
	}
	uses, err := parseGoWorkUses(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(root, "go.work"), err)
	}
	if len(uses) == 0 {
		return nil, fmt.Errorf("%s lists no modules", filepath.Join(root, "go.work"))
	}
	var mods []module
	for _, u := range uses {
		dir := u
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		dir = filepath.Clean(dir)
		path, err := modulePath(filepath.Join(dir, "go.mod"))
		if err != nil {
			return nil, err
		}
		mods = append(mods, module{Name: filepath.Base(dir), Dir: dir, Path: path})
	}
	sortModules(mods)
	return mods, nil
}

// sortModules puts the lab first and orders the rest by name; the stage
// numbers are zero-padded, so name order is stage order.
func sortModules(mods []module) {
	slices.SortStableFunc(mods, func(a, b module) int {
		if (a.Name == "lab") != (b.Name == "lab") {
			if a.Name == "lab" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// parseGoWorkUses returns the directories of the use directives of a
// go.work file, in both forms (`use ./a` and `use ( ./a ./b )`), quoted or
// not, ignoring // comments. Other directives are skipped.
func parseGoWorkUses(data []byte) ([]string, error) {
	var uses []string
	inBlock := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if inBlock {
			if line == ")" {
				inBlock = false
				continue
			}
			p, err := unquoteWorkPath(line)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			uses = append(uses, p)
			continue
		}
		fields := strings.Fields(line)
		if fields[0] != "use" {
			continue
		}
		rest := strings.TrimSpace(strings.TrimPrefix(line, "use"))
		switch {
		case rest == "(":
			inBlock = true
		case strings.HasPrefix(rest, "(") && strings.HasSuffix(rest, ")"):
			// use ( ./a ) on one line
			inner := strings.TrimSpace(rest[1 : len(rest)-1])
			if inner != "" {
				p, err := unquoteWorkPath(inner)
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", n, err)
				}
				uses = append(uses, p)
			}
		case rest == "":
			return nil, fmt.Errorf("line %d: use without a directory", n)
		default:
			p, err := unquoteWorkPath(rest)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			uses = append(uses, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if inBlock {
		return nil, errors.New("use block not closed")
	}
	return uses, nil
}

func unquoteWorkPath(s string) (string, error) {
	if strings.HasPrefix(s, `"`) || strings.HasPrefix(s, "`") {
		return strconv.Unquote(s)
	}
	if f := strings.Fields(s); len(f) != 1 {
		return "", fmt.Errorf("bad use path %q", s)
	}
	return s, nil
}

// modulePath reads the module directive of a go.mod file.
func modulePath(gomod string) (string, error) {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "module" {
			if p, err := strconv.Unquote(f[1]); err == nil {
				return p, nil
			}
			return f[1], nil
		}
	}
	return "", fmt.Errorf("%s: no module directive", gomod)
}

// selectModules picks the modules named by args, keeping workspace order.
// An argument matches a module whose name equals it or starts with it, or
// with "stage"+arg ("01" picks stage01-chroot, "1" too). A prefix that
// matches several modules selects them all ("stage0" is every stage up to
// stage09). No args selects everything. An argument that matches nothing is
// an error naming the valid choices.
func selectModules(all []module, args []string) ([]module, error) {
	if len(args) == 0 {
		return all, nil
	}
	picked := make([]bool, len(all))
	var unknown []string
	for _, a := range args {
		found := false
		for i, m := range all {
			if moduleMatches(m.Name, a) {
				picked[i] = true
				found = true
			}
		}
		if !found {
			unknown = append(unknown, a)
		}
	}
	if len(unknown) > 0 {
		var names []string
		for _, m := range all {
			names = append(names, m.Name)
		}
		return nil, fmt.Errorf("unknown stage %s: valid names are %s (or a prefix, e.g. \"01\")",
			quoteList(unknown), strings.Join(names, ", "))
	}
	var out []module
	for i, m := range all {
		if picked[i] {
			out = append(out, m)
		}
	}
	return out, nil
}

func moduleMatches(name, arg string) bool {
	arg = strings.TrimSuffix(filepath.Clean(arg), "/")
	arg = strings.TrimPrefix(arg, "./")
	if arg == "" || arg == "." {
		return false
	}
	if strings.HasPrefix(name, arg) || strings.HasPrefix(name, "stage"+arg) {
		return true
	}
	if n, err := strconv.Atoi(arg); err == nil && n >= 0 {
		return strings.HasPrefix(name, fmt.Sprintf("stage%02d", n))
	}
	return false
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}
