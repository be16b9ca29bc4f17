package cgroups

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
	"maps"
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
	dir         string   // root + the container's path
	controllers []string // to enable for it: ours that the host offers
}

// newCgroupV2 is the cgroup at path under root, with those of our
// controllers that offered lists (none on a hybrid host's empty v2 tree).
func newCgroupV2(root, path string, offered map[string]bool) *cgroupV2 {
	c := &cgroupV2{root: root, dir: filepath.Join(root, path)}
	for _, ctrl := range []string{"cpu", "cpuset", "memory", "pids"} {
		if offered[ctrl] {
			c.controllers = append(c.controllers, ctrl)
		}
	}
	return c
}

// Create enables the controllers in every ancestor's cgroup.subtree_control,
// from the root down, then makes the container's cgroup.
func (c *cgroupV2) Create() error {
	for _, dir := range ancestors(c.root, c.dir) {
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

// enableControllers writes "+cpu +memory ..." to dir's cgroup.subtree_control
// for the controllers not yet enabled there: a cgroup already set up (the
// root, usually, by systemd) is left as it is. The boxlab parent may never
// hold a process itself: see the kernel's cgroup-v2.rst ("Enabling and
// Disabling", "No Internal Process Constraint") and "Two v2 rules" in
// ../stage03-cgroups/README.md.
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

// SetLimits writes each limit asked for into the container's cgroup, one
// file per field, through a limitWriter (cgroups.go), which stops at the
// first error. A limit not asked for is not written: the kernel's default
// stays ("max", the parent's CPUs). The OCI config speaks v1: its -1 is
// v2's "max", its swap is memory plus swap (swapV2 takes the memory off),
// its shares are v1 cpu.shares (sharesToWeight, as runc converts them).
//
// Which v2 file takes each limit, and in what form: the "v1, v2 and
// hybrid" table in ../stage03-cgroups/README.md, and the interface files
// of the memory, cpu, cpuset and pids controllers in the kernel's
// cgroup-v2.rst.
func (c *cgroupV2) SetLimits(l Limits) error {
	var w limitWriter
	if l.memory != 0 {
		w.write(c.dir, "memory.max", maxOr(l.memory))
	}
	// -1 on a host that does not account swap has nothing to lift.
	if swap := swapV2(l.memorySwap, l.memory); swap > 0 || swap == -1 && exists(c.dir, "memory.swap.max") {
		w.write(c.dir, "memory.swap.max", maxOr(swap))
	}
	if l.memoryReservation != 0 {
		w.write(c.dir, "memory.low", maxOr(l.memoryReservation))
	}
	if l.cpuQuota != 0 || l.cpuPeriod != 0 {
		w.write(c.dir, "cpu.max", cpuMax(l.cpuQuota, l.cpuPeriod))
	}
	if l.cpuShares != 0 {
		w.write(c.dir, "cpu.weight", strconv.FormatUint(sharesToWeight(l.cpuShares), 10))
	}
	if len(l.cpus) > 0 {
		w.write(c.dir, "cpuset.cpus", formatCPUList(l.cpus))
	}
	if len(l.mems) > 0 {
		w.write(c.dir, "cpuset.mems", formatCPUList(l.mems))
	}
	if l.pids != 0 {
		w.write(c.dir, "pids.max", pidsMax(l.pids))
	}
	// linux.resources.unified last, as runc writes it: a file named
	// there overrides what the fields above wrote.
	for _, k := range slices.Sorted(maps.Keys(l.unified)) {
		w.write(c.dir, k, l.unified[k])
	}
	return w.err
}

func (c *cgroupV2) Join(pid int) error { return joinCgroup(c.dir, pid) }

// Stats reads memory.current, memory.peak (kernel 5.19 and later), the
// usage_usec line of cpu.stat (there even without the cpu controller) and
// pids.current. A file that is missing reads as -1: unknown.
func (c *cgroupV2) Stats() (Stats, error) {
	u := Stats{
		MemoryCurrent: readOr(c.dir, "memory.current"),
		MemoryPeak:    readOr(c.dir, "memory.peak"),
		MemoryLimit:   readOr(c.dir, "memory.max"),
		PidsCurrent:   readOr(c.dir, "pids.current"),
		PidsLimit:     readOr(c.dir, "pids.max"),
		CPUUsec:       -1,
	}
	if n, err := readCgroupKey(c.dir, "cpu.stat", "usage_usec"); err == nil {
		u.CPUUsec = n
	}
	_, err := os.Stat(c.dir)
	return u, err
}

// OOMKilled reads the oom_kill count of memory.events.
func (c *cgroupV2) OOMKilled() bool {
	n, err := readCgroupKey(c.dir, "memory.events", "oom_kill")
	return err == nil && n > 0
}

// Freeze writes 1 to cgroup.freeze, then waits for cgroup.events to say
// "frozen 1": the write only asks; the kernel stops each process at its
// next return to user space.
func (c *cgroupV2) Freeze() error { return c.setFrozen("1") }
func (c *cgroupV2) Thaw() error   { return c.setFrozen("0") }

func (c *cgroupV2) setFrozen(v string) error {
	if err := writeCgroupFile(c.dir, "cgroup.freeze", v); err != nil {
		return err
	}
	return waitCgroupEvent(c.dir, "frozen", v)
}

// Remove kills what is left (cgroup.kill, kernel 5.14 and later, kills a
// whole cgroup at once, frozen or not), then removes the directory and the
// parents it made under boxlab when they are empty. The boxlab parent
// stays: another container may be using it.
func (c *cgroupV2) Remove() error {
	if n, err := readCgroupKey(c.dir, "cgroup.events", "populated"); err == nil && n > 0 {
		if _, err := os.Stat(filepath.Join(c.dir, "cgroup.kill")); err == nil {
			_ = writeCgroupFile(c.dir, "cgroup.kill", "1")
		}
	}
	if err := removeCgroupDir(c.dir); err != nil {
		return err
	}
	pruneParents(c.root, c.dir)
	return nil
}

// Mounts: on v2 the container mounts its one tree, cgroup2, fresh: in a
// cgroup namespace its root is the container's cgroup; without one it is
// the host's whole tree (read-only, as runc mounts it too).
func (c *cgroupV2) Mounts(cgroupns bool) []Mount { return []Mount{{V2: true}} }

// waitCgroupEvent waits until cgroup.events has the line "KEY VALUE". The
// kernel signals a change of that file as an inotify(7) modify event, so
// this sleeps in poll(2) until something happens, bounded by freezeTimeout.
// The watch is set before the first read, so no change is missed. (How to
// know the kernel has frozen every process without sleeping: cgroup-v2.rst,
// cgroup.freeze and cgroup.events; inotify(7); poll(2).)
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
