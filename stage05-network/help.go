package main

// --help and -h: every verb answers them as run does, with its usage and
// its flags on stdout and exit code 0, so that `stats --help | less` works
// and a script can tell a request for help from a mistake. Any other flag
// error is bad input: one line on stderr that names the usage, exit 125.

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
)

// parseVerbFlags parses the flags of one verb (usage is what follows the
// program's name, about says what the verb does). ok is false when the
// command ends here, with code the exit code: 0 after --help or -h,
// exitRuntime after a bad flag.
func parseVerbFlags(fs *pflag.FlagSet, args []string, usage, about string) (ok bool, code int) {
	fs.Usage = func() {} // pflag would print to stderr: the help is ours
	err := fs.Parse(args)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		printVerbHelp(os.Stdout, fs, usage, about)
		return false, 0
	case err != nil:
		return false, failRuntime(fmt.Errorf("%w: usage: %s %s", err, progName, usage))
	}
	return true, 0
}

// printVerbHelp is what `VERB --help` prints: the usage, what the verb
// does, and its flags as pflag lists them.
func printVerbHelp(w io.Writer, fs *pflag.FlagSet, usage, about string) {
	fmt.Fprintf(w, "usage: %s %s\n\n%s\n", progName, usage, about)
	if flags := fs.FlagUsages(); flags != "" {
		fmt.Fprintf(w, "\nflags:\n%s", flags)
	}
}
