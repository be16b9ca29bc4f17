package initproc

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"boxlab/stage06-full/internal/cgroups"
)

// mountOption is what one word of mounts[].options does to mount(2)'s
// flags: set some, clear others. A word not in mountOptions is the
// filesystem's own (mode=755, size=65536k, newinstance) and goes in the
// data string, as mount(8) does.
type mountOption struct{ set, clear uintptr }

var mountOptions = map[string]mountOption{
	"defaults": {}, "rw": {clear: unix.MS_RDONLY}, "ro": {set: unix.MS_RDONLY},
	"suid": {clear: unix.MS_NOSUID}, "nosuid": {set: unix.MS_NOSUID},
	"dev": {clear: unix.MS_NODEV}, "nodev": {set: unix.MS_NODEV},
	"exec": {clear: unix.MS_NOEXEC}, "noexec": {set: unix.MS_NOEXEC},
	"sync": {set: unix.MS_SYNCHRONOUS}, "async": {clear: unix.MS_SYNCHRONOUS},
	"dirsync": {set: unix.MS_DIRSYNC},
	"atime":   {clear: unix.MS_NOATIME}, "noatime": {set: unix.MS_NOATIME},
	"diratime": {clear: unix.MS_NODIRATIME}, "nodiratime": {set: unix.MS_NODIRATIME},
	"relatime": {set: unix.MS_RELATIME}, "norelatime": {clear: unix.MS_RELATIME},
	"strictatime": {set: unix.MS_STRICTATIME}, "nostrictatime": {clear: unix.MS_STRICTATIME},
	"nosymfollow": {set: unix.MS_NOSYMFOLLOW},
	"bind":        {set: unix.MS_BIND}, "rbind": {set: unix.MS_BIND | unix.MS_REC},
}

// propagations are the options that change a mount's propagation type
// (mount_namespaces(7)): a separate mount(2) call after the mount itself.
var propagations = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// parseMountOptions splits options into flags, propagation and data.
func parseMountOptions(opts []string) (flags uintptr, prop []uintptr, data string) {
	var rest []string
	for _, o := range opts {
		if p, ok := propagations[o]; ok {
			prop = append(prop, p)
		} else if m, ok := mountOptions[o]; ok {
			flags = flags&^m.clear | m.set
		} else {
			rest = append(rest, o)
		}
	}
	return flags, prop, strings.Join(rest, ",")
}

// mountAll mounts the config's mounts, in their order (a tmpfs on /dev
// comes before devpts on /dev/pts), on top of the root, inside the
// container's mount namespace and before pivot_root: a bind source is a
// host path, reachable only now.
func mountAll(cfg *Config) error {
	rootFd, err := unix.Open(cfg.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", cfg.Rootfs, err)
	}
	defer unix.Close(rootFd)
	for i, m := range cfg.Spec.Mounts {
		if err := mountOne(rootFd, cfg, m); err != nil {
			return fmt.Errorf("mounts[%d] (%s on %s): %w", i, m.Type, m.Destination, err)
		}
	}
	return nil
}

// mountOne mounts m on its destination, resolved inside the root with
// openInRoot and mounted on /proc/self/fd/N, the very directory opened: a
// path string would be resolved again by mount(2), following a symlink of
// the image (/proc -> /etc, or ../../host) out of the root.
func mountOne(rootFd int, cfg *Config, m specs.Mount) error {
	bundle := cfg.Bundle
	flags, prop, data := parseMountOptions(m.Options)
	bind := flags&unix.MS_BIND != 0 || m.Type == "bind"
	source := m.Source
	isFile := false
	if bind {
		flags |= unix.MS_BIND
		// A relative bind source is relative to the bundle, as runc
		// reads it.
		if !filepath.IsAbs(source) {
			source = filepath.Join(bundle, source)
		}
		fi, err := os.Stat(source)
		if err != nil {
			return fmt.Errorf("bind source: %w", err)
		}
		isFile = !fi.IsDir()
	}
	fd, err := openInRoot(rootFd, m.Destination, isFile)
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	defer unix.Close(fd)
	if bind {
		if err := checkTargetKind(fd, !isFile); err != nil {
			return err
		}
	}
	target := fmt.Sprintf("/proc/self/fd/%d", fd)
	switch {
	case m.Type == "cgroup" || m.Type == "cgroup2":
		err = mountCgroupfs(rootFd, target, flags, m.Destination, cfg.Cgroupfs)
	case bind:
		err = mountBind(rootFd, source, target, flags, m.Destination)
	default:
		err = mount(source, target, m.Type, flags, data,
			fmt.Sprintf("mount -t %s -o %s %s %s", m.Type, strings.Join(m.Options, ","), source, m.Destination))
	}
	if err != nil {
		return err
	}
	return setPropagation(rootFd, m.Destination, prop)
}

