package main

import (
	"errors"
	"fmt"
	"os"
)

// initCommand is the hidden subcommand the runtime re-executes itself with
// to become the container's init: `init [run flags] ROOTFS CMD...`.
const initCommand = "init"

// containerInit runs in the child, already in its new namespaces: wait for
// the runtime's go, build the container's root, then become the user's
// command. Any failure here is the runtime's (125), except a command that
// cannot be found (127) or executed (126).
func containerInit(args []string) {
	o, err := parseRunArgs(args)
	if err != nil {
		fail(exitRuntime, err)
	}
	explainOn = o.explain
	if err := awaitParent(); err != nil {
		fail(exitRuntime, err)
	}
	// A guard against running init by hand: outside a new PID (and mount)
	// namespace, the steps below would rearrange the host's mounts.
	if os.Getpid() != 1 {
		fail(exitRuntime, errors.New("init must be PID 1 of a new PID namespace: use 'run'"))
	}
	if err := setupContainer(o); err != nil {
		fail(exitRuntime, err)
	}
	if err := closeInheritedFds(); err != nil {
		fail(exitRuntime, err)
	}
	code, err := execCommand(o.command)
	fail(code, err)
}

// setupContainer enters the container's cgroup namespace, names the
// container, brings up its loopback, and moves it into its root with /proc,
// /sys, /sys/fs/cgroup and /dev mounted.
func setupContainer(o *options) error {
	cgroupfs, err := parseCgroupfsSpecs(o.cgroupfs)
	if err != nil {
		return err
	}
	// First: the parent has just put us into our cgroup, and the namespace
	// takes the cgroup we are in now as its root (see cgroupns.go).
	if err := enterCgroupNamespace(cgroupfs); err != nil {
		return err
	}
	if err := setHostname(o.hostname); err != nil {
		return err
	}
	if err := loopbackUp(); err != nil {
		return err
	}
	if err := makeMountsPrivate(); err != nil {
		return err
	}
	if err := bindOntoItself(o.rootfs); err != nil {
		return err
	}
	// Mounted before pivot_root: /dev needs the host's device nodes, which
	// are gone once the old root is detached.
	if err := mountProcAndSys(o.rootfs); err != nil {
		return err
	}
	if err := mountCgroupfs(o.rootfs, cgroupfs); err != nil {
		return err
	}
	if err := mountDev(o.rootfs); err != nil {
		return err
	}
	return pivotRoot(o.rootfs)
}

func fail(code int, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", progName, err)
	os.Exit(code)
}
