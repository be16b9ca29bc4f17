package main

// Black-box tests of the overlay lesson: the stage binary imports the test
// image in its three formats, runs the probe in containers made from it on
// the real kernel's overlayfs, and the tests read what the probe prints
// and what the state directory holds on the host. Each test has a state
// directory of its own ($BOXLAB_STATE_DIR under t.TempDir()), never
// /var/lib/boxlab, and checks at its end that no mount is left under it
// and no container record unless the test kept one on purpose.

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"boxlab/lab/labtest"
)

// box is one test's state directory and the runs of the binary over it.
type box struct {
	t     testing.TB
	state string
}

// newBox makes a state directory for the test; when the test ends, no
// container record and no mount may be left in it.
func newBox(t testing.TB) *box {
	t.Helper()
	labtest.RequireRoot(t)
	b := &box{t: t, state: filepath.Join(t.TempDir(), "state")}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(filepath.Join(b.state, "containers"))
		for _, e := range entries {
			t.Errorf("left behind: container %s in %s", e.Name(), b.state)
		}
		data, err := os.ReadFile("/proc/self/mountinfo")
		require.NoError(t, err)
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], b.state+"/") {
				t.Errorf("left behind: mount %s", f[4])
			}
		}
	})
	return b
}

// cmd prepares a run of the binary with the box's state directory.
func (b *box) cmd(args ...string) *exec.Cmd {
	cmd := labtest.Command(b.t, args...)
	cmd.Env = append(os.Environ(), stateDirEnv+"="+b.state)
	return cmd
}

func (b *box) run(args ...string) labtest.Result {
	b.t.Helper()
	return labtest.Wait(b.t, b.cmd(args...))
}

// ok runs the binary and fails the test unless it exits 0.
func (b *box) ok(args ...string) labtest.Result {
	b.t.Helper()
	r := b.run(args...)
	require.Equal(b.t, 0, r.Code, "%s: %v", strings.Join(args, " "), r)
	return r
}

// importTest imports the test image's docker save archive: boxlab/test,
// three layers.
func (b *box) importTest() {
	b.t.Helper()
	b.ok("image", "import", labtest.TestImage(b.t).DockerArchive)
}

// inspect reads `inspect NAME`.
func (b *box) inspect(name string) inspectData {
	b.t.Helper()
	r := b.ok("inspect", name)
	var out []inspectData
	require.NoError(b.t, json.Unmarshal([]byte(r.Stdout), &out), r.Stdout)
	require.Len(b.t, out, 1)
	return out[0]
}

// layerDirs are the image layers' directories of a container, top first.
func layerDirs(d inspectData) []string {
	return strings.Split(d.GraphDriver.Data["LowerDir"], ":")[1:] // [0] is the init layer
}

// Each of the three formats imports, and a container runs from it.
func TestRunImportedFormats(t *testing.T) {
	img := labtest.TestImage(t)
	for _, c := range []struct {
		name, file string
		layers     int
	}{
		{"rootfs.tar", img.RootfsTar, 1},
		{"rootfs.tar.gz", img.RootfsTarGz, 1},
		{"docker save", img.DockerArchive, 3},
		{"OCI directory", img.OCILayout, 3},
		{"OCI tar", img.OCITar, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBox(t)
			r := b.ok("image", "import", c.file, "imported:v1")
			assert.Contains(t, r.Stdout, "Loaded image: imported:v1 (sha256:")
			r = b.ok("images")
			assert.Regexp(t, fmt.Sprintf(`(?m)^imported\s+v1\s+[0-9a-f]{12}\s+%d\s+\S+$`, c.layers), r.Stdout)
			r = b.ok("run", "--rm", "imported:v1", "/bin/probe", "file", "read", "/etc/motd")
			assert.Equal(t, "welcome to the boxlab test image", r.Facts().Get("content"))
		})
	}
}

