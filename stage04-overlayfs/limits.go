package main

// The limit flags, with docker's names and syntax. They are read as plain
// strings and parsed here, so that every error names its flag, and checked
// against the host before anything is created.

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// limitFlags are the limit flags as typed.
type limitFlags struct {
	memory, memorySwap, cpus, cpuShares, cpusetCPUs, pids string
}

func addLimitFlags(fs *pflag.FlagSet, f *limitFlags) {
	fs.StringVarP(&f.memory, "memory", "m", "", "the most memory it may use, a `SIZE`: 512k, 64m, 1g or bytes (at least 6m)")
	fs.StringVar(&f.memorySwap, "memory-swap", "", "memory plus swap, a `SIZE`, or -1 for no swap limit (needs --memory)")
	fs.StringVar(&f.cpus, "cpus", "", "CPU time, as a `NUMBER` of CPUs: 0.5 is half of one")
	fs.StringVar(&f.cpuShares, "cpu-shares", "", "CPU `WEIGHT` against other cgroups, 2 to 262144 (default 1024)")
	fs.StringVar(&f.cpusetCPUs, "cpuset-cpus", "", "the `CPUS` it may run on: 0-2,4")
	fs.StringVar(&f.pids, "pids-limit", "", "the `NUMBER` of processes and threads it may have at once")
}

// limits are the parsed limits; a zero value means "no limit".
type limits struct {
	memory     int64 // bytes
	memorySwap int64 // memory + swap bytes; -1: no swap limit
	cpuQuota   int64 // microseconds of CPU time per cpuPeriod
	cpuShares  int64 // v1 cpu.shares; v2 gets sharesToWeight of it
	cpuset     []int // CPU numbers, sorted
	pids       int64 // processes and threads
}

// cpuPeriod is the CFS period in microseconds, docker's and the kernel's
// default: --cpus 0.5 means 50ms of CPU time in every 100ms.
const cpuPeriod = 100000

// minMemory is the smallest --memory docker accepts, and we with it.
const minMemory = 6 << 20

// Bounds of v1 cpu.shares (the kernel clamps to these).
const (
	minShares = 2
	maxShares = 262144
)

// parse checks the syntax and ranges that do not depend on the host.
func (f *limitFlags) parse() (limits, error) {
	var l limits
	var err error
	if f.memory != "" {
		if l.memory, err = parseSize(f.memory); err != nil {
			return l, fmt.Errorf("--memory %q: %w", f.memory, err)
		}
		if l.memory < minMemory {
			return l, fmt.Errorf("--memory %s: below the minimum of 6 MiB: a container needs room to start (try 64m)", f.memory)
		}
	}
	if f.memorySwap != "" {
		if l.memorySwap, err = parseMemorySwap(f.memorySwap, l.memory); err != nil {
			return l, err
		}
	}
	if f.cpus != "" {
		if l.cpuQuota, err = parseCPUs(f.cpus); err != nil {
			return l, fmt.Errorf("--cpus %q: %w", f.cpus, err)
		}
	}
	if f.cpuShares != "" {
		l.cpuShares, err = strconv.ParseInt(f.cpuShares, 10, 64)
		if err != nil || l.cpuShares < minShares || l.cpuShares > maxShares {
			return l, fmt.Errorf("--cpu-shares %q: use a whole number from %d to %d (1024 is everyone's default)", f.cpuShares, minShares, maxShares)
		}
	}
	if f.cpusetCPUs != "" {
		if l.cpuset, err = parseCPUList(f.cpusetCPUs); err != nil {
			return l, fmt.Errorf("--cpuset-cpus %q: %w", f.cpusetCPUs, err)
		}
	}
	if f.pids != "" {
		l.pids, err = strconv.ParseInt(f.pids, 10, 64)
		if err != nil || l.pids < 1 {
			return l, fmt.Errorf("--pids-limit %q: use a whole number of processes, at least 1", f.pids)
		}
	}
	return l, nil
}

// parseMemorySwap reads --memory-swap: memory plus swap, so never below
// --memory; -1 lifts the swap limit.
func parseMemorySwap(s string, memory int64) (int64, error) {
	if memory == 0 {
		return 0, fmt.Errorf("--memory-swap %s needs --memory too: it limits memory plus swap", s)
	}
	if s == "-1" {
		return -1, nil
	}
	n, err := parseSize(s)
	if err != nil {
		return 0, fmt.Errorf("--memory-swap %q: %w", s, err)
	}
	if n < memory {
		return 0, fmt.Errorf("--memory-swap %s: below --memory (%s): it counts memory plus swap, so it must be at least as large", s, humanBytes(memory))
	}
	return n, nil
}

