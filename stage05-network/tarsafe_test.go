package main

import (
	"archive/tar"
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"boxlab/lab/labtest"
)

func TestCleanTarPath(t *testing.T) {
	good := map[string]string{
		"a": "a", "./a": "a", "a/": "a", "a//b": "a/b", "./": "", ".": "", "a/./b/": "a/b",
		"..a": "..a", "a..": "a..", ".wh..wh..opq": ".wh..wh..opq",
	}
	for in, want := range good {
		got, err := cleanTarPath(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	for _, in := range []string{"", "/etc/passwd", "../x", "a/../../x", "a/..", "..", "a/b/../c", "a\x00b", "//x"} {
		_, err := cleanTarPath(in)
		assert.Error(t, err, "%q", in)
	}
}

// The cleaned path never leaves the layer, whatever the input.
func FuzzCleanTarPath(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "/abs", "./a/./b/", "a//..//b", ".wh.x", "\x00", "...", "a/.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, err := cleanTarPath(name)
		if err != nil {
			return
		}
		if got == "" {
			return
		}
		if strings.HasPrefix(got, "/") || path.Clean(got) != got || got == ".." || strings.HasPrefix(got, "../") {
			t.Fatalf("cleanTarPath(%q) = %q: not a clean relative path", name, got)
		}
		if j := filepath.Join("/layer", got); !strings.HasPrefix(j, "/layer/") {
			t.Fatalf("cleanTarPath(%q) = %q joins to %q, outside the layer", name, got, j)
		}
		if strings.ContainsRune(got, 0) {
			t.Fatalf("NUL kept in %q", got)
		}
	})
}

// Hostile archives are refused with the entry's name; nothing is written
// outside the layer, and the partial layer is gone.
func TestHostileTarballs(t *testing.T) {
	labtest.RequireRoot(t)
	cases := []struct {
		name    string
		entries func(outside string) []tarEntry
		entry   string // the entry the error must name
	}{
		{"dotdot", func(string) []tarEntry {
			return []tarEntry{reg("ok", "x"), reg("../../../../../../pwned", "x")}
		}, "../../../../../../pwned"},
		{"dotdot inside", func(string) []tarEntry { return []tarEntry{reg("a/../../pwned", "x")} }, "a/../../pwned"},
		{"absolute", func(o string) []tarEntry { return []tarEntry{reg(o+"/pwned", "x")} }, "/pwned"},
		{"symlink escape absolute", func(o string) []tarEntry {
			return []tarEntry{symlink("evil", o), reg("evil/pwned", "x")}
		}, "evil/pwned"},
		{"symlink escape relative", func(string) []tarEntry {
			return []tarEntry{symlink("evil", "../../../../../../../../.."), reg("evil/tmp/pwned", "x")}
		}, "evil/tmp/pwned"},
		{"symlink inside then dir", func(o string) []tarEntry {
			return []tarEntry{dir("d"), symlink("d/l", o), dir("d/l/sub")}
		}, "d/l/sub"},
		{"hardlink escape", func(o string) []tarEntry {
			return []tarEntry{hardlink("h", "../../../../../../.."+o+"/secret")}
		}, "h"},
		{"hardlink absolute", func(o string) []tarEntry { return []tarEntry{hardlink("h", o+"/secret")} }, "h"},
		{"hardlink through symlink", func(o string) []tarEntry {
			return []tarEntry{symlink("s", o), hardlink("h", "s/secret")}
		}, "h"},
		{"whiteout of dotdot", func(string) []tarEntry { return []tarEntry{reg("a/.wh...", "")} }, "a/.wh..."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testStore(t)
			outside := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("host secret"), 0o600))
			entries := tc.entries(outside)
			_, _, err := s.addLayer(bytes.NewReader(makeTar(t, entries...)), "", nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.entry)
			assert.Equal(t, []string{"secret"}, dirNames(t, outside), "something was written outside the layer")
			assert.Equal(t, "host secret", readFile(t, filepath.Join(outside, "secret")))
			assert.Empty(t, dirNames(t, s.path("tmp")), "the partial layer was left behind")
			assert.Empty(t, dirNames(t, s.path("layers", "sha256")))
			assert.False(t, exists("/pwned"))
		})
	}
}

// A later entry replaces a symlink of the same name: the file is written
// in the layer, never through the link.
func TestReplaceSymlinkDoesNotWriteThrough(t *testing.T) {
	labtest.RequireRoot(t)
	s := testStore(t)
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("host"), 0o644))
	l, _, err := s.addLayer(bytes.NewReader(makeTar(t, symlink("f", victim), reg("f", "layer"))), "", nil)
	require.NoError(t, err)
	assert.Equal(t, "host", readFile(t, victim))
	fi, err := os.Lstat(filepath.Join(s.diffDir(l.Digest), "f"))
	require.NoError(t, err)
	assert.True(t, fi.Mode().IsRegular())
}

