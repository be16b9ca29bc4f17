package main

// Actions on the process itself and on kernel objects: signals, exit codes,
// the environment, mounts and SysV IPC.

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cmdWait blocks until a signal arrives and exits the way a well-behaved
// service would: 0 for SIGHUP, 128+N for SIGTERM and SIGINT. A container's
// PID 1 gets no default action for signals, so this shows whether the
// runtime forwarded the signal and the handler saw it.
func cmdWait(args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	// Subscribe before announcing, so a signal sent on "waiting" is not lost.
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	emit("waiting", true)
	sig := (<-sigs).(syscall.Signal)
	emit("signal", unix.SignalName(sig))
	if sig == syscall.SIGHUP {
		return nil
	}
	return exitCode(128 + int(sig))
}

func cmdExit(args []string) error {
	if len(args) != 1 {
		return usagef("needs an exit code")
	}
	code, err := strconv.Atoi(args[0])
	if err != nil || code < 0 || code > 255 {
		return usagef("bad exit code %q (0-255)", args[0])
	}
	os.Exit(code)
	return nil
}

// cmdKillSelf dies by a signal, so a test can check that the runtime reports
// 128+N. The Go runtime handles many signals itself (SIGQUIT, for one, makes
// it exit 2), so the signal's disposition is reset to SIG_DFL first.
func cmdKillSelf(args []string) error {
	if len(args) != 1 {
		return usagef("needs a signal (KILL, SIGTERM, 9 ...)")
	}
	sig, err := parseSignal(args[0])
	if err != nil {
		return usagef("%v", err)
	}
	signal.Reset(sig)
	if sig != unix.SIGKILL && sig != unix.SIGSTOP {
		if err := setDefaultAction(sig); err != nil {
			return err
		}
	}
	// Aim at this very thread: a signal sent to the process may be taken by
	// another thread later, and core-dumping signals (SIGABRT, SIGQUIT ...)
	// do not kill the whole group at once, so this thread could exit first.
	// A signal to the calling thread is acted on as the syscall returns.
	runtime.LockOSThread()
	if err := unix.Tgkill(os.Getpid(), unix.Gettid(), sig); err != nil {
		return fmt.Errorf("tgkill %d %s: %w", os.Getpid(), unix.SignalName(sig), err)
	}
	// Only signals whose default is to ignore (SIGCHLD, SIGWINCH ...) or to
	// stop (and then were continued) get here.
	return fmt.Errorf("still alive after %s", unix.SignalName(sig))
}

// parseSignal accepts "9", "KILL", "SIGKILL" and "kill".
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// kernelSigaction is struct sigaction as rt_sigaction(2) takes it on amd64
// and arm64 (x/sys/unix has no wrapper).
type kernelSigaction struct {
	handler  uintptr // SIG_DFL is 0
	flags    uint64
	restorer uintptr
	mask     uint64
}

func setDefaultAction(sig syscall.Signal) error {
	var act kernelSigaction
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(&act)), 0, unsafe.Sizeof(act.mask), 0, 0)
	if errno != 0 {
		return fmt.Errorf("rt_sigaction %s: %w", unix.SignalName(sig), errno)
	}
	return nil
}

func cmdEcho(args []string) error {
	emit("args", strings.Join(args, " "))
	emit("argc", len(args))
	return nil
}

// cmdEnv prints the environment in its order, and the working directory
// (-e and -w of the run command).
func cmdEnv(args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			emit("env."+k, v)
		}
	}
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	emit("cwd", cwd)
	return nil
}

// cmdMount mounts a filesystem from inside the container: whether it may,
// and whether the host sees it, is what mount namespaces and capabilities
// decide.
func cmdMount(args []string) error {
	if len(args) != 2 && len(args) != 3 {
		return usagef("needs FSTYPE TARGET [DATA]")
	}
	fstype, target, data := args[0], args[1], ""
	if len(args) == 3 {
		data = args[2]
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(fstype, target, fstype, 0, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", fstype, target, err)
	}
	emit("mounted", target)
	return nil
}

// cmdMsgq creates, finds or removes a SysV message queue by key: queues live
// in the IPC namespace, so one made on the host is invisible in a container
// with its own.
func cmdMsgq(args []string) error {
	if len(args) != 2 {
		return usagef("needs create|check|remove KEY")
	}
	key, err := parseIPCKey(args[1])
	if err != nil {
		return usagef("%v", err)
	}
	switch args[0] {
	case "create":
		id, err := msgget(key, unix.IPC_CREAT|0o600)
		if err != nil {
			return fmt.Errorf("msgget %d: %w", key, err)
		}
		emit("msqid", id)
	case "check":
		id, err := msgget(key, 0)
		if err == unix.ENOENT {
			emit("exists", false)
			return nil
		}
		if err != nil {
			return fmt.Errorf("msgget %d: %w", key, err)
		}
		emit("exists", true)
		emit("msqid", id)
	case "remove":
		id, err := msgget(key, 0)
		if err != nil {
			return fmt.Errorf("msgget %d: %w", key, err)
		}
		if _, _, errno := unix.Syscall(unix.SYS_MSGCTL, uintptr(id), unix.IPC_RMID, 0); errno != 0 {
			return fmt.Errorf("msgctl %d IPC_RMID: %w", id, errno)
		}
		emit("removed", true)
		emit("msqid", id)
	default:
		return usagef("unknown msgq action %q", args[0])
	}
	return nil
}

// parseIPCKey reads a key_t, decimal or 0x-hex, as ipcs(1) prints it.
func parseIPCKey(s string) (int32, error) {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil || v < -1<<31 || v > 1<<32-1 {
		return 0, fmt.Errorf("bad key %q", s)
	}
	return int32(uint32(v)), nil
}

// msgget is msgget(2); x/sys/unix wraps only the shm calls of SysV IPC.
func msgget(key int32, flags int) (int, error) {
	id, _, errno := unix.Syscall(unix.SYS_MSGGET, uintptr(key), uintptr(flags), 0)
	if errno != 0 {
		return -1, errno
	}
	return int(id), nil
}
