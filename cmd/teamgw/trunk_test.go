package main

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/teamgw/teamgw/perf/lab"
)

// TestTrunkAgainstOVSStaticBond runs a trunk team against a real static
// link aggregation: an Open vSwitch bond with lacp=off (userspace
// datapath). Traffic flows both ways, both members transmit, and cutting
// a member moves its flows without stopping the stream.
func TestTrunkAgainstOVSStaticBond(t *testing.T) {
	l := newLab(t, 2, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var ovsLog bytes.Buffer
	ovs, err := l.StartOVS(ctx, lab.BondMode{Mode: "balance-slb", LACP: "off"}, &syncWriter{w: &ovsLog})
	if err != nil {
		t.Fatalf("%v\n%s", err, ovsLog.String())
	}
	var logb bytes.Buffer
	g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{Mode: "trunk", FallbackDelay: "100ms"}), &syncWriter{w: &logb})
	if err != nil {
		t.Fatalf("%v\n%s", err, logb.String())
	}
	defer g.Stop()
	defer func() {
		if t.Failed() {
			show, _ := ovs.Appctl(context.Background(), "bond/show")
			t.Logf("teamgw log:\n%s\nbond/show:\n%s", logb.String(), show)
		}
	}()
	for j := range l.Clients {
		if out, err := l.Exec(ctx, l.Clients[j], "ping", "-c", "3", "-i", "0.2", "-W", "2", l.Spec.TeamIP.String()); err != nil {
			t.Fatalf("ping from client %d through the OVS bond: %v\n%s", j, err, out)
		}
	}
	if show, err := ovs.Appctl(ctx, "bond/show"); err != nil || !strings.Contains(show, "bond_mode: balance-slb") {
		t.Fatalf("bond/show: %v\n%s", err, show)
	}

	team := netip.AddrPortFrom(l.Spec.TeamIP, 7)
	stopEcho, err := l.StartEcho(l.GW, team)
	if err != nil {
		t.Fatal(err)
	}
	defer stopEcho()
	var streams []*lab.Stream
	for j := range l.Clients {
		s, err := l.StartStream(l.Clients[j], team, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	waitFor(t, "the streams to flow", func() bool { return streams[0].Received() > 100 && streams[1].Received() > 100 })
	s, err := g.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range s.Teams[0].Members {
		if m.Buckets == 0 {
			t.Errorf("member %s has no buckets: %+v", m.Name, s.Teams[0].Members)
		}
	}
	if err := l.CutMember(0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "member 0's buckets to move", func() bool {
		s, err := g.Status()
		return err == nil && s.Teams[0].Members[0].Buckets == 0
	})
	before := [2]uint64{streams[0].Received(), streams[1].Received()}
	waitFor(t, "the streams to go on over member 1", func() bool {
		return streams[0].Received() > before[0]+200 && streams[1].Received() > before[1]+200
	})
	for j, st := range streams {
		r := st.Stop()
		t.Logf("client %d: %d of %d lost across the cut, longest gap %v", j, r.Lost, r.Sent, r.MaxGap)
		if r.MaxGap > time.Second {
			t.Errorf("client %d: traffic stopped for %v", j, r.MaxGap)
		}
	}
}
