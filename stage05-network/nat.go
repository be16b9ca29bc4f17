package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// All of boxlab's firewall rules live in one nftables table, "ip boxlab"
// (nft(8)), so that they are easy to see (`nft list table ip boxlab`),
// easy to remove (deleting the table removes its chains and rules), and
// never mixed with the host's own rules. Everything is sent over netlink
// in batches: nftables.Conn queues messages and Flush sends them as one
// transaction that the kernel applies entirely or not at all.
//
// Chains (hooks are where the kernel calls them on a packet's way):
//
//	postrouting  nat hook postrouting: MASQUERADE what the containers send out
//	prerouting   nat hook prerouting:  DNAT of published ports, from outside
//	output       nat hook output:      DNAT of published ports, from the host itself
//	forward      filter hook forward:  allow the bridge's traffic
//
// A caveat the forward chain cannot fix: every table's chains on a hook
// see the packet, and a drop in any of them is final. If the host has
// another table whose forward chain drops (docker sets iptables' FORWARD
// policy to DROP), our accept does not override it; such a host needs an
// accept for bx0 in that table too.

// nftTableName is the table's name, the lab's name (`lab reset` finds it).
const nftTableName = "boxlab"

func boxlabTable() *nftables.Table {
	return &nftables.Table{Name: nftTableName, Family: nftables.TableFamilyIPv4}
}

// The chains of the table; a rule needs the chain's table and name only.
func natChain(name string, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: boxlabTable(), Type: nftables.ChainTypeNAT, Hooknum: hook, Priority: prio}
}

var (
	postroutingChain = natChain("postrouting", nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
	preroutingChain  = natChain("prerouting", nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest)
	outputChain      = natChain("output", nftables.ChainHookOutput, nftables.ChainPriorityNATDest)
	forwardChain     = &nftables.Chain{Name: "forward", Table: boxlabTable(), Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: ptr(nftables.ChainPolicyAccept)}
)

func ptr[T any](v T) *T { return &v }

// tableExists asks the kernel whether the table is there.
func tableExists(c *nftables.Conn) (bool, error) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false, fmt.Errorf("nft list tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == nftTableName {
			return true, nil
		}
	}
	return false, nil
}

// ensureTable creates the table, its chains, the masquerade rule and the
// forward rules in one transaction, unless the table exists. The caller
// holds the network lock, so no other run is creating or deleting it.
//
// Exercise 22: Which table, chains (type, hook, priority) and rules let the
// containers' packets out with the host's address as their source, and
// forward them, and why must it all go to the kernel in one batch? See
// nft(8) ("CHAINS", "masquerade"), and "SNAT and MASQUERADE: getting out" in
// README.md.
// Graded by: TestNATOut, TestNATToOutside.
func ensureTable(c *nftables.Conn, cfg netConfig) error {
	ok, err := tableExists(c)
	if err != nil {
		return err
	}
	if ok {
		return checkTableSubnet(c, cfg)
	}
	for _, cmd := range natCommands(cfg) {
		explain("nftables: set up boxlab's table (one netlink batch)", cmd)
	}
	c.AddTable(boxlabTable())
	for _, ch := range []*nftables.Chain{postroutingChain, preroutingChain, outputChain, forwardChain} {
		c.AddChain(ch)
	}
	c.AddRule(&nftables.Rule{Table: boxlabTable(), Chain: postroutingChain, Exprs: masqueradeExprs(cfg),
		UserData: comment("masquerade " + cfg.subnet.String())})
	for _, exprs := range forwardRules(cfg.bridge) {
		c.AddRule(&nftables.Rule{Table: boxlabTable(), Chain: forwardChain, Exprs: exprs})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nft add table ip %s (and its chains and rules): %w", nftTableName, err)
	}
	return nil
}

// checkTableSubnet refuses a table left masquerading another subnet (a
// run with another --subnet, killed before its cleanup): its rules would
// not match this network's containers.
func checkTableSubnet(c *nftables.Conn, cfg netConfig) error {
	rules, err := c.GetRules(boxlabTable(), postroutingChain)
	if err != nil {
		return fmt.Errorf("nft list chain ip %s postrouting: %w", nftTableName, err)
	}
	want := "boxlab masquerade " + cfg.subnet.String()
	for _, r := range rules {
		if ruleComment(r) == want {
			return nil
		}
	}
	return fmt.Errorf("table ip %s exists without the masquerade rule for %s (another --subnet?): stop its containers or run 'sudo ./lab.sh reset'", nftTableName, cfg.subnet)
}

// deleteTable removes the table with everything in it; gone is fine.
func deleteTable(c *nftables.Conn) error {
	ok, err := tableExists(c)
	if err != nil || !ok {
		return err
	}
	explain("nftables: the last container left, delete boxlab's table with its chains and rules",
		"nft delete table ip "+nftTableName)
	c.DelTable(boxlabTable())
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("nft delete table ip %s: %w", nftTableName, err)
	}
	return nil
}

// masqueradeExprs is `ip saddr SUBNET oifname != BRIDGE masquerade`: a
// packet from a container leaving through any link but the bridge leaves
// with the address of that link as its source. Replies come back to the
// host, and conntrack turns them back towards the container. Traffic
// between containers stays on the bridge and keeps its source.
func masqueradeExprs(cfg netConfig) []expr.Any {
	return []expr.Any{
		// ip saddr: 4 bytes at offset 12 of the IPv4 header
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: maskBytes(cfg.subnet.Bits()), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: cfg.subnet.Addr().AsSlice()},
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname(cfg.bridge)},
		&expr.Masq{},
	}
}

