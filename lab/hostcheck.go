package main

// Helpers shared by `lab doctor`, `lab reset` and `lab install`: how this
// host lays out its cgroups, which mounts belong to boxlab, a throwaway
// network namespace for trying things without touching the host's.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/moby/sys/mountinfo"
	"github.com/spf13/pflag"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// cgroupRoot is where every distribution mounts the cgroup filesystems.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupLayout is one of the three ways a host can mount cgroups
// (cgroups(7), "Cgroups version 1 and version 2").
type cgroupLayout int

const (
	layoutUnknown cgroupLayout = iota
	layoutV2                   // cgroup2 at /sys/fs/cgroup: Ubuntu 22.04+, Debian 11+ by default
	layoutHybrid               // v1 controllers + an empty cgroup2 at /sys/fs/cgroup/unified
	layoutV1                   // v1 controllers only
)

func (l cgroupLayout) String() string {
	switch l {
	case layoutV2:
		return "v2"
	case layoutHybrid:
		return "hybrid"
	case layoutV1:
		return "v1"
	}
	return "unknown"
}

// statfsMagic returns the f_type of the filesystem at path (statfs(2)).
// Tests replace it to describe a host that is not this one.
type statfsMagic func(path string) (int64, error)

func realStatfsMagic(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	return int64(st.Type), nil
}

// detectCgroupLayout tells v2, hybrid and v1 apart the way runc and systemd
// do: the filesystem type of root itself, then of root/unified.
func detectCgroupLayout(root string, statfs statfsMagic) (cgroupLayout, error) {
	magic, err := statfs(root)
	if err != nil {
		return layoutUnknown, err
	}
	switch magic {
	case unix.CGROUP2_SUPER_MAGIC:
		return layoutV2, nil
	case unix.TMPFS_MAGIC:
		if m, err := statfs(filepath.Join(root, "unified")); err == nil && m == unix.CGROUP2_SUPER_MAGIC {
			return layoutHybrid, nil
		}
		return layoutV1, nil
	}
	return layoutUnknown, fmt.Errorf("%s is neither cgroup2 nor a tmpfs of cgroup v1 hierarchies (f_type %#x)", root, magic)
}

// cgroupMount is one mounted cgroup hierarchy.
type cgroupMount struct {
	Path        string   // where it is mounted, e.g. /sys/fs/cgroup/memory
	Version     int      // 1 or 2
	Controllers []string // v1: from the superblock options (memory, cpu, name=systemd); v2: empty
	ReadOnly    bool
}

// cgroupMounts picks the cgroup hierarchies out of a mount table, once each
// (the same hierarchy bind-mounted twice shows up once) and leaving out any
// that sit inside boxlab's own directories (a container's view of /sys).
func cgroupMounts(mounts []*mountinfo.Info, skipUnder []string) []cgroupMount {
	var out []cgroupMount
	seen := map[string]bool{}
	for _, m := range mounts {
		var version int
		switch m.FSType {
		case "cgroup":
			version = 1
		case "cgroup2":
			version = 2
		default:
			continue
		}
		if underAny(m.Mountpoint, skipUnder) {
			continue
		}
		key := fmt.Sprintf("%d:%d:%s", m.Major, m.Minor, m.Root)
		if seen[key] {
			continue
		}
		seen[key] = true
		cm := cgroupMount{Path: m.Mountpoint, Version: version, ReadOnly: hasOption(m.Options, "ro")}
		if version == 1 {
			for _, o := range strings.Split(m.VFSOptions, ",") {
				if o != "rw" && o != "ro" && o != "" && !strings.HasPrefix(o, "release_agent=") &&
					o != "clone_children" && o != "noprefix" && o != "xattr" {
					cm.Controllers = append(cm.Controllers, o)
				}
			}
		}
		out = append(out, cm)
	}
	return out
}

func hasOption(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// under reports whether path is dir or lies inside it.
func under(path, dir string) bool {
	dir = strings.TrimSuffix(dir, "/")
	return path == dir || strings.HasPrefix(path, dir+"/")
}

func underAny(path string, dirs []string) bool {
	for _, d := range dirs {
		if under(path, d) {
			return true
		}
	}
	return false
}

// mountsUnder returns the mounts whose mount point is one of dirs or lies
// inside one, in the order they must be unmounted: deepest first, and of
// mounts stacked on the same point the newest (latest in mountinfo) first.
func mountsUnder(mounts []*mountinfo.Info, dirs []string) []*mountinfo.Info {
	type indexed struct {
		m   *mountinfo.Info
		pos int
	}
	var picked []indexed
	for i, m := range mounts {
		if underAny(m.Mountpoint, dirs) {
			picked = append(picked, indexed{m, i})
		}
	}
	sort.SliceStable(picked, func(a, b int) bool {
		da, db := pathDepth(picked[a].m.Mountpoint), pathDepth(picked[b].m.Mountpoint)
		if da != db {
			return da > db
		}
		return picked[a].pos > picked[b].pos
	})
	out := make([]*mountinfo.Info, len(picked))
	for i, p := range picked {
		out[i] = p.m
	}
	return out
}

func pathDepth(p string) int {
	p = filepath.Clean(p)
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// parseFlags parses a subcommand's flags; usage is what --help and a bad
// flag print above the flags. done is true when the command must stop:
// after --help (err nil) or on bad usage (err carries exit code 2).
func parseFlags(fs *pflag.FlagSet, args []string, usage string) (done bool, err error) {
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "%s\n\nflags:\n%s", usage, fs.FlagUsages())
	}
	return parse(fs, args)
}

// parseCommandFlags parses the flags of a subcommand that takes no
// positional arguments and has set its own fs.Usage.
func parseCommandFlags(fs *pflag.FlagSet, args []string) (done bool, err error) {
	if done, err := parse(fs, args); done {
		return done, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "lab %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return true, exitError{2}
	}
	return false, nil
}

func parse(fs *pflag.FlagSet, args []string) (done bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return true, nil
		}
		fmt.Fprintf(os.Stderr, "lab %s: %v\n", fs.Name(), err)
		fs.Usage()
		return true, exitError{2}
	}
	return false, nil
}

// isRoot reports whether we run with euid 0; everything that mounts,
// creates cgroups or talks netlink needs it.
func isRoot() bool { return os.Geteuid() == 0 }

// newThrowawayNetns returns a handle on a brand-new, empty network
// namespace (network_namespaces(7)). It is made on a goroutine that locks
// its OS thread, unshares the thread into the new namespace and then ends
// without unlocking, so the Go runtime throws that thread away instead of
// reusing it for other goroutines. The namespace lives exactly as long as
// the returned handle (and any netlink socket opened in it): close it and
// the kernel deletes the namespace and every link in it.
func newThrowawayNetns() (netns.NsHandle, error) {
	type result struct {
		ns  netns.NsHandle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: this thread now sits in another namespace.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{netns.None(), fmt.Errorf("unshare(CLONE_NEWNET): %w", err)}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{netns.None(), &os.PathError{Op: "open", Path: "/proc/thread-self/ns/net", Err: err}}
			return
		}
		ch <- result{netns.NsHandle(fd), nil}
	}()
	r := <-ch
	return r.ns, r.err
}

// readTrimmed reads a small /proc or /sys file and trims the newline.
func readTrimmed(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// isNotExist also treats ENODEV/ESRCH-style "it is gone" errors from
// /proc as absence.
func isNotExist(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH)
}
