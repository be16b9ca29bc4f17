package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// network puts the pieces together for bridge mode: the lease, the bridge,
// forwarding and the table, the veth pair, the published ports, and their
// removal. It works on the network namespace it was opened on: the stage
// opens the runtime's own (the host's), a test a throwaway "host" of its
// own, through the same code.

// network is one "host" namespace's boxlab network.
type network struct {
	cfg    netConfig
	ns     netns.NsHandle  // the namespace the bridge lives in
	nl     *netlink.Handle // rtnetlink, in ns
	nft    *nftables.Conn  // nf_tables netlink, in ns
	leases *leaseStore
}

// openNetwork binds to the namespace ns; the caller keeps ns open while
// the network is in use and closes both.
func openNetwork(cfg netConfig, ns netns.NsHandle) (*network, error) {
	// Only rtnetlink: with no family named, the handle opens an xfrm
	// (IPsec) socket too, which a kernel without xfrm_user refuses.
	nl, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	nft, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		nl.Close()
		return nil, fmt.Errorf("nftables netlink socket: %w", err)
	}
	return &network{cfg: cfg, ns: ns, nl: nl, nft: nft, leases: newLeaseStore(cfg.stateDir)}, nil
}

// openHostNetwork is what the stage uses: the runtime's own namespace,
// taken from the process (/proc/PID/ns/net is the main thread's) rather
// than from whichever thread runs this.
func openHostNetwork(cfg netConfig) (*network, func(), error) {
	ns, err := netns.GetFromPid(os.Getpid())
	if err != nil {
		return nil, nil, fmt.Errorf("open /proc/self/ns/net: %w", err)
	}
	n, err := openNetwork(cfg, ns)
	if err != nil {
		ns.Close()
		return nil, nil, err
	}
	return n, func() { n.close(); ns.Close() }, nil
}

func (n *network) close() { n.nl.Close() }

// endpoint is what a container got: docker inspect's NetworkSettings.
type endpoint struct {
	ID       string
	IP       netip.Addr
	Gateway  netip.Addr
	Subnet   netip.Prefix
	HostLink string // the veth's host end
	Ports    []portSpec
}

// attach wires the container whose network namespace is target (the
// stage: netns.GetFromPid of the child waiting at the handshake) to the
// bridge. Everything is checked before anything is created; on failure
// what was created is removed again. All of it happens under the network
// lock: the lease, the first container's bridge and table, the duplicate
// check of published ports.
func (n *network) attach(id string, target netns.NsHandle, want netip.Addr, ports []portSpec) (ep *endpoint, err error) {
	if err := checkNetID(id); err != nil {
		return nil, err
	}
	if err := checkPortSpecs(ports); err != nil {
		return nil, err
	}
	unlock, err := n.leases.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := checkSubnetClash(n.nl, n.cfg); err != nil {
		return nil, err
	}
	if err := checkPortsFree(n.nft, ports); err != nil {
		return nil, err
	}
	if err := checkVethFree(n.nl, id); err != nil {
		return nil, err
	}
	ip, err := n.lease(id, want)
	if err != nil {
		return nil, err
	}
	// From here on, a failure undoes everything of this container, and the
	// bridge and the table if it was to be the first.
	defer func() {
		if err != nil {
			err = errors.Join(err, n.detachLocked(id))
			ep = nil
		}
	}()
	if err := n.wire(id, target, ip, ports); err != nil {
		return nil, err
	}
	return &endpoint{ID: id, IP: ip, Gateway: gatewayOf(n.cfg.subnet), Subnet: n.cfg.subnet,
		HostLink: hostVethName(id), Ports: ports}, nil
}

// lease allocates the address and saves it; the caller holds the lock.
func (n *network) lease(id string, want netip.Addr) (netip.Addr, error) {
	l, err := n.leases.read()
	if err != nil {
		return netip.Addr{}, err
	}
	ip, err := l.allocate(id, n.cfg.subnet, want)
	if err != nil {
		return netip.Addr{}, err
	}
	explain(fmt.Sprintf("IPAM: lease %s to the container in %s", ip, n.leases.file()), "")
	return ip, n.leases.write(l)
}

// wire creates the shared pieces if needed, then the container's own.
func (n *network) wire(id string, target netns.NsHandle, ip netip.Addr, ports []portSpec) error {
	br, err := ensureBridge(n.nl, n.cfg)
	if err != nil {
		return err
	}
	if err := enableForwarding(n.ns); err != nil {
		return err
	}
	if err := ensureTable(n.nft, n.cfg); err != nil {
		return err
	}
	if err := createVeth(n.nl, id, br); err != nil {
		return err
	}
	if err := moveVeth(n.nl, id, target); err != nil {
		return err
	}
	v := vethSpec{id: id, ip: ip, gateway: gatewayOf(n.cfg.subnet), bits: n.cfg.subnet.Bits()}
	if err := configureInside(target, v); err != nil {
		return err
	}
	explain("wait for the kernel to report both ends of the pair up (RTM_NEWLINK operstate UP)", "")
	if err := waitOperUp(n.ns, hostVethName(id)); err != nil {
		return err
	}
	if err := waitOperUp(target, "eth0"); err != nil {
		return err
	}
	published := make([]publishedPort, len(ports))
	for i, p := range ports {
		published[i] = publishedPort{id: id, spec: p, ctr: ip}
	}
	return addPortRules(n.nft, published)
}

// detach undoes attach. It is idempotent and needs only the id, so it
// runs on every exit path of `run`, and after a crash from `lab reset`.
func (n *network) detach(id string) error {
	unlock, err := n.leases.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return n.detachLocked(id)
}

// detachLocked removes, in order, the container's rules (nothing is
// forwarded to its address any more), its veth pair (if its namespace
// still exists; when it is gone, the kernel has deleted the pair with it),
// its lease (the address is free only once nothing points at it), and,
// when it was the last, the table and the bridge. Every step runs even
// when one before failed.
func (n *network) detachLocked(id string) error {
	errRules := removeContainerRules(n.nft, id)
	errVeth := deleteVeth(n.nl, id)
	l, errRead := n.leases.read()
	if errRead != nil {
		return errors.Join(errRules, errVeth, errRead)
	}
	l.release(id)
	explain("IPAM: release the container's address", "")
	errWrite := n.leases.write(l)
	var errTable, errBridge error
	if len(l) == 0 {
		errTable = deleteTable(n.nft)
		errBridge = removeBridge(n.nl, n.cfg)
	}
	return errors.Join(errRules, errVeth, errWrite, errTable, errBridge)
}

// reclaim detaches the containers that hold leases but are no longer
// alive (their runtime was killed before its cleanup), and returns them.
func (n *network) reclaim(alive func(id string) bool) ([]string, error) {
	unlock, err := n.leases.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	l, err := n.leases.read()
	if err != nil {
		return nil, err
	}
	var dead []string
	var errs []error
	for _, id := range l.owners() {
		if !alive(id) {
			dead = append(dead, id)
			errs = append(errs, n.detachLocked(id))
		}
	}
	return dead, errors.Join(errs...)
}

// checkNetID accepts the ids that make valid link names and comments:
// lowercase letters and digits (the stage's ids are 64 hex digits).
func checkNetID(id string) error {
	if id == "" || strings.Trim(id, "0123456789abcdefghijklmnopqrstuvwxyz") != "" {
		return fmt.Errorf("container id %q: want lowercase letters and digits", id)
	}
	return nil
}
