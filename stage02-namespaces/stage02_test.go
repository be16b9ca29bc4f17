package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"boxlab/lab/labtest"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// The container's / is the rootfs: it sees the image's files.
func TestRootIsTheImage(t *testing.T) {
	labtest.RequireRoot(t)
	rootfs := labtest.Rootfs(t)
	r := labtest.Run(t, "run", rootfs, "/bin/probe", "file", "read", "/etc/hostname")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "boxlab", strings.TrimSpace(r.Facts().Get("content")))

	r = labtest.Run(t, "run", rootfs, "/bin/ls", "-1a", "/")
	require.Equal(t, 0, r.Code, r)
	want, err := os.ReadDir(rootfs)
	require.NoError(t, err)
	var names []string
	for _, e := range want {
		names = append(names, e.Name())
	}
	got := strings.Fields(r.Stdout)
	assert.ElementsMatch(t, append([]string{".", ".."}, names...), got, "ls / inside shows the rootfs")
}

// A file on the host, outside the rootfs, cannot be named from inside.
func TestHostFileInvisible(t *testing.T) {
	labtest.RequireRoot(t)
	marker := filepath.Join(t.TempDir(), "host-marker")
	require.NoError(t, os.WriteFile(marker, []byte("host"), 0o644))

	r := labtest.Run(t, "run", labtest.Rootfs(t), "/bin/probe", "file", "stat", marker)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "false", r.Facts().Get("exists"), "the host's %s is visible inside the chroot", marker)
}

func TestDefaultCommandIsShell(t *testing.T) {
	labtest.RequireRoot(t)
	cmd := labtest.Command(t, "run", labtest.Rootfs(t))
	cmd.Stdin = strings.NewReader("echo shell-ran; exit 7\n")
	r := labtest.Wait(t, cmd)
	assert.Equal(t, 7, r.Code, r)
	assert.Contains(t, r.Stdout, "shell-ran")
}

func TestStdioPassedThrough(t *testing.T) {
	labtest.RequireRoot(t)
	cmd := labtest.Command(t, "run", labtest.Rootfs(t), "sh", "-c", "read x; echo got=$x; echo oops >&2")
	cmd.Stdin = strings.NewReader("hello\n")
	r := labtest.Wait(t, cmd)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "hello", r.Facts().Get("got"))
	assert.Equal(t, "oops\n", r.Stderr)
}

// Exit codes follow docker: the command's own, 128+N on signal N, 126 not
// executable, 127 not found.
func TestExitCodes(t *testing.T) {
	labtest.RequireRoot(t)
	rootfs := labtest.RootfsCopy(t)
	require.NoError(t, os.WriteFile(filepath.Join(rootfs, "not-executable"), []byte("#!/bin/sh\n"), 0o644))
	cases := []struct {
		name string
		cmd  []string
		want int
	}{
		{"success", []string{"/bin/probe", "exit", "0"}, 0},
		{"own code", []string{"/bin/probe", "exit", "42"}, 42},
		// PID 1 is immune to its own signals (pid_namespaces(7)): the probe
		// survives and says so with exit 1. Run it as PID 2 under sh.
		{"PID 1 cannot kill itself", []string{"/bin/probe", "kill-self", "KILL"}, 1},
		{"killed by SIGKILL", []string{"sh", "-c", "/bin/probe kill-self KILL; exit $?"}, 128 + 9},
		{"killed by SIGTERM", []string{"sh", "-c", "/bin/probe kill-self TERM; exit $?"}, 128 + 15},
		{"not found", []string{"no-such-command"}, 127},
		{"not found by path", []string{"/bin/no-such-command"}, 127},
		{"not executable", []string{"/not-executable"}, 126},
		{"a directory", []string{"/etc"}, 126},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := labtest.Run(t, append([]string{"run", rootfs}, c.cmd...)...)
			assert.Equal(t, c.want, r.Code, r)
		})
	}
}

