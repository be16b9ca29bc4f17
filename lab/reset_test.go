package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/moby/sys/mountinfo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// testScope is a reset scope that reaches only what one test made: its
// own directories and a cgroup parent no stage uses, so that resetting in
// a test never touches a stage test running at the same time.
func testScope(t *testing.T) resetScope {
	t.Helper()
	base := t.TempDir()
	return resetScope{
		RunDir:       filepath.Join(base, "run"),
		StateDir:     filepath.Join(base, "state"),
		CacheDir:     filepath.Join(base, "cache"),
		CgroupParent: fmt.Sprintf("boxlab/unit-%d-%d", os.Getpid(), time.Now().UnixNano()),
		LinkPrefix:   "bx",
		NftTable:     "boxlab",
	}
}

func resetForTest(t *testing.T, sc resetScope, dryRun bool) (string, int) {
	t.Helper()
	var out bytes.Buffer
	problems := resetHost(&out, &out, sc, dryRun)
	t.Logf("reset (dry run %v):\n%s", dryRun, out.String())
	return out.String(), problems
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestResetNothingToClean(t *testing.T) {
	out, problems := resetForTest(t, testScope(t), false)
	assert.Zero(t, problems)
	assert.Equal(t, "nothing to clean\n", out)
}

// stateFixture lays out a state directory after a crash: user data that
// must stay, records of dead containers, leases of dead containers.
func stateFixture(t *testing.T, sc resetScope) {
	t.Helper()
	writeFile(t, filepath.Join(sc.StateDir, "images", "test", "manifest.json"), "{}")
	writeFile(t, filepath.Join(sc.StateDir, "layers", "sha256-abc", "bin", "busybox"), "elf")
	writeFile(t, filepath.Join(sc.StateDir, "volumes", "data", "notes.txt"), "keep me")
	// Beyond any pid_max (at most 2^22): this process cannot exist.
	writeRecord(t, filepath.Join(sc.StateDir, "containers", "dead1"), 999999999, 1)
	// Alive, but not in a boxlab cgroup: a reused pid, not the container.
	writeRecord(t, filepath.Join(sc.StateDir, "containers", "reused"), os.Getpid(), startTime(t, os.Getpid()))
	writeFile(t, filepath.Join(sc.StateDir, "network", "leases.json"),
		`{"10.88.0.2": "dead1", "10.88.0.3": "gone", "10.88.0.4": "reused"}`)
	writeFile(t, filepath.Join(sc.RunDir, "dead1", "sync.fifo"), "")
}

// writeRecord writes a container record as stage04's containers.go does
// for a running container: containers/<id>/config.json, its State.
func writeRecord(t *testing.T, dir string, pid int, start uint64) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "config.json"), fmt.Sprintf(
		`{"Id": %q, "Name": "c", "State": {"Status": "running", "Pid": %d, "PidStart": %d, "ExitCode": 0}}`,
		filepath.Base(dir), pid, start))
}

func startTime(t *testing.T, pid int) uint64 {
	t.Helper()
	start, err := pidStartTime(pid)
	require.NoError(t, err)
	return start
}

// A live container is told by the record the stages write: running, its
// pid, that pid's start time, in a boxlab cgroup. An exited one, a reused
// pid (another start time) or a process elsewhere is not running.
func TestContainerRunningReadsTheRecord(t *testing.T) {
	requireRoot(t)
	hier := testCgroupHierarchy(t)
	parent := fmt.Sprintf("boxlab/unit-%d-%d", os.Getpid(), time.Now().UnixNano())
	cg := filepath.Join(hier, parent, "c1")
	mkdirCleanup(t, cg)
	proc := startVictim(t, cg)
	dir := filepath.Join(t.TempDir(), "containers", "live")
	writeRecord(t, dir, proc.pid(), startTime(t, proc.pid()))
	pid, running := containerRunning(dir, parent)
	assert.True(t, running, "a live container in its cgroup")
	assert.Equal(t, proc.pid(), pid)

	writeRecord(t, dir, proc.pid(), startTime(t, proc.pid())+1)
	_, running = containerRunning(dir, parent)
	assert.False(t, running, "the pid started at another time: reused")
	writeFile(t, filepath.Join(dir, "config.json"), fmt.Sprintf(`{"State": {"Status": "exited", "Pid": %d}}`, proc.pid()))
	_, running = containerRunning(dir, parent)
	assert.False(t, running, "exited")
	writeRecord(t, dir, os.Getpid(), startTime(t, os.Getpid()))
	_, running = containerRunning(dir, parent)
	assert.False(t, running, "alive, but in no boxlab cgroup")
}

