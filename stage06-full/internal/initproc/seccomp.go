package initproc

import (
	"fmt"

	"boxlab/stage06-full/internal/security/seccomp"
)

// compileSeccomp compiles linux.seccomp early, while a failure can still
// go back to create over the sync pipe: Validate compiled it already, so
// this fails only if the config changed in between, which the pipe rules
// out.
func (cfg *Config) compileSeccomp() error {
	l := cfg.Spec.Linux
	if l == nil || l.Seccomp == nil {
		return nil
	}
	f, err := seccomp.Compile(l.Seccomp)
	if err != nil {
		return fmt.Errorf("linux.seccomp: %w", err)
	}
	cfg.seccomp = f
	return nil
}

// installSeccomp loads the filter on this thread, the init's main one,
// which calls execve: seccomp(2) without SECCOMP_FILTER_FLAG_TSYNC acts on
// the calling thread only, and execve keeps the filter (the other threads
// of the Go runtime die with the exec).
func installSeccomp(f *seccomp.Filter) error {
	explain(fmt.Sprintf("seccomp(SECCOMP_SET_MODE_FILTER, %#x, a %d-instruction BPF program): every system call from here on, and the command's, goes through it", f.Flags, len(f.Program)),
		"")
	return f.Install()
}
