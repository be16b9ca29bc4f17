package vm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// debian61Cgroups is /proc/cgroups of Debian 12's 6.1 kernel, booted
// without a cgroup2 mount (the v1 hierarchies not mounted yet).
const debian61Cgroups = `#subsys_name	hierarchy	num_cgroups	enabled
cpuset	0	1	1
cpu	0	1	1
cpuacct	0	1	1
blkio	0	1	1
memory	0	1	1
devices	0	1	1
freezer	0	1	1
net_cls	0	1	1
perf_event	0	1	1
net_prio	0	1	1
hugetlb	0	1	1
pids	0	1	1
rdma	0	1	1
misc	0	1	1
`

// oddCgroups: memory disabled (cgroup_disable=memory), no cpuacct, and
// net_prio without net_cls; a duplicate line and junk are ignored.
const oddCgroups = `#subsys_name	hierarchy	num_cgroups	enabled
cpu	0	1	1
memory	0	1	0
net_prio	0	1	1
pids	0	1	1
pids	0	1	1
garbage
`

func TestParseCgroupMode(t *testing.T) {
	for in, want := range map[string]CgroupMode{"v2": CgroupV2, "v1": CgroupV1, "hybrid": CgroupHybrid, " Hybrid ": CgroupHybrid} {
		got, err := ParseCgroupMode(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "v3", "unified", "legacy"} {
		_, err := ParseCgroupMode(in)
		assert.ErrorContains(t, err, "want v2, v1 or hybrid", in)
	}
	assert.Equal(t, "cgroup v2", CgroupV2.Name())
	assert.Equal(t, "cgroup v2", CgroupMode("").Name())
	assert.Equal(t, "cgroup v1", CgroupV1.Name())
	assert.Equal(t, "cgroup v1 hybrid", CgroupHybrid.Name())
	assert.False(t, CgroupV2.V1())
	assert.True(t, CgroupV1.V1())
	assert.True(t, CgroupHybrid.V1())
}

func TestV1Hierarchies(t *testing.T) {
	assert.Equal(t, []string{"cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer",
		"net_cls", "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc"}, EnabledControllers(debian61Cgroups))
	assert.Equal(t, []string{"cpuset", "cpu,cpuacct", "blkio", "memory", "devices", "freezer",
		"net_cls,net_prio", "perf_event", "hugetlb", "pids", "rdma", "misc"}, V1Hierarchies(debian61Cgroups))
	// cpuacct listed before cpu still gives systemd's name, cpu,cpuacct.
	assert.Equal(t, []string{"cpu,cpuacct"}, V1Hierarchies("cpuacct 0 1 1\ncpu 0 1 1\n"))
	assert.Equal(t, []string{"cpu", "net_prio", "pids"}, V1Hierarchies(oddCgroups),
		"a group the kernel offers one member of is that member alone; disabled controllers are left out")
	assert.Empty(t, V1Hierarchies(""))
}

// The guest computes the hierarchies with awk (v1Awk): it must agree with
// V1Hierarchies, with the host's awk and, when there is one, busybox's.
func TestV1AwkAgrees(t *testing.T) {
	var awks [][]string
	if p, err := exec.LookPath("awk"); err == nil {
		awks = append(awks, []string{p})
	}
	for _, bb := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if _, err := os.Stat(bb); err == nil {
			awks = append(awks, []string{bb, "awk"})
			break
		}
	}
	if len(awks) == 0 {
		t.Skip("no awk on this host")
	}
	for name, text := range map[string]string{"debian61": debian61Cgroups, "odd": oddCgroups, "reversed": "cpuacct 0 1 1\ncpu 0 1 1\n", "empty": ""} {
		f := filepath.Join(t.TempDir(), "cgroups")
		require.NoError(t, os.WriteFile(f, []byte(text), 0o644))
		for _, awk := range awks {
			out, err := exec.Command(awk[0], append(awk[1:], v1Awk(), f)...).CombinedOutput()
			require.NoError(t, err, "%s %s: %s", awk, name, out)
			assert.Equal(t, strings.Join(V1Hierarchies(text), " "), strings.Join(strings.Fields(string(out)), " "), "%v on %s", awk, name)
		}
	}
}