// A state directory reached through a symlink is cleaned like any other:
// its mounts are found (mountinfo shows them at the resolved path) and no
// tree is removed while something is mounted in it.
func TestResetThroughSymlinkedStateDir(t *testing.T) {
	requireRoot(t)
	sc := testScope(t)
	real := filepath.Join(filepath.Dir(sc.StateDir), "real-state")
	require.NoError(t, os.MkdirAll(real, 0o700))
	require.NoError(t, os.Symlink(real, sc.StateDir))
	dead := filepath.Join(sc.StateDir, "containers", "dead1")
	writeRecord(t, dead, 999999999, 1)
	merged := filepath.Join(dead, "merged")
	mountTmpfs(t, merged)
	writeFile(t, filepath.Join(merged, "etc", "passwd"), "inside the mount")

	out, problems := resetForTest(t, sc, false)
	assert.Zero(t, problems)
	assert.Contains(t, out, "removed mount "+filepath.Join(real, "containers", "dead1", "merged")+"\n")
	assert.Contains(t, out, "removed directory "+filepath.Join(real, "containers", "dead1")+"\n")
	assert.False(t, isMounted(t, filepath.Join(real, "containers", "dead1", "merged")))
	assert.NoDirExists(t, filepath.Join(real, "containers", "dead1"))
}

func TestResetStateDryRunChangesNothing(t *testing.T) {
	sc := testScope(t)
	stateFixture(t, sc)
	before := treeListing(t, filepath.Dir(sc.RunDir))

	out, problems := resetForTest(t, sc, true)
	assert.Zero(t, problems)
	assert.Equal(t, strings.Join([]string{
		"would remove directory " + sc.RunDir,
		"would remove directory " + filepath.Join(sc.StateDir, "containers", "dead1"),
		"would remove directory " + filepath.Join(sc.StateDir, "containers", "reused"),
		"would remove lease 10.88.0.2 (container dead1)",
		"would remove lease 10.88.0.3 (container gone)",
		"would remove lease 10.88.0.4 (container reused)",
	}, "\n")+"\n", out)
	assert.Equal(t, before, treeListing(t, filepath.Dir(sc.RunDir)))
}

func TestResetStateKeepsUserData(t *testing.T) {
	sc := testScope(t)
	stateFixture(t, sc)

	out, problems := resetForTest(t, sc, false)
	assert.Zero(t, problems)
	assert.Contains(t, out, "removed directory "+sc.RunDir+"\n")
	assert.Contains(t, out, "removed lease 10.88.0.3 (container gone)\n")
	assert.NoDirExists(t, sc.RunDir)
	assert.NoDirExists(t, filepath.Join(sc.StateDir, "containers", "dead1"))
	assert.NoFileExists(t, filepath.Join(sc.StateDir, "network", "leases.json"), "the last lease takes the file with it")
	assert.FileExists(t, filepath.Join(sc.StateDir, "images", "test", "manifest.json"))
	assert.FileExists(t, filepath.Join(sc.StateDir, "layers", "sha256-abc", "bin", "busybox"))
	assert.FileExists(t, filepath.Join(sc.StateDir, "volumes", "data", "notes.txt"))

	out, problems = resetForTest(t, sc, false)
	assert.Zero(t, problems)
	assert.Equal(t, "nothing to clean\n", out)
}

