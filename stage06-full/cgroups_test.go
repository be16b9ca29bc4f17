package main

// Black-box tests of the container's cgroup (internal/cgroups), as root on
// the host's real cgroups, v1 hybrid or v2: the limits of
// linux.resources seen from inside, pause and resume, the cgroup made by
// create and removed by delete, bad resources refused before anything
// exists. Each test has its own --root and cgroupsPath (under boxlab, the
// only place a test touches); the leftover check finds any cgroup left.

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"boxlab/lab/labtest"
)

// testCgroupsPath is a cgroupsPath of the test's own: relative, so under
// boxlab.
func testCgroupsPath(t *testing.T) string {
	return fmt.Sprintf("%s-%d", strings.ToLower(t.Name()), os.Getpid())
}

// withCgroup gives a bundle the test's cgroupsPath, a cgroup namespace and
// the resources res.
func withCgroup(t *testing.T, res *specs.LinuxResources) func(s *specs.Spec) {
	return func(s *specs.Spec) {
		s.Linux.CgroupsPath = testCgroupsPath(t)
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
		if res != nil {
			res.Devices = s.Linux.Resources.Devices
			s.Linux.Resources = res
		}
	}
}

// hostCgroupDirs lists the directories named path in the host's cgroup
// hierarchies (one on v2; one per hierarchy on v1, and unified/).
func hostCgroupDirs(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var dirs []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		_, after, _ := strings.Cut(s.Text(), " - ")
		fields := strings.Fields(s.Text())
		if strings.HasPrefix(after, "cgroup") && len(fields) > 4 && strings.HasPrefix(fields[4], "/sys/fs/cgroup") {
			if _, err := os.Stat(filepath.Join(fields[4], path)); err == nil {
				dirs = append(dirs, filepath.Join(fields[4], path))
			}
		}
	}
	return dirs
}

func i64p(n int64) *int64 { return &n }

// The limits are in the container's cgroup, and the probe reads them from
// inside, at the top of its own /sys/fs/cgroup: the cgroup namespace is
// rooted at the container's cgroup.
func TestCgroupLimitsInside(t *testing.T) {
	labtest.RequireRoot(t)
	res := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64p(64 << 20)},
		Pids:   &specs.LinuxPids{Limit: i64p(50)},
	}
	root := t.TempDir()
	r := labtest.Run(t, "--root", root, "run", "--bundle", testBundle(t, withCgroup(t, res), "probe", "cgroup"), "c1")
	if r.Code != 0 {
		t.Fatalf("run: %s", r)
	}
	f := labtest.ParseFacts(r.Stdout)
	mem := f.Get("cg.memory.max")
	if mem == "" {
		mem = f.Get("cg.memory.limit_in_bytes")
	}
	if mem != "67108864" || f.Get("cg.pids.max") != "50" {
		t.Errorf("inside: memory limit %q, pids.max %q; want 67108864 and 50\n%s", mem, f.Get("cg.pids.max"), r.Stdout)
	}
	for _, line := range f.All("cgroup") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && parts[1] != "name=systemd" && parts[2] != "/" {
			t.Errorf("/proc/self/cgroup inside says %q: not rooted at the container's cgroup", line)
		}
	}
	if dirs := hostCgroupDirs(t, filepath.Join("boxlab", testCgroupsPath(t))); len(dirs) > 0 {
		t.Errorf("run left its cgroup: %v", dirs)
	}
}

// The pids limit holds: the probe forks children until the kernel refuses
// one (pids.max counts threads too, so fewer than the limit), then reaps
// them all.
func TestCgroupPidsLimit(t *testing.T) {
	labtest.RequireRoot(t)
	res := &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64p(20)}}
	r := labtest.Run(t, "--root", t.TempDir(), "run", "--bundle", testBundle(t, withCgroup(t, res), "probe", "fork", "200"), "c1")
	if r.Code != 0 {
		t.Fatalf("run: %s", r)
	}
	f := labtest.ParseFacts(r.Stdout)
	n := 0
	fmt.Sscanf(f.Get("forked"), "%d", &n)
	if n <= 0 || n >= 20 || f.Get("fork_error") == "" || f.Get("reaped") != f.Get("forked") {
		t.Errorf("with pids.limit 20: forked=%s fork_error=%q reaped=%s", f.Get("forked"), f.Get("fork_error"), f.Get("reaped"))
	}
}

