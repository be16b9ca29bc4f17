package cgroups

// Accounting: what the container used, read from its cgroup. The kernel
// counts for the whole group, children included, whether or not a limit is
// set.

import (
	"fmt"
	"io"
	"strconv"
)

// Stats is one reading of the accounting files; -1 means the host does not
// provide that number (a missing controller, or an older kernel).
type Stats struct {
	MemoryCurrent int64 // bytes in use now (page cache included)
	MemoryPeak    int64 // the most ever in use
	MemoryLimit   int64 // -1 also when there is no limit
	CPUUsec       int64 // CPU time used, user + system, in microseconds
	PidsCurrent   int64 // processes and threads now
	PidsLimit     int64 // -1 also when there is no limit
}

// readOr reads a one-number cgroup file, -1 when it cannot ("max" too).
func readOr(dir, file string) int64 {
	if dir == "" {
		return -1
	}
	n, err := readCgroupInt(dir, file)
	if err != nil {
		return -1
	}
	return n
}

// Print writes the usage as key=value lines, one number each, so that
// scripts and tests read it as easily as people do. Limits read "max" when
// there is none, as in cgroup v2.
func (u Stats) Print(w io.Writer, name string) {
	fmt.Fprintf(w, "name=%s\n", name)
	fmt.Fprintf(w, "memory_current_bytes=%s\n", number(u.MemoryCurrent, "unknown"))
	fmt.Fprintf(w, "memory_peak_bytes=%s\n", number(u.MemoryPeak, "unknown"))
	fmt.Fprintf(w, "memory_limit_bytes=%s\n", number(u.MemoryLimit, "max"))
	fmt.Fprintf(w, "cpu_usage_usec=%s\n", number(u.CPUUsec, "unknown"))
	fmt.Fprintf(w, "pids_current=%s\n", number(u.PidsCurrent, "unknown"))
	fmt.Fprintf(w, "pids_limit=%s\n", number(u.PidsLimit, "max"))
}

func number(n int64, none string) string {
	if n < 0 {
		return none
	}
	return strconv.FormatInt(n, 10)
}

// humanBytes prints a size the way people say it: "64 MiB", "1.5 GiB".
func humanBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
