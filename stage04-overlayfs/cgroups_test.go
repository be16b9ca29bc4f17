package main

// Unit tests of the cgroup layer over plain directories shaped like
// cgroupfs: the file names and values written, the subtree_control
// bookkeeping, the readings. The tests against the real kernel are in
// cgroups_host_test.go.

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"boxlab/lab/labtest"
)

// hybridMountinfo is this lab's Debian 12 host: v1 controllers, cpu and
// cpuacct apart, systemd's named hierarchy, an empty cgroup2 beside.
const hybridMountinfo = `22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
`

// comountedMountinfo is a classic v1 host (Ubuntu 18.04 style):
// cpu,cpuacct and net_cls,net_prio mounted together, no cgroup2, and a
// container's cgroup mount elsewhere that does not count.
const comountedMountinfo = `25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
31 25 0:28 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,net_cls,net_prio
32 25 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
33 25 0:30 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids
90 80 0:29 / /var/lib/boxlab/x/sys/fs/cgroup/memory ro - cgroup cgroup rw,memory
`

func TestParseCgroupMounts(t *testing.T) {
	unified, v1, err := parseCgroupMounts(strings.NewReader(hybridMountinfo))
	require.NoError(t, err)
	assert.Equal(t, "/sys/fs/cgroup/unified", unified)
	assert.Equal(t, map[string]string{
		"cpu": "/sys/fs/cgroup/cpu", "cpuacct": "/sys/fs/cgroup/cpuacct", "cpuset": "/sys/fs/cgroup/cpuset",
		"memory": "/sys/fs/cgroup/memory", "devices": "/sys/fs/cgroup/devices",
		"freezer": "/sys/fs/cgroup/freezer", "pids": "/sys/fs/cgroup/pids",
	}, v1, "name=systemd is not a controller")

	unified, v1, err = parseCgroupMounts(strings.NewReader(comountedMountinfo))
	require.NoError(t, err)
	assert.Empty(t, unified)
	assert.Equal(t, "/sys/fs/cgroup/cpu,cpuacct", v1["cpu"])
	assert.Equal(t, "/sys/fs/cgroup/cpu,cpuacct", v1["cpuacct"])
	assert.Equal(t, "/sys/fs/cgroup/memory", v1["memory"], "the first mount wins")

	unified, v1, err = parseCgroupMounts(strings.NewReader(
		"35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"))
	require.NoError(t, err)
	assert.Equal(t, "/sys/fs/cgroup", unified)
	assert.Empty(t, v1)
}

func TestLayoutV1(t *testing.T) {
	_, v1, err := parseCgroupMounts(strings.NewReader(comountedMountinfo))
	require.NoError(t, err)
	l, err := layoutV1("", v1)
	require.NoError(t, err)
	assert.Equal(t, "v1", l.mode)
	assert.True(t, l.has("cpuacct"))
	assert.False(t, l.has("cpuset"))
	assert.False(t, l.has("freezer"))

	_, err = layoutV1("", nil)
	assert.ErrorContains(t, err, "no cgroup hierarchy is mounted")
}

func TestLayoutV2(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"cgroup.controllers": "cpuset cpu io memory pids\n"})
	require.NoError(t, os.Mkdir(filepath.Join(root, "init.scope"), 0o755))
	writeFiles(t, root, map[string]string{"init.scope/memory.swap.max": "max\n"})
	l, err := layoutV2(root)
	require.NoError(t, err)
	assert.Equal(t, "v2", l.mode)
	for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "freezer"} {
		assert.True(t, l.has(c), c)
	}
	assert.True(t, l.swap)
}

