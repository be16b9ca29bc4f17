package main

import (
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/nftables"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Two containers on the bridge reach the gateway and each other, and keep
// their own source address between them (no NAT on the bridge).
func TestBridgeTraffic(t *testing.T) {
	tb := newTestbed(t)
	a, b := tb.attachNew(t), tb.attachNew(t)
	require.NotEqual(t, a.ep.IP, b.ep.IP)
	assert.Equal(t, "10.199.0.1", a.ep.Gateway.String())

	serve(t, tb.host, "10.199.0.1:9000")
	peer, err := dial(a.ns, "10.199.0.1:9000")
	require.NoError(t, err, "container -> gateway")
	assert.Equal(t, a.ep.IP.String(), peer)

	serve(t, b.ns, ":80")
	peer, err = dial(a.ns, b.ep.IP.String()+":80")
	require.NoError(t, err, "container -> container")
	assert.Equal(t, a.ep.IP.String(), peer, "container traffic keeps its source")

	// Inside: eth0 with the address, lo up, default route via the gateway.
	h := nlAt(t, a.ns)
	eth, err := h.LinkByName("eth0")
	require.NoError(t, err)
	addrs, err := h.AddrList(eth, netlink.FAMILY_V4)
	require.NoError(t, err)
	require.Len(t, addrs, 1)
	assert.Equal(t, a.ep.IP.String()+"/24", addrs[0].IPNet.String())
	routes, err := h.RouteList(nil, netlink.FAMILY_V4)
	require.NoError(t, err)
	var gw string
	for _, r := range routes {
		if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
			gw = r.Gw.String()
		}
	}
	assert.Equal(t, "10.199.0.1", gw)
	assert.ElementsMatch(t, []string{"bx0", hostVethName(a.id), hostVethName(b.id)}, tb.bxLinks(t))
	br, err := tb.hostNL.LinkByName("bx0")
	require.NoError(t, err)
	assert.Equal(t, "02:62:78:c7:00:01", br.Attrs().HardwareAddr.String(), "the bridge's own MAC, not a port's")
	for _, c := range []*testCtr{a, b} {
		l, err := tb.hostNL.LinkByName(hostVethName(c.id))
		require.NoError(t, err)
		assert.Equal(t, br.Attrs().Index, l.Attrs().MasterIndex, "%s is on the bridge", l.Attrs().Name)
		assert.Equal(t, "veth", l.Type())
	}
}

// A container reaches the outside through MASQUERADE: the outside sees the
// host's uplink address, and has no route back to the container's subnet.
func TestNATOut(t *testing.T) {
	tb := newTestbed(t)
	c := tb.attachNew(t)
	serve(t, tb.outside, uplinkOutside+":7000")
	peer, err := dial(c.ns, uplinkOutside+":7000")
	require.NoError(t, err, "container -> outside")
	assert.Equal(t, uplinkHost, peer, "the outside must see the host's address")

	fwd := make([]byte, 2)
	require.NoError(t, inNetns(tb.host, func() (err error) {
		f, err := os.Open("/proc/sys/net/ipv4/ip_forward")
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.Read(fwd)
		return err
	}))
	assert.Equal(t, "1\n", string(fwd), "ip_forward in the throwaway host")
}

// A published port is reached from outside (prerouting DNAT) and from the
// host itself on its own address (output DNAT).
func TestPublishedPort(t *testing.T) {
	tb := newTestbed(t)
	c := tb.attachNew(t, "8080:80", "5353:53/udp")
	serve(t, c.ns, ":80")
	serveUDP(t, c.ns, ":53")

	peer, err := dial(tb.outside, uplinkHost+":8080")
	require.NoError(t, err, "outside -> published port")
	assert.Equal(t, uplinkOutside, peer, "DNAT keeps the client's address")

	peer, err = dial(tb.host, uplinkHost+":8080")
	require.NoError(t, err, "host -> its own address's published port")
	assert.Equal(t, uplinkHost, peer)

	got, err := dialUDP(tb.outside, uplinkHost+":5353")
	require.NoError(t, err, "outside -> published udp port")
	assert.Equal(t, uplinkOutside, got)

	// Only the published port is forwarded.
	_, err = dial(tb.outside, uplinkHost+":8081")
	assert.Error(t, err)
}

