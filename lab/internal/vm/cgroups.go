package vm

// The guest's cgroup layout: v2 (unified, the default: Ubuntu 24.04, the
// students' VM), v1 (one hierarchy per controller under a tmpfs, as
// systemd mounted them before v2) or hybrid (v1, plus an empty cgroup2
// at /sys/fs/cgroup/unified: Debian 10/11, and Debian 12 hosts booted
// with systemd.unified_cgroup_hierarchy=0).
//
// Which v1 hierarchies exist depends on the guest's kernel, so the guest
// computes them from its /proc/cgroups with v1Awk. V1Hierarchies is the
// same rule in Go: the host uses it to check what the guest reports, and
// the tests check that both agree.

import (
	"bufio"
	"fmt"
	"slices"
	"strings"
)

// CgroupMode is the cgroup layout the guest's init mounts.
type CgroupMode string

const (
	CgroupV2     CgroupMode = "v2"
	CgroupV1     CgroupMode = "v1"
	CgroupHybrid CgroupMode = "hybrid"
)

// CgroupModes are the valid modes, for the flag's help.
var CgroupModes = []CgroupMode{CgroupV2, CgroupV1, CgroupHybrid}

// ParseCgroupMode reads --cgroup's value.
func ParseCgroupMode(s string) (CgroupMode, error) {
	m := CgroupMode(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(CgroupModes, m) {
		return m, nil
	}
	return "", fmt.Errorf("unknown cgroup layout %q: want v2, v1 or hybrid", s)
}

// Name is the layout as the scoreboard says it: "cgroup v2",
// "cgroup v1", "cgroup v1 hybrid".
func (m CgroupMode) Name() string {
	switch m {
	case CgroupV1:
		return "cgroup v1"
	case CgroupHybrid:
		return "cgroup v1 hybrid"
	}
	return "cgroup v2"
}

// V1 reports whether the controllers are in v1 hierarchies.
func (m CgroupMode) V1() bool { return m == CgroupV1 || m == CgroupHybrid }

// CgroupRoot is where every layout mounts its cgroups.
const CgroupRoot = "/sys/fs/cgroup"

// UnifiedDir is the hybrid layout's cgroup2 mountpoint.
const UnifiedDir = CgroupRoot + "/unified"

// Mount options, as systemd's mount-setup.c uses them.
const (
	v2Options      = "nosuid,nodev,noexec,nsdelegate,memory_recursiveprot"
	tmpfsOptions   = "nosuid,nodev,noexec,mode=0755"
	v1Options      = "nosuid,nodev,noexec"
	unifiedOptions = "nosuid,nodev,noexec,nsdelegate"
)

// v1Joined are the controllers systemd co-mounts in one hierarchy when the
// kernel offers more than one of them (its JoinControllers default): the
// hierarchy is named after its controllers, "cpu,cpuacct", with a symlink
// for each ("cpu" -> "cpu,cpuacct").
var v1Joined = [][]string{{"cpu", "cpuacct"}, {"net_cls", "net_prio"}}

// EnabledControllers lists the controllers /proc/cgroups (cgroups(7))
// shows as enabled, in its order. Columns: subsys_name hierarchy
// num_cgroups enabled.
func EnabledControllers(procCgroups string) []string {
	var out []string
	s := bufio.NewScanner(strings.NewReader(procCgroups))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 4 || strings.HasPrefix(f[0], "#") || f[3] != "1" {
			continue
		}
		if !slices.Contains(out, f[0]) {
			out = append(out, f[0])
		}
	}
	return out
}

// V1Hierarchies is what the guest mounts in v1 and hybrid mode: one
// hierarchy per enabled controller, in /proc/cgroups order, except that
// the members of a v1Joined group the kernel offers share one
// ("cpu,cpuacct"). Each entry is a hierarchy's name, which is also its
// mount options' controller list and its directory under /sys/fs/cgroup.
func V1Hierarchies(procCgroups string) []string {
	enabled := EnabledControllers(procCgroups)
	var out []string
	done := map[string]bool{}
	for _, c := range enabled {
		if done[c] {
			continue
		}
		h := []string{c}
		for _, group := range v1Joined {
			if slices.Contains(group, c) {
				h = nil
				for _, m := range group {
					if slices.Contains(enabled, m) {
						h = append(h, m)
					}
				}
			}
		}
		for _, m := range h {
			done[m] = true
		}
		out = append(out, strings.Join(h, ","))
	}
	return out
}

