package spec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The default config is valid, asks for nothing unsupported, and survives
// the trip through a file.
func TestDefaultIsValid(t *testing.T) {
	d := Default()
	warnings, err := Validate(d)
	// The one warning is honest: the devices cgroup is not applied yet,
	// and the default config sets it.
	if err != nil || len(warnings) != 1 || !strings.HasPrefix(warnings[0], "linux.resources.devices: ") {
		t.Fatalf("Validate(Default()) = %v, %v", warnings, err)
	}
	data, err := json.MarshalIndent(d, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, d) {
		t.Errorf("Default() changed through JSON:\n%s", data)
	}
}

// What runc's default has and ours must keep: the namespaces, the docker
// mounts, sh, terminal false.
func TestDefaultShape(t *testing.T) {
	d := Default()
	// docker's fourteen, in bounding, permitted and effective; none
	// inheritable or ambient.
	c := d.Process.Capabilities
	if len(c.Bounding) != 14 || !slices.Equal(c.Bounding, c.Permitted) || !slices.Equal(c.Bounding, c.Effective) || c.Inheritable != nil || c.Ambient != nil {
		t.Errorf("capabilities %+v", c)
	}
	var ns []string
	for _, n := range d.Linux.Namespaces {
		ns = append(ns, string(n.Type))
	}
	if got := strings.Join(ns, " "); got != "pid network ipc uts mount" {
		t.Errorf("namespaces %q", got)
	}
	var mounts []string
	for _, m := range d.Mounts {
		mounts = append(mounts, m.Destination+":"+m.Type)
	}
	want := "/proc:proc /dev:tmpfs /dev/pts:devpts /dev/shm:tmpfs /dev/mqueue:mqueue /sys:sysfs /sys/fs/cgroup:cgroup"
	if got := strings.Join(mounts, " "); got != want {
		t.Errorf("mounts %q, want %q", got, want)
	}
	for _, m := range d.Mounts {
		if m.Type == "sysfs" || m.Type == "cgroup" {
			if !strings.Contains(strings.Join(m.Options, ","), "ro") {
				t.Errorf("%s not read-only: %v", m.Destination, m.Options)
			}
		}
	}
	if d.Process.Terminal || strings.Join(d.Process.Args, " ") != "sh" {
		t.Errorf("process %+v", d.Process)
	}
	if len(d.Linux.MaskedPaths) == 0 || len(d.Linux.ReadonlyPaths) == 0 {
		t.Error("no masked or read-only paths")
	}
	// Default returns a fresh value: a caller may change its copy.
	d.Linux.MaskedPaths[0] = "/changed"
	if Default().Linux.MaskedPaths[0] == "/changed" {
		t.Error("Default shares its slices between calls")
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ConfigName), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func defaultJSON(t testing.TB) string {
	data, err := json.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestLoad(t *testing.T) {
	s, err := Load(writeConfig(t, defaultJSON(t)))
	if err != nil {
		t.Fatal(err)
	}
	if s.Root.Path != "rootfs" {
		t.Errorf("root %+v", s.Root)
	}
}

func TestLoadRefuses(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		_, err := Load(t.TempDir())
		wantErr(t, err, "config.json not found", "spec' writes")
	})
	t.Run("symlink", func(t *testing.T) {
		dir := writeConfig(t, defaultJSON(t))
		link := t.TempDir()
		if err := os.Symlink(filepath.Join(dir, ConfigName), filepath.Join(link, ConfigName)); err != nil {
			t.Fatal(err)
		}
		_, err := Load(link)
		wantErr(t, err, "symbolic link")
	})
	t.Run("fifo", func(t *testing.T) {
		// Without O_NONBLOCK, open(2) would wait for a writer forever
		// and this test would hang rather than fail.
		dir := t.TempDir()
		if err := syscall.Mkfifo(filepath.Join(dir, ConfigName), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		wantErr(t, err, "a FIFO, not a regular file")
	})
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, ConfigName), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		wantErr(t, err, "a directory, not a regular file")
	})
	t.Run("too large", func(t *testing.T) {
		// Valid JSON padded with spaces past the bound.
		body := defaultJSON(t) + strings.Repeat(" ", MaxConfigSize)
		_, err := Load(writeConfig(t, body))
		wantErr(t, err, "more than the 4194304 bytes")
	})
}

