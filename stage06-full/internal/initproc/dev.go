package initproc

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// devices are the nodes every program may expect in /dev (runc's default
// devices, and stage05's).
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// devLinks are the conventional symlinks of /dev (name -> target).
var devLinks = [][2]string{
	{"fd", "/proc/self/fd"},
	{"stdin", "/proc/self/fd/0"},
	{"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"},
	{"ptmx", "pts/ptmx"},
}

// devIsTmpfs tells whether the config makes /dev a fresh tmpfs: then, as
// runc does, the runtime fills it with the default nodes and links; a
// /dev bound from the host has its own.
func devIsTmpfs(mounts []specs.Mount) bool {
	for _, m := range mounts {
		if m.Destination == "/dev" && m.Type == "tmpfs" {
			return true
		}
	}
	return false
}

// populateDev puts the default device nodes and links into the
// container's /dev, a tmpfs the config mounted, before pivot_root (the
// host's nodes are reachable only now). /dev is opened inside the root,
// and every name made relative to that descriptor: a path string through
// "rootfs/dev" could follow a symlink of the image out of the root.
func populateDev(rootfs string) error {
	rootFd, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", rootfs, err)
	}
	defer unix.Close(rootFd)
	dev, err := reopenInRoot(rootFd, "/dev")
	if err != nil {
		return err
	}
	defer unix.Close(dev)
	for _, name := range devices {
		if err := bindDevice(dev, name); err != nil {
			return err
		}
	}
	return makeDevLinks(dev)
}

// bindDevice puts the host's device node at dev/name with a bind mount
// rather than mknod(2): inside a user namespace mknod of a device is
// refused (and a tmpfs mounted there ignores device nodes anyway), while a
// bind mount of an existing node works for root and rootless alike. One
// code path for both.
func bindDevice(dev int, name string) error {
	fd, err := unix.Openat(dev, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o666)
	if err != nil {
		return fmt.Errorf("create /dev/%s: %w", name, err)
	}
	unix.Close(fd)
	target, err := unix.Openat(dev, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/%s: %w", name, err)
	}
	defer unix.Close(target)
	host := "/dev/" + name
	return mount(host, fmt.Sprintf("/proc/self/fd/%d", target), "", unix.MS_BIND, "", "touch /dev/"+name+" && mount --bind "+host+" /dev/"+name)
}

func makeDevLinks(dev int) error {
	for _, l := range devLinks {
		explain(fmt.Sprintf("symlink(%q, %q)", l[1], "/dev/"+l[0]), "ln -s "+l[1]+" /dev/"+l[0])
		if err := unix.Symlinkat(l[1], dev, l[0]); err != nil && err != unix.EEXIST {
			return fmt.Errorf("symlink /dev/%s: %w", l[0], err)
		}
	}
	return nil
}
