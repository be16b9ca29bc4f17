package main

// Black-box tests of linux.seccomp, as root: busybox tries a call the
// profile denies, and the same call runs without the profile, so the
// failure is the filter's.

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"boxlab/lab/labtest"
)

func runSeccomp(t *testing.T, change func(s *specs.Spec), args ...string) labtest.Result {
	t.Helper()
	return labtest.Run(t, "--root", t.TempDir(), "run", "--bundle", testBundle(t, change, args...), "c1")
}

func eperm() *uint { e := uint(1); return &e }

// A profile that denies mkdir(2) and mkdirat(2) with EPERM: busybox
// mkdir fails as without the right to, with and without no_new_privs
// (the filter goes in at two places, see internal/initproc/init.go).
func TestSeccompDenyMkdir(t *testing.T) {
	labtest.RequireRoot(t)
	deny := func(nnp bool) func(s *specs.Spec) {
		return func(s *specs.Spec) {
			s.Process.NoNewPrivileges = nnp
			s.Linux.Seccomp = &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"},
					Action: specs.ActErrno, ErrnoRet: eperm()}},
			}
		}
	}
	for _, nnp := range []bool{true, false} {
		r := runSeccomp(t, deny(nnp), "busybox", "mkdir", "/dev/shm/seccomp-probe")
		if r.Code != 1 || !strings.Contains(r.Stderr, "Operation not permitted") {
			t.Errorf("noNewPrivileges %v: mkdir under the filter: %s", nnp, r)
		}
	}
	noFilter := func(s *specs.Spec) { s.Linux.Seccomp = nil }
	if r := runSeccomp(t, noFilter, "busybox", "mkdir", "/dev/shm/seccomp-probe"); r.Code != 0 {
		t.Errorf("mkdir without a filter: %s", r)
	}
}

// docker's default profile, in the default config: unshare(2) is denied
// (it needs CAP_SYS_ADMIN in the bounding set, which docker's fourteen
// lack; CLONE_NEWUSER alone needs no capability, so only the filter
// stops it), and an ordinary command runs.
func TestSeccompDockerDefault(t *testing.T) {
	labtest.RequireRoot(t)
	r := runSeccomp(t, nil, "busybox", "unshare", "-U", "true")
	if r.Code == 0 || !strings.Contains(r.Stderr, "Operation not permitted") {
		t.Errorf("unshare -U under docker's profile: %s", r)
	}
	noFilter := func(s *specs.Spec) { s.Linux.Seccomp = nil }
	if r := runSeccomp(t, noFilter, "busybox", "unshare", "-U", "true"); r.Code != 0 {
		t.Errorf("unshare -U without a filter: %s", r)
	}
	r = runSeccomp(t, nil, "sh", "-c", "mkdir /dev/shm/d && ls -d /dev/shm/d && cat /proc/self/status | grep Seccomp:")
	if r.Code != 0 || !strings.Contains(r.Stdout, "/dev/shm/d") || !strings.Contains(r.Stdout, "Seccomp:\t2") {
		t.Errorf("a command under docker's profile: %s", r)
	}
}

// A profile the runtime cannot carry out is refused by its field.
func TestSeccompRefused(t *testing.T) {
	labtest.RequireRoot(t)
	r := runSeccomp(t, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock"}
	}, "true")
	if r.Code != exitFailed || !strings.Contains(r.Stderr, "linux.seccomp.listenerPath: ") || r.Stdout != "" {
		t.Errorf("a notify agent: %s", r)
	}
}
