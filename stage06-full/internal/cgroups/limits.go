package cgroups

// The limits of linux.resources, checked and converted before anything is
// created: first what does not depend on the host (LimitsFrom: ranges,
// memory+swap against memory, CPU list syntax), then what does (Check:
// the controllers, swap accounting, the CPUs and memory nodes there are).
// Every error names its field by its JSON path. (stage05's limits.go read
// docker's flags; the bounds and the conversions are the same.)

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Limits are the checked limits. A zero value means "not set": the file is
// not written and the kernel's default stays. -1 means "no limit", as in
// the OCI config (and in v1's files; v2 says "max").
type Limits struct {
	memory            int64  // bytes
	memoryReservation int64  // bytes: v1 soft_limit_in_bytes, v2 memory.low
	memorySwap        int64  // memory + swap bytes, OCI's (and v1's memsw) sense
	cpuShares         uint64 // v1 cpu.shares; v2 gets sharesToWeight of it
	cpuQuota          int64  // microseconds of CPU time per period
	cpuPeriod         uint64 // microseconds
	cpus, mems        []int  // CPU numbers and memory nodes, sorted
	pids              int64  // processes and threads
	unified           map[string]string
}

// cpuPeriod is the CFS period in microseconds, docker's and the kernel's
// default: a quota of 50000 means 50ms of CPU time in every 100ms.
const cpuPeriod = 100000

// Bounds of the CFS period and quota (the kernel's, sched-bwc.rst): a
// period from 1ms to 1s, a quota of at least 1ms.
const (
	minPeriod = 1000
	maxPeriod = 1000000
	minQuota  = 1000
)

// minMemory is the smallest memory limit docker accepts, and we with it:
// a container needs room to start.
const minMemory = 6 << 20

// maxSize bounds every size: far beyond any host's memory.
const maxSize = 1 << 61

// Bounds of v1 cpu.shares (the kernel clamps to these).
const (
	minShares = 2
	maxShares = 262144
)

const at = "linux.resources."

