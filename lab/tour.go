package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"boxlab/lab/internal/gotool"
	"boxlab/lab/internal/labpaths"
	"boxlab/lab/internal/rootfs"
)

func init() {
	register(command{"tour", "the guided tour: build every stage and run it, narrated", runTour})
}

// A tourStageDef is one stage of the tour. A stage that keeps state (images,
// containers) gets a private state directory, $STATE, under the run
// directory, removed after its steps, so the tour leaves nothing behind.
type tourStageDef struct {
	dir, title string
	steps      []tourStep
	ownState   bool
}

// A tourStep is one narrated moment of the tour: what to look at, and the
// real command that shows it (run with the stage binaries on PATH).
type tourStep struct {
	say string
	cmd string // a shell command line, run by /bin/sh; "" for narration only
}

// tourStages are the stages the tour knows, in order. A stage that is not
// in the workspace yet is announced as coming.
var tourStages = []tourStageDef{
	{"stage01-chroot", "chroot: a different root directory, and nothing else", stage01Tour, false},
	{"stage02-namespaces", "namespaces: its own host name, process tree, mounts, IPC, network and users", stage02Tour, false},
	{"stage03-cgroups", "cgroups: limits, accounting and control of what the container uses", stage03Tour, false},
	{"stage04-overlayfs", "overlayfs: layered images, copy-on-write containers, commit", stage04Tour, true},
	{"stage05-network", "networking: a bridge, veth pairs, routes and NAT", stage05Tour, true},
}

var stage01Tour = []tourStep{
	{"chroot(2) changes what / means for one process. Inside, / is the test image:",
		"stage01-chroot run $ROOTFS ls /"},
	{"The image's own files are what the process sees:",
		"stage01-chroot run $ROOTFS cat /etc/os-release"},
	{"But the host name is the host's (the UTS namespace is shared):",
		"echo \"host: $(hostname)\"; stage01-chroot run $ROOTFS hostname"},
	{"/proc is empty until someone mounts it; once mounted, every process of the host shows:",
		"stage01-chroot run $ROOTFS sh -c 'ls /proc | wc -l; mount -t proc proc /proc; ps | wc -l; ps | head -4; umount /proc'"},
	{"The network is the host's too: the same interfaces, the same ports:",
		"stage01-chroot run $ROOTFS probe ifaces | head -4"},
	{"And root can walk out: chroot again below the current directory, then climb with '..' (the probe does it):",
		"stage01-chroot run $ROOTFS probe escape --check /etc/machine-id"},
	{"escaped=true and the host's /etc/machine-id was seen: a chroot is not a container. Stage02 uses namespaces and pivot_root.", ""},
}

var stage02Tour = []tourStep{
	{"The runtime now clones its child into new UTS, PID, mount, IPC and network namespaces. --explain narrates each step:",
		"stage02-namespaces run --explain --hostname demo $ROOTFS true 2>&1 | grep -v '^\\[explain\\]   '"},
	{"Its own host name; the host's is untouched:",
		"stage02-namespaces run --hostname demo $ROOTFS hostname; echo \"host: $(hostname)\""},
	{"Its own process tree: the command is PID 1 and sees only its own processes:",
		"stage02-namespaces run $ROOTFS ps"},
	{"Each namespace is a kernel object with an inode number. The host's and the container's differ:",
		"echo \"host:      $(readlink /proc/self/ns/pid) $(readlink /proc/self/ns/uts)\"; stage02-namespaces run $ROOTFS sh -c 'echo \"container: $(readlink /proc/self/ns/pid) $(readlink /proc/self/ns/uts)\"'"},
	{"Its own network stack: only a loopback interface, which the runtime brought up:",
		"stage02-namespaces run $ROOTFS probe ifaces"},
	{"pivot_root replaced chroot and the old root was unmounted: the escape finds nothing to climb back to:",
		"stage02-namespaces run $ROOTFS probe escape --check /etc/machine-id | grep -v ls_root"},
	{"With --userns, root inside is an unprivileged uid outside (see uid_map):",
		"stage02-namespaces run --userns $ROOTFS probe ids | grep -E '^(uid|uid_map)='"},
	{"Memory, CPU and process counts are still unlimited: stage03 adds cgroups.", ""},
}

