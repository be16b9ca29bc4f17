// Package security holds the defences that make root in a container less
// than root on the host, each in a file of its own, as runc's
// libcontainer keeps capabilities/, seccomp/ and the rest apart. The init
// (internal/initproc) applies them last, just before execve(2); the
// checks that need no kernel (names, consistency) run in internal/spec's
// Validate before anything exists.
//
// capabilities.go: process.capabilities, the five capability sets of
// capabilities(7). Root's power is not one switch but some 41 (CAP_CHOWN,
// CAP_SYS_ADMIN, CAP_MKNOD, ...), and a process has five sets of them:
//
//   - bounding: the most it can ever have again; dropping one is for good
//     (prctl(2) PR_CAPBSET_DROP), and execve(2) never grants past it;
//   - permitted: what it may turn on;
//   - effective: what the kernel checks now;
//   - inheritable: what may pass through execve to a program whose file
//     capabilities ask for it;
//   - ambient: what passes through execve to any program, even a
//     non-root one without file capabilities (Linux 4.3).
package security

import (
	"fmt"
	"math/bits"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Capability is a capability's number, its bit in the sets
// (linux/capability.h).
type Capability int

// capNames are capabilities(7)'s, indexed by number: every capability
// this runtime knows. A newer kernel may know more (its
// /proc/sys/kernel/cap_last_cap is higher); an older one fewer.
var capNames = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
	"CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// LastKnown is the highest capability this runtime has a name for.
const LastKnown = Capability(len(capNames) - 1)

func (c Capability) String() string {
	if c >= 0 && c <= LastKnown {
		return capNames[c]
	}
	return "CAP_" + strconv.Itoa(int(c))
}

// ParseCapability reads a name as the runtime-spec writes it:
// capabilities(7)'s, "CAP_" and upper case.
func ParseCapability(name string) (Capability, error) {
	for i, n := range capNames {
		if n == name {
			return Capability(i), nil
		}
	}
	// docker's --cap-add takes "net_admin" too; config.json does not,
	// but the error can say what was meant.
	fixed := strings.ToUpper(name)
	if !strings.HasPrefix(fixed, "CAP_") {
		fixed = "CAP_" + fixed
	}
	for _, n := range capNames {
		if n == fixed {
			return -1, fmt.Errorf("%q is not a capability name: write it %s (capabilities(7))", name, n)
		}
	}
	return -1, fmt.Errorf("%q is not a capability (capabilities(7) names them CAP_CHOWN, CAP_NET_BIND_SERVICE, ...)", name)
}

// Set is a capability set as the kernel keeps it: bit n is capability n,
// the hex of /proc/PID/status's CapBnd, CapEff, ... lines.
type Set uint64

func (s Set) Has(c Capability) bool { return c >= 0 && c < 64 && s&(1<<c) != 0 }

// Hex is the set as /proc/PID/status shows it (and capsh --decode reads).
func (s Set) Hex() string { return fmt.Sprintf("%016x", uint64(s)) }

// String names the capabilities of the set, in number order.
func (s Set) String() string {
	var names []string
	for v := uint64(s); v != 0; v &= v - 1 {
		names = append(names, Capability(bits.TrailingZeros64(v)).String())
	}
	return strings.Join(names, ",")
}

// Caps are the five sets of process.capabilities, as numbers.
type Caps struct {
	Bounding, Effective, Inheritable, Permitted, Ambient Set
}

// LastCap is the highest capability the running kernel knows: a kernel
// older than this runtime knows fewer (CAP_BPF and CAP_PERFMON are Linux
// 5.8, CAP_CHECKPOINT_RESTORE 5.9).
func LastCap() (Capability, error) {
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return -1, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || n < 0 || n > 63 {
		return -1, fmt.Errorf("/proc/sys/kernel/cap_last_cap: %q is no capability number", data)
	}
	return Capability(n), nil
}

// FromSpec turns process.capabilities into the five sets, keeping only
// the capabilities the kernel knows (up to last): a config written for a
// newer kernel still runs, without what this one cannot give, as runc
// does. The names skipped come back, for a warning. A name that is no
// capability at all is an error (Validate refuses it before this).
//
// A set the object leaves out is empty. No object at all is nil: the
// runtime's own capabilities stay (runc does the same), see Apply.
func FromSpec(c *specs.LinuxCapabilities, last Capability) (caps *Caps, skipped []string, err error) {
	if c == nil {
		return nil, nil, nil
	}
	caps = &Caps{}
	seen := map[string]bool{}
	for _, set := range []struct {
		names []string
		into  *Set
	}{
		{c.Bounding, &caps.Bounding}, {c.Effective, &caps.Effective},
		{c.Inheritable, &caps.Inheritable}, {c.Permitted, &caps.Permitted},
		{c.Ambient, &caps.Ambient},
	} {
		for _, name := range set.names {
			n, err := ParseCapability(name)
			if err != nil {
				return nil, nil, err
			}
			if n > last {
				if !seen[name] {
					skipped = append(skipped, name)
					seen[name] = true
				}
				continue
			}
			*set.into |= 1 << n
		}
	}
	return caps, skipped, nil
}

// UnsupportedWarning is create's warning about the capabilities of
// process.capabilities that the running kernel does not know, or "".
func UnsupportedWarning(c *specs.LinuxCapabilities) (string, error) {
	last, err := LastCap()
	if err != nil {
		return "", fmt.Errorf("capabilities: %w", err)
	}
	_, skipped, err := FromSpec(c, last)
	if err != nil || len(skipped) == 0 {
		return "", err
	}
	return unsupportedWarning(skipped, last), nil
}

func unsupportedWarning(skipped []string, last Capability) string {
	return fmt.Sprintf("process.capabilities: %s unknown to this kernel (its last is %s, /proc/sys/kernel/cap_last_cap): skipped, as runc does; the container runs without them",
		strings.Join(skipped, ", "), last)
}

// The order matters, and is runc's (libcontainer/init_linux.go,
// finalizeNamespace): drop the bounding set while still root, keep the
// permitted set across setuid, become the user, then set the three sets
// and the ambient one. Every call acts on the calling thread only (the
// kernel's credentials are per thread), so they must run on the thread
// that calls execve: the init keeps its main goroutine on the main thread
// (internal/initproc/cgroupns.go).
//
//	caps.DropBounding(last)   prctl(PR_CAPBSET_DROP) for each one not listed
//	KeepCaps(true)            prctl(PR_SET_KEEPCAPS, 1)
//	setgroups, setgid, setuid (internal/initproc)
//	KeepCaps(false)
//	caps.Apply()              capset(2), then PR_CAP_AMBIENT
//
// Why setuid in the middle: setuid(2) from uid 0 to another uid empties
// the permitted and effective sets unless PR_SET_KEEPCAPS is on, and a
// set once emptied cannot be filled again; and the bounding set can only
// be dropped while CAP_SETPCAP is effective, which the user may not keep.

// DropBounding drops from the bounding set every capability up to last
// that Bounding does not list (prctl(2) PR_CAPBSET_DROP). Nothing can
// raise them again, in this process or any it execs.
func (c *Caps) DropBounding(last Capability) error {
	if c == nil {
		return nil
	}
	for n := Capability(0); n <= last; n++ {
		if c.Bounding.Has(n) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(n), 0, 0, 0); err != nil {
			return fmt.Errorf("prctl PR_CAPBSET_DROP %s: %w", n, err)
		}
	}
	return nil
}

