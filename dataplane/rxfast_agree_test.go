package dataplane

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/dpdk/dpdktest"
	"github.com/teamgw/teamgw/dataplane/frame"
)

// agreeCase is one team the fast test is checked against.
type agreeCase struct {
	name   string
	ts     TeamState
	mi     int
	active bool
}

// agreeCases are SLB and trunk teams with two and four members, a member
// MAC that ends in the same byte as the team MAC (so the bit filter
// passes it and the compares decide), inactive members and a team whose
// MAC is a group address (fast path off).
func agreeCases() []agreeCase {
	slb2 := guardedState()
	slb2.Probes, slb2.SlowToControl = true, true
	slb4 := slbState(ModeSLB)
	slb4.Members = 4
	slb4.RxMask = 0b1111
	for i, mac := range []frame.MAC{{0x02, 0, 0, 0, 0, 0x22}, {0x02, 0, 0, 0, 1, 0x01}, {0x02, 0, 0, 0, 0, 0x24}} {
		slb4.SetSourceMAC(i+1, mac)
		slb4.WireMAC[i+1] = mac
	}
	slb4.Path = 2
	trunk := slbState(ModeTrunk)
	trunk.SlowToControl = true
	group := slbState(ModeTrunk)
	group.MAC = frame.MAC{0x03, 0, 0, 0, 0, 1}
	return []agreeCase{
		{"slb, 2 members, path member", slb2, 0, true},
		{"slb, 2 members, other member", slb2, 1, true},
		{"slb, 4 members", slb4, 3, true},
		{"slb, 4 members, path member", slb4, 2, true},
		{"slb, inactive member", slb4, 1, false},
		{"trunk", trunk, 1, true},
		{"trunk, inactive member", trunk, 0, false},
		{"trunk, group team MAC", group, 0, true},
	}
}

// agreeFrame builds a random frame from the parts the filters look at:
// destinations and sources that are ours, strangers whose MAC ends in the
// same byte as one of ours, other strangers and group addresses; IPv4,
// IPv6, ARP, 802.1Q, slow protocols and other EtherTypes; some clients'
// addresses; whole frames and runts.
func agreeFrame(r *rand.Rand, ts *TeamState, clients []netip.Addr) []byte {
	macs := []frame.MAC{ts.MAC, clientMAC, frame.Broadcast, {0x01, 0, 0x5e, 0, 0, 1}, {0x33, 0x33, 0, 0, 0, 1},
		{0x02, 9, 9, 9, 9, ts.MAC[5]}, {0x0a, 1, 2, 3, 4, 0x21}, {}}
	for i := range int(ts.Members) {
		if wm := ts.WireMAC[i]; wm != (frame.MAC{}) {
			macs = append(macs, wm, frame.MAC{0x06, 7, 7, 7, 7, wm[5]})
		}
	}
	pick := func() frame.MAC {
		if r.IntN(4) == 0 {
			var m frame.MAC
			for i := range m {
				m[i] = byte(r.Uint32())
			}
			return m
		}
		return macs[r.IntN(len(macs))]
	}
	dst, src := pick(), pick()
	kind := r.IntN(8)
	if r.IntN(2) == 0 {
		// An ordinary frame, or one that differs from it in one part.
		ours := []frame.MAC{ts.MAC}
		for i := range int(ts.Members) {
			if wm := ts.WireMAC[i]; wm != (frame.MAC{}) {
				ours = append(ours, wm)
			}
		}
		dst, src, kind = ours[r.IntN(len(ours))], macs[1+r.IntN(7)], r.IntN(5)
		if src.IsMulticast() || src == (frame.MAC{}) {
			src = frame.MAC{0x02, 9, 9, 9, 9, ts.MAC[5]}
		}
	}
	var b []byte
	switch kind {
	case 0, 1, 2:
		sip := [4]byte{192, 0, 2, byte(r.IntN(8))}
		if a := clients[r.IntN(len(clients))]; a.Is4() && r.IntN(2) == 0 {
			sip = a.As4()
		}
		b = udpFrame(dst, src, sip, [4]byte{192, 0, 2, 1}, uint16(r.Uint32()), 53, 0)
	case 3, 4:
		sip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(r.IntN(8))})
		if a := clients[r.IntN(len(clients))]; a.Is6() && r.IntN(2) == 0 {
			sip = a
		}
		b = ip6Frame(dst, src, sip, netip.MustParseAddr("2001:db8::1"))
	case 5:
		b = frame.AppendARP(nil, dst, src, frame.ARPReply, src, clientIP, dst, teamIP)
	case 6:
		b = frame.Tag(udpFrame(dst, src, [4]byte{192, 0, 2, 9}, [4]byte{192, 0, 2, 1}, 1, 2, 0), uint16(r.IntN(3)))
	default:
		b = ethFrame(dst, src, byte(r.Uint32()))
		types := []uint16{frame.TypeSlow, 0x9000, 0x88cc, uint16(r.Uint32())}
		binary.BigEndian.PutUint16(b[12:], types[r.IntN(len(types))])
	}
	if r.IntN(10) == 0 {
		b = b[:r.IntN(min(len(b), 40))]
	}
	return b
}

