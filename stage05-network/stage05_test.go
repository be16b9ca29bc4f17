package main

// Black-box tests of the network lesson: the stage binary runs inside a
// throwaway "host" network namespace (labtest.NetworkHost, through the
// testbed of nethelpers_test.go), with an "outside" namespace behind the
// host's uplink on TEST-NET-2. Containers serve and dial with the probe;
// the test process serves and dials only inside those namespaces. After
// each test the throwaway host must hold no bx link, no boxlab table and
// no lease (testbed.checkInside), and the real host nothing at all
// (labtest's leftover checks).

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"boxlab/lab/labtest"
)

// cmd prepares a run of the stage binary in the throwaway host, with the
// testbed's state directory and the default subnet.
func (tb *testbed) cmd(args ...string) *exec.Cmd {
	cmd := tb.nh.Command(tb.t, args...)
	cmd.Env = append(os.Environ(), stateDirEnv+"="+tb.stateDir, subnetEnv+"=")
	return cmd
}

func (tb *testbed) run(args ...string) labtest.Result {
	tb.t.Helper()
	return labtest.Wait(tb.t, tb.cmd(args...))
}

// bg is a container running in the background; its stdout is read line
// by line as it comes.
type bg struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr strings.Builder
	seen   []string
	done   chan struct{}
	code   int
}

// lineTimeout only keeps a broken network from hanging the test.
const lineTimeout = 30 * time.Second

// start runs the binary in the background. If the test ends with the
// container still running (a failed test), its init is killed, so that
// the runtime cleans up as on any exit.
func (tb *testbed) start(args ...string) *bg {
	t := tb.t
	t.Helper()
	b := &bg{cmd: tb.cmd(args...), lines: make(chan string, 256), done: make(chan struct{})}
	out, err := b.cmd.StdoutPipe()
	require.NoError(t, err)
	b.cmd.Stderr = &b.stderr
	require.NoError(t, b.cmd.Start())
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			b.lines <- s.Text()
		}
		io.Copy(io.Discard, out)
		close(b.lines)
		err := b.cmd.Wait()
		b.code = b.cmd.ProcessState.ExitCode()
		if ws, ok := b.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			b.code = 128 + int(ws.Signal())
		}
		_ = err
		close(b.done)
	}()
	t.Cleanup(func() {
		select {
		case <-b.done:
			return
		default:
		}
		for _, pid := range childrenOf(b.cmd.Process.Pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		<-b.done
	})
	return b
}

// childrenOf lists a process's children (proc(5): /proc/PID/task/TID/children).
func childrenOf(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range tasks {
		data, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// waitFor returns the first line from now on that starts with prefix.
func (b *bg) waitFor(t testing.TB, prefix string) string {
	t.Helper()
	deadline := time.After(lineTimeout)
	for {
		select {
		case l, ok := <-b.lines:
			if !ok {
				<-b.done
				t.Fatalf("container ended (exit %d) before printing %q\n--- stdout\n%s\n--- stderr\n%s",
					b.code, prefix, strings.Join(b.seen, "\n"), b.stderr.String())
			}
			b.seen = append(b.seen, l)
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line %q within %s; so far:\n%s", prefix, lineTimeout, strings.Join(b.seen, "\n"))
		}
	}
}

// addr waits for the probe's eth0 line (probe ifaces) and returns its
// IPv4 address.
func (b *bg) addr(t testing.TB) string {
	t.Helper()
	return eth0Addr(t, b.waitFor(t, "iface=eth0 "))
}

// wait waits for the container to end and returns its exit code and the
// rest of its output.
func (b *bg) wait(t testing.TB) (int, labtest.Facts) {
	t.Helper()
	for l := range b.lines {
		b.seen = append(b.seen, l)
	}
	<-b.done
	return b.code, labtest.ParseFacts(strings.Join(b.seen, "\n"))
}

// eth0Addr reads "iface=eth0 state=up mtu=1500 addrs=10.199.0.2/24,fe80::... mac=..."
func eth0Addr(t testing.TB, line string) string {
	t.Helper()
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "addrs="); ok {
			for _, a := range strings.Split(v, ",") {
				if ip, _, ok := strings.Cut(a, "/"); ok && strings.Count(ip, ".") == 3 {
					return ip
				}
			}
		}
	}
	t.Fatalf("no IPv4 address in %q", line)
	return ""
}

