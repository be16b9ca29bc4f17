package vm

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newcEntry is one entry read back from an archive.
type newcEntry struct {
	name                 string
	ino, mode, uid, gid  uint32
	nlink                uint32
	rdevMajor, rdevMinor uint32
	data                 []byte
	offset               int // where the header started
}

// readNewc parses a newc archive strictly: magic, hex fields, name size
// with its NUL, 4-byte alignment after the name and after the data, and a
// trailer at the very end.
func readNewc(t *testing.T, b []byte) []newcEntry {
	t.Helper()
	var out []newcEntry
	off := 0
	for {
		require.Zero(t, off%4, "entry at %d is not 4-byte aligned", off)
		require.GreaterOrEqual(t, len(b)-off, 110, "truncated header at %d", off)
		h := b[off : off+110]
		require.Equal(t, "070701", string(h[:6]), "magic at %d", off)
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(string(h[6+8*i:6+8*i+8]), 16, 32)
			require.NoError(t, err)
			return uint32(v)
		}
		e := newcEntry{ino: field(0), mode: field(1), uid: field(2), gid: field(3), nlink: field(4),
			rdevMajor: field(9), rdevMinor: field(10), offset: off}
		size, namesize := int(field(6)), int(field(11))
		require.Zero(t, field(12), "check field")
		nameStart := off + 110
		require.Equal(t, byte(0), b[nameStart+namesize-1], "name is NUL-terminated")
		e.name = string(b[nameStart : nameStart+namesize-1])
		dataStart := (nameStart + namesize + 3) &^ 3
		e.data = b[dataStart : dataStart+size]
		off = (dataStart + size + 3) &^ 3
		if e.name == "TRAILER!!!" {
			require.Equal(t, len(b), off, "nothing after the trailer")
			return out
		}
		out = append(out, e)
	}
}

func byName(es []newcEntry) map[string]newcEntry {
	m := map[string]newcEntry{}
	for _, e := range es {
		m[e.name] = e
	}
	return m
}

func TestCpioEntries(t *testing.T) {
	var buf bytes.Buffer
	c := NewCpioWriter(&buf)
	require.NoError(t, c.Dir("/etc", 0o755))
	require.NoError(t, c.File("etc/passwd", 0o644, []byte("root:x:0:0::/root:/bin/sh\n")))
	require.NoError(t, c.File("init", 0o755, []byte("#!/bin/sh\n")))
	require.NoError(t, c.Symlink("bin/sh", "busybox")) // bin/ comes first, made for it
	require.NoError(t, c.CharDev("dev/console", 0o600, 5, 1))
	require.NoError(t, c.File("a/b/c/empty", 0o4755, nil))
	require.NoError(t, c.Close())

	es := readNewc(t, buf.Bytes())
	var names []string
	for _, e := range es {
		names = append(names, e.name)
	}
	assert.Equal(t, []string{"etc", "etc/passwd", "init", "bin", "bin/sh", "dev", "dev/console",
		"a", "a/b", "a/b/c", "a/b/c/empty"}, names, "parents come before their children")

	m := byName(es)
	assert.Equal(t, uint32(0o040755), m["etc"].mode)
	assert.Equal(t, uint32(2), m["etc"].nlink)
	assert.Equal(t, uint32(0o100644), m["etc/passwd"].mode)
	assert.Equal(t, "root:x:0:0::/root:/bin/sh\n", string(m["etc/passwd"].data))
	assert.Equal(t, uint32(0o100755), m["init"].mode)
	assert.Equal(t, uint32(0o120777), m["bin/sh"].mode)
	assert.Equal(t, "busybox", string(m["bin/sh"].data), "a symlink's data is its target")
	assert.Equal(t, uint32(0o040755), m["bin"].mode, "an implicit parent is 0755")
	assert.Equal(t, uint32(0o020600), m["dev/console"].mode)
	assert.Equal(t, [2]uint32{5, 1}, [2]uint32{m["dev/console"].rdevMajor, m["dev/console"].rdevMinor})
	assert.Equal(t, uint32(0o104755), m["a/b/c/empty"].mode, "setuid kept")
	assert.Empty(t, m["a/b/c/empty"].data)

	inos := map[uint32]bool{}
	for _, e := range es {
		assert.False(t, inos[e.ino], "inode %d reused by %s", e.ino, e.name)
		inos[e.ino] = true
	}
}

func TestCpioRejects(t *testing.T) {
	c := NewCpioWriter(&bytes.Buffer{})
	require.NoError(t, c.File("x", 0o644, nil))
	assert.ErrorContains(t, c.File("/x", 0o644, nil), "added twice")
	assert.Error(t, c.Close(), "errors are sticky")

	c = NewCpioWriter(&bytes.Buffer{})
	assert.ErrorContains(t, c.Dir("/", 0o755), "bad entry name")
}

// Every alignment case: names and contents of each length modulo 4.
func TestCpioAlignment(t *testing.T) {
	var buf bytes.Buffer
	c := NewCpioWriter(&buf)
	for n := 1; n <= 8; n++ {
		name := string(bytes.Repeat([]byte("n"), n))
		require.NoError(t, c.File(name, 0o644, bytes.Repeat([]byte("d"), n)))
	}
	require.NoError(t, c.Close())
	es := readNewc(t, buf.Bytes())
	require.Len(t, es, 8)
	for i, e := range es {
		assert.Equal(t, bytes.Repeat([]byte("d"), i+1), e.data, e.name)
	}
}

func TestCpioTreeAndHostFile(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(src, "sub", "skipped"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(src, "sub", "file"), []byte("hello"), 0o640))
	require.NoError(t, os.WriteFile(filepath.Join(src, "sub", "skipped", "x"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(src, "tool"), []byte("#!"), 0o755))
	require.NoError(t, os.Symlink("sub/file", filepath.Join(src, "link")))

	skip := func(rel string, _ os.DirEntry) bool { return rel == "sub/skipped" }
	var buf bytes.Buffer
	c := NewCpioWriter(&buf)
	require.NoError(t, c.Tree(src, "opt/tree", skip))
	require.NoError(t, c.HostFile("bin/tool", filepath.Join(src, "tool")))
	assert.True(t, c.Has("/opt/tree/sub/file"))
	assert.False(t, c.Has("opt/tree/sub/skipped"))
	require.NoError(t, c.Close())

	bad := NewCpioWriter(&bytes.Buffer{})
	assert.ErrorContains(t, bad.HostFile("bin/dir", src), "not a regular file")

	m := byName(readNewc(t, buf.Bytes()))
	assert.Contains(t, m, "opt")
	assert.Equal(t, uint32(0o040750), m["opt/tree/sub"].mode)
	assert.Equal(t, "hello", string(m["opt/tree/sub/file"].data))
	assert.Equal(t, uint32(0o100640), m["opt/tree/sub/file"].mode)
	assert.Equal(t, "sub/file", string(m["opt/tree/link"].data))
	assert.NotContains(t, m, "opt/tree/sub/skipped")
	assert.NotContains(t, m, "opt/tree/sub/skipped/x")
	assert.Equal(t, uint32(0o100755), m["bin/tool"].mode)
	assert.Equal(t, uint32(os.Getuid()), m["opt/tree/sub/file"].uid, "owner kept")
}