// create makes the cgroup and puts the init in it; pause freezes it and
// the state says paused; resume thaws it; delete removes the cgroup.
func TestCgroupPauseResumeDelete(t *testing.T) {
	c := mustCreate(t, testBundle(t, withCgroup(t, nil), "probe", "wait"))
	path := filepath.Join("boxlab", testCgroupsPath(t))
	dirs := hostCgroupDirs(t, path)
	if len(dirs) == 0 {
		t.Fatalf("no cgroup %s on the host after create", path)
	}
	pid := c.state().Pid
	procs, _ := os.ReadFile(filepath.Join(dirs[0], "cgroup.procs"))
	if !strings.Contains("\n"+string(procs), fmt.Sprintf("\n%d\n", pid)) {
		t.Errorf("the init (pid %d) is not in %s: %q", pid, dirs[0], procs)
	}
	if r := c.oci("pause", c.id); r.Code != 1 || !strings.Contains(r.Stderr, "cannot pause a container that is not running (it is created)") {
		t.Errorf("pause of a created container: %s", r)
	}
	if r := c.oci("start", c.id); r.Code != 0 {
		t.Fatalf("start: %s", r)
	}
	if r := c.oci("pause", c.id); r.Code != 0 {
		t.Fatalf("pause: %s", r)
	}
	c.wantStatus("paused")
	if !frozen(t, path) {
		t.Errorf("paused, but the host says %s is not frozen", path)
	}
	if r := c.oci("pause", c.id); r.Code != 1 || !strings.Contains(r.Stderr, "already paused") {
		t.Errorf("pause twice: %s", r)
	}
	if r := c.oci("delete", c.id); r.Code != 1 || !strings.Contains(r.Stderr, "paused") {
		t.Errorf("delete of a paused container: %s", r)
	}
	if r := c.oci("resume", c.id); r.Code != 0 {
		t.Fatalf("resume: %s", r)
	}
	c.wantStatus("running")
	if frozen(t, path) {
		t.Errorf("resumed, but %s is still frozen", path)
	}
	if r := c.oci("resume", c.id); r.Code != 1 || !strings.Contains(r.Stderr, "not paused (it is running)") {
		t.Errorf("resume of a running container: %s", r)
	}
	if r := c.oci("pause", c.id); r.Code != 0 {
		t.Fatalf("pause: %s", r)
	}
	// --force deletes a paused container: thawed, killed, its cgroup gone.
	if r := c.oci("delete", "--force", c.id); r.Code != 0 {
		t.Fatalf("delete --force of a paused container: %s", r)
	}
	waitExit(t, pid)
	if dirs := hostCgroupDirs(t, path); len(dirs) > 0 {
		t.Errorf("delete left the cgroup: %v", dirs)
	}
}

// frozen reads the host's view of the container's freezer: v1's
// freezer.state, or v2's cgroup.events.
func frozen(t *testing.T, path string) bool {
	t.Helper()
	for _, dir := range hostCgroupDirs(t, path) {
		if data, err := os.ReadFile(filepath.Join(dir, "freezer.state")); err == nil {
			return strings.TrimSpace(string(data)) == "FROZEN"
		}
	}
	for _, dir := range hostCgroupDirs(t, path) {
		if data, err := os.ReadFile(filepath.Join(dir, "cgroup.events")); err == nil && strings.Contains(string(data), "populated 1") {
			return strings.Contains(string(data), "frozen 1")
		}
	}
	t.Fatalf("no freezer for %s", path)
	return false
}

// Bad resources and cgroup paths are refused before anything exists: no
// state, no cgroup.
func TestCgroupBadResourcesRefused(t *testing.T) {
	labtest.RequireRoot(t)
	for _, c := range []struct {
		change func(s *specs.Spec)
		want   string
	}{
		{func(s *specs.Spec) { s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: i64p(1 << 20)} }, "linux.resources.memory.limit: 1048576 (1 MiB): below the minimum of 6 MiB"},
		{func(s *specs.Spec) {
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: i64p(64 << 20), Swap: i64p(32 << 20)}
		}, "linux.resources.memory.swap: 33554432: below memory.limit"},
		{func(s *specs.Spec) { s.Linux.Resources.CPU = &specs.LinuxCPU{Cpus: "8000"} }, "linux.resources.cpu.cpus: CPU 8000 is not available on this host"},
		{func(s *specs.Spec) {
			s.Linux.Resources.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}
		}, "linux.resources.hugepageLimits: not supported"},
		{func(s *specs.Spec) { s.Linux.CgroupsPath = "system.slice:boxlab:c1" }, "linux.cgroupsPath \"system.slice:boxlab:c1\": a systemd slice"},
		{func(s *specs.Spec) { s.Linux.CgroupsPath = "../../escape" }, `linux.cgroupsPath "../../escape": ".."`},
	} {
		root := t.TempDir()
		b := testBundle(t, func(s *specs.Spec) { withCgroup(t, nil)(s); c.change(s) }, "sh")
		r := labtest.Run(t, "--root", root, "create", "--bundle", b, "c1")
		if r.Code != 1 || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("create: want exit 1 saying %q, got %s", c.want, r)
		}
		if entries, _ := os.ReadDir(root); len(entries) != 0 {
			t.Errorf("a refused create left %v", entries)
		}
		if dirs := hostCgroupDirs(t, filepath.Join("boxlab", testCgroupsPath(t))); len(dirs) > 0 {
			t.Errorf("a refused create made the cgroup: %v", dirs)
		}
	}
}
