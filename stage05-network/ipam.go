package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// IP address management: which container has which address of the subnet.
// There is no daemon to remember it, so the answer lives in a file,
// network/leases.json in the state directory: {"10.199.0.2": "<id>", ...}.
// A missing file means no leases. Every change reads, edits and rewrites
// the file under flock(2) on network/lock, so two `run`s started at the
// same moment never get the same address.

// leases maps an address to the id of the container that holds it.
type leases map[netip.Addr]string

// leaseStore is the lease file and its lock in one state directory.
type leaseStore struct {
	dir string // <state>/network
}

func newLeaseStore(stateDir string) *leaseStore {
	return &leaseStore{dir: filepath.Join(stateDir, "network")}
}

func (s *leaseStore) file() string { return filepath.Join(s.dir, "leases.json") }

// lock takes the network lock. It serialises more than the lease file:
// attach and detach hold it while they create or delete the bridge and the
// nftables table, so one run never deletes the bridge another is joining.
// Each call opens the file anew: flock belongs to the open file, so two
// goroutines of one process exclude each other just as two processes do.
func (s *leaseStore) lock() (unlock func(), err error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("network state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("network lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// read loads the leases; the caller holds the lock.
func (s *leaseStore) read() (leases, error) {
	data, err := os.ReadFile(s.file())
	if errors.Is(err, os.ErrNotExist) {
		return leases{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	l := leases{}
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("%s: %w (remove it with 'sudo ./lab.sh reset')", s.file(), err)
	}
	return l, nil
}

// write saves the leases through a rename, so a reader never sees half a
// file; the last lease gone, the file goes too (as `lab reset` does).
func (s *leaseStore) write(l leases) error {
	if len(l) == 0 {
		if err := os.Remove(s.file()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", s.file(), err)
		}
		return nil
	}
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.file(), append(data, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", s.file(), err)
	}
	return nil
}

// update runs edit on the leases under the lock and saves what it leaves.
func (s *leaseStore) update(edit func(leases) error) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	l, err := s.read()
	if err != nil {
		return err
	}
	if err := edit(l); err != nil {
		return err
	}
	return s.write(l)
}

// allocate gives id an address of subnet: want if it is valid (--ip), else
// the lowest free one. The caller holds the lock and writes l back.
func (l leases) allocate(id string, subnet netip.Prefix, want netip.Addr) (netip.Addr, error) {
	if want.IsValid() {
		if err := checkHostAddr(subnet, want); err != nil {
			return netip.Addr{}, err
		}
		if owner, taken := l[want]; taken && owner != id {
			return netip.Addr{}, fmt.Errorf("--ip %s: already leased to container %s", want, shortID(owner))
		}
		l[want] = id
		return want, nil
	}
	for a := gatewayOf(subnet).Next(); isHostAddr(subnet, a); a = a.Next() {
		if _, taken := l[a]; !taken {
			l[a] = id
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("subnet %s: no free address left (%d leases): remove stopped containers or run 'sudo ./lab.sh reset'", subnet, len(l))
}

// release drops every lease of id; there is nothing to do when it has none.
func (l leases) release(id string) {
	for a, owner := range l {
		if owner == id {
			delete(l, a)
		}
	}
}

// owners lists the container ids that hold leases, sorted, once each.
func (l leases) owners() []string {
	var ids []string
	for _, id := range l {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// allocateIP leases an address to id on its own (the concurrency tests use
// it; attach does the same inside its larger locked section).
func (s *leaseStore) allocateIP(id string, subnet netip.Prefix, want netip.Addr) (netip.Addr, error) {
	var got netip.Addr
	err := s.update(func(l leases) (err error) {
		got, err = l.allocate(id, subnet, want)
		return err
	})
	return got, err
}

// releaseIP drops the leases of id.
func (s *leaseStore) releaseIP(id string) error {
	return s.update(func(l leases) error { l.release(id); return nil })
}

// reclaimLeases drops the leases of containers that alive says are gone
// (a runtime killed by SIGKILL never ran its cleanup) and returns their ids.
// The links and rules of those containers are network.reclaim's business.
func (s *leaseStore) reclaimLeases(alive func(id string) bool) ([]string, error) {
	var dead []string
	err := s.update(func(l leases) error {
		for _, id := range l.owners() {
			if !alive(id) {
				l.release(id)
				dead = append(dead, id)
			}
		}
		return nil
	})
	return dead, err
}

// gatewayOf is the subnet's first address, which the bridge holds.
func gatewayOf(subnet netip.Prefix) netip.Addr {
	return subnet.Masked().Addr().Next()
}

// isHostAddr says whether a can be a container's address: inside the
// subnet, past the gateway, and not the broadcast address.
func isHostAddr(subnet netip.Prefix, a netip.Addr) bool {
	if !subnet.Contains(a) || a.Compare(gatewayOf(subnet)) <= 0 {
		return false
	}
	return subnet.Contains(a.Next()) // the last address is the broadcast
}

// checkHostAddr explains why a requested --ip cannot be used.
func checkHostAddr(subnet netip.Prefix, a netip.Addr) error {
	switch {
	case !subnet.Contains(a):
		return fmt.Errorf("--ip %s: not in the network's subnet %s", a, subnet)
	case a == gatewayOf(subnet):
		return fmt.Errorf("--ip %s: that is the bridge's (gateway's) address", a)
	case !isHostAddr(subnet, a):
		return fmt.Errorf("--ip %s: the subnet's network or broadcast address", a)
	}
	return nil
}
