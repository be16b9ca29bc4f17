package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"
)

// options is what the user asked for on the command line.
type options struct {
	explain  bool
	hostname string // empty until parseRun generates one
	userns   bool
	rootfs   string
	command  []string
}

// defaultCommand is what runs when the user names none, as in docker.
var defaultCommand = []string{"/bin/sh"}

func runFlags(o *options) *pflag.FlagSet {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	// Stop at the first non-flag: `run rootfs sh -c 'ls -l'` needs no `--`.
	fs.SetInterspersed(false)
	fs.StringVar(&o.hostname, "hostname", "", "the container's host name (default: a generated 12-hex-digit id)")
	fs.BoolVar(&o.userns, "userns", false, "add a user namespace: root inside, an unprivileged uid outside (works without sudo)")
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
	if err := validate(o); err != nil {
		return nil, err
	}
	if o.hostname == "" {
		o.hostname = generatedHostname()
	}
	// The child resolves the path again after clone: make it absolute so
	// it means the same wherever the child stands.
	o.rootfs, err = filepath.Abs(o.rootfs)
	return o, err
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
	if o.hostname != "" {
		if err := validHostname(o.hostname); err != nil {
			return fmt.Errorf("--hostname %q: %w", o.hostname, err)
		}
	}
	fi, err := os.Stat(o.rootfs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("rootfs %s does not exist: build the test image with 'sudo ./lab.sh rootfs' or pass a directory", o.rootfs)
	case err != nil:
		return fmt.Errorf("rootfs %s: %w", o.rootfs, err)
	case !fi.IsDir():
		return fmt.Errorf("rootfs %s is not a directory: pass the directory that holds the container's files", o.rootfs)
	}
	// Only a user namespace may be created without privilege; inside one
	// we hold every capability over the namespaces created with it
	// (user_namespaces(7)).
	if os.Geteuid() != 0 && !o.userns {
		return errors.New("namespaces other than user need root: run with sudo, or add --userns to run rootless")
	}
	return nil
}
