// Package gotool finds the go command and the workspace, for the parts of
// the lab that build code (the probe, the stage binaries, the tests).
package gotool

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Path returns the go command to run. `sudo` often drops Go from PATH, so
// after PATH it tries the toolchain this binary was built with and the
// usual install location.
func Path() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	candidates := []string{"/usr/local/go/bin/go", "/usr/lib/go/bin/go"}
	if root := runtime.GOROOT(); root != "" {
		candidates = append([]string{filepath.Join(root, "bin", "go")}, candidates...)
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && fi.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	return "", errors.New("go command not found: install Go (https://go.dev/doc/install) or put it on PATH")
}

// LabDir is the source directory of the lab module, found from where this
// file was compiled. BOXLAB_ROOT overrides it (its lab/ subdirectory).
func LabDir() string {
	if root := os.Getenv("BOXLAB_ROOT"); root != "" {
		return filepath.Join(root, "lab")
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// WorkspaceDir is the directory holding go.work: the parent of the lab module.
func WorkspaceDir() string { return filepath.Dir(LabDir()) }
