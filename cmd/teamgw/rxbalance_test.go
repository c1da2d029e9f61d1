package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/teamgw/teamgw/perf/lab"
)

// TestSLBReceiveBalancing runs an SLB team with four clients. teamgw learns
// the clients from the kernel's neighbour table, assigns them to the two
// members and re-points half of them with directed gratuitous ARPs: the
// clients' ARP caches then hold two different MACs for the team IP and
// traffic from the clients arrives on both members. When the second member
// is cut, its clients are re-pointed and keep reaching the team.
func TestSLBReceiveBalancing(t *testing.T) {
	l := newLab(t, 2, 4)
	ctx := context.Background()
	g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{FallbackDelay: "100ms"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	pingAll := func(when string) {
		t.Helper()
		for j, ns := range l.Clients {
			if out, err := l.Exec(ctx, ns, "ping", "-c", "2", "-i", "0.2", "-W", "2", l.Spec.TeamIP.String()); err != nil {
				t.Fatalf("%s: client %d cannot reach the team: %v\n%s", when, j, err, out)
			}
		}
	}
	teamMACs := func() map[string]int {
		macs := map[string]int{}
		for _, ns := range l.Clients {
			out, _ := l.Exec(ctx, ns, "ip", "neigh", "show", l.Spec.TeamIP.String())
			f := strings.Fields(string(out))
			for i := range f {
				if f[i] == "lladdr" && i+1 < len(f) {
					macs[f[i+1]]++
				}
			}
		}
		return macs
	}
	pingAll("before balancing")
	waitFor(t, "clients to be spread over two member MACs", func() bool { return len(teamMACs()) == 2 })
	s0, _ := g.Status()
	pingAll("balanced")
	s1, err := g.Status()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range s1.Teams[0].Members {
		if d := m.Counters.RxPackets - s0.Teams[0].Members[i].Counters.RxPackets; d == 0 {
			t.Errorf("member %s received nothing while four clients pinged: receive load is not balanced", m.Name)
		}
	}
	t.Logf("clients' MACs for the team: %v", teamMACs())
	if out, err := exec.Command(teamctlBin, "-socket", l.Socket(), "clients", "team0").CombinedOutput(); err != nil ||
		clientRows(string(out), "net_af_packet0") != 2 || clientRows(string(out), "net_af_packet1") != 2 {
		t.Errorf("teamctl clients: %v\n%s", err, out)
	}

	if err := l.CutMember(1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every client to be re-pointed to member 0", func() bool { return len(teamMACs()) == 1 })
	pingAll("after cutting member 1")
	if macs := teamMACs(); macs[s1.Teams[0].MAC] != len(l.Clients) {
		t.Errorf("clients' MACs %v, want all on the team MAC %s", macs, s1.Teams[0].MAC)
	}
}

// clientRows counts the client rows of teamctl clients output that name
// member.
func clientRows(out, member string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && strings.HasPrefix(f[0], "192.0.2.") && f[2] == member {
			n++
		}
	}
	return n
}

// TestSLBRoutersStayOnThePathMember makes client 0 a router (a route
// through it on the gateway): it is left out of receive balancing and
// keeps the team MAC, while the other clients are spread.
func TestSLBRoutersStayOnThePathMember(t *testing.T) {
	l := newLab(t, 2, 3)
	ctx := context.Background()
	g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	router := l.ClientIP(0).String()
	if out, err := l.Exec(ctx, l.GW, "ip", "route", "add", "198.51.100.0/24", "via", router, "dev", "team0"); err != nil {
		t.Fatalf("route: %v %s", err, out)
	}
	// An HSRP virtual router on the segment: its virtual MAC marks it.
	if out, err := l.Exec(ctx, l.GW, "ip", "neigh", "add", "192.0.2.253", "lladdr", "00:00:0c:07:ac:01", "dev", "team0", "nud", "permanent"); err != nil {
		t.Fatalf("neigh: %v %s", err, out)
	}
	for _, ns := range l.Clients {
		l.Exec(ctx, ns, "ping", "-c", "1", "-W", "2", l.Spec.TeamIP.String())
	}
	waitFor(t, "the gateway and the HSRP router to be shown as routers", func() bool {
		s, err := g.Status()
		if err != nil {
			return false
		}
		kinds := map[string]string{}
		for _, r := range s.Teams[0].Routers {
			kinds[r.IP] = r.Kind
		}
		return kinds[router] == "gateway" && kinds["192.0.2.253"] == "hsrp"
	})
	waitFor(t, "the two other clients to be balanced", func() bool {
		s, err := g.Status()
		if err != nil {
			return false
		}
		per := map[string]int{}
		for _, c := range s.Teams[0].Clients {
			if c.IP == router || c.IP == "192.0.2.253" {
				return false
			}
			per[c.Member]++
		}
		return per["net_af_packet0"] == 1 && per["net_af_packet1"] == 1
	})
	s, _ := g.Status()
	out, _ := l.Exec(ctx, l.Clients[0], "ip", "neigh", "show", l.Spec.TeamIP.String())
	if !strings.Contains(string(out), s.Teams[0].MAC) {
		t.Errorf("the router's cache for the team is %q, want the team MAC %s", out, s.Teams[0].MAC)
	}
}

// TestSLBLearningFrames checks that a member with no clients still keeps
// its MAC in the switch: with no traffic at all, the bridge learns member
// 1's wire MAC on member 1's port from its learning frames.
func TestSLBLearningFrames(t *testing.T) {
	l := newLab(t, 2, 0)
	ctx := context.Background()
	g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{Extra: "learning_interval = \"1s\"\n"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	s, err := g.Status()
	if err != nil {
		t.Fatal(err)
	}
	wire := s.Teams[0].Members[1].WireMAC
	waitFor(t, "learning frames from member 1", func() bool {
		s, err := g.Status()
		return err == nil && s.Teams[0].LearningFrames >= 2
	})
	waitFor(t, "the bridge to learn member 1's MAC on s1", func() bool {
		out, _ := l.Exec(ctx, l.Switch, "bridge", "fdb", "show", "dev", "s1")
		return strings.Contains(string(out), wire)
	})
}

// TestEchoNodeProbes gives the team an echo node (client 0). With every
// path working both members stay active; when the path behind member 1 is
// broken while its link stays up, its probes go unanswered, it is marked
// path-failed and loses its buckets; repaired, it comes back.
func TestEchoNodeProbes(t *testing.T) {
	l := newLab(t, 2, 1)
	ctx := context.Background()
	cfg := l.Config(lab.TeamConfig{FallbackDelay: "100ms", Extra: fmt.Sprintf("echo_node = %q\nprobe_interval = \"200ms\"\n", l.ClientIP(0))})
	g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	state := func(i int) string {
		s, err := g.Status()
		if err != nil {
			return ""
		}
		return s.Teams[0].Members[i].State
	}
	time.Sleep(time.Second) // several probe rounds with working paths
	if st := state(1); st != "active" {
		t.Fatalf("member 1 is %q with a working path, want active", st)
	}
	if err := l.BreakPath(1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "member 1 to be path-failed", func() bool { return state(1) == "path-failed" })
	if st := state(0); st != "active" {
		t.Errorf("member 0 is %q, want active", st)
	}
	if err := l.RepairPath(1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "member 1 to come back", func() bool { return state(1) == "active" })
}
