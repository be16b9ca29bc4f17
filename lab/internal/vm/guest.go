package vm

// The guest's init, in two stages, as busybox shell scripts generated from
// a Plan. They are small on purpose: a student can read, in one place,
// every step that makes this VM look like a systemd host with cgroup v2
// (or v1, or hybrid: cgroups.go).

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"time"
)

// Guest paths.
const (
	GuestInit      = "init"                 // stage 1, where the kernel looks (rdinit=/init)
	GuestInit2     = "boxlab/init.sh"       // stage 2, run after switch_root
	GuestTest2JSON = "boxlab/bin/test2json" // the host's test2json, rebuilt static
	GuestBinDir    = "boxlab/bin"           // stage binaries
	GuestTestDir   = "boxlab/tests"         // compiled test binaries, one directory per module
	GuestSrcDir    = "boxlab/src"           // the workspace's sources: the tests' working directories
	GuestImageDir  = "var/cache/boxlab"     // the test image, where `lab rootfs` puts it on a host
	ResultsTTY     = "/dev/ttyS1"           // the second serial port: results only
	// TestsCgroup is where the tests run: a leaf under system.slice, like a
	// service on a systemd host, never the root cgroup. On v1 and hybrid
	// the same path in the memory, pids (and unified) hierarchies.
	TestsCgroup = "/sys/fs/cgroup/system.slice/boxlab-tests.service"
)

// Plan is what the guest runs.
type Plan struct {
	Modules     []string      // guest paths of the .ko files, in load order
	ImageDir    string        // guest path of the test image (BOXLAB_IMAGE_DIR)
	Stages      []GuestStage  // in order
	TestTimeout time.Duration // -test.timeout of each test binary
	Run         string        // -test.run, when not empty
	Cgroup      CgroupMode    // the layout init mounts; "" is v2
}

// GuestStage is one module of the workspace, as the guest runs it.
type GuestStage struct {
	Name        string // "stage01-chroot"
	Path        string // module path: "boxlab/stage01-chroot"
	StageBinary string // guest path of the prebuilt stage binary, "" if none
	Packages    []GuestPackage
}

// GuestPackage is one compiled test binary.
type GuestPackage struct {
	ImportPath string // "boxlab/stage01-chroot"
	Dir        string // guest working directory: the package's source directory
	Binary     string // guest path of PKG.test
}

// Stage1 is /init: copy the initramfs into a tmpfs and switch_root there.
func Stage1() []byte { return []byte(stage1) }

const stage1 = `#!/bin/busybox sh
# boxlab VM, init stage 1 (PID 1 on the initramfs).
#
# The kernel unpacked the initramfs into "rootfs", the root of the whole
# mount tree. pivot_root(2) cannot move that root away (EINVAL), and every
# stage from 02 on pivot_roots. So: copy everything into a tmpfs and
# switch_root into it; / is then an ordinary mount, as on a real host.
bb=/bin/busybox
die() { echo "boxlab init: $*"; $bb poweroff -f; }
$bb mkdir -p /newroot || die "mkdir /newroot failed"
$bb mount -t tmpfs -o mode=0755 tmpfs /newroot || die "mount tmpfs /newroot failed"
for f in /*; do
	case $f in /newroot|/proc|/sys|/dev|/init) continue ;; esac
	$bb cp -a "$f" /newroot/ || die "copy $f to the tmpfs failed"
done
$bb mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/run /newroot/tmp
# switch_root empties the initramfs (freeing its memory), makes /newroot
# the root and execs stage 2 as PID 1.
exec $bb switch_root /newroot /` + GuestInit2 + `
`

// Stage2 is /boxlab/init.sh, run as PID 1 on the tmpfs root.
func Stage2(p Plan) ([]byte, error) {
	if p.Cgroup == "" {
		p.Cgroup = CgroupV2
	}
	var b bytes.Buffer
	err := stage2.Execute(&b, struct {
		Plan
		Timeout string
	}{p, p.TestTimeout.String()})
	return b.Bytes(), err
}

