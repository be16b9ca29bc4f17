package main

import (
	"errors"
	"reflect"
	"syscall"
	"testing"
)

func TestParseFlags(t *testing.T) {
	cases := []struct {
		args    []string
		pos     []string
		set     map[string]string
		isUsage bool
	}{
		{[]string{"8080"}, []string{"8080"}, map[string]string{}, false},
		{[]string{"--udp", "8080", "--count", "3"}, []string{"8080"}, map[string]string{"udp": "true", "count": "3"}, false},
		{[]string{"8080", "--count=0"}, []string{"8080"}, map[string]string{"count": "0"}, false},
		{[]string{"--", "--udp"}, []string{"--udp"}, map[string]string{}, false},
		{[]string{"--count"}, nil, nil, true},
		{[]string{"--udp=yes"}, nil, nil, true},
		{[]string{"--verbose"}, nil, nil, true},
	}
	for _, c := range cases {
		pos, set, err := parseFlags(c.args, []string{"udp"}, []string{"count"})
		var ue usageError
		if c.isUsage {
			if !errors.As(err, &ue) {
				t.Errorf("parseFlags(%q): err = %v, want a usage error", c.args, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(pos, c.pos) || !reflect.DeepEqual(set, c.set) {
			t.Errorf("parseFlags(%q) = %q, %v, %v; want %q, %v", c.args, pos, set, err, c.pos, c.set)
		}
	}
}

func TestOneLine(t *testing.T) {
	cases := map[string]string{
		"max\n":         "max",
		"a\nb\n":        "a;b",
		"0::/\n\n":      "0::/",
		"no newline":    "no newline",
		"1 2\n3 4\n5 6": "1 2;3 4;5 6",
	}
	for in, want := range cases {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseSignal(t *testing.T) {
	cases := map[string]syscall.Signal{
		"9": syscall.SIGKILL, "KILL": syscall.SIGKILL, "SIGKILL": syscall.SIGKILL,
		"term": syscall.SIGTERM, "SIGUSR1": syscall.SIGUSR1, "15": syscall.SIGTERM,
	}
	for in, want := range cases {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "NOPE", "SIG", "99"} {
		if _, err := parseSignal(bad); err == nil {
			t.Errorf("parseSignal(%q): no error", bad)
		}
	}
}

func TestParseIPCKey(t *testing.T) {
	cases := map[string]int32{"0": 0, "1234": 1234, "0x10": 16, "4294967295": -1, "-1": -1}
	for in, want := range cases {
		if got, err := parseIPCKey(in); err != nil || got != want {
			t.Errorf("parseIPCKey(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "4294967296", "-2147483649"} {
		if _, err := parseIPCKey(bad); err == nil {
			t.Errorf("parseIPCKey(%q): no error", bad)
		}
	}
}
