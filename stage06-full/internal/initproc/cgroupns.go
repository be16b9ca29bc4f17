package initproc

// The cgroup namespace (cgroup_namespaces(7)) makes the container's own
// cgroup look like the root: /proc/self/cgroup inside says "0::/" instead of
// "0::/boxlab/ID", and a cgroup filesystem mounted inside shows only the
// container's subtree, its limits at the top.
//
// A cgroup namespace's root is the cgroup its first process is in when the
// namespace is made. The init starts in the runtime's cgroup and is moved
// by create after clone(2), so CLONE_NEWCGROUP in the clone flags would
// root the namespace in the runtime's cgroup, not the container's. Instead,
// the init makes its cgroup namespace itself, with unshare(2), once its
// config has arrived: create sends it only after the move. (v2 could clone
// straight into the cgroup with CLONE_INTO_CGROUP, but v1 and hybrid hosts
// cannot; one way for all three is easier to follow.)
//
// Unlike mount and user namespaces, a cgroup namespace may be unshared by a
// running Go program, but unshare(2) changes only the calling thread. So
// the init keeps its main goroutine on the main thread from the start
// (init below) and unshares, mounts and execs the command from it: the
// command inherits that thread's namespaces. (Carried from stage05's
// cgroupns.go.)

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

func init() {
	// Called in an init function, LockOSThread keeps main() on the main
	// thread (see runtime.LockOSThread).
	if len(os.Args) == 2 && os.Args[1] == Command {
		runtime.LockOSThread()
	}
}

// enterCgroupNamespace makes the cgroup the init is in now the root of its
// view of the cgroup trees, when the config asks for a cgroup namespace.
// See cgroup_namespaces(7), unshare(2) and "The cgroup namespace" in
// ../stage03-cgroups/README.md.
func enterCgroupNamespace(want bool) error {
	if !want {
		return nil
	}
	explain("unshare(CLONE_NEWCGROUP): the container's cgroup becomes / in its view", "unshare --cgroup")
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("unshare cgroup namespace: %w", err)
	}
	return nil
}
