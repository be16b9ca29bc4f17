package main

// `lab doctor`: check, before the first stage, that this host has every
// kernel feature and tool the workshop uses, and say how to fix what is
// missing. Each check is one small function returning a checkResult.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"boxlab/lab/internal/labpaths"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/moby/sys/mountinfo"
	"github.com/spf13/pflag"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

type checkStatus string

const (
	statusOK   checkStatus = "ok"
	statusWarn checkStatus = "warn"
	statusFail checkStatus = "fail"
)

// checkResult is one line of the doctor's report.
type checkResult struct {
	Name   string      `json:"name"`
	Status checkStatus `json:"status"`
	Detail string      `json:"detail"`
	Fix    string      `json:"fix,omitempty"`
}

func pass(name, detail string) checkResult { return checkResult{name, statusOK, detail, ""} }
func warn(name, detail, fix string) checkResult {
	return checkResult{name, statusWarn, detail, fix}
}
func fail(name, detail, fix string) checkResult {
	return checkResult{name, statusFail, detail, fix}
}

// fixUnexpected is the advice when the host cannot even be looked at.
const fixUnexpected = "unexpected on a Linux host: run the lab in the workshop VM (vagrant up)"

// needsRoot is what a check says when it cannot look without root.
func needsRoot(name, what string) checkResult {
	return warn(name, "not checked: "+what+" needs root", "run it as root: sudo ./lab.sh doctor")
}

// doctorChecks lists the checks in the order they print.
func doctorChecks() []func() checkResult {
	checks := []func() checkResult{
		checkRoot,
		checkKernel,
		checkNamespaces,
		checkUserNamespaces,
		checkCgroupLayout,
		checkCgroupControllers,
		checkOverlay,
		checkBridgeVeth,
		checkNftables,
	}
	for _, p := range hostPackages {
		checks = append(checks, func() checkResult { return checkHostPackage(p) })
	}
	return append(checks, checkIPForward, checkGo, checkDisk)
}

func init() {
	register(command{
		name:    "doctor",
		summary: "check that this host can run every stage, and say how to fix what is missing",
		run:     runDoctor,
	})
}

func runDoctor(args []string) error {
	fs := pflag.NewFlagSet("doctor", pflag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the results as a JSON array")
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: lab doctor [--json]\n\nChecks the host for every kernel feature and tool the stages use.\n\n%s", fs.FlagUsages())
	}
	if done, err := parseCommandFlags(fs, args); done {
		return err
	}
	var results []checkResult
	for _, check := range doctorChecks() {
		results = append(results, check())
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return err
		}
	} else {
		printDoctorReport(os.Stdout, results)
	}
	if countStatus(results, statusFail) > 0 {
		return exitError{1}
	}
	return nil
}

func countStatus(results []checkResult, s checkStatus) int {
	n := 0
	for _, r := range results {
		if r.Status == s {
			n++
		}
	}
	return n
}

