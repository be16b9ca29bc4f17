package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// `image import` reads three formats:
//
//   - a plain rootfs tarball (gzip or not): one layer, a config made up here;
//   - a `docker save` archive: manifest.json names the config and the layer
//     tars, in order, bottom first;
//   - an OCI image layout (image-spec image-layout.md), as a directory or a
//     tar: index.json -> manifest -> config and layer blobs, each found under
//     blobs/sha256/<hex> and checked against its digest.
//
// An archive of the last two kinds is first unpacked (by the same safe
// extractor as layers, with whiteouts left alone) into the store's tmp/,
// then read as a directory through os.Root, so that the names in its JSON
// files cannot reach outside it either.

type imageFormat int

const (
	formatRootfs imageFormat = iota
	formatDocker
	formatOCI
)

func (f imageFormat) String() string {
	return [...]string{"rootfs tarball", "docker save archive", "OCI image layout"}[f]
}

// maxJSON bounds the JSON files of an archive: they are read into memory.
const maxJSON = 16 << 20

// importLimits bound what one import writes to disk, all its archives and
// layers together: a few kB of gzip or of sparse-file map can describe
// terabytes of zeros, and a million empty files fill a filesystem's
// inodes. The defaults fit any real image; --max-size and --max-files (or
// the environment variables below) raise them.
type importLimits struct {
	maxBytes, maxFiles int64 // 0: no limit
	bytes, files       int64 // taken so far
}

const (
	defaultImportMaxSize  = 16 << 30 // 16 GiB, counted at the files' full sizes
	defaultImportMaxFiles = 1 << 20  // about a million entries
	importMaxSizeEnv      = "BOXLAB_IMPORT_MAX_SIZE"
	importMaxFilesEnv     = "BOXLAB_IMPORT_MAX_FILES"
)

// defaultImportLimits are the defaults, or what the environment says.
func defaultImportLimits() (importLimits, error) {
	l := importLimits{maxBytes: defaultImportMaxSize, maxFiles: defaultImportMaxFiles}
	if v := os.Getenv(importMaxSizeEnv); v != "" {
		n, err := parseSize(v)
		if err != nil {
			return l, fmt.Errorf("%s=%s: %w", importMaxSizeEnv, v, err)
		}
		l.maxBytes = n
	}
	if v := os.Getenv(importMaxFilesEnv); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return l, fmt.Errorf("%s=%s: want a positive number of files", importMaxFilesEnv, v)
		}
		l.maxFiles = n
	}
	return l, nil
}

// take counts one tar entry against the limits before it is written. A
// file counts at its full size (h.Size: holes of a sparse file included),
// so the limit means the same whatever the archive's tricks.
func (l *importLimits) take(h *tar.Header) error {
	if l == nil {
		return nil
	}
	l.files++
	if l.maxFiles > 0 && l.files > l.maxFiles {
		return fmt.Errorf("entry %d of this import: more than the limit of %d files (raise it with --max-files or $%s)", l.files, l.maxFiles, importMaxFilesEnv)
	}
	if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA && h.Typeflag != tar.TypeGNUSparse {
		return nil
	}
	l.bytes += h.Size
	if l.maxBytes > 0 && (h.Size > l.maxBytes || l.bytes > l.maxBytes) {
		return fmt.Errorf("a file of %d bytes: this import would write %d bytes, more than the limit of %d (raise it with --max-size or $%s)",
			h.Size, l.bytes, l.maxBytes, importMaxSizeEnv)
	}
	return nil
}

// importer is one `image import` in progress.
type importer struct {
	s       *store
	p       *progress
	limits  *importLimits
	created []string // layers this import added: removed again if it fails
}

// importImage brings src into the store and names it ref (NAME[:TAG], or
// "" to take the name the archive carries, if any), within the default
// limits. A failed import leaves no layer and no image behind.
func (s *store) importImage(src, ref string, p *progress) (*image, error) {
	lim, err := defaultImportLimits()
	if err != nil {
		return nil, err
	}
	return s.importImageLimited(src, ref, p, lim)
}

