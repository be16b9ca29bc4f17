package labtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"boxlab/lab/internal/labpaths"
	"boxlab/lab/internal/rootfs"
)

// Image is the lab's test image: a busybox tree with the probe at
// /bin/probe, and the same image as tarballs in each format stage04 imports.
type Image = rootfs.Image

var (
	imageOnce sync.Once
	image     *Image
	imageErr  error
)

// TestImage builds the test image the first time a test asks (later calls
// reuse it: `lab rootfs` rebuilds only when its inputs change). A host
// without busybox-static skips the test with the reason.
func TestImage(t testing.TB) *Image {
	t.Helper()
	if dir := os.Getenv(ImageDirEnv); dir != "" { // prebuilt: see prebuilt.go
		return prebuiltImage(t, dir)
	}
	imageOnce.Do(func() {
		opts := rootfs.Options{CacheDir: labpaths.CacheDir}
		if os.Geteuid() != 0 {
			dir, err := os.UserCacheDir()
			if err != nil {
				imageErr = err
				return
			}
			opts.CacheDir = filepath.Join(dir, "boxlab")
		}
		image, imageErr = rootfs.Build(opts)
	})
	if imageErr != nil {
		if _, err := os.Stat("/bin/busybox"); err != nil {
			t.Skipf("the test image needs busybox-static (%v): 'sudo ./lab.sh test' installs it", imageErr)
		}
		t.Fatalf("labtest: build test image: %v", imageErr)
	}
	return image
}

// Rootfs is the test image's directory, shared by every test: use it for
// containers that do not write to their root.
func Rootfs(t testing.TB) string { return TestImage(t).Dir }

// RootfsCopy is a private copy of the test image's directory for a test
// whose container writes to its root. It is removed after the test.
func RootfsCopy(t testing.TB) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "rootfs")
	if err := copyTree(Rootfs(t), dst); err != nil {
		t.Fatalf("labtest: copy test image: %v", err)
	}
	return dst
}

// copyTree copies a directory tree keeping modes, owners and symlinks, the
// way `cp -a` does for the simple trees of the test image.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case d.IsDir():
			if err := os.Mkdir(target, info.Mode().Perm()); err != nil {
				return err
			}
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := os.WriteFile(target, data, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return nil // the image holds no devices, fifos or sockets
		}
		st := info.Sys().(*syscall.Stat_t)
		if err := os.Lchown(target, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink == 0 {
			// chmod again: the umask trimmed the mode at creation, and
			// chown cleared any setuid bit.
			return os.Chmod(target, info.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
		}
		return nil
	})
}
