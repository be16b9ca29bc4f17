// Package spec builds, reads and checks an OCI bundle's config.json, the
// contract between a container manager (docker, containerd, podman) and the
// runtime: the runtime-spec's config.md, in the Go types of
// github.com/opencontainers/runtime-spec/specs-go.
//
// Everything a container is (its namespaces, mounts, limits, process) is
// decided here, on paper, before anything is created: the rest of the
// runtime only carries out a config that Validate accepted.
package spec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"boxlab/stage06-full/internal/security/seccomp"
)

// Default is the config.json that `stage06-full spec` writes: runc's
// (libcontainer/specconv/example.go, what `runc spec` prints), with three
// changes: docker's capabilities instead of runc's three, docker's
// seccomp profile (runc's example has none), and terminal false, so that the default bundle runs with plain pipes and needs no
// --console-socket (runtime-spec config.md: "terminal ... attaches a
// terminal"; runc-spec(8)). runc also adds a cgroup namespace
// when the host has cgroup v2 only; Default does not look at the host, so
// the same command prints the same file everywhere.
func Default() *specs.Spec {
	return &specs.Spec{
		Version: specs.Version,
		// A relative root path is relative to the bundle (config.md,
		// "Root"); read-only so that a container cannot change the
		// rootfs a student unpacked by hand.
		Root: &specs.Root{Path: "rootfs", Readonly: true},
		Process: &specs.Process{
			Terminal: false,
			Args:     []string{"sh"},
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd: "/",
			// no_new_privs (prctl(2) PR_SET_NO_NEW_PRIVS): a setuid
			// binary inside cannot gain what the container lacks.
			NoNewPrivileges: true,
			// docker's fourteen (runc's example has three): what
			// images expect of root (chown, setuid to a user, bind
			// port 80, ping), nothing that reaches the host's kernel
			// (no CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_MODULE,
			// CAP_SYS_PTRACE); capabilities(7). Ambient and
			// inheritable stay empty, so an exec'd program gains
			// nothing from them.
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  defaultCaps(),
				Permitted: defaultCaps(),
				Effective: defaultCaps(),
			},
			Rlimits: []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}, // getrlimit(2)
			},
		},
		Hostname: "boxlab",
		Mounts:   defaultMounts(),
		Linux: &specs.Linux{
			MaskedPaths:   MaskedPaths(),
			ReadonlyPaths: ReadonlyPaths(),
			Resources: &specs.LinuxResources{
				// Deny every device in the devices cgroup; the
				// runtime then allows the few a container needs
				// (/dev/null, zero, full, random, urandom, tty,
				// ptmx), as runc does.
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
			// docker's default seccomp profile for docker's
			// capabilities: some 370 calls allowed, the rest
			// EPERM (kexec_load, open_by_handle_at, unshare and
			// mount without CAP_SYS_ADMIN, ...).
			Seccomp: dockerSeccomp(),
		},
	}
}

// dockerSeccomp is docker's default profile
// (github.com/moby/profiles/seccomp) for defaultCaps. Its one rule that
// depends on the kernel asks for Linux 4.8, older than any this runtime
// runs on, so the file is the same on every host.
func dockerSeccomp() *specs.LinuxSeccomp {
	s, err := seccomp.Docker(&specs.LinuxCapabilities{Bounding: defaultCaps()})
	if err != nil {
		// Only uname(2) failing can make it fail.
		panic("docker's seccomp profile: " + err.Error())
	}
	return s
}

// defaultCaps are docker's default set (moby's oci/caps/defaults.go), in
// its order: 00000000a80425fb in /proc/self/status.
func defaultCaps() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
		"CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
		"CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
		"CAP_KILL", "CAP_AUDIT_WRITE",
	}
}

// defaultMounts are docker's and runc's: what a program expects to find
// in a Linux root. Each type is a file system of its own (proc(5),
// tmpfs(5), devpts, mq_overview(7), sysfs(5), cgroups(7)), mounted fresh
// inside the container's mount namespace rather than bound from the host.
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		// /dev is a small tmpfs the runtime fills with device nodes,
		// never the host's /dev.
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		// newinstance: a devpts of the container's own, so it sees only
		// its own ptys; gid=5 is the tty group of most images.
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
			Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
			Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue",
			Options: []string{"nosuid", "noexec", "nodev"}},
		// sysfs and the cgroup tree read-only: a container may look at
		// its devices and limits, not change the host's.
		{Destination: "/sys", Type: "sysfs", Source: "sysfs",
			Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
			Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
	}
}

// MaskedPaths are runc's: files of /proc and /sys that leak the host
// (kcore is its memory, keys its keyrings, timer_list and sched_debug
// other processes' timing) or let a process poke its hardware. The
// runtime hides each one by mounting /dev/null (a file) or an empty
// read-only tmpfs (a directory) over it.
func MaskedPaths() []string {
	return []string{
		"/proc/acpi",
		"/proc/asound",
		"/proc/kcore",
		"/proc/keys",
		"/proc/latency_stats",
		"/proc/timer_list",
		"/proc/timer_stats",
		"/proc/sched_debug",
		"/sys/firmware",
		"/proc/scsi",
	}
}

// ReadonlyPaths are runc's: the parts of /proc through which a process
// could change the whole machine (/proc/sys is sysctl(8),
// /proc/sysrq-trigger reboots it) are bound read-only over themselves.
func ReadonlyPaths() []string {
	return []string{
		"/proc/bus",
		"/proc/fs",
		"/proc/irq",
		"/proc/sys",
		"/proc/sysrq-trigger",
	}
}
