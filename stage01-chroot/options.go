package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"
)

// options is what the user asked for on the command line.
type options struct {
	explain bool
	rootfs  string
	command []string
}

// defaultCommand is what runs when the user names none, as in docker.
var defaultCommand = []string{"/bin/sh"}

func runFlags(o *options) *pflag.FlagSet {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	// Stop at the first non-flag: `run rootfs sh -c 'ls -l'` needs no `--`.
	fs.SetInterspersed(false)
	fs.BoolVar(&o.explain, "explain", false, "print each kernel-level step and its shell equivalent")
	return fs
}

// parseRun turns the arguments of `run` into options, rejecting bad input
// before anything is created.
func parseRun(args []string) (*options, error) {
	o, err := parseRunArgs(args)
	if err != nil {
		return nil, err
	}
	return o, validate(o)
}

// parseRunArgs reads the flags and positional arguments; it touches nothing.
func parseRunArgs(args []string) (*options, error) {
	o := new(options)
	fs := runFlags(o)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return nil, errors.New("missing ROOTFS: usage: " + progName + " run [flags] ROOTFS [CMD [ARG...]]")
	}
	o.rootfs, o.command = rest[0], rest[1:]
	if len(o.command) == 0 {
		o.command = defaultCommand
	}
	return o, nil
}

func validate(o *options) error {
	fi, err := os.Stat(o.rootfs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("rootfs %s does not exist: build the test image with 'sudo ./lab.sh rootfs' or pass a directory", o.rootfs)
	case err != nil:
		return fmt.Errorf("rootfs %s: %w", o.rootfs, err)
	case !fi.IsDir():
		return fmt.Errorf("rootfs %s is not a directory: pass the directory that holds the container's files", o.rootfs)
	}
	if os.Geteuid() != 0 {
		return errors.New("chroot(2) needs root (CAP_SYS_CHROOT): run it with sudo")
	}
	return nil
}
