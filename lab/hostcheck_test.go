package main

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func parseMountinfo(t *testing.T, text string) []*mountinfo.Info {
	t.Helper()
	mounts, err := mountinfo.GetMountsFromReader(strings.NewReader(text), nil)
	require.NoError(t, err)
	return mounts
}

func mountpoints(ms []*mountinfo.Info) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Mountpoint)
	}
	return out
}

const boxlabMountinfo = `21 26 0:20 / /proc rw,relatime - proc proc rw
26 1 254:0 / / rw,relatime - ext4 /dev/vda rw
40 26 0:40 / /run/boxlab rw,relatime - tmpfs tmpfs rw
41 40 0:41 / /run/boxlab/c1/rootfs rw,relatime - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c
42 41 0:20 / /run/boxlab/c1/rootfs/proc rw,relatime - proc proc rw
43 26 0:43 / /run/boxlabx rw,relatime - tmpfs tmpfs rw
44 26 254:0 /srv/data /var/lib/boxlab/volumes/v1 rw,relatime - ext4 /dev/vda rw
45 26 0:45 / /var/lib/boxlab/containers/c2/rootfs rw,relatime - overlay overlay rw
46 45 0:46 / /var/lib/boxlab/containers/c2/rootfs rw,relatime - tmpfs tmpfs rw
47 26 0:47 / /var/lib/docker rw,relatime - tmpfs tmpfs rw
48 26 0:48 / /var/cache/boxlab/with\040space rw,relatime - tmpfs tmpfs rw
49 26 0:4 net:[4026532000] /run/boxlab/netns/c1 rw - nsfs nsfs rw
`

func TestMountsUnderPicksOnlyBoxlabDirsDeepestFirst(t *testing.T) {
	mounts := parseMountinfo(t, boxlabMountinfo)
	got := mountsUnder(mounts, []string{"/run/boxlab", "/var/lib/boxlab", "/var/cache/boxlab"})
	assert.Equal(t, []string{
		"/var/lib/boxlab/containers/c2/rootfs", // 46, stacked on 45: the top one first
		"/var/lib/boxlab/containers/c2/rootfs", // 45
		"/var/lib/boxlab/volumes/v1",
		"/run/boxlab/c1/rootfs/proc", // before the rootfs it sits in
		"/run/boxlab/netns/c1",
		"/var/cache/boxlab/with space", // mountinfo's \040 unescaped
		"/run/boxlab/c1/rootfs",
		"/run/boxlab",
	}, mountpoints(got))
	assert.Equal(t, 46, got[0].ID)
	assert.Equal(t, 45, got[1].ID)
	// The property unmounting needs: nothing comes after a mount inside it.
	for i := range got {
		for j := i + 1; j < len(got); j++ {
			if got[i].Mountpoint != got[j].Mountpoint {
				assert.False(t, under(got[j].Mountpoint, got[i].Mountpoint),
					"%s comes after %s, which it is inside", got[j].Mountpoint, got[i].Mountpoint)
			}
		}
	}
}

func TestMountsUnderNothing(t *testing.T) {
	mounts := parseMountinfo(t, boxlabMountinfo)
	assert.Empty(t, mountsUnder(mounts, []string{"/run/elsewhere"}))
	// A trailing slash on the directory changes nothing.
	assert.Len(t, mountsUnder(mounts, []string{"/var/lib/boxlab/"}), 3)
}

func TestUnder(t *testing.T) {
	assert.True(t, under("/run/boxlab", "/run/boxlab"))
	assert.True(t, under("/run/boxlab/x", "/run/boxlab"))
	assert.False(t, under("/run/boxlabx", "/run/boxlab"))
	assert.False(t, under("/run", "/run/boxlab"))
}

const hybridMountinfo = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 30 0:33 / /sys/fs/cgroup/freezer ro,relatime - cgroup cgroup rw,freezer
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 26 0:31 / /mnt/memory-again rw,relatime - cgroup cgroup rw,memory
51 40 0:35 / /run/boxlab/c1/rootfs/sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
`

func TestCgroupMountsHybrid(t *testing.T) {
	got := cgroupMounts(parseMountinfo(t, hybridMountinfo), []string{"/run/boxlab"})
	assert.Equal(t, []cgroupMount{
		{Path: "/sys/fs/cgroup/cpu,cpuacct", Version: 1, Controllers: []string{"cpu", "cpuacct"}},
		{Path: "/sys/fs/cgroup/memory", Version: 1, Controllers: []string{"memory"}},
		{Path: "/sys/fs/cgroup/freezer", Version: 1, Controllers: []string{"freezer"}, ReadOnly: true},
		{Path: "/sys/fs/cgroup/pids", Version: 1, Controllers: []string{"pids"}},
		{Path: "/sys/fs/cgroup/systemd", Version: 1, Controllers: []string{"name=systemd"}},
		{Path: "/sys/fs/cgroup/unified", Version: 2},
	}, got, "the second memory mount and the container's view are left out")
}

func TestCgroupMountsV2(t *testing.T) {
	got := cgroupMounts(parseMountinfo(t,
		"30 22 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"), nil)
	assert.Equal(t, []cgroupMount{{Path: "/sys/fs/cgroup", Version: 2}}, got)
}

// fakeStatfs describes a host by the f_type of each path.
func fakeStatfs(types map[string]int64) statfsMagic {
	return func(path string) (int64, error) {
		if m, ok := types[path]; ok {
			return m, nil
		}
		return 0, &os.PathError{Op: "statfs", Path: path, Err: unix.ENOENT}
	}
}

func TestDetectCgroupLayout(t *testing.T) {
	for _, tc := range []struct {
		name  string
		types map[string]int64
		want  cgroupLayout
	}{
		{"ubuntu 24.04", map[string]int64{"/sys/fs/cgroup": unix.CGROUP2_SUPER_MAGIC}, layoutV2},
		{"debian 10 hybrid", map[string]int64{"/sys/fs/cgroup": unix.TMPFS_MAGIC, "/sys/fs/cgroup/unified": unix.CGROUP2_SUPER_MAGIC}, layoutHybrid},
		{"unified dir that is not cgroup2", map[string]int64{"/sys/fs/cgroup": unix.TMPFS_MAGIC, "/sys/fs/cgroup/unified": unix.TMPFS_MAGIC}, layoutV1},
		{"centos 7", map[string]int64{"/sys/fs/cgroup": unix.TMPFS_MAGIC}, layoutV1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := detectCgroupLayout("/sys/fs/cgroup", fakeStatfs(tc.types))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDetectCgroupLayoutNoCgroups(t *testing.T) {
	_, err := detectCgroupLayout("/sys/fs/cgroup", fakeStatfs(map[string]int64{"/sys/fs/cgroup": unix.EXT4_SUPER_MAGIC}))
	assert.ErrorContains(t, err, "neither cgroup2 nor")
	_, err = detectCgroupLayout("/sys/fs/cgroup", fakeStatfs(nil))
	assert.True(t, errors.Is(err, unix.ENOENT))
}

func TestDetectCgroupLayoutOfThisHost(t *testing.T) {
	layout, err := detectCgroupLayout(cgroupRoot, realStatfsMagic)
	if err != nil {
		t.Skipf("no cgroups on this host: %v", err)
	}
	assert.Contains(t, []cgroupLayout{layoutV2, layoutHybrid, layoutV1}, layout)
}
