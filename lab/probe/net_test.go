package main

import (
	"encoding/binary"
	"testing"
)

const sampleRoutes = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
	"eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
	"eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
	"bx0\t0010A8C0\t00000000\t0001\t0\t0\t0\t00F0FFFF\t0\t0\t0\n"

func TestParseRoutes(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the sample is in little-endian host order")
	}
	routes, err := parseRoutes(sampleRoutes)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"0.0.0.0/0 10.0.0.1 eth0",
		"10.0.0.0/24 0.0.0.0 eth0",
		"192.168.16.0/20 0.0.0.0 bx0",
	}
	if len(routes) != len(want) {
		t.Fatalf("got %d routes, want %d", len(routes), len(want))
	}
	for i, r := range routes {
		if got := r.dest.String() + " " + r.gateway.String() + " " + r.iface; got != want[i] {
			t.Errorf("route %d = %q, want %q", i, got, want[i])
		}
	}
}

func TestParseRoutesHeaderOnly(t *testing.T) {
	routes, err := parseRoutes("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n")
	if err != nil || len(routes) != 0 {
		t.Errorf("parseRoutes(header only) = %v, %v; want no routes", routes, err)
	}
}

func TestParseRoutesRejectsBadHex(t *testing.T) {
	for _, line := range []string{
		"eth0\tZZ000000\t00000000\t0001\t0\t0\t0\t00FFFFFF\n",
		"eth0\t0000000A\t00000000\t0001\t0\t0\t0\n",
		"eth0\t0000000A\t1234567890\t0001\t0\t0\t0\t00FFFFFF\n",
	} {
		if _, err := parseRoutes("header\n" + line); err == nil {
			t.Errorf("parseRoutes(%q): no error", line)
		}
	}
}

func FuzzParseRoutes(f *testing.F) {
	f.Add(sampleRoutes)
	f.Fuzz(func(t *testing.T, text string) {
		routes, err := parseRoutes(text)
		if err != nil {
			return
		}
		for _, r := range routes {
			if len(r.dest.IP) != 4 || len(r.gateway) != 4 || len(r.dest.Mask) != 4 {
				t.Errorf("parseRoutes(%q): bad route %+v", text, r)
			}
		}
	})
}