// wantFast reports whether the fast test must take e from member mi: an
// untagged unicast IPv4 or IPv6 frame the full filters accept, while no
// MAC of the team is a group address.
func wantFast(ts *TeamState, mi int, active bool, e frame.Ethernet) bool {
	if !e.Valid() || e.Type() != frame.TypeIPv4 && e.Type() != frame.TypeIPv6 || e.DstIsMulticast() || ts.MAC.IsMulticast() {
		return false
	}
	for i := range int(ts.Members) {
		if ts.WireMAC[i].IsMulticast() {
			return false
		}
	}
	_, ok := acceptFromWire(ts, mi, active, append(frame.Ethernet(nil), e...))
	return ok
}

// TestFastPathMatchesFiltersOverManyFrames runs many random frames (see
// agreeFrame) through the fast test for every agreeCase, each on its own
// and then a vector at a time: it takes exactly the frames wantFast
// names, in a vector up to the first it does not take, counting their
// bytes; it leaves every frame as acceptFromWire leaves it; and it counts
// the same clients as countClient does over the frames it took.
func TestFastPathMatchesFiltersOverManyFrames(t *testing.T) {
	pool := dpdktest.Pool(t, 255)
	clients := []netip.Addr{netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("192.0.2.5"),
		netip.MustParseAddr("2001:db8::3"), netip.MustParseAddr("2001:db8::6")}
	slots := &RxSlots{}
	for _, a := range clients {
		place(slots, RxKey(a))
	}
	const vectors = 1000
	one := pool.Alloc()
	defer one.Free()
	var cases []agreeCase
	for _, tc := range agreeCases() {
		counting := tc
		counting.name += ", counting clients"
		cases = append(cases, tc, counting)
	}
	for ci, tc := range cases {
		counting := ci%2 == 1
		r := rand.New(rand.NewPCG(1, uint64(len(tc.name))))
		ts := tc.ts
		ts.RxMask = 0
		if tc.active {
			ts.RxMask = 1 << tc.mi
		}
		var f rxFast
		f.load(&ts, tc.active)
		f.from(tc.mi) // frames to its own MAC take the loop's test, others isMemberDst
		var fastCount, fullCount, fastCount1, fullCount1 [NRxSlots * 2]uint64
		if counting {
			ts.RxSlots = slots
			f.slots, f.clients = slots, &fastCount
		}
		f1 := f
		f1.clients = &fastCount1
		taken, checked, verdicts := 0, 0, 0
		for range vectors {
			n := 1 + r.IntN(12)
			frames := make([][]byte, n)
			ms := make([]*dpdk.Mbuf, n)
			for i := range ms {
				frames[i] = agreeFrame(r, &ts, clients)
				if ms[i] = pool.Alloc(); ms[i] == nil || !ms[i].SetData(frames[i]) {
					t.Fatal("cannot fill an mbuf")
				}
			}
			want, wantBytes := n, uint64(0)
			for i, b := range frames {
				if !wantFast(&ts, tc.mi, tc.active, b) {
					want = i
					break
				}
				wantBytes += uint64(len(b))
			}
			// Each frame on its own, from a copy: the verdict.
			for _, fr := range frames {
				if !one.SetData(fr) {
					t.Fatal("cannot fill an mbuf")
				}
				k, _ := f1.run(vector(one))
				if want := wantFast(&ts, tc.mi, tc.active, fr); (k == 1) != want {
					t.Fatalf("%s: fast test takes %v, the filters say %v: % x", tc.name, k == 1, want, fr)
				}
				if k == 1 {
					full := bytes.Clone(fr)
					acceptFromWire(&ts, tc.mi, tc.active, full)
					if counting {
						countClient(slots, &fullCount1, full, uint64(len(full)))
					}
					verdicts++
				}
			}
			k, size := f.run(vector(ms...))
			if k != want || size != wantBytes {
				t.Fatalf("%s: fast test took %d frames (%d bytes), want %d (%d bytes); first left: % x", tc.name, k, size, want, wantBytes, frames[min(k, want)%n])
			}
			for i := range k {
				full := bytes.Clone(frames[i])
				acceptFromWire(&ts, tc.mi, tc.active, full)
				if got := ms[i].Data(); !bytes.Equal(got, full) {
					t.Fatalf("%s: fast test left % x, the filters % x", tc.name, got, full)
				}
				if counting {
					countClient(slots, &fullCount, full, uint64(len(full)))
				}
			}
			for i := k; i < n; i++ {
				if !bytes.Equal(ms[i].Data(), frames[i]) {
					t.Fatalf("%s: fast test changed a frame it did not take: % x", tc.name, ms[i].Data())
				}
			}
			for _, m := range ms {
				m.Free()
			}
			taken += k
			checked += n
		}
		if counting && verdicts > 0 && fullCount1 == ([NRxSlots * 2]uint64{}) {
			t.Errorf("%s: no client frame taken: the test counts nothing", tc.name)
		}
		if fastCount != fullCount || fastCount1 != fullCount1 {
			t.Errorf("%s: the fast test counted clients differently from countClient", tc.name)
		}
		t.Logf("%s: %d of %d frames taken on their own, %d at the head of their vector", tc.name, verdicts, checked, taken)
	}
}