// newCgroupV1 groups co-mounted controllers in one directory and leaves out
// hierarchies boxlab does not use.
func TestNewCgroupV1(t *testing.T) {
	_, v1, err := parseCgroupMounts(strings.NewReader(comountedMountinfo))
	require.NoError(t, err)
	c := newCgroupV1(v1, "web")
	assert.Equal(t, map[string]string{
		"cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct/boxlab/web",
		"memory":      "/sys/fs/cgroup/memory/boxlab/web",
		"pids":        "/sys/fs/cgroup/pids/boxlab/web",
	}, c.dirs)
	assert.Equal(t, "/sys/fs/cgroup/cpu,cpuacct/boxlab/web", c.dir("cpuacct"))
	assert.Equal(t, "", c.dir("freezer"))

	var specs []string
	for _, s := range c.mountsInside() {
		specs = append(specs, s.String())
	}
	assert.Equal(t, []string{"cgroup:cpu,cpuacct", "cgroup:memory", "cgroup:pids"}, specs)
}

func TestCgroupfsSpec(t *testing.T) {
	for _, s := range []string{"cgroup2", "cgroup2:unified", "cgroup:memory", "cgroup:cpu,cpuacct"} {
		spec, err := parseCgroupfsSpec(s)
		require.NoError(t, err, s)
		assert.Equal(t, s, spec.String())
	}
	for _, s := range []string{"", "cgroup", "cgroup:", "cgroup2:../x", "cgroup:a/b", "ext4:memory"} {
		_, err := parseCgroupfsSpec(s)
		assert.Error(t, err, s)
	}
}

// fakeCgroupfs lets the code under test create files with its writes, as
// the kernel would have made them at mkdir.
func fakeCgroupfs(t *testing.T) string {
	t.Helper()
	old := cgroupWriteFlags
	cgroupWriteFlags |= os.O_CREATE
	t.Cleanup(func() { cgroupWriteFlags = old })
	return t.TempDir()
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
}

// writesOf runs setLimits (in f) with --explain on and returns the writes
// it narrated, in order, as "FILE=VALUE" with FILE relative to root:
// writeCgroupFile narrates each write just before it makes it.
func writesOf(t *testing.T, root string, f func() error) []string {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "explain")
	require.NoError(t, err)
	defer out.Close()
	stderr, on := os.Stderr, explainOn
	os.Stderr, explainOn = out, true
	err = f()
	os.Stderr, explainOn = stderr, on
	require.NoError(t, err)

	data, err := os.ReadFile(out.Name())
	require.NoError(t, err)
	var writes []string
	for _, line := range strings.Split(string(data), "\n") {
		step, ok := strings.CutPrefix(line, "[explain] write ")
		if !ok {
			continue
		}
		quoted, path, ok := strings.Cut(step, " to ")
		require.True(t, ok, line)
		value, err := strconv.Unquote(quoted)
		require.NoError(t, err, line)
		rel, err := filepath.Rel(root, path)
		require.NoError(t, err, line)
		writes = append(writes, rel+"="+value)
	}
	return writes
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}

// On v2, create enables the controllers in every ancestor, from the root
// down, writing only the ones missing, and makes the leaf last.
func TestCgroupV2SubtreeControl(t *testing.T) {
	root := fakeCgroupfs(t)
	writeFiles(t, root, map[string]string{
		"cgroup.controllers":     "cpuset cpu io memory hugetlb pids\n",
		"cgroup.subtree_control": "cpu memory\n",
	})
	l, err := layoutV2(root)
	require.NoError(t, err)
	c := newCgroupV2(root, "web", l.controllers)
	assert.Equal(t, []string{"cpu", "cpuset", "memory", "pids"}, c.controllers, "ours, as the host offers them")
	assert.Equal(t, []string{root, filepath.Join(root, "boxlab")}, c.ancestors())

	require.NoError(t, c.create())
	assert.Equal(t, "+cpuset +pids", readFile(t, filepath.Join(root, "cgroup.subtree_control")), "only what the root lacked")
	assert.Equal(t, "+cpu +cpuset +memory +pids", readFile(t, filepath.Join(root, "boxlab", "cgroup.subtree_control")))
	assert.DirExists(t, filepath.Join(root, "boxlab", "web"))
	_, err = os.Stat(filepath.Join(root, "boxlab", "web", "cgroup.subtree_control"))
	assert.True(t, os.IsNotExist(err), "the leaf enables nothing: it holds the processes")

	// A second container: the parent exists and is set up; nothing is rewritten.
	writeFiles(t, root, map[string]string{"cgroup.subtree_control": "cpuset cpu io memory pids\n"})
	writeFiles(t, filepath.Join(root, "boxlab"), map[string]string{"cgroup.subtree_control": "cpuset cpu memory pids\n"})
	require.NoError(t, newCgroupV2(root, "db", l.controllers).create())
	assert.Equal(t, "cpuset cpu memory pids\n", readFile(t, filepath.Join(root, "boxlab", "cgroup.subtree_control")))

	assert.ErrorContains(t, newCgroupV2(root, "web", l.controllers).create(), "already exists")
}