func TestCgroupMounts(t *testing.T) {
	v2 := CgroupMounts(CgroupV2, debian61Cgroups)
	assert.Equal(t, []CgroupMount{{Type: "cgroup2", Target: "/sys/fs/cgroup",
		Options: "nosuid,nodev,noexec,nsdelegate,memory_recursiveprot"}}, v2)

	v1 := CgroupMounts(CgroupV1, debian61Cgroups)
	require.Len(t, v1, 13)
	assert.Equal(t, CgroupMount{Type: "tmpfs", Target: "/sys/fs/cgroup", Options: "nosuid,nodev,noexec,mode=0755", ReadOnly: true}, v1[0])
	assert.Equal(t, CgroupMount{Type: "cgroup", Target: "/sys/fs/cgroup/cpu,cpuacct",
		Options: "nosuid,nodev,noexec,cpu,cpuacct", Links: []string{"cpu", "cpuacct"}}, v1[2])
	assert.Equal(t, []string{"cpu", "cpuacct"}, v1[2].Controllers())
	assert.Equal(t, CgroupMount{Type: "cgroup", Target: "/sys/fs/cgroup/memory", Options: "nosuid,nodev,noexec,memory"}, v1[4])
	assert.Equal(t, []string{"net_cls", "net_prio"}, v1[7].Links)
	for _, m := range v1 {
		assert.NotEqual(t, "cgroup2", m.Type, "v1 has no unified hierarchy")
	}

	hybrid := CgroupMounts(CgroupHybrid, debian61Cgroups)
	require.Len(t, hybrid, 14)
	assert.Equal(t, v1, hybrid[:13], "hybrid is v1 plus...")
	assert.Equal(t, CgroupMount{Type: "cgroup2", Target: "/sys/fs/cgroup/unified", Options: "nosuid,nodev,noexec,nsdelegate"}, hybrid[13],
		"...cgroup2 last: the v1 hierarchies take the controllers first")
	assert.Nil(t, hybrid[13].Controllers())
}

// hybridMounts is the guest's /proc/mounts (the cgroup part) on Debian
// 12's kernel in hybrid mode.
const hybridMounts = `tmpfs /sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpuset cgroup rw,nosuid,nodev,noexec,relatime,cpuset 0 0
cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0
cgroup /sys/fs/cgroup/blkio cgroup rw,nosuid,nodev,noexec,relatime,blkio 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0
cgroup /sys/fs/cgroup/devices cgroup rw,nosuid,nodev,noexec,relatime,devices 0 0
cgroup /sys/fs/cgroup/freezer cgroup rw,nosuid,nodev,noexec,relatime,freezer 0 0
cgroup /sys/fs/cgroup/net_cls,net_prio cgroup rw,nosuid,nodev,noexec,relatime,net_cls,net_prio 0 0
cgroup /sys/fs/cgroup/perf_event cgroup rw,nosuid,nodev,noexec,relatime,perf_event 0 0
cgroup /sys/fs/cgroup/hugetlb cgroup rw,nosuid,nodev,noexec,relatime,hugetlb 0 0
cgroup /sys/fs/cgroup/pids cgroup rw,nosuid,nodev,noexec,relatime,pids 0 0
cgroup /sys/fs/cgroup/rdma cgroup rw,nosuid,nodev,noexec,relatime,rdma 0 0
cgroup /sys/fs/cgroup/misc cgroup rw,nosuid,nodev,noexec,relatime,misc 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0`

func TestCheckCgroupMounts(t *testing.T) {
	hybrid := CgroupMounts(CgroupHybrid, debian61Cgroups)
	assert.NoError(t, CheckCgroupMounts(hybrid, "proc /proc proc rw 0 0\n"+hybridMounts))
	assert.NoError(t, CheckCgroupMounts(CgroupMounts(CgroupV2, debian61Cgroups),
		"cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate,memory_recursiveprot 0 0"))

	v1Lines := strings.Split(hybridMounts, "\n")
	v1Lines = v1Lines[:len(v1Lines)-1]
	err := CheckCgroupMounts(CgroupMounts(CgroupV1, debian61Cgroups), hybridMounts)
	assert.ErrorContains(t, err, "unexpected cgroup2 mount at /sys/fs/cgroup/unified")
	assert.NoError(t, CheckCgroupMounts(CgroupMounts(CgroupV1, debian61Cgroups), strings.Join(v1Lines, "\n")))

	err = CheckCgroupMounts(hybrid, strings.Join(v1Lines, "\n"))
	assert.ErrorContains(t, err, "/sys/fs/cgroup/unified (cgroup2) is not mounted")

	rw := strings.Replace(hybridMounts, "tmpfs ro,", "tmpfs rw,", 1)
	assert.ErrorContains(t, CheckCgroupMounts(hybrid, rw), "/sys/fs/cgroup is mounted rw")

	split := strings.Replace(hybridMounts, "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct",
		"cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu", 1)
	assert.ErrorContains(t, CheckCgroupMounts(hybrid, split), "/sys/fs/cgroup/cpu,cpuacct lacks the cpuacct controller")

	err = CheckCgroupMounts(CgroupMounts(CgroupV2, debian61Cgroups), hybridMounts)
	assert.ErrorContains(t, err, "/sys/fs/cgroup is tmpfs, want cgroup2")
	assert.ErrorContains(t, err, "unexpected cgroup mount at /sys/fs/cgroup/memory")
}

