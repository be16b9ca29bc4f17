package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// The default range for root's containers when /etc/subuid has none: the
// first range useradd hands out, 65536 ids as most images expect.
const (
	defaultSubidStart = 100000
	defaultSubidSize  = 65536
)

// addUserNamespace adds CLONE_NEWUSER and the id maps (user_namespaces(7)).
// exec.Cmd writes /proc/CHILD/uid_map and gid_map from the parent while the
// child waits, then the child takes uid and gid 0: until then its own ids
// are unmapped and it would be nobody inside.
func addUserNamespace(attr *syscall.SysProcAttr) {
	uids, gids := idMaps()
	attr.Cloneflags |= syscall.CLONE_NEWUSER
	attr.UidMappings, attr.GidMappings = uids, gids
	rootless := os.Geteuid() != 0
	// A process without privilege may write a gid map only after denying
	// setgroups(2) in the namespace: otherwise it could drop a group that
	// denies it access.
	attr.GidMappingsEnableSetgroups = !rootless
	attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: rootless}
	setgroups := "allow"
	if rootless {
		setgroups = "deny"
	}
	explain(fmt.Sprintf("user namespace: uid_map %q, gid_map %q, setgroups %s; then setuid(0), setgid(0) inside",
		formatMap(uids), formatMap(gids), setgroups),
		"echo '"+formatMap(uids)+"' > /proc/CHILD/uid_map")
}

// idMaps chooses what uid and gid 0 inside are outside. Root maps a whole
// range of otherwise unused ids, so root inside is nobody on the host. Any
// other user may map only its own uid and gid, one id each, unless a
// setuid helper (newuidmap(1)) writes the map: we keep it to what needs none.
func idMaps() (uids, gids []syscall.SysProcIDMap) {
	if uid := os.Geteuid(); uid != 0 {
		return oneID(uid), oneID(os.Getegid())
	}
	uidStart, uidSize := subidRange("/etc/subuid")
	gidStart, gidSize := subidRange("/etc/subgid")
	return []syscall.SysProcIDMap{{ContainerID: 0, HostID: uidStart, Size: uidSize}},
		[]syscall.SysProcIDMap{{ContainerID: 0, HostID: gidStart, Size: gidSize}}
}

func oneID(id int) []syscall.SysProcIDMap {
	return []syscall.SysProcIDMap{{ContainerID: 0, HostID: id, Size: 1}}
}

// subidRange is root's first range in /etc/subuid or /etc/subgid (lines
// "NAME:START:COUNT", subuid(5)), or the default when there is none.
func subidRange(path string) (start, size int) {
	f, err := os.Open(path)
	if err != nil {
		return defaultSubidStart, defaultSubidSize
	}
	defer f.Close()
	return parseSubid(bufio.NewScanner(f), "root")
}

// parseSubid finds the first well-formed range of the named user (by name
// or by uid 0).
func parseSubid(lines *bufio.Scanner, name string) (start, size int) {
	for lines.Scan() {
		f := strings.Split(strings.TrimSpace(lines.Text()), ":")
		if len(f) != 3 || (f[0] != name && f[0] != "0") {
			continue
		}
		s, err1 := strconv.Atoi(f[1])
		n, err2 := strconv.Atoi(f[2])
		if err1 == nil && err2 == nil && s > 0 && n > 0 {
			return s, n
		}
	}
	return defaultSubidStart, defaultSubidSize
}

// formatMap writes a map the way /proc/PID/uid_map is written.
func formatMap(m []syscall.SysProcIDMap) string {
	var lines []string
	for _, r := range m {
		lines = append(lines, fmt.Sprintf("%d %d %d", r.ContainerID, r.HostID, r.Size))
	}
	return strings.Join(lines, "\n")
}

// unshareMaps is the map as unshare(1) options (outer,inner,count).
func unshareMaps() string {
	if os.Geteuid() != 0 {
		return "--map-root-user"
	}
	uids, gids := idMaps()
	return fmt.Sprintf("--map-users=%d,0,%d --map-groups=%d,0,%d",
		uids[0].HostID, uids[0].Size, gids[0].HostID, gids[0].Size)
}

// gidMapped reports whether gid (inside) has a mapping in this process's
// user namespace: devpts refuses a gid= option it cannot map.
func gidMapped(gid int) bool {
	data, err := os.ReadFile("/proc/self/gid_map")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		inside, err1 := strconv.Atoi(f[0])
		size, err2 := strconv.Atoi(f[2])
		if err1 == nil && err2 == nil && gid >= inside && gid < inside+size {
			return true
		}
	}
	return false
}

// startHint says what to do when clone(2) refuses a user namespace to a
// user without privilege: some kernels and distributions turn them off.
func startHint(o *options, err error) string {
	if !o.userns || os.Geteuid() == 0 || !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.ENOSPC) {
		return ""
	}
	return " (unprivileged user namespaces look disabled: check sysctl kernel.unprivileged_userns_clone, " +
		"user.max_user_namespaces and kernel.apparmor_restrict_unprivileged_userns, or run with sudo)"
}
