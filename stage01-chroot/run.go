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

// runCommand is `run`: check the input, start the container's process and
// wait for it, returning the exit code to leave with.
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
	cmd := initProcess(o)
	explain("re-exec /proc/self/exe as the container's process: "+shellJoin(cmd.Args), "")
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: start container process: %v\n", progName, err)
		return exitRuntime
	}
	stop := forwardSignals(cmd.Process)
	defer stop()
	return exitCodeOf(cmd.Wait())
}

// initProcess prepares the re-execution of this binary as the container's
// process; init.go is what it runs. The child gets the terminal's stdin,
// stdout and stderr as they are.
func initProcess(o *options) *exec.Cmd {
	args := []string{initCommand}
	if o.explain {
		args = append(args, "--explain")
	}
	args = append(args, o.rootfs)
	args = append(args, o.command...)
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Args[0] = progName
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = containerEnv()
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
