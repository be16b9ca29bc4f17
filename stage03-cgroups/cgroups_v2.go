package main

// cgroup v2: one tree, one directory per cgroup, every controller's files
// side by side in it. Two rules shape what the runtime does (see the
// kernel's Documentation/admin-guide/cgroup-v2.rst):
//
//   - A controller works in a cgroup only when its parent lists it in
//     cgroup.subtree_control, and the parent only when its own parent does,
//     up to the root. So every ancestor of the container's cgroup enables
//     the controllers for its children.
//   - No internal processes: a cgroup that enables controllers for its
//     children may not hold processes itself (the root is exempt). boxlab's
//     parent never holds one; the container's processes go into the leaf.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

type cgroupV2 struct {
	root        string   // where the cgroup2 hierarchy is mounted
	dir         string   // root/boxlab/NAME
	controllers []string // to enable for it: ours that the host offers
}

// newCgroupV2 is the cgroup NAME under root/boxlab, with those of our
// controllers that offered lists (none on a hybrid host's empty v2 tree).
func newCgroupV2(root, name string, offered map[string]bool) *cgroupV2 {
	c := &cgroupV2{root: root, dir: filepath.Join(root, cgroupParent, name)}
	for _, ctrl := range []string{"cpu", "cpuset", "memory", "pids"} {
		if offered[ctrl] {
			c.controllers = append(c.controllers, ctrl)
		}
	}
	return c
}

// create enables the controllers in every ancestor's cgroup.subtree_control,
// from the root down, then makes the container's cgroup.
func (c *cgroupV2) create() error {
	for _, dir := range c.ancestors() {
		if dir != c.root {
			if err := mkdirCgroup(dir, true); err != nil {
				return err
			}
		}
		if err := enableControllers(dir, c.controllers); err != nil {
			return err
		}
	}
	return mkdirCgroup(c.dir, false)
}

// ancestors lists root, root/boxlab, ... down to the container's parent.
func (c *cgroupV2) ancestors() []string {
	rel, err := filepath.Rel(c.root, filepath.Dir(c.dir))
	if err != nil || rel == "." {
		return []string{c.root}
	}
	dirs := []string{c.root}
	for _, part := range strings.Split(rel, "/") {
		dirs = append(dirs, filepath.Join(dirs[len(dirs)-1], part))
	}
	return dirs
}

