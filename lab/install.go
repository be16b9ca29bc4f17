package main

// `lab install`: put on the host the few packages the lab needs. The stages
// themselves need nothing but the kernel; these are for building the test
// image and for watching what the stages do.

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/spf13/pflag"
)

// A hostPackage is one Debian/Ubuntu package the lab needs, with the file
// or command that shows it is there.
type hostPackage struct {
	Deb      string // package name for apt-get
	Provides string // what the lab looks for
	NeededBy string // why the lab needs it
	Required bool   // doctor fails without it; otherwise it warns
	// present reports whether the host has it, and a word on what it found.
	present func() (bool, string)
}

// hostPackages is the list `lab install` installs and `lab doctor` checks.
var hostPackages = []hostPackage{
	{
		Deb:      "busybox-static",
		Provides: "a statically linked /bin/busybox",
		NeededBy: "lab rootfs: the test image is one static busybox plus the probe",
		Required: true,
		present:  staticBusybox,
	},
	{
		Deb:      "nftables",
		Provides: "nft",
		NeededBy: "tests and --explain: 'nft list ruleset' shows stage05's NAT rules",
		present:  commandPresent("nft"),
	},
	{
		Deb:      "iproute2",
		Provides: "ip",
		NeededBy: "tests and --explain: 'ip link', 'ip addr' show stage05's links",
		present:  commandPresent("ip"),
	},
}

// busyboxCandidates are where Debian and Ubuntu put busybox.
var busyboxCandidates = []string{"/bin/busybox", "/usr/bin/busybox"}

// staticBusybox looks for a busybox without an ELF interpreter: a dynamic
// one cannot run inside a rootfs that has no libc.
func staticBusybox() (bool, string) {
	var notes []string
	for _, p := range busyboxCandidates {
		static, err := isStaticELF(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue
		case err != nil:
			notes = append(notes, err.Error())
		case static:
			return true, p + " (static)"
		default:
			notes = append(notes, p+" is dynamically linked")
		}
	}
	if len(notes) == 0 {
		return false, "no busybox in " + strings.Join(busyboxCandidates, " or ")
	}
	return false, strings.Join(notes, "; ")
}

// isStaticELF reports whether path is an ELF executable with no PT_INTERP
// program header, i.e. one the kernel runs without a dynamic loader.
func isStaticELF(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, err
		}
		return false, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// sbinDirs are searched too: sudo and su often leave them off PATH.
var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"}

