package container

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Listed is a container as List found it.
type Listed struct {
	*Record
	UID uint32 // owner of its state directory, runc list's OWNER
}

// List reads every container under root, refreshed (Refresh), sorted by
// ID. An entry that is not a container's directory (a stray file, a
// name that is no ID, a directory without a readable record) is skipped
// and reported in problems, so that one bad entry does not hide the
// rest. A root that does not exist is an error the caller may excuse
// (no container was ever made there).
func List(root string) (list []Listed, problems []error, err error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".creating-") {
			if p := leftByCreate(root, name); p != nil {
				problems = append(problems, p)
			}
			continue
		}
		if !e.IsDir() {
			problems = append(problems, fmt.Errorf("%s/%s: not a container directory: remove it", root, name))
			continue
		}
		if err := ValidateID(name); err != nil {
			problems = append(problems, fmt.Errorf("%s/%s: not a container directory: %w", root, name, err))
			continue
		}
		r, err := Load(root, name)
		if err != nil {
			problems = append(problems, fmt.Errorf("skipping %s/%s: %w", root, name, err))
			continue
		}
		uid, err := Owner(root, name)
		if err != nil {
			continue // deleted while we looked
		}
		r.Refresh()
		list = append(list, Listed{Record: r, UID: uid})
	}
	slices.SortFunc(list, func(a, b Listed) int { return strings.Compare(a.ID, b.ID) })
	return list, problems, nil
}

// leftByCreate reports a temporary directory of Create whose creator is
// gone: a create killed before it published the container. One whose
// creator still runs is a create in progress, and no problem.
func leftByCreate(root, name string) error {
	parts := strings.SplitN(strings.TrimPrefix(name, ".creating-"), "-", 2)
	if pid, err := strconv.Atoi(parts[0]); err == nil && pid > 0 && unix.Kill(pid, 0) != syscall.ESRCH {
		return nil
	}
	return fmt.Errorf("%s/%s: left by a create that was killed: remove it", root, name)
}
