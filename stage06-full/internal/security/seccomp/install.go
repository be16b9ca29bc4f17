package seccomp

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Install loads the filter on the calling thread with seccomp(2)
// SECCOMP_SET_MODE_FILTER (no libseccomp: the raw call). The kernel takes
// it only from a thread with no_new_privs set or CAP_SYS_ADMIN in its
// user namespace: otherwise a setuid program run under the filter could
// be made to misbehave by failing its calls. It holds for the thread and
// everything it execs or forks, for ever; with SECCOMP_FILTER_FLAG_TSYNC
// for the process's other threads too. The caller runs on a locked thread,
// the one that calls execve next.
func (f *Filter) Install() error {
	prog, err := f.Assemble()
	if err != nil {
		return fmt.Errorf("seccomp: assemble: %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(f.Flags), uintptr(unsafe.Pointer(&fprog))); errno != 0 {
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER, %d instructions): %w", len(prog), errno)
	}
	return nil
}
