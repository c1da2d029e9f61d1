package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/teamgw/teamgw/perf/lab"
)

// TestSLBSpreadsFlowsAndSurvivesCuts runs an SLB team with both members
// active: many TCP connections from the gateway to two clients spread over
// both members (each member's counters move), and cutting first the
// non-path member, then after its return the path member, keeps every
// connection alive.
func TestSLBSpreadsFlowsAndSurvivesCuts(t *testing.T) {
	l := newLab(t, 2, 2)
	var logb bytes.Buffer
	logw := &syncWriter{w: &logb}
	defer func() {
		if t.Failed() {
			t.Logf("teamgw log:\n%s", logb.String())
		}
	}()
	g, err := l.StartTeamgw(context.Background(), teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{FallbackDelay: "100ms"}), logw)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()

	// An echo server in each client.
	for j, ns := range l.Clients {
		tcpEcho(t, l, ns, net.JoinHostPort(l.ClientIP(j).String(), "7000"))
	}
	// 32 connections from the gateway's kernel, through the team.
	var conns []net.Conn
	for i := range 32 {
		conns = append(conns, dial(t, l, l.GW, net.JoinHostPort(l.ClientIP(i%2).String(), "7000")))
	}
	roundTrips := func(when string) {
		t.Helper()
		for i, c := range conns {
			tcpRoundTrip(t, c, fmt.Sprintf("%s conn %d", when, i))
		}
	}
	roundTrips("before")
	s, err := g.Status()
	if err != nil {
		t.Fatal(err)
	}
	tm := s.Teams[0]
	for _, m := range tm.Members {
		if m.Counters.TxPackets == 0 || m.Buckets == 0 {
			t.Errorf("member %s carried %d packets in %d buckets, want both members busy: %+v", m.Name, m.Counters.TxPackets, m.Buckets, tm.Members)
		}
	}
	t.Logf("before cuts: m0 tx %d pkts (%d buckets), m1 tx %d pkts (%d buckets)",
		tm.Members[0].Counters.TxPackets, tm.Members[0].Buckets, tm.Members[1].Counters.TxPackets, tm.Members[1].Buckets)

	// Cut the non-path member: its buckets move to the path member.
	if err := l.CutMember(1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "m1's buckets to move", func() bool {
		s, err := g.Status()
		return err == nil && s.Teams[0].Members[1].Buckets == 0 && s.Teams[0].Members[0].Buckets == 256
	})
	roundTrips("after cutting m1")

	// Bring it back, then cut the path member: m1 takes the team MAC.
	if err := l.RestoreMember(1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "m1 to get buckets back", func() bool {
		s, err := g.Status()
		return err == nil && s.Teams[0].Members[1].Buckets > 0
	})
	if err := l.CutMember(0); err != nil {
		t.Fatal(err)
	}
	if err := g.WaitActive("net_af_packet1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	roundTrips("after cutting m0")
}

// TestTwoWorkers runs the team with two worker lcores: each polls its own
// queue of every port (af_packet fanout and a two-queue TAP spread the
// flows), and TCP connections in both directions keep working.
func TestTwoWorkers(t *testing.T) {
	l := newLab(t, 2, 1)
	cfg := strings.Replace(l.Config(lab.TeamConfig{}), "[eal]\n", "[eal]\nworker_cores = [0, 1]\n", 1)
	var logb bytes.Buffer
	g, err := l.StartTeamgw(context.Background(), teamgwBin, t.TempDir(), cfg, &syncWriter{w: &logb})
	if err != nil {
		t.Fatalf("%v\n%s", err, logb.String())
	}
	defer g.Stop()
	tcpEcho(t, l, l.Clients[0], net.JoinHostPort(l.ClientIP(0).String(), "7001"))
	for i := range 16 {
		c := dial(t, l, l.GW, net.JoinHostPort(l.ClientIP(0).String(), "7001"))
		tcpRoundTrip(t, c, fmt.Sprintf("conn %d", i))
		c.Close()
	}
	s, err := g.Status()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Workers) != 2 {
		t.Fatalf("%d workers, want 2", len(s.Workers))
	}
	for _, w := range s.Workers {
		t.Logf("worker %d on cpu %d (lcore %d): %d packets in %d vectors", w.ID, w.Core, w.Lcore, w.Packets, w.Vectors)
	}
}

// tcpEcho runs a TCP echo server at addr inside namespace ns until the
// end of the test.
func tcpEcho(t *testing.T, l *lab.Lab, ns, addr string) {
	t.Helper()
	var ln net.Listener
	if err := l.Do(ns, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
}

// dial connects to addr from inside namespace ns.
func dial(t *testing.T, l *lab.Lab, ns, addr string) net.Conn {
	t.Helper()
	var c net.Conn
	if err := l.Do(ns, func() (err error) {
		c, err = net.DialTimeout("tcp", addr, 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
