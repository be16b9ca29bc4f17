package main

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePortSpec(t *testing.T) {
	good := map[string]string{
		"8080:80":               "8080:80/tcp",
		"8080:80/udp":           "8080:80/udp",
		"8080:80/tcp":           "8080:80/tcp",
		"65535:1":               "65535:1/tcp",
		"192.0.2.10:8080:80":    "192.0.2.10:8080:80/tcp",
		"0.0.0.0:8080:80/udp":   "8080:80/udp",
		":8080:80":              "8080:80/tcp",
		"10.0.0.1:443:8443/tcp": "10.0.0.1:443:8443/tcp",
	}
	for in, want := range good {
		p, err := parsePortSpec(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, p.String(), in)
		}
	}
	bad := map[string]string{
		"":                   "want [HOSTIP:]HOSTPORT:CONTAINERPORT",
		"80":                 "want [HOSTIP:]HOSTPORT:CONTAINERPORT",
		"8080:80/sctp":       `protocol "sctp"`,
		"0:80":               "host port \"0\": out of range",
		"8080:65536":         "container port \"65536\": out of range",
		"99999999999:80":     "out of range",
		"8080-8081:80-81":    "ranges are not supported",
		"x:80":               "want a number",
		"+80:80":             "want a number",
		"127.0.0.1:8080:80":  "loopback",
		"::1:8080:80":        "want [HOSTIP:]",
		"[::1]:8080:80":      "want [HOSTIP:]",
		"::1:80:80":          "want [HOSTIP:]",
		"fe80::1:80":         "want [HOSTIP:]",
		"[::1]:80:80x":       "want [HOSTIP:]",
		"1.2.3:80:80":        "want an IPv4 address",
		"a.b.c.d:8080:80":    "want an IPv4 address",
		"1.2.3.4:8080:80:90": "want [HOSTIP:]",
		"8080:":              "container port \"\"",
	}
	for in, msg := range bad {
		_, err := parsePortSpec(in)
		assert.ErrorContains(t, err, msg, in)
	}
}

func TestPortConflicts(t *testing.T) {
	p := func(s string) portSpec { return mustPort(t, s) }
	assert.True(t, p("8080:80").conflicts(p("8080:81")))
	assert.True(t, p("8080:80").conflicts(p("192.0.2.1:8080:81")))
	assert.False(t, p("192.0.2.2:8080:80").conflicts(p("192.0.2.1:8080:81")))
	assert.False(t, p("8080:80/udp").conflicts(p("8080:80")))
	assert.NoError(t, checkPortSpecs([]portSpec{p("80:80"), p("81:80"), p("80:80/udp")}))
	assert.ErrorContains(t, checkPortSpecs([]portSpec{p("80:80"), p("80:81")}), "-p 80:80/tcp and -p 80:81/tcp publish the same host port")
}

func TestPublishCommentRoundTrip(t *testing.T) {
	for _, spec := range []string{"8080:80", "192.0.2.1:53:5353/udp"} {
		pp := publishedPort{id: "abc123", spec: mustPort(t, spec), ctr: netip.MustParseAddr("10.199.0.9")}
		got, ok := parsePublishComment("boxlab " + pp.publishComment())
		require.True(t, ok)
		assert.Equal(t, pp, got)
	}
	_, ok := parsePublishComment("boxlab masquerade 10.199.0.0/24")
	assert.False(t, ok)
}

func TestParseNetworkSpec(t *testing.T) {
	for in, want := range map[string]string{"": "bridge", "bridge": "bridge", "default": "bridge",
		"none": "none", "host": "host", "container:web": "container:web", "container:0123abcd": "container:0123abcd"} {
		m, err := parseNetworkSpec(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, m.String())
		}
	}
	for _, in := range []string{"nat", "container:", "container:a/b", "container:a:b", "Bridge", "hosts"} {
		_, err := parseNetworkSpec(in)
		assert.Error(t, err, in)
	}
}

func TestNetCloneFlags(t *testing.T) {
	for spec, flags := range map[string]uintptr{"bridge": syscall.CLONE_NEWNET, "none": syscall.CLONE_NEWNET, "host": 0, "container:x": 0} {
		m, _ := parseNetworkSpec(spec)
		assert.Equal(t, flags, m.netCloneFlags(), spec)
		assert.Equal(t, flags != 0, m.ownsNetns(), spec)
	}
	ports := []portSpec{mustPort(t, "80:80")}
	for _, spec := range []string{"none", "host", "container:x"} {
		m, _ := parseNetworkSpec(spec)
		assert.ErrorContains(t, m.checkBridgeFlags(ports, netip.Addr{}), "-p needs --network bridge", spec)
		assert.ErrorContains(t, m.checkBridgeFlags(nil, netip.MustParseAddr("10.199.0.9")), "--ip needs --network bridge", spec)
		assert.NoError(t, m.checkBridgeFlags(nil, netip.Addr{}))
	}
	m, _ := parseNetworkSpec("bridge")
	assert.NoError(t, m.checkBridgeFlags(ports, netip.MustParseAddr("10.199.0.9")))
}

