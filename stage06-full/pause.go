package main

// `pause ID` and `resume ID`: runc's, freezing and thawing every process
// of a running container through its cgroup (v1's freezer.state, v2's
// cgroup.freeze, waited for until the kernel says it is done: see
// internal/cgroups). The record says paused in between, which `state` and
// `list` report.

import (
	"fmt"

	"boxlab/stage06-full/internal/cgroups"
	"boxlab/stage06-full/internal/container"
)

func pauseVerb(g *globals, args []string) error {
	return freezeVerb(g, "pause", args, container.OpPause, `
Freezes every process of running container ID; it is paused until
'resume ID'.`)
}

func resumeVerb(g *globals, args []string) error {
	return freezeVerb(g, "resume", args, container.OpResume, `
Thaws every process of paused container ID; it is running again.`)
}

func freezeVerb(g *globals, name string, args []string, op container.Op, description string) error {
	fl := verbFlags(name)
	if err := parseVerb(g, fl, args, description); err != nil {
		return err
	}
	if fl.NArg() != 1 {
		return usagef(name, "%s takes one container ID, got %d arguments", name, fl.NArg())
	}
	id := fl.Arg(0)
	l, r, err := lockAndLoad(g, id)
	if err != nil {
		return err
	}
	defer l.Unlock()
	to, err := container.Next(id, r.Status, op)
	if err != nil {
		return err
	}
	cg, err := cgroups.Open(r.CgroupPath)
	if err != nil {
		return err
	}
	if op == container.OpPause {
		err = cg.Freeze()
	} else {
		err = cg.Thaw()
	}
	if err != nil {
		return fmt.Errorf("%s container %s: %w", name, id, err)
	}
	r.Status = to
	g.log.Debug(name+"d", "id", id)
	return l.Save(r)
}
