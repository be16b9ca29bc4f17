// Package labtest is the test kit every stage's tests use: it builds the
// stage binary once, provides the test image, runs the binary the way a
// student would, parses what the probe prints, and checks after each test
// that nothing was left behind.
package labtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"boxlab/lab/internal/gotool"
)

// binary is the stage binary built by Main.
var binary string

// Main is a stage's TestMain: it builds the stage's binary once for the
// whole test binary, runs the tests, and removes the build.
//
//	func TestMain(m *testing.M) { labtest.Main(m) }
func Main(m *testing.M) {
	os.Exit(mainCode(m))
}

func mainCode(m *testing.M) int {
	if path := os.Getenv(StageBinaryEnv); path != "" { // prebuilt: see prebuilt.go
		return mainPrebuilt(m, path)
	}
	dir, err := os.MkdirTemp("", "labtest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "labtest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Other users run the binary in rootless tests: let them reach it.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "labtest:", err)
		return 1
	}
	if binary, err = buildStage(dir); err != nil {
		fmt.Fprintln(os.Stderr, "labtest:", err)
		return 1
	}
	return m.Run()
}

// buildStage compiles the package in the current directory (the stage's
// module, whose tests are running) into dir, named after the directory.
func buildStage(dir string) (string, error) {
	src, err := os.Getwd()
	if err != nil {
		return "", err
	}
	goCmd, err := gotool.Path()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, filepath.Base(src))
	cmd := exec.Command(goCmd, "build", "-o", out, ".")
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %v\n%s", src, err, msg)
	}
	return out, nil
}

// Binary is the path of the stage binary under test.
func Binary() string { return binary }

// Result is how a run of the stage binary ended.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Facts parses the probe's key=value lines from stdout.
func (r Result) Facts() Facts { return ParseFacts(r.Stdout) }

// String describes the run for failure messages.
func (r Result) String() string {
	return fmt.Sprintf("exit code %d\n--- stdout\n%s--- stderr\n%s", r.Code, r.Stdout, r.Stderr)
}

// Timeout bounds every run: a hung container fails its test instead of
// hanging the suite.
const Timeout = 2 * time.Minute

// Command prepares a run of the stage binary with args. Use it instead of
// Run when the test needs stdin, signals or another user. The leftover
// check is armed for the test.
func Command(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	if binary == "" {
		t.Fatal("labtest: the stage binary is not built: call labtest.Main(m) from TestMain")
	}
	CheckLeftovers(t)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, binary, args...)
	// A timeout kills the runtime with SIGKILL, leaving what it made: that
	// is exactly what the leftover check then reports.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	return cmd
}

// Run runs the stage binary with args to completion and returns what it
// printed and its exit code.
func Run(t testing.TB, args ...string) Result {
	t.Helper()
	return Wait(t, Command(t, args...))
}

// Wait runs cmd (from Command) to completion, capturing its output unless
// the test already set Stdout or Stderr.
func Wait(t testing.TB, cmd *exec.Cmd) Result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("labtest: run %s: %v", strings.Join(cmd.Args, " "), err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.Code = 128 + int(ws.Signal())
	}
	return r
}

// RunAs runs the stage binary as another user, for the tests of what an
// unprivileged user may and may not do.
func RunAs(t testing.TB, uid, gid uint32, args ...string) Result {
	t.Helper()
	RequireRoot(t)
	cmd := Command(t, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	cmd.Dir = "/"
	return Wait(t, cmd)
}

// RequireRoot skips a test that needs root when it does not have it.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: run the lab's tests with 'sudo ./lab.sh test'")
	}
}

var onceByTest sync.Map

// once runs f the first time it is called for t, and never again for t.
func once(t testing.TB, key string, f func()) {
	if _, loaded := onceByTest.LoadOrStore(fmt.Sprintf("%p/%s", t, key), true); !loaded {
		f()
	}
}

// HostNamespace is the inode number of the test process's namespace of the
// given kind (uts, pid, mnt, ...), as the probe prints it for its own.
func HostNamespace(t testing.TB, kind string) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/"+kind, &st); err != nil {
		t.Fatalf("labtest: stat /proc/self/ns/%s: %v", kind, err)
	}
	return fmt.Sprint(st.Ino)
}
