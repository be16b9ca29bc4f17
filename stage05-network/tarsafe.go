package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Image tarballs come from strangers. A hostile one tries to write outside
// the directory it is unpacked into: a name like "../../etc/cron.d/x", an
// absolute name, a symlink "evil -> /etc" followed by an entry "evil/passwd",
// or a hardlink to a host file. Checking names as strings is not enough,
// because the symlink was made by the archive itself a moment earlier.
//
// So every entry is placed in two steps: open its parent directory with
// openat2(2) RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS (the kernel refuses any ".."
// that leaves the layer and any symlink on the way, atomically, in one
// call), then act on the last name only, relative to that directory fd
// (mkdirat, openat with O_NOFOLLOW|O_EXCL, symlinkat, linkat, mknodat).
// No path string is ever resolved by the kernel outside those rules.
//
// RESOLVE_NO_SYMLINKS rather than RESOLVE_IN_ROOT: a layer written by
// docker never has an entry below a symlink of its own, so one that does is
// refused, not silently redirected.

// extractOptions say what kind of archive is being unpacked.
type extractOptions struct {
	// whiteouts turns ".wh." entries into overlay whiteouts: true for an
	// image layer, false for an outer archive (docker save, OCI tar).
	whiteouts bool
	progress  *progress     // nil: quiet
	limits    *importLimits // what the whole import may still write; nil: no limit
}

// extractStats count what was unpacked, for the layer's metadata: bytes
// are the files' contents, holes of sparse files included (what the
// files hold, as `images` reports it).
type extractStats struct {
	files, bytes int64
}

// extractor unpacks one archive into one directory.
type extractor struct {
	root   *os.Root // for RemoveAll when an entry replaces a directory
	rootFd int      // O_PATH fd of the directory: every openat2 starts here
	opt    extractOptions
	isRoot bool
	cache  struct {
		name string
		fd   int
	} // the last parent opened
	dirTimes []dirTime
	stats    extractStats
	buf      []byte
}

type dirTime struct {
	name         string
	atime, mtime time.Time
}

// resolveBeneath is how every parent directory is opened: inside the
// layer, through no symlink at all. See openat2(2).
var resolveBeneath = unix.OpenHow{
	Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
	Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
}

// extractTar unpacks the tar stream r into dir, which must exist and be
// empty or ours. A hostile entry stops it with an error naming the entry;
// the caller removes dir, the only place anything was written.
func extractTar(r io.Reader, dir string, opt extractOptions) (extractStats, error) {
	x, err := newExtractor(dir, opt)
	if err != nil {
		return extractStats{}, err
	}
	defer x.close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return x.stats, fmt.Errorf("read tar: %w", err)
		}
		if err := x.entry(h, tr); err != nil {
			return x.stats, fmt.Errorf("tar entry %q: %w", h.Name, err)
		}
	}
	return x.stats, x.finish()
}

func newExtractor(dir string, opt extractOptions) (*extractor, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	x := &extractor{root: root, rootFd: fd, opt: opt, isRoot: os.Geteuid() == 0,
		buf: make([]byte, 256<<10)}
	x.cache.fd = -1
	return x, nil
}

func (x *extractor) close() {
	if x.cache.fd >= 0 {
		unix.Close(x.cache.fd)
	}
	unix.Close(x.rootFd)
	x.root.Close()
}

// cleanTarPath turns an entry name into a clean path relative to the
// layer, or refuses it. "" means the layer's root itself ("./").
// Absolute names and ".." are refused rather than trimmed: a real layer
// never has them, so one that does is hostile or broken.
//
// Exercise 15: Which entry names of an image tarball must be refused
// outright rather than cleaned up, and what does a clean name look like? See
// path.Clean, the OCI image-spec's layer.md and "Hostile tarballs" in
// ../stage04-overlayfs/README.md.
// Graded by: TestCleanTarPath, FuzzCleanTarPath, TestHostileTarballs.
func cleanTarPath(name string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("empty name")
	case strings.ContainsRune(name, 0):
		return "", errors.New("NUL byte in name")
	case strings.HasPrefix(name, "/"):
		return "", errors.New("absolute path: escapes the layer")
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", errors.New(`".." in path: escapes the layer`)
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", nil
	}
	return clean, nil
}

