package seccomp

import (
	"encoding/binary"
	"math/rand"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// call is a system call as the filter sees it.
type call struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

// data is struct seccomp_data for x/net/bpf's VM. The VM loads 32-bit
// words big-endian (it is made for packets); the kernel loads them in the
// CPU's order. Writing each 32-bit field big-endian makes the VM read the
// values the kernel would: nr, arch, and each argument's low half at
// 16+8i, its high half at 20+8i.
func (c call) data() []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[0:], c.nr)
	binary.BigEndian.PutUint32(b[4:], c.arch)
	for i, a := range c.args {
		binary.BigEndian.PutUint32(b[offArgs+8*i:], uint32(a))
		binary.BigEndian.PutUint32(b[offArgs+8*i+4:], uint32(a>>32))
	}
	return b
}

func nr(t testing.TB, name string) uint32 {
	n, ok := syscallsAMD64[name]
	if !ok {
		t.Fatalf("no system call %q", name)
	}
	return n
}

// run runs the filter's program on c and returns its SECCOMP_RET_* value.
func run(t testing.TB, f *Filter, c call) uint32 {
	t.Helper()
	vm, err := bpf.NewVM(f.Program)
	if err != nil {
		t.Fatalf("the VM refuses the program: %v\n%s", err, f.Dump())
	}
	r, err := vm.Run(c.data())
	if err != nil {
		t.Fatal(err)
	}
	return uint32(r)
}

func compile(t testing.TB, s *specs.LinuxSeccomp) *Filter {
	t.Helper()
	f, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const (
	allow = unix.SECCOMP_RET_ALLOW
	eperm = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	kill  = unix.SECCOMP_RET_KILL_PROCESS
)

func uintp(v uint) *uint { return &v }

// The table is x/sys/unix's, itself the kernel's unistd_64.h.
func TestSyscallNumbers(t *testing.T) {
	for name, want := range map[string]uint32{
		"read": unix.SYS_READ, "mkdir": unix.SYS_MKDIR, "mkdirat": unix.SYS_MKDIRAT,
		"unshare": unix.SYS_UNSHARE, "kexec_load": unix.SYS_KEXEC_LOAD, "seccomp": unix.SYS_SECCOMP,
		"newfstatat": unix.SYS_NEWFSTATAT, "clone3": unix.SYS_CLONE3,
	} {
		if got := nr(t, name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}

func TestDenyMkdir(t *testing.T) {
	f := compile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat", "no_such_call"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EPERM))},
			{Names: []string{"kexec_load"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.ENOSYS))},
		},
	})
	x86 := uint32(unix.AUDIT_ARCH_X86_64)
	for _, c := range []struct {
		call call
		want uint32
	}{
		{call{nr: nr(t, "mkdir"), arch: x86}, eperm},
		{call{nr: nr(t, "mkdirat"), arch: x86}, eperm},
		{call{nr: nr(t, "kexec_load"), arch: x86}, unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{call{nr: nr(t, "read"), arch: x86}, allow},
		{call{nr: nr(t, "mkdir"), arch: unix.AUDIT_ARCH_I386}, kill},
		{call{nr: nr(t, "mkdir") | x32SyscallBit, arch: x86}, kill},
	} {
		if got := run(t, f, c.call); got != c.want {
			t.Errorf("nr %d arch %#x: %#x, want %#x", c.call.nr, c.call.arch, got, c.want)
		}
	}
	if len(f.Skipped) != 1 || f.Skipped[0] != "no_such_call" {
		t.Errorf("skipped %v", f.Skipped)
	}
}

func TestActions(t *testing.T) {
	for a, want := range map[specs.LinuxSeccompAction]uint32{
		specs.ActAllow: allow, specs.ActErrno: eperm, specs.ActKill: unix.SECCOMP_RET_KILL_THREAD,
		specs.ActKillThread: unix.SECCOMP_RET_KILL_THREAD, specs.ActKillProcess: kill,
		specs.ActTrap: unix.SECCOMP_RET_TRAP, specs.ActLog: unix.SECCOMP_RET_LOG,
		specs.ActTrace: unix.SECCOMP_RET_TRACE | uint32(unix.EPERM),
	} {
		f := compile(t, &specs.LinuxSeccomp{DefaultAction: a})
		if got := run(t, f, call{nr: 0, arch: unix.AUDIT_ARCH_X86_64}); got != want {
			t.Errorf("%s: %#x, want %#x", a, got, want)
		}
	}
	f := compile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(38)})
	if got := run(t, f, call{arch: unix.AUDIT_ARCH_X86_64}); got != unix.SECCOMP_RET_ERRNO|38 {
		t.Errorf("defaultErrnoRet 38: %#x", got)
	}
}

