package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