// A port bound to one host address is published there only.
func TestPublishedPortOnAddress(t *testing.T) {
	tb := newTestbed(t)
	c := tb.attachNew(t, uplinkHost+":8080:80")
	serve(t, c.ns, ":80")
	peer, err := dial(tb.outside, uplinkHost+":8080")
	require.NoError(t, err)
	assert.Equal(t, uplinkOutside, peer)
	// Another container may not take the same port on all addresses...
	_, err = tb.net.attach(testID(), newNetns(t), netip.Addr{}, []portSpec{mustPort(t, "8080:81")})
	assert.ErrorContains(t, err, "already published by container "+shortID(c.id))
}

func mustPort(t testing.TB, s string) portSpec {
	t.Helper()
	p, err := parsePortSpec(s)
	require.NoError(t, err)
	return p
}

// A port already published is refused, and the refused container leaves
// nothing behind.
func TestDuplicatePublishRefused(t *testing.T) {
	tb := newTestbed(t)
	a := tb.attachNew(t, "8080:80")
	id := testID()
	_, err := tb.net.attach(id, newNetns(t), netip.Addr{}, []portSpec{mustPort(t, "8080:81")})
	require.ErrorContains(t, err, "-p 8080:81/tcp: host port 0.0.0.0:8080/tcp is already published by container "+shortID(a.id))
	assert.Equal(t, []string{"bx0", hostVethName(a.id)}, tb.bxLinks(t))
	l, err := tb.net.leases.read()
	require.NoError(t, err)
	assert.Equal(t, []string{a.id}, l.owners())

	// The same port twice on one command line: refused before anything.
	_, err = tb.net.attach(id, newNetns(t), netip.Addr{}, []portSpec{mustPort(t, "9090:80"), mustPort(t, "9090:81")})
	assert.ErrorContains(t, err, "publish the same host port")
	// udp 8080 is another port than tcp 8080.
	tb.attachNew(t, "8080:80/udp")
}

// A subnet that overlaps a route of the host is refused before anything
// is created.
func TestSubnetClash(t *testing.T) {
	tb := newTestbed(t)
	lo, err := tb.hostNL.LinkByName("lo")
	require.NoError(t, err)
	dst, _ := netlink.ParseIPNet("10.199.0.0/16")
	require.NoError(t, tb.hostNL.RouteAdd(&netlink.Route{LinkIndex: lo.Attrs().Index, Dst: dst}))
	_, err = tb.net.attach(testID(), newNetns(t), netip.Addr{}, nil)
	require.ErrorContains(t, err, "subnet 10.199.0.0/24 overlaps the host's route 10.199.0.0/16 (dev lo): choose another with --subnet or BOXLAB_SUBNET")
	tb.assertTornDown(t)

	// Another subnet works.
	tb.net.cfg.subnet = netip.MustParsePrefix("10.201.0.0/24")
	c := tb.attachNew(t)
	assert.Equal(t, "10.201.0.2", c.ep.IP.String())

	// A bridge and a table left from the other subnet are refused, not reused.
	tb.net.cfg.subnet = netip.MustParsePrefix("10.202.0.0/24")
	_, err = tb.net.attach(testID(), newNetns(t), netip.Addr{}, nil)
	assert.ErrorContains(t, err, "bridge bx0 exists without the gateway address 10.202.0.1/24")
	tb.net.cfg.subnet = netip.MustParsePrefix("10.201.0.0/24")
	assert.Equal(t, []string{"bx0", hostVethName(c.id)}, tb.bxLinks(t), "the refusal removed nothing of the other container")
}

