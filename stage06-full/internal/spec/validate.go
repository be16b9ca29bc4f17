package spec

import (
	"fmt"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"boxlab/stage06-full/internal/security"
	"boxlab/stage06-full/internal/security/seccomp"
)

// Error is every problem Validate found, one per line, each naming the
// field by its JSON path: a student fixing a config by hand fixes them all
// in one go instead of one per run.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	return "invalid " + ConfigName + ":\n  " + strings.Join(e.Problems, "\n  ")
}

// Validate checks a config before anything is created from it. It
// returns warnings for fields accepted but not carried out (see Fields)
// and an *Error listing every problem, or nil.
func Validate(s *specs.Spec) (warnings []string, err error) {
	if s == nil {
		return nil, &Error{[]string{"the config is empty (null)"}}
	}
	var p problems
	checkVersion(&p, s.Version)
	checkRoot(&p, s.Root)
	checkProcess(&p, s.Process)
	for i, m := range s.Mounts {
		at := fmt.Sprintf("mounts[%d]", i)
		switch {
		case m.Destination == "":
			p.add(at+".destination", "missing: every mount needs the absolute path it is mounted on, inside the container")
		case !path.IsAbs(m.Destination):
			p.add(at+".destination", "%q is relative: write it as an absolute path inside the container, %q", m.Destination, "/"+m.Destination)
		}
	}
	if s.Linux != nil {
		checkLinux(&p, s)
	}
	v := reflect.ValueOf(s).Elem()
	for _, f := range Fields {
		if f.Verdict == Accept {
			continue
		}
		for _, at := range setAt(v, f.Path) {
			if f.Verdict == Warn {
				warnings = append(warnings, at+": "+f.Why)
			} else {
				p.add(at, "not supported: %s", f.Why)
			}
		}
	}
	if len(p) > 0 {
		return warnings, &Error{p}
	}
	return warnings, nil
}

type problems []string

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

// checkVersion accepts any 1.x.y: config.md promises that a minor version
// only adds fields, and a field this runtime does not know is refused by
// Load by name, so a newer minor is safe to read.
func checkVersion(p *problems, v string) {
	if v == "" {
		p.add("ociVersion", "missing: set it to %q", specs.Version)
		return
	}
	major, _, _ := strings.Cut(v, ".")
	if n, err := strconv.Atoi(major); err != nil || n != specs.VersionMajor {
		p.add("ociVersion", "%q is not a version 1 config: this runtime reads runtime-spec 1.x (it is built against %s)", v, specs.Version)
	}
}

func checkRoot(p *problems, r *specs.Root) {
	// A relative path is relative to the bundle (config.md "Root").
	if r == nil || r.Path == "" {
		p.add("root.path", "missing: name the container's root file system, relative to the bundle (\"rootfs\") or absolute")
	}
}

// checkProcess: the runtime-spec makes process optional for create, but
// start must have it; this runtime refuses a container it can never start.
func checkProcess(p *problems, pr *specs.Process) {
	if pr == nil {
		p.add("process", "missing: a container needs a process to run (process.args, process.cwd)")
		return
	}
	switch {
	case len(pr.Args) == 0:
		p.add("process.args", "empty: name the program to run, e.g. [\"sh\"]")
	case pr.Args[0] == "":
		p.add("process.args[0]", "empty: name the program to run")
	}
	switch {
	case pr.Cwd == "":
		p.add("process.cwd", "missing: set the working directory, e.g. \"/\"")
	case !path.IsAbs(pr.Cwd):
		p.add("process.cwd", "%q is relative: config.md requires an absolute path", pr.Cwd)
	}
	for i, e := range pr.Env {
		if name, _, ok := strings.Cut(e, "="); !ok || name == "" {
			p.add(fmt.Sprintf("process.env[%d]", i), "%q is not NAME=VALUE", e)
		}
	}
	checkRlimits(p, pr.Rlimits)
	*p = append(*p, security.CheckCapabilities(pr.Capabilities)...)
}

// rlimits are the resources of getrlimit(2) that the runtime-spec allows.
var rlimits = []string{
	"RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE",
	"RLIMIT_LOCKS", "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
	"RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS", "RLIMIT_RTPRIO",
	"RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK",
}

func checkRlimits(p *problems, rs []specs.POSIXRlimit) {
	seen := map[string]bool{}
	for i, r := range rs {
		at := fmt.Sprintf("process.rlimits[%d]", i)
		switch {
		case !slices.Contains(rlimits, r.Type):
			p.add(at+".type", "%q is not a resource of getrlimit(2) (RLIMIT_NOFILE, RLIMIT_NPROC, ...)", r.Type)
		case seen[r.Type]:
			p.add(at+".type", "%s is set twice: config.md allows each resource once", r.Type)
		case r.Soft > r.Hard:
			p.add(at, "soft limit %d above hard limit %d: setrlimit(2) refuses that", r.Soft, r.Hard)
		}
		seen[r.Type] = true
	}
}

