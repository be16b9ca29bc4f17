package main

// How `run` uses the network (network.go and the files it uses): the
// flags are read and checked before anything is made; the child is born
// in the namespace its mode wants (a new one, the host's, or another
// container's); while it waits on the handshake, a bridge-mode child is
// wired to the bridge from outside; and the wiring goes again on every
// exit path, before the container's record. `network inspect` shows it.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"

	"github.com/spf13/pflag"
	"github.com/vishvananda/netns"
)

// netFlags are run's network flags, as typed.
type netFlags struct {
	network string   // --network
	publish []string // -p/--publish
	ip      string   // --ip
	subnet  string   // --subnet
}

// netOptions are the network flags, parsed.
type netOptions struct {
	mode  netMode
	ports []portSpec
	ip    netip.Addr // invalid: the lowest free address
	cfg   netConfig
	join  netns.NsHandle // container:NAME: that container's namespace, held open from the check on
}

func addNetFlags(fs *pflag.FlagSet, f *netFlags) {
	fs.StringVar(&f.network, "network", "", "the container's network: `MODE` bridge (default as root), none (default rootless), host or container:NAME")
	fs.StringArrayVarP(&f.publish, "publish", "p", nil, "publish a container port on the host: `[HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]` (repeatable; bridge only)")
	fs.StringVar(&f.ip, "ip", "", "the container's `ADDR` on the bridge (default: the lowest free one)")
	fs.StringVar(&f.subnet, "subnet", "", "the bridge's subnet `CIDR` (default: $"+subnetEnv+", else "+defaultSubnet.String()+")")
}

// parse checks the network flags on their own: syntax, ranges, a port
// published twice, -p and --ip outside bridge mode.
func (f netFlags) parse() (netOptions, error) {
	n := netOptions{join: netns.None()}
	var err error
	if n.mode, err = parseNetworkSpec(f.network); err != nil {
		return n, err
	}
	for _, spec := range f.publish {
		p, err := parsePortSpec(spec)
		if err != nil {
			return n, err
		}
		n.ports = append(n.ports, p)
	}
	if err := checkPortSpecs(n.ports); err != nil {
		return n, err
	}
	if n.cfg, err = newNetConfig(f.subnet, stateDir()); err != nil {
		return n, fmt.Errorf("--subnet: %w", err)
	}
	if f.ip != "" {
		if n.ip, err = netip.ParseAddr(f.ip); err != nil || !n.ip.Is4() {
			return n, fmt.Errorf("--ip %q: want an IPv4 address such as %s", f.ip, gatewayOf(n.cfg.subnet).Next())
		}
		if err := checkHostAddr(n.cfg.subnet, n.ip); err != nil {
			return n, err
		}
	}
	return n, n.mode.checkBridgeFlags(n.ports, n.ip)
}

// validateNetwork checks the mode against who runs it, and for
// container:NAME finds NAME running and holds its namespace. Rootless,
// the default is none: a bridge and nftables rules need root.
func validateNetwork(o *options) error {
	m := o.net.mode
	if os.Geteuid() != 0 {
		if o.network == "" {
			o.net.mode = netMode{kind: netNone}
			return nil
		}
		if m.kind != netNone {
			return fmt.Errorf("--network %s needs root: the bridge, veth pairs and NAT rules belong to the host (run with sudo, or use --network none)", m)
		}
		return nil
	}
	if o.userns && (m.kind == netHost || m.kind == netContainer) {
		return fmt.Errorf("--network %s with --userns: the container's user namespace would not own that network namespace and could not mount /sys; drop --userns or use --network bridge or none", m)
	}
	if m.kind == netBridge {
		return precheckBridge(o.net)
	}
	if m.kind != netContainer {
		return nil
	}
	var err error
	o.net.join, err = containerNetns(m, runningPid)
	return err
}

// precheckBridge refuses a subnet that clashes with a host route and a
// port another container publishes before anything is made. attach checks
// both again under the network lock, where it counts.
func precheckBridge(n netOptions) error {
	net, closeNet, err := openHostNetwork(n.cfg)
	if err != nil {
		return err
	}
	defer closeNet()
	if err := checkSubnetClash(net.nl, n.cfg); err != nil {
		return err
	}
	return checkPortsFree(net.nft, n.ports)
}

