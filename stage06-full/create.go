package main

// `create --bundle DIR [--pid-file F] ID`: runtime.md's create. Every check
// of the bundle comes first, its cgroup path and limits included, so that
// a bad bundle leaves nothing behind; then the container's directory is
// published (status creating), its cgroup made with its limits, its init
// started in new namespaces and put into the cgroup while it waits for its
// config, its root set up, and create returns with the init waiting on the
// exec fifo for `start` (status created).

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"boxlab/stage06-full/internal/cgroups"
	"boxlab/stage06-full/internal/container"
	"boxlab/stage06-full/internal/initproc"
	"boxlab/stage06-full/internal/security"
	"boxlab/stage06-full/internal/spec"
)

func createVerb(g *globals, args []string) error {
	fl := verbFlags("create")
	bundle := fl.StringP("bundle", "b", ".", "the bundle `DIR`: config.json and the root file system")
	pidFile := fl.String("pid-file", "", "write the init's pid to `FILE`")
	if err := parseVerb(g, fl, args, `
Creates container ID from the bundle: its namespaces, its root with the
config's mounts, its hostname. The init then waits, status created, until
'start ID' lets it run process.args.`); err != nil {
		return err
	}
	if fl.NArg() != 1 {
		return usagef("create", "create takes one container ID, got %d arguments", fl.NArg())
	}
	cmd, l, _, err := create(g, fl.Arg(0), *bundle, *pidFile)
	if err != nil {
		return err
	}
	defer l.Unlock()
	// The init goes on without us: reparented when we exit.
	return cmd.Process.Release()
}

