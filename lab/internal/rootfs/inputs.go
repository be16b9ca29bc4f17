package rootfs

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"boxlab/lab/internal/gotool"
)

var busyboxCandidates = []string{"/bin/busybox", "/usr/bin/busybox"}

// findBusybox picks the host's static busybox. A dynamic one would need
// the host's libc inside the image, which is exactly what it must not have.
func findBusybox() (string, error) {
	for _, p := range busyboxCandidates {
		if ok, err := isStatic(p); err == nil && ok {
			return p, nil
		}
	}
	return "", errors.New("no static busybox in " + strings.Join(busyboxCandidates, " or ") +
		": install busybox-static (apt-get install busybox-static)")
}

// isStatic reports whether p is an ELF binary without a program
// interpreter (PT_INTERP): the kernel can run it in an empty root.
func isStatic(p string) (bool, error) {
	f, err := elf.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// listApplets asks busybox which applets it has and where they live
// ("bin/ls", "sbin/ip", "usr/bin/wc"...).
func listApplets(busybox string) ([]string, error) {
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", busybox, err)
	}
	return strings.Fields(string(out)), nil
}

// A probeBuildError means the probe's source did not compile: the fault is
// in the probe, not in the host.
type probeBuildError struct {
	dir    string
	err    error
	output []byte
}

func (e *probeBuildError) Error() string {
	return fmt.Sprintf("build probe in %s: %v\n%s", e.dir, e.err, bytes.TrimSpace(e.output))
}

func (e *probeBuildError) Unwrap() error { return e.err }

// buildProbe compiles the probe as a static binary (CGO_ENABLED=0: the
// image has no libc) for the architecture the image claims, and returns
// its bytes. Go's build cache makes this cheap when nothing changed.
func buildProbe(probeDir, out string) ([]byte, error) {
	goCmd, err := gotool.Path()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(goCmd, "build", "-trimpath", "-ldflags=-s", "-o", out, ".")
	cmd.Dir = probeDir
	// -buildvcs=false: a clone owned by a user, built by root, fails git's
	// ownership check. The caller's other GOFLAGS stay.
	goflags := strings.TrimSpace(os.Getenv("GOFLAGS") + " -buildvcs=false")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS="+goflags,
		"GOOS=linux", "GOARCH="+runtime.GOARCH)
	if output, err := cmd.CombinedOutput(); err != nil {
		return nil, &probeBuildError{dir: probeDir, err: err, output: output}
	}
	return os.ReadFile(out)
}