func TestParseRefuses(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"empty", "", "not valid JSON"},
		{"array", "[]", "a JSON object, not an array"},
		{"null", "null", "not null"},
		{"two values", "{} {}", "more than one JSON value"},
		{"unknown top", `{"ociVersion":"1.0.0","bogus":1}`, `"bogus" is not a runtime-spec`},
		{"unknown deep", `{"process":{"user":{"uid":0,"uidd":1}}}`, `"process.user.uidd"`},
		{"unknown in list", `{"mounts":[{"destination":"/a"},{"destination":"/b","opts":[]}]}`, `"mounts[1].opts"`},
		{"unknown in map value", `{"linux":{"netDevices":{"eth0":{"name":"x","mtu":9000}}}}`, `"linux.netDevices.eth0.mtu"`},
		{"type mismatch", `{"process":{"user":{"uid":"root"}}}`, "process.user.uid: string is not a valid uint32"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.body))
			wantErr(t, err, c.want)
		})
	}
	// Keys of maps are data: any annotation or sysctl name passes.
	if _, err := Parse([]byte(`{"annotations":{"any.key/x":"v"},"linux":{"sysctl":{"net.ipv4.ip_forward":"1"}}}`)); err != nil {
		t.Error(err)
	}
	// encoding/json matches keys ignoring case, so must the check.
	if _, err := Parse([]byte(`{"OCIVERSION":"1.0.0"}`)); err != nil {
		t.Error(err)
	}
}

func wantErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one saying %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}