// entry places one tar entry.
func (x *extractor) entry(h *tar.Header, r io.Reader) error {
	name, err := cleanTarPath(h.Name)
	if err != nil || name == "" {
		return err // the root entry "./" is skipped: the layer's root is ours
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if x.opt.whiteouts && strings.HasPrefix(base, whiteoutPrefix) {
		return x.whiteout(dir, base)
	}
	if err := x.opt.limits.take(h); err != nil {
		return err // before anything of the entry is written
	}
	pfd, err := x.parent(dir)
	if err != nil {
		return err
	}
	x.stats.files++
	x.opt.progress.add(0, 1)
	switch h.Typeflag {
	case tar.TypeDir:
		return x.mkdir(pfd, name, base, h)
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		return x.file(pfd, name, base, h, r)
	case tar.TypeSymlink:
		return x.symlink(pfd, name, base, h)
	case tar.TypeLink:
		return x.hardlink(pfd, name, base, h.Linkname)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return x.special(pfd, name, base, h)
	case tar.TypeXGlobalHeader:
		return nil // metadata for the archive as a whole: nothing to place
	default:
		return fmt.Errorf("unsupported entry type %q", h.Typeflag)
	}
}

// parent is an O_PATH fd of the directory name (relative to the layer),
// created with its parents when the archive did not list them. It stays
// open for the next entry, which usually lives in the same directory.
func (x *extractor) parent(name string) (int, error) {
	if name == "" {
		return x.rootFd, nil
	}
	if x.cache.fd >= 0 && x.cache.name == name {
		return x.cache.fd, nil
	}
	fd, err := x.openDir(name, true)
	if err != nil {
		return -1, err
	}
	if x.cache.fd >= 0 {
		unix.Close(x.cache.fd)
	}
	x.cache.name, x.cache.fd = name, fd
	return fd, nil
}

// openDir opens (making it when missing and create is set) the directory
// name beneath the layer's root. The caller closes the fd.
func (x *extractor) openDir(name string, create bool) (int, error) {
	if name == "" {
		return unix.Dup(x.rootFd)
	}
	how := resolveBeneath
	fd, err := unix.Openat2(x.rootFd, name, &how)
	if errors.Is(err, unix.ENOENT) && create {
		fd, err = x.makeDir(name)
	}
	switch {
	case errors.Is(err, unix.ELOOP):
		return -1, fmt.Errorf("%s: path goes through a symlink: refusing to write through it", name)
	case errors.Is(err, unix.EXDEV):
		return -1, fmt.Errorf("%s: path escapes the layer", name)
	case errors.Is(err, unix.ENOTDIR):
		return -1, fmt.Errorf("%s: a parent is not a directory", name)
	case err != nil:
		return -1, fmt.Errorf("open directory %s: %w", name, err)
	}
	return fd, nil
}

// makeDir creates a directory the archive did not list (docker's layers
// always list them, other tarballs may not), 0755 as tar does.
func (x *extractor) makeDir(name string) (int, error) {
	dir, base := path.Split(name)
	pfd := x.rootFd
	if dir = strings.TrimSuffix(dir, "/"); dir != "" {
		fd, err := x.openDir(dir, true)
		if err != nil {
			return -1, err
		}
		defer unix.Close(fd)
		pfd = fd
	}
	if err := unix.Mkdirat(pfd, base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, err
	}
	how := resolveBeneath
	return unix.Openat2(x.rootFd, name, &how)
}

// replace clears the way for a new entry at base: a later entry of an
// archive replaces an earlier one of the same name, as with tar(1). A
// directory is kept when the new entry is a directory too.
func (x *extractor) replace(pfd int, name, base string, newIsDir bool) (keptDir bool, err error) {
	var st unix.Stat_t
	err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return false, nil
	case err != nil:
		return false, err
	case st.Mode&unix.S_IFMT == unix.S_IFDIR && newIsDir:
		return true, nil
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		x.cache.name = "" // it may be the cached parent
		return false, x.root.RemoveAll(name)
	}
	return false, unix.Unlinkat(pfd, base, 0)
}

