package cgroups

// cgroup v1: one tree (hierarchy) per controller, or per group of
// controllers mounted together ("cpu,cpuacct"). A container's cgroup is a
// directory of the same path in each tree, and the process joins each one.
// Every tree has its own file names for the same ideas: see the table in
// the README.

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

type cgroupV1 struct {
	// dirs maps each hierarchy, named by its controllers ("memory",
	// "cpu,cpuacct"), to the container's directory in it; roots to the
	// hierarchy's mountpoint.
	dirs, roots map[string]string
	// unified is the container's cgroup in the empty v2 tree of a hybrid
	// host: joined, so that the namespace shows "0::/", but holding no
	// controller.
	unified *cgroupV2
}

// newCgroupV1 is the cgroup at path in each hierarchy that holds one of
// our controllers. Co-mounted controllers share one directory.
func newCgroupV1(mounts map[string]string, path string) *cgroupV1 {
	byMount := map[string][]string{} // mountpoint -> its controllers we know
	for ctrl, point := range mounts {
		byMount[point] = append(byMount[point], ctrl)
	}
	c := &cgroupV1{dirs: map[string]string{}, roots: map[string]string{}}
	for point, ctrls := range byMount {
		if !slices.ContainsFunc(ctrls, func(s string) bool { return slices.Contains(ourControllers, s) }) {
			continue // devices, blkio ...: not boxlab's business here
		}
		slices.Sort(ctrls)
		name := strings.Join(ctrls, ",")
		c.dirs[name] = filepath.Join(point, path)
		c.roots[name] = point
	}
	return c
}

// dir is the container's directory in the hierarchy holding controller,
// or "" when the host has no such hierarchy.
func (c *cgroupV1) dir(controller string) string {
	for name, dir := range c.dirs {
		if slices.Contains(strings.Split(name, ","), controller) {
			return dir
		}
	}
	return ""
}

// hierarchies lists the hierarchy names in a stable order, for stable
// --explain output and mounts.
func (c *cgroupV1) hierarchies() []string { return slices.Sorted(maps.Keys(c.dirs)) }

// Create makes the path in every hierarchy, parents first. cpuset is the
// odd one: a new v1 cpuset cgroup starts with no CPUs and no memory nodes,
// and no process can join it until both are set, so they are copied from
// the parent, level by level.
func (c *cgroupV1) Create() error {
	for _, h := range c.hierarchies() {
		dir := c.dirs[h]
		for _, p := range ancestors(c.roots[h], dir)[1:] {
			if err := mkdirCgroup(p, true); err != nil {
				return err
			}
		}
		if err := mkdirCgroup(dir, false); err != nil {
			return err
		}
	}
	if cs := c.dir("cpuset"); cs != "" {
		// The parent first: boxlab inherits from the root, the
		// container from boxlab.
		root := c.roots[c.nameOf("cpuset")]
		for _, dir := range append(ancestors(root, cs)[1:], cs) {
			if err := copyFromParent(dir, "cpuset.cpus", "cpuset.mems"); err != nil {
				return err
			}
		}
	}
	if c.unified != nil {
		return c.unified.Create()
	}
	return nil
}

// nameOf is the name of the hierarchy holding controller.
func (c *cgroupV1) nameOf(controller string) string {
	for name := range c.dirs {
		if slices.Contains(strings.Split(name, ","), controller) {
			return name
		}
	}
	return ""
}

// copyFromParent copies each file's value from the parent cgroup when dir
// has none yet. A new v1 cpuset cgroup starts with empty cpuset.cpus and
// cpuset.mems, and a process cannot join it until both are set (cpuset(7):
// ENOSPC).
func copyFromParent(dir string, files ...string) error {
	for _, f := range files {
		if v, err := readCgroupFile(dir, f); err == nil && v != "" {
			continue
		}
		v, err := readCgroupFile(filepath.Dir(dir), f)
		if err != nil {
			return err
		}
		if err := writeCgroupFile(dir, f, v); err != nil {
			return err
		}
	}
	return nil
}