// On a hybrid host the v2 tree has none of our controllers: nothing is
// enabled anywhere, the host's root is not written to.
func TestCgroupV2NoControllers(t *testing.T) {
	root := fakeCgroupfs(t)
	writeFiles(t, root, map[string]string{"cgroup.controllers": "hugetlb\n", "cgroup.subtree_control": ""})
	c := newCgroupV2(root, "web", nil)
	require.NoError(t, c.create())
	assert.Equal(t, "", readFile(t, filepath.Join(root, "cgroup.subtree_control")))
	assert.NoFileExists(t, filepath.Join(root, "boxlab", "cgroup.subtree_control"))
}

func TestCgroupV2Files(t *testing.T) {
	root := fakeCgroupfs(t)
	writeFiles(t, root, map[string]string{"cgroup.controllers": "cpuset cpu memory pids"})
	c := newCgroupV2(root, "web", map[string]bool{"cpu": true, "cpuset": true, "memory": true, "pids": true})
	require.NoError(t, c.create())

	l := limits{memory: 64 << 20, memorySwap: 96 << 20, cpuQuota: 20000, cpuShares: 1024, cpuset: []int{0, 2, 3}, pids: 20}
	require.NoError(t, c.setLimits(l))
	for file, want := range map[string]string{
		"memory.max": "67108864", "memory.swap.max": "33554432", "cpu.max": "20000 100000",
		"cpu.weight": "39", "cpuset.cpus": "0,2-3", "pids.max": "20",
	} {
		assert.Equal(t, want, readFile(t, filepath.Join(c.dir, file)), file)
	}
	assert.Equal(t, []string{"boxlab/web/memory.max=67108864", "boxlab/web/memory.swap.max=max"},
		writesOf(t, root, func() error { return c.setLimits(limits{memory: 64 << 20, memorySwap: -1}) }),
		"--memory-swap -1: no swap limit")
	assert.Empty(t, writesOf(t, root, func() error { return c.setLimits(limits{}) }), "no flags, no writes")

	require.NoError(t, c.join(4242))
	assert.Equal(t, "4242", readFile(t, filepath.Join(c.dir, "cgroup.procs")))

	writeFiles(t, c.dir, map[string]string{
		"memory.current": "1048576\n", "memory.peak": "5242880\n", "pids.current": "3\n",
		"cpu.stat":      "usage_usec 12345\nuser_usec 10000\nsystem_usec 2345\n",
		"memory.events": "low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\n",
	})
	u, err := c.stats()
	require.NoError(t, err)
	assert.Equal(t, cgroupStats{memoryCurrent: 1 << 20, memoryPeak: 5 << 20, memoryLimit: 64 << 20, cpuUsec: 12345, pidsCurrent: 3, pidsLimit: 20}, u)
	assert.False(t, c.oomKilled())
	writeFiles(t, c.dir, map[string]string{"memory.events": "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n"})
	assert.True(t, c.oomKilled())

	r := c.record()
	assert.Equal(t, cgroupRecord{Mode: "v2", Paths: map[string]string{"unified": c.dir}}, r)
	back, err := cgroupFromRecord(r)
	require.NoError(t, err)
	assert.Equal(t, c.dir, back.(*cgroupV2).dir)
	assert.Equal(t, []cgroupfsSpec{{v2: true}}, c.mountsInside())
}

