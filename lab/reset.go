package main

// `lab reset`: find and remove what boxlab left behind when a stage was
// killed before its cleanup ran. Everything boxlab creates carries its name
// (labpaths), and reset looks only at things with that name: it never
// touches a mount, cgroup, link or nftables table of the host's own.
//
// It works in two passes: every kind of leftover is gathered into a list of
// findings first, then each finding is acted on in order (or, with
// --dry-run, only printed). The order matters: processes die before their
// cgroups are removed, mounts go before the directories they sit in.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"boxlab/lab/internal/labpaths"

	"github.com/google/nftables"
	"github.com/moby/sys/mountinfo"
	"github.com/spf13/pflag"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// resetScope says where boxlab's things are. The command uses labpaths;
// tests narrow it to names of their own so that a reset in a test cannot
// reach what a stage's test running at the same time has made.
type resetScope struct {
	RunDir, StateDir, CacheDir string
	CgroupParent               string // relative to each hierarchy's root: "boxlab"
	LinkPrefix                 string
	NftTable                   string
	All                        bool // also remove StateDir: images, layers, volumes

	Links *netlink.Handle // network namespace to clean; nil skips links
	Nft   *nftables.Conn  // nf_tables to clean; nil skips tables
	// Mounts reads the mount table; nil means /proc/self/mountinfo.
	Mounts func() ([]*mountinfo.Info, error)
	// KillTimeout bounds the wait for killed processes to leave their cgroups.
	KillTimeout time.Duration
}

// stateDirEnv is the stages' variable that moves the state directory:
// reset cleans the one the stages use.
const stateDirEnv = "BOXLAB_STATE_DIR"

func defaultResetScope() resetScope {
	state := labpaths.StateDir
	if d := os.Getenv(stateDirEnv); d != "" {
		state = d
	}
	return resetScope{
		RunDir:       labpaths.RunDir,
		StateDir:     state,
		CacheDir:     labpaths.CacheDir,
		CgroupParent: labpaths.CgroupParent,
		LinkPrefix:   labpaths.LinkPrefix,
		NftTable:     labpaths.NftTable,
	}
}

// resolve replaces each directory by the path the kernel reports for it:
// mountinfo lists mount points with symlinks resolved, so a state
// directory reached through a symlink would otherwise match none of its
// mounts, and removeTree would descend into them.
func (sc *resetScope) resolve() {
	for _, d := range []*string{&sc.RunDir, &sc.StateDir, &sc.CacheDir} {
		if real, err := filepath.EvalSymlinks(*d); err == nil {
			*d = real
		}
	}
}

func (sc *resetScope) mounts() ([]*mountinfo.Info, error) {
	if sc.Mounts != nil {
		return sc.Mounts()
	}
	return mountinfo.GetMounts(nil)
}

// A finding is one leftover and what to do about it.
type finding struct {
	verb  string // "remove", "kill", "thaw"
	kind  string // "mount", "cgroup", "link", "directory", ...
	what  string // the object: a path, a link name, "inet boxlab"
	note  string // printed after the object, may be empty
	quiet bool   // a step that prints only when it fails
	act   func() error
}

var pastTense = map[string]string{"remove": "removed", "kill": "killed", "thaw": "thawed"}

func (f finding) line(dryRun bool) string {
	verb := pastTense[f.verb]
	if dryRun {
		verb = "would " + f.verb
	}
	s := verb + " " + f.kind + " " + f.what
	if f.note != "" {
		s += " " + f.note
	}
	return s
}

// resetPlan gathers findings; the kinds later in the list can depend on
// what the earlier ones found.
type resetPlan struct {
	sc       *resetScope
	findings []finding
	killed   map[int]bool // pids that a "kill" finding will end
	removed  map[string]bool
	cgroups  []boxlabCgroup // read once, for processes and for cgroups
}

func (p *resetPlan) add(f finding) { p.findings = append(p.findings, f) }

