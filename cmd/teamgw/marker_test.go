package main

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/control"
	"github.com/teamgw/teamgw/lacp"
	"github.com/teamgw/teamgw/perf/lab"
)

// inject writes raw frames into a switch port from the switch namespace:
// they leave the port towards teamgw's member. Open vSwitch's userspace
// datapath does not see them (its receive socket filters out outgoing
// frames), so only teamgw receives them.
func inject(l *lab.Lab, port string, frames ...[]byte) error {
	return l.Do(l.Switch, func() error {
		ifi, err := net.InterfaceByName(port)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		for _, f := range frames {
			if err := unix.Sendto(fd, f, 0, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
				return err
			}
		}
		return nil
	})
}

// ovsStat reads one per-member counter from ovs-appctl lacp/show-stats:
// the value of the line that starts with name in the section of member.
func ovsStat(t *testing.T, ovs *lab.OVS, member, name string) int {
	t.Helper()
	out, err := ovs.Appctl(context.Background(), "lacp/show-stats")
	if err != nil {
		t.Fatalf("lacp/show-stats: %v %s", err, out)
	}
	_, section, ok := strings.Cut(out, "member: "+member+":")
	if !ok {
		t.Fatalf("lacp/show-stats has no member %s:\n%s", member, out)
	}
	section, _, _ = strings.Cut(section, "member: ")
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `:\s*(\d+)`).FindStringSubmatch(section)
	if m == nil {
		t.Fatalf("lacp/show-stats of %s has no %q:\n%s", member, name, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestLACPBadPDUsAndMarkerAgainstOVS negotiates an lacp team with an Open
// vSwitch LACP bond, then
//
//   - injects broken LACPDUs on a member's switch port — truncated, a TLV
//     of the wrong length, one running past the PDU, version 0, and a
//     well-formed one claiming teamgw's own system ID — which teamgw counts
//     and ignores while the aggregate stays as it was on both sides;
//   - disables a member with teamctl: teamgw sends a Marker PDU on it
//     before its buckets move. Open vSwitch 3.1 counts Marker PDUs
//     (lacp/show-stats "RX Marker Request PDUs") but has no Marker
//     Responder, so this is the timeout path: the member leaves after
//     control.MarkerTimeout. The response path is tested against teamgw's
//     own responder in package control (TestLACPMarkerAnsweredByTeamgw)
//     and in package lacp's simulation (TestSimMarkerRequestAndResponse).
//     The disabled member then tells OVS it is out of sync, and OVS takes
//     the link out of its bond at once.
//
// tshark must decode the marker without warnings. The loss of a 1 ms
// stream across the disable is measured and logged.
func TestLACPBadPDUsAndMarkerAgainstOVS(t *testing.T) {
	l := newLab(t, 2, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var logb bytes.Buffer
	ovs := startLACPSwitch(ctx, t, l)
	g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), lacpConfig(l), &syncWriter{w: &logb})
	if err != nil {
		t.Fatalf("%v\n%s", err, logb.String())
	}
	defer g.Stop()
	defer func() {
		if t.Failed() {
			show, _ := ovs.Appctl(context.Background(), "lacp/show")
			stats, _ := ovs.Appctl(context.Background(), "lacp/show-stats")
			t.Logf("teamgw log:\n%s\nOVS lacp/show:\n%s\nOVS lacp/show-stats:\n%s", logb.String(), show, stats)
		}
	}()
	status := func() control.TeamStatus {
		t.Helper()
		s, err := g.Status()
		if err != nil {
			t.Fatal(err)
		}
		return s.Teams[0]
	}
	aggregated := func(st control.TeamStatus) bool {
		for _, m := range st.Members {
			if m.State != "active" || m.LACP == nil || !m.LACP.Selected || m.LACP.Mux != lacp.MuxCollectingDistributing.String() {
				return false
			}
		}
		return true
	}
	ovsCurrent := func() bool {
		show, err := ovs.Appctl(ctx, "lacp/show")
		return err == nil && strings.Contains(show, "status: active negotiated") && strings.Count(show, "current attached") == 2
	}
	waitFor(t, "both members aggregated", func() bool { return aggregated(status()) })
	waitFor(t, "OVS to report both members current and attached", ovsCurrent)

	// Bad LACPDUs on s0, towards member 0.
	before := status()
	ovsBad := ovsStat(t, ovs, "s0", "RX Bad PDUs")
	var pdu lacp.LACPDU
	pdu.Actor = lacp.PortInfo{
		System: lacp.SystemID{Priority: 0x8000, MAC: [6]byte{0x02, 0, 0, 0, 0x66, 0x01}},
		Key:    1, PortPriority: 0xff, Port: 5,
		State: lacp.StateActivity | lacp.StateTimeout | lacp.StateAggregation | lacp.StateSynchronization,
	}
	src := [6]byte{0x02, 0, 0, 0, 0x66, 0x01}
	good := lacp.AppendLACPDU(nil, src, &pdu)
	edit := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	teamMAC, _ := net.ParseMAC(before.MAC)
	own := pdu
	own.Actor.System = lacp.SystemID{Priority: 32768, MAC: [6]byte(teamMAC)}
	const hdr = lacp.HeaderLen
	bad := [][]byte{
		good[:60],                                    // truncated: 46 octets of body
		edit(func(b []byte) { b[hdr+3] = 19 }),       // Actor Information TLV of length 19
		edit(func(b []byte) { b[hdr+2+20+1] = 255 }), // Partner Information TLV running past the PDU
		edit(func(b []byte) { b[hdr+1] = 0 }),        // version 0 (versions from 1 up are accepted: 802.1AX forward compatibility)
	}
	looped := lacp.AppendLACPDU(nil, src, &own)
	if err := inject(l, "s0", append(bad, looped)...); err != nil {
		t.Fatal(err)
	}
	var after control.TeamStatus
	waitFor(t, "teamgw to count the injected frames", func() bool {
		after = status()
		return after.LACP.Bad == before.LACP.Bad+uint64(len(bad)) && after.LACP.Looped == before.LACP.Looped+1
	})
	// Give a disturbance time to show: more than one fast LACPDU period
	// each way.
	time.Sleep(2500 * time.Millisecond)
	after = status()
	if !aggregated(after) || !ovsCurrent() {
		t.Errorf("the injected frames disturbed the aggregate: teamgw %+v", after.Members)
	}
	for i, m := range after.Members {
		b, a := before.Members[i].LACP, m.LACP
		if a.Partner != b.Partner || a.PartnerState != b.PartnerState || a.Expired != b.Expired || a.Defaulted != b.Defaulted {
			t.Errorf("member %d partner %s [%s] expired %d defaulted %d, was %s [%s] %d %d", i,
				a.Partner, a.PartnerState, a.Expired, a.Defaulted, b.Partner, b.PartnerState, b.Expired, b.Defaulted)
		}
		if a.PDUsRx <= b.PDUsRx {
			t.Errorf("member %d took no LACPDU from OVS in (rx %d, was %d)", i, a.PDUsRx, b.PDUsRx)
		}
	}
	if n := ovsStat(t, ovs, "s0", "RX Bad PDUs"); n != ovsBad {
		t.Errorf("OVS counted %d bad PDUs on s0, was %d: the injected frames reached the switch", n, ovsBad)
	}
	t.Logf("injected %d bad and 1 looped LACPDUs: teamgw counted bad %d→%d, looped %d→%d; both members stayed collecting and distributing",
		len(bad), before.LACP.Bad, after.LACP.Bad, before.LACP.Looped, after.LACP.Looped)

	// Planned removal: teamctl member disable sends a marker first.
	stream := echoStream(t, l, 0)
	ovsMarkers := ovsStat(t, ovs, "s0", "RX Marker Request PDUs")
	path, stopCapture := capture(t, l, l.Switch, "s0", "ether proto 0x8809")
	start := time.Now()
	out, err := exec.Command(teamctlBin, "-socket", l.Socket(), "member", "disable", "team0", "net_af_packet0").CombinedOutput()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("teamctl member disable: %v %s", err, out)
	}
	st := status()
	m := st.Members[0]
	if m.State != "disabled" || m.Buckets != 0 || st.Members[1].Buckets != 256 {
		t.Errorf("after the disable member 0 is %s with %d buckets, member 1 has %d", m.State, m.Buckets, st.Members[1].Buckets)
	}
	if m.LACP.MarkersTx != 1 || m.LACP.MarkerTimeouts != 1 || m.LACP.MarkerResponses != 0 {
		t.Errorf("member 0 marker counters %+v; want 1 sent and 1 timed out (OVS has no Marker Responder)", m.LACP)
	}
	waitFor(t, "OVS to count the marker on s0", func() bool { return ovsStat(t, ovs, "s0", "RX Marker Request PDUs") == ovsMarkers+1 })
	// The disabled member goes on sending LACPDUs, out of sync: OVS takes
	// s0 out of the bond while the link stays current, rather than
	// sending into it until it times out.
	waitFor(t, "OVS to take s0 out of the bond while it stays current", func() bool {
		show, err := ovs.Appctl(ctx, "lacp/show")
		_, s0, _ := strings.Cut(show, "member: s0:")
		s0, _, _ = strings.Cut(s0, "member: ")
		_, partner, _ := strings.Cut(s0, "partner state:")
		partner, _, _ = strings.Cut(partner, "\n")
		return err == nil && strings.HasPrefix(s0, " current") && strings.Contains(s0, "may_enable: false") && !strings.Contains(partner, "synchronized")
	})
	time.Sleep(time.Second) // the stream goes on over member 1
	stopCapture()
	r := stream.Stop()
	s := decode(t, path, "slow.subtype == 2 && eth.src == "+m.MAC)
	if !strings.Contains(s, "Requester Transaction ID") {
		t.Errorf("tshark did not dissect teamgw's marker:\n%s", s)
	}
	out, _ = exec.Command(teamctlBin, "-socket", l.Socket(), "lacp", "team0").CombinedOutput()
	if !strings.Contains(string(out), "markers sent 1  answered 0  timed out 1") {
		t.Errorf("teamctl lacp:\n%s", out)
	}
	t.Logf("teamctl member disable took %v (marker timeout %v, OVS does not answer markers); 1 ms stream across it: %d of %d lost, longest gap %v",
		took.Round(time.Millisecond), control.MarkerTimeout, r.Lost, r.Sent, r.MaxGap)
}
