package main

// The network test bed. Everything happens inside network namespaces the
// test creates: a throwaway "host" (where the bridge, the table and the
// sysctl go), an "outside" joined to it by a veth pair on TEST-NET-2
// (198.51.100.0/30, RFC 5737), and one namespace per "container". No packet
// is ever addressed outside them, and the real host's namespace is never
// changed: the leftover checks below look at it after every test.

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"boxlab/lab/labtest"
	"github.com/google/nftables"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const (
	uplinkHost    = "198.51.100.1" // the throwaway host's address towards outside
	uplinkOutside = "198.51.100.2" // the outside world
	testSubnet    = "10.199.0.0/24"
)

func init() {
	// The real host's namespace must show no bx link, no boxlab table and
	// no change of ip_forward after any test; nor may the outer namespace
	// the whole test binary runs in (netwrap_test.go), where the earlier
	// stages' tests run the binary in its default bridge mode, keep a bx
	// link, a table or a lease.
	labtest.AddLeftoverCheck("link (real host)", func() []string { return bxLinksIn(realHostNs()) })
	labtest.AddLeftoverCheck("nftables table (real host)", func() []string { return tablesIn(realHostNs()) })
	labtest.AddLeftoverCheck("sysctl (real host)", realHostForwarding)
	labtest.AddLeftoverCheck("link (test namespace)", func() []string { return bxLinksIn(ownNs()) })
	labtest.AddLeftoverCheck("nftables table (test namespace)", func() []string { return tablesIn(ownNs()) })
	labtest.AddLeftoverCheck("lease", defaultLeases)
}

// realHostNs is the real host's network namespace: the one the test
// binary was started in (netwrap_test.go moves it out of it).
func realHostNs() netns.NsHandle {
	path := os.Getenv(realNetnsEnv)
	if path == "" {
		return ownNs()
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		panic(err)
	}
	return ns
}

// ownNs is the namespace the test process runs in (its main thread's).
func ownNs() netns.NsHandle {
	ns, err := netns.GetFromPid(os.Getpid())
	if err != nil {
		panic(err)
	}
	return ns
}

// bxLinksIn lists the bx links of ns, and closes ns.
func bxLinksIn(ns netns.NsHandle) []string {
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return []string{"cannot list: " + err.Error()}
	}
	defer h.Close()
	links, _ := h.LinkList()
	var out []string
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, "bx") {
			out = append(out, l.Attrs().Name)
		}
	}
	return out
}

// tablesIn lists the boxlab tables of ns, and closes ns.
func tablesIn(ns netns.NsHandle) []string {
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		return []string{"cannot list: " + err.Error()}
	}
	tables, _ := c.ListTables()
	var out []string
	for _, t := range tables {
		if t.Name == nftTableName {
			out = append(out, t.Name)
		}
	}
	return out
}

// realHostForwarding reads ip_forward on a thread in the real host's
// namespace: /proc/sys/net shows the namespace of the thread that opens it.
func realHostForwarding() []string {
	ns := realHostNs()
	defer ns.Close()
	var b []byte
	err := inNetns(ns, func() (err error) {
		b, err = os.ReadFile("/proc/sys/net/ipv4/ip_forward")
		return err
	})
	if err != nil {
		return []string{"cannot read: " + err.Error()}
	}
	return []string{"net.ipv4.ip_forward=" + strings.TrimSpace(string(b))}
}

// defaultLeases lists the leases of the default state directory, where
// the earlier stages' tests that set no $BOXLAB_STATE_DIR lease addresses.
func defaultLeases() []string {
	l, err := newLeaseStore(defaultStateDir).read()
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for ip, id := range l {
		out = append(out, ip.String()+" "+id)
	}
	return out
}

func requireNetRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, veth and nftables")
	}
	labtest.CheckLeftovers(t)
}

// newNetns makes a throwaway network namespace. netns.New unshares on the
// calling thread, so it runs on a locked thread that then dies with its
// goroutine; the handle (an fd) keeps the namespace alive until Cleanup.
func newNetns(t testing.TB) netns.NsHandle {
	t.Helper()
	type result struct {
		ns  netns.NsHandle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: this thread is in the new namespace
		ns, err := netns.New()
		ch <- result{ns, err}
	}()
	r := <-ch
	require.NoError(t, r.err, "new network namespace")
	t.Cleanup(func() { r.ns.Close() })
	return r.ns
}

func nlAt(t testing.TB, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	require.NoError(t, err)
	t.Cleanup(h.Close)
	return h
}

// testbed is a "host" namespace with boxlab's network opened on it and an
// "outside" namespace behind its uplink. The host is labtest's NetworkHost:
// tb.cmd runs the stage binary in it, with the testbed's state directory.
type testbed struct {
	t             testing.TB
	nh            *labtest.NetHost
	host, outside netns.NsHandle
	hostNL        *netlink.Handle
	net           *network
	stateDir      string
}

