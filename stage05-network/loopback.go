package main

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// loopbackUp brings up lo, the only interface a new network namespace has,
// and it starts down (network_namespaces(7)): without it even 127.0.0.1 is
// unreachable. The child is already in the new namespace, so the netlink
// socket it opens talks to that namespace's stack, not the host's.
func loopbackUp() error {
	explain("netlink RTM_NEWLINK: set lo up in the new network namespace", "ip link set lo up")
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}