var stage03Tour = []tourStep{
	{"The runtime now puts the child into a cgroup under 'boxlab' before it runs the command, and the child gets a cgroup namespace: its own cgroup is its root:",
		"stage03-cgroups run -m 64m $ROOTFS cat /proc/self/cgroup"},
	{"Memory is an incompressible resource: past the limit the kernel's OOM killer ends the container, and the runtime says so (exit 137):",
		"stage03-cgroups run -m 64m $ROOTFS probe mem 200; echo \"exit code: $?\""},
	{"CPU is compressible: with --cpus 0.25 the spinner gets about a quarter of one CPU over a second (cpu_ms):",
		"stage03-cgroups run --cpus 0.25 $ROOTFS probe spin 1s"},
	{"A fork bomb stops at the pids limit, and the host does not notice (threads count too: each child here is a Go program with a few threads):",
		"stage03-cgroups run --pids-limit 20 $ROOTFS probe fork 100"},
	{"Accounting: --stats prints what the container used when it exits:",
		"stage03-cgroups run --stats -m 32m $ROOTFS probe mem 8 2>&1 | grep -v allocated"},
	{"But free inside still shows the host's memory: it reads /proc/meminfo, which cgroups do not change (lxcfs is the known remedy):",
		"stage03-cgroups run -m 64m $ROOTFS free -m"},
	{"Every container still runs straight on a directory, and its writes land in it. stage04 adds layered images and copy-on-write.", ""},
}

var stage04Tour = []tourStep{
	{"Images are stacks of read-only layers. Import the test image, saved by docker (three layers):",
		"stage04-overlayfs image import $CACHE/image.docker.tar boxlab/test"},
	{"The same image as an OCI layout: its layers have the same digests, so they are stored once:",
		"stage04-overlayfs image import $CACHE/image.oci.tar boxlab/test-oci; stage04-overlayfs images"},
	{"Layer 3 deleted /etc/boxlab/removed-by-layer3 with a whiteout entry (.wh.NAME): in the merged view it is gone, while layer 2's file is there:",
		"stage04-overlayfs run --rm boxlab/test ls /etc/boxlab"},
	{"A container gets an overlay mount: the layers below, its own writable upper layer on top. Change a file and delete another:",
		"stage04-overlayfs run --name cow boxlab/test sh -c 'echo changed >> /etc/motd; rm /etc/os-release; cat /etc/motd'"},
	{"docker inspect's GraphDriver block, from the host:",
		"stage04-overlayfs inspect cow | grep -E '\"(LowerDir|UpperDir|WorkDir|MergedDir)\"' | cut -c1-150"},
	{"Copy-on-write: the changed file was copied up into the upper layer, and the deleted one left a whiteout (a 0/0 character device):",
		"up=$(stage04-overlayfs inspect cow | sed -n 's/.*\"UpperDir\": \"\\(.*\\)\",*/\\1/p'); ls -l $up/etc"},
	{"The image's own layer is untouched: any other container still sees the original:",
		"stage04-overlayfs run --rm boxlab/test cat /etc/motd"},
	{"commit turns the upper layer into a new layer on top of the image's three:",
		"stage04-overlayfs commit cow boxlab/changed; stage04-overlayfs images; stage04-overlayfs run --rm boxlab/changed sh -c 'cat /etc/motd; test -e /etc/os-release || echo /etc/os-release: deleted'"},
	{"Each container still has a network namespace with nothing in it but lo: it cannot reach anything. stage05 wires a bridge, veth pairs and NAT.", ""},
}

var stage05Tour = []tourStep{
	{"--network none is stage04's world: a network namespace with nothing but lo:",
		"stage05-network run --network none $ROOTFS probe ifaces"},
	{"The default is a bridge: the runtime made bx0 on the host, a veth pair whose inside end is the container's eth0, an address from the boxlab subnet and a default route through the bridge:",
		"stage05-network run $ROOTFS sh -c 'probe ifaces | grep -v ^iface=lo; probe routes'"},
	{"Two containers on the bridge: 'web' prints its address and serves port 80; while it runs, network inspect shows the bridge, the leases and the NAT rules (with their iptables equivalents); a second container dials web:",
		`mkfifo $STATE/web.out
stage05-network run --name web $ROOTFS sh -c 'probe ifaces | grep ^iface=eth0; exec probe serve 80' > $STATE/web.out &
exec 3< $STATE/web.out
read -r eth0 <&3; echo "web: $eth0"
read -r listening <&3; echo "web: $listening"
stage05-network network inspect
stage05-network run $ROOTFS probe dial "$(echo "$eth0" | sed 's/.*addrs=\([0-9.]*\)\/.*/\1/'):80"
cat <&3; wait`},
	{"With the last container gone, its veth, its lease and the boxlab table went too:",
		"stage05-network network inspect"},
	{"That is a container: a process in its own namespaces, limited by cgroups, on a layered image, wired to a bridge. stage06 puts it all together as a complete runtime.", ""},
}

