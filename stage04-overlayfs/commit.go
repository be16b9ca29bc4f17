package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// commit turns a container's upper directory, everything it wrote and
// deleted, into one new layer on top of its image's layers: a new image
// that shares every layer of the old one. The upper directory is in
// overlay's form, so it is written as a layer tar with the deletions
// translated back (whiteout.go), and that tar is stored like any imported
// layer: the same bytes, the same digest.
func (s *store) commit(ref, name string, p *progress) (*image, error) {
	if name != "" {
		var err error
		if name, err = parseRef(name); err != nil {
			return nil, err
		}
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	s.removeStaleTmp()
	c, err := s.findContainer(ref)
	if err != nil {
		return nil, err
	}
	if c.ImageID == "" {
		return nil, fmt.Errorf("container %s runs the directory %s, not an image: commit needs a container made from an image", c.Name, c.Rootfs)
	}
	parent, err := s.loadImage(c.ImageID)
	if err != nil {
		return nil, err
	}
	l, err := s.layerFromUpper(s.upperDir(c.ID), p)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", c.Name, err)
	}
	raw, err := commitConfig(parent.raw, l.Digest, "boxlab commit "+c.Name, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	img, err := s.saveImage(raw, name)
	if err == nil {
		p.line("%s", img.ID)
	}
	return img, err
}

// layerFromUpper streams the tar of upper straight into the layer store.
func (s *store) layerFromUpper(upper string, p *progress) (layerInfo, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeLayerTar(pw, upper)) }()
	l, _, err := s.addLayer(pr, "", p)
	pr.CloseWithError(errors.New("layer store stopped reading")) // ends the writer if addLayer failed
	return l, err
}

// commitConfig is the parent's config with the new layer on top, a
// history entry, and a new creation time. Fields boxlab does not know
// (labels, ports ...) pass through untouched.
func commitConfig(parent []byte, diffID, createdBy string, now time.Time) ([]byte, error) {
	var c map[string]any
	if err := json.Unmarshal(parent, &c); err != nil {
		return nil, fmt.Errorf("parent config: %w", err)
	}
	rootfs, _ := c["rootfs"].(map[string]any)
	if rootfs == nil {
		return nil, errors.New("parent config: no rootfs")
	}
	ids, _ := rootfs["diff_ids"].([]any)
	rootfs["diff_ids"] = append(ids, diffID)
	created := now.Format(time.RFC3339Nano)
	c["created"] = created
	history, _ := c["history"].([]any)
	c["history"] = append(history, map[string]any{"created": created, "created_by": createdBy})
	return json.Marshal(c)
}

// writeLayerTar writes dir (an overlay upper directory) as a layer tar:
// sorted, numeric owners, whiteouts as .wh. files, opaque directories
// followed by .wh..wh..opq, hardlinks inside the layer as links.
//
// Exercise 18: How does commit turn the upper directory, whiteouts and
// opaque directories included, back into a layer tarball another runtime
// can read? See the OCI image-spec's layer.md ("Whiteouts"), overlayfs.rst
// and "Commit" in README.md.
// Graded by: TestCommit, TestCommitCarriesChanges, TestWhiteoutsRoundTrip.
func writeLayerTar(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	seen := map[[2]uint64]string{} // device and inode -> first name, for hardlinks
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		fi, err := d.Info() // lstat(2): symlinks are never followed
		if err != nil {
			return err
		}
		return writeLayerEntry(tw, p, filepath.ToSlash(rel), fi, seen)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func writeLayerEntry(tw *tar.Writer, full, name string, fi fs.FileInfo, seen map[[2]uint64]string) error {
	if fi.Mode()&fs.ModeSocket != 0 {
		return nil // sockets are not files to ship, as in docker
	}
	if isWhiteout(fi) {
		return tw.WriteHeader(whiteoutHeader(name, &tar.Header{ModTime: fi.ModTime(), Format: tar.FormatPAX}))
	}
	h, err := layerHeader(full, name, fi, seen)
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	switch h.Typeflag {
	case tar.TypeReg:
		return copyFileTo(tw, full)
	case tar.TypeDir:
		if opaque, err := isOpaque(full); err != nil || !opaque {
			return err
		}
		return tw.WriteHeader(opaqueHeader(h))
	}
	return nil
}

// layerHeader is the tar header of one file of the upper directory.
func layerHeader(full, name string, fi fs.FileInfo, seen map[[2]uint64]string) (*tar.Header, error) {
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(full); err != nil {
			return nil, err
		}
	}
	h, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// Owners as numbers only: the host's user names mean nothing inside.
	h.Name, h.Uname, h.Gname, h.Format = name, "", "", tar.FormatPAX
	h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
	if fi.IsDir() {
		h.Name += "/"
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().IsRegular() && st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := seen[key]; ok {
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
			return h, nil
		}
		seen[key] = name
	}
	return h, addXattrs(h, full)
}

// addXattrs carries the attributes an image may have (tarsafe.go's
// allowedXattr) as PAX records; overlay's own trusted.overlay.* stay out.
func addXattrs(h *tar.Header, full string) error {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(full, buf)
	if err != nil || n == 0 {
		return nil // no xattr support, or none
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if !allowedXattr(name) {
			continue
		}
		val := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(full, name, val)
		if err != nil {
			return fmt.Errorf("%s: getxattr %s: %w", full, name, err)
		}
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords["SCHILY.xattr."+name] = string(val[:m])
	}
	return nil
}

// copyFileTo copies a regular file of the upper directory, opened without
// following a symlink that may have replaced it.
func copyFileTo(w io.Writer, full string) error {
	f, err := os.OpenFile(full, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
