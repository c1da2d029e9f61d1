package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teamgw/teamgw/control"
	"github.com/teamgw/teamgw/perf/lab"
)

// teamctl runs teamctl against the lab's teamgw and returns its output;
// a failure ends the test.
func teamctl(t *testing.T, l *lab.Lab, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(teamctlBin, append([]string{"-socket", l.Socket()}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("teamctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// teamctlJSON runs teamctl -json and decodes its output into v.
func teamctlJSON(t *testing.T, l *lab.Lab, v any, args ...string) {
	t.Helper()
	out := teamctl(t, l, append([]string{"-json"}, args...)...)
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("teamctl -json %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// waitTeam polls teamgw until ok accepts team i's status (10 s at most).
func waitTeam(t *testing.T, g *lab.Teamgw, i int, what string, ok func(control.TeamStatus) bool) control.TeamStatus {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := g.Status()
		if err == nil && ok(s.Teams[i]) {
			return s.Teams[i]
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %+v (%v)", what, s, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// activeMembers reports whether the team has want members, all active.
func activeMembers(want int) func(control.TeamStatus) bool {
	return func(st control.TeamStatus) bool {
		if len(st.Members) != want {
			return false
		}
		for _, m := range st.Members {
			if m.State != "active" || m.Buckets == 0 {
				return false
			}
		}
		return true
	}
}

func names(st control.TeamStatus) []string {
	var out []string
	for _, m := range st.Members {
		out = append(out, m.Name)
	}
	return out
}

// withoutMember drops member i's line from a lab config.
func withoutMember(cfg string, i int) string {
	return strings.Replace(cfg, fmt.Sprintf("  \"net_af_packet%d,iface=m%d\",\n", i, i), "", 1)
}

// TestMemberAddRemoveUnderTraffic adds and removes a third member of a
// running team again and again, with teamctl and with reloads, while a
// client streams UDP through the team (one datagram a millisecond). The
// stream's loss is the disturbance a hot add or remove causes on the
// members that stay; it is logged with what the workers took to switch
// ports (make the same measurement with `go test ./cmd/teamgw -run
// TestMemberAddRemoveUnderTraffic -v`). With one worker and with two.
func TestMemberAddRemoveUnderTraffic(t *testing.T) {
	for _, cores := range []string{"", "[0, 1]"} {
		name := "one worker"
		if cores != "" {
			name = "two workers"
		}
		t.Run(name, func(t *testing.T) { memberAddRemoveUnderTraffic(t, cores) })
	}
}

func memberAddRemoveUnderTraffic(t *testing.T, cores string) {
	l := newLab(t, 3, 1)
	full := l.Config(lab.TeamConfig{FallbackDelay: "0"})
	if cores != "" {
		full = strings.Replace(full, "[eal]\n", "[eal]\nworker_cores = "+cores+"\n", 1)
	}
	two := withoutMember(full, 2)
	var logb bytes.Buffer
	dir := t.TempDir()
	g, err := l.StartTeamgw(context.Background(), teamgwBin, dir, two, &syncWriter{w: &logb})
	if err != nil {
		t.Fatalf("%v\n%s", err, logb.String())
	}
	defer func() {
		if err := g.Stop(); err != nil {
			t.Errorf("teamgw did not stop cleanly: %v", err)
		}
		if t.Failed() {
			t.Logf("teamgw log:\n%s", logb.String())
		}
		if left := leftovers(t, l); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	}()
	waitTeam(t, g, 0, "two active members", activeMembers(2))
	stream := echoStream(t, l, 0)

	const m2, dev2 = "net_af_packet2", "net_af_packet2,iface=m2"
	const cycles = 4
	for range cycles {
		var st control.TeamStatus
		teamctlJSON(t, l, &st, "member", "add", "team0", dev2)
		if got := names(st); !slices.Equal(got, []string{"net_af_packet0", "net_af_packet1", m2}) {
			t.Fatalf("teamctl member add printed members %v", got)
		}
		waitTeam(t, g, 0, "three active members", activeMembers(3))
		time.Sleep(100 * time.Millisecond)
		teamctlJSON(t, l, &st, "member", "remove", "team0", m2)
		if got := names(st); !slices.Equal(got, []string{"net_af_packet0", "net_af_packet1"}) {
			t.Fatalf("teamctl member remove printed members %v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The same through the config file.
	path := filepath.Join(dir, l.Prefix+".toml")
	for range cycles {
		var r struct{ Changes []string }
		os.WriteFile(path, []byte(full), 0o644)
		teamctlJSON(t, l, &r, "reload")
		if len(r.Changes) != 1 || !strings.Contains(r.Changes[0], m2+" added") {
			t.Fatalf("reload adding %s: changes %q", m2, r.Changes)
		}
		waitTeam(t, g, 0, "three active members", activeMembers(3))
		time.Sleep(100 * time.Millisecond)
		os.WriteFile(path, []byte(two), 0o644)
		teamctlJSON(t, l, &r, "reload")
		if len(r.Changes) != 1 || !strings.Contains(r.Changes[0], m2+" removed") {
			t.Fatalf("reload removing %s: changes %q", m2, r.Changes)
		}
		time.Sleep(100 * time.Millisecond)
	}
	res := stream.Stop()

	var flows control.FlowTable
	teamctlJSON(t, l, &flows, "flows", "team0")
	busiest := slices.MaxFunc(flows.Buckets, func(a, b control.BucketInfo) int { return int(a.Packets) - int(b.Packets) })
	var events []control.Event
	for _, line := range bytes.Split(bytes.TrimSpace(teamctl(t, l, "-json", "events")), []byte("\n")) {
		var e control.Event
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("teamctl -json events: %v: %s", err, line)
		}
		events = append(events, e)
	}
	var switched []string
	added, removed := 0, 0
	for _, e := range events {
		switch e.ID {
		case control.EventMemberAdded:
			added++
			switched = append(switched, e.Attrs["workers_switched_in"])
		case control.EventMemberRemoved:
			removed++
			switched = append(switched, e.Attrs["workers_switched_in"])
		}
	}
	if added != 2*cycles || removed != 2*cycles {
		t.Errorf("events: %d members added, %d removed; want %d each", added, removed, 2*cycles)
	}
	t.Logf("%d adds and %d removes of %s: %d of %d datagrams lost (1 ms stream), longest gap %v; the stream's reply flow (bucket %d) ended on %s; workers took their new ports in %s",
		added, removed, m2, res.Lost, res.Sent, res.MaxGap, busiest.Bucket, busiest.Member, strings.Join(switched, " "))
	if res.Lost != 0 || res.MaxGap > time.Second {
		t.Errorf("the member changes cost the stream %d datagrams and a %v gap, want none lost", res.Lost, res.MaxGap)
	}
	if out, err := l.Exec(context.Background(), l.GW, "ip", "-o", "link", "show", "m2"); err != nil || strings.Contains(string(out), "NOARP") || strings.Contains(string(out), "PROMISC") {
		t.Errorf("m2 after its removal: %v %s (want its kernel state restored)", err, out)
	}
}

// labBase is a lab config's [eal] and [control] sections, with a pool
// large enough for eight member ports.
func labBase(l *lab.Lab) string {
	cfg := l.Config(lab.TeamConfig{})
	cfg = cfg[:strings.Index(cfg, "[[team]]")]
	return strings.Replace(cfg, "[eal]\n", "[eal]\nmbufs = 32767\n", 1)
}

// TestFourTeams runs four teams of two members in one teamgw, each on
// its own subnet with its own interface and client, with a UDP stream
// through each at once: every team carries its own traffic on its own
// members, without loss.
func TestFourTeams(t *testing.T) {
	l := newLab(t, 8, 1)
	ctx := context.Background()
	// Four interfaces on one switch: the kernel must answer ARP only for
	// the addresses of the interface asked, or a team would answer for
	// another team's address.
	if out, err := l.Exec(ctx, l.GW, "sysctl", "-w", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	cfg := labBase(l)
	ips := []netip.Addr{l.Spec.TeamIP}
	clients := []string{l.Clients[0]}
	for k := range 4 {
		if k > 0 {
			ips = append(ips, netip.AddrFrom4([4]byte{10, 99, byte(k), 1}))
			ns, err := l.AddClient(ctx, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 99, byte(k), 10}), 24))
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, ns)
		}
		cfg += fmt.Sprintf("[[team]]\nname = \"team%d\"\naddress = \"%s/24\"\nmembers = [\"net_af_packet%d,iface=m%d\", \"net_af_packet%d,iface=m%d\"]\n",
			k, ips[k], 2*k, 2*k, 2*k+1, 2*k+1)
	}
	var logb bytes.Buffer
	dir := t.TempDir()
	g, err := l.StartTeamgwWait(ctx, teamgwBin, dir, cfg, &syncWriter{w: &logb}, func(s *control.Status) bool {
		for _, st := range s.Teams {
			if !activeMembers(2)(st) {
				return false
			}
		}
		return len(s.Teams) == 4
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, logb.String())
	}
	defer func() {
		if err := g.Stop(); err != nil {
			t.Errorf("teamgw did not stop cleanly: %v", err)
		}
		if t.Failed() {
			t.Logf("teamgw log:\n%s", logb.String())
		}
	}()
	var streams []*lab.Stream
	for k := range 4 {
		target := netip.AddrPortFrom(ips[k], 7)
		stop, err := l.StartEcho(l.GW, target)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		s, err := l.StartStream(clients[k], target, 2*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	for k, s := range streams {
		waitFor(t, fmt.Sprintf("team%d's stream to flow", k), func() bool { return s.Received() > 100 })
	}
	// While all four stream: a reload takes team3's second member out
	// and gives team2 a VLAN, another puts both back.
	changed := strings.Replace(cfg, ", \"net_af_packet7,iface=m7\"]", "]", 1)
	changed = strings.Replace(changed, "[[team]]\nname = \"team3\"", "[[team.vlan]]\nid = 20\naddresses = [\"10.99.20.1/24\"]\n[[team]]\nname = \"team3\"", 1)
	path := filepath.Join(dir, l.Prefix+".toml")
	for _, c := range []struct {
		text string
		want []string
	}{
		{changed, []string{"team team3: member net_af_packet7 removed", "team team2: VLAN 20 added (team2.20)"}},
		{cfg, []string{"team team2: VLAN 20 removed", "team team3: member net_af_packet7 added"}},
	} {
		os.WriteFile(path, []byte(c.text), 0o644)
		var r struct{ Changes []string }
		teamctlJSON(t, l, &r, "reload")
		if !slices.Equal(r.Changes, c.want) {
			t.Errorf("reload changes %q, want %q", r.Changes, c.want)
		}
		time.Sleep(500 * time.Millisecond)
	}
	waitTeam(t, g, 3, "team3's members back", activeMembers(2))
	var results []lab.StreamResult
	for _, s := range streams {
		results = append(results, s.Stop())
	}
	var st control.Status
	teamctlJSON(t, l, &st, "show")
	for k, res := range results {
		ts := st.Teams[k]
		var rx uint64
		for _, m := range ts.Members {
			rx += m.Counters.RxPackets
		}
		t.Logf("team%d (%s, members %v): %d of %d datagrams lost, longest gap %v; %d frames from its members, %d to its interface",
			k, ips[k], names(ts), res.Lost, res.Sent, res.MaxGap, rx, ts.Kernel.TxPackets)
		if res.Lost != 0 || rx < res.Received || ts.Kernel.TxPackets < res.Received {
			t.Errorf("team%d: %d datagrams lost; %d frames in from its members and %d to its interface for %d echoed", k, res.Lost, rx, ts.Kernel.TxPackets, res.Received)
		}
		if want := []string{fmt.Sprintf("net_af_packet%d", 2*k), fmt.Sprintf("net_af_packet%d", 2*k+1)}; !slices.Equal(names(ts), want) {
			t.Errorf("team%d members %v, want %v", k, names(ts), want)
		}
	}
}

// TestTeamOfEight grows a running team from two members to eight, one
// teamctl member add at a time, with a UDP stream through it, and shrinks
// it back to two with one reload: eight members share the flow table
// evenly, and the stream loses nothing.
func TestTeamOfEight(t *testing.T) {
	l := newLab(t, 8, 1)
	ctx := context.Background()
	var teamCfg strings.Builder
	fmt.Fprintf(&teamCfg, "[[team]]\nname = \"team0\"\naddress = \"%s/24\"\nfallback_delay = \"0\"\nmembers = [\"net_af_packet0,iface=m0\", \"net_af_packet1,iface=m1\"]\n", l.Spec.TeamIP)
	cfg := labBase(l) + teamCfg.String()
	var logb bytes.Buffer
	dir := t.TempDir()
	g, err := l.StartTeamgw(ctx, teamgwBin, dir, cfg, &syncWriter{w: &logb})
	if err != nil {
		t.Fatalf("%v\n%s", err, logb.String())
	}
	defer func() {
		if err := g.Stop(); err != nil {
			t.Errorf("teamgw did not stop cleanly: %v", err)
		}
		if t.Failed() {
			t.Logf("teamgw log:\n%s", logb.String())
		}
	}()
	team := netip.AddrPortFrom(l.Spec.TeamIP, 7)
	stop, err := l.StartEcho(l.GW, team)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	stream, err := l.StartStream(l.Clients[0], team, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stream to flow", func() bool { return stream.Received() > 100 })
	for i := 2; i < 8; i++ {
		out := teamctl(t, l, "member", "add", "team0", fmt.Sprintf("net_af_packet%d,iface=m%d", i, i))
		if !bytes.Contains(out, []byte("team team0  mode slb")) || !bytes.Contains(out, fmt.Appendf(nil, "net_af_packet%d ", i)) {
			t.Errorf("teamctl member add printed:\n%s", out)
		}
	}
	st := waitTeam(t, g, 0, "eight active members", activeMembers(8))
	for _, m := range st.Members {
		if m.Buckets != 32 {
			t.Errorf("member %s has %d buckets, want 32 of 256", m.Name, m.Buckets)
		}
	}
	var flows control.FlowTable
	teamctlJSON(t, l, &flows, "flows", "team0")
	perMember := map[string]int{}
	for _, b := range flows.Buckets {
		perMember[b.Member]++
	}
	if len(perMember) != 8 {
		t.Errorf("teamctl flows: buckets on %d members, want 8: %v", len(perMember), perMember)
	}
	out, err := exec.Command(teamctlBin, "-socket", l.Socket(), "member", "add", "team0", "net_null9").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "team[0].members: a team needs 1 to 8 members, got 9") {
		t.Errorf("a ninth member: %v %s; want a refusal naming team[0].members", err, out)
	}
	time.Sleep(200 * time.Millisecond)
	os.WriteFile(filepath.Join(dir, l.Prefix+".toml"), []byte(cfg), 0o644)
	var r struct{ Changes []string }
	teamctlJSON(t, l, &r, "reload")
	if len(r.Changes) != 6 {
		t.Errorf("reload back to two members: changes %q, want 6 removals", r.Changes)
	}
	waitTeam(t, g, 0, "two active members", activeMembers(2))
	res := stream.Stop()
	t.Logf("team grown from 2 to 8 members and back: %d of %d datagrams lost (1 ms stream), longest gap %v", res.Lost, res.Sent, res.MaxGap)
	if res.Lost != 0 {
		t.Errorf("the stream lost %d datagrams while the team grew and shrank", res.Lost)
	}
}
