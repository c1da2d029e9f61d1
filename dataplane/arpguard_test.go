package dataplane

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/teamgw/teamgw/dataplane/frame"
)

var (
	teamIP   = netip.MustParseAddr("192.0.2.1")
	vlanIP   = netip.MustParseAddr("198.51.100.1")
	clientIP = netip.MustParseAddr("192.0.2.10")
)

// guardedState is slbState with the team's addresses known to the guard.
func guardedState() TeamState {
	ts := slbState(ModeSLB)
	ts.SetOwnIPs([]netip.Addr{netip.MustParseAddr("2001:db8::1"), teamIP, vlanIP})
	return ts
}

func TestSetOwnIPsKeepsIPv4AndBounds(t *testing.T) {
	var ts TeamState
	var addrs []netip.Addr
	for i := range MaxOwnIPs + 5 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), netip.MustParseAddr("2001:db8::9"))
	}
	ts.SetOwnIPs(addrs)
	if ts.NumOwnIPs != MaxOwnIPs || ts.OwnIPs[0] != [4]byte{10, 0, 0, 0} || ts.OwnIPs[MaxOwnIPs-1] != [4]byte{10, 0, 0, MaxOwnIPs - 1} {
		t.Errorf("SetOwnIPs kept %d: %v", ts.NumOwnIPs, ts.OwnIPs)
	}
	ts.SetOwnIPs(nil)
	if ts.NumOwnIPs != 0 || ts.isOwnIP([4]byte{10, 0, 0, 0}) {
		t.Errorf("SetOwnIPs(nil) kept %d addresses", ts.NumOwnIPs)
	}
}

func TestSpoofedARP(t *testing.T) {
	ts := guardedState()
	arp := func(op uint16, sha frame.MAC, spa, tpa netip.Addr) []byte {
		return frame.AppendARP(nil, frame.Broadcast, clientMAC, op, sha, spa, frame.MAC{}, tpa)
	}
	other := netip.MustParseAddr("192.0.2.20")
	tests := []struct {
		name  string
		frame []byte
		want  bool
	}{
		{"gratuitous ARP claiming the team IP", arp(frame.ARPRequest, clientMAC, teamIP, teamIP), true},
		{"reply claiming the team IP", arp(frame.ARPReply, clientMAC, teamIP, clientIP), true},
		{"claiming a VLAN's IP", arp(frame.ARPRequest, clientMAC, vlanIP, vlanIP), true},
		{"tagged, claiming the team IP", frame.Tag(arp(frame.ARPRequest, clientMAC, teamIP, teamIP), 7), true},
		{"sender MAC is the team MAC", arp(frame.ARPReply, teamMAC, clientIP, teamIP), true},
		{"sender MAC is a member's", arp(frame.ARPRequest, memberMAC1, other, teamIP), true},
		{"client asking for the team", arp(frame.ARPRequest, clientMAC, clientIP, teamIP), false},
		{"client announcing itself", arp(frame.ARPRequest, clientMAC, clientIP, clientIP), false},
		{"ARP probe for the team IP (sender 0.0.0.0)", arp(frame.ARPRequest, clientMAC, netip.IPv4Unspecified(), teamIP), false},
		{"tagged client request", frame.Tag(arp(frame.ARPRequest, clientMAC, clientIP, teamIP), 7), false},
		{"IPv4, not ARP", udpFrame(teamMAC, clientMAC, teamIP.As4(), teamIP.As4(), 1, 2, 0), false},
		{"truncated ARP", arp(frame.ARPRequest, clientMAC, teamIP, teamIP)[:frame.EthHeaderLen+frame.ARPLen-1], false},
		{"tag without payload", frame.Tag(arp(frame.ARPRequest, clientMAC, teamIP, teamIP), 7)[:16], false},
	}
	for _, tc := range tests {
		if got := spoofedARP(&ts, frame.Ethernet(tc.frame)); got != tc.want {
			t.Errorf("%s: spoofedARP = %v, want %v", tc.name, got, tc.want)
		}
	}
	odd := arp(frame.ARPRequest, clientMAC, teamIP, teamIP)
	odd[frame.EthHeaderLen+4] = 8 // 8-byte hardware addresses: not ARP for Ethernet
	if spoofedARP(&ts, frame.Ethernet(odd)) {
		t.Error("an ARP with odd address sizes counted as spoofed; the kernel ignores it anyway")
	}
	var bare TeamState // no addresses, zero MACs: only MAC claims of zero could match
	if spoofedARP(&bare, frame.Ethernet(arp(frame.ARPRequest, clientMAC, teamIP, teamIP))) {
		t.Error("a team without addresses found a spoof")
	}
}

// TestWorkerDropsSpoofedARP sends ARPs that claim the team from both
// members: each is counted as spoofed_arp and none reaches the kernel,
// while a client's own ARP request does.
func TestWorkerDropsSpoofedARP(t *testing.T) {
	r := newRig(t, 2)
	r.publishState(guardedState())
	garp := frame.AppendARP(nil, frame.Broadcast, clientMAC, frame.ARPRequest, clientMAC, teamIP, frame.MAC{}, teamIP)
	fakeMember := frame.AppendARP(nil, teamMAC, clientMAC, frame.ARPReply, memberMAC1, clientIP, teamMAC, teamIP)
	good := frame.AppendARP(nil, frame.Broadcast, clientMAC, frame.ARPRequest, clientMAC, clientIP, frame.MAC{}, teamIP)
	r.members[0].send(garp)
	r.members[1].send(garp) // a broadcast on the other member: spoofed before filtered
	r.members[1].send(fakeMember)
	r.members[0].send(good)
	if got := r.tap.collect(1)[0]; !bytes.Equal(got, good) {
		t.Errorf("kernel got %x, want the client's request", got)
	}
	r.tap.quiet()
	c := &r.w.Counters().Teams[0]
	deadline := time.Now().Add(5 * time.Second)
	for c.Drops[DropSpoofedARP].Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := c.Drops[DropSpoofedARP].Load(); got != 3 {
		t.Errorf("drops[spoofed_arp] = %d, want 3", got)
	}
	if got := c.Drops[DropMulticastFilter].Load(); got != 0 {
		t.Errorf("drops[multicast_filter] = %d, want 0", got)
	}
}

func TestDropReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for r := range NumDropReasons {
		name := r.String()
		if name == "" || name == "unknown" || seen[name] {
			t.Errorf("reason %d has name %q", r, name)
		}
		seen[name] = true
	}
	if DropSpoofedARP.String() != "spoofed_arp" {
		t.Errorf("DropSpoofedARP = %q", DropSpoofedARP)
	}
}