// sizeSyntax is docker's: a number, an optional space, an optional unit
// b, k, m, g, t or p (any case, 1024-based) with an optional "b" or "ib".
var sizeSyntax = regexp.MustCompile(`(?i)^([0-9]+(?:\.[0-9]+)?) ?(b|[kmgtp](?:i?b)?)?$`)

// maxSize bounds every size: far beyond any host's memory, and small
// enough that what the runtime derives from a size (the default
// --memory-swap is twice --memory) still fits in an int64.
const maxSize = 1 << 61

// parseSize reads a size as docker does ("64m", "1g", "512k", "1.5g",
// "4096"), in bytes.
func parseSize(s string) (int64, error) {
	m := sizeSyntax.FindStringSubmatch(s)
	if m == nil {
		return 0, errors.New("not a size: use a number with an optional unit b, k, m or g (512k, 64m, 1g)")
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, errors.New("not a size: the number is too long")
	}
	unit := 1.0
	if m[2] != "" {
		unit = math.Pow(1024, float64(strings.IndexByte("bkmgtp", strings.ToLower(m[2])[0])))
	}
	bytes := math.Floor(n * unit)
	if bytes > maxSize {
		return 0, errors.New("too large: at most 2048p (2 EiB), far more than any host has")
	}
	if bytes <= 0 {
		return 0, errors.New("must be more than 0")
	}
	return int64(bytes), nil
}

// cpusSyntax is a plain decimal number: no signs, exponents or hex.
var cpusSyntax = regexp.MustCompile(`^([0-9]+(\.[0-9]*)?|\.[0-9]+)$`)

// parseCPUs reads --cpus as a CFS quota in microseconds per cpuPeriod.
func parseCPUs(s string) (int64, error) {
	if !cpusSyntax.MatchString(s) {
		return 0, errors.New("not a number of CPUs: use a decimal number such as 0.5 or 2")
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n > 1<<20 {
		return 0, errors.New("far more CPUs than any host has")
	}
	if n == 0 {
		return 0, errors.New("must be more than 0")
	}
	quota := int64(math.Round(n * cpuPeriod))
	if quota < 1000 {
		// The kernel's smallest quota is 1ms per period.
		return 0, errors.New("below the smallest share of 0.01 CPU")
	}
	return quota, nil
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
// not a million.
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
// cpu.weight (1..10000, default 100) the way runc does, so that the same
// --cpu-shares means the same on both.
func sharesToWeight(shares int64) int64 {
	if shares == 0 {
		return 0
	}
	return 1 + ((shares-2)*9999)/262142
}

// checkLimits checks the limits against what the host offers, and fills in
// docker's default for swap: with --memory alone, as much swap as memory.
func checkLimits(l *limits, f limitFlags, host *layout) error {
	needs := []struct{ flag, value, controller string }{
		{"--memory", f.memory, "memory"},
		{"--memory-swap", f.memorySwap, "memory"},
		{"--cpus", f.cpus, "cpu"},
		{"--cpu-shares", f.cpuShares, "cpu"},
		{"--cpuset-cpus", f.cpusetCPUs, "cpuset"},
		{"--pids-limit", f.pids, "pids"},
	}
	for _, n := range needs {
		if n.value != "" && !host.has(n.controller) {
			return fmt.Errorf("%s: this host offers no %s cgroup controller (cgroup %s): run 'lab doctor'", n.flag, n.controller, host.mode)
		}
	}
	if l.memorySwap != 0 && !host.swap {
		return fmt.Errorf("--memory-swap: this host does not account swap in cgroups (no memory.memsw.limit_in_bytes or memory.swap.max): boot with swapaccount=1, or leave the flag out")
	}
	if l.memory > 0 && l.memorySwap == 0 && host.swap {
		l.memorySwap = 2 * l.memory
	}
	if ncpu := len(host.cpus); l.cpuQuota > int64(ncpu)*cpuPeriod && ncpu > 0 {
		return fmt.Errorf("--cpus %s: this host has %d CPUs: use a value from 0.01 to %d", f.cpus, ncpu, ncpu)
	}
	for _, cpu := range l.cpuset {
		if !slices.Contains(host.cpus, cpu) {
			return fmt.Errorf("--cpuset-cpus %s: CPU %d is not available on this host (available: %s)", f.cpusetCPUs, cpu, formatCPUList(host.cpus))
		}
	}
	return nil
}
