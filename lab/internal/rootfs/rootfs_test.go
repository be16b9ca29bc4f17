package rootfs

import (
	"archive/tar"
	"boxlab/lab/internal/gotool"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// The image is built once into a shared temporary cache; every test reads
// it, and the ones that rebuild do it in their own cache.
var (
	sharedOnce  sync.Once
	sharedCache string
	sharedProbe string
	sharedImage *Image
	sharedErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedCache != "" {
		os.RemoveAll(sharedCache)
	}
	os.Exit(code)
}

// needBusybox skips tests that build the image on a host without a static
// busybox (`lab test` installs it).
func needBusybox(t *testing.T) {
	t.Helper()
	if _, err := findBusybox(); err != nil {
		t.Skipf("cannot build the test image: %v", err)
	}
}

// testImage builds the shared image, with the real probe if it compiles
// and a stand-in otherwise (the probe is written by another change and may
// be broken while that change is in progress).
func testImage(t *testing.T) *Image {
	t.Helper()
	needBusybox(t)
	sharedOnce.Do(func() {
		sharedCache, sharedErr = os.MkdirTemp("", "boxlab-rootfs-test-")
		if sharedErr != nil {
			return
		}
		sharedProbe = probeDir(t)
		sharedImage, sharedErr = Build(Options{CacheDir: sharedCache, ProbeDir: sharedProbe})
	})
	require.NoError(t, sharedErr)
	return sharedImage
}

// probeDir is the real probe's package if it builds, else a stand-in.
func probeDir(t *testing.T) string {
	real := filepath.Join(gotool.LabDir(), "probe")
	_, err := buildProbe(real, filepath.Join(t.TempDir(), "probe"))
	var pbe *probeBuildError
	if !errors.As(err, &pbe) {
		require.NoError(t, err)
		return real
	}
	t.Logf("the real probe does not build, using a stand-in: %v", err)
	dir, err := os.MkdirTemp(sharedCache, "probe-stub-")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module probestub\n\ngo 1.22\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644))
	return dir
}

func TestMergedTree(t *testing.T) {
	img := testImage(t)
	root := img.Dir

	target, err := os.Readlink(filepath.Join(root, "bin/sh"))
	require.NoError(t, err, "applet symlink bin/sh")
	require.Equal(t, "busybox", target)
	target, err = os.Readlink(filepath.Join(root, "usr/bin/env"))
	require.NoError(t, err)
	require.Equal(t, "../../bin/busybox", target)

	passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	require.NoError(t, err)
	require.Contains(t, string(passwd), "student:x:1000:1000:")
	resolv, err := os.ReadFile(filepath.Join(root, "etc/resolv.conf"))
	require.NoError(t, err)
	require.Contains(t, string(resolv), "nameserver 127.0.0.1\n")

	require.NoFileExists(t, filepath.Join(root, "etc/boxlab/removed-by-layer3"))
	require.FileExists(t, filepath.Join(root, "etc/boxlab/added-by-layer2"))
	require.Equal(t, []string{"new.txt"}, dirNames(t, filepath.Join(root, "opt/legacy")))
	requireNoWhiteouts(t, root)

	requireMode(t, filepath.Join(root, "bin/probe"), 0o755)
	requireMode(t, filepath.Join(root, "tmp"), 0o777|os.ModeSticky|os.ModeDir)
	requireMode(t, filepath.Join(root, "root"), 0o700|os.ModeDir)
	if os.Geteuid() == 0 {
		st, err := os.Stat(filepath.Join(root, "home/student"))
		require.NoError(t, err)
		require.EqualValues(t, 1000, st.Sys().(*syscall.Stat_t).Uid)
	}
}

func TestRootfsTarMatchesDir(t *testing.T) {
	img := testImage(t)
	names := tarNames(t, readFile(t, img.RootfsTar))
	require.Contains(t, names, "bin/probe")
	require.Contains(t, names, "opt/legacy/new.txt")
	require.NotContains(t, names, "opt/legacy/old.txt")
	require.NotContains(t, names, "etc/boxlab/removed-by-layer3")

	gz := readFile(t, img.RootfsTarGz)
	require.Equal(t, readFile(t, img.RootfsTar), gunzip(t, gz))
}

func TestSecondBuildIsNoop(t *testing.T) {
	img := testImage(t)
	before := mtimes(t, img)
	again, err := Build(Options{CacheDir: sharedCache, ProbeDir: sharedProbe})
	require.NoError(t, err)
	require.Equal(t, img.Digest, again.Digest)
	require.Equal(t, before, mtimes(t, again))
	require.Equal(t, img.Digest, Paths(sharedCache).Digest)
}

