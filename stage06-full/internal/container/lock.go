package container

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Lock is a container's lock, held: flock(2) on the lock file in its
// state directory, so that two commands never change one container at
// once (a kill racing a delete, two starts). The kernel drops it when the
// holder exits, however it exits: a killed command leaves no stale lock.
// Reads (state, list) take none; see Load.
type Lock struct {
	root, id string
	dir      string // where state.json is written: a temporary name until Create publishes it
	f        *os.File
}

// LockContainer takes the lock of container id, waiting at most wait for
// a command that holds it (0: not at all), then fails with a message that
// names the holder. The wait is one blocking flock(2), not a retry loop.
func LockContainer(root, id string, wait time.Duration) (*Lock, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	dir := Dir(root, id)
	name := filepath.Join(dir, lockName)
	f, err := os.OpenFile(name, os.O_RDWR|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notExist(root, id, "")
	}
	if err != nil {
		return nil, fmt.Errorf("lock container %s: %w", id, err)
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		holder := lockHolder(f)
		if wait <= 0 {
			f.Close()
			return nil, fmt.Errorf("container %s is locked by %s: try again when it has finished", id, holder)
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err = flockContext(ctx, f); errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("container %s is locked by %s, still after %v: wait for it to finish, or kill it", id, holder, wait)
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", name, err)
	}
	// A delete may have removed the directory while we waited: the lock
	// we hold is then on an unlinked file, and the container is gone.
	var held, now unix.Stat_t
	if unix.Fstat(int(f.Fd()), &held) != nil || unix.Stat(name, &now) != nil || held.Ino != now.Ino || held.Dev != now.Dev {
		f.Close()
		return nil, notExist(root, id, "deleted while we waited")
	}
	return &Lock{root: root, id: id, dir: dir, f: f}, nil
}

// lockFile creates a lock file and takes its lock (Create's, on a file no
// one else can know yet).
func lockFile(name string) (*Lock, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", name, err)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() { l.f.Close() }

// flockContext takes the lock in a blocking flock(2) on another
// goroutine, until ctx ends. On giving up, f is closed when (if ever) the
// abandoned flock returns, so that a lock taken too late is let go at
// once. (Carried from stage05-network's layers.go.)
func flockContext(ctx context.Context, f *os.File) error {
	fd := int(f.Fd())
	done := make(chan error, 1)
	go func() { done <- unix.Flock(fd, unix.LOCK_EX) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		go func() { <-done; f.Close() }()
		return ctx.Err()
	}
}

// lockHolder names the process holding the flock on f, from /proc/locks
// (proc(5): "1: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF") and its
// command line. (Carried from stage05-network's layers.go.)
func lockHolder(f *os.File) string {
	var st unix.Stat_t
	data, err := os.ReadFile("/proc/locks")
	if err != nil || unix.Fstat(int(f.Fd()), &st) != nil {
		return "another process"
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 6 || fields[1] != "FLOCK" || !strings.HasSuffix(fields[5], ":"+strconv.FormatUint(st.Ino, 10)) {
			continue // not a flock, a waiter ("->"), or another file
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Fields(strings.ReplaceAll(string(cmd), "\x00", " "))
		if len(args) > 0 {
			args[0] = filepath.Base(args[0])
			return fmt.Sprintf("pid %d (%s)", pid, strings.Join(args, " "))
		}
		return fmt.Sprintf("pid %d", pid)
	}
	return "another process"
}