func (x *extractor) mkdir(pfd int, name, base string, h *tar.Header) error {
	kept, err := x.replace(pfd, name, base, true)
	if err != nil {
		return err
	}
	if !kept {
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
			return fmt.Errorf("mkdir: %w", err)
		}
	}
	if err := x.owner(pfd, base, h); err != nil {
		return err
	}
	if err := unix.Fchmodat(pfd, base, uint32(h.Mode&0o7777), 0); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	// Writing its entries changes a directory's mtime: set it at the end.
	x.dirTimes = append(x.dirTimes, dirTime{name, h.AccessTime, h.ModTime})
	return x.xattrsAt(pfd, base, h)
}

// file writes a regular file. It is created 0600 and gets its real mode,
// setuid bit included, only once its content and owner are in place:
// chown(2) clears setuid, and a half-written setuid file never exists.
// The bits are kept as data for the container; the layer store itself is
// 0700, so no user on the host can run them from there.
//
// A sparse entry (GNU 'S', or PAX GNU.sparse.*) lists only its data
// fragments: 3 kB of archive can describe a 1 TB file of zeros, which
// archive/tar reads back as zeros. Those are not written: holeWriter
// seeks over them (lseek(2)), so the holes stay holes on disk; the size
// limit counts the file at its full size all the same (importLimits.take).
func (x *extractor) file(pfd int, name, base string, h *tar.Header, r io.Reader) error {
	if _, err := x.replace(pfd, name, base, false); err != nil {
		return err
	}
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	var w io.Writer = struct{ io.Writer }{f}
	if isSparse(h) {
		w = &holeWriter{f: f}
	}
	n, err := io.CopyBuffer(w, r, x.buf)
	if hw, ok := w.(*holeWriter); ok && err == nil {
		err = hw.finish()
	}
	x.stats.bytes += n
	x.opt.progress.add(n, 0)
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if x.isRoot {
		if err := unix.Fchown(fd, h.Uid, h.Gid); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if err := unix.Fchmod(fd, uint32(h.Mode&0o7777)); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if err := x.xattrs(fd, h); err != nil {
		return err
	}
	return x.times(pfd, base, h)
}

// isSparse says whether h is a sparse file, in either of GNU's formats.
func isSparse(h *tar.Header) bool {
	if h.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// holeWriter writes a file, skipping blocks of zeros with lseek(2)
// instead: they read back as zeros, and take no disk.
type holeWriter struct {
	f      *os.File
	off    int64 // where the next byte goes
	seeked bool  // the file ends in a hole: finish sets its size
}

const holeBlock = 4096

var zeroBlock [holeBlock]byte

func (w *holeWriter) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		// Whole blocks of the file, so that a hole is always aligned.
		n := min(len(b)-done, holeBlock-int(w.off%holeBlock))
		chunk := b[done : done+n]
		if bytes.Equal(chunk, zeroBlock[:n]) {
			if _, err := w.f.Seek(int64(n), io.SeekCurrent); err != nil {
				return done, err
			}
			w.seeked = true
		} else {
			if _, err := w.f.Write(chunk); err != nil {
				return done, err
			}
			w.seeked = false
		}
		done += n
		w.off += int64(n)
	}
	return done, nil
}

// finish gives the file its full size when it ends in a hole.
func (w *holeWriter) finish() error {
	if !w.seeked {
		return nil
	}
	return w.f.Truncate(w.off)
}

// symlink stores the link as data: its target is never resolved here, so
// it may point anywhere; inside the container it resolves in the
// container's root.
func (x *extractor) symlink(pfd int, name, base string, h *tar.Header) error {
	if _, err := x.replace(pfd, name, base, false); err != nil {
		return err
	}
	if err := unix.Symlinkat(h.Linkname, pfd, base); err != nil {
		return fmt.Errorf("symlink: %w", err)
	}
	if err := x.owner(pfd, base, h); err != nil {
		return err
	}
	return x.times(pfd, base, h)
}

// hardlink links to a file this layer already holds. The target is opened
// beneath the layer like any parent, and linkat(2) without
// AT_SYMLINK_FOLLOW never follows a symlink: a link to a host file cannot
// be made.
func (x *extractor) hardlink(pfd int, name, base, linkname string) error {
	target, err := cleanTarPath(linkname)
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", linkname, err)
	}
	if target == "" {
		return errors.New("hardlink to the layer's root")
	}
	tdir, tbase := path.Split(target)
	tfd, err := x.openDir(strings.TrimSuffix(tdir, "/"), false)
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w (not inside this layer?)", linkname, err)
	}
	defer unix.Close(tfd)
	if _, err := x.replace(pfd, name, base, false); err != nil {
		return err
	}
	if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
		return fmt.Errorf("hardlink to %q: %w (not inside this layer?)", linkname, err)
	}
	return nil
}

