package main

// Load generators: each pushes on one cgroup limit and prints how far it got,
// so a test can tell "stopped by the limit" from "finished".

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const mib = 1 << 20

// cmdMem allocates MIB MiB and writes to every page, because the kernel
// charges a page to the memory cgroup only when it is first touched. The
// progress lines are single unbuffered writes: when the OOM killer strikes,
// the last line says how far the process got.
func cmdMem(args []string) error {
	if len(args) != 1 {
		return usagef("needs MIB, the number of MiB to allocate")
	}
	total, err := strconv.Atoi(args[0])
	if err != nil || total < 0 {
		return usagef("bad MIB %q", args[0])
	}
	page := os.Getpagesize()
	chunks := make([][]byte, 0, total)
	for done := 1; done <= total; done++ {
		chunk := make([]byte, mib)
		for off := 0; off < len(chunk); off += page {
			chunk[off] = 1
		}
		chunks = append(chunks, chunk)
		if done%16 == 0 {
			emit("allocated_mib", done)
		}
	}
	if total%16 != 0 || total == 0 {
		emit("allocated_mib", total)
	}
	emit("done", true)
	runtime.KeepAlive(chunks)
	return nil
}

// spinSink keeps the compiler from dropping the spin loop's arithmetic.
var spinSink uint64

// cmdSpin burns CPU on one goroutine. The iteration count measures the CPU
// share the process got (a cpu.max or cfs quota shows as fewer iterations
// for the same elapsed time); cpu_ms is what the kernel accounted to it.
func cmdSpin(args []string) error {
	pos, flags, err := parseFlags(args, []string{"until-signal"}, nil)
	if err != nil {
		return err
	}
	start := time.Now()
	if flags["until-signal"] != "" {
		if len(pos) != 0 {
			return usagef("--until-signal takes no DURATION")
		}
		return spinUntilSignal(start)
	}
	if len(pos) != 1 {
		return usagef("needs a DURATION (2s, 500ms) or --until-signal")
	}
	d, err := time.ParseDuration(pos[0])
	if err != nil || d < 0 {
		return usagef("bad DURATION %q", pos[0])
	}
	var n uint64
	for time.Since(start) < d {
		n += spinBatch()
	}
	reportSpin(n, start)
	return nil
}

// spinUntilSignal spins until SIGTERM or SIGINT and prints progress= every
// 100ms: while the cgroup is frozen the process gets no CPU, so no progress
// line appears and the count stands still.
func spinUntilSignal(start time.Time) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	var n uint64
	next := start.Add(100 * time.Millisecond)
	for {
		n += spinBatch()
		select {
		case s := <-sigs:
			emit("signal", unix.SignalName(s.(syscall.Signal)))
			reportSpin(n, start)
			return nil
		default:
		}
		if now := time.Now(); now.After(next) {
			emit("progress", n)
			next = now.Add(100 * time.Millisecond)
		}
	}
}

// spinBatch runs a few microseconds of cheap arithmetic; the caller checks
// the clock between batches, not on every iteration.
func spinBatch() uint64 {
	const batch = 4096
	x := spinSink
	for i := 0; i < batch; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	spinSink = x
	return batch
}

func reportSpin(iterations uint64, start time.Time) {
	emit("iterations", iterations)
	emit("elapsed_ms", time.Since(start).Milliseconds())
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err == nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		emit("cpu_ms", cpu.Milliseconds())
	}
}

// cmdFork starts N "probe hold" children that stay alive until released,
// stopping at the first one that cannot start: under a pids limit that is
// where the fork bomb ends. Then it releases and reaps them all.
//
// The Go runtime aborts the whole process when it cannot create a thread it
// needs, and under a saturated pids limit clone(2) fails. So the parent runs
// on one P with the GC off, and it waits for children on the netpoller (a
// parked goroutine needs no new thread); the children do the same (cmdHold).
func cmdFork(args []string) error {
	if len(args) != 1 {
		return usagef("needs N, the number of children")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 {
		return usagef("bad N %q", args[0])
	}
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(-1)

	// Every child's stdin is the read end of this pipe; the children exit on
	// EOF, which comes when the parent closes the write end. O_NONBLOCK
	// belongs to the read end, shared by all children: it makes their
	// os.Stdin use the netpoller (see cmdHold).
	var release [2]int
	if err := unix.Pipe2(release[:], unix.O_CLOEXEC); err != nil {
		return fmt.Errorf("pipe: %w", err)
	}
	if err := unix.SetNonblock(release[0], true); err != nil {
		return fmt.Errorf("pipe: %w", err)
	}
	exe := selfExe()
	var children []int
	var firstErr error
	for len(children) < n {
		pid, err := startHolder(exe, release[0])
		if err != nil {
			firstErr = err
			break
		}
		children = append(children, pid)
	}
	unix.Close(release[0])
	emit("forked", len(children))
	emit("fork_error", errText(firstErr))

	unix.Close(release[1])
	emit("reaped", reapAll(children))
	return nil
}

// startHolder starts one child and returns its pid once the child's Go
// runtime is up. The child's stdout and stderr go to a status pipe: "ready"
// means alive; anything else is how it died (a runtime that could not make
// its threads under the pids limit writes "runtime: failed to create new OS
// thread" there), and the child is reaped and counted as a failed fork.
func startHolder(exe string, stdin int) (int, error) {
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer statusR.Close()
	pid, err := syscall.ForkExec(exe, []string{"probe", "hold"}, &syscall.ProcAttr{
		Env:   append(withoutEnv(os.Environ(), "GOMAXPROCS"), "GOMAXPROCS=1"),
		Files: []uintptr{uintptr(stdin), statusW.Fd(), statusW.Fd()},
	})
	statusW.Close()
	if err != nil {
		return 0, fmt.Errorf("fork/exec %s: %w", exe, err)
	}
	line, _ := bufio.NewReader(statusR).ReadString('\n')
	if line == "ready\n" {
		return pid, nil
	}
	var ws unix.WaitStatus
	unix.Wait4(pid, &ws, 0, nil)
	return 0, fmt.Errorf("child %d died before it was ready (%s): %s",
		pid, describeWait(ws), strings.TrimSpace(line))
}

// cmdHold is the child of fork: it says "ready" and waits for EOF on stdin.
// fork hands it a non-blocking pipe, so os.Stdin reads through the netpoller:
// a goroutine parked there needs no extra thread, whereas a blocking read(2)
// makes sysmon hand the P to a new thread, which a full pids cgroup refuses,
// crashing the runtime.
func cmdHold(args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	fmt.Println("ready")
	_, err := io.Copy(io.Discard, os.Stdin)
	return err
}

// reapAll waits for every child and returns how many it reaped.
func reapAll(pids []int) int {
	reaped := 0
	for _, pid := range pids {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &ws, 0, nil)
			if err == unix.EINTR {
				continue
			}
			if err == nil {
				reaped++
			}
			break
		}
	}
	return reaped
}

// selfExe is the path to re-execute this binary: /proc/self/exe when /proc
// is mounted, otherwise the name it was started by (found on $PATH).
func selfExe() string {
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		return "/proc/self/exe"
	}
	if strings.Contains(os.Args[0], "/") {
		return os.Args[0]
	}
	for _, dir := range strings.Split(os.Getenv("PATH"), ":") {
		if p := dir + "/" + os.Args[0]; unix.Access(p, unix.X_OK) == nil {
			return p
		}
	}
	return "/bin/probe"
}

func withoutEnv(env []string, key string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func describeWait(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
