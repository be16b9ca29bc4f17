package spec

// The field table: every field of config.json (runtime-spec config.md and
// config-linux.md), what this runtime does with it, and why. It is the one
// place that says so. A field is
//
//   - accepted: the core carries it out; Owner names the package that
//     does (or will, while the stage is under construction: see README);
//   - warned about: accepted, not carried out, and said so on stderr;
//     crun does this for AppArmor and SELinux labels on a host without
//     them, and a runtime without either is such a host;
//   - refused: Validate fails and names it. A field a runtime ignores
//     silently is a promise broken without a word (a memory policy not
//     applied, a time offset not set), so anything not implemented is
//     refused by name, with what to do.
//
// An entry covers its field and everything under it unless a deeper entry
// says otherwise. TestEveryFieldIsInTheTable walks the specs-go types, so
// a runtime-spec upgrade that adds a field fails the tests until the new
// field has its row.

// Verdict is what Validate does with a field that is set.
type Verdict int

const (
	Accept Verdict = iota
	Warn
	Refuse
)

func (v Verdict) String() string {
	return [...]string{"accept", "warn", "refuse"}[v]
}

// Field is one row of the table.
type Field struct {
	Path    string  // JSON path, "linux.resources.hugepageLimits"
	Verdict Verdict // what a set value gets
	Owner   string  // accepted: the package that carries it out
	Why     string  // refused or warned: why, and what to do instead
}