// special makes fifos, and refuses device nodes.
//
// Why refuse: a device node is a door to the kernel driver its major:minor
// names, whoever made it. "b 8:0" in a layer is the host's first disk,
// "c 1:1" its memory, and the container's root (no user namespace here)
// could open them: docker makes such nodes from layers too, but its
// containers run behind the devices cgroup, which boxlab does not set up.
// Real images do not carry device nodes (docker builds /dev at run time,
// as dev.go does), so one that does is refused, naming the entry. The only
// node let through is the character device 0:0, overlay's whiteout, which
// docker's overlay2 keeps too and which opens no driver (ENXIO).
func (x *extractor) special(pfd int, name, base string, h *tar.Header) error {
	mode := uint32(h.Mode & 0o7777)
	switch h.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	default:
		mode |= unix.S_IFIFO
	}
	isWhiteout := h.Typeflag == tar.TypeChar && h.Devmajor == 0 && h.Devminor == 0
	if h.Typeflag != tar.TypeFifo && !isWhiteout {
		kind := map[byte]string{tar.TypeChar: "character", tar.TypeBlock: "block"}[h.Typeflag]
		return fmt.Errorf("%s device %d:%d: image layers may not carry device nodes (a container's /dev is made at run time); remove it from the image", kind, h.Devmajor, h.Devminor)
	}
	if _, err := x.replace(pfd, name, base, false); err != nil {
		return err
	}
	if err := unix.Mknodat(pfd, base, mode, 0); err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	if err := x.owner(pfd, base, h); err != nil {
		return err
	}
	// mknod applied the umask: set the mode the archive says.
	if err := unix.Fchmodat(pfd, base, uint32(h.Mode&0o7777), 0); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return x.times(pfd, base, h)
}

// owner sets uid and gid as numbers, as the archive says; only root can.
func (x *extractor) owner(pfd int, base string, h *tar.Header) error {
	if !x.isRoot {
		return nil
	}
	if err := unix.Fchownat(pfd, base, h.Uid, h.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	return nil
}

func (x *extractor) times(pfd int, base string, h *tar.Header) error {
	atime := h.AccessTime
	if atime.IsZero() {
		atime = h.ModTime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(h.ModTime.UnixNano())}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// allowedXattr says which extended attributes an image may set. Never
// trusted.* : trusted.overlay.* in a lower layer steers overlayfs itself
// (redirects, metacopy, opaque), and only our whiteout code writes those.
func allowedXattr(name string) bool {
	return strings.HasPrefix(name, "user.") || name == "security.capability"
}

// xattrs applies the archive's SCHILY.xattr PAX records to an open file.
// They go on after chown, which clears security.capability.
func (x *extractor) xattrs(fd int, h *tar.Header) error {
	for k, v := range h.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || !allowedXattr(name) {
			continue
		}
		if err := unix.Fsetxattr(fd, name, []byte(v), 0); err != nil {
			return fmt.Errorf("setxattr %s: %w", name, err)
		}
	}
	return nil
}

// xattrsAt applies them to a directory, which needs a real fd (not O_PATH).
func (x *extractor) xattrsAt(pfd int, base string, h *tar.Header) error {
	if len(h.PAXRecords) == 0 {
		return nil
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return x.xattrs(fd, h)
}

// finish sets the directories' times, now that nothing more is written
// into them.
func (x *extractor) finish() error {
	for _, d := range x.dirTimes {
		dir, base := path.Split(d.name)
		pfd, err := x.openDir(strings.TrimSuffix(dir, "/"), false)
		if errors.Is(err, unix.ENOENT) {
			continue // a later entry replaced it
		}
		if err != nil {
			return err
		}
		err = x.times(pfd, base, &tar.Header{AccessTime: d.atime, ModTime: d.mtime})
		unix.Close(pfd)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("%s: %w", d.name, err)
		}
	}
	return nil
}