func printDoctorReport(w io.Writer, results []checkResult) {
	tags := map[checkStatus]string{statusOK: "[ ok ]", statusWarn: "[warn]", statusFail: "[FAIL]"}
	for _, r := range results {
		fmt.Fprintf(w, "%s %-18s %s\n", tags[r.Status], r.Name, r.Detail)
		if r.Status != statusOK && r.Fix != "" {
			fmt.Fprintf(w, "  fix: %s\n", r.Fix)
		}
	}
	fails, warns := countStatus(results, statusFail), countStatus(results, statusWarn)
	switch {
	case fails == 1:
		fmt.Fprintln(w, "doctor: 1 problem; fix it and run 'sudo ./lab.sh doctor' again")
	case fails > 1:
		fmt.Fprintf(w, "doctor: %d problems; fix them and run 'sudo ./lab.sh doctor' again\n", fails)
	case warns > 0:
		fmt.Fprintf(w, "doctor: ready (%d %s)\n", warns, plural(warns, "warning", "warnings"))
	default:
		fmt.Fprintln(w, "doctor: ready")
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func checkRoot() checkResult {
	if isRoot() {
		return pass("root", "running as root")
	}
	return fail("root", fmt.Sprintf("running as uid %d: the stages mount, create namespaces and cgroups", os.Geteuid()),
		"run it as root: sudo ./lab.sh doctor")
}

// minKernel is the oldest kernel the workshop is tested on: 5.10 has
// cgroup v2 with every controller we use, time namespaces and overlayfs
// in user namespaces.
var minKernel = [2]int{5, 10}

func checkKernel() checkResult {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return fail("kernel", "uname: "+err.Error(), fixUnexpected)
	}
	release := unix.ByteSliceToString(u.Release[:])
	major, minor, err := parseKernelRelease(release)
	if err != nil {
		return warn("kernel", err.Error(), fixUnexpected)
	}
	if major > minKernel[0] || major == minKernel[0] && minor >= minKernel[1] {
		return pass("kernel", release)
	}
	return warn("kernel", fmt.Sprintf("%s is older than %d.%d: some stages may fail", release, minKernel[0], minKernel[1]),
		"use the workshop VM (vagrant up) or a newer distribution")
}

// parseKernelRelease reads "6.1.0-18-amd64" as 6, 1.
func parseKernelRelease(release string) (major, minor int, err error) {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("cannot read kernel release %q", release)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(leadingDigits(parts[1]))
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("cannot read kernel release %q", release)
	}
	return major, minor, nil
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// namespaceKinds are the namespaces(7) the stages create, with the kernel
// option behind each and whether a stage cannot do without it.
var namespaceKinds = []struct {
	name, config string
	required     bool
}{
	{"uts", "CONFIG_UTS_NS", true},
	{"ipc", "CONFIG_IPC_NS", true},
	{"pid", "CONFIG_PID_NS", true},
	{"mnt", "", true},
	{"net", "CONFIG_NET_NS", true},
	{"user", "CONFIG_USER_NS", false},
	{"cgroup", "CONFIG_CGROUPS", false},
	{"time", "CONFIG_TIME_NS", false},
}

func checkNamespaces() checkResult {
	var have, missing, configs []string
	required := false
	for _, ns := range namespaceKinds {
		if _, err := os.Lstat("/proc/self/ns/" + ns.name); err != nil {
			missing = append(missing, ns.name)
			if ns.config != "" {
				configs = append(configs, ns.config)
			}
			required = required || ns.required
			continue
		}
		have = append(have, ns.name)
	}
	if len(missing) == 0 {
		return pass("namespaces", strings.Join(have, " "))
	}
	detail := "missing: " + strings.Join(missing, " ")
	fix := "the kernel was built without " + strings.Join(configs, ", ") + ": use the workshop VM (vagrant up)"
	if required {
		return fail("namespaces", detail, fix)
	}
	return warn("namespaces", detail+" (stages that use them will skip)", fix)
}

// checkUserNamespaces looks at the knobs that turn user namespaces off for
// unprivileged users: a global limit, Debian's old patch and Ubuntu 24.04's
// AppArmor restriction. Root is not affected by the last two.
func checkUserNamespaces() checkResult {
	const name = "user namespaces"
	if _, err := os.Lstat("/proc/self/ns/user"); err != nil {
		return warn(name, "not available (see namespaces above)", "use the workshop VM (vagrant up)")
	}
	max, err := readTrimmed("/proc/sys/user/max_user_namespaces")
	if err == nil && max == "0" {
		return fail(name, "user.max_user_namespaces is 0: no one can create a user namespace",
			"sysctl -w user.max_user_namespaces=15000")
	}
	var notes, fixes []string
	if v, err := readTrimmed("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && v == "0" {
		notes = append(notes, "kernel.unprivileged_userns_clone=0")
		fixes = append(fixes, "sysctl -w kernel.unprivileged_userns_clone=1")
	}
	if v, err := readTrimmed("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); err == nil && v == "1" {
		notes = append(notes, "kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu's AppArmor default)")
		fixes = append(fixes, "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0")
	}
	if len(notes) > 0 {
		return warn(name, "rootless user namespaces are restricted: "+strings.Join(notes, ", ")+"; root is not affected",
			strings.Join(fixes, " && "))
	}
	detail := "unprivileged user namespaces allowed"
	if max != "" {
		detail = "max_user_namespaces=" + max + ", " + detail
	}
	return pass(name, detail)
}

func checkCgroupLayout() checkResult {
	const name = "cgroup layout"
	layout, err := detectCgroupLayout(cgroupRoot, realStatfsMagic)
	switch {
	case err != nil:
		return fail(name, err.Error(), "mount cgroup2: mount -t cgroup2 none /sys/fs/cgroup")
	case layout == layoutV2:
		return pass(name, "v2 (unified): cgroup2 at /sys/fs/cgroup")
	case layout == layoutHybrid:
		return pass(name, "hybrid: v1 controllers under /sys/fs/cgroup/<controller>, cgroup2 at /sys/fs/cgroup/unified (stage03 uses the v1 controllers)")
	default:
		return pass(name, "v1 (legacy): one hierarchy per controller under /sys/fs/cgroup/<controller>")
	}
}

// Controllers stage03 limits with, and those it uses when present.
var (
	requiredControllers = []string{"cpu", "memory", "pids"}
	v1OptionalControl   = []string{"cpuacct", "cpuset", "freezer"}
	v2OptionalControl   = []string{"cpuset"}
)

func checkCgroupControllers() checkResult {
	const name = "cgroup controllers"
	layout, err := detectCgroupLayout(cgroupRoot, realStatfsMagic)
	if err != nil {
		return fail(name, "no cgroup filesystem (see cgroup layout)", "mount cgroup2: mount -t cgroup2 none /sys/fs/cgroup")
	}
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		return fail(name, err.Error(), fixUnexpected)
	}
	cgs := cgroupMounts(mounts, boxlabDirs())
	if layout == layoutV2 {
		return checkV2Controllers(name, cgroupRoot, cgs)
	}
	return checkV1Controllers(name, cgs)
}

