// Command stage01-chroot runs a command inside a directory tree with
// chroot(2): the oldest container there is, and the weakest.
//
//	stage01-chroot run [--explain] ROOTFS [CMD [ARG...]]
package main

import (
	"fmt"
	"io"
	"os"
)

const progName = "stage01-chroot"

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(exitRuntime)
	}
	switch os.Args[1] {
	case "run":
		os.Exit(runCommand(os.Args[2:]))
	case initCommand:
		// The re-executed child: see init.go. It never returns.
		containerInit(os.Args[2:])
	case "-h", "--help", "help":
		usage(os.Stdout) // asked for: stdout, exit 0
	default:
		fmt.Fprintf(os.Stderr, "%s: unknown command %q\n", progName, os.Args[1])
		usage(os.Stderr)
		os.Exit(exitRuntime)
	}
}

// usage is what --help prints, and what a mistake is answered with on
// stderr.
func usage(w io.Writer) {
	fmt.Fprintf(w, `usage: %s run [flags] ROOTFS [CMD [ARG...]]

Runs CMD (default /bin/sh) with ROOTFS as its root directory.

flags:
%s`, progName, runFlags(new(options)).FlagUsages())
}
