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
	name     string // the container's name; empty until parseRun generates one
	stats    bool
	limitFlags
	limits   limits  // parsed from limitFlags
	layout   *layout // this host's cgroups; nil when rootless
	cgroupfs string  // for init: what to mount at /sys/fs/cgroup (see cgroupfsSpec)
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
	fs.StringVar(&o.name, "name", "", "the container's `NAME`, for stats, pause and resume (default: a generated 12-hex-digit id)")
	addLimitFlags(fs, &o.limitFlags)
	fs.BoolVar(&o.stats, "stats", false, "print what the container used when it ends (on stderr)")
	fs.BoolVar(&o.explain, "explain", false, "print each kernel-level step and its shell equivalent")
	// Set by the runtime for the container's init, never by people.
	fs.StringVar(&o.cgroupfs, "cgroupfs", "", "")
	_ = fs.MarkHidden("cgroupfs")
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
	// One generated id names the container and, without --hostname, its
	// host too, as docker's container id does both.
	id := generatedHostname()
	if o.hostname == "" {
		o.hostname = id
	}
	if o.name == "" {
		o.name = id
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
	var err error
	o.limits, err = o.limitFlags.parse()
	return o, err
}

func validate(o *options) error {
	if o.hostname != "" {
		if err := validHostname(o.hostname); err != nil {
			return fmt.Errorf("--hostname %q: %w", o.hostname, err)
		}
	}
	if o.name != "" {
		if err := checkName(o.name); err != nil {
			return err
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
	return validateCgroups(o)
}

// validateCgroups checks the cgroup flags against this host. Rootless, there
// is no cgroup: the flags that need one are refused.
func validateCgroups(o *options) error {
	if os.Geteuid() != 0 {
		if o.limitFlags != (limitFlags{}) || o.name != "" || o.stats {
			return errors.New("--name, --stats and the limit flags need root: cgroups and container records belong to root (run with sudo)")
		}
		return nil
	}
	var err error
	if o.layout, err = detectLayout(); err != nil {
		return err
	}
	return checkLimits(&o.limits, o.limitFlags, o.layout)
}