// checkV2Controllers reads root's cgroup.controllers and subtree_control;
// root is a parameter so that tests can hand it a fake directory.
func checkV2Controllers(name, root string, cgs []cgroupMount) checkResult {
	for _, m := range cgs {
		if m.Path == root && m.ReadOnly {
			return fail(name, root+" is mounted read-only (inside a container?)",
				"run the lab in the workshop VM or directly on a host")
		}
	}
	avail, err := readTrimmed(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		return fail(name, err.Error(), fixUnexpected)
	}
	enabled, _ := readTrimmed(filepath.Join(root, "cgroup.subtree_control"))
	have, on := strings.Fields(avail), strings.Fields(enabled)
	missing := missingFrom(have, requiredControllers)
	if len(missing) > 0 {
		return fail(name, "cgroup v2 lacks "+strings.Join(missing, " ")+" (has: "+avail+")",
			"remove cgroup_disable=... from the kernel command line, or use the workshop VM")
	}
	want := append(slices.Clone(requiredControllers), v2OptionalControl...)
	var off []string
	for _, c := range want {
		if slices.Contains(have, c) && !slices.Contains(on, c) {
			off = append(off, c)
		}
	}
	detail := "v2: " + strings.Join(intersect(want, have), " ")
	if len(off) == 0 {
		detail += " (all enabled in " + filepath.Join(root, "cgroup.subtree_control") + ")"
	} else if delegable, why := canEnableV2(root); delegable {
		detail += " (stage03 enables " + strings.Join(off, " ") + " through cgroup.subtree_control)"
	} else {
		return warn(name, detail+"; cannot enable "+strings.Join(off, " ")+" for children: "+why,
			"move the processes of "+root+" into a child cgroup, or use the workshop VM")
	}
	if m := missingFrom(have, v2OptionalControl); len(m) > 0 {
		return warn(name, detail+"; missing "+strings.Join(m, " ")+" (--cpuset-cpus will not work)", "use the workshop VM")
	}
	return pass(name, detail)
}

// canEnableV2 tells whether writing +memory to /sys/fs/cgroup's
// subtree_control can work. The real root cgroup is exempt from the "no
// internal processes" rule (cgroups(7)); a namespaced root (a container's
// /sys/fs/cgroup, which has a cgroup.type file) is not.
func canEnableV2(root string) (bool, string) {
	if _, err := os.Stat(filepath.Join(root, "cgroup.type")); err != nil {
		return true, ""
	}
	procs, _ := readTrimmed(filepath.Join(root, "cgroup.procs"))
	if procs != "" {
		return false, root + " is not the root cgroup and has processes in it (no internal processes rule)"
	}
	return true, ""
}