// A container reaches its gateway (the bridge's address on the host) and
// another container, and both see its own address: the bridge does no NAT.
func TestBridgeContainerToContainer(t *testing.T) {
	tb := newTestbed(t)
	rootfs := labtest.Rootfs(t)
	serve(t, tb.host, ":9000") // every address of the host, the bridge's once it exists
	web := tb.start("run", "--name", "web", rootfs, "sh", "-c", "probe ifaces; exec probe serve 80 --count 1")
	webIP := web.addr(t)
	web.waitFor(t, "listening=")
	assert.Equal(t, "10.199.0.2", webIP, "the first free address after the gateway")

	r := tb.run("run", rootfs, "sh", "-c", "probe ifaces; probe routes; probe dial 10.199.0.1:9000 && probe dial "+webIP+":80")
	require.Equal(t, 0, r.Code, r)
	f := r.Facts()
	client := eth0Addr(t, findLine(t, f.All("iface"), "eth0 "))
	assert.Equal(t, "10.199.0.3", client)
	assert.Equal(t, "10.199.0.1", f.Get("default_gw"))
	assert.Contains(t, f.All("iface"), "lo state=up mtu=65536 addrs=127.0.0.1/8,::1/128 mac=", "lo is up")
	assert.Equal(t, []string{"ok", "ok"}, f.All("dial"), r)
	assert.Equal(t, "peer="+client, f.All("response")[0], "the gateway sees the container's address")
	assert.Contains(t, f.All("response")[1], " to "+client+":", "the other container sees it too")

	code, wf := web.wait(t)
	assert.Equal(t, 0, code, web.stderr.String())
	assert.Contains(t, wf.Get("peer"), client+":")
}

func findLine(t testing.TB, lines []string, prefix string) string {
	t.Helper()
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	t.Fatalf("no line starting with %q in %q", prefix, lines)
	return ""
}

// A container reaches the outside through MASQUERADE: the outside sees
// the host's uplink address, never the container's.
func TestNATToOutside(t *testing.T) {
	tb := newTestbed(t)
	serve(t, tb.outside, uplinkOutside+":7000")
	r := tb.run("run", labtest.Rootfs(t), "probe", "dial", uplinkOutside+":7000")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "peer="+uplinkHost, r.Facts().Get("response"), "the outside sees the host's address")
	assert.True(t, strings.HasPrefix(r.Facts().Get("local"), "10.199.0.2:"), "the container used its own: %s", r.Facts().Get("local"))
}

// A published port is reached from outside (prerouting DNAT), and from
// the host itself on its own address (output DNAT).
func TestPublishedPortReached(t *testing.T) {
	tb := newTestbed(t)
	web := tb.start("run", "-p", "8080:80", labtest.Rootfs(t), "probe", "serve", "80", "--count", "2")
	web.waitFor(t, "listening=")

	line, err := dial(tb.outside, uplinkHost+":8080")
	require.NoError(t, err, "outside -> host:8080")
	assert.Contains(t, line, " to "+uplinkOutside+":", "DNAT keeps the client's address")

	line, err = dial(tb.host, uplinkHost+":8080")
	require.NoError(t, err, "host -> its own address:8080")
	assert.Contains(t, line, " to "+uplinkHost+":")

	code, f := web.wait(t)
	assert.Equal(t, 0, code, web.stderr.String())
	assert.Equal(t, "2", f.Get("served"))
}