// Fields is the table, in config.md's order.
var Fields = []Field{
	{Path: "ociVersion", Owner: "internal/spec", Why: "checked: major version 1"},
	{Path: "root", Owner: "internal/initproc"},
	{Path: "hostname", Owner: "internal/initproc"},
	{Path: "domainname", Owner: "internal/initproc"},
	{Path: "mounts.destination", Owner: "internal/initproc"},
	{Path: "mounts.type", Owner: "internal/initproc"},
	{Path: "mounts.source", Owner: "internal/initproc"},
	{Path: "mounts.options", Owner: "internal/initproc"},
	{Path: "mounts.uidMappings", Verdict: Refuse,
		Why: "id-mapped mounts (mount_setattr(2) MOUNT_ATTR_IDMAP) are not implemented: chown the source, or map the container with linux.uidMappings"},
	{Path: "mounts.gidMappings", Verdict: Refuse,
		Why: "id-mapped mounts (mount_setattr(2) MOUNT_ATTR_IDMAP) are not implemented: chown the source, or map the container with linux.gidMappings"},

	{Path: "process.terminal", Verdict: Refuse, Owner: "internal/console",
		Why: "a terminal needs --console-socket and a pty, not implemented yet (internal/console, to come): set terminal to false"},
	{Path: "process.consoleSize", Verdict: Refuse, Owner: "internal/console",
		Why: "a console size needs a terminal, not implemented yet (internal/console, to come): remove it"},
	{Path: "process.user.uid", Owner: "internal/initproc"},
	{Path: "process.user.gid", Owner: "internal/initproc"},
	{Path: "process.user.umask", Owner: "internal/initproc"},
	{Path: "process.user.additionalGids", Owner: "internal/initproc"},
	{Path: "process.user.username", Verdict: Refuse,
		Why: "a Windows field: on Linux the user is process.user.uid and gid"},
	{Path: "process.args", Owner: "internal/initproc"},
	{Path: "process.commandLine", Verdict: Refuse,
		Why: "a Windows field: on Linux the command is process.args"},
	{Path: "process.env", Owner: "internal/initproc"},
	{Path: "process.cwd", Owner: "internal/initproc"},
	{Path: "process.capabilities", Owner: "internal/security",
		Why: "checked: capabilities(7) names, effective within permitted, inheritable within bounding, ambient within both; one the kernel does not know is skipped with a warning, as runc does"},
	{Path: "process.rlimits", Owner: "internal/initproc"},
	{Path: "process.noNewPrivileges", Owner: "internal/security"},
	{Path: "process.apparmorProfile", Verdict: Warn,
		Why: "this runtime does not load AppArmor profiles: the container runs unconfined by AppArmor"},
	{Path: "process.oomScoreAdj", Owner: "internal/initproc"},
	{Path: "process.scheduler", Verdict: Refuse,
		Why: "scheduling policies (sched_setattr(2)) are not implemented: remove process.scheduler, or set a nice value from inside the container"},
	{Path: "process.selinuxLabel", Verdict: Warn,
		Why: "this runtime does not apply SELinux labels: the container runs with the runtime's own context"},
	{Path: "process.ioPriority", Verdict: Refuse,
		Why: "I/O priorities (ioprio_set(2)) are not implemented: remove process.ioPriority, or run ionice(1) inside the container"},
	{Path: "process.execCPUAffinity", Verdict: Refuse,
		Why: "CPU affinity of the process (sched_setaffinity(2)) is not implemented: use linux.resources.cpu.cpus, the cpuset cgroup"},

	{Path: "hooks", Verdict: Refuse, Owner: "internal/hooks",
		Why: "hooks are not implemented yet (internal/hooks, to come): remove hooks, or run the commands yourself around create and start"},
	{Path: "annotations", Owner: "internal/container", Why: "kept in the state, as the runtime-spec's state.md asks"},

	{Path: "linux.uidMappings", Verdict: Refuse, Owner: "internal/initproc",
		Why: "user namespaces and their id maps are not implemented yet (internal/initproc, to come): remove the user namespace and the mappings"},
	{Path: "linux.gidMappings", Verdict: Refuse, Owner: "internal/initproc",
		Why: "user namespaces and their id maps are not implemented yet (internal/initproc, to come): remove the user namespace and the mappings"},
	{Path: "linux.sysctl", Verdict: Refuse, Owner: "internal/initproc",
		Why: "sysctls are not implemented yet (internal/initproc, to come): remove linux.sysctl"},
	{Path: "linux.resources.devices", Verdict: Warn, Owner: "internal/cgroups",
		Why: "the devices cgroup is not implemented yet (internal/cgroups, to come): nothing stops the container from opening a device node; only the default ones (null, zero, full, random, urandom, tty) are in its /dev"},
	{Path: "linux.resources.memory.limit", Owner: "internal/cgroups"},
	{Path: "linux.resources.memory.reservation", Owner: "internal/cgroups"},
	{Path: "linux.resources.memory.swap", Owner: "internal/cgroups"},
	{Path: "linux.resources.memory.swappiness", Verdict: Refuse,
		Why: "memory.swappiness is cgroup v1 only and not implemented: remove linux.resources.memory.swappiness"},
	{Path: "linux.resources.memory.disableOOMKiller", Verdict: Refuse,
		Why: "turning the OOM killer off (memory.oom_control) is cgroup v1 only and not implemented: remove linux.resources.memory.disableOOMKiller"},
	{Path: "linux.resources.memory.kernel", Verdict: Refuse,
		Why: "kernel memory limits are deprecated since Linux 5.4 and gone from cgroup v2: remove it; linux.resources.memory.limit counts kernel memory too"},
	{Path: "linux.resources.memory.kernelTCP", Verdict: Refuse,
		Why: "the TCP buffer limit (memory.kmem.tcp.limit_in_bytes) is cgroup v1 only and not implemented: remove it"},
	{Path: "linux.resources.memory.useHierarchy", Verdict: Refuse,
		Why: "memory.use_hierarchy is always on since Linux 5.11 (cgroup v1) and has no cgroup v2 file: remove it"},
	{Path: "linux.resources.memory.checkBeforeUpdate", Verdict: Refuse,
		Why: "checking usage before an update lowers a limit is not implemented: remove it"},
	{Path: "linux.resources.cpu.shares", Owner: "internal/cgroups"},
	{Path: "linux.resources.cpu.quota", Owner: "internal/cgroups"},
	{Path: "linux.resources.cpu.period", Owner: "internal/cgroups"},
	{Path: "linux.resources.cpu.cpus", Owner: "internal/cgroups"},
	{Path: "linux.resources.cpu.mems", Owner: "internal/cgroups"},
	{Path: "linux.resources.cpu.burst", Verdict: Refuse,
		Why: "CPU burst (cgroup v2 cpu.max.burst) is not implemented: remove it"},
	{Path: "linux.resources.cpu.realtimeRuntime", Verdict: Refuse,
		Why: "real-time CPU time (cpu.rt_runtime_us, cgroup v1 only) is not implemented: remove it"},
	{Path: "linux.resources.cpu.realtimePeriod", Verdict: Refuse,
		Why: "real-time CPU periods (cpu.rt_period_us, cgroup v1 only) are not implemented: remove it"},
	{Path: "linux.resources.cpu.idle", Verdict: Refuse,
		Why: "SCHED_IDLE for a cgroup (cgroup v2 cpu.idle) is not implemented: remove it, or lower linux.resources.cpu.shares"},
	{Path: "linux.resources.pids", Owner: "internal/cgroups"},
	{Path: "linux.resources.blockIO", Verdict: Refuse,
		Why: "block I/O weights and throttling (the io and blkio controllers) are not implemented: remove linux.resources.blockIO"},
	{Path: "linux.resources.hugepageLimits", Verdict: Refuse,
		Why: "the hugetlb controller is not implemented: remove linux.resources.hugepageLimits"},
	{Path: "linux.resources.network", Verdict: Refuse,
		Why: "net_cls and net_prio are cgroup v1 only and not implemented: remove linux.resources.network"},
	{Path: "linux.resources.rdma", Verdict: Refuse,
		Why: "the rdma controller is not implemented: remove linux.resources.rdma"},
	{Path: "linux.resources.unified", Owner: "internal/cgroups", Why: "cgroup v2 hosts only: refused on v1 and hybrid"},
	{Path: "linux.cgroupsPath", Owner: "internal/cgroups", Why: "runc's cgroupfs reading: absolute from the root of the cgroup trees, relative under boxlab; systemd's slice:prefix:name refused"},
	{Path: "linux.namespaces", Owner: "internal/initproc", Why: "checked: known types, once each"},
	{Path: "linux.devices", Verdict: Refuse, Owner: "internal/initproc",
		Why: "device nodes beyond the default ones are not implemented yet (internal/initproc, to come): remove linux.devices"},
	{Path: "linux.netDevices", Verdict: Refuse,
		Why: "moving host network devices into the container is not implemented: remove linux.netDevices"},
	{Path: "linux.seccomp", Owner: "internal/security/seccomp",
		Why: "compiled to classic BPF for x86_64 (no libseccomp); checked: actions, comparisons, flags, at most 4096 instructions; a name x86_64 lacks is skipped, as libseccomp does; notify agents (listenerPath, SCMP_ACT_NOTIFY) refused"},
	{Path: "linux.rootfsPropagation", Verdict: Refuse, Owner: "internal/initproc",
		Why: "the root's propagation is always private here; setting it is not implemented yet (internal/initproc, to come): remove linux.rootfsPropagation"},
	{Path: "linux.maskedPaths", Owner: "internal/initproc"},
	{Path: "linux.readonlyPaths", Owner: "internal/initproc"},
	{Path: "linux.mountLabel", Verdict: Warn,
		Why: "this runtime does not apply SELinux labels: mounts keep their default context"},
	{Path: "linux.intelRdt", Verdict: Refuse,
		Why: "Intel RDT (resctrl cache and memory bandwidth allocation) is not implemented: remove linux.intelRdt"},
	{Path: "linux.memoryPolicy", Verdict: Refuse,
		Why: "NUMA memory policies (set_mempolicy(2)) are not implemented: remove it, or use linux.resources.cpu.mems"},
	{Path: "linux.personality", Verdict: Refuse,
		Why: "execution domains (personality(2), e.g. LINUX32) are not implemented: remove linux.personality"},
	{Path: "linux.timeOffsets", Verdict: Refuse,
		Why: "time namespaces (time_namespaces(7)) are not implemented: remove linux.timeOffsets"},

	{Path: "solaris", Verdict: Refuse, Why: "a Solaris zone's settings: this runtime runs Linux containers only"},
	{Path: "windows", Verdict: Refuse, Why: "a Windows container's settings: this runtime runs Linux containers only"},
	{Path: "vm", Verdict: Refuse, Why: "a virtual machine's settings, for runtimes such as Kata: this runtime runs containers, not VMs"},
	{Path: "zos", Verdict: Refuse, Why: "z/OS settings: this runtime runs Linux containers only"},
	{Path: "freebsd", Verdict: Refuse, Why: "FreeBSD jail settings: this runtime runs Linux containers only"},
}
