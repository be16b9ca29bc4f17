package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompareGoVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.26.0", "1.26.0", 0},
		{"1.26.8", "1.26.0", 1},
		{"1.26.0", "1.26.8", -1},
		{"1.25.7", "1.26.0", -1},
		{"1.27", "1.26.9", 1},
		{"1.9", "1.10", -1}, // numbers, not strings
		{"1.26", "1.26.0", -1},
		{"1.26rc1", "1.26.0", -1},
		{"1.26rc2", "1.26rc1", 1},
		{"1.26beta1", "1.26rc1", -1},
		{"1.26", "1.26rc1", -1},
		{"2.0.0", "1.99.99", 1},
	} {
		assert.Equal(t, tc.want, compareGoVersions(tc.a, tc.b), "compare(%s, %s)", tc.a, tc.b)
		assert.Equal(t, -tc.want, compareGoVersions(tc.b, tc.a), "compare(%s, %s)", tc.b, tc.a)
	}
}

func TestParseGoVersionOutput(t *testing.T) {
	v, err := parseGoVersionOutput("go version go1.26.8 linux/amd64\n")
	require.NoError(t, err)
	assert.Equal(t, "1.26.8", v)
	v, err = parseGoVersionOutput("go version go1.27rc1 linux/arm64")
	require.NoError(t, err)
	assert.Equal(t, "1.27rc1", v)
	_, err = parseGoVersionOutput("bash: go: command not found")
	assert.Error(t, err)
}

func TestGoDirective(t *testing.T) {
	v, err := goDirective("// the workshop\ngo 1.26.0\n\nuse (\n\t./lab\n)\n")
	require.NoError(t, err)
	assert.Equal(t, "1.26.0", v)
	_, err = goDirective("use ./lab\n")
	assert.Error(t, err)
}

func TestWorkspaceGoVersionFindsThisCheckout(t *testing.T) {
	v, path, err := workspaceGoVersion()
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(path, "/go.work"), path)
	assert.NotEmpty(t, v)
}

func TestParseKernelRelease(t *testing.T) {
	for release, want := range map[string][2]int{
		"6.1.0-18-amd64":      {6, 1},
		"6.8.0-45-generic":    {6, 8},
		"5.10.0":              {5, 10},
		"4.19.0-26-cloud-amd": {4, 19},
		"6.18.44-fc-v769":     {6, 18},
		"5.4rc3":              {5, 4},
	} {
		major, minor, err := parseKernelRelease(release)
		require.NoError(t, err, release)
		assert.Equal(t, want, [2]int{major, minor}, release)
	}
	_, _, err := parseKernelRelease("linux")
	assert.Error(t, err)
}

func TestHumanBytes(t *testing.T) {
	assert.Equal(t, "512 B", humanBytes(512))
	assert.Equal(t, "2.0 GiB", humanBytes(2<<30))
	assert.Equal(t, "1.5 MiB", humanBytes(3<<19))
}

func TestDoctorReportFormat(t *testing.T) {
	var b bytes.Buffer
	printDoctorReport(&b, []checkResult{
		pass("root", "running as root"),
		warn("kernel", "4.19 is old", "use the VM"),
		fail("overlayfs", "not in /proc/filesystems", "sudo modprobe overlay"),
		fail("busybox", "missing", "sudo ./lab.sh install"),
	})
	assert.Equal(t, `[ ok ] root               running as root
[warn] kernel             4.19 is old
  fix: use the VM
[FAIL] overlayfs          not in /proc/filesystems
  fix: sudo modprobe overlay
[FAIL] busybox            missing
  fix: sudo ./lab.sh install
doctor: 2 problems; fix them and run 'sudo ./lab.sh doctor' again
`, b.String())

	b.Reset()
	printDoctorReport(&b, []checkResult{pass("root", "running as root"), warn("nft", "missing", "install")})
	assert.True(t, strings.HasSuffix(b.String(), "doctor: ready (1 warning)\n"), b.String())
}

