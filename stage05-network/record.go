package main

// The container record: a directory per running container under
// /run/boxlab/containers, so that `stats`, `pause` and `resume` in another
// terminal can find it by name. Making the directory claims the name:
// mkdir(2) is atomic, so two runs cannot both get it. /run is a tmpfs: the
// records go away on reboot, with the cgroups they point at.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// containersDir holds one directory per running container.
var containersDir = "/run/boxlab/containers"

// record is what state.json says about a running container.
type record struct {
	Name    string       `json:"name"`
	Pid     int          `json:"pid"` // the container's process, as the host sees it
	Rootfs  string       `json:"rootfs"`
	Command []string     `json:"command"`
	Created time.Time    `json:"created"`
	Cgroup  cgroupRecord `json:"cgroup"`
	Limits  recordLimits `json:"limits"`
}

// recordLimits are the limits in the record, as numbers (0: none).
type recordLimits struct {
	MemoryBytes     int64  `json:"memory_bytes,omitempty"`
	MemorySwapBytes int64  `json:"memory_swap_bytes,omitempty"`
	CPUQuotaUsec    int64  `json:"cpu_quota_usec,omitempty"`
	CPUPeriodUsec   int64  `json:"cpu_period_usec,omitempty"`
	CPUShares       int64  `json:"cpu_shares,omitempty"`
	CPUSet          string `json:"cpuset_cpus,omitempty"`
	Pids            int64  `json:"pids_limit,omitempty"`
}

func limitsRecord(l limits) recordLimits {
	r := recordLimits{
		MemoryBytes: l.memory, MemorySwapBytes: l.memorySwap, CPUQuotaUsec: l.cpuQuota,
		CPUShares: l.cpuShares, CPUSet: formatCPUList(l.cpuset), Pids: l.pids,
	}
	if l.cpuQuota > 0 {
		r.CPUPeriodUsec = cpuPeriod
	}
	return r
}

// nameSyntax is docker's rule for container names. The name is also the
// default hostname, so it is kept to a hostname's 64 characters.
var nameSyntax = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)

func checkName(name string) error {
	if !nameSyntax.MatchString(name) {
		return fmt.Errorf("--name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit, at most 64", name)
	}
	if cgroupFileName(name) {
		return fmt.Errorf("--name %q: the name of a cgroup interface file: the container's cgroup, boxlab/%s, cannot be made beside it; choose another name", name, name)
	}
	return nil
}

// cgroupFileNames are the interface files a cgroup directory holds besides
// the controllers' "CONTROLLER.KEY" ones (cgroups(7); cgroup-v1 tasks,
// notify_on_release, release_agent). A container named like one of them
// would have its cgroup directory where the kernel already has a file.
var cgroupFileNames = map[string]bool{"tasks": true, "notify_on_release": true, "release_agent": true}

// cgroupFilePrefixes are the prefixes before the first "." of the other
// interface files: cgroup.* and one per controller, with irq.pressure's
// (the kernel's cgroup_subsys.h lists the controllers).
var cgroupFilePrefixes = map[string]bool{
	"cgroup": true, "cpuset": true, "cpu": true, "cpuacct": true, "io": true, "blkio": true, "memory": true,
	"devices": true, "freezer": true, "net_cls": true, "perf_event": true, "net_prio": true, "hugetlb": true,
	"pids": true, "rdma": true, "misc": true, "dmem": true, "debug": true, "irq": true,
}

func cgroupFileName(name string) bool {
	prefix, _, dotted := strings.Cut(name, ".")
	return cgroupFileNames[name] || dotted && cgroupFilePrefixes[prefix]
}

func recordDir(name string) string { return filepath.Join(containersDir, name) }

// claimName makes the record's directory, or says who has the name. The
// parent directory may vanish between MkdirAll and Mkdir when another
// container's releaseName removes it; then it is made again.
func claimName(name string) error {
	explain("mkdir "+recordDir(name)+": the container record, claiming the name", "mkdir -p "+recordDir(name))
	for range 3 {
		if err := os.MkdirAll(containersDir, 0o700); err != nil {
			return err
		}
		err := os.Mkdir(recordDir(name), 0o700)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("--name %s: the name is in use by a running container (its record is %s; if it is not running, 'lab reset' removes it)", name, recordDir(name))
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return fmt.Errorf("mkdir %s: %s keeps disappearing", recordDir(name), containersDir)
}

// save writes state.json whole: to a temporary file renamed over it, so a
// reader never sees half a record.
func (r *record) save() error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(recordDir(r.Name), ".state.json.tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(recordDir(r.Name), "state.json"))
}

// loadRecord reads a running container's record.
func loadRecord(name string) (*record, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(recordDir(name), "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no running container named %s (no %s)", name, filepath.Join(recordDir(name), "state.json"))
	}
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(recordDir(name), "state.json"), err)
	}
	return &r, nil
}

// releaseName removes the record, and the containers directory when it was
// the last one, so that nothing is left behind after the last container.
func releaseName(name string) error {
	err := os.RemoveAll(recordDir(name))
	_ = os.Remove(containersDir) // fails, as it should, while others run
	return err
}
