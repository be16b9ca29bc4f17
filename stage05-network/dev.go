package main

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// devices are the nodes every program may expect in /dev.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// devLinks are the conventional symlinks of /dev (name -> target).
var devLinks = [][2]string{
	{"fd", "/proc/self/fd"},
	{"stdin", "/proc/self/fd/0"},
	{"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"},
	{"ptmx", "pts/ptmx"},
}

// mountDev builds a minimal /dev on a fresh tmpfs, instead of showing the
// container the host's disks and consoles.
func mountDev(root string) error {
	dev, err := mountPoint(root, "dev")
	if err != nil {
		return err
	}
	err = mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k",
		"mount -t tmpfs -o nosuid,strictatime,mode=755,size=65536k tmpfs "+dev)
	if err != nil {
		return err
	}
	for _, name := range devices {
		if err := bindDevice(dev, name); err != nil {
			return err
		}
	}
	if err := mountDevpts(dev); err != nil {
		return err
	}
	if err := mountShm(dev); err != nil {
		return err
	}
	return makeDevLinks(dev)
}

// bindDevice puts the host's device node at dev/name with a bind mount
// rather than mknod(2): inside a user namespace mknod of a device is
// refused (and a tmpfs mounted there ignores device nodes anyway), while a
// bind mount of an existing node works for root and rootless alike. One
// code path for both.
func bindDevice(dev, name string) error {
	target := filepath.Join(dev, name)
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
	if err != nil {
		return fmt.Errorf("create %s: %w", target, err)
	}
	f.Close()
	host := "/dev/" + name
	return mount(host, target, "", unix.MS_BIND, "", "touch "+target+" && mount --bind "+host+" "+target)
}

// mountDevpts gives the container its own pseudo-terminal instance, so its
// ptys are numbered from 0 and it cannot open the host's (devpts in
// mount(8)). gid=5 (tty) only when that group exists inside: a rootless
// container maps a single gid, and devpts rejects a gid it cannot map.
func mountDevpts(dev string) error {
	pts := filepath.Join(dev, "pts")
	if err := os.Mkdir(pts, 0o755); err != nil {
		return err
	}
	data := "newinstance,ptmxmode=0666,mode=0620"
	if gidMapped(5) {
		data += ",gid=5"
	}
	return mount("devpts", pts, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, data,
		"mount -t devpts -o nosuid,noexec,"+data+" devpts "+pts)
}

// mountShm is /dev/shm, where POSIX shared memory lives: a tmpfs of the
// container's own.
func mountShm(dev string) error {
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o1777); err != nil {
		return err
	}
	return mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k",
		"mount -t tmpfs -o nosuid,nodev,noexec,mode=1777,size=65536k shm "+shm)
}

func makeDevLinks(dev string) error {
	for _, l := range devLinks {
		link := filepath.Join(dev, l[0])
		explain(fmt.Sprintf("symlink(%q, %q)", l[1], link), "ln -s "+l[1]+" "+link)
		if err := os.Symlink(l[1], link); err != nil {
			return err
		}
	}
	return nil
}