// none: only lo, up. host: the host's namespace itself. container:NAME:
// the other container's namespace, localhost included.
func TestNetworkModes(t *testing.T) {
	tb := newTestbed(t)
	rootfs := labtest.Rootfs(t)

	r := tb.run("run", "--network", "none", rootfs, "probe", "ifaces")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "lo", r.Facts().Get("ifaces"))
	assert.Equal(t, []string{"lo state=up mtu=65536 addrs=127.0.0.1/8,::1/128 mac="}, r.Facts().All("iface"))

	r = tb.run("run", "--network", "host", rootfs, "sh", "-c", "probe ns; probe ifaces")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, inode(t, tb.host), r.Facts().Get("ns.net"), "the host's own namespace")
	assert.Contains(t, strings.Split(r.Facts().Get("ifaces"), ","), "uplink")
	assert.NotEqual(t, labtest.HostNamespace(t, "uts"), r.Facts().Get("ns.uts"), "the other namespaces stay new")

	web := tb.start("run", "--name", "web", rootfs, "sh", "-c", "probe ns; exec probe serve 80 --count 2")
	webNet := strings.TrimPrefix(web.waitFor(t, "ns.net="), "ns.net=")
	web.waitFor(t, "listening=")
	r = tb.run("run", "--network", "container:web", rootfs, "sh", "-c", "probe ns; probe dial 127.0.0.1:80")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, webNet, r.Facts().Get("ns.net"), "web's namespace")
	assert.Equal(t, "ok", r.Facts().Get("dial"), "web's localhost is its localhost")
	assert.Len(t, tb.bxLinks(t), 2, "the bridge and web's veth: the joiner adds none")
	_, err := dial(tb.host, "10.199.0.2:80")
	require.NoError(t, err, "web is still there after its guest left")
	code, _ := web.wait(t)
	assert.Equal(t, 0, code, web.stderr.String())

	r = tb.run("run", "--network", "container:web", rootfs, "true")
	assert.Equal(t, exitRuntime, r.Code, r)
	assert.Contains(t, r.Stderr, "--network container:web: no such container: web", "web is gone (a rootfs container's record goes with it)")
}

// 20 containers started at once get 20 distinct addresses, all reachable;
// when they have all exited, no veth, no lease and no table are left.
func TestManyContainersAtOnce(t *testing.T) {
	tb := newTestbed(t)
	rootfs := labtest.Rootfs(t)
	const n = 20
	webs := make([]*bg, n)
	for i := range webs {
		webs[i] = tb.start("run", rootfs, "sh", "-c", "probe ifaces; exec probe serve 80 --count 1")
	}
	ips := map[string]bool{}
	for _, w := range webs {
		ip := w.addr(t)
		w.waitFor(t, "listening=")
		require.False(t, ips[ip], "%s given twice", ip)
		ips[ip] = true
	}
	l, err := tb.net.leases.read()
	require.NoError(t, err)
	assert.Len(t, l, n, "one lease each")
	assert.Len(t, tb.bxLinks(t), n+1, "a veth each, and the bridge")
	var wg sync.WaitGroup
	for ip := range ips {
		wg.Go(func() {
			_, err := dial(tb.host, ip+":80")
			assert.NoError(t, err, ip)
		})
	}
	wg.Wait()
	for _, w := range webs {
		code, _ := w.wait(t)
		assert.Equal(t, 0, code, w.stderr.String())
	}
	tb.assertTornDown(t)
}