// forwardRules let the bridge's traffic through the forward hook:
// everything the containers send, and towards them the replies and the
// connections a DNAT (a published port) sent their way. The chain's policy
// is accept, so with no other table these only document what is needed;
// they matter on a host whose own policy would drop (see above).
func forwardRules(bridge string) [][]expr.Any {
	accept := &expr.Verdict{Kind: expr.VerdictAccept}
	return [][]expr.Any{
		{ // iifname BRIDGE accept
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(bridge)},
			accept,
		},
		{ // oifname BRIDGE ct state established,related accept
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(bridge)},
			&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: native32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
			accept,
		},
		{ // oifname BRIDGE ct status dnat accept
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(bridge)},
			&expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: native32(ipsDstNAT), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
			accept,
		},
	}
}

// ipsDstNAT is IPS_DST_NAT of linux/netfilter/nf_conntrack_common.h.
const ipsDstNAT = 1 << 5

// ifname is an interface name as meta iifname/oifname compare it: the
// name and its terminating NUL.
func ifname(name string) []byte { return append([]byte(name), 0) }

func native32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func maskBytes(bits int) []byte {
	return binary.BigEndian.AppendUint32(nil, ^uint32(0)<<(32-bits))
}

// comment is a rule's user data as nft(8) writes a comment, so that
// `nft list table ip boxlab` shows it: `comment "boxlab <id> ..."`.
func comment(text string) []byte {
	return userdata.AppendString(nil, userdata.TypeComment, "boxlab "+text)
}

// ruleComment reads that comment back ("" when there is none).
func ruleComment(r *nftables.Rule) string {
	s, _ := userdata.GetString(r.UserData, userdata.TypeComment)
	return s
}

// containerRules lists the rules of the table tagged with a container id,
// in the chains that hold per-container rules.
func containerRules(c *nftables.Conn, match func(id string) bool) ([]*nftables.Rule, error) {
	var out []*nftables.Rule
	for _, ch := range []*nftables.Chain{preroutingChain, outputChain} {
		rules, err := c.GetRules(boxlabTable(), ch)
		if err != nil {
			return nil, fmt.Errorf("nft list chain ip %s %s: %w", nftTableName, ch.Name, err)
		}
		for _, r := range rules {
			if tag, ok := parsePublishComment(ruleComment(r)); ok && match(tag.id) {
				r.Chain = ch
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// removeContainerRules deletes every rule tagged with id in one
// transaction; a missing table means there is nothing to delete.
func removeContainerRules(c *nftables.Conn, id string) error {
	ok, err := tableExists(c)
	if err != nil || !ok {
		return err
	}
	rules, err := containerRules(c, func(owner string) bool { return owner == id })
	if err != nil || len(rules) == 0 {
		return err
	}
	for _, r := range rules {
		explain("nftables: delete the container's rule", fmt.Sprintf("nft delete rule ip %s %s handle %d", nftTableName, r.Chain.Name, r.Handle))
		if err := c.DelRule(r); err != nil {
			return fmt.Errorf("nft delete rule ip %s %s handle %d: %w", nftTableName, r.Chain.Name, r.Handle, err)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nft delete rules of container %s: %w", shortID(id), err)
	}
	return nil
}

// enableForwarding turns on IPv4 forwarding in the namespace ns: without
// it the host drops what the containers send beyond the bridge. The
// setting belongs to the network namespace (a test's throwaway "host" has
// its own), and /proc/sys/net shows the namespace of the thread that opens
// it, so the write happens on a thread inside ns. It stays on after the
// last container, as docker leaves it: other software may rely on it.
func enableForwarding(ns netns.NsHandle) error {
	explain("sysctl: forward IPv4 packets between interfaces", "sysctl -w net.ipv4.ip_forward=1")
	return inNetns(ns, func() error {
		const path = "/proc/sys/net/ipv4/ip_forward"
		if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	})
}

// natCommands renders the table setup as nft commands and, after them, the
// iptables rules an older tutorial would show for the same, for --explain
// and `network inspect`.
func natCommands(cfg netConfig) []string {
	t, br, sub := "ip "+nftTableName, cfg.bridge, cfg.subnet.String()
	return []string{
		"nft add table " + t,
		"nft 'add chain " + t + " postrouting { type nat hook postrouting priority srcnat; }'",
		"nft 'add chain " + t + " prerouting { type nat hook prerouting priority dstnat; }'",
		"nft 'add chain " + t + " output { type nat hook output priority -100; }'",
		"nft 'add chain " + t + " forward { type filter hook forward priority filter; policy accept; }'",
		"nft add rule " + t + " postrouting ip saddr " + sub + " oifname != " + br + " masquerade",
		"nft add rule " + t + " forward iifname " + br + " accept",
		"nft add rule " + t + " forward oifname " + br + " ct state established,related accept",
		"nft add rule " + t + " forward oifname " + br + " ct status dnat accept",
		"# iptables: iptables -t nat -A POSTROUTING -s " + sub + " ! -o " + br + " -j MASQUERADE",
		"# iptables: iptables -A FORWARD -i " + br + " -j ACCEPT",
		"# iptables: iptables -A FORWARD -o " + br + " -m conntrack --ctstate ESTABLISHED,RELATED,DNAT -j ACCEPT",
	}
}

// renderRuleset is natCommands and the publish commands of every lease's
// container: what `network inspect --explain` prints.
func renderRuleset(cfg netConfig, ports []publishedPort) string {
	lines := natCommands(cfg)
	for _, p := range ports {
		lines = append(lines, publishCommands(p)...)
	}
	return strings.Join(lines, "\n") + "\n"
}
