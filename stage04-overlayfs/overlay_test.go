package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"boxlab/lab/labtest"
)

func digestOfBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// The merged view applies the three layers: layer 2's additions are
// there, layer 3's whiteout and opaque directory hide layer 1's files.
func TestMergedViewAppliesLayers(t *testing.T) {
	s := testStore(t)
	importTestImage(t, s)
	c, root := mountedContainer(t, s, "boxlab/test")
	assert.FileExists(t, filepath.Join(root, "bin/probe"))
	assert.FileExists(t, filepath.Join(root, "etc/boxlab/added-by-layer2"))
	assert.False(t, exists(filepath.Join(root, "etc/boxlab/removed-by-layer3")), "layer 3 deleted it")
	assert.Equal(t, []string{"new.txt"}, dirNames(t, filepath.Join(root, "opt/legacy")), "layer 3 made it opaque")
	// The init layer, between the image and upper.
	assert.Equal(t, c.Hostname+"\n", readFile(t, filepath.Join(root, "etc/hostname")))
	assert.Contains(t, readFile(t, filepath.Join(root, "etc/resolv.conf")), "nameserver 10.0.0.53")
	assert.True(t, isMountPoint(root))
	assert.Equal(t, []string{"BOXLAB_IMAGE=test"}, c.Env[1:])
	assert.Equal(t, []string{"/bin/sh"}, c.Cmd)
}

// Writing a lower file copies it up: the layer is untouched.
func TestCopyOnWrite(t *testing.T) {
	s := testStore(t)
	img := importTestImage(t, s)
	c, root := mountedContainer(t, s, "boxlab/test")
	layer2 := filepath.Join(s.diffDir(img.Layers()[1]), "etc/motd")
	before := readFile(t, layer2)
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/motd"), []byte("changed\n"), 0o644))
	assert.Equal(t, before, readFile(t, layer2), "the layer must not change")
	assert.Equal(t, "changed\n", readFile(t, filepath.Join(s.upperDir(c.ID), "etc/motd")), "the copy is in upper")
	assert.Equal(t, "changed\n", readFile(t, filepath.Join(root, "etc/motd")))
}

// Deleting a lower file leaves a whiteout in upper.
func TestDeleteMakesWhiteout(t *testing.T) {
	s := testStore(t)
	img := importTestImage(t, s)
	c, root := mountedContainer(t, s, "boxlab/test")
	require.NoError(t, os.Remove(filepath.Join(root, "etc/passwd")))
	fi, err := os.Lstat(filepath.Join(s.upperDir(c.ID), "etc/passwd"))
	require.NoError(t, err)
	assert.True(t, isWhiteout(fi))
	assert.FileExists(t, filepath.Join(s.diffDir(img.Layers()[0]), "etc/passwd"))
	assert.False(t, exists(filepath.Join(root, "etc/passwd")))
}

func TestTwoContainersIndependent(t *testing.T) {
	s := testStore(t)
	importTestImage(t, s)
	_, a := mountedContainer(t, s, "boxlab/test")
	_, b := mountedContainer(t, s, "boxlab/test")
	require.NoError(t, os.WriteFile(filepath.Join(a, "etc/motd"), []byte("a\n"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(b, "etc/group")))
	require.NoError(t, os.WriteFile(filepath.Join(b, "only-b"), []byte("b"), 0o644))
	assert.Equal(t, "a\n", readFile(t, filepath.Join(a, "etc/motd")))
	assert.Equal(t, "welcome to the boxlab test image\n", readFile(t, filepath.Join(b, "etc/motd")))
	assert.FileExists(t, filepath.Join(a, "etc/group"))
	assert.False(t, exists(filepath.Join(a, "only-b")))
	assert.NotEqual(t, readFile(t, filepath.Join(a, "etc/hostname")), readFile(t, filepath.Join(b, "etc/hostname")))
}

// Commit makes an image that carries the change and the deletion, and
// shares its parent's layers.
func TestCommit(t *testing.T) {
	s := testStore(t)
	base := importTestImage(t, s)
	c, root := mountedContainer(t, s, "boxlab/test")
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/motd"), []byte("committed\n"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(root, "etc/group")))
	require.NoError(t, os.RemoveAll(filepath.Join(root, "opt/legacy")))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "opt/legacy"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "opt/legacy/fresh"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("mine\n"), 0o644))
	require.NoError(t, os.Link(filepath.Join(root, "etc/motd"), filepath.Join(root, "motd-link")))

	p, out := quiet()
	img, err := s.commit(c.Name, "boxlab/committed:v1", p)
	require.NoError(t, err)
	assert.Contains(t, out.String(), img.ID)
	require.Len(t, img.Layers(), 4)
	assert.Equal(t, base.Layers(), img.Layers()[:3], "the parent's layers are shared")
	assert.Len(t, dirNames(t, s.path("layers", "sha256")), 4)
	assert.Equal(t, base.Config.Config, img.Config.Config, "the run config carries over")

	_, root2 := mountedContainer(t, s, "boxlab/committed:v1")
	assert.Equal(t, "committed\n", readFile(t, filepath.Join(root2, "etc/motd")))
	assert.False(t, exists(filepath.Join(root2, "etc/group")), "the deletion is in the image")
	assert.Equal(t, []string{"fresh"}, dirNames(t, filepath.Join(root2, "opt/legacy")))
	assert.NotEqual(t, "mine\n", readFile(t, filepath.Join(root2, "etc/hostname")), "hostname comes from the new container's init layer")
	assert.Equal(t, "committed\n", readFile(t, filepath.Join(root2, "motd-link")))
}