// SetLimits writes each limit asked for into the container's directory in
// the hierarchy of its controller, through a limitWriter (cgroups.go),
// which stops at the first error. The order matters: the kernel refuses
// some values until others are in place. v1 takes -1 for "no limit" in
// the memory and quota files, as the OCI config does.
//
// Which v1 file, in which controller's hierarchy, takes each limit: the
// "v1, v2 and hybrid" table in ../stage03-cgroups/README.md, cgroups(7),
// and the kernel's cgroup-v1 memory.rst (memsw) and sched-bwc.rst
// (cfs_quota_us, cfs_period_us).
func (c *cgroupV1) SetLimits(l Limits) error {
	var w limitWriter
	if l.memory != 0 {
		w.write(c.dir("memory"), "memory.limit_in_bytes", strconv.FormatInt(l.memory, 10))
	}
	if l.memorySwap > 0 || l.memorySwap == -1 && exists(c.dir("memory"), "memory.memsw.limit_in_bytes") {
		// After memory: memsw (memory + swap) may never be below it.
		// (-1 on a host that does not account swap has nothing to lift.)
		w.write(c.dir("memory"), "memory.memsw.limit_in_bytes", strconv.FormatInt(l.memorySwap, 10))
	}
	if l.memoryReservation != 0 {
		w.write(c.dir("memory"), "memory.soft_limit_in_bytes", strconv.FormatInt(l.memoryReservation, 10))
	}
	if l.cpuPeriod != 0 {
		// The period first: the quota is measured in it.
		w.write(c.dir("cpu"), "cpu.cfs_period_us", strconv.FormatUint(l.cpuPeriod, 10))
	}
	if l.cpuQuota != 0 {
		w.write(c.dir("cpu"), "cpu.cfs_quota_us", strconv.FormatInt(l.cpuQuota, 10))
	}
	if l.cpuShares != 0 {
		w.write(c.dir("cpu"), "cpu.shares", strconv.FormatUint(l.cpuShares, 10))
	}
	// mems before cpus would do as well: both were copied from the
	// parent by Create, so neither is ever empty.
	if len(l.cpus) > 0 {
		w.write(c.dir("cpuset"), "cpuset.cpus", formatCPUList(l.cpus))
	}
	if len(l.mems) > 0 {
		w.write(c.dir("cpuset"), "cpuset.mems", formatCPUList(l.mems))
	}
	if l.pids != 0 {
		w.write(c.dir("pids"), "pids.max", pidsMax(l.pids))
	}
	return w.err
}

// Join writes the pid into cgroup.procs of every hierarchy (and the v2
// tree of a hybrid host).
func (c *cgroupV1) Join(pid int) error {
	for _, h := range c.hierarchies() {
		if err := joinCgroup(c.dirs[h], pid); err != nil {
			return err
		}
	}
	if c.unified != nil {
		return c.unified.Join(pid)
	}
	return nil
}

// Stats reads memory.usage_in_bytes and memory.max_usage_in_bytes (the
// peak), cpuacct.usage (nanoseconds) and pids.current. A missing hierarchy
// reads as -1: unknown.
func (c *cgroupV1) Stats() (Stats, error) {
	mem, cpu, pids := c.dir("memory"), c.dir("cpuacct"), c.dir("pids")
	u := Stats{
		MemoryCurrent: readOr(mem, "memory.usage_in_bytes"),
		MemoryPeak:    readOr(mem, "memory.max_usage_in_bytes"),
		MemoryLimit:   readOr(mem, "memory.limit_in_bytes"),
		PidsCurrent:   readOr(pids, "pids.current"),
		PidsLimit:     readOr(pids, "pids.max"),
		CPUUsec:       readOr(cpu, "cpuacct.usage"),
	}
	if u.CPUUsec > 0 {
		u.CPUUsec /= 1000
	}
	if u.MemoryLimit >= unlimitedV1 {
		u.MemoryLimit = -1 // v1 says "no limit" with a huge number
	}
	var err error
	if len(c.dirs) == 0 {
		err = fmt.Errorf("no cgroup hierarchy to read")
	}
	return u, err
}