// freeze asks with cgroup.freeze and returns when cgroup.events says the
// kernel did it: here the test plays the kernel, and freeze must wake on
// the inotify event.
func TestCgroupV2FreezeWaitsForEvent(t *testing.T) {
	root := fakeCgroupfs(t)
	c := newCgroupV2(root, "web", nil)
	require.NoError(t, c.create())
	writeFiles(t, c.dir, map[string]string{"cgroup.events": "populated 1\nfrozen 0\n"})

	done := make(chan error)
	go func() { done <- c.freeze() }()
	// The kernel's part: once freeze has asked, say frozen.
	for asked := ""; asked != "1"; {
		data, _ := os.ReadFile(filepath.Join(c.dir, "cgroup.freeze"))
		asked = string(data)
		select {
		case err := <-done:
			t.Fatalf("freeze returned before the cgroup was frozen: %v", err)
		default:
		}
	}
	// One write in place, same length: a reader never sees the file empty,
	// as with the kernel's files (os.WriteFile truncates first).
	events, err := os.OpenFile(filepath.Join(c.dir, "cgroup.events"), os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = events.WriteString("populated 1\nfrozen 1\n")
	require.NoError(t, err)
	require.NoError(t, events.Close())
	require.NoError(t, <-done)

	writeFiles(t, c.dir, map[string]string{"cgroup.events": "populated 1\nfrozen 0\n"})
	require.NoError(t, c.thaw(), "already thawed: returns at once")
	assert.Equal(t, "0", readFile(t, filepath.Join(c.dir, "cgroup.freeze")))
}

// waitCgroupEvent waits in poll(2) for inotify's event: while
// cgroup.events does not change, it does not read the file again. A loop
// that rereads the file on a timer (time.Sleep) opens it again and again,
// which the test sees with an inotify watch of its own on the file's opens.
func TestCgroupEventWaitDoesNotPoll(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cgroup.events")
	writeFiles(t, dir, map[string]string{"cgroup.events": "populated 1\nfrozen 0\n"})
	watch, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	require.NoError(t, err)
	defer unix.Close(watch)
	_, err = unix.InotifyAddWatch(watch, file, unix.IN_OPEN)
	require.NoError(t, err)
	// opens waits up to d for the file to be opened and counts the opens.
	opens := func(d time.Duration) int {
		fds := []unix.PollFd{{Fd: int32(watch), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(d.Milliseconds()))
		for err == unix.EINTR { // a signal to the test process (Go's preemption) is no answer
			n, err = unix.Poll(fds, int(d.Milliseconds()))
		}
		require.NoError(t, err)
		if n == 0 {
			return 0
		}
		buf := make([]byte, 4096)
		got, err := unix.Read(watch, buf)
		require.NoError(t, err)
		return got / unix.SizeofInotifyEvent // IN_OPEN on the file itself: no name
	}

	done := make(chan error, 1)
	go func() { done <- waitCgroupEvent(dir, "frozen", "1") }()
	require.Equal(t, 1, opens(freezeTimeout), "waitCgroupEvent reads cgroup.events once to begin with")
	// Nothing changes for a second: a wait that sleeps in poll(2) on the
	// inotify descriptor stays asleep.
	assert.Zero(t, opens(time.Second), "cgroup.events was read again while nothing changed: wait for inotify's event (poll(2)) instead of rereading the file on a timer")
	events, err := os.OpenFile(file, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = events.WriteString("populated 1\nfrozen 1\n")
	require.NoError(t, err)
	require.NoError(t, events.Close())
	require.NoError(t, <-done, "the change to cgroup.events wakes the wait")
}

func TestCgroupV1Files(t *testing.T) {
	root := fakeCgroupfs(t)
	mounts := map[string]string{}
	for _, h := range []string{"memory", "cpu,cpuacct", "cpuset", "pids", "freezer", "devices"} {
		require.NoError(t, os.Mkdir(filepath.Join(root, h), 0o755))
		for _, ctrl := range strings.Split(h, ",") {
			mounts[ctrl] = filepath.Join(root, h)
		}
	}
	writeFiles(t, filepath.Join(root, "cpuset"), map[string]string{"cpuset.cpus": "0-3\n", "cpuset.mems": "0\n"})

	c := newCgroupV1(mounts, "web")
	assert.Equal(t, []string{"cpu,cpuacct", "cpuset", "freezer", "memory", "pids"}, c.hierarchies(), "devices is not ours")
	require.NoError(t, c.create())
	for _, dir := range []string{filepath.Join(root, "cpuset", "boxlab"), c.dir("cpuset")} {
		assert.Equal(t, "0-3", readFile(t, filepath.Join(dir, "cpuset.cpus")), "a v1 cpuset starts empty: copied from the parent")
		assert.Equal(t, "0", readFile(t, filepath.Join(dir, "cpuset.mems")))
	}

	l := limits{memory: 64 << 20, memorySwap: 128 << 20, cpuQuota: 50000, cpuShares: 512, cpuset: []int{1}, pids: 20}
	assert.Equal(t, []string{
		"memory/boxlab/web/memory.limit_in_bytes=67108864",
		"memory/boxlab/web/memory.memsw.limit_in_bytes=134217728",
		"cpu,cpuacct/boxlab/web/cpu.cfs_period_us=100000",
		"cpu,cpuacct/boxlab/web/cpu.cfs_quota_us=50000",
		"cpu,cpuacct/boxlab/web/cpu.shares=512",
		"cpuset/boxlab/web/cpuset.cpus=1",
		"pids/boxlab/web/pids.max=20",
	}, writesOf(t, root, func() error { return c.setLimits(l) }), "memory before memsw, the period before the quota")
	for file, want := range map[string]string{
		"memory/boxlab/web/memory.limit_in_bytes": "67108864", "memory/boxlab/web/memory.memsw.limit_in_bytes": "134217728",
		"cpu,cpuacct/boxlab/web/cpu.cfs_period_us": "100000", "cpu,cpuacct/boxlab/web/cpu.cfs_quota_us": "50000",
		"cpu,cpuacct/boxlab/web/cpu.shares": "512", "cpuset/boxlab/web/cpuset.cpus": "1", "pids/boxlab/web/pids.max": "20",
	} {
		assert.Equal(t, want, readFile(t, filepath.Join(root, file)), file)
	}
	assert.Empty(t, writesOf(t, root, func() error { return c.setLimits(limits{}) }), "no flags, no writes")
	noPids := newCgroupV1(map[string]string{"memory": filepath.Join(root, "memory")}, "web")
	assert.EqualError(t, noPids.setLimits(limits{memory: 64 << 20, pids: 20}), "this host has no pids cgroup hierarchy: run 'lab doctor'")

	require.NoError(t, c.join(4242))
	for _, h := range c.hierarchies() {
		assert.Equal(t, "4242", readFile(t, filepath.Join(c.dirs[h], "cgroup.procs")), h)
	}

	writeFiles(t, c.dir("memory"), map[string]string{
		"memory.usage_in_bytes": "1048576\n", "memory.max_usage_in_bytes": "5242880\n",
		"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
	})
	writeFiles(t, c.dir("cpuacct"), map[string]string{"cpuacct.usage": "12345678\n"})
	writeFiles(t, c.dir("pids"), map[string]string{"pids.current": "3\n"})
	u, err := c.stats()
	require.NoError(t, err)
	assert.Equal(t, cgroupStats{memoryCurrent: 1 << 20, memoryPeak: 5 << 20, memoryLimit: 64 << 20, cpuUsec: 12345, pidsCurrent: 3, pidsLimit: 20}, u)
	assert.True(t, c.oomKilled())

	require.NoError(t, c.freeze())
	assert.Equal(t, "FROZEN", readFile(t, filepath.Join(c.dir("freezer"), "freezer.state")))

	back, err := cgroupFromRecord(c.record())
	require.NoError(t, err)
	assert.Equal(t, c.dirs, back.(*cgroupV1).dirs)
	assert.Equal(t, "v1", c.record().Mode)
}

func TestCgroupV1Hybrid(t *testing.T) {
	_, v1, err := parseCgroupMounts(strings.NewReader(hybridMountinfo))
	require.NoError(t, err)
	l, err := layoutV1("/sys/fs/cgroup/unified", v1)
	require.NoError(t, err)
	c := newCgroup(l, "web").(*cgroupV1)
	assert.Equal(t, "/sys/fs/cgroup/unified/boxlab/web", c.unified.dir)
	assert.Empty(t, c.unified.controllers)
	r := c.record()
	assert.Equal(t, "hybrid", r.Mode)
	assert.Equal(t, "/sys/fs/cgroup/cpuacct/boxlab/web", r.Paths["cpuacct"])
	assert.Equal(t, "/sys/fs/cgroup/unified/boxlab/web", r.Paths["unified"])
	back, err := cgroupFromRecord(r)
	require.NoError(t, err)
	assert.Equal(t, c, back)
	specs := c.mountsInside()
	assert.Equal(t, "cgroup2:unified", specs[len(specs)-1].String())
}

func TestRemoveIsIdempotent(t *testing.T) {
	root := fakeCgroupfs(t)
	c := newCgroupV2(root, "web", nil)
	require.NoError(t, c.create())
	require.NoError(t, c.remove())
	assert.NoDirExists(t, c.dir)
	require.NoError(t, c.remove(), "removing again is fine")
	assert.DirExists(t, filepath.Join(root, "boxlab"), "the parent stays for other containers")
}

func TestUsagePrint(t *testing.T) {
	var b bytes.Buffer
	cgroupStats{memoryCurrent: 1 << 20, memoryPeak: 2 << 20, memoryLimit: -1, cpuUsec: 1500, pidsCurrent: 1, pidsLimit: 20}.print(&b, "web")
	assert.Equal(t, `name=web
memory_current_bytes=1048576
memory_peak_bytes=2097152
memory_limit_bytes=max
cpu_usage_usec=1500
pids_current=1
pids_limit=20
`, b.String())
	assert.Equal(t, "64 MiB", humanBytes(64<<20))
	assert.Equal(t, "1.5 GiB", humanBytes(3<<29))
	assert.Equal(t, "100 B", humanBytes(100))
}

func TestRecord(t *testing.T) {
	old := containersDir
	containersDir = filepath.Join(t.TempDir(), "containers")
	t.Cleanup(func() { containersDir = old })

	require.NoError(t, claimName("web"))
	assert.ErrorContains(t, claimName("web"), "--name web: the name is in use")
	r := &record{Name: "web", Pid: 42, Cgroup: cgroupRecord{Mode: "v2", Paths: map[string]string{"unified": "/x"}},
		Limits: limitsRecord(limits{memory: 64 << 20, cpuQuota: 50000})}
	require.NoError(t, r.save())
	back, err := loadRecord("web")
	require.NoError(t, err)
	assert.Equal(t, r, back)
	assert.Equal(t, int64(cpuPeriod), back.Limits.CPUPeriodUsec)

	require.NoError(t, releaseName("web"))
	assert.NoDirExists(t, containersDir, "the last one out removes the directory")
	_, err = loadRecord("web")
	assert.ErrorContains(t, err, "no running container named web")
	_, err = loadRecord("../etc")
	assert.ErrorContains(t, err, "--name")

	for _, bad := range []string{"", "-x", "a/b", "..", strings.Repeat("a", 65), "a b"} {
		assert.Error(t, checkName(bad), "%q", bad)
	}
	assert.NoError(t, checkName(generatedHostname()), "a generated id is a valid name")
}

// A cgroup that cannot be made must not leave the name's record behind,
// nor panic on the way out (a half-made container is cleaned up).
func TestNewContainerUndoesOnFailure(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the record lives in /run/boxlab")
	}
	labtest.CheckLeftovers(t)
	root := filepath.Join(t.TempDir(), "cgroupfs")
	require.NoError(t, os.WriteFile(root, nil, 0o644)) // a file: no cgroup can be made below it
	l := &layout{mode: "v2", unified: root, controllers: map[string]bool{"memory": true}}
	name := "undo-" + generatedHostname()
	_, err := newContainer(&options{name: name, layout: l, rootfs: "/", command: []string{"true"}})
	require.Error(t, err)
	_, statErr := os.Stat(recordDir(name))
	assert.True(t, os.IsNotExist(statErr), "record %s left behind", recordDir(name))
}
