package cgroups

// Mount is one cgroup filesystem the container mounts for a "cgroup"
// entry of its config's mounts: a v1 hierarchy named by its controllers,
// or the v2 tree (at the mount's destination itself, or at unified/ under
// it on a hybrid host). The init mounts them (internal/initproc), so they
// travel in its config as JSON.
type Mount struct {
	V2          bool   `json:"v2,omitempty"`
	Controllers string `json:"controllers,omitempty"` // v1: "memory", "cpu,cpuacct"
	// Dir is where it goes under the destination: "" for v2's one tree,
	// "unified" on a hybrid host, the controllers on v1.
	Dir string `json:"dir,omitempty"`
	// Bind is the host directory of the container's cgroup to bind
	// instead of mounting a fresh filesystem (v1 without a cgroup
	// namespace): "" for a fresh mount.
	Bind string `json:"bind,omitempty"`
}

// Fstype is the filesystem type of the mount.
func (m Mount) Fstype() string {
	if m.V2 {
		return "cgroup2"
	}
	return "cgroup"
}
