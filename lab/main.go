// Command lab is the workshop's helper: it checks the host (doctor), builds
// the test image (rootfs), runs and scores the stages' tests (test), walks a
// student through the stages (tour) and cleans up after a crash (reset).
package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// A command is one `lab` subcommand. Each lives in its own file and
// registers itself from an init function.
type command struct {
	name    string
	summary string
	run     func(args []string) error
}

var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

// exitError carries an exit code out of a command without printing twice.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	c, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "lab: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := c.run(os.Args[2:]); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintf(os.Stderr, "lab %s: %v\n", c.name, err)
		os.Exit(1)
	}
}

func usage() {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: lab COMMAND [ARGS]\n\ncommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", n, commands[n].summary)
	}
	b.WriteString("\nRun 'lab COMMAND --help' for a command's flags.\n")
	fmt.Fprint(os.Stderr, b.String())
}
