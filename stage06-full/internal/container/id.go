// Package container keeps what the runtime knows about each container
// between its commands: `create`, `start`, `state`, `kill` and `delete`
// are separate processes (containerd runs one per step), so the container
// lives on disk, as a state directory per container under the runtime's
// root. This package owns that directory: the ID that names it, the
// state.json in it (written atomically), the lock that serialises the
// commands changing it, the state machine they follow, and the check
// that a recorded pid is still the container's.
package container

import (
	"fmt"
	"regexp"
)

// MaxIDLength bounds an ID. It names a directory (NAME_MAX is 255 on
// Linux); docker, podman and containerd's CRI use 64 hex digits, and
// containerd itself at most 76 characters. 128 takes all of them.
const MaxIDLength = 128

// idSyntax is the rule docker applies to names, which runc's IDs follow
// too (runc also allows '+'): a letter or digit first, so an ID is never
// an option ("-x"), a hidden file or "." and "..".
var idSyntax = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// ValidateID refuses an ID that could not safely name the container's
// state directory: empty, too long, with a path separator (an ID
// "../../etc" would reach out of the root), or "." or "..".
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("container ID is empty")
	case id == "." || id == "..":
		return fmt.Errorf("container ID %q: . and .. name directories, not containers", id)
	case len(id) > MaxIDLength:
		return fmt.Errorf("container ID %.20q... is %d characters: at most %d", id, len(id), MaxIDLength)
	case !idSyntax.MatchString(id):
		return fmt.Errorf("container ID %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", id)
	}
	return nil
}
