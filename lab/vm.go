package main

// lab vm test: run the stages' tests in a throwaway VM whose kernel mounts
// only the unified cgroup v2 hierarchy, the layout of the students' Ubuntu
// 24.04 VMs, whatever layout this host has. CI runs it after `lab test`.
// With --cgroup v1 or hybrid the VM mounts the older layouts instead, so
// that a student on a cgroup v2 host can try them without Vagrant.
//
// How it works (details in internal/vm):
//  1. Debian's kernel package is downloaded with apt-get download into the
//     cache and unpacked: vmlinuz, modules.dep, the modules the stages need.
//  2. Everything the guest runs is compiled here, static: each stage's test
//     binaries (go test -c), its stage binary, test2json. The test image is
//     the one `lab rootfs` builds.
//  3. An initramfs (newc cpio, gzip) is written with busybox, the modules,
//     those binaries, the stages' sources (the tests' working directories)
//     and the image, plus a two-stage init.
//  4. qemu boots it (KVM when it works, else TCG) with no network device.
//     The init copies itself into a tmpfs and switch_roots there (the
//     initramfs itself cannot be pivot_root'ed away from), mounts cgroup2
//     like systemd, enables every controller in the root, loads the modules
//     and runs each test binary through test2json, writing the events to
//     the second serial port; the first is the console. (v1, hybrid: a
//     tmpfs with one v1 hierarchy per controller, plus an empty cgroup2 at
//     /sys/fs/cgroup/unified for hybrid; internal/vm/cgroups.go.)
//  5. Those events go through lab test's own parser into the same
//     scoreboard, titled "cgroup v2 (VM)" ("cgroup v1 (VM)", "cgroup v1
//     hybrid (VM)"), where --strict counts skips as
//     failures. The VM is killed at the timeout (its console's tail shown),
//     and its files are removed at the end, pass or fail.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"boxlab/lab/internal/gotool"
	"boxlab/lab/internal/labpaths"
	"boxlab/lab/internal/rootfs"
	"boxlab/lab/internal/vm"
)

func init() {
	register(command{
		name:    "vm",
		summary: "run the stages' tests in a throwaway cgroup v2 (or v1, hybrid) VM (qemu): lab vm test",
		run:     cmdVM,
	})
}

// vmTitle is the scoreboard's title for a VM pass: "cgroup v2 (VM)",
// "cgroup v1 (VM)", "cgroup v1 hybrid (VM)".
func vmTitle(mode vm.CgroupMode) string { return mode.Name() + " (VM)" }

// vmOptions says what runVMTests runs and how.
type vmOptions struct {
	Stages  []string // as for lab test; only stages, never the lab itself
	Run     string   // -test.run REGEX
	Verbose bool     // stream the console and every line of the tests
	Out     io.Writer
	Timeout time.Duration // the whole VM run, boot to power-off
	Accel   string        // auto, kvm, tcg
	// AccelRecheck runs the KVM checks again instead of trusting the
	// decision cached for this machine.
	AccelRecheck bool
	// Stall stops a VM that has printed nothing on either serial port for
	// this long; 0 is defaultStall.
	Stall    time.Duration
	CPUs     int
	MemoryMB int
	Cgroup   vm.CgroupMode // the guest's cgroup layout; "" is v2
	// SkipHostPackages leaves out installing busybox-static and qemu.
	SkipHostPackages bool
}

// defaultStall is how long a silent VM may go on: a boot under TCG
// prints within seconds, and every test binary streams its events.
const defaultStall = 3 * time.Minute

func (o vmOptions) stall() time.Duration {
	if o.Stall > 0 {
		return o.Stall
	}
	return defaultStall
}

// testTimeout is each test binary's -test.timeout: go test's default of
// ten minutes, and never more than the whole run.
func (o vmOptions) testTimeout() time.Duration {
	return min(10*time.Minute, o.Timeout)
}

func cmdVM(args []string) error {
	usage := func() {
		fmt.Fprintln(os.Stderr, "usage: lab vm test [STAGE...] [flags]   run the stages' tests in a cgroup v2 (v1, hybrid) VM")
		fmt.Fprintln(os.Stderr, "       lab vm kernel                    download and unpack the VM's kernel only")
		fmt.Fprintln(os.Stderr, "       lab vm report [--strict] FILE... the scoreboards of several --json runs, one closing line")
		fmt.Fprintln(os.Stderr, "\nRun 'lab vm test --help' for the flags.")
	}
	if len(args) == 0 {
		usage()
		return exitError{2}
	}
	switch args[0] {
	case "test":
		return cmdVMTest(args[1:])
	case "kernel":
		return cmdVMKernel(args[1:])
	case "report":
		return cmdVMReport(args[1:])
	case "-h", "--help", "help":
		usage()
		return nil
	}
	fmt.Fprintf(os.Stderr, "lab vm: unknown subcommand %q\n\n", args[0])
	usage()
	return exitError{2}
}