// The same layers, from a docker archive and an OCI layout, are stored
// once; containers of both images share their files: the same inode.
func TestLayerSharedBetweenImages(t *testing.T) {
	b := newBox(t)
	b.importTest()
	r := b.ok("image", "import", labtest.TestImage(t).OCITar, "again:oci")
	assert.Equal(t, 3, strings.Count(r.Stdout, "already present"), r.Stdout)
	layers, err := os.ReadDir(filepath.Join(b.state, "layers", "sha256"))
	require.NoError(t, err)
	assert.Len(t, layers, 3)

	ino := func(image string) string {
		r := b.ok("run", "--rm", image, "/bin/probe", "file", "stat", "/bin/probe")
		return r.Facts().Get("ino")
	}
	a, o := ino("boxlab/test"), ino("again:oci")
	assert.Equal(t, a, o, "one file on disk for both images")
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(filepath.Join(b.state, "layers", "sha256", layerWith(t, b.state, "bin/probe"), "diff/bin/probe"), &st))
	assert.Equal(t, fmt.Sprint(st.Ino), a, "the container reads the layer's own file")
}

// layerWith is the layer (hex digest) that holds name.
func layerWith(t *testing.T, state, name string) string {
	t.Helper()
	layers := filepath.Join(state, "layers", "sha256")
	matches, err := filepath.Glob(filepath.Join(layers, "*", "diff", name))
	require.NoError(t, err)
	require.Len(t, matches, 1, name)
	rel, err := filepath.Rel(layers, matches[0])
	require.NoError(t, err)
	return strings.Split(rel, "/")[0]
}

// Layer 3 deletes a file of layer 1 with a whiteout and hides a directory
// with an opaque marker: the container sees neither.
func TestLayer3DeletionsApplied(t *testing.T) {
	b := newBox(t)
	b.importTest()
	r := b.ok("run", "--rm", "boxlab/test", "sh", "-c",
		"/bin/probe file stat /etc/boxlab/removed-by-layer3; ls /opt/legacy; cat /etc/boxlab/added-by-layer2")
	assert.Equal(t, "false", r.Facts().Get("exists"))
	assert.Equal(t, "exists=false\nnew.txt\nlayer2\n", r.Stdout)
}

// The image's config is used: its environment, and the working directory
// and -e of the user on top.
func TestImageConfigUsed(t *testing.T) {
	b := newBox(t)
	b.importTest()
	r := b.ok("run", "--rm", "-e", "GREETING=hi", "-w", "/srv/app", "boxlab/test", "/bin/probe", "env")
	f := r.Facts()
	assert.Equal(t, "test", f.Get("env.BOXLAB_IMAGE"))
	assert.Equal(t, "hi", f.Get("env.GREETING"))
	assert.Equal(t, "/srv/app", f.Get("cwd"))
	r = b.ok("run", "--rm", "boxlab/test", "sh", "-c", "cat /etc/hostname; hostname")
	lines := strings.Fields(r.Stdout)
	require.Len(t, lines, 2)
	assert.Equal(t, lines[0], lines[1], "the init layer's /etc/hostname")
}

// A working directory must be inside the container's root: -w through an
// inherited descriptor (fd 7 on a host directory, as a shell's `7</etc`
// leaves it) is refused before the command runs (CVE-2024-21626's class).
func TestWorkdirOutsideRootRefused(t *testing.T) {
	b := newBox(t)
	hostDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(hostDir, "host-secret"), []byte("host"), 0o644))
	dir, err := os.Open(hostDir)
	require.NoError(t, err)
	defer dir.Close()
	cmd := b.cmd("run", "--rm", "-w", "/proc/self/fd/7", labtest.Rootfs(t), "/bin/probe", "file", "read", "host-secret")
	cmd.ExtraFiles = []*os.File{nil, nil, nil, nil, dir} // fd 3+4 = 7
	r := labtest.Wait(t, cmd)
	assert.NotEqual(t, "host", r.Facts().Get("content"), "the host's file read through -w: %v", r)
	assert.Equal(t, 125, r.Code, r)
	assert.Contains(t, r.Stderr, "working directory /proc/self/fd/7: outside the container's root")
}

