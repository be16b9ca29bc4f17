package vm

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a Sink that writes down every call.
type recorder struct{ calls []string }

func (r *recorder) Header(s string)         { r.add("header", s) }
func (r *recorder) Fatal(s string)          { r.add("fatal", s) }
func (r *recorder) Begin(m, p string)       { r.add("begin", m, p) }
func (r *recorder) Package(p string)        { r.add("package", p) }
func (r *recorder) Output(l []byte)         { r.add("output", string(l)) }
func (r *recorder) Exit(p string, code int) { r.add("exit", p, fmt.Sprint(code)) }
func (r *recorder) End(m string)            { r.add("end", m) }
func (r *recorder) Done()                   { r.add("done") }
func (r *recorder) add(s ...string)         { r.calls = append(r.calls, strings.Join(s, "|")) }

func TestReadResults(t *testing.T) {
	stream := strings.Join([]string{
		"@@boxlab-vm header cgroup.controllers: cpuset cpu io memory pids",
		"@@boxlab-vm begin stage01-chroot boxlab/stage01-chroot\r",
		"@@boxlab-vm package boxlab/stage01-chroot",
		`{"Action":"run","Package":"boxlab/stage01-chroot","Test":"TestA"}`,
		"",
		"not json: test2json could not start the binary",
		"@@boxlab-vm exit boxlab/stage01-chroot 1",
		"@@boxlab-vm exit boxlab/stage01-chroot one", // malformed: kept as output
		"@@boxlab-vm launch rockets",                 // unknown: kept as output
		"@@boxlab-vmheader no space",                 // not a marker
		"@@boxlab-vm end stage01-chroot",
		"@@boxlab-vm fatal cgroup2 is not mounted at /sys/fs/cgroup",
		"@@boxlab-vm done",
	}, "\n") // no newline after the last line
	var r recorder
	require.NoError(t, ReadResults(strings.NewReader(stream), &r))
	assert.Equal(t, []string{
		"header|cgroup.controllers: cpuset cpu io memory pids",
		"begin|stage01-chroot|boxlab/stage01-chroot",
		"package|boxlab/stage01-chroot",
		`output|{"Action":"run","Package":"boxlab/stage01-chroot","Test":"TestA"}`,
		"output|not json: test2json could not start the binary",
		"exit|boxlab/stage01-chroot|1",
		"output|@@boxlab-vm exit boxlab/stage01-chroot one",
		"output|@@boxlab-vm launch rockets",
		"output|@@boxlab-vmheader no space",
		"end|stage01-chroot",
		"fatal|cgroup2 is not mounted at /sys/fs/cgroup",
		"done",
	}, r.calls)
}

// What the guest's say() prints is what the host reads.
func TestFormatMarker(t *testing.T) {
	var r recorder
	line := FormatMarker("begin", "stage02-namespaces", "boxlab/stage02-namespaces")
	assert.Equal(t, "@@boxlab-vm begin stage02-namespaces boxlab/stage02-namespaces", line)
	require.NoError(t, ReadResults(strings.NewReader(line+"\n"+FormatMarker("done")+"\n"), &r))
	assert.Equal(t, []string{"begin|stage02-namespaces|boxlab/stage02-namespaces", "done"}, r.calls)
}
