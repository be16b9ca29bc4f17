// Package cgroups gives a container its control group (cgroups(7)), from
// the OCI config's linux.cgroupsPath and linux.resources: made, limited,
// joined by the init while it waits, frozen and thawed, read, removed.
// It is stage05-network's cgroups.go, cgroups_v1.go, cgroups_v2.go,
// limits.go and stats.go, driven by config.json instead of docker's flags.
//
// Control groups do four jobs for a container: they limit what its
// processes may use (memory, CPU time, pids), prioritise it against its
// neighbours (CPU weight), account for what it used, and control it as one
// unit (freeze, thaw, kill).
//
// A host arranges its cgroups in one of three layouts, and the runtime must
// work on all of them:
//
//	v2 (unified)  one tree at /sys/fs/cgroup holding every controller
//	v1            one tree per controller: /sys/fs/cgroup/memory, .../cpu ...
//	hybrid        v1 trees for the controllers, plus an empty v2 tree at
//	              /sys/fs/cgroup/unified (systemd's compromise, Debian 12 here)
//
// A container's cgroup has one path, the same in every tree
// (ResolvePath): /boxlab/ID unless the config says otherwise, which is
// /sys/fs/cgroup/boxlab/ID on v2 and /sys/fs/cgroup/memory/boxlab/ID (and
// one per controller) on v1.
package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Parent is the cgroup under which every container's cgroup lives, in
// every hierarchy, unless its config gives an absolute cgroupsPath: `lab
// reset` and the tests look for it by this name.
const Parent = "boxlab"

// cgroupMountpoint is where the hierarchies are mounted on every layout.
const cgroupMountpoint = "/sys/fs/cgroup"

// A Cgroup is the container's cgroup, whatever the layout: one directory on
// v2, one directory per hierarchy on v1. Remove is idempotent.
type Cgroup interface {
	Create() error                // make the directories (and parents)
	SetLimits(l Limits) error     // write the limit files
	Join(pid int) error           // move a process (all its threads) in
	Stats() (Stats, error)        // read the accounting files
	OOMKilled() bool              // did the OOM killer strike in here?
	Freeze() error                // stop every process, wait until stopped
	Thaw() error                  // let them run again
	Remove() error                // kill what is left, remove the directories
	Mounts(cgroupns bool) []Mount // what the container mounts for a "cgroup" mount
}

// ourControllers are the controllers boxlab uses. (freezer is a controller
// on v1 only: v2 has cgroup.freeze in every cgroup.)
var ourControllers = []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "freezer"}

// A Layout is what Detect found on this host.
type Layout struct {
	Mode    string            // "v2", "v1" or "hybrid"
	unified string            // where cgroup2 is mounted ("" on pure v1)
	v1      map[string]string // v1 controller -> its hierarchy's mountpoint
	// What the host offers, for checking the config before creating anything.
	controllers map[string]bool // controllers a container can use
	swap        bool            // memory+swap can be limited
	cpus        []int           // CPUs a container may be pinned to
	mems        []int           // memory nodes it may be bound to
}

// has reports whether the host offers the controller to containers.
func (l *Layout) has(controller string) bool { return l.controllers[controller] }

// Detect finds how this host mounts its cgroups: statfs(2) tells whether
// /sys/fs/cgroup itself is cgroup2 (pure v2); otherwise
// /proc/self/mountinfo lists the v1 hierarchies and any cgroup2 beside them.
func Detect() (*Layout, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupMountpoint, &st); err != nil {
		return nil, fmt.Errorf("statfs %s: %w (is /sys mounted?)", cgroupMountpoint, err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return layoutV2(cgroupMountpoint)
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	unified, v1, err := parseCgroupMounts(f)
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/mountinfo: %w", err)
	}
	return layoutV1(unified, v1)
}

// layoutV2 describes a pure v2 host whose hierarchy is mounted at root.
func layoutV2(root string) (*Layout, error) {
	l := &Layout{Mode: "v2", unified: root, controllers: map[string]bool{}}
	offered, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(root, "cgroup.controllers"), err)
	}
	for _, c := range strings.Fields(string(offered)) {
		l.controllers[c] = true
	}
	if l.has("cpu") {
		l.controllers["cpuacct"] = true // v2's cpu.stat does cpuacct's job
	}
	l.controllers["freezer"] = true // cgroup.freeze: core on v2
	l.swap = v2SwapAccounting(root)
	l.cpus = hostCPUs(filepath.Join(root, "cpuset.cpus.effective"))
	l.mems = hostMems(filepath.Join(root, "cpuset.mems.effective"))
	return l, nil
}

