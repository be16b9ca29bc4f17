// Command probe is copied to /bin/probe in the workshop's test image and run
// inside containers by the black-box tests. It reports what the process can
// see (namespaces, ids, mounts, cgroups, network) as key=value lines and it
// can push on the limits a container should enforce (memory, CPU, pids,
// the chroot escape).
//
// Output rules the tests rely on: one `key=value` per line, keys stable,
// values never contain a newline (see emit), a key repeats when there is one
// line per item. Usage errors exit 2 with a message on stderr; a failed action
// prints `error=...` and exits 1 unless its help says otherwise.
package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// A command is one probe subcommand.
type command struct {
	name  string
	args  string // usage after the name, for help and usage errors
	about string
	run   func(args []string) error
}

// commands is filled by init so that help can list the table it belongs to.
var commands []command

func init() {
	commands = []command{
		{"ids", "", "pid, ppid, uids, gids, groups, uid/gid maps, setgroups", cmdIDs},
		{"ns", "", "namespace inode numbers (ns.NAME=INODE or none)", cmdNS},
		{"hostname", "", "hostname and domainname from uname(2)", cmdHostname},
		{"ps", "", "processes visible in /proc", cmdPS},
		{"mounts", "", "one mount= line per mountinfo line, and root=", cmdMounts},
		{"caps", "", "capability sets from /proc/self/status", cmdCaps},
		{"cgroup", "", "/proc/self/cgroup and the cgroup limit files", cmdCgroup},
		{"affinity", "", "CPUs from sched_getaffinity(2)", cmdAffinity},
		{"ifaces", "", "network interfaces with state, mtu, addresses, mac", cmdIfaces},
		{"routes", "", "IPv4 routes from /proc/net/route", cmdRoutes},
		{"facts", "", "ids ns hostname ps caps cgroup ifaces routes mounts", cmdFacts},
		{"mem", "MIB", "allocate and touch MIB MiB, reporting every 16 MiB", cmdMem},
		{"spin", "DURATION | --until-signal", "busy-loop and report iterations and CPU time", cmdSpin},
		{"fork", "N", "start N children that stay alive, report how many could start", cmdFork},
		{"hold", "", "(internal) child of fork: wait for EOF on stdin", cmdHold},
		{"serve", "[--udp] PORT [--count N]", "answer N connections or datagrams (0 = forever)", cmdServe},
		{"dial", "[--udp] ADDR [--timeout 5s]", "connect, read one line (exit 1 on failure)", cmdDial},
		{"escape", "[--check PATH]", "attempt the chroot escape (exit 0 either way)", cmdEscape},
		{"msgq", "create|check|remove KEY", "SysV message queue by key", cmdMsgq},
		{"file", "write PATH CONTENT | read PATH | stat PATH | rm PATH | writable PATH", "file operations", cmdFile},
		{"wait", "", "block until SIGTERM (exit 143), SIGINT (130) or SIGHUP (0)", cmdWait},
		{"exit", "N", "exit with code N", cmdExit},
		{"kill-self", "SIG", "kill this process with SIG (KILL, SIGTERM, 9 ...)", cmdKillSelf},
		{"echo", "ARGS...", "print the arguments", cmdEcho},
		{"env", "", "print the environment and the working directory", cmdEnv},
		{"mount", "FSTYPE TARGET [DATA]", "mount a filesystem at TARGET (created if missing)", cmdMount},
		{"help", "", "this list", cmdHelp},
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe COMMAND [ARGS...]  (probe help lists the commands)")
		os.Exit(2)
	}
	name := os.Args[1]
	cmd, ok := lookup(name)
	if !ok {
		fmt.Fprintf(os.Stderr, "probe: unknown command %q (probe help lists the commands)\n", name)
		os.Exit(2)
	}
	err := cmd.run(os.Args[2:])
	var ue usageError
	var code exitCode
	switch {
	case errors.As(err, &code):
		os.Exit(int(code))
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "probe %s: %s\nusage: %s\n", name, ue.msg, strings.TrimSpace("probe "+name+" "+cmd.args))
		os.Exit(2)
	case err != nil:
		emit("error", err)
		os.Exit(1)
	}
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func cmdHelp(args []string) error {
	if len(args) != 0 {
		return usagef("takes no arguments")
	}
	for _, c := range commands {
		fmt.Printf("probe %s\n    %s\n", strings.TrimSpace(c.name+" "+c.args), c.about)
	}
	return nil
}

// emit prints one key=value line. os.Stdout is unbuffered, so every line is
// one write(2): a process killed mid-run (by the OOM killer, say) has printed
// whole lines only, and a reader sees each line as soon as it is written.
func emit(key string, value any) {
	fmt.Fprintf(os.Stdout, "%s=%s\n", key, oneLine(fmt.Sprint(value)))
}

// oneLine keeps a value on its line: trailing newlines go, inner ones become ';'.
func oneLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return strings.ReplaceAll(s, "\n", ";")
}

// usageError marks bad command-line input: main prints it on stderr, exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error {
	return usageError{fmt.Sprintf(format, a...)}
}

// exitCode ends the process with that code after the command has already
// printed what it had to say (facts with failed sections, wait).
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// parseFlags splits args into positional arguments and --flags, which may come
// in any position ("serve 8080 --count 3"). bools take no value; values take
// one, as "--name v" or "--name=v". "--" ends the flags.
func parseFlags(args, bools, values []string) ([]string, map[string]string, error) {
	var pos []string
	set := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(pos, args[i+1:]...), set, nil
		}
		if !strings.HasPrefix(a, "--") {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(a[2:], "=")
		switch {
		case slices.Contains(bools, name) && !hasVal:
			set[name] = "true"
		case slices.Contains(values, name) && hasVal:
			set[name] = val
		case slices.Contains(values, name) && i+1 < len(args):
			i++
			set[name] = args[i]
		case slices.Contains(values, name):
			return nil, nil, usagef("--%s needs a value", name)
		default:
			return nil, nil, usagef("unknown flag %s", a)
		}
	}
	return pos, set, nil
}

// noArgs is the check of every command that takes no arguments.
func noArgs(args []string) error {
	if len(args) != 0 {
		return usagef("takes no arguments")
	}
	return nil
}