func TestParseSubnet(t *testing.T) {
	p, err := parseSubnet("10.5.0.7/24")
	require.NoError(t, err)
	assert.Equal(t, "10.5.0.0/24", p.String())
	for _, bad := range []string{"10.5.0.0", "10.5.0.0/31", "fd00::/64", "127.0.0.0/8", "169.254.0.0/16", "nonsense", "10.0.0.0/7"} {
		_, err := parseSubnet(bad)
		assert.Error(t, err, bad)
	}
	t.Setenv(subnetEnv, "10.77.0.0/16")
	cfg, err := newNetConfig("", "/x")
	require.NoError(t, err)
	assert.Equal(t, "10.77.0.0/16", cfg.subnet.String())
	cfg, err = newNetConfig("10.78.0.0/24", "/x")
	require.NoError(t, err)
	assert.Equal(t, "10.78.0.0/24", cfg.subnet.String(), "the flag wins over the environment")
	t.Setenv(subnetEnv, "")
	cfg, err = newNetConfig("", "/x")
	require.NoError(t, err)
	assert.Equal(t, defaultSubnet, cfg.subnet)
}

func TestLeases(t *testing.T) {
	s := newLeaseStore(t.TempDir())
	sub := netip.MustParsePrefix("10.9.0.0/29") // .2 .. .6
	var got []string
	for i := range 5 {
		ip, err := s.allocateIP("c"+string(rune('a'+i)), sub, netip.Addr{})
		require.NoError(t, err)
		got = append(got, ip.String())
	}
	assert.Equal(t, []string{"10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"}, got)
	_, err := s.allocateIP("cz", sub, netip.Addr{})
	assert.ErrorContains(t, err, "no free address left")

	// The file is what `lab reset` reads: {"ip": "id"}.
	var onDisk map[string]string
	data, err := os.ReadFile(s.file())
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &onDisk))
	assert.Equal(t, "cc", onDisk["10.9.0.4"])

	require.NoError(t, s.releaseIP("cc"))
	ip, err := s.allocateIP("cy", sub, netip.Addr{})
	require.NoError(t, err)
	assert.Equal(t, "10.9.0.4", ip.String(), "a released address is given again")

	dead, err := s.reclaimLeases(func(id string) bool { return id == "ca" })
	require.NoError(t, err)
	assert.Equal(t, []string{"cb", "cd", "ce", "cy"}, dead)
	require.NoError(t, s.releaseIP("ca"))
	_, err = os.Stat(s.file())
	assert.ErrorIs(t, err, os.ErrNotExist, "no leases, no file")
}

func TestLeasesCorruptFile(t *testing.T) {
	s := newLeaseStore(t.TempDir())
	require.NoError(t, os.MkdirAll(s.dir, 0o755))
	require.NoError(t, os.WriteFile(s.file(), []byte("{not json"), 0o644))
	_, err := s.allocateIP("a", defaultSubnet, netip.Addr{})
	assert.ErrorContains(t, err, "leases.json")
}

// 20 goroutines allocating at once get 20 addresses.
func TestLeasesConcurrent(t *testing.T) {
	s := newLeaseStore(t.TempDir())
	ips := make([]netip.Addr, 20)
	errs := make([]error, 20)
	var wg sync.WaitGroup
	for i := range ips {
		wg.Go(func() { ips[i], errs[i] = s.allocateIP(testID(), defaultSubnet, netip.Addr{}) })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	assertDistinct(t, ips)
	l, err := s.read()
	require.NoError(t, err)
	assert.Len(t, l, 20)
}

func assertDistinct(t *testing.T, ips []netip.Addr) {
	t.Helper()
	seen := map[netip.Addr]bool{}
	for _, ip := range ips {
		require.False(t, seen[ip], "%s given twice", ip)
		seen[ip] = true
	}
}

// ipamHelperEnv makes the test binary a lease-taking helper process.
const ipamHelperEnv = "BOXLAB_TEST_IPAM_HELPER"

// The helper runs before TestMain (stage02_test.go's labtest.Main), which
// would build the stage binary first.
func init() { ipamHelperMain() }

// ipamHelperMain is the helper process of TestLeasesAcrossProcesses: with
// the variable set, it takes 10 leases, prints them, and exits.
func ipamHelperMain() bool {
	dir := os.Getenv(ipamHelperEnv)
	if dir == "" {
		return false
	}
	s := newLeaseStore(dir)
	for range 10 {
		ip, err := s.allocateIP(testID(), defaultSubnet, netip.Addr{})
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString(ip.String() + "\n")
	}
	os.Exit(0)
	return true
}

// Processes allocating at once (flock between processes) get distinct
// addresses too.
func TestLeasesAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	cmds := make([]*exec.Cmd, 5)
	outs := make([]strings.Builder, 5)
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^$")
		cmds[i].Env = append(os.Environ(), ipamHelperEnv+"="+dir)
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		require.NoError(t, cmds[i].Start())
	}
	var ips []netip.Addr
	for i, c := range cmds {
		require.NoError(t, c.Wait(), outs[i].String())
		for _, line := range strings.Fields(outs[i].String()) {
			ips = append(ips, netip.MustParseAddr(line))
		}
	}
	require.Len(t, ips, 50)
	assertDistinct(t, ips)
	l, err := newLeaseStore(dir).read()
	require.NoError(t, err)
	assert.Len(t, l, 50)
}

