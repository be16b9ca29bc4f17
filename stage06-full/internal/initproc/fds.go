package initproc

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeInheritedFds marks every descriptor above stderr close-on-exec, so
// that the command starts with stdin, stdout and stderr only.
//
// Why: whatever opened the runtime may have left a descriptor open on a
// host directory (`run ROOTFS cat /proc/self/fd/7/hostname 7</etc` in a
// shell). A descriptor is not a path: pivot_root(2) and the detached old
// root do not touch it, and /proc/self/fd/7 leads straight back to the
// host's /etc. That is CVE-2024-21626's class (runc leaked a descriptor of
// the host's /sys/fs/cgroup into the container). Go opens its own files
// close-on-exec, but a descriptor inherited from our parent is not.
//
// close_range(2) with CLOSE_RANGE_CLOEXEC (Linux 5.11) does it in one call,
// without closing anything the Go runtime itself still uses: they close
// when execve(2) replaces us. Linux 5.10 answers EINVAL to the flag: there
// each descriptor listed in /proc/self/fd gets FD_CLOEXEC from fcntl(2).
func closeInheritedFds() error {
	explain("close_range(3, ~0U, CLOSE_RANGE_CLOEXEC): no inherited descriptor reaches the command", "")
	err := unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		err = cloexecListed()
	}
	if err != nil {
		return fmt.Errorf("close inherited descriptors: %w", err)
	}
	return nil
}

// cloexecListed is close_range's fallback: FD_CLOEXEC on every descriptor
// from 3 up that /proc/self/fd lists.
func cloexecListed() error {
	names, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range names {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		// EBADF: the descriptor ReadDir listed with, closed since.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("fcntl(%d, F_SETFD, FD_CLOEXEC): %w", fd, err)
		}
	}
	return nil
}
