package main

// `stats NAME`, `pause NAME` and `resume NAME`: accounting and control of a
// running container from another terminal. They find the container's
// cgroup through its record and work on the cgroup alone: the runtime that
// started the container is not involved.

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"
)

// controlVerbs are the three, with what `VERB --help` says they do.
var controlVerbs = map[string]string{
	"stats":  "prints what the running container NAME uses, as key=value lines",
	"pause":  "freezes every process of the running container NAME",
	"resume": "thaws every process of the paused container NAME",
}

// controlCommand runs one of the three on the container named in args.
func controlCommand(verb string, args []string) int {
	fs := pflag.NewFlagSet(verb, pflag.ContinueOnError)
	fs.BoolVar(&explainOn, "explain", false, "print each kernel-level step and its shell equivalent")
	usage := verb + " [--explain] NAME"
	if ok, code := parseVerbFlags(fs, args, usage, controlVerbs[verb]); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return failRuntime(fmt.Errorf("usage: %s %s", progName, usage))
	}
	cg, err := openContainer(fs.Arg(0))
	if err != nil {
		return failRuntime(err)
	}
	switch verb {
	case "stats":
		u, err := cg.stats()
		if err != nil {
			return failRuntime(fmt.Errorf("stats %s: %w", fs.Arg(0), err))
		}
		u.print(os.Stdout, fs.Arg(0))
	case "pause":
		if err := cg.freeze(); err != nil {
			return failRuntime(fmt.Errorf("pause %s: %w", fs.Arg(0), err))
		}
		fmt.Println(fs.Arg(0))
	case "resume":
		if err := cg.thaw(); err != nil {
			return failRuntime(fmt.Errorf("resume %s: %w", fs.Arg(0), err))
		}
		fmt.Println(fs.Arg(0))
	}
	return 0
}

// openContainer finds a running container's cgroup by name.
func openContainer(name string) (cgroup, error) {
	r, err := loadRecord(name)
	if err != nil {
		return nil, err
	}
	for _, dir := range r.Cgroup.Paths {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("container %s is not running (its cgroup %s is gone)", name, dir)
		}
	}
	return cgroupFromRecord(r.Cgroup)
}

func failRuntime(err error) int {
	fmt.Fprintf(os.Stderr, "%s: %v\n", progName, err)
	return exitRuntime
}
