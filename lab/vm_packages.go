package main

// The host packages `lab vm` needs on top of the lab's own (hostPackages in
// install.go): qemu to boot the VM. The kernel is not installed: it is
// downloaded as a .deb and unpacked into the lab's cache (vm_kernel.go).
// The initramfs is written by the lab itself (internal/vm/cpio.go), so
// cpio is not needed.

import "io"

// vmHostPackages is what ensureVMPackages installs.
var vmHostPackages = []hostPackage{
	{
		Deb:      "qemu-system-x86",
		Provides: "qemu-system-x86_64",
		NeededBy: "lab vm: boots the throwaway cgroup VM",
		present:  commandPresent("qemu-system-x86_64"),
	},
}

// ensureVMPackages installs whatever of vmHostPackages is missing, the way
// ensureHostPackages does for hostPackages.
func ensureVMPackages(w io.Writer) error { return ensurePackages(w, vmHostPackages) }