func TestResetAllRemovesStateDir(t *testing.T) {
	sc := testScope(t)
	stateFixture(t, sc)
	sc.All = true
	out, problems := resetForTest(t, sc, false)
	assert.Zero(t, problems)
	assert.Contains(t, out, "removed directory "+sc.StateDir+" (--all: images, layers, volumes and container records)\n")
	assert.NotContains(t, out, "lease", "the leases go with the directory")
	assert.NoDirExists(t, sc.StateDir)
}

func TestRemoveTreeRefusesWhileMounted(t *testing.T) {
	sc := testScope(t)
	writeFile(t, filepath.Join(sc.RunDir, "c1", "rootfs", "etc", "hostname"), "box")
	sc.Mounts = func() ([]*mountinfo.Info, error) {
		return []*mountinfo.Info{{ID: 99, Mountpoint: filepath.Join(sc.RunDir, "c1", "rootfs"), FSType: "overlay"}}, nil
	}
	err := sc.removeTree(sc.RunDir)
	assert.ErrorContains(t, err, "still mounted")
	assert.FileExists(t, filepath.Join(sc.RunDir, "c1", "rootfs", "etc", "hostname"))
}

func TestStaleLeases(t *testing.T) {
	leases := map[string]string{"10.0.0.4": "b", "10.0.0.2": "a", "10.0.0.3": "c"}
	kept := func(id string) bool { return id == "c" }
	assert.Equal(t, []string{"10.0.0.2", "10.0.0.4"}, staleLeases(leases, kept))
	assert.Empty(t, staleLeases(map[string]string{}, kept))
}

func TestDropLeaseKeepsTheOthers(t *testing.T) {
	file := filepath.Join(t.TempDir(), "leases.json")
	writeFile(t, file, `{"10.0.0.2": "a", "10.0.0.3": "b"}`)
	require.NoError(t, dropLease(file, "10.0.0.2"))
	leases, err := readLeases(file)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"10.0.0.3": "b"}, leases)
	require.NoError(t, dropLease(file, "10.0.0.3"))
	assert.NoFileExists(t, file)
	require.NoError(t, dropLease(file, "10.0.0.3"), "dropping from a missing file is a no-op")
}

func TestCgroupFileMentions(t *testing.T) {
	v1 := "9:name=systemd:/\n8:pids:/boxlab/abc\n4:memory:/boxlab/abc\n0::/\n"
	assert.True(t, cgroupFileMentions(v1, "boxlab"))
	assert.False(t, cgroupFileMentions(v1, "boxlab/other"))
	assert.True(t, cgroupFileMentions("0::/boxlab/abc\n", "boxlab/abc"))
	assert.True(t, cgroupFileMentions("0::/user.slice/boxlab\n", "boxlab"), "a delegated subtree")
	assert.False(t, cgroupFileMentions("0::/boxlabx/abc\n", "boxlab"))
	assert.False(t, cgroupFileMentions("0::/system.slice/docker.service\n", "boxlab"))
}

func TestFindingLine(t *testing.T) {
	f := finding{verb: "remove", kind: "nftables table", what: "inet boxlab"}
	assert.Equal(t, "removed nftables table inet boxlab", f.line(false))
	assert.Equal(t, "would remove nftables table inet boxlab", f.line(true))
	k := finding{verb: "kill", kind: "process", what: "42", note: "(sh) in cgroup /sys/fs/cgroup/pids/boxlab/c1"}
	assert.Equal(t, "killed process 42 (sh) in cgroup /sys/fs/cgroup/pids/boxlab/c1", k.line(false))
}

// treeListing lists every path under dir, to compare before and after.
func treeListing(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	}))
	return paths
}

// --- privileged: real mounts, cgroups, links and tables -----------------

func requireRoot(t *testing.T) {
	t.Helper()
	if !isRoot() {
		t.Skip("needs root: creates mounts, cgroups, links and nftables tables")
	}
}

