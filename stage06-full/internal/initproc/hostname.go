package initproc

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// setHostname names the container. It runs in the child, which has its own
// UTS namespace: the host's name stays as it is (uts_namespaces(7)).
func setHostname(name string) error {
	explain(fmt.Sprintf("sethostname(%q) in the new UTS namespace", name), "hostname "+name)
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("sethostname %s: %w", name, err)
	}
	return nil
}

// setDomainname sets the NIS domain name, the other name of a UTS
// namespace (setdomainname(2)); "(none)" is what a new one starts with.
func setDomainname(name string) error {
	explain(fmt.Sprintf("setdomainname(%q) in the new UTS namespace", name), "domainname "+name)
	if err := unix.Setdomainname([]byte(name)); err != nil {
		return fmt.Errorf("setdomainname %s: %w", name, err)
	}
	return nil
}
