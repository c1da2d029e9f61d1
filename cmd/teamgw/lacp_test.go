package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/teamgw/teamgw/control"
	"github.com/teamgw/teamgw/lacp"
	"github.com/teamgw/teamgw/perf/lab"
)

// TestLACPAgainstOVS runs an lacp team against a real LACP partner: an
// Open vSwitch bond with lacp=active (userspace datapath). Both sides must
// negotiate (every member Collecting and Distributing, OVS reporting the
// bond negotiated), traffic must flow both ways, and a cut member must
// leave distribution while the stream goes on over the other.
func TestLACPAgainstOVS(t *testing.T) {
	l := newLab(t, 2, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ovs := startLACPSwitch(ctx, t, l)
	var logb bytes.Buffer
	start := time.Now()
	g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), lacpConfig(l), &syncWriter{w: &logb})
	if err != nil {
		t.Fatalf("%v\n%s", err, logb.String())
	}
	defer g.Stop()
	defer func() {
		if t.Failed() {
			show, _ := ovs.Appctl(context.Background(), "lacp/show")
			s, _ := g.Status()
			t.Logf("teamgw log:\n%s\nOVS lacp/show:\n%s\nteamgw status: %+v", logb.String(), show, s)
		}
	}()
	distributing := func(want int) func() bool {
		return func() bool {
			s, err := g.Status()
			if err != nil {
				return false
			}
			n := 0
			for _, m := range s.Teams[0].Members {
				if m.LACP != nil && strings.Contains(m.LACP.ActorState, "distributing") && m.State == "active" {
					n++
				}
			}
			return n == want
		}
	}
	waitFor(t, "both members to negotiate and distribute", distributing(2))
	var show string
	// OVS learns our members' Collecting and Distributing from the
	// LACPDU after the one that got them attached: wait for that too.
	waitFor(t, "OVS to report both members current and attached, with teamgw distributing", func() bool {
		show, err = ovs.Appctl(ctx, "lacp/show")
		return err == nil && strings.Contains(show, "status: active negotiated") && strings.Count(show, "current attached") == 2 &&
			strings.Count(show, "partner state: activity timeout aggregation synchronized collecting distributing") == 2
	})
	t.Logf("LACP converged %v after teamgw was started (2 s of it is the aggregate wait)", time.Since(start).Round(time.Millisecond))
	for _, want := range []string{"partner state: activity timeout aggregation synchronized collecting distributing"} {
		if !strings.Contains(show, want) {
			t.Errorf("OVS lacp/show lacks %q:\n%s", want, show)
		}
	}
	out, err := exec.Command(teamctlBin, "-socket", l.Socket(), "lacp", "team0").CombinedOutput()
	if err != nil || strings.Count(string(out), "(selected)") != 2 || !strings.Contains(string(out), "distributing") {
		t.Errorf("teamctl lacp: %v\n%s", err, out)
	}
	for j := range l.Clients {
		if out, err := l.Exec(ctx, l.Clients[j], "ping", "-c", "3", "-i", "0.2", "-W", "2", l.Spec.TeamIP.String()); err != nil {
			t.Fatalf("ping from client %d over the LACP bond: %v\n%s", j, err, out)
		}
	}
	// The switch stops and restarts LACP: teamgw's members time out and
	// leave distribution, then renegotiate.
	if out, err := ovs.Vsctl(ctx, "set", "port", "bond0", "lacp=off"); err != nil {
		t.Fatalf("lacp=off: %v %s", err, out)
	}
	waitFor(t, "the members to leave distribution once the partner is silent", distributing(0))
	restart := time.Now()
	if out, err := ovs.Vsctl(ctx, "set", "port", "bond0", "lacp=active"); err != nil {
		t.Fatalf("lacp=active: %v %s", err, out)
	}
	waitFor(t, "renegotiation after the switch restarted LACP", distributing(2))
	t.Logf("renegotiated %v after the switch turned LACP back on", time.Since(restart).Round(time.Millisecond))

	s := echoStream(t, l, 0)
	if err := l.CutMember(0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "member 0 to leave distribution", distributing(1))
	before := s.Received()
	waitFor(t, "the stream to go on over member 1", func() bool { return s.Received() > before+200 })
	r := s.Stop()
	t.Logf("LACP member cut: %d of %d lost, longest gap %v", r.Lost, r.Sent, r.MaxGap)
	if r.MaxGap > time.Second {
		t.Errorf("traffic stopped for %v", r.MaxGap)
	}
}

