package vm

// The guest's kernel: vmlinuz and a few modules taken out of a Debian
// linux-image .deb, without installing it and without the host's /boot.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Kernel is an unpacked kernel in a cache directory:
//
//	DIR/vmlinuz            the kernel image
//	DIR/release            its release ("6.1.0-56-amd64")
//	DIR/modules.dep        from the package, else generated from .modinfo
//	DIR/modules.builtin    from the package
//	DIR/modules.alias      from the package, else generated from .modinfo
//	DIR/modules.softdep    the same
//	DIR/modules/REL        each module extracted so far, REL as in modules.dep
//	DIR/.complete          written last: the first four are all there
type Kernel struct {
	Dir     string
	Release string
	Vmlinuz string
}

// kernelComplete is written last, holding kernelFormat: a cache unpacked
// by a lab that kept other files is unpacked again.
const (
	kernelComplete = ".complete"
	kernelFormat   = "boxlab kernel cache 2"
)

// debPath matches the files of a kernel package: the kernel image and
// everything under the modules directory (/lib/modules until Debian 12,
// /usr/lib/modules after the /usr merge).
var (
	debVmlinuz = regexp.MustCompile(`^(?:\./)?boot/vmlinuz-(.+)$`)
	debModules = regexp.MustCompile(`^(?:\./)?(?:usr/)?lib/modules/([^/]+)/(.+)$`)
)

// OpenKernel returns the kernel already unpacked in dir, or an error when
// it is not (completely) there.
func OpenKernel(dir string) (*Kernel, error) {
	if b, err := os.ReadFile(filepath.Join(dir, kernelComplete)); err != nil || strings.TrimSpace(string(b)) != kernelFormat {
		return nil, fmt.Errorf("kernel in %s not unpacked (or by another version of the lab)", dir)
	}
	rel, err := os.ReadFile(filepath.Join(dir, "release"))
	if err != nil {
		return nil, err
	}
	return &Kernel{Dir: dir, Release: strings.TrimSpace(string(rel)), Vmlinuz: filepath.Join(dir, "vmlinuz")}, nil
}

// kernelIndexes are the index files kept from the package, each with how
// to make it when the package does not ship it. Debian's ships only
// modules.builtin: its postinst runs depmod for the others.
var kernelIndexes = map[string]func(io.Writer, []ModInfo) error{
	"modules.dep":     GenerateModulesDep,
	"modules.alias":   GenerateModulesAlias,
	"modules.softdep": GenerateModulesSoftdep,
	"modules.builtin": func(io.Writer, []ModInfo) error { return nil }, // none built in that we can tell
}

