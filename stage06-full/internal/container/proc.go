package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// procStat is what the runtime reads of /proc/PID/stat (proc(5)).
type procStat struct {
	state     byte   // field 3: R, S, D, Z (zombie), X (dead), ...
	startTime uint64 // field 22: clock ticks after boot
}

// parseStat parses /proc/PID/stat. Field 2 is the command name in
// parentheses, and a process chooses its name (prctl(2) PR_SET_NAME):
// it may hold spaces and ")" itself, so the fields after it are found
// after the last ")", never by splitting the whole line.
func parseStat(data string) (procStat, error) {
	i := strings.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, errors.New("no (comm) field")
	}
	// After ")": field 3 (state) is rest[0], so field N is rest[N-3].
	rest := strings.Fields(data[i+1:])
	if len(rest) < 22-2 {
		return procStat{}, fmt.Errorf("%d fields after (comm), want at least %d", len(rest), 22-2)
	}
	if len(rest[0]) != 1 {
		return procStat{}, fmt.Errorf("state %q is not one letter", rest[0])
	}
	start, err := strconv.ParseUint(rest[22-3], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("starttime: %w", err)
	}
	return procStat{state: rest[0][0], startTime: start}, nil
}

func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	st, err := parseStat(string(data))
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// SetInit records the container's init: its pid and the start time that
// tells it from a later process given the same pid.
func (r *Record) SetInit(pid int) error {
	st, err := readStat(pid)
	if err != nil {
		return fmt.Errorf("container %s: init pid %d: %w", r.ID, pid, err)
	}
	r.Pid, r.InitStartTime = pid, st.startTime
	return nil
}

// Refresh turns the recorded status into the observed one, without
// saving it: a container whose init is gone is stopped, whatever the
// record says, because nothing tells the record when a process dies
// (until a monitor waits for it). Gone means no /proc/PID, a zombie
// (exited, not yet reaped by its parent: it runs nothing), or a process
// with another start time, which is a stranger that got the pid.
// A stopped container reports pid 0, as runc does.
func (r *Record) Refresh() {
	if r.Status == Stopped {
		r.Pid = 0
		return
	}
	if r.Pid <= 0 {
		return // creating, no init yet
	}
	if !r.initAlive() {
		r.Status, r.Pid = Stopped, 0
	}
}

func (r *Record) initAlive() bool {
	st, err := readStat(r.Pid)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		// /proc unreadable or odd: say what the record says rather
		// than declare a live container stopped.
		return true
	}
	return st.state != 'Z' && st.state != 'X' && st.startTime == r.InitStartTime
}

// OpenPidfd opens a pidfd (pidfd_open(2)) on the container's init, and
// checks, after opening it, that the pid is still the init's (its start
// time): the pidfd then names that process whatever happens to the
// number, so a signal sent through it can never reach a stranger.
func (r *Record) OpenPidfd() (int, error) {
	if r.Pid <= 0 {
		return -1, fmt.Errorf("container %s has no init process", r.ID)
	}
	fd, err := unix.PidfdOpen(r.Pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return -1, fmt.Errorf("container %s is not running (its init, pid %d, is gone)", r.ID, r.Pid)
	}
	if err != nil {
		return -1, fmt.Errorf("pidfd_open %d: %w", r.Pid, err)
	}
	if !r.initAlive() {
		unix.Close(fd)
		return -1, fmt.Errorf("container %s is not running (pid %d is no longer its init)", r.ID, r.Pid)
	}
	return fd, nil
}