// resetHost cleans what sc describes, printing one line per thing removed
// to w and each failure to errw, and returns how many things it could not
// clean.
func resetHost(w, errw io.Writer, sc resetScope, dryRun bool) int {
	if sc.KillTimeout == 0 {
		sc.KillTimeout = 5 * time.Second
	}
	sc.resolve()
	p := &resetPlan{sc: &sc, killed: map[int]bool{}, removed: map[string]bool{}}
	problems := 0
	for _, gather := range []func() error{
		p.findProcesses, p.findMounts, p.findCgroups, p.findLinks, p.findNftTables, p.findDirectories,
	} {
		if err := gather(); err != nil {
			fmt.Fprintf(errw, "reset: %v\n", err)
			problems++
		}
	}
	if len(p.findings) == 0 {
		if problems == 0 {
			fmt.Fprintln(w, "nothing to clean")
		}
		return problems
	}
	for _, f := range p.findings {
		if dryRun {
			if !f.quiet {
				fmt.Fprintln(w, f.line(true))
			}
			continue
		}
		if err := f.act(); err != nil {
			if f.quiet {
				fmt.Fprintf(errw, "reset: %v\n", err)
			} else {
				fmt.Fprintf(errw, "reset: cannot %s %s %s: %v\n", f.verb, f.kind, f.what, err)
			}
			problems++
			continue
		}
		if !f.quiet {
			fmt.Fprintln(w, f.line(false))
		}
	}
	return problems
}

// --- (a) processes -------------------------------------------------------

// A boxlabCgroup is one directory under <hierarchy>/boxlab.
type boxlabCgroup struct {
	mount cgroupMount
	path  string
}

// boxlabCgroups lists every cgroup under the boxlab parent of every
// mounted hierarchy, parents before children.
func (sc *resetScope) boxlabCgroups() ([]boxlabCgroup, error) {
	mounts, err := sc.mounts()
	if err != nil {
		return nil, err
	}
	var out []boxlabCgroup
	var errs []error
	for _, m := range cgroupMounts(mounts, []string{sc.RunDir, sc.StateDir, sc.CacheDir}) {
		top := filepath.Join(m.Path, sc.CgroupParent)
		err := filepath.WalkDir(top, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				if path == top && errors.Is(err, os.ErrNotExist) {
					return filepath.SkipDir
				}
				return err
			}
			if d.IsDir() {
				out = append(out, boxlabCgroup{m, path})
			}
			return nil
		})
		if err != nil { // go on with the other hierarchies
			errs = append(errs, fmt.Errorf("walk %s: %w", top, err))
		}
	}
	return out, errors.Join(errs...)
}

