package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

// chroot(2) leaves the working directory where it was: the runtime must
// step inside the new root, or the command starts outside its own jail.
func TestWorkingDirectoryIsRoot(t *testing.T) {
	labtest.RequireRoot(t)
	cmd := labtest.Command(t, "run", labtest.Rootfs(t), "/bin/probe", "env")
	cmd.Dir = t.TempDir() // a directory that does not exist inside the image
	r := labtest.Wait(t, cmd)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "/", r.Facts().Get("cwd"))
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
		{"killed by SIGKILL", []string{"/bin/probe", "kill-self", "KILL"}, 128 + 9},
		{"killed by SIGTERM", []string{"/bin/probe", "kill-self", "TERM"}, 128 + 15},
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
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := labtest.Run(t, c.args...)
			assert.Equal(t, 125, r.Code, r)
			assert.Contains(t, r.Stderr, c.want)
			assert.Empty(t, r.Stdout)
		})
	}
	_, err := os.Stat(missing)
	assert.True(t, os.IsNotExist(err), "a missing rootfs must not be created")
}

func TestNotRootRefused(t *testing.T) {
	labtest.RequireRoot(t)
	r := labtest.RunAs(t, 65534, 65534, "run", labtest.Rootfs(t), "/bin/probe", "ids")
	assert.Equal(t, 125, r.Code, r)
	assert.Contains(t, r.Stderr, "needs root")
	assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line: %q", r.Stderr)
	assert.Empty(t, r.Stdout)
}

// A signal sent to the runtime reaches the command, and the runtime exits
// with the command's code.
func TestSignalsForwarded(t *testing.T) {
	labtest.RequireRoot(t)
	cmd := labtest.Command(t, "run", labtest.Rootfs(t), "/bin/probe", "wait")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan(), "probe printed nothing")
	require.Equal(t, "waiting=true", lines.Text())

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	var rest []string
	for lines.Scan() {
		rest = append(rest, lines.Text())
	}
	err = cmd.Wait()
	assert.Contains(t, rest, "signal=SIGTERM")
	assert.Equal(t, 143, cmd.ProcessState.ExitCode(), "exit error: %v", err)
}

// What chroot does not isolate: the process, host name and network
// namespaces are the host's. This is the stage's known weakness.
func TestNamespacesAreTheHosts(t *testing.T) {
	labtest.RequireRoot(t)
	rootfs := labtest.RootfsCopy(t)
	// chroot gives no /proc: mount one by hand inside, as the walkthrough does.
	r := labtest.Run(t, "run", rootfs, "sh", "-c",
		"mount -t proc proc /proc && /bin/probe ns; /bin/probe hostname; umount /proc")
	require.Equal(t, 0, r.Code, r)
	f := r.Facts()
	for _, ns := range []string{"pid", "uts", "net", "ipc", "mnt"} {
		assert.Equal(t, labtest.HostNamespace(t, ns), f.Get("ns."+ns), "%s namespace", ns)
	}
	host, err := os.Hostname()
	require.NoError(t, err)
	assert.Equal(t, host, f.Get("hostname"))
}

// The classic escape: root inside a chroot makes a new chroot below the
// current directory and climbs out with "..". Stage02's pivot_root ends it.
func TestChrootEscapeSucceeds(t *testing.T) {
	labtest.RequireRoot(t)
	marker := filepath.Join(t.TempDir(), "outside")
	require.NoError(t, os.WriteFile(marker, []byte("host"), 0o644))
	rootfs := labtest.RootfsCopy(t)

	r := labtest.Run(t, "run", rootfs, "/bin/probe", "escape", "--check", marker)
	require.Equal(t, 0, r.Code, r)
	f := r.Facts()
	assert.Equal(t, "true", f.Get("escaped"), r)
	assert.Equal(t, marker+" seen=true", f.Get("check"), "the host's %s is reachable after the escape", marker)
	entries, err := os.ReadDir(rootfs)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), "probe-escape", "the escape's temporary directory is removed")
	}
}

func TestExplainNarrates(t *testing.T) {
	labtest.RequireRoot(t)
	rootfs := labtest.Rootfs(t)
	r := labtest.Run(t, "run", "--explain", rootfs, "/bin/probe", "exit", "0")
	require.Equal(t, 0, r.Code, r)
	assert.Contains(t, r.Stderr, "$ chroot "+rootfs)
	assert.Contains(t, r.Stderr, "$ cd /")
	assert.Contains(t, r.Stderr, "execve(")
}