// LimitsFrom checks the syntax and ranges of r that do not depend on the
// host, and reports every problem, one per line.
func LimitsFrom(r *specs.LinuxResources) (Limits, error) {
	var l Limits
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf(at+field+": "+format, args...))
	}
	if r == nil {
		return l, nil
	}
	if m := r.Memory; m != nil {
		if m.Limit != nil {
			l.memory = *m.Limit
			switch {
			case l.memory == -1, l.memory == 0:
			case l.memory < 0:
				bad("memory.limit", "%d: use a number of bytes, or -1 for no limit", l.memory)
			case l.memory < minMemory:
				bad("memory.limit", "%d (%s): below the minimum of 6 MiB: a container needs room to start (try 67108864, 64 MiB)", l.memory, humanBytes(l.memory))
			case l.memory > maxSize:
				bad("memory.limit", "%d: too large: at most 2 EiB, far more than any host has", l.memory)
			}
		}
		if m.Reservation != nil {
			l.memoryReservation = *m.Reservation
			if l.memoryReservation < -1 || l.memoryReservation > maxSize {
				bad("memory.reservation", "%d: use a number of bytes, or -1 for none", l.memoryReservation)
			}
		}
		if m.Swap != nil {
			l.memorySwap = *m.Swap
			if _, err := swapV2Checked(l.memorySwap, l.memory); err != nil {
				bad("memory.swap", "%d: %v", l.memorySwap, err)
			}
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil {
			l.cpuShares = *c.Shares
			if l.cpuShares != 0 && (l.cpuShares < minShares || l.cpuShares > maxShares) {
				bad("cpu.shares", "%d: use a whole number from %d to %d (1024 is everyone's default)", l.cpuShares, minShares, maxShares)
			}
		}
		if c.Period != nil {
			l.cpuPeriod = *c.Period
			if l.cpuPeriod != 0 && (l.cpuPeriod < minPeriod || l.cpuPeriod > maxPeriod) {
				bad("cpu.period", "%d: use microseconds from %d (1ms) to %d (1s); the default is %d", l.cpuPeriod, minPeriod, maxPeriod, cpuPeriod)
			}
		}
		if c.Quota != nil {
			l.cpuQuota = *c.Quota
			if l.cpuQuota != 0 && l.cpuQuota != -1 && l.cpuQuota < minQuota {
				bad("cpu.quota", "%d: use microseconds per period, at least %d (1ms), or -1 for no limit", l.cpuQuota, minQuota)
			}
		}
		var err error
		if c.Cpus != "" {
			if l.cpus, err = parseCPUList(c.Cpus); err != nil {
				bad("cpu.cpus", "%q: %v", c.Cpus, err)
			}
		}
		if c.Mems != "" {
			if l.mems, err = parseCPUList(c.Mems); err != nil {
				bad("cpu.mems", "%q: %v", c.Mems, strings.ReplaceAll(err.Error(), "CPU", "node"))
			}
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		// 0 is "not set", as runc reads it (the field was a plain
		// number before it was a pointer); any negative is no limit.
		l.pids = *r.Pids.Limit
		if l.pids < 0 {
			l.pids = -1
		}
	}
	for k, v := range r.Unified {
		if !unifiedKey.MatchString(k) || strings.HasPrefix(k, "cgroup.") {
			bad("unified", "%q: not a controller's interface file: name one such as memory.high or pids.max (cgroup.* files are the runtime's)", k)
			continue
		}
		if v == "" || strings.ContainsAny(v, "\n\x00") {
			bad("unified", "%q: the value %q is empty or has more than one line", k, v)
		}
	}
	if len(r.Unified) > 0 {
		l.unified = r.Unified
	}
	return l, errors.Join(errs...)
}

// unifiedKey is a cgroup v2 interface file, CONTROLLER.NAME: no "/", so a
// key can never name a file outside the container's cgroup.
var unifiedKey = regexp.MustCompile(`^[a-z0-9_]+\.[a-z0-9_.]+$`)

// Check checks the limits against what the host offers: every controller a
// limit needs, swap accounting for a swap limit, the CPUs and nodes named.
// (stage05 filled in docker's default of as much swap as memory here; an
// OCI config says what it wants, and its client, docker or containerd,
// has filled in the defaults already.)
func (l Limits) Check(host *Layout) error {
	needs := []struct {
		field, controller string
		set               bool
	}{
		{"memory.limit", "memory", l.memory != 0},
		{"memory.reservation", "memory", l.memoryReservation != 0},
		{"memory.swap", "memory", l.memorySwap != 0},
		{"cpu.shares", "cpu", l.cpuShares != 0},
		{"cpu.quota", "cpu", l.cpuQuota != 0},
		{"cpu.period", "cpu", l.cpuPeriod != 0},
		{"cpu.cpus", "cpuset", len(l.cpus) > 0},
		{"cpu.mems", "cpuset", len(l.mems) > 0},
		{"pids.limit", "pids", l.pids != 0},
	}
	for _, n := range needs {
		if n.set && !host.has(n.controller) {
			return fmt.Errorf(at+"%s: this host offers no %s cgroup controller (cgroup %s): run 'lab doctor'", n.field, n.controller, host.Mode)
		}
	}
	if l.memorySwap > 0 && !host.swap {
		return errors.New(at + "memory.swap: this host does not account swap in cgroups (no memory.memsw.limit_in_bytes or memory.swap.max): boot with swapaccount=1, or leave it out")
	}
	period := l.cpuPeriod
	if period == 0 {
		period = cpuPeriod
	}
	if ncpu := len(host.cpus); l.cpuQuota > int64(ncpu)*int64(period) && ncpu > 0 {
		return fmt.Errorf(at+"cpu.quota %d: more than this host's %d CPUs can give in a period of %d µs: use at most %d", l.cpuQuota, ncpu, period, int64(ncpu)*int64(period))
	}
	for _, cpu := range l.cpus {
		if !slices.Contains(host.cpus, cpu) {
			return fmt.Errorf(at+"cpu.cpus: CPU %d is not available on this host (available: %s)", cpu, formatCPUList(host.cpus))
		}
	}
	for _, n := range l.mems {
		if !slices.Contains(host.mems, n) {
			return fmt.Errorf(at+"cpu.mems: memory node %d is not available on this host (available: %s)", n, formatCPUList(host.mems))
		}
	}
	if len(l.unified) > 0 && host.Mode != "v2" {
		return fmt.Errorf(at+"unified: cgroup v2 files, and this host's controllers are cgroup v1 (%s): use the other linux.resources fields", host.Mode)
	}
	return nil
}

// swapV2Checked converts the OCI memory+swap to v2's swap alone, as runc's
// ConvertMemorySwapToCgroupV2Value does: 0 is unset and -1 no limit, both
// as they are; memory -1 with swap unset is no limit on either, as v1's
// memsw follows memory there; otherwise swap may not be below memory
// (memory+swap counts the memory) and needs a memory limit to be counted
// from.
func swapV2Checked(swap, memory int64) (int64, error) {
	switch {
	case memory == -1 && swap == 0:
		return -1, nil
	case swap == -1 || swap == 0:
		return swap, nil
	case swap < -1:
		return 0, errors.New("use a number of bytes (memory plus swap), or -1 for no swap limit")
	case memory == 0 || memory == -1:
		return 0, errors.New("a swap limit needs linux.resources.memory.limit too: it limits memory plus swap")
	case swap < memory:
		return 0, fmt.Errorf("below memory.limit (%s): it counts memory plus swap, so it must be at least as large", humanBytes(memory))
	}
	return swap - memory, nil
}

// swapV2 is swapV2Checked for limits LimitsFrom has passed.
func swapV2(swap, memory int64) int64 {
	n, _ := swapV2Checked(swap, memory)
	return n
}

// maxOr writes a v1-style number the v2 way: -1 is "max".
func maxOr(n int64) string {
	if n == -1 {
		return "max"
	}
	return strconv.FormatInt(n, 10)
}

// pidsMax is pids.max's value on both: -1 is "max" there on v1 too.
func pidsMax(n int64) string { return maxOr(n) }

// cpuMax is v2's cpu.max, "QUOTA PERIOD": a quota of -1 or unset is "max"
// (no limit), a period unset is the kernel's default.
func cpuMax(quota int64, period uint64) string {
	q := "max"
	if quota > 0 {
		q = strconv.FormatInt(quota, 10)
	}
	if period == 0 {
		period = cpuPeriod
	}
	return fmt.Sprintf("%s %d", q, period)
}

// maxCPU bounds CPU numbers: the largest NR_CPUS a kernel is built with
// (8192 on x86_64 and arm64).
const maxCPU = 8192

// maxCPUList bounds the text of a list: 0-8191 takes seven bytes, and any
// host's CPUs fit in a few ranges.
const maxCPUList = 1024

// parseCPUList reads the kernel's cpulist syntax ("0-2,4,7"; cpuset(7)):
// the CPU numbers, sorted, each once. A CPU named twice, or in ranges that
// overlap, is counted once: a list of 1 KiB of 0-8191 gives 8192 numbers,
// not a million. Memory nodes (cpu.mems) are written the same way.
func parseCPUList(s string) ([]int, error) {
	if len(s) > maxCPUList {
		return nil, fmt.Errorf("list too long (%d bytes, at most %d): use ranges such as 0-63", len(s), maxCPUList)
	}
	var in [maxCPU]bool
	for _, part := range strings.Split(s, ",") {
		first, last, isRange := strings.Cut(part, "-")
		lo, err1 := parseCPUNumber(first)
		hi, err2 := lo, error(nil)
		if isRange {
			hi, err2 = parseCPUNumber(last)
		}
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("not a CPU list: use CPU numbers and ranges such as 0-2,4 (%v)", err)
		}
		if hi < lo {
			return nil, fmt.Errorf("range %s goes backwards", part)
		}
		for cpu := lo; cpu <= hi; cpu++ {
			in[cpu] = true
		}
	}
	var cpus []int
	for cpu, ok := range in {
		if ok {
			cpus = append(cpus, cpu)
		}
	}
	return cpus, nil
}

func parseCPUNumber(s string) (int, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a CPU number", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n >= maxCPU {
		return 0, fmt.Errorf("CPU %s is out of range", s)
	}
	return n, nil
}

// formatCPUList writes sorted CPU numbers back in cpulist syntax, ranges
// folded: [0 1 2 4] is "0-2,4".
func formatCPUList(cpus []int) string {
	var parts []string
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(cpus[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", cpus[i], cpus[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// sharesToWeight converts v1 cpu.shares (2..262144, default 1024) to v2
// cpu.weight (1..10000, default 100) the way runc has done since cgroup v2
// support (libcontainer's ConvertCPUSharesToCgroupV2Value), so that the
// same shares mean the same on both: linear, so 1024 becomes 39, not 100.
// (opencontainers/cgroups, runc's cgroup library since 1.3, has moved to a
// curve through 2→1, 1024→100 and 262144→10000, kubernetes#131216; this
// is stage05's formula, kept.)
func sharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	return 1 + ((shares-2)*9999)/262142
}
