package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestCompactMap(t *testing.T) {
	cases := map[string]string{
		"":                                   "",
		"         0          0 4294967295\n": "0 0 4294967295",
		"         0     100000      65536\n": "0 100000 65536",
		"0 1000 1\n         1     100000      65536\n": "0 1000 1;1 100000 65536",
		"\n\n": "",
	}
	for in, want := range cases {
		if got := compactMap(in); got != want {
			t.Errorf("compactMap(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatCPUList(t *testing.T) {
	cases := []struct {
		cpus []int
		want string
	}{
		{nil, ""},
		{[]int{0}, "0"},
		{[]int{0, 1}, "0-1"},
		{[]int{0, 2}, "0,2"},
		{[]int{0, 1, 2, 3, 6, 8, 9}, "0-3,6,8-9"},
		{[]int{5, 7, 8, 9, 10}, "5,7-10"},
	}
	for _, c := range cases {
		if got := formatCPUList(c.cpus); got != c.want {
			t.Errorf("formatCPUList(%v) = %q, want %q", c.cpus, got, c.want)
		}
	}
}

const sampleMountinfo = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:5 / /dev rw,nosuid master:2 - devtmpfs udev rw,size=4018424k
81 22 8:1 /var/lib/boxlab/vol/data /data\040dir rw,relatime - ext4 /dev/sda1 rw
90 22 0:40 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
`

func TestParseMountinfo(t *testing.T) {
	got, err := parseMountinfo(sampleMountinfo)
	if err != nil {
		t.Fatal(err)
	}
	want := []mountInfo{
		{root: "/", mountPoint: "/", options: "rw,relatime", fsType: "ext4", source: "/dev/sda1"},
		{root: "/", mountPoint: "/proc", options: "rw,nosuid,nodev,noexec,relatime", fsType: "proc", source: "proc"},
		{root: "/", mountPoint: "/dev", options: "rw,nosuid", fsType: "devtmpfs", source: "udev"},
		{root: "/var/lib/boxlab/vol/data", mountPoint: `/data\040dir`, options: "rw,relatime", fsType: "ext4", source: "/dev/sda1"},
		{root: "/", mountPoint: "/", options: "rw,relatime", fsType: "overlay", source: "overlay"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseMountinfo:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseMountinfoRejectsMalformed(t *testing.T) {
	for _, line := range []string{
		"22 1 8:1 / / rw,relatime shared:1 ext4 /dev/sda1 rw", // no separator
		"22 1 8:1 / / rw -",                // nothing after it
		"22 1 8:1 / / - ext4 /dev/sda1 rw", // separator too early
	} {
		if _, err := parseMountinfo(line); err == nil {
			t.Errorf("parseMountinfo(%q): no error", line)
		}
	}
}

// FuzzParseMountinfo: any input gives an error or mounts with every field set.
func FuzzParseMountinfo(f *testing.F) {
	f.Add(sampleMountinfo)
	f.Fuzz(func(t *testing.T, text string) {
		mounts, err := parseMountinfo(text)
		if err != nil {
			return
		}
		for _, m := range mounts {
			if m.root == "" || m.mountPoint == "" || m.options == "" || m.fsType == "" || m.source == "" {
				t.Errorf("parseMountinfo(%q): incomplete %+v", text, m)
			}
		}
	})
}

func TestParseStatusCaps(t *testing.T) {
	status := "Name:\tprobe\nCapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\n"
	got := parseStatusCaps(status)
	want := map[string]string{
		"CapInh": "0000000000000000", "CapPrm": "00000000a80425fb", "CapEff": "00000000a80425fb",
		"CapBnd": "00000000a80425fb", "CapAmb": "0000000000000000",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseStatusCaps = %v, want %v", got, want)
	}
}

// TestFindCgroupFile builds the three layouts in a temporary directory.
func TestFindCgroupFile(t *testing.T) {
	write := func(root, rel string) {
		path := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v2 := t.TempDir()
	write(v2, "memory.max")
	write(v2, "cgroup.controllers")

	v1 := t.TempDir()
	write(v1, "memory/memory.limit_in_bytes")
	write(v1, "cpu,cpuacct/cpu.cfs_quota_us")
	write(v1, "unified/cgroup.controllers")
	if err := os.MkdirAll(filepath.Join(v1, "cgroup"), 0o755); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		root, file, want string
	}{
		{v2, "memory.max", filepath.Join(v2, "memory.max")},
		{v2, "cgroup.controllers", filepath.Join(v2, "cgroup.controllers")},
		{v2, "pids.max", ""},
		{v1, "memory.limit_in_bytes", filepath.Join(v1, "memory/memory.limit_in_bytes")},
		{v1, "cpu.cfs_quota_us", filepath.Join(v1, "cpu,cpuacct/cpu.cfs_quota_us")},
		{v1, "cgroup.controllers", filepath.Join(v1, "unified/cgroup.controllers")},
		{v1, "memory.max", ""},
	}
	for _, c := range cases {
		got, ok := findCgroupFile(c.root, c.file)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("findCgroupFile(%s, %s) = %q, %v; want %q", c.root, c.file, got, ok, c.want)
		}
	}
}