// run --help (and -h) prints what --help prints, the run flags with it,
// and exits 0.
func TestRunHelp(t *testing.T) {
	want := labtest.Run(t, "--help")
	require.Equal(t, 0, want.Code, want)
	require.Contains(t, want.Stdout, "--explain")
	require.Empty(t, want.Stderr)
	for _, flag := range []string{"--help", "-h"} {
		r := labtest.Run(t, "run", flag)
		assert.Equal(t, 0, r.Code, r)
		assert.Equal(t, want.Stdout, r.Stdout, "run %s", flag)
		assert.Empty(t, r.Stderr, "run %s", flag)
	}
}

// Bad input is refused with one line that says what to do, exit 125, and
// nothing is created.
func TestBadInput(t *testing.T) {
	labtest.RequireRoot(t)
	file := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	missing := filepath.Join(t.TempDir(), "missing")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no rootfs", []string{"run"}, "missing ROOTFS"},
		{"missing rootfs", []string{"run", missing, "/bin/sh"}, "does not exist"},
		{"rootfs is a file", []string{"run", file, "/bin/sh"}, "not a directory"},
		{"unknown flag", []string{"run", "--no-such-flag", labtest.Rootfs(t)}, "unknown flag"},
		{"unknown command", []string{"walk"}, "unknown command"},
		{"bad hostname", []string{"run", "--hostname", "under_score", labtest.Rootfs(t)}, "--hostname"},
		{"hostname with a dot", []string{"run", "--hostname", "a.b", labtest.Rootfs(t)}, "--hostname"},
		{"hostname starts with -", []string{"run", "--hostname=-x", labtest.Rootfs(t)}, "--hostname"},
		{"hostname too long", []string{"run", "--hostname", strings.Repeat("a", 64), labtest.Rootfs(t)}, "--hostname"},
		{"bad hostname before missing rootfs", []string{"run", "--hostname", "a b", missing}, "--hostname"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := labtest.Run(t, c.args...)
			assert.Equal(t, 125, r.Code, r)
			assert.Contains(t, r.Stderr, c.want)
			if c.args[0] == "run" {
				assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line: %q", r.Stderr)
			}
			assert.Empty(t, r.Stdout)
		})
	}
	assertNoHostMountsUnder(t, labtest.Rootfs(t))
	_, err := os.Stat(missing)
	assert.True(t, os.IsNotExist(err), "a missing rootfs must not be created")
}

// Without --userns only root may create namespaces: refused before
// anything is made, with the way out in the message.
func TestNotRootRefused(t *testing.T) {
	labtest.RequireRoot(t)
	r := labtest.RunAs(t, 65534, 65534, "run", labtest.Rootfs(t), "/bin/probe", "ids")
	assert.Equal(t, 125, r.Code, r)
	assert.Contains(t, r.Stderr, "need root")
	assert.Contains(t, r.Stderr, "--userns")
	assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line: %q", r.Stderr)
	assert.Empty(t, r.Stdout)
}

// A signal sent to the runtime reaches the command, and the runtime exits
// with the command's code. The command is PID 1, which only gets the
// signals it handles: probe wait handles both.
func TestSignalsForwarded(t *testing.T) {
	labtest.RequireRoot(t)
	for _, c := range []struct {
		sig  syscall.Signal
		name string
		code int
	}{{syscall.SIGTERM, "SIGTERM", 143}, {syscall.SIGINT, "SIGINT", 130}} {
		t.Run(c.name, func(t *testing.T) {
			cmd := labtest.Command(t, "run", labtest.Rootfs(t), "/bin/probe", "wait")
			lines := startAndAwait(t, cmd, "waiting=true")
			require.NoError(t, cmd.Process.Signal(c.sig))
			var rest []string
			for lines.Scan() {
				rest = append(rest, lines.Text())
			}
			err := cmd.Wait()
			assert.Contains(t, rest, "signal="+c.name)
			assert.Equal(t, c.code, cmd.ProcessState.ExitCode(), "exit error: %v", err)
		})
	}
}

