// Package vm boots a throwaway virtual machine with qemu to run the stages'
// tests on a kernel and a cgroup layout that are not the host's: a Debian
// kernel from Debian's packages, cgroup v2 mounted the way systemd mounts
// it, and an initramfs made on the fly that holds everything the tests
// need (busybox, the kernel modules, the compiled tests, the test image).
//
// This file writes the initramfs: the "new ASCII" cpio format (newc) the
// kernel unpacks into its first root filesystem. See the kernel's
// Documentation/driver-api/early-userspace/buffer-format.rst.
package vm

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// Mode bits of st_mode (inode(7)): the cpio header carries the whole mode,
// file type included.
const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
	modeCharDev = 0o020000
)

// newcMagic starts every newc header; the trailer entry ends the archive.
const (
	newcMagic   = "070701"
	newcTrailer = "TRAILER!!!"
)

// CpioWriter writes a newc archive. Names are relative to the archive's
// root ("bin/busybox", not "/bin/busybox"); a leading slash is dropped.
// Parent directories that were not added explicitly are added (mode 0755,
// owned by root) before their first child, because the kernel does not
// create missing parents while unpacking.
type CpioWriter struct {
	w     io.Writer
	n     int64           // bytes written, for padding
	ino   uint32          // last inode number handed out
	added map[string]bool // names already in the archive
	err   error
}

// NewCpioWriter starts an archive on w. Close writes the trailer.
func NewCpioWriter(w io.Writer) *CpioWriter {
	return &CpioWriter{w: w, added: map[string]bool{}}
}

// CpioHeader describes one entry. Mode is the whole st_mode: file type and
// permission bits (setuid, setgid and sticky included).
type CpioHeader struct {
	Name      string
	Mode      uint32
	UID, GID  uint32
	Mtime     int64
	Size      int64  // regular files and symlinks
	RdevMajor uint32 // device nodes
	RdevMinor uint32
}

// cleanName turns a path into an archive name: relative, clean, no "./".
func cleanName(name string) (string, error) {
	n := strings.TrimPrefix(path.Clean("/"+name), "/")
	if n == "" || n == "." {
		return "", fmt.Errorf("cpio: bad entry name %q", name)
	}
	return n, nil
}

// writeEntry adds one entry: its missing parents, its header and name, and
// h.Size bytes of content read from body (nil for directories and nodes).
func (c *CpioWriter) writeEntry(h CpioHeader, body io.Reader) error {
	if c.err != nil {
		return c.err
	}
	name, err := cleanName(h.Name)
	if err != nil {
		return c.fail(err)
	}
	if c.added[name] {
		return c.fail(fmt.Errorf("cpio: %s added twice", name))
	}
	if err := c.parents(name); err != nil {
		return err
	}
	c.added[name] = true
	c.ino++
	nlink := uint32(1)
	if h.Mode&0o170000 == modeDir {
		nlink = 2
	}
	c.header(c.ino, h.Mode, h.UID, h.GID, nlink, h.Mtime, h.Size, h.RdevMajor, h.RdevMinor, name)
	if body != nil {
		n, err := io.CopyN(c.counted(), body, h.Size)
		if err != nil {
			return c.fail(fmt.Errorf("cpio: %s: wrote %d of %d bytes: %w", name, n, h.Size, err))
		}
	}
	c.pad()
	return c.err
}

// header formats one newc header and the name that follows it.
func (c *CpioWriter) header(ino, mode, uid, gid, nlink uint32, mtime, size int64, rmaj, rmin uint32, name string) {
	if c.err != nil {
		return
	}
	if size > 0xffffffff {
		c.fail(fmt.Errorf("cpio: %s: %d bytes is too big for newc", name, size))
		return
	}
	hdr := fmt.Sprintf("%s%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		newcMagic, ino, mode, uid, gid, nlink, uint32(mtime), uint32(size),
		0, 0, rmaj, rmin, len(name)+1, 0)
	if _, err := io.WriteString(c.counted(), hdr+name+"\x00"); err != nil {
		c.fail(err)
		return
	}
	c.pad()
}

// pad aligns the stream to 4 bytes, as newc wants after a name and after
// file content.
func (c *CpioWriter) pad() {
	if c.err != nil {
		return
	}
	if r := c.n % 4; r != 0 {
		if _, err := c.counted().Write(make([]byte, 4-r)); err != nil {
			c.fail(err)
		}
	}
}

