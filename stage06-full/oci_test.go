package main

// Black-box tests of the lifecycle: create, start, state, kill, delete and
// run, on the test image, in real namespaces (they need root). Each test
// has its own --root; the leftover check (labtest.Command arms it) finds
// any mount or state entry a test leaves. Nothing waits by sleeping: the
// container's output is read to end of file, and its end is waited for
// on a pidfd.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"boxlab/lab/labtest"
	"boxlab/stage06-full/internal/initproc"
	"boxlab/stage06-full/internal/spec"
)

// testBundle writes a bundle whose root is the test image (read-only, so
// it is shared) and whose process is args.
func testBundle(t *testing.T, change func(s *specs.Spec), args ...string) string {
	t.Helper()
	s := spec.Default()
	s.Root.Path = labtest.Rootfs(t)
	s.Process.Args = args
	if change != nil {
		change(s)
	}
	dir := t.TempDir()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, spec.ConfigName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ctr is a container under test: its --root and ID, and its stdout and
// stderr, pipes that stay open until the container (not create) exits.
type ctr struct {
	t              *testing.T
	root, id       string
	stdout, stderr *os.File
	errBuf         *bytes.Buffer
	errDone        chan struct{}
}

func (c *ctr) oci(args ...string) labtest.Result {
	c.t.Helper()
	return labtest.Run(c.t, append([]string{"--root", c.root}, args...)...)
}

// createCtr runs `create`, the container's stdio on pipes of the test's.
func createCtr(t *testing.T, bundle string) (*ctr, labtest.Result) {
	t.Helper()
	labtest.RequireRoot(t)
	c := &ctr{t: t, root: t.TempDir(), id: "c1", errBuf: &bytes.Buffer{}, errDone: make(chan struct{})}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c.stdout, c.stderr = outR, errR
	t.Cleanup(func() { outR.Close(); errR.Close() })
	go func() { io.Copy(c.errBuf, errR); close(c.errDone) }()
	cmd := labtest.Command(t, "--root", c.root, "create", "--bundle", bundle, c.id)
	cmd.Stdout, cmd.Stderr = outW, errW
	r := labtest.Wait(t, cmd)
	outW.Close()
	errW.Close()
	// Whatever happens, the container goes when the test does.
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(c.root, c.id)); err == nil {
			c.oci("delete", "--force", c.id)
		}
	})
	return c, r
}

func (c *ctr) state() stateJSON {
	c.t.Helper()
	r := c.oci("state", c.id)
	var st stateJSON
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &st) != nil {
		c.t.Fatalf("state: %s", r)
	}
	return st
}

func (c *ctr) wantStatus(want string) stateJSON {
	c.t.Helper()
	st := c.state()
	if st.Status != want {
		c.t.Fatalf("status %q, want %q", st.Status, want)
	}
	return st
}

// waitExit waits, on a pidfd, for pid to exit.
func waitExit(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := initproc.WaitExit(fd, int(labtest.Timeout.Milliseconds())); err != nil {
		t.Fatalf("pid %d: %v", pid, err)
	}
}

func mustCreate(t *testing.T, bundle string) *ctr {
	t.Helper()
	c, r := createCtr(t, bundle)
	if r.Code != 0 {
		<-c.errDone
		t.Fatalf("create: %s %s", r, c.errBuf)
	}
	return c
}

// The lifecycle, with what the probe sees inside: the config's hostname,
// its own pid namespace (the command is pid 1), the working directory,
// exactly process.env, and the config's mounts.
func TestCreateStartStateDelete(t *testing.T) {
	b := testBundle(t, func(s *specs.Spec) {
		s.Hostname = "oci-test"
		s.Process.Cwd = "/etc"
		s.Process.Env = append(s.Process.Env, "GREETING=hello world")
	}, "sh", "-c", "probe env; exec probe facts")
	c := mustCreate(t, b)
	st := c.wantStatus("created")
	if st.Pid <= 0 || st.Bundle != b || st.Rootfs != labtest.Rootfs(t) {
		t.Errorf("state after create: %+v", st)
	}
	if r := c.oci("start", c.id); r.Code != 0 {
		t.Fatalf("start: %s", r)
	}
	out, _ := io.ReadAll(c.stdout) // to EOF: the container has closed it
	waitExit(t, st.Pid)
	f := labtest.ParseFacts(string(out))
	for k, want := range map[string]string{
		"hostname": "oci-test", "pid": "1", "cwd": "/etc",
		"env.GREETING": "hello world", "env.TERM": "xterm",
	} {
		if got := f.Get(k); got != want {
			t.Errorf("%s=%q, want %q\n%s", k, got, want, out)
		}
	}
	if f.Has("env.HOME") {
		t.Errorf("the environment is not exactly process.env: HOME=%s", f.Get("env.HOME"))
	}
	mounts := "\n" + strings.Join(f.All("mount"), "\n")
	for _, want := range []string{"/proc proc", "/dev tmpfs", "/dev/pts devpts", "/dev/mqueue mqueue", "/sys sysfs", "/proc/keys ", "/proc/sys proc ro"} {
		if !strings.Contains(mounts, "\n"+want) {
			t.Errorf("no mount at %q inside:\n%s", want, mounts)
		}
	}
	<-c.errDone
	if strings.Contains(c.errBuf.String(), "warning: process.capabilities") {
		t.Errorf("create warned about the default capabilities, which it applies: %q", c.errBuf)
	}
	c.wantStatus("stopped")
	if r := c.oci("start", c.id); r.Code != 1 || !strings.Contains(r.Stderr, "cannot start a container that has stopped") {
		t.Errorf("start of a stopped container: %s", r)
	}
	if r := c.oci("delete", c.id); r.Code != 0 {
		t.Fatalf("delete: %s", r)
	}
	if r := c.oci("state", c.id); r.Code != 1 || !strings.Contains(r.Stderr, "does not exist") {
		t.Errorf("state after delete: %s", r)
	}
}

