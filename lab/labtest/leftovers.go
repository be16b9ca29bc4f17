package labtest

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"boxlab/lab/internal/labpaths"
)

// A leftover kind lists, as strings, the things of one kind that boxlab
// may create on the host: mounts, cgroups, links, nftables tables, state
// directories.
type leftoverKind struct {
	name string
	list func() []string
}

// leftoverKinds are checked after every test. Stages that create more
// kinds of things extend the list through AddLeftoverCheck.
var leftoverKinds = []leftoverKind{
	{"mount", boxlabMounts},
	{"cgroup", boxlabCgroups},
	{"state", boxlabStateEntries},
}

// AddLeftoverCheck adds a kind of thing that must not outlive a test; the
// network stages add links and nftables tables this way.
func AddLeftoverCheck(name string, list func() []string) {
	leftoverKinds = append(leftoverKinds, leftoverKind{name, list})
}

// CheckLeftovers snapshots boxlab's objects now and, when the test ends
// (after its own cleanups), fails it for every object that appeared in
// between and is still there. Command and Run arm it for you.
func CheckLeftovers(t testing.TB) {
	t.Helper()
	once(t, "leftovers", func() {
		before := map[string][]string{}
		for _, k := range leftoverKinds {
			before[k.name] = k.list()
		}
		// Registered first, so it runs after the test's own cleanups.
		t.Cleanup(func() {
			for _, k := range leftoverKinds {
				for _, item := range k.list() {
					if !slices.Contains(before[k.name], item) {
						t.Errorf("left behind: %s %s (run 'sudo ./lab.sh reset' to remove it)", k.name, item)
					}
				}
			}
		})
	})
}

// watchedDirs are where boxlab mounts things: its own directories and the
// temporary directories tests put rootfs copies in.
func watchedDirs() []string {
	return []string{labpaths.StateDir, labpaths.RunDir, labpaths.CacheDir, os.TempDir()}
}

// boxlabMounts lists the mount points under boxlab's directories.
func boxlabMounts() []string {
	var out []string
	for _, m := range mountPoints() {
		for _, d := range watchedDirs() {
			if m == d || strings.HasPrefix(m, d+"/") {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// mountPoints reads the mount points of this mount namespace from
// /proc/self/mountinfo (field 5; see proc(5)).
func mountPoints() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) > 4 {
			out = append(out, unescapeMount(fields[4]))
		}
	}
	return out
}

// unescapeMount undoes the octal escapes mountinfo uses for spaces and tabs.
func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// cgroupMounts lists where cgroup hierarchies (v1 and v2) are mounted.
func cgroupMounts() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		_, after, ok := strings.Cut(line, " - ")
		fields := strings.Fields(line)
		if ok && len(fields) > 4 && strings.HasPrefix(after, "cgroup") {
			out = append(out, unescapeMount(fields[4]))
		}
	}
	return out
}

// boxlabCgroups lists every cgroup under a boxlab parent in any hierarchy.
func boxlabCgroups() []string {
	var out []string
	for _, m := range cgroupMounts() {
		root := filepath.Join(m, labpaths.CgroupParent)
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() && path != root {
				out = append(out, path)
			}
			return nil
		})
	}
	return out
}

// boxlabStateEntries lists the per-container entries of the run and state
// directories.
func boxlabStateEntries() []string {
	var out []string
	for _, dir := range []string{labpaths.RunDir, filepath.Join(labpaths.StateDir, "containers")} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}
