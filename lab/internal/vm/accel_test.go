package vm

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// check is a fake KVM check that records whether it ran.
type check struct {
	err error
	ran bool
}

func (c *check) run() error { c.ran = true; return c.err }

func TestChooseAccel(t *testing.T) {
	noDev := errors.New("open /dev/kvm: no such file or directory")
	badBoot := errors.New("qemu -accel kvm: KVM: entry failed, hardware error 0x0")
	hang := errors.New("no console output in 15s")
	cases := []struct {
		name                string
		want                string
		dev, probe, kernel  error
		accel               string
		reason, fails       string
		probeRuns, kernRuns bool
	}{
		{name: "auto, KVM works", want: "auto", accel: "kvm", reason: "the kernel boots under it", probeRuns: true, kernRuns: true},
		{name: "empty means auto", want: "", accel: "kvm", probeRuns: true, kernRuns: true},
		{name: "auto, no /dev/kvm", want: "auto", dev: noDev, accel: "tcg", reason: "open /dev/kvm: no such file or directory"},
		{name: "auto, device answers but the probe fails", want: "auto", probe: badBoot, accel: "tcg",
			reason: "KVM test boot failed: qemu -accel kvm: KVM: entry failed", probeRuns: true},
		{name: "auto, device answers, probe passes, kernel hangs", want: "auto", kernel: hang, accel: "tcg",
			reason: "KVM boots nothing: no console output in 15s", probeRuns: true, kernRuns: true},
		{name: "tcg asked for", want: "tcg", dev: noDev, accel: "tcg", reason: "--accel tcg"},
		{name: "kvm asked for and works", want: "kvm", accel: "kvm", probeRuns: true, kernRuns: true},
		{name: "kvm asked for, none", want: "kvm", dev: noDev, fails: "--accel kvm: open /dev/kvm"},
		{name: "kvm asked for, probe fails", want: "kvm", probe: badBoot, fails: "KVM test boot failed", probeRuns: true},
		{name: "kvm asked for, kernel hangs", want: "kvm", kernel: hang, fails: "--accel kvm: KVM boots nothing: no console output in 15s",
			probeRuns: true, kernRuns: true},
		{name: "nonsense", want: "hvf", fails: `--accel "hvf"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dev, probe, kern := &check{err: c.dev}, &check{err: c.probe}, &check{err: c.kernel}
			a, err := ChooseAccel(c.want, AccelChecks{Device: dev.run, Probe: probe.run, Kernel: kern.run})
			if c.fails != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.fails)
			} else {
				require.NoError(t, err)
				assert.Equal(t, c.accel, a.Name)
				assert.Contains(t, a.Reason, c.reason)
			}
			assert.Equal(t, c.probeRuns, probe.ran, "probe ran")
			assert.Equal(t, c.kernRuns, kern.ran, "kernel test boot ran")
			if c.want == "tcg" {
				assert.False(t, dev.ran, "no KVM check when tcg is asked for")
			}
		})
	}
}

func TestAccelArgs(t *testing.T) {
	assert.Equal(t, []string{"-accel", "kvm", "-cpu", "host"}, Accel{Name: "kvm"}.Args())
	assert.Equal(t, []string{"-accel", "tcg,thread=multi", "-cpu", "max"}, Accel{Name: "tcg"}.Args())
	assert.Contains(t, Accel{Name: "tcg", Reason: "x"}.String(), "software emulation")
}

func TestCheckKVMDevice(t *testing.T) {
	err := CheckKVMDevice(filepath.Join(t.TempDir(), "kvm"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	// A device that is not KVM answers the ioctl with ENOTTY.
	err = CheckKVMDevice("/dev/null")
	assert.ErrorContains(t, err, "KVM_GET_API_VERSION")
}

// The probe firmware: 64 KiB, and at the reset vector (16 bytes from the
// end) mov al,0x31; out 0xf4,al; hlt; jmp back to the hlt.
func TestProbeBIOS(t *testing.T) {
	b := ProbeBIOS()
	require.Len(t, b, 64<<10)
	assert.Equal(t, []byte{0xb0, 0x31, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd}, b[len(b)-16:len(b)-9])
	// jmp rel8 is relative to the next instruction: 7 - 3 = 4, the hlt.
	assert.Equal(t, byte(0xf4), b[len(b)-16+7+int(int8(b[len(b)-16+6]))])
	assert.Equal(t, 99, ProbeExitStatus, "isa-debug-exit: (0x31 << 1) | 1")
	args := ProbeArgs("kvm", "/x/bios.bin")
	assert.Contains(t, args, "isa-debug-exit,iobase=0xf4,iosize=0x01")
	assert.Subset(t, args, []string{"-accel", "kvm", "-bios", "/x/bios.bin", "-nic", "none"})
}
