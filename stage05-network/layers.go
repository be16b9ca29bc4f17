package main

import (
	"context"
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
	"time"

	"golang.org/x/sys/unix"
)

// defaultStateDir holds everything that outlives a container.
const defaultStateDir = "/var/lib/boxlab"

// store is the state directory. Its layout, like docker's overlay2:
//
//	layers/sha256/<hex>/diff/     one layer, unpacked, deletions as overlay whiteouts
//	layers/sha256/<hex>/size      bytes of its uncompressed tar, its entries, bytes of its files
//	layers/sha256/<hex>/link      its short name in l/
//	l/<short>                     symlink to a layer's diff/: short lowerdir paths (overlay.go)
//	images/sha256/<hex>/config.json   an image: its config, whose digest is the image ID
//	images/tags.json              NAME:TAG -> image ID
//	containers/<id>/              one container: config.json, init/, upper/, work/, merged/
//	volumes/<name>/_data          a named volume
//	tmp/<kind>-<pid>-<random>     unpacking in progress (same filesystem: rename(2) publishes)
//
// A layer's name is the sha256 of its uncompressed tar (the image
// config's "diff_id"): the same content is stored once, whichever image
// or archive format it came in.
type store struct{ root string }

// openStore makes the state directory when missing. It is 0700: the
// layers hold images' setuid programs, which no host user may reach
// through it. MkdirAll keeps the mode of a directory that already exists
// (made 0755 by hand, by an older boxlab, by a package), so the mode is
// set every time.
func openStore(root string) (*store, error) {
	if !filepath.IsAbs(root) || strings.ContainsAny(root, ":,\\\n") {
		// overlayfs splits its options at ',' and lowerdir at ':'.
		return nil, fmt.Errorf("state directory %q: want an absolute path without ':', ',' or '\\'", root)
	}
	s := &store{root: filepath.Clean(root)}
	if err := os.MkdirAll(s.root, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	if err := os.Chmod(s.root, 0o700); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", s.root, err)
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
// users of a layer are counted from the records, under the lock. The
// kernel drops it when its holder dies, however it dies.
//
// A command that finds the lock taken says who holds it (/proc/locks
// names the pid) and waits at most lockTimeout, in a blocking flock(2)
// rather than a retry loop; then it gives up with a message that says
// what to do.
func (s *store) lock() (unlock func(), err error) {
	f, err := os.OpenFile(s.path(".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state directory: %w", err)
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		holder := lockHolder(f)
		fmt.Fprintf(os.Stderr, "%s: waiting for the state directory %s, locked by %s\n", progName, s.root, holder)
		ctx, cancel := context.WithTimeout(context.Background(), lockTimeout)
		defer cancel()
		if err = flockContext(ctx, f); errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("state directory %s locked by %s for %v: wait for it to finish, or kill it", s.root, holder, lockTimeout)
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// lockTimeout bounds the wait for another command's lock.
var lockTimeout = 30 * time.Second

// flockContext takes the lock in a blocking flock(2) on another
// goroutine, until ctx ends. On giving up, f is closed when (if ever) the
// abandoned flock returns, so that a lock taken too late is let go at once.
func flockContext(ctx context.Context, f *os.File) error {
	fd := int(f.Fd())
	done := make(chan error, 1)
	go func() { done <- unix.Flock(fd, unix.LOCK_EX) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		go func() { <-done; f.Close() }()
		return ctx.Err()
	}
}

// lockHolder names the process holding the flock on f, from /proc/locks
// (proc(5): "1: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF") and its
// command line.
func lockHolder(f *os.File) string {
	var st unix.Stat_t
	data, err := os.ReadFile("/proc/locks")
	if err != nil || unix.Fstat(int(f.Fd()), &st) != nil {
		return "another process"
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 6 || fields[1] != "FLOCK" || !strings.HasSuffix(fields[5], ":"+strconv.FormatUint(st.Ino, 10)) {
			continue // not a flock, a waiter ("->"), or another file
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Fields(strings.ReplaceAll(string(cmd), "\x00", " "))
		if len(args) > 0 {
			args[0] = filepath.Base(args[0])
			return fmt.Sprintf("pid %d (%s)", pid, strings.Join(args, " "))
		}
		return fmt.Sprintf("pid %d", pid)
	}
	return "another process"
}

// mkTmp makes a directory in tmp/ named after its owner's pid, so that a
// later command can tell one a killed command left behind.
func (s *store) mkTmp(kind string) (string, error) {
	dir, err := os.MkdirTemp(s.path("tmp"), fmt.Sprintf("%s-%d-", kind, os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("state directory tmp/: %w", err)
	}
	return dir, nil
}

// removeStaleTmp removes what killed commands left in tmp/: directories
// whose owner pid is gone (or that name none). The caller holds the lock,
// which every writer of tmp/ holds too.
func (s *store) removeStaleTmp() {
	entries, _ := os.ReadDir(s.path("tmp"))
	for _, e := range entries {
		parts := strings.SplitN(e.Name(), "-", 3)
		if len(parts) == 3 {
			if pid, err := strconv.Atoi(parts[1]); err == nil && pid > 0 && unix.Kill(pid, 0) != unix.ESRCH {
				continue // its owner still runs
			}
		}
		_ = os.RemoveAll(s.path("tmp", e.Name()))
	}
}

// layerInfo is what the store knows about one layer.
type layerInfo struct {
	Digest  string // sha256:<hex> of the uncompressed tar
	Size    int64  // bytes of that tar
	Files   int64  // entries unpacked
	Content int64  // bytes of its files, at their full sizes: what `images` adds up
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
	f := append(strings.Fields(string(b)), "", "", "")
	info := layerInfo{Digest: digest}
	info.Size, _ = strconv.ParseInt(f[0], 10, 64)
	info.Files, _ = strconv.ParseInt(f[1], 10, 64)
	info.Content, _ = strconv.ParseInt(f[2], 10, 64) // absent in layers of an older boxlab: 0
	return info, nil
}

// addLayer unpacks the uncompressed layer tar r into the store. want is
// the digest the image config promises ("" when unknown, as for a plain
// rootfs tarball): a layer already present is not read at all, and
// content that does not match is refused. created says whether the layer
// is new. On any error nothing is left: the partial layer is removed.
func (s *store) addLayer(r io.Reader, want string, p *progress) (layerInfo, bool, error) {
	return s.addLayerWithin(r, want, p, nil)
}

// addLayerWithin is addLayer within an import's limits (nil: none).
func (s *store) addLayerWithin(r io.Reader, want string, p *progress, lim *importLimits) (info layerInfo, created bool, err error) {
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
	tmp, err := s.mkTmp("layer")
	if err != nil {
		return info, false, fmt.Errorf("unpack layer: %w", err)
	}
	defer os.RemoveAll(tmp) // after a successful rename there is nothing left to remove
	info, err = unpackLayer(r, tmp, p, lim)
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
func unpackLayer(r io.Reader, dir string, p *progress, lim *importLimits) (layerInfo, error) {
	var info layerInfo
	diff := filepath.Join(dir, "diff")
	if err := os.Mkdir(diff, 0o755); err != nil {
		return info, err
	}
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(r, h)}
	p.start("unpacking layer")
	stats, err := extractTar(cr, diff, extractOptions{whiteouts: true, progress: p, limits: lim})
	p.done()
	if err != nil {
		return info, fmt.Errorf("unpack layer: %w", err)
	}
	// The digest covers the whole stream, padding after the last entry too.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return info, fmt.Errorf("read layer: %w", err)
	}
	info = layerInfo{Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Size: cr.n, Files: stats.files, Content: stats.bytes}
	meta := fmt.Sprintf("%d %d %d\n", info.Size, info.Files, info.Content)
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
	p.line("layer %s: %s, %d files", info.Digest, humanSize(info.Content), info.Files)
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
