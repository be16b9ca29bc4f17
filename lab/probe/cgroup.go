package main

// cgroup facts. The probe does not know which layout it runs on, so it looks
// for each limit file in both: cgroup v2 puts every file in one directory,
// v1 has one hierarchy per controller. Inside a cgroup namespace with
// /sys/fs/cgroup mounted for the container, the container's cgroup is the
// root of that mount, so the files found there are the container's limits.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

const cgroupRoot = "/sys/fs/cgroup"

// cgroupFiles are the limit and usage files the tests look at, v2 and v1
// names mixed: a file that does not exist in the layout at hand is skipped.
var cgroupFiles = []string{
	"memory.max", "memory.current", "memory.peak",
	"memory.limit_in_bytes", "memory.usage_in_bytes", "memory.max_usage_in_bytes",
	"memory.memsw.limit_in_bytes", "memory.swap.max",
	"cpu.max", "cpu.weight", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares",
	"cpuset.cpus", "cpuset.cpus.effective",
	"pids.max", "pids.current",
	"cgroup.controllers",
}

func cmdCgroup(args []string) error { return noArgsThen(args, printCgroup) }

// printCgroup prints the membership lines (cgroups(7): "ID:CONTROLLERS:PATH",
// "0::/PATH" for v2) and then cg.FILE=VALUE for every file found.
func printCgroup() error {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		emit("cgroup", line)
	}
	for _, file := range cgroupFiles {
		path, ok := findCgroupFile(cgroupRoot, file)
		if !ok {
			continue
		}
		value, err := os.ReadFile(path)
		if err != nil {
			continue // e.g. EOPNOTSUPP: present but not readable here
		}
		emit("cg."+file, strings.TrimSpace(string(value)))
	}
	return nil
}

// findCgroupFile looks for FILE under root in the v2 layout (root/FILE),
// then in the v1 layout (root/CONTROLLER/FILE, where a hierarchy may be
// mounted for several controllers as "cpu,cpuacct"), then in the v2 part
// of a hybrid host (root/unified/FILE).
func findCgroupFile(root, file string) (string, bool) {
	controller, _, _ := strings.Cut(file, ".")
	candidates := []string{filepath.Join(root, file)}
	if controller != "cgroup" {
		for _, dir := range v1Hierarchies(root, controller) {
			candidates = append(candidates, filepath.Join(dir, file))
		}
	}
	candidates = append(candidates, filepath.Join(root, "unified", file))
	for _, path := range candidates {
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
			return path, true
		}
	}
	return "", false
}

// v1Hierarchies lists the directories under root that hold the controller:
// root/CONTROLLER first, then any "a,b" directory naming it.
func v1Hierarchies(root, controller string) []string {
	dirs := []string{filepath.Join(root, controller)}
	entries, err := os.ReadDir(root)
	if err != nil {
		return dirs
	}
	for _, e := range entries {
		names := strings.Split(e.Name(), ",")
		if len(names) > 1 && slices.Contains(names, controller) {
			dirs = append(dirs, filepath.Join(root, e.Name()))
		}
	}
	return dirs
}
