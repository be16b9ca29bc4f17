package main

import (
	"archive/tar"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// A layer records deletions too. Image tarballs and overlayfs spell them
// differently, and this file translates in both directions:
//
//	image tar (OCI image-spec layer.md)     overlayfs (Documentation/filesystems/overlayfs.rst)
//	dir/.wh.NAME  (empty file)          <-> dir/NAME: character device 0/0, a "whiteout"
//	dir/.wh..wh..opq                     <-> dir with xattr trusted.overlay.opaque=y
//
// A whiteout hides NAME in every layer below; an opaque directory hides
// everything the layers below put in it but keeps what its own layer adds.
// Unpacking converts tar -> overlay, so the layer's directory can be used
// as an overlay lowerdir as it is; commit converts overlay -> tar.
const (
	whiteoutPrefix     = ".wh."
	opaqueMarker       = ".wh..wh..opq"
	whiteoutMetaPrefix = ".wh..wh." // aufs bookkeeping (.wh..wh.plnk ...): not for overlay
	overlayOpaqueXattr = "trusted.overlay.opaque"
)

// whiteout places the overlay form of a ".wh." entry found in dir.
func (x *extractor) whiteout(dir, base string) error {
	switch {
	case base == opaqueMarker:
		return x.opaque(dir)
	case strings.HasPrefix(base, whiteoutMetaPrefix):
		return nil
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("whiteout of %q: not a file name", name)
	}
	pfd, err := x.parent(dir)
	if err != nil {
		return err
	}
	if _, err := x.replace(pfd, path.Join(dir, name), name, false); err != nil {
		return err
	}
	// A whiteout is a character device with device number 0/0: mknod(2)
	// with CAP_MKNOD, which is why unpacking layers needs root.
	if err := unix.Mknodat(pfd, name, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("mknod whiteout %s: %w", path.Join(dir, name), err)
	}
	return nil
}

// opaque marks dir opaque. trusted.* xattrs need CAP_SYS_ADMIN; overlayfs
// reads them because it is mounted without "userxattr".
func (x *extractor) opaque(dir string) error {
	if _, err := x.parent(dir); err != nil { // makes dir when missing
		return err
	}
	how := resolveBeneath
	how.Flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	fd, err := unix.Openat2(x.rootFd, cmp.Or(dir, "."), &how)
	if err != nil {
		return fmt.Errorf("open %s: %w", cmp.Or(dir, "."), err)
	}
	defer unix.Close(fd)
	if err := unix.Fsetxattr(fd, overlayOpaqueXattr, []byte("y"), 0); err != nil {
		return fmt.Errorf("setxattr %s on %s: %w", overlayOpaqueXattr, cmp.Or(dir, "."), err)
	}
	return nil
}

// isWhiteout says whether a file in an upper or layer directory, as
// lstat(2) sees it, is an overlay whiteout.
func isWhiteout(fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

// isOpaque says whether the directory at path (never followed if it is a
// symlink) carries overlay's opaque mark.
func isOpaque(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_DIRECTORY, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	return isOpaqueFd(f)
}

// isOpaqueFd says whether the open directory carries overlay's opaque mark.
func isOpaqueFd(f *os.File) (bool, error) {
	buf := make([]byte, 4)
	n, err := unix.Fgetxattr(int(f.Fd()), overlayOpaqueXattr, buf)
	switch {
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("getxattr %s %s: %w", f.Name(), overlayOpaqueXattr, err)
	}
	return string(buf[:n]) == "y", nil
}

// whiteoutHeader is the tar entry that deletes name (slash-separated,
// relative to the layer) from the layers below: an empty file, as docker
// writes it.
func whiteoutHeader(name string, h *tar.Header) *tar.Header {
	dir, base := path.Split(name)
	return &tar.Header{Typeflag: tar.TypeReg, Name: dir + whiteoutPrefix + base,
		Mode: 0o600, ModTime: h.ModTime, Format: h.Format}
}

// opaqueHeader is the entry that makes dir hide the layers below; it
// follows the directory's own entry.
func opaqueHeader(dir *tar.Header) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: path.Join(dir.Name, opaqueMarker),
		Mode: dir.Mode & 0o777, Uid: dir.Uid, Gid: dir.Gid, ModTime: dir.ModTime, Format: dir.Format}
}