func TestStage2CgroupModes(t *testing.T) {
	render := func(m CgroupMode) string {
		p := testPlan()
		p.Cgroup = m
		b, err := Stage2(p)
		require.NoError(t, err)
		return string(b)
	}
	v2, v1, hybrid := render(CgroupV2), render(CgroupV1), render(CgroupHybrid)
	assert.Equal(t, render(""), v2, "the zero mode is v2")

	for name, s := range map[string]string{"v1": v1, "hybrid": hybrid} {
		assert.NotContains(t, s, "subtree_control\n", name)
		assert.NotContains(t, s, `>$cg/cgroup.subtree_control`, "%s: nothing enables a controller in v2", name)
		assert.NotContains(t, s, "memory_recursiveprot", name)
		assert.Contains(t, s, "mount -t tmpfs -o nosuid,nodev,noexec,mode=0755 tmpfs $cg", name)
		assert.Contains(t, s, "mount -t cgroup -o nosuid,nodev,noexec,$h cgroup $cg/$h", name)
		assert.Contains(t, s, "ln -s $h $cg/$c", name)
		assert.Contains(t, s, "mount -o remount,ro,nosuid,nodev,noexec,mode=0755 $cg", name)
		assert.Contains(t, s, "awk '!/^#/", name)
		assert.Contains(t, s, `for c in memory pids; do`, name)
		assert.Contains(t, s, `say header "memory.memsw (swap accounting)`, name)
		assert.Less(t, strings.Index(s, "mount -t cgroup -o"), strings.Index(s, "remount,ro"), name)
	}
	assert.NotContains(t, v1, "mount -t cgroup2", "v1 mounts no cgroup2...")
	assert.Contains(t, v1, `fatal "a cgroup2 hierarchy is mounted"`, "...and checks that none is")
	assert.Contains(t, hybrid, "mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 $cg/unified")
	assert.Less(t, strings.Index(hybrid, "mount -t cgroup -o"), strings.Index(hybrid, "mount -t cgroup2"),
		"the v1 hierarchies take the controllers before cgroup2 is mounted")
	assert.Less(t, strings.Index(hybrid, "mount -t cgroup2"), strings.Index(hybrid, "remount,ro"))
	assert.Contains(t, hybrid, `echo $$ >$cg/unified/init.scope/cgroup.procs`)
	assert.Contains(t, hybrid, `[ -z "$(cat $cg/unified/cgroup.subtree_control)" ] || fatal`)

	assert.NotContains(t, v2, "mount -t cgroup ")
	assert.NotContains(t, v2, "tmpfs $cg")
	for name, s := range map[string]string{"v2": v2, "v1": v1, "hybrid": hybrid} {
		assert.Contains(t, s, `say header "/proc/cgroups: $l"`, name)
		assert.Contains(t, s, `say header "mount: $l"`, name)
		assert.Contains(t, s, `BOXLAB_CGROUPS="$svcs"`, name)
		assert.NotContains(t, s, "cgroup_no_v1", name)
		p := filepath.Join(t.TempDir(), "init.sh")
		require.NoError(t, os.WriteFile(p, []byte(s), 0o755))
		out, err := exec.Command("sh", "-n", p).CombinedOutput()
		assert.NoError(t, err, "%s: %s", name, out)
	}
	assert.Contains(t, v1, `say header "cgroup layout: cgroup v1"`)
	assert.Contains(t, hybrid, `say header "cgroup layout: cgroup v1 hybrid"`)
	assert.NotContains(t, KernelCmdline, "cgroup_no_v1", "v1 hierarchies must stay mountable")
}
