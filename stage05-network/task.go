package main

// The runtime's side of one run of a container, a "task" as containerd
// calls it: the container (containers.go) is the lasting part, its record
// and writable layer; the task is what exists while its process runs. The
// record is created, or the run refused, before anything else; then the
// cgroup is made, with its limits, and the image's layers are mounted as
// the root, all before the child is started; the child is put into the
// cgroup while it waits on the handshake; the record says "running", and
// the live part of it is written to /run so other terminals find it; and
// all of it is undone when the container ends, on every path, except the
// record and writable layer, which stay for ps -a, commit and rm (--rm
// removes them too). A runtime killed with SIGKILL runs no cleanup:
// `lab reset` finds what it left by the boxlab name.

import (
	"cmp"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// task is what the runtime made for one run.
type task struct {
	o       *options
	cgroup  cgroup // nil when rootless: only root may make cgroups
	rec     *record
	store   *store     // nil when rootless: the state directory belongs to root
	ctr     *container // the container's lasting record (containers.go)
	mounted bool       // the image's overlay is mounted on ctr's merged dir
	started bool       // the container's process ran: its record stays (unless --rm)
	code    int        // how it ended
}

// newContainer records the container, claims the name, makes the cgroup with
// its limits and mounts the root. Whatever it made is undone before it
// returns an error.
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
	if err := c.createRecord(); err != nil {
		return nil, err
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
	if err := c.mountRoot(); err != nil {
		return nil, err
	}
	return c, nil
}

// createRecord records the container in the store, which first checks
// the image (or rootfs), the name and the volumes: refused, nothing is
// made. The image's config then completes the options: its command,
// environment and working directory, unless the user gave their own.
func (c *task) createRecord() error {
	o := c.o
	s, err := openStore(stateDir())
	if err != nil {
		return err
	}
	ctr := &container{ID: o.id, Name: o.name, Image: cmp.Or(o.image, o.rootfs), Cmd: o.command, Env: o.env,
		WorkingDir: o.workdir, Hostname: o.hostname, Volumes: o.vspecs}
	if o.defCmd {
		ctr.Cmd = nil
	}
	resolv := containerResolvConf(o.net.mode, os.ReadFile)
	explain("record the container in "+s.containerDir(o.id)+" (config.json; with an image, its init, upper, work and merged dirs)", "")
	if err := s.createContainer(ctr, resolv); err != nil {
		return err
	}
	c.store, c.ctr = s, ctr
	o.rootfs, o.command, o.env, o.workdir = s.rootDir(ctr), ctr.Cmd, ctr.Env, ctr.WorkingDir
	// The child mounts each volume from its host path: a named volume's
	// is in the store.
	o.vspecs = nil
	for _, v := range ctr.Volumes {
		o.vspecs = append(o.vspecs, volumeSpec{Source: s.volumeSource(v), Target: v.Target, ReadOnly: v.ReadOnly})
	}
	return nil
}

// mountRoot mounts an image container's layers on its merged dir, in the
// host's mount namespace, so that the host sees the root the container
// sees (inspect's MergedDir). The child's mount namespace, cloned after
// this, starts with a copy. A ROOTFS container has nothing to mount.
func (c *task) mountRoot() error {
	if c.ctr == nil || c.ctr.Rootfs != "" {
		return nil
	}
	if err := mountOverlay(c.store.containerOverlay(c.ctr)); err != nil {
		return err
	}
	c.mounted = true
	return nil
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
	if err := c.rec.save(); err != nil {
		return err
	}
	if err := c.store.markRunning(c.ctr, pid); err != nil {
		return err
	}
	c.started = true
	return nil
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
	c.code = code
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

// cleanup records how the container ended, unmounts its root, removes
// the cgroup (killing whatever is left in it) and the live record, and,
// with --rm or when the container never ran, its lasting record and
// writable layer. It is safe to call on a half-made container, and twice.
func (c *task) cleanup() {
	c.unmountRoot()
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
	c.removeRecord()
}

// unmountRoot says in the record how the container ended and unmounts
// the overlay. The child's mounts (volumes, /proc ...) went with its
// mount namespace when it died.
func (c *task) unmountRoot() {
	if c.ctr == nil {
		return
	}
	if c.started {
		if err := c.store.markExited(c.ctr, c.code); err != nil {
			fmt.Fprintf(os.Stderr, "%s: record exit: %v\n", progName, err)
		}
		c.started = false
	}
	if c.mounted {
		if err := unmountOverlay(c.store.containerOverlay(c.ctr).Merged); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v (run 'lab reset')\n", progName, err)
			return
		}
		c.mounted = false
	}
}

// removeRecord deletes the container's record and writable layer with
// --rm, or when its process never ran (a run refused or failed before the
// command: nothing is left behind). A ROOTFS container's record goes too:
// it has no writable layer, everything it wrote is in its directory
// already, so, as in stage 03, its name is free again once it exits.
func (c *task) removeRecord() {
	keep := c.ctr != nil && c.ctr.Rootfs == "" && c.ctr.State.Status != "created" && !c.o.rm
	if c.ctr == nil || c.mounted || keep {
		return
	}
	explain("remove the container "+c.store.containerDir(c.ctr.ID), "rm -r "+c.store.containerDir(c.ctr.ID))
	if err := c.store.deleteContainer(c.ctr); err != nil {
		fmt.Fprintf(os.Stderr, "%s: remove container: %v (run 'lab reset')\n", progName, err)
		return
	}
	c.ctr = nil
}
