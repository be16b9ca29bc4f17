package main

// The VM's kernel: Debian's current linux-image package for this
// architecture, downloaded with `apt-get download` (never installed; the
// host's /boot is not used) and unpacked into the cache:
//
//	CACHE/vm/debs/linux-image-6.1.0-56-amd64_6.1.192-2.deb
//	CACHE/vm/kernel/linux-image-6.1.0-56-amd64_6.1.192-2/   (see vm.Kernel)
//
// Only the newest kernel is kept. Without network, a kernel already in the
// cache is used, with a warning, when apt names one that is not.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"boxlab/lab/internal/vm"
)

// vmKernel is a kernel ready to boot, with where it came from.
type vmKernel struct {
	*vm.Kernel
	Package  vm.KernelPackage
	Deb      string
	DebBytes int64
	Download time.Duration // 0 when it came from the cache
	Unpack   time.Duration
	Note     string // a warning to show, e.g. "using the cached kernel"
}

func prepareVMKernel(ctx context.Context, vmDir string, out io.Writer) (*vmKernel, error) {
	debs := filepath.Join(vmDir, "debs")
	kernels := filepath.Join(vmDir, "kernel")
	ref, err := aptKernelPackage(ctx, out)
	if err != nil {
		if cached := newestCachedKernel(debs, kernels); cached != nil {
			cached.Note = fmt.Sprintf("cannot ask apt for the current kernel (%v): using the cached %s %s",
				err, cached.Package.Name, cached.Package.Version)
			return cached, nil
		}
		return nil, err
	}
	k := &vmKernel{Package: ref, Deb: filepath.Join(debs, cacheKey(ref)+".deb")}
	if _, err := os.Stat(k.Deb); err != nil {
		start := time.Now()
		if err := aptDownload(ctx, ref, k.Deb, out); err != nil {
			if cached := newestCachedKernel(debs, kernels); cached != nil {
				cached.Note = fmt.Sprintf("cannot download %s %s (%v): using the cached %s %s",
					ref.Name, ref.Version, err, cached.Package.Name, cached.Package.Version)
				return cached, nil
			}
			return nil, err
		}
		k.Download = time.Since(start)
		removeOtherEntries(debs, filepath.Base(k.Deb))
		removeOtherEntries(kernels, cacheKey(ref))
	}
	if st, err := os.Stat(k.Deb); err == nil {
		k.DebBytes = st.Size()
	}
	start := time.Now()
	kern, err := vm.UnpackKernel(ctx, k.Deb, filepath.Join(kernels, cacheKey(ref)))
	if err != nil {
		return nil, err
	}
	k.Kernel = kern
	k.Unpack = time.Since(start)
	return k, nil
}

// cacheKey names a kernel's files in the cache: package_version, with the
// epoch's colon escaped the way apt escapes it in file names.
func cacheKey(ref vm.KernelPackage) string {
	return ref.Name + "_" + strings.ReplaceAll(ref.Version, ":", "%3a")
}

// aptKernelPackage asks apt which kernel package the metapackage
// (linux-image-amd64) currently depends on, updating the package lists
// once if apt knows no candidate.
func aptKernelPackage(ctx context.Context, out io.Writer) (vm.KernelPackage, error) {
	meta, err := vm.MetaPackage(runtime.GOARCH)
	if err != nil {
		return vm.KernelPackage{}, err
	}
	ref, err := aptShowKernel(ctx, meta)
	if err != nil && isRoot() {
		if aptGet, ok := lookCommand("apt-get"); ok {
			fmt.Fprintln(out, "  apt-get update (apt knows no kernel package yet)")
			w := newIndentWriter(out, "    ")
			uerr := runApt(w, aptGet, "update")
			w.Flush()
			if uerr == nil {
				ref, err = aptShowKernel(ctx, meta)
			}
		}
	}
	return ref, err
}

