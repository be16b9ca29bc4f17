package labtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"boxlab/lab/internal/rootfs"
)

func TestCheckStageBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "stage01-chroot")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755))
	t.Chdir(dir)
	p, err := checkStageBinary("stage01-chroot")
	require.NoError(t, err)
	assert.Equal(t, bin, p, "made absolute: tests run it from other directories")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "plain"), nil, 0o644))
	_, err = checkStageBinary(filepath.Join(dir, "plain"))
	assert.ErrorContains(t, err, "not an executable file")
	_, err = checkStageBinary(dir)
	assert.ErrorContains(t, err, "not an executable file")
	_, err = checkStageBinary(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestOpenImage(t *testing.T) {
	dir := t.TempDir()
	_, err := openImage(dir)
	assert.ErrorContains(t, err, "incomplete test image")
	assert.ErrorContains(t, err, "rootfs")
	assert.ErrorContains(t, err, "stamp")

	// Everything rootfs.Paths names, and the stamp that holds the digest.
	img := rootfs.Paths(dir)
	require.NoError(t, os.MkdirAll(img.Dir, 0o755))
	require.NoError(t, os.MkdirAll(img.OCILayout, 0o755))
	for _, f := range []string{img.RootfsTar, img.RootfsTarGz, img.DockerArchive, img.OCITar, img.Probe} {
		require.NoError(t, os.WriteFile(f, nil, 0o644))
	}
	_, err = openImage(dir)
	assert.ErrorContains(t, err, "stamp", "the digest is part of the image")
	// rootfs's stamp file: if it is ever renamed, Digest stays empty here.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "image.stamp"), []byte("sha256:abc\n"), 0o644))
	got, err := openImage(dir)
	require.NoError(t, err)
	assert.Equal(t, "sha256:abc", got.Digest)
	assert.Equal(t, img.Dir, got.Dir)
}
