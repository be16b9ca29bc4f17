package labtest

// Prebuilt inputs, for running a stage's compiled tests where there is no
// Go toolchain: the VM pass (`lab vm test`) compiles everything on the host
// and boots a guest that only has the binaries. Two environment variables
// tell the kit where they are:
//
//	BOXLAB_STAGE_BINARY  the stage binary; Main uses it instead of `go build`
//	BOXLAB_IMAGE_DIR     a cache directory that already holds the test image
//	                     (what `lab rootfs` builds); TestImage uses it as is,
//	                     and fails the test if it is incomplete
//
// Unset or empty, the kit builds both itself, as always.

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"boxlab/lab/internal/rootfs"
)

// The environment variables the kit reads.
const (
	StageBinaryEnv = "BOXLAB_STAGE_BINARY"
	ImageDirEnv    = "BOXLAB_IMAGE_DIR"
)

// mainPrebuilt is Main with the stage binary at path instead of a build.
func mainPrebuilt(m *testing.M, path string) int {
	p, err := checkStageBinary(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "labtest: %s=%s: %v\n", StageBinaryEnv, path, err)
		return 1
	}
	binary = p
	return m.Run()
}

// checkStageBinary returns path made absolute (tests run commands from
// other directories) after checking that it is an executable file.
func checkStageBinary(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", abs)
	}
	return abs, nil
}

var (
	prebuiltOnce  sync.Once
	prebuiltImg   *Image
	prebuiltImgEr error
)

// prebuiltImage is TestImage for an image that is already built in dir.
func prebuiltImage(t testing.TB, dir string) *Image {
	t.Helper()
	prebuiltOnce.Do(func() { prebuiltImg, prebuiltImgEr = openImage(dir) })
	if prebuiltImgEr != nil {
		t.Fatalf("labtest: %s=%s: %v", ImageDirEnv, dir, prebuiltImgEr)
	}
	return prebuiltImg
}

// openImage returns the image in dir without building anything, or an
// error naming what is missing.
func openImage(dir string) (*Image, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	img := rootfs.Paths(abs)
	var missing []string
	for _, p := range []string{img.Dir, img.RootfsTar, img.RootfsTarGz, img.DockerArchive,
		img.OCILayout, img.OCITar, img.Probe} {
		if _, err := os.Lstat(p); err != nil {
			missing = append(missing, filepath.Base(p))
		}
	}
	if img.Digest == "" {
		missing = append(missing, "the image's stamp (digest)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("incomplete test image in %s: missing %v (build it with 'lab rootfs')", abs, missing)
	}
	return img, nil
}