func TestResolvConf(t *testing.T) {
	files := map[string]string{}
	read := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	bridge, _ := parseNetworkSpec("bridge")
	host, _ := parseNetworkSpec("host")

	files["/etc/resolv.conf"] = "nameserver 127.0.0.53\nsearch lan\n"
	files["/run/systemd/resolve/resolv.conf"] = "nameserver 10.0.0.53\nsearch lan\n"
	assert.Contains(t, string(containerResolvConf(bridge, read)), "nameserver 10.0.0.53")
	assert.Equal(t, files["/etc/resolv.conf"], string(containerResolvConf(host, read)))

	delete(files, "/run/systemd/resolve/resolv.conf")
	got := string(containerResolvConf(bridge, read))
	assert.Contains(t, got, "nameserver 8.8.8.8")
	assert.NotContains(t, got, "127.0.0.53")

	files["/etc/resolv.conf"] = "nameserver 192.0.2.53\n"
	assert.Contains(t, string(containerResolvConf(bridge, read)), "nameserver 192.0.2.53")
}

func TestExplainCommands(t *testing.T) {
	cfg := netConfig{bridge: "bx0", subnet: defaultSubnet}
	all := strings.Join(natCommands(cfg), "\n")
	assert.Contains(t, all, "iptables -t nat -A POSTROUTING -s 10.199.0.0/24 ! -o bx0 -j MASQUERADE")
	assert.Contains(t, all, "nft add rule ip boxlab postrouting ip saddr 10.199.0.0/24 oifname != bx0 masquerade")
	pp := publishedPort{id: "abc", spec: mustPort(t, "8080:80"), ctr: netip.MustParseAddr("10.199.0.2")}
	cmds := strings.Join(publishCommands(pp), "\n")
	assert.Contains(t, cmds, "iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -p tcp --dport 8080 -j DNAT --to-destination 10.199.0.2:80")
	assert.Contains(t, cmds, "nft add rule ip boxlab output fib daddr type local tcp dport 8080 dnat to 10.199.0.2:80")
}

func TestVethNames(t *testing.T) {
	id := strings.Repeat("0123456789abcdef", 4)
	assert.Equal(t, "bx0123456789ab", hostVethName(id))
	assert.LessOrEqual(t, len(peerVethName(id)), 15, "IFNAMSIZ")
	assert.NoError(t, checkNetID(id))
	assert.Error(t, checkNetID("ABC"))
	assert.Error(t, checkNetID("a b"))
	assert.Error(t, checkNetID(""))
}

func FuzzParsePortSpec(f *testing.F) {
	for _, s := range []string{"8080:80", "8080:80/udp", "1.2.3.4:1:2/tcp", "0:0", ":1:1", "127.0.0.1:80:80", "a:b:c:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePortSpec(s)
		if err != nil {
			return
		}
		if p.hostPort == 0 || p.ctrPort == 0 || (p.proto != "tcp" && p.proto != "udp") {
			t.Fatalf("%q accepted as %+v", s, p)
		}
		again, err := parsePortSpec(p.String())
		if err != nil || again != p {
			t.Fatalf("%q -> %q does not read back: %+v %v", s, p.String(), again, err)
		}
		pp := publishedPort{id: "abc", spec: p, ctr: netip.MustParseAddr("10.199.0.2")}
		if back, ok := parsePublishComment("boxlab " + pp.publishComment()); !ok || back != pp {
			t.Fatalf("comment of %q does not read back", s)
		}
	})
}

func FuzzParseNetworkSpec(f *testing.F) {
	for _, s := range []string{"bridge", "none", "host", "container:web", "container:", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseNetworkSpec(s)
		if err != nil {
			return
		}
		again, err := parseNetworkSpec(m.String())
		if err != nil || again != m {
			t.Fatalf("%q -> %q does not read back", s, m.String())
		}
		if m.kind == netContainer && (m.container == "" || strings.ContainsAny(m.container, "/:")) {
			t.Fatalf("%q: bad container name accepted", s)
		}
	})
}

func FuzzParseSubnet(f *testing.F) {
	for _, s := range []string{"10.199.0.0/24", "172.29.0.0/16", "1.2.3.4/30", "::/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseSubnet(s)
		if err != nil {
			return
		}
		if !p.Addr().Is4() || p != p.Masked() || !isHostAddr(p, gatewayOf(p).Next()) {
			t.Fatalf("%q accepted as %s", s, p)
		}
	})
}
