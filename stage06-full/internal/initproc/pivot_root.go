package initproc

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// makeMountsPrivate stops mount events from crossing between the
// container's mount namespace and the host's. The new namespace starts as
// a copy whose mounts may share propagation with the host's (systemd makes
// / shared): our mounts would appear on the host, and pivot_root(2) refuses
// a shared parent mount with EINVAL (mount_namespaces(7)).
func makeMountsPrivate() error {
	return mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "", "mount --make-rprivate /")
}

// bindOntoItself turns rootfs into a mount point: pivot_root(2) wants
// new_root to be one, and answers EINVAL for a plain directory. MS_REC
// brings along whatever is mounted below it.
func bindOntoItself(rootfs string) error {
	return mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, "", "mount --rbind "+rootfs+" "+rootfs)
}

// pivotRoot makes rootfs the root of the mount namespace and throws the
// old root away. Unlike chroot(2), which only moves one process's idea of
// "/", this moves the namespace's root: once the old one is unmounted,
// there is no path left to the host's files, and the chroot escape ends
// where it started.
//
// pivot_root(".", ".") needs no put_old directory (pivot_root(2), NOTES):
// it stacks the old root on top of the new one at "/", and unmounting "."
// removes the top of that stack, the old root. Nothing is written into the
// image, and containers sharing one rootfs cannot collide.
func pivotRoot(rootfs string) error {
	explain(fmt.Sprintf(`chdir(%q); pivot_root(".", ".")`, rootfs), "cd "+rootfs+" && pivot_root . .")
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir %s: %w", rootfs, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", rootfs, err)
	}
	// MNT_DETACH: the old root is busy (our own binary runs from it); a
	// lazy unmount cuts it off now and frees it when the last user goes.
	explain(`umount2(".", MNT_DETACH): detach the old root, stacked on top of the new one`, "umount -l .")
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("umount the old root: %w", err)
	}
	explain(`chdir("/")`, "cd /")
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir / inside %s: %w", rootfs, err)
	}
	return nil
}