// testCgroupHierarchy picks where the test's cgroups go: the v2 root, or
// on v1 and hybrid hosts the pids hierarchy.
func testCgroupHierarchy(t *testing.T) string {
	t.Helper()
	layout, err := detectCgroupLayout(cgroupRoot, realStatfsMagic)
	if err != nil {
		t.Skipf("no cgroups: %v", err)
	}
	if layout == layoutV2 {
		return cgroupRoot
	}
	mounts, err := mountinfo.GetMounts(nil)
	require.NoError(t, err)
	for _, m := range cgroupMounts(mounts, nil) {
		if m.Version == 1 && slices.Contains(m.Controllers, "pids") {
			return m.Path
		}
	}
	t.Skip("no v1 pids hierarchy mounted")
	return ""
}

// mkdirCleanup makes dir (and parents) and, at cleanup, removes with
// rmdir (the only removal cgroupfs allows) each directory it created,
// deepest first. A directory that already existed is left alone.
func mkdirCleanup(t *testing.T, dir string) {
	t.Helper()
	var created []string
	for d := dir; !exists(d); d = filepath.Dir(d) {
		created = append(created, d)
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	t.Cleanup(func() {
		for _, d := range created {
			_ = unix.Rmdir(d) // already gone after a successful reset
		}
	})
}

func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"), "mount tmpfs %s", dir)
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
}

func isMounted(t *testing.T, dir string) bool {
	t.Helper()
	mounted, err := mountinfo.Mounted(dir)
	if os.IsNotExist(err) {
		return false
	}
	require.NoError(t, err)
	return mounted
}

// testLink adds a link that no traffic uses: a dummy where the kernel has
// the driver, a bridge where it does not (CONFIG_DUMMY is often off).
func testLink(t *testing.T, h *netlink.Handle, name string) {
	t.Helper()
	err := h.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name}})
	if err != nil {
		err = h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}})
	}
	require.NoError(t, err, "ip link add %s", name)
}

func linkExists(h *netlink.Handle, name string) bool {
	_, err := h.LinkByName(name)
	return err == nil
}

func tableNames(t *testing.T, c *nftables.Conn) []string {
	t.Helper()
	tables, err := c.ListTables()
	require.NoError(t, err)
	var names []string
	for _, tb := range tables {
		names = append(names, familyNames[tb.Family]+" "+tb.Name)
	}
	slices.Sort(names)
	return names
}

// victim is a process that blocks reading a pipe nobody writes to, placed
// in a cgroup: what a container left running by a crashed runtime looks like.
type victim struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the result of Wait, once done is closed
}

func startVictim(t *testing.T, cgroupDir string) *victim {
	t.Helper()
	v := &victim{cmd: exec.Command("cat"), done: make(chan struct{})}
	stdin, err := v.cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, v.cmd.Start())
	go func() { v.err = v.cmd.Wait(); close(v.done) }()
	t.Cleanup(func() {
		stdin.Close()
		v.cmd.Process.Kill()
		<-v.done // reaped before the cgroup cleanups rmdir
	})
	require.NoError(t, os.WriteFile(filepath.Join(cgroupDir, "cgroup.procs"), []byte(fmt.Sprint(v.pid())), 0))
	return v
}

func (v *victim) pid() int { return v.cmd.Process.Pid }

// requireKilled waits, within a generous bound, for the victim to die of SIGKILL.
func (v *victim) requireKilled(t *testing.T) {
	t.Helper()
	select {
	case <-v.done:
		assert.ErrorContains(t, v.err, "signal: killed")
	case <-time.After(10 * time.Second):
		t.Fatal("the process in the boxlab cgroup is still running")
	}
}