// KeepCaps turns PR_SET_KEEPCAPS on or off (prctl(2)): on, setuid(2)
// away from uid 0 keeps the permitted set (the effective one is emptied
// all the same, and Apply sets it).
func KeepCaps(on bool) error {
	v := uintptr(0)
	if on {
		v = 1
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, v, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_KEEPCAPS %d: %w", v, err)
	}
	return nil
}

// Apply sets the effective, permitted and inheritable sets with capset(2)
// (version 3: two 32-bit words per set), then the ambient set: cleared,
// and each listed capability raised (prctl(2) PR_CAP_AMBIENT), which the
// kernel allows only for one both permitted and inheritable. A nil Caps
// (no process.capabilities) changes nothing.
func (c *Caps) Apply() error {
	if c == nil {
		return nil
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3} // Pid 0: this thread
	data := [2]unix.CapUserData{
		{Effective: uint32(c.Effective), Permitted: uint32(c.Permitted), Inheritable: uint32(c.Inheritable)},
		{Effective: uint32(c.Effective >> 32), Permitted: uint32(c.Permitted >> 32), Inheritable: uint32(c.Inheritable >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset effective=%s permitted=%s inheritable=%s: %w", c.Effective.Hex(), c.Permitted.Hex(), c.Inheritable.Hex(), err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_CAP_AMBIENT_CLEAR_ALL: %w", err)
	}
	for v := uint64(c.Ambient); v != 0; v &= v - 1 {
		n := Capability(bits.TrailingZeros64(v))
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(n), 0, 0); err != nil {
			return fmt.Errorf("prctl PR_CAP_AMBIENT_RAISE %s: %w", n, err)
		}
	}
	return nil
}
