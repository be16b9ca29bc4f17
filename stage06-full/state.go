package main

// `state ID`: the container's state as the runtime-spec defines it
// (runtime.md "State", "Query State"), which is how containerd learns a
// container's pid and status. It reads the record without the lock
// (records are replaced atomically) and reports what it sees, not what
// was written: an init that is gone makes the container stopped.

import (
	"encoding/json"
	"fmt"
	"os/user"
	"strconv"
	"time"

	"boxlab/stage06-full/internal/container"
)

// stateJSON is what `state` and `list --format json` print: the
// runtime-spec's state fields plus runc's rootfs, created and owner, which
// containerd's go-runc reads too.
type stateJSON struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

func toJSON(r *container.Record, uid uint32) stateJSON {
	return stateJSON{
		Version: r.Version, ID: r.ID, Pid: r.Pid, Status: string(r.Status),
		Bundle: r.Bundle, Rootfs: r.Rootfs, Created: r.Created,
		Annotations: r.Annotations, Owner: ownerName(uid),
	}
}

// ownerName is the user name of uid, or "#uid" as runc prints one that
// /etc/passwd does not know.
func ownerName(uid uint32) string {
	s := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(s); err == nil {
		return u.Username
	}
	return "#" + s
}

func stateVerb(g *globals, args []string) error {
	fl := verbFlags("state")
	if err := parseVerb(g, fl, args, `
Prints the runtime-spec state: ociVersion, id, status (creating, created,
running, paused or stopped), pid (0 once stopped), bundle, and runc's
rootfs, created and owner.`); err != nil {
		return err
	}
	if fl.NArg() != 1 {
		return usagef("state", "state takes one container ID, got %d arguments", fl.NArg())
	}
	id := fl.Arg(0)
	if err := container.ValidateID(id); err != nil {
		return err
	}
	r, err := container.Load(g.root, id)
	if err != nil {
		return err
	}
	recorded := r.Status
	r.Refresh()
	if r.Status != recorded {
		g.log.Debug("init is gone", "id", id, "recorded", recorded, "now", r.Status)
	}
	uid, err := container.Owner(g.root, id)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(toJSON(r, uid), "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "%s\n", data)
	return nil
}
