package main

// cgroup v1: one tree (hierarchy) per controller, or per group of
// controllers mounted together ("cpu,cpuacct"). A container's cgroup is a
// directory of the same name in each tree, and the process joins each one.
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
	// "cpu,cpuacct"), to the container's directory in it.
	dirs map[string]string
	// unified is the container's cgroup in the empty v2 tree of a hybrid
	// host: joined, so that the namespace shows "0::/", but holding no
	// controller.
	unified *cgroupV2
}

// newCgroupV1 is the cgroup NAME under boxlab in each hierarchy that holds
// one of our controllers. Co-mounted controllers share one directory.
func newCgroupV1(mounts map[string]string, name string) *cgroupV1 {
	byMount := map[string][]string{} // mountpoint -> its controllers we know
	for ctrl, point := range mounts {
		byMount[point] = append(byMount[point], ctrl)
	}
	c := &cgroupV1{dirs: map[string]string{}}
	for point, ctrls := range byMount {
		if !slices.ContainsFunc(ctrls, func(s string) bool { return slices.Contains(ourControllers, s) }) {
			continue // devices, blkio ...: not boxlab's business here
		}
		slices.Sort(ctrls)
		c.dirs[strings.Join(ctrls, ",")] = filepath.Join(point, cgroupParent, name)
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

// create makes boxlab/NAME in every hierarchy. cpuset is the odd one: a new
// v1 cpuset cgroup starts with no CPUs and no memory nodes, and no process
// can join it until both are set, so they are copied from the parent.
func (c *cgroupV1) create() error {
	for _, h := range c.hierarchies() {
		dir := c.dirs[h]
		if err := mkdirCgroup(filepath.Dir(dir), true); err != nil {
			return err
		}
		if err := mkdirCgroup(dir, false); err != nil {
			return err
		}
	}
	if cs := c.dir("cpuset"); cs != "" {
		// The parent first: boxlab inherits from the root, NAME from boxlab.
		for _, dir := range []string{filepath.Dir(cs), cs} {
			if err := copyFromParent(dir, "cpuset.cpus", "cpuset.mems"); err != nil {
				return err
			}
		}
	}
	if c.unified != nil {
		return c.unified.create()
	}
	return nil
}

// copyFromParent copies each file's value from the parent cgroup when dir
// has none yet.
//
// Exercise 7: A new v1 cpuset cgroup starts with empty cpuset.cpus and
// cpuset.mems: what happens when a process joins it like that, and where do
// the values come from? See cpuset(7) and the "v1, v2 and hybrid" table in
// ../stage03-cgroups/README.md.
// Graded by: TestCgroupV1Files, TestHostCgroupLifecycle, TestLimitsVisibleInside.
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

// setLimits writes each limit asked for into the container's directory in
// the hierarchy of its controller, through a limitWriter (cgroups.go),
// which stops at the first error. The order matters: the kernel refuses
// some values until others are in place.
//
// Exercise 9: Which v1 file, in which controller's hierarchy, takes each
// limit, and in which order must they be written so that the kernel accepts
// every one? See the "v1, v2 and hybrid" table in
// ../stage03-cgroups/README.md, cgroups(7), and the kernel's cgroup-v1
// memory.rst (memsw) and sched-bwc.rst (cfs_quota_us, cfs_period_us).
// Graded by: TestCgroupV1Files, TestHostCgroupLifecycle, TestMemoryLimit,
// TestForkBomb, TestCpusetPinning, TestCPUQuotaThrottles.
func (c *cgroupV1) setLimits(l limits) error {
	var w limitWriter
	if l.memory > 0 {
		w.write(c.dir("memory"), "memory.limit_in_bytes", strconv.FormatInt(l.memory, 10))
	}
	if l.memorySwap != 0 {
		// After memory: memsw (memory + swap) may never be below it.
		w.write(c.dir("memory"), "memory.memsw.limit_in_bytes", strconv.FormatInt(l.memorySwap, 10))
	}
	if l.cpuQuota > 0 {
		// The period first: the quota is measured in it.
		w.write(c.dir("cpu"), "cpu.cfs_period_us", strconv.Itoa(cpuPeriod))
		w.write(c.dir("cpu"), "cpu.cfs_quota_us", strconv.FormatInt(l.cpuQuota, 10))
	}
	if l.cpuShares > 0 {
		w.write(c.dir("cpu"), "cpu.shares", strconv.FormatInt(l.cpuShares, 10))
	}
	if len(l.cpuset) > 0 {
		w.write(c.dir("cpuset"), "cpuset.cpus", formatCPUList(l.cpuset))
	}
	if l.pids > 0 {
		w.write(c.dir("pids"), "pids.max", strconv.FormatInt(l.pids, 10))
	}
	return w.err
}

// join writes the pid into cgroup.procs of every hierarchy (and the v2
// tree of a hybrid host).
func (c *cgroupV1) join(pid int) error {
	for _, h := range c.hierarchies() {
		if err := joinCgroup(c.dirs[h], pid); err != nil {
			return err
		}
	}
	if c.unified != nil {
		return c.unified.join(pid)
	}
	return nil
}

// stats reads memory.usage_in_bytes and memory.max_usage_in_bytes (the
// peak), cpuacct.usage (nanoseconds) and pids.current. A missing hierarchy
// reads as -1: unknown.
func (c *cgroupV1) stats() (cgroupStats, error) {
	mem, cpu, pids := c.dir("memory"), c.dir("cpuacct"), c.dir("pids")
	u := cgroupStats{
		memoryCurrent: readOr(mem, "memory.usage_in_bytes"),
		memoryPeak:    readOr(mem, "memory.max_usage_in_bytes"),
		memoryLimit:   readOr(mem, "memory.limit_in_bytes"),
		pidsCurrent:   readOr(pids, "pids.current"),
		pidsLimit:     readOr(pids, "pids.max"),
		cpuUsec:       readOr(cpu, "cpuacct.usage"),
	}
	if u.cpuUsec > 0 {
		u.cpuUsec /= 1000
	}
	if u.memoryLimit >= unlimitedV1 {
		u.memoryLimit = -1 // v1 says "no limit" with a huge number
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

// oomKilled reads the oom_kill line of memory.oom_control (kernel 4.13 and
// later); on older kernels a memory.failcnt above zero is the best hint.
func (c *cgroupV1) oomKilled() bool {
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

// freeze writes FROZEN to freezer.state and waits until it reads FROZEN:
// it says FREEZING while processes are still being stopped. v1 sends no
// notification when it changes, so the file is polled on a short ticker.
// Without a v1 freezer, a hybrid host's v2 cgroup.freeze does the job.
func (c *cgroupV1) freeze() error { return c.setFreezer("FROZEN") }
func (c *cgroupV1) thaw() error   { return c.setFreezer("THAWED") }

func (c *cgroupV1) setFreezer(state string) error {
	dir := c.dir("freezer")
	if dir == "" && c.unified != nil {
		if state == "FROZEN" {
			return c.unified.freeze()
		}
		return c.unified.thaw()
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

// remove kills what is left, thaws it (a v1 frozen process cannot even
// die until thawed), and removes the directory in every hierarchy.
func (c *cgroupV1) remove() error {
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
		}
	}
	if c.unified != nil {
		if err := c.unified.remove(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (c *cgroupV1) record() cgroupRecord {
	r := cgroupRecord{Mode: "v1", Paths: maps.Clone(c.dirs)}
	if c.unified != nil {
		r.Mode = "hybrid"
		r.Paths["unified"] = c.unified.dir
	}
	return r
}

// mountsInside: one mount per hierarchy the container joined, as docker
// does, plus the v2 tree at /sys/fs/cgroup/unified on a hybrid host. The
// others are not mounted: the container is not in a cgroup of its own
// there, so its namespace root would be the host's cgroup.
func (c *cgroupV1) mountsInside() []cgroupfsSpec {
	var specs []cgroupfsSpec
	for _, h := range c.hierarchies() {
		specs = append(specs, cgroupfsSpec{controllers: h})
	}
	if c.unified != nil {
		specs = append(specs, cgroupfsSpec{v2: true, dir: "unified"})
	}
	return specs
}
