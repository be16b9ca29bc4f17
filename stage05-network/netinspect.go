package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
)

// `network inspect` shows the network as the kernel and the lease file
// have it: the bridge and its address, who holds which address, which
// ports are published, and the rules as nft and iptables commands.

// netReport is what `network inspect` prints.
type netReport struct {
	Bridge    string            `json:"bridge"`
	BridgeUp  bool              `json:"bridge_exists"`
	Subnet    string            `json:"subnet"`
	Gateway   string            `json:"gateway"`
	Leases    map[string]string `json:"leases"` // address -> container id
	Table     bool              `json:"table_exists"`
	Published []string          `json:"published"` // "0.0.0.0:8080/tcp -> 10.199.0.2:80 abc123def456"
	Rules     []string          `json:"rules"`     // nft commands, then the iptables equivalents
}

// inspect takes the lock for a consistent picture: no run is halfway
// through attaching or detaching while it reads.
func (n *network) inspect() (*netReport, error) {
	unlock, err := n.leases.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	r := &netReport{Bridge: n.cfg.bridge, Subnet: n.cfg.subnet.String(),
		Gateway: gatewayOf(n.cfg.subnet).String(), Leases: map[string]string{}}
	_, err = n.nl.LinkByName(n.cfg.bridge)
	var notFound netlink.LinkNotFoundError
	if err != nil && !errors.As(err, &notFound) {
		return nil, fmt.Errorf("find %s: %w", n.cfg.bridge, err)
	}
	r.BridgeUp = err == nil
	l, err := n.leases.read()
	if err != nil {
		return nil, err
	}
	for ip, id := range l {
		r.Leases[ip.String()] = id
	}
	if r.Table, err = tableExists(n.nft); err != nil {
		return nil, err
	}
	ports, err := publishedPorts(n.nft)
	if err != nil {
		return nil, err
	}
	for _, p := range ports {
		r.Published = append(r.Published, fmt.Sprintf("%s/%s -> %s %s",
			p.spec.hostAddr(), p.spec.proto, p.target(), shortID(p.id)))
	}
	if r.Table {
		r.Rules = strings.Split(strings.TrimSpace(renderRuleset(n.cfg, ports)), "\n")
	}
	return r, nil
}

// printNetReport writes the report for people.
func printNetReport(w io.Writer, r *netReport) {
	state := "absent (created by the first container)"
	if r.BridgeUp {
		state = "present"
	}
	fmt.Fprintf(w, "bridge:   %s, %s\nsubnet:   %s, gateway %s\n", r.Bridge, state, r.Subnet, r.Gateway)
	ips := make([]string, 0, len(r.Leases))
	for ip := range r.Leases {
		ips = append(ips, ip)
	}
	slices.Sort(ips)
	fmt.Fprintf(w, "leases:   %d\n", len(ips))
	for _, ip := range ips {
		fmt.Fprintf(w, "  %-15s %s\n", ip, shortID(r.Leases[ip]))
	}
	fmt.Fprintf(w, "published: %d\n", len(r.Published))
	for _, p := range r.Published {
		fmt.Fprintf(w, "  %s\n", p)
	}
	if !r.Table {
		fmt.Fprintf(w, "nftables: no table ip %s\n", nftTableName)
		return
	}
	fmt.Fprintf(w, "nftables: table ip %s, as commands:\n", nftTableName)
	for _, c := range r.Rules {
		fmt.Fprintf(w, "  %s\n", c)
	}
}
