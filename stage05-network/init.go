package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
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
	if err := setCommandEnv(o.env); err != nil {
		fail(exitRuntime, err)
	}
	if err := closeInheritedFds(); err != nil {
		fail(exitRuntime, err)
	}
	code, err := execCommand(o.command)
	fail(code, err)
}

// setupContainer enters the container's cgroup namespace, names the
// container, brings up its loopback, and moves it into its root with its
// volumes, /proc, /sys, /sys/fs/cgroup and /dev mounted, in its working
// directory.
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
	// lo of a namespace of our own; the host's and another container's
	// are theirs, and up already.
	if o.net.mode.ownsNetns() {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if err := makeMountsPrivate(); err != nil {
		return err
	}
	if err := bindOntoItself(o.rootfs); err != nil {
		return err
	}
	// Volumes are bind mounts in our own mount namespace, on top of the
	// root: the host never sees them, and they go when we do.
	for _, v := range o.vspecs {
		if err := mountVolume(o.rootfs, v.Source, v); err != nil {
			return err
		}
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
	if err := pivotRoot(o.rootfs); err != nil {
		return err
	}
	return enterWorkdir(o.workdir)
}

// enterWorkdir changes to the image's WorkingDir or -w, made when missing
// as docker does. After pivot_root, so the path, symlinks and all, can
// only resolve inside the container's root.
func enterWorkdir(dir string) error {
	if dir == "" || dir == "/" {
		return nil
	}
	explain(fmt.Sprintf("chdir(%q): the working directory", dir), "mkdir -p "+dir+" && cd "+dir)
	err := os.Chdir(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err = os.MkdirAll(dir, 0o755); err == nil {
			err = os.Chdir(dir)
		}
	}
	if err != nil {
		return fmt.Errorf("working directory %s: %w", dir, err)
	}
	return checkCwdInRoot(dir)
}

// checkCwdInRoot refuses a working directory that chdir reached but that
// is not under the container's root: /proc/self/fd/N of a descriptor the
// runtime inherited from the host leads to a host directory past
// pivot_root (CVE-2024-21626's class; runc checks the same). getcwd(2)
// gives such a directory, unreachable from our root, a path that does not
// start with "/" ("(unreachable)/etc"), which unix.Getwd reports as ENOENT.
func checkCwdInRoot(dir string) error {
	if _, err := unix.Getwd(); err != nil {
		return fmt.Errorf("working directory %s: outside the container's root (getcwd: %w): refused; give -w a directory of the image", dir, err)
	}
	return nil
}

// setCommandEnv puts the image's environment and -e over the fixed one
// init started with (containerEnv, in run.go), for the command that execve
// starts next. Only now: an environment changed in a running process
// reaches no dynamic loader and no Go runtime but the next program's.
func setCommandEnv(env []string) error {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("environment variable %q: %w", k, err)
		}
	}
	return nil
}

func fail(code int, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", progName, err)
	os.Exit(code)
}