// importImageLimited is importImage within lim.
func (s *store) importImageLimited(src, ref string, p *progress, lim importLimits) (img *image, err error) {
	if ref != "" {
		if ref, err = parseRef(ref); err != nil {
			return nil, err
		}
	}
	format, err := detectFormat(src)
	if err != nil {
		return nil, err
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	s.removeStaleTmp()
	im := &importer{s: s, p: p, limits: &lim}
	defer func() {
		if err != nil {
			im.rollback()
		}
	}()
	p.line("importing %s (%s)", src, format)
	if format == formatRootfs {
		return im.rootfs(src, ref)
	}
	dir := src
	if fi, err := os.Stat(src); err == nil && !fi.IsDir() {
		if dir, err = im.unpackArchive(src); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	if format == formatDocker {
		return im.docker(dir, ref)
	}
	return im.oci(dir, ref)
}

// rollback removes the layers this import created.
func (im *importer) rollback() {
	for _, d := range im.created {
		_ = im.s.removeLayer(d)
	}
}

// detectFormat looks at src without changing anything: a directory must
// be an OCI layout or an unpacked docker save; a file is a docker save
// archive when manifest.json is at its top, an OCI layout when oci-layout
// is, and a rootfs tarball otherwise. docker 25+ writes both files: the
// docker manifest is preferred, for its RepoTags.
func detectFormat(src string) (imageFormat, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return 0, fmt.Errorf("image import %s: %w", src, err)
	}
	var names map[string]bool
	if fi.IsDir() {
		names = map[string]bool{}
		for _, n := range []string{"manifest.json", "oci-layout"} {
			if _, err := os.Lstat(path.Join(src, n)); err == nil {
				names[n] = true
			}
		}
	} else if names, err = topLevelNames(src); err != nil {
		return 0, fmt.Errorf("image import %s: %w", src, err)
	}
	switch {
	case names["manifest.json"]:
		return formatDocker, nil
	case names["oci-layout"]:
		return formatOCI, nil
	case fi.IsDir():
		return 0, fmt.Errorf("image import %s: a directory, but neither an OCI layout (no oci-layout) nor a docker save (no manifest.json); to use a rootfs directory, pass it to run", src)
	}
	return formatRootfs, nil
}

// openRegular opens an archive file for reading only if it is a regular
// file. open(2) of a FIFO blocks until a writer comes, which may be never,
// and an import holds the store's lock while it reads: O_NONBLOCK makes
// the open return at once, fstat(2) says what was opened (no race with a
// swap of the name), and anything but a regular file is refused.
func openRegular(name string) (*os.File, error) {
	return checkRegular(os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0))
}

// openRegularIn is openRegular for a file of an unpacked archive or an OCI
// layout directory, resolved inside it.
func openRegularIn(root *os.Root, name string) (*os.File, error) {
	return checkRegular(root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0))
}

func checkRegular(f *os.File, err error) (*os.File, error) {
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: a %s, not a regular file: refusing to read it", f.Name(), fileKind(fi.Mode()))
	}
	if err == nil {
		// Regular files never block: back to ordinary reads.
		err = syscall.SetNonblock(int(f.Fd()), false)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// fileKind names a non-regular file type for an error message.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

// topLevelNames reads the headers of a (maybe gzipped) tar: which of the
// marker files sit at its top.
func topLevelNames(file string) (map[string]bool, error) {
	f, err := openRegular(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := decompress(f)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	tr := tar.NewReader(r)
	for i := 0; ; i++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) && i > 0 {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("not a tar archive: %w", err)
		}
		if clean, err := cleanTarPath(h.Name); err == nil {
			names[clean] = true
		}
	}
}

// decompress sniffs r's first bytes: gzip is undone, plain tar passes, and
// the compressions boxlab does not read are named rather than misread.
func decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return nil, errors.New("zstd-compressed layer: not supported, re-export the image with gzip")
	case bytes.HasPrefix(magic, []byte("BZh")), bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return nil, errors.New("bzip2/xz-compressed tarball: not supported, use gzip or none")
	}
	return br, nil
}

