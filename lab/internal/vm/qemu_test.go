package vm

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMachineArgs(t *testing.T) {
	m := Machine{Qemu: "qemu-system-x86_64", Accel: Accel{Name: "tcg"}, CPUs: 2, MemoryMB: 2048,
		Kernel: "/c/vmlinuz", Initrd: "/r/initramfs.cpio.gz", Append: KernelCmdline, Dir: "/r"}
	args := m.Args("/r/con,1.sock", "/r/res.sock")
	joined := strings.Join(args, " ")
	for _, want := range []string{
		"-accel tcg,thread=multi -cpu max",
		"-smp 2", "-m 2048",
		"-nodefaults", "-no-user-config", "-display none",
		"-nic none", "-no-reboot",
		"-kernel /c/vmlinuz", "-initrd /r/initramfs.cpio.gz",
		"-chardev socket,id=console,path=/r/con,,1.sock -serial chardev:console",
		"-chardev socket,id=results,path=/r/res.sock -serial chardev:results",
	} {
		assert.Contains(t, joined, want)
	}
	assert.Contains(t, args, KernelCmdline, "the command line is one argument")
	assert.NotContains(t, joined, "-netdev", "no network at all")
	assert.Less(t, strings.Index(joined, "chardev:console"), strings.Index(joined, "chardev:results"),
		"the console is ttyS0, the results ttyS1")
	assert.Contains(t, KernelCmdline, "console=ttyS0")
	assert.Contains(t, KernelCmdline, "panic=-1")
	assert.Contains(t, KernelCmdline, "rdinit=/init")
}
