package dataplane

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/teamgw/teamgw/dataplane/frame"
)

// ip6Frame builds an IPv6/UDP frame from src.
func ip6Frame(dst, smac frame.MAC, src, dstIP netip.Addr) []byte {
	f := make([]byte, 14+40+8)
	copy(f[0:6], dst[:])
	copy(f[6:12], smac[:])
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	f[14] = 0x60
	binary.BigEndian.PutUint16(f[18:], 8)
	f[20], f[21] = 17, 64
	s, d := src.As16(), dstIP.As16()
	copy(f[22:38], s[:])
	copy(f[38:54], d[:])
	return f
}

// place puts key in its first free slot, as the control plane does.
func place(s *RxSlots, key uint64) int {
	h := RxSlotOf(key)
	for _, i := range []int{h, h ^ 1} {
		if s.Key[i] == 0 {
			s.Key[i] = key
			return i
		}
	}
	return -1
}

func TestRxKeysAreDistinctAndNeverZero(t *testing.T) {
	seen := map[uint64]netip.Addr{}
	add := func(a netip.Addr) {
		k := RxKey(a)
		if k == 0 {
			t.Fatalf("key of %s is 0 (the free slot)", a)
		}
		if o, dup := seen[k]; dup {
			t.Fatalf("%s and %s share key %#x", a, o, k)
		}
		seen[k] = a
	}
	for i := range 4096 {
		add(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
		b := netip.MustParseAddr("2001:db8::").As16()
		b[14], b[15] = byte(i>>8), byte(i)
		add(netip.AddrFrom16(b))
		b[7] = 1 // another /64, same interface identifier
		add(netip.AddrFrom16(b))
	}
	add(netip.IPv4Unspecified())
	add(netip.IPv6Unspecified())
}

func TestCountClient(t *testing.T) {
	var s RxSlots
	var c [NRxSlots * 2]uint64
	v4 := netip.MustParseAddr("192.0.2.10")
	v6 := netip.MustParseAddr("2001:db8::a")
	h4 := place(&s, RxKey(v4))
	h6 := place(&s, RxKey(v6))
	// A client whose first slot is taken lands in the other of the pair.
	h4b := place(&s, RxKey(v4)) // (a second entry for the same key: the pair's other slot)
	team := netip.MustParseAddr("192.0.2.1")
	u4 := udpFrame(teamMAC, clientMAC, v4.As4(), team.As4(), 1, 2, 0)
	countClient(&s, &c, u4, 100)
	countClient(&s, &c, u4, 100)
	countClient(&s, &c, ip6Frame(teamMAC, clientMAC, v6, netip.MustParseAddr("2001:db8::1")), 62)
	if c[2*h4] != 2 || c[2*h4+1] != 200 || c[2*h6] != 1 || c[2*h6+1] != 62 {
		t.Errorf("v4 slot %d: %d/%d, v6 slot %d: %d/%d; want 2/200 and 1/62", h4, c[2*h4], c[2*h4+1], h6, c[2*h6], c[2*h6+1])
	}
	if h4b != h4^1 {
		t.Fatalf("second placement in slot %d, want %d", h4b, h4^1)
	}
	// Not counted: another source, an ARP, a tagged frame, runts.
	before := c
	countClient(&s, &c, udpFrame(teamMAC, clientMAC, [4]byte{192, 0, 2, 99}, team.As4(), 1, 2, 0), 100)
	countClient(&s, &c, frame.AppendARP(nil, teamMAC, clientMAC, frame.ARPReply, clientMAC, v4, teamMAC, team), 60)
	countClient(&s, &c, frame.Tag(u4, 5), 104)
	countClient(&s, &c, u4[:33], 33)
	countClient(&s, &c, ip6Frame(teamMAC, clientMAC, v6, team)[:37], 37)
	if c != before {
		t.Error("a frame that is not from a client was counted")
	}
	// The second slot of the pair is found too.
	s.Key[h4] = 0
	countClient(&s, &c, u4, 100)
	if c[2*(h4^1)] != 1 || s.Lookup(RxKey(v4)) != h4^1 || s.Lookup(RxKey(netip.MustParseAddr("192.0.2.99"))) != -1 {
		t.Errorf("second slot: %d packets, lookup %d", c[2*(h4^1)], s.Lookup(RxKey(v4)))
	}
}

// TestWorkerCountsClientTraffic sends frames from two clients and a
// stranger in through both members of an SLB team: each client's frames
// are counted in its slot whatever member they arrive on, the stranger's
// and those the filters drop are not.
func TestWorkerCountsClientTraffic(t *testing.T) {
	r := newRig(t, 2)
	ts := slbState(ModeSLB)
	a, b := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::b")
	slots := &RxSlots{}
	ha, hb := place(slots, RxKey(a)), place(slots, RxKey(b))
	ts.RxSlots = slots
	r.publishState(ts)
	team := [4]byte{192, 0, 2, 1}
	fa := udpFrame(teamMAC, clientMAC, a.As4(), team, 1, 2, 0)
	fb := ip6Frame(memberMAC1, clientMAC, b, netip.MustParseAddr("2001:db8::1"))
	r.members[0].send(fa)
	r.members[1].send(fa)
	r.members[1].send(fb)
	r.members[0].send(udpFrame(teamMAC, clientMAC, [4]byte{192, 0, 2, 77}, team, 1, 2, 0))
	r.members[0].send(udpFrame(frame.MAC{2, 9, 9, 9, 9, 9}, clientMAC, a.As4(), team, 1, 2, 0)) // not for us: dropped
	r.tap.collect(4)
	c := r.w.ClientCounters()
	pa, ba := ClientSlotCounters(c, 0, ha)
	pb, bb := ClientSlotCounters(c, 0, hb)
	if pa != 2 || ba != 2*uint64(len(fa)) || pb != 1 || bb != uint64(len(fb)) {
		t.Errorf("client %s: %d packets %d bytes, %s: %d packets %d bytes; want 2/%d and 1/%d", a, pa, ba, b, pb, bb, 2*len(fa), len(fb))
	}
	var total uint64
	for i := range NRxSlots {
		p, _ := ClientSlotCounters(c, 0, i)
		total += p
	}
	if total != 3 {
		t.Errorf("%d packets counted in all, want 3", total)
	}
}

// TestWorkerCountingAllocatesNothing drives the receive path with client
// counting through Poll and checks that a vector costs no allocation.
func TestWorkerCountingAllocatesNothing(t *testing.T) {
	r := newRig(t, 2, func(r *rig, _ *WorkerConfig) { r.noStart = true })
	ts := slbState(ModeSLB)
	ts.RxSlots = &RxSlots{}
	frames := make([][]byte, 32)
	for i := range frames {
		ip := [4]byte{192, 0, 2, byte(10 + i)}
		place(ts.RxSlots, RxKey(netip.AddrFrom4(ip)))
		frames[i] = udpFrame(teamMAC, clientMAC, ip, [4]byte{192, 0, 2, 1}, uint16(1000+i), 53, 0)
	}
	r.publishState(ts)
	allocs := testing.AllocsPerRun(200, func() {
		for _, f := range frames {
			r.members[0].send(f)
		}
		r.w.Poll()
		r.w.Poll() // flush
		r.tap.discard()
	})
	if allocs != 0 {
		t.Errorf("%v allocations per vector, want 0", allocs)
	}
	var total uint64
	for i := range NRxSlots {
		p, _ := ClientSlotCounters(r.w.ClientCounters(), 0, i)
		total += p
	}
	if total == 0 {
		t.Error("no client frame was counted")
	}
}