// layoutV1 describes a v1 host (hybrid when unified is not "").
func layoutV1(unified string, v1 map[string]string) (*Layout, error) {
	if len(v1) == 0 && unified == "" {
		return nil, errors.New("no cgroup hierarchy is mounted under /sys/fs/cgroup: run 'lab doctor'")
	}
	l := &Layout{Mode: "v1", unified: unified, v1: v1, controllers: map[string]bool{}}
	if unified != "" {
		l.Mode = "hybrid"
	}
	for c := range v1 {
		l.controllers[c] = true
	}
	if mem, ok := v1["memory"]; ok {
		_, err := os.Stat(filepath.Join(mem, "memory.memsw.limit_in_bytes"))
		l.swap = err == nil
	}
	if cs, ok := v1["cpuset"]; ok {
		l.cpus = hostCPUs(filepath.Join(cs, "cpuset.effective_cpus"))
		l.mems = hostMems(filepath.Join(cs, "cpuset.effective_mems"))
	} else {
		l.cpus = hostCPUs("")
		l.mems = hostMems("")
	}
	return l, nil
}

// parseCgroupMounts reads mountinfo (proc(5)) and returns where cgroup2 is
// mounted and, for each v1 controller, where its hierarchy is. A hierarchy
// may hold several controllers ("cpu,cpuacct" on many hosts, separate here):
// the super options after " - cgroup cgroup " name them. Only mounts under
// /sys/fs/cgroup count, and the first mount of each controller wins.
func parseCgroupMounts(r io.Reader) (unified string, v1 map[string]string, err error) {
	v1 = map[string]string{}
	s := bufio.NewScanner(r)
	for s.Scan() {
		before, after, ok := strings.Cut(s.Text(), " - ")
		fields, super := strings.Fields(before), strings.Fields(after)
		if !ok || len(fields) < 5 || len(super) < 3 {
			continue
		}
		point := unescapeMountinfo(fields[4])
		if point != cgroupMountpoint && !strings.HasPrefix(point, cgroupMountpoint+"/") {
			continue
		}
		switch super[0] {
		case "cgroup2":
			if unified == "" {
				unified = point
			}
		case "cgroup":
			for _, opt := range strings.Split(super[2], ",") {
				if slices.Contains(v1Controllers, opt) && v1[opt] == "" {
					v1[opt] = point
				}
			}
		}
	}
	return unified, v1, s.Err()
}

// v1Controllers are the controllers a v1 hierarchy can hold (the seeds'
// list and the newer ones). Other super options (rw, name=systemd, xattr)
// are not controllers.
var v1Controllers = []string{
	"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb",
	"memory", "misc", "net_cls", "net_prio", "perf_event", "pids", "rdma",
}

func unescapeMountinfo(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// v2SwapAccounting reports whether memory.swap.max exists. The root cgroup
// has no such file, so look in the cgroups just below it: the kernel gives
// every non-root cgroup with the memory controller the swap files when it
// accounts swap.
func v2SwapAccounting(root string) bool {
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, e.Name(), "memory.swap.max")); err == nil {
			return true
		}
	}
	return false
}

// hostCPUs lists the CPUs in a cpulist file ("0-3,6"), or the online CPUs
// when that file is missing.
func hostCPUs(file string) []int { return hostList(file, "/sys/devices/system/cpu/online") }

// hostMems lists the memory nodes in a list file, or the nodes that have
// memory when that file is missing.
func hostMems(file string) []int { return hostList(file, "/sys/devices/system/node/has_memory") }

func hostList(files ...string) []int {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if list, err := parseCPUList(strings.TrimSpace(string(data))); err == nil {
			return list
		}
	}
	return nil
}

// New is the cgroup at path (ResolvePath's) on this host's layout. On a
// hybrid host the controllers are v1's, and the container also gets a
// cgroup in the empty v2 tree, so that its /proc/self/cgroup is all "/" in
// the cgroup namespace and v2's cgroup.freeze is there when v1 has no
// freezer.
func New(l *Layout, path string) Cgroup {
	if l.Mode == "v2" {
		return newCgroupV2(l.unified, path, l.controllers)
	}
	c := newCgroupV1(l.v1, path)
	if l.unified != "" {
		c.unified = newCgroupV2(l.unified, path, nil)
	}
	return c
}

// Open is the cgroup at path of a container created earlier (its record
// keeps the path): the layout is the host's, which does not change while
// it is up.
func Open(path string) (Cgroup, error) {
	if err := checkResolved(path); err != nil {
		return nil, err
	}
	l, err := Detect()
	if err != nil {
		return nil, err
	}
	return New(l, path), nil
}

// --- reading and writing cgroup files --------------------------------------

// cgroupWriteFlags open a cgroup file for writing. cgroupfs makes every file
// itself, so no O_CREATE: a missing file is an error, not a new file. The
// unit tests, which run on a plain directory shaped like cgroupfs, add
// O_CREATE.
var cgroupWriteFlags = os.O_WRONLY | os.O_TRUNC

// writeCgroupFile writes one value to one cgroup file, in one write(2), as
// `echo VALUE > FILE` does.
func writeCgroupFile(dir, file, value string) error {
	path := filepath.Join(dir, file)
	explain(fmt.Sprintf("write %q to %s", value, path), "echo "+value+" > "+path)
	f, err := os.OpenFile(path, cgroupWriteFlags, 0o644)
	if err != nil {
		return err // *PathError: "open /sys/fs/cgroup/...: no such file or directory"
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, path, errors.Unwrap(err))
	}
	return nil
}

