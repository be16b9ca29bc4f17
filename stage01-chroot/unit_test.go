package main

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRun(t *testing.T) {
	dir := t.TempDir()
	o, err := parseRunArgs([]string{"--explain", dir, "sh", "-c", "ls -l"})
	require.NoError(t, err)
	assert.True(t, o.explain)
	assert.Equal(t, dir, o.rootfs)
	assert.Equal(t, []string{"sh", "-c", "ls -l"}, o.command, "flags after ROOTFS belong to the command")

	o, err = parseRunArgs([]string{dir})
	require.NoError(t, err)
	assert.Equal(t, []string{"/bin/sh"}, o.command)

	_, err = parseRunArgs(nil)
	assert.ErrorContains(t, err, "missing ROOTFS")
	_, err = parseRunArgs([]string{"--bogus", dir})
	assert.ErrorContains(t, err, "unknown flag")
}

// FuzzParseRun feeds argument lists (NUL-separated) to the parser: it must
// never panic, and whatever it accepts names a rootfs and a command.
func FuzzParseRun(f *testing.F) {
	f.Add("--explain\x00/tmp\x00sh\x00-c\x00ls")
	f.Add("")
	f.Add("--\x00-x")
	f.Add("/rootfs\x00--explain")
	f.Fuzz(func(t *testing.T, joined string) {
		args := splitNUL(joined)
		o, err := parseRunArgs(args)
		if err != nil {
			return
		}
		if len(o.command) == 0 {
			t.Fatalf("no command from %q", args)
		}
		// The default command is not among args: check the rest only when
		// the user named one.
		if o.command[0] != "/bin/sh" && o.rootfs != args[len(args)-len(o.command)-1] {
			t.Fatalf("rootfs %q is not the argument before the command in %q", o.rootfs, args)
		}
	})
}

func splitNUL(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func TestExitCodeOf(t *testing.T) {
	assert.Equal(t, 0, exitCodeOf(nil))
	assert.Equal(t, 3, exitCodeOf(exec.Command("sh", "-c", "exit 3").Run()))
	assert.Equal(t, 128+9, exitCodeOf(exec.Command("sh", "-c", "kill -9 $$").Run()))
	assert.Equal(t, 125, exitCodeOf(exec.Command("/no/such/binary").Run()))
}
