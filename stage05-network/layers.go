package main

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// defaultStateDir holds everything that outlives a container.
const defaultStateDir = "/var/lib/boxlab"

// store is the state directory. Its layout, like docker's overlay2:
//
//	layers/sha256/<hex>/diff/     one layer, unpacked, deletions as overlay whiteouts
//	layers/sha256/<hex>/size      bytes of its uncompressed tar
//	layers/sha256/<hex>/link      its short name in l/
//	l/<short>                     symlink to a layer's diff/: short lowerdir paths (overlay.go)
//	images/sha256/<hex>/config.json   an image: its config, whose digest is the image ID
//	images/tags.json              NAME:TAG -> image ID
//	containers/<id>/              one container: config.json, init/, upper/, work/, merged/
//	volumes/<name>/_data          a named volume
//	tmp/                          unpacking in progress (same filesystem: rename(2) publishes)
//
// A layer's name is the sha256 of its uncompressed tar (the image
// config's "diff_id"): the same content is stored once, whichever image
// or archive format it came in.
type store struct{ root string }

// openStore makes the state directory when missing. It is 0700: the
// layers hold images' setuid programs and device nodes, which no host user
// should reach through it.
func openStore(root string) (*store, error) {
	if !filepath.IsAbs(root) || strings.ContainsAny(root, ":,\\\n") {
		// overlayfs splits its options at ',' and lowerdir at ':'.
		return nil, fmt.Errorf("state directory %q: want an absolute path without ':', ',' or '\\'", root)
	}
	s := &store{root: filepath.Clean(root)}
	if err := os.MkdirAll(s.root, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	for _, d := range []string{"layers/sha256", "l", "images/sha256", "containers", "volumes", "tmp"} {
		if err := os.MkdirAll(s.path(d), 0o700); err != nil {
			return nil, fmt.Errorf("create state directory: %w", err)
		}
	}
	return s, nil
}

func (s *store) path(elem ...string) string {
	return filepath.Join(append([]string{s.root}, elem...)...)
}

// lock serialises the commands that change the store (import, commit,
// rmi, tag, run's create, rm) with flock(2). It is held while a command
// runs: a reference count could drift when a process is killed, so the
// users of a layer are counted from the records, under the lock.
func (s *store) lock() (unlock func(), err error) {
	f, err := os.OpenFile(s.path(".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// layerInfo is what the store knows about one layer.
type layerInfo struct {
	Digest string // sha256:<hex> of the uncompressed tar
	Size   int64  // bytes of that tar
	Files  int64  // entries unpacked
}

// checkDigest accepts "sha256:" and 64 lowercase hex digits: digests name
// directories, so nothing else may pass.
func checkDigest(d string) error {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return fmt.Errorf("bad digest %q: want sha256:<64 hex digits>", d)
	}
	return nil
}

func (s *store) layerDir(digest string) string {
	return s.path("layers", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

// diffDir is the layer's unpacked tree: an overlay lowerdir.
func (s *store) diffDir(digest string) string { return filepath.Join(s.layerDir(digest), "diff") }

// shortName is the layer's name in l/: 26 base32 characters of its
// digest, as docker's overlay2 does, so that 50 layers fit in one page of
// mount options.
func shortName(digest string) string {
	sum, _ := hex.DecodeString(strings.TrimPrefix(digest, "sha256:"))
	return base32.StdEncoding.EncodeToString(sum)[:26]
}

func (s *store) hasLayer(digest string) bool {
	_, err := os.Stat(filepath.Join(s.layerDir(digest), "size"))
	return err == nil
}

// layer reads a stored layer's metadata.
func (s *store) layer(digest string) (layerInfo, error) {
	if err := checkDigest(digest); err != nil {
		return layerInfo{}, err
	}
	b, err := os.ReadFile(filepath.Join(s.layerDir(digest), "size"))
	if err != nil {
		return layerInfo{}, fmt.Errorf("layer %s: %w", digest, err)
	}
	size, files, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	info := layerInfo{Digest: digest}
	info.Size, _ = strconv.ParseInt(size, 10, 64)
	info.Files, _ = strconv.ParseInt(files, 10, 64)
	return info, nil
}

// addLayer unpacks the uncompressed layer tar r into the store. want is
// the digest the image config promises ("" when unknown, as for a plain
// rootfs tarball): a layer already present is not read at all, and
// content that does not match is refused. created says whether the layer
// is new. On any error nothing is left: the partial layer is removed.
func (s *store) addLayer(r io.Reader, want string, p *progress) (info layerInfo, created bool, err error) {
	if want != "" {
		if err := checkDigest(want); err != nil {
			return info, false, err
		}
		if s.hasLayer(want) {
			p.line("layer %s already present", want)
			info, err = s.layer(want)
			return info, false, err
		}
	}
	tmp, err := os.MkdirTemp(s.path("tmp"), "layer-")
	if err != nil {
		return info, false, fmt.Errorf("unpack layer: %w", err)
	}
	defer os.RemoveAll(tmp) // after a successful rename there is nothing left to remove
	info, err = unpackLayer(r, tmp, p)
	if err != nil {
		return info, false, err
	}
	if want != "" && info.Digest != want {
		return info, false, fmt.Errorf("layer content is %s but the image config says %s: corrupt or tampered archive", info.Digest, want)
	}
	return s.publishLayer(tmp, info, p)
}

// unpackLayer unpacks r into dir/diff while hashing and counting the
// stream, and writes dir/size.
func unpackLayer(r io.Reader, dir string, p *progress) (layerInfo, error) {
	var info layerInfo
	diff := filepath.Join(dir, "diff")
	if err := os.Mkdir(diff, 0o755); err != nil {
		return info, err
	}
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(r, h)}
	p.start("unpacking layer")
	stats, err := extractTar(cr, diff, extractOptions{whiteouts: true, progress: p})
	p.done()
	if err != nil {
		return info, fmt.Errorf("unpack layer: %w", err)
	}
	// The digest covers the whole stream, padding after the last entry too.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return info, fmt.Errorf("read layer: %w", err)
	}
	info = layerInfo{Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Size: cr.n, Files: stats.files}
	for _, name := range stats.skipped {
		p.line("skipped device node %s: only root can make device nodes", name)
	}
	meta := fmt.Sprintf("%d %d\n", info.Size, info.Files)
	return info, os.WriteFile(filepath.Join(dir, "size"), []byte(meta), 0o600)
}

// publishLayer moves a finished layer into place with rename(2), atomic:
// other commands see the whole layer or none. If another import published
// the same content first, ours is dropped.
func (s *store) publishLayer(tmp string, info layerInfo, p *progress) (layerInfo, bool, error) {
	short := shortName(info.Digest)
	if err := os.WriteFile(filepath.Join(tmp, "link"), []byte(short), 0o600); err != nil {
		return info, false, err
	}
	err := os.Rename(tmp, s.layerDir(info.Digest))
	if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
		p.line("layer %s already present", info.Digest)
		return info, false, nil
	}
	if err != nil {
		return info, false, fmt.Errorf("store layer %s: %w", info.Digest, err)
	}
	link := s.path("l", short)
	target := filepath.Join("..", "layers", "sha256", strings.TrimPrefix(info.Digest, "sha256:"), "diff")
	if err := os.Symlink(target, link); err != nil && !errors.Is(err, os.ErrExist) {
		return info, true, fmt.Errorf("link layer %s: %w", info.Digest, err)
	}
	p.line("layer %s: %s, %d files", info.Digest, humanSize(info.Size), info.Files)
	return info, true, nil
}

// removeLayer deletes a layer; the caller has checked that nothing uses it.
func (s *store) removeLayer(digest string) error {
	if err := checkDigest(digest); err != nil {
		return err
	}
	if err := os.Remove(s.path("l", shortName(digest))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove layer link: %w", err)
	}
	if err := os.RemoveAll(s.layerDir(digest)); err != nil {
		return fmt.Errorf("remove layer %s: %w", digest, err)
	}
	return nil
}

// layerDigests lists every stored layer.
func (s *store) layerDigests() ([]string, error) {
	entries, err := os.ReadDir(s.path("layers", "sha256"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if d := "sha256:" + e.Name(); checkDigest(d) == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
