package initproc

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Stdio are the container's standard streams: create's own, passed
// through, as runc does without a terminal.
type Stdio struct {
	Stdin, Stdout, Stderr *os.File
}

// Spawn starts the init for cfg in its new namespaces and returns once its
// root is set up and it waits on the exec fifo, or with the init's own
// error (and the init gone). progName is what the init shows as argv[0].
// place is called with the init's pid before it is sent its config: the
// init waits for the config, so it runs nothing of its own until place
// (create's: into its cgroup) is done.
func Spawn(progName string, cfg *Config, stdio Stdio, place func(pid int) error) (*exec.Cmd, error) {
	flags, err := CloneFlags(cfg.Spec.Linux.Namespaces)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/mnt", &st); err != nil {
		return nil, fmt.Errorf("stat /proc/self/ns/mnt: %w", err)
	}
	cfg.HostMountNS = st.Ino
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	configR, configW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("config pipe: %w", err)
	}
	defer configW.Close()
	syncR, syncW, err := os.Pipe()
	if err != nil {
		configR.Close()
		return nil, fmt.Errorf("sync pipe: %w", err)
	}
	defer syncR.Close()

	cmd := exec.Command("/proc/self/exe", Command)
	cmd.Args[0] = progName
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
	cmd.ExtraFiles = []*os.File{configR, syncW}
	// The init's own environment is empty: it is this binary, running as
	// root on the host's file system until pivot_root, and neither the
	// caller's environment nor the container's (process.env, set only at
	// the final execve) has any business in it.
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: flags,
		// Its own session: the container outlives create, and a
		// Ctrl-C on create's terminal is not the container's.
		// No Pdeathsig either, for the same reason: create exits
		// while the init waits for start, and the init is then
		// reparented (to the nearest subreaper, containerd's shim
		// for one, or to pid 1), as runc's is.
		Setsid: true,
	}
	err = cmd.Start()
	configR.Close()
	syncW.Close()
	if err != nil {
		return nil, fmt.Errorf("start the container's init: %w", err)
	}
	if err := place(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	// A write to an init that died at once fails with EPIPE; its reason,
	// if any, is then on the sync pipe.
	_, werr := configW.Write(data)
	configW.Close()
	msg, rerr := io.ReadAll(syncR)
	if len(msg) > 0 || rerr != nil || werr != nil {
		cmd.Process.Kill()
		cmd.Wait()
		why := strings.TrimSpace(string(msg))
		switch {
		case why == "" && rerr != nil:
			why = rerr.Error()
		case why == "" && werr != nil:
			why = werr.Error()
		}
		return nil, fmt.Errorf("container init: %s", why)
	}
	// Silence means ready, unless the init died without a word.
	var ws unix.WaitStatus
	if pid, _ := unix.Wait4(cmd.Process.Pid, &ws, unix.WNOHANG, nil); pid == cmd.Process.Pid {
		return nil, fmt.Errorf("container init: exited during setup (status %v): see its stderr", ws)
	}
	return cmd, nil
}