// cmp64 is what each comparison means, on the full 64 bits.
func cmp64(op specs.LinuxSeccompOperator, arg, v, v2 uint64) bool {
	switch op {
	case specs.OpEqualTo:
		return arg == v
	case specs.OpNotEqual:
		return arg != v
	case specs.OpLessThan:
		return arg < v
	case specs.OpLessEqual:
		return arg <= v
	case specs.OpGreaterThan:
		return arg > v
	case specs.OpGreaterEqual:
		return arg >= v
	case specs.OpMaskedEqual:
		return arg&v == v2
	}
	panic(op)
}

// Every comparison, against values either side of the halves' edges.
func TestArgComparisons(t *testing.T) {
	values := []uint64{0, 1, 2, 0xffffffff, 0x100000000, 0x100000001, 0x1ffffffff, 0xfffffffe00000000, ^uint64(0), 0x7f, 0x80}
	for _, op := range ops {
		for _, v := range values {
			f := compile(t, &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Syscalls: []specs.LinuxSyscall{{Names: []string{"write"}, Action: specs.ActErrno,
					Args: []specs.LinuxSeccompArg{{Index: 2, Value: v, ValueTwo: v & 0x100000003, Op: op}}}},
			})
			for _, arg := range values {
				var c = call{nr: nr(t, "write"), arch: unix.AUDIT_ARCH_X86_64}
				c.args[2] = arg
				c.args[1] = v // another argument, not looked at
				want := uint32(allow)
				if cmp64(op, arg, v, v&0x100000003) {
					want = eperm
				}
				if got := run(t, f, c); got != want {
					t.Errorf("%s %#x, arg %#x: %#x, want %#x\n%s", op, v, arg, got, want, f.Dump())
				}
			}
		}
	}
}

// Different arguments are ANDed; one argument compared twice is ORed, as
// runc does; a call's conditional rules come before its unconditional one.
func TestArgCombinations(t *testing.T) {
	f := compile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 0, Op: specs.OpEqualTo}, {Index: 0, Value: 8, Op: specs.OpEqualTo}}},
			{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 2, Op: specs.OpEqualTo}, {Index: 1, Value: 1, Op: specs.OpEqualTo}}},
			{Names: []string{"kill"}, Action: specs.ActAllow},
			{Names: []string{"kill"}, Action: specs.ActKillProcess, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1, Op: specs.OpEqualTo}}},
		},
	})
	x := uint32(unix.AUDIT_ARCH_X86_64)
	for _, c := range []struct {
		call call
		want uint32
	}{
		{call{nr(t, "personality"), x, [6]uint64{0}}, allow},
		{call{nr(t, "personality"), x, [6]uint64{8}}, allow},
		{call{nr(t, "personality"), x, [6]uint64{4}}, eperm},
		{call{nr(t, "socket"), x, [6]uint64{2, 1}}, allow},
		{call{nr(t, "socket"), x, [6]uint64{2, 2}}, eperm},
		{call{nr(t, "socket"), x, [6]uint64{10, 1}}, eperm},
		{call{nr(t, "kill"), x, [6]uint64{1}}, kill},
		{call{nr(t, "kill"), x, [6]uint64{2}}, allow},
	} {
		if got := run(t, f, c.call); got != c.want {
			t.Errorf("nr %d args %v: %#x, want %#x", c.call.nr, c.call.args[:2], got, c.want)
		}
	}
}

func TestCheckRefuses(t *testing.T) {
	for want, s := range map[string]*specs.LinuxSeccomp{
		"linux.seccomp.listenerPath: ":       {DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock"},
		"linux.seccomp.flags[0]: ":           {DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NEW_LISTENER"}},
		"linux.seccomp.defaultAction: ":      {},
		"linux.seccomp.syscalls[0].action: ": {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActNotify}}},
		"linux.seccomp.syscalls[0].args[0].index: ": {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}},
		"linux.seccomp.syscalls[0].args[0].op: ": {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_SOMETIMES"}}}}},
		"linux.seccomp.architectures[0]: ":  {DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"x86_64"}},
		"linux.seccomp.syscalls[0].names: ": {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Action: specs.ActErrno}}},
	} {
		p := Check(s)
		if len(p) != 1 || !strings.HasPrefix(p[0], want) {
			t.Errorf("Check = %q, want one problem at %q", p, want)
		}
	}
	if p := Check(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}}); p != nil {
		t.Errorf("a good profile refused: %q", p)
	}
}