// Teardown leaves nothing: no veth, no lease, no table, no bridge; detach
// is idempotent, and a container's rules go without the other's.
func TestTeardown(t *testing.T) {
	tb := newTestbed(t)
	a := tb.attachNew(t, "8080:80")
	b := tb.attachNew(t, "8081:80")
	require.NoError(t, tb.net.detach(a.id))
	ports, err := publishedPorts(tb.net.nft)
	require.NoError(t, err)
	require.Len(t, ports, 1)
	assert.Equal(t, b.id, ports[0].id)
	assert.Equal(t, []string{"bx0", hostVethName(b.id)}, tb.bxLinks(t))
	assert.True(t, tb.hasTable(t))

	require.NoError(t, tb.net.detach(b.id))
	require.NoError(t, tb.net.detach(b.id), "detach twice")
	tb.assertTornDown(t)
}

// A container whose namespace is gone (its init died) loses its veth with
// it; detach still removes the rest.
func TestTeardownAfterContainerGone(t *testing.T) {
	tb := newTestbed(t)
	// A namespace held only by a process: when it exits, the namespace goes.
	cmd := exec.Command("cat")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	ns, err := netns.GetFromPid(cmd.Process.Pid)
	require.NoError(t, err)
	id := testID()
	_, err = tb.net.attach(id, ns, netip.Addr{}, []portSpec{mustPort(t, "8080:80")})
	require.NoError(t, err)
	ns.Close()
	stdin.Close()
	require.NoError(t, cmd.Wait())
	require.NoError(t, tb.net.detach(id))
	tb.assertTornDown(t)
}

// The other half of that race: the pair is still there when detach looks
// it up, and gone (the kernel's namespace cleanup ran) when RTM_DELLINK
// arrives. The link found first and deleted behind our back stands for it:
// deleting it again is no error.
func TestDeleteLinkAlreadyGone(t *testing.T) {
	requireNetRoot(t)
	h := nlAt(t, newNetns(t))
	require.NoError(t, h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "bxgone"}, PeerName: "bxcgone"}))
	l, err := h.LinkByName("bxgone")
	require.NoError(t, err)
	require.NoError(t, h.LinkDel(l), "the kernel's part: the pair goes")
	require.NoError(t, delLink(h, l), "a link already gone counts as deleted")
	_, err = h.LinkByName("bxcgone")
	var notFound netlink.LinkNotFoundError
	require.ErrorAs(t, err, &notFound, "both ends went with the first")
}

// A failure half way through (here: the target is not a network
// namespace, so the move fails) undoes everything, the bridge and table
// included when it was the first container.
func TestFailedAttachLeavesNothing(t *testing.T) {
	tb := newTestbed(t)
	f, err := os.Open("/dev/null")
	require.NoError(t, err)
	defer f.Close()
	_, err = tb.net.attach(testID(), netns.NsHandle(f.Fd()), netip.Addr{}, []portSpec{mustPort(t, "8080:80")})
	require.ErrorContains(t, err, "netns")
	tb.assertTornDown(t)
}

// Reclaim detaches the containers a predicate says are dead.
func TestReclaim(t *testing.T) {
	tb := newTestbed(t)
	a := tb.attachNew(t, "8080:80")
	b := tb.attachNew(t, "8081:80")
	dead, err := tb.net.reclaim(func(id string) bool { return id == a.id })
	require.NoError(t, err)
	assert.Equal(t, []string{b.id}, dead)
	assert.Equal(t, []string{"bx0", hostVethName(a.id)}, tb.bxLinks(t))
	l, err := tb.net.leases.read()
	require.NoError(t, err)
	assert.Equal(t, []string{a.id}, l.owners())
	ports, err := publishedPorts(tb.net.nft)
	require.NoError(t, err)
	require.Len(t, ports, 1)
	assert.Equal(t, a.id, ports[0].id)
}