func newTestbed(t testing.TB) *testbed {
	t.Helper()
	requireNetRoot(t)
	nh := labtest.NetworkHost(t)
	tb := &testbed{t: t, nh: nh, host: netns.NsHandle(nh.Fd()), outside: newNetns(t), stateDir: t.TempDir()}
	tb.hostNL = nlAt(t, tb.host)
	// Registered before anything is attached, so it runs after every
	// detach of the test: the throwaway host must end as it began.
	t.Cleanup(tb.checkInside)
	outNL := nlAt(t, tb.outside)
	// Made on the host and then moved, so that the two ends have different
	// ifindexes: the kernel handles a veth's carrier change at once only
	// then (linkwatch_urgent_event), else up to a second later.
	require.NoError(t, tb.hostNL.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "uplink"}, PeerName: "uplink-peer"}))
	peer, err := tb.hostNL.LinkByName("uplink-peer")
	require.NoError(t, err)
	require.NoError(t, tb.hostNL.LinkSetNsFd(peer, int(tb.outside)))
	peer, err = outNL.LinkByName("uplink-peer")
	require.NoError(t, err)
	require.NoError(t, outNL.LinkSetName(peer, "eth0"))
	upWithAddr(t, tb.hostNL, "uplink", uplinkHost+"/30")
	upWithAddr(t, outNL, "eth0", uplinkOutside+"/30")
	// As attach does for the containers: the first packets would be lost.
	require.NoError(t, waitOperUp(tb.host, "uplink"))
	require.NoError(t, waitOperUp(tb.outside, "eth0"))
	cfg := netConfig{bridge: defaultBridge, subnet: netip.MustParsePrefix(testSubnet), stateDir: tb.stateDir}
	n, err := openNetwork(cfg, tb.host)
	require.NoError(t, err)
	t.Cleanup(n.close)
	tb.net = n
	return tb
}

func upWithAddr(t testing.TB, h *netlink.Handle, name, cidr string) {
	t.Helper()
	l, err := h.LinkByName(name)
	require.NoError(t, err)
	a, err := netlink.ParseAddr(cidr)
	require.NoError(t, err)
	require.NoError(t, h.AddrAdd(l, a))
	require.NoError(t, h.LinkSetUp(l))
	require.NoError(t, loUp(h))
}

// testCtr is a test container: a namespace and the id it is attached as.
type testCtr struct {
	id string
	ns netns.NsHandle
	ep *endpoint
}

func testID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// attachNew makes a container namespace and attaches it.
func (tb *testbed) attachNew(t testing.TB, ports ...string) *testCtr {
	t.Helper()
	c := &testCtr{id: testID(), ns: newNetns(t)}
	var specs []portSpec
	for _, p := range ports {
		s, err := parsePortSpec(p)
		require.NoError(t, err)
		specs = append(specs, s)
	}
	ep, err := tb.net.attach(c.id, c.ns, netip.Addr{}, specs)
	require.NoError(t, err)
	c.ep = ep
	t.Cleanup(func() { _ = tb.net.detach(c.id) })
	return c
}

// serve listens on addr inside ns and answers every TCP connection with
// one line: the peer's address as this end sees it. The socket belongs to
// the namespace of the thread that created it; after that any goroutine
// may use it.
func serve(t testing.TB, ns netns.NsHandle, addr string) {
	t.Helper()
	var l net.Listener
	require.NoError(t, inNetns(ns, func() (err error) {
		l, err = net.Listen("tcp4", addr)
		return err
	}))
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "peer=%s\n", c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
}

// dial connects from inside ns and returns the peer address the server
// reported. The timeout only keeps a broken network from hanging the test.
func dial(ns netns.NsHandle, addr string) (string, error) {
	var line string
	err := inNetns(ns, func() error {
		c, err := net.DialTimeout("tcp4", addr, 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		line, err = bufio.NewReader(c).ReadString('\n')
		return err
	})
	return strings.TrimSpace(strings.TrimPrefix(line, "peer=")), err
}

// serveUDP answers each datagram on addr inside ns with the sender's address.
func serveUDP(t testing.TB, ns netns.NsHandle, addr string) {
	t.Helper()
	var pc net.PacketConn
	require.NoError(t, inNetns(ns, func() (err error) {
		pc, err = net.ListenPacket("udp4", addr)
		return err
	}))
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(from.(*net.UDPAddr).IP.String()), from)
		}
	}()
}

func dialUDP(ns netns.NsHandle, addr string) (string, error) {
	var got string
	err := inNetns(ns, func() error {
		c, err := net.Dial("udp4", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		got = string(buf[:n])
		return err
	})
	return got, err
}

// hostLinks lists the links of the throwaway host whose names start with bx.
func (tb *testbed) bxLinks(t testing.TB) []string {
	t.Helper()
	links, err := tb.hostNL.LinkList()
	require.NoError(t, err)
	var out []string
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, "bx") {
			out = append(out, l.Attrs().Name)
		}
	}
	slices.Sort(out)
	return out
}

func (tb *testbed) hasTable(t testing.TB) bool {
	t.Helper()
	ok, err := tableExists(tb.net.nft)
	require.NoError(t, err)
	return ok
}

// checkInside is the leftover check of the throwaway host: no bx link, no
// boxlab table, no lease file once the test's cleanups have run.
func (tb *testbed) checkInside() {
	t := tb.t
	for _, l := range tb.bxLinks(t) {
		t.Errorf("left behind in the throwaway host: link %s", l)
	}
	if tb.hasTable(t) {
		t.Errorf("left behind in the throwaway host: nftables table ip %s", nftTableName)
	}
	if _, err := os.Stat(tb.net.leases.file()); err == nil {
		data, _ := os.ReadFile(tb.net.leases.file())
		t.Errorf("left behind: leases %s", data)
	}
}

// assertTornDown checks the end state: no bx link, no lease file, no table.
func (tb *testbed) assertTornDown(t testing.TB) {
	t.Helper()
	require.Empty(t, tb.bxLinks(t), "links left in the host namespace")
	_, err := os.Stat(tb.net.leases.file())
	require.ErrorIs(t, err, os.ErrNotExist, "lease file left")
	require.False(t, tb.hasTable(t), "table ip boxlab left")
}