// TestResetCleansRealLeftovers makes one of each thing a crashed stage
// leaves (a process in a boxlab cgroup, nested mounts, cgroups, links, the
// nftables table, run and state directories) plus things that are not
// boxlab's, runs reset, and checks that exactly the first kind is gone.
// Links and tables live in a throwaway network namespace; mounts and
// cgroups are real, under names only this test uses.
func TestResetCleansRealLeftovers(t *testing.T) {
	requireRoot(t)
	id := fmt.Sprintf("test-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)

	// Directories: the run dir is a subdirectory of the real one, so the
	// mounts sit where a stage's would.
	sc := testScope(t)
	sc.RunDir = filepath.Join("/run/boxlab", id)
	mkdirCleanup(t, sc.RunDir)
	t.Cleanup(func() {
		if !isMounted(t, filepath.Join(sc.RunDir, "rootfs")) {
			os.RemoveAll(sc.RunDir)
		}
	})
	stateFixture(t, sc)

	// Mounts: a rootfs with a mount inside it, and one outside the lab.
	mountTmpfs(t, filepath.Join(sc.RunDir, "rootfs"))
	mountTmpfs(t, filepath.Join(sc.RunDir, "rootfs", "proc"))
	keepMount, err := os.MkdirTemp("/run", "labkeep-")
	require.NoError(t, err)
	t.Cleanup(func() { os.Remove(keepMount) })
	mountTmpfs(t, keepMount)

	// cgroups: boxlab/<id>/c1 with a process in it, and a sibling under
	// boxlab that belongs to someone else's scope.
	hier := testCgroupHierarchy(t)
	sc.CgroupParent = "boxlab/" + id
	cg := filepath.Join(hier, "boxlab", id, "c1")
	keepCg := filepath.Join(hier, "boxlab", id+"-keep")
	mkdirCleanup(t, cg)
	mkdirCleanup(t, keepCg)
	proc := startVictim(t, cg)
	writeRecord(t, filepath.Join(sc.StateDir, "containers", "running1"), proc.pid(), startTime(t, proc.pid()))
	_, running := containerRunning(filepath.Join(sc.StateDir, "containers", "running1"), sc.CgroupParent)
	require.True(t, running, "the victim counts as a running container")

	// Links and tables, in a namespace of their own.
	ns, err := newThrowawayNetns()
	require.NoError(t, err)
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	require.NoError(t, err)
	t.Cleanup(h.Close)
	testLink(t, h, "bxtest0")
	require.NoError(t, h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "bxtest1"}, PeerName: "bxtest2"}))
	testLink(t, h, "labkeep0")
	t.Cleanup(func() {
		if l, err := h.LinkByName("labkeep0"); err == nil {
			h.LinkDel(l)
		}
	})
	nft, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	require.NoError(t, err)
	nft.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "boxlab"})
	nft.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "boxlab"})
	keepTable := nft.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "keepme"})
	require.NoError(t, nft.Flush())
	t.Cleanup(func() { nft.DelTable(keepTable); nft.Flush() })
	sc.Links, sc.Nft = h, nft

	// A dry run reports and changes nothing.
	out, problems := resetForTest(t, sc, true)
	require.Zero(t, problems)
	for _, want := range []string{
		fmt.Sprintf("would kill process %d (cat) in cgroup %s\n", proc.pid(), cg),
		"would remove mount " + filepath.Join(sc.RunDir, "rootfs", "proc") + "\n",
		"would remove cgroup " + cg + "\n",
		"would remove link bxtest0\n",
		"would remove nftables table inet boxlab\n",
		"would remove directory " + sc.RunDir + "\n",
	} {
		assert.Contains(t, out, want)
	}
	assert.True(t, isMounted(t, filepath.Join(sc.RunDir, "rootfs", "proc")))
	assert.DirExists(t, cg)
	assert.True(t, linkExists(h, "bxtest0"))

	// The real thing.
	out, problems = resetForTest(t, sc, false)
	require.Zero(t, problems, out)
	mountProc := strings.Index(out, "removed mount "+filepath.Join(sc.RunDir, "rootfs", "proc")+"\n")
	mountRootfs := strings.Index(out, "removed mount "+filepath.Join(sc.RunDir, "rootfs")+"\n")
	assert.True(t, mountProc >= 0 && mountRootfs > mountProc, "the inner mount goes first")
	for _, want := range []string{
		fmt.Sprintf("killed process %d (cat) in cgroup %s\n", proc.pid(), cg),
		"removed cgroup " + cg + "\n",
		"removed cgroup " + filepath.Join(hier, "boxlab", id) + "\n",
		"removed link bxtest0\n",
		"removed link bxtest1\n", // bxtest2 went with it; it may or may not be listed
		"removed nftables table inet boxlab\n",
		"removed nftables table ip boxlab\n",
		"removed directory " + sc.RunDir + "\n",
		"removed directory " + filepath.Join(sc.StateDir, "containers", "running1") + "\n",
	} {
		assert.Contains(t, out, want)
	}

	proc.requireKilled(t)
	assert.False(t, isMounted(t, filepath.Join(sc.RunDir, "rootfs", "proc")))
	assert.False(t, isMounted(t, filepath.Join(sc.RunDir, "rootfs")))
	assert.NoDirExists(t, sc.RunDir)
	assert.NoDirExists(t, filepath.Join(hier, "boxlab", id))
	assert.NoDirExists(t, filepath.Join(sc.StateDir, "containers", "running1"))
	assert.FileExists(t, filepath.Join(sc.StateDir, "volumes", "data", "notes.txt"))
	for _, name := range []string{"bxtest0", "bxtest1", "bxtest2"} {
		assert.False(t, linkExists(h, name), name)
	}
	assert.Equal(t, []string{"inet keepme"}, tableNames(t, nft))

	// What is not boxlab's is untouched.
	assert.True(t, linkExists(h, "labkeep0"))
	assert.True(t, isMounted(t, keepMount))
	assert.DirExists(t, keepCg)

	out, problems = resetForTest(t, sc, false)
	assert.Zero(t, problems)
	assert.Equal(t, "nothing to clean\n", out)
}