func cmdVMTest(args []string) error {
	fs := pflag.NewFlagSet("vm test", pflag.ContinueOnError)
	fs.SetInterspersed(true)
	strict := fs.Bool("strict", false, "count skipped tests as failures (what CI runs)")
	run := fs.String("run", "", "run only the tests matching `REGEX` (-test.run)")
	verbose := fs.BoolP("verbose", "v", false, "stream the VM's console and every line of the tests' output")
	jsonFile := fs.String("json", "", "also write the results to `FILE` as JSON")
	timeout := fs.Duration("timeout", 40*time.Minute, "stop the VM after `DURATION`, boot to power-off")
	accel := fs.String("accel", "auto", "qemu accelerator: auto (KVM if a test boot of the kernel prints, else tcg; cached), kvm or tcg")
	recheck := fs.Bool("accel-recheck", false, "test KVM again instead of using the decision cached for this machine")
	stall := fs.Duration("stall", defaultStall, "stop the VM when it has printed nothing for `DURATION`")
	cpus := fs.Int("cpus", min(runtime.NumCPU(), 4), "the VM's CPUs")
	memory := fs.Int("memory", 2048, "the VM's memory in `MiB`")
	cgroupFlag := fs.String("cgroup", "v2", "the VM's cgroup `LAYOUT`: v2 (unified), v1 (one hierarchy per controller) or hybrid (v1 plus an empty cgroup2)")
	if done, err := parseFlags(fs, args, `usage: lab vm test [STAGE...] [--strict] [--cgroup v2|v1|hybrid] [--run REGEX] [-v] [--json FILE] [--timeout 40m] [--stall 3m] [--accel auto|kvm|tcg] [--accel-recheck]

Boots a throwaway qemu VM on Debian's kernel with the unified cgroup v2
hierarchy (--cgroup v1 or hybrid: the older layouts, as systemd mounted
them), runs each stage's tests in it (default: every stage of go.work)
and prints the scoreboard. It counts tests only: 'lab test' builds and vets.`); done {
		return err
	}
	if *timeout <= 0 || *stall <= 0 || *cpus < 1 || *memory < 256 {
		fmt.Fprintln(os.Stderr, "lab vm test: --timeout and --stall must be positive, --cpus at least 1, --memory at least 256")
		return exitError{2}
	}
	mode, err := vm.ParseCgroupMode(*cgroupFlag)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lab vm test: --cgroup: %v\n", err)
		return exitError{2}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, err := runVMTests(ctx, vmOptions{
		Stages: fs.Args(), Run: *run, Verbose: *verbose, Out: os.Stdout,
		Timeout: *timeout, Accel: *accel, AccelRecheck: *recheck, Stall: *stall, CPUs: *cpus, MemoryMB: *memory, Cgroup: mode,
	})
	if err != nil {
		return err
	}
	if *jsonFile != "" {
		if err := writeResultsJSON(*jsonFile, vmTitle(mode), results); err != nil {
			return err
		}
	}
	fmt.Fprintln(os.Stdout, "\n(the VM pass counts tests only: go build and go vet are checked by the host pass, 'lab test')")
	if code := report(os.Stdout, vmTitle(mode), results, *strict); code != 0 {
		return exitError{code}
	}
	return nil
}

func cmdVMKernel(args []string) error {
	if len(args) > 0 {
		fmt.Fprintln(os.Stderr, "usage: lab vm kernel")
		return exitError{2}
	}
	k, err := prepareVMKernel(context.Background(), filepath.Join(vmCacheDir(), "vm"), os.Stdout)
	if err != nil {
		return err
	}
	if k.Note != "" {
		fmt.Printf("warning: %s\n", k.Note)
	}
	load, inKernel, err := k.Modules(context.Background(), k.Deb, vm.GuestModules)
	if err != nil {
		return err
	}
	fmt.Printf("kernel %s (%s %s, %s .deb)\n  %s\n", k.Release, k.Package.Name, k.Package.Version, mib(k.DebBytes), k.Vmlinuz)
	fmt.Printf("modules to load, in order: %s\n", strings.Join(load, " "))
	if len(inKernel) > 0 {
		fmt.Printf("built in: %s\n", strings.Join(inKernel, " "))
	}
	return nil
}

