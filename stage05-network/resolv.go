package main

import "strings"

// The container's /etc/resolv.conf depends on its network mode. stage04
// writes the file into the container's init layer (writeInitLayer) from
// what this returns; nothing here resolves a name.
//
//	bridge     the host's servers, less those on the host's loopback
//	           (resolvConf, stage04), or public ones when none is left
//	host       the host's file as it is: its loopback is the container's
//	container  the same as bridge: the other container's servers are
//	           reached the same way
//	none       the host's file as it is: nothing can be reached anyway,
//	           and a program reading it should find a valid file

// fallbackResolvConf is what a container gets when the host's only server
// is on its loopback (systemd-resolved's 127.0.0.53), as docker does.
const fallbackResolvConf = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"

// hostResolvPaths are tried in order: systemd-resolved keeps the real
// upstream servers in the second when the first points at 127.0.0.53.
var hostResolvPaths = []string{"/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"}

// containerResolvConf picks the content for mode. read is os.ReadFile;
// tests pass their own.
func containerResolvConf(m netMode, read func(string) ([]byte, error)) []byte {
	host, _ := read(hostResolvPaths[0])
	if m.kind == netHost || m.kind == netNone {
		return host
	}
	for _, path := range hostResolvPaths {
		data, err := read(path)
		if err == nil && hasNameserver(resolvConf(data)) {
			return []byte(resolvConf(data))
		}
	}
	return []byte(resolvConf([]byte(fallbackResolvConf)))
}

// hasNameserver says whether a resolv.conf names at least one server.
func hasNameserver(conf string) bool {
	for _, line := range strings.Split(conf, "\n") {
		if strings.HasPrefix(line, "nameserver ") {
			return true
		}
	}
	return false
}
