package main

// Transcripts whose flags are checked: every command of a stage README's
// "Step by step" section that calls the stage binary (`./stageNN-name VERB
// [flags...] ...`, after `sudo`, `$H` or anything else on the line) may use
// only the flags that `./stageNN-name VERB --help` lists. The commands of
// "Step by step" are not run (many need a second terminal, or show a
// failure on purpose), so without this check a renamed or removed flag
// would leave the walkthrough teaching a command that no longer works.
// `lab test --strict` does it in the "STAGE walkthrough" row
// (exercise_proofs.go).
//
// The rules, kept simple:
//
//   - A command is a "$ " line of a ```console block, or of a block with
//     no language (stage 05's), joined with the lines after it while it
//     ends in a backslash. Words are split as sh splits
//     them, quotes kept together; `|`, `;`, `&`, `(`, `)`, `<`, `>` and a
//     backquote end a command, so `M=$(sudo ./stage inspect web | ...)` is
//     found too. A call inside a quoted `sh -c '...'` is not looked at.
//   - The word after the binary is the verb. When the first line of `VERB
//     --help` shows a lowercase word after it (`image import`, `volume ls`,
//     `network inspect`), that word, given next, belongs to the verb.
//   - Then the flags: every word that starts with "-", up to the first that
//     does not (the first positional argument: pflag stops there too with
//     interspersed flags off) or "--". `--flag=value` is the flag
//     `--flag`; `--flag value` skips the value when --help shows the flag
//     takes one; `-m64m`, `-m 64m` and grouped short flags (`-ab`) are read
//     as pflag reads them. --help and -h are always allowed.
//   - The flags of `VERB --help` are its "flags...:" list as pflag prints
//     it: `  -m, --memory SIZE   ...`, `      --explain[=true|false]   ...`.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// binCall is one call of the stage binary in a README command.
type binCall struct {
	Line  int      // of the "$ " line in the README
	Words []string // after the binary: the verb, then its arguments
}

// flagSpec is one flag as --help lists it.
type flagSpec struct {
	takesValue bool // `--name NAME`; not `--explain[=true|false]`
}

// verbHelp is what one `VERB --help` says.
type verbHelp struct {
	flags    map[string]flagSpec // "--memory", "-m"
	subverbs map[string]bool     // "import" for image
}