// cmdVMReport prints the scoreboards of several runs saved with --json
// (CI: the host pass and the VM pass) and one closing line for all of
// them, so that the last line says whether everything passed. A file that
// is missing or unreadable (its pass never finished) counts as a failure.
func cmdVMReport(args []string) error {
	fs := pflag.NewFlagSet("vm report", pflag.ContinueOnError)
	strict := fs.Bool("strict", false, "count skipped tests as failures")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: lab vm report [--strict] FILE...")
		return exitError{2}
	}
	code := printReports(os.Stdout, fs.Args(), *strict)
	if code != 0 {
		return exitError{code}
	}
	return nil
}

// printReports is cmdVMReport's output; it returns the exit status.
func printReports(w io.Writer, files []string, strict bool) int {
	var all []moduleResult
	for _, f := range files {
		fmt.Fprintln(w)
		rf, err := readResultsJSON(f)
		if err != nil {
			fmt.Fprintf(w, "%s: %v: that pass did not finish\n", f, err)
			all = append(all, moduleResult{Module: f, Failed: 1})
			continue
		}
		printScoreboard(w, rf.Title, rf.Modules)
		all = append(all, rf.Modules...)
	}
	t := sumResults(all)
	fmt.Fprintf(w, "\nall passes (%d):\n%s\n", len(files), closingLine(all))
	if t.Failed > 0 || (strict && t.Skipped > 0) {
		return 1
	}
	return 0
}

// vmCacheDir is where the VM's kernel and the test image are cached: the
// lab's cache as root, the user's otherwise (as labtest does).
func vmCacheDir() string {
	if isRoot() {
		return labpaths.CacheDir
	}
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "boxlab")
	}
	return filepath.Join(os.TempDir(), "boxlab-cache")
}

// stageModules keeps the stages: the VM runs no tests of the lab itself.
func stageModules(all []module) []module {
	var out []module
	for _, m := range all {
		if strings.HasPrefix(m.Name, "stage") {
			out = append(out, m)
		}
	}
	return out
}

// vmTiming is where the time of a VM pass went.
type vmTiming struct {
	kernel, build, initramfs, boot, tests, poweroff, total time.Duration
}

func (t vmTiming) String() string {
	r := func(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }
	return fmt.Sprintf("kernel %s, build %s, initramfs %s, boot %s, tests %s, power-off %s; total %s",
		r(t.kernel), r(t.build), r(t.initramfs), r(t.boot), r(t.tests), r(t.poweroff), r(t.total))
}

// runVMTests prepares, boots and reads one VM pass. The error is for a
// pass that could not start (no qemu, no kernel, a bad stage name); test
// failures, a guest that fails to set up or a timeout are in the results.
func runVMTests(ctx context.Context, opts vmOptions) ([]moduleResult, error) {
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	if opts.Cgroup == "" {
		opts.Cgroup = vm.CgroupV2
	}
	r := &vmRun{opts: opts, out: opts.Out, started: time.Now()}
	if err := r.setUp(); err != nil {
		return nil, err
	}
	defer os.RemoveAll(r.runDir)
	fmt.Fprintln(r.out, "== VM: prepare")
	if err := r.prepareKernel(ctx); err != nil {
		return nil, err
	}
	if err := r.buildGuest(); err != nil {
		return nil, err
	}
	if err := r.writeInitramfs(); err != nil {
		return nil, err
	}
	fmt.Fprintf(r.out, "== VM: boot (%s, %d CPUs, %d MiB, timeout %s, stall %s)\n",
		opts.Cgroup.Name(), opts.CPUs, opts.MemoryMB, opts.Timeout, opts.stall())
	if len(r.planned) == 0 {
		fmt.Fprintln(r.out, "  nothing to run: no stage built")
		return mergeVMResults(r.mods, r.failures, nil), nil
	}
	results, err := r.bootAndRead(ctx)
	if err != nil {
		return nil, err
	}
	r.timing.total = time.Since(r.started)
	fmt.Fprintf(r.out, "\nVM timing: %s\n", r.timing)
	return mergeVMResults(r.mods, r.failures, results), nil
}

