package main

// The whole test binary runs in a network namespace of its own. The tests
// carried forward from the earlier stages run the stage binary as they
// always did, and its default is now --network bridge: left in the real
// host's namespace, each of those runs would add a bridge, a veth pair and
// an nftables table to the real host for the length of a test. So, before
// any test (and before labtest.Main builds the binary), the test binary
// re-executes itself as a child in a new network namespace (clone(2)
// CLONE_NEWNET, next to stage04's new mount namespace), passes the real
// host's namespace on by path for the leftover checks, and leaves with
// the child's exit code. Everything any test starts is born in that
// namespace or in the ones the tests make.

import (
	"fmt"
	"os"
	"syscall"

	"github.com/vishvananda/netlink"
)

// realNetnsEnv, in the re-executed test binary, names the real host's
// network namespace: /proc/PID/ns/net of the waiting parent.
const realNetnsEnv = "BOXLAB_TEST_REAL_NETNS"

// The re-exec is stage04's (mountwrap_test.go), which already puts the
// test binary in a mount namespace of its own: this adds the network.
var _ = addTestNamespace(syscall.CLONE_NEWNET,
	fmt.Sprintf("%s=/proc/%d/ns/net", realNetnsEnv, os.Getpid()), inTestNamespace)

// inTestNamespace brings up lo in the test binary's namespace, as a host has.
func inTestNamespace() error {
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	return nil
}
