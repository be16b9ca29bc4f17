package rootfs

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
)

// writeTree creates dir (which must not exist) holding es, parents first.
// It goes through os.Root so that no name, even a wrong one, can land
// outside dir, and sets modes and owners explicitly because the umask and
// the caller's uid must not leak into the image.
func writeTree(dir string, es []entry) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	for _, e := range es {
		if err := createEntry(r, e); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Join(dir, e.name), err)
		}
	}
	// Times last and children first: creating a file bumps its directory's
	// mtime. Symlinks keep theirs: os.Chtimes would follow them.
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].kind != tar.TypeSymlink {
			if err := r.Chtimes(es[i].name, epoch, epoch); err != nil {
				return err
			}
		}
	}
	return r.Chtimes(".", epoch, epoch)
}

func createEntry(r *os.Root, e entry) error {
	var err error
	switch e.kind {
	case tar.TypeDir:
		err = r.Mkdir(e.name, 0o700)
	case tar.TypeReg:
		err = r.WriteFile(e.name, e.body, 0o600)
	case tar.TypeSymlink:
		return r.Symlink(e.link, e.name) // owned by us, mode means nothing
	default:
		err = fmt.Errorf("unsupported entry type %q", e.kind)
	}
	if err != nil {
		return err
	}
	// Only root may give files away; as another user the tarballs still
	// carry the right owners, the unpacked tree is simply ours.
	if os.Geteuid() == 0 {
		if err := r.Lchown(e.name, e.uid, e.gid); err != nil {
			return err
		}
	}
	// After chown, which clears setuid bits.
	return r.Chmod(e.name, fileMode(e.mode))
}

// fileMode turns tar's unix mode bits into an os.FileMode: Go keeps the
// setuid, setgid and sticky bits apart from the permissions.
func fileMode(m int64) os.FileMode {
	fm := os.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		fm |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= os.ModeSticky
	}
	return fm
}
