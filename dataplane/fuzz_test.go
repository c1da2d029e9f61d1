package dataplane

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/teamgw/teamgw/dataplane/frame"
)

// FuzzWireFilters feeds arbitrary frames to what the data plane decides
// from the contents of a frame that arrived on a member (the receive
// filters, the ARP guard, the echo-probe reply test) and of an ARP the
// kernel sends (the SLB steering). None may panic or read past the frame;
// a frame claiming the team is never accepted; an accepted unicast frame
// is for the team MAC; steering picks the default or the client's member;
// client counting counts a frame at most once, only in the client's slot.
func FuzzWireFilters(f *testing.F) {
	echo := netip.MustParseAddr("192.0.2.254")
	probeReply := frame.AppendARP(nil, memberMAC1, clientMAC, frame.ARPReply, clientMAC, echo, memberMAC1, netip.IPv4Unspecified())
	for _, b := range [][]byte{
		frame.AppendARP(nil, frame.Broadcast, clientMAC, frame.ARPRequest, clientMAC, teamIP, frame.MAC{}, teamIP),
		frame.AppendARP(nil, teamMAC, clientMAC, frame.ARPReply, memberMAC1, clientIP, teamMAC, teamIP),
		frame.AppendARP(nil, clientMAC, teamMAC, frame.ARPReply, teamMAC, teamIP, clientMAC, clientIP),
		frame.AppendNA(nil, clientMAC, teamMAC, teamIP6, clientIP6, frame.NASolicited, teamIP6, teamMAC),
		nsFrame(clientMAC, clientIP6, clientIP6),
		frame.Tag(frame.AppendARP(nil, frame.Broadcast, clientMAC, frame.ARPRequest, clientMAC, vlanIP, frame.MAC{}, vlanIP), 5),
		probeReply,
		probeReply[:frame.EthHeaderLen+frame.ARPLen-1],
		udpFrame(memberMAC1, clientMAC, clientIP.As4(), teamIP.As4(), 1000, 53, 0),
		ethFrame(teamMAC, teamMAC, 1),
		{0x01, 0x80, 0xc2, 0, 0, 2, 2, 0, 0, 0, 0, 0x10, 0x88, 0x09, 1, 1},
		{0x81, 0x00},
		{},
	} {
		f.Add(b, uint8(0), true)
		f.Add(b, uint8(1), false)
	}
	base := guardedState()
	base.Probes = true
	base.Clients = map[[4]byte]int8{clientIP.As4(): 1}
	base.Clients6 = map[[16]byte]int8{clientIP6.As16(): 1}
	slots := &RxSlots{}
	slot := place(slots, RxKey(clientIP))
	base.RxSlots = slots
	var counts [NRxSlots * 2]uint64
	f.Fuzz(func(t *testing.T, b []byte, mi uint8, active bool) {
		ts := base
		e := frame.Ethernet(b)
		spoofed := spoofedARP(&ts, e)
		if isProbeReply(&ts, e) {
			a := frame.ARP(b[frame.EthHeaderLen:])
			if e.Type() != frame.TypeARP || a.Op() != frame.ARPReply || a.TargetIP() != netip.IPv4Unspecified() ||
				(e.Dst() != ts.MAC && !ts.isMemberMAC(e.Dst())) {
				t.Fatalf("probe reply accepted: % x", b)
			}
		}
		cp := append([]byte(nil), b...)
		reason, ok := acceptFromWire(&ts, int(mi%MaxMembers), active, frame.Ethernet(cp))
		if ok {
			if spoofed {
				t.Fatalf("a frame claiming the team was accepted: % x", b)
			}
			if !e.Valid() || !active || e.Src() == ts.MAC || ts.isMemberMAC(e.Src()) {
				t.Fatalf("accepted a frame the filters must drop: active %v, % x", active, b)
			}
			if !e.DstIsMulticast() && frame.Ethernet(cp).Dst() != ts.MAC {
				t.Fatalf("accepted unicast for %s", frame.Ethernet(cp).Dst())
			}
		} else if reason >= NumDropReasons {
			t.Fatalf("drop reason %d", reason)
		}
		counts[2*slot] = 0
		countClient(slots, &counts, b, 1)
		if counts[2*slot] > 1 || counts[2*slot] == 1 && (len(b) < 34 || [4]byte(b[26:30]) != clientIP.As4()) {
			t.Fatalf("counted %d for % x", counts[2*slot], b)
		}
		cp = append(cp[:0], b...)
		cp = append(cp[:0], b...)
		if got := steerND(&ts, cp, 0); got != 0 && got != 1 || got == 0 && !bytes.Equal(cp, b) {
			t.Fatalf("steerND = %d, changed %v", got, !bytes.Equal(cp, b))
		}
		cp = append(cp[:0], b...)
		if got := steerARP(&ts, cp, 0); got != 0 && got != 1 {
			t.Fatalf("steerARP = %d", got)
		}
	})
}