// An image's environment is its command's, never the runtime's own init,
// which runs as root on the host before pivot_root: the image below sets
// LD_PRELOAD to a file that is no library (the dynamic loader complains on
// stderr when it tries to preload it) and GODEBUG=inittrace=1 (a Go
// program started with it prints "init ..." lines). Neither may reach the
// init; the command, busybox's static env, must see all the image's
// variables and -e.
func TestImageEnvNotInRuntime(t *testing.T) {
	b := newBox(t)
	notALibrary := filepath.Join(t.TempDir(), "evil.so")
	require.NoError(t, os.WriteFile(notALibrary, []byte("not a library\n"), 0o644))
	archive := imageWithConfig(t, func(rc map[string]any) {
		env, _ := rc["Env"].([]any)
		rc["Env"] = append(env, "LD_PRELOAD="+notALibrary, "GODEBUG=inittrace=1", "BOXLAB_MARKER=from-image")
	})
	b.ok("image", "import", archive, "evil")

	r := b.run("run", "--rm", "-e", "LD_BIND_NOW=1", "evil", "/bin/busybox", "env")
	require.Equal(t, 0, r.Code, r)
	assert.NotContains(t, r.Stderr, "cannot be preloaded", "the image's LD_PRELOAD reached the runtime's init")
	assert.NotContains(t, r.Stderr, "init runtime @", "the image's GODEBUG reached the runtime's init")
	env := strings.Split(r.Stdout, "\n")
	for _, kv := range []string{"LD_PRELOAD=" + notALibrary, "GODEBUG=inittrace=1", "BOXLAB_MARKER=from-image", "LD_BIND_NOW=1"} {
		assert.Contains(t, env, kv, "the command's environment")
	}
}

// A relative WorkingDir in an image's config is refused, and the error
// says it came from the image, not from -w; nothing is left behind.
func TestImageRelativeWorkdirRefused(t *testing.T) {
	b := newBox(t)
	b.ok("image", "import", imageWithConfig(t, func(rc map[string]any) { rc["WorkingDir"] = "srv/app" }), "relwd")
	r := b.run("run", "--rm", "relwd", "/bin/probe", "env")
	assert.Equal(t, 125, r.Code, r)
	assert.Contains(t, r.Stderr, `image relwd: its config's WorkingDir "srv/app" is not an absolute path`)
	assert.NotContains(t, r.Stderr, "--workdir")
	r = b.ok("run", "--rm", "-w", "/srv", "relwd", "/bin/probe", "env")
	assert.Equal(t, "/srv", r.Facts().Get("cwd"), "-w overrides the image's")
}

// imageWithConfig is the test image's docker save archive, unpacked into a
// directory, with its run config (the config's "config") changed by edit.
func imageWithConfig(t *testing.T, edit func(rc map[string]any)) string {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(labtest.TestImage(t).DockerArchive)
	require.NoError(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		name := filepath.Join(dir, filepath.Clean("/"+h.Name))
		if h.Typeflag == tar.TypeDir {
			require.NoError(t, os.MkdirAll(name, 0o755))
			continue
		}
		require.Equal(t, byte(tar.TypeReg), h.Typeflag, h.Name)
		require.NoError(t, os.MkdirAll(filepath.Dir(name), 0o755))
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(name, data, 0o644))
	}
	var manifest []struct{ Config string }
	require.NoError(t, json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "manifest.json"))), &manifest))
	require.NotEmpty(t, manifest)
	config := filepath.Join(dir, manifest[0].Config)
	var c map[string]any
	require.NoError(t, json.Unmarshal([]byte(readFile(t, config)), &c))
	rc, _ := c["config"].(map[string]any)
	require.NotNil(t, rc, "the test image's config has a config")
	edit(rc)
	raw, err := json.Marshal(c)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(config, raw, 0o644))
	return dir
}

// A write to a lower file copies it up: the layer keeps its file, upper
// gets the copy. A deletion leaves a whiteout in upper.
func TestCopyOnWriteAndWhiteout(t *testing.T) {
	b := newBox(t)
	b.importTest()
	b.ok("run", "--name", "cow", "boxlab/test", "sh", "-c", "echo changed > /etc/motd && rm /etc/passwd")
	d := b.inspect("cow")
	upper := d.GraphDriver.Data["UpperDir"]
	layer2 := filepath.Join(layerDirs(d)[1], "etc/motd")
	assert.Equal(t, "welcome to the boxlab test image\n", readFile(t, layer2), "the layer is untouched")
	assert.Equal(t, "changed\n", readFile(t, filepath.Join(upper, "etc/motd")), "the copy is in upper")

	var st syscall.Stat_t
	require.NoError(t, syscall.Lstat(filepath.Join(upper, "etc/passwd"), &st))
	assert.Equal(t, uint32(syscall.S_IFCHR), st.Mode&syscall.S_IFMT, "a whiteout is a character device")
	assert.Equal(t, uint64(0), st.Rdev, "with device number 0/0")
	assert.FileExists(t, filepath.Join(layerDirs(d)[2], "etc/passwd"), "the layer keeps it")
	b.ok("rm", "cow")
}

