package vm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testPlan() Plan {
	return Plan{
		Modules:  []string{"/lib/modules/6.1.0-56-amd64/kernel/net/llc/llc.ko", "/lib/modules/6.1.0-56-amd64/kernel/net/802/stp.ko"},
		ImageDir: "/var/cache/boxlab",
		Stages: []GuestStage{
			{Name: "stage01-chroot", Path: "boxlab/stage01-chroot", StageBinary: "/boxlab/bin/stage01-chroot",
				Packages: []GuestPackage{{ImportPath: "boxlab/stage01-chroot", Dir: "/boxlab/src/stage01-chroot",
					Binary: "/boxlab/tests/stage01-chroot/00-stage01-chroot.test"}}},
			{Name: "stage09-odd", Path: "boxlab/stage09-odd",
				Packages: []GuestPackage{
					{ImportPath: "boxlab/stage09-odd/a", Dir: "/boxlab/src/stage09-odd/it's here", Binary: "/t/01-a.test"},
					{ImportPath: "boxlab/stage09-odd/b", Dir: "/boxlab/src/stage09-odd/b", Binary: "/t/02-b.test"},
				}},
		},
		TestTimeout: 10 * time.Minute,
		Run:         "TestX|TestY$",
	}
}

func TestStage2(t *testing.T) {
	b, err := Stage2(testPlan())
	require.NoError(t, err)
	s := string(b)
	for _, want := range []string{
		"mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup",
		"mount --make-rshared /",
		`echo "+$c" >$cg/cgroup.subtree_control`,
		"insmod '/lib/modules/6.1.0-56-amd64/kernel/net/llc/llc.ko' || fatal",
		"say begin 'stage01-chroot' 'boxlab/stage01-chroot'",
		"run 'boxlab/stage01-chroot' '/boxlab/src/stage01-chroot' '/boxlab/tests/stage01-chroot/00-stage01-chroot.test' '/boxlab/bin/stage01-chroot'",
		`run 'boxlab/stage09-odd/a' '/boxlab/src/stage09-odd/it'\''s here' '/t/01-a.test' ''`,
		"say end 'stage09-odd'",
		"-test.v=test2json -test.count=1 -test.paniconexit0",
		"-test.timeout=10m0s -test.run='TestX|TestY$'",
		"BOXLAB_IMAGE_DIR='/var/cache/boxlab'",
		"svcs=" + TestsCgroup,
		`for d in $BOXLAB_CGROUPS; do echo $$ >"$d/cgroup.procs" || exit 125; done`,
		"say header \"cgroup.controllers: $(cat $cg/cgroup.controllers)\"",
		"say done",
		"poweroff -f",
	} {
		assert.Contains(t, s, want)
	}
	assert.Less(t, strings.Index(s, "llc.ko"), strings.Index(s, "stp.ko"), "modules in load order")
	assert.Less(t, strings.Index(s, "stage01-chroot"), strings.Index(s, "stage09-odd"), "stages in order")

	p := testPlan()
	p.Run = ""
	b, err = Stage2(p)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "-test.run")
}

// Both stages of init are valid sh: checked with the host's sh -n.
func TestInitScriptsParse(t *testing.T) {
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	s2, err := Stage2(testPlan())
	require.NoError(t, err)
	for name, script := range map[string][]byte{"init": Stage1(), "init.sh": s2} {
		p := filepath.Join(t.TempDir(), name)
		require.NoError(t, os.WriteFile(p, script, 0o755))
		out, err := exec.Command(sh, "-n", p).CombinedOutput()
		assert.NoError(t, err, "%s: %s", name, out)
		assert.True(t, strings.HasPrefix(string(script), "#!/bin/busybox sh\n"), name)
	}
	assert.Contains(t, string(Stage1()), "switch_root /newroot /"+GuestInit2)
}

func TestShellQuote(t *testing.T) {
	assert.Equal(t, `'plain'`, shellQuote("plain"))
	assert.Equal(t, `'it'\''s'`, shellQuote("it's"))
	assert.Equal(t, `''`, shellQuote(""))
	out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(`a b'c"$d\`)).Output()
	require.NoError(t, err)
	assert.Equal(t, `a b'c"$d\`, string(out))
}
