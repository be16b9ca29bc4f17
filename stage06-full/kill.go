package main

// `kill ID [SIGNAL]`: runtime.md's kill, SIGTERM unless told. The signal
// goes through a pidfd whose process was checked to be the init (pid and
// start time), so a pid the kernel has handed to another process since is
// never signalled.

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"boxlab/stage06-full/internal/container"
)

func killVerb(g *globals, args []string) error {
	fl := verbFlags("kill")
	if err := parseVerb(g, fl, args, `
Sends SIGNAL (a name, TERM or SIGTERM, or a number; default SIGTERM) to
the init of container ID, created or running.`); err != nil {
		return err
	}
	if fl.NArg() < 1 || fl.NArg() > 2 {
		return usagef("kill", "kill takes a container ID and an optional signal, got %d arguments", fl.NArg())
	}
	sig := unix.SIGTERM
	if fl.NArg() == 2 {
		var err error
		if sig, err = parseSignal(fl.Arg(1)); err != nil {
			return err
		}
	}
	r, err := container.Load(g.root, fl.Arg(0))
	if err != nil {
		return err
	}
	r.Refresh()
	if r.Status != container.Created && r.Status != container.Running {
		return fmt.Errorf("container %s is not running (it is %s)", r.ID, r.Status)
	}
	pidfd, err := r.OpenPidfd()
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
		return fmt.Errorf("kill container %s (pid %d) with %s: %w", r.ID, r.Pid, unix.SignalName(sig), err)
	}
	return nil
}

// parseSignal reads a signal as runc and kill(1) do: KILL, SIGKILL or 9.
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 { // SIGRTMAX is 64 (signal(7))
			return 0, fmt.Errorf("signal %d: not a signal number (1 to 64)", n)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("signal %q: not a signal name (TERM, KILL, HUP, ... or a number; kill -l lists them)", s)
}