// A limitWriter writes limit files one after another and keeps the first
// error: once a write has failed, the later ones do nothing. So SetLimits
// reads as its list of files, with one error check at the end.
type limitWriter struct{ err error }

// write writes value to dir/file. An empty dir is a hierarchy this host
// does not have (cgroupV1.dir found none): an error, never a relative path.
func (w *limitWriter) write(dir, file, value string) {
	switch {
	case w.err != nil:
	case dir == "":
		controller, _, _ := strings.Cut(file, ".")
		w.err = fmt.Errorf("this host has no %s cgroup hierarchy: run 'lab doctor'", controller)
	default:
		w.err = writeCgroupFile(dir, file, value)
	}
}

// readCgroupFile reads a cgroup file without its trailing newline.
func readCgroupFile(dir, file string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, file))
	return strings.TrimSpace(string(data)), err
}

// exists reports whether dir has the file: a controller's files are there
// only when the kernel offers what they control.
func exists(dir, file string) bool {
	_, err := os.Stat(filepath.Join(dir, file))
	return dir != "" && err == nil
}

// readCgroupInt reads a file holding one number; "max" (v2's "no limit")
// reads as -1.
func readCgroupInt(dir, file string) (int64, error) {
	s, err := readCgroupFile(dir, file)
	if err != nil {
		return 0, err
	}
	if s == "max" {
		return -1, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// readCgroupKey reads one "KEY VALUE" line of a flat keyed file
// (memory.events, cpu.stat, memory.oom_control, cgroup.events).
func readCgroupKey(dir, file, key string) (int64, error) {
	s, err := readCgroupFile(dir, file)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %q line", filepath.Join(dir, file), key)
}

// mkdirCgroup makes one cgroup: in cgroupfs a mkdir(2) is all it takes, the
// kernel fills the directory with the controllers' files. A parent may
// exist already (exist=true); the container's own cgroup must not.
func mkdirCgroup(dir string, existOK bool) error {
	if _, err := os.Stat(dir); err == nil && existOK {
		return nil // a parent made by an earlier container
	}
	explain(fmt.Sprintf("mkdir %s: a new cgroup, its files made by the kernel", dir), "mkdir "+dir)
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, os.ErrExist) {
		if existOK {
			return nil
		}
		return fmt.Errorf("cgroup %s already exists: another container uses it, or one was not cleaned up (delete it, or run 'lab reset'); give linux.cgroupsPath another path", dir)
	}
	return err
}

// ancestors lists the directories from the hierarchy's root down to dir's
// parent: root, root/boxlab, ... Each must exist before dir can.
func ancestors(root, dir string) []string {
	rel, err := filepath.Rel(root, filepath.Dir(dir))
	if err != nil || rel == "." {
		return []string{root}
	}
	dirs := []string{root}
	for _, part := range strings.Split(rel, "/") {
		dirs = append(dirs, filepath.Join(dirs[len(dirs)-1], part))
	}
	return dirs
}

// joinCgroup moves pid, with all its threads, into the cgroup at dir.
// The runtime does it while the init waits for its config on the pipe:
// everything the init does after that, and every process it forks, is
// counted and limited from the start. See cgroups(7) ("cgroup.procs").
func joinCgroup(dir string, pid int) error {
	return writeCgroupFile(dir, "cgroup.procs", strconv.Itoa(pid))
}

// removeTimeout bounds how long remove waits for killed processes to leave.
const removeTimeout = 5 * time.Second

// removeCgroupDir empties and removes one cgroup directory: SIGKILL what is
// left in it, wait until it is empty, rmdir(2). rmdir fails with EBUSY
// while a process is inside, so it is retried until the deadline. A missing
// directory is already removed.
func removeCgroupDir(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	explain("rmdir "+dir+": the cgroup must be empty first", "rmdir "+dir)
	deadline := time.Now().Add(removeTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		killCgroupProcs(dir)
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("rmdir %s: %w", dir, err)
		}
		<-tick.C
	}
}

// pruneParents removes the parents of dir that ResolvePath put under
// boxlab for a nested relative path ("team/web": boxlab/team), as long as
// they are empty: another container's cgroup keeps its parent (rmdir
// fails, and that ends it). The boxlab parent itself stays, as in
// stage05, and so does anything outside it: an absolute cgroupsPath's
// parents are the client's (containerd's, kubelet's), not ours.
func pruneParents(root, dir string) {
	top := filepath.Join(root, Parent)
	for p := filepath.Dir(dir); strings.HasPrefix(p, top+"/"); p = filepath.Dir(p) {
		if unix.Rmdir(p) != nil {
			return
		}
	}
}

// killCgroupProcs sends SIGKILL to every process listed in the cgroup.
func killCgroupProcs(dir string) {
	data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// freezeTimeout bounds the wait for a freeze or thaw to take effect.
const freezeTimeout = 5 * time.Second

// explain narrates a kernel-level step with its shell equivalent. It is
// quiet until internal/explain brings stage05's --explain to stage06.
func explain(what, shell string) {}
