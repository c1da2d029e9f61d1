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

// TestTAPDeletedByAdministrator deletes the team's interface under a
// running team (ip link del team0): teamgw must notice, create it again
// with the team MAC and addresses behind the same TAP queues, log the
// event, and carry the client's traffic again.
func TestTAPDeletedByAdministrator(t *testing.T) {
	l := newLab(t, 2, 1)
	var logb bytes.Buffer
	g, err := l.StartTeamgw(context.Background(), teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{}), &syncWriter{w: &logb})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	team := netip.AddrPortFrom(l.Spec.TeamIP, 7)
	stopEcho, err := l.StartEcho(l.GW, team)
	if err != nil {
		t.Fatal(err)
	}
	defer stopEcho()
	if out, err := l.Exec(context.Background(), l.GW, "ip", "link", "del", "team0"); err != nil {
		t.Fatalf("ip link del team0: %v %s", err, out)
	}
	deleted := time.Now()
	defer func() {
		if t.Failed() {
			out, _ := l.Exec(context.Background(), l.GW, "ip", "addr")
			t.Logf("log:\n%s\nip addr:\n%s", logb.String(), out)
		}
	}()
	waitFor(t, "team0 to be back with its address", func() bool {
		out, err := l.Exec(context.Background(), l.GW, "ip", "-br", "addr", "show", "team0")
		return err == nil && strings.Contains(string(out), l.Spec.TeamIP.String()+"/24")
	})
	t.Logf("team0 recreated %v after it was deleted", time.Since(deleted).Round(time.Millisecond))
	if out, err := l.Exec(context.Background(), l.Clients[0], "ping", "-c", "3", "-i", "0.2", "-W", "2", l.Spec.TeamIP.String()); err != nil {
		t.Fatalf("the client cannot reach the team after the interface came back: %v\n%s", err, out)
	}
	s, err := l.StartStream(l.Clients[0], team, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "UDP through the recreated interface", func() bool { return s.Received() > 100 })
	s.Stop()
	if !strings.Contains(logb.String(), "recreated") {
		t.Errorf("no event for the recreated interface in the log:\n%s", logb.String())
	}
}

// TestMemberUnpluggedUnderTraffic deletes a member's kernel interface (the
// veth pair, as if the NIC vanished) while a client streams to the team:
// the member goes down, traffic goes on over the other, and teamgw still
// stops cleanly.
func TestMemberUnpluggedUnderTraffic(t *testing.T) {
	l := newLab(t, 2, 1)
	var logb bytes.Buffer
	g, err := l.StartTeamgw(context.Background(), teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{}), &syncWriter{w: &logb})
	if err != nil {
		t.Fatal(err)
	}
	team := netip.AddrPortFrom(l.Spec.TeamIP, 7)
	stopEcho, err := l.StartEcho(l.GW, team)
	if err != nil {
		t.Fatal(err)
	}
	defer stopEcho()
	s, err := l.StartStream(l.Clients[0], team, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stream to flow", func() bool { return s.Received() > 100 })
	if out, err := l.Exec(context.Background(), l.GW, "ip", "link", "del", "m0"); err != nil {
		t.Fatalf("ip link del m0: %v %s", err, out)
	}
	waitFor(t, "member 0 to go down", func() bool {
		st, err := g.Status()
		return err == nil && st.Teams[0].Members[0].State == "down" && st.Teams[0].Active == "net_af_packet1"
	})
	before := s.Received()
	waitFor(t, "the stream to go on over member 1", func() bool { return s.Received() > before+200 })
	r := s.Stop()
	t.Logf("member 0 unplugged: %d of %d lost, longest gap %v", r.Lost, r.Sent, r.MaxGap)
	if err := g.Stop(); err != nil {
		t.Errorf("teamgw did not stop cleanly after losing a member device: %v\n%s", err, logb.String())
	}
}