// readPids reads a cgroup.procs file: one pid a line.
func readPids(path string) ([]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func procName(pid int) string {
	comm, err := readTrimmed(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return comm
}

// findProcesses finds processes still inside boxlab cgroups: a container
// whose runtime was killed keeps running. Frozen cgroups are thawed first,
// since a frozen v1 task does not die of SIGKILL until thawed.
func (p *resetPlan) findProcesses() error {
	cgs, err := p.sc.boxlabCgroups()
	p.cgroups = cgs
	for _, cg := range cgs {
		p.findFrozen(cg)
	}
	var busy []boxlabCgroup
	for _, cg := range cgs {
		pids, rerr := readPids(filepath.Join(cg.path, "cgroup.procs"))
		if rerr != nil && !isNotExist(rerr) {
			err = errors.Join(err, rerr)
		}
		if len(pids) > 0 {
			busy = append(busy, cg)
		}
		for _, pid := range pids {
			if p.killed[pid] {
				continue // the same process, seen in another v1 hierarchy
			}
			p.killed[pid] = true
			p.add(finding{
				verb: "kill", kind: "process", what: strconv.Itoa(pid),
				note: fmt.Sprintf("(%s) in cgroup %s", procName(pid), cg.path),
				act:  func() error { return killInCgroup(pid, cg.path) },
			})
		}
	}
	if len(busy) > 0 {
		timeout := p.sc.KillTimeout
		p.add(finding{quiet: true, act: func() error { return waitCgroupsEmpty(busy, timeout) }})
	}
	return err
}

func (p *resetPlan) findFrozen(cg boxlabCgroup) {
	var file, thawed string
	switch {
	case cg.mount.Version == 1 && slices.Contains(cg.mount.Controllers, "freezer"):
		file, thawed = filepath.Join(cg.path, "freezer.state"), "THAWED"
	case cg.mount.Version == 2:
		file, thawed = filepath.Join(cg.path, "cgroup.freeze"), "0"
	default:
		return
	}
	state, err := readTrimmed(file)
	if err != nil || state == thawed {
		return
	}
	p.add(finding{
		verb: "thaw", kind: "cgroup", what: cg.path,
		act: func() error { return os.WriteFile(file, []byte(thawed), 0) },
	})
}

// killInCgroup sends SIGKILL to pid if it is still in cgroup dir: between
// gathering and acting it may have exited and its pid been reused.
func killInCgroup(pid int, dir string) error {
	pids, err := readPids(filepath.Join(dir, "cgroup.procs"))
	if err != nil && !isNotExist(err) {
		return err
	}
	if !slices.Contains(pids, pid) {
		return nil
	}
	if err := unix.Kill(pid, unix.SIGKILL); err != nil && err != unix.ESRCH {
		return fmt.Errorf("kill -9 %d: %w", pid, err)
	}
	return nil
}

// waitCgroupsEmpty polls the cgroups until no process is left, killing
// any that appear (children forked before the kill landed). A killed
// process leaves its cgroup as soon as it exits, before it is reaped.
// cgroup v2's cgroup.kill does the whole subtree in one go where present.
func waitCgroupsEmpty(cgs []boxlabCgroup, timeout time.Duration) error {
	for _, cg := range cgs {
		if cg.mount.Version == 2 {
			// Best effort: older kernels (< 5.14) have no cgroup.kill.
			_ = os.WriteFile(filepath.Join(cg.path, "cgroup.kill"), []byte("1"), 0)
		}
	}
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var left []string
		for _, cg := range cgs {
			pids, _ := readPids(filepath.Join(cg.path, "cgroup.procs"))
			for _, pid := range pids {
				_ = unix.Kill(pid, unix.SIGKILL)
				left = append(left, fmt.Sprintf("%d in %s", pid, cg.path))
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes still running after SIGKILL and %v: %s", timeout, strings.Join(left, ", "))
		}
		<-tick.C
	}
}

// --- (b) mounts ----------------------------------------------------------

// findMounts finds every mount point under the lab's directories, deepest
// first so that a child is unmounted before its parent.
func (p *resetPlan) findMounts() error {
	mounts, err := p.sc.mounts()
	if err != nil {
		return err
	}
	for _, m := range mountsUnder(mounts, []string{p.sc.RunDir, p.sc.StateDir, p.sc.CacheDir}) {
		p.add(finding{
			verb: "remove", kind: "mount", what: m.Mountpoint,
			act: func() error { return p.sc.unmount(m) },
		})
	}
	return nil
}

// unmount detaches m (umount2(2) MNT_DETACH: it goes even if busy). EINVAL
// means it is no longer a mount point: it went with its parent or by
// propagation from another namespace, which is fine.
func (sc *resetScope) unmount(m *mountinfo.Info) error {
	err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH)
	if err == nil {
		return nil
	}
	if err == unix.EINVAL || err == unix.ENOENT {
		if mounts, merr := sc.mounts(); merr == nil && !slices.ContainsFunc(mounts, func(x *mountinfo.Info) bool { return x.ID == m.ID }) {
			return nil
		}
	}
	return fmt.Errorf("umount -l %s: %w", m.Mountpoint, err)
}

// --- (c) cgroups ---------------------------------------------------------

// findCgroups finds the boxlab cgroup directories of every hierarchy,
// children before parents: cgroupfs removes only empty directories, one
// rmdir(2) at a time (rm -r would try to unlink the control files).
func (p *resetPlan) findCgroups() error {
	cgs := p.cgroups // findProcesses has read them and reported any error
	for i := len(cgs) - 1; i >= 0; i-- {
		path := cgs[i].path
		p.add(finding{
			verb: "remove", kind: "cgroup", what: path,
			act: func() error {
				if err := unix.Rmdir(path); err != nil && err != unix.ENOENT {
					return fmt.Errorf("rmdir %s: %w", path, err)
				}
				return nil
			},
		})
	}
	return nil
}

// --- (d) links -----------------------------------------------------------

// findLinks finds the network links whose names carry the lab's prefix.
// Deleting one end of a veth pair deletes the other, so a link already gone
// when its turn comes is not an error.
func (p *resetPlan) findLinks() error {
	h := p.sc.Links
	if h == nil {
		return nil
	}
	links, err := h.LinkList()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		name := l.Attrs().Name
		if !strings.HasPrefix(name, p.sc.LinkPrefix) {
			continue
		}
		p.add(finding{
			verb: "remove", kind: "link", what: name,
			act: func() error {
				cur, err := h.LinkByName(name)
				if _, gone := err.(netlink.LinkNotFoundError); gone {
					return nil
				}
				if err != nil {
					return err
				}
				if err := h.LinkDel(cur); err != nil {
					return fmt.Errorf("ip link del %s: %w", name, err)
				}
				return nil
			},
		})
	}
	return nil
}