// namespaceTypes are config-linux.md's, with what this runtime does with
// each: "" when it makes (or joins) it, else why it refuses it.
var namespaceTypes = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace:     "",
	specs.NetworkNamespace: "",
	specs.MountNamespace:   "",
	specs.IPCNamespace:     "",
	specs.UTSNamespace:     "",
	specs.UserNamespace:    "",
	specs.CgroupNamespace:  "",
	specs.TimeNamespace:    "time namespaces (time_namespaces(7)) are not implemented: remove it",
}

func checkLinux(p *problems, s *specs.Spec) {
	l := s.Linux
	has := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range l.Namespaces {
		at := fmt.Sprintf("linux.namespaces[%d]", i)
		why, known := namespaceTypes[ns.Type]
		switch {
		case !known:
			p.add(at+".type", "%q is not a namespace type: use one of pid, network, mount, ipc, uts, user, cgroup", ns.Type)
		case why != "":
			p.add(at+".type", "%q: not supported: %s", ns.Type, why)
		case has[ns.Type]:
			p.add(at+".type", "%q is listed twice: config-linux.md allows each type once", ns.Type)
		}
		if ns.Path != "" && !path.IsAbs(ns.Path) {
			p.add(at+".path", "%q is relative: name the namespace to join by an absolute path, e.g. /proc/PID/ns/%s", ns.Path, ns.Type)
		}
		has[ns.Type] = true
	}
	// Without its own UTS namespace the container would rename the host
	// (sethostname(2) acts on the caller's UTS namespace).
	if s.Hostname != "" && !has[specs.UTSNamespace] {
		p.add("hostname", "set, but linux.namespaces has no uts namespace: setting it would rename the host; add {\"type\": \"uts\"} or remove hostname")
	}
	if s.Domainname != "" && !has[specs.UTSNamespace] {
		p.add("domainname", "set, but linux.namespaces has no uts namespace: add {\"type\": \"uts\"} or remove domainname")
	}
	userns := has[specs.UserNamespace]
	checkIDMappings(p, "linux.uidMappings", l.UIDMappings, userns)
	checkIDMappings(p, "linux.gidMappings", l.GIDMappings, userns)
	*p = append(*p, seccomp.Check(l.Seccomp)...)
	for i, m := range l.MaskedPaths {
		if !path.IsAbs(m) {
			p.add(fmt.Sprintf("linux.maskedPaths[%d]", i), "%q is relative: paths inside the container are absolute", m)
		}
	}
	for i, m := range l.ReadonlyPaths {
		if !path.IsAbs(m) {
			p.add(fmt.Sprintf("linux.readonlyPaths[%d]", i), "%q is relative: paths inside the container are absolute", m)
		}
	}
}

// maxIDMapLines is the kernel's limit on the lines of uid_map and gid_map
// since Linux 4.15 (user_namespaces(7)).
const maxIDMapLines = 340

// checkIDMappings checks what the kernel would refuse when the runtime
// writes /proc/PID/uid_map (user_namespaces(7)), before anything exists:
// a mapping needs a user namespace and a user namespace a mapping; ranges
// are not empty, do not wrap around 2^32, and overlap neither inside nor
// outside the namespace.
func checkIDMappings(p *problems, field string, maps []specs.LinuxIDMapping, userns bool) {
	switch {
	case len(maps) > 0 && !userns:
		p.add(field, "set, but linux.namespaces has no user namespace to map: add {\"type\": \"user\"} or remove %s", field)
		return
	case len(maps) == 0 && userns:
		p.add(field, "missing: a user namespace needs its ids mapped, e.g. [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}]")
		return
	case len(maps) > maxIDMapLines:
		p.add(field, "%d mappings: the kernel takes at most %d (user_namespaces(7))", len(maps), maxIDMapLines)
		return
	}
	for i, m := range maps {
		at := fmt.Sprintf("%s[%d]", field, i)
		if m.Size == 0 {
			p.add(at+".size", "0: a mapping maps at least one id")
			continue
		}
		if uint64(m.ContainerID)+uint64(m.Size) > 1<<32 || uint64(m.HostID)+uint64(m.Size) > 1<<32 {
			p.add(at, "runs past the last id, 4294967295: shorten size")
			continue
		}
		for j, o := range maps[:i] {
			if o.Size == 0 {
				continue
			}
			if overlap(m.ContainerID, m.Size, o.ContainerID, o.Size) {
				p.add(at, "its containerID range overlaps %s[%d]'s: each id inside maps once", field, j)
			}
			if overlap(m.HostID, m.Size, o.HostID, o.Size) {
				p.add(at, "its hostID range overlaps %s[%d]'s: each host id is mapped once", field, j)
			}
		}
	}
}

func overlap(a, an, b, bn uint32) bool {
	return uint64(a) < uint64(b)+uint64(bn) && uint64(b) < uint64(a)+uint64(an)
}