// A profile too long for the kernel is refused, not cut.
func TestTooLong(t *testing.T) {
	var names []string
	for name := range syscallsAMD64 {
		names = append(names, name)
	}
	arg := []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpLessThan}, {Index: 1, Op: specs.OpGreaterThan}}
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: names, Action: specs.ActErrno, Args: arg}}}
	if _, err := Compile(s); err == nil || !strings.Contains(err.Error(), "BPF_MAXINSNS") {
		t.Errorf("Compile = %v", err)
	}
	if p := Check(s); len(p) != 1 || !strings.Contains(p[0], "BPF_MAXINSNS") {
		t.Errorf("Check = %q", p)
	}
}

// Random profiles: the program either validates in the VM, ends in a
// return and fits the kernel's limit, or the compiler refuses it; and its
// decisions are the profile's, checked against a direct reading.
func FuzzCompile(f *testing.F) {
	f.Add(int64(1), uint8(3))
	f.Add(int64(42), uint8(40))
	f.Fuzz(func(t *testing.T, seed int64, n uint8) {
		r := rand.New(rand.NewSource(seed))
		names := []string{"read", "write", "open", "mkdir", "unshare", "clone", "socket", "ioctl", "nope"}
		acts := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActKillProcess, specs.ActLog, specs.ActTrap}
		vals := []uint64{0, 1, 0xffffffff, 0x100000000, ^uint64(0), 42}
		s := &specs.LinuxSeccomp{DefaultAction: acts[r.Intn(len(acts))]}
		for i := 0; i < int(n); i++ {
			sc := specs.LinuxSyscall{Action: acts[r.Intn(len(acts))], ErrnoRet: uintp(uint(r.Intn(200)))}
			for k := r.Intn(3) + 1; k > 0; k-- {
				sc.Names = append(sc.Names, names[r.Intn(len(names))])
			}
			for k := r.Intn(4); k > 0; k-- {
				sc.Args = append(sc.Args, specs.LinuxSeccompArg{Index: uint(r.Intn(3)), Op: ops[r.Intn(len(ops))],
					Value: vals[r.Intn(len(vals))], ValueTwo: vals[r.Intn(len(vals))]})
			}
			s.Syscalls = append(s.Syscalls, sc)
		}
		prog, err := Compile(s)
		if err != nil {
			if !strings.Contains(err.Error(), "BPF_MAXINSNS") {
				t.Fatal(err)
			}
			return
		}
		if len(prog.Program) > MaxInstructions {
			t.Fatalf("%d instructions", len(prog.Program))
		}
		if _, err := prog.Assemble(); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 20; k++ {
			c := call{nr: nr(t, names[r.Intn(len(names)-1)]), arch: unix.AUDIT_ARCH_X86_64}
			for i := range c.args[:3] {
				c.args[i] = vals[r.Intn(len(vals))]
			}
			if got, want := run(t, prog, c), reference(t, s, c); got != want {
				t.Fatalf("nr %d args %v: %#x, want %#x\n%s", c.nr, c.args, got, want, prog.Dump())
			}
		}
	})
}

// reference decides a call straight from the profile: conditional rules
// first, then unconditional ones, in order; one argument compared twice
// ORs.
func reference(t testing.TB, s *specs.LinuxSeccomp, c call) uint32 {
	for _, conditional := range []bool{true, false} {
		for _, sc := range s.Syscalls {
			if (len(sc.Args) > 0) != conditional {
				continue
			}
			match := false
			for _, name := range sc.Names {
				if n, ok := syscallsAMD64[name]; ok && n == c.nr {
					match = true
				}
			}
			if !match {
				continue
			}
			holds := true
			for _, set := range argSets(sc.Args) {
				holds = true
				for _, a := range set {
					holds = holds && cmp64(a.Op, c.args[a.Index], a.Value, a.ValueTwo)
				}
				if holds {
					break
				}
			}
			if holds {
				ret, _ := action(sc.Action, sc.ErrnoRet)
				return ret
			}
		}
	}
	ret, _ := action(s.DefaultAction, s.DefaultErrnoRet)
	return ret
}
