// Command stage03-cgroups runs a command as PID 1 of new UTS, PID, mount,
// IPC, network and cgroup namespaces (and, with --userns, a user
// namespace), with ROOTFS as its root through pivot_root(2), inside a
// cgroup that limits, prioritises, accounts for and controls it.
//
//	stage03-cgroups run [--name NAME] [-m SIZE] [--memory-swap SIZE] [--cpus N.N]
//	        [--cpu-shares N] [--cpuset-cpus LIST] [--pids-limit N] [--stats]
//	        [--hostname NAME] [--userns] [--explain] ROOTFS [CMD [ARG...]]
//	stage03-cgroups stats|pause|resume NAME
package main

import (
	"fmt"
	"io"
	"os"
)

const progName = "stage03-cgroups"

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(exitRuntime)
	}
	switch os.Args[1] {
	case "run":
		os.Exit(runCommand(os.Args[2:]))
	case "stats", "pause", "resume":
		// From another terminal, on a running container: see control.go.
		os.Exit(controlCommand(os.Args[1], os.Args[2:]))
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
// stderr. Each verb's own flags: VERB --help (help.go).
func usage(w io.Writer) {
	fmt.Fprintf(w, `usage: %s run [flags] ROOTFS [CMD [ARG...]]
       %s stats|pause|resume NAME

run:    runs CMD (default /bin/sh) in new namespaces with ROOTFS as its root,
        in a cgroup of its own with the limits the flags set
stats:  prints what the running container NAME uses
pause:  freezes every process of NAME; resume thaws them

VERB --help prints the usage and the flags of one verb.

flags of run:
%s`, progName, progName, runFlags(new(options)).FlagUsages())
}