// create is create's work, shared with run. It returns the init, waiting
// on the exec fifo, the container's lock, held, and its cgroup.
func create(g *globals, id, bundle, pidFile string) (*exec.Cmd, *container.Lock, cgroups.Cgroup, error) {
	if err := container.ValidateID(id); err != nil {
		return nil, nil, nil, err
	}
	cfg, err := loadBundle(g, bundle)
	if err != nil {
		return nil, nil, nil, err
	}
	plan, err := planCgroup(id, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	r := container.NewRecord(id, cfg.Bundle, cfg.Spec.Annotations)
	r.Rootfs = cfg.Rootfs
	r.CgroupPath = plan.path
	l, err := container.Create(g.root, r)
	if err != nil {
		return nil, nil, nil, err
	}
	cg, err := makeCgroup(plan, cfg)
	if err == nil {
		var cmd *exec.Cmd
		if cmd, err = startInit(g, l, r, cfg, cg, pidFile); err == nil {
			return cmd, l, cg, nil
		}
	}
	// Nothing of a failed create remains: its init is gone (Spawn
	// waited for it) and with it its namespaces and mounts; its cgroup
	// and state are removed here.
	if cg != nil {
		if rerr := cg.Remove(); rerr != nil {
			fmt.Fprintf(g.stderr, "%s: remove cgroup: %v (run 'lab reset')\n", progName, rerr)
		}
	}
	l.Remove()
	return nil, nil, nil, err
}

// cgroupPlan is the container's cgroup before it exists: its path and
// limits, checked against the host.
type cgroupPlan struct {
	path   string
	limits cgroups.Limits
	layout *cgroups.Layout
}

// planCgroup resolves linux.cgroupsPath and checks linux.resources: a
// limit the host cannot apply is refused before anything is created.
func planCgroup(id string, cfg *initproc.Config) (*cgroupPlan, error) {
	lin := cfg.Spec.Linux
	if lin == nil {
		lin = &specs.Linux{}
	}
	p, err := cgroups.ResolvePath(lin.CgroupsPath, id)
	if err != nil {
		return nil, err
	}
	lim, err := cgroups.LimitsFrom(lin.Resources)
	if err != nil {
		return nil, err
	}
	host, err := cgroups.Detect()
	if err != nil {
		return nil, err
	}
	if err := lim.Check(host); err != nil {
		return nil, err
	}
	return &cgroupPlan{path: p, limits: lim, layout: host}, nil
}

// makeCgroup makes the cgroup with its limits, before any process is in
// it, and tells the init what to mount for a "cgroup" mount. It returns
// the cgroup also on an error, for create to remove what was made.
func makeCgroup(plan *cgroupPlan, cfg *initproc.Config) (cgroups.Cgroup, error) {
	cg := cgroups.New(plan.layout, plan.path)
	if err := cg.Create(); err != nil {
		return cg, fmt.Errorf("create cgroup %s: %w", plan.path, err)
	}
	if err := cg.SetLimits(plan.limits); err != nil {
		return cg, fmt.Errorf("cgroup %s: %w", plan.path, err)
	}
	var nss []specs.LinuxNamespace
	if cfg.Spec.Linux != nil {
		nss = cfg.Spec.Linux.Namespaces
	}
	cfg.CgroupNS = slices.ContainsFunc(nss, func(ns specs.LinuxNamespace) bool {
		return ns.Type == specs.CgroupNamespace
	})
	cfg.Cgroupfs = cg.Mounts(cfg.CgroupNS)
	return cg, nil
}

// loadBundle reads and checks the bundle: config.json, loaded and
// validated, and its root, which must be a directory. Nothing exists yet.
func loadBundle(g *globals, bundle string) (*initproc.Config, error) {
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return nil, err
	}
	s, err := spec.Load(abs)
	if err != nil {
		return nil, err
	}
	warnings, err := spec.Validate(s)
	if err != nil {
		return nil, err
	}
	w, err := security.UnsupportedWarning(s.Process.Capabilities)
	if err != nil {
		return nil, err
	}
	if w != "" {
		warnings = append(warnings, w)
	}
	for _, w := range warnings {
		fmt.Fprintf(g.stderr, "%s: warning: %s\n", progName, w)
	}
	if _, err := initproc.CloneFlags(s.Linux.Namespaces); err != nil {
		return nil, err
	}
	rootfs := s.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(abs, rootfs)
	}
	if fi, err := os.Stat(rootfs); err != nil {
		return nil, fmt.Errorf("root.path: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("root.path: %s is not a directory", rootfs)
	}
	return &initproc.Config{Spec: s, Rootfs: rootfs, Bundle: abs}, nil
}

func startInit(g *globals, l *container.Lock, r *container.Record, cfg *initproc.Config, cg cgroups.Cgroup, pidFile string) (*exec.Cmd, error) {
	dir := container.Dir(g.root, r.ID)
	cfg.StateDir = dir
	if err := initproc.MakeFifo(dir); err != nil {
		return nil, err
	}
	// The init is put into its cgroup while it waits for its config:
	// nothing it does is outside the limits.
	join := func(pid int) error {
		if err := cg.Join(pid); err != nil {
			return fmt.Errorf("join cgroup %s: %w", r.CgroupPath, err)
		}
		return nil
	}
	cmd, err := initproc.Spawn(progName, cfg, initproc.Stdio{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, join)
	if err != nil {
		return nil, err
	}
	err = r.SetInit(cmd.Process.Pid)
	if err == nil {
		r.Status, err = container.Next(r.ID, r.Status, container.OpCreated)
	}
	if err == nil {
		err = l.Save(r)
	}
	if err == nil && pidFile != "" {
		err = writePidFile(pidFile, r.Pid)
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	g.log.Debug("created", "id", r.ID, "pid", r.Pid)
	return cmd, nil
}

// writePidFile writes the pid as runc does: to a temporary file renamed
// into place, so that a reader (containerd) never sees it half written.
func writePidFile(name string, pid int) error {
	tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".tmp")
	if err := os.WriteFile(tmp, []byte(fmt.Sprint(pid)), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pid file: %w", errors.Unwrap(err))
	}
	return nil
}
