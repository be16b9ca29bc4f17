package main

// `list`: the containers under --root, as runc list prints them. A
// directory there that is not a container is reported on stderr and
// skipped; the others are still listed.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"text/tabwriter"
	"time"

	"boxlab/stage06-full/internal/container"
)

func listVerb(g *globals, args []string) error {
	fl := verbFlags("list")
	format := fl.StringP("format", "f", "table", "output `FORMAT`: table or json")
	quiet := fl.BoolP("quiet", "q", false, "print the container IDs only")
	if err := parseVerb(g, fl, args, `
Columns: ID, PID (0 once stopped), STATUS, BUNDLE, CREATED, OWNER (the
user whose state directory it is). A container whose init process is
gone is listed as stopped.`); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return usagef("list", "list takes no arguments, got %q", fl.Args())
	}
	if *format != "table" && *format != "json" {
		return usagef("list", "--format %q: want table or json", *format)
	}
	list, problems, err := container.List(g.root)
	// No default root yet means no container was ever created; a root
	// given with --root that does not exist is a mistake worth saying.
	if errors.Is(err, fs.ErrNotExist) && !g.rootSet {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", g.root, err)
	}
	for _, p := range problems {
		fmt.Fprintf(g.stderr, "%s list: %v\n", progName, p)
		g.log.toFile(p)
	}
	switch {
	case *quiet:
		for _, c := range list {
			fmt.Fprintln(g.stdout, c.ID)
		}
	case *format == "json":
		out := []stateJSON{} // "[]", not null, when there is none
		for _, c := range list {
			out = append(out, toJSON(c.Record, c.UID))
		}
		return json.NewEncoder(g.stdout).Encode(out)
	default:
		w := tabwriter.NewWriter(g.stdout, 12, 1, 3, ' ', 0)
		fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
		for _, c := range list {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", c.ID, c.Pid, c.Status, c.Bundle,
				c.Created.Format(time.RFC3339Nano), ownerName(c.UID))
		}
		return w.Flush()
	}
	return nil
}
