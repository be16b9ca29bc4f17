package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What pflag prints for a verb: the shapes parseHelp must read.
const runHelpText = `usage: stage run [flags] ROOTFS [CMD [ARG...]]
       stage stats|pause|resume NAME

run:    runs CMD
        --not-a-flag in prose is not listed

flags of run:
      --explain[=true|false]   print each kernel-level step
      --hostname string        the container's host name
  -m, --memory SIZE            the most memory it may use
      --memory-swap SIZE       memory plus swap, or -1
      --rm                     remove it when it ends
  -a, --attach[=true|false]    a short bool
`

const imageHelpText = `usage: stage image import [--explain] [--max-size SIZE] FILE [NAME[:TAG]]

imports a tarball

flags:
      --explain[=true|false]   print each kernel-level step
      --max-size SIZE          write at most SIZE
`

const volumeHelpText = "usage: stage volume ls | volume rm NAME...\n\nlists or removes\n\nflags:\n      --explain[=true|false]   explain\n"

func TestParseHelp(t *testing.T) {
	h := parseHelp(runHelpText, "stage", "run")
	assert.Equal(t, map[string]flagSpec{
		"--explain": {}, "--hostname": {takesValue: true}, "--memory": {takesValue: true}, "-m": {takesValue: true},
		"--memory-swap": {takesValue: true}, "--rm": {}, "--attach": {}, "-a": {},
	}, h.flags)
	assert.Empty(t, h.subverbs, "[flags] is no sub-verb")

	h = parseHelp(imageHelpText, "stage", "image")
	assert.Equal(t, map[string]bool{"import": true}, h.subverbs)
	assert.Equal(t, flagSpec{takesValue: true}, h.flags["--max-size"])

	h = parseHelp(volumeHelpText, "stage", "volume")
	assert.Equal(t, map[string]bool{"ls": true, "rm": true}, h.subverbs)
	assert.Contains(t, h.flags, "--explain")

	h = parseHelp("usage: stage tag IMAGE NAME[:TAG]\n\nnames it\n", "stage", "tag")
	assert.Empty(t, h.subverbs)
	assert.Empty(t, h.flags)
}

func TestShellCommands(t *testing.T) {
	for _, c := range []struct {
		line string
		want [][]string
	}{
		{`sudo ./stage run -m 64m $ROOTFS sh -c 'ls -l; echo x'`, [][]string{{"sudo", "./stage", "run", "-m", "64m", "$ROOTFS", "sh", "-c", "ls -l; echo x"}}},
		{`M=$(sudo ./stage inspect web | sed -n "s/x/y/p")`, [][]string{{"M=$"}, {"sudo", "./stage", "inspect", "web"}, {"sed", "-n", "s/x/y/p"}}},
		{`./stage run $R true; echo $?`, [][]string{{"./stage", "run", "$R", "true"}, {"echo", "$?"}}},
		{`./stage run a b & # in the background`, [][]string{{"./stage", "run", "a", "b"}}},
		{`./stage run --hostname "a b" x 2>&1`, [][]string{{"./stage", "run", "--hostname", "a b", "x", "2"}, {"1"}}},
		{`echo a\ b`, [][]string{{"echo", "a b"}}},
	} {
		assert.Equal(t, c.want, shellCommands(c.line), c.line)
	}
}

const stepsReadme = "# S\n\n## How to check your work\n\n```console\n$ ./stage run --nope x\n```\n\n" +
	"## Step by step\n\n" +
	"```console\n" +
	"$ sudo ./stage run -m 64m --memory-swap -1 --hostname box $ROOTFS sh -c './stage run --inside-quotes'\n" + // line 12
	"output --not-a-command\n" +
	"$ $H ./stage run --rm -m64m -am 1g -x --bogus $ROOTFS\n" + // 20
	"$ sudo ./stage image import --max-size 1g --wrong f.tar; ./stage images --explain=true | head\n" + // 15
	"$ sudo ./stage run --explain \\\n" + // 14
	"    --hostnam x $ROOTFS\n" +
	"$ ./stage run $ROOTFS --after-the-rootfs -- --after-dashes\n" + // 16
	"$ ./stage --help; ./stage run -h; ./stage volume rm --explain v\n" + // 19
	"$ pgrep -f 'stage run --name web'; ./stage-other run --zzz; ./stage\n" + // 18
	"```\n\n" +
	"```sh\n$ ./stage run --not-console x\n```\n\n" +
	"```\n$ ./stage run --no-language x\n```\n\n" + // 28
	"## Exercises\n\n```console\n$ ./stage run --later x\n```\n"

func TestStepCalls(t *testing.T) {
	calls, err := stepCalls([]byte(stepsReadme), "stage")
	require.NoError(t, err)
	var lines []int
	for _, c := range calls {
		lines = append(lines, c.Line)
	}
	assert.Equal(t, []int{12, 14, 15, 15, 16, 18, 19, 19, 19, 20, 28}, lines)
	assert.Equal(t, []string{"run", "--explain", "--hostnam", "x", "$ROOTFS"}, calls[4].Words, "a continued line")

	none, err := stepCalls([]byte("# S\n\n## Try it\n\n```console\n$ ./stage run --x y\n```\n"), "stage")
	require.NoError(t, err)
	assert.Empty(t, none, "no Step by step section")
	_, err = stepCalls([]byte("## Step by step\n\n```console\n$ ./stage run x\n"), "stage")
	assert.ErrorContains(t, err, "not closed")
}

func TestCheckTranscriptFlags(t *testing.T) {
	calls, err := stepCalls([]byte(stepsReadme), "stage")
	require.NoError(t, err)
	asked := map[string]int{}
	help := func(verb string) (string, error) {
		asked[verb]++
		switch verb {
		case "run":
			return runHelpText, nil
		case "image":
			return imageHelpText, nil
		case "volume":
			return volumeHelpText, nil
		case "images":
			return "usage: stage images\n\nflags:\n      --explain[=true|false]   x\n", nil
		}
		return "", errors.New("exit status 125")
	}
	problems := checkTranscriptFlags(calls, "stage", help)
	assert.Equal(t, []string{
		"README.md:14: ./stage run: flag -x is not among the flags that `./stage run --help` lists",
		"README.md:14: ./stage run: flag --bogus is not among the flags that `./stage run --help` lists",
		"README.md:15: ./stage image import: flag --wrong is not among the flags that `./stage image --help` lists",
		"README.md:16: ./stage run: flag --hostnam is not among the flags that `./stage run --help` lists",
		"README.md:20: ./stage with no verb",
		"README.md:28: ./stage run: flag --no-language is not among the flags that `./stage run --help` lists",
	}, problems)
	assert.Equal(t, map[string]int{"run": 1, "image": 1, "images": 1, "volume": 1}, asked, "--help is asked once per verb")

	// A verb whose --help fails is one problem, however often it is used.
	calls = []binCall{{Line: 3, Words: []string{"nosuch", "-x"}}, {Line: 4, Words: []string{"nosuch"}}}
	problems = checkTranscriptFlags(calls, "stage", help)
	require.Len(t, problems, 1)
	assert.True(t, strings.HasPrefix(problems[0], "README.md:3: ./stage nosuch --help: exit status 125"), problems[0])
}
