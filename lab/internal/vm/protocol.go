package vm

// The results channel: what the guest's init writes on its second serial
// port, and how the host reads it. Lines starting with Marker frame the
// output of the test binaries, which is test2json's JSON events:
//
//	@@boxlab-vm header TEXT          facts about the guest (kernel, cgroups)
//	@@boxlab-vm fatal TEXT           the guest could not be set up
//	@@boxlab-vm begin MODULE PATH    a module's tests start
//	@@boxlab-vm package IMPORTPATH   one test binary starts
//	{"Time":...,"Action":"run",...}  test2json events of that binary
//	@@boxlab-vm exit IMPORTPATH CODE the binary exited with CODE
//	@@boxlab-vm end MODULE           the module's tests are over
//	@@boxlab-vm done                 every module ran; the guest powers off

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"strings"
)

// Sink receives what ReadResults reads, in order.
type Sink interface {
	Header(text string)
	Fatal(text string)
	Begin(module, path string)
	Package(importPath string)
	Output(line []byte) // any line that is not a marker: test2json events, mostly
	Exit(importPath string, code int)
	End(module string)
	Done()
}

// ReadResults reads the results channel until r ends. Carriage returns are
// dropped, in case the tty was not in raw mode. A marker it does not know
// (or a malformed one) goes to Output, where it shows up as stray output
// instead of vanishing.
func ReadResults(r io.Reader, s Sink) error {
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := br.ReadBytes('\n')
		line = bytes.TrimRight(line, "\r\n")
		if len(line) > 0 {
			dispatch(line, s)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func dispatch(line []byte, s Sink) {
	rest, ok := bytes.CutPrefix(line, []byte(Marker+" "))
	if !ok {
		s.Output(line)
		return
	}
	kind, args, _ := strings.Cut(string(rest), " ")
	f := strings.Fields(args)
	switch {
	case kind == "header":
		s.Header(args)
	case kind == "fatal":
		s.Fatal(args)
	case kind == "begin" && len(f) == 2:
		s.Begin(f[0], f[1])
	case kind == "package" && len(f) == 1:
		s.Package(f[0])
	case kind == "exit" && len(f) == 2:
		code, err := strconv.Atoi(f[1])
		if err != nil {
			s.Output(line)
			return
		}
		s.Exit(f[0], code)
	case kind == "end" && len(f) == 1:
		s.End(f[0])
	case kind == "done" && len(f) == 0:
		s.Done()
	default:
		s.Output(line)
	}
}
