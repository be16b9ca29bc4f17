// Package labpaths names the places on the host that belong to boxlab.
// Everything the lab creates lives under one of these, so that `lab reset`
// and the test kit can find it without touching anything else.
package labpaths

const (
	// Name is the tag every boxlab object carries: the cgroup parent, the
	// nftables table, the prefix of state and run directories.
	Name = "boxlab"
	// StateDir holds what outlives a container: images, layers, volumes,
	// container records, IP leases.
	StateDir = "/var/lib/boxlab"
	// RunDir holds what lives only while a container runs.
	RunDir = "/run/boxlab"
	// CacheDir holds what `lab rootfs` builds: the test image and its tarballs.
	CacheDir = "/var/cache/boxlab"
	// LinkPrefix starts the name of every network link boxlab creates.
	LinkPrefix = "bx"
	// CgroupParent is the cgroup under which every container's cgroup lives.
	CgroupParent = "boxlab"
	// NftTable is the nftables table that holds all of boxlab's rules.
	NftTable = "boxlab"
)
