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
// TestMemberAddRemoveUnderTraffic -v`).
func TestMemberAddRemoveUnderTraffic(t *testing.T) {
	l := newLab(t, 3, 1)
	full := l.Config(lab.TeamConfig{FallbackDelay: "0"})
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
	team := netip.AddrPortFrom(l.Spec.TeamIP, 7)
	stopEcho, err := l.StartEcho(l.GW, team)
	if err != nil {
		t.Fatal(err)
	}
	defer stopEcho()
	stream, err := l.StartStream(l.Clients[0], team, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stream to flow", func() bool { return stream.Received() > 100 })

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
