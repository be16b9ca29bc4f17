package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// progress shows work that can take more than a moment (unpacking a
// layer): a running count of bytes and files, redrawn in place at most ten
// times a second. The running count only goes to a terminal: piped into a
// file or a test, it would be noise. Status lines (line) always print.
// A nil *progress is quiet, so library code can take one unconditionally.
type progress struct {
	w            io.Writer
	live         bool // w is a terminal: draw the running count
	label        string
	bytes, files int64
	last         time.Time
	drawn        bool
}

// newProgress reports to f, drawing the running count only when f is a
// terminal (TCGETS succeeds on terminals only; see ioctl_tty(2)).
func newProgress(f *os.File) *progress {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return &progress{w: f, live: err == nil}
}

// start begins counting a new piece of work.
func (p *progress) start(label string) {
	if p == nil {
		return
	}
	p.label, p.bytes, p.files, p.drawn = label, 0, 0, false
}

// add counts n more bytes and files, and redraws when it is time.
func (p *progress) add(bytes, files int64) {
	if p == nil {
		return
	}
	p.bytes += bytes
	p.files += files
	if p.live && time.Since(p.last) > 100*time.Millisecond {
		p.last = time.Now()
		p.draw()
	}
}

func (p *progress) draw() {
	fmt.Fprintf(p.w, "\r\033[K%s: %s, %d files", p.label, humanSize(p.bytes), p.files)
	p.drawn = true
}

// done ends the running count with its final value.
func (p *progress) done() {
	if p == nil || !p.live || !p.drawn {
		return
	}
	p.draw()
	fmt.Fprintln(p.w)
	p.drawn = false
}

// line prints one status line ("layer sha256:... already present"), to a
// terminal or not.
func (p *progress) line(format string, args ...any) {
	if p == nil {
		return
	}
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// humanSize prints a byte count as docker does: 1000-based units.
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f, i := float64(n), 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}
