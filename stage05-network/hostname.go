package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// maxHostname is the longest label RFC 1123 allows, and what docker accepts.
const maxHostname = 63

// validHostname checks a host name as one RFC 1123 label: 1 to 63 letters,
// digits and hyphens, not starting or ending with a hyphen. The kernel
// would take any 64 bytes; other programs in the container would not.
func validHostname(name string) error {
	switch {
	case name == "":
		return errors.New("empty host name")
	case len(name) > maxHostname:
		return fmt.Errorf("longer than %d characters", maxHostname)
	case name[0] == '-' || name[len(name)-1] == '-':
		return errors.New("must not start or end with '-'")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%q is not allowed: use letters, digits and '-'", c)
		}
	}
	return nil
}

// generatedHostname is a short random id, as docker uses the first 12 hex
// digits of the container id.
func generatedHostname() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

// setHostname names the container. It runs in the child, which has its own
// UTS namespace: the host's name stays as it is (uts_namespaces(7)).
func setHostname(name string) error {
	explain(fmt.Sprintf("sethostname(%q) in the new UTS namespace", name), "hostname "+name)
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("sethostname %s: %w", name, err)
	}
	return nil
}
