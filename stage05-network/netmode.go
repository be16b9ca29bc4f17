package main

import (
	"fmt"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// --network picks where the container's network namespace comes from, as
// docker's four modes do:
//
//	bridge         a new namespace, wired to the bridge with a veth pair (the default)
//	none           a new namespace with only lo: no way out
//	host           no new namespace: the host's interfaces, addresses and ports,
//	               and the power to change them (the least isolated mode)
//	container:NAME the namespace of a running container: same interfaces, same
//	               address, same localhost; the two talk over 127.0.0.1

type netModeKind string

const (
	netBridge    netModeKind = "bridge"
	netNone      netModeKind = "none"
	netHost      netModeKind = "host"
	netContainer netModeKind = "container"
)

// netMode is a parsed --network.
type netMode struct {
	kind      netModeKind
	container string // the NAME of container:NAME
}

// parseNetworkSpec reads --network; "" is the default, bridge.
func parseNetworkSpec(s string) (netMode, error) {
	switch s {
	case "", "bridge", "default":
		return netMode{kind: netBridge}, nil
	case "none", "host":
		return netMode{kind: netModeKind(s)}, nil
	}
	if name, ok := strings.CutPrefix(s, "container:"); ok {
		if name == "" || strings.ContainsAny(name, "/ \t\n:") {
			return netMode{}, fmt.Errorf("--network %q: want container:NAME or container:ID", s)
		}
		return netMode{kind: netContainer, container: name}, nil
	}
	return netMode{}, fmt.Errorf("--network %q: want bridge, none, host or container:NAME", s)
}

func (m netMode) String() string {
	if m.kind == netContainer {
		return "container:" + m.container
	}
	return string(m.kind)
}

// netCloneFlags is the network's part of the child's clone flags: a new
// namespace for bridge and none, none for host (the child stays in the
// runtime's) and container (the child is started inside the other
// container's namespace, see startInNetns).
func (m netMode) netCloneFlags() uintptr {
	if m.kind == netBridge || m.kind == netNone {
		return syscall.CLONE_NEWNET
	}
	return 0
}

// ownsNetns says whether the child's namespace is new, so that the child
// brings up lo itself (host's and the other container's are up already,
// and not ours to change).
func (m netMode) ownsNetns() bool { return m.netCloneFlags() != 0 }

// checkBridgeFlags refuses -p and --ip where they mean nothing: only
// bridge mode has an address of its own behind the host.
func (m netMode) checkBridgeFlags(ports []portSpec, ip netip.Addr) error {
	if m.kind == netBridge {
		return nil
	}
	if len(ports) > 0 {
		return fmt.Errorf("-p needs --network bridge: in --network %s there is no container address to forward to", m)
	}
	if ip.IsValid() {
		return fmt.Errorf("--ip needs --network bridge: --network %s gives the container no address of its own", m)
	}
	return nil
}

// containerNetns opens the network namespace of a running container, for
// container:NAME. lookup is the stage's: it finds NAME's record and returns
// the pid of its init if it runs. The namespace is held by the returned
// handle (a file descriptor of /proc/PID/ns/net): if that container exits
// now, the namespace stays as long as the handle is open.
func containerNetns(m netMode, lookup func(name string) (pid int, err error)) (netns.NsHandle, error) {
	pid, err := lookup(m.container)
	if err != nil {
		return netns.None(), fmt.Errorf("--network %s: %w", m, err)
	}
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return netns.None(), fmt.Errorf("--network %s: open /proc/%d/ns/net: %w (is the container still running?)", m, pid, err)
	}
	return ns, nil
}

// inNetns runs f on an OS thread that has entered the network namespace
// ns. A network namespace, unlike a mount or user one, may be entered by
// one thread of a multi-threaded process (setns(2)): the namespace belongs
// to the thread. The goroutine locks its thread, enters, runs f, and ends
// without unlocking, so the Go runtime ends that thread instead of
// handing it, still inside ns, to other goroutines.
func inNetns(ns netns.NsHandle, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := enterNetns(ns); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

// enterNetns moves the calling thread, locked to its goroutine, into the
// network namespace ns.
func enterNetns(ns netns.NsHandle) error {
	if err := unix.Setns(int(ns), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns %s CLONE_NEWNET: %w", ns, err)
	}
	return nil
}

// startInNetns starts cmd so that the child is born in the network
// namespace ns, for container:NAME. There is no "setns before exec" in
// SysProcAttr, and the re-executed init cannot setns early enough either
// (it would have to before its mounts: sysfs shows the namespace of the
// task that mounts it). But clone(2) copies the namespaces of the calling
// thread, so: lock a thread, setns it into ns, start the child from it
// (leaving CLONE_NEWNET out of its flags), and every thread the child
// ever has is in ns from its first instruction.
//
// startPinned (netrun.go) starts the child from a locked thread that
// outlives it, and lets enter move that thread into ns first.
func startInNetns(cmd *exec.Cmd, ns netns.NsHandle) (wait func() error, err error) {
	wait, err = startPinned(cmd, func() error { return enterNetns(ns) })
	if err != nil {
		return nil, err
	}
	explain("clone() from a thread that entered the other container's network namespace: the child is born in it",
		"nsenter --net=/proc/<pid of that container>/ns/net unshare --uts --pid --mount --ipc --fork ...")
	return wait, nil
}
