package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"boxlab/lab/internal/vm"
)

// ev is one test2json event line.
func ev(action, pkg, test, output string) string {
	return fmt.Sprintf(`{"Action":%q,"Package":%q,"Test":%q,"Output":%q}`, action, pkg, test, output)
}

// feedVM plays a results channel into a collector.
func feedVM(t *testing.T, planned []module, lines ...string) (*vmCollector, string) {
	t.Helper()
	var out bytes.Buffer
	c := newVMCollector(&out, false, planned)
	clock := time.Unix(0, 0)
	c.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	require.NoError(t, vm.ReadResults(strings.NewReader(strings.Join(lines, "\n")+"\n"), c))
	return c, out.String()
}

var vmMods = []module{
	{Name: "stage01-chroot", Path: "boxlab/stage01-chroot"},
	{Name: "stage02-namespaces", Path: "boxlab/stage02-namespaces"},
}

func TestVMCollectorScores(t *testing.T) {
	const p1, p2 = "boxlab/stage01-chroot", "boxlab/stage02-namespaces"
	c, out := feedVM(t, vmMods,
		"@@boxlab-vm header cgroup.controllers: cpuset cpu io memory pids",
		"@@boxlab-vm begin stage01-chroot "+p1,
		"@@boxlab-vm package "+p1,
		ev("run", p1, "TestA", ""), ev("output", p1, "TestA", "=== RUN   TestA\n"), ev("pass", p1, "TestA", ""),
		ev("run", p1, "TestB", ""), ev("output", p1, "TestB", "    b_test.go:9: needs root\n"), ev("skip", p1, "TestB", ""),
		ev("pass", p1, "", ""),
		"@@boxlab-vm exit "+p1+" 0",
		"@@boxlab-vm end stage01-chroot",
		"@@boxlab-vm begin stage02-namespaces "+p2,
		"@@boxlab-vm package "+p2,
		ev("run", p2, "TestC", ""), ev("output", p2, "TestC", "    c_test.go:3: boom\n"), ev("fail", p2, "TestC", ""),
		ev("fail", p2, "", ""),
		"@@boxlab-vm exit "+p2+" 1",
		"@@boxlab-vm package "+p2+"/sub",
		"test2json: exec: no such file",
		"@@boxlab-vm exit "+p2+"/sub 1",
		"@@boxlab-vm end stage02-namespaces",
		"@@boxlab-vm done",
	)
	res := c.finish("")
	require.Len(t, res, 2)
	assert.Equal(t, "stage01-chroot", res[0].Module)
	assert.Equal(t, [3]int{1, 0, 1}, [3]int{res[0].Passed, res[0].Failed, res[0].Skipped})
	assert.Equal(t, "needs root", res[0].Skips[0].Reason)
	assert.Equal(t, [3]int{0, 2, 0}, [3]int{res[1].Passed, res[1].Failed, res[1].Skipped},
		"TestC, plus the binary that failed without any event; the failed package is not counted twice")
	assert.Equal(t, "TestC", res[1].Failures[0].Name)
	assert.Equal(t, p2+"/sub [exit status 1 in the VM]", res[1].Failures[1].Name)
	assert.Positive(t, res[0].Seconds)
	assert.Contains(t, out, "  vm| cgroup.controllers: cpuset cpu io memory pids")
	assert.Contains(t, out, "== stage02-namespaces: test (cgroup v2 VM)")
	assert.Contains(t, out, "  ok   TestA")
	assert.True(t, c.done)
	assert.False(t, c.booted.IsZero())
}

// A VM that stops in the middle (timeout, crash): the running module fails
// with the reason and its unfinished test, the others count as not run.
func TestVMCollectorStopped(t *testing.T) {
	const p1 = "boxlab/stage01-chroot"
	c, _ := feedVM(t, vmMods,
		"@@boxlab-vm begin stage01-chroot "+p1,
		"@@boxlab-vm package "+p1,
		ev("run", p1, "TestA", ""), ev("pass", p1, "TestA", ""),
		ev("run", p1, "TestHangs", ""), ev("output", p1, "TestHangs", "=== RUN   TestHangs\n"),
	)
	res := c.finish("timeout: the VM was still running after 40m0s (--timeout)")
	require.Len(t, res, 2)
	assert.Equal(t, 1, res[0].Passed)
	assert.Equal(t, 2, res[0].Failed, "TestHangs and the stop itself")
	var names []string
	for _, f := range res[0].Failures {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"TestHangs", "VM stopped during stage01-chroot"}, names)
	assert.Equal(t, []string{"timeout: the VM was still running after 40m0s (--timeout)"}, res[0].Failures[1].Output)
	assert.Equal(t, 1, res[1].Failed)
	assert.Equal(t, "not run in the VM", res[1].Failures[0].Name)
}

