package main

// Black-box tests of the CLI: the binary is built once (labtest.Main) and
// run as a user or containerd would run it. None needs root: every run
// gets its own --root in a temporary directory.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"boxlab/lab/labtest"
	"boxlab/stage06-full/internal/container"
	"boxlab/stage06-full/internal/spec"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// runIn runs the binary in dir.
func runIn(t *testing.T, dir string, args ...string) labtest.Result {
	t.Helper()
	cmd := labtest.Command(t, args...)
	cmd.Dir = dir
	return labtest.Wait(t, cmd)
}

func wantExit(t *testing.T, r labtest.Result, code int, stderr string) {
	t.Helper()
	if r.Code != code || !strings.Contains(r.Stderr, stderr) {
		t.Errorf("want exit %d and stderr saying %q, got %s", code, stderr, r)
	}
}

// Verbs that do not exist yet are unknown, not stubs; a bad flag or
// argument count is a usage error. Both exit 125 and say so.
func TestUsageErrors(t *testing.T) {
	root := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frob"}, `unknown command "frob"`},
		{[]string{"exec", "x", "sh"}, `unknown command "exec"`},
		{[]string{"create", "--bundle", "."}, "create takes one container ID, got 0"},
		{[]string{"kill"}, "kill takes a container ID"},
		{[]string{"--frob", "list"}, "unknown flag: --frob"},
		{[]string{"--log-format", "xml", "list"}, `--log-format "xml": want text or json`},
		{[]string{"list", "--frob"}, "unknown flag: --frob"},
		{[]string{"list", "extra"}, "list takes no arguments"},
		{[]string{"list", "--format", "yaml"}, `--format "yaml": want table or json`},
		{[]string{"state"}, "state takes one container ID, got 0"},
		{[]string{"state", "a", "b"}, "state takes one container ID, got 2"},
		{[]string{"spec", "extra"}, "spec takes no arguments"},
	} {
		r := labtest.Run(t, append([]string{"--root", root}, c.args...)...)
		wantExit(t, r, exitUsage, c.want)
		if !strings.Contains(r.Stderr, "--help' for usage") || r.Stdout != "" {
			t.Errorf("%q: want a pointer to --help on stderr and nothing on stdout: %s", c.args, r)
		}
	}
}

// --help works on the program and on every verb: to stdout, exit 0.
func TestHelp(t *testing.T) {
	runs := [][]string{{"--help"}, {"-h"}}
	for _, v := range verbs {
		runs = append(runs, []string{v.name, "--help"}, []string{v.name, "-h"})
	}
	for _, args := range runs {
		r := labtest.Run(t, args...)
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, "usage: "+progName) || r.Stderr != "" {
			t.Errorf("%q: %s", args, r)
		}
	}
	// Every verb is in the program's help.
	r := labtest.Run(t, "--help")
	for _, v := range verbs {
		if !strings.Contains(r.Stdout, "  "+v.name+" ") {
			t.Errorf("--help does not list %s", v.name)
		}
	}
}

func TestSpec(t *testing.T) {
	dir := t.TempDir()
	r := runIn(t, dir, "spec")
	if r.Code != 0 || r.Stdout != "" || r.Stderr != "" {
		t.Fatal(r)
	}
	got, err := spec.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, spec.Default()) {
		t.Error("config.json is not spec.Default()")
	}
	// One honest warning: the devices cgroup is not applied yet
	// (internal/spec's TestDefaultIsValid names it).
	if w, err := spec.Validate(got); err != nil || len(w) != 1 {
		t.Errorf("the default config does not validate: %v %v", w, err)
	}
	// It never overwrites.
	name := filepath.Join(dir, spec.ConfigName)
	must(t, os.WriteFile(name, []byte("mine"), 0o644))
	wantExit(t, runIn(t, dir, "spec"), exitFailed, "config.json exists: remove it first")
	if data, _ := os.ReadFile(name); string(data) != "mine" {
		t.Errorf("spec overwrote config.json: %q", data)
	}
	// --bundle, long and short.
	for _, flag := range []string{"--bundle", "-b"} {
		b := t.TempDir()
		if r := runIn(t, dir, "spec", flag, b); r.Code != 0 {
			t.Fatal(r)
		}
		if _, err := spec.Load(b); err != nil {
			t.Error(err)
		}
	}
	wantExit(t, runIn(t, dir, "spec", "-b", filepath.Join(dir, "nosuch")), exitFailed, "does not exist: make the directory first")
	// --rootless is refused, and writes nothing.
	empty := t.TempDir()
	wantExit(t, runIn(t, empty, "spec", "--rootless"), exitFailed, "not implemented yet")
	if entries, _ := os.ReadDir(empty); len(entries) > 0 {
		t.Errorf("spec --rootless left %v", entries)
	}
}