// mountBind bind-mounts source. mount(2) ignores every flag but MS_REC on
// a new bind mount: ro, nosuid, nodev and noexec take a second call,
// MS_REMOUNT|MS_BIND with the flags, on the new mount, which is reached
// by opening the destination again (the first descriptor is of the
// directory underneath).
func mountBind(rootFd int, source, target string, flags uintptr, dest string) error {
	err := mount(source, target, "", flags&(unix.MS_BIND|unix.MS_REC), "", "mount --bind "+source+" "+dest)
	if err != nil {
		return err
	}
	if flags&^(unix.MS_BIND|unix.MS_REC) == 0 {
		return nil
	}
	fd, err := reopenInRoot(rootFd, dest)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return mount("", fmt.Sprintf("/proc/self/fd/%d", fd), "", flags|unix.MS_REMOUNT, "",
		"mount -o remount,bind,"+mountFlagNames(flags)+" "+dest)
}

// mountCgroupfs gives the container its cgroup filesystems at dest,
// read-only when asked (the default config does), mounted from inside its
// cgroup namespace when it has one, so that each shows the container's
// cgroup as its root: the probe, or a program sizing itself to its limits,
// reads them there. v2 is one cgroup2 mount; v1 is a tmpfs with a mount per
// hierarchy the container joined, as docker lays it out, bound from the
// container's own directories when there is no cgroup namespace
// (internal/cgroups' Mounts says which). (stage05's mountCgroupfs, on the
// descriptors of openInRoot.)
func mountCgroupfs(rootFd int, target string, flags uintptr, dest string, fss []cgroups.Mount) error {
	if len(fss) == 0 {
		return errors.New("no cgroup of the container's own to mount")
	}
	flags &^= unix.MS_BIND | unix.MS_REC
	if len(fss) == 1 && fss[0].V2 && fss[0].Dir == "" {
		return mount("cgroup2", target, "cgroup2", flags, "", "mount -t cgroup2 -o "+mountFlagNames(flags)+" cgroup2 "+dest)
	}
	// Writable until the mount points are made in it.
	if err := mount("tmpfs", target, "tmpfs", flags&^unix.MS_RDONLY, "mode=755", "mount -t tmpfs -o mode=755 tmpfs "+dest); err != nil {
		return err
	}
	for _, fs := range fss {
		if err := mountHierarchy(rootFd, path.Join(dest, fs.Dir), flags, fs); err != nil {
			return err
		}
	}
	if flags&unix.MS_RDONLY == 0 {
		return nil
	}
	fd, err := reopenInRoot(rootFd, dest)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return mount("", fmt.Sprintf("/proc/self/fd/%d", fd), "", unix.MS_REMOUNT|unix.MS_BIND|flags, "", "mount -o remount,bind,ro "+dest)
}