// Bad input is refused with exit code 125 and a message, before anything
// is made.
func TestBadNetworkInput(t *testing.T) {
	tb := newTestbed(t)
	rootfs := labtest.Rootfs(t)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-p", "80"}, `-p "80": want [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]`},
		{[]string{"-p", "70000:80"}, `host port "70000": out of range 1-65535`},
		{[]string{"-p", "8080:80/sctp"}, `protocol "sctp": want tcp or udp`},
		{[]string{"-p", "8080:80", "-p", "8080:81"}, "-p 8080:80/tcp and -p 8080:81/tcp publish the same host port"},
		{[]string{"-p", "127.0.0.1:8080:80"}, "loopback and multicast addresses cannot be published"},
		{[]string{"--network", "nat"}, `--network "nat": want bridge, none, host or container:NAME`},
		{[]string{"--network", "container:nosuch"}, "--network container:nosuch: no such container: nosuch"},
		{[]string{"--network", "none", "-p", "80:80"}, "-p needs --network bridge"},
		{[]string{"--network", "host", "--userns"}, "--network host with --userns"},
		{[]string{"--ip", "10.0.0.5"}, "--ip 10.0.0.5: not in the network's subnet 10.199.0.0/24"},
		{[]string{"--ip", "10.199.0.1"}, "--ip 10.199.0.1: that is the bridge's (gateway's) address"},
		{[]string{"--subnet", "10.0.0.0/31"}, "prefix length must be between /8 and /30"},
	} {
		r := tb.run(append(append([]string{"run"}, c.args...), rootfs, "true")...)
		assert.Equal(t, exitRuntime, r.Code, "%v: %v", c.args, r)
		assert.Contains(t, r.Stderr, c.msg, c.args)
	}

	// A subnet that a host route covers.
	lo, err := tb.hostNL.LinkByName("lo")
	require.NoError(t, err)
	dst, _ := netlink.ParseIPNet("10.199.0.0/16")
	route := &netlink.Route{LinkIndex: lo.Attrs().Index, Dst: dst}
	require.NoError(t, tb.hostNL.RouteAdd(route))
	r := tb.run("run", rootfs, "true")
	assert.Equal(t, exitRuntime, r.Code, r)
	assert.Contains(t, r.Stderr, "subnet 10.199.0.0/24 overlaps the host's route 10.199.0.0/16 (dev lo): choose another with --subnet or BOXLAB_SUBNET")
	r = tb.run("run", "--subnet", "10.201.0.0/24", rootfs, "probe", "ifaces")
	require.Equal(t, 0, r.Code, "another subnet works: %v", r)
	assert.Contains(t, findLine(t, r.Facts().All("iface"), "eth0 "), "addrs=10.201.0.2/24")
	require.NoError(t, tb.hostNL.RouteDel(route))

	// A port another container publishes.
	web := tb.start("run", "-p", "8080:80", rootfs, "probe", "serve", "80", "--count", "1")
	web.waitFor(t, "listening=")
	r = tb.run("run", "-p", "8080:81", rootfs, "true")
	assert.Equal(t, exitRuntime, r.Code, r)
	assert.Contains(t, r.Stderr, "-p 8080:81/tcp: host port 0.0.0.0:8080/tcp is already published by container ")
	assert.Len(t, tb.bxLinks(t), 2, "only the first container's veth and the bridge")
	_, err = dial(tb.host, "10.199.0.2:80")
	require.NoError(t, err)
	code, _ := web.wait(t)
	assert.Equal(t, 0, code, web.stderr.String())

	entries, _ := os.ReadDir(filepath.Join(tb.stateDir, "containers"))
	assert.Empty(t, entries, "no container record")
}

// network inspect shows the bridge, the leases, the published ports and
// the rules, and that all of it goes with the last container.
func TestNetworkInspect(t *testing.T) {
	tb := newTestbed(t)
	web := tb.start("run", "-p", "8080:80", labtest.Rootfs(t), "probe", "serve", "80", "--count", "1")
	web.waitFor(t, "listening=")
	r := tb.run("network", "inspect")
	require.Equal(t, 0, r.Code, r)
	for _, want := range []string{
		"bridge:   bx0, present\n",
		"subnet:   10.199.0.0/24, gateway 10.199.0.1\n",
		"leases:   1\n  10.199.0.2 ",
		"published: 1\n  0.0.0.0:8080/tcp -> 10.199.0.2:80 ",
		"nft add rule ip boxlab postrouting ip saddr 10.199.0.0/24 oifname != bx0 masquerade",
		"# iptables: iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -p tcp --dport 8080 -j DNAT --to-destination 10.199.0.2:80",
	} {
		assert.Contains(t, r.Stdout, want)
	}
	_, err := dial(tb.host, uplinkHost+":8080")
	require.NoError(t, err)
	code, _ := web.wait(t)
	assert.Equal(t, 0, code, web.stderr.String())

	r = tb.run("network", "inspect")
	require.Equal(t, 0, r.Code, r)
	assert.Contains(t, r.Stdout, "bridge:   bx0, absent (created by the first container)\n")
	assert.Contains(t, r.Stdout, "leases:   0\n")
	assert.Contains(t, r.Stdout, "nftables: no table ip boxlab\n")
}

