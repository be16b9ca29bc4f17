// Package seccomp compiles linux.seccomp, the OCI form of a seccomp
// profile (seccomp(2), SECCOMP_SET_MODE_FILTER), to the classic BPF
// program the kernel runs on every system call, in Go: no libseccomp, no
// cgo. runc hands the profile to libseccomp, which does the same; the
// program here has libseccomp's shape, without its optimisations.
//
// The kernel runs the program on a struct seccomp_data (linux/seccomp.h):
//
//	offset  0: nr      u32  the system call's number
//	offset  4: arch    u32  AUDIT_ARCH_X86_64 for a 64-bit call
//	offset  8: instruction_pointer u64
//	offset 16: args[6] u64  the arguments, each as two 32-bit halves
//	           (classic BPF loads 32 bits at a time; x86_64 is little
//	           endian, so the low half first)
//
// and the value it returns decides: SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO
// with an errno in the low 16 bits, SECCOMP_RET_KILL_PROCESS, ...
//
// The program, for x86_64 only:
//
//	ld [4]                     the arch
//	jeq AUDIT_ARCH_X86_64, 1, 0
//	ret KILL_PROCESS           a 32-bit (int 0x80) call: another table of numbers
//	ld [0]                     the number
//	jge 0x40000000, 0, 1       x32's calls (__X32_SYSCALL_BIT): killed as well,
//	ret KILL_PROCESS           as libseccomp does for a filter without SCMP_ARCH_X32
//	then a block per rule:     ld [0]; jeq NR, 0, <next block>; argument checks; ret ACTION
//	ret DEFAULT
//
// Rules with arguments come first, then those without, each group in the
// profile's order, so that for one system call its conditional rules are
// tried before its unconditional one, as libseccomp's per-call decision
// tree does; for the same call the first match wins.
package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// MaxInstructions is the kernel's limit on a classic BPF program
// (BPF_MAXINSNS): seccomp(2) refuses a longer one with EINVAL.
const MaxInstructions = 4096

// x32SyscallBit is __X32_SYSCALL_BIT: x32's calls have it in nr and arrive
// with AUDIT_ARCH_X86_64.
const x32SyscallBit = 0x40000000

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// Filter is a compiled linux.seccomp: the program and seccomp(2)'s flags.
type Filter struct {
	Program []bpf.Instruction
	Flags   uint
	// Skipped are the system call names this arch does not have, left
	// out as libseccomp does.
	Skipped []string
}

// Known flags of linux.seccomp.flags (seccomp(2)).
var flagBits = map[specs.LinuxSeccompFlag]uint{
	specs.LinuxSeccompFlagLog:                           unix.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow:                     unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
	specs.LinuxSeccompFlag("SECCOMP_FILTER_FLAG_TSYNC"): unix.SECCOMP_FILTER_FLAG_TSYNC,
}

