package cgroups

// Unit tests: cgroupsPath resolution, the limits' checks and conversions,
// and the files written, over plain directories shaped like cgroupfs. The
// tests against the real kernel are the CLI's (cgroups_test.go in
// package main).

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestResolvePath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "/boxlab/web"},
		{"mine", "/boxlab/mine"},
		{"team/web", "/boxlab/team/web"},
		{"/default/web", "/default/web"},
		{"/boxlab/x/", "/boxlab/x"},
		{"a//b/./c", "/boxlab/a/b/c"},
	} {
		got, err := ResolvePath(c.in, "web")
		if err != nil || got != c.want {
			t.Errorf("ResolvePath(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"system.slice:boxlab:web", "--systemd-cgroup"},
		{"../escape", `".."`},
		{"/a/../../b", `".."`},
		{"/", "the root of the cgroup tree"},
		{"/boxlab", "the boxlab parent"},
		{".", "the boxlab parent"},
	} {
		_, err := ResolvePath(c.in, "web")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "linux.cgroupsPath") {
			t.Errorf("ResolvePath(%q): %v; want an error about %s", c.in, err, c.want)
		}
	}
}

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{0: 0, 2: 1, 1024: 39, 262144: 10000} {
		if got := sharesToWeight(shares); got != want {
			t.Errorf("sharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

// OCI's swap is memory plus swap; v2's memory.swap.max is swap alone.
func TestSwapV2(t *testing.T) {
	const m = 64 << 20
	for _, c := range []struct{ swap, memory, want int64 }{
		{0, m, 0}, {-1, m, -1}, {2 * m, m, m}, {m, m, 0}, {0, -1, -1},
	} {
		got, err := swapV2Checked(c.swap, c.memory)
		if err != nil || got != c.want {
			t.Errorf("swapV2(%d, %d) = %d, %v; want %d", c.swap, c.memory, got, err, c.want)
		}
	}
	for _, c := range []struct{ swap, memory int64 }{{m, 0}, {m, -1}, {m - 1, m}, {-2, m}} {
		if _, err := swapV2Checked(c.swap, c.memory); err == nil {
			t.Errorf("swapV2(%d, %d): no error", c.swap, c.memory)
		}
	}
}

func TestCPUMax(t *testing.T) {
	for _, c := range []struct {
		quota  int64
		period uint64
		want   string
	}{{50000, 0, "50000 100000"}, {-1, 0, "max 100000"}, {0, 250000, "max 250000"}, {20000, 50000, "20000 50000"}} {
		if got := cpuMax(c.quota, c.period); got != c.want {
			t.Errorf("cpuMax(%d, %d) = %q, want %q", c.quota, c.period, got, c.want)
		}
	}
}

func i64(n int64) *int64   { return &n }
func u64(n uint64) *uint64 { return &n }
func TestLimitsFromRefuses(t *testing.T) {
	for _, c := range []struct {
		r    specs.LinuxResources
		want string
	}{
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20)}}, "memory.limit: 1048576 (1 MiB): below the minimum"},
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-5)}}, "memory.limit: -5"},
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: i64(64 << 20)}}, "memory.swap: 67108864: a swap limit needs linux.resources.memory.limit"},
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(32 << 20)}}, "below memory.limit (64 MiB)"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(1)}}, "cpu.shares: 1"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(10)}}, "cpu.period: 10"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(10)}}, "cpu.quota: 10"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "3-1"}}, "cpu.cpus: \"3-1\": range 3-1 goes backwards"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Mems: "x"}}, "cpu.mems"},
		{specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}}, "unified: \"cgroup.procs\""},
		{specs.LinuxResources{Unified: map[string]string{"../x": "1"}}, "unified: \"../x\""},
	} {
		_, err := LimitsFrom(&c.r)
		if err == nil || !strings.Contains(err.Error(), "linux.resources."+c.want) && !strings.Contains(err.Error(), c.want) {
			t.Errorf("LimitsFrom: %v; want %q", err, c.want)
		}
	}
	// Every problem at once.
	_, err := LimitsFrom(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1)}, CPU: &specs.LinuxCPU{Shares: u64(1)}})
	if err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("two problems, one per line: %v", err)
	}
}

func TestCheck(t *testing.T) {
	v1 := &Layout{Mode: "hybrid", controllers: map[string]bool{"memory": true, "cpu": true, "cpuset": true}, cpus: []int{0, 1}, mems: []int{0}}
	for _, c := range []struct {
		r    specs.LinuxResources
		want string
	}{
		{specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(10)}}, "pids.limit: this host offers no pids cgroup controller (cgroup hybrid)"},
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(128 << 20)}}, "does not account swap"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(300000)}}, "more than this host's 2 CPUs"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "2"}}, "CPU 2 is not available on this host (available: 0-1)"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Mems: "1"}}, "memory node 1 is not available"},
		{specs.LinuxResources{Unified: map[string]string{"memory.high": "1000000"}}, "unified: cgroup v2 files"},
	} {
		l, err := LimitsFrom(&c.r)
		if err == nil {
			err = l.Check(v1)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Check: %v; want %q", err, c.want)
		}
	}
	l, _ := LimitsFrom(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(200000), Cpus: "0-1"}})
	if err := l.Check(v1); err != nil {
		t.Errorf("Check of what the host has: %v", err)
	}
}

