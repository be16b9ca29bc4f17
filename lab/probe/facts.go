package main

// The read-only facts: who the process is and what it can see. Every one of
// them is something a container stage changes, so a test runs the same probe
// on the host and in the container and compares.

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cmdFacts prints every fact group in a fixed order. A group that fails
// prints `error=GROUP: ...` and the others still run (a chroot without /proc
// can still report its ids and interfaces); the exit code is then 1.
func cmdFacts(args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	groups := []struct {
		name  string
		print func() error
	}{
		{"ids", printIDs},
		{"ns", printNS},
		{"hostname", printHostname},
		{"ps", func() error { return printPS(false) }},
		{"caps", printCaps},
		{"cgroup", printCgroup},
		{"ifaces", printIfaces},
		{"routes", printRoutes},
		{"mounts", printMounts},
	}
	failed := false
	for _, g := range groups {
		if err := g.print(); err != nil {
			emit("error", g.name+": "+err.Error())
			failed = true
		}
	}
	if failed {
		return exitCode(1)
	}
	return nil
}

func cmdIDs(args []string) error      { return noArgsThen(args, printIDs) }
func cmdNS(args []string) error       { return noArgsThen(args, printNS) }
func cmdHostname(args []string) error { return noArgsThen(args, printHostname) }
func cmdPS(args []string) error       { return noArgsThen(args, func() error { return printPS(true) }) }
func cmdMounts(args []string) error   { return noArgsThen(args, printMounts) }
func cmdCaps(args []string) error     { return noArgsThen(args, printCaps) }
func cmdAffinity(args []string) error { return noArgsThen(args, printAffinity) }

func noArgsThen(args []string, print func() error) error {
	if err := noArgs(args); err != nil {
		return err
	}
	return print()
}

// printIDs never fails: ids come from system calls, and the /proc files
// (absent in a bare chroot) print as empty values.
func printIDs() error {
	emit("pid", os.Getpid())
	emit("ppid", os.Getppid())
	emit("uid", os.Getuid())
	emit("gid", os.Getgid())
	emit("euid", os.Geteuid())
	emit("egid", os.Getegid())
	groups, _ := unix.Getgroups()
	emit("groups", joinInts(groups))
	emit("uid_map", compactMap(readOptional("/proc/self/uid_map")))
	emit("gid_map", compactMap(readOptional("/proc/self/gid_map")))
	emit("setgroups", strings.TrimSpace(readOptional("/proc/self/setgroups")))
	return nil
}

// compactMap turns the column-aligned /proc/self/uid_map into one line:
// "         0     100000      65536\n" becomes "0 100000 65536", and
// several ranges are joined with ';'.
func compactMap(s string) string {
	var lines []string
	for _, line := range strings.Split(s, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			lines = append(lines, strings.Join(f, " "))
		}
	}
	return strings.Join(lines, ";")
}

// nsNames are the namespaces of namespaces(7), in the order printed.
var nsNames = []string{"uts", "pid", "mnt", "ipc", "net", "user", "cgroup", "time"}

// printNS prints each namespace's inode: two processes share a namespace
// exactly when the inodes are equal. "none" means the kernel lacks it (time
// before 5.6) or /proc is not mounted.
func printNS() error {
	for _, name := range nsNames {
		var st unix.Stat_t
		if err := unix.Stat("/proc/self/ns/"+name, &st); err != nil {
			emit("ns."+name, "none")
			continue
		}
		emit("ns."+name, st.Ino)
	}
	return nil
}

func printHostname() error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return fmt.Errorf("uname: %w", err)
	}
	emit("hostname", unix.ByteSliceToString(u.Nodename[:]))
	emit("domainname", unix.ByteSliceToString(u.Domainname[:]))
	return nil
}

type process struct {
	pid  int
	comm string
}