// runningPid is the pid of the init of the running container NAME (or ID).
func runningPid(name string) (int, error) {
	s, err := openStore(stateDir())
	if err != nil {
		return 0, err
	}
	c, err := s.findContainer(name)
	if err != nil {
		return 0, err
	}
	if !c.running() {
		return 0, fmt.Errorf("container %s is not running: start it first, its network namespace lives as long as its process", c.Name)
	}
	return c.State.Pid, nil
}

// startInit starts the container's init where its mode wants it: from a
// thread inside the other container's namespace for container:NAME (see
// startInNetns), else with cmd.Start. wait replaces cmd.Wait.
func startInit(o *options, cmd *exec.Cmd) (wait func() error, err error) {
	if o.net.mode.kind == netContainer {
		defer o.net.join.Close() // the child holds the namespace now
		return startInNetns(cmd, o.net.join)
	}
	return startPinned(cmd, nil)
}

// startPinned starts cmd from a goroutine locked to its OS thread, which
// then waits for the child. The child's Pdeathsig fires when the *thread*
// that started it exits (prctl(2) PR_SET_PDEATHSIG), and a goroutine that
// ends while locked (inNetns, which attach uses) takes its thread with it:
// unpinned, that could be the very thread that started the container, and
// the kernel would SIGKILL it. wait returns what cmd.Wait did.
//
// enter, when not nil, runs on the locked thread before the start
// (startInNetns: setns into another container's network namespace). Such
// a thread is never unlocked: it dies with its goroutine instead of
// serving others from inside that namespace.
func startPinned(cmd *exec.Cmd, enter func() error) (wait func() error, err error) {
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if enter == nil {
			defer runtime.UnlockOSThread() // the child is gone: the thread may serve again
		} else if err := enter(); err != nil {
			started <- err
			return
		}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return func() error { return <-done }, nil
}

// attachNetwork wires a bridge-mode child, waiting on the handshake, to
// the bridge in the runtime's network namespace. detach undoes it; it is
// safe to call after a failed attach, and twice.
func attachNetwork(o *options, pid int) (detach func(), err error) {
	detach = func() {}
	if o.net.mode.kind != netBridge {
		return detach, nil
	}
	n, closeNet, err := openHostNetwork(o.net.cfg)
	if err != nil {
		return detach, err
	}
	done := false
	detach = func() {
		if done {
			return
		}
		done = true
		if err := n.detach(o.id); err != nil {
			fmt.Fprintf(os.Stderr, "%s: network: %v (run 'sudo ./lab.sh reset')\n", progName, err)
		}
		closeNet()
	}
	target, err := netns.GetFromPid(pid)
	if err != nil {
		return detach, fmt.Errorf("open /proc/%d/ns/net: %w", pid, err)
	}
	defer target.Close()
	ep, err := n.attach(o.id, target, o.net.ip, o.net.ports)
	if err != nil {
		return detach, err
	}
	explain(fmt.Sprintf("the container is %s on %s, gateway %s, host end %s", ep.IP, n.cfg.bridge, ep.Gateway, ep.HostLink), "")
	return detach, nil
}

// networkCommand is `network inspect [--subnet CIDR] [--json]`.
func networkCommand(args []string) int {
	fs := pflag.NewFlagSet("network", pflag.ContinueOnError)
	subnet := fs.String("subnet", "", "the subnet to look at, a `CIDR` (default: $"+subnetEnv+", else "+defaultSubnet.String()+")")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	const usage = "network inspect [--subnet CIDR] [--json]"
	if ok, code := parseVerbFlags(fs, args, usage, "shows the bridge, the leases, the published ports and the nftables rules"); !ok {
		return code
	}
	if fs.NArg() != 1 || fs.Arg(0) != "inspect" {
		return failRuntime(errors.New("usage: " + progName + " " + usage))
	}
	if os.Geteuid() != 0 {
		return failRuntime(errors.New("network inspect needs root: it reads the host's links and nftables (run with sudo)"))
	}
	cfg, err := newNetConfig(*subnet, stateDir())
	if err != nil {
		return failRuntime(err)
	}
	n, closeNet, err := openHostNetwork(cfg)
	if err != nil {
		return failRuntime(err)
	}
	defer closeNet()
	r, err := n.inspect()
	if err != nil {
		return failRuntime(err)
	}
	if !*asJSON {
		printNetReport(os.Stdout, r)
		return 0
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "    ")
	if err := enc.Encode(r); err != nil {
		return failRuntime(err)
	}
	return 0
}
