package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// A container outlives its process: its record and its writable layer
// stay in containers/<id>/ until `rm`, so that `ps -a` lists it, `commit`
// can turn its changes into an image, and `inspect` shows where they are.
//
//	containers/<id>/config.json   the record below
//	containers/<id>/init/         /etc/hostname, hosts, resolv.conf (overlay.go)
//	containers/<id>/upper/        everything the container wrote or deleted
//	containers/<id>/work/         overlay's scratch directory
//	containers/<id>/merged/       where the overlay is mounted while it runs
type container struct {
	ID         string `json:"Id"`
	Name       string
	Created    time.Time
	Image      string       // what the user named: NAME[:TAG], an image ID, or a rootfs directory
	ImageID    string       `json:",omitempty"`
	Layers     []string     `json:",omitempty"` // the image's layers, bottom first: they stay while the container does
	Rootfs     string       `json:",omitempty"` // a directory rootfs, used as it is (no overlay)
	Cmd        []string     // the command, entrypoint included
	Env        []string     // the image's environment, then the user's -e
	WorkingDir string       `json:",omitempty"`
	Hostname   string       `json:",omitempty"`
	Volumes    []volumeSpec `json:",omitempty"`
	State      containerState
}

type containerState struct {
	Status     string // created, running, exited
	Pid        int    `json:",omitempty"`
	PidStart   uint64 `json:",omitempty"` // the process's start time, to tell it from a recycled pid
	ExitCode   int
	StartedAt  time.Time `json:",omitzero"`
	FinishedAt time.Time `json:",omitzero"`
}

func (s *store) containerDir(id string) string { return s.path("containers", id) }
func (s *store) upperDir(id string) string     { return filepath.Join(s.containerDir(id), "upper") }

// containerOverlay is the overlay mount of c: its init layer on top of the
// image's layers, its own upper and work dirs.
func (s *store) containerOverlay(c *container) overlayMount {
	dir := s.containerDir(c.ID)
	m := overlayMount{Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"),
		Merged: filepath.Join(dir, "merged"), ShortDir: s.root}
	m.Lower = append(m.Lower, filepath.Join(dir, "init"))
	m.ShortLower = append(m.ShortLower, filepath.Join("containers", c.ID, "init"))
	for i := len(c.Layers) - 1; i >= 0; i-- {
		m.Lower = append(m.Lower, s.diffDir(c.Layers[i]))
		m.ShortLower = append(m.ShortLower, filepath.Join("l", shortName(c.Layers[i])))
	}
	return m
}

// RootDir is the directory the container's process will see as /.
func (s *store) rootDir(c *container) string {
	if c.Rootfs != "" {
		return c.Rootfs
	}
	return filepath.Join(s.containerDir(c.ID), "merged")
}

// createContainer checks c (name, image or rootfs, volumes) and, only when
// all is well, records it and makes its directories. c.Image names the
// image or rootfs; c.Cmd, c.Env and c.WorkingDir hold what the user gave
// and are completed from the image's config. resolv is the init layer's
// /etc/resolv.conf, as the network mode wants it (resolv.go).
func (s *store) createContainer(c *container, resolv []byte) error {
	if c.Name != "" {
		if err := checkName(c.Name); err != nil {
			return err
		}
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.resolveContainerImage(c); err != nil {
		return err
	}
	if len(c.Cmd) == 0 {
		c.Cmd = defaultCommand
	}
	if err := s.checkNameFree(c.Name); err != nil {
		return err
	}
	if c.Volumes, err = s.prepareVolumes(c.Volumes); err != nil {
		return err
	}
	if c.ID == "" {
		c.ID = randomID()
	}
	if c.Name == "" {
		c.Name = c.ID[:12]
	}
	if c.Hostname == "" {
		c.Hostname = c.ID[:12]
	}
	c.Created, c.State = time.Now().UTC(), containerState{Status: "created"}
	if err := s.makeContainerDirs(c, resolv); err != nil {
		os.RemoveAll(s.containerDir(c.ID))
		return err
	}
	return nil
}

// resolveContainerImage fills in c from its image, or takes c.Image as a
// rootfs directory when one exists by that name.
func (s *store) resolveContainerImage(c *container) error {
	if fi, err := os.Stat(c.Image); err == nil && fi.IsDir() {
		abs, err := filepath.Abs(c.Image)
		c.Rootfs = abs
		return err
	}
	img, err := s.findImage(c.Image)
	if errors.Is(err, errNoImage) {
		return fmt.Errorf("%s is neither an image nor a directory: list images with 'images', import one with 'image import FILE %s'", c.Image, c.Image)
	}
	if err != nil {
		return err
	}
	c.ImageID, c.Layers = img.ID, img.Layers()
	rc := img.Config.Config
	c.Env = mergeEnv(rc.Env, c.Env)
	if len(c.Cmd) == 0 {
		c.Cmd = rc.Cmd
	}
	c.Cmd = append(append([]string{}, rc.Entrypoint...), c.Cmd...)
	if c.WorkingDir == "" {
		c.WorkingDir = rc.WorkingDir
		if c.WorkingDir != "" && !strings.HasPrefix(c.WorkingDir, "/") {
			return fmt.Errorf("image %s: its config's WorkingDir %q is not an absolute path: give -w a directory in the container, or fix the image", c.Image, rc.WorkingDir)
		}
	}
	return nil
}

// mergeEnv is base with each K=V of over replacing the same K.
func mergeEnv(base, over []string) []string {
	out := append([]string{}, base...)
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		out = removeEnv(out, k)
		out = append(out, kv)
	}
	return out
}

