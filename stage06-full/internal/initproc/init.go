package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"boxlab/stage06-full/internal/security"
)

// Exit codes of the init, docker's: the runtime failed (125), the command
// cannot be executed (126) or is not found (127). Once execve has
// succeeded, the code is the command's own.
const (
	exitRuntime       = 125
	exitNotExecutable = 126
	exitNotFound      = 127
)

// Main is the init, run by `stage06-full init` in the container's new
// namespaces: read the config, build the root, tell create it is ready,
// wait for start, become the command. It never returns.
//
// Until it reports ready, a failure is written to the sync pipe for
// create to print and to clean up after; after it (the init waits for
// start on its own, with create gone), the init's stderr, which is the
// container's, is all that is left to say it on.
func Main() {
	sync := os.NewFile(syncFd, "sync")
	cfg, fifoDir, err := prepare()
	if err != nil {
		sync.WriteString(err.Error())
		os.Exit(exitRuntime)
	}
	sync.Close()
	if err := awaitStart(fifoDir); err != nil {
		fail(exitRuntime, err)
	}
	if err := closeInheritedFds(); err != nil {
		fail(exitRuntime, err)
	}
	p := cfg.Spec.Process
	// runc's order (standard_init_linux.go): without no_new_privs,
	// seccomp(2) needs CAP_SYS_ADMIN, so the filter goes in while the
	// init is still root with all of it, before the capabilities are
	// dropped; with no_new_privs, as late as possible, so that the
	// fewest calls of the runtime's own run under it.
	if cfg.seccomp != nil && !p.NoNewPrivileges {
		if err := installSeccomp(cfg.seccomp); err != nil {
			fail(exitRuntime, err)
		}
	}
	if err := becomeUser(cfg, p.User); err != nil {
		fail(exitRuntime, err)
	}
	if err := security.SetNoNewPrivs(p.NoNewPrivileges); err != nil {
		fail(exitRuntime, err)
	}
	if err := setCommandEnv(p.Env); err != nil {
		fail(exitRuntime, err)
	}
	// The command is looked up before the filter: a profile that denies
	// stat(2) would otherwise make it "not found".
	path, code, err := findCommand(p.Args)
	if err != nil {
		fail(code, err)
	}
	if cfg.seccomp != nil && p.NoNewPrivileges {
		if err := installSeccomp(cfg.seccomp); err != nil {
			fail(exitRuntime, err)
		}
	}
	code, err = execCommand(path, p.Args)
	fail(code, err)
}

// prepare reads the config and sets up everything up to the wait for
// start. It returns the state directory, opened O_PATH before pivot_root
// takes the host's paths away: the exec fifo is opened relative to it.
func prepare() (*Config, int, error) {
	cfg, err := readConfig()
	if err != nil {
		return nil, -1, err
	}
	if err := checkOwnMountNS(cfg.HostMountNS); err != nil {
		return nil, -1, err
	}
	// Before pivot_root: the container may have no /proc of its own.
	if err := cfg.readCaps(); err != nil {
		return nil, -1, err
	}
	if err := cfg.compileSeccomp(); err != nil {
		return nil, -1, err
	}
	// The config arrived only once create had put us into our cgroup:
	// the namespace takes the cgroup we are in now as its root.
	if err := enterCgroupNamespace(cfg.CgroupNS); err != nil {
		return nil, -1, err
	}
	fifoDir, err := unix.Open(cfg.StateDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, -1, fmt.Errorf("open state directory %s: %w", cfg.StateDir, err)
	}
	if err := setupContainer(cfg); err != nil {
		return nil, -1, err
	}
	return cfg, fifoDir, nil
}

func readConfig() (*Config, error) {
	f := os.NewFile(configFd, "config")
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read the config pipe: %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("the config pipe: %w", err)
	}
	if cfg.Spec == nil || cfg.Spec.Process == nil || cfg.Rootfs == "" {
		return nil, errors.New("the config pipe: no spec, process or rootfs")
	}
	return &cfg, nil
}

