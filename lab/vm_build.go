package main

// What goes into the VM: everything is compiled on the host (the guest has
// no Go), then packed with busybox, the kernel modules and the test image
// into one initramfs.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"boxlab/lab/internal/vm"
)

// vmStage is one module compiled for the guest.
type vmStage struct {
	mod         module
	stageBinary string // host path of the stage binary, "" if the module has none
	packages    []vmTestBinary
}

// vmTestBinary is one package's compiled tests.
type vmTestBinary struct {
	importPath string
	dir        string // host source directory
	binary     string // host path of the .test file
}

// guestCmd is a go command that builds for the guest: static (the guest
// has no libc), for this architecture (the guest's).
func (g goRunner) guestCmd(dir string, args ...string) *exec.Cmd {
	c := g.cmd(dir, args...)
	c.Env = append(c.Env, "CGO_ENABLED=0")
	return c
}

// buildVMStage compiles a module's test binaries (go test -c, one per
// package with tests) and its stage binary into outDir. A failure comes
// back as the go command's output.
func (g goRunner) buildVMStage(m module, outDir string) (vmStage, []string, error) {
	st := vmStage{mod: m}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return st, nil, err
	}
	list := g.guestCmd(m.Dir, "list", "-f",
		"{{.ImportPath}}\t{{.Dir}}\t{{.Name}}\t{{len .TestGoFiles}}\t{{len .XTestGoFiles}}", "./...")
	b, err := list.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		return st, splitLines(string(errOutput(stderr, err))), fmt.Errorf("go list ./...")
	}
	for i, line := range splitLines(string(b)) {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			continue
		}
		if f[1] == m.Dir && f[2] == "main" {
			bin := filepath.Join(outDir, m.Name)
			if out, err := g.guestCmd(m.Dir, "build", "-o", bin, ".").CombinedOutput(); err != nil {
				return st, splitLines(string(errOutput(out, err))), fmt.Errorf("go build .")
			}
			st.stageBinary = bin
		}
		if f[3] == "0" && f[4] == "0" {
			continue
		}
		bin := filepath.Join(outDir, fmt.Sprintf("%02d-%s.test", i, path.Base(f[0])))
		if out, err := g.guestCmd(m.Dir, "test", "-c", "-vet=off", "-o", bin, f[0]).CombinedOutput(); err != nil {
			return st, splitLines(string(errOutput(out, err))), fmt.Errorf("go test -c %s", f[0])
		}
		st.packages = append(st.packages, vmTestBinary{importPath: f[0], dir: f[1], binary: bin})
	}
	for _, p := range st.packages {
		if err := checkStatic(p.binary); err != nil {
			return st, []string{err.Error()}, fmt.Errorf("go test -c %s", p.importPath)
		}
	}
	return st, nil, nil
}

// buildTest2JSON provides the test2json command for the guest. Go 1.24+
// no longer ships it prebuilt in $(go env GOTOOLDIR) (`go tool test2json`
// builds it on demand), so it is built from the toolchain's own source,
// static like everything the guest runs.
func (g goRunner) buildTest2JSON(outDir string) (string, error) {
	out := filepath.Join(outDir, "test2json")
	if dir, err := g.cmd(outDir, "env", "GOTOOLDIR").Output(); err == nil {
		prebuilt := filepath.Join(strings.TrimSpace(string(dir)), "test2json")
		if checkStatic(prebuilt) == nil {
			return prebuilt, nil
		}
	}
	c := g.guestCmd(outDir, "build", "-o", out, "cmd/test2json")
	c.Env = append(c.Env, "GOWORK=off")
	if b, err := c.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build cmd/test2json: %v\n%s", err, b)
	}
	return out, checkStatic(out)
}

// checkStatic fails for a binary that needs a dynamic loader: the guest
// has no libc.
func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: the VM has no libc", p)
		}
	}
	return nil
}

// initramfs is everything the guest gets, as guest path -> source.
type initramfs struct {
	busybox  string
	applets  []string
	kernel   *vmKernel
	modules  []string // relative to /lib/modules/RELEASE, load order
	test2j   string
	stages   []vmStage
	root     string // the workspace, whose sources are copied
	imageDir string // the host's test image cache
	plan     vm.Plan
}

// guestPlan builds the Plan the init script follows, from what was built.
func guestPlan(kernelRelease string, modules []string, stages []vmStage, root string, opts vmOptions) vm.Plan {
	p := vm.Plan{
		ImageDir:    "/" + vm.GuestImageDir,
		TestTimeout: opts.testTimeout(),
		Run:         opts.Run,
		Cgroup:      opts.Cgroup,
	}
	for _, m := range modules {
		p.Modules = append(p.Modules, path.Join("/lib/modules", kernelRelease, m))
	}
	for _, s := range stages {
		gs := vm.GuestStage{Name: s.mod.Name, Path: s.mod.Path}
		if s.stageBinary != "" {
			gs.StageBinary = "/" + path.Join(vm.GuestBinDir, s.mod.Name)
		}
		for _, b := range s.packages {
			gs.Packages = append(gs.Packages, vm.GuestPackage{
				ImportPath: b.importPath,
				Dir:        "/" + path.Join(vm.GuestSrcDir, relSlash(root, b.dir)),
				Binary:     "/" + path.Join(vm.GuestTestDir, s.mod.Name, filepath.Base(b.binary)),
			})
		}
		p.Stages = append(p.Stages, gs)
	}
	return p
}