// stepCalls returns the calls of ./bin in the console blocks of the
// README's "Step by step" section; a README without one has none.
func stepCalls(md []byte, bin string) ([]binCall, error) {
	sec, ok := findSection(readmeSections(md), "Step by step")
	if !ok {
		return nil, nil
	}
	var calls []binCall
	inConsole, fenced := false, false
	for i := 0; i < len(sec.Body); i++ {
		l, n := sec.Body[i], sec.Line+1+i
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "```") {
			if !fenced {
				info := strings.TrimSpace(strings.TrimPrefix(t, "```"))
				inConsole = info == "console" || info == ""
			} else {
				inConsole = false
			}
			fenced = !fenced
			continue
		}
		if !inConsole || !strings.HasPrefix(l, "$ ") {
			continue
		}
		cmd := l[2:]
		for strings.HasSuffix(cmd, `\`) && i+1 < len(sec.Body) {
			i++
			cmd = strings.TrimSuffix(cmd, `\`) + " " + sec.Body[i]
		}
		for _, c := range findCalls(cmd, bin) {
			calls = append(calls, binCall{Line: n, Words: c})
		}
	}
	if fenced {
		return nil, errors.New("Step by step: a code block is not closed")
	}
	return calls, nil
}

// findCalls returns, for each ./bin among the commands of one line, the
// words that follow it up to the end of its command.
func findCalls(line, bin string) [][]string {
	var calls [][]string
	for _, cmd := range shellCommands(line) {
		for i, w := range cmd {
			if w == "./"+bin {
				calls = append(calls, cmd[i+1:])
			}
		}
	}
	return calls
}

// shellCommands splits a command line into its simple commands, each a
// list of words with their quotes removed. It is not a shell: enough to
// read the flags of a README's commands.
func shellCommands(line string) [][]string {
	var cmds [][]string
	var words []string
	var w strings.Builder
	inWord := false
	endWord := func() {
		if inWord {
			words = append(words, w.String())
			w.Reset()
			inWord = false
		}
	}
	endCmd := func() {
		endWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
			words = nil
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			endWord()
		case strings.IndexByte("|;&()<>`", c) >= 0:
			endCmd()
		case c == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
			inWord = true
		case c == '\'' || c == '"':
			end := strings.IndexByte(line[i+1:], c)
			if end < 0 {
				end = len(line) - i - 1
			}
			w.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '#' && !inWord:
			endCmd()
			return cmds
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	endCmd()
	return cmds
}

var (
	helpFlagLine  = regexp.MustCompile(`^ +(?:-([A-Za-z0-9]), )?--([A-Za-z0-9][A-Za-z0-9-]*)(\[=[^\]]*\])?( [^ ]+)?(?: {2,}|$)`)
	helpFlagsHead = regexp.MustCompile(`^flags\b.*:$`)
)

// parseHelp reads the output of `bin VERB --help`.
func parseHelp(help, bin, verb string) verbHelp {
	h := verbHelp{flags: map[string]flagSpec{}, subverbs: map[string]bool{}}
	lines := splitLines(help)
	inFlags := false
	for _, l := range lines {
		switch {
		case helpFlagsHead.MatchString(strings.TrimSpace(l)) && !strings.HasPrefix(l, " "):
			inFlags = true
		case strings.TrimSpace(l) == "" || !strings.HasPrefix(l, " "):
			inFlags = false
		case inFlags:
			m := helpFlagLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			spec := flagSpec{takesValue: m[3] == "" && m[4] != ""}
			h.flags["--"+m[2]] = spec
			if m[1] != "" {
				h.flags["-"+m[1]] = spec
			}
		}
	}
	// The usage line: "usage: bin image import ..." names `import`.
	for _, l := range lines {
		if !strings.HasPrefix(l, "usage:") {
			continue
		}
		sub := regexp.MustCompile(`(?:^|[ |])` + regexp.QuoteMeta(verb) + ` ([a-z][a-z0-9-]*)\b`)
		for _, m := range sub.FindAllStringSubmatch(strings.TrimPrefix(l, "usage: "+bin), -1) {
			h.subverbs[m[1]] = true
		}
		break
	}
	return h
}

// checkCallFlags returns a problem for each flag of c that h does not list.
func checkCallFlags(c binCall, bin string, h verbHelp) []string {
	words := c.Words[1:]
	if len(words) > 0 && h.subverbs[words[0]] {
		words = words[1:]
	}
	var problems []string
	bad := func(flag string) {
		verb := strings.Join(c.Words[:len(c.Words)-len(words)], " ")
		problems = append(problems, fmt.Sprintf("README.md:%d: ./%s %s: flag %s is not among the flags that `./%s %s --help` lists",
			c.Line, bin, verb, flag, bin, c.Words[0]))
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "--" || !strings.HasPrefix(w, "-") || w == "-" {
			break
		}
		if strings.HasPrefix(w, "--") {
			name, _, hasValue := strings.Cut(w, "=")
			spec, ok := h.flags[name]
			switch {
			case name == "--help":
			case !ok:
				bad(name)
			case spec.takesValue && !hasValue:
				i++ // its value
			}
			continue
		}
		for j := 1; j < len(w); j++ { // -a, -ab, -m64m, -m 64m
			name := "-" + w[j:j+1]
			spec, ok := h.flags[name]
			if !ok {
				if name != "-h" {
					bad(name)
				}
				break
			}
			if spec.takesValue {
				if j == len(w)-1 {
					i++ // its value is the next word
				}
				break // the rest of the word is its value
			}
		}
	}
	return problems
}

// checkTranscriptFlags checks every call's flags against what help (the
// output of `bin VERB --help`) says, asking once per verb.
func checkTranscriptFlags(calls []binCall, bin string, help func(verb string) (string, error)) []string {
	helps := map[string]verbHelp{}
	failed := map[string]bool{}
	var problems []string
	for _, c := range calls {
		if len(c.Words) == 0 {
			problems = append(problems, fmt.Sprintf("README.md:%d: ./%s with no verb", c.Line, bin))
			continue
		}
		verb := c.Words[0]
		if verb == "--help" || verb == "-h" || verb == "help" {
			continue
		}
		if failed[verb] {
			continue
		}
		h, ok := helps[verb]
		if !ok {
			out, err := help(verb)
			if err != nil {
				failed[verb] = true
				problems = append(problems, fmt.Sprintf("README.md:%d: ./%s %s --help: %v", c.Line, bin, verb, err))
				continue
			}
			h = parseHelp(out, bin, verb)
			helps[verb] = h
		}
		problems = append(problems, checkCallFlags(c, bin, h)...)
	}
	return problems
}

// runHelp runs `bin VERB --help` and returns what it printed, stdout and
// stderr together (stages 01 and 02 print their usage on stderr); it
// must exit 0.
func runHelp(binPath, verb string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), walkthroughTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, verb, "--help")
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%v (VERB --help must list the flags and exit 0)\n%s", err, strings.Join(tail(splitLines(out.String()), tailLines), "\n"))
	}
	return out.String(), nil
}

// proveTranscriptFlags is the check of the walkthrough row: the flags of
// "Step by step", against the stage binary built at binPath.
func proveTranscriptFlags(p *prover, md []byte, bin, binPath string) {
	calls, err := stepCalls(md, bin)
	if err == nil {
		if problems := checkTranscriptFlags(calls, bin, func(verb string) (string, error) { return runHelp(binPath, verb) }); len(problems) > 0 {
			err = errors.New(strings.Join(problems, "\n"))
		}
	}
	p.check(fmt.Sprintf("Step by step: %d calls of ./%s use only the flags VERB --help lists", len(calls), bin), err)
}
