package main

import (
	"archive/tar"
	"bytes"
	"fmt"
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

// rawHeader is one 512-byte tar header block written by hand: archive/tar
// writes no sparse entries and no GNU.sparse.* records, so the sparse
// archives of the tests below are built from blocks. gnu selects the old
// GNU magic ("ustar  "), which the 'S' type needs.
func rawHeader(name string, typ byte, size int64, gnu bool, extra func(b []byte)) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], fmt.Sprintf("%011o\x00", testTime.Unix()))
	b[156] = typ
	if gnu {
		copy(b[257:265], "ustar  \x00")
	} else {
		copy(b[257:265], "ustar\x0000")
	}
	if extra != nil {
		extra(b)
	}
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// padBlock pads data to whole 512-byte blocks.
func padBlock(data []byte) []byte {
	return append(data, make([]byte, (512-len(data)%512)%512)...)
}

// sparseSize is the size the sparse archives below claim: all of it a
// hole but the last 4 bytes, "tail".
const sparseSize = 256 << 20

// paxSparseTar is a tarball of about 2.5 kB holding one sparse file "big"
// of sparseSize bytes, in the PAX format 1.0 GNU tar writes
// (GNU.sparse.* records, the map at the start of the data).
func paxSparseTar() []byte {
	var recs []byte
	for _, kv := range [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"},
		{"GNU.sparse.name", "big"}, {"GNU.sparse.realsize", fmt.Sprint(sparseSize)}} {
		// "LEN key=value\n", LEN counting itself (as archive/tar's formatPAXRecord).
		size := len(kv[0]) + len(kv[1]) + 3
		size += len(fmt.Sprint(size))
		rec := fmt.Sprintf("%d %s=%s\n", size, kv[0], kv[1])
		if len(rec) != size {
			rec = fmt.Sprintf("%d %s=%s\n", len(rec), kv[0], kv[1])
		}
		recs = append(recs, rec...)
	}
	data := append(padBlock([]byte(fmt.Sprintf("1\n%d\n4\n", sparseSize-4))), "tail"...)
	var out []byte
	out = append(out, rawHeader("PaxHeaders/big", tar.TypeXHeader, int64(len(recs)), false, nil)...)
	out = append(out, padBlock(recs)...)
	out = append(out, rawHeader("GNUSparseFile.0/big", tar.TypeReg, int64(len(data)), false, nil)...)
	out = append(out, padBlock(data)...)
	return append(out, make([]byte, 1024)...)
}

// gnuSparseTar is the same file as an old GNU sparse entry (type 'S', the
// map in the header itself).
func gnuSparseTar() []byte {
	h := rawHeader("big", tar.TypeGNUSparse, 4, true, func(b []byte) {
		copy(b[386:398], fmt.Sprintf("%011o\x00", sparseSize-4)) // sparse[0].offset
		copy(b[398:410], fmt.Sprintf("%011o\x00", 4))            // sparse[0].numbytes
		copy(b[483:495], fmt.Sprintf("%011o\x00", sparseSize))   // realsize
	})
	return append(append(h, padBlock([]byte("tail"))...), make([]byte, 1024)...)
}

// A sparse entry becomes a sparse file: its holes are not written out as
// zeros (256 MiB of disk for 2.5 kB of archive), and `images` shows the
// file's real size, not the archive's.
func TestSparseEntriesStayHoles(t *testing.T) {
	labtest.RequireRoot(t)
	for name, archive := range map[string][]byte{"pax": paxSparseTar(), "gnu": gnuSparseTar()} {
		t.Run(name, func(t *testing.T) {
			s := testStore(t)
			src := filepath.Join(t.TempDir(), "sparse.tar")
			require.NoError(t, os.WriteFile(src, archive, 0o644))
			p, out := quiet()
			img, err := s.importImage(src, "sparse:"+name, p)
			require.NoError(t, err, out.String())
			big := filepath.Join(s.diffDir(img.Layers()[0]), "big")
			st := lstat(t, big)
			assert.Equal(t, int64(sparseSize), st.Size)
			assert.Less(t, st.Blocks*512, int64(1<<20), "the holes were written out as zeros")
			f, err := os.Open(big)
			require.NoError(t, err)
			defer f.Close()
			tail := make([]byte, 4)
			_, err = f.ReadAt(tail, sparseSize-4)
			require.NoError(t, err)
			assert.Equal(t, "tail", string(tail))
			rows, err := s.listImages()
			require.NoError(t, err)
			require.Len(t, rows, 1)
			assert.GreaterOrEqual(t, rows[0].Size, int64(sparseSize), "images reports the files' size")
			assert.Contains(t, out.String(), "268MB, 1 files")
		})
	}
}

// Device nodes other than overlay's 0:0 whiteout are refused, naming the
// entry: "b 8:0" would be the host's disk inside the container.
func TestDeviceNodesRefused(t *testing.T) {
	labtest.RequireRoot(t)
	for _, e := range []tarEntry{{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660}, {name: "mem", typ: tar.TypeChar, mode: 0o640}} {
		t.Run(e.name, func(t *testing.T) {
			s := testStore(t)
			dev := e
			var h []byte
			if e.typ == tar.TypeBlock {
				h = makeTarDev(t, dev, 8, 0)
			} else {
				h = makeTarDev(t, dev, 1, 1)
			}
			_, _, err := s.addLayer(bytes.NewReader(h), "", nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), `"`+e.name+`"`)
			assert.Contains(t, err.Error(), "may not carry device nodes")
			assert.Empty(t, dirNames(t, s.path("tmp")))
			assert.Empty(t, dirNames(t, s.path("layers", "sha256")))
		})
	}
}

// makeTarDev is a tarball of one device node major:minor.
func makeTarDev(t *testing.T, e tarEntry, major, minor int64) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode,
		Devmajor: major, Devminor: minor, ModTime: testTime}))
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// The state directory is 0700 even when it existed before at 0755: the
// layers' setuid programs must not be reachable by host users.
func TestStoreDirPrivate(t *testing.T) {
	root := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.Mkdir(root, 0o755))
	require.NoError(t, os.Chmod(root, 0o755)) // whatever the umask
	_, err := openStore(root)
	require.NoError(t, err)
	fi, err := os.Stat(root)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
}