func removeEnv(env []string, key string) []string {
	out := env[:0]
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return out
}

func (s *store) checkNameFree(name string) error {
	if name == "" {
		return nil
	}
	cs, err := s.containers()
	if err != nil {
		return err
	}
	for _, other := range cs {
		if other.Name == name {
			return fmt.Errorf("--name %s: the name is in use by container %s (%s): remove it with 'rm %s' or choose another name",
				name, shortID(other.ID), other.status(), name)
		}
	}
	return nil
}

func (s *store) makeContainerDirs(c *container, resolv []byte) error {
	dir := s.containerDir(c.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	if c.Rootfs == "" {
		for _, d := range []string{"upper", "work", "merged", "init"} {
			if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
				return err
			}
		}
		if err := writeInitLayer(filepath.Join(dir, "init"), c.Hostname, resolv); err != nil {
			return err
		}
	}
	return s.saveContainer(c)
}

func randomID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *store) saveContainer(c *container) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.containerDir(c.ID), "config.json"), append(b, '\n'))
}

// containers reads every container record. A directory without a record
// is a create that was interrupted: skipped.
func (s *store) containers() ([]*container, error) {
	entries, err := os.ReadDir(s.path("containers"))
	if err != nil {
		return nil, err
	}
	var out []*container
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(s.containerDir(e.Name()), "config.json"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		c := new(container)
		if err := json.Unmarshal(b, c); err != nil {
			return nil, fmt.Errorf("container %s: %w", e.Name(), err)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// findContainer takes a name, an ID, or an unambiguous ID prefix.
func (s *store) findContainer(ref string) (*container, error) {
	cs, err := s.containers()
	if err != nil {
		return nil, err
	}
	var found []*container
	for _, c := range cs {
		if c.Name == ref || c.ID == ref {
			return c, nil
		}
		if len(ref) >= 4 && strings.HasPrefix(c.ID, ref) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no such container: %s (list them with 'ps -a')", ref)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("container ID %s is ambiguous: give more digits", ref)
}

// containersUsing names the containers made from image id.
func (s *store) containersUsing(id string) ([]string, error) {
	cs, err := s.containers()
	var names []string
	for _, c := range cs {
		if c.ImageID == id {
			names = append(names, c.Name)
		}
	}
	return names, err
}

// markRunning records that pid is the container's process.
func (s *store) markRunning(c *container, pid int) error {
	start, err := pidStartTime(pid)
	if err != nil {
		return err
	}
	c.State = containerState{Status: "running", Pid: pid, PidStart: start, StartedAt: time.Now().UTC()}
	return s.saveContainer(c)
}

// markExited records how the container's process ended.
func (s *store) markExited(c *container, code int) error {
	c.State.Status, c.State.ExitCode, c.State.FinishedAt = "exited", code, time.Now().UTC()
	c.State.Pid, c.State.PidStart = 0, 0
	return s.saveContainer(c)
}

// running says whether c's process is alive. The record alone cannot say:
// a runtime killed with SIGKILL never wrote "exited". The pid must exist
// and have started when the record says, or it is another process.
func (c *container) running() bool {
	if c.State.Status != "running" || c.State.Pid <= 0 {
		return false
	}
	start, err := pidStartTime(c.State.Pid)
	return err == nil && start == c.State.PidStart
}

// pidStartTime is field 22 of /proc/PID/stat (proc(5)): when the process
// started, in clock ticks since boot. The command name (field 2) may hold
// spaces and parentheses, so fields are counted after its last ')'.
func pidStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// status is the STATUS column of ps.
func (c *container) status() string {
	switch {
	case c.running():
		return "Up since " + c.State.StartedAt.Local().Format(time.DateTime)
	case c.State.Status == "created":
		return "Created"
	case c.State.Status == "running":
		return "Exited (unknown: the runtime was killed)"
	}
	return fmt.Sprintf("Exited (%d)", c.State.ExitCode)
}

// printContainers writes `ps` (only running) or `ps -a` (all).
func printContainers(w io.Writer, cs []*container, all bool) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tNAMES")
	for _, c := range cs {
		if !all && !c.running() {
			continue
		}
		cmd := shellJoin(c.Cmd)
		if len(cmd) > 30 {
			cmd = cmd[:29] + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%q\t%s\t%s\t%s\n", c.ID[:12], c.Image, cmd,
			c.Created.Local().Format(time.DateTime), c.status(), c.Name)
	}
	return tw.Flush()
}

// removeContainer is `rm`: it refuses a running container, then unmounts
// what a killed runtime may have left mounted, and deletes the writable
// layer and the record. The image and its layers stay.
func (s *store) removeContainer(ref string) (*container, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, err := s.findContainer(ref)
	if err != nil {
		return nil, err
	}
	if c.running() {
		return nil, fmt.Errorf("container %s is running (pid %d): stop it first, e.g. kill %d", c.Name, c.State.Pid, c.State.Pid)
	}
	return c, s.deleteContainer(c)
}

// deleteContainer is the cleanup of one container's files, idempotent.
func (s *store) deleteContainer(c *container) error {
	if c.Rootfs == "" {
		if err := unmountOverlay(s.containerOverlay(c).Merged); err != nil {
			return err
		}
	}
	// The record goes first: a half-removed directory is no container.
	dir := s.containerDir(c.ID)
	if err := os.Remove(filepath.Join(dir, "config.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove container %s: %w", c.Name, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove container %s: %w", c.Name, err)
	}
	return nil
}

// inspectData is what `inspect` prints, in docker's shape.
type inspectData struct {
	ID          string `json:"Id"`
	Name        string
	Created     time.Time
	Path        string
	Args        []string
	State       inspectState
	Image       string
	Config      inspectConfig
	Mounts      []inspectMount
	GraphDriver graphDriver
}

type inspectState struct {
	containerState
	Running bool
}

type inspectConfig struct {
	Hostname   string
	Env        []string
	Cmd        []string
	WorkingDir string
	Image      string
}

type inspectMount struct {
	Type        string // bind or volume
	Name        string `json:",omitempty"`
	Source      string
	Destination string
	RW          bool
}

// graphDriver tells where the container's files are on the host: the
// layers (LowerDir, top first, ':'-separated as in the mount options),
// its changes (UpperDir), and its root while it runs (MergedDir).
type graphDriver struct {
	Name string
	Data map[string]string
}

// inspect describes c as `docker inspect` would.
func (s *store) inspect(c *container) inspectData {
	d := inspectData{ID: c.ID, Name: "/" + c.Name, Created: c.Created, Image: c.ImageID,
		State:  inspectState{c.State, c.running()},
		Config: inspectConfig{c.Hostname, c.Env, c.Cmd, c.WorkingDir, c.Image}}
	if len(c.Cmd) > 0 {
		d.Path, d.Args = c.Cmd[0], c.Cmd[1:]
	}
	for _, v := range c.Volumes {
		m := inspectMount{Type: "bind", Source: s.volumeSource(v), Destination: v.Target, RW: !v.ReadOnly}
		if v.Named {
			m.Type, m.Name = "volume", v.Source
		}
		d.Mounts = append(d.Mounts, m)
	}
	if c.Rootfs != "" {
		d.GraphDriver = graphDriver{Name: "rootfs", Data: map[string]string{"MergedDir": c.Rootfs}}
		return d
	}
	m := s.containerOverlay(c)
	d.GraphDriver = graphDriver{Name: "overlay2", Data: map[string]string{
		"LowerDir": strings.Join(m.Lower, ":"), "UpperDir": m.Upper, "WorkDir": m.Work, "MergedDir": m.Merged}}
	return d
}
