package security

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The name table is linux/capability.h's numbering, checked against
// x/sys/unix's constants, which are generated from the kernel headers.
func TestCapabilityNumbers(t *testing.T) {
	for name, n := range map[string]int{
		"CAP_CHOWN": unix.CAP_CHOWN, "CAP_DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE,
		"CAP_FOWNER": unix.CAP_FOWNER, "CAP_FSETID": unix.CAP_FSETID, "CAP_KILL": unix.CAP_KILL,
		"CAP_SETPCAP": unix.CAP_SETPCAP, "CAP_NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE,
		"CAP_NET_ADMIN": unix.CAP_NET_ADMIN, "CAP_NET_RAW": unix.CAP_NET_RAW,
		"CAP_SYS_CHROOT": unix.CAP_SYS_CHROOT, "CAP_SYS_ADMIN": unix.CAP_SYS_ADMIN,
		"CAP_MKNOD": unix.CAP_MKNOD, "CAP_AUDIT_WRITE": unix.CAP_AUDIT_WRITE,
		"CAP_SETFCAP": unix.CAP_SETFCAP, "CAP_SYSLOG": unix.CAP_SYSLOG,
		"CAP_AUDIT_READ": unix.CAP_AUDIT_READ, "CAP_PERFMON": unix.CAP_PERFMON,
		"CAP_BPF": unix.CAP_BPF, "CAP_CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
	} {
		c, err := ParseCapability(name)
		if err != nil || int(c) != n || c.String() != name {
			t.Errorf("ParseCapability(%q) = %d (%s), %v; want %d", name, c, c, err, n)
		}
	}
	if int(LastKnown) != unix.CAP_LAST_CAP {
		t.Errorf("LastKnown = %d, x/sys/unix's CAP_LAST_CAP = %d: the table is missing names", LastKnown, unix.CAP_LAST_CAP)
	}
}

func TestParseCapabilityRefuses(t *testing.T) {
	for name, want := range map[string]string{
		"CAP_FOO":   `"CAP_FOO" is not a capability`,
		"":          `"" is not a capability`,
		"net_admin": "write it CAP_NET_ADMIN",
		"cap_kill":  "write it CAP_KILL",
		"SYS_ADMIN": "write it CAP_SYS_ADMIN",
		"CAP_41":    "is not a capability",
	} {
		if _, err := ParseCapability(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCapability(%q) = %v, want an error with %q", name, err, want)
		}
	}
}

// docker's fourteen are the mask a docker container's /proc/self/status
// shows.
func TestSetHexAndNames(t *testing.T) {
	docker := []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
		"CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
	caps, skipped, err := FromSpec(&specs.LinuxCapabilities{Bounding: docker}, LastKnown)
	if err != nil || skipped != nil {
		t.Fatal(skipped, err)
	}
	if got := caps.Bounding.Hex(); got != "00000000a80425fb" {
		t.Errorf("docker's set = %s, want 00000000a80425fb", got)
	}
	want := "CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,CAP_FSETID,CAP_KILL,CAP_SETGID,CAP_SETUID,CAP_SETPCAP," +
		"CAP_NET_BIND_SERVICE,CAP_NET_RAW,CAP_SYS_CHROOT,CAP_MKNOD,CAP_AUDIT_WRITE,CAP_SETFCAP"
	if got := caps.Bounding.String(); got != want {
		t.Errorf("names %s, want %s", got, want)
	}
	if Set(0).Hex() != "0000000000000000" || Set(0).String() != "" {
		t.Error("the empty set")
	}
	if got := Set(1 << 40).Hex(); got != "0000010000000000" {
		t.Errorf("CAP_CHECKPOINT_RESTORE = %s", got)
	}
}

// FromSpec keeps each set apart, leaves an absent one empty, and skips
// (and names once) what the kernel does not know, as runc does.
func TestFromSpec(t *testing.T) {
	if caps, _, err := FromSpec(nil, LastKnown); caps != nil || err != nil {
		t.Errorf("FromSpec(nil) = %v, %v: no object changes nothing", caps, err)
	}
	c := &specs.LinuxCapabilities{
		Bounding:    []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"},
		Permitted:   []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_BPF"},
		Effective:   []string{"CAP_KILL"},
		Inheritable: []string{"CAP_NET_BIND_SERVICE"},
	}
	caps, skipped, err := FromSpec(c, Capability(unix.CAP_PERFMON)) // a Linux 5.8 kernel
	if err != nil {
		t.Fatal(err)
	}
	want := Caps{Bounding: 1<<5 | 1<<10, Permitted: 1<<5 | 1<<10, Effective: 1 << 5, Inheritable: 1 << 10}
	if *caps != want {
		t.Errorf("FromSpec = %+v, want %+v", *caps, want)
	}
	if !reflect.DeepEqual(skipped, []string{"CAP_BPF", "CAP_CHECKPOINT_RESTORE"}) {
		t.Errorf("skipped %v", skipped)
	}
	w := unsupportedWarning(skipped, Capability(unix.CAP_PERFMON))
	if !strings.Contains(w, "CAP_BPF, CAP_CHECKPOINT_RESTORE unknown to this kernel (its last is CAP_PERFMON") {
		t.Errorf("warning %q", w)
	}
	if _, _, err := FromSpec(&specs.LinuxCapabilities{Ambient: []string{"CAP_NOPE"}}, LastKnown); err == nil {
		t.Error("FromSpec took CAP_NOPE")
	}
}

// This kernel's last capability is one the table names (or the kernel
// is newer than the table, and its extra ones cannot be asked for).
func TestLastCap(t *testing.T) {
	last, err := LastCap()
	if err != nil {
		t.Fatal(err)
	}
	if last < unix.CAP_AUDIT_READ {
		t.Errorf("cap_last_cap %d: older than Linux 3.16?", last)
	}
}

func TestCheckCapabilities(t *testing.T) {
	if p := CheckCapabilities(nil); p != nil {
		t.Errorf("nil: %v", p)
	}
	all := []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}
	ok := &specs.LinuxCapabilities{Bounding: all, Permitted: all, Effective: all, Inheritable: all, Ambient: all}
	if p := CheckCapabilities(ok); p != nil {
		t.Errorf("consistent sets refused: %v", p)
	}
	if p := CheckCapabilities(&specs.LinuxCapabilities{}); p != nil {
		t.Errorf("empty sets refused: %v", p)
	}
	bad := &specs.LinuxCapabilities{
		Bounding:    []string{"CAP_KILL", "CAP_FOO"},
		Permitted:   []string{"CAP_KILL"},
		Effective:   []string{"CAP_KILL", "CAP_SYS_ADMIN", "CAP_MKNOD"},
		Inheritable: []string{"CAP_NET_RAW"},
		Ambient:     []string{"CAP_KILL", "net_raw"},
	}
	got := CheckCapabilities(bad)
	want := []string{
		`process.capabilities.bounding[1]: "CAP_FOO" is not a capability`,
		`process.capabilities.ambient[1]: "net_raw" is not a capability name: write it CAP_NET_RAW`,
		"process.capabilities.effective: CAP_SYS_ADMIN,CAP_MKNOD not in permitted",
		"process.capabilities.inheritable: CAP_NET_RAW not in bounding",
		"process.capabilities.ambient: CAP_KILL not both permitted and inheritable",
	}
	if len(got) != len(want) {
		t.Fatalf("CheckCapabilities = %q, want %d problems", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d: %q, want it to start %q", i, got[i], want[i])
		}
	}
}
