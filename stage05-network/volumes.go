package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"

	"golang.org/x/sys/unix"
)

// A volume is a directory from outside the container's layers, mounted
// into it with a bind mount (mount --bind, mount(2) MS_BIND): what is
// written there bypasses the overlay, is not in `commit`, and outlives
// the container.
//
//	-v /host/path:/ctr/path[:ro]   a host directory or file
//	-v NAME:/ctr/path[:ro]         a named volume: volumes/NAME/_data in the state
//	                               directory, made on first use, shared by containers

// volumeSpec is one -v, parsed.
type volumeSpec struct {
	Source   string // an absolute host path, or a volume name when Named
	Target   string // absolute, clean, inside the container
	ReadOnly bool   `json:",omitempty"`
	Named    bool   `json:",omitempty"`
}

// volumeNameRe is docker's rule for volume names.
var volumeNameRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// parseVolumeSpec reads SRC:DST[:ro|rw]. It only reads: whether a host
// path exists is checked by prepareVolumes, before anything is created.
//
// Exercise 16: How does -v tell a host path from a volume name, and which
// specs must be refused before anything is made? See docker run's reference
// (--volume) and "Volumes" in ../stage04-overlayfs/README.md.
// Graded by: TestParseVolumeSpec, FuzzParseVolumeSpec, TestBadInputCreatesNothing.
func parseVolumeSpec(spec string) (volumeSpec, error) {
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return volumeSpec{}, fmt.Errorf("volume %q: want SRC:DST or SRC:DST:ro, e.g. /srv/data:/data or mydata:/data", spec)
	}
	var v volumeSpec
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			v.ReadOnly = true
		case "rw":
		default:
			return v, fmt.Errorf("volume %q: unknown option %q: want ro or rw", spec, parts[2])
		}
	}
	src, dst := parts[0], parts[1]
	switch {
	case strings.ContainsRune(spec, 0):
		return v, fmt.Errorf("volume %q: NUL byte", spec)
	case src == "":
		return v, fmt.Errorf("volume %q: empty source", spec)
	case strings.HasPrefix(src, "/"):
		v.Source = filepath.Clean(src)
	case strings.Contains(src, "/"), strings.HasPrefix(src, "."), strings.HasPrefix(src, "~"):
		return v, fmt.Errorf("volume %q: relative host path %q: give an absolute path (/...) or a volume name", spec, src)
	case len(src) > 255 || !volumeNameRe.MatchString(src):
		return v, fmt.Errorf("volume %q: volume name %q: want letters, digits, '_', '.', '-', at least 2, starting with a letter or digit", spec, src)
	default:
		v.Source, v.Named = src, true
	}
	if !strings.HasPrefix(dst, "/") {
		return v, fmt.Errorf("volume %q: destination %q must be an absolute path in the container", spec, dst)
	}
	if v.Target = path.Clean(dst); v.Target == "/" {
		return v, fmt.Errorf("volume %q: cannot mount a volume over the container's root", spec)
	}
	return v, nil
}

// String gives the spec back in the form parseVolumeSpec reads.
func (v volumeSpec) String() string {
	s := v.Source + ":" + v.Target
	if v.ReadOnly {
		s += ":ro"
	}
	return s
}

func (s *store) volumeDir(name string) string { return s.path("volumes", name) }

// volumeSource is the host directory or file mounted for v.
func (s *store) volumeSource(v volumeSpec) string {
	if v.Named {
		return filepath.Join(s.volumeDir(v.Source), "_data")
	}
	return v.Source
}

// prepareVolumes checks every spec first (a host path must exist: boxlab
// does not make directories on the host; two volumes cannot share a
// target) and only then creates the named volumes not made yet.
func (s *store) prepareVolumes(vs []volumeSpec) ([]volumeSpec, error) {
	targets := map[string]bool{}
	for _, v := range vs {
		if targets[v.Target] {
			return nil, fmt.Errorf("volume %s: %s is already the target of another volume", v, v.Target)
		}
		targets[v.Target] = true
		if v.Named {
			continue
		}
		if _, err := os.Stat(v.Source); err != nil {
			return nil, fmt.Errorf("volume %s: host path %s: %w (create it first: boxlab makes no host directories)", v, v.Source, err)
		}
	}
	for _, v := range vs {
		if v.Named {
			if err := os.MkdirAll(s.volumeSource(v), 0o755); err != nil {
				return nil, fmt.Errorf("create volume %s: %w", v.Source, err)
			}
		}
	}
	return vs, nil
}

// volumeInfo is one line of `volume ls`.
type volumeInfo struct {
	Name, Mountpoint string
	UsedBy           []string
}

func (s *store) listVolumes() ([]volumeInfo, error) {
	entries, err := os.ReadDir(s.path("volumes"))
	if err != nil {
		return nil, err
	}
	cs, err := s.containers()
	if err != nil {
		return nil, err
	}
	var out []volumeInfo
	for _, e := range entries {
		v := volumeInfo{Name: e.Name(), Mountpoint: filepath.Join(s.volumeDir(e.Name()), "_data")}
		for _, c := range cs {
			for _, cv := range c.Volumes {
				if cv.Named && cv.Source == v.Name {
					v.UsedBy = append(v.UsedBy, c.Name)
				}
			}
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func printVolumes(w io.Writer, vs []volumeInfo) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "VOLUME NAME\tMOUNTPOINT\tCONTAINERS")
	for _, v := range vs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, v.Mountpoint, strings.Join(v.UsedBy, ","))
	}
	return tw.Flush()
}