// A config that breaks one rule; each case says which field the message
// must name.
func TestValidateRefuses(t *testing.T) {
	u32 := func(v uint32) *uint32 { return &v }
	i64 := func(v int64) *int64 { return &v }
	for _, c := range []struct {
		name   string
		change func(s *specs.Spec)
		want   string
	}{
		{"no version", func(s *specs.Spec) { s.Version = "" }, "ociVersion: missing"},
		{"version 2", func(s *specs.Spec) { s.Version = "2.0.0" }, `ociVersion: "2.0.0" is not a version 1`},
		{"version junk", func(s *specs.Spec) { s.Version = "v1" }, `ociVersion: "v1"`},
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root.path: missing"},
		{"empty root", func(s *specs.Spec) { s.Root.Path = "" }, "root.path: missing"},
		{"no process", func(s *specs.Spec) { s.Process = nil }, "process: missing"},
		{"no args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args: empty"},
		{"empty arg0", func(s *specs.Spec) { s.Process.Args = []string{""} }, "process.args[0]: empty"},
		{"no cwd", func(s *specs.Spec) { s.Process.Cwd = "" }, "process.cwd: missing"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, `process.cwd: "tmp" is relative`},
		{"bad env", func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "JUSTNAME") }, `process.env[2]: "JUSTNAME"`},
		{"bad rlimit", func(s *specs.Spec) { s.Process.Rlimits[0].Type = "RLIMIT_FOO" }, `process.rlimits[0].type: "RLIMIT_FOO"`},
		{"rlimit twice", func(s *specs.Spec) { s.Process.Rlimits = append(s.Process.Rlimits, s.Process.Rlimits[0]) }, "process.rlimits[1].type: RLIMIT_NOFILE is set twice"},
		{"soft over hard", func(s *specs.Spec) { s.Process.Rlimits[0].Soft = 2048 }, "process.rlimits[0]: soft limit 2048 above hard limit 1024"},
		{"mount without destination", func(s *specs.Spec) { s.Mounts[1].Destination = "" }, "mounts[1].destination: missing"},
		{"relative mount", func(s *specs.Spec) { s.Mounts[2].Destination = "dev/pts" }, `mounts[2].destination: "dev/pts" is relative`},
		{"unknown namespace", func(s *specs.Spec) { s.Linux.Namespaces[0].Type = "pids" }, `linux.namespaces[0].type: "pids" is not a namespace type`},
		{"namespace twice", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "pid"})
		}, `linux.namespaces[5].type: "pid" is listed twice`},
		{"time namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
		}, `linux.namespaces[5].type: "time": not supported`},
		{"relative namespace path", func(s *specs.Spec) { s.Linux.Namespaces[1].Path = "proc/1/ns/net" }, "linux.namespaces[1].path"},
		{"hostname without uts", func(s *specs.Spec) { s.Linux.Namespaces = slicesDelete(s.Linux.Namespaces, 3) }, "hostname: set, but linux.namespaces has no uts"},
		{"maps without userns", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		}, "linux.uidMappings: set, but linux.namespaces has no user namespace"},
		{"userns without maps", func(s *specs.Spec) {
			userns(s)
		}, "linux.uidMappings: missing"},
		{"empty mapping", func(s *specs.Spec) { userns(s, specs.LinuxIDMapping{HostID: 1000, Size: 0}) }, "linux.uidMappings[0].size: 0"},
		{"mapping wraps", func(s *specs.Spec) { userns(s, specs.LinuxIDMapping{HostID: 1 << 31, Size: 1<<31 + 1}) }, "linux.uidMappings[0]: runs past"},
		{"mappings overlap inside", func(s *specs.Spec) {
			userns(s, specs.LinuxIDMapping{ContainerID: 0, HostID: 1000, Size: 10}, specs.LinuxIDMapping{ContainerID: 9, HostID: 5000, Size: 10})
		}, "linux.uidMappings[1]: its containerID range overlaps linux.uidMappings[0]'s"},
		{"mappings overlap outside", func(s *specs.Spec) {
			userns(s, specs.LinuxIDMapping{ContainerID: 0, HostID: 1000, Size: 10}, specs.LinuxIDMapping{ContainerID: 100, HostID: 1005, Size: 1})
		}, "linux.uidMappings[1]: its hostID range overlaps"},
		{"relative masked path", func(s *specs.Spec) { s.Linux.MaskedPaths[0] = "proc/kcore" }, "linux.maskedPaths[0]"},
		{"unknown capability", func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_WIZARD")
		}, `process.capabilities.bounding[14]: "CAP_SYS_WIZARD" is not a capability`},
		{"capability in docker's spelling", func(s *specs.Spec) {
			s.Process.Capabilities.Ambient = []string{"net_raw"}
			s.Process.Capabilities.Inheritable = []string{"CAP_NET_RAW"}
		}, "process.capabilities.ambient[0]: \"net_raw\" is not a capability name: write it CAP_NET_RAW"},
		{"effective not permitted", func(s *specs.Spec) {
			s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "CAP_SYS_ADMIN")
		}, "process.capabilities.effective: CAP_SYS_ADMIN not in permitted"},
		{"ambient not inheritable", func(s *specs.Spec) { s.Process.Capabilities.Ambient = []string{"CAP_KILL"} },
			"process.capabilities.ambient: CAP_KILL not both permitted and inheritable"},
		// Refused fields, named by their JSON path.
		{"intelRdt", func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "x"} }, "linux.intelRdt: not supported: Intel RDT"},
		{"personality", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX32"} }, "linux.personality: not supported"},
		{"ioPriority", func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: "IOPRIO_CLASS_IDLE"}
		}, "process.ioPriority: not supported"},
		{"hugepages", func(s *specs.Spec) {
			s.Linux.Resources.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1}}
		}, "linux.resources.hugepageLimits: not supported"},
		{"blkio weight", func(s *specs.Spec) {
			s.Linux.Resources.BlockIO = &specs.LinuxBlockIO{Weight: new(uint16)}
		}, "linux.resources.blockIO: not supported"},
		{"kernel memory", func(s *specs.Spec) {
			s.Linux.Resources.Memory = &specs.LinuxMemory{Kernel: i64(1 << 20)}
		}, "linux.resources.memory.kernel: not supported"},
		{"cpu idle", func(s *specs.Spec) { s.Linux.Resources.CPU = &specs.LinuxCPU{Idle: i64(1)} }, "linux.resources.cpu.idle"},
		{"id-mapped mount", func(s *specs.Spec) {
			s.Mounts[3].UIDMappings = []specs.LinuxIDMapping{{Size: 1}}
		}, "mounts[3].uidMappings: not supported"},
		{"time offsets", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}, "linux.timeOffsets"},
		{"vm", func(s *specs.Spec) { s.VM = &specs.VM{Kernel: specs.VMKernel{Path: "/vmlinuz"}} }, "vm: not supported"},
		{"windows", func(s *specs.Spec) { s.Windows = &specs.Windows{LayerFolders: []string{`C:\l`}} }, "windows: not supported"},
		{"solaris", func(s *specs.Spec) { s.Solaris = &specs.Solaris{Milestone: "x"} }, "solaris: not supported"},
		{"windows username", func(s *specs.Spec) { s.Process.User.Username = "admin" }, "process.user.username"},
		{"netDevices", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth1": {}}
		}, "linux.netDevices"},
		{"memory policy", func(s *specs.Spec) { s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: "MPOL_BIND", Nodes: "0"} }, "linux.memoryPolicy"},
		{"scheduler", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_FIFO"} }, "process.scheduler"},
		{"affinity", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0"} }, "process.execCPUAffinity"},
		{"rdma", func(s *specs.Spec) {
			s.Linux.Resources.Rdma = map[string]specs.LinuxRdma{"mlx": {HcaHandles: u32(1)}}
		}, "linux.resources.rdma"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Default()
			c.change(s)
			_, err := Validate(s)
			wantErr(t, err, c.want)
			var ve *Error
			if !errors.As(err, &ve) || len(checked(ve.Problems)) != 1 {
				t.Errorf("want exactly one problem, got %v", err)
			}
		})
	}
}

// checked leaves out the refusals of fields not implemented yet (the id
// maps): the checks of a field are tested apart from its verdict.
func checked(problems []string) []string {
	var out []string
	for _, p := range problems {
		if !strings.Contains(p, "not implemented yet") {
			out = append(out, p)
		}
	}
	return out
}

func slicesDelete[T any](s []T, i int) []T { return append(s[:i:i], s[i+1:]...) }