func TestCommitRefusesRootfsContainer(t *testing.T) {
	s := testStore(t)
	c := &container{Image: t.TempDir(), Name: "plain"}
	require.NoError(t, s.createContainer(c, nil))
	_, err := s.commit("plain", "x", nil)
	assert.ErrorContains(t, err, "not an image")
}

// 50 layers do not fit in a page of mount options with full paths; the
// short l/ names do. The top layer wins.
func TestFiftyLayers(t *testing.T) {
	labtest.RequireRoot(t)
	s := testStore(t)
	var ids []string
	for i := range 50 {
		l, _, err := s.addLayer(bytes.NewReader(makeTar(t,
			reg("which", fmt.Sprint(i)), reg(fmt.Sprintf("layer-%02d", i), ""))), "", nil)
		require.NoError(t, err)
		ids = append(ids, l.Digest)
	}
	raw, err := json.Marshal(map[string]any{"rootfs": map[string]any{"type": "layers", "diff_ids": ids}})
	require.NoError(t, err)
	unlock, err := s.lock()
	require.NoError(t, err)
	_, err = s.saveImage(raw, "fifty:latest")
	unlock()
	require.NoError(t, err)

	c, root := mountedContainer(t, s, "fifty")
	m := s.containerOverlay(c)
	assert.Greater(t, len(m.options(m.Lower, m.Upper, m.Work)), maxMountData(), "the test must need short names")
	assert.Equal(t, "49", readFile(t, filepath.Join(root, "which")))
	assert.FileExists(t, filepath.Join(root, "layer-00"))
	assert.FileExists(t, filepath.Join(root, "layer-49"))
	cwd, err := os.Getwd()
	require.NoError(t, err)
	assert.NotEqual(t, s.root, cwd, "the process's working directory must not change")
}

func TestInspectGraphDriver(t *testing.T) {
	s := testStore(t)
	img := importTestImage(t, s)
	c, _ := mountedContainer(t, s, "boxlab/test")
	b, err := json.Marshal(s.inspect(c))
	require.NoError(t, err)
	var got struct {
		GraphDriver struct {
			Name string
			Data struct{ LowerDir, UpperDir, WorkDir, MergedDir string }
		}
	}
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, "overlay2", got.GraphDriver.Name)
	d := got.GraphDriver.Data
	lower := strings.Split(d.LowerDir, ":")
	require.Len(t, lower, 4)
	assert.Equal(t, filepath.Join(s.containerDir(c.ID), "init"), lower[0])
	assert.Equal(t, s.diffDir(img.Layers()[2]), lower[1], "top layer first")
	assert.Equal(t, s.upperDir(c.ID), d.UpperDir)
	assert.Equal(t, filepath.Join(s.containerDir(c.ID), "work"), d.WorkDir)
	assert.True(t, isMountPoint(d.MergedDir))
}

func TestPsAndRm(t *testing.T) {
	s := testStore(t)
	importTestImage(t, s)
	c := &container{Image: "boxlab/test", Name: "web"}
	require.NoError(t, s.createContainer(c, nil))
	require.NoError(t, s.markRunning(c, os.Getpid())) // this test process plays the container
	var out bytes.Buffer
	cs, err := s.containers()
	require.NoError(t, err)
	require.NoError(t, printContainers(&out, cs, false))
	assert.Contains(t, out.String(), "web")
	_, err = s.removeContainer("web")
	assert.ErrorContains(t, err, "is running")

	require.NoError(t, s.markExited(c, 3))
	out.Reset()
	require.NoError(t, printContainers(&out, cs[:0], false))
	cs, _ = s.containers()
	require.NoError(t, printContainers(&out, cs, true))
	assert.Contains(t, out.String(), "Exited (3)")
	_, err = s.removeContainer(c.ID[:8])
	require.NoError(t, err)
	assert.Empty(t, dirNames(t, s.path("containers")))
}