// Check is linux.seccomp as Validate sees it: each problem is "JSON path:
// what is wrong". A profile that compiles is a profile the kernel takes.
func Check(s *specs.LinuxSeccomp) []string {
	if s == nil {
		return nil
	}
	var problems []string
	add := func(field, format string, args ...any) {
		problems = append(problems, "linux.seccomp"+field+": "+fmt.Sprintf(format, args...))
	}
	if runtime.GOARCH != "amd64" {
		add("", "seccomp filters are compiled for x86_64 only; this runtime runs on %s: remove linux.seccomp", runtime.GOARCH)
	}
	if s.ListenerPath != "" {
		add(".listenerPath", "a seccomp notify agent (SCMP_ACT_NOTIFY) is not supported: remove it")
	}
	if s.ListenerMetadata != "" {
		add(".listenerMetadata", "a seccomp notify agent (SCMP_ACT_NOTIFY) is not supported: remove it")
	}
	for i, f := range s.Flags {
		if _, ok := flagBits[f]; !ok {
			add(fmt.Sprintf(".flags[%d]", i), "%q is not supported: this runtime knows SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW and SECCOMP_FILTER_FLAG_TSYNC", f)
		}
	}
	for i, a := range s.Architectures {
		if !strings.HasPrefix(string(a), "SCMP_ARCH_") {
			add(fmt.Sprintf(".architectures[%d]", i), "%q is not an architecture: libseccomp's names are SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, ...", a)
		}
	}
	if _, err := action(s.DefaultAction, s.DefaultErrnoRet); err != nil {
		add(".defaultAction", "%v", err)
	}
	for i, sc := range s.Syscalls {
		at := fmt.Sprintf(".syscalls[%d]", i)
		if len(sc.Names) == 0 {
			add(at+".names", "empty: name at least one system call")
		}
		if _, err := action(sc.Action, sc.ErrnoRet); err != nil {
			add(at+".action", "%v", err)
		}
		for j, a := range sc.Args {
			if a.Index > 5 {
				add(fmt.Sprintf("%s.args[%d].index", at, j), "%d: a system call has six arguments, 0 to 5", a.Index)
			}
			if !slices.Contains(ops, a.Op) {
				add(fmt.Sprintf("%s.args[%d].op", at, j), "%q is not a comparison: use SCMP_CMP_EQ, NE, LT, LE, GT, GE or MASKED_EQ", a.Op)
			}
		}
	}
	if len(problems) > 0 {
		return problems
	}
	if _, err := Compile(s); err != nil {
		add("", "%v", err)
	}
	return problems
}

var ops = []specs.LinuxSeccompOperator{
	specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
	specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual,
}

// action is the SECCOMP_RET_* value of an OCI action. errnoRet is for
// SCMP_ACT_ERRNO and SCMP_ACT_TRACE; without it, EPERM (config-linux.md).
func action(a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	data := uint32(unix.EPERM)
	if errnoRet != nil {
		if *errnoRet > 0xffff {
			return 0, fmt.Errorf("errnoRet %d does not fit SECCOMP_RET_DATA's 16 bits", *errnoRet)
		}
		data = uint32(*errnoRet)
	}
	switch a {
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActErrno:
		return unix.SECCOMP_RET_ERRNO | data, nil
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActTrace:
		return unix.SECCOMP_RET_TRACE | data, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActNotify:
		return 0, errors.New("SCMP_ACT_NOTIFY needs a notify agent, which this runtime does not support: use SCMP_ACT_ERRNO")
	case "":
		return 0, errors.New("missing: set an action, e.g. SCMP_ACT_ERRNO")
	}
	return 0, fmt.Errorf("%q is not an action: use SCMP_ACT_ALLOW, ERRNO, KILL, KILL_PROCESS, KILL_THREAD, TRAP, TRACE or LOG", a)
}

// Compile turns linux.seccomp into the program for x86_64. Names this
// arch does not have are skipped (Filter.Skipped); SCMP_ARCH_X86 and
// SCMP_ARCH_X32 in architectures are ignored: their calls are killed.
func Compile(s *specs.LinuxSeccomp) (*Filter, error) {
	def, err := action(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("defaultAction: %w", err)
	}
	f := &Filter{}
	for _, fl := range s.Flags {
		bit, ok := flagBits[fl]
		if !ok {
			return nil, fmt.Errorf("flags: %q is not supported", fl)
		}
		f.Flags |= bit
	}
	kill := bpf.RetConstant{Val: unix.SECCOMP_RET_KILL_PROCESS}
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.AUDIT_ARCH_X86_64, SkipTrue: 1},
		kill,
		bpf.LoadAbsolute{Off: offNr, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: x32SyscallBit, SkipFalse: 1},
		kill,
	}
	var conditional, plain [][]bpf.Instruction
	seen := map[string]bool{}
	for i, sc := range s.Syscalls {
		ret, err := action(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("syscalls[%d].action: %w", i, err)
		}
		for j, a := range sc.Args {
			if a.Index > 5 || !slices.Contains(ops, a.Op) {
				return nil, fmt.Errorf("syscalls[%d].args[%d]: index %d, op %q", i, j, a.Index, a.Op)
			}
		}
		for _, name := range sc.Names {
			nr, ok := syscallsAMD64[name]
			if !ok {
				if !seen[name] {
					f.Skipped = append(f.Skipped, name)
					seen[name] = true
				}
				continue
			}
			if len(sc.Args) == 0 {
				plain = append(plain, rule(nr, nil, ret))
				continue
			}
			for _, args := range argSets(sc.Args) {
				conditional = append(conditional, rule(nr, args, ret))
			}
		}
	}
	for _, b := range append(conditional, plain...) {
		prog = append(prog, b...)
	}
	prog = append(prog, bpf.RetConstant{Val: def})
	if len(prog) > MaxInstructions {
		return nil, fmt.Errorf("the filter is %d instructions, more than the kernel's %d (BPF_MAXINSNS): list fewer system calls or arguments", len(prog), MaxInstructions)
	}
	f.Program = prog
	return f, nil
}

