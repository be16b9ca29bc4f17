package vm

// The accelerator decision is cached for the machine: the KVM checks boot
// a guest twice, and a host whose KVM boots nothing costs a run the whole
// KernelCheckBound each time. The cache is keyed by everything the answer
// depends on (the host's kernel and CPU, the qemu binary, the guest
// kernel), so a new qemu, a new guest kernel or another machine's CPU
// asks again. `lab vm test --accel-recheck` ignores it.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// AccelCache is where one decision is kept, and what it was decided for.
type AccelCache struct {
	Path string // a JSON file; "" keeps nothing
	Key  string // AccelCacheKey of this run
}

type accelRecord struct {
	Key     string    `json:"key"`
	Accel   string    `json:"accel"`
	Reason  string    `json:"reason"`
	Decided time.Time `json:"decided"`
}

// AccelCacheKey is a digest of what the decision depends on.
func AccelCacheKey(qemu, kernel string) string {
	h := sha256.New()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		fmt.Fprintf(h, "host %s %s %s\n", unix.ByteSliceToString(u.Release[:]),
			unix.ByteSliceToString(u.Version[:]), unix.ByteSliceToString(u.Machine[:]))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		fmt.Fprintf(h, "cpu %s\n", cpuIdentity(string(b)))
	}
	for _, f := range []string{qemu, kernel, "/dev/kvm"} {
		if st, err := os.Stat(f); err == nil {
			fmt.Fprintf(h, "file %s %d %d %s\n", f, st.Size(), st.ModTime().UnixNano(), st.Mode())
		} else {
			fmt.Fprintf(h, "file %s absent\n", f)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// cpuIdentity is the first processor's model and flags: what KVM can
// offer a guest (vmx or svm among them).
func cpuIdentity(cpuinfo string) string {
	var model, flags string
	for _, line := range strings.Split(cpuinfo, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		case "flags":
			if flags == "" {
				flags = strings.TrimSpace(v)
			}
		}
	}
	return model + "|" + flags
}

// Load returns the cached decision when it was made for this key.
func (c AccelCache) Load() (Accel, time.Time, bool) {
	if c.Path == "" {
		return Accel{}, time.Time{}, false
	}
	b, err := os.ReadFile(c.Path)
	if err != nil {
		return Accel{}, time.Time{}, false
	}
	var r accelRecord
	if json.Unmarshal(b, &r) != nil || r.Key != c.Key || (r.Accel != "kvm" && r.Accel != "tcg") {
		return Accel{}, time.Time{}, false
	}
	return Accel{Name: r.Accel, Reason: r.Reason}, r.Decided, true
}

// Save keeps a decision, atomically (a temporary file renamed over).
func (c AccelCache) Save(a Accel, decided time.Time) error {
	if c.Path == "" {
		return nil
	}
	b, err := json.MarshalIndent(accelRecord{Key: c.Key, Accel: a.Name, Reason: a.Reason, Decided: decided.UTC()}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o755); err != nil {
		return err
	}
	tmp := c.Path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, c.Path)
}

// FromCache turns a cached decision into this run's: auto takes it as it
// is, kvm fails at once when the cache says KVM boots nothing.
func FromCache(want string, cached Accel, decided time.Time, path string) (Accel, error) {
	note := fmt.Sprintf("decided %s, cached in %s; --accel-recheck to test again",
		decided.UTC().Format("2006-01-02 15:04 MST"), path)
	if want == "kvm" && cached.Name != "kvm" {
		return Accel{}, fmt.Errorf("--accel kvm: %s (%s; use --accel tcg or auto)", cached.Reason, note)
	}
	return Accel{Name: cached.Name, Reason: cached.Reason + "; " + note}, nil
}

// DetectAccel chooses the accelerator with the real checks: the probe
// firmware is written to a file in dir, kernel is the vmlinuz the run
// boots. A decision that needed a test boot is cached; a missing /dev/kvm
// is cheap to see and is not.
func DetectAccel(ctx context.Context, qemu, want, dir, kernel string, cache AccelCache) (Accel, error) {
	kvm := Accel{Name: "kvm"}
	checks := AccelChecks{
		Device: func() error { return CheckKVMDevice("/dev/kvm") },
		Probe:  func() error { return ProbeBoot(ctx, qemu, "kvm", dir) },
		Kernel: func() error { return KernelBootCheck(ctx, qemu, kvm, kernel, KernelCheckBound) },
	}
	if want == "tcg" {
		return ChooseAccel(want, checks)
	}
	devErr := checks.Device()
	checks.Device = func() error { return devErr }
	if devErr != nil {
		return ChooseAccel(want, checks)
	}
	if a, decided, ok := cache.Load(); ok {
		return FromCache(want, a, decided, cache.Path)
	}
	a, err := ChooseAccel("auto", checks)
	if err != nil {
		return Accel{}, err
	}
	if ctx.Err() != nil { // interrupted: no decision to keep
		return Accel{}, ctx.Err()
	}
	if err := cache.Save(a, time.Now()); err != nil {
		a.Reason += fmt.Sprintf(" (not cached: %v)", err)
	}
	if want == "kvm" && a.Name != "kvm" {
		return Accel{}, fmt.Errorf("--accel kvm: %s (use --accel tcg or auto)", a.Reason)
	}
	return a, nil
}