// TestLACPSilentPartner runs an lacp team behind a plain Linux bridge,
// which never answers (or forwards) LACPDUs. With lacp_fallback = "strict"
// no member distributes and the team is unreachable; with "active-backup"
// one member carries the traffic so the server stays reachable.
func TestLACPSilentPartner(t *testing.T) {
	for _, tc := range []struct {
		fallback  string
		reachable bool
	}{{"strict", false}, {"active-backup", true}} {
		t.Run(tc.fallback, func(t *testing.T) {
			l := newLab(t, 2, 1)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cfg := l.Config(lab.TeamConfig{Mode: "lacp", Extra: "lacp_rate = \"fast\"\nlacp_fallback = \"" + tc.fallback + "\"\n"})
			var logb bytes.Buffer
			g, err := startTeamgwAnyState(ctx, l, cfg, &logb)
			if err != nil {
				t.Fatalf("%v\n%s", err, logb.String())
			}
			defer g.Stop()
			// A fast partner times out after 3 s: wait past the
			// defaulted state before judging.
			time.Sleep(4 * time.Second)
			_, err = l.Exec(ctx, l.Clients[0], "ping", "-c", "2", "-i", "0.3", "-W", "1", l.Spec.TeamIP.String())
			if reachable := err == nil; reachable != tc.reachable {
				s, _ := g.Status()
				t.Errorf("reachable = %v, want %v; status %+v", reachable, tc.reachable, s)
			}
		})
	}
}

// startTeamgwAnyState starts teamgw and waits only for its control socket
// (an lacp team may rightly have no active member).
func startTeamgwAnyState(ctx context.Context, l *lab.Lab, cfg string, log *bytes.Buffer) (*lab.Teamgw, error) {
	return l.StartTeamgwWait(ctx, teamgwBin, os.TempDir(), cfg, &syncWriter{w: log}, func(*control.Status) bool { return true })
}