// --ip asks for an address; a taken one, the gateway, or one outside the
// subnet is refused.
func TestRequestedIP(t *testing.T) {
	tb := newTestbed(t)
	id := testID()
	ep, err := tb.net.attach(id, newNetns(t), netip.MustParseAddr("10.199.0.77"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { tb.net.detach(id) })
	assert.Equal(t, "10.199.0.77", ep.IP.String())
	for ip, msg := range map[string]string{
		"10.199.0.77":  "already leased to container " + shortID(id),
		"10.199.0.1":   "gateway",
		"10.198.0.5":   "not in the network's subnet",
		"10.199.0.255": "broadcast",
	} {
		_, err := tb.net.attach(testID(), newNetns(t), netip.MustParseAddr(ip), nil)
		assert.ErrorContains(t, err, msg, ip)
	}
	assert.Equal(t, []string{"bx0", hostVethName(id)}, tb.bxLinks(t))
}

// Containers attached at the same moment get distinct addresses, and the
// first one's bridge and table are created once.
func TestConcurrentAttach(t *testing.T) {
	tb := newTestbed(t)
	const n = 8
	cs := make([]*testCtr, n)
	for i := range cs {
		cs[i] = &testCtr{id: testID(), ns: newNetns(t)}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, c := range cs {
		wg.Go(func() { c.ep, errs[i] = tb.net.attach(c.id, c.ns, netip.Addr{}, nil) })
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for i, c := range cs {
		require.NoError(t, errs[i])
		require.False(t, seen[c.ep.IP], "address %s given twice", c.ep.IP)
		seen[c.ep.IP] = true
	}
	assert.Len(t, tb.bxLinks(t), n+1)
	for i, c := range cs {
		wg.Go(func() { errs[i] = tb.net.detach(c.id) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	tb.assertTornDown(t)
}

// The table holds what the rendering says, chain by chain: as many rules
// as rendered `nft add rule` commands, and the publish rules tagged as
// rendered. (That nft(8) reads the rendered commands and lists the same
// table is shown in "How to check your work" in README.md: the VM pass has
// no nft binary, and tests do not depend on one.)
func TestRulesMatchRendering(t *testing.T) {
	tb := newTestbed(t)
	c := tb.attachNew(t, "8080:80", uplinkHost+":5353:53/udp")
	ports, err := publishedPorts(tb.net.nft)
	require.NoError(t, err)
	require.Len(t, ports, 2)
	rendered := map[string]int{}
	for _, cmd := range strings.Split(strings.TrimSpace(renderRuleset(tb.net.cfg, ports)), "\n") {
		if f := strings.Fields(cmd); len(f) > 5 && f[0] == "nft" && f[1] == "add" && f[2] == "rule" {
			rendered[f[5]]++ // nft add rule ip boxlab CHAIN ...
		}
	}
	for _, ch := range []*nftables.Chain{postroutingChain, preroutingChain, outputChain, forwardChain} {
		rules, err := tb.net.nft.GetRules(boxlabTable(), ch)
		require.NoError(t, err)
		assert.Len(t, rules, rendered[ch.Name], "chain %s", ch.Name)
	}
	rules, err := tb.net.nft.GetRules(boxlabTable(), outputChain)
	require.NoError(t, err)
	var tags []string
	for _, r := range rules {
		tags = append(tags, ruleComment(r))
	}
	assert.Equal(t, []string{
		"boxlab publish " + c.id + " tcp 0.0.0.0:8080 " + c.ep.IP.String() + ":80",
		"boxlab publish " + c.id + " udp " + uplinkHost + ":5353 " + c.ep.IP.String() + ":53",
	}, tags)
	all := renderRuleset(tb.net.cfg, ports)
	assert.Contains(t, all, "output ip daddr "+uplinkHost+" udp dport 5353 dnat to "+c.ep.IP.String()+":53")
}

func TestInspect(t *testing.T) {
	tb := newTestbed(t)
	r, err := tb.net.inspect()
	require.NoError(t, err)
	assert.False(t, r.BridgeUp)
	assert.False(t, r.Table)
	assert.Empty(t, r.Leases)

	c := tb.attachNew(t, "8080:80")
	r, err = tb.net.inspect()
	require.NoError(t, err)
	assert.True(t, r.BridgeUp)
	assert.True(t, r.Table)
	assert.Equal(t, map[string]string{c.ep.IP.String(): c.id}, r.Leases)
	assert.Equal(t, []string{"0.0.0.0:8080/tcp -> " + c.ep.IP.String() + ":80 " + shortID(c.id)}, r.Published)
	var b strings.Builder
	printNetReport(&b, r)
	assert.Contains(t, b.String(), "iptables -t nat -A POSTROUTING -s 10.199.0.0/24 ! -o bx0 -j MASQUERADE")
	assert.Contains(t, b.String(), "-j DNAT --to-destination "+c.ep.IP.String()+":80")
}

// container:NAME: the child is born in the other container's namespace
// (it sees that container's eth0), and the thread that started it lives
// until it exits, so Pdeathsig does not kill it early.
func TestStartInNetns(t *testing.T) {
	tb := newTestbed(t)
	other := tb.attachNew(t)
	m, err := parseNetworkSpec("container:web")
	require.NoError(t, err)
	ns, err := containerNetns(m, func(name string) (int, error) {
		require.Equal(t, "web", name)
		return holdNetns(t, other.ns), nil
	})
	require.NoError(t, err)
	defer ns.Close()

	cmd := exec.Command("sh", "-c", "cat /proc/self/net/dev; readlink /proc/self/ns/net")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: m.netCloneFlags() | syscall.CLONE_NEWUTS, Pdeathsig: syscall.SIGKILL}
	var out strings.Builder
	cmd.Stdout = &out
	wait, err := startInNetns(cmd, ns)
	require.NoError(t, err)
	require.NoError(t, wait())
	assert.Contains(t, out.String(), "eth0:")
	assert.NotContains(t, out.String(), "uplink")
	assert.Contains(t, out.String(), "net:["+inode(t, other.ns)+"]")

	_, err = containerNetns(m, func(string) (int, error) { return 0, os.ErrNotExist })
	assert.ErrorContains(t, err, "--network container:web")
}

// holdNetns starts a process in ns that blocks reading a pipe, the way a
// container's init holds its namespace, and returns its pid.
func holdNetns(t testing.TB, ns netns.NsHandle) int {
	t.Helper()
	cmd := exec.Command("cat")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	wait, err := startInNetns(cmd, ns)
	require.NoError(t, err)
	t.Cleanup(func() { stdin.Close(); wait() })
	return cmd.Process.Pid
}

func inode(t testing.TB, ns netns.NsHandle) string {
	t.Helper()
	var st syscall.Stat_t
	require.NoError(t, syscall.Fstat(int(ns), &st))
	return strconv.FormatUint(st.Ino, 10)
}

// --explain narrates each step with its shell equivalent.
func TestExplainNarratesAttach(t *testing.T) {
	tb := newTestbed(t)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stderr := os.Stderr
	os.Stderr, explainOn = w, true
	id := testID()
	_, err = tb.net.attach(id, newNetns(t), netip.Addr{}, []portSpec{mustPort(t, "8080:80")})
	errDetach := tb.net.detach(id)
	os.Stderr, explainOn = stderr, false
	w.Close()
	require.NoError(t, err)
	require.NoError(t, errDetach)
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	for _, want := range []string{
		"$ ip link add bx0 address 02:62:78:c7:00:01 type bridge",
		"$ ip addr add 10.199.0.1/24 dev bx0",
		"$ sysctl -w net.ipv4.ip_forward=1",
		"$ ip link add " + hostVethName(id) + " type veth peer name " + peerVethName(id),
		"ip route add default via 10.199.0.1",
		"$ nft add rule ip boxlab postrouting ip saddr 10.199.0.0/24 oifname != bx0 masquerade",
		"iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -p tcp --dport 8080 -j DNAT --to-destination 10.199.0.2:80",
		"$ nft delete table ip boxlab",
		"$ ip link del bx0",
	} {
		assert.Contains(t, string(out), want)
	}
}