// Two containers of one image change it independently.
func TestTwoContainersApart(t *testing.T) {
	b := newBox(t)
	b.importTest()
	b.ok("run", "--name", "one", "boxlab/test", "sh", "-c", "echo one > /etc/motd")
	b.ok("run", "--name", "two", "boxlab/test", "sh", "-c", "rm /etc/group; echo two > /only-two")
	one, two := b.inspect("one").GraphDriver.Data["UpperDir"], b.inspect("two").GraphDriver.Data["UpperDir"]
	assert.Equal(t, "one\n", readFile(t, filepath.Join(one, "etc/motd")))
	assert.NoFileExists(t, filepath.Join(one, "etc/group"))
	assert.NoFileExists(t, filepath.Join(two, "etc/motd"))
	assert.FileExists(t, filepath.Join(two, "only-two"))
	r := b.ok("ps", "-a")
	assert.Regexp(t, `(?m)\bExited \(0\)\s+one$`, r.Stdout)
	assert.Regexp(t, `(?m)\bExited \(0\)\s+two$`, r.Stdout)
	b.ok("rm", "one", "two")
}

// commit makes an image from a container's changes: it carries the new
// content and the deletion, on top of the shared layers.
func TestCommitCarriesChanges(t *testing.T) {
	b := newBox(t)
	b.importTest()
	b.ok("run", "--name", "work", "boxlab/test", "sh", "-c", "echo committed > /etc/motd; rm /etc/group")
	r := b.ok("commit", "work", "boxlab/committed:v1")
	assert.Regexp(t, `(?m)^sha256:[0-9a-f]{64}$`, r.Stdout)
	r = b.ok("images")
	assert.Regexp(t, `(?m)^boxlab/committed\s+v1\s+[0-9a-f]{12}\s+4\s`, r.Stdout)
	layers, err := os.ReadDir(filepath.Join(b.state, "layers", "sha256"))
	require.NoError(t, err)
	assert.Len(t, layers, 4, "three shared layers and the new one")
	r = b.ok("run", "--rm", "boxlab/committed:v1", "sh", "-c", "cat /etc/motd; /bin/probe file stat /etc/group")
	assert.Equal(t, "committed\nexists=false\n", r.Stdout)
	b.ok("rm", "work")

	// rmi removes the image and its own layer; the shared ones stay.
	b.ok("rmi", "boxlab/committed:v1")
	layers, err = os.ReadDir(filepath.Join(b.state, "layers", "sha256"))
	require.NoError(t, err)
	assert.Len(t, layers, 3)
}

// A hostile tarball is refused, naming the entry, and nothing is written
// outside the store, nor left in it.
func TestHostileTarballRefused(t *testing.T) {
	outside := t.TempDir()
	for name, entries := range map[string][]tarEntry{
		"dotdot":            {reg("../../../../../../"+outside+"/pwned", "x")},
		"symlink then file": {symlink("evil", outside), reg("evil/pwned", "x")},
		"hardlink out":      {hardlink("pwned", outside+"/victim")},
	} {
		t.Run(name, func(t *testing.T) {
			b := newBox(t)
			file := filepath.Join(t.TempDir(), "evil.tar")
			require.NoError(t, os.WriteFile(file, makeTar(t, append([]tarEntry{dir("etc/")}, entries...)...), 0o644))
			r := b.run("image", "import", file, "evil")
			assert.Equal(t, 125, r.Code, r)
			assert.Contains(t, r.Stderr, "tar entry")
			assert.Empty(t, dirNames(t, outside), "nothing outside")
			for _, d := range []string{"layers/sha256", "images/sha256", "tmp"} {
				assert.Empty(t, dirNames(t, filepath.Join(b.state, d)), d)
			}
		})
	}
}