// Every check runs on this host and says something a student can act on.
// Without root the checks that need it say so instead of failing.
func TestDoctorChecksOnThisHost(t *testing.T) {
	for _, check := range doctorChecks() {
		r := check()
		assert.NotEmpty(t, r.Name)
		assert.NotEmpty(t, r.Detail, r.Name)
		assert.Contains(t, []checkStatus{statusOK, statusWarn, statusFail}, r.Status, r.Name)
		if r.Status != statusOK {
			assert.NotEmpty(t, r.Fix, "%s is %s without a fix: %s", r.Name, r.Status, r.Detail)
		}
		t.Logf("%-4s %-18s %s", r.Status, r.Name, r.Detail)
	}
}

// fakeV2Root writes the files of a cgroup v2 root that checkV2Controllers reads.
func fakeV2Root(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(root, name), []byte(content+"\n"), 0o644))
	}
	return root
}

func TestCheckV2Controllers(t *testing.T) {
	t.Run("ubuntu 24.04: all enabled", func(t *testing.T) {
		root := fakeV2Root(t, map[string]string{
			"cgroup.controllers":     "cpuset cpu io memory hugetlb pids rdma misc",
			"cgroup.subtree_control": "cpuset cpu io memory pids",
		})
		r := checkV2Controllers("c", root, nil)
		assert.Equal(t, statusOK, r.Status, r.Detail)
		assert.Equal(t, "v2: cpu memory pids cpuset (all enabled in "+root+"/cgroup.subtree_control)", r.Detail)
	})
	t.Run("real root, not yet enabled", func(t *testing.T) {
		root := fakeV2Root(t, map[string]string{
			"cgroup.controllers":     "cpu memory pids",
			"cgroup.subtree_control": "",
			"cgroup.procs":           "1\n2",
		})
		r := checkV2Controllers("c", root, nil)
		assert.Equal(t, statusWarn, r.Status, "cpuset missing: %s", r.Detail)
		assert.Contains(t, r.Detail, "stage03 enables cpu memory pids through cgroup.subtree_control")
		assert.Contains(t, r.Detail, "missing cpuset")
	})
	t.Run("container root with processes", func(t *testing.T) {
		root := fakeV2Root(t, map[string]string{
			"cgroup.controllers":     "cpuset cpu memory pids",
			"cgroup.subtree_control": "",
			"cgroup.type":            "domain",
			"cgroup.procs":           "1",
		})
		r := checkV2Controllers("c", root, nil)
		assert.Equal(t, statusWarn, r.Status)
		assert.Contains(t, r.Detail, "no internal processes rule")
		assert.NotEmpty(t, r.Fix)
	})
	t.Run("memory disabled", func(t *testing.T) {
		root := fakeV2Root(t, map[string]string{"cgroup.controllers": "cpu pids"})
		r := checkV2Controllers("c", root, nil)
		assert.Equal(t, statusFail, r.Status)
		assert.Contains(t, r.Detail, "lacks memory")
	})
	t.Run("read-only", func(t *testing.T) {
		root := fakeV2Root(t, map[string]string{"cgroup.controllers": "cpu memory pids"})
		r := checkV2Controllers("c", root, []cgroupMount{{Path: root, Version: 2, ReadOnly: true}})
		assert.Equal(t, statusFail, r.Status)
	})
}

func TestCheckV1Controllers(t *testing.T) {
	mounts := cgroupMounts(parseMountinfo(t, hybridMountinfo), nil)
	r := checkV1Controllers("c", mounts)
	assert.Equal(t, statusFail, r.Status, "the fixture's freezer is read-only")

	var writable []cgroupMount
	for _, m := range mounts {
		if !m.ReadOnly {
			writable = append(writable, m)
		}
	}
	r = checkV1Controllers("c", writable)
	assert.Equal(t, statusWarn, r.Status)
	assert.Equal(t, "v1: cpu memory pids cpuacct; missing cpuset freezer", r.Detail)

	var noMemory []cgroupMount
	for _, m := range writable {
		if m.Path != "/sys/fs/cgroup/memory" {
			noMemory = append(noMemory, m)
		}
	}
	r = checkV1Controllers("c", noMemory)
	assert.Equal(t, statusFail, r.Status)
	assert.Contains(t, r.Detail, "missing memory")
}
