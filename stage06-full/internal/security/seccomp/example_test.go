package seccomp_test

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"boxlab/stage06-full/internal/security/seccomp"
)

// The README's filter: mkdir(2) and mkdirat(2) denied with EPERM, and
// write(2) to a descriptor above 2 killed; the rest allowed.
func ExampleFilter_Dump() {
	one, two := uint(1), uint64(2)
	f, err := seccomp.Compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &one},
			{Names: []string{"write"}, Action: specs.ActKillProcess,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: two, Op: specs.OpGreaterThan}}},
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Print(f.Dump())
	// Output:
	// 0: ld [4]                 ; arch
	//    1: jeq #3221225534,1      ; AUDIT_ARCH_X86_64
	//    2: ret #2147483648        ; SECCOMP_RET_KILL_PROCESS
	//    3: ld [0]                 ; nr
	//    4: jlt #1073741824,1      ; __X32_SYSCALL_BIT
	//    5: ret #2147483648        ; SECCOMP_RET_KILL_PROCESS
	//    6: ld [0]                 ; nr
	//    7: jneq #1,6              ; write
	//    8: ld [20]                ; args[0] high half
	//    9: jgt #0,3
	//   10: jneq #0,3
	//   11: ld [16]                ; args[0] low half
	//   12: jle #2,1
	//   13: ret #2147483648        ; SECCOMP_RET_KILL_PROCESS
	//   14: ld [0]                 ; nr
	//   15: jneq #83,1             ; mkdir
	//   16: ret #327681            ; SECCOMP_RET_ERRNO(1)
	//   17: ld [0]                 ; nr
	//   18: jneq #258,1            ; mkdirat
	//   19: ret #327681            ; SECCOMP_RET_ERRNO(1)
	//   20: ret #2147418112        ; SECCOMP_RET_ALLOW
}