// testRoot holds two containers whose init is this test process: web,
// running, and old, whose recorded start time is not this process's, as
// if its init had died and the pid gone to someone else.
func testRoot(t *testing.T) string {
	root := t.TempDir()
	for _, id := range []string{"web", "old"} {
		r := container.NewRecord(id, "/bundles/"+id, map[string]string{"org.boxlab.test": id})
		r.Status = container.Running
		r.Rootfs = "/bundles/" + id + "/rootfs"
		must(t, r.SetInit(os.Getpid()))
		if id == "old" {
			r.InitStartTime++
		}
		l, err := container.Create(root, r)
		must(t, err)
		l.Unlock()
	}
	return root
}

func TestState(t *testing.T) {
	root := testRoot(t)
	r := labtest.Run(t, "--root", root, "state", "web")
	if r.Code != 0 || r.Stderr != "" {
		t.Fatal(r)
	}
	var st map[string]any
	must(t, json.Unmarshal([]byte(r.Stdout), &st))
	want := map[string]any{
		"ociVersion": specs.Version, "id": "web", "status": "running",
		"pid": float64(os.Getpid()), "bundle": "/bundles/web", "rootfs": "/bundles/web/rootfs",
	}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("state %s = %v, want %v\n%s", k, st[k], v, r.Stdout)
		}
	}
	if a, _ := st["annotations"].(map[string]any); a["org.boxlab.test"] != "web" {
		t.Errorf("annotations %v", st["annotations"])
	}
	// A recorded pid that is someone else's now: stopped, pid 0.
	r = labtest.Run(t, "--root", root, "state", "old")
	must(t, json.Unmarshal([]byte(r.Stdout), &st))
	if st["status"] != "stopped" || st["pid"] != float64(0) {
		t.Errorf("old: %s", r)
	}
	wantExit(t, labtest.Run(t, "--root", root, "state", "nosuch"), exitFailed, "container nosuch does not exist")
	wantExit(t, labtest.Run(t, "--root", root, "state", "../web"), exitFailed, `container ID "../web"`)
}

func TestList(t *testing.T) {
	root := testRoot(t)
	must(t, os.WriteFile(filepath.Join(root, "stray"), nil, 0o600))
	r := labtest.Run(t, "--root", root, "list")
	if r.Code != 0 {
		t.Fatal(r)
	}
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "ID PID STATUS BUNDLE CREATED OWNER" {
		t.Fatalf("list:\n%s", r.Stdout)
	}
	for i, want := range []string{"old 0 stopped /bundles/old", fmt.Sprintf("web %d running /bundles/web", os.Getpid())} {
		if got := strings.Join(strings.Fields(lines[i+1])[:4], " "); got != want {
			t.Errorf("row %d: %q, want %q", i+1, got, want)
		}
	}
	// The stray file is reported, and did not stop the listing.
	if !strings.Contains(r.Stderr, "stray: not a container directory") {
		t.Errorf("stderr %q", r.Stderr)
	}

	r = labtest.Run(t, "--root", root, "list", "-q")
	if r.Stdout != "old\nweb\n" {
		t.Errorf("list -q: %s", r)
	}
	r = labtest.Run(t, "--root", root, "list", "--format", "json")
	var list []map[string]any
	must(t, json.Unmarshal([]byte(r.Stdout), &list))
	if len(list) != 2 || list[1]["id"] != "web" || list[1]["status"] != "running" {
		t.Errorf("list --format json: %s", r)
	}

	// An empty root lists nothing, as "[]" in JSON.
	empty := t.TempDir()
	if r := labtest.Run(t, "--root", empty, "list", "-f", "json"); r.Code != 0 || r.Stdout != "[]\n" {
		t.Errorf("empty root: %s", r)
	}
	// A --root that does not exist is a mistake, said so.
	wantExit(t, labtest.Run(t, "--root", filepath.Join(empty, "nosuch"), "list"), exitFailed, "no such file or directory")
}

// With --log and --log-format json, a failure is on stderr and in the
// log file as a line whose level is "error", lowercase: what containerd
// reads back to report why the runtime failed.
func TestLogJSON(t *testing.T) {
	root := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "log.json")
	r := labtest.Run(t, "--root", root, "--log", logFile, "--log-format", "json", "--debug", "state", "nosuch")
	wantExit(t, r, exitFailed, "container nosuch does not exist")
	f, err := os.Open(logFile)
	must(t, err)
	defer f.Close()
	levels := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct{ Level, Msg string }
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		levels[line.Level] = line.Msg
	}
	if !strings.Contains(levels["error"], "container nosuch does not exist") {
		t.Errorf("no error line naming the container: %v", levels)
	}
	if levels["debug"] == "" {
		t.Errorf("--debug logged nothing at level debug: %v", levels)
	}
	// Without --log the log is stderr: the error is said once, not twice.
	r = labtest.Run(t, "--root", root, "state", "nosuch")
	if strings.Count(r.Stderr, "does not exist") != 1 {
		t.Errorf("stderr %q", r.Stderr)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
