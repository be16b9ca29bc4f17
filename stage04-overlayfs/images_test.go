package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"boxlab/lab/labtest"
)

// Every format of the test image imports; the layered ones keep their
// three layers and their config.
func TestImportFormats(t *testing.T) {
	labtest.RequireRoot(t)
	ti := labtest.TestImage(t)
	cases := []struct {
		name, src string
		layers    int
		wantName  string
	}{
		{"rootfs tar", ti.RootfsTar, 1, ""},
		{"rootfs tar.gz", ti.RootfsTarGz, 1, ""},
		{"docker save", ti.DockerArchive, 3, "boxlab/test:latest"},
		{"oci dir", ti.OCILayout, 3, ""},
		{"oci tar", ti.OCITar, 3, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testStore(t)
			p, out := quiet()
			img, err := s.importImage(tc.src, "", p)
			require.NoError(t, err, out.String())
			assert.Len(t, img.Layers(), tc.layers)
			if tc.wantName != "" {
				assert.Equal(t, []string{tc.wantName}, mustImage(t, s, img.ID).Tags)
			}
			if tc.layers == 3 {
				assert.Contains(t, img.Config.Config.Env, "BOXLAB_IMAGE=test")
				assert.Equal(t, []string{"/bin/sh"}, img.Config.Config.Cmd)
			}
			for _, d := range img.Layers() {
				assert.True(t, s.hasLayer(d))
			}
			assert.Empty(t, dirNames(t, s.path("tmp")))
			// The rootfs layer holds the merged tree: the probe is there.
			if tc.layers == 1 {
				assert.FileExists(t, filepath.Join(s.diffDir(img.Layers()[0]), "bin/probe"))
			}
		})
	}
}

func mustImage(t testing.TB, s *store, id string) *image {
	t.Helper()
	img, err := s.loadImage(id)
	require.NoError(t, err)
	return img
}

// The same layers in another format, or another image made of the same
// tarball, are stored once.
func TestSharedLayersStoredOnce(t *testing.T) {
	labtest.RequireRoot(t)
	ti := labtest.TestImage(t)
	s := testStore(t)
	docker := importTestImage(t, s)
	p, out := quiet()
	oci, err := s.importImage(ti.OCITar, "boxlab/oci", p)
	require.NoError(t, err)
	assert.Equal(t, docker.Layers(), oci.Layers())
	assert.Equal(t, 3, strings.Count(out.String(), "already present"), out.String())
	assert.Len(t, dirNames(t, s.path("layers", "sha256")), 3)

	a, err := s.importImage(ti.RootfsTar, "flat:a", nil)
	require.NoError(t, err)
	p, out = quiet()
	b, err := s.importImage(ti.RootfsTarGz, "flat:b", p)
	require.NoError(t, err)
	assert.NotEqual(t, a.ID, b.ID, "two images")
	assert.Equal(t, a.Layers(), b.Layers(), "gzip or not, the same uncompressed tar")
	assert.Contains(t, out.String(), "already present")
	assert.Len(t, dirNames(t, s.path("layers", "sha256")), 4)
	assert.Len(t, dirNames(t, s.path("l")), 4)
}

func TestListTagRmi(t *testing.T) {
	labtest.RequireRoot(t)
	s := testStore(t)
	img := importTestImage(t, s)
	require.NoError(t, s.tagImage("boxlab/test", "other:v2"))
	rows, err := s.listImages()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, imageRow{Repository: "boxlab/test", Tag: "latest", ID: img.ID, Layers: 3, Size: rows[0].Size}, rows[0])
	assert.Equal(t, "other", rows[1].Repository)
	var out bytes.Buffer
	require.NoError(t, printImages(&out, rows))
	assert.Contains(t, out.String(), shortID(img.ID))

	// A second image sharing the base layers.
	c, _ := mountedContainer(t, s, "boxlab/test")
	require.NoError(t, os.WriteFile(filepath.Join(s.upperDir(c.ID), "added"), []byte("x"), 0o644))
	child, err := s.commit(c.Name, "child", nil)
	require.NoError(t, err)
	require.Len(t, child.Layers(), 4)

	err = s.removeImage("boxlab/test", nil)
	require.NoError(t, err, "untagging one of two names")
	err = s.removeImage("other:v2", nil)
	require.Error(t, err, "a container uses it")
	assert.Contains(t, err.Error(), c.Name)
	require.NoError(t, s.deleteContainer(c))

	p, out2 := quiet()
	require.NoError(t, s.removeImage("other:v2", p))
	assert.Contains(t, out2.String(), "Deleted: "+img.ID)
	assert.NotContains(t, out2.String(), "Deleted layer", "child still uses all three layers")
	assert.Len(t, dirNames(t, s.path("layers", "sha256")), 4)

	require.NoError(t, s.removeImage(shortID(child.ID), nil))
	assert.Empty(t, dirNames(t, s.path("layers", "sha256")))
	assert.Empty(t, dirNames(t, s.path("l")))
	_, err = s.findImage("child")
	assert.ErrorIs(t, err, errNoImage)
}

