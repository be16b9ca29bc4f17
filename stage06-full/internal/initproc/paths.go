package initproc

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The steps after pivot_root: the container's root is "/", so a path can
// only resolve inside it; the host's files are gone.

// maskPaths hides linux.maskedPaths, files of /proc and /sys that leak
// the host (/proc/kcore, /proc/keys) or control it (/proc/sysrq-trigger
// is read-only instead): a file gets /dev/null bound over it, a directory
// an empty read-only tmpfs, as runc does. A path that does not exist has
// nothing to hide.
func maskPaths(paths []string) error {
	for _, p := range paths {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("masked path %s: %w", p, err)
		}
		if fi.IsDir() {
			err = mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "", "mount -t tmpfs -o ro tmpfs "+p)
		} else {
			err = mount("/dev/null", p, "", unix.MS_BIND, "", "mount --bind /dev/null "+p)
		}
		if err != nil {
			return fmt.Errorf("masked path: %w", err)
		}
	}
	return nil
}

// readonlyPaths makes linux.readonlyPaths read-only: bound onto
// themselves, then mount_setattr(2) MOUNT_ATTR_RDONLY throughout
// (AT_RECURSIVE), which leaves nosuid, nodev and noexec as they were
// (`mount -o remount,bind,ro` would have to repeat them).
func readonlyPaths(paths []string) error {
	for _, p := range paths {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := mount(p, p, "", unix.MS_BIND|unix.MS_REC, "", "mount --rbind "+p+" "+p); err != nil {
			return fmt.Errorf("read-only path: %w", err)
		}
		if err := setReadonly(p, unix.AT_RECURSIVE); err != nil {
			return fmt.Errorf("read-only path: %w", err)
		}
	}
	return nil
}

// setReadonly turns the mount at p read-only.
func setReadonly(p string, flags uint) error {
	explain(fmt.Sprintf("mount_setattr(%q, MOUNT_ATTR_RDONLY)", p), "mount -o remount,bind,ro "+p)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(unix.AT_FDCWD, p, flags, &attr); err != nil {
		return fmt.Errorf("mount_setattr %s read-only: %w", p, err)
	}
	return nil
}