// TestFastPathTakesOrdinaryTrafficAndCountsIt: a vector of ordinary
// frames from clients and strangers, for the team MAC and (SLB) member
// MACs, passes the fast test whole, and each client's frames and bytes
// are counted in its slot.
func TestFastPathTakesOrdinaryTrafficAndCountsIt(t *testing.T) {
	pool := dpdktest.Pool(t, 63)
	ts := agreeCases()[2].ts
	a, b := netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("2001:db8::3")
	slots := &RxSlots{}
	ha, hb := place(slots, RxKey(a)), place(slots, RxKey(b))
	stranger := frame.MAC{0x02, 9, 9, 9, 9, 0x21} // ends like memberMAC1: the filter passes it, the compares do not
	frames := [][]byte{
		udpFrame(ts.MAC, clientMAC, a.As4(), teamIP.As4(), 1, 2, 0),
		ip6Frame(ts.WireMAC[1], clientMAC, b, netip.MustParseAddr("2001:db8::1")),
		udpFrame(ts.WireMAC[3], stranger, a.As4(), teamIP.As4(), 1, 2, 0),
		udpFrame(ts.MAC, stranger, [4]byte{192, 0, 2, 99}, teamIP.As4(), 1, 2, 0),
	}
	var f rxFast
	f.load(&ts, true)
	var c [NRxSlots * 2]uint64
	f.slots, f.clients = slots, &c
	ms := make([]*dpdk.Mbuf, len(frames))
	var total uint64
	for i, fr := range frames {
		if ms[i] = pool.Alloc(); ms[i] == nil || !ms[i].SetData(fr) {
			t.Fatal("cannot fill an mbuf")
		}
		defer ms[i].Free()
		total += uint64(len(fr))
	}
	if k, n := f.run(vector(ms...)); k != len(frames) || n != total {
		t.Fatalf("took %d frames, %d bytes; want %d, %d", k, n, len(frames), total)
	}
	for i, m := range ms {
		if frame.Ethernet(m.Data()).Dst() != ts.MAC {
			t.Errorf("frame %d leaves for %s, want the team MAC", i, frame.Ethernet(m.Data()).Dst())
		}
	}
	pa, ba := ClientSlotCounters(c[:], 0, ha)
	pb, bb := ClientSlotCounters(c[:], 0, hb)
	if pa != 2 || ba != uint64(len(frames[0])+len(frames[2])) || pb != 1 || bb != uint64(len(frames[1])) {
		t.Errorf("client %s: %d/%d, client %s: %d/%d; want 2/%d and 1/%d", a, pa, ba, b, pb, bb, len(frames[0])+len(frames[2]), len(frames[1]))
	}
	var sum uint64
	for i := range NRxSlots {
		p, _ := ClientSlotCounters(c[:], 0, i)
		sum += p
	}
	if sum != 3 {
		t.Errorf("%d frames counted, want 3", sum)
	}
}

// TestRxViewReloadsOnNewSnapshotOrActivity: a worker's view of a team is
// reused for the same snapshot and member activity and loaded again when
// either changes, client table included.
func TestRxViewReloadsOnNewSnapshotOrActivity(t *testing.T) {
	var v rxView
	s1 := &Snapshot{}
	s1.Teams[0] = slbState(ModeSLB)
	if f := v.of(&s1.Teams[0], true); f.team != macKey(teamMAC) || !f.mayBeOurs(macKey(memberMAC1)) {
		t.Fatalf("view of the first snapshot: team %#x", f.team)
	}
	if f := v.of(&s1.Teams[0], false); f.team != noMAC {
		t.Errorf("view for an inactive member: team %#x, want the fast path off", f.team)
	}
	other := frame.MAC{0x02, 0, 0, 0, 0, 0x77}
	s2 := &Snapshot{}
	s2.Teams[0] = slbState(ModeSLB)
	s2.Teams[0].MAC = other
	s2.Teams[0].RxSlots = &RxSlots{}
	if f := v.of(&s2.Teams[0], true); f.team != macKey(other) || f.mayBeOurs(macKey(teamMAC)) && !f.mayBeOurs(macKey(other)) || f.slots != s2.Teams[0].RxSlots {
		t.Errorf("view of a new snapshot: team %#x, want %#x; client table %p, want %p", f.team, macKey(other), f.slots, s2.Teams[0].RxSlots)
	}
	if f := v.of(&s1.Teams[0], true); f.team != macKey(teamMAC) || f.slots != nil {
		t.Errorf("view of the first snapshot again: team %#x, client table %p", f.team, f.slots)
	}
}
