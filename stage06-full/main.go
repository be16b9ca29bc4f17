// Command stage06-full is the graduation stage: the container runtime of
// stages 01–05 laid out as a real one is, by concern, and speaking the
// OCI runtime CLI that containerd and docker call (runc(8)).
//
// Under construction: this is its foundation. The verbs that exist:
//
//	stage06-full [--root DIR] [--log FILE] [--log-format text|json] [--debug] VERB ...
//	stage06-full spec [--bundle DIR]      write a default config.json
//	stage06-full state ID                 print a container's state (runtime-spec JSON)
//	stage06-full list [--format table|json] [-q]
//	stage06-full create [--bundle DIR] [--pid-file F] ID / start ID / kill ID [SIG] / delete [--force] ID
//	stage06-full run [--bundle DIR] ID    create, start, wait, delete
//	stage06-full pause ID / resume ID     freeze and thaw (internal/cgroups)
//
// The CLI is this package, one file per verb; what a verb does is in
// internal/<concern>/: internal/spec (config.json), internal/container
// (state, lock, state machine), internal/initproc (the container's init),
// internal/cgroups (its cgroup: limits, freezer).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"boxlab/stage06-full/internal/container"
	"boxlab/stage06-full/internal/initproc"
)

const progName = "stage06-full"

// Exit codes. A verb that fails exits 1, as runc does (containerd reads
// the reason from --log, not the code); a command line that names no verb
// we have, or a flag it does not take, exits 125, docker's code for "the
// runtime itself failed before anything ran".
const (
	exitFailed = 1
	exitUsage  = 125
)

// globals are the flags before the verb, runc's global options.
type globals struct {
	root      string
	rootSet   bool // --root given: a missing root is then an error, not "no containers yet"
	logFile   string
	logFormat string
	debug     bool

	log            *logger
	stdout, stderr io.Writer
}

// verb is one command: its name, a line for the usage, and its function,
// which gets the arguments after the verb.
type verb struct {
	name, args, summary string
	run                 func(g *globals, args []string) error
}

// verbs are all there is: a verb not in this list is an unknown one.
// (exec and the rest come with nsenter and the monitor; until then
// they do not exist, rather than exist and fail.) It is filled in init: the verbs' own --help reads it, which a
// package-level initialiser may not refer back to.
var verbs []verb

func init() {
	verbs = []verb{
		{"create", "[--bundle DIR] [--pid-file FILE] ID", "create container ID from a bundle; it waits for start", createVerb},
		{"delete", "[--force] ID", "delete container ID (--force: even a running one)", deleteVerb},
		{"kill", "ID [SIGNAL]", "send SIGNAL (default SIGTERM) to container ID's init", killVerb},
		{"list", "[--format table|json] [-q]", "list the containers under --root", listVerb},
		{"pause", "ID", "freeze every process of running container ID", pauseVerb},
		{"resume", "ID", "thaw every process of paused container ID", resumeVerb},
		{"run", "[--bundle DIR] [--pid-file FILE] ID", "create, start and wait for container ID; exit with its code", runVerb},
		{"spec", "[--bundle DIR]", "write a default " + "config.json" + " into the bundle (default: the current directory)", specVerb},
		{"start", "ID", "start created container ID: it runs process.args", startVerb},
		{"state", "ID", "print the state of container ID, as the runtime-spec's JSON", stateVerb},
	}
}

// usageError is a command line we cannot run: exit 125.
type usageError struct{ msg, verb string }

func (e *usageError) Error() string { return e.msg }

func usagef(verb, format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...), verb}
}

func main() {
	// The re-executed init (internal/initproc) is no verb of the CLI:
	// it takes no flags and reads its config from a pipe.
	if len(os.Args) == 2 && os.Args[1] == initproc.Command {
		initproc.Main()
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	g, rest, err := parseGlobals(args, stdout)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		return fail(nil, stderr, err)
	}
	log, closeLog, err := newLogger(g, stderr)
	if err != nil {
		return fail(nil, stderr, err)
	}
	defer closeLog()
	g.log, g.stdout, g.stderr = log, stdout, stderr
	if len(rest) == 0 {
		return fail(log, stderr, usagef("", "no command given"))
	}
	for _, v := range verbs {
		if v.name == rest[0] {
			log.Debug("command", "verb", v.name, "args", rest[1:], "root", g.root)
			err := v.run(g, rest[1:])
			if errors.Is(err, pflag.ErrHelp) {
				return 0
			}
			return fail(log, stderr, err)
		}
	}
	return fail(log, stderr, usagef("", "unknown command %q", rest[0]))
}

