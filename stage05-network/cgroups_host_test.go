package main

// The cgroup layer against the real kernel: this host's layout (v1 or
// hybrid in CI, v2 on the students' VMs), and the v2 tree on its own. Only
// cgroups under a boxlab parent are made, and each test removes its own.

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"boxlab/lab/labtest"
)

func hostLayout(t testing.TB) *layout {
	t.Helper()
	labtest.RequireRoot(t)
	labtest.CheckLeftovers(t)
	l, err := detectLayout()
	require.NoError(t, err)
	return l
}

// testName is a cgroup name no container would use.
func testName(t testing.TB) string {
	return fmt.Sprintf("test-%d-%s", os.Getpid(), generatedHostname())
}

// blocked starts a host process that waits on its stdin, and a function
// that ends it (closing stdin) and reaps it.
func blocked(t *testing.T) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command("cat")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return cmd, stdin
}

// cgroupLines reads /proc/PID/cgroup as hierarchy -> path.
func cgroupLines(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	require.NoError(t, err)
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		require.Len(t, parts, 3, line)
		out[parts[1]] = parts[2]
	}
	return out
}

func TestHostLayout(t *testing.T) {
	l := hostLayout(t)
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs("/sys/fs/cgroup", &st))
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		assert.Equal(t, "v2", l.mode)
	} else {
		assert.Contains(t, []string{"v1", "hybrid"}, l.mode)
		for ctrl, point := range l.v1 {
			assert.FileExists(t, filepath.Join(point, "cgroup.procs"), ctrl)
		}
	}
	assert.NotEmpty(t, l.cpus)
	t.Logf("layout %s, unified %q, controllers %v, swap accounting %v, cpus %v", l.mode, l.unified, l.controllers, l.swap, l.cpus)
}

// The whole life of a container's cgroup on this host's layout: made,
// limited, joined, read, frozen, thawed, removed.
func TestHostCgroupLifecycle(t *testing.T) {
	l := hostLayout(t)
	name := testName(t)
	c := newCgroup(l, name)
	t.Cleanup(func() { assert.NoError(t, c.remove()) })
	require.NoError(t, c.create())

	lim := limits{memory: 64 << 20, cpuQuota: 50000, cpuShares: 512, cpuset: l.cpus[:1], pids: 20}
	if l.swap {
		lim.memorySwap = 128 << 20
	}
	require.NoError(t, c.setLimits(lim))

	cmd, stdin := blocked(t)
	require.NoError(t, c.join(cmd.Process.Pid))
	for h, path := range cgroupLines(t, cmd.Process.Pid) {
		if dir, ok := c.record().Paths[hierarchyKey(h)]; ok {
			assert.Equal(t, "/boxlab/"+name, path, "hierarchy %q (%s)", h, dir)
		}
	}
	var affinity unix.CPUSet
	require.NoError(t, unix.SchedGetaffinity(cmd.Process.Pid, &affinity))
	assert.Equal(t, 1, affinity.Count(), "pinned to one CPU by the cpuset")
	assert.True(t, affinity.IsSet(l.cpus[0]))

	u, err := c.stats()
	require.NoError(t, err)
	assert.Equal(t, int64(64<<20), u.memoryLimit)
	assert.Equal(t, int64(20), u.pidsLimit)
	assert.Equal(t, int64(1), u.pidsCurrent)
	assert.GreaterOrEqual(t, u.cpuUsec, int64(0))
	assert.GreaterOrEqual(t, u.memoryCurrent, int64(0))
	assert.False(t, c.oomKilled())

	require.NoError(t, c.freeze())
	assert.Equal(t, "frozen", freezeState(t, c))
	require.NoError(t, c.thaw())
	assert.Equal(t, "thawed", freezeState(t, c))

	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait())
	require.NoError(t, c.remove())
	for _, dir := range c.record().Paths {
		assert.NoDirExists(t, dir)
	}
}

// hierarchyKey turns the controllers field of /proc/PID/cgroup ("memory",
// "" for v2) into the record's key.
func hierarchyKey(controllers string) string {
	if controllers == "" {
		return "unified"
	}
	return controllers
}

func freezeState(t *testing.T, c cgroup) string {
	t.Helper()
	switch c := c.(type) {
	case *cgroupV2:
		n, err := readCgroupKey(c.dir, "cgroup.events", "frozen")
		require.NoError(t, err)
		return map[int64]string{0: "thawed", 1: "frozen"}[n]
	case *cgroupV1:
		if c.dir("freezer") == "" {
			return freezeState(t, c.unified)
		}
		s, err := readCgroupFile(c.dir("freezer"), "freezer.state")
		require.NoError(t, err)
		return strings.ToLower(s)
	}
	return ""
}

// remove empties a cgroup whose processes are still running, even frozen
// ones, and removes it.
func TestHostRemoveKillsFrozen(t *testing.T) {
	l := hostLayout(t)
	c := newCgroup(l, testName(t))
	t.Cleanup(func() { assert.NoError(t, c.remove()) })
	require.NoError(t, c.create())
	cmd, _ := blocked(t)
	require.NoError(t, c.join(cmd.Process.Pid))
	require.NoError(t, c.freeze())

	require.NoError(t, c.remove())
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, syscall.SIGKILL, ee.Sys().(syscall.WaitStatus).Signal())
	for _, dir := range c.record().Paths {
		assert.NoDirExists(t, dir)
	}
}