// checkOwnMountNS is a guard against running init by hand (or from a
// config without a mount namespace): in the runtime's own mount namespace
// the steps below would rearrange the host's mounts.
func checkOwnMountNS(host uint64) error {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/mnt", &st); err != nil {
		return fmt.Errorf("stat /proc/self/ns/mnt: %w", err)
	}
	if st.Ino == host {
		return errors.New("init runs in the runtime's mount namespace: refusing to set up a root there (use 'create')")
	}
	return nil
}

// setupContainer names the container and moves it into its root with the
// config's mounts, /dev's nodes, the masked and read-only paths, in its
// working directory, with its limits. runc's prepareRootfs and
// finalizeRootfs, in the same order.
func setupContainer(cfg *Config) error {
	s := cfg.Spec
	if s.Hostname != "" {
		if err := setHostname(s.Hostname); err != nil {
			return err
		}
	}
	if s.Domainname != "" {
		if err := setDomainname(s.Domainname); err != nil {
			return err
		}
	}
	if err := makeMountsPrivate(); err != nil {
		return err
	}
	if err := bindOntoItself(cfg.Rootfs); err != nil {
		return err
	}
	// Mounted before pivot_root: bind sources and /dev's nodes are the
	// host's, gone once the old root is detached.
	if err := mountAll(cfg); err != nil {
		return err
	}
	if devIsTmpfs(s.Mounts) {
		if err := populateDev(cfg.Rootfs); err != nil {
			return err
		}
	}
	if err := pivotRoot(cfg.Rootfs); err != nil {
		return err
	}
	// The working directory before the root turns read-only: it is made
	// when missing, as runc does.
	if err := enterWorkdir(s.Process.Cwd); err != nil {
		return err
	}
	if s.Linux != nil {
		if err := maskPaths(s.Linux.MaskedPaths); err != nil {
			return err
		}
		if err := readonlyPaths(s.Linux.ReadonlyPaths); err != nil {
			return err
		}
	}
	if s.Root.Readonly {
		// Only the root's own mount: /proc, /dev and the rest keep
		// their options (runc remounts "/" alone too).
		if err := setReadonly("/", 0); err != nil {
			return err
		}
	}
	if err := setRlimits(s.Process.Rlimits); err != nil {
		return err
	}
	return setOOMScoreAdj(s.Process.OOMScoreAdj)
}

// enterWorkdir changes to process.cwd, made when missing as runc does.
// After pivot_root, so the path, symlinks and all, can only resolve
// inside the container's root.
func enterWorkdir(dir string) error {
	if dir == "" || dir == "/" {
		return nil
	}
	explain(fmt.Sprintf("chdir(%q): the working directory", dir), "mkdir -p "+dir+" && cd "+dir)
	err := os.Chdir(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err = os.MkdirAll(dir, 0o755); err == nil {
			err = os.Chdir(dir)
		}
	}
	if err != nil {
		return fmt.Errorf("working directory %s: %w", dir, err)
	}
	return checkCwdInRoot(dir)
}

// checkCwdInRoot refuses a working directory that chdir reached but that
// is not under the container's root: /proc/self/fd/N of a descriptor the
// runtime inherited from the host leads to a host directory past
// pivot_root (CVE-2024-21626's class; runc checks the same). getcwd(2)
// gives such a directory, unreachable from our root, a path that does not
// start with "/" ("(unreachable)/etc"), which unix.Getwd reports as ENOENT.
func checkCwdInRoot(dir string) error {
	if _, err := unix.Getwd(); err != nil {
		return fmt.Errorf("working directory %s: outside the container's root (getcwd: %w): refused; give process.cwd a directory of the root", dir, err)
	}
	return nil
}

// setCommandEnv makes process.env the whole environment, for the command
// that execve starts next: not the init's own (fixed by the runtime,
// empty), not the host's. Only now: an environment changed in a running
// process reaches no dynamic loader and no Go runtime but the next
// program's, and an image's LD_PRELOAD or GODEBUG never runs in the init,
// which is the runtime's binary, running as root.
func setCommandEnv(env []string) error {
	os.Clearenv()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("environment variable %q: %w", k, err)
		}
	}
	return nil
}

func shellJoin(words []string) string { return strings.Join(words, " ") }

func fail(code int, err error) {
	fmt.Fprintf(os.Stderr, "stage06-full init: %v\n", err)
	os.Exit(code)
}