// v1Awk is V1Hierarchies for the guest's busybox awk: it reads
// /proc/cgroups and prints one hierarchy name a line.
func v1Awk() string {
	var join []string
	for _, g := range v1Joined {
		for _, c := range g {
			join = append(join, fmt.Sprintf("join[%q] = %q", c, strings.Join(g, ",")))
		}
	}
	return `!/^#/ && NF >= 4 && $4 == 1 && !($1 in on) { on[$1] = 1; order[n++] = $1 }
END {
	` + strings.Join(join, "; ") + `
	for (i = 0; i < n; i++) {
		c = order[i]
		if (c in done) continue
		h = c
		if (c in join) {
			k = split(join[c], m, ",")
			h = ""
			for (j = 1; j <= k; j++) if (m[j] in on) { h = h (h == "" ? "" : ",") m[j]; done[m[j]] = 1 }
		}
		done[c] = 1
		print h
	}
}`
}

// A CgroupMount is one mount of the guest's cgroup layout.
type CgroupMount struct {
	Type     string   // tmpfs, cgroup, cgroup2
	Target   string   // the mountpoint
	Options  string   // as given to mount -o
	Links    []string // symlinks beside Target to it: cpu -> cpu,cpuacct
	ReadOnly bool     // remounted read-only once the rest is mounted
}

// Controllers are the v1 controllers a cgroup mount holds.
func (m CgroupMount) Controllers() []string {
	if m.Type != "cgroup" {
		return nil
	}
	return strings.Split(m.Target[len(CgroupRoot)+1:], ",")
}

// CgroupMounts is the guest's mount plan for the mode, given the guest
// kernel's /proc/cgroups, in mount order. A controller can be in only one
// hierarchy, and one that is enabled in a cgroup2 subtree_control cannot
// be mounted in v1: in v1 and hybrid modes the v1 hierarchies are mounted
// first and nothing writes cgroup.subtree_control, so the cgroup2 tree of
// the hybrid layout holds no controller.
func CgroupMounts(mode CgroupMode, procCgroups string) []CgroupMount {
	if !mode.V1() {
		return []CgroupMount{{Type: "cgroup2", Target: CgroupRoot, Options: v2Options}}
	}
	plan := []CgroupMount{{Type: "tmpfs", Target: CgroupRoot, Options: tmpfsOptions, ReadOnly: true}}
	for _, h := range V1Hierarchies(procCgroups) {
		m := CgroupMount{Type: "cgroup", Target: CgroupRoot + "/" + h, Options: v1Options + "," + h}
		if strings.Contains(h, ",") {
			m.Links = strings.Split(h, ",")
		}
		plan = append(plan, m)
	}
	if mode == CgroupHybrid {
		plan = append(plan, CgroupMount{Type: "cgroup2", Target: UnifiedDir, Options: unifiedOptions})
	}
	return plan
}

// CheckCgroupMounts compares the plan with the guest's /proc/mounts (only
// the lines under /sys/fs/cgroup matter): every planned mount is there
// with its type, controllers and read-only flag, and no other cgroup
// hierarchy is.
func CheckCgroupMounts(plan []CgroupMount, procMounts string) error {
	type mnt struct{ typ, opts string }
	got := map[string]mnt{}
	var order []string
	s := bufio.NewScanner(strings.NewReader(procMounts))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 4 || (f[1] != CgroupRoot && !strings.HasPrefix(f[1], CgroupRoot+"/")) {
			continue
		}
		if _, dup := got[f[1]]; !dup {
			order = append(order, f[1])
		}
		got[f[1]] = mnt{f[2], f[3]} // the last mount on a point is the one seen
	}
	var problems []string
	planned := map[string]bool{}
	for _, p := range plan {
		planned[p.Target] = true
		g, ok := got[p.Target]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s (%s) is not mounted", p.Target, p.Type))
			continue
		case g.typ != p.Type:
			problems = append(problems, fmt.Sprintf("%s is %s, want %s", p.Target, g.typ, p.Type))
			continue
		}
		opts := strings.Split(g.opts, ",")
		if ro := slices.Contains(opts, "ro"); ro != p.ReadOnly {
			problems = append(problems, fmt.Sprintf("%s is mounted %s", p.Target, map[bool]string{true: "ro", false: "rw"}[ro]))
		}
		for _, c := range p.Controllers() {
			if !slices.Contains(opts, c) {
				problems = append(problems, fmt.Sprintf("%s lacks the %s controller (options %s)", p.Target, c, g.opts))
			}
		}
	}
	for _, t := range order {
		if typ := got[t].typ; !planned[t] && (typ == "cgroup" || typ == "cgroup2") {
			problems = append(problems, fmt.Sprintf("unexpected %s mount at %s", typ, t))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the guest's cgroup mounts differ from the plan: %s", strings.Join(problems, "; "))
	}
	return nil
}