// unlimitedV1 is about where v1 memory.limit_in_bytes reads when unset
// (PAGE_COUNTER_MAX pages, 9223372036854771712 with 4 KiB pages).
const unlimitedV1 = 1 << 62

// OOMKilled reads the oom_kill line of memory.oom_control (kernel 4.13 and
// later); on older kernels a memory.failcnt above zero is the best hint.
func (c *cgroupV1) OOMKilled() bool {
	mem := c.dir("memory")
	if mem == "" {
		return false
	}
	if n, err := readCgroupKey(mem, "memory.oom_control", "oom_kill"); err == nil {
		return n > 0
	}
	n, err := readCgroupInt(mem, "memory.failcnt")
	return err == nil && n > 0
}

// Freeze writes FROZEN to freezer.state and waits until it reads FROZEN:
// it says FREEZING while processes are still being stopped. v1 sends no
// notification when it changes, so the file is polled on a short ticker.
// Without a v1 freezer, a hybrid host's v2 cgroup.freeze does the job.
func (c *cgroupV1) Freeze() error { return c.setFreezer("FROZEN") }
func (c *cgroupV1) Thaw() error   { return c.setFreezer("THAWED") }

func (c *cgroupV1) setFreezer(state string) error {
	dir := c.dir("freezer")
	if dir == "" && c.unified != nil {
		if state == "FROZEN" {
			return c.unified.Freeze()
		}
		return c.unified.Thaw()
	}
	if dir == "" {
		return fmt.Errorf("this host has no freezer cgroup hierarchy: run 'lab doctor'")
	}
	if err := writeCgroupFile(dir, "freezer.state", state); err != nil {
		return err
	}
	deadline := time.Now().Add(freezeTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		now, err := readCgroupFile(dir, "freezer.state")
		if err != nil || now == state {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still reads %s after %v", filepath.Join(dir, "freezer.state"), now, freezeTimeout)
		}
		<-tick.C
	}
}

// Remove kills what is left, thaws it (a v1 frozen process cannot even
// die until thawed), and removes the directory in every hierarchy, with
// the parents it made under boxlab when they are empty.
func (c *cgroupV1) Remove() error {
	var first error
	for _, h := range c.hierarchies() {
		killCgroupProcs(c.dirs[h])
	}
	if dir := c.dir("freezer"); dir != "" {
		if state, err := readCgroupFile(dir, "freezer.state"); err == nil && state != "THAWED" {
			_ = writeCgroupFile(dir, "freezer.state", "THAWED")
		}
	}
	for _, h := range c.hierarchies() {
		if err := removeCgroupDir(c.dirs[h]); err != nil && first == nil {
			first = err
		} else if err == nil {
			pruneParents(c.roots[h], c.dirs[h])
		}
	}
	if c.unified != nil {
		if err := c.unified.Remove(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Mounts: one mount per hierarchy the container joined, as docker does,
// plus the v2 tree at /sys/fs/cgroup/unified on a hybrid host. The others
// are not mounted: the container is not in a cgroup of its own there, so
// they would show the host's. In a cgroup namespace each is a fresh
// mount, whose root is the container's cgroup; without one a fresh mount
// would show the whole host tree, so the container's own directory is
// bound instead, as runc does.
func (c *cgroupV1) Mounts(cgroupns bool) []Mount {
	var ms []Mount
	for _, h := range c.hierarchies() {
		m := Mount{Controllers: h, Dir: h}
		if !cgroupns {
			m.Bind = c.dirs[h]
		}
		ms = append(ms, m)
	}
	if c.unified != nil {
		m := Mount{V2: true, Dir: "unified"}
		if !cgroupns {
			m.Bind = c.unified.dir
		}
		ms = append(ms, m)
	}
	return ms
}