// Rebuilding from the same inputs must give byte-identical outputs: layer
// digests are what image stores deduplicate by.
func TestForceRebuildIsDeterministic(t *testing.T) {
	img := testImage(t)
	before := contents(t, img)
	again, err := Build(Options{CacheDir: sharedCache, ProbeDir: sharedProbe, Force: true})
	require.NoError(t, err)
	require.Equal(t, img.Digest, again.Digest)
	require.Equal(t, before, contents(t, again))
}

func TestConcurrentBuilds(t *testing.T) {
	needBusybox(t)
	testImage(t) // for the probe dir
	cache := t.TempDir()
	var wg sync.WaitGroup
	digests := make([]string, 3)
	errs := make([]error, 3)
	for i := range digests {
		wg.Go(func() {
			img, err := Build(Options{CacheDir: cache, ProbeDir: sharedProbe})
			errs[i] = err
			if err == nil {
				digests[i] = img.Digest
			}
		})
	}
	wg.Wait()
	for i := range errs {
		require.NoError(t, errs[i])
		require.Equal(t, digests[0], digests[i])
	}
	leftovers, err := filepath.Glob(filepath.Join(cache, ".build-*"))
	require.NoError(t, err)
	require.Empty(t, leftovers)
}

func TestDockerArchive(t *testing.T) {
	img := testImage(t)
	files := tarFiles(t, readFile(t, img.DockerArchive))

	var manifests []dockerManifest
	require.NoError(t, json.Unmarshal(files["manifest.json"], &manifests))
	require.Len(t, manifests, 1)
	m := manifests[0]
	require.Equal(t, []string{"boxlab/test:latest"}, m.RepoTags)

	var cfg imageConfig
	require.NoError(t, json.Unmarshal(files[m.Config], &cfg))
	require.Equal(t, "linux", cfg.OS)
	require.Equal(t, []string{"/bin/sh"}, cfg.Config.Cmd)
	require.Len(t, m.Layers, 3)
	require.Len(t, cfg.RootFS.DiffIDs, 3)
	for i, l := range m.Layers {
		require.Equal(t, cfg.RootFS.DiffIDs[i], digestOf(files[l]), "layer %s", l)
		require.Equal(t, "1.0", string(files[filepath.Join(filepath.Dir(l), "VERSION")]))
	}
	require.Contains(t, string(files["repositories"]), `"boxlab/test"`)

	layer3 := tarNames(t, files[m.Layers[2]])
	require.Contains(t, layer3, "etc/boxlab/.wh.removed-by-layer3")
	require.Contains(t, layer3, "opt/legacy/.wh..wh..opq")
	require.Contains(t, layer3, "opt/legacy/new.txt")
	require.Contains(t, tarNames(t, files[m.Layers[0]]), "etc/boxlab/removed-by-layer3")
	require.Contains(t, tarNames(t, files[m.Layers[1]]), "bin/probe")
}

func TestOCILayout(t *testing.T) {
	img := testImage(t)
	blob := func(d descriptor) []byte {
		b := readFile(t, filepath.Join(img.OCILayout, "blobs/sha256", strings.TrimPrefix(d.Digest, "sha256:")))
		require.Equal(t, d.Digest, digestOf(b))
		require.EqualValues(t, d.Size, len(b))
		return b
	}
	require.JSONEq(t, `{"imageLayoutVersion":"1.0.0"}`, string(readFile(t, filepath.Join(img.OCILayout, "oci-layout"))))

	var index ociIndex
	require.NoError(t, json.Unmarshal(readFile(t, filepath.Join(img.OCILayout, "index.json")), &index))
	require.Len(t, index.Manifests, 1)
	require.Equal(t, mediaTypeManifest, index.Manifests[0].MediaType)
	require.Equal(t, "latest", index.Manifests[0].Annotations["org.opencontainers.image.ref.name"])

	var m ociManifest
	require.NoError(t, json.Unmarshal(blob(index.Manifests[0]), &m))
	require.Equal(t, mediaTypeConfig, m.Config.MediaType)
	var cfg imageConfig
	require.NoError(t, json.Unmarshal(blob(m.Config), &cfg))
	require.Len(t, m.Layers, len(cfg.RootFS.DiffIDs))
	for i, l := range m.Layers {
		require.Equal(t, mediaTypeLayerGz, l.MediaType)
		require.Equal(t, cfg.RootFS.DiffIDs[i], digestOf(gunzip(t, blob(l))))
	}
}