// Volumes: a host directory (read-write and read-only) and a named
// volume, all bypassing the overlay; the named one outlives its container.
func TestRunVolumes(t *testing.T) {
	b := newBox(t)
	b.importTest()
	host := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(host, "from-host"), []byte("hello"), 0o644))
	b.ok("run", "--name", "vols", "-v", host+":/mnt/host", "-v", host+":/mnt/ro:ro", "-v", "shared:/data",
		"boxlab/test", "sh", "-c",
		"/bin/probe file read /mnt/host/from-host; /bin/probe file write /mnt/host/from-ctr yes; "+
			"/bin/probe file writable /mnt/ro/from-host; /bin/probe file write /data/kept kept")
	assert.Equal(t, "yes", readFile(t, filepath.Join(host, "from-ctr")), "a bind mount writes to the host")
	d := b.inspect("vols")
	upper := d.GraphDriver.Data["UpperDir"]
	assert.NoFileExists(t, filepath.Join(upper, "data/kept"), "volumes bypass the writable layer")
	assert.NoFileExists(t, filepath.Join(upper, "mnt/host/from-ctr"))
	require.Len(t, d.Mounts, 3)
	assert.Equal(t, "volume", d.Mounts[2].Type)

	r := b.ok("run", "--rm", "-v", host+":/mnt/ro:ro", "boxlab/test", "/bin/probe", "file", "writable", "/mnt/ro/from-host")
	assert.Equal(t, "false", r.Facts().Get("writable"))
	assert.Contains(t, r.Facts().Get("error"), "read-only file system")

	r = b.run("volume", "rm", "shared")
	assert.Equal(t, 125, r.Code, "in use by vols: %v", r)
	b.ok("rm", "vols")
	r = b.ok("volume", "ls")
	assert.Contains(t, r.Stdout, "shared", "the volume outlives its container")
	r = b.ok("run", "--rm", "-v", "shared:/again", "boxlab/test", "/bin/probe", "file", "read", "/again/kept")
	assert.Equal(t, "kept", r.Facts().Get("content"))
	b.ok("volume", "rm", "shared")
	assert.NoDirExists(t, filepath.Join(b.state, "volumes", "shared"))
}

// A volume target that is a symlink in the image resolves inside the
// container's root, never on the host.
func TestVolumeTargetStaysInRoot(t *testing.T) {
	b := newBox(t)
	b.importTest()
	b.ok("run", "--name", "link", "boxlab/test", "ln", "-s", "/../../../../etc", "/evil")
	b.ok("commit", "link", "linked")
	b.ok("rm", "link")
	host := t.TempDir()
	r := b.ok("run", "--rm", "-v", host+":/evil/boxlab-target", "linked", "/bin/probe", "file", "write", "/etc/boxlab-target/x", "y")
	assert.Equal(t, "1", r.Facts().Get("written"))
	assert.Equal(t, "y", readFile(t, filepath.Join(host, "x")))
	assert.NoDirExists(t, "/etc/boxlab-target", "nothing made on the host's /etc")
}

// rm and --rm leave no mount and no directory; rm refuses a running
// container, which ps lists and stats reads.
func TestRmAndRunningContainer(t *testing.T) {
	b := newBox(t)
	b.importTest()
	b.ok("run", "--rm", "boxlab/test", "true")
	assert.Empty(t, dirNames(t, filepath.Join(b.state, "containers")))

	cmd := b.cmd("run", "--name", "live", "boxlab/test", "/bin/probe", "wait")
	startAndAwait(t, cmd, "waiting=true")
	merged := b.inspect("live").GraphDriver.Data["MergedDir"]
	assertMounted(t, merged, true)
	r := b.ok("ps")
	assert.Regexp(t, `(?m)Up since .*\slive$`, r.Stdout)
	r = b.run("rm", "live")
	assert.Equal(t, 125, r.Code, r)
	assert.Contains(t, r.Stderr, "container live is running")
	r = b.ok("stats", "live")
	assert.Equal(t, "live", r.Facts().Get("name"))
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	_ = cmd.Wait()
	assertMounted(t, merged, false)
	r = b.ok("ps", "-a")
	assert.Regexp(t, `(?m)Exited \(143\)\s+live$`, r.Stdout)
	b.ok("rm", "live")
	assert.Empty(t, dirNames(t, filepath.Join(b.state, "containers")))
}