// argSets are the argument checks of one rule, each set ANDed. As runc
// does, a rule that compares one argument more than once is one rule per
// comparison instead (ORed): docker's personality(2) allows three values
// of its first argument that way.
func argSets(args []specs.LinuxSeccompArg) [][]specs.LinuxSeccompArg {
	idx := map[uint]bool{}
	for _, a := range args {
		if idx[a.Index] {
			var sets [][]specs.LinuxSeccompArg
			for _, a := range args {
				sets = append(sets, []specs.LinuxSeccompArg{a})
			}
			return sets
		}
		idx[a.Index] = true
	}
	return [][]specs.LinuxSeccompArg{args}
}

// Jump targets while a block is built, resolved by rule.
const (
	toFail = -1 - iota // the next block: this rule does not match
	toEnd              // past this comparison: it holds
)

// rule is one block: the number, the comparisons, the action.
func rule(nr uint32, args []specs.LinuxSeccompArg, ret uint32) []bpf.Instruction {
	type jump struct {
		cond        bpf.JumpTest
		val         uint32
		onTrue, onF int // 0: the next instruction, or toFail, toEnd
	}
	var b []any // bpf.Instruction or jump
	b = append(b, bpf.LoadAbsolute{Off: offNr, Size: 4}, jump{bpf.JumpEqual, nr, 0, toFail})
	var ends []int // per comparison: the index past it
	for _, a := range args {
		hiOff := uint32(offArgs + 8*a.Index + 4)
		loOff := uint32(offArgs + 8*a.Index)
		v, v2 := a.Value, a.ValueTwo
		hi, lo := uint32(v>>32), uint32(v)
		ld := func(off uint32) bpf.Instruction { return bpf.LoadAbsolute{Off: off, Size: 4} }
		switch a.Op {
		case specs.OpEqualTo:
			b = append(b, ld(hiOff), jump{bpf.JumpEqual, hi, 0, toFail}, ld(loOff), jump{bpf.JumpEqual, lo, toEnd, toFail})
		case specs.OpNotEqual:
			b = append(b, ld(hiOff), jump{bpf.JumpEqual, hi, 0, toEnd}, ld(loOff), jump{bpf.JumpEqual, lo, toFail, toEnd})
		case specs.OpMaskedEqual: // (arg & value) == valueTwo
			b = append(b, ld(hiOff), bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: hi}, jump{bpf.JumpEqual, uint32(v2 >> 32), 0, toFail},
				ld(loOff), bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: lo}, jump{bpf.JumpEqual, uint32(v2), toEnd, toFail})
		case specs.OpGreaterThan, specs.OpGreaterEqual:
			low := bpf.JumpGreaterThan
			if a.Op == specs.OpGreaterEqual {
				low = bpf.JumpGreaterOrEqual
			}
			b = append(b, ld(hiOff), jump{bpf.JumpGreaterThan, hi, toEnd, 0}, jump{bpf.JumpEqual, hi, 0, toFail},
				ld(loOff), jump{low, lo, toEnd, toFail})
		case specs.OpLessThan, specs.OpLessEqual: // not GE, not GT
			low := bpf.JumpGreaterOrEqual
			if a.Op == specs.OpLessEqual {
				low = bpf.JumpGreaterThan
			}
			b = append(b, ld(hiOff), jump{bpf.JumpGreaterThan, hi, toFail, 0}, jump{bpf.JumpEqual, hi, 0, toEnd},
				ld(loOff), jump{low, lo, toFail, toEnd})
		}
		ends = append(ends, len(b))
	}
	b = append(b, bpf.RetConstant{Val: ret})
	fail := len(b)
	out := make([]bpf.Instruction, len(b))
	end := 0
	for i, x := range b {
		for end < len(ends) && ends[end] <= i {
			end++
		}
		j, ok := x.(jump)
		if !ok {
			out[i] = x.(bpf.Instruction)
			continue
		}
		skip := func(t int) uint8 {
			switch t {
			case toFail:
				return uint8(fail - i - 1)
			case toEnd:
				return uint8(ends[end] - i - 1)
			}
			return uint8(t)
		}
		out[i] = bpf.JumpIf{Cond: j.cond, Val: j.val, SkipTrue: skip(j.onTrue), SkipFalse: skip(j.onF)}
	}
	return out
}