// rootfs imports a plain tarball as a one-layer image, with a config
// like `docker import` makes: a PATH and nothing to run by default.
func (im *importer) rootfs(src, ref string) (*image, error) {
	f, err := openRegular(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := decompress(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	l, err := im.layer(r, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	created := time.Now().UTC().Format(time.RFC3339Nano)
	raw, err := json.Marshal(map[string]any{
		"created": created, "architecture": runtime.GOARCH, "os": "linux",
		"config":  runConfig{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{l.Digest}},
		"history": []map[string]string{{"created": created, "created_by": "boxlab image import " + path.Base(src)}},
	})
	if err != nil {
		return nil, err
	}
	return im.save(raw, ref)
}

// layer stores one layer and remembers it if it is new.
func (im *importer) layer(r io.Reader, want string) (layerInfo, error) {
	l, created, err := im.s.addLayerWithin(r, want, im.p, im.limits)
	if created {
		im.created = append(im.created, l.Digest)
	}
	return l, err
}

func (im *importer) save(raw []byte, ref string) (*image, error) {
	img, err := im.s.saveImage(raw, ref)
	if err != nil {
		return nil, err
	}
	if ref != "" {
		im.p.line("Loaded image: %s (%s)", ref, img.ID)
	} else {
		im.p.line("Loaded image ID: %s", img.ID)
	}
	return img, nil
}

// unpackArchive unpacks a docker save or OCI tar into the store's tmp/.
func (im *importer) unpackArchive(src string) (string, error) {
	f, err := openRegular(src)
	if err != nil {
		return "", err
	}
	defer f.Close()
	r, err := decompress(f)
	if err != nil {
		return "", err
	}
	dir, err := im.s.mkTmp("import")
	if err != nil {
		return "", err
	}
	im.p.start("reading " + path.Base(src))
	_, err = extractTar(r, dir, extractOptions{progress: im.p, limits: im.limits})
	im.p.done()
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("%s: %w", src, err)
	}
	return dir, nil
}

// dockerManifest is one entry of a docker save archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// docker imports an unpacked docker save archive: its first image.
func (im *importer) docker(dir, ref string) (*image, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var ms []dockerManifest
	if err := readJSON(root, "manifest.json", &ms); err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, errors.New("manifest.json lists no image")
	}
	m := ms[0]
	raw, err := readSmall(root, m.Config)
	if err != nil {
		return nil, err
	}
	c, err := parseImageConfig(raw)
	if err != nil {
		return nil, err
	}
	if len(c.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("manifest.json lists %d layers, the config %d", len(m.Layers), len(c.RootFS.DiffIDs))
	}
	for i, name := range m.Layers {
		if err := im.layerFile(root, name, c.RootFS.DiffIDs[i], nil); err != nil {
			return nil, fmt.Errorf("layer %s: %w", name, err)
		}
	}
	if ref == "" && len(m.RepoTags) > 0 {
		if ref, err = parseRef(m.RepoTags[0]); err != nil {
			return nil, err
		}
	}
	return im.save(raw, ref)
}

// layerFile stores the (maybe gzipped) layer tar name of an unpacked
// archive, unless the store has diffID already. blob, when set, is the
// digest the file itself must have (OCI descriptors name the compressed
// blob).
func (im *importer) layerFile(root *os.Root, name, diffID string, blob *descriptor) error {
	if im.s.hasLayer(diffID) {
		im.p.line("layer %s already present", diffID)
		return nil
	}
	f, err := openRegularIn(root, name)
	if err != nil {
		return err
	}
	defer f.Close()
	var h hash.Hash = sha256.New()
	r, err := decompress(io.TeeReader(f, h))
	if err != nil {
		return err
	}
	if _, err := im.layer(r, diffID); err != nil {
		return err
	}
	if blob == nil {
		return nil
	}
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != blob.Digest {
		return fmt.Errorf("blob is %s, the manifest says %s", got, blob.Digest)
	}
	return nil
}

// descriptor points at a blob (image-spec descriptor.md).
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
	} `json:"platform,omitempty"`
}