// --- (e) nftables --------------------------------------------------------

var familyNames = map[nftables.TableFamily]string{
	nftables.TableFamilyINet:   "inet",
	nftables.TableFamilyIPv4:   "ip",
	nftables.TableFamilyIPv6:   "ip6",
	nftables.TableFamilyARP:    "arp",
	nftables.TableFamilyBridge: "bridge",
	nftables.TableFamilyNetdev: "netdev",
}

// findNftTables finds the lab's table, in whatever family it was made;
// deleting a table deletes its chains, rules and sets with it.
func (p *resetPlan) findNftTables() error {
	c := p.sc.Nft
	if c == nil {
		return nil
	}
	tables, err := c.ListTables()
	if err != nil {
		return fmt.Errorf("nftables: list tables: %w", err)
	}
	for _, t := range tables {
		if t.Name != p.sc.NftTable {
			continue
		}
		p.add(finding{
			verb: "remove", kind: "nftables table", what: familyNames[t.Family] + " " + t.Name,
			act: func() error {
				c.DelTable(t)
				if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
					return fmt.Errorf("nft delete table %s %s: %w", familyNames[t.Family], t.Name, err)
				}
				return nil
			},
		})
	}
	return nil
}

// --- (f) directories and state ------------------------------------------

// findDirectories finds the run directory (only ever volatile), and in the
// state directory the records and IP leases of containers that are not
// running. Images, layers and volumes are the user's: only --all removes
// them.
func (p *resetPlan) findDirectories() error {
	sc := p.sc
	if exists(sc.RunDir) {
		p.addRemoveTree(sc.RunDir, "")
	}
	if sc.All {
		if exists(sc.StateDir) {
			p.addRemoveTree(sc.StateDir, "(--all: images, layers, volumes and container records)")
		}
		return nil
	}
	errC := p.findContainerRecords()
	errL := p.findStaleLeases()
	errI := p.findDeadImports()
	return errors.Join(errC, errL, errI)
}