// The container's init killed from the host by a signal it cannot catch:
// the runtime reports 128+9, as docker does.
func TestKilledFromOutside(t *testing.T) {
	labtest.RequireRoot(t)
	cmd := labtest.Command(t, "run", labtest.Rootfs(t), "/bin/probe", "wait")
	startAndAwait(t, cmd, "waiting=true")
	initPID := childOf(t, cmd.Process.Pid)
	require.NoError(t, syscall.Kill(initPID, syscall.SIGKILL))
	_ = cmd.Wait()
	assert.Equal(t, 128+9, cmd.ProcessState.ExitCode())
}

// childOf is the only child of pid, from /proc/PID/task/*/children.
func childOf(t *testing.T, pid int) int {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	require.NoError(t, err)
	var kids []string
	for _, task := range tasks {
		data, err := os.ReadFile(task)
		require.NoError(t, err)
		kids = append(kids, strings.Fields(string(data))...)
	}
	require.Len(t, kids, 1, "children of the runtime")
	var child int
	_, err = fmt.Sscan(kids[0], &child)
	require.NoError(t, err)
	return child
}

// startAndAwait starts cmd and reads its stdout up to the line want.
func startAndAwait(t *testing.T, cmd *exec.Cmd, want string) *bufio.Scanner {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if lines.Text() == want {
			return lines
		}
	}
	t.Fatalf("the container never printed %q", want)
	return nil
}

// The namespaces the lesson adds differ from the host's; cgroup and time
// (stage03's and nobody's) and, without --userns, user are the host's.
func TestNamespacesDiffer(t *testing.T) {
	labtest.RequireRoot(t)
	r := labtest.Run(t, "run", labtest.Rootfs(t), "/bin/probe", "ns")
	require.Equal(t, 0, r.Code, r)
	f := r.Facts()
	for _, ns := range []string{"uts", "pid", "mnt", "ipc", "net"} {
		require.NotEqual(t, "none", f.Get("ns."+ns), "ns.%s: /proc is mounted inside", ns)
		assert.NotEqual(t, labtest.HostNamespace(t, ns), f.Get("ns."+ns), "%s namespace is new", ns)
	}
	for _, ns := range []string{"user", "cgroup", "time"} {
		assert.Equal(t, labtest.HostNamespace(t, ns), f.Get("ns."+ns), "%s namespace is the host's", ns)
	}
}

// The command is PID 1, and /proc shows the container's processes only.
func TestPIDNamespace(t *testing.T) {
	labtest.RequireRoot(t)
	r := labtest.Run(t, "run", labtest.Rootfs(t), "/bin/probe", "ids")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "1", r.Facts().Get("pid"))
	assert.Equal(t, "0", r.Facts().Get("ppid"), "PID 1's parent is outside the namespace")

	r = labtest.Run(t, "run", labtest.Rootfs(t), "sh", "-c", "/bin/probe ps; true")
	require.Equal(t, 0, r.Code, r)
	f := r.Facts()
	require.Equal(t, "2", f.Get("count"), "only sh and probe: %v", f.All("proc"))
	// The probe's number is not 2: the runtime's threads used some before
	// it became sh, and thread ids come from the same namespace.
	assert.Equal(t, "1 sh", f.All("proc")[0])
	assert.Regexp(t, `^\d+ probe$`, f.All("proc")[1])
}