// parseGlobals reads the flags before the verb. Interspersed flags are
// off: the first word that is not a flag is the verb, and everything
// after it is the verb's.
func parseGlobals(args []string, stdout io.Writer) (*globals, []string, error) {
	g := &globals{}
	fs := pflag.NewFlagSet(progName, pflag.ContinueOnError)
	fs.SetInterspersed(false)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&g.root, "root", container.DefaultRoot, "`DIR` of the containers' state (a tmpfs)")
	fs.StringVar(&g.logFile, "log", "", "write the runtime's log to `FILE` (default: stderr)")
	fs.StringVar(&g.logFormat, "log-format", "text", "log `FORMAT`: text or json")
	fs.BoolVar(&g.debug, "debug", false, "log debug messages too")
	help := fs.BoolP("help", "h", false, "print this help")
	if err := fs.Parse(args); err != nil {
		return nil, nil, usagef("", "%v", err)
	}
	if *help {
		globalUsage(stdout, fs)
		return nil, nil, pflag.ErrHelp
	}
	if g.logFormat != "text" && g.logFormat != "json" {
		return nil, nil, usagef("", "--log-format %q: want text or json", g.logFormat)
	}
	g.rootSet = fs.Changed("root")
	// Absolute, as runc makes it: a state directory must not depend on
	// the directory a command happened to run in.
	abs, err := filepath.Abs(g.root)
	if err != nil {
		return nil, nil, err
	}
	g.root = abs
	return g, fs.Args(), nil
}

func globalUsage(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "usage: %s [global flags] COMMAND [ARG...]\n\n", progName)
	fmt.Fprintf(w, "An OCI container runtime (under construction: these commands exist so far).\n\ncommands:\n")
	for _, v := range verbs {
		fmt.Fprintf(w, "  %-6s %s\n         %s\n", v.name, v.args, v.summary)
	}
	fmt.Fprintf(w, "\nglobal flags:\n%s\n'%s COMMAND --help' describes a command.\n", fs.FlagUsages(), progName)
}

// verbFlags is a verb's flag set: errors are returned, not printed, and
// --help prints the verb's usage to stdout.
func verbFlags(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetInterspersed(false)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.BoolP("help", "h", false, "print this help")
	return fs
}

// parseVerb parses a verb's flags. On --help it prints usage, the
// verb's flags and a description to stdout and returns pflag.ErrHelp.
func parseVerb(g *globals, fs *pflag.FlagSet, args []string, description string) error {
	if err := fs.Parse(args); err != nil {
		return usagef(fs.Name(), "%v", err)
	}
	if h, _ := fs.GetBool("help"); h {
		for _, v := range verbs {
			if v.name == fs.Name() {
				fmt.Fprintf(g.stdout, "usage: %s %s %s\n\n%s\n\n", progName, v.name, v.args, v.summary)
			}
		}
		fmt.Fprintf(g.stdout, "%s\nflags:\n%s", strings.TrimSpace(description)+"\n", fs.FlagUsages())
		return pflag.ErrHelp
	}
	return nil
}

// fail reports err and returns the exit code: the message on stderr,
// and at level error in the log file when there is one (containerd's
// shim reads the last error from there to say why a command failed).
func fail(log *logger, stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		return ec.code // the container's own: nothing went wrong here
	}
	fmt.Fprintf(stderr, "%s: %v\n", progName, err)
	if log != nil {
		log.toFile(err)
	}
	var ue *usageError
	if errors.As(err, &ue) {
		if ue.verb != "" {
			fmt.Fprintf(stderr, "Run '%s %s --help' for usage.\n", progName, ue.verb)
		} else {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", progName)
		}
		return exitUsage
	}
	return exitFailed
}