// parents adds the missing parent directories of name.
func (c *CpioWriter) parents(name string) error {
	dir := path.Dir(name)
	if dir == "." || c.added[dir] {
		return nil
	}
	if err := c.parents(dir); err != nil {
		return err
	}
	c.added[dir] = true
	c.ino++
	c.header(c.ino, modeDir|0o755, 0, 0, 2, 0, 0, 0, 0, dir)
	return c.err
}

func (c *CpioWriter) fail(err error) error {
	if c.err == nil {
		c.err = err
	}
	return c.err
}

// Dir adds a directory owned by root.
func (c *CpioWriter) Dir(name string, perm uint32) error {
	return c.writeEntry(CpioHeader{Name: name, Mode: modeDir | perm&0o7777}, nil)
}

// File adds a regular file owned by root with data as its content.
func (c *CpioWriter) File(name string, perm uint32, data []byte) error {
	return c.writeEntry(CpioHeader{Name: name, Mode: modeFile | perm&0o7777, Size: int64(len(data))},
		bytes.NewReader(data))
}

// Symlink adds a symbolic link to target.
func (c *CpioWriter) Symlink(name, target string) error {
	return c.writeEntry(CpioHeader{Name: name, Mode: modeSymlink | 0o777, Size: int64(len(target))},
		strings.NewReader(target))
}

// CharDev adds a character device node, such as /dev/console (5, 1): the
// kernel opens it for init's stdio before devtmpfs is mounted.
func (c *CpioWriter) CharDev(name string, perm, major, minor uint32) error {
	return c.writeEntry(CpioHeader{Name: name, Mode: modeCharDev | perm&0o7777, RdevMajor: major, RdevMinor: minor}, nil)
}

// HostFile adds the host's file src as name, keeping its permission bits
// (and so its executable bit), owned by root.
func (c *CpioWriter) HostFile(name, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return c.fail(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return c.fail(err)
	}
	if !st.Mode().IsRegular() {
		return c.fail(fmt.Errorf("cpio: %s is not a regular file", src))
	}
	return c.writeEntry(CpioHeader{Name: name, Mode: modeFile | unixPerm(st.Mode()), Size: st.Size(),
		Mtime: st.ModTime().Unix()}, f)
}

// Tree adds the host directory src and everything below it as dst,
// keeping modes, owners, modification times and symlinks. skip, when not
// nil, leaves out an entry (and, for a directory, its contents) by its
// path relative to src.
func (c *CpioWriter) Tree(src, dst string, skip func(rel string, d fs.DirEntry) bool) error {
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel != "." && skip != nil && skip(filepath.ToSlash(rel), d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h := CpioHeader{Name: path.Join(dst, filepath.ToSlash(rel)), Mtime: info.ModTime().Unix()}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			h.UID, h.GID = st.Uid, st.Gid
		}
		perm := unixPerm(info.Mode())
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			h.Mode, h.Size = modeSymlink|0o777, int64(len(target))
			return c.writeEntry(h, strings.NewReader(target))
		case d.IsDir():
			h.Mode = modeDir | perm
			return c.writeEntry(h, nil)
		case d.Type().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			h.Mode, h.Size = modeFile|perm, info.Size()
			return c.writeEntry(h, f)
		}
		return fmt.Errorf("cpio: %s: unsupported file type %v", p, d.Type())
	})
	if err != nil {
		return c.fail(err)
	}
	return c.err
}

// Has reports whether name is already in the archive.
func (c *CpioWriter) Has(name string) bool {
	n, err := cleanName(name)
	return err == nil && c.added[n]
}

// Close writes the trailer. It does not close the underlying writer.
func (c *CpioWriter) Close() error {
	c.header(0, 0, 0, 0, 1, 0, 0, 0, 0, newcTrailer)
	return c.err
}

// unixPerm converts Go's permission and special bits back to st_mode's.
func unixPerm(m fs.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}

// counted returns a writer that counts bytes into c.n.
func (c *CpioWriter) counted() io.Writer { return countWriter{c} }

type countWriter struct{ c *CpioWriter }

func (w countWriter) Write(p []byte) (int, error) {
	n, err := w.c.w.Write(p)
	w.c.n += int64(n)
	return n, err
}
