package cgroups

// linux.cgroupsPath (config-linux.md "Cgroups path"), read as runc reads it
// without --systemd-cgroup: a path in the cgroup tree, the same in every
// hierarchy. Absolute is from each hierarchy's root (containerd sends
// "/default/ID", kubelet "/kubepods/..."); relative is from the boxlab
// parent here (runc puts it under its own cgroup: the lab keeps everything
// it makes under one name, for `lab reset`); empty is boxlab/ID.

import (
	"fmt"
	"path"
	"strings"
)

// ResolvePath turns cgroupsPath into the container's path from the
// hierarchies' root, "/boxlab/web". It refuses what would not name a
// cgroup of the container's own: "..", the root itself, and systemd's
// "slice:prefix:name", which only means something to a runtime that asks
// systemd for its cgroups (runc --systemd-cgroup; not this one).
func ResolvePath(cgroupsPath, id string) (string, error) {
	const field = "linux.cgroupsPath"
	p := cgroupsPath
	switch {
	case p == "":
		return "/" + Parent + "/" + id, nil
	case strings.Contains(p, ":"):
		return "", fmt.Errorf("%s %q: a systemd slice (slice:prefix:name), which needs --systemd-cgroup; this runtime makes its cgroups itself and has no systemd driver: give a path such as /mygroup/%s, or leave it out for /%s/%s", field, p, id, Parent, id)
	case strings.ContainsAny(p, "\n\x00"):
		return "", fmt.Errorf("%s %q: not a path", field, p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fmt.Errorf("%s %q: \"..\" would leave the cgroup tree it names: write the path without it", field, p)
		}
	}
	if !path.IsAbs(p) {
		p = "/" + Parent + "/" + p
	}
	p = path.Clean(p)
	if p == "/" || p == "/"+Parent {
		return "", fmt.Errorf("%s %q: that is %s, not a cgroup of the container's own: name one below it", field, cgroupsPath, map[bool]string{true: "the root of the cgroup tree", false: "the boxlab parent"}[p == "/"])
	}
	return p, nil
}

// checkResolved checks a path Open is given back (from a container's
// record): what ResolvePath returns, and nothing else.
func checkResolved(p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" || strings.Contains(p, ":") {
		return fmt.Errorf("cgroup path %q: not a resolved cgroups path", p)
	}
	return nil
}
