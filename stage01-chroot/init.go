package main

import (
	"fmt"
	"os"
)

// initCommand is the hidden subcommand the runtime re-executes itself with
// to become the container's process.
const initCommand = "init"

// containerInit runs in the child: enter the jail, then become the user's
// command. Any failure here is the runtime's (125), except a command that
// cannot be found (127) or executed (126).
func containerInit(args []string) {
	if len(args) > 0 && args[0] == "--explain" {
		explainOn, args = true, args[1:]
	}
	rootfs, command := args[0], args[1:]
	if err := enterRoot(rootfs); err != nil {
		fail(exitRuntime, err)
	}
	code, err := execCommand(command)
	fail(code, err)
}

func fail(code int, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", progName, err)
	os.Exit(code)
}
