package main

// Black-box tests of process.capabilities, as root: the probe reads the
// five sets from /proc/self/status inside, and busybox tries what a
// missing capability forbids (mount(2) without CAP_SYS_ADMIN, mknod(2)
// without CAP_MKNOD).

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"boxlab/lab/labtest"
	"boxlab/stage06-full/internal/security/seccomp"
	"boxlab/stage06-full/internal/spec"
)

// withCaps gives the process exactly these sets.
func withCaps(c specs.LinuxCapabilities) func(s *specs.Spec) {
	return func(s *specs.Spec) { s.Process.Capabilities = &c }
}

// same puts names in bounding, permitted and effective, as docker does.
func same(names ...string) specs.LinuxCapabilities {
	return specs.LinuxCapabilities{Bounding: names, Permitted: names, Effective: names}
}

func runCaps(t *testing.T, change func(s *specs.Spec)) labtest.Facts {
	t.Helper()
	labtest.RequireRoot(t)
	r := labtest.Run(t, "--root", t.TempDir(), "run", "--bundle", testBundle(t, change, "probe", "caps"), "c1")
	if r.Code != 0 {
		t.Fatalf("run: %s", r)
	}
	if strings.Contains(r.Stderr, "warning: process.capabilities") {
		t.Errorf("create warned about capabilities this kernel knows: %s", r.Stderr)
	}
	return labtest.ParseFacts(r.Stdout)
}

func wantCaps(t *testing.T, f labtest.Facts, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := f.Get(k); got != v {
			t.Errorf("%s=%s, want %s", k, got, v)
		}
	}
}

// The default config has docker's fourteen and nothing else: the
// bounding set is exactly the list, and root's permitted and effective
// sets after execve are rebuilt from it (capabilities(7), "Capabilities
// and execution of programs by root").
func TestCapsDefault(t *testing.T) {
	f := runCaps(t, nil)
	docker := "00000000a80425fb"
	wantCaps(t, f, map[string]string{
		"cap_bnd": docker, "cap_prm": docker, "cap_eff": docker,
		"cap_inh": "0000000000000000", "cap_amb": "0000000000000000",
	})
}

// A set of two, and the empty set: nothing beyond the list survives.
func TestCapsExact(t *testing.T) {
	// CAP_KILL is bit 5, CAP_NET_BIND_SERVICE bit 10.
	f := runCaps(t, withCaps(same("CAP_KILL", "CAP_NET_BIND_SERVICE")))
	wantCaps(t, f, map[string]string{
		"cap_bnd": "0000000000000420", "cap_prm": "0000000000000420", "cap_eff": "0000000000000420",
		"cap_inh": "0000000000000000", "cap_amb": "0000000000000000",
	})
	f = runCaps(t, withCaps(specs.LinuxCapabilities{}))
	zero := "0000000000000000"
	wantCaps(t, f, map[string]string{"cap_bnd": zero, "cap_prm": zero, "cap_eff": zero, "cap_inh": zero, "cap_amb": zero})
}

// A user other than root keeps only what is ambient through execve: the
// init must keep its permitted set across setuid (PR_SET_KEEPCAPS) to
// raise an ambient capability as that user, or capset and
// PR_CAP_AMBIENT_RAISE would be refused.
func TestCapsAmbientForAUser(t *testing.T) {
	bind := []string{"CAP_NET_BIND_SERVICE"}
	f := runCaps(t, func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Process.Capabilities = &specs.LinuxCapabilities{
			Bounding: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}, Permitted: bind, Effective: bind, Inheritable: bind, Ambient: bind,
		}
	})
	wantCaps(t, f, map[string]string{
		"cap_bnd": "0000000000000420", "cap_prm": "0000000000000400", "cap_eff": "0000000000000400",
		"cap_inh": "0000000000000400", "cap_amb": "0000000000000400",
	})
}

// What a capability decides, tried inside: mount(2) needs CAP_SYS_ADMIN
// (not in docker's set), mknod(2) of a device needs CAP_MKNOD (in it).
func TestCapsDecide(t *testing.T) {
	labtest.RequireRoot(t)
	withAdmin := func(s *specs.Spec) {
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, "CAP_SYS_ADMIN")
		c.Permitted, c.Effective = c.Bounding, c.Bounding
		// docker's profile for the new set, as docker --cap-add
		// makes it: mount(2) is in with CAP_SYS_ADMIN.
		var err error
		if s.Linux.Seccomp, err = seccomp.Docker(c); err != nil {
			t.Fatal(err)
		}
	}
	noMknod := func(s *specs.Spec) {
		var keep []string
		for _, c := range spec.Default().Process.Capabilities.Bounding {
			if c != "CAP_MKNOD" {
				keep = append(keep, c)
			}
		}
		*s.Process.Capabilities = same(keep...)
	}
	for _, c := range []struct {
		name   string
		change func(s *specs.Spec)
		args   []string
		code   int
		output string
	}{
		{"mount without CAP_SYS_ADMIN", nil, []string{"probe", "mount", "tmpfs", "/mnt"}, 1, "operation not permitted"},
		{"mount with CAP_SYS_ADMIN", withAdmin, []string{"probe", "mount", "tmpfs", "/mnt"}, 0, "mounted=/mnt"},
		{"mknod with CAP_MKNOD", nil, []string{"busybox", "mknod", "/dev/probe-null", "c", "1", "3"}, 0, ""},
		{"mknod without CAP_MKNOD", noMknod, []string{"busybox", "mknod", "/dev/probe-null", "c", "1", "3"}, 1, "Operation not permitted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := labtest.Run(t, "--root", t.TempDir(), "run", "--bundle", testBundle(t, c.change, c.args...), "c1")
			if r.Code != c.code || !strings.Contains(r.Stdout+r.Stderr, c.output) {
				t.Errorf("%v: exit %d, want %d with %q: %s", c.args, r.Code, c.code, c.output, r)
			}
		})
	}
}

// Bad capabilities are refused by name before anything exists.
func TestCapsRefused(t *testing.T) {
	labtest.RequireRoot(t)
	root := t.TempDir()
	r := labtest.Run(t, "--root", root, "run", "--bundle", testBundle(t, withCaps(same("CAP_KILL", "CAP_SYS_WIZARD")), "probe", "caps"), "c1")
	if r.Code != exitFailed || !strings.Contains(r.Stderr, `process.capabilities.bounding[1]: "CAP_SYS_WIZARD" is not a capability`) {
		t.Errorf("an unknown capability: %s", r)
	}
	if r.Stdout != "" {
		t.Errorf("the container ran: %q", r.Stdout)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("a refused create left %v in --root", entries)
	}
}