// TestLACPDUsOnTimeUnderFullLoad saturates an aggregated lacp team in both
// directions (UDP at full speed through the TAP and from the client) while
// a storm of Marker PDUs and broken LACPDUs hits member 0, and checks that
// the control frames do not starve (802.1AX 6.4.13, periodic
// transmission): every member keeps sending LACPDUs at the fast rate, so
// no gap reaches the partner's 3 s short timeout, teamgw's own receive
// never expires, a member leaves distribution only when the partner's
// receive expired (Open vSwitch's userspace datapath, flooded on two
// cores, drops frames at its ports, ours included: logged, not failed,
// since the captures show ours on time), Open vSwitch has both members
// attached after the load, and the markers are answered at the rate
// limit only.
func TestLACPDUsOnTimeUnderFullLoad(t *testing.T) {
	l := newLab(t, 2, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ovs := startLACPSwitch(ctx, t, l)
	var logb bytes.Buffer
	// Member 0 also carries a configured port priority, which the
	// partner must learn from its LACPDUs.
	cfg := strings.Replace(lacpConfig(l),
		`"net_af_packet0,iface=m0",`, `{ device = "net_af_packet0,iface=m0", lacp_port_priority = 100 },`, 1)
	g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), cfg, &syncWriter{w: &logb})
	if err != nil {
		t.Fatalf("%v\n%s", err, logb.String())
	}
	defer g.Stop()
	distributing := func() int {
		s, err := g.Status()
		if err != nil {
			return -1
		}
		n := 0
		for _, m := range s.Teams[0].Members {
			if m.LACP != nil && strings.Contains(m.LACP.ActorState, "distributing") && m.State == "active" {
				n++
			}
		}
		return n
	}
	waitFor(t, "both members to negotiate and distribute", func() bool { return distributing() == 2 })
	s, err := g.Status()
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]string{}
	for i, m := range s.Teams[0].Members {
		ours[m.MAC] = fmt.Sprintf("s%d", i)
	}
	var pcaps []string
	var stops []func()
	for i := range 2 {
		p, stop := capture(t, l, l.Switch, fmt.Sprintf("s%d", i), "ether proto 0x8809")
		pcaps, stops = append(pcaps, p), append(stops, stop)
	}

	// Full load both ways: UDP at any rate iperf3 can reach, from an
	// application behind the TAP to the client and from the client to it.
	for _, sv := range []struct{ ns, addr string }{{l.Clients[0], l.ClientIP(0).String()}, {l.GW, l.Spec.TeamIP.String()}} {
		if _, err := l.Start(sv.ns, nil, nil, "iperf3", "-s", "-B", sv.addr, "-p", "5301"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	const load = 8 * time.Second
	done := make(chan []byte, 2)
	for _, c := range []struct{ ns, to string }{{l.GW, l.ClientIP(0).String()}, {l.Clients[0], l.Spec.TeamIP.String()}} {
		go func() {
			out, _ := l.Exec(ctx, c.ns, "iperf3", "-c", c.to, "-p", "5301", "-u", "-b", "0", "-l", "1400", "-t", strconv.Itoa(int(load.Seconds())))
			done <- out
		}()
	}
	// The storm: markers from a made-up requester and LACPDUs with a
	// TLV length that lies, as fast as a raw socket sends them, into
	// member 0 for the whole load.
	ovsMAC := [6]byte{0x02, 0x5e, 0, 0, 0, 0x42}
	marker := lacp.AppendMarker(nil, ovsMAC, &lacp.MarkerPDU{RequesterPort: 9, RequesterSystem: ovsMAC, TransactionID: 1})
	broken := bytes.Clone(marker)
	broken[15] = 1 // subtype LACP
	broken[17] = 200
	before, _ := g.Status()
	stormed := make(chan int, 1)
	go func() {
		n := 0
		for deadline := time.Now().Add(load); time.Now().Before(deadline); n += 2000 {
			var batch [][]byte
			for range 1000 {
				batch = append(batch, marker, broken)
			}
			if inject(l, "s0", batch...) != nil {
				break
			}
		}
		stormed <- n
	}()
	// A member may leave distribution only because the partner stopped
	// hearing it: Open vSwitch's userspace datapath, flooded on these two
	// cores, drops some of what reaches its ports, LACPDUs included (the
	// captures below show ours on its ports on time). Any other departure,
	// or teamgw's own receive machine expiring, is teamgw's failure.
	expiredBefore := make([]uint64, len(before.Teams[0].Members))
	for i, m := range before.Teams[0].Members {
		if m.LACP != nil {
			expiredBefore[i] = m.LACP.Expired + m.LACP.Defaulted
		}
	}
	lowest := 2
	var ourFault, partnerFault []string // the members' LACP view when one left distribution
	for start, deadline := time.Now(), time.Now().Add(load); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		s, err := g.Status()
		if err != nil {
			ourFault = append(ourFault, fmt.Sprintf("status: %v", err))
			continue
		}
		n := 0
		var view string
		partnerOnly := true
		for i, m := range s.Teams[0].Members {
			if m.LACP == nil {
				partnerOnly = false
				continue
			}
			if strings.Contains(m.LACP.ActorState, "distributing") && m.State == "active" {
				n++
			}
			view += fmt.Sprintf("\n  member %d: state %s, actor %s, partner %s, receive %s, mux %s, in sync at partner %v, LACPDUs rx %d, expired %d, defaulted %d",
				i, m.State, m.LACP.ActorState, m.LACP.PartnerState, m.LACP.Receive, m.LACP.Mux, m.LACP.InSyncAtPartner, m.LACP.PDUsRx, m.LACP.Expired, m.LACP.Defaulted)
			if strings.Contains(m.LACP.ActorState, "distributing") && m.State == "active" {
				continue
			}
			if !strings.Contains(m.LACP.PartnerState, "expired") || i >= len(expiredBefore) || m.LACP.Expired+m.LACP.Defaulted != expiredBefore[i] {
				partnerOnly = false
			}
		}
		lowest = min(lowest, n)
		if n < 2 {
			at := fmt.Sprintf("after %v of load:%s", time.Since(start).Round(time.Millisecond), view)
			if partnerOnly {
				partnerFault = append(partnerFault, at)
			} else {
				ourFault = append(ourFault, at)
			}
		}
	}
	storm := <-stormed
	for range 2 {
		out := <-done
		if i := bytes.LastIndex(out, []byte("receiver")); i > 0 {
			t.Logf("load: %s", bytes.TrimSpace(out[bytes.LastIndexByte(out[:i], '\n')+1:i]))
		}
	}
	for _, stop := range stops {
		stop()
	}
	if len(ourFault)+len(partnerFault) > 0 {
		stats, _ := ovs.Appctl(ctx, "lacp/show-stats")
		report := fmt.Sprintf("lowest count %d; first at %s\nOVS lacp/show-stats:\n%s", lowest, append(ourFault, partnerFault...)[0], stats)
		if len(ourFault) > 0 {
			t.Errorf("a member left distribution under load on teamgw's side (%d samples): %s", len(ourFault), report)
		} else {
			t.Logf("a member left distribution for %d samples because Open vSwitch's receive expired (its datapath dropped our LACPDUs under the flood; teamgw's own receive never expired): %s", len(partnerFault), report)
		}
	}
	show, err := ovs.Appctl(ctx, "lacp/show")
	if err != nil || strings.Count(show, "current attached") != 2 {
		t.Errorf("OVS after the load: %v\n%s", err, show)
	}
	if !strings.Contains(show, "partner port_priority: 100") || !strings.Contains(show, "partner port_priority: 32768") {
		t.Errorf("OVS does not show the configured port priority (100) and the default (32768):\n%s", show)
	}
	st, _ := g.Status()
	t.Logf("worker packets during the test: %d", st.Workers[0].Packets)
	answered := st.Teams[0].LACP.MarkersAnswered - before.Teams[0].LACP.MarkersAnswered
	throttled := st.Teams[0].LACP.MarkersThrottled - before.Teams[0].LACP.MarkersThrottled
	bad := st.Teams[0].LACP.Bad - before.Teams[0].LACP.Bad
	flood := st.Teams[0].Drops["slow_flood"]
	t.Logf("storm: %d frames injected; dropped in the data plane as slow_flood %d; markers answered %d, left unanswered by the rate limit %d; broken LACPDUs counted %d; control ring drops %d",
		storm, flood, answered, throttled, bad, st.Workers[0].ControlDropped)
	if flood == 0 {
		t.Error("no storm frame was held back in the data plane (slow_flood)")
	}
	if limit := uint64(load.Seconds()+2) * 5; answered > limit {
		t.Errorf("%d markers answered in %v: the rate limit is 5 a second", answered, load)
	}
	if throttled == 0 || bad == 0 {
		t.Errorf("the storm left no trace: %d throttled, %d bad", throttled, bad)
	}
	for i, p := range pcaps {
		out, err := exec.Command("tshark", "-r", p, "-T", "fields", "-e", "frame.time_epoch", "-e", "eth.src", "-Y", "slow.subtype == 1").CombinedOutput()
		if err != nil {
			t.Fatalf("tshark: %v\n%s", err, out)
		}
		var last, worst float64
		var theirLast, theirWorst float64 // Open vSwitch's LACPDUs into the member
		n, theirs := 0, 0
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				continue
			}
			ts, _ := strconv.ParseFloat(f[0], 64)
			if f[1] == net.HardwareAddr(ovsMAC[:]).String() {
				continue // the storm's
			}
			if ours[f[1]] == "" {
				if theirs > 0 {
					theirWorst = max(theirWorst, ts-theirLast)
				}
				theirLast = ts
				theirs++
				continue
			}
			if n > 0 {
				worst = max(worst, ts-last)
			}
			last = ts
			n++
		}
		t.Logf("member %d: %d LACPDUs during %v of full load, longest gap %.3f s; Open vSwitch's: %d, longest gap %.3f s", i, n, load, worst, theirs, theirWorst)
		if n < int(load.Seconds())-1 {
			t.Errorf("member %d sent %d LACPDUs in %v at the fast rate", i, n, load)
		}
		if worst >= 3 {
			t.Errorf("member %d: %.3f s without a LACPDU, the partner's short timeout is 3 s", i, worst)
		}
	}
}

