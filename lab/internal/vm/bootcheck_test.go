package vm

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeQemu writes a shell script standing in for qemu: it prints lines
// on its standard output (the serial console), then runs tail.
func fakeQemu(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "qemu")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	return p
}

func TestIsKernelLine(t *testing.T) {
	assert.True(t, IsKernelLine("[    0.000000] Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org)"))
	assert.True(t, IsKernelLine("[   12.345678] random: crng init done"))
	assert.True(t, IsKernelLine("Linux version 6.1.0 (no printk time)"))
	assert.False(t, IsKernelLine("Probing EDD (edd=off to disable)... ok"))
	assert.False(t, IsKernelLine("Decompressing Linux... Parsing ELF... done."))
}

// The case this check exists for: the real-mode setup speaks, then the
// kernel never does. The fake stops itself (SIGSTOP) as the hung guest
// does: alive, silent, forever.
func TestKernelBootCheckHang(t *testing.T) {
	q := fakeQemu(t, `echo "Probing EDD (edd=off to disable)... ok"; kill -STOP $$`)
	start := time.Now()
	err := KernelBootCheck(context.Background(), q, Accel{Name: "kvm"}, "/vmlinuz", 300*time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no console output from the kernel in 300ms")
	assert.Contains(t, err.Error(), "Probing EDD")
	assert.Less(t, time.Since(start), time.Minute, "the stopped fake was killed, not waited for")
}

func TestKernelBootCheckSilent(t *testing.T) {
	q := fakeQemu(t, `kill -STOP $$`)
	err := KernelBootCheck(context.Background(), q, Accel{Name: "kvm"}, "/vmlinuz", 200*time.Millisecond)
	require.Error(t, err)
	assert.Equal(t, "no console output in 200ms", err.Error())
}

func TestKernelBootCheckBoots(t *testing.T) {
	// The fake prints the banner and then hangs: the check returns at the
	// line, long before its bound, and kills it.
	q := fakeQemu(t, `echo "Probing EDD (edd=off to disable)... ok"; echo "[    0.000000] Linux version 6.1.0"; kill -STOP $$`)
	require.NoError(t, KernelBootCheck(context.Background(), q, Accel{Name: "kvm"}, "/vmlinuz", time.Hour))
}

func TestKernelBootCheckQemuFails(t *testing.T) {
	q := fakeQemu(t, `echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2; exit 134`)
	err := KernelBootCheck(context.Background(), q, Accel{Name: "kvm"}, "/vmlinuz", time.Hour)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited before the kernel printed anything: qemu-system-x86_64: error: failed to set MSR")
}

func TestKernelCheckArgs(t *testing.T) {
	args := KernelCheckArgs(Accel{Name: "kvm"}, "/k/vmlinuz")
	assert.Subset(t, args, []string{"-accel", "kvm", "-cpu", "host", "-kernel", "/k/vmlinuz", "-serial", "stdio", "-nic", "none", "-no-reboot"})
	assert.NotContains(t, args, "-initrd")
}

func TestAccelCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vm", "accel.json")
	c := AccelCache{Path: path, Key: "k1"}
	_, _, ok := c.Load()
	assert.False(t, ok, "nothing cached yet")
	decided := time.Date(2026, 12, 2, 18, 30, 0, 0, time.UTC)
	require.NoError(t, c.Save(Accel{Name: "tcg", Reason: "KVM boots nothing: no console output in 15s"}, decided))
	a, when, ok := c.Load()
	require.True(t, ok)
	assert.Equal(t, "tcg", a.Name)
	assert.True(t, when.Equal(decided))
	_, _, ok = AccelCache{Path: path, Key: "k2"}.Load()
	assert.False(t, ok, "another machine, qemu or kernel asks again")

	got, err := FromCache("auto", a, when, path)
	require.NoError(t, err)
	assert.Contains(t, got.Reason, "KVM boots nothing: no console output in 15s; decided 2026-12-02 18:30 UTC, cached in "+path)
	_, err = FromCache("kvm", a, when, path)
	require.Error(t, err, "--accel kvm fails fast on a machine whose KVM boots nothing")
	assert.Contains(t, err.Error(), "--accel kvm: KVM boots nothing")
}

// A VM that says nothing on either port is stopped by the stall watchdog,
// long before the run's timeout.
func TestMachineStall(t *testing.T) {
	m := Machine{Qemu: fakeQemu(t, `kill -STOP $$`), Accel: Accel{Name: "tcg"}, CPUs: 1, MemoryMB: 256,
		Dir: t.TempDir(), Stall: 300 * time.Millisecond}
	out, err := m.Run(context.Background(), time.Hour, io.Discard, func(r io.Reader) { _, _ = io.Copy(io.Discard, r) })
	require.NoError(t, err)
	assert.True(t, out.Stalled)
	assert.False(t, out.TimedOut)
}