// shellQuote quotes s for sh: 'it'\”s'.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var stage2 = template.Must(template.New("init.sh").Funcs(template.FuncMap{
	"q":           shellQuote,
	"marker":      func() string { return Marker },
	"tty":         func() string { return ResultsTTY },
	"svc":         func() string { return TestsCgroup },
	"svcrel":      func() string { return strings.TrimPrefix(TestsCgroup, CgroupRoot) },
	"root":        func() string { return CgroupRoot },
	"awk":         v1Awk,
	"v2opts":      func() string { return v2Options },
	"v1opts":      func() string { return v1Options },
	"tmpfsopts":   func() string { return tmpfsOptions },
	"unifiedopts": func() string { return unifiedOptions },
	"t2j":         func() string { return "/" + GuestTest2JSON },
}).Parse(`#!/bin/busybox sh
# boxlab VM, init stage 2 (PID 1 on a tmpfs root).
#
# Make this machine look like a systemd host with {{if .Cgroup.V1}}the cgroup v1{{if eq .Cgroup "hybrid"}} hybrid{{end}}
# layout{{else}}the unified cgroup v2
# hierarchy (Ubuntu 24.04, the students' VM){{end}}, run each stage's compiled
# tests, report on the second serial port, power off.
export PATH=/bin HOME=/root LANG=C
out={{tty}}
# say reports on the results port, and echoes to the console, whose tail
# the host shows when the VM hangs or dies: it says how far init got.
say() { echo "{{marker}} $*" >$out; echo "boxlab: $*"; }
fatal() { say fatal "$*"; echo "boxlab init: $*"; sync; poweroff -f; }

mount -t proc -o nosuid,nodev,noexec proc /proc || fatal "mount /proc failed"
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || fatal "mount /sys failed"
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev || fatal "mount /dev failed"
mkdir -p /dev/pts /dev/shm
mount -t devpts -o nosuid,noexec,gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts || fatal "mount /dev/pts failed"
mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm || fatal "mount /dev/shm failed"
mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run || fatal "mount /run failed"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp || fatal "mount /tmp failed"
# /var and the rest live on the tmpfs root itself.

# The results port: raw, so that the tty neither echoes nor turns \n into \r\n.
stty -F $out raw -echo || fatal "stty $out failed"

{{if .Cgroup.V1}}# cgroup v1{{if eq .Cgroup "hybrid"}} hybrid{{end}}, as systemd mounts it: a tmpfs at /sys/fs/cgroup holding one
# hierarchy per controller /proc/cgroups offers, cpu and cpuacct together
# (net_cls and net_prio too), each with a symlink named after it.
cg={{root}}
mount -t tmpfs -o {{tmpfsopts}} tmpfs $cg || fatal "mount tmpfs $cg failed"
hierarchies=$(awk {{q awk}} /proc/cgroups) || fatal "cannot read /proc/cgroups"
[ -n "$hierarchies" ] || fatal "/proc/cgroups lists no enabled controller"
for h in $hierarchies; do
	mkdir $cg/$h || fatal "mkdir $cg/$h failed"
	mount -t cgroup -o {{v1opts}},$h cgroup $cg/$h || fatal "mount -t cgroup -o $h cgroup $cg/$h failed"
	case $h in *,*)
		for c in $(echo $h | tr , ' '); do ln -s $h $cg/$c || fatal "ln -s $h $cg/$c failed"; done ;;
	esac
done
{{if eq .Cgroup "hybrid"}}# The unified hierarchy beside them, after them: a controller bound to a v1
# hierarchy cannot be in v2, so this tree holds none; it only tracks
# processes (systemd's hybrid mode). Nothing here writes its
# cgroup.subtree_control.
mkdir $cg/unified || fatal "mkdir $cg/unified failed"
mount -t cgroup2 -o {{unifiedopts}} cgroup2 $cg/unified || fatal "mount cgroup2 $cg/unified failed"
{{end}}# systemd makes the tmpfs read-only once everything is mounted in it.
mount -o remount,ro,{{tmpfsopts}} $cg || fatal "remount $cg read-only failed"
{{else}}# cgroup v2 only, with systemd's mount options.
mount -t cgroup2 -o {{v2opts}} cgroup2 /sys/fs/cgroup ||
	fatal "mount cgroup2 /sys/fs/cgroup failed"
{{end}}# systemd makes every mount shared: the stages must make / rprivate themselves.
mount --make-rshared / || fatal "mount --make-rshared / failed"

hostname boxlab-vm
ip link set lo up || fatal "ip link set lo up failed"

{{range .Modules}}insmod {{q .}} || fatal {{q (printf "insmod %s failed" .)}}
{{end}}
{{- if .Cgroup.V1}}
# Put the tests in a service's cgroup, as systemd does with its default
# accounting on v1 (memory and tasks), and{{if eq .Cgroup "hybrid"}} in the unified tree, where init
# goes to init.scope.{{else}} leave init in the roots (v1 has no
# no-internal-process rule).{{end}} The other hierarchies keep everything in their
# root. Nothing enables a controller anywhere: that is the stages' job.
svcs=
for c in memory pids; do
	[ -d $cg/$c ] || continue
	mkdir -p $cg/$c{{svcrel}} || fatal "mkdir $cg/$c{{svcrel}} failed"
	svcs="$svcs $cg/$c{{svcrel}}"
done
{{- if eq .Cgroup "hybrid"}}
mkdir -p $cg/unified/init.scope $cg/unified{{svcrel}} || fatal "mkdir cgroups in $cg/unified failed"
echo $$ >$cg/unified/init.scope/cgroup.procs || fatal "cannot move init to init.scope"
svcs="$svcs $cg/unified{{svcrel}}"
{{- end}}
[ -n "$svcs" ] || fatal "no memory or pids hierarchy for the tests' cgroup"

for h in $hierarchies; do
	grep -q "^cgroup $cg/$h cgroup " /proc/mounts || fatal "the $h hierarchy is not mounted at $cg/$h"
done
{{if eq .Cgroup "hybrid"}}grep -q "^cgroup2 $cg/unified cgroup2 " /proc/mounts || fatal "cgroup2 is not mounted at $cg/unified"
[ -z "$(cat $cg/unified/cgroup.subtree_control)" ] || fatal "the unified hierarchy has controllers enabled"
{{else}}if grep -q ' cgroup2 ' /proc/mounts; then fatal "a cgroup2 hierarchy is mounted"; fi
{{end}}
{{- else}}
# Delegate every controller from the root, as systemd does, and keep the
# root cgroup free of our processes: init goes to init.scope, the tests to
# a service under system.slice. Below that, enabling controllers is the
# stages' job.
cg=/sys/fs/cgroup
for c in $(cat $cg/cgroup.controllers); do
	echo "+$c" >$cg/cgroup.subtree_control || fatal "cannot enable the $c controller in $cg/cgroup.subtree_control"
done
mkdir -p $cg/init.scope {{svc}} || fatal "mkdir cgroups failed"
echo $$ >$cg/init.scope/cgroup.procs || fatal "cannot move init to init.scope"
svcs={{svc}}

grep -q '^cgroup2 /sys/fs/cgroup cgroup2 ' /proc/mounts || fatal "cgroup2 is not mounted at /sys/fs/cgroup"
if grep -q ' cgroup ' /proc/mounts; then fatal "a cgroup v1 hierarchy is mounted"; fi
{{end}}
say header "kernel: $(uname -r) $(uname -v)"
say header "cgroup layout: {{.Cgroup.Name}}"
say header "cmdline: $(cat /proc/cmdline)"
# The host checks these two against its plan (CheckCgroupMounts).
tr '\t' ' ' </proc/cgroups | while read -r l; do say header "/proc/cgroups: $l"; done
grep " $cg" /proc/mounts | while read -r l; do say header "mount: $l"; done
{{- if .Cgroup.V1}}
say header "memory.memsw (swap accounting): $(if [ -e $cg/memory/memory.memsw.limit_in_bytes ]; then echo yes; else echo no; fi)"
{{- if eq .Cgroup "hybrid"}}
say header "unified cgroup.controllers: $(cat $cg/unified/cgroup.controllers)"
{{- end}}
{{- else}}
say header "cgroup.controllers: $(cat $cg/cgroup.controllers)"
say header "cgroup.subtree_control: $(cat $cg/cgroup.subtree_control)"
{{- end}}
say header "tests' cgroup:$(for d in $svcs; do printf ' %s' $d; done)"
say header "root mount: $(grep ' / / ' /proc/self/mountinfo | cut -d' ' -f4-7)"
say header "modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
say header "cpus: $(nproc), $(grep MemTotal /proc/meminfo | tr -s ' ')"
say header "uptime: $(cut -d' ' -f1 /proc/uptime)s"

# run PKG DIR BINARY [STAGE_BINARY]: one test binary, as go test runs it
# (in the package's directory), converted to JSON events by test2json,
# inside the tests' cgroup.
run() {
	say package "$1"
	if ! cd "$2"; then say exit "$1" 125; return; fi
	if [ -n "$4" ]; then export BOXLAB_STAGE_BINARY="$4"; else unset BOXLAB_STAGE_BINARY; fi
	BOXLAB_IMAGE_DIR={{q $.ImageDir}} BOXLAB_CGROUPS="$svcs" sh -c \
		'for d in $BOXLAB_CGROUPS; do echo $$ >"$d/cgroup.procs" || exit 125; done; unset BOXLAB_CGROUPS; exec "$@"' run \
		{{t2j}} -t -p "$1" "$3" -test.v=test2json -test.count=1 -test.paniconexit0 \
		-test.timeout={{$.Timeout}}{{if $.Run}} -test.run={{q $.Run}}{{end}} >$out 2>&1
	say exit "$1" $?
	cd /
}
{{range .Stages}}{{$s := .}}
say begin {{q .Name}} {{q .Path}}
{{range .Packages}}run {{q .ImportPath}} {{q .Dir}} {{q .Binary}} {{q $s.StageBinary}}
{{end}}say end {{q .Name}}
{{end}}
say done
sync
poweroff -f
`))

// Marker starts every line of the results channel that is not output of a
// test binary.
const Marker = "@@boxlab-vm"

// FormatMarker is one protocol line, as the guest's say() writes it.
func FormatMarker(kind string, args ...string) string {
	return strings.TrimSpace(fmt.Sprintf("%s %s %s", Marker, kind, strings.Join(args, " ")))
}
