package vm

// Running the VM: qemu with no network device, no disk and no display; the
// kernel and the initramfs given directly; two serial ports, each
// connected to a unix socket this process listens on. ttyS0 is the
// console (kernel messages, init's output), ttyS1 the results channel.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Machine is one VM to boot.
type Machine struct {
	Qemu     string // qemu-system-x86_64
	Accel    Accel
	CPUs     int
	MemoryMB int
	Kernel   string // vmlinuz
	Initrd   string // the initramfs
	Append   string // kernel command line
	Dir      string // where the sockets go (a private temporary directory)
	// Stall ends the VM when neither serial port has said anything for
	// this long (0: never). A guest that hangs, in its boot or in a test,
	// is cut off in minutes instead of at the whole run's timeout.
	Stall time.Duration
}

// KernelCmdline is the guest kernel's command line: the console on the
// first serial port, init from the initramfs, and a kernel panic (init
// died) that powers the VM off at once instead of rebooting (-no-reboot
// turns the reboot into an exit).
const KernelCmdline = "console=ttyS0,115200 rdinit=/" + GuestInit + " panic=-1 quiet loglevel=4"

// chardevPath escapes a path for a qemu option value, where a comma
// separates options and ",," is a literal comma.
func chardevPath(p string) string { return strings.ReplaceAll(p, ",", ",,") }

// Args is qemu's command line, given the two sockets' paths.
func (m Machine) Args(console, results string) []string {
	args := m.Accel.Args()
	return append(args,
		"-machine", "q35",
		"-smp", strconv.Itoa(m.CPUs),
		"-m", strconv.Itoa(m.MemoryMB),
		"-nodefaults", "-no-user-config",
		"-display", "none",
		"-nic", "none", // no network device at all
		"-no-reboot",
		"-kernel", m.Kernel,
		"-initrd", m.Initrd,
		"-append", m.Append,
		"-chardev", "socket,id=console,path="+chardevPath(console),
		"-serial", "chardev:console",
		"-chardev", "socket,id=results,path="+chardevPath(results),
		"-serial", "chardev:results",
	)
}

// Outcome is how a run of the VM ended.
type Outcome struct {
	ExitCode int           // qemu's exit status; -1 when killed
	TimedOut bool          // the timeout cut it off
	Canceled bool          // the context was canceled (Ctrl-C)
	Stalled  bool          // nothing came from the VM for Machine.Stall
	Stderr   string        // what qemu itself printed
	Elapsed  time.Duration // from qemu's start to its exit
}

// Run boots the machine and waits until it powers off, the timeout
// passes or ctx is canceled; then qemu is killed if it still runs.
// console receives the first serial port's bytes; results is called with
// the second port's stream and must read it to the end. Run returns once
// qemu has exited and both streams are drained. The error is for a VM
// that could not be started at all.
func (m Machine) Run(ctx context.Context, timeout time.Duration, console io.Writer, results func(io.Reader)) (Outcome, error) {
	conPath := filepath.Join(m.Dir, "console.sock")
	resPath := filepath.Join(m.Dir, "results.sock")
	conL, err := net.Listen("unix", conPath)
	if err != nil {
		return Outcome{}, err
	}
	defer conL.Close()
	resL, err := net.Listen("unix", resPath)
	if err != nil {
		return Outcome{}, err
	}
	defer resL.Close()

	// Every read from either port is progress; activity carries the news
	// to the loop below without ever blocking a reader.
	activity := make(chan struct{}, 1)
	var wg sync.WaitGroup
	serve := func(l net.Listener, f func(io.Reader)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := l.Accept()
			if err != nil { // closed: qemu never connected
				f(bytes.NewReader(nil))
				return
			}
			defer c.Close()
			f(progressReader{c, activity})
		}()
	}
	serve(conL, func(r io.Reader) { _, _ = io.Copy(console, r) })
	serve(resL, results)

	var stderr bytes.Buffer
	cmd := exec.Command(m.Qemu, m.Args(conPath, resPath)...)
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	// If this process dies, qemu dies with it: the VM is never left behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		conL.Close()
		resL.Close()
		wg.Wait()
		return Outcome{}, fmt.Errorf("start %s: %w", m.Qemu, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var (
		stallTimer *time.Timer
		stalled    <-chan time.Time // nil (never ready) without a Stall
	)
	if m.Stall > 0 {
		stallTimer = time.NewTimer(m.Stall)
		defer stallTimer.Stop()
		stalled = stallTimer.C
	}
	var out Outcome
	var waitErr error
wait:
	for {
		select {
		case waitErr = <-exited:
			break wait
		case <-activity:
			if stallTimer != nil {
				stallTimer.Reset(m.Stall)
			}
		case <-stalled:
			out.Stalled = true
			break wait
		case <-timer.C:
			out.TimedOut = true
			break wait
		case <-ctx.Done():
			out.Canceled = true
			break wait
		}
	}
	if out.TimedOut || out.Canceled || out.Stalled {
		_ = cmd.Process.Kill()
		waitErr = <-exited
	}
	out.Elapsed = time.Since(start)
	// qemu is gone: its ends of the sockets are closed, so the readers see
	// EOF; closing the listeners ends an Accept that never got a client.
	conL.Close()
	resL.Close()
	wg.Wait()

	out.Stderr = strings.TrimSpace(stderr.String())
	out.ExitCode = 0
	var ee *exec.ExitError
	switch {
	case errors.As(waitErr, &ee):
		out.ExitCode = ee.ExitCode()
	case waitErr != nil:
		out.ExitCode = -1
	}
	return out, nil
}

// progressReader passes reads through and, for every read that brought
// bytes, leaves a token in activity (or finds one already there).
type progressReader struct {
	r        io.Reader
	activity chan<- struct{}
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		select {
		case p.activity <- struct{}{}:
		default:
		}
	}
	return n, err
}