func assertMounted(t *testing.T, dir string, want bool) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	found := false
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			found = true
		}
	}
	assert.Equal(t, want, found, "mounted: %s", dir)
}

// Bad input is refused with one line, exit 125, and nothing is created:
// no container, no volume.
func TestBadInputCreatesNothing(t *testing.T) {
	b := newBox(t)
	b.importTest()
	b.ok("run", "--name", "taken", "boxlab/test", "true")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"no-such-image"}, "no-such-image is neither an image nor a directory"},
		{[]string{"-v", "a:b:c:d", "boxlab/test"}, `volume "a:b:c:d": want SRC:DST`},
		{[]string{"-v", "data/x:/x", "boxlab/test"}, `relative host path "data/x"`},
		{[]string{"-v", "newvol:relative", "boxlab/test"}, "must be an absolute path"},
		{[]string{"-v", "newvol:/a", "-v", "/no/such/dir:/b", "boxlab/test"}, "host path /no/such/dir"},
		{[]string{"--name", "taken", "-v", "newvol:/a", "boxlab/test"}, "--name taken: the name is in use"},
		{[]string{"--userns", "boxlab/test"}, "overlayfs inside a user namespace is not supported"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := b.run(append(append([]string{"run"}, c.args...), "true")...)
			assert.Equal(t, 125, r.Code, r)
			assert.Contains(t, r.Stderr, c.want)
			assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line: %q", r.Stderr)
			assert.Equal(t, []string{"taken"}, containerNames(t, b))
			assert.Empty(t, dirNames(t, filepath.Join(b.state, "volumes")))
		})
	}
	for _, args := range [][]string{{"rm", "nobody"}, {"commit", "nobody", "x"}, {"rmi", "nothing"}, {"image", "import", "/no/such/file"}} {
		r := b.run(args...)
		assert.Equal(t, 125, r.Code, r)
	}
	b.ok("rm", "taken")
}

// The store verbs answer --help and -h with their usage and their own
// flags on stdout, exit 0, and touch no state directory; an unknown flag
// is still bad input.
func TestStoreHelp(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	run := func(args ...string) labtest.Result {
		cmd := labtest.Command(t, args...)
		cmd.Env = append(os.Environ(), stateDirEnv+"="+state)
		return labtest.Wait(t, cmd)
	}
	for _, c := range []struct {
		args  []string
		usage string
		flags []string // each as its line in the flag list starts
	}{
		{[]string{"image"}, "image import [--explain] [--max-size SIZE] [--max-files N] FILE [NAME[:TAG]]",
			[]string{"--explain", "--max-size SIZE", "--max-files N"}},
		{[]string{"image", "import"}, "image import [--explain]", []string{"--max-size SIZE", "--max-files N"}},
		{[]string{"images"}, "images", []string{"--explain"}},
		{[]string{"tag"}, "tag IMAGE NAME[:TAG]", []string{"--explain"}},
		{[]string{"rmi"}, "rmi IMAGE...", []string{"--explain"}},
		{[]string{"ps"}, "ps [-a]", []string{"-a, --all", "--explain"}},
		{[]string{"rm"}, "rm CONTAINER...", []string{"--explain"}},
		{[]string{"commit"}, "commit CONTAINER [NAME[:TAG]]", []string{"--explain"}},
		{[]string{"inspect"}, "inspect CONTAINER...", []string{"--explain"}},
		{[]string{"volume"}, "volume ls | volume rm NAME...", []string{"--explain"}},
		{[]string{"volume", "ls"}, "volume ls", []string{"--explain"}},
		{[]string{"volume", "rm"}, "volume ls | volume rm NAME...", []string{"--explain"}},
	} {
		for _, flag := range []string{"--help", "-h"} {
			args := append(append([]string{}, c.args...), flag)
			r := run(args...)
			assert.Equal(t, 0, r.Code, "%s: %v", strings.Join(args, " "), r)
			assert.Contains(t, r.Stdout, "usage: "+progName+" "+c.usage, strings.Join(args, " "))
			assert.Contains(t, r.Stdout, "\nflags:\n", strings.Join(args, " "))
			for _, f := range c.flags {
				assert.Regexp(t, `(?m)^ +`+regexp.QuoteMeta(f)+`\b`, r.Stdout, strings.Join(args, " "))
			}
			assert.Empty(t, r.Stderr, strings.Join(args, " "))
		}
	}
	// Each verb lists only the flags it takes.
	r := run("images", "--help")
	assert.NotContains(t, r.Stdout, "--max-size")
	assert.NotContains(t, r.Stdout, "--all")
	r = run("images", "-a")
	assert.Equal(t, 125, r.Code, r)
	assert.Contains(t, r.Stderr, "unknown shorthand flag: 'a' in -a: usage: "+progName+" images")
	r = run("ps", "--no-such-flag")
	assert.Equal(t, 125, r.Code, r)
	assert.Contains(t, r.Stderr, "unknown flag: --no-such-flag: usage: "+progName+" ps [-a]")
	assert.Empty(t, r.Stdout)
	assert.NoDirExists(t, state, "help and bad flags touch no state directory")
}