// aptShowKernel reads the candidate of meta and the package it depends on.
func aptShowKernel(ctx context.Context, meta string) (vm.KernelPackage, error) {
	aptCache, ok := lookCommand("apt-cache")
	if !ok {
		return vm.KernelPackage{}, errors.New("apt-cache not found: the VM pass downloads Debian's kernel with apt (Debian or Ubuntu hosts only)")
	}
	show := func(pkg string) (string, error) {
		b, err := exec.CommandContext(ctx, aptCache, "show", "--no-all-versions", pkg).Output()
		if err != nil || len(strings.TrimSpace(string(b))) == 0 {
			return "", fmt.Errorf("apt-cache show %s: no such package in the apt lists (%v)", pkg, err)
		}
		return string(b), nil
	}
	s, err := show(meta)
	if err != nil {
		return vm.KernelPackage{}, err
	}
	ref, err := vm.ParseMetaDepends(s)
	if err != nil {
		return vm.KernelPackage{}, fmt.Errorf("%s: %w", meta, err)
	}
	if ref.Version == "" {
		s, err := show(ref.Name)
		if err != nil {
			return vm.KernelPackage{}, err
		}
		for _, line := range strings.Split(s, "\n") {
			if v, ok := strings.CutPrefix(line, "Version:"); ok {
				ref.Version = strings.TrimSpace(v)
				break
			}
		}
	}
	if ref.Version == "" {
		return vm.KernelPackage{}, fmt.Errorf("apt-cache show %s: no version", ref.Name)
	}
	return ref, nil
}

// aptDownload fetches one package version into dst with `apt-get download`,
// in a private directory first so that a failed download leaves nothing.
// The package lists are refreshed once if the download fails (a mirror
// that no longer has the version apt remembers).
func aptDownload(ctx context.Context, ref vm.KernelPackage, dst string, out io.Writer) error {
	aptGet, ok := lookCommand("apt-get")
	if !ok {
		return errors.New("apt-get not found: the VM pass downloads Debian's kernel with apt (Debian or Ubuntu hosts only)")
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".download-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintf(out, "  downloading %s %s (apt-get download)\n", ref.Name, ref.Version)
	w := newIndentWriter(out, "    ")
	defer w.Flush()
	download := func() error {
		// The download runs as root in a root-owned directory: tell apt
		// not to drop to its _apt user, which could not write there.
		cmd := exec.CommandContext(ctx, aptGet, "download", "-q", "-o", "APT::Sandbox::User=root",
			ref.Name+"="+ref.Version)
		cmd.Dir = tmp
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = w, w
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get download %s=%s: %w", ref.Name, ref.Version, err)
		}
		return nil
	}
	err = download()
	if err != nil && isRoot() {
		if runApt(w, aptGet, "update") == nil {
			err = download()
		}
	}
	if err != nil {
		return err
	}
	got, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(got) != 1 {
		return fmt.Errorf("apt-get download %s: expected one .deb, found %d", ref.Name, len(got))
	}
	return os.Rename(got[0], dst)
}

// newestCachedKernel returns a kernel that is fully in the cache, if any
// (there is normally at most one), for running without network.
func newestCachedKernel(debs, kernels string) *vmKernel {
	entries, _ := os.ReadDir(kernels)
	for i := len(entries) - 1; i >= 0; i-- {
		key := entries[i].Name()
		deb := filepath.Join(debs, key+".deb")
		if _, err := os.Stat(deb); err != nil {
			continue
		}
		kern, err := vm.OpenKernel(filepath.Join(kernels, key))
		if err != nil {
			continue
		}
		name, ver, _ := strings.Cut(key, "_")
		k := &vmKernel{Kernel: kern, Deb: deb,
			Package: vm.KernelPackage{Name: name, Version: strings.ReplaceAll(ver, "%3a", ":")}}
		if st, err := os.Stat(deb); err == nil {
			k.DebBytes = st.Size()
		}
		return k
	}
	return nil
}

// removeOtherEntries deletes everything in dir but keep: older kernels.
func removeOtherEntries(dir, keep string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != keep && !strings.HasPrefix(e.Name(), ".download-") {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}
