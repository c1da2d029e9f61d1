package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/teamgw/teamgw/control"
)

func TestLineRateOf64ByteFramesOn10G(t *testing.T) {
	if got := LineRate(10000, 60); math.Abs(got-14.880952e6) > 1 {
		t.Errorf("10G, 64-byte frames: %v pps, want 14.88 Mpps", got)
	}
	if got, want := LineRate(10000, 40), LineRate(10000, 60); got != want {
		t.Errorf("runts are padded: %v != %v", got, want)
	}
	if got := LineRate(25000, 1514); math.Abs(got-25e9/(1538*8)) > 1 {
		t.Errorf("25G, 1514-byte frames: %v", got)
	}
}

func TestRatesOverAnInterval(t *testing.T) {
	status := func(rx, tx, kernel, missed, steps, idle, pkts uint64) *control.Status {
		m := control.MemberStatus{Name: "0000:03:00.0", SpeedMb: 10000}
		m.Counters = control.PortCounters{RxPackets: rx, RxBytes: rx * 60, TxPackets: tx, TxBytes: tx * 60}
		m.NIC.RxMissed = missed
		team := control.TeamStatus{Name: "team0", Members: []control.MemberStatus{m}}
		team.Kernel = control.PortCounters{RxPackets: kernel, TxPackets: rx}
		return &control.Status{Teams: []control.TeamStatus{team},
			Workers: []control.WorkerInfo{{Core: 2, Steps: steps, IdleSteps: idle, Packets: pkts}}}
	}
	a := status(0, 0, 0, 5, 1000, 1000, 0)
	b := status(14_880_952, 7_440_476, 100, 15, 3000, 1500, 22_321_428)
	s := Rates(a, b, time.Second)
	if len(s.Ports) != 2 || len(s.Workers) != 1 {
		t.Fatalf("%+v", s)
	}
	p := s.Ports[0]
	if math.Abs(p.RxOfLine-1) > 1e-6 || math.Abs(p.TxOfLine-0.5) > 1e-6 || p.FrameBytes != 60 || p.Missed != 10 {
		t.Errorf("member: %+v", p)
	}
	if k := s.Ports[1]; k.Name != "(kernel)" || k.RxMpps != 0.0001 {
		t.Errorf("kernel side: %+v", k)
	}
	if w := s.Workers[0]; w.Busy != 0.75 || math.Abs(w.Mpps-22.321428) > 1e-6 {
		t.Errorf("worker: %+v", w)
	}
	var out bytes.Buffer
	WriteTable(&out, s)
	if !strings.Contains(out.String(), "| team0 | 0000:03:00.0 | 10000 Mb/s | 14.881 | 7.440 | 60 B | 100.0% | 50.0% | 10 |") {
		t.Errorf("table:\n%s", out.String())
	}
}