// findDeadImports finds what a killed `image import` or `commit` (stage04)
// left in the state directory's tmp/: half-unpacked layers and archives.
// Those commands hold an flock(2) on the state directory's .lock for as
// long as they run, so when reset can take it, nothing in tmp/ is in use.
func (p *resetPlan) findDeadImports() error {
	tmp := filepath.Join(p.sc.StateDir, "tmp")
	entries, err := os.ReadDir(tmp)
	if errors.Is(err, os.ErrNotExist) || len(entries) == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	lock, err := os.Open(filepath.Join(p.sc.StateDir, ".lock"))
	if err != nil {
		return fmt.Errorf("%s: %w", tmp, err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return nil // an import or commit is running: its tmp/ is alive
	}
	for _, e := range entries {
		p.addRemoveTree(filepath.Join(tmp, e.Name()), "(an interrupted import or commit)")
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func (p *resetPlan) addRemoveTree(dir, note string) {
	p.removed[dir] = true
	p.add(finding{
		verb: "remove", kind: "directory", what: dir, note: note,
		act: func() error { return p.sc.removeTree(dir) },
	})
}

// removeTree is rm -rf that refuses to run while anything is still mounted
// below dir: os.RemoveAll would descend into the mount and delete what it
// shows (a bind-mounted volume, the host's own files).
func (sc *resetScope) removeTree(dir string) error {
	mounts, err := sc.mounts()
	if err != nil {
		return err
	}
	if left := mountsUnder(mounts, []string{dir}); len(left) > 0 {
		return fmt.Errorf("%s is still mounted; not removing %s", left[0].Mountpoint, dir)
	}
	return os.RemoveAll(dir)
}

func (sc *resetScope) containersDir() string { return filepath.Join(sc.StateDir, "containers") }
func (sc *resetScope) leasesFile() string {
	return filepath.Join(sc.StateDir, "network", "leases.json")
}

// findContainerRecords finds containers/<id> directories of containers
// that are not running. One this reset is about to kill counts as not
// running; one running outside the cgroups reset knows is left alone.
func (p *resetPlan) findContainerRecords() error {
	entries, err := os.ReadDir(p.sc.containersDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		dir := filepath.Join(p.sc.containersDir(), e.Name())
		pid, running := containerRunning(dir, p.sc.CgroupParent)
		if running && !p.killed[pid] {
			continue
		}
		p.removed[dir] = true
		p.add(finding{
			verb: "remove", kind: "directory", what: dir,
			act: func() error {
				if pid, running := containerRunning(dir, p.sc.CgroupParent); running {
					return fmt.Errorf("container still running as pid %d", pid)
				}
				return p.sc.removeTree(dir)
			},
		})
	}
	return nil
}

// containerRecord is the part of a stage's container record
// (containers/<id>/config.json, stage04's containers.go) that says whether
// it runs: the status, the pid and when that process started.
type containerRecord struct {
	State struct {
		Status   string
		Pid      int
		PidStart uint64
	}
}

// containerRunning reads dir/config.json and reports whether the process
// it names is alive, is that process (it started when the record says:
// pids are reused), and sits in a boxlab cgroup.
func containerRunning(dir, cgroupParent string) (int, bool) {
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return 0, false
	}
	var rec containerRecord
	if json.Unmarshal(data, &rec) != nil || rec.State.Status != "running" || rec.State.Pid <= 0 {
		return 0, false
	}
	pid := rec.State.Pid
	if start, err := pidStartTime(pid); err != nil || start != rec.State.PidStart {
		return pid, false
	}
	data, err = os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return pid, false
	}
	return pid, cgroupFileMentions(string(data), cgroupParent)
}

// pidStartTime is field 22 of /proc/PID/stat (proc(5)), counted after the
// command name's last ')', as the stages record it.
func pidStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// cgroupFileMentions reports whether a /proc/PID/cgroup text places the
// process under parent in any hierarchy ("4:memory:/boxlab/abc").
func cgroupFileMentions(text, parent string) bool {
	needle := "/" + strings.Trim(parent, "/") + "/"
	for _, line := range strings.Split(text, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && strings.Contains(parts[2]+"/", needle) {
			return true
		}
	}
	return false
}

// findStaleLeases finds IP leases (stage05's network/leases.json, a
// {"ip": "containerID"} object) whose container record is gone or is
// about to be removed.
func (p *resetPlan) findStaleLeases() error {
	file := p.sc.leasesFile()
	leases, err := readLeases(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	kept := func(id string) bool {
		dir := filepath.Join(p.sc.containersDir(), id)
		return id != "" && !strings.Contains(id, "/") && exists(dir) && !p.removed[dir]
	}
	for _, ip := range staleLeases(leases, kept) {
		p.add(finding{
			verb: "remove", kind: "lease", what: ip, note: "(container " + leases[ip] + ")",
			act: func() error { return withNetworkLock(file, func() error { return dropLease(file, ip) }) },
		})
	}
	return nil
}

// staleLeases returns, sorted, the addresses whose container is not kept.
func staleLeases(leases map[string]string, kept func(id string) bool) []string {
	var ips []string
	for ip, id := range leases {
		if !kept(id) {
			ips = append(ips, ip)
		}
	}
	slices.Sort(ips)
	return ips
}

func readLeases(file string) (map[string]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	leases := map[string]string{}
	if err := json.Unmarshal(data, &leases); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return leases, nil
}

// withNetworkLock runs f holding stage05's network lock: flock(2) on
// network/lock next to the lease file, which every run holds while it
// reads and rewrites the leases (and builds or tears down the bridge).
// Without it, a run allocating at the same moment could rewrite the file
// from a copy read before reset's change, and undo it. The lock file stays.
func withNetworkLock(leasesFile string, f func() error) error {
	lock, err := os.OpenFile(filepath.Join(filepath.Dir(leasesFile), "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		return f() // no network directory: no lease file either
	}
	if err != nil {
		return fmt.Errorf("network lock: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("flock %s: %w", lock.Name(), err)
	}
	return f()
}

// dropLease rewrites the lease file without ip (write a temporary file,
// rename it over: a reader never sees half a file), and removes the file
// once the last lease is gone.
func dropLease(file, ip string) error {
	leases, err := readLeases(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	delete(leases, ip)
	if len(leases) == 0 {
		return os.Remove(file)
	}
	data, err := json.MarshalIndent(leases, "", "  ")
	if err != nil {
		return err
	}
	tmp := file + ".reset"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// --- the command ---------------------------------------------------------

func init() {
	register(command{
		name:    "reset",
		summary: "remove what a crashed stage left behind (mounts, cgroups, links, nftables table, run state)",
		run:     runReset,
	})
}

func runReset(args []string) error {
	fs := pflag.NewFlagSet("reset", pflag.ContinueOnError)
	dryRun := fs.Bool("dry-run", false, "print what would be removed, change nothing")
	all := fs.Bool("all", false, "also remove "+labpaths.StateDir+": images, layers and volumes")
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: lab reset [--dry-run] [--all]\n\n"+
			"Kills processes left in boxlab cgroups and removes boxlab's mounts, cgroups,\n"+
			"%s* links, nftables table %q, %s and stopped containers' records\n"+
			"(in %s, or $%s).\n\n%s",
			labpaths.LinkPrefix, labpaths.NftTable, labpaths.RunDir, labpaths.StateDir, stateDirEnv, fs.FlagUsages())
	}
	if done, err := parseCommandFlags(fs, args); done {
		return err
	}
	if !isRoot() && !*dryRun {
		return errors.New("run as root (sudo ./lab.sh reset), or look first with --dry-run")
	}
	sc := defaultResetScope()
	sc.All = *all
	problems := 0
	if h, err := netlink.NewHandle(); err != nil {
		fmt.Fprintf(os.Stderr, "reset: netlink: %v\n", err)
		problems++
	} else {
		defer h.Close()
		sc.Links = h
	}
	if c, err := nftables.New(); err != nil {
		fmt.Fprintf(os.Stderr, "reset: nftables: %v\n", err)
		problems++
	} else {
		sc.Nft = c
	}
	problems += resetHost(os.Stdout, os.Stderr, sc, *dryRun)
	if problems > 0 {
		fmt.Fprintf(os.Stderr, "reset: %d %s left; see above\n", problems, plural(problems, "problem", "problems"))
		return exitError{1}
	}
	return nil
}
