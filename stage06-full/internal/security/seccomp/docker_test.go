package seccomp

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
	"CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// docker's default profile, compiled: what `docker run` allows and denies.
func TestDockerProfile(t *testing.T) {
	s, err := Docker(&specs.LinuxCapabilities{Bounding: dockerCaps})
	if err != nil {
		t.Fatal(err)
	}
	if p := Check(s); p != nil {
		t.Fatalf("docker's profile refused: %q", p)
	}
	f := compile(t, s)
	t.Logf("%d instructions; names not on x86_64: %v", len(f.Program), f.Skipped)
	x := uint32(unix.AUDIT_ARCH_X86_64)
	const cloneNewUser = unix.CLONE_NEWUSER
	for _, c := range []struct {
		name string
		args [6]uint64
		want uint32
	}{
		{"read", [6]uint64{}, allow},
		{"execve", [6]uint64{}, allow},
		{"mkdirat", [6]uint64{}, allow},
		{"kexec_load", [6]uint64{}, eperm},
		{"open_by_handle_at", [6]uint64{}, eperm},
		{"unshare", [6]uint64{cloneNewUser}, eperm},
		{"mount", [6]uint64{}, eperm},
		{"reboot", [6]uint64{}, eperm},
		{"clone", [6]uint64{uint64(unix.SIGCHLD)}, allow},                // fork
		{"clone", [6]uint64{uint64(unix.SIGCHLD) | cloneNewUser}, eperm}, // a new namespace
		{"clone3", [6]uint64{}, unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{"personality", [6]uint64{0}, allow},
		{"personality", [6]uint64{0xffffffff}, allow},
		{"personality", [6]uint64{0x0800000}, eperm},
	} {
		if got := run(t, f, call{nr(t, c.name), x, c.args}); got != c.want {
			t.Errorf("%s%v: %#x, want %#x", c.name, c.args[:1], got, c.want)
		}
	}
	// With CAP_SYS_ADMIN in the bounding set, the namespace calls are allowed.
	s, err = Docker(&specs.LinuxCapabilities{Bounding: append(dockerCaps, "CAP_SYS_ADMIN")})
	if err != nil {
		t.Fatal(err)
	}
	f = compile(t, s)
	for _, name := range []string{"unshare", "mount", "setns"} {
		if got := run(t, f, call{nr: nr(t, name), arch: x}); got != allow {
			t.Errorf("with CAP_SYS_ADMIN %s: %#x, want allow", name, got)
		}
	}
	if got := run(t, f, call{nr: nr(t, "kexec_load"), arch: x}); got != eperm {
		t.Errorf("with CAP_SYS_ADMIN kexec_load: %#x, want EPERM (needs CAP_SYS_BOOT)", got)
	}
}
