package main

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"boxlab/lab/labtest"
)

// Library-level tests: they call the store and mount in the test process
// (as root), under t.TempDir(), and unmount in t.Cleanup. The leftover
// check of the test kit then fails a test that leaves a mount behind.

// testStore is a fresh state directory for one test.
func testStore(t testing.TB) *store {
	t.Helper()
	s, err := openStore(filepath.Join(t.TempDir(), "state"))
	require.NoError(t, err)
	return s
}

// quiet collects the status lines a command prints.
func quiet() (*progress, *bytes.Buffer) {
	var buf bytes.Buffer
	return &progress{w: &buf}, &buf
}

// tarEntry is one entry of a tarball a test makes with archive/tar.
type tarEntry struct {
	name     string
	typ      byte
	body     string
	link     string
	mode     int64
	uid, gid int
	pax      map[string]string
}

func reg(name, body string) tarEntry {
	return tarEntry{name: name, typ: tar.TypeReg, body: body, mode: 0o644}
}
func dir(name string) tarEntry { return tarEntry{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, target string) tarEntry {
	return tarEntry{name: name, typ: tar.TypeSymlink, link: target, mode: 0o777}
}
func hardlink(name, target string) tarEntry {
	return tarEntry{name: name, typ: tar.TypeLink, link: target, mode: 0o644}
}

var testTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// makeTar writes entries, in order, as a tarball.
func makeTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode,
			Uid: e.uid, Gid: e.gid, Size: int64(len(e.body)), ModTime: testTime, PAXRecords: e.pax}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		require.NoError(t, tw.WriteHeader(h))
		_, err := tw.Write([]byte(e.body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// importTestImage imports the test image's docker save archive (three
// layers) as boxlab/test:latest.
func importTestImage(t testing.TB, s *store) *image {
	t.Helper()
	labtest.RequireRoot(t)
	p, _ := quiet()
	img, err := s.importImage(labtest.TestImage(t).DockerArchive, "", p)
	require.NoError(t, err)
	return img
}

// mountedContainer creates a container from ref and mounts its overlay for
// the rest of the test.
func mountedContainer(t testing.TB, s *store, ref string) (*container, string) {
	t.Helper()
	c := &container{Image: ref}
	require.NoError(t, s.createContainer(c, []byte("nameserver 10.0.0.53\n")))
	t.Cleanup(func() { require.NoError(t, s.deleteContainer(c)) })
	return c, mountContainer(t, s, c)
}

// mountContainer mounts c's overlay until the test ends; it returns the
// merged directory.
func mountContainer(t testing.TB, s *store, c *container) string {
	t.Helper()
	labtest.CheckLeftovers(t)
	m := s.containerOverlay(c)
	require.NoError(t, mountOverlay(m))
	t.Cleanup(func() { require.NoError(t, unmountOverlay(m.Merged)) })
	return m.Merged
}

func exists(name string) bool {
	_, err := os.Lstat(name)
	return err == nil
}

// dirNames lists a directory, for "nothing else appeared here" checks.
func dirNames(t testing.TB, d string) []string {
	t.Helper()
	es, err := os.ReadDir(d)
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}
