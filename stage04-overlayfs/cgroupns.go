package main

// The cgroup namespace (cgroup_namespaces(7)) makes the container's own
// cgroup look like the root: /proc/self/cgroup inside says "0::/" instead of
// "0::/boxlab/NAME", and a cgroup filesystem mounted inside shows only the
// container's subtree, its limits at the top.
//
// A cgroup namespace's root is the cgroup its first process is in when the
// namespace is made. Our child starts in the runtime's cgroup and is moved
// by the parent after clone(2), so CLONE_NEWCGROUP in the clone flags would
// root the namespace in the runtime's cgroup, not the container's. Instead,
// the child makes its cgroup namespace itself, with unshare(2), once the
// parent has said over the pipe that it is in place. (v2 could clone
// straight into the cgroup with CLONE_INTO_CGROUP, but v1 and hybrid hosts
// cannot; one way for all three is easier to follow.)
//
// Unlike mount and user namespaces, a cgroup namespace may be unshared by a
// running Go program, but unshare(2) changes only the calling thread. So
// the container's process keeps its main goroutine on the main thread from
// the start (init below) and unshares, mounts and execs the command from
// it: the command inherits that thread's namespaces.

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

func init() {
	// Called in an init function, LockOSThread keeps main() on the main
	// thread (see runtime.LockOSThread).
	if len(os.Args) > 1 && os.Args[1] == initCommand {
		runtime.LockOSThread()
	}
}

// enterCgroupNamespace makes the cgroup the process is in now the root of
// its view of the cgroup trees. A container without a cgroup of its own
// (rootless: nothing to mount) keeps the namespace it was born in.
//
// Exercise 12: Which system call gives the child a cgroup namespace rooted
// at the cgroup it is in now, and why can't CLONE_NEWCGROUP simply go in the
// clone flags? See cgroup_namespaces(7), unshare(2) and "The cgroup
// namespace" in ../stage03-cgroups/README.md.
// Graded by: TestCgroupNamespaceRoot, TestNamespacesDiffer.
func enterCgroupNamespace(cgroupfs []cgroupfsSpec) error {
	if len(cgroupfs) == 0 {
		return nil
	}
	explain("unshare(CLONE_NEWCGROUP): the container's cgroup becomes / in its view", "unshare --cgroup")
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("unshare cgroup namespace: %w", err)
	}
	return nil
}

// A cgroupfsSpec is one cgroup filesystem the container mounts under
// /sys/fs/cgroup: a v1 hierarchy named by its controllers, or the v2 tree
// (at /sys/fs/cgroup itself, or at /sys/fs/cgroup/unified on a hybrid host).
type cgroupfsSpec struct {
	v2          bool
	controllers string // v1: "memory", "cpu,cpuacct"
	dir         string // v2: "" or "unified"
}

// String is the spec as the parent passes it to the child on the command
// line: "cgroup2", "cgroup2:unified", "cgroup:cpu,cpuacct".
func (s cgroupfsSpec) String() string {
	switch {
	case s.v2 && s.dir == "":
		return "cgroup2"
	case s.v2:
		return "cgroup2:" + s.dir
	}
	return "cgroup:" + s.controllers
}

// dirName is where the spec is mounted under /sys/fs/cgroup.
func (s cgroupfsSpec) dirName() string {
	if s.v2 {
		return s.dir
	}
	return s.controllers
}

// parseCgroupfsSpecs reads init's --cgroupfs: specs separated by spaces.
func parseCgroupfsSpecs(s string) ([]cgroupfsSpec, error) {
	var specs []cgroupfsSpec
	for _, f := range strings.Fields(s) {
		spec, err := parseCgroupfsSpec(f)
		if err != nil {
			return nil, err
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

// parseCgroupfsSpec reads a spec written by String.
func parseCgroupfsSpec(s string) (cgroupfsSpec, error) {
	kind, arg, _ := strings.Cut(s, ":")
	switch {
	case kind == "cgroup2" && !strings.Contains(arg, "/"):
		return cgroupfsSpec{v2: true, dir: arg}, nil
	case kind == "cgroup" && arg != "" && !strings.ContainsAny(arg, "/ "):
		return cgroupfsSpec{controllers: arg}, nil
	}
	return cgroupfsSpec{}, fmt.Errorf("bad cgroup mount spec %q", s)
}
