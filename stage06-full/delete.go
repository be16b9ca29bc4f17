package main

// `delete [--force] ID`: runtime.md's delete. A stopped container's state
// is removed; a created one's init, which never ran the user's program, is
// killed first (as runc does); a running one is refused unless --force,
// which kills it with SIGKILL and waits for it to be gone (a paused one is
// thawed first: a frozen process cannot even die). The mounts and
// namespaces go with the init: they were only ever its own. The cgroup is
// removed last, SIGKILLing anything still in it (a process of a container
// without a pid namespace outlives its init).

import (
	"fmt"

	"golang.org/x/sys/unix"

	"boxlab/stage06-full/internal/cgroups"
	"boxlab/stage06-full/internal/container"
	"boxlab/stage06-full/internal/initproc"
)

func deleteVerb(g *globals, args []string) error {
	fl := verbFlags("delete")
	force := fl.BoolP("force", "f", false, "kill a running container (SIGKILL) and delete it")
	if err := parseVerb(g, fl, args, `
Deletes container ID: its state directory, and its init when it has one.`); err != nil {
		return err
	}
	if fl.NArg() != 1 {
		return usagef("delete", "delete takes one container ID, got %d arguments", fl.NArg())
	}
	id := fl.Arg(0)
	l, r, err := lockAndLoad(g, id)
	if err != nil {
		return err
	}
	defer l.Unlock()
	switch r.Status {
	case container.Running:
		if !*force {
			return fmt.Errorf("cannot delete container %s that is not stopped: it is running; kill it first, or use delete --force", id)
		}
	case container.Paused:
		if !*force {
			return fmt.Errorf("cannot delete container %s that is paused: resume it first, or use delete --force", id)
		}
	}
	var cg cgroups.Cgroup
	if r.CgroupPath != "" {
		if cg, err = cgroups.Open(r.CgroupPath); err != nil {
			return err
		}
	}
	if r.Status == container.Paused {
		if err := cg.Thaw(); err != nil {
			return fmt.Errorf("delete container %s: thaw: %w", id, err)
		}
	}
	if r.Status != container.Stopped && r.Pid > 0 {
		if err := killAndWait(r); err != nil {
			return err
		}
	}
	if cg != nil {
		if err := cg.Remove(); err != nil {
			return fmt.Errorf("delete container %s: remove its cgroup: %w", id, err)
		}
	}
	return l.Remove()
}

// killAndWait sends SIGKILL to the init and waits until it has exited:
// as PID 1 of its namespace, its exit kills every other process in it.
func killAndWait(r *container.Record) error {
	pidfd, err := r.OpenPidfd()
	if err != nil {
		return nil // gone already
	}
	defer unix.Close(pidfd)
	if err := unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0); err != nil {
		return fmt.Errorf("kill container %s (pid %d): %w", r.ID, r.Pid, err)
	}
	if err := initproc.WaitExit(pidfd, int(lockWait.Milliseconds())); err != nil {
		return fmt.Errorf("container %s: pid %d did not exit after SIGKILL: %w", r.ID, r.Pid, err)
	}
	return nil
}