// TestLACPGoodbyeOnStop stops an aggregated lacp team and watches Open
// vSwitch: teamgw's last LACPDUs say its links left the aggregate, so the
// partner takes them out of sync long before its 3 s short timeout.
func TestLACPGoodbyeOnStop(t *testing.T) {
	l := newLab(t, 2, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ovs := startLACPSwitch(ctx, t, l)
	var logb bytes.Buffer
	g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), lacpConfig(l), &syncWriter{w: &logb})
	if err != nil {
		t.Fatalf("%v\n%s", err, logb.String())
	}
	var show string
	waitFor(t, "OVS to report both members current and attached with a synchronized partner", func() bool {
		show, err = ovs.Appctl(ctx, "lacp/show")
		return err == nil && strings.Count(show, "current attached") == 2 && strings.Count(show, "partner state: activity timeout aggregation synchronized") == 2
	})
	stopped := time.Now()
	if err := g.Stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, logb.String())
	}
	for {
		show, err = ovs.Appctl(ctx, "lacp/show")
		if err == nil && !strings.Contains(show, "partner state: activity timeout aggregation synchronized") && strings.Count(show, "may_enable: false") == 2 {
			break
		}
		if time.Since(stopped) > 2500*time.Millisecond {
			t.Fatalf("OVS still sees a synchronized partner %v after teamgw stopped (its timeout is 3 s):\n%s", time.Since(stopped), show)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("OVS took both links out of sync %v after teamgw was told to stop", time.Since(stopped).Round(time.Millisecond))
}

// startLACPSwitch puts Open vSwitch in the lab's switch namespace with an
// LACP bond (balance-tcp, lacp=active) facing the members.
func startLACPSwitch(ctx context.Context, t *testing.T, l *lab.Lab) *lab.OVS {
	t.Helper()
	var log bytes.Buffer
	ovs, err := l.StartOVS(ctx, lab.BondMode{Mode: "balance-tcp", LACP: "active"}, &syncWriter{w: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	return ovs
}

// lacpConfig is the lab's config for an lacp team at the fast rate.
func lacpConfig(l *lab.Lab) string {
	return l.Config(lab.TeamConfig{Mode: "lacp", Extra: "lacp_rate = \"fast\"\n"})
}
