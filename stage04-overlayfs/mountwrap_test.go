package main

// The tests in this package that mount from the test process itself
// (overlay_test.go, volumes_test.go, images_test.go, ...) would, in the
// host's mount namespace, mount on the host: a wrong answer to the volume
// exercise (a target resolved through the image's symlink) would bind-mount
// over the host's /etc. So, before any test (and before labtest.Main
// builds the binary), the test binary re-executes itself as a child in a
// new mount namespace (clone(2) CLONE_NEWNS) whose / it makes rprivate, as
// the runtime does for a container: nothing mounted there propagates to
// the host, and whatever a failed test leaves goes with the namespace. The
// leftover checks read /proc/self/mountinfo, which is that namespace's,
// where the tests' mounts are. A later stage adds its own namespaces here
// (stage05's netwrap_test.go: the network).

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"boxlab/lab/labtest"
)

// testNamespacesEnv marks the re-executed test binary.
const testNamespacesEnv = "BOXLAB_TEST_NAMESPACES"

// testNamespaces is what the test binary is re-executed in: the clone
// flags, variables for the child, and what the child does before the tests.
var testNamespaces = struct {
	cloneflags uintptr
	env        []string
	setup      []func() error
}{cloneflags: syscall.CLONE_NEWNS, setup: []func() error{makeTestMountsPrivate}}

// addTestNamespace adds a namespace to the re-exec, from a package-level
// variable's initialiser: those run before any init function.
func addTestNamespace(flag uintptr, env string, setup func() error) bool {
	testNamespaces.cloneflags |= flag
	testNamespaces.env = append(testNamespaces.env, env)
	testNamespaces.setup = append(testNamespaces.setup, setup)
	return true
}

func init() {
	if os.Geteuid() != 0 {
		return // no mount from the test process without root: nothing to wrap
	}
	if os.Getenv(testNamespacesEnv) != "" {
		for _, setup := range testNamespaces.setup {
			if err := setup(); err != nil {
				fmt.Fprintln(os.Stderr, "test namespaces:", err)
				os.Exit(1)
			}
		}
		return
	}
	os.Exit(reexecInTestNamespaces())
}

// makeTestMountsPrivate makes every mount of the new namespace private
// (mount --make-rprivate /): a copy of the host's table whose changes no
// longer propagate back. Not pivot_root.go's makeMountsPrivate: that is an
// exercise, and the tests must be safe whatever the student's answer.
func makeTestMountsPrivate() error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("mount --make-rprivate /: %w", err)
	}
	return nil
}

// reexecInTestNamespaces runs this test binary again, with the same
// arguments, in the namespaces, and returns its exit code.
func reexecInTestNamespaces() int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test namespaces:", err)
		return 1
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(append(os.Environ(), testNamespacesEnv+"=1"), testNamespaces.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: testNamespaces.cloneflags, Pdeathsig: syscall.SIGKILL}
	// The child gets the terminal's signals itself (same process group);
	// go test's own kill and an ordinary kill of this pid are passed on.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "test namespaces: re-exec the tests:", err)
		return 1
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if err != nil && cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "test namespaces:", err)
		return 1
	}
	return cmd.ProcessState.ExitCode()
}

// The tests run in a mount namespace that is not the host's, with no
// shared mount: what they mount cannot reach the host. (Without the
// re-exec this fails: the test binary is in the host's namespace.)
func TestTestsRunInPrivateMountNamespace(t *testing.T) {
	labtest.RequireRoot(t)
	self, err := os.Readlink("/proc/self/ns/mnt")
	require.NoError(t, err)
	host, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", os.Getppid())) // the waiting parent's
	require.NoError(t, err)
	assert.NotEqual(t, host, self, "the test binary shares the host's mount namespace")
	data, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		fields := strings.Fields(line)
		for _, f := range fields[6:] {
			if f == "-" {
				break
			}
			assert.NotContains(t, f, "shared:", "mount %s still propagates: %s", fields[4], line)
		}
	}
}