// The v2 logic on the real cgroup2 tree: /sys/fs/cgroup/unified on a
// hybrid host (no controllers there, but cgroups, membership, the freezer
// and cgroup.events are all v2's), /sys/fs/cgroup on a v2 host. A pure v1
// host mounts no cgroup2 tree, but the kernel has one all the same: the
// test mounts it for itself.
func TestHostV2Tree(t *testing.T) {
	l := hostLayout(t)
	if l.unified == "" {
		l.unified = mountOwnCgroup2(t)
	}
	offered := l.controllers
	if l.mode != "v2" {
		offered = nil // hybrid: the controllers are v1's
	}
	rootBefore, err := readCgroupFile(l.unified, "cgroup.subtree_control")
	require.NoError(t, err)

	name := testName(t)
	c := newCgroupV2(l.unified, name, offered)
	t.Cleanup(func() { assert.NoError(t, c.remove()) })
	require.NoError(t, c.create())
	parent := filepath.Join(l.unified, cgroupParent)
	enabled, err := readCgroupFile(parent, "cgroup.subtree_control")
	require.NoError(t, err)
	assert.ElementsMatch(t, c.controllers, strings.Fields(enabled), "boxlab hands exactly our controllers to its children")
	if len(c.controllers) == 0 {
		after, err := readCgroupFile(l.unified, "cgroup.subtree_control")
		require.NoError(t, err)
		assert.Equal(t, rootBefore, after, "no controllers needed: the host's root is left alone")
	}

	cmd, stdin := blocked(t)
	require.NoError(t, c.join(cmd.Process.Pid))
	assert.Equal(t, "/boxlab/"+name, cgroupLines(t, cmd.Process.Pid)[""])
	populated, err := readCgroupKey(c.dir, "cgroup.events", "populated")
	require.NoError(t, err)
	assert.Equal(t, int64(1), populated)

	// No internal processes: the parent that hands out controllers holds none.
	procs, err := readCgroupFile(parent, "cgroup.procs")
	require.NoError(t, err)
	assert.Empty(t, procs)

	require.NoError(t, c.freeze())
	frozen, err := readCgroupKey(c.dir, "cgroup.events", "frozen")
	require.NoError(t, err)
	assert.Equal(t, int64(1), frozen)
	require.NoError(t, c.thaw())
	frozen, err = readCgroupKey(c.dir, "cgroup.events", "frozen")
	require.NoError(t, err)
	assert.Equal(t, int64(0), frozen)

	u, err := c.stats()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, u.cpuUsec, int64(0), "cpu.stat is core on v2")

	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait())
	populated, err = readCgroupKey(c.dir, "cgroup.events", "populated")
	require.NoError(t, err)
	assert.Equal(t, int64(0), populated)
	require.NoError(t, c.remove())
	assert.NoDirExists(t, c.dir)
}

// A new cpuset cgroup: on v1 it has no CPUs, and joining it before they
// are set fails with ENOSPC, which is why create copies them from the
// parent; on v2 an empty cpuset.cpus means "the parent's", and the join
// works as it is.
func TestHostNewCpusetCgroup(t *testing.T) {
	l := hostLayout(t)
	if !l.has("cpuset") {
		t.Skip("no cpuset controller on this host")
	}
	name := testName(t)
	var dir string
	var c cgroup
	if point, ok := l.v1["cpuset"]; ok {
		c1 := newCgroupV1(map[string]string{"cpuset": point}, name)
		c, dir = c1, c1.dir("cpuset")
	} else {
		c2 := newCgroupV2(l.unified, name, map[string]bool{"cpuset": true})
		c, dir = c2, c2.dir
		for _, anc := range c2.ancestors() {
			require.NoError(t, enableControllers(anc, c2.controllers))
		}
	}
	t.Cleanup(func() { assert.NoError(t, c.remove()) })
	require.NoError(t, mkdirCgroup(filepath.Dir(dir), true))
	require.NoError(t, mkdirCgroup(dir, false))
	cpus, err := readCgroupFile(dir, "cpuset.cpus")
	require.NoError(t, err)
	assert.Empty(t, cpus, "a new cpuset cgroup names no CPUs of its own")

	cmd, _ := blocked(t)
	err = c.join(cmd.Process.Pid)
	if l.mode == "v2" {
		require.NoError(t, err, "v2: an empty cpuset inherits the parent's")
		effective, err := readCgroupFile(dir, "cpuset.cpus.effective")
		require.NoError(t, err)
		assert.Equal(t, formatCPUList(l.cpus), effective)
	} else {
		assert.ErrorIs(t, err, unix.ENOSPC, "v1: an empty cpuset takes no process")
	}
}

// BenchmarkCgroupCreateRemove measures making a container's cgroup with
// limits and removing it again, on this host's layout.
func BenchmarkCgroupCreateRemove(b *testing.B) {
	l := hostLayout(b)
	lim := limits{memory: 64 << 20, cpuQuota: 50000, pids: 20}
	for i := 0; b.Loop(); i++ {
		c := newCgroup(l, fmt.Sprintf("bench-%d-%d", os.Getpid(), i))
		if err := c.create(); err != nil {
			b.Fatal(err)
		}
		if err := c.setLimits(lim); err != nil {
			b.Fatal(err)
		}
		if err := c.remove(); err != nil {
			b.Fatal(err)
		}
	}
}

// mountOwnCgroup2 mounts the cgroup2 hierarchy on a temporary directory, for
// a pure v1 host that mounts none. Its controllers are all bound to v1, so it
// offers none, as on a hybrid host.
func mountOwnCgroup2(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "cgroup2")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, unix.Mount("cgroup2", dir, "cgroup2", 0, ""), "mount cgroup2 on %s", dir)
	t.Cleanup(func() { assert.NoError(t, unix.Unmount(dir, 0)) })
	return dir
}