func checkV1Controllers(name string, cgs []cgroupMount) checkResult {
	var have []string
	for _, m := range cgs {
		if m.Version != 1 {
			continue
		}
		if m.ReadOnly {
			return fail(name, m.Path+" is mounted read-only (inside a container?)",
				"run the lab in the workshop VM or directly on a host")
		}
		have = append(have, m.Controllers...)
	}
	want := append(slices.Clone(requiredControllers), v1OptionalControl...)
	detail := "v1: " + strings.Join(intersect(want, have), " ")
	if missing := missingFrom(have, requiredControllers); len(missing) > 0 {
		return fail(name, detail+"; missing "+strings.Join(missing, " "),
			"mount them (mount -t cgroup -o "+missing[0]+" cgroup /sys/fs/cgroup/"+missing[0]+") or boot with cgroup_enable="+missing[0])
	}
	if missing := missingFrom(have, v1OptionalControl); len(missing) > 0 {
		return warn(name, detail+"; missing "+strings.Join(missing, " "),
			"mount them: mount -t cgroup -o "+missing[0]+" cgroup /sys/fs/cgroup/"+missing[0])
	}
	return pass(name, detail)
}

func missingFrom(have, want []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

func intersect(want, have []string) []string {
	var out []string
	for _, w := range want {
		if slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

func boxlabDirs() []string {
	return []string{labpaths.RunDir, labpaths.StateDir, labpaths.CacheDir}
}

func filesystemListed(fstype string) bool {
	f, err := os.Open("/proc/filesystems")
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 0 && fields[len(fields)-1] == fstype {
			return true
		}
	}
	return false
}

func checkOverlay() checkResult {
	const name = "overlayfs"
	if !isRoot() {
		if filesystemListed("overlay") {
			return needsRoot(name, "a test mount")
		}
		return fail(name, "overlay is not in /proc/filesystems", "sudo modprobe overlay")
	}
	if err := tryOverlayMount(); err != nil {
		return fail(name, err.Error(), "sudo modprobe overlay (the kernel needs CONFIG_OVERLAY_FS)")
	}
	detail := "mounted and unmounted a test overlay under " + labpaths.RunDir
	if m, err := realStatfsMagic("/var/lib"); err == nil && m == unix.OVERLAYFS_SUPER_MAGIC {
		return warn(name, detail+"; but /var/lib is itself on overlayfs, which cannot hold an upper dir",
			"run the lab in the workshop VM, or mount a volume on /var/lib/boxlab")
	}
	return pass(name, detail)
}

// tryOverlayMount mounts a one-file overlay (overlayfs(5)), writes through
// it and checks the write landed in the upper dir. It works under RunDir so
// that a doctor killed half-way leaves nothing `lab reset` cannot find.
func tryOverlayMount() (err error) {
	createdRun := false
	if _, err := os.Stat(labpaths.RunDir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(labpaths.RunDir, 0o700); err != nil {
			return err
		}
		createdRun = true
	}
	if createdRun {
		defer os.Remove(labpaths.RunDir) // only if empty: a real run may have started meanwhile
	}
	dir, err := os.MkdirTemp(labpaths.RunDir, "doctor-overlay-")
	if err != nil {
		return err
	}
	mounted := false
	defer func() {
		if !mounted { // never recurse into a mount we could not take down
			os.RemoveAll(dir)
		}
	}()
	lower, upper, work, merged := filepath.Join(dir, "lower"), filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{lower, upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(lower, "from-lower"), []byte("lower\n"), 0o644); err != nil {
		return err
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount -t overlay -o %s overlay %s: %w", opts, merged, err)
	}
	mounted = true
	defer func() {
		if uerr := unix.Unmount(merged, 0); uerr != nil {
			if uerr = unix.Unmount(merged, unix.MNT_DETACH); uerr != nil {
				err = errors.Join(err, fmt.Errorf("umount %s: %w (run 'sudo ./lab.sh reset')", merged, uerr))
				return
			}
		}
		mounted = false
	}()
	if _, err := os.Stat(filepath.Join(merged, "from-lower")); err != nil {
		return fmt.Errorf("overlay mounted but the lower file is not visible: %w", err)
	}
	if err := os.WriteFile(filepath.Join(merged, "from-merged"), []byte("upper\n"), 0o644); err != nil {
		return fmt.Errorf("write through overlay: %w", err)
	}
	if _, err := os.Stat(filepath.Join(upper, "from-merged")); err != nil {
		return fmt.Errorf("a write through the overlay did not land in upperdir: %w", err)
	}
	return nil
}

// Test link names: they start with the lab's prefix like everything the lab
// creates, but live only in a throwaway namespace.
const (
	doctorBridge = labpaths.LinkPrefix + "doctor0"
	doctorVethA  = labpaths.LinkPrefix + "doctor1"
	doctorVethB  = labpaths.LinkPrefix + "doctor2"
)

func checkBridgeVeth() checkResult {
	const name = "bridge + veth"
	if !isRoot() {
		return needsRoot(name, "creating links in a throwaway network namespace")
	}
	ns, err := newThrowawayNetns()
	if err != nil {
		return fail(name, err.Error(), "the kernel needs CONFIG_NET_NS")
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fail(name, "netlink: "+err.Error(), fixUnexpected)
	}
	defer h.Close()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: doctorBridge}}
	if err := h.LinkAdd(br); err != nil {
		return fail(name, "ip link add "+doctorBridge+" type bridge: "+err.Error(), "sudo modprobe bridge")
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: doctorVethA}, PeerName: doctorVethB}
	if err := h.LinkAdd(veth); err != nil {
		return fail(name, "ip link add "+doctorVethA+" type veth peer name "+doctorVethB+": "+err.Error(), "sudo modprobe veth")
	}
	if err := h.LinkSetMaster(veth, br); err != nil {
		return fail(name, "ip link set "+doctorVethA+" master "+doctorBridge+": "+err.Error(), "sudo modprobe bridge")
	}
	return pass(name, "created bridge "+doctorBridge+" and veth "+doctorVethA+"/"+doctorVethB+" in a throwaway network namespace")
}

