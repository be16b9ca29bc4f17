package security

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// SetNoNewPrivs sets no_new_privs (prctl(2) PR_SET_NO_NEW_PRIVS) when
// process.noNewPrivileges asks for it: after it no execve can gain
// privileges, not through a setuid binary nor file capabilities. Last
// before execve, since it holds for ever after.
func SetNoNewPrivs(on bool) error {
	if !on {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_NO_NEW_PRIVS: %w", err)
	}
	return nil
}