// A long-running container is stopped by kill, by name or number; a bad
// signal is refused, and so is a kill of a stopped container.
func TestKill(t *testing.T) {
	c := mustCreate(t, testBundle(t, nil, "probe", "wait"))
	pid := c.state().Pid
	if r := c.oci("start", c.id); r.Code != 0 {
		t.Fatalf("start: %s", r)
	}
	c.wantStatus("running")
	if r := c.oci("kill", c.id, "FROB"); r.Code != 1 || !strings.Contains(r.Stderr, `signal "FROB": not a signal name`) {
		t.Errorf("kill with a bad signal: %s", r)
	}
	c.wantStatus("running")
	if r := c.oci("kill", c.id, "15"); r.Code != 0 {
		t.Fatalf("kill: %s", r)
	}
	waitExit(t, pid)
	c.wantStatus("stopped")
	if r := c.oci("kill", c.id, "KILL"); r.Code != 1 || !strings.Contains(r.Stderr, "is not running") {
		t.Errorf("kill of a stopped container: %s", r)
	}
	if r := c.oci("delete", c.id); r.Code != 0 {
		t.Fatalf("delete: %s", r)
	}
}

// delete refuses a running container, and --force kills it first; a
// created one, which never ran, is deleted without --force.
func TestDeleteRunning(t *testing.T) {
	c := mustCreate(t, testBundle(t, nil, "probe", "wait"))
	pid := c.state().Pid
	if r := c.oci("start", c.id); r.Code != 0 {
		t.Fatalf("start: %s", r)
	}
	if r := c.oci("delete", c.id); r.Code != 1 || !strings.Contains(r.Stderr, "it is running") {
		t.Errorf("delete of a running container: %s", r)
	}
	c.wantStatus("running")
	if r := c.oci("delete", "--force", c.id); r.Code != 0 {
		t.Fatalf("delete --force: %s", r)
	}
	waitExit(t, pid)

	c2 := mustCreate(t, testBundle(t, nil, "probe", "wait"))
	pid = c2.state().Pid
	if r := c2.oci("delete", c2.id); r.Code != 0 {
		t.Fatalf("delete of a created container: %s", r)
	}
	waitExit(t, pid)
}

// run exits with the container's code, or 128+N for a signal, and leaves
// no container behind.
func TestRunExitCode(t *testing.T) {
	labtest.RequireRoot(t)
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"probe", "exit", "3"}, 3},
		// Not as pid 1 (sh -c would exec it): a signal from inside its
		// own namespace never kills the init. sh passes on 128+9.
		{[]string{"sh", "-c", "probe kill-self KILL; exit $?"}, 128 + 9},
		{[]string{"nosuchcommand"}, 127},
	} {
		root := t.TempDir()
		r := labtest.Run(t, "--root", root, "run", "--bundle", testBundle(t, nil, c.args...), "r1")
		if r.Code != c.code {
			t.Errorf("run %v: exit %d, want %d: %s", c.args, r.Code, c.code, r)
		}
		if entries, _ := os.ReadDir(root); len(entries) != 0 {
			t.Errorf("run %v left %v in --root", c.args, entries)
		}
	}
}

// A bad bundle is refused before anything exists: no state directory,
// no init.
func TestCreateRefusesBadBundle(t *testing.T) {
	empty := t.TempDir()
	badJSON := t.TempDir()
	os.WriteFile(filepath.Join(badJSON, spec.ConfigName), []byte(`{"ociVersion": `), 0o644)
	unknown := t.TempDir()
	os.WriteFile(filepath.Join(unknown, spec.ConfigName), []byte(`{"ociVersion": "1.3.0", "process": {"user": {"uidd": 0}}}`), 0o644)
	for _, c := range []struct{ bundle, want string }{
		{empty, "config.json not found"},
		{badJSON, "not valid JSON"},
		{unknown, `"process.user.uidd" is not a runtime-spec`},
		{testBundle(t, func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/true"}}} }, "sh"), "hooks: not supported"},
		{testBundle(t, func(s *specs.Spec) { s.Linux.Namespaces[1].Path = "/proc/1/ns/net" }, "sh"), "joining the network namespace"},
		{testBundle(t, func(s *specs.Spec) { s.Root.Path = "nosuchdir" }, "sh"), "root.path"},
	} {
		root := t.TempDir()
		r := labtest.Run(t, "--root", root, "create", "--bundle", c.bundle, "c1")
		if r.Code != 1 || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("create from %s: want exit 1 saying %q, got %s", c.bundle, c.want, r)
		}
		if entries, _ := os.ReadDir(root); len(entries) != 0 {
			t.Errorf("create from %s left %v", c.bundle, entries)
		}
	}
}

// A config the kernel refuses fails in the init, which says why; create
// cleans up after it.
func TestCreateFailsInInit(t *testing.T) {
	b := testBundle(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "nosuchfs", Source: "x"})
	}, "sh")
	c, r := createCtr(t, b)
	<-c.errDone
	if r.Code != 1 || !strings.Contains(c.errBuf.String(), "mounts[7] (nosuchfs on /mnt)") {
		t.Errorf("create with a bad mount: %s %s", r, c.errBuf)
	}
	if entries, _ := os.ReadDir(c.root); len(entries) != 0 {
		t.Errorf("a failed create left %v", entries)
	}
}
