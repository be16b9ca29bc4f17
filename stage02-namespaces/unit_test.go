package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestParseRun(t *testing.T) {
	dir := t.TempDir()
	o, err := parseRunArgs([]string{"--explain", dir, "sh", "-c", "ls -l"})
	require.NoError(t, err)
	assert.True(t, o.explain)
	assert.Equal(t, dir, o.rootfs)
	assert.Equal(t, []string{"sh", "-c", "ls -l"}, o.command, "flags after ROOTFS belong to the command")

	o, err = parseRunArgs([]string{dir})
	require.NoError(t, err)
	assert.Equal(t, []string{"/bin/sh"}, o.command)

	_, err = parseRunArgs(nil)
	assert.ErrorContains(t, err, "missing ROOTFS")
	_, err = parseRunArgs([]string{"--bogus", dir})
	assert.ErrorContains(t, err, "unknown flag")

	o, err = parseRunArgs([]string{"--hostname", "web-1", "--userns", dir, "probe", "--hostname", "x"})
	require.NoError(t, err)
	assert.Equal(t, "web-1", o.hostname)
	assert.True(t, o.userns)
	assert.Equal(t, []string{"probe", "--hostname", "x"}, o.command)
}

// parseRun checks the host name before it looks at the rootfs, and fills in
// a generated one and an absolute rootfs.
func TestParseRunValidates(t *testing.T) {
	_, err := parseRun([]string{"--hostname", "no_good", "/no/such/rootfs"})
	assert.ErrorContains(t, err, "--hostname")
	if os.Geteuid() != 0 {
		t.Skip("the rest needs root")
	}
	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, os.Mkdir("rootfs", 0o755))
	o, err := parseRun([]string{"rootfs"})
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "rootfs"), o.rootfs)
	assert.NoError(t, validHostname(o.hostname))
}

func TestValidHostname(t *testing.T) {
	for _, ok := range []string{"a", "web-1", "Box", "0123abc", strings.Repeat("x", 63), "a-b-c"} {
		assert.NoError(t, validHostname(ok), ok)
	}
	for _, bad := range []string{"", "-a", "a-", "a.b", "a_b", "a b", "é", strings.Repeat("x", 64), "a\x00b"} {
		assert.Error(t, validHostname(bad), bad)
	}
}

func TestGeneratedHostname(t *testing.T) {
	a, b := generatedHostname(), generatedHostname()
	assert.Regexp(t, `^[0-9a-f]{12}$`, a)
	assert.NotEqual(t, a, b)
	assert.NoError(t, validHostname(a))
}

// FuzzValidHostname: whatever the validator accepts is one RFC 1123 label.
func FuzzValidHostname(f *testing.F) {
	for _, s := range []string{"web-1", "-x", "a.b", strings.Repeat("a", 64), "ünï", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if validHostname(name) != nil {
			return
		}
		if len(name) < 1 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
			t.Fatalf("accepted %q", name)
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				t.Fatalf("accepted %q with %q", name, c)
			}
		}
	})
}

func TestParseSubid(t *testing.T) {
	scan := func(s string) *bufio.Scanner { return bufio.NewScanner(strings.NewReader(s)) }
	start, size := parseSubid(scan("alice:100000:65536\nroot:200000:70000\nroot:1:2\n"), "root")
	assert.Equal(t, []int{200000, 70000}, []int{start, size})
	start, size = parseSubid(scan("0:300000:1000\n"), "root")
	assert.Equal(t, []int{300000, 1000}, []int{start, size})
	start, size = parseSubid(scan("root:x:1\nbob:1:1\n"), "root")
	assert.Equal(t, []int{defaultSubidStart, defaultSubidSize}, []int{start, size})
}

func TestCloneFlags(t *testing.T) {
	assert.Equal(t, "CLONE_NEWUTS|CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWIPC|CLONE_NEWNET", cloneFlagNames(cloneFlags))
	assert.Zero(t, cloneFlags&(unix.CLONE_NEWCGROUP|unix.CLONE_NEWTIME|unix.CLONE_NEWUSER),
		"cgroup namespaces come in stage03; user only with --userns; time never")
	attr := sysProcAttr(&options{userns: true, rootfs: "/r", command: []string{"sh"}})
	assert.NotZero(t, attr.Cloneflags&unix.CLONE_NEWUSER)
	require.Len(t, attr.UidMappings, 1)
	assert.Equal(t, 0, attr.UidMappings[0].ContainerID)
	assert.False(t, attr.Setsid, "the child keeps our session and terminal")
}

// FuzzParseRun feeds argument lists (NUL-separated) to the parser: it must
// never panic, and whatever it accepts names a rootfs and a command.
func FuzzParseRun(f *testing.F) {
	f.Add("--explain\x00/tmp\x00sh\x00-c\x00ls")
	f.Add("")
	f.Add("--\x00-x")
	f.Add("/rootfs\x00--explain")
	f.Add("--hostname\x00x\x00--userns\x00/r\x00probe")
	f.Add("--hostname=\x00/r")
	f.Fuzz(func(t *testing.T, joined string) {
		args := splitNUL(joined)
		o, err := parseRunArgs(args)
		if err != nil {
			return
		}
		if len(o.command) == 0 {
			t.Fatalf("no command from %q", args)
		}
		// The default command is not among args: check the rest only when
		// the user named one.
		if o.command[0] != "/bin/sh" && o.rootfs != args[len(args)-len(o.command)-1] {
			t.Fatalf("rootfs %q is not the argument before the command in %q", o.rootfs, args)
		}
	})
}

func splitNUL(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func TestExitCodeOf(t *testing.T) {
	assert.Equal(t, 0, exitCodeOf(nil))
	assert.Equal(t, 3, exitCodeOf(exec.Command("sh", "-c", "exit 3").Run()))
	assert.Equal(t, 128+9, exitCodeOf(exec.Command("sh", "-c", "kill -9 $$").Run()))
	assert.Equal(t, 125, exitCodeOf(exec.Command("/no/such/binary").Run()))
}

// The fallback for kernels without CLOSE_RANGE_CLOEXEC marks an inherited
// descriptor (opened here without O_CLOEXEC) close-on-exec.
func TestCloexecListed(t *testing.T) {
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	require.NoError(t, err)
	require.Zero(t, flags&unix.FD_CLOEXEC)

	require.NoError(t, cloexecListed())
	flags, err = unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	require.NoError(t, err)
	assert.NotZero(t, flags&unix.FD_CLOEXEC, "fd %d is still inherited by exec", fd)
}