// ociIndex is index.json, or a nested index for several platforms;
// ociManifest is one image's manifest.
type ociIndex struct {
	Manifests []descriptor `json:"manifests"`
}

type ociManifest struct {
	Config descriptor   `json:"config"`
	Layers []descriptor `json:"layers"`
}

const (
	mediaTypeOCIIndex    = "application/vnd.oci.image.index.v1+json"
	mediaTypeDockerIndex = "application/vnd.docker.distribution.manifest.list.v2+json"
	// containerd and docker name the image in this annotation of index.json.
	imageNameAnnotation = "io.containerd.image.name"
)

// oci imports an OCI image layout: the manifest for this machine.
func (im *importer) oci(dir, ref string) (*image, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var idx ociIndex
	if err := readJSON(root, "index.json", &idx); err != nil {
		return nil, err
	}
	d, err := pickManifest(root, idx, 0)
	if err != nil {
		return nil, err
	}
	var m ociManifest
	if err := readBlobJSON(root, d, &m); err != nil {
		return nil, err
	}
	raw, err := readBlob(root, m.Config)
	if err != nil {
		return nil, err
	}
	c, err := parseImageConfig(raw)
	if err != nil {
		return nil, err
	}
	if len(c.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("manifest lists %d layers, the config %d", len(m.Layers), len(c.RootFS.DiffIDs))
	}
	for i, l := range m.Layers {
		if err := checkDigest(l.Digest); err != nil {
			return nil, err
		}
		if err := im.layerFile(root, blobPath(l.Digest), c.RootFS.DiffIDs[i], &l); err != nil {
			return nil, fmt.Errorf("layer %s: %w", l.Digest, err)
		}
	}
	if name := d.Annotations[imageNameAnnotation]; ref == "" && name != "" {
		if ref, err = parseRef(name); err != nil {
			return nil, err
		}
	}
	return im.save(raw, ref)
}

// pickManifest chooses the image for linux on this architecture (or the
// only one), following a nested index once.
func pickManifest(root *os.Root, idx ociIndex, depth int) (descriptor, error) {
	var fits []descriptor
	for _, d := range idx.Manifests {
		if d.Platform == nil || (d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH) {
			fits = append(fits, d)
		}
	}
	if len(fits) == 0 {
		return descriptor{}, fmt.Errorf("no image for linux/%s in the index", runtime.GOARCH)
	}
	d := fits[0]
	if (d.MediaType == mediaTypeOCIIndex || d.MediaType == mediaTypeDockerIndex) && depth == 0 {
		var nested ociIndex
		if err := readBlobJSON(root, d, &nested); err != nil {
			return descriptor{}, err
		}
		return pickManifest(root, nested, 1)
	}
	return d, nil
}

func blobPath(digest string) string {
	return "blobs/sha256/" + digest[len("sha256:"):]
}

// readBlob reads a small blob and checks it against its descriptor.
func readBlob(root *os.Root, d descriptor) ([]byte, error) {
	if err := checkDigest(d.Digest); err != nil {
		return nil, err
	}
	b, err := readSmall(root, blobPath(d.Digest))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != d.Digest {
		return nil, fmt.Errorf("blob %s has digest %s: corrupt or tampered layout", d.Digest, got)
	}
	return b, nil
}

func readBlobJSON(root *os.Root, d descriptor, v any) error {
	b, err := readBlob(root, d)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	return nil
}

func readJSON(root *os.Root, name string, v any) error {
	b, err := readSmall(root, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// readSmall reads a JSON file of the archive through os.Root: a name like
// "../../etc/shadow", or a symlink in the archive, cannot leave it.
func readSmall(root *os.Root, name string) ([]byte, error) {
	f, err := openRegularIn(root, name)
	if err != nil {
		return nil, fmt.Errorf("archive file %s: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJSON+1))
	if err != nil {
		return nil, fmt.Errorf("archive file %s: %w", name, err)
	}
	if len(b) > maxJSON {
		return nil, fmt.Errorf("archive file %s: larger than %d bytes", name, maxJSON)
	}
	return b, nil
}
