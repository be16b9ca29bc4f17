package main

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"4096": 4096, "64b": 64, "512k": 512 << 10, "512K": 512 << 10,
		"64m": 64 << 20, "64M": 64 << 20, "64mb": 64 << 20, "64MiB": 64 << 20,
		"64 m": 64 << 20, "1g": 1 << 30, "1.5g": 3 << 29, "2t": 2 << 40,
		"2048p": maxSize,
	}
	for in, want := range good {
		got, err := parseSize(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	bad := map[string]string{
		"64x": "not a size", "": "not a size", "-1": "not a size", "m": "not a size",
		"1.2.3": "not a size", "64bb": "not a size", "0x40": "not a size", " 64m": "not a size",
		"0": "more than 0", "0.1b": "more than 0", "99999999999g": "too large",
		"8191p": "too large", "2048.001p": "too large", "8192p": "too large",
	}
	for in, want := range bad {
		_, err := parseSize(in)
		assert.ErrorContains(t, err, want, "%q", in)
	}
}

func TestParseCPUs(t *testing.T) {
	good := map[string]int64{"0.5": 50000, "2": 200000, ".25": 25000, "1.": 100000, "0.01": 1000, "1.234567": 123457}
	for in, want := range good {
		got, err := parseCPUs(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	bad := map[string]string{
		"0": "more than 0", "0.000": "more than 0", "0.001": "smallest", "abc": "not a number",
		"-1": "not a number", "1e3": "not a number", "NaN": "not a number", "Inf": "not a number",
		"": "not a number", "1_0": "not a number", "99999999": "far more",
	}
	for in, want := range bad {
		_, err := parseCPUs(in)
		assert.ErrorContains(t, err, want, "%q", in)
	}
}

func TestParseCPUList(t *testing.T) {
	good := map[string][]int{"0": {0}, "0-2,4": {0, 1, 2, 4}, "3,1,1": {1, 3}, "2-2": {2}, "1,0-1": {0, 1}}
	for in, want := range good {
		got, err := parseCPUList(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	for _, in := range []string{"", "1-", "-1", "2-1", "a", "1,,2", "65536", "8192", "0-8192", " 1", "1-2-3", "+1"} {
		_, err := parseCPUList(in)
		assert.Error(t, err, "%q", in)
	}
	// Overlapping ranges count each CPU once; a list longer than any
	// host needs is refused unread.
	full := strings.Repeat("0-8191,", 146) + "0"
	require.LessOrEqual(t, len(full), maxCPUList)
	cpus, err := parseCPUList(full)
	require.NoError(t, err)
	assert.Len(t, cpus, maxCPU)
	_, err = parseCPUList(strings.Repeat("0-8191,", 2400) + "0")
	assert.ErrorContains(t, err, "list too long")
	assert.Equal(t, "0-2,4,6-7", formatCPUList([]int{0, 1, 2, 4, 6, 7}))
	assert.Equal(t, "", formatCPUList(nil))
}

// runc's conversion: the default shares give a weight near v2's default,
// and the ends of the ranges meet.
func TestSharesToWeight(t *testing.T) {
	assert.Equal(t, int64(1), sharesToWeight(2))
	assert.Equal(t, int64(39), sharesToWeight(1024))
	assert.Equal(t, int64(10000), sharesToWeight(262144))
	assert.Equal(t, int64(0), sharesToWeight(0))
}

func TestLimitFlagsParse(t *testing.T) {
	f := limitFlags{memory: "64m", memorySwap: "128m", cpus: "0.5", cpuShares: "512", cpusetCPUs: "1,0", pids: "20"}
	l, err := f.parse()
	require.NoError(t, err)
	assert.Equal(t, limits{memory: 64 << 20, memorySwap: 128 << 20, cpuQuota: 50000, cpuShares: 512, cpuset: []int{0, 1}, pids: 20}, l)

	l, err = (&limitFlags{memory: "64m", memorySwap: "-1"}).parse()
	require.NoError(t, err)
	assert.Equal(t, int64(-1), l.memorySwap)

	bad := []struct {
		f    limitFlags
		want string
	}{
		{limitFlags{memory: "64x"}, `--memory "64x": not a size`},
		{limitFlags{memory: "0"}, `--memory "0": must be more than 0`},
		{limitFlags{memory: "-64m"}, `--memory "-64m": not a size`},
		{limitFlags{memory: "4m"}, "--memory 4m: below the minimum of 6 MiB"},
		{limitFlags{memorySwap: "128m"}, "--memory-swap 128m needs --memory"},
		{limitFlags{memory: "64m", memorySwap: "32m"}, "--memory-swap 32m: below --memory (64 MiB)"},
		{limitFlags{memory: "64m", memorySwap: "lots"}, `--memory-swap "lots": not a size`},
		{limitFlags{cpus: "0"}, `--cpus "0": must be more than 0`},
		{limitFlags{cpus: "-1"}, `--cpus "-1": not a number`},
		{limitFlags{cpuShares: "1"}, `--cpu-shares "1": use a whole number from 2 to 262144`},
		{limitFlags{cpuShares: "-5"}, `--cpu-shares "-5"`},
		{limitFlags{cpuShares: "300000"}, `--cpu-shares "300000"`},
		{limitFlags{cpusetCPUs: "2-1"}, `--cpuset-cpus "2-1": range 2-1 goes backwards`},
		{limitFlags{pids: "0"}, `--pids-limit "0": use a whole number of processes, at least 1`},
		{limitFlags{pids: "-1"}, `--pids-limit "-1"`},
		{limitFlags{pids: "ten"}, `--pids-limit "ten"`},
	}
	for _, c := range bad {
		_, err := c.f.parse()
		assert.ErrorContains(t, err, c.want, "%+v", c.f)
	}
}

func TestCheckLimits(t *testing.T) {
	all := map[string]bool{"memory": true, "cpu": true, "cpuacct": true, "cpuset": true, "pids": true, "freezer": true}
	host := &layout{mode: "v1", controllers: all, swap: true, cpus: []int{0, 1, 2, 3}}

	check := func(h *layout, f limitFlags) (limits, error) {
		l, err := f.parse()
		require.NoError(t, err)
		return l, checkLimits(&l, f, h)
	}
	l, err := check(host, limitFlags{memory: "64m"})
	require.NoError(t, err)
	assert.Equal(t, int64(128<<20), l.memorySwap, "docker's default: as much swap as memory")

	l, err = check(&layout{mode: "v1", controllers: all, cpus: []int{0}}, limitFlags{memory: "64m"})
	require.NoError(t, err)
	assert.Zero(t, l.memorySwap, "no swap accounting: no swap limit")

	_, err = check(&layout{mode: "v1", controllers: all, cpus: []int{0}}, limitFlags{memory: "64m", memorySwap: "128m"})
	assert.ErrorContains(t, err, "--memory-swap: this host does not account swap")

	_, err = check(host, limitFlags{cpus: "4"})
	assert.NoError(t, err)
	_, err = check(host, limitFlags{cpus: "4.5"})
	assert.ErrorContains(t, err, "--cpus 4.5: this host has 4 CPUs: use a value from 0.01 to 4")

	_, err = check(host, limitFlags{cpusetCPUs: "2-5"})
	assert.ErrorContains(t, err, "--cpuset-cpus 2-5: CPU 4 is not available on this host (available: 0-3)")

	noPids := &layout{mode: "v2", controllers: map[string]bool{"memory": true, "cpu": true}, cpus: []int{0}}
	_, err = check(noPids, limitFlags{pids: "10"})
	assert.ErrorContains(t, err, "--pids-limit: this host offers no pids cgroup controller (cgroup v2): run 'lab doctor'")
	_, err = check(noPids, limitFlags{cpusetCPUs: "0"})
	assert.ErrorContains(t, err, "--cpuset-cpus: this host offers no cpuset cgroup controller")
}

// FuzzParseSize: never panics; what it accepts is positive and reads back
// the same when written as plain bytes.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"64m", "1g", "512k", "4096", "1.5G", "64 MiB", "64x", "", "-1", "9e9", "8191p", "2048p", "2047.9999p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			return
		}
		if n <= 0 || n > maxSize || 2*n < n {
			t.Fatalf("parseSize(%q) = %d", s, n)
		}
		back, err := parseSize(strconv.FormatInt(n, 10))
		if err != nil || back != n {
			t.Fatalf("parseSize(%q) = %d, which reads back as %d, %v", s, n, back, err)
		}
	})
}

// FuzzParseCPUs: never panics; an accepted value is a quota the kernel
// takes (at least 1ms per period).
func FuzzParseCPUs(f *testing.F) {
	for _, s := range []string{"0.5", "2", ".5", "0", "abc", "1e3", "0.001", "1."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := parseCPUs(s)
		if err == nil && (q < 1000 || q > (1<<20)*cpuPeriod) {
			t.Fatalf("parseCPUs(%q) = %d", s, q)
		}
	})
}

// FuzzParseCPUList: never panics; an accepted list is sorted, unique, in
// range, and survives formatting and parsing again.
func FuzzParseCPUList(f *testing.F) {
	for _, s := range []string{"0", "0-2,4", "3,1,1", "", "2-1", "1-", "0-65535", "0-8191", "0-8191,0-8191,0-8191"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cpus, err := parseCPUList(s)
		if err != nil {
			return
		}
		if len(cpus) == 0 || !slices.IsSorted(cpus) || len(slices.Compact(slices.Clone(cpus))) != len(cpus) ||
			cpus[0] < 0 || cpus[len(cpus)-1] >= maxCPU {
			t.Fatalf("parseCPUList(%q) = %v", s, cpus)
		}
		again, err := parseCPUList(formatCPUList(cpus))
		if err != nil || !slices.Equal(again, cpus) {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, cpus, formatCPUList(cpus), again, err)
		}
	})
}
