// Package initproc is the container's init: the process that the runtime
// starts in the container's new namespaces, which builds the container's
// root from the validated config.json, waits on the exec fifo until
// `start`, and then becomes the user's program with execve(2). runc's
// libcontainer calls it standard_init_linux.go; here it is stage05's
// init.go, pivot_root.go, mounts.go, dev.go, hostname.go, fds.go and
// exec.go, driven by the OCI config instead of docker's flags.
//
// The parent side (Spawn) is here too, so that both ends of each pipe are
// read in one package.
package initproc

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"boxlab/stage06-full/internal/cgroups"
	"boxlab/stage06-full/internal/security"
	"boxlab/stage06-full/internal/security/seccomp"
)

// Command is the hidden verb the runtime re-executes itself with to
// become a container's init: `/proc/self/exe init`. It takes no
// arguments: everything comes over the config pipe.
const Command = "init"

// Descriptors the init finds open, after stdin, stdout and stderr: the
// first and second of exec.Cmd's ExtraFiles.
const (
	configFd = 3 // read: the Config as JSON, then EOF
	syncFd   = 4 // write: "" at EOF when the root is ready, or the error
)

// FifoName is the exec fifo in the container's state directory, as runc's
// exec.fifo: the init blocks opening it for writing until `start` opens it
// for reading.
const FifoName = "exec.fifo"

// Config is what the runtime tells the init. The spec is the one the
// runtime validated, sent whole, so the init never reads the bundle
// itself (the bundle may change between create's checks and the init's
// reading; a pipe cannot).
type Config struct {
	Spec *specs.Spec `json:"spec"`
	// Rootfs is root.path made absolute against the bundle.
	Rootfs string `json:"rootfs"`
	// Bundle is the bundle directory, absolute: relative bind sources
	// are relative to it.
	Bundle string `json:"bundle"`
	// StateDir holds the exec fifo.
	StateDir string `json:"stateDir"`
	// HostMountNS is the runtime's mount namespace (the inode of
	// /proc/self/ns/mnt): the init refuses to set up a root in it.
	HostMountNS uint64 `json:"hostMountNS"`
	// CgroupNS: unshare a cgroup namespace once in the cgroup (linux.namespaces
	// has "cgroup"; see cgroupns.go).
	CgroupNS bool `json:"cgroupNS,omitempty"`
	// Cgroupfs is what a "cgroup" mount of the config mounts: the
	// container's cgroup filesystems (internal/cgroups).
	Cgroupfs []cgroups.Mount `json:"cgroupfs,omitempty"`

	// The init's own, not sent: process.capabilities as the sets this
	// kernel knows (nil: none given, the runtime's stay), read before
	// pivot_root (caps.go).
	caps    *security.Caps
	lastCap security.Capability
	// linux.seccomp compiled (seccomp.go), nil without one.
	seccomp *seccomp.Filter
}