// removeVolume is `volume rm`: it refuses a volume any container (running
// or not) still names, as docker does.
func (s *store) removeVolume(name string) error {
	if !volumeNameRe.MatchString(name) {
		return fmt.Errorf("volume name %q: not a volume name", name)
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	vs, err := s.listVolumes()
	if err != nil {
		return err
	}
	for _, v := range vs {
		if v.Name != name {
			continue
		}
		if len(v.UsedBy) > 0 {
			return fmt.Errorf("volume %s is in use by container %s: remove it first with 'rm %s'", name, v.UsedBy[0], v.UsedBy[0])
		}
		return os.RemoveAll(s.volumeDir(name))
	}
	return fmt.Errorf("no such volume: %s (list them with 'volume ls')", name)
}

// resolveInRoot resolves a path as if the container's root were "/":
// symlinks in the image are followed, but ".." and absolute links stop at
// the root (openat2(2) RESOLVE_IN_ROOT); links through /proc/self/fd and
// the like are refused (RESOLVE_NO_MAGICLINKS). The kernel does it in one
// call, with no window for a swap between check and use.
var resolveInRoot = unix.OpenHow{
	Flags:   unix.O_PATH | unix.O_CLOEXEC,
	Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
}

// openInRoot opens target inside the tree at rootFd, creating it (and its
// parents) when missing: a directory, or an empty file when file is set.
// The image may hold a symlink like /data -> /etc: a bind mount on
// "rootfs/data" would follow it to the host's /etc. Resolved in the root,
// it lands on rootfs/etc instead.
func openInRoot(rootFd int, target string, file bool) (int, error) {
	rel := strings.TrimPrefix(path.Clean("/"+target), "/")
	if rel == "" {
		rel = "."
	}
	how := resolveInRoot
	fd, err := unix.Openat2(rootFd, rel, &how)
	if !errors.Is(err, unix.ENOENT) || rel == "." {
		return fd, err
	}
	pfd, err := openInRoot(rootFd, path.Dir(rel), false)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	// Only the last name is created, in the directory the kernel resolved.
	base := path.Base(rel)
	if file {
		fd, err = unix.Openat(pfd, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil {
			unix.Close(fd)
		}
	} else {
		err = unix.Mkdirat(pfd, base, 0o755)
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, err
	}
	fd, err = unix.Openat2(rootFd, rel, &how)
	if errors.Is(err, unix.ENOENT) {
		return -1, fmt.Errorf("%s is a symlink to nothing inside the container: %w", target, err)
	}
	return fd, err
}

// mountVolume bind-mounts the host side of v onto its target inside
// rootfs. The target is opened with openInRoot and the mount made on
// /proc/self/fd/N, the very directory that was opened: a path string
// would be resolved again by mount(2), following symlinks out of the
// root. The child runs this in its own mount namespace, before
// pivot_root, so the mount is never seen on the host.
//
// Exercise 17: How do you bind-mount a host directory onto a path inside the
// root without following a symlink of the image out of it, and how is the
// mount then made read-only? See openat2(2) RESOLVE_IN_ROOT, mount(2)
// MS_BIND, mount_setattr(2) and "Volumes" in ../stage04-overlayfs/README.md.
// Graded by: TestVolumeTargetSymlinkStaysInRoot, TestVolumeTargetStaysInRoot,
// TestVolumes, TestRunVolumes.
func mountVolume(rootfs, source string, v volumeSpec) error {
	fi, err := os.Stat(source)
	if err != nil {
		return fmt.Errorf("volume %s: %w", v, err)
	}
	rootFd, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", rootfs, err)
	}
	defer unix.Close(rootFd)
	fd, err := openInRoot(rootFd, v.Target, !fi.IsDir())
	if err != nil {
		return fmt.Errorf("volume %s: target %s: %w", v, v.Target, err)
	}
	defer unix.Close(fd)
	if err := checkTargetKind(fd, fi.IsDir()); err != nil {
		return fmt.Errorf("volume %s: %w", v, err)
	}
	procFd := fmt.Sprintf("/proc/self/fd/%d", fd)
	explain(fmt.Sprintf("mount(%q, %q, \"\", MS_BIND|MS_REC, \"\"): %s inside the root, opened with openat2 RESOLVE_IN_ROOT",
		source, procFd, v.Target), "mount --rbind "+source+" "+filepath.Join(rootfs, v.Target))
	if err := unix.Mount(source, procFd, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("volume %s: bind mount on %s: %w", v, v.Target, err)
	}
	if v.ReadOnly {
		return makeReadOnly(rootFd, v)
	}
	return nil
}

func checkTargetKind(fd int, dir bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR; isDir != dir {
		return errors.New("the source is a directory and the target is not, or the other way round")
	}
	return nil
}

// makeReadOnly turns the new bind mount read-only. The target is opened
// again: the old fd points at the directory under the new mount, and the
// change must reach the mount on top. mount_setattr(2) flips MS_RDONLY
// alone, recursively (AT_RECURSIVE), keeping nosuid/nodev/noexec as they
// were; `mount -o remount,bind,ro` changes only the top mount and must
// repeat every other flag.
func makeReadOnly(rootFd int, v volumeSpec) error {
	how := resolveInRoot
	fd, err := unix.Openat2(rootFd, strings.TrimPrefix(v.Target, "/"), &how)
	if err != nil {
		return fmt.Errorf("volume %s: reopen %s: %w", v, v.Target, err)
	}
	defer unix.Close(fd)
	explain(fmt.Sprintf("mount_setattr(%s, AT_RECURSIVE, MOUNT_ATTR_RDONLY): the volume refuses writes", v.Target),
		"mount -o remount,bind,ro "+v.Target)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		return fmt.Errorf("volume %s: make read-only: %w", v, err)
	}
	return nil
}
