package control

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/lacp"
)

// The marker tests run an lacp team with lacp_fallback = "active-backup"
// on TAP members that have no LACP partner: the path member then
// distributes on its own, so taking it out is a planned removal that sends
// a marker, and the test itself, on the TAP's kernel side, plays the
// partner's Marker Responder (lacp.MarkerResponse) or stays silent.

// fallbackTeam starts such a team; a timeout other than 0 replaces
// MarkerTimeout.
func fallbackTeam(t *testing.T, timeout time.Duration) (tt *tapTeam, m0, m1 string) {
	t.Helper()
	tt = startTapTeamWith(t, "mode = \"lacp\"\nlacp_fallback = \"active-backup\"", func(d *Daemon) {
		if timeout > 0 {
			d.markerTimeout = timeout
		}
	})
	id := strings.TrimPrefix(tt.name, "tgc")
	m0, m1 = "net_tapc"+id+"m0", "net_tapc"+id+"m1"
	tt.waitActive(t, m0)
	return tt, m0, m1
}

// waitStatus polls the team's status until ok accepts it.
func (tt *tapTeam) waitStatus(t *testing.T, what string, ok func(TeamStatus) bool) TeamStatus {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := tt.status(t)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s; members %+v lacp %+v", what, st.Members, st.LACP)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readMarker reads frames from a packet socket until a Marker Information
// PDU arrives and returns it with its source address.
func readMarker(t *testing.T, fd int) (lacp.MarkerPDU, [6]byte) {
	t.Helper()
	buf := make([]byte, 2048)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue
		}
		sub, body, err := lacp.Parse(buf[:n])
		if err != nil || sub != lacp.SubtypeMarker {
			continue
		}
		var m lacp.MarkerPDU
		if lacp.ParseMarker(body, &m) == nil && !m.Response {
			return m, [6]byte(buf[6:12])
		}
	}
	t.Fatal("no Marker PDU within 5 s")
	return lacp.MarkerPDU{}, [6]byte{}
}

// sendTo writes a frame into a member TAP's kernel side: the worker
// receives it on that member.
func sendTo(t *testing.T, fd int, ifname string, f []byte) {
	t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Sendto(fd, f, 0, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
}

var partnerMAC = [6]byte{0x02, 0, 0, 0, 0x55, 0x01}

// TestLACPMarkerBeforeDisable disables the distributing member of an lacp
// team: a Marker PDU from the member's port and the team's system goes
// out first, the member keeps its buckets while it is out (and the control
// loop keeps answering), a response to another transaction changes
// nothing, and the matching Marker Response lets the disable finish.
func TestLACPMarkerBeforeDisable(t *testing.T) {
	tt, m0, m1 := fallbackTeam(t, time.Minute)
	fd := packetSocket(t, tt.members[0])
	st := tt.status(t)
	done := make(chan error, 1)
	go func() { done <- tt.d.SetMemberEnabled(context.Background(), tt.name, m0, false) }()

	mk, src := readMarker(t, fd)
	teamMAC, _ := net.ParseMAC(st.MAC)
	memberMAC, _ := net.ParseMAC(st.Members[0].MAC)
	if mk.RequesterPort != 1 || mk.RequesterSystem != [6]byte(teamMAC) || src != [6]byte(memberMAC) {
		t.Errorf("marker %+v from %x; want requester port 1, system %s, sent from the member's MAC %s", mk, src, teamMAC, memberMAC)
	}
	st = tt.waitStatus(t, "the marker counted as out", func(st TeamStatus) bool { return st.Members[0].LACP.MarkerPending })
	if m := st.Members[0]; m.State != "active" || m.Buckets != 256 || m.LACP.MarkersTx != 1 {
		t.Errorf("while the marker is out, member 0 is %s with %d buckets, %d markers sent; want active with all 256, 1 sent", m.State, m.Buckets, m.LACP.MarkersTx)
	}
	select {
	case err := <-done:
		t.Fatalf("the disable finished (%v) before any Marker Response", err)
	default:
	}

	stale, _ := lacp.MarkerResponse(&mk)
	stale.TransactionID++
	sendTo(t, fd, tt.members[0], lacp.AppendMarker(nil, partnerMAC, &stale))
	tt.waitStatus(t, "the stale response counted", func(st TeamStatus) bool { return st.Members[0].LACP.MarkerUnmatched == 1 })
	select {
	case err := <-done:
		t.Fatalf("a response to another transaction ended the disable (%v)", err)
	default:
	}

	resp, _ := lacp.MarkerResponse(&mk)
	sendTo(t, fd, tt.members[0], lacp.AppendMarker(nil, partnerMAC, &resp))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("disable: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the Marker Response did not end the disable")
	}
	st = tt.status(t)
	if m := st.Members[0]; m.State != "disabled" || m.Buckets != 0 || m.LACP.MarkerPending {
		t.Errorf("after the response member 0 is %s with %d buckets (marker out %v); want disabled with none", m.State, m.Buckets, m.LACP.MarkerPending)
	}
	if st.Active != m1 || st.Members[1].Buckets != 256 {
		t.Errorf("path member %s, member 1 has %d buckets; want %s with all 256", st.Active, st.Members[1].Buckets, m1)
	}
	l := st.Members[0].LACP
	if l.MarkersTx != 1 || l.MarkerResponses != 1 || l.MarkerTimeouts != 0 || l.LastMarkerRTT <= 0 {
		t.Errorf("marker counters %+v; want 1 sent, 1 answered with a round trip, no timeout", l)
	}
	if !strings.Contains(tt.log.String(), "event=109 ") {
		t.Error("no marker event in the log")
	}
}