func TestHostname(t *testing.T) {
	labtest.RequireRoot(t)
	host, err := os.Hostname()
	require.NoError(t, err)

	r := labtest.Run(t, "run", "--hostname", "box-test-1", labtest.Rootfs(t), "/bin/probe", "hostname")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "box-test-1", r.Facts().Get("hostname"))

	r = labtest.Run(t, "run", labtest.Rootfs(t), "/bin/probe", "hostname")
	require.Equal(t, 0, r.Code, r)
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{12}$`), r.Facts().Get("hostname"), "a generated short id")

	after, err := os.Hostname()
	require.NoError(t, err)
	assert.Equal(t, host, after, "the host's name never changes")
}

// The root is the image after pivot_root: the only mounts inside are the
// container's own, the host's are gone, and none of them show on the host.
func TestMountsInside(t *testing.T) {
	labtest.RequireRoot(t)
	r := labtest.Run(t, "run", labtest.Rootfs(t), "/bin/probe", "mounts")
	require.Equal(t, 0, r.Code, r)
	options := map[string]string{}
	var points []string
	for _, m := range r.Facts().All("mount") {
		f := strings.Fields(m)
		require.Len(t, f, 3, m)
		points = append(points, f[0])
		options[f[0]] = f[1] + " " + f[2]
	}
	assert.Equal(t, []string{"/", "/proc", "/sys", "/dev", "/dev/null", "/dev/zero", "/dev/full",
		"/dev/random", "/dev/urandom", "/dev/tty", "/dev/pts", "/dev/shm"}, points)
	for _, opt := range []string{"nosuid", "nodev", "noexec"} {
		assert.Contains(t, options["/proc"], opt, "/proc")
	}
	assert.Regexp(t, `^sysfs ro,`, options["/sys"])
	assert.Regexp(t, `^tmpfs `, options["/dev"])
	assert.Regexp(t, `^devpts `, options["/dev/pts"])
	assert.Equal(t, filepath.Clean(labtest.Rootfs(t)), r.Facts().Get("root"), "/ is the rootfs")
	assertNoHostMountsUnder(t, labtest.Rootfs(t))
}

// The minimal /dev: real device nodes, a private pty instance, /dev/shm,
// and the links to /proc/self/fd.
func TestDev(t *testing.T) {
	labtest.RequireRoot(t)
	r := labtest.Run(t, "run", labtest.Rootfs(t), "sh", "-c",
		`for d in null zero full random urandom tty pts/ptmx; do /bin/probe file stat /dev/$d | grep type=; done
		 echo fd=$(readlink /dev/fd); echo stdin=$(readlink /dev/stdin); echo ptmx=$(readlink /dev/ptmx)
		 echo hi > /dev/null && echo null-ok=yes
		 /bin/probe file write /dev/shm/x data
		 echo head=$(head -c 4 /dev/zero | od -An -tx1 | tr -d ' ')`)
	require.Equal(t, 0, r.Code, r)
	f := r.Facts()
	assert.Equal(t, []string{"char", "char", "char", "char", "char", "char", "char"}, f.All("type"))
	assert.Equal(t, "/proc/self/fd", f.Get("fd"))
	assert.Equal(t, "/proc/self/fd/0", f.Get("stdin"))
	assert.Equal(t, "pts/ptmx", f.Get("ptmx"))
	assert.Equal(t, "yes", f.Get("null-ok"))
	assert.Equal(t, "4", f.Get("written"), "/dev/shm is writable")
	assert.Equal(t, "00000000", f.Get("head"))
}

// A mount made inside never shows in the host's mount table, while the
// container runs or after.
func TestMountInvisibleOnHost(t *testing.T) {
	labtest.RequireRoot(t)
	rootfs := labtest.RootfsCopy(t)
	cmd := labtest.Command(t, "run", rootfs, "sh", "-c",
		"/bin/probe mount tmpfs /mnt/inside && exec /bin/probe wait")
	lines := startAndAwait(t, cmd, "waiting=true")
	assertNoHostMountsUnder(t, rootfs)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	for lines.Scan() {
	}
	_ = cmd.Wait()
	assert.Equal(t, 143, cmd.ProcessState.ExitCode())
	assertNoHostMountsUnder(t, rootfs)
}

// A host whose / is shared (systemd's default) is where making the
// container's mounts private matters: the stage runs in a mount namespace
// of its own whose every mount is shared, the rootfs a shared mount of its
// own there, and a mount made in the container never reaches that
// namespace.
func TestMountsStayInsideWhenHostShares(t *testing.T) {
	labtest.RequireRoot(t)
	rootfs := labtest.RootfsCopy(t)
	cmd := mountNamespaceCommand(t, "shared", `mount --bind "$ROOTFS" "$ROOTFS"`,
		"run", rootfs, "sh", "-c", "/bin/probe mount tmpfs /mnt/inside && exec /bin/probe wait")
	lines := startAndAwait(t, cmd, "waiting=true")
	outside := mountsOf(t, cmd.Process.Pid)
	require.Contains(t, outside["/"], "shared:", "the test's premise: / is shared where the stage runs")
	require.Contains(t, outside[filepath.Clean(rootfs)], "shared:", "the test's premise: the rootfs is a shared mount")
	for target, line := range outside {
		if strings.HasPrefix(target, filepath.Clean(rootfs)+"/") {
			t.Errorf("a mount made in the container reached the namespace the stage runs in: %s", line)
		}
	}
	assert.Equal(t, 1, strings.Count(mountinfoOf(t, cmd.Process.Pid), " "+filepath.Clean(rootfs)+" "),
		"only the test's own mount is on the rootfs outside the container")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	for lines.Scan() {
	}
	_ = cmd.Wait()
	assert.Equal(t, 143, cmd.ProcessState.ExitCode())
}

// What is mounted below the rootfs comes along into the container: the
// rootfs here has a tmpfs mounted on its /mnt (in a mount namespace the
// test makes, so the host never sees it).
func TestSubmountVisibleInside(t *testing.T) {
	labtest.RequireRoot(t)
	rootfs := labtest.RootfsCopy(t)
	cmd := mountNamespaceCommand(t, "private",
		`mount -t tmpfs boxlab-submount "$ROOTFS/mnt" && echo submount > "$ROOTFS/mnt/submount-marker"`,
		"run", rootfs, "/bin/probe", "file", "read", "/mnt/submount-marker")
	r := labtest.Wait(t, cmd)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "submount", strings.TrimSpace(r.Facts().Get("content")), "the rootfs's submount is visible inside")
	_, err := os.Stat(filepath.Join(rootfs, "mnt", "submount-marker"))
	assert.True(t, os.IsNotExist(err), "the submount stayed in the test's mount namespace")
}

// mountNamespaceCommand is labtest.Command for the stage binary run in a
// new mount namespace (unshare(1)) whose mounts are all made shared or
// private, after the shell commands setup ran there with $ROOTFS set to
// the argument after "run". The namespace's mounts are made private first
// either way: a copy of a shared mount stays in its peer group, so a
// namespace made "shared" straight from a host whose / is shared (the VM,
// systemd) would send the setup's own mounts back to the host. Shared
// again afterwards, they are peers only of each other.
func mountNamespaceCommand(t *testing.T, propagation, setup string, args ...string) *exec.Cmd {
	t.Helper()
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare(1) from util-linux is not installed: it makes the mount namespace this test runs the stage in")
	}
	cmd := labtest.Command(t, args...)
	cmd.Path = unshare
	if propagation == "shared" {
		setup = "mount --make-rshared /; " + setup
	}
	cmd.Args = append([]string{"unshare", "--mount", "--propagation", "private",
		"sh", "-ec", setup + `; exec "$0" "$@"`, labtest.Binary()}, args...)
	cmd.Env = append(os.Environ(), "ROOTFS="+args[1])
	return cmd
}

// mountsOf reads the mount table of process pid's mount namespace: each
// mount point's last line.
func mountsOf(t *testing.T, pid int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(mountinfoOf(t, pid), "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			out[f[4]] = line
		}
	}
	return out
}

func mountinfoOf(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	require.NoError(t, err)
	return string(data)
}

// A run that fails halfway through its setup leaves no mount on the host:
// every mount was made in the container's own mount namespace.
func TestFailedSetupLeavesNothing(t *testing.T) {
	labtest.RequireRoot(t)
	rootfs := labtest.RootfsCopy(t)
	require.NoError(t, os.Remove(filepath.Join(rootfs, "dev")))
	require.NoError(t, os.Symlink("/tmp", filepath.Join(rootfs, "dev")))
	r := labtest.Run(t, "run", rootfs, "/bin/probe", "ids")
	assert.Equal(t, 125, r.Code, r)
	assert.Contains(t, r.Stderr, "symlink")
	assert.Empty(t, r.Stdout)
	assertNoHostMountsUnder(t, rootfs)
}

// assertNoHostMountsUnder fails if the host's mount table has a mount at
// or below dir.
func assertNoHostMountsUnder(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	dir = filepath.Clean(dir)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			t.Errorf("host mount under %s: %s", dir, line)
		}
	}
}

// SysV message queues live in the IPC namespace: the host's are invisible
// inside, and the container's never reach the host.
func TestIPCIsolated(t *testing.T) {
	labtest.RequireRoot(t)
	hostKey := 0x62780000 + os.Getpid()&0xffff
	id, err := msgget(hostKey, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	require.NoError(t, err, "create a queue on the host")
	t.Cleanup(func() { _, _, _ = unix.Syscall(unix.SYS_MSGCTL, uintptr(id), unix.IPC_RMID, 0) })

	key := fmt.Sprint(hostKey)
	r := labtest.Run(t, "run", labtest.Rootfs(t), "/bin/probe", "msgq", "check", key)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "false", r.Facts().Get("exists"), "the host's queue %s is visible inside", key)

	inner := hostKey + 1
	_, err = msgget(inner, 0)
	require.ErrorIs(t, err, unix.ENOENT, "key %d is free on the host", inner)
	r = labtest.Run(t, "run", labtest.Rootfs(t), "sh", "-c",
		fmt.Sprintf("/bin/probe msgq create %d && /bin/probe msgq check %d", inner, inner))
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "true", r.Facts().Get("exists"), "the queue exists inside")
	_, err = msgget(inner, 0)
	assert.ErrorIs(t, err, unix.ENOENT, "the container's queue %d shows on the host", inner)
}

func msgget(key, flags int) (int, error) {
	id, _, errno := unix.Syscall(unix.SYS_MSGGET, uintptr(key), uintptr(flags), 0)
	if errno != 0 {
		return -1, errno
	}
	return int(id), nil
}

// A new network namespace has only lo, and the runtime brings it up.
func TestOnlyLoopback(t *testing.T) {
	labtest.RequireRoot(t)
	r := labtest.Run(t, "run", labtest.Rootfs(t), "/bin/probe", "ifaces")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "lo", r.Facts().Get("ifaces"))
	assert.Regexp(t, `^lo state=up .*addrs=127\.0\.0\.1/8`, r.Facts().Get("iface"))
}

// With --userns, root inside is an unprivileged range outside: a file the
// host's root owns cannot be written, though the process is uid 0.
func TestUserNamespace(t *testing.T) {
	labtest.RequireRoot(t)
	r := labtest.Run(t, "run", "--userns", labtest.Rootfs(t), "sh", "-c",
		"/bin/probe ids; /bin/probe ns; /bin/probe file writable /etc/hostname")
	require.Equal(t, 0, r.Code, r)
	f := r.Facts()
	uids, gids := idMaps()
	assert.Equal(t, "0", f.Get("uid"))
	assert.Equal(t, "0", f.Get("gid"))
	assert.Equal(t, formatMap(uids), f.Get("uid_map"))
	assert.Equal(t, formatMap(gids), f.Get("gid_map"))
	assert.NotEqual(t, "0 0 4294967295", f.Get("uid_map"))
	for _, ns := range []string{"user", "uts", "pid", "mnt", "ipc", "net"} {
		assert.NotEqual(t, labtest.HostNamespace(t, ns), f.Get("ns."+ns), "%s namespace is new", ns)
	}
	assert.Equal(t, labtest.HostNamespace(t, "cgroup"), f.Get("ns.cgroup"))
	assert.Equal(t, "false", f.Get("writable"), "root inside may not write the host root's /etc/hostname")
}

// Rootless: a user without privilege runs a container with --userns; its
// own uid is root inside, and nothing else is mapped.
func TestRootless(t *testing.T) {
	labtest.RequireRoot(t)
	requireUnprivilegedUserns(t)
	r := labtest.RunAs(t, 65534, 65534, "run", "--userns", labtest.Rootfs(t), "sh", "-c",
		"/bin/probe ids; /bin/probe ns; /bin/probe hostname; /bin/probe ifaces")
	require.Equal(t, 0, r.Code, r)
	f := r.Facts()
	assert.Equal(t, "0", f.Get("uid"))
	assert.Equal(t, "0 65534 1", f.Get("uid_map"))
	assert.Equal(t, "0 65534 1", f.Get("gid_map"))
	assert.Equal(t, "deny", f.Get("setgroups"))
	for _, ns := range []string{"user", "uts", "pid", "mnt", "ipc", "net"} {
		assert.NotEqual(t, labtest.HostNamespace(t, ns), f.Get("ns."+ns), "%s namespace is new", ns)
	}
	assert.Regexp(t, `^[0-9a-f]{12}$`, f.Get("hostname"))
	assert.Regexp(t, `^lo state=up `, f.Get("iface"))
}

// requireUnprivilegedUserns skips when the kernel keeps user namespaces
// from users without privilege.
func requireUnprivilegedUserns(t *testing.T) {
	for file, off := range map[string]string{
		"/proc/sys/kernel/unprivileged_userns_clone":             "0",
		"/proc/sys/user/max_user_namespaces":                     "0",
		"/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1",
	} {
		if data, err := os.ReadFile(file); err == nil && strings.TrimSpace(string(data)) == off {
			t.Skipf("unprivileged user namespaces are disabled (%s is %s): "+
				"'sudo sysctl -w %s=%s' enables them", file, off,
				strings.ReplaceAll(strings.TrimPrefix(file, "/proc/sys/"), "/", "."),
				map[string]string{"0": "1", "1": "0"}[off])
		}
	}
}

// The stage01 escape fails: after pivot_root and the old root's unmount,
// climbing ".." from outside a nested chroot ends at the container's root.
func TestChrootEscapeFails(t *testing.T) {
	labtest.RequireRoot(t)
	marker := filepath.Join(t.TempDir(), "outside")
	require.NoError(t, os.WriteFile(marker, []byte("host"), 0o644))
	rootfs := labtest.RootfsCopy(t)

	r := labtest.Run(t, "run", rootfs, "/bin/probe", "escape", "--check", marker)
	require.Equal(t, 0, r.Code, r)
	f := r.Facts()
	assert.Equal(t, "false", f.Get("escaped"), r)
	assert.Equal(t, f.Get("root_before"), f.Get("root_after"), "the root did not move")
	assert.Equal(t, marker+" seen=false", f.Get("check"), "the host's %s is out of reach", marker)
	entries, err := os.ReadDir(rootfs)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), "probe-escape", "the escape's temporary directory is removed")
	}
}

// A descriptor the runtime inherits is not a way out: the shell's
// `7</etc` (here fd 7 on a host directory, through ExtraFiles) must not
// reach the command, or /proc/self/fd/7 leads back to the host's files
// past pivot_root (CVE-2024-21626's class).
func TestInheritedFdClosed(t *testing.T) {
	labtest.RequireRoot(t)
	hostDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(hostDir, "host-secret"), []byte("host"), 0o644))
	dir, err := os.Open(hostDir)
	require.NoError(t, err)
	defer dir.Close()
	withFd7 := func(args ...string) labtest.Result {
		cmd := labtest.Command(t, args...)
		cmd.ExtraFiles = []*os.File{nil, nil, nil, nil, dir} // fd 3+4 = 7
		return labtest.Wait(t, cmd)
	}

	r := withFd7("run", labtest.Rootfs(t), "/bin/probe", "file", "read", "/proc/self/fd/7/host-secret")
	assert.NotEqual(t, "host", r.Facts().Get("content"), "the host's file read through fd 7: %v", r)
	assert.Equal(t, 1, r.Code, r)

	r = withFd7("run", labtest.Rootfs(t), "/bin/ls", "/proc/self/fd")
	require.Equal(t, 0, r.Code, r)
	assert.NotContains(t, strings.Fields(r.Stdout), "7", "fd 7 is open in the container")
}

func TestExplainNarrates(t *testing.T) {
	labtest.RequireRoot(t)
	rootfs := labtest.Rootfs(t)
	r := labtest.Run(t, "run", "--explain", rootfs, "/bin/probe", "exit", "0")
	require.Equal(t, 0, r.Code, r)
	for _, want := range []string{
		"clone(CLONE_NEWUTS|CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWIPC|CLONE_NEWNET)",
		"$ unshare --uts --pid --mount --ipc --net --fork",
		"pipe()", "handshake: write one byte",
		"$ hostname ", "$ ip link set lo up",
		"$ mount --make-rprivate /",
		"$ mount --rbind " + rootfs + " " + rootfs,
		"$ mount -t proc -o nosuid,noexec,nodev proc " + rootfs + "/proc",
		"$ mount -t sysfs -o ro,",
		"$ mount -t devpts -o ",
		"mount --bind /dev/null " + rootfs + "/dev/null",
		"$ cd " + rootfs + " && pivot_root . .",
		"$ umount -l .",
		"execve(",
	} {
		assert.Contains(t, r.Stderr, want)
	}
	assert.NotContains(t, r.Stderr, "CLONE_NEWCGROUP")

	r = labtest.Run(t, "run", "--explain", "--userns", rootfs, "/bin/probe", "exit", "0")
	require.Equal(t, 0, r.Code, r)
	assert.Contains(t, r.Stderr, "CLONE_NEWUSER|")
	assert.Contains(t, r.Stderr, "uid_map")
}

// The handshake: a child whose pipe closes without the byte leaves with
// 125 and one line, having set up nothing. And init refuses to run
// anywhere but as PID 1 of a new PID namespace.
func TestHandshake(t *testing.T) {
	labtest.RequireRoot(t)
	rootfs := labtest.Rootfs(t)
	for _, c := range []struct {
		name string
		send []byte
		want string
	}{{"closed without the byte", nil, "handshake"}, {"released outside run", []byte{0}, "PID 1"}} {
		t.Run(c.name, func(t *testing.T) {
			cmd := labtest.Command(t, "init", "--hostname", "abort", rootfs, "/bin/probe", "ids")
			r, w, err := os.Pipe()
			require.NoError(t, err)
			cmd.ExtraFiles = []*os.File{r}
			_, err = w.Write(c.send)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			res := labtest.Wait(t, cmd)
			r.Close()
			assert.Equal(t, 125, res.Code, res)
			assert.Contains(t, res.Stderr, c.want)
			assert.Equal(t, 1, strings.Count(res.Stderr, "\n"), "one line: %q", res.Stderr)
			assert.Empty(t, res.Stdout)
			assertNoHostMountsUnder(t, rootfs)
			host, _ := os.Hostname()
			assert.NotEqual(t, "abort", host)
		})
	}
}