// vmRun is one VM pass under way: what runVMTests's steps hand on.
type vmRun struct {
	opts    vmOptions
	out     io.Writer
	started time.Time
	timing  vmTiming

	root, qemu, busybox, runDir, cacheDir string
	g                                     goRunner
	mods                                  []module

	kernel   *vmKernel
	modFiles []string
	accel    vm.Accel

	img      *rootfs.Image
	t2j      string
	built    []vmStage
	planned  []module
	failures map[string]moduleResult

	initrd string
}

// setUp finds the workspace's stages and the host tools, and makes the
// run's private directory.
func (r *vmRun) setUp() error {
	root, err := workspaceRoot()
	if err != nil {
		return err
	}
	all, err := workspaceModules(root)
	if err != nil {
		return err
	}
	stages := stageModules(all)
	if len(stages) == 0 {
		return errors.New("go.work lists no stage: nothing to run in the VM")
	}
	if r.mods, err = selectModules(stages, r.opts.Stages); err != nil {
		return fmt.Errorf("%w (the VM runs the stages' tests only; the lab's own tests run on the host: lab test lab)", err)
	}
	if !r.opts.SkipHostPackages {
		if err := ensureHostPackages(r.out); err != nil {
			fmt.Fprintf(r.out, "warning: %v\n", err)
		}
		if err := ensureVMPackages(r.out); err != nil {
			return err
		}
	}
	qemu, ok := lookCommand("qemu-system-x86_64")
	if !ok {
		return errors.New("qemu-system-x86_64 not found: install qemu-system-x86 (as root, 'lab vm test' installs it)")
	}
	if r.busybox, err = hostBusybox(); err != nil {
		return err
	}
	goBin, err := gotool.Path()
	if err != nil {
		return err
	}
	r.root, r.qemu, r.g, r.cacheDir = root, qemu, goRunner{bin: goBin, root: root}, vmCacheDir()
	r.runDir, err = os.MkdirTemp("", "boxlab-vm-")
	return err
}

// prepareKernel is step 1: the kernel, its modules, and the accelerator
// it will boot under.
func (r *vmRun) prepareKernel(ctx context.Context) error {
	t0 := time.Now()
	kernel, err := prepareVMKernel(ctx, filepath.Join(r.cacheDir, "vm"), r.out)
	if err != nil {
		return fmt.Errorf("the VM's kernel: %w", err)
	}
	if kernel.Note != "" {
		fmt.Fprintf(r.out, "warning: %s\n", kernel.Note)
	}
	modFiles, inKernel, err := kernel.Modules(ctx, kernel.Deb, vm.GuestModules)
	if err != nil {
		return err
	}
	r.kernel, r.modFiles = kernel, modFiles
	r.timing.kernel = time.Since(t0)
	fetched := "cached"
	if kernel.Download > 0 {
		fetched = fmt.Sprintf("downloaded in %s", kernel.Download.Round(100*time.Millisecond))
	}
	fmt.Fprintf(r.out, "  kernel: %s (%s %s, %s .deb, %s)\n", kernel.Release, kernel.Package.Name,
		kernel.Package.Version, mib(kernel.DebBytes), fetched)
	fmt.Fprintf(r.out, "  modules: %d to load", len(modFiles))
	if len(inKernel) > 0 {
		fmt.Fprintf(r.out, "; built in: %s", strings.Join(inKernel, " "))
	}
	fmt.Fprintln(r.out)

	if r.opts.Accel != "tcg" {
		fmt.Fprintln(r.out, "  accelerator: checking KVM (a test boot of this kernel, at most "+vm.KernelCheckBound.String()+")")
	}
	cache := vm.AccelCache{Path: filepath.Join(r.cacheDir, "vm", "accel.json"), Key: vm.AccelCacheKey(r.qemu, kernel.Vmlinuz)}
	if r.opts.AccelRecheck {
		_ = os.Remove(cache.Path) // decided afresh, and saved again
	}
	r.accel, err = vm.DetectAccel(ctx, r.qemu, r.opts.Accel, r.runDir, kernel.Vmlinuz, cache)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.out, "  accelerator: %s\n", r.accel)
	return nil
}