// TestLACPMarkerTimeout disables the distributing member while nobody
// answers markers: the disable completes after MarkerTimeout, counted as a
// timeout in the status and the metrics.
func TestLACPMarkerTimeout(t *testing.T) {
	tt, m0, m1 := fallbackTeam(t, 0)
	fd := packetSocket(t, tt.members[0])
	if err := tt.d.SetMemberEnabled(context.Background(), tt.name, m0, false); err != nil {
		t.Fatal(err)
	}
	readMarker(t, fd)
	st := tt.status(t)
	if m := st.Members[0]; m.State != "disabled" || m.Buckets != 0 || st.Active != m1 {
		t.Errorf("member 0 %s with %d buckets, path %s; want disabled with none, path %s", m.State, m.Buckets, st.Active, m1)
	}
	if l := st.Members[0].LACP; l.MarkersTx != 1 || l.MarkerTimeouts != 1 || l.MarkerResponses != 0 {
		t.Errorf("marker counters %+v; want 1 sent, 1 timed out", l)
	}
	mx, err := ListenMetrics(tt.d, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mx.Close()
	resp, err := http.Get("http://" + mx.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		fmt.Sprintf(`teamgw_lacp_markers_sent_total{member=%q,team=%q} 1`, m0, tt.name),
		fmt.Sprintf(`teamgw_lacp_marker_timeouts_total{member=%q,team=%q} 1`, m0, tt.name),
		fmt.Sprintf(`teamgw_lacp_marker_responses_total{member=%q,team=%q} 0`, m0, tt.name),
		fmt.Sprintf(`teamgw_lacp_bad_frames_total{team=%q} 0`, tt.name),
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestLACPEnableCancelsPendingDisable enables a member whose disable waits
// for its marker: the disable is refused and the member stays in.
func TestLACPEnableCancelsPendingDisable(t *testing.T) {
	tt, m0, _ := fallbackTeam(t, time.Minute)
	fd := packetSocket(t, tt.members[0])
	done := make(chan error, 1)
	go func() { done <- tt.d.SetMemberEnabled(context.Background(), tt.name, m0, false) }()
	readMarker(t, fd)
	if err := tt.d.SetMemberEnabled(context.Background(), tt.name, m0, true); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != errDisableCancelled {
		t.Errorf("the pending disable returned %v, want %v", err, errDisableCancelled)
	}
	st := tt.status(t)
	if m := st.Members[0]; m.State != "active" || m.Buckets != 256 || m.LACP.MarkerPending {
		t.Errorf("member 0 %s with %d buckets (marker out %v); want active with all 256", m.State, m.Buckets, m.LACP.MarkerPending)
	}
}

// TestLACPMarkerOnReload reloads the fallback team with lacp_fallback =
// "strict", which takes its only distributing member out on purpose: a
// marker goes out, the member keeps its buckets until the response, then
// none distributes.
func TestLACPMarkerOnReload(t *testing.T) {
	tt, _, _ := fallbackTeam(t, time.Minute)
	fd := packetSocket(t, tt.members[0])
	text, _ := os.ReadFile(tt.config)
	os.WriteFile(tt.config, []byte(strings.Replace(string(text), `"active-backup"`, `"strict"`, 1)), 0o644)
	if _, err := tt.d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	mk, _ := readMarker(t, fd)
	st := tt.waitStatus(t, "the marker counted as out", func(st TeamStatus) bool { return st.Members[0].LACP.MarkerPending })
	if m := st.Members[0]; m.State != "active" || m.Buckets != 256 {
		t.Errorf("while the marker is out member 0 is %s with %d buckets; want active with all 256", m.State, m.Buckets)
	}
	resp, _ := lacp.MarkerResponse(&mk)
	sendTo(t, fd, tt.members[0], lacp.AppendMarker(nil, partnerMAC, &resp))
	st = tt.waitStatus(t, "member 0 out of distribution", func(st TeamStatus) bool { return st.Members[0].Buckets == 0 })
	if st.Active != "none" || st.Members[0].LACP.MarkerResponses != 1 {
		t.Errorf("path %s, marker counters %+v; want no path member, 1 answered", st.Active, st.Members[0].LACP)
	}
}

// TestLACPMarkerAnsweredByTeamgw runs two lacp teams in one daemon, cabled
// to each other by veth pairs: they negotiate, and disabling a member of
// one sends a marker that the other team's Marker Responder answers
// through both data planes. The disabled member goes on speaking LACP,
// detached, so the other team takes the link out of its aggregate while it
// is still current (not when it expires), and enabling it again brings the
// link back on both sides.
func TestLACPMarkerAnsweredByTeamgw(t *testing.T) {
	n := teamSeq.Add(1)
	tag := fmt.Sprintf("mk%d%d", os.Getpid()%10000, n)
	var members [2][]string
	for i := range 2 {
		a, b := fmt.Sprintf("%sa%d", tag, i), fmt.Sprintf("%sb%d", tag, i)
		if out, err := exec.Command("ip", "link", "add", a, "type", "veth", "peer", "name", b).CombinedOutput(); err != nil {
			t.Fatalf("veth: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "link", "del", a).Run() })
		ipLink(t, a, "up")
		ipLink(t, b, "up")
		members[0] = append(members[0], fmt.Sprintf("%q", fmt.Sprintf("net_af_packet_%sa%d,iface=%s", tag, i, a)))
		members[1] = append(members[1], fmt.Sprintf("%q", fmt.Sprintf("net_af_packet_%sb%d,iface=%s", tag, i, b)))
	}
	tt := &tapTeam{name: tag + "A"}
	text := fmt.Sprintf(`
[eal]
idle_sleep = "50us"
mbufs = 16383
[control]
socket = %q
link_poll = "5ms"
`, t.TempDir()+"/tg.sock")
	for j, side := range []string{"A", "B"} {
		text += fmt.Sprintf("[[team]]\nname = %q\nmode = \"lacp\"\nlacp_rate = \"fast\"\nmembers = [%s]\n", tag+side, strings.Join(members[j], ", "))
	}
	tt.run(t, text, func(d *Daemon) { d.markerTimeout = time.Minute })
	negotiated := func(s *Status) bool {
		for _, team := range s.Teams {
			for _, m := range team.Members {
				if m.State != "active" || !strings.Contains(m.LACP.ActorState, "distributing") {
					return false
				}
			}
		}
		return true
	}
	waitAll := func(what string, ok func(*Status) bool) *Status {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			s, err := tt.d.Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 15 s: %+v", what, s.Teams)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitAll("the two teams to negotiate", negotiated)
	m0 := fmt.Sprintf("net_af_packet_%sa0", tag)
	if err := tt.d.SetMemberEnabled(context.Background(), tag+"A", m0, false); err != nil {
		t.Fatal(err)
	}
	s, err := tt.d.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.Teams[0], s.Teams[1]
	l := a.Members[0].LACP
	if a.Members[0].State != "disabled" || l.MarkersTx != 1 || l.MarkerResponses != 1 || l.MarkerTimeouts != 0 {
		t.Fatalf("team A member 0 %s, marker counters %+v; want disabled after 1 marker answered", a.Members[0].State, l)
	}
	if b.LACP.MarkersAnswered != 1 {
		t.Errorf("team B answered %d markers, want 1", b.LACP.MarkersAnswered)
	}
	t.Logf("marker round trip through two teams' data and control planes (control polls every 5 ms): %v", l.LastMarkerRTT)
	s = waitAll("team B to take the link out", func(s *Status) bool {
		return !strings.Contains(s.Teams[1].Members[0].LACP.ActorState, "collecting")
	})
	if bl := s.Teams[1].Members[0].LACP; bl.Receive != lacp.ReceiveCurrent.String() || bl.Expired != 0 {
		t.Errorf("team B's member 0 left with receive %s, %d expiries: it timed out instead of being told", bl.Receive, bl.Expired)
	}
	if al := s.Teams[0].Members[0].LACP; al.Selected || al.Reason != "detached by the operator" {
		t.Errorf("team A's disabled member: selected %v %q", al.Selected, al.Reason)
	}
	if err := tt.d.SetMemberEnabled(context.Background(), tag+"A", m0, true); err != nil {
		t.Fatal(err)
	}
	waitAll("the link to rejoin both aggregates", negotiated)
}