// UnpackKernel reads the kernel package deb once and writes vmlinuz,
// modules.dep and modules.builtin into dir (which it creates). Modules are
// extracted later, on demand, by Modules.
func UnpackKernel(ctx context.Context, deb, dir string) (*Kernel, error) {
	if k, err := OpenKernel(dir); err == nil {
		return k, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var (
		release  string
		have     = map[string]bool{}
		infos    []ModInfo
		firstErr error
	)
	err := walkDeb(ctx, deb, func(name string, h *tar.Header, r io.Reader) error {
		if m := debVmlinuz.FindStringSubmatch(name); m != nil && h.Typeflag == tar.TypeReg {
			release = m[1]
			return writeFileFrom(filepath.Join(dir, "vmlinuz"), r, 0o644)
		}
		m := debModules.FindStringSubmatch(name)
		if m == nil || h.Typeflag != tar.TypeReg {
			return nil
		}
		switch rel := m[2]; {
		case kernelIndexes[rel] != nil:
			have[rel] = true
			return writeFileFrom(filepath.Join(dir, rel), r, 0o644)
		case isModuleFile(rel):
			data, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			if data, err = decompressModule(ctx, rel, data); err != nil {
				return err
			}
			mi, err := ReadModInfo(rel, data)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			infos = append(infos, mi)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if release == "" {
		return nil, fmt.Errorf("%s: no boot/vmlinuz-* in the package", deb)
	}
	for name, generate := range kernelIndexes {
		if have[name] {
			continue
		}
		if firstErr != nil {
			return nil, firstErr
		}
		var b bytes.Buffer
		if err := generate(&b, infos); err != nil {
			return nil, fmt.Errorf("%s: %w", deb, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "release"), []byte(release+"\n"), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, kernelComplete), []byte(kernelFormat+"\n"), 0o644); err != nil {
		return nil, err
	}
	return OpenKernel(dir)
}

// Modules resolves the wanted modules against the kernel's modules.dep and
// returns the module files to load, in order, as paths relative to
// /lib/modules/RELEASE, with the ones built into the kernel. Files not yet
// extracted are taken from deb, decompressed if the package compresses
// them (busybox's insmod wants plain ELF).
func (k *Kernel) Modules(ctx context.Context, deb string, wanted []string) (load, inKernel []string, err error) {
	ix, err := k.Index()
	if err != nil {
		return nil, nil, err
	}
	files, inKernel, err := ix.Resolve(wanted)
	if err != nil {
		return nil, nil, fmt.Errorf("kernel %s: %w", k.Release, err)
	}
	missing := map[string]bool{}
	for _, f := range files {
		if _, err := os.Stat(k.ModuleFile(f)); err != nil {
			missing[f] = true
		}
	}
	if len(missing) > 0 {
		err := walkDeb(ctx, deb, func(name string, h *tar.Header, r io.Reader) error {
			m := debModules.FindStringSubmatch(name)
			if m == nil || !missing[m[2]] {
				return nil
			}
			data, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			if data, err = decompressModule(ctx, m[2], data); err != nil {
				return err
			}
			delete(missing, m[2])
			return writeFileFrom(k.ModuleFile(m[2]), bytes.NewReader(data), 0o644)
		})
		if err != nil {
			return nil, nil, err
		}
		for f := range missing {
			return nil, nil, fmt.Errorf("%s: module %s listed in modules.dep but not in the package", deb, f)
		}
	}
	return files, inKernel, nil
}

// Index reads the kernel's module index files.
func (k *Kernel) Index() (ModIndex, error) {
	var ix ModIndex
	read := func(name string, parse func(io.Reader) error) error {
		f, err := os.Open(filepath.Join(k.Dir, name))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := parse(f); err != nil {
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
		return nil
	}
	err := errors.Join(
		read("modules.dep", func(r io.Reader) (err error) { ix.Deps, err = ParseModulesDep(r); return }),
		read("modules.builtin", func(r io.Reader) (err error) { ix.Builtin, err = ParseBuiltin(r); return }),
		read("modules.alias", func(r io.Reader) (err error) { ix.Aliases, err = ParseModulesAlias(r); return }),
		read("modules.softdep", func(r io.Reader) (err error) { ix.SoftPre, err = ParseModulesSoftdep(r); return }),
	)
	return ix, err
}

// ModuleFile is where the module rel (as in modules.dep) is extracted.
func (k *Kernel) ModuleFile(rel string) string {
	return filepath.Join(k.Dir, "modules", filepath.FromSlash(rel))
}

func isModuleFile(rel string) bool {
	for _, ext := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if strings.HasSuffix(rel, ext) {
			return true
		}
	}
	return false
}

// decompressModule returns the plain ELF of a module that the package may
// ship compressed (Debian 13 ships .ko.xz), using the host's xz or zstd.
func decompressModule(ctx context.Context, rel string, data []byte) ([]byte, error) {
	var tool string
	switch {
	case strings.HasSuffix(rel, ".xz"):
		tool = "xz"
	case strings.HasSuffix(rel, ".zst"):
		tool = "zstd"
	case strings.HasSuffix(rel, ".gz"):
		tool = "gzip"
	default:
		return data, nil
	}
	cmd := exec.CommandContext(ctx, tool, "-dc")
	cmd.Stdin = bytes.NewReader(data)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("decompress %s with %s: %v: %s", rel, tool, err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), nil
}

// walkDeb streams the files of a .deb's data archive to f, by way of
// `dpkg-deb --fsys-tarfile`, which knows every compression a .deb uses.
func walkDeb(ctx context.Context, deb string, f func(name string, h *tar.Header, r io.Reader) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dpkg-deb: %w (is this a Debian or Ubuntu host?)", err)
	}
	tr := tar.NewReader(bufio.NewReaderSize(out, 1<<20))
	var walkErr error
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			walkErr = fmt.Errorf("%s: %w", deb, err)
			break
		}
		if err := f(strings.TrimPrefix(h.Name, "./"), h, tr); err != nil {
			walkErr = err
			break
		}
	}
	if walkErr != nil {
		cancel()
		_ = cmd.Wait()
		return walkErr
	}
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("dpkg-deb --fsys-tarfile %s: %v: %s", deb, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// writeFileFrom writes r to path through a temporary name, so that a crash
// never leaves half a file under the final name.
func writeFileFrom(path string, r io.Reader, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// MetaPackage is the Debian package that always depends on the current
// kernel for this architecture.
func MetaPackage(goarch string) (string, error) {
	switch goarch {
	case "amd64":
		return "linux-image-amd64", nil
	}
	return "", fmt.Errorf("the VM pass runs on amd64 hosts only (this is %s)", goarch)
}

// KernelPackage is a versioned kernel package, e.g.
// linux-image-6.1.0-56-amd64 6.1.192-2.
type KernelPackage struct {
	Name, Version string
}

// ParseMetaDepends reads `apt-cache show --no-all-versions linux-image-amd64`
// and returns the kernel package its candidate depends on: the first
// linux-image-* of the Depends field, with the version when it is pinned
// with "=".
func ParseMetaDepends(show string) (KernelPackage, error) {
	for _, line := range strings.Split(show, "\n") {
		v, ok := strings.CutPrefix(line, "Depends:")
		if !ok {
			continue
		}
		for _, alt := range strings.Split(v, ",") {
			for _, dep := range strings.Split(alt, "|") {
				dep = strings.TrimSpace(dep)
				name, ver, _ := strings.Cut(dep, " ")
				if !strings.HasPrefix(name, "linux-image-") {
					continue
				}
				kp := KernelPackage{Name: name}
				ver = strings.Trim(strings.TrimSpace(ver), "()")
				if op, v, ok := strings.Cut(ver, " "); ok && op == "=" {
					kp.Version = strings.TrimSpace(v)
				}
				return kp, nil
			}
		}
	}
	return KernelPackage{}, errors.New("no linux-image-* dependency in the package's Depends")
}
