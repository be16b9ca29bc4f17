package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestParseVolumeSpec(t *testing.T) {
	good := map[string]volumeSpec{
		"/srv/data:/data":       {Source: "/srv/data", Target: "/data"},
		"/srv//data/:/data/:ro": {Source: "/srv/data", Target: "/data", ReadOnly: true},
		"mydata:/var/lib/x:rw":  {Source: "mydata", Target: "/var/lib/x", Named: true},
		"my.vol_1-a:/a/../b":    {Source: "my.vol_1-a", Target: "/b", Named: true},
	}
	for in, want := range good {
		got, err := parseVolumeSpec(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	bad := map[string]string{
		"/data":             "want SRC:DST",
		"a:b:c:d":           "want SRC:DST",
		"./data:/data":      "relative host path",
		"data/x:/data":      "relative host path",
		"~/x:/data":         "relative host path",
		"../x:/data":        "relative host path",
		"x:/data":           "volume name",
		"bad name:/data":    "volume name",
		"/srv:data":         "absolute path in the container",
		"/srv:/":            "container's root",
		"/srv:/x/..":        "container's root",
		"/srv:/data:rx":     "unknown option",
		":/data":            "empty source",
		"/srv:/data\x00:ro": "NUL",
	}
	for in, want := range bad {
		_, err := parseVolumeSpec(in)
		assert.ErrorContains(t, err, want, "%q", in)
	}
}

// Whatever parses is an absolute clean target below the root and either an
// absolute host path or a valid name, and prints back to itself.
func FuzzParseVolumeSpec(f *testing.F) {
	for _, s := range []string{"/a:/b", "vol:/b:ro", "./x:/y", "/a:/", "a:b:c:d", "/a:/b/../..:rw"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		v, err := parseVolumeSpec(spec)
		if err != nil {
			return
		}
		if !strings.HasPrefix(v.Target, "/") || v.Target == "/" || filepath.Clean(v.Target) != v.Target {
			t.Fatalf("%q: bad target %q", spec, v.Target)
		}
		if v.Named != !strings.HasPrefix(v.Source, "/") || (v.Named && !volumeNameRe.MatchString(v.Source)) {
			t.Fatalf("%q: bad source %+v", spec, v)
		}
		again, err := parseVolumeSpec(v.String())
		if err != nil || again != v {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", spec, v, v.String(), again, err)
		}
	})
}

// volumeInto mounts the volumes of c into its mounted root until the test
// ends, as the child will before pivot_root.
func volumeInto(t *testing.T, s *store, c *container, root string) {
	t.Helper()
	for _, v := range c.Volumes {
		before := mountsUnder(t, root)
		require.NoError(t, mountVolume(root, s.volumeSource(v), v))
		// The path string root+target may lead elsewhere (through a
		// symlink): unmount what mountinfo says was mounted.
		for _, m := range mountsUnder(t, root) {
			if !slices.Contains(before, m) {
				t.Cleanup(func() { require.NoError(t, unix.Unmount(m, unix.MNT_DETACH)) })
			}
		}
	}
}

// mountsUnder lists the mount points below dir (proc(5) mountinfo).
func mountsUnder(t *testing.T, dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(unescapeOctal(f[4]), dir+"/") {
			out = append(out, unescapeOctal(f[4]))
		}
	}
	return out
}

func volumes(t *testing.T, specs ...string) []volumeSpec {
	var vs []volumeSpec
	for _, s := range specs {
		v, err := parseVolumeSpec(s)
		require.NoError(t, err)
		vs = append(vs, v)
	}
	return vs
}

// A named volume is made on first use and shared; a read-only one
// refuses writes while the rest of the root stays writable; a host
// directory is seen inside.
func TestVolumes(t *testing.T) {
	s := testStore(t)
	importTestImage(t, s)
	host := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(host, "from-host"), []byte("hi"), 0o644))
	hostFile := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.WriteFile(hostFile, []byte("cfg"), 0o644))

	a := &container{Image: "boxlab/test", Volumes: volumes(t, "shared:/data", host+":/mnt/host:ro", hostFile+":/etc/app.conf")}
	require.NoError(t, s.createContainer(a, nil))
	t.Cleanup(func() { require.NoError(t, s.deleteContainer(a)) })
	rootA := mountContainer(t, s, a)
	volumeInto(t, s, a, rootA)
	b := &container{Image: "boxlab/test", Volumes: volumes(t, "shared:/srv/shared")}
	require.NoError(t, s.createContainer(b, nil))
	t.Cleanup(func() { require.NoError(t, s.deleteContainer(b)) })
	rootB := mountContainer(t, s, b)
	volumeInto(t, s, b, rootB)

	require.NoError(t, os.WriteFile(filepath.Join(rootA, "data/note"), []byte("from a"), 0o644))
	assert.Equal(t, "from a", readFile(t, filepath.Join(rootB, "srv/shared/note")), "one named volume, two containers")
	assert.Equal(t, "from a", readFile(t, filepath.Join(s.volumeDir("shared"), "_data/note")))
	assert.False(t, exists(filepath.Join(s.upperDir(a.ID), "data/note")), "volume writes bypass the overlay")

	assert.Equal(t, "hi", readFile(t, filepath.Join(rootA, "mnt/host/from-host")))
	err := os.WriteFile(filepath.Join(rootA, "mnt/host/new"), nil, 0o644)
	assert.True(t, errors.Is(err, unix.EROFS), "read-only volume accepted a write: %v", err)
	assert.NoError(t, os.WriteFile(filepath.Join(rootA, "etc/still-writable"), nil, 0o644))
	assert.Equal(t, "cfg", readFile(t, filepath.Join(rootA, "etc/app.conf")), "a file volume")

	vs, err := s.listVolumes()
	require.NoError(t, err)
	require.Len(t, vs, 1)
	assert.ElementsMatch(t, []string{a.Name, b.Name}, vs[0].UsedBy)
	assert.ErrorContains(t, s.removeVolume("shared"), "in use")
	assert.ErrorContains(t, s.removeVolume("nosuch"), "no such volume")
}

// A symlink in the image cannot aim a volume at the host: the target is
// resolved inside the root, and a link to nothing there is refused.
func TestVolumeTargetSymlinkStaysInRoot(t *testing.T) {
	s := testStore(t)
	importTestImage(t, s)
	const probe = "boxlab-volume-target-probe"
	require.NoFileExists(t, "/etc/"+probe)
	c := &container{Image: "boxlab/test", Volumes: volumes(t, "v1:/evil/"+probe, "v2:/evil2/"+probe)}
	require.NoError(t, s.createContainer(c, nil))
	t.Cleanup(func() { require.NoError(t, s.deleteContainer(c)) })
	root := mountContainer(t, s, c)
	// The "image" holds links to the host's /etc, absolute and relative.
	require.NoError(t, os.Symlink("/etc", filepath.Join(root, "evil")))
	require.NoError(t, os.Symlink("../../../../../../../../../etc", filepath.Join(root, "evil2")))
	volumeInto(t, s, c, root)

	assert.NoFileExists(t, "/etc/"+probe, "created on the host")
	assert.False(t, isMountPoint("/etc/"+probe))
	assert.True(t, isMountPoint(filepath.Join(root, "etc", probe)), "mounted at the link's target inside the root")

	hostDir := t.TempDir()
	require.NoError(t, os.Symlink(hostDir, filepath.Join(root, "dangling")))
	err := mountVolume(root, s.volumeSource(c.Volumes[0]), volumes(t, "v1:/dangling/x")[0])
	assert.ErrorContains(t, err, "symlink to nothing")
	assert.Empty(t, dirNames(t, hostDir))
}
