package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const aptPolicy = `busybox-static:
  Installed: (none)
  Candidate: 1:1.36.1-6ubuntu3.1
  Version table:
     1:1.36.1-6ubuntu3.1 500
        500 http://archive.ubuntu.com/ubuntu noble-updates/main amd64 Packages
nftables:
  Installed: (none)
  Candidate: (none)
  Version table:
iproute2:
  Installed: 6.1.0-3
  Candidate: 6.1.0-3
  Version table:
 *** 6.1.0-3 500
        100 /var/lib/dpkg/status
`

func TestAllHaveCandidates(t *testing.T) {
	assert.True(t, allHaveCandidates(aptPolicy, []string{"busybox-static", "iproute2"}))
	assert.False(t, allHaveCandidates(aptPolicy, []string{"busybox-static", "nftables"}), "(none) is no candidate")
	assert.False(t, allHaveCandidates(aptPolicy, []string{"not-a-package"}), "apt-cache prints nothing for unknown names")
	assert.False(t, allHaveCandidates("", []string{"iproute2"}))
}

func TestIndentWriter(t *testing.T) {
	var b bytes.Buffer
	w := newIndentWriter(&b, "    ")
	for _, chunk := range []string{"Reading package", " lists...\nDone\n", "Setting up busy", "box-static\nlast line"} {
		n, err := w.Write([]byte(chunk))
		require.NoError(t, err)
		assert.Equal(t, len(chunk), n)
	}
	w.Flush()
	assert.Equal(t, "    Reading package lists...\n    Done\n    Setting up busybox-static\n    last line\n", b.String())
}

func TestHostPackagesAreDescribed(t *testing.T) {
	names := map[string]bool{}
	for _, p := range hostPackages {
		assert.NotEmpty(t, p.Deb)
		assert.NotEmpty(t, p.Provides, p.Deb)
		assert.NotEmpty(t, p.NeededBy, p.Deb)
		require.NotNil(t, p.present, p.Deb)
		assert.False(t, names[p.Deb], "%s listed twice", p.Deb)
		names[p.Deb] = true
	}
	assert.True(t, names["busybox-static"] && names["nftables"] && names["iproute2"])
}

func TestIsStaticELF(t *testing.T) {
	notELF := filepath.Join(t.TempDir(), "script")
	require.NoError(t, os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755))
	_, err := isStaticELF(notELF)
	assert.Error(t, err)

	_, err = isStaticELF(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	// /bin/sh is dynamically linked on Debian and Ubuntu.
	static, err := isStaticELF("/bin/sh")
	if err != nil {
		t.Skipf("/bin/sh: %v", err)
	}
	if static {
		t.Skip("/bin/sh is statically linked here")
	}
}

// On a host that already has everything, ensureHostPackages is silent and
// runs no package manager. (It never installs anything from a test.)
func TestEnsureHostPackagesIsQuietWhenAllPresent(t *testing.T) {
	if missing := missingHostPackages(); len(missing) > 0 {
		t.Skipf("this host lacks %v; not installing from a test", debNames(missing))
	}
	var b bytes.Buffer
	require.NoError(t, ensureHostPackages(&b))
	assert.Empty(t, b.String())
}

// fakeApt puts apt-get and apt-cache scripts first on PATH that log their
// arguments, and swaps hostPackages for one package that "installs" by
// creating a marker file. It returns the log file.
func fakeApt(t *testing.T, candidate string) string {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	marker := filepath.Join(dir, "installed")
	writeScript := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755))
	}
	writeScript("apt-get", `echo "apt-get $* DEBIAN_FRONTEND=$DEBIAN_FRONTEND" >> `+log+`
echo "Reading package lists..."
case "$1" in install) : > `+marker+`; echo "Setting up fake-pkg" >&2;; esac
`)
	writeScript("apt-cache", `printf 'fake-pkg:\n  Installed: (none)\n  Candidate: %s\n' '`+candidate+`'
`)
	t.Setenv("PATH", dir)
	saved, savedRoot := hostPackages, runningAsRoot
	t.Cleanup(func() { hostPackages, runningAsRoot = saved, savedRoot })
	runningAsRoot = func() bool { return true } // the fake apt-get needs no root
	hostPackages = []hostPackage{{
		Deb: "fake-pkg", Provides: "fake", NeededBy: "the test", Required: true,
		present: func() (bool, string) { return exists(marker), marker },
	}}
	return log
}

func TestEnsureHostPackagesInstallsWithAptGet(t *testing.T) {
	log := fakeApt(t, "1.0-1")
	var b bytes.Buffer
	require.NoError(t, ensureHostPackages(&b))
	assert.Equal(t, "installing: fake-pkg (apt-get)\n    Reading package lists...\n    Setting up fake-pkg\n", b.String())
	calls, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.Equal(t, "apt-get install -y --no-install-recommends fake-pkg DEBIAN_FRONTEND=noninteractive\n", string(calls),
		"a package with a candidate needs no apt-get update")

	b.Reset()
	require.NoError(t, ensureHostPackages(&b))
	assert.Empty(t, b.String(), "second run: already there")
}

func TestEnsureHostPackagesUpdatesWithoutCandidate(t *testing.T) {
	log := fakeApt(t, "(none)")
	var b bytes.Buffer
	require.NoError(t, ensureHostPackages(&b))
	calls, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.Equal(t, "apt-get update DEBIAN_FRONTEND=noninteractive\n"+
		"apt-get install -y --no-install-recommends fake-pkg DEBIAN_FRONTEND=noninteractive\n", string(calls))
}

func TestEnsureHostPackagesWithoutApt(t *testing.T) {
	fakeApt(t, "1.0-1")
	t.Setenv("PATH", t.TempDir())
	saved := sbinDirs
	sbinDirs = nil
	t.Cleanup(func() { sbinDirs = saved })
	err := ensureHostPackages(io.Discard)
	assert.ErrorContains(t, err, "missing host packages: fake-pkg (the test): install them with your distribution's package manager")
}

func TestEnsureHostPackagesAsUser(t *testing.T) {
	log := fakeApt(t, "1.0-1")
	runningAsRoot = func() bool { return false }
	err := ensureHostPackages(io.Discard)
	assert.ErrorContains(t, err, "missing host packages: fake-pkg (the test): run as root (sudo ./lab.sh install)")
	assert.NoFileExists(t, log, "apt-get never ran")
}