// mountHierarchy mounts one cgroup filesystem at dir (inside the tmpfs of
// mountCgroupfs), and links each of its controllers to it when it holds
// several (cpu -> cpu,cpuacct), so each controller has its own path.
func mountHierarchy(rootFd int, dir string, flags uintptr, fs cgroups.Mount) error {
	fd, err := openInRoot(rootFd, dir, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	target := fmt.Sprintf("/proc/self/fd/%d", fd)
	if fs.Bind != "" {
		if err := mount(fs.Bind, target, "", unix.MS_BIND, "", "mount --bind "+fs.Bind+" "+dir); err != nil {
			return err
		}
		if flags != 0 {
			sub, err := reopenInRoot(rootFd, dir)
			if err != nil {
				return err
			}
			defer unix.Close(sub)
			if err := mount("", fmt.Sprintf("/proc/self/fd/%d", sub), "", unix.MS_REMOUNT|unix.MS_BIND|flags, "", "mount -o remount,bind,"+mountFlagNames(flags)+" "+dir); err != nil {
				return err
			}
		}
	} else if err := mount(fs.Fstype(), target, fs.Fstype(), flags, fs.Controllers, fmt.Sprintf("mount -t %s -o %s %s %s", fs.Fstype(), fs.Controllers, fs.Fstype(), dir)); err != nil {
		return err
	}
	names := strings.Split(fs.Controllers, ",")
	if len(names) < 2 {
		return nil
	}
	parent, err := reopenInRoot(rootFd, path.Dir(dir))
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	for _, n := range names {
		if err := unix.Symlinkat(fs.Controllers, parent, n); err != nil {
			return fmt.Errorf("symlink %s -> %s: %w", path.Join(path.Dir(dir), n), fs.Controllers, err)
		}
	}
	return nil
}

// setPropagation applies the propagation options (rslave, private, ...)
// to the mount now on top of dest.
func setPropagation(rootFd int, dest string, prop []uintptr) error {
	for _, p := range prop {
		fd, err := reopenInRoot(rootFd, dest)
		if err != nil {
			return err
		}
		err = mount("", fmt.Sprintf("/proc/self/fd/%d", fd), "", p, "", "mount --make-"+mountFlagNames(p)+" "+dest)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	return nil
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

func reopenInRoot(rootFd int, target string) (int, error) {
	how := resolveInRoot
	fd, err := unix.Openat2(rootFd, strings.TrimPrefix(path.Clean("/"+target), "/"), &how)
	if err != nil {
		return -1, fmt.Errorf("reopen %s: %w", target, err)
	}
	return fd, nil
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

// mount is mount(2) with --explain narration and an error that names the
// filesystem and the target.
func mount(source, target, fstype string, flags uintptr, data, shell string) error {
	explain(fmt.Sprintf("mount(%q, %q, %q, %s, %q)", source, target, fstype, mountFlagNames(flags), data), shell)
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		what := fstype
		if what == "" {
			what = source
		}
		return fmt.Errorf("mount %s on %s: %w", what, target, err)
	}
	return nil
}

// mountFlagNames spells out the MS_* flags for --explain.
func mountFlagNames(flags uintptr) string {
	names := []struct {
		flag uintptr
		name string
	}{
		{unix.MS_RDONLY, "MS_RDONLY"}, {unix.MS_NOSUID, "MS_NOSUID"},
		{unix.MS_NODEV, "MS_NODEV"}, {unix.MS_NOEXEC, "MS_NOEXEC"},
		{unix.MS_STRICTATIME, "MS_STRICTATIME"}, {unix.MS_BIND, "MS_BIND"},
		{unix.MS_REC, "MS_REC"}, {unix.MS_PRIVATE, "MS_PRIVATE"},
		{unix.MS_REMOUNT, "MS_REMOUNT"}, {unix.MS_SHARED, "MS_SHARED"},
		{unix.MS_SLAVE, "MS_SLAVE"}, {unix.MS_UNBINDABLE, "MS_UNBINDABLE"},
	}
	var out []string
	for _, n := range names {
		if flags&n.flag != 0 {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return "0"
	}
	return strings.Join(out, "|")
}

// explain narrates a kernel-level step with its shell equivalent. It is
// quiet until internal/explain brings stage05's --explain to stage06.
func explain(what, shell string) {}