// enableControllers writes "+cpu +memory ..." to dir's cgroup.subtree_control
// for the controllers not yet enabled there: a cgroup already set up (the
// root, usually, by systemd) is left as it is.
//
// Exercise 6: On v2, which file of every ancestor hands a controller down to
// its children, what do you write to it, and why may the boxlab parent never
// hold a process itself? See the kernel's cgroup-v2.rst ("Enabling and
// Disabling", "No Internal Process Constraint") and "Two v2 rules" in
// ../stage03-cgroups/README.md.
// Graded by: TestCgroupV2SubtreeControl, TestHostV2Tree.
func enableControllers(dir string, controllers []string) error {
	enabled, _ := readCgroupFile(dir, "cgroup.subtree_control")
	var add []string
	for _, c := range controllers {
		if !slices.Contains(strings.Fields(enabled), c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	err := writeCgroupFile(dir, "cgroup.subtree_control", strings.Join(add, " "))
	if errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("%w: %s holds processes of its own, and cgroup v2 lets only a cgroup without processes hand controllers to its children (the no-internal-process rule)", err, dir)
	}
	return err
}

// setLimits writes each limit asked for into the container's cgroup, one
// file per flag, through a limitWriter (cgroups.go), which stops at the
// first error. A limit not asked for is not written: the kernel's default
// stays ("max", the parent's CPUs). sharesToWeight (limits.go) converts
// --cpu-shares as runc does.
//
// Exercise 8: Which v2 file takes each limit, and in what form: what does
// cpu.max hold, and how do docker's --memory-swap (memory plus swap) and
// --cpu-shares (v1 shares) become what v2 counts? See the "v1, v2 and
// hybrid" table in ../stage03-cgroups/README.md, and the interface files of
// the memory, cpu, cpuset and pids controllers in the kernel's
// cgroup-v2.rst.
// Graded by: TestCgroupV2Files, TestHostCgroupLifecycle, TestMemoryLimit,
// TestForkBomb, TestCpusetPinning, TestCPUQuotaThrottles.
func (c *cgroupV2) setLimits(l limits) error {
	var w limitWriter
	if l.memory > 0 {
		w.write(c.dir, "memory.max", strconv.FormatInt(l.memory, 10))
	}
	if l.memorySwap > 0 {
		// v2 limits swap alone; docker's --memory-swap is memory + swap.
		w.write(c.dir, "memory.swap.max", strconv.FormatInt(l.memorySwap-l.memory, 10))
	}
	if l.memorySwap < 0 {
		w.write(c.dir, "memory.swap.max", "max") // -1: no swap limit
	}
	if l.cpuQuota > 0 {
		w.write(c.dir, "cpu.max", fmt.Sprintf("%d %d", l.cpuQuota, cpuPeriod))
	}
	if l.cpuShares > 0 {
		w.write(c.dir, "cpu.weight", strconv.FormatInt(sharesToWeight(l.cpuShares), 10))
	}
	if len(l.cpuset) > 0 {
		w.write(c.dir, "cpuset.cpus", formatCPUList(l.cpuset))
	}
	if l.pids > 0 {
		w.write(c.dir, "pids.max", strconv.FormatInt(l.pids, 10))
	}
	return w.err
}

func (c *cgroupV2) join(pid int) error { return joinCgroup(c.dir, pid) }

// stats reads memory.current, memory.peak (kernel 5.19 and later), the
// usage_usec line of cpu.stat (there even without the cpu controller) and
// pids.current. A file that is missing reads as -1: unknown.
func (c *cgroupV2) stats() (cgroupStats, error) {
	u := cgroupStats{
		memoryCurrent: readOr(c.dir, "memory.current"),
		memoryPeak:    readOr(c.dir, "memory.peak"),
		memoryLimit:   readOr(c.dir, "memory.max"),
		pidsCurrent:   readOr(c.dir, "pids.current"),
		pidsLimit:     readOr(c.dir, "pids.max"),
		cpuUsec:       -1,
	}
	if n, err := readCgroupKey(c.dir, "cpu.stat", "usage_usec"); err == nil {
		u.cpuUsec = n
	}
	_, err := os.Stat(c.dir)
	return u, err
}

// oomKilled reads the oom_kill count of memory.events.
func (c *cgroupV2) oomKilled() bool {
	n, err := readCgroupKey(c.dir, "memory.events", "oom_kill")
	return err == nil && n > 0
}

// freeze writes 1 to cgroup.freeze, then waits for cgroup.events to say
// "frozen 1": the write only asks; the kernel stops each process at its
// next return to user space.
func (c *cgroupV2) freeze() error { return c.setFrozen("1") }
func (c *cgroupV2) thaw() error   { return c.setFrozen("0") }

func (c *cgroupV2) setFrozen(v string) error {
	if err := writeCgroupFile(c.dir, "cgroup.freeze", v); err != nil {
		return err
	}
	return waitCgroupEvent(c.dir, "frozen", v)
}

// remove kills what is left (cgroup.kill, kernel 5.14 and later, kills a
// whole cgroup at once, frozen or not), then removes the directory. The
// boxlab parent stays: another container may be using it.
func (c *cgroupV2) remove() error {
	if n, err := readCgroupKey(c.dir, "cgroup.events", "populated"); err == nil && n > 0 {
		if _, err := os.Stat(filepath.Join(c.dir, "cgroup.kill")); err == nil {
			_ = writeCgroupFile(c.dir, "cgroup.kill", "1")
		}
	}
	return removeCgroupDir(c.dir)
}

func (c *cgroupV2) record() cgroupRecord {
	return cgroupRecord{Mode: "v2", Paths: map[string]string{"unified": c.dir}}
}

// mountsInside: on v2 the container mounts its one tree at /sys/fs/cgroup.
func (c *cgroupV2) mountsInside() []cgroupfsSpec { return []cgroupfsSpec{{v2: true}} }

// waitCgroupEvent waits until cgroup.events has the line "KEY VALUE". The
// kernel signals a change of that file as an inotify(7) modify event, so
// this sleeps in poll(2) until something happens, bounded by freezeTimeout.
// The watch is set before the first read, so no change is missed.
//
// Exercise 11: After 1 is written to cgroup.freeze, how do you know the
// kernel has frozen every process, and how do you wait for it without
// sleeping? See cgroup-v2.rst (cgroup.freeze, cgroup.events), inotify(7) and
// poll(2), and "Pause and resume" in ../stage03-cgroups/README.md.
// Graded by: TestCgroupV2FreezeWaitsForEvent, TestCgroupEventWaitDoesNotPoll,
// TestHostV2Tree.
func waitCgroupEvent(dir, key, value string) error {
	file := filepath.Join(dir, "cgroup.events")
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify_init1: %w", err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, file, unix.IN_MODIFY); err != nil {
		return fmt.Errorf("inotify_add_watch %s: %w", file, err)
	}
	deadline := time.Now().Add(freezeTimeout)
	for {
		n, err := readCgroupKey(dir, "cgroup.events", key)
		if err != nil {
			return err
		}
		if strconv.FormatInt(n, 10) == value {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%s still says %q %d after %v", file, key, n, freezeTimeout)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(left.Milliseconds())+1); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll inotify: %w", err)
		}
		buf := make([]byte, 4096)
		_, _ = unix.Read(fd, buf) // drain the events; the loop rereads the file
	}
}