// A guest that could not set itself up reports why; nothing ran.
func TestVMCollectorFatal(t *testing.T) {
	c, out := feedVM(t, vmMods[:1], "@@boxlab-vm fatal cgroup2 is not mounted at /sys/fs/cgroup")
	res := c.finish("")
	require.Len(t, res, 1)
	assert.Equal(t, 1, res[0].Failed)
	assert.Contains(t, res[0].Failures[0].Output[0], "cgroup2 is not mounted")
	assert.Contains(t, out, "FATAL: cgroup2 is not mounted")
}

func TestMergeVMResults(t *testing.T) {
	mods := append(vmMods, module{Name: "stage03-cgroups"})
	failed := map[string]moduleResult{"stage02-namespaces": {Module: "stage02-namespaces", Failed: 1}}
	ran := []moduleResult{{Module: "stage03-cgroups", Passed: 3}, {Module: "stage01-chroot", Passed: 1}}
	var names []string
	for _, r := range mergeVMResults(mods, failed, ran) {
		names = append(names, r.Module)
	}
	assert.Equal(t, []string{"stage01-chroot", "stage02-namespaces", "stage03-cgroups"}, names)

	// The VM's own set-up failure is no module of the workspace: kept, last.
	ran = append(ran, vmSetupFailure("cgroup v1 layout", fmt.Errorf("boom")))
	names = nil
	for _, r := range mergeVMResults(mods, failed, ran) {
		names = append(names, r.Module)
	}
	assert.Equal(t, []string{"stage01-chroot", "stage02-namespaces", "stage03-cgroups", "VM set-up"}, names)
}

func TestVMTitle(t *testing.T) {
	assert.Equal(t, "cgroup v2 (VM)", vmTitle(vm.CgroupV2))
	assert.Equal(t, "cgroup v1 (VM)", vmTitle(vm.CgroupV1))
	assert.Equal(t, "cgroup v1 hybrid (VM)", vmTitle(vm.CgroupHybrid))
}

// The collector checks the mounts the guest reports against the plan it
// computes from the guest's /proc/cgroups.
func TestVMCollectorChecksCgroupMounts(t *testing.T) {
	headers := []string{
		"@@boxlab-vm header /proc/cgroups: #subsys_name hierarchy num_cgroups enabled",
		"@@boxlab-vm header /proc/cgroups: cpu 2 1 1",
		"@@boxlab-vm header /proc/cgroups: cpuacct 2 1 1",
		"@@boxlab-vm header /proc/cgroups: memory 3 1 1",
		"@@boxlab-vm header mount: tmpfs /sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,relatime,mode=755 0 0",
		"@@boxlab-vm header mount: cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0",
		"@@boxlab-vm header mount: cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0",
	}
	c, _ := feedVM(t, vmMods[:1], headers...)
	assert.NoError(t, c.checkCgroupMounts(vm.CgroupV1))
	err := c.checkCgroupMounts(vm.CgroupHybrid)
	assert.ErrorContains(t, err, "/sys/fs/cgroup/unified (cgroup2) is not mounted")
	assert.ErrorContains(t, c.checkCgroupMounts(vm.CgroupV2), "/sys/fs/cgroup is tmpfs, want cgroup2")

	c, _ = feedVM(t, vmMods[:1], "@@boxlab-vm fatal mount tmpfs /sys/fs/cgroup failed")
	assert.NoError(t, c.checkCgroupMounts(vm.CgroupV1), "a guest that died before its header has failed already")

	_, out := feedVM(t, vmMods[:1], "@@boxlab-vm begin stage01-chroot boxlab/stage01-chroot")
	assert.Contains(t, out, "== stage01-chroot: test (cgroup v2 VM)")
}

func TestStageModules(t *testing.T) {
	got := stageModules([]module{{Name: "lab"}, {Name: "stage01-chroot"}, {Name: "tools"}, {Name: "stage02-namespaces"}})
	assert.Equal(t, vmModNames(got), []string{"stage01-chroot", "stage02-namespaces"})
}

func vmModNames(ms []module) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func TestConsoleTail(t *testing.T) {
	var out bytes.Buffer
	c := newConsoleTail(&out, false, 3)
	fmt.Fprint(c, "one\r\ntwo\nthr")
	fmt.Fprint(c, "ee\nfour\nfive")
	c.flush()
	assert.Equal(t, []string{"three", "four", "five"}, c.lines())
	assert.Empty(t, out.String(), "quiet unless verbose")

	v := newConsoleTail(&out, true, 3)
	fmt.Fprint(v, "[    1.0] reboot: Power down\n")
	assert.Equal(t, "  console| [    1.0] reboot: Power down\n", out.String())
}

