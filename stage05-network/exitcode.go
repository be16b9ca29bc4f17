package main

import (
	"errors"
	"os/exec"
	"syscall"
)

// Exit codes follow docker run: the command's own code, 128+N when a signal
// N killed it, and these three for failures before the command ran.
const (
	exitRuntime       = 125 // the runtime itself failed
	exitNotExecutable = 126 // the command exists but cannot be executed
	exitNotFound      = 127 // the command does not exist in the container
)

// exitCodeOf turns the way a child ended into the code we exit with.
func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return exitRuntime
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}
