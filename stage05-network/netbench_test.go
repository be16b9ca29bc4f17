package main

import (
	"net/netip"
	"testing"
	"time"
)

// BenchmarkAttachDetach is one bridge-mode container's network, alone:
// the lease, the bridge and the table created, the veth pair made, moved
// and configured, a published port, then all of it removed again.
func BenchmarkAttachDetach(b *testing.B) {
	benchAttach(b, false)
}

// BenchmarkAttachDetachBusy is the same with another container attached,
// so the bridge and the table already exist and stay: the usual case.
func BenchmarkAttachDetachBusy(b *testing.B) {
	benchAttach(b, true)
}

func benchAttach(b *testing.B, neighbour bool) {
	tb := newTestbed(b)
	if neighbour {
		tb.attachNew(b, "9000:80")
	}
	target := newNetns(b)
	ports := []portSpec{mustPort(b, "8080:80")}
	var attach, detach time.Duration
	for b.Loop() {
		id := testID()
		t0 := time.Now()
		if _, err := tb.net.attach(id, target, netip.Addr{}, ports); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := tb.net.detach(id); err != nil {
			b.Fatal(err)
		}
		attach, detach = attach+t1.Sub(t0), detach+time.Since(t1)
	}
	// Where the time goes: reported, never asserted.
	b.ReportMetric(float64(attach.Microseconds())/float64(b.N), "attach-µs/op")
	b.ReportMetric(float64(detach.Microseconds())/float64(b.N), "detach-µs/op")
}