// A frozen cgroup is thawed before its processes are killed: a task frozen
// by the v1 freezer does not act on SIGKILL until it is thawed.
func TestResetThawsFrozenCgroup(t *testing.T) {
	requireRoot(t)
	layout, err := detectCgroupLayout(cgroupRoot, realStatfsMagic)
	if err != nil {
		t.Skipf("no cgroups: %v", err)
	}
	var hier, stateFile, frozen, thawed string
	if layout == layoutV2 {
		hier, stateFile, frozen, thawed = cgroupRoot, "cgroup.freeze", "1", "0"
	} else {
		mounts, err := mountinfo.GetMounts(nil)
		require.NoError(t, err)
		for _, m := range cgroupMounts(mounts, nil) {
			if m.Version == 1 && slices.Contains(m.Controllers, "freezer") {
				hier = m.Path
			}
		}
		if hier == "" {
			t.Skip("no v1 freezer hierarchy mounted")
		}
		stateFile, frozen, thawed = "freezer.state", "FROZEN", "THAWED"
	}
	id := fmt.Sprintf("test-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	sc := testScope(t)
	sc.CgroupParent = "boxlab/" + id
	cg := filepath.Join(hier, "boxlab", id, "c1")
	mkdirCleanup(t, cg)
	if _, err := os.Stat(filepath.Join(cg, stateFile)); err != nil {
		t.Skipf("no %s: %v", stateFile, err)
	}

	proc := startVictim(t, cg)
	// Runs before the victim's cleanup (cleanups run last first), so a
	// failed test does not leave a frozen process behind.
	t.Cleanup(func() { os.WriteFile(filepath.Join(cg, stateFile), []byte(thawed), 0) })
	require.NoError(t, os.WriteFile(filepath.Join(cg, stateFile), []byte(frozen), 0))

	out, problems := resetForTest(t, sc, false)
	require.Zero(t, problems, out)
	assert.Contains(t, out, "thawed cgroup "+cg+"\n")
	assert.Contains(t, out, "removed cgroup "+cg+"\n")
	proc.requireKilled(t)
	assert.NoDirExists(t, filepath.Join(hier, "boxlab", id))
}
