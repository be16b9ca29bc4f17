package rootfs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lock takes an exclusive flock(2) on dir/.lock, waiting for any other
// builder (several test binaries may build at once). The kernel drops the
// lock if the process dies, so a crash never leaves the cache locked.
func lock(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// removeStale deletes build directories left by a builder that died. Only
// called with the lock held, so none of them is in use.
func removeStale(cacheDir string) error {
	stale, err := filepath.Glob(filepath.Join(cacheDir, ".build-*"))
	if err != nil {
		return err
	}
	for _, d := range stale {
		if err := removeAll(d); err != nil {
			return err
		}
	}
	return nil
}

// removeAll deletes dir unless something is mounted in it.
func removeAll(dir string) error {
	if err := checkNoMounts(dir); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// checkNoMounts refuses a tree with something mounted in it: a crashed
// container may have left /proc or a volume mounted in the rootfs, and
// deleting through a bind mount deletes the host's files.
func checkNoMounts(dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	if len(mounts) > 0 {
		return fmt.Errorf("cannot replace %s: %s is mounted (run 'lab reset')", dir, mounts[0])
	}
	return nil
}

// mountsUnder lists the mount points at or below dir (proc_pid_mountinfo(5),
// field 5, with spaces and such escaped in octal).
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var found []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeOctal(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			found = append(found, mp)
		}
	}
	return found, s.Err()
}

func unescapeOctal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// outputs are the final paths of everything Build makes; in a build dir
// each has the same base name.
func outputs(img *Image) []string {
	return []string{img.Dir, img.RootfsTar, img.RootfsTarGz, img.DockerArchive,
		img.OCILayout, img.OCITar, img.Probe}
}

func outputsExist(img *Image) bool {
	for _, p := range outputs(img) {
		if _, err := os.Lstat(p); err != nil {
			return false
		}
	}
	return true
}

func readStamp(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// install moves the finished outputs from the build dir into place. The
// stamp goes first and comes back last, so an interrupted install is seen
// as out of date; each rename is atomic, so every name holds either a
// complete old output or a complete new one, never half of one. The old
// outputs end up in the build dir, which the caller deletes.
func install(buildDir string, img *Image) error {
	for _, final := range outputs(img) {
		if err := checkNoMounts(final); err != nil {
			return err
		}
	}
	stamp := filepath.Join(filepath.Dir(img.Dir), stampName)
	if err := os.Remove(stamp); err != nil && !os.IsNotExist(err) {
		return err
	}
	old := filepath.Join(buildDir, "old")
	if err := os.Mkdir(old, 0o700); err != nil {
		return err
	}
	for _, final := range outputs(img) {
		if err := replace(filepath.Join(buildDir, filepath.Base(final)), final, old); err != nil {
			return err
		}
	}
	tmp := filepath.Join(buildDir, stampName)
	if err := os.WriteFile(tmp, []byte(img.Digest+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, stamp)
}

// replace renames src to dst, first moving an existing dst into the
// directory old: a directory cannot be renamed over a non-empty one.
func replace(src, dst, old string) error {
	err := os.Rename(dst, filepath.Join(old, filepath.Base(dst)))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.Rename(src, dst)
}