func TestOCITarMatchesLayout(t *testing.T) {
	img := testImage(t)
	files := tarFiles(t, readFile(t, img.OCITar))
	require.Contains(t, files, "index.json")
	require.Contains(t, files, "oci-layout")
	for name, body := range files {
		require.Equal(t, body, readFile(t, filepath.Join(img.OCILayout, name)), name)
	}
}

func TestPaths(t *testing.T) {
	img := testImage(t)
	require.Equal(t, img, Paths(sharedCache))
	require.Equal(t, "/var/cache/boxlab/rootfs", Paths("").Dir)
}

func TestBusyboxMustBeStatic(t *testing.T) {
	_, err := Build(Options{CacheDir: t.TempDir(), Busybox: "/bin/true"})
	require.ErrorContains(t, err, "install busybox-static")
}

// The merge rules, without busybox: whiteouts delete, opaque markers hide
// only the lower layers, later layers replace files.
func TestMerge(t *testing.T) {
	lower := withParents([]entry{textFile("a/gone", "x"), textFile("a/stays", "x"),
		textFile("d/old", "x"), textFile("d/sub/deep", "x"), textFile("f", "1")})
	upper := withParents([]entry{fileEntry("a/.wh.gone", 0o600, nil),
		fileEntry("d/.wh..wh..opq", 0o600, nil), textFile("d/new", "x"), textFile("f", "2")})
	var names []string
	var f entry
	for _, e := range merge([][]entry{lower, upper}) {
		names = append(names, e.name)
		if e.name == "f" {
			f = e
		}
	}
	require.Equal(t, []string{"a", "a/stays", "d", "d/new", "f"}, names)
	require.Equal(t, "2", string(f.body))
}

func TestRelativeTo(t *testing.T) {
	require.Equal(t, "busybox", relativeTo("bin/ls", "bin/busybox"))
	require.Equal(t, "../bin/busybox", relativeTo("sbin/ip", "bin/busybox"))
	require.Equal(t, "../../bin/busybox", relativeTo("usr/bin/wc", "bin/busybox"))
	require.Equal(t, "bin/busybox", relativeTo("linuxrc", "bin/busybox"))
}

// Layers must not depend on when or where they were made.
func TestLayersAreReproducible(t *testing.T) {
	a, err := tarEntries(baseLayer([]byte("busybox"), []string{"bin/ls", "usr/bin/env"}))
	require.NoError(t, err)
	b, err := tarEntries(baseLayer([]byte("busybox"), []string{"usr/bin/env", "bin/ls"}))
	require.NoError(t, err)
	require.Equal(t, digestOf(a), digestOf(b))
	tr := tar.NewReader(bytes.NewReader(a))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.Empty(t, h.PAXRecords, h.Name)
		require.True(t, h.ModTime.Equal(epoch), h.Name)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	return out
}

// tarFiles maps each regular file of a tarball to its contents.
func tarFiles(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		require.NoError(t, err)
		if h.Typeflag == tar.TypeReg {
			body, err := io.ReadAll(tr)
			require.NoError(t, err)
			files[h.Name] = body
		}
	}
}

func tarNames(t *testing.T, b []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		require.NoError(t, err)
		names = append(names, strings.TrimSuffix(h.Name, "/"))
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func requireMode(t *testing.T, p string, want os.FileMode) {
	t.Helper()
	st, err := os.Lstat(p)
	require.NoError(t, err)
	require.Equal(t, want, st.Mode(), p)
}

func requireNoWhiteouts(t *testing.T, root string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), whiteoutPrefix) {
			t.Errorf("whiteout left in the merged tree: %s", p)
		}
		return err
	}))
}

// mtimes gives the inode and mtime of every output and of the stamp: a
// no-op build must not replace or touch any. (The tree's mtimes are fixed,
// so for it the inode is what tells a rebuild.)
func mtimes(t *testing.T, img *Image) map[string][2]int64 {
	t.Helper()
	m := map[string][2]int64{}
	for _, p := range append(outputs(img), filepath.Join(sharedCache, stampName)) {
		st, err := os.Lstat(p)
		require.NoError(t, err)
		m[p] = [2]int64{int64(st.Sys().(*syscall.Stat_t).Ino), st.ModTime().UnixNano()}
	}
	return m
}

// contents hashes every output file (the tree through its tarball).
func contents(t *testing.T, img *Image) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, p := range []string{img.RootfsTar, img.RootfsTarGz, img.DockerArchive, img.OCITar, img.Probe} {
		m[filepath.Base(p)] = digestOf(readFile(t, p))
	}
	return m
}