// fakeCgroupfs lets the file writes create their files, as cgroupfs would
// have them already.
func fakeCgroupfs(t *testing.T) {
	saved := cgroupWriteFlags
	cgroupWriteFlags |= os.O_CREATE
	t.Cleanup(func() { cgroupWriteFlags = saved })
}

func read(t *testing.T, dir, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

var fullResources = specs.LinuxResources{
	Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(96 << 20), Reservation: i64(32 << 20)},
	CPU:    &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(200000), Cpus: "0", Mems: "0"},
	Pids:   &specs.LinuxPids{Limit: i64(-1)},
}

func TestV2Files(t *testing.T) {
	fakeCgroupfs(t)
	root := t.TempDir()
	c := newCgroupV2(root, "/boxlab/team/web", map[string]bool{"memory": true, "pids": true})
	if err := c.Create(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{root, root + "/boxlab", root + "/boxlab/team"} {
		if got := read(t, dir, "cgroup.subtree_control"); got != "+memory +pids" {
			t.Errorf("%s/cgroup.subtree_control = %q", dir, got)
		}
	}
	res := fullResources
	res.Unified = map[string]string{"memory.high": "50000000"}
	l, err := LimitsFrom(&res)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(c.dir, "memory.swap.max"), nil, 0o644)
	if err := c.SetLimits(l); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"memory.max": "67108864", "memory.swap.max": "33554432", "memory.low": "33554432",
		"cpu.max": "50000 200000", "cpu.weight": "20", "cpuset.cpus": "0", "cpuset.mems": "0",
		"pids.max": "max", "memory.high": "50000000",
	} {
		if got := read(t, c.dir, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
}

func TestV1Files(t *testing.T) {
	fakeCgroupfs(t)
	root := t.TempDir()
	mounts := map[string]string{}
	for _, h := range []string{"memory", "cpu,cpuacct", "cpuset", "pids"} {
		for _, ctrl := range strings.Split(h, ",") {
			mounts[ctrl] = filepath.Join(root, h)
		}
		os.MkdirAll(filepath.Join(root, h), 0o755)
	}
	os.WriteFile(filepath.Join(root, "cpuset", "cpuset.cpus"), []byte("0-3\n"), 0o644)
	os.WriteFile(filepath.Join(root, "cpuset", "cpuset.mems"), []byte("0\n"), 0o644)
	c := newCgroupV1(mounts, "/boxlab/web")
	if err := c.Create(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(root, "cpuset/boxlab"), "cpuset.cpus"); got != "0-3" {
		t.Errorf("boxlab's cpuset.cpus = %q, want the root's", got)
	}
	l, err := LimitsFrom(&fullResources)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(c.dir("memory"), "memory.memsw.limit_in_bytes"), nil, 0o644)
	if err := c.SetLimits(l); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ ctrl, file, want string }{
		{"memory", "memory.limit_in_bytes", "67108864"}, {"memory", "memory.memsw.limit_in_bytes", "100663296"},
		{"memory", "memory.soft_limit_in_bytes", "33554432"},
		{"cpu", "cpu.cfs_period_us", "200000"}, {"cpu", "cpu.cfs_quota_us", "50000"}, {"cpu", "cpu.shares", "512"},
		{"cpuset", "cpuset.cpus", "0"}, {"cpuset", "cpuset.mems", "0"}, {"pids", "pids.max", "max"},
	} {
		if got := read(t, c.dir(f.ctrl), f.file); got != f.want {
			t.Errorf("%s/%s = %q, want %q", f.ctrl, f.file, got, f.want)
		}
	}
	ms := c.Mounts(false)
	if len(ms) != 4 || ms[0].Controllers != "cpu,cpuacct" || ms[0].Bind != filepath.Join(root, "cpu,cpuacct/boxlab/web") {
		t.Errorf("Mounts without a cgroup namespace: %+v", ms)
	}
	if ms := c.Mounts(true); ms[0].Bind != "" {
		t.Errorf("Mounts in a cgroup namespace bind: %+v", ms)
	}
}

// Remove takes the parents a nested path made under boxlab, not boxlab,
// and not a parent another container still uses.
func TestRemovePrunesParents(t *testing.T) {
	root := t.TempDir()
	a := &cgroupV2{root: root, dir: root + "/boxlab/team/a"}
	b := &cgroupV2{root: root, dir: root + "/boxlab/team/b"}
	os.MkdirAll(a.dir, 0o755)
	os.MkdirAll(b.dir, 0o755)
	if err := a.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root + "/boxlab/team"); err != nil {
		t.Errorf("the parent b is in went with a: %v", err)
	}
	if err := b.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root + "/boxlab/team"); !os.IsNotExist(err) {
		t.Errorf("boxlab/team left behind: %v", err)
	}
	if _, err := os.Stat(root + "/boxlab"); err != nil {
		t.Errorf("boxlab removed: %v", err)
	}
	if err := b.Remove(); err != nil {
		t.Errorf("Remove is not idempotent: %v", err)
	}
}