// buildGuest is step 2: what the guest runs, compiled here.
func (r *vmRun) buildGuest() error {
	t0 := time.Now()
	img, err := rootfs.Build(rootfs.Options{CacheDir: r.cacheDir})
	if err != nil {
		return fmt.Errorf("build the test image: %w", err)
	}
	r.img = img
	if r.t2j, err = r.g.buildTest2JSON(r.runDir); err != nil {
		return err
	}
	r.failures = map[string]moduleResult{}
	for _, m := range r.mods {
		st, lines, err := r.g.buildVMStage(m, filepath.Join(r.runDir, "build", m.Name))
		if err != nil {
			r.failures[m.Name] = moduleResult{Module: m.Name, Failed: 1,
				Failures: []outcome{{Name: err.Error() + " [build for the VM failed]", Output: tail(lines, tailLines)}}}
			fmt.Fprintf(r.out, "  FAIL %s: %s\n", m.Name, err)
			printIndented(r.out, tail(lines, tailLines))
			continue
		}
		what := fmt.Sprintf("%d %s", len(st.packages), plural(len(st.packages), "test binary", "test binaries"))
		if st.stageBinary != "" {
			what += " and the stage binary"
		}
		fmt.Fprintf(r.out, "  built %s: %s\n", m.Name, what)
		r.built = append(r.built, st)
		r.planned = append(r.planned, m)
	}
	r.timing.build = time.Since(t0)
	return nil
}

// writeInitramfs is step 3: busybox, the modules, the binaries and the
// image in one gzipped cpio.
func (r *vmRun) writeInitramfs() error {
	t0 := time.Now()
	applets, err := busyboxApplets(r.busybox)
	if err != nil {
		return err
	}
	ir := &initramfs{busybox: r.busybox, applets: applets, kernel: r.kernel, modules: r.modFiles,
		test2j: r.t2j, stages: r.built, root: r.root, imageDir: filepath.Dir(r.img.Dir),
		plan: guestPlan(r.kernel.Release, r.modFiles, r.built, r.root, r.opts)}
	r.initrd = filepath.Join(r.runDir, "initramfs.cpio.gz")
	f, err := os.Create(r.initrd)
	if err != nil {
		return err
	}
	rawSize, err := ir.write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write the initramfs: %w", err)
	}
	// The binaries are in the initramfs now: free the disk early.
	_ = os.RemoveAll(filepath.Join(r.runDir, "build"))
	r.timing.initramfs = time.Since(t0)
	gzSize := int64(0)
	if st, err := os.Stat(r.initrd); err == nil {
		gzSize = st.Size()
	}
	fmt.Fprintf(r.out, "  initramfs: %s (%s gzip) in %s\n", mib(rawSize), mib(gzSize), r.timing.initramfs.Round(100*time.Millisecond))
	return nil
}

// bootAndRead is step 4: boot, stream the results into the scoreboard,
// and say how the VM ended when it did not end well.
func (r *vmRun) bootAndRead(ctx context.Context) ([]moduleResult, error) {
	opts := r.opts
	machine := vm.Machine{Qemu: r.qemu, Accel: r.accel, CPUs: opts.CPUs, MemoryMB: opts.MemoryMB,
		Kernel: r.kernel.Vmlinuz, Initrd: r.initrd, Append: vm.KernelCmdline, Dir: r.runDir, Stall: opts.stall()}
	collector := newVMCollector(r.out, opts.Verbose, r.planned)
	collector.label = opts.Cgroup.Name() + " VM"
	console := newConsoleTail(r.out, opts.Verbose, tailLines)
	bootStart := time.Now()
	outcome, err := machine.Run(ctx, opts.Timeout, console, func(rd io.Reader) {
		if err := vm.ReadResults(rd, collector); err != nil {
			collector.Output([]byte("results channel: " + err.Error()))
		}
	})
	if err != nil {
		return nil, err
	}
	console.flush()
	r.timing.setRun(bootStart, outcome.Elapsed, collector.booted, collector.finished)

	reason := vmEndReason(outcome, collector.done, opts)
	results := collector.finish(reason)
	if err := collector.checkCgroupMounts(opts.Cgroup); err != nil {
		// The tests ran, but not on the layout asked for: that fails the pass.
		fmt.Fprintf(r.out, "\nVM: %v\n", err)
		results = append(results, vmSetupFailure(opts.Cgroup.Name()+" layout", err))
	}
	if reason != "" || outcome.ExitCode != 0 {
		fmt.Fprintf(r.out, "\nVM: %s\n", firstNonEmpty(reason, fmt.Sprintf("qemu exited with status %d", outcome.ExitCode)))
		if outcome.Stderr != "" {
			fmt.Fprintln(r.out, "qemu said:")
			printIndented(r.out, tail(splitLines(outcome.Stderr), tailLines))
		}
		fmt.Fprintf(r.out, "console tail (last %d lines):\n", tailLines)
		if lines := console.lines(); len(lines) > 0 {
			printIndented(r.out, lines)
		} else {
			fmt.Fprintln(r.out, "    (nothing: qemu stopped before the kernel printed anything)")
		}
	}
	return results, nil
}

