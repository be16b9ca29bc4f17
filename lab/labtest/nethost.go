package labtest

// Network tests never touch the real host's network namespace: the stage
// binary runs inside a throwaway network namespace that plays the host
// (its bridge, its nftables table, its ip_forward), made by NetworkHost.
//
// A process is born in the network namespace of the thread that clones it
// (clone(2)), so the binary must be started from a thread that has entered
// the throwaway namespace. An *exec.Cmd gives no such hook, and a test that
// forgot a special Start would run the binary on the real host. So
// NetHost.Command returns a command that is safe however it is started: it
// runs the test binary itself with a marker argument, and this package's
// init, before anything else happens in that process, enters the namespace
// on the main thread (setns(2)) and execve(2)s the stage binary from it.
// The new program has one thread, in the namespace, and the same pid,
// stdio, environment and extra files as the command the test prepared.

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// netnsExecArg marks a run of the test binary as the shim described above:
// TESTBINARY netnsExecArg NSPATH BINARY [ARG...].
const netnsExecArg = "-labtest.netns-exec"

// netnsExecFailed is the shim's exit code when it cannot enter the
// namespace: no stage exits with it.
const netnsExecFailed = 111

func init() {
	if len(os.Args) >= 4 && os.Args[1] == netnsExecArg {
		netnsExec(os.Args[2], os.Args[3], os.Args[3:])
	}
}

// netnsExec enters the namespace at nsPath and becomes binary. It never
// returns: on failure it exits before running anything.
func netnsExec(nsPath, binary string, argv []string) {
	runtime.LockOSThread() // init runs on the main thread; keep it there
	fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
	}
	if err == nil {
		err = unix.Exec(binary, argv, os.Environ())
	}
	fmt.Fprintf(os.Stderr, "labtest: run %s in network namespace %s: %v\n", binary, nsPath, err)
	os.Exit(netnsExecFailed)
}

// NetHost is a throwaway network namespace playing the host. It exists
// until the test ends; everything made in it (links, tables, sysctls)
// goes with it.
type NetHost struct {
	f *os.File // the namespace, held open
}

// NetworkHost makes a new, empty network namespace (only lo, down) for the
// test. The namespace is made by unshare(2) on a locked thread that then
// dies with its goroutine, so no thread of the test process stays in it.
func NetworkHost(t testing.TB) *NetHost {
	t.Helper()
	RequireRoot(t)
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: this thread leaves the host's namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("unshare(CLONE_NEWNET): %w", err)}
			return
		}
		f, err := os.Open("/proc/thread-self/ns/net")
		ch <- result{f, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("labtest: new network namespace: %v", r.err)
	}
	t.Cleanup(func() { r.f.Close() })
	return &NetHost{f: r.f}
}

// Fd is a file descriptor of the namespace, valid until the test ends
// (for setns(2), netlink.NewHandleAt, nftables.WithNetNSFd).
func (h *NetHost) Fd() int { return int(h.f.Fd()) }

// Path names the namespace for other processes: /proc/PID/fd/N.
func (h *NetHost) Path() string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), h.Fd()) }

// Command is labtest.Command for a run of the stage binary inside the
// namespace: use it with Wait, signals and pipes as usual.
func (h *NetHost) Command(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	cmd := Command(t, args...)
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("labtest: %v", err)
	}
	cmd.Path = self
	cmd.Args = append([]string{self, netnsExecArg, h.Path(), binary}, args...)
	return cmd
}

// Run runs the stage binary inside the namespace to completion.
func (h *NetHost) Run(t testing.TB, args ...string) Result {
	t.Helper()
	return Wait(t, h.Command(t, args...))
}