// checkNftables asks nf_tables for the host's tables (read only), then
// builds a NAT table with a masquerade rule, which is what stage05 needs,
// in a throwaway namespace.
func checkNftables() checkResult {
	const name = "nftables"
	if !isRoot() {
		return needsRoot(name, "talking to nf_tables")
	}
	host, err := nftables.New()
	if err != nil {
		return fail(name, err.Error(), "sudo modprobe nf_tables")
	}
	tables, err := host.ListTables()
	if err != nil {
		return fail(name, "list tables: "+err.Error(), "sudo modprobe nf_tables (the kernel needs CONFIG_NF_TABLES)")
	}
	if err := tryNAT(); err != nil {
		return fail(name, "NAT: "+err.Error(), "sudo modprobe nft_chain_nat nft_masq (the kernel needs CONFIG_NFT_NAT, CONFIG_NFT_MASQ)")
	}
	return pass(name, fmt.Sprintf("nf_tables answers (%d %s in the host namespace); NAT with masquerade works",
		len(tables), plural(len(tables), "table", "tables")))
}

func tryNAT() error {
	ns, err := newThrowawayNetns()
	if err != nil {
		return err
	}
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		return err
	}
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: labpaths.NftTable})
	ch := c.AddChain(&nftables.Chain{
		Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource,
	})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{&expr.Masq{}}})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nft add table ip %s; add chain nat postrouting; add rule masquerade: %w", labpaths.NftTable, err)
	}
	return nil
}

func checkHostPackage(p hostPackage) checkResult {
	name := p.Provides
	if p.Deb == "busybox-static" {
		name = "busybox"
	}
	found, detail := p.present()
	if found {
		return pass(name, detail)
	}
	fix := "sudo ./lab.sh install (or: apt-get install " + p.Deb + ")"
	if p.Required {
		return fail(name, detail+": needed by "+p.NeededBy, fix)
	}
	return warn(name, detail+": needed by "+p.NeededBy, fix)
}

func checkIPForward() checkResult {
	v, err := readTrimmed("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		return warn("ip_forward", err.Error(), fixUnexpected)
	}
	if v == "1" {
		return pass("ip_forward", "1 (on)")
	}
	return pass("ip_forward", v+" (stage05 turns it on when a container needs it)")
}

