package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Publishing a port (`-p 8080:80`) makes a connection to the host's port
// 8080 arrive at the container's port 80. Nothing listens on 8080: a DNAT
// rule rewrites the destination of the first packet, conntrack remembers
// it for the rest of the connection, and undoes it in the replies.
//
// Two hooks are needed. Packets from other machines pass prerouting;
// packets the host itself sends to one of its own addresses never do, they
// start at output. Both rules match "fib daddr type local", any address of
// the host (iptables: -m addrtype --dst-type LOCAL), unless the spec names
// one address. Each rule's comment carries the container's id and the
// mapping, so a container's rules can be found, refused as duplicates, and
// removed on their own.

// portSpec is one -p: [HOSTIP:]HOSTPORT:CONTAINERPORT[/PROTO].
type portSpec struct {
	hostIP   netip.Addr // invalid: every address of the host
	hostPort uint16
	ctrPort  uint16
	proto    string // "tcp" or "udp"
}

// parsePortSpec reads a -p value. Docker's forms without a host port
// (random port) and with ranges are refused with what to write instead.
func parsePortSpec(s string) (portSpec, error) {
	var p portSpec
	rest, proto, hasProto := strings.Cut(s, "/")
	p.proto = "tcp"
	if hasProto {
		if proto != "tcp" && proto != "udp" {
			return p, fmt.Errorf("-p %q: protocol %q: want tcp or udp", s, proto)
		}
		p.proto = proto
	}
	parts := strings.Split(rest, ":")
	switch len(parts) {
	case 2:
	case 3:
		ip, err := parseHostIP(parts[0])
		if err != nil {
			return p, fmt.Errorf("-p %q: %w", s, err)
		}
		p.hostIP, parts = ip, parts[1:]
	default:
		return p, fmt.Errorf("-p %q: want [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp], e.g. 8080:80", s)
	}
	var err1, err2 error
	p.hostPort, err1 = parsePort(parts[0], "host port")
	p.ctrPort, err2 = parsePort(parts[1], "container port")
	if err := errors.Join(err1, err2); err != nil {
		return p, fmt.Errorf("-p %q: %w", s, err)
	}
	return p, nil
}

// parsePort accepts a decimal port from 1 to 65535.
func parsePort(s, what string) (uint16, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%s %q: want a number from 1 to 65535 (ranges are not supported)", what, s)
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%s %q: out of range 1-65535", what, s)
	}
	return uint16(n), nil
}

// parseHostIP accepts an IPv4 address of the host; 0.0.0.0 (or empty)
// means all of them. Loopback is refused: a packet from 127.0.0.1
// rewritten towards the bridge is a "martian" the kernel drops, and
// forwarding it needs route_localnet and an extra masquerade, or docker's
// userland proxy, neither of which this stage has.
func parseHostIP(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is4() {
		return netip.Addr{}, fmt.Errorf("host address %q: want an IPv4 address", s)
	}
	if ip.IsUnspecified() {
		return netip.Addr{}, nil
	}
	if ip.IsLoopback() || ip.IsMulticast() {
		return netip.Addr{}, fmt.Errorf("host address %s: loopback and multicast addresses cannot be published; use one of the host's addresses", ip)
	}
	return ip, nil
}

// String is the spec as parsePortSpec reads it back.
func (p portSpec) String() string {
	s := fmt.Sprintf("%d:%d/%s", p.hostPort, p.ctrPort, p.proto)
	if p.hostIP.IsValid() {
		s = p.hostIP.String() + ":" + s
	}
	return s
}

// hostAddr is the published address:port, 0.0.0.0 for every address.
func (p portSpec) hostAddr() string {
	ip := netip.IPv4Unspecified()
	if p.hostIP.IsValid() {
		ip = p.hostIP
	}
	return netip.AddrPortFrom(ip, p.hostPort).String()
}

// conflicts says whether two specs want the same host port: same
// protocol and port, and the same address or one of them on all.
func (p portSpec) conflicts(q portSpec) bool {
	return p.proto == q.proto && p.hostPort == q.hostPort &&
		(!p.hostIP.IsValid() || !q.hostIP.IsValid() || p.hostIP == q.hostIP)
}

// checkPortSpecs refuses a command line that publishes one port twice,
// before anything is created.
func checkPortSpecs(specs []portSpec) error {
	for i, p := range specs {
		for _, q := range specs[:i] {
			if p.conflicts(q) {
				return fmt.Errorf("-p %s and -p %s publish the same host port", q, p)
			}
		}
	}
	return nil
}

// publishedPort is a spec bound to a container: the rules' content.
type publishedPort struct {
	id   string
	spec portSpec
	ctr  netip.Addr // the container's address
}

// publishComment is the rule's tag: "publish ID tcp 0.0.0.0:8080 10.199.0.2:80".
func (p publishedPort) publishComment() string {
	return fmt.Sprintf("publish %s %s %s %s", p.id, p.spec.proto, p.spec.hostAddr(), p.target())
}

func (p publishedPort) target() string { return netip.AddrPortFrom(p.ctr, p.spec.ctrPort).String() }

