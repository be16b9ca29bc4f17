package main

// The runtime's side of one run of a container, a "task" as containerd
// calls it: the cgroup made, with its limits, before the child is started;
// the child put into it while it waits on the handshake; a record written
// so other terminals find it; and all of it removed when the container
// ends, on every path. A runtime killed with SIGKILL runs no cleanup:
// `lab reset` finds what it left by the boxlab name.

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// task is what the runtime made for one run.
type task struct {
	o      *options
	cgroup cgroup // nil when rootless: only root may make cgroups
	rec    *record
}

// newContainer claims the name and makes the cgroup with its limits.
// Whatever it made is undone before it returns an error.
func newContainer(o *options) (c *task, err error) {
	// A runtime whose output is piped into `head` must still clean up when
	// the reader goes: with SIGPIPE handled, a write to the closed pipe
	// fails with EPIPE instead of killing us (see os/signal, SIGPIPE). The
	// command gets the default back when it is exec'd.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	c = &task{o: o}
	if o.layout == nil {
		explain("no cgroup: only root may make cgroups (rootless runtimes get them delegated by systemd)", "")
		return c, nil
	}
	// The named result c is nil by the time an error return reaches this
	// defer: clean up the container made here, not the result.
	made := c
	defer func() {
		if err != nil {
			made.cleanup()
		}
	}()
	if err := claimName(o.name); err != nil {
		return nil, err
	}
	c.rec = &record{Name: o.name, Rootfs: o.rootfs, Command: o.command, Created: time.Now().UTC(),
		Limits: limitsRecord(o.limits)}
	cg := newCgroup(o.layout, o.name)
	c.cgroup = cg
	c.rec.Cgroup = cg.record()
	if err := cg.create(); err != nil {
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	if err := cg.setLimits(o.limits); err != nil {
		return nil, fmt.Errorf("set limits: %w", err)
	}
	return c, nil
}

// cgroupfs is what the child mounts at /sys/fs/cgroup, as the hidden
// --cgroupfs argument of init: "" when there is no cgroup.
func (c *task) cgroupfs() string {
	if c.cgroup == nil {
		return ""
	}
	var specs []string
	for _, s := range c.cgroup.mountsInside() {
		specs = append(specs, s.String())
	}
	return strings.Join(specs, " ")
}

// adopt puts the waiting child into the cgroup and records it. Until the
// handshake releases it, the child has run nothing of the user's.
func (c *task) adopt(pid int) error {
	if c.cgroup == nil {
		return nil
	}
	explain(fmt.Sprintf("move the child (pid %d on the host) into its cgroup while it waits on the pipe", pid), "")
	if err := c.cgroup.join(pid); err != nil {
		return fmt.Errorf("join cgroup: %w", err)
	}
	c.rec.Pid = pid
	return c.rec.save()
}

// wake thaws a paused container so that a signal just forwarded to it is
// acted on: a frozen process handles nothing. docker stop does the same.
func (c *task) wake() {
	if c.cgroup != nil {
		_ = c.cgroup.thaw()
	}
}

// finish reports how the container ended, past its exit code: the OOM
// killer, and with --stats what it used. It reads the cgroup, so it runs
// before cleanup.
func (c *task) finish(code int) int {
	if c.cgroup == nil {
		return code
	}
	if code == 128+9 && c.cgroup.oomKilled() {
		limit := "no limit: the host ran out"
		if c.o.limits.memory > 0 {
			limit = "limit " + humanBytes(c.o.limits.memory)
		}
		fmt.Fprintf(os.Stderr, "%s: killed: out of memory (%s)\n", progName, limit)
	}
	if c.o.stats {
		u, err := c.cgroup.stats()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: stats: %v\n", progName, err)
		}
		u.print(os.Stderr, c.o.name)
	}
	return code
}

// cleanup removes the cgroup (killing whatever is left in it) and the
// record. It is safe to call on a half-made container, and twice.
func (c *task) cleanup() {
	if c.cgroup != nil {
		if err := c.cgroup.remove(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: remove cgroup: %v (run 'lab reset')\n", progName, err)
		}
	}
	if c.rec != nil {
		explain("remove the container record "+recordDir(c.o.name), "rm -r "+recordDir(c.o.name))
		if err := releaseName(c.o.name); err != nil {
			fmt.Fprintf(os.Stderr, "%s: remove record: %v (run 'lab reset')\n", progName, err)
		}
	}
}
