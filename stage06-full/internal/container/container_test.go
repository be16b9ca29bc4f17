package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestValidateID(t *testing.T) {
	for _, id := range []string{"a", "web", "Web-1.2_x", strings.Repeat("f", 64), strings.Repeat("a", MaxIDLength)} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v", id, err)
		}
	}
	for id, want := range map[string]string{
		"":                                 "empty",
		".":                                ". and ..",
		"..":                               ". and ..",
		"../etc":                           "use letters",
		"a/b":                              "use letters",
		"-rf":                              "use letters",
		".hidden":                          "use letters",
		"_x":                               "use letters",
		"a b":                              "use letters",
		"a\x00":                            "use letters",
		"é":                                "use letters",
		strings.Repeat("a", MaxIDLength+1): "at most 128",
	} {
		if err := ValidateID(id); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateID(%q) = %v, want it to say %q", id, err, want)
		}
	}
}

// The whole state machine, every status by every step.
func TestTransitions(t *testing.T) {
	all := []specs.ContainerState{Creating, Created, Running, Paused, Stopped}
	ops := []Op{OpCreated, OpStart, OpPause, OpResume, OpStop}
	allowed := map[string]specs.ContainerState{
		"creating create": Created,
		"creating stop":   Stopped,
		"created start":   Running,
		"created stop":    Stopped,
		"running pause":   Paused,
		"running stop":    Stopped,
		"paused resume":   Running,
	}
	for _, from := range all {
		for _, op := range ops {
			to, err := Next("web", from, op)
			want, ok := allowed[string(from)+" "+string(op)]
			switch {
			case ok && (err != nil || to != want):
				t.Errorf("%s from %s = %s, %v; want %s", op, from, to, err, want)
			case !ok && err == nil:
				t.Errorf("%s from %s allowed (to %s)", op, from, to)
			case !ok && to != from:
				t.Errorf("refused %s from %s still changed the status to %s", op, from, to)
			}
		}
	}
}

// The refusals read as runc's and docker's do.
func TestTransitionMessages(t *testing.T) {
	for _, c := range []struct {
		from specs.ContainerState
		op   Op
		want string
	}{
		{Stopped, OpStart, "container web: cannot start a container that has stopped"},
		{Running, OpStart, "container web: cannot start an already running container"},
		{Paused, OpStart, "cannot start a paused container: resume it"},
		{Paused, OpPause, "container web: container is already paused"},
		{Created, OpPause, "cannot pause a container that is not running (it is created)"},
		{Running, OpResume, "cannot resume a container that is not paused (it is running)"},
		{Paused, OpStop, "cannot stop a paused container: resume it first"},
		{Stopped, OpStop, "container has already stopped"},
	} {
		_, err := Next("web", c.from, c.op)
		var te *TransitionError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s from %s: %v, want %q", c.op, c.from, err, c.want)
		}
	}
}

func newRecord(id string) *Record {
	return NewRecord(id, "/bundles/"+id, map[string]string{"org.example": "x"})
}

func TestCreateLoad(t *testing.T) {
	root := filepath.Join(t.TempDir(), "oci") // Create makes the root
	r := newRecord("web")
	l, err := Create(root, r)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	got, err := Load(root, "web")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "web" || got.Status != Creating || got.Bundle != "/bundles/web" || got.Annotations["org.example"] != "x" || !got.Created.Equal(r.Created) {
		t.Errorf("loaded %+v, saved %+v", got, r)
	}
	// state.json speaks the runtime-spec's state keys at its top level.
	data, err := os.ReadFile(filepath.Join(root, "web", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if err := json.Unmarshal(data, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ociVersion", "id", "status", "bundle", "annotations", "created"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("state.json has no %q: %s", k, data)
		}
	}
	// Only the container's directory: no temporary left.
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 || entries[0].Name() != "web" {
		t.Errorf("root holds %v", entries)
	}
	if fi, err := os.Stat(root); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("root mode %v, %v: want 0700, the records are the runtime's", fi.Mode(), err)
	}
}

