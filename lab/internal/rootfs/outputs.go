package rootfs

import (
	"os"
	"path/filepath"
)

// imageLayers are the three layers of the test image, each sorted:
// base, additions, deletions. Together they exercise everything an image
// importer must get right.
func imageLayers(busybox []byte, applets []string, probe []byte) [][]entry {
	return [][]entry{baseLayer(busybox, applets), addLayer(probe), deleteLayer()}
}

// writeOutputs makes every output under buildDir, with the same base
// names it will have in the cache. The probe is already there.
func writeOutputs(buildDir string, busybox []byte, applets []string, probe []byte) error {
	layers := imageLayers(busybox, applets, probe)
	var tars [][]byte
	var diffIDs []string
	for _, l := range layers {
		t, err := tarEntries(l)
		if err != nil {
			return err
		}
		tars = append(tars, t)
		diffIDs = append(diffIDs, digestOf(t))
	}
	if err := writeMerged(buildDir, merge(layers)); err != nil {
		return err
	}
	config, err := configJSON(diffIDs)
	if err != nil {
		return err
	}
	docker, err := dockerArchive(config, tars)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(buildDir, dockerName), docker, 0o644); err != nil {
		return err
	}
	oci, err := ociLayout(config, tars)
	if err != nil {
		return err
	}
	_, err = writeTreeAndTar(filepath.Join(buildDir, ociName), filepath.Join(buildDir, ociTarName), oci)
	return err
}

// writeMerged writes what a container sees once the layers are applied:
// the rootfs directory and its tarballs.
func writeMerged(buildDir string, merged []entry) error {
	dir, tarPath := filepath.Join(buildDir, dirName), filepath.Join(buildDir, rootfsTarName)
	t, err := writeTreeAndTar(dir, tarPath, merged)
	if err != nil {
		return err
	}
	gz, err := gzipBytes(t)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(buildDir, rootfsGzName), gz, 0o644)
}

// writeTreeAndTar writes es both as the directory dir and as the tarball
// tarPath, and returns the tarball's bytes.
func writeTreeAndTar(dir, tarPath string, es []entry) ([]byte, error) {
	if err := writeTree(dir, es); err != nil {
		return nil, err
	}
	t, err := tarEntries(es)
	if err != nil {
		return nil, err
	}
	return t, os.WriteFile(tarPath, t, 0o644)
}