// Modes (setuid included), owners, links, special files and the allowed
// xattrs survive; overlay's own xattrs from an archive do not.
func TestExtractKeepsMetadata(t *testing.T) {
	labtest.RequireRoot(t)
	s := testStore(t)
	suid := reg("bin/su", "#!/bin/sh\n")
	suid.mode, suid.uid, suid.gid = 0o4755, 0, 0
	owned := reg("home/u/f", "x")
	owned.uid, owned.gid = 1000, 1000
	sticky := dir("tmp")
	sticky.mode = 0o1777
	xf := reg("x", "x")
	// security.capability, not a user.* xattr: tmpfs (where the cgroup v2
	// VM keeps its temporary directories) has user xattrs only from
	// kernel 6.6 on. The value is a vfs_cap_data, revision 2 (capabilities(7)):
	// CAP_NET_BIND_SERVICE permitted and effective.
	xf.pax = map[string]string{"SCHILY.xattr.security.capability": string(netBindCap), "SCHILY.xattr.trusted.overlay.opaque": "y"}
	fifo := tarEntry{name: "fifo", typ: tar.TypeFifo, mode: 0o600}
	null := tarEntry{name: "dev/null", typ: tar.TypeChar, mode: 0o666}
	data := makeTar(t, sticky, suid, owned, xf, fifo, null, symlink("bin/sh", "su"), hardlink("bin/su2", "bin/su"))
	l, created, err := s.addLayer(bytes.NewReader(data), "", nil)
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, int64(len(data)), l.Size)
	d := s.diffDir(l.Digest)

	st := lstat(t, filepath.Join(d, "bin/su"))
	assert.Equal(t, uint32(0o4755), st.Mode&0o7777, "setuid kept as data")
	assert.Equal(t, uint32(0o1777), lstat(t, filepath.Join(d, "tmp")).Mode&0o7777)
	assert.Equal(t, uint32(1000), lstat(t, filepath.Join(d, "home/u/f")).Uid)
	assert.Equal(t, st.Ino, lstat(t, filepath.Join(d, "bin/su2")).Ino, "hardlink inside the layer")
	link, err := os.Readlink(filepath.Join(d, "bin/sh"))
	require.NoError(t, err)
	assert.Equal(t, "su", link)
	assert.Equal(t, uint32(unix.S_IFIFO), lstat(t, filepath.Join(d, "fifo")).Mode&unix.S_IFMT)
	assert.Equal(t, uint32(unix.S_IFCHR), lstat(t, filepath.Join(d, "dev/null")).Mode&unix.S_IFMT)
	assert.Equal(t, testTime.Unix(), lstat(t, filepath.Join(d, "home/u/f")).Mtim.Sec)

	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(filepath.Join(d, "x"), "security.capability", buf)
	require.NoError(t, err, "the file capability was dropped")
	assert.Equal(t, netBindCap, buf[:n])
	_, err = unix.Lgetxattr(filepath.Join(d, "x"), overlayOpaqueXattr, buf)
	assert.ErrorIs(t, err, unix.ENODATA, "trusted.overlay.* from an archive must be dropped")

	fi, err := os.Stat(s.path("layers"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "the layer store must be private")
}

// netBindCap is a file capability blob (struct vfs_cap_data, revision 2,
// little endian): the effective flag, CAP_NET_BIND_SERVICE (bit 10)
// permitted, nothing inheritable, no high capabilities.
var netBindCap = []byte{
	0x01, 0x00, 0x00, 0x02, // magic_etc: VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE
	0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // data[0]: permitted, inheritable
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // data[1]
}

func lstat(t testing.TB, name string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	require.NoError(t, syscall.Lstat(name, &st))
	return &st
}

// .wh.NAME becomes a 0/0 character device, .wh..wh..opq an opaque xattr.
func TestWhiteoutsUnpackForOverlay(t *testing.T) {
	labtest.RequireRoot(t)
	s := testStore(t)
	data := makeTar(t, dir("etc"), reg("etc/.wh.gone", ""), dir("opt"), dir("opt/legacy"),
		reg("opt/legacy/.wh..wh..opq", ""), reg("opt/legacy/new.txt", "new"), reg(".wh..wh.plnk", ""))
	l, _, err := s.addLayer(bytes.NewReader(data), "", nil)
	require.NoError(t, err)
	d := s.diffDir(l.Digest)
	fi, err := os.Lstat(filepath.Join(d, "etc/gone"))
	require.NoError(t, err)
	assert.True(t, isWhiteout(fi))
	assert.False(t, exists(filepath.Join(d, "etc/.wh.gone")))
	opaque, err := isOpaque(filepath.Join(d, "opt/legacy"))
	require.NoError(t, err)
	assert.True(t, opaque)
	assert.False(t, exists(filepath.Join(d, "opt/legacy/.wh..wh..opq")))
	assert.False(t, exists(filepath.Join(d, ".wh..wh.plnk")))
	opaque, err = isOpaque(filepath.Join(d, "etc"))
	require.NoError(t, err)
	assert.False(t, opaque)
}

// Commit writes them back: the round trip gives the same tree.
func TestWhiteoutsRoundTrip(t *testing.T) {
	labtest.RequireRoot(t)
	s := testStore(t)
	in := makeTar(t, dir("etc/"), reg("etc/.wh.gone", ""), dir("opt/"),
		reg("opt/.wh..wh..opq", ""), reg("opt/new.txt", "new"))
	l, _, err := s.addLayer(bytes.NewReader(in), "", nil)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, writeLayerTar(&out, s.diffDir(l.Digest)))
	var names []string
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	assert.Equal(t, []string{"etc/", "etc/.wh.gone", "opt/", "opt/.wh..wh..opq", "opt/new.txt"}, names)
}