// parsePublishComment reads a tag back; ok is false for other comments.
func parsePublishComment(c string) (publishedPort, bool) {
	f := strings.Fields(c)
	if len(f) != 6 || f[0] != "boxlab" || f[1] != "publish" {
		return publishedPort{}, false
	}
	host, err1 := netip.ParseAddrPort(f[4])
	ctr, err2 := netip.ParseAddrPort(f[5])
	if err1 != nil || err2 != nil {
		return publishedPort{}, false
	}
	p := publishedPort{id: f[2], ctr: ctr.Addr(),
		spec: portSpec{proto: f[3], hostPort: host.Port(), ctrPort: ctr.Port()}}
	if !host.Addr().IsUnspecified() {
		p.spec.hostIP = host.Addr()
	}
	return p, true
}

// publishedPorts lists what the table publishes now, for the duplicate
// check and `network inspect`.
func publishedPorts(c *nftables.Conn) ([]publishedPort, error) {
	ok, err := tableExists(c)
	if err != nil || !ok {
		return nil, err
	}
	rules, err := c.GetRules(boxlabTable(), preroutingChain)
	if err != nil {
		return nil, fmt.Errorf("nft list chain ip %s prerouting: %w", nftTableName, err)
	}
	var out []publishedPort
	for _, r := range rules {
		if p, ok := parsePublishComment(ruleComment(r)); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// checkPortsFree refuses ports another container already published: the
// table is the record of what is published. The caller holds the network
// lock, so nobody publishes between this check and the rules going in.
func checkPortsFree(c *nftables.Conn, specs []portSpec) error {
	taken, err := publishedPorts(c)
	if err != nil {
		return err
	}
	for _, s := range specs {
		for _, t := range taken {
			if s.conflicts(t.spec) {
				return fmt.Errorf("-p %s: host port %s/%s is already published by container %s",
					s, t.spec.hostAddr(), t.spec.proto, shortID(t.id))
			}
		}
	}
	return nil
}

// addPortRules adds the container's DNAT rules, prerouting and output for
// each port, in one transaction: all of them or none.
//
// Exercise 23: Which two hooks must a published port's DNAT rule sit on,
// so that other machines and the host itself reach it, what does the rule
// match and rewrite, and how are a container's rules found again to be
// removed? See nft(8) ("fib", "dnat", "comment"), and "DNAT: publishing a
// port" in README.md.
// Graded by: TestPublishedPort, TestPublishedPortReached.
func addPortRules(c *nftables.Conn, ports []publishedPort) error {
	if len(ports) == 0 {
		return nil
	}
	for _, p := range ports {
		for _, cmd := range publishCommands(p) {
			explain("nftables: publish "+p.spec.String(), cmd)
		}
		for _, ch := range []*nftables.Chain{preroutingChain, outputChain} {
			c.AddRule(&nftables.Rule{Table: boxlabTable(), Chain: ch, Exprs: dnatExprs(p),
				UserData: comment(p.publishComment())})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nft add rules publishing %s: %w", ports[0].spec, err)
	}
	return nil
}

// dnatExprs is `fib daddr type local tcp dport 8080 dnat to 10.199.0.2:80`
// (or `ip daddr HOSTIP ...` when the spec names the address).
func dnatExprs(p publishedPort) []expr.Any {
	var match []expr.Any
	if p.spec.hostIP.IsValid() {
		match = []expr.Any{ // ip daddr: offset 16 of the IPv4 header
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.spec.hostIP.AsSlice()},
		}
	} else {
		match = []expr.Any{
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: native32(unix.RTN_LOCAL)},
		}
	}
	proto := byte(unix.IPPROTO_TCP)
	if p.spec.proto == "udp" {
		proto = unix.IPPROTO_UDP
	}
	return append(match,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		// th dport: 2 bytes at offset 2 of the TCP or UDP header
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be16(p.spec.hostPort)},
		&expr.Immediate{Register: 1, Data: p.ctr.AsSlice()},
		&expr.Immediate{Register: 2, Data: be16(p.spec.ctrPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4,
			RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
}

func be16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

// publishCommands renders one published port as nft commands and the
// iptables equivalents.
func publishCommands(p publishedPort) []string {
	match, ipt := "fib daddr type local", "-m addrtype --dst-type LOCAL"
	if p.spec.hostIP.IsValid() {
		match, ipt = "ip daddr "+p.spec.hostIP.String(), "-d "+p.spec.hostIP.String()
	}
	rule := fmt.Sprintf("%s %s dport %d dnat to %s comment '\"boxlab %s\"'",
		match, p.spec.proto, p.spec.hostPort, p.target(), p.publishComment())
	iptRule := fmt.Sprintf("%s -p %s --dport %d -j DNAT --to-destination %s",
		ipt, p.spec.proto, p.spec.hostPort, p.target())
	return []string{
		"nft add rule ip " + nftTableName + " prerouting " + rule,
		"nft add rule ip " + nftTableName + " output " + rule,
		"# iptables: iptables -t nat -A PREROUTING " + iptRule,
		"# iptables: iptables -t nat -A OUTPUT " + iptRule,
	}
}
