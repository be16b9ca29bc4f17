package main

// `run [--bundle DIR] [--pid-file F] ID`: runc's run, create and start in
// one, waiting for the container and exiting with its code: its own, or
// 128+N when signal N killed it, as docker reports. SIGINT, SIGTERM,
// SIGHUP and SIGQUIT sent to run are passed on to the container (docker's
// sig-proxy). The container is deleted when it has exited, as runc run
// does.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// exitCodeError is a container's exit code, for run to exit with.
type exitCodeError struct{ code int }

func (e *exitCodeError) Error() string { return "" }

func runVerb(g *globals, args []string) error {
	fl := verbFlags("run")
	bundle := fl.StringP("bundle", "b", ".", "the bundle `DIR`: config.json and the root file system")
	pidFile := fl.String("pid-file", "", "write the init's pid to `FILE`")
	if err := parseVerb(g, fl, args, `
Creates container ID from the bundle, starts it, waits for it, deletes it,
and exits with its exit code (128+N if signal N killed it).`); err != nil {
		return err
	}
	if fl.NArg() != 1 {
		return usagef("run", "run takes one container ID, got %d arguments", fl.NArg())
	}
	id := fl.Arg(0)
	cmd, l, cg, err := create(g, id, *bundle, *pidFile)
	if err != nil {
		return err
	}
	// Held until the container is gone: nothing else changes it meanwhile.
	// Its cgroup goes first (with whatever the init left running in it).
	defer l.Remove()
	defer func() {
		if err := cg.Remove(); err != nil {
			fmt.Fprintf(g.stderr, "%s: remove cgroup: %v (run 'lab reset')\n", progName, err)
		}
	}()
	if err := start(g, l, id); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	stop := forwardSignals(cmd)
	err = cmd.Wait()
	stop()
	return exitCode(cmd, err)
}

// forwardSignals passes the signals a user sends to run on to the
// container's init.
func forwardSignals(cmd *exec.Cmd) (stop func()) {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// exitCode turns the init's end into run's exit: its code, or 128+N.
func exitCode(cmd *exec.Cmd, err error) error {
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return err
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		return err
	case ws.Signaled():
		return &exitCodeError{128 + int(ws.Signal())}
	case ws.ExitStatus() != 0:
		return &exitCodeError{ws.ExitStatus()}
	}
	return nil
}