func relSlash(root, p string) string {
	rel, err := filepath.Rel(root, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return filepath.Base(p)
	}
	return filepath.ToSlash(rel)
}

// write writes the gzipped newc archive to w and returns the size of the
// uncompressed archive.
func (ir *initramfs) write(w io.Writer) (int64, error) {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return 0, err
	}
	cw := &byteCounter{w: zw}
	bw := bufio.NewWriterSize(cw, 1<<20)
	// The writer's errors are sticky: Close reports the first one.
	c := vm.NewCpioWriter(bw)

	stage2, err := vm.Stage2(ir.plan)
	if err != nil {
		return 0, err
	}
	c.File(vm.GuestInit, 0o755, vm.Stage1())
	c.File(vm.GuestInit2, 0o755, stage2)
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "var", "etc", "lib/modules"} {
		c.Dir(d, 0o755)
	}
	c.Dir("root", 0o700)
	c.CharDev("dev/console", 0o600, 5, 1)
	c.File("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
	c.File("etc/group", 0o644, []byte("root:x:0:\ntty:x:5:\nnogroup:x:65534:\n"))
	c.File("etc/hosts", 0o644, []byte("127.0.0.1\tlocalhost\n::1\tlocalhost\n"))
	c.File("etc/hostname", 0o644, []byte("boxlab-vm\n"))

	c.HostFile("bin/busybox", ir.busybox)
	for _, a := range ir.applets {
		if a != "busybox" && !c.Has("bin/"+a) {
			c.Symlink("bin/"+a, "busybox")
		}
	}
	for _, m := range ir.modules {
		c.HostFile(path.Join("lib/modules", ir.kernel.Release, m), ir.kernel.ModuleFile(m))
	}
	c.HostFile(vm.GuestTest2JSON, ir.test2j)
	for _, s := range ir.stages {
		if s.stageBinary != "" {
			c.HostFile(path.Join(vm.GuestBinDir, s.mod.Name), s.stageBinary)
		}
		for _, b := range s.packages {
			c.HostFile(path.Join(vm.GuestTestDir, s.mod.Name, filepath.Base(b.binary)), b.binary)
		}
		c.Tree(s.mod.Dir, path.Join(vm.GuestSrcDir, relSlash(ir.root, s.mod.Dir)), skipNonSource(s.mod.Dir))
	}
	// The workspace's own files (go.work, README.md), which a test may read.
	if entries, err := os.ReadDir(ir.root); err == nil {
		for _, e := range entries {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				p := filepath.Join(ir.root, e.Name())
				if !isELF(p) {
					c.HostFile(path.Join(vm.GuestSrcDir, e.Name()), p)
				}
			}
		}
	}
	if err := addImage(c, ir.imageDir); err != nil {
		return 0, err
	}
	if err := c.Close(); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return cw.n, zw.Close()
}

// addImage copies the test image's outputs (everything `lab rootfs` put
// in the cache, stamp included) to where the guest's kit finds it.
func addImage(c *vm.CpioWriter, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || name == "vm" {
			continue // the lock, builds in progress, the VM's own cache
		}
		src := filepath.Join(dir, name)
		dst := path.Join(vm.GuestImageDir, name)
		var err error
		switch {
		case e.IsDir():
			err = c.Tree(src, dst, nil)
		case e.Type().IsRegular():
			err = c.HostFile(dst, src)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// skipNonSource returns the filter for a module's source tree at base:
// the tests' working directory needs sources and testdata, not dot-files
// or compiled binaries (a stage binary built in place, *.test).
func skipNonSource(base string) func(rel string, d fs.DirEntry) bool {
	return func(rel string, d fs.DirEntry) bool {
		name := d.Name()
		switch {
		case strings.HasPrefix(name, "."):
			return true
		case d.IsDir(), d.Type()&fs.ModeSymlink != 0:
			return false
		case !d.Type().IsRegular():
			return true
		}
		return strings.HasSuffix(name, ".test") || isELF(filepath.Join(base, filepath.FromSlash(rel)))
	}
}

// isELF reports whether p starts with the ELF magic.
func isELF(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && bytes.Equal(magic[:], []byte("\x7fELF"))
}

// busyboxApplets lists the applets of the host's busybox, for the guest's
// /bin.
func busyboxApplets(busybox string) ([]string, error) {
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", busybox, err)
	}
	return strings.Fields(string(out)), nil
}

type byteCounter struct {
	w io.Writer
	n int64
}

func (b *byteCounter) Write(p []byte) (int, error) {
	n, err := b.w.Write(p)
	b.n += int64(n)
	return n, err
}

// mib formats a byte count for the log.
func mib(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB" }
