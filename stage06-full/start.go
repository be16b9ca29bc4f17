package main

// `start ID`: runtime.md's start. The init of a created container waits in
// open(2) of the exec fifo; start opens the other end, which lets it go
// on to execve process.args, and records the container running.

import (
	"time"

	"golang.org/x/sys/unix"

	"boxlab/stage06-full/internal/container"
	"boxlab/stage06-full/internal/initproc"
)

// lockWait is how long a verb waits for another holding the container's
// lock (a start still running, a delete).
const lockWait = 10 * time.Second

func startVerb(g *globals, args []string) error {
	fl := verbFlags("start")
	if err := parseVerb(g, fl, args, `
Lets the created container ID run its process.args.`); err != nil {
		return err
	}
	if fl.NArg() != 1 {
		return usagef("start", "start takes one container ID, got %d arguments", fl.NArg())
	}
	l, err := container.LockContainer(g.root, fl.Arg(0), lockWait)
	if err != nil {
		return err
	}
	defer l.Unlock()
	return start(g, l, fl.Arg(0))
}

// lockAndLoad takes container id's lock, then reads its record and
// refreshes its status against the system (a recorded init that is gone is
// stopped). The caller unlocks.
func lockAndLoad(g *globals, id string) (*container.Lock, *container.Record, error) {
	l, err := container.LockContainer(g.root, id, lockWait)
	if err != nil {
		return nil, nil, err
	}
	r, err := container.Load(g.root, id)
	if err != nil {
		l.Unlock()
		return nil, nil, err
	}
	r.Refresh()
	return l, r, nil
}

// start releases the init of container id, whose lock l is held.
func start(g *globals, l *container.Lock, id string) error {
	r, err := container.Load(g.root, id)
	if err != nil {
		return err
	}
	r.Refresh()
	to, err := container.Next(id, r.Status, container.OpStart)
	if err != nil {
		return err
	}
	pidfd, err := r.OpenPidfd()
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	if err := initproc.Release(container.Dir(g.root, id), pidfd); err != nil {
		return err
	}
	r.Status = to
	g.log.Debug("started", "id", id, "pid", r.Pid)
	return l.Save(r)
}
