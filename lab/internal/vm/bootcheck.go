package vm

// The kernel test boot: the last of the KVM checks (AccelChecks.Kernel).
// The run's own kernel is booted under the accelerator with no initramfs
// and the console on the first serial port, and this waits for the first
// line the kernel itself prints ("[    0.000000] Linux version ...").
// Under KVM that line comes in well under a second; under TCG in one or
// two. Lines from the real-mode setup code that runs before the kernel
// proper ("Probing EDD (edd=off to disable)... ok") do not count: a host
// that cannot run a long-mode guest under KVM gets exactly that far, then
// nothing. Once the line is seen qemu is killed: the check is done.

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// KernelCheckBound is how long the test boot waits for the kernel's first
// console line: seconds, not minutes.
const KernelCheckBound = 15 * time.Second

// kernelCheckCmdline boots to the first printk and no further matters:
// with no initramfs and no disk the kernel panics after a while, and
// panic=-1 with -no-reboot turns that into qemu exiting.
const kernelCheckCmdline = "console=ttyS0,115200 panic=-1 loglevel=7"

// KernelCheckArgs is qemu's command line for the test boot: the machine
// the real run uses, the serial console on qemu's standard output.
func KernelCheckArgs(a Accel, kernel string) []string {
	return append(a.Args(),
		"-machine", "q35", "-m", "256", "-smp", "1",
		"-nodefaults", "-no-user-config", "-display", "none",
		"-nic", "none", "-no-reboot",
		"-kernel", kernel, "-append", kernelCheckCmdline,
		"-serial", "stdio")
}

// printkLine is a line the kernel proper printed: a printk timestamp
// (CONFIG_PRINTK_TIME, which Debian's kernels have) or the banner.
var printkLine = regexp.MustCompile(`^\[\s*\d+\.\d+\]|Linux version `)

// IsKernelLine reports whether a console line came from the kernel
// itself rather than from the boot loader or the real-mode setup code.
func IsKernelLine(line string) bool { return printkLine.MatchString(line) }

// KernelBootCheck boots kernel under a with qemu and returns nil as soon
// as the kernel prints its first line, or an error saying what happened
// instead: qemu failed, or nothing came within bound.
func KernelBootCheck(ctx context.Context, qemu string, a Accel, kernel string, bound time.Duration) error {
	w := newLineWatch()
	var stderr bytes.Buffer
	cmd := exec.Command(qemu, KernelCheckArgs(a, kernel)...)
	cmd.Stdout, cmd.Stderr = w, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", qemu, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	timer := time.NewTimer(bound)
	defer timer.Stop()

	var result error
	select {
	case <-w.kernel:
		result = nil
	case err := <-exited:
		// qemu ended before the kernel spoke: a crash or a refusal.
		exited <- err
		result = fmt.Errorf("qemu -accel %s exited before the kernel printed anything: %s",
			a.Name, firstLine(stderr.String(), err))
	case <-timer.C:
		result = fmt.Errorf("no console output in %s", bound)
		if last := w.lastLine(); last != "" {
			result = fmt.Errorf("no console output from the kernel in %s (the last line was the boot loader's %q)", bound, last)
		}
	case <-ctx.Done():
		result = ctx.Err()
	}
	_ = cmd.Process.Kill()
	<-exited
	// A kernel line may have arrived with qemu's exit: it counts.
	if result != nil && w.sawKernel() {
		return nil
	}
	return result
}

func firstLine(s string, err error) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i > 0 {
		s = s[:i]
	}
	if s == "" && err != nil {
		return err.Error()
	}
	if s == "" {
		return "no message"
	}
	return s
}

// lineWatch is qemu's standard output during the test boot: it splits the
// serial console into lines and closes kernel at the first kernel line.
type lineWatch struct {
	mu      sync.Mutex
	partial []byte
	last    string
	seen    bool
	kernel  chan struct{}
}

func newLineWatch() *lineWatch { return &lineWatch{kernel: make(chan struct{})} }

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.line(strings.TrimRight(string(w.partial[:i]), "\r"))
		w.partial = w.partial[i+1:]
		if w.seen {
			return len(p), nil
		}
	}
	if len(w.partial) > 4096 { // a console line is never this long
		w.line(string(w.partial))
		w.partial = nil
	}
	return len(p), nil
}

func (w *lineWatch) line(l string) {
	if strings.TrimSpace(l) == "" {
		return
	}
	w.last = l
	if IsKernelLine(l) && !w.seen {
		w.seen = true
		close(w.kernel)
	}
}

func (w *lineWatch) lastLine() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last == "" && len(w.partial) > 0 {
		return strings.TrimSpace(string(w.partial))
	}
	return w.last
}

func (w *lineWatch) sawKernel() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen
}
