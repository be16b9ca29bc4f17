package vm

// Choosing qemu's accelerator: KVM when this host can really run a KVM
// guest, software emulation (TCG) otherwise. /dev/kvm existing is not
// enough: inside another VM without nested virtualisation it may open and
// answer, and qemu still fails when it starts the first vCPU. So after the
// device checks, a tiny guest is booted with KVM: a 64 KiB firmware whose
// reset vector writes to qemu's isa-debug-exit port, which makes qemu exit
// with a known status. That takes a few milliseconds with KVM.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Accel is the accelerator qemu runs the VM with.
type Accel struct {
	Name   string // "kvm" or "tcg"
	Reason string // why: what was checked, or why KVM was not used
}

// Args are qemu's accelerator and CPU options. TCG runs one host thread
// per vCPU (thread=multi); -cpu max gives the guest every feature TCG
// emulates, RDRAND among them, so the guest's RNG is ready at once.
func (a Accel) Args() []string {
	if a.Name == "kvm" {
		return []string{"-accel", "kvm", "-cpu", "host"}
	}
	return []string{"-accel", "tcg,thread=multi", "-cpu", "max"}
}

func (a Accel) String() string {
	if a.Name == "kvm" {
		return "kvm (" + a.Reason + ")"
	}
	return "tcg, software emulation (" + a.Reason + ")"
}

// kvmAPIVersion is the only KVM API version there has ever been
// (KVM_GET_API_VERSION, Documentation/virt/kvm/api.rst).
const (
	kvmAPIVersion    = 12
	kvmGetAPIVersion = 0xAE00 // _IO(KVMIO, 0x00)
)

// CheckKVMDevice opens the KVM device and asks for its API version.
func CheckKVMDevice(dev string) error {
	fd, err := unix.Open(dev, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dev, Err: err}
	}
	defer unix.Close(fd)
	v, err := unix.IoctlRetInt(fd, kvmGetAPIVersion)
	if err != nil {
		return fmt.Errorf("%s: KVM_GET_API_VERSION: %w", dev, err)
	}
	if v != kvmAPIVersion {
		return fmt.Errorf("%s: KVM API version %d, want %d", dev, v, kvmAPIVersion)
	}
	return nil
}

// AccelChecks are the three KVM checks, cheapest first; ChooseAccel runs
// each only when the one before it passed.
type AccelChecks struct {
	Device func() error // /dev/kvm opens and speaks the KVM API
	Probe  func() error // a few real-mode instructions run under KVM
	// Kernel boots the very kernel the run will use under KVM and waits,
	// a short while, for its first console line. The probe passing is not
	// enough: on some hosts (nested virtualisation without the features a
	// long-mode kernel needs) the real-mode probe exits as asked and then
	// Linux hangs in its setup code, silently, for as long as one waits.
	Kernel func() error
}

// ChooseAccel picks the accelerator. want is "auto", "kvm" or "tcg". With
// "kvm" a failed check is an error rather than a fallback.
func ChooseAccel(want string, c AccelChecks) (Accel, error) {
	switch want {
	case "tcg":
		return Accel{Name: "tcg", Reason: "asked for with --accel tcg"}, nil
	case "auto", "", "kvm":
	default:
		return Accel{}, fmt.Errorf("--accel %q: want auto, kvm or tcg", want)
	}
	err := c.Device()
	if err == nil {
		if err = c.Probe(); err != nil {
			err = fmt.Errorf("KVM test boot failed: %w", err)
		}
	}
	if err == nil {
		if err = c.Kernel(); err != nil {
			err = fmt.Errorf("KVM boots nothing: %w", err)
		}
	}
	if err == nil {
		return Accel{Name: "kvm", Reason: "/dev/kvm works and the kernel boots under it"}, nil
	}
	if want == "kvm" {
		return Accel{}, fmt.Errorf("--accel kvm: %w (use --accel tcg or auto)", err)
	}
	return Accel{Name: "tcg", Reason: err.Error()}, nil
}

// Probe firmware: where the CPU starts and what it finds there.
const (
	probeBIOSSize = 64 << 10 // qemu wants a multiple of 64 KiB
	debugExitPort = 0xf4
	probeValue    = 0x31
	// ProbeExitStatus is qemu's exit status after the probe writes
	// probeValue to isa-debug-exit: (value << 1) | 1.
	ProbeExitStatus = probeValue<<1 | 1
)

// ProbeBIOS is a 64 KiB firmware image that does one thing: at the reset
// vector (the last 16 bytes, which the CPU starts at in real mode, at
// F000:FFF0) it writes probeValue to the isa-debug-exit port and halts.
func ProbeBIOS() []byte {
	b := make([]byte, probeBIOSSize)
	code := []byte{
		0xb0, probeValue, // mov al, probeValue
		0xe6, debugExitPort, // out debugExitPort, al
		0xf4,       // hlt
		0xeb, 0xfd, // jmp back to hlt
	}
	copy(b[len(b)-16:], code)
	return b
}

// ProbeArgs is the qemu command line that boots ProbeBIOS.
func ProbeArgs(accel, bios string) []string {
	a := Accel{Name: accel}
	return append(a.Args(),
		"-machine", "pc", "-m", "16", "-nodefaults", "-no-user-config",
		"-display", "none", "-nic", "none", "-bios", bios,
		"-device", fmt.Sprintf("isa-debug-exit,iobase=%#x,iosize=0x01", debugExitPort))
}

// ProbeBoot boots the probe firmware with accel and reports whether qemu
// came back with ProbeExitStatus within ten seconds.
func ProbeBoot(ctx context.Context, qemu, accel, dir string) error {
	bios := filepath.Join(dir, "probe-bios.bin")
	if err := os.WriteFile(bios, ProbeBIOS(), 0o644); err != nil {
		return err
	}
	defer os.Remove(bios)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, ProbeArgs(accel, bios)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return errors.New("qemu did not finish the test boot in 10s")
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == ProbeExitStatus {
		return nil
	}
	msg := strings.TrimSpace(out.String())
	if i := strings.IndexByte(msg, '\n'); i > 0 {
		msg = msg[:i]
	}
	if msg == "" && err != nil {
		msg = err.Error()
	}
	return fmt.Errorf("qemu -accel %s: %s", accel, msg)
}