// network inspect answers --help and -h with its usage and its flags on
// stdout, exit 0, before it needs root or touches a link; an unknown flag
// is still bad input.
func TestNetworkHelp(t *testing.T) {
	for _, args := range [][]string{{"network", "--help"}, {"network", "-h"}, {"network", "inspect", "--help"}, {"network", "inspect", "-h"}} {
		r := labtest.Run(t, args...)
		assert.Equal(t, 0, r.Code, "%s: %v", strings.Join(args, " "), r)
		assert.Contains(t, r.Stdout, "usage: "+progName+" network inspect [--subnet CIDR] [--json]\n")
		assert.Regexp(t, `(?m)^ +--subnet CIDR +the subnet to look at`, r.Stdout)
		assert.Regexp(t, `(?m)^ +--json\S* +print the report as JSON`, r.Stdout)
		assert.Empty(t, r.Stderr, strings.Join(args, " "))
	}
	r := labtest.Run(t, "network", "inspect", "--no-such-flag")
	assert.Equal(t, 125, r.Code, r)
	assert.Contains(t, r.Stderr, "unknown flag: --no-such-flag: usage: "+progName+" network inspect")
	assert.Empty(t, r.Stdout)
}

// --explain narrates the network: netlink steps as ip commands, the
// nftables batch as nft commands with their iptables equivalents, and the
// teardown.
func TestExplainNetwork(t *testing.T) {
	tb := newTestbed(t)
	rootfs := labtest.Rootfs(t)
	r := tb.run("run", "--explain", "-p", "8080:80", rootfs, "true")
	require.Equal(t, 0, r.Code, r)
	for _, want := range []string{
		"$ unshare --uts --pid --mount --ipc --net --fork",
		"$ ip link add bx0 address 02:62:78:c7:00:01 type bridge",
		"$ ip addr add 10.199.0.1/24 dev bx0",
		"$ sysctl -w net.ipv4.ip_forward=1",
		"$ nft add rule ip boxlab postrouting ip saddr 10.199.0.0/24 oifname != bx0 masquerade",
		"$ # iptables: iptables -t nat -A POSTROUTING -s 10.199.0.0/24 ! -o bx0 -j MASQUERADE",
		"$ nsenter --net=/proc/<pid>/ns/net ip link set bxc",
		"nsenter --net=/proc/<pid>/ns/net ip route add default via 10.199.0.1",
		"$ nft add rule ip boxlab prerouting fib daddr type local tcp dport 8080 dnat to 10.199.0.2:80",
		"$ nft delete table ip boxlab",
		"$ ip link del bx0",
	} {
		assert.Contains(t, r.Stderr, want)
	}
	r = tb.run("run", "--explain", "--network", "host", rootfs, "true")
	require.Equal(t, 0, r.Code, r)
	assert.Contains(t, r.Stderr, "CLONE_NEWIPC): the child starts")
	assert.Contains(t, r.Stderr, "$ unshare --uts --pid --mount --ipc --fork")
	assert.NotContains(t, r.Stderr, "ip link set lo up", "the host's lo is not ours")
}

// The init layer's resolv.conf follows the mode: bridge gets the host's
// servers without those on its loopback (or public ones when none is
// left), host gets the host's file as it is.
func TestResolvConfByMode(t *testing.T) {
	tb := newTestbed(t)
	img := labtest.TestImage(t)
	r := tb.run("image", "import", img.DockerArchive, "boxlab/test")
	require.Equal(t, 0, r.Code, r)
	host, _ := os.ReadFile("/etc/resolv.conf") // none (the VM has none): an empty file

	r = tb.run("run", "--rm", "--network", "host", "boxlab/test", "cat", "/etc/resolv.conf")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, string(host), r.Stdout)

	r = tb.run("run", "--rm", "boxlab/test", "cat", "/etc/resolv.conf")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, string(containerResolvConf(netMode{kind: netBridge}, os.ReadFile)), r.Stdout)
	assert.Contains(t, r.Stdout, "nameserver ")
	assert.NotContains(t, r.Stdout, "nameserver 127.")
}