func TestParseRef(t *testing.T) {
	good := map[string]string{
		"busybox": "busybox:latest", "boxlab/test": "boxlab/test:latest", "a/b:v1.2": "a/b:v1.2",
		"localhost:5000/x": "localhost:5000/x:latest", "localhost:5000/x:t": "localhost:5000/x:t", "a_b-c.d": "a_b-c.d:latest",
	}
	for in, want := range good {
		got, err := parseRef(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got)
		}
	}
	for _, in := range []string{"", "UPPER", "a:", "a:b:c", "a@sha256:00", "-a", "a//b", ":t",
		"0123456789012345678901234567890123456789012345678901234567890123"} {
		_, err := parseRef(in)
		assert.Error(t, err, in)
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"boxlab/test:latest", "a:b", "localhost:5000/x:y", "x@y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		got, err := parseRef(ref)
		if err != nil {
			return
		}
		again, err := parseRef(got)
		if err != nil || again != got {
			t.Fatalf("parseRef(%q) = %q, which parses to %q, %v", ref, got, again, err)
		}
	})
}

func TestImportBadInput(t *testing.T) {
	s := testStore(t)
	_, err := s.importImage("/nonexistent/image.tar", "", nil)
	assert.ErrorContains(t, err, "/nonexistent/image.tar")
	notTar := filepath.Join(t.TempDir(), "x.tar")
	require.NoError(t, os.WriteFile(notTar, []byte("hello, not a tar"), 0o644))
	_, err = s.importImage(notTar, "", nil)
	assert.ErrorContains(t, err, "not a tar archive")
	_, err = s.importImage(t.TempDir(), "", nil)
	assert.ErrorContains(t, err, "neither an OCI layout")
	_, err = s.importImage(notTar, "Bad Name", nil)
	assert.ErrorContains(t, err, "image name")
	assert.Empty(t, dirNames(t, s.path("layers", "sha256")))
	assert.Empty(t, dirNames(t, s.path("images", "sha256")))
}

// A docker archive whose layer does not match the config's diff_id is
// refused, and the layers it brought are removed again.
func TestImportTamperedLayer(t *testing.T) {
	labtest.RequireRoot(t)
	s := testStore(t)
	good := makeTar(t, reg("a", "a"))
	bad := makeTar(t, reg("b", "b"))
	goodDigest := digestOfBytes(good)
	config := `{"rootfs":{"type":"layers","diff_ids":["` + goodDigest + `","` + digestOfBytes(bad) + `"]}}`
	archive := makeTar(t, reg("config.json", config), reg("l1.tar", string(good)), reg("l2.tar", string(bad)),
		reg("manifest.json", `[{"Config":"config.json","RepoTags":["x:y"],"Layers":["l1.tar","../l2.tar"]}]`))
	src := filepath.Join(t.TempDir(), "a.tar")
	require.NoError(t, os.WriteFile(src, archive, 0o644))
	_, err := s.importImage(src, "", nil)
	assert.ErrorContains(t, err, "escapes")
	assert.Empty(t, dirNames(t, s.path("layers", "sha256")), "the first, good, layer is rolled back")
	assert.Empty(t, dirNames(t, s.path("tmp")))

	archive = makeTar(t, reg("config.json", config), reg("l1.tar", string(good)), reg("l2.tar", string(bad)),
		reg("manifest.json", `[{"Config":"config.json","RepoTags":["x:y"],"Layers":["l1.tar","l2.tar"]}]`))
	require.NoError(t, os.WriteFile(src, archive, 0o644))
	config = `{"rootfs":{"type":"layers","diff_ids":["` + goodDigest + `","` + goodDigest + `"]}}`
	archive = makeTar(t, reg("config.json", config), reg("l1.tar", string(good)), reg("l2.tar", string(bad)),
		reg("manifest.json", `[{"Config":"config.json","RepoTags":["x:y"],"Layers":["l2.tar","l1.tar"]}]`))
	require.NoError(t, os.WriteFile(src, archive, 0o644))
	_, err = s.importImage(src, "", nil)
	assert.ErrorContains(t, err, "image config says")
	assert.Empty(t, dirNames(t, s.path("layers", "sha256")))
	tags, _ := s.tags()
	assert.Empty(t, tags)
	assert.False(t, slices.Contains(dirNames(t, s.path("images")), "sha256/x"))
}