type tourOptions struct {
	pause bool
	only  []string
}

func runTour(args []string) error {
	var o tourOptions
	fs := pflag.NewFlagSet("tour", pflag.ContinueOnError)
	noPause := fs.Bool("no-pause", false, "do not wait for Enter between steps (the default when stdin is not a terminal)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.pause = !*noPause && term.IsTerminal(int(os.Stdin.Fd()))
	o.only = fs.Args()
	if os.Geteuid() != 0 {
		return fmt.Errorf("the tour runs containers and needs root: sudo ./lab.sh tour")
	}
	if err := ensureHostPackages(os.Stdout); err != nil {
		return err
	}
	fmt.Println("== building the test image")
	img, err := rootfs.Build(rootfs.Options{CacheDir: labpaths.CacheDir, Log: os.Stdout})
	if err != nil {
		return err
	}
	bin := filepath.Join(gotool.WorkspaceDir(), ".bin")
	for i, st := range tourStages {
		if !selected(st.dir, o.only) {
			continue
		}
		if err := tourStage(i+1, st, bin, img, o); err != nil {
			return err
		}
	}
	fmt.Println("\nThat is every stage built so far. Next: read a stage's README.md, then 'sudo ./lab.sh test'.")
	return nil
}

func selected(dir string, only []string) bool {
	if len(only) == 0 {
		return true
	}
	for _, s := range only {
		if strings.HasPrefix(dir, s) || strings.HasPrefix(dir, "stage"+s) {
			return true
		}
	}
	return false
}

func tourStage(n int, st tourStageDef, bin string, img *rootfs.Image, o tourOptions) error {
	fmt.Printf("\n== stage %02d: %s\n", n, st.title)
	if _, err := os.Stat(filepath.Join(gotool.WorkspaceDir(), st.dir)); err != nil {
		fmt.Println("   (not built yet: this stage is still to come)")
		return nil
	}
	if err := buildStage(st.dir, bin); err != nil {
		return err
	}
	fmt.Printf("   (read %s/README.md alongside)\n", st.dir)
	vars := map[string]string{"ROOTFS": img.Dir, "CACHE": filepath.Dir(img.Dir)}
	if st.ownState {
		state, err := os.MkdirTemp(labpaths.RunDir, "tour-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(state)
		vars["STATE"] = state
	}
	for _, s := range st.steps {
		fmt.Printf("\n%s\n", s.say)
		if s.cmd != "" {
			tourRun(s.cmd, bin, vars)
		}
		waitForEnter(o.pause)
	}
	return nil
}

// buildStage compiles one stage's binary into dir.
func buildStage(stage, dir string) error {
	goCmd, err := gotool.Path()
	if err != nil {
		return err
	}
	cmd := exec.Command(goCmd, "build", "-o", filepath.Join(dir, stage), ".")
	cmd.Dir = filepath.Join(gotool.WorkspaceDir(), stage)
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", stage, err, out)
	}
	return nil
}

// tourRun shows a command the way a terminal would, then runs it for real,
// its output indented so it stands apart from the narration. A command that
// fails is shown failing; the tour goes on. vars are set in the command's
// environment and spelled out in what is shown; a private STATE becomes
// the stage's BOXLAB_STATE_DIR.
func tourRun(line, bin string, vars map[string]string) {
	shown := line
	env := append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	for k, v := range vars {
		shown = strings.ReplaceAll(shown, "$"+k, v)
		env = append(env, k+"="+v)
	}
	if state, ok := vars["STATE"]; ok {
		env = append(env, "BOXLAB_STATE_DIR="+state)
	}
	fmt.Printf("  $ %s\n", strings.ReplaceAll(shown, "\n", "\n    "))
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Env = env
	out, err := cmd.StdoutPipe()
	if err == nil {
		cmd.Stderr = cmd.Stdout
		err = cmd.Start()
	}
	if err != nil {
		fmt.Printf("    (could not run: %v)\n", err)
		return
	}
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		fmt.Printf("    %s\n", lines.Text())
	}
	if err := cmd.Wait(); err != nil {
		fmt.Printf("    (%v)\n", err)
	}
}

func waitForEnter(pause bool) {
	if !pause {
		return
	}
	fmt.Print("  [Enter] ")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}
