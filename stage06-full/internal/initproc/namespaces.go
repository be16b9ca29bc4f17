package initproc

import (
	"fmt"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cloneFlags are the clone(2) flags that give the init the namespaces of
// linux.namespaces. New namespaces come from the clone of the re-exec, not
// from unshare(2) in this process: a Go program has threads before main
// runs, and the kernel refuses a multi-threaded unshare of a mount or user
// namespace (unshare(2), EINVAL).
var cloneFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace:     syscall.CLONE_NEWPID,
	specs.NetworkNamespace: syscall.CLONE_NEWNET,
	specs.MountNamespace:   syscall.CLONE_NEWNS,
	specs.IPCNamespace:     syscall.CLONE_NEWIPC,
	specs.UTSNamespace:     syscall.CLONE_NEWUTS,
	// Not a clone flag: a cgroup namespace is rooted at the cgroup its
	// first process is in, and the init is moved into the container's
	// cgroup only after clone. The init unshares it itself (cgroupns.go).
	specs.CgroupNamespace: 0,
}

// CloneFlags turns linux.namespaces into clone flags. A namespace with a
// path (join an existing one, setns(2)) is refused for now: joining needs
// setns before the Go runtime starts its threads, which is internal/nsenter's
// work, still to come. So is the user namespace (its id maps).
func CloneFlags(nss []specs.LinuxNamespace) (uintptr, error) {
	var flags uintptr
	for i, ns := range nss {
		if ns.Path != "" {
			return 0, fmt.Errorf("linux.namespaces[%d]: joining the %s namespace %s is not supported yet: remove path to get a new %s namespace", i, ns.Type, ns.Path, ns.Type)
		}
		f, ok := cloneFlags[ns.Type]
		if !ok {
			return 0, fmt.Errorf("linux.namespaces[%d]: a %s namespace is not supported yet", i, ns.Type)
		}
		flags |= f
	}
	if flags&syscall.CLONE_NEWNS == 0 {
		// Without its own mount namespace the init's mounts and
		// pivot_root would be the host's.
		return 0, fmt.Errorf("linux.namespaces: no mount namespace: this runtime sets up the root in a mount namespace of the container's own; add {\"type\": \"mount\"}")
	}
	return flags, nil
}
