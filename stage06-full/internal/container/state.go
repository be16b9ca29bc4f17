package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultRoot holds one directory per container, as runc's /run/runc.
// /run is a tmpfs: after a reboot no container runs, and no record says
// one does. `--root` moves it (runc(8) --root), which is how containerd,
// docker and the tests give each user of the runtime its own.
const DefaultRoot = "/run/boxlab/oci"

const (
	stateName = "state.json"
	lockName  = "lock"
	// maxStateSize bounds what Load reads from state.json: the
	// annotations are the only large part, and a config is bounded by
	// 4 MiB (internal/spec).
	maxStateSize = 8 << 20
)

// Record is what the runtime keeps about a container: the runtime-spec's
// state (runtime.md "State", what `state` prints) and what it needs
// itself to act on the container later.
type Record struct {
	specs.State
	// Created is when create began, as runc's "created".
	Created time.Time `json:"created"`
	// InitStartTime is the init's start time, field 22 of
	// /proc/PID/stat (proc(5)), in clock ticks after boot. A pid alone
	// names a process only while it lives; once it is gone the kernel
	// hands the number to the next fork, and a signal sent by pid would
	// hit a stranger. The pair (pid, start time) is unique while the
	// system is up.
	InitStartTime uint64 `json:"initStartTime,omitempty"`
	// Rootfs is root.path made absolute.
	Rootfs string `json:"rootfs,omitempty"`
	// CgroupPath is the container's cgroup, as the host names it.
	CgroupPath string `json:"cgroupPath,omitempty"`
}

// NewRecord is the record of a container being created from bundle.
func NewRecord(id, bundle string, annotations map[string]string) *Record {
	return &Record{
		State: specs.State{
			Version:     specs.Version,
			ID:          id,
			Status:      Creating,
			Bundle:      bundle,
			Annotations: annotations,
		},
		Created: time.Now().UTC(),
	}
}

// Dir is the container's state directory.
func Dir(root, id string) string { return filepath.Join(root, id) }

// Create publishes a new container's directory with its state.json, and
// returns it locked. The directory is built under a temporary name and
// renamed into place with renameat2(2) RENAME_NOREPLACE: the container
// appears whole, state and held lock together, or not at all, and of two
// creates with one ID exactly one wins.
func Create(root string, r *Record) (*Lock, error) {
	if err := ValidateID(r.ID); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("state root: %w", err)
	}
	// The temporary name starts with "." (never a valid ID) and carries
	// the pid, so List can tell what a killed create left behind.
	tmp, err := os.MkdirTemp(root, fmt.Sprintf(".creating-%d-", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("state root: %w", err)
	}
	l, err := lockFile(filepath.Join(tmp, lockName))
	if err == nil {
		l.root, l.id, l.dir = root, r.ID, tmp
		err = l.Save(r)
	}
	if err == nil {
		err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, Dir(root, r.ID), unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.EEXIST) {
			err = fmt.Errorf("container with ID %s already exists: choose another ID, or delete it first", r.ID)
		} else if err != nil {
			err = fmt.Errorf("publish %s: %w", Dir(root, r.ID), err)
		}
	}
	if err != nil {
		if l != nil {
			l.f.Close()
		}
		os.RemoveAll(tmp)
		return nil, err
	}
	l.dir = Dir(root, r.ID)
	return l, syncDir(root)
}

// Load reads the container's record. It takes no lock: state.json is
// only ever replaced whole (Save), so a reader sees the old record or
// the new, never half of one; that is what lets `state` and `list` run
// while another command holds the lock.
func Load(root, id string) (*Record, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	data, err := readState(filepath.Join(Dir(root, id), stateName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notExist(root, id, "")
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(Dir(root, id), stateName), err)
	}
	if r.ID != id {
		return nil, fmt.Errorf("%s: the record is of container %q, not %q", filepath.Join(Dir(root, id), stateName), r.ID, id)
	}
	return &r, nil
}

// readState reads a regular file, not following a symlink, within
// maxStateSize: the state directory is the runtime's own, but a record
// that is not what it wrote is reported, not trusted.
func readState(name string) ([]byte, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link, not a record", name)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxStateSize+1))
	if err == nil && len(data) > maxStateSize {
		err = fmt.Errorf("%s is larger than %d bytes", name, maxStateSize)
	}
	return data, err
}

// Save replaces state.json atomically: the record is written to a
// temporary file in the same directory, fsync(2)ed, and rename(2)d over
// the old one, which is atomic within a file system; then the directory
// is fsynced, so that after a crash the name points at complete data.
// The caller holds the lock.
func (l *Lock) Save(r *Record) error {
	if r.ID != l.id {
		return fmt.Errorf("save: the lock is of container %q, the record of %q", l.id, r.ID)
	}
	dir := l.dir
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+stateName+"-")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, stateName))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("save state of %s: %w", r.ID, err)
	}
	return syncDir(dir)
}

// Remove deletes the container's directory, record and lock file, while
// holding the lock, and releases it. A command that was waiting for the
// lock then finds the container gone (Lock checks).
func (l *Lock) Remove() error {
	defer l.Unlock()
	if err := os.RemoveAll(Dir(l.root, l.id)); err != nil {
		return fmt.Errorf("remove state of %s: %w", l.id, err)
	}
	return syncDir(l.root)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// Owner is the uid owning the container's state directory: the user who
// created it, runc list's OWNER.
func Owner(root, id string) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Lstat(Dir(root, id), &st); err != nil {
		return 0, err
	}
	return st.Uid, nil
}

// notExistError is "no such container": errors.Is(err, fs.ErrNotExist)
// holds, without the "file does not exist" of the wrapped error in the
// message.
type notExistError struct{ msg string }

func (e *notExistError) Error() string        { return e.msg }
func (e *notExistError) Is(target error) bool { return target == fs.ErrNotExist }

func notExist(root, id, why string) error {
	msg := fmt.Sprintf("container %s does not exist (in %s)", id, root)
	if why != "" {
		msg += ": " + why
	}
	return &notExistError{msg}
}