// Bad input is refused before anything is created.
func TestCreateContainerBadInput(t *testing.T) {
	s := testStore(t)
	importTestImage(t, s)
	require.NoError(t, s.createContainer(&container{Image: "boxlab/test", Name: "taken"}, nil))
	existing := dirNames(t, s.path("containers"))
	vol := func(spec string) volumeSpec {
		v, err := parseVolumeSpec(spec)
		require.NoError(t, err)
		return v
	}
	cases := map[string]*container{
		"neither an image":    {Image: "no/such:image"},
		"the name is in use":  {Image: "boxlab/test", Name: "taken"},
		"--name \"bad name\"": {Image: "boxlab/test", Name: "bad name"},
		"makes no host dir":   {Image: "boxlab/test", Volumes: []volumeSpec{vol("newvol:/a"), vol("/nonexistent/host:/b")}},
		"already the target":  {Image: "boxlab/test", Volumes: []volumeSpec{vol("v1:/a"), vol("v2:/a")}},
	}
	for want, c := range cases {
		err := s.createContainer(c, nil)
		assert.ErrorContains(t, err, want)
	}
	assert.Equal(t, existing, dirNames(t, s.path("containers")))
	assert.Empty(t, dirNames(t, s.path("volumes")), "no volume made for a refused run")
}

// commit of a running container freezes it for the walk (and thaws it
// after, unless the user had paused it), and reads the upper directory
// without following symlinks: a symlink to a host file is stored as the
// symlink, and a directory the container swaps for a symlink to the host
// mid-walk does not lead commit there. The swap is made from the hook
// that runs before each entry, where a container not frozen could make it.
func TestCommitRunningContainer(t *testing.T) {
	b := newBox(t)
	b.importTest()
	host := t.TempDir()
	secret := fmt.Sprintf("host secret %d", os.Getpid())
	require.NoError(t, os.WriteFile(filepath.Join(host, "secret"), []byte(secret), 0o600))
	name := fmt.Sprintf("commit-%d", os.Getpid())
	cmd := b.cmd("run", "--name", name, "boxlab/test", "sh", "-c",
		"ln -s "+host+"/secret /leak && mkdir /d && echo mine > /d/f && echo ready && exec cat")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
		b.ok("rm", name)
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)

	s, err := openStore(b.state)
	require.NoError(t, err)
	rec, err := loadRecord(name)
	require.NoError(t, err)
	cg, err := cgroupFromRecord(rec.Cgroup)
	require.NoError(t, err)
	var during []string
	commitFrozenHook = func(cgroup) { during = append(during, freezeState(t, cg)) }
	t.Cleanup(func() { commitFrozenHook, commitEntryHook = nil, nil })
	c, err := s.findContainer(name)
	require.NoError(t, err)
	upper := s.upperDir(c.ID)

	// 1. A plain commit: the symlink stays a symlink.
	img, err := s.commit(name, "boxlab/committed:run", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"frozen"}, during, "frozen while commit read the upper directory")
	assert.Equal(t, "thawed", freezeState(t, cg), "thawed after")
	top := s.diffDir(img.Layers()[len(img.Layers())-1])
	link, err := os.Readlink(filepath.Join(top, "leak"))
	require.NoError(t, err, "the layer holds the symlink")
	assert.Equal(t, host+"/secret", link)
	assert.Equal(t, "mine\n", readFile(t, filepath.Join(top, "d/f")))

	// 2. /d becomes a symlink to the host directory once commit has seen
	// it as a directory: commit fails rather than read the host's files.
	commitEntryHook = func(n string) {
		if n == "d" {
			require.NoError(t, os.Rename(filepath.Join(upper, "d"), filepath.Join(upper, "d.moved")))
			require.NoError(t, os.Symlink(host, filepath.Join(upper, "d")))
		}
	}
	_, err = s.commit(name, "boxlab/committed:swap", nil)
	commitEntryHook = nil
	if assert.Error(t, err) {
		assert.Contains(t, err.Error(), "escapes")
	}
	filepath.WalkDir(s.path("layers"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			assert.NotEqual(t, secret, readFile(t, p), "the host's file was copied into %s", p)
		}
		return nil
	})
	assert.Empty(t, dirNames(t, s.path("tmp")))
	assert.Equal(t, "thawed", freezeState(t, cg), "thawed after a failed commit too")
	require.NoError(t, os.Remove(filepath.Join(upper, "d")))
	require.NoError(t, os.Rename(filepath.Join(upper, "d.moved"), filepath.Join(upper, "d")))

	// 3. A container the user paused is committed as it is, and stays paused.
	b.ok("pause", name)
	during = nil
	_, err = s.commit(name, "boxlab/committed:paused", nil)
	require.NoError(t, err)
	assert.Empty(t, during, "commit did not freeze (or thaw) it itself")
	assert.Equal(t, "frozen", freezeState(t, cg), "still paused")
	b.ok("resume", name)
}
