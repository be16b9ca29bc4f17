// Package rootfs builds the lab's test image from the host's static busybox
// and the probe: an unpacked root filesystem for the early stages, and the
// same image as three layers (base, additions, deletions) in the formats
// later stages import: a plain tarball, a `docker save` archive and an OCI
// image layout.
//
// Everything is deterministic: the same busybox and probe give byte-identical
// layers, so their digests are stable across machines and rebuilds.
package rootfs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"boxlab/lab/internal/gotool"
	"boxlab/lab/internal/labpaths"
)

// formatVersion goes into the inputs digest: bump it whenever what Build
// makes changes, so existing caches are rebuilt.
const formatVersion = "1"

// Names inside the cache directory.
const (
	stampName     = "image.stamp"
	dirName       = "rootfs"
	rootfsTarName = "rootfs.tar"
	rootfsGzName  = "rootfs.tar.gz"
	dockerName    = "image.docker.tar"
	ociName       = "image.oci"
	ociTarName    = "image.oci.tar"
	probeName     = "probe"
)

// Options say where to build from and to. The zero value builds the
// default image into the default cache.
type Options struct {
	CacheDir string    // default labpaths.CacheDir (/var/cache/boxlab)
	Busybox  string    // default: the first static one of /bin/busybox, /usr/bin/busybox
	ProbeDir string    // the probe's Go package; default: the lab module's probe/
	Log      io.Writer // progress lines; default io.Discard
	Force    bool      // rebuild even when the stamp says the image is up to date
}

// Image is where the test image's outputs are.
type Image struct {
	Dir           string // the unpacked, merged root filesystem
	RootfsTar     string // the merged tree as one uncompressed tarball
	RootfsTarGz   string // the same, gzipped
	DockerArchive string // `docker save` archive, three layers, tagged boxlab/test:latest
	OCILayout     string // OCI image layout directory, ref name "latest"
	OCITar        string // the OCI layout as a tarball
	Probe         string // the probe binary (also at Dir/bin/probe)
	Digest        string // sha256 of the inputs; the cache's stamp
}

// Paths tells where Build puts its outputs in cacheDir ("" means the
// default), without building. Digest is the current stamp, "" if none.
func Paths(cacheDir string) *Image {
	if cacheDir == "" {
		cacheDir = labpaths.CacheDir
	}
	in := func(name string) string { return filepath.Join(cacheDir, name) }
	return &Image{
		Dir:           in(dirName),
		RootfsTar:     in(rootfsTarName),
		RootfsTarGz:   in(rootfsGzName),
		DockerArchive: in(dockerName),
		OCILayout:     in(ociName),
		OCITar:        in(ociTarName),
		Probe:         in(probeName),
		Digest:        readStamp(in(stampName)),
	}
}

// Build makes the test image in the cache unless the cache already holds
// the image for the same inputs. Concurrent callers wait for each other.
func Build(opts Options) (*Image, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return nil, err
	}
	// Without symlinks, because mount points are compared against it.
	if o.CacheDir, err = filepath.EvalSymlinks(o.CacheDir); err != nil {
		return nil, err
	}
	unlock, err := lock(o.CacheDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := removeStale(o.CacheDir); err != nil {
		return nil, err
	}
	buildDir, err := os.MkdirTemp(o.CacheDir, ".build-")
	if err != nil {
		return nil, err
	}
	defer removeAll(buildDir)
	return o.build(buildDir)
}

// build compares the inputs with the stamp and rebuilds when they differ.
// The probe is compiled every time: only its bytes say whether it changed.
func (o Options) build(buildDir string) (*Image, error) {
	probe, err := buildProbe(o.ProbeDir, filepath.Join(buildDir, probeName))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "probe built (%d bytes)\n", len(probe))
	busybox, err := os.ReadFile(o.Busybox)
	if err != nil {
		return nil, err
	}
	img := Paths(o.CacheDir)
	stamp := img.Digest
	img.Digest = inputsDigest(busybox, probe)
	if !o.Force && stamp == img.Digest && outputsExist(img) {
		fmt.Fprintf(o.Log, "test image up to date (%s)\n", o.CacheDir)
		return img, nil
	}
	fmt.Fprintf(o.Log, "building test image in %s...\n", o.CacheDir)
	applets, err := listApplets(o.Busybox)
	if err != nil {
		return nil, err
	}
	if err := writeOutputs(buildDir, busybox, applets, probe); err != nil {
		return nil, err
	}
	if err := install(buildDir, img); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "test image built (%s)\n", img.Digest)
	return img, nil
}

// withDefaults fills in the defaults and checks the inputs exist before
// anything is created.
func (o Options) withDefaults() (Options, error) {
	var err error
	if o.CacheDir == "" {
		o.CacheDir = labpaths.CacheDir
	}
	if o.CacheDir, err = filepath.Abs(o.CacheDir); err != nil {
		return o, err
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Busybox == "" {
		if o.Busybox, err = findBusybox(); err != nil {
			return o, err
		}
	} else if ok, err := isStatic(o.Busybox); err != nil || !ok {
		return o, fmt.Errorf("%s is not a static binary: install busybox-static (apt-get install busybox-static)", o.Busybox)
	}
	if o.ProbeDir == "" {
		o.ProbeDir = filepath.Join(gotool.LabDir(), "probe")
	}
	return o, nil
}

// inputsDigest hashes everything the image is made from. Each part is
// length-prefixed so that bytes cannot move from one part to the next.
func inputsDigest(busybox, probe []byte) string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(formatVersion), busybox, probe} {
		fmt.Fprintf(h, "%d\n", len(part))
		h.Write(part)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