// lookCommand finds a command on PATH or in the usual system directories.
func lookCommand(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, d := range sbinDirs {
		p := d + "/" + name
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

func commandPresent(name string) func() (bool, string) {
	return func() (bool, string) {
		if p, ok := lookCommand(name); ok {
			return true, p
		}
		return false, name + " not found"
	}
}

// missingHostPackages returns the lab's packages whose check fails.
func missingHostPackages() []hostPackage { return missingOf(hostPackages) }

// missingOf returns the packages of pkgs whose check fails.
func missingOf(pkgs []hostPackage) []hostPackage {
	var missing []hostPackage
	for _, p := range pkgs {
		if ok, _ := p.present(); !ok {
			missing = append(missing, p)
		}
	}
	return missing
}

func debNames(pkgs []hostPackage) []string {
	names := make([]string, len(pkgs))
	for i, p := range pkgs {
		names[i] = p.Deb
	}
	return names
}

// runningAsRoot is isRoot; tests replace it to take either side.
var runningAsRoot = isRoot

// ensureHostPackages installs whatever of hostPackages is missing, with
// apt-get, and prints nothing when all of it is already there.
func ensureHostPackages(w io.Writer) error { return ensurePackages(w, hostPackages) }

// ensurePackages installs whatever of pkgs is missing: apt-get install of
// the missing ones, with an apt-get update first when apt knows no version
// of one of them, or after an install that failed on stale package lists.
// It prints nothing when all of them are there.
func ensurePackages(w io.Writer, pkgs []hostPackage) error {
	missing := missingOf(pkgs)
	if len(missing) == 0 {
		return nil
	}
	names := debNames(missing)
	var why []string
	for _, p := range missing {
		why = append(why, fmt.Sprintf("%s (%s)", p.Deb, p.NeededBy))
	}
	if !runningAsRoot() {
		return fmt.Errorf("missing host packages: %s: run as root (sudo ./lab.sh install)", strings.Join(why, ", "))
	}
	aptGet, ok := lookCommand("apt-get")
	if !ok {
		return fmt.Errorf("missing host packages: %s: install them with your distribution's package manager", strings.Join(why, ", "))
	}
	fmt.Fprintf(w, "installing: %s (apt-get)\n", strings.Join(names, " "))
	out := newIndentWriter(w, "    ")
	defer out.Flush()

	updated := false
	if !aptCandidates(names) {
		if err := runApt(out, aptGet, "update"); err != nil {
			return err
		}
		updated = true
	}
	install := append([]string{"install", "-y", "--no-install-recommends"}, names...)
	err := runApt(out, aptGet, install...)
	if err != nil && !updated {
		// The package lists may be stale (a version the mirror no longer
		// has): refresh them once and try again.
		if err = runApt(out, aptGet, "update"); err == nil {
			err = runApt(out, aptGet, install...)
		}
	}
	if err != nil {
		return err
	}
	if still := missingOf(pkgs); len(still) > 0 {
		return fmt.Errorf("apt-get installed %s but the lab still cannot find: %s",
			strings.Join(names, " "), strings.Join(debNames(still), " "))
	}
	return nil
}

// aptCandidates reports whether apt knows a version to install for every
// package; without one, apt-get needs an update first.
func aptCandidates(names []string) bool {
	aptCache, ok := lookCommand("apt-cache")
	if !ok {
		return false
	}
	out, err := exec.Command(aptCache, append([]string{"policy"}, names...)...).Output()
	if err != nil {
		return false
	}
	return allHaveCandidates(string(out), names)
}

// allHaveCandidates reads `apt-cache policy PKG...` output: each known
// package has a "PKG:" header and a "Candidate: VERSION" line, which says
// "(none)" when no source offers it.
func allHaveCandidates(policy string, names []string) bool {
	found := map[string]bool{}
	current := ""
	for _, line := range strings.Split(policy, "\n") {
		if line != "" && line[0] != ' ' && strings.HasSuffix(line, ":") {
			current = strings.TrimSuffix(line, ":")
			continue
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Candidate:"); ok && current != "" {
			if v = strings.TrimSpace(v); v != "" && v != "(none)" {
				found[current] = true
			}
		}
	}
	for _, n := range names {
		if !found[n] {
			return false
		}
	}
	return true
}

func runApt(out io.Writer, aptGet string, args ...string) error {
	cmd := exec.Command(aptGet, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdin = nil
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apt-get %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// indentWriter prefixes every line written through it, so a child's
// output reads as part of ours.
type indentWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    bytes.Buffer
}

func newIndentWriter(w io.Writer, prefix string) *indentWriter {
	return &indentWriter{w: w, prefix: prefix}
}

func (iw *indentWriter) Write(p []byte) (int, error) {
	iw.mu.Lock()
	defer iw.mu.Unlock()
	iw.buf.Write(p)
	for {
		line, err := iw.buf.ReadBytes('\n')
		if err != nil { // no newline yet: keep the partial line
			iw.buf.Reset()
			iw.buf.Write(line)
			return len(p), nil
		}
		if _, err := fmt.Fprintf(iw.w, "%s%s", iw.prefix, line); err != nil {
			return len(p), err
		}
	}
}

// Flush writes out a last line that had no newline.
func (iw *indentWriter) Flush() {
	iw.mu.Lock()
	defer iw.mu.Unlock()
	if iw.buf.Len() > 0 {
		fmt.Fprintf(iw.w, "%s%s\n", iw.prefix, iw.buf.String())
		iw.buf.Reset()
	}
}

func init() {
	register(command{
		name:    "install",
		summary: "install the host packages the lab needs (busybox-static, nftables, iproute2)",
		run:     runInstall,
	})
}

func runInstall(args []string) error {
	fs := pflag.NewFlagSet("install", pflag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: lab install\n\nInstalls, with apt-get, whichever of these the host lacks:")
		for _, p := range hostPackages {
			fmt.Fprintf(os.Stderr, "  %-15s %s\n", p.Deb, p.NeededBy)
		}
	}
	if done, err := parseCommandFlags(fs, args); done {
		return err
	}
	if err := ensureHostPackages(os.Stdout); err != nil {
		return err
	}
	fmt.Println("host packages: ok")
	return nil
}