func userns(s *specs.Spec, uid ...specs.LinuxIDMapping) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
	s.Linux.UIDMappings = uid
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
}

// Every problem is reported, not only the first.
func TestValidateReportsAll(t *testing.T) {
	s := Default()
	s.Version = ""
	s.Process.Cwd = "x"
	s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "x"}
	_, err := Validate(s)
	var ve *Error
	if !errors.As(err, &ve) || len(ve.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
}

// What a config accepts in full: a user namespace with mappings, a
// namespace to join, empty objects docker sends ("blockIO": {}), and a
// pointer to false.
func TestValidateAccepts(t *testing.T) {
	s := Default()
	userns(s, specs.LinuxIDMapping{ContainerID: 0, HostID: 100000, Size: 65536})
	s.Linux.Namespaces[1].Path = "/proc/1/ns/net"
	s.Linux.Resources.BlockIO = &specs.LinuxBlockIO{}
	no := false
	s.Linux.Resources.Memory = &specs.LinuxMemory{DisableOOMKiller: &no}
	s.Version = "1.0.2-dev"
	s.Linux.Resources.Devices = nil // warned about: not applied yet
	w, err := Validate(s)
	var ve *Error
	if errors.As(err, &ve) && len(checked(ve.Problems)) == 0 {
		err = nil // only the id maps, refused until user namespaces are implemented
	}
	if err != nil || len(w) > 0 {
		t.Fatalf("Validate = %v, %v", w, err)
	}
}

// AppArmor and SELinux labels warn, as crun does, and do not fail.
func TestValidateWarnsOnLabels(t *testing.T) {
	s := Default()
	s.Process.ApparmorProfile = "docker-default"
	s.Process.SelinuxLabel = "system_u:system_r:container_t:s0"
	s.Linux.MountLabel = "system_u:object_r:container_file_t:s0"
	w, err := Validate(s)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(w, "\n")
	for _, want := range []string{"process.apparmorProfile: ", "process.selinuxLabel: ", "linux.mountLabel: "} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings %q lack %q", got, want)
		}
	}
}

// Every field of the runtime-spec has its row (itself or an ancestor),
// and every row names a field that exists, so the table can neither miss
// a field added by a runtime-spec upgrade nor keep one that went away.
func TestEveryFieldIsInTheTable(t *testing.T) {
	rows := map[string]Field{}
	for _, f := range Fields {
		if _, dup := rows[f.Path]; dup {
			t.Errorf("%s: two rows", f.Path)
		}
		rows[f.Path] = f
		switch {
		case f.Verdict == Accept && f.Owner == "":
			t.Errorf("%s: accepted, but no package carries it out", f.Path)
		case f.Verdict != Accept && f.Why == "":
			t.Errorf("%s: %s without a why", f.Path, f.Verdict)
		}
	}
	leaves := leafPaths(specType, "", map[reflect.Type]bool{})
	covered := map[string]bool{}
	for _, leaf := range leaves {
		found := false
		for p := leaf; p != ""; p = parent(p) {
			if _, ok := rows[p]; ok {
				covered[p], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("%s: no row in Fields: decide whether the runtime accepts, warns about or refuses it", leaf)
		}
	}
	for p := range rows {
		if !covered[p] {
			t.Errorf("%s: a row for no field of runtime-spec %s", p, specs.Version)
		}
	}
}

func parent(p string) string {
	i := strings.LastIndex(p, ".")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// Load and Validate never panic, and a config they accept is accepted
// again after a trip through json.Marshal: what the runtime writes into a
// container's bundle reads back the same.
func FuzzLoadValidate(f *testing.F) {
	f.Add(defaultJSON(f))
	f.Add(`{"ociVersion":"1.0.0","process":{"args":["sh"],"cwd":"/"},"root":{"path":"r"}}`)
	f.Add(`{"linux":{"uidMappings":[{"containerID":4294967295,"hostID":0,"size":4294967295}],"namespaces":[{"type":"user"}]}}`)
	f.Add(`{"mounts":[{"destination":"","uidMappings":[{}]}],"linux":{"resources":{"blockIO":{}}}}`)
	f.Add(`{"windows":{"credentialSpec":{"a":[1,{"b":null}]}}}`)
	dir := f.TempDir() // one per worker: the fuzz function runs serially in each
	f.Fuzz(func(t *testing.T, body string) {
		if err := os.WriteFile(filepath.Join(dir, ConfigName), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Load(dir)
		if err != nil {
			return
		}
		if _, err := Validate(s); err != nil {
			return
		}
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(data)
		if err != nil {
			t.Fatalf("accepted %q, refused its re-encoding %s: %v", body, data, err)
		}
		if _, err := Validate(again); err != nil {
			t.Fatalf("accepted %q, refused its re-encoding %s: %v", body, data, err)
		}
	})
}
