package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
)

// runCommand is `run`: check the input, start the container's init in new
// namespaces, release it through the handshake, and wait for it, returning
// the exit code to leave with.
func runCommand(args []string) int {
	o, err := parseRun(args)
	if errors.Is(err, pflag.ErrHelp) { // run --help: what --help prints
		usage(os.Stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", progName, err)
		return exitRuntime
	}
	explainOn = o.explain
	r, w, err := newHandshake()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", progName, err)
		return exitRuntime
	}
	cmd := initProcess(o, r)
	explain("re-exec /proc/self/exe as the container's init: "+shellJoin(cmd.Args), "")
	err = cmd.Start()
	r.Close() // the child has its own copy now
	if err != nil {
		w.Close()
		fmt.Fprintf(os.Stderr, "%s: start container process: %v%s\n", progName, err, startHint(o, err))
		return exitRuntime
	}
	stop := forwardSignals(cmd.Process)
	defer stop()
	// Here later stages put the child into its cgroup and wire its network,
	// closing w without a byte if that fails. A child that already died
	// makes the write fail: Wait reports how it ended.
	_ = release(w)
	return exitCodeOf(cmd.Wait())
}

// initProcess prepares the re-execution of this binary as the container's
// init; init.go is what it runs, with the run flags passed on. The child
// gets the terminal's stdin, stdout and stderr as they are, and the
// handshake's read end as fd 3.
func initProcess(o *options, handshake *os.File) *exec.Cmd {
	args := []string{initCommand, "--hostname", o.hostname}
	if o.explain {
		args = append(args, "--explain")
	}
	if o.userns {
		args = append(args, "--userns")
	}
	args = append(args, o.rootfs)
	args = append(args, o.command...)
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Args[0] = progName
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{handshake}
	cmd.Env = containerEnv()
	cmd.SysProcAttr = sysProcAttr(o)
	return cmd
}

// containerEnv is the environment the command starts with: not the host's,
// just enough for a shell to find its programs.
func containerEnv() []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root",
	}
	if term := os.Getenv("TERM"); term != "" {
		env = append(env, "TERM="+term)
	}
	return env
}

// forwardSignals passes the signals a user sends to the runtime on to the
// container's process, so Ctrl-C and `kill` reach the command.
func forwardSignals(p *os.Process) (stop func()) {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				_ = p.Signal(s)
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}
