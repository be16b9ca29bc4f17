package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// mountProcAndSys gives the container its own /proc and a read-only /sys.
// The child runs this inside its new PID namespace, and a proc mount shows
// the PID namespace of whoever mounts it (pid_namespaces(7)): ps inside
// sees the container's processes only, numbered from 1.
//
// Exercise 5: Why must /proc be mounted from inside the new PID namespace,
// which mount flags keep it from becoming a way to run or escalate, and
// why is /sys mounted read-only? See proc(5), pid_namespaces(7), sysfs(5)
// and mount(2) MS_NOSUID, MS_NOEXEC, MS_NODEV, MS_RDONLY.
// Graded by: TestPIDNamespace, TestMountsInside.
func mountProcAndSys(root string) error {
	proc, err := mountPoint(root, "proc")
	if err != nil {
		return err
	}
	err = mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NODEV, "",
		"mount -t proc -o nosuid,noexec,nodev proc "+proc)
	if err != nil {
		return err
	}
	sys, err := mountPoint(root, "sys")
	if err != nil {
		return err
	}
	// sysfs shows the devices of the mounting process's network namespace.
	// In a user namespace it may be mounted only because that namespace
	// owns the new network namespace: both come from the same clone.
	return mount("sysfs", sys, "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NODEV, "",
		"mount -t sysfs -o ro,nosuid,noexec,nodev sysfs "+sys)
}

// mountCgroupfs mounts the container's cgroup filesystems read-only at
// root/sys/fs/cgroup (a directory sysfs provides), from inside its cgroup
// namespace, so that each shows the container's cgroup as its root: the
// probe, or a program sizing itself to its limits, reads them there. v2 is
// one mount; v1 is a tmpfs with a mount per hierarchy, as docker lays it
// out. A container without a cgroup of its own (rootless) gets none.
//
// Exercise 13: What does the container mount at /sys/fs/cgroup to read its
// own limits, on v2 and on v1, and how are the mounts made read-only once
// the v1 mount points exist? See mount(2) (MS_RDONLY, MS_REMOUNT|MS_BIND),
// cgroups(7) and "The cgroup namespace" in ../stage03-cgroups/README.md.
// Graded by: TestLimitsVisibleInside, TestCgroupfsInside.
func mountCgroupfs(root string, specs []cgroupfsSpec) error {
	if len(specs) == 0 {
		return nil
	}
	target := filepath.Join(root, "sys/fs/cgroup")
	const ro = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV
	if len(specs) == 1 && specs[0].v2 && specs[0].dir == "" {
		return mount("cgroup2", target, "cgroup2", ro, "", "mount -t cgroup2 -o ro,nosuid,noexec,nodev cgroup2 "+target)
	}
	// Writable until the mount points are made in it.
	err := mount("tmpfs", target, "tmpfs", ro&^unix.MS_RDONLY, "mode=755",
		"mount -t tmpfs -o nosuid,noexec,nodev,mode=755 tmpfs "+target)
	if err != nil {
		return err
	}
	for _, s := range specs {
		dir := filepath.Join(target, s.dirName())
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		fstype := map[bool]string{true: "cgroup2", false: "cgroup"}[s.v2]
		opts := strings.TrimSuffix("ro,nosuid,noexec,nodev,"+s.controllers, ",")
		if err := mount(fstype, dir, fstype, ro, s.controllers, fmt.Sprintf("mount -t %s -o %s %s %s", fstype, opts, fstype, dir)); err != nil {
			return err
		}
		if err := linkControllers(target, s.controllers); err != nil {
			return err
		}
	}
	return mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|ro, "", "mount -o remount,bind,ro "+target)
}

// linkControllers makes cpu -> cpu,cpuacct style symlinks for a hierarchy
// that holds several controllers, so each controller has its own path.
func linkControllers(target, controllers string) error {
	names := strings.Split(controllers, ",")
	if len(names) < 2 {
		return nil
	}
	for _, n := range names {
		if err := os.Symlink(controllers, filepath.Join(target, n)); err != nil {
			return err
		}
	}
	return nil
}

// mountPoint is the directory name under root to mount on, created when
// the image lacks it. mount(2) follows symlinks, so one in the image could
// aim the mount outside the root: refuse it.
func mountPoint(root, name string) (string, error) {
	path := filepath.Join(root, name)
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, os.Mkdir(path, 0o755)
	}
	switch {
	case err != nil:
		return "", err
	case fi.Mode()&fs.ModeSymlink != 0:
		return "", fmt.Errorf("mount point %s is a symlink: refusing to follow it out of the root", path)
	case !fi.IsDir():
		return "", fmt.Errorf("mount point %s is not a directory", path)
	}
	return path, nil
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
		{unix.MS_REMOUNT, "MS_REMOUNT"},
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