func TestCreateRefuses(t *testing.T) {
	root := t.TempDir()
	l, err := Create(root, newRecord("web"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	_, err = Create(root, newRecord("web"))
	if err == nil || !strings.Contains(err.Error(), "container with ID web already exists") {
		t.Errorf("second create: %v", err)
	}
	if _, err := Create(root, newRecord("../x")); err == nil {
		t.Error("created ../x")
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 {
		t.Errorf("root holds %v after refused creates: want only web", entries)
	}
}

// Save replaces state.json by rename(2): the new record is a new file,
// never the old one rewritten in place (which a reader could catch half
// written).
func TestSaveReplaces(t *testing.T) {
	root := t.TempDir()
	r := newRecord("web")
	l, err := Create(root, r)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	name := filepath.Join(root, "web", "state.json")
	before := inode(t, name)
	r.Status = Created
	if err := l.Save(r); err != nil {
		t.Fatal(err)
	}
	if inode(t, name) == before {
		t.Error("state.json rewritten in place, not replaced")
	}
	got, err := Load(root, "web")
	if err != nil || got.Status != Created {
		t.Errorf("after save: %+v, %v", got, err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "web"))
	if len(entries) != 2 {
		t.Errorf("container directory holds %v: want lock and state.json only", entries)
	}
	if err := l.Save(newRecord("other")); err == nil {
		t.Error("saved another container's record under web's lock")
	}
}

func inode(t *testing.T, name string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(name, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestLoadRefuses(t *testing.T) {
	root := t.TempDir()
	_, err := Load(root, "nosuch")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "container nosuch does not exist") {
		t.Errorf("Load(nosuch) = %v", err)
	}
	if _, err := Load(root, "../etc"); err == nil {
		t.Error("Load(../etc) read outside the root")
	}
	// A record moved under another name is not that container.
	l, err := Create(root, newRecord("web"))
	if err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	if err := os.Rename(filepath.Join(root, "web"), filepath.Join(root, "db")); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(root, "db"); err == nil || !strings.Contains(err.Error(), `of container "web", not "db"`) {
		t.Errorf("Load(db) = %v", err)
	}
}

// Two open file descriptions of one file conflict under flock(2) even in
// one process, as two commands' would: the second is refused, naming
// this process as the holder.
func TestLockBusy(t *testing.T) {
	root := t.TempDir()
	l, err := Create(root, newRecord("web"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockContainer(root, "web", 0)
	want := fmt.Sprintf("container web is locked by pid %d (", os.Getpid())
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("LockContainer while held: %v, want %q", err, want)
	}
	// A waiter gets the lock once it is let go, whether it started
	// waiting before or after.
	got := make(chan error, 1)
	go func() {
		l2, err := LockContainer(root, "web", time.Minute)
		if err == nil {
			l2.Unlock()
		}
		got <- err
	}()
	l.Unlock()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// A bounded wait ends with the holder named.
func TestLockWaitBounded(t *testing.T) {
	root := t.TempDir()
	l, err := Create(root, newRecord("web"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	_, err = LockContainer(root, "web", time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "still after 1ms") || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("LockContainer = %v", err)
	}
}

// A command waiting for the lock of a container that is deleted meanwhile
// learns that it is gone, instead of acting on a removed directory.
func TestLockAfterRemove(t *testing.T) {
	root := t.TempDir()
	l, err := Create(root, newRecord("web"))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		l2, err := LockContainer(root, "web", time.Minute)
		if err == nil {
			l2.Unlock()
		}
		got <- err
	}()
	if err := l.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "container web does not exist") {
		t.Errorf("waiter: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "web")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("directory still there: %v", err)
	}
}

func TestParseStat(t *testing.T) {
	tail := " S 1 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 100"
	for comm, want := range map[string]uint64{
		"(sh)":          98765,
		"(a b)":         98765,
		"(evil) R 1 2)": 98765, // a name that fakes fields and a ")"
		"())":           98765,
	} {
		st, err := parseStat("42 " + comm + tail)
		if err != nil || st.startTime != want || st.state != 'S' {
			t.Errorf("parseStat(%q) = %+v, %v", comm, st, err)
		}
	}
	for _, bad := range []string{"", "42 sh S 1", "42 (sh) S 1 2 3", "42 (sh) SS" + tail[2:], "42 (sh)" + strings.Replace(tail, "98765", "-1", 1)} {
		if _, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
	// Ours, for real: twice the same start time.
	a, err := readStat(os.Getpid())
	if err != nil || a.startTime == 0 {
		t.Fatalf("own stat: %+v, %v", a, err)
	}
	if b, _ := readStat(os.Getpid()); b.startTime != a.startTime {
		t.Errorf("start time moved: %d then %d", a.startTime, b.startTime)
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add("42 (sh) S 1 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 100")
	f.Add("1 ()) Z 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 18446744073709551615")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := parseStat(s)
		if err == nil && st.state == 0 {
			t.Errorf("parseStat(%q) accepted an empty state", s)
		}
	})
}

// pidNeverUsed is above the kernel's pid_max: no process has it, and
// none will while the test runs.
func pidNeverUsed(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	max, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return max + 1
}

func TestRefresh(t *testing.T) {
	running := func(t *testing.T, pid int) *Record {
		r := newRecord("web")
		r.Status = Running
		if err := r.SetInit(pid); err != nil {
			t.Fatal(err)
		}
		return r
	}
	t.Run("alive", func(t *testing.T) {
		r := running(t, os.Getpid())
		r.Refresh()
		if r.Status != Running || r.Pid != os.Getpid() {
			t.Errorf("own process reported %s, pid %d", r.Status, r.Pid)
		}
	})
	t.Run("pid reused", func(t *testing.T) {
		// The pid is alive, but it is not the process recorded.
		r := running(t, os.Getpid())
		r.InitStartTime--
		r.Refresh()
		if r.Status != Stopped || r.Pid != 0 {
			t.Errorf("a stranger on the pid reported %s, pid %d", r.Status, r.Pid)
		}
	})
	t.Run("gone", func(t *testing.T) {
		r := running(t, os.Getpid())
		r.Pid = pidNeverUsed(t)
		r.Refresh()
		if r.Status != Stopped || r.Pid != 0 {
			t.Errorf("a missing pid reported %s, pid %d", r.Status, r.Pid)
		}
	})
	t.Run("zombie", func(t *testing.T) {
		cmd := exec.Command("/bin/sh", "-c", "exit 0")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := running(t, cmd.Process.Pid)
		// waitid(2) with WNOWAIT returns once the child has exited and
		// leaves it unreaped: a zombie, without a sleep.
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
			t.Fatal(err)
		}
		r.Refresh()
		cmd.Wait()
		if r.Status != Stopped {
			t.Errorf("a zombie init reported %s", r.Status)
		}
	})
	t.Run("paused stays", func(t *testing.T) {
		r := running(t, os.Getpid())
		r.Status = Paused
		r.Refresh()
		if r.Status != Paused {
			t.Errorf("paused reported %s", r.Status)
		}
	})
	t.Run("creating without init", func(t *testing.T) {
		r := newRecord("web")
		r.Refresh()
		if r.Status != Creating {
			t.Errorf("creating reported %s", r.Status)
		}
	})
	if err := newRecord("web").SetInit(pidNeverUsed(t)); err == nil {
		t.Error("SetInit of a missing pid")
	}
}

func TestList(t *testing.T) {
	root := t.TempDir()
	for _, id := range []string{"zeta", "alpha"} {
		r := newRecord(id)
		r.Status = Running
		if err := r.SetInit(os.Getpid()); err != nil {
			t.Fatal(err)
		}
		if id == "zeta" {
			r.InitStartTime++ // its init is gone, its pid someone else's
		}
		l, err := Create(root, r)
		if err != nil {
			t.Fatal(err)
		}
		l.Unlock()
	}
	// Garbage of every kind, each reported.
	must(t, os.WriteFile(filepath.Join(root, "stray"), nil, 0o600))
	must(t, os.Mkdir(filepath.Join(root, "bad name"), 0o700))
	must(t, os.Mkdir(filepath.Join(root, "empty"), 0o700))
	must(t, os.Mkdir(filepath.Join(root, fmt.Sprintf(".creating-%d-x", pidNeverUsed(t))), 0o700))
	// A create in progress (its creator, this test, runs) is no problem.
	must(t, os.Mkdir(filepath.Join(root, fmt.Sprintf(".creating-%d-y", os.Getpid())), 0o700))

	list, problems, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range list {
		got = append(got, c.ID+":"+string(c.Status))
		if c.UID != uint32(os.Geteuid()) {
			t.Errorf("%s: owner %d", c.ID, c.UID)
		}
	}
	if strings.Join(got, " ") != "alpha:running zeta:stopped" {
		t.Errorf("listed %v", got)
	}
	msgs := fmt.Sprint(problems)
	for _, want := range []string{"stray: not a container directory", "bad name: not a container directory", "skipping " + root + "/empty", "left by a create that was killed"} {
		if !strings.Contains(msgs, want) {
			t.Errorf("problems %s lack %q", msgs, want)
		}
	}
	if len(problems) != 4 {
		t.Errorf("%d problems, want 4: %v", len(problems), problems)
	}
	if _, _, err := List(filepath.Join(root, "nosuch")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List of a missing root: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
