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
