// Command stage04-overlayfs runs a command as PID 1 of new UTS, PID, mount,
// IPC, network and cgroup namespaces (and, with --userns, a user
// namespace), inside a cgroup that limits and accounts for it, with its
// root through pivot_root(2) either a ROOTFS directory or an IMAGE: the
// image's read-only layers and a writable layer of the container's own,
// stacked by overlayfs, plus volumes bind-mounted past them.
//
//	stage04-overlayfs run [--name NAME] [--rm] [-v SRC:DST[:ro]]... [-e K=V]...
//	        [-w DIR] [-m SIZE] [--memory-swap SIZE] [--cpus N.N] [--cpu-shares N]
//	        [--cpuset-cpus LIST] [--pids-limit N] [--stats] [--hostname NAME]
//	        [--userns] [--explain] IMAGE|ROOTFS [CMD [ARG...]]
//	stage04-overlayfs image import FILE [NAME[:TAG]] | images | tag | rmi
//	stage04-overlayfs ps [-a] | rm | commit | inspect | volume ls|rm
//	stage04-overlayfs stats|pause|resume NAME
package main

import (
	"fmt"
	"io"
	"os"
)

const progName = "stage04-overlayfs"

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
	case "image", "images", "tag", "rmi", "ps", "rm", "commit", "inspect", "volume":
		// The state directory: see commands.go.
		os.Exit(storeCommand(os.Args[1], os.Args[2:]))
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
	fmt.Fprintf(w, `usage: %[1]s run [flags] IMAGE|ROOTFS [CMD [ARG...]]
       %[1]s image import FILE [NAME[:TAG]]
       %[1]s images | tag IMAGE NAME[:TAG] | rmi IMAGE...
       %[1]s ps [-a] | rm CONTAINER... | commit CONTAINER [NAME[:TAG]] | inspect CONTAINER...
       %[1]s volume ls | volume rm NAME...
       %[1]s stats|pause|resume NAME

run:     runs CMD (default: the image's, or /bin/sh) in new namespaces and a
         cgroup of its own. An existing directory is a ROOTFS, used as it is;
         anything else names an IMAGE (NAME[:TAG] or an ID), whose layers are
         mounted with overlayfs under a writable layer of the container's own
image:   import a rootfs tarball (.tar, .tar.gz), a docker save archive or an
         OCI image layout (directory or tar) as NAME[:TAG]
images:  lists the images; tag names one again; rmi removes a name, and the
         image and its layers when nothing else uses them
ps:      lists the running containers (-a: all); rm removes a stopped one
         with its writable layer; commit makes an image of its changes;
         inspect prints its record as JSON, with its overlay directories
volume:  lists or removes named volumes
stats:   prints what the running container NAME uses
pause:   freezes every process of NAME; resume thaws them

The state (images, layers, containers, volumes) is in %[2]s, or in
$%[3]s when set.

VERB --help prints the usage and the flags of one verb.

flags of run:
%[4]s`, progName, defaultStateDir, stateDirEnv, runFlags(new(options)).FlagUsages())
}