// printPS lists /proc: inside a new PID namespace with its own /proc only the
// container's processes show, numbered from 1.
func printPS(perProcess bool) error {
	procs, err := listProcesses()
	if err != nil {
		return err
	}
	pids := make([]int, len(procs))
	for i, p := range procs {
		pids[i] = p.pid
	}
	emit("pids", joinInts(pids))
	emit("count", len(procs))
	if perProcess {
		for _, p := range procs {
			emit("proc", fmt.Sprintf("%d %s", p.pid, p.comm))
		}
	}
	return nil
}

func listProcesses() ([]process, error) {
	// An empty /proc directory would read as "no processes": say it is unmounted.
	if _, err := os.Stat("/proc/self"); err != nil {
		return nil, fmt.Errorf("/proc is not mounted: %w", err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var procs []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil {
			continue // it exited between ReadDir and here
		}
		procs = append(procs, process{pid, strings.TrimSpace(string(comm))})
	}
	sort.Slice(procs, func(i, j int) bool { return procs[i].pid < procs[j].pid })
	return procs, nil
}

// mountInfo is the part of a proc_pid_mountinfo(5) line the probe reports.
type mountInfo struct {
	root       string // field 4: the path inside the filesystem that is mounted
	mountPoint string // field 5, still octal-escaped (\040 for a space)
	options    string // field 6: per-mount options
	fsType     string
	source     string
}

// printMounts prints one line per mount, in mountinfo order, then the root
// of the mount on "/" (the last one, if several are stacked).
func printMounts() error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	mounts, err := parseMountinfo(string(data))
	if err != nil {
		return err
	}
	root := ""
	for _, m := range mounts {
		emit("mount", fmt.Sprintf("%s %s %s", m.mountPoint, m.fsType, m.options))
		if m.mountPoint == "/" {
			root = m.root
		}
	}
	emit("root", root)
	return nil
}

// parseMountinfo parses /proc/self/mountinfo. Optional fields (shared:N ...)
// vary in number and end with a lone "-", after which come the filesystem
// type, the source and the superblock options.
func parseMountinfo(text string) ([]mountInfo, error) {
	var mounts []mountInfo
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(f) {
			return nil, fmt.Errorf("mountinfo: malformed line %q", line)
		}
		mounts = append(mounts, mountInfo{
			root: f[3], mountPoint: f[4], options: f[5],
			fsType: f[sep+1], source: f[sep+2],
		})
	}
	return mounts, nil
}

// printCaps prints the capability sets as the kernel shows them (hex masks);
// capsh --decode=MASK names the bits.
func printCaps() error {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	caps := parseStatusCaps(string(data))
	for _, set := range []string{"Inh", "Prm", "Eff", "Bnd", "Amb"} {
		v, ok := caps["Cap"+set]
		if !ok {
			return fmt.Errorf("/proc/self/status has no Cap%s line", set)
		}
		emit("cap_"+strings.ToLower(set), v)
	}
	return nil
}

// parseStatusCaps returns the "CapXxx:" lines of /proc/self/status.
func parseStatusCaps(status string) map[string]string {
	caps := map[string]string{}
	for _, line := range strings.Split(status, "\n") {
		key, val, ok := strings.Cut(line, ":")
		if ok && strings.HasPrefix(key, "Cap") {
			caps[key] = strings.TrimSpace(val)
		}
	}
	return caps
}

// printAffinity prints the CPUs this process may run on: what cpuset.cpus
// (--cpuset-cpus) restricts, unlike a CPU quota, which only rations time.
func printAffinity() error {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_getaffinity: %w", err)
	}
	var cpus []int
	for cpu := 0; cpu < len(set)*64; cpu++ {
		if set.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	emit("cpus", formatCPUList(cpus))
	emit("count", len(cpus))
	return nil
}

// formatCPUList writes sorted CPU numbers the way the kernel writes
// cpuset.cpus: runs of consecutive CPUs as ranges, "0-3,6,8-9".
func formatCPUList(cpus []int) string {
	var parts []string
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(cpus[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", cpus[i], cpus[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// readOptional returns a file's content, or "" when it cannot be read.
func readOptional(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(data)
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