// vmEndReason says why a VM run did not finish its tests, or "".
func vmEndReason(o vm.Outcome, done bool, opts vmOptions) string {
	switch {
	case o.TimedOut:
		return fmt.Sprintf("timeout: the VM was still running after %s (--timeout)", opts.Timeout)
	case o.Stalled:
		return fmt.Sprintf("stalled: nothing on the VM's console or results port for %s (--stall); the VM was stopped", opts.stall())
	case o.Canceled:
		return "interrupted: the VM was stopped"
	case !done:
		return fmt.Sprintf("the VM stopped before the end of the tests (qemu exit status %d)", o.ExitCode)
	}
	return ""
}

// setRun splits a run's time into boot, tests and power-off, as far as
// the guest got.
func (t *vmTiming) setRun(start time.Time, elapsed time.Duration, booted, finished time.Time) {
	end := start.Add(elapsed)
	switch {
	case booted.IsZero():
		t.boot = elapsed
	case finished.IsZero():
		t.boot = booted.Sub(start)
		t.tests = end.Sub(booted)
	default:
		t.boot = booted.Sub(start)
		t.tests = finished.Sub(booted)
		t.poweroff = end.Sub(finished)
	}
}

// mergeVMResults puts the modules that did not build back among those the
// VM ran, in workspace order; results that are no module of the workspace
// (the VM's own set-up) come last.
func mergeVMResults(mods []module, failed map[string]moduleResult, ran []moduleResult) []moduleResult {
	byName := map[string]moduleResult{}
	for _, r := range ran {
		byName[r.Module] = r
	}
	var out []moduleResult
	known := map[string]bool{}
	for _, m := range mods {
		known[m.Name] = true
		if r, ok := failed[m.Name]; ok {
			out = append(out, r)
		} else if r, ok := byName[m.Name]; ok {
			out = append(out, r)
		}
	}
	for _, r := range ran {
		if !known[r.Module] {
			out = append(out, r)
		}
	}
	return out
}

// vmSetupFailure is one failure of the VM itself rather than of a module,
// which the scoreboard shows as the module "VM set-up".
func vmSetupFailure(what string, err error) moduleResult {
	return moduleResult{Module: "VM set-up", Failed: 1,
		Failures: []outcome{{Name: what, Output: []string{err.Error()}}}}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// hostBusybox is the host's static busybox, which becomes the guest's
// userland (as it is the test image's).
func hostBusybox() (string, error) {
	for _, p := range busyboxCandidates {
		if ok, err := isStaticELF(p); err == nil && ok {
			return p, nil
		}
	}
	_, why := staticBusybox()
	return "", fmt.Errorf("no static busybox (%s): install busybox-static", why)
}

// consoleTail keeps the last lines of the VM's console for when something
// goes wrong, and with verbose streams every line as it comes.
type consoleTail struct {
	mu      sync.Mutex
	out     io.Writer
	verbose bool
	max     int
	partial []byte
	last    []string
}

func newConsoleTail(out io.Writer, verbose bool, max int) *consoleTail {
	return &consoleTail{out: out, verbose: verbose, max: max}
}

func (c *consoleTail) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	for {
		i := strings.IndexByte(string(c.partial), '\n')
		if i < 0 {
			break
		}
		c.push(strings.TrimRight(string(c.partial[:i]), "\r"))
		c.partial = c.partial[i+1:]
	}
	return len(p), nil
}

func (c *consoleTail) push(line string) {
	if c.verbose {
		fmt.Fprintf(c.out, "  console| %s\n", line)
	}
	c.last = append(c.last, line)
	if len(c.last) > c.max {
		c.last = c.last[len(c.last)-c.max:]
	}
}

// flush keeps a last line that had no newline.
func (c *consoleTail) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.partial) > 0 {
		c.push(strings.TrimRight(string(c.partial), "\r"))
		c.partial = nil
	}
}

func (c *consoleTail) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.last...)
}