// Assemble is the program as the kernel takes it (struct sock_filter).
func (f *Filter) Assemble() ([]unix.SockFilter, error) {
	raw, err := bpf.Assemble(f.Program)
	if err != nil {
		return nil, err
	}
	out := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		out[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return out, nil
}

// Dump is the program one instruction a line, in bpf_asm's syntax
// (x/net/bpf's String, which writes a jump with one target as its
// negation), numbered, with what the constants mean: for the README and
// for debugging.
func (f *Filter) Dump() string {
	names := map[uint32]string{}
	for name, nr := range syscallsAMD64 {
		names[nr] = name
	}
	var sb strings.Builder
	var loaded uint32
	for i, ins := range f.Program {
		var note string
		switch ins := ins.(type) {
		case bpf.LoadAbsolute:
			loaded = ins.Off
			switch {
			case ins.Off == offNr:
				note = "nr"
			case ins.Off == offArch:
				note = "arch"
			case ins.Off >= offArgs:
				half := "low"
				if (ins.Off-offArgs)%8 == 4 {
					half = "high"
				}
				note = fmt.Sprintf("args[%d] %s half", (ins.Off-offArgs)/8, half)
			}
		case bpf.JumpIf:
			switch {
			case loaded == offArch && ins.Val == unix.AUDIT_ARCH_X86_64:
				note = "AUDIT_ARCH_X86_64"
			case loaded == offNr && ins.Val == x32SyscallBit:
				note = "__X32_SYSCALL_BIT"
			case loaded == offNr:
				note = names[ins.Val]
			}
		case bpf.RetConstant:
			note = retName(ins.Val)
		}
		line := fmt.Sprintf("%4d: %v", i, ins)
		if note != "" {
			line = fmt.Sprintf("%-28s ; %s", line, note)
		}
		sb.WriteString(line + "\n")
	}
	return sb.String()
}

// retName names a SECCOMP_RET_* value.
func retName(v uint32) string {
	data := v & unix.SECCOMP_RET_DATA
	switch v & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_ALLOW:
		return "SECCOMP_RET_ALLOW"
	case unix.SECCOMP_RET_ERRNO:
		return fmt.Sprintf("SECCOMP_RET_ERRNO(%d)", data)
	case unix.SECCOMP_RET_KILL_PROCESS:
		return "SECCOMP_RET_KILL_PROCESS"
	case unix.SECCOMP_RET_KILL_THREAD:
		return "SECCOMP_RET_KILL_THREAD"
	case unix.SECCOMP_RET_TRAP:
		return "SECCOMP_RET_TRAP"
	case unix.SECCOMP_RET_TRACE:
		return fmt.Sprintf("SECCOMP_RET_TRACE(%d)", data)
	case unix.SECCOMP_RET_LOG:
		return "SECCOMP_RET_LOG"
	}
	return ""
}