// within runs f and fails the test, rather than hanging it, if f has not
// returned when the deadline comes: a guard for code that must not block.
func within(t *testing.T, f func() error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		t.Fatal("still blocked when the test's deadline came")
		return nil
	}
}

// assertStoreEmpty: a failed import left no layer, no image, nothing in tmp/.
func assertStoreEmpty(t *testing.T, s *store) {
	t.Helper()
	assert.Empty(t, dirNames(t, s.path("layers", "sha256")), "layers left behind")
	assert.Empty(t, dirNames(t, s.path("images", "sha256")), "images left behind")
	assert.Empty(t, dirNames(t, s.path("tmp")), "tmp/ left behind")
}

// dockerArchive is a docker save archive of the given layer tars, with
// extra entries first.
func dockerArchive(t *testing.T, layers [][]byte, extra ...tarEntry) []byte {
	var ids, names []string
	entries := extra
	for i, l := range layers {
		ids = append(ids, `"`+digestOfBytes(l)+`"`)
		names = append(names, fmt.Sprintf(`"l%d.tar"`, i))
		entries = append(entries, reg(fmt.Sprintf("l%d.tar", i), string(l)))
	}
	config := `{"rootfs":{"type":"layers","diff_ids":[` + strings.Join(ids, ",") + `]}}`
	entries = append(entries, reg("config.json", config),
		reg("manifest.json", `[{"Config":"config.json","RepoTags":["x:y"],"Layers":[`+strings.Join(names, ",")+`]}]`))
	return makeTar(t, entries...)
}

func writeTemp(t *testing.T, name string, data []byte) string {
	src := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(src, data, 0o644))
	return src
}

// An import writes at most its limits, counted over the archive and all
// its layers, sparse files at their full size: over one, it stops at the
// entry, names it and the limit, and leaves nothing.
func TestImportLimits(t *testing.T) {
	labtest.RequireRoot(t)
	var many []tarEntry
	for i := range 10 {
		many = append(many, reg(fmt.Sprintf("f%d", i), "x"))
	}
	cases := []struct {
		name, file string
		archive    []byte
		lim        importLimits
		want       []string
	}{
		{"sparse rootfs", "s.tar", paxSparseTar(), importLimits{maxBytes: 64 << 20},
			[]string{`"big"`, "268435456 bytes", "limit of 67108864", "--max-size", importMaxSizeEnv}},
		{"sparse in a docker layer", "d.tar", dockerArchive(t, [][]byte{gnuSparseTar()}), importLimits{maxBytes: 64 << 20},
			[]string{"layer l0.tar", `"big"`, "limit of 67108864"}},
		{"files", "f.tar", makeTar(t, many...), importLimits{maxFiles: 5},
			[]string{`"f5"`, "limit of 5 files", "--max-files", importMaxFilesEnv}},
		{"files of archive and layers together", "df.tar", dockerArchive(t, [][]byte{makeTar(t, many[:4]...)}), importLimits{maxFiles: 6},
			[]string{"layer l0.tar", `"f3"`, "limit of 6 files"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testStore(t)
			_, err := s.importImageLimited(writeTemp(t, tc.file, tc.archive), "", nil, tc.lim)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assertStoreEmpty(t, s)
		})
	}
	t.Run("environment", func(t *testing.T) {
		s := testStore(t)
		t.Setenv(importMaxSizeEnv, "1m")
		_, err := s.importImage(writeTemp(t, "s.tar", paxSparseTar()), "", nil)
		assert.ErrorContains(t, err, "limit of 1048576")
		assertStoreEmpty(t, s)
		t.Setenv(importMaxSizeEnv, "lots")
		_, err = s.importImage(writeTemp(t, "s.tar", paxSparseTar()), "", nil)
		assert.ErrorContains(t, err, importMaxSizeEnv+"=lots")
	})
}