func TestGuestPlan(t *testing.T) {
	root := "/w"
	stages := []vmStage{{
		mod:         module{Name: "stage01-chroot", Dir: "/w/stage01-chroot", Path: "boxlab/stage01-chroot"},
		stageBinary: "/tmp/x/stage01-chroot",
		packages: []vmTestBinary{
			{importPath: "boxlab/stage01-chroot", dir: "/w/stage01-chroot", binary: "/tmp/x/00-stage01-chroot.test"},
			{importPath: "boxlab/stage01-chroot/internal/p", dir: "/w/stage01-chroot/internal/p", binary: "/tmp/x/03-p.test"},
		},
	}}
	p := guestPlan("6.1.0-56-amd64", []string{"kernel/net/llc/llc.ko"}, stages, root,
		vmOptions{Timeout: 5 * time.Minute, Run: "TestX", Cgroup: vm.CgroupHybrid})
	assert.Equal(t, vm.CgroupHybrid, p.Cgroup)
	assert.Equal(t, []string{"/lib/modules/6.1.0-56-amd64/kernel/net/llc/llc.ko"}, p.Modules)
	assert.Equal(t, "/var/cache/boxlab", p.ImageDir)
	assert.Equal(t, 5*time.Minute, p.TestTimeout, "never longer than the whole run")
	assert.Equal(t, "TestX", p.Run)
	require.Len(t, p.Stages, 1)
	s := p.Stages[0]
	assert.Equal(t, "/boxlab/bin/stage01-chroot", s.StageBinary)
	assert.Equal(t, vm.GuestPackage{ImportPath: "boxlab/stage01-chroot/internal/p",
		Dir: "/boxlab/src/stage01-chroot/internal/p", Binary: "/boxlab/tests/stage01-chroot/03-p.test"}, s.Packages[1])

	assert.Equal(t, 10*time.Minute, vmOptions{Timeout: 40 * time.Minute}.testTimeout(), "go test's default")
}

func TestSkipNonSource(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"main.go":          []byte("package main\n"),
		"README.md":        []byte("# x\n"),
		"stage01-chroot":   []byte("\x7fELF\x02\x01\x01"),
		"x.test":           []byte("whatever"),
		".hidden":          nil,
		"testdata/run.sh":  []byte("#!/bin/sh\n"),
		"testdata/in.json": []byte("{}"),
	}
	for name, data := range files {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o755))
	}
	skip := skipNonSource(dir)
	entries := map[string]os.DirEntry{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		entries[rel] = d
		return err
	}))
	kept := map[string]bool{}
	for rel, d := range entries {
		if rel != "." {
			kept[rel] = !skip(rel, d)
		}
	}
	assert.Equal(t, map[string]bool{"main.go": true, "README.md": true, "stage01-chroot": false, "x.test": false,
		".hidden": false, "testdata": true, "testdata/run.sh": true, "testdata/in.json": true}, kept)
}

func TestCacheKey(t *testing.T) {
	assert.Equal(t, "linux-image-6.1.0-56-amd64_6.1.192-2",
		cacheKey(vm.KernelPackage{Name: "linux-image-6.1.0-56-amd64", Version: "6.1.192-2"}))
	assert.Equal(t, "linux-image-x_1%3a2.0", cacheKey(vm.KernelPackage{Name: "linux-image-x", Version: "1:2.0"}))
}

func TestVMTiming(t *testing.T) {
	s := vmTiming{kernel: 1500 * time.Millisecond, boot: 9 * time.Second, total: time.Minute}.String()
	assert.Contains(t, s, "kernel 1.5s")
	assert.Contains(t, s, "boot 9s")
	assert.Contains(t, s, "total 1m0s")
}

func TestPrintReports(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "host.json")
	guest := filepath.Join(dir, "vm.json")
	require.NoError(t, writeResultsJSON(host, "host: cgroup v1 hybrid", []moduleResult{{Module: "stage01-chroot", Passed: 3}}))
	require.NoError(t, writeResultsJSON(guest, vmTitle(vm.CgroupV2), []moduleResult{{Module: "stage01-chroot", Passed: 2, Skipped: 1}}))

	var out bytes.Buffer
	assert.Equal(t, 0, printReports(&out, []string{host, guest}, false))
	s := out.String()
	assert.Contains(t, s, "scoreboard (host: cgroup v1 hybrid)")
	assert.Contains(t, s, "scoreboard (cgroup v2 (VM))")
	assert.Equal(t, "5 passed, 0 failed, 1 skipped", vmLastLine(s), "one closing line for both passes")
	assert.Equal(t, 1, printReports(&bytes.Buffer{}, []string{host, guest}, true), "strict: the skip fails")

	out.Reset()
	assert.Equal(t, 1, printReports(&out, []string{host, filepath.Join(dir, "missing.json")}, true))
	assert.Contains(t, out.String(), "that pass did not finish")
	assert.Equal(t, "3 passed, 1 failed, 0 skipped", vmLastLine(out.String()))
}

func vmLastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