func checkGo() checkResult {
	const name = "go"
	want, where, err := workspaceGoVersion()
	if err != nil {
		return warn(name, err.Error(), "run the lab from the workshop's checkout")
	}
	goBin, found := lookGo()
	if !found {
		return fail(name, "no go command on PATH or in /usr/local/go/bin", "install Go "+want+" or newer: see README.md")
	}
	out, err := exec.Command(goBin, "version").Output()
	if err != nil {
		return fail(name, goBin+" version: "+err.Error(), "reinstall Go "+want+" or newer")
	}
	have, err := parseGoVersionOutput(string(out))
	if err != nil {
		return warn(name, err.Error(), fixUnexpected)
	}
	if compareGoVersions(have, want) < 0 {
		return fail(name, fmt.Sprintf("%s is go %s; %s needs go %s", goBin, have, where, want),
			"install Go "+want+" or newer: see README.md")
	}
	return pass(name, fmt.Sprintf("go %s (%s), %s asks for %s", have, goBin, filepath.Base(where), want))
}

func lookGo() (string, bool) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, true
	}
	const fallback = "/usr/local/go/bin/go"
	if _, err := os.Stat(fallback); err == nil {
		return fallback, true
	}
	return "", false
}

// workspaceGoVersion finds go.work, first next to this source file (the
// lab is normally run with `go run ./lab` from the checkout), then in the
// working directory and its parents, and returns its go directive.
func workspaceGoVersion() (version, path string, err error) {
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(filepath.Dir(file)))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			starts = append(starts, d)
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	for _, d := range starts {
		p := filepath.Join(d, "go.work")
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		v, err := goDirective(string(data))
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", p, err)
		}
		return v, p, nil
	}
	return "", "", errors.New("no go.work found next to the lab's source or above the working directory")
}

// goDirective returns the version of the `go` line of a go.mod or go.work.
func goDirective(data string) (string, error) {
	for _, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "go" {
			return f[1], nil
		}
	}
	return "", errors.New("no go directive")
}

// parseGoVersionOutput reads "go version go1.26.0 linux/amd64" as "1.26.0".
func parseGoVersionOutput(out string) (string, error) {
	for _, f := range strings.Fields(out) {
		if v, ok := strings.CutPrefix(f, "go1"); ok {
			return "1" + v, nil
		}
	}
	return "", fmt.Errorf("cannot read %q", strings.TrimSpace(out))
}

// compareGoVersions orders Go versions the way the toolchain does for our
// purposes: 1.21 < 1.21rc1 < 1.21.0 < 1.21.1 < 1.22. It returns -1, 0 or 1.
func compareGoVersions(a, b string) int {
	na, pa := splitGoVersion(a)
	nb, pb := splitGoVersion(b)
	for i := 0; i < max(len(na), len(nb)); i++ {
		x, y := at(na, i), at(nb, i)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return compareInts(pa, pb)
}

// splitGoVersion returns the numeric parts and a rank for what follows:
// "1.21" is the language version (rank 0), "1.21rc2" a release candidate
// (rank 1000+2), "1.21.0" and later releases rank 1<<20.
func splitGoVersion(v string) ([]int, int) {
	var nums []int
	rest := v
	for {
		d := leadingDigits(rest)
		n, _ := strconv.Atoi(d)
		nums = append(nums, n)
		rest = rest[len(d):]
		if !strings.HasPrefix(rest, ".") {
			break
		}
		rest = rest[1:]
	}
	switch {
	case strings.HasPrefix(rest, "rc"):
		n, _ := strconv.Atoi(rest[2:])
		return nums, 1000 + n
	case strings.HasPrefix(rest, "beta"):
		n, _ := strconv.Atoi(rest[4:])
		return nums, 500 + n
	case len(nums) < 3:
		return nums, 0
	}
	return nums, 1 << 20
}

func at(s []int, i int) int {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func compareInts(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// minFreeDisk is what the images, layers and Go build cache of all stages
// take, with room to spare.
const minFreeDisk = 2 << 30

func checkDisk() checkResult {
	const name = "disk"
	var st unix.Statfs_t
	if err := unix.Statfs("/var/lib", &st); err != nil {
		return warn(name, "statfs /var/lib: "+err.Error(), fixUnexpected)
	}
	free := st.Bavail * uint64(st.Bsize)
	detail := fmt.Sprintf("%s free in /var/lib", humanBytes(free))
	if free < minFreeDisk {
		return warn(name, detail+" (want 2.0 GiB)", "free some space on the filesystem of /var/lib")
	}
	return pass(name, detail)
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