// The import limits are flags of `image import`, after `import` as the
// usage shows them (and before it, as they used to be).
func TestImportLimitFlags(t *testing.T) {
	b := newBox(t)
	archive := labtest.TestImage(t).DockerArchive
	for _, args := range [][]string{
		{"image", "import", "--max-files", "5", archive},
		{"image", "--max-files", "5", "import", archive},
	} {
		r := b.run(args...)
		assert.Equal(t, 125, r.Code, r)
		assert.Contains(t, r.Stderr, "limit of 5 files", strings.Join(args, " "))
	}
	r := b.run("images")
	require.Equal(t, 0, r.Code, r)
	assert.NotContains(t, r.Stdout, "boxlab/test", "an import over its limit leaves no image")
	r = b.run("image", "import", "--max-size", "nonsense", archive)
	assert.Equal(t, 125, r.Code, r)
	assert.Contains(t, r.Stderr, "--max-size nonsense")
}

// containerNames reads the names of the box's container records.
func containerNames(t *testing.T, b *box) []string {
	var names []string
	for _, id := range dirNames(t, filepath.Join(b.state, "containers")) {
		var c container
		require.NoError(t, json.Unmarshal([]byte(readFile(t, filepath.Join(b.state, "containers", id, "config.json"))), &c))
		names = append(names, c.Name)
	}
	return names
}

// A ROOTFS directory runs as in stage 03, with volumes too, and leaves
// no record behind.
func TestRootfsStillWorks(t *testing.T) {
	b := newBox(t)
	host := t.TempDir()
	r := b.ok("run", "--name", "dir", "-v", host+":/mnt/vol", labtest.RootfsCopy(t), "/bin/probe", "file", "write", "/mnt/vol/x", "y")
	assert.Equal(t, "1", r.Facts().Get("written"))
	assert.Equal(t, "y", readFile(t, filepath.Join(host, "x")))
	assert.Empty(t, dirNames(t, filepath.Join(b.state, "containers")))
}

// BenchmarkContainerStart runs `run --rm IMAGE true` on images of 1, 10
// and 50 layers: the test image's rootfs and empty layers on top.
func BenchmarkContainerStart(b *testing.B) {
	for _, n := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("layers=%d", n), func(b *testing.B) {
			bx := newBox(b)
			bx.ok("image", "import", labtest.TestImage(b).RootfsTar, "base")
			s, err := openStore(bx.state)
			require.NoError(b, err)
			base, err := s.findImage("base")
			require.NoError(b, err)
			ids := base.Layers()
			for i := 1; i < n; i++ {
				var buf bytes.Buffer
				tw := tar.NewWriter(&buf)
				require.NoError(b, tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("layer-%d", i), Mode: 0o644, Typeflag: tar.TypeReg}))
				require.NoError(b, tw.Close())
				l, _, err := s.addLayer(&buf, "", nil)
				require.NoError(b, err)
				ids = append(ids, l.Digest)
			}
			raw, err := json.Marshal(map[string]any{"rootfs": map[string]any{"type": "layers", "diff_ids": ids}})
			require.NoError(b, err)
			_, err = s.saveImage(raw, "bench:latest")
			require.NoError(b, err)
			for b.Loop() {
				bx.ok("run", "--rm", "bench", "true")
			}
		})
	}
}
