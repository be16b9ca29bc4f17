package initproc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// The exec fifo holds a created container between create and start, as
// runc's exec.fifo does. The init, its root ready, opens the fifo for
// writing, and open(2) of a FIFO for writing blocks until someone opens it
// for reading (fifo(7)): that someone is `start`, maybe much later, from
// another process. The init then writes one byte and execs the command;
// start, having read the byte, knows the init got past the wait. No
// process has to stay around in between: the kernel holds the init.

// MakeFifo creates the exec fifo in the container's state directory.
func MakeFifo(stateDir string) error {
	name := filepath.Join(stateDir, FifoName)
	if err := unix.Mkfifo(name, 0o600); err != nil {
		return fmt.Errorf("mkfifo %s: %w", name, err)
	}
	return nil
}

// awaitStart is the init's side: block until start opens the fifo, tell
// it we are going on, and let go of the state directory.
func awaitStart(dir int) error {
	defer unix.Close(dir)
	fd, err := unix.Openat(dir, FifoName, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the exec fifo: %w", err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte{0}); err != nil {
		return fmt.Errorf("write the exec fifo: %w", err)
	}
	return nil
}

// Release is start's side: open the fifo for reading, which lets the
// init's open return, and read its byte. The open blocks until the init
// opens its end; if the init is dead it never will, so the open runs on
// a goroutine while pidfd (the init's, pidfd_open(2)) is polled: when the
// init exits first, we open the write end ourselves to let the blocked
// open return, and report that the init is gone. The fifo is removed
// either way: it is for one start.
func Release(stateDir string, pidfd int) error {
	name := filepath.Join(stateDir, FifoName)
	defer os.Remove(name)
	opened := make(chan *os.File, 1)
	failed := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			failed <- err
			return
		}
		opened <- f
	}()
	exited := make(chan struct{})
	go func() { _ = WaitExit(pidfd, -1); close(exited) }()
	var f *os.File
	select {
	case f = <-opened:
	case err := <-failed:
		return fmt.Errorf("open %s: %w", name, err)
	case <-exited:
		// Unblock the reader's open and let it go.
		if w, err := os.OpenFile(name, os.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0); err == nil {
			w.Close()
		}
		go func() {
			if f := <-opened; f != nil {
				f.Close()
			}
		}()
		return errors.New("the container's init exited before start")
	}
	defer f.Close()
	// The init writes its byte right after its open returned; end of file
	// instead means it died in between.
	n, err := f.Read(make([]byte, 1))
	if n != 1 {
		return fmt.Errorf("the container's init exited before start (%v)", err)
	}
	return nil
}

// WaitExit blocks until the process of pidfd has exited (a pidfd polls
// readable then, pidfd_open(2)), for at most timeoutMs (-1: no limit).
func WaitExit(pidfd, timeoutMs int) error {
	for {
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, timeoutMs)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("poll pidfd: %w", err)
		}
		if n == 0 {
			return errors.New("timed out")
		}
		return nil
	}
}