// A FIFO where an archive's file should be (the archive itself, its
// manifest.json or index.json, a layer) is refused at once: an open(2)
// of it would wait for a writer forever, holding the store's lock.
func TestImportRefusesFIFOs(t *testing.T) {
	labtest.RequireRoot(t)
	fifo := func(name string) tarEntry { return tarEntry{name: name, typ: tar.TypeFifo, mode: 0o644} }
	layer := makeTar(t, reg("a", "a"))
	cases := []struct {
		name string
		src  func(t *testing.T) string
	}{
		{"archive path", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "image.tar")
			require.NoError(t, unix.Mkfifo(p, 0o600))
			return p
		}},
		{"manifest.json in a docker archive", func(t *testing.T) string {
			return writeTemp(t, "a.tar", makeTar(t, fifo("manifest.json"), reg("config.json", "{}")))
		}},
		{"layer in a docker archive", func(t *testing.T) string {
			config := `{"rootfs":{"type":"layers","diff_ids":["` + digestOfBytes(layer) + `"]}}`
			return writeTemp(t, "a.tar", makeTar(t, fifo("l0.tar"), reg("config.json", config),
				reg("manifest.json", `[{"Config":"config.json","Layers":["l0.tar"]}]`)))
		}},
		{"index.json in an OCI tar", func(t *testing.T) string {
			return writeTemp(t, "o.tar", makeTar(t, reg("oci-layout", `{"imageLayoutVersion":"1.0.0"}`), fifo("index.json")))
		}},
		{"index.json in an OCI directory", func(t *testing.T) string {
			d := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(d, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644))
			require.NoError(t, unix.Mkfifo(filepath.Join(d, "index.json"), 0o600))
			return d
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testStore(t)
			src := tc.src(t)
			err := within(t, func() error { _, err := s.importImage(src, "", nil); return err })
			require.Error(t, err)
			assert.Contains(t, err.Error(), "a FIFO, not a regular file")
			assertStoreEmpty(t, s)
		})
	}
}

// A second command finds the store locked: it says by whom, and gives up
// after lockTimeout instead of waiting forever. The holder is this test
// itself, through a second open file description of the lock: flock(2)
// locks of two descriptions conflict even in one process, as they would
// between two commands (and no flock(1) is needed, which the VM lacks).
func TestStoreLockedSaysByWhom(t *testing.T) {
	s := testStore(t)
	holder, err := os.OpenFile(s.path(".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	require.NoError(t, err)
	t.Cleanup(func() { holder.Close() })
	require.NoError(t, unix.Flock(int(holder.Fd()), unix.LOCK_EX|unix.LOCK_NB))

	old := lockTimeout
	lockTimeout = 100 * time.Millisecond // the bound under test; nothing waits on it
	t.Cleanup(func() { lockTimeout = old })
	src := writeTemp(t, "r.tar", makeTar(t, reg("a", "a")))
	err = within(t, func() error { _, err := s.importImage(src, "", nil); return err })
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("locked by pid %d (%s -test.", os.Getpid(), filepath.Base(os.Args[0])), "the holder and its command line")
	assert.Contains(t, err.Error(), "wait for it to finish, or kill it")

	// Once the holder lets go, the lock is free again.
	require.NoError(t, holder.Close())
	_, err = s.importImage(src, "", nil)
	require.NoError(t, err)
}

// What a SIGKILLed import left in tmp/ (its pid gone) is removed by the
// next one; what a live command owns stays.
func TestImportRemovesStaleTmp(t *testing.T) {
	labtest.RequireRoot(t)
	s := testStore(t)
	dead := exec.Command("true")
	require.NoError(t, dead.Run()) // a pid that has exited
	stale := s.path("tmp", fmt.Sprintf("import-%d-123", dead.Process.Pid))
	old := s.path("tmp", "layer-4567") // an older boxlab's name, no pid
	live := s.path("tmp", fmt.Sprintf("layer-%d-456", os.Getpid()))
	for _, d := range []string{stale, old, live} {
		require.NoError(t, os.MkdirAll(filepath.Join(d, "diff"), 0o700))
	}
	_, err := s.importImage(writeTemp(t, "r.tar", makeTar(t, reg("a", "a"))), "", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Base(live)}, dirNames(t, s.path("tmp")))
}
