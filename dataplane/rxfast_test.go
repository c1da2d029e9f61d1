package dataplane

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/dpdk/dpdktest"
	"github.com/teamgw/teamgw/dataplane/frame"
)

// fastTakes runs the fast test over one frame in mbuf m and returns
// whether it took the frame, the bytes it counted and the frame after.
func fastTakes(m *dpdk.Mbuf, ts *TeamState, active bool, b []byte) (bool, uint64, []byte) {
	var f rxFast
	f.load(ts, active)
	if !m.SetData(b) {
		return false, 0, nil
	}
	n, size := f.run(vector(m))
	return n == 1, size, m.Data()
}

// vector is ms as IO.Step hands out a vector: followed by dpdk.EndMark.
func vector(ms ...*dpdk.Mbuf) []*dpdk.Mbuf {
	return append(ms[:len(ms):len(ms)], dpdk.EndMark())[:len(ms)]
}

// TestFastPathTakesOnlyOrdinaryFrames: unicast IPv4 and IPv6 from a
// stranger to the team MAC or a member's MAC take the fast path (the
// member's MAC rewritten to the team's); anything any other filter may
// act on does not.
func TestFastPathTakesOnlyOrdinaryFrames(t *testing.T) {
	pool := dpdktest.Pool(t, 63)
	m := pool.Alloc()
	defer m.Free()
	v4 := udpFrame(teamMAC, clientMAC, [4]byte{192, 0, 2, 10}, [4]byte{192, 0, 2, 1}, 1, 2, 0)
	v6 := ip6Frame(teamMAC, clientMAC, netip.MustParseAddr("2001:db8::b"), netip.MustParseAddr("2001:db8::1"))
	toMember := udpFrame(memberMAC1, clientMAC, [4]byte{192, 0, 2, 10}, [4]byte{192, 0, 2, 1}, 1, 2, 0)
	slb := slbState(ModeSLB)
	trunk := slbState(ModeTrunk)
	multicastTeam := slbState(ModeTrunk)
	multicastTeam.MAC = frame.MAC{0x03, 0, 0, 0, 0, 1}
	for _, tc := range []struct {
		name   string
		ts     *TeamState
		active bool
		frame  []byte
		want   bool
	}{
		{"ipv4 to team", &slb, true, v4, true},
		{"ipv6 to team", &slb, true, v6, true},
		{"ipv4 to team, trunk", &trunk, true, v4, true},
		{"to a member's MAC", &slb, true, toMember, true},
		{"to a member's MAC, trunk (no member MACs)", &trunk, true, toMember, false},
		{"inactive member", &slb, false, v4, false},
		{"from the team MAC", &slb, true, udpFrame(teamMAC, teamMAC, [4]byte{1, 2, 3, 4}, [4]byte{5, 6, 7, 8}, 1, 2, 0), false},
		{"from a member's MAC", &slb, true, udpFrame(teamMAC, memberMAC1, [4]byte{1, 2, 3, 4}, [4]byte{5, 6, 7, 8}, 1, 2, 0), false},
		{"not for us", &slb, true, udpFrame(frame.MAC{2, 9, 9, 9, 9, 9}, clientMAC, [4]byte{1, 2, 3, 4}, [4]byte{5, 6, 7, 8}, 1, 2, 0), false},
		{"broadcast", &slb, true, udpFrame(frame.Broadcast, clientMAC, [4]byte{1, 2, 3, 4}, [4]byte{5, 6, 7, 8}, 1, 2, 0), false},
		{"team MAC is a group address", &multicastTeam, true, udpFrame(multicastTeam.MAC, clientMAC, [4]byte{1, 2, 3, 4}, [4]byte{5, 6, 7, 8}, 1, 2, 0), false},
		{"arp", &slb, true, frame.AppendARP(nil, teamMAC, clientMAC, frame.ARPReply, clientMAC, clientIP, teamMAC, teamIP), false},
		{"802.1Q", &slb, true, frame.Tag(v4, 5), false},
		{"slow protocols", &slb, true, []byte{0x01, 0x80, 0xc2, 0, 0, 2, 2, 0, 0, 0, 0, 0x10, 0x88, 0x09, 1, 1}, false},
		{"short", &slb, true, v4[:13], false},
	} {
		took, size, after := fastTakes(m, tc.ts, tc.active, tc.frame)
		if took != tc.want {
			t.Errorf("%s: taken %v, want %v", tc.name, took, tc.want)
			continue
		}
		if took && (size != uint64(len(tc.frame)) || frame.Ethernet(after).Dst() != tc.ts.MAC || !bytes.Equal(after[6:], tc.frame[6:])) {
			t.Errorf("%s: %d bytes, frame % x", tc.name, size, after)
		}
	}
}

// FuzzFastPathAgrees checks the fast test against the full filters: a
// frame it takes is one no control-plane hand-off, ARP guard or VLAN
// port wants, that acceptFromWire accepts, leaving the same bytes.
func FuzzFastPathAgrees(f *testing.F) {
	for _, b := range [][]byte{
		udpFrame(teamMAC, clientMAC, [4]byte{192, 0, 2, 10}, [4]byte{192, 0, 2, 1}, 1, 2, 0),
		udpFrame(memberMAC1, clientMAC, [4]byte{192, 0, 2, 10}, [4]byte{192, 0, 2, 1}, 1, 2, 0),
		udpFrame(teamMAC, memberMAC1, [4]byte{192, 0, 2, 10}, [4]byte{192, 0, 2, 1}, 1, 2, 0),
		ip6Frame(teamMAC, clientMAC, netip.MustParseAddr("2001:db8::b"), netip.MustParseAddr("2001:db8::1")),
		frame.AppendARP(nil, teamMAC, clientMAC, frame.ARPReply, memberMAC1, clientIP, teamMAC, teamIP),
		frame.Tag(udpFrame(teamMAC, clientMAC, [4]byte{1, 2, 3, 4}, [4]byte{5, 6, 7, 8}, 1, 2, 0), 5),
		{0x01, 0x80, 0xc2, 0, 0, 2, 2, 0, 0, 0, 0, 0x10, 0x88, 0x09, 1, 1},
		{},
	} {
		f.Add(b, uint8(0), true, true)
		f.Add(b, uint8(1), false, false)
	}
	pool := dpdktest.Pool(f, 63)
	m := pool.Alloc()
	f.Cleanup(m.Free)
	f.Fuzz(func(t *testing.T, b []byte, mi uint8, active, slb bool) {
		ts := guardedState()
		ts.Probes, ts.SlowToControl = true, true
		if !slb {
			ts = slbState(ModeTrunk)
		}
		took, size, after := fastTakes(m, &ts, active, b)
		if !took {
			return
		}
		e := frame.Ethernet(b)
		if ts.Probes && isProbeReply(&ts, e) || e.Type() == frame.TypeSlow || e.Type() == frame.TypeVLAN || spoofedARP(&ts, e) {
			t.Fatalf("fast path took a frame for another filter: % x", b)
		}
		full := append([]byte(nil), b...)
		if r, ok := acceptFromWire(&ts, int(mi%MaxMembers), active, full); !ok {
			t.Fatalf("fast path took a frame the filters drop (%s): % x", r, b)
		}
		if size != uint64(len(b)) || !bytes.Equal(after, full) {
			t.Fatalf("fast path left % x (%d bytes), the filters % x", after, size, full)
		}
	})
}

// TestWorkerKeepsOrderAcrossFastAndFullFilters sends one vector that
// mixes frames the fast test takes with frames only the full filters
// decide on: the kernel gets the accepted ones in arrival order and the
// counters add up.
func TestWorkerKeepsOrderAcrossFastAndFullFilters(t *testing.T) {
	r := newRig(t, 2, func(r *rig, _ *WorkerConfig) { r.noStart = true })
	ts := slbState(ModeSLB)
	r.publishState(ts)
	v4 := udpFrame(teamMAC, clientMAC, [4]byte{192, 0, 2, 10}, [4]byte{192, 0, 2, 1}, 1, 2, 0)
	bcast := ethFrame(frame.Broadcast, clientMAC, 4)
	toMember := udpFrame(memberMAC1, clientMAC, [4]byte{192, 0, 2, 11}, [4]byte{192, 0, 2, 1}, 1, 2, 0)
	loop := udpFrame(teamMAC, memberMAC1, [4]byte{192, 0, 2, 12}, [4]byte{192, 0, 2, 1}, 1, 2, 0)
	arp := frame.AppendARP(nil, teamMAC, clientMAC, frame.ARPReply, clientMAC, clientIP, teamMAC, teamIP)
	v6 := ip6Frame(teamMAC, clientMAC, netip.MustParseAddr("2001:db8::b"), netip.MustParseAddr("2001:db8::1"))
	in := [][]byte{v4, v4, bcast, toMember, loop, arp, v6, v6}
	var inBytes uint64
	for _, f := range in {
		r.members[0].send(f)
		inBytes += uint64(len(f))
	}
	r.w.Poll()
	r.w.Poll() // flush
	rewritten := bytes.Clone(toMember)
	copy(rewritten, teamMAC[:])
	want := [][]byte{v4, v4, bcast, rewritten, arp, v6, v6}
	got := r.tap.collect(len(want))
	r.tap.quiet()
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("frame %d to the kernel: % x, want % x", i, got[i], want[i])
		}
	}
	c := &r.w.Counters().Teams[0]
	if p, b := c.Ports[0].RxPackets.Load(), c.Ports[0].RxBytes.Load(); p != uint64(len(in)) || b != inBytes {
		t.Errorf("member 0 received %d frames, %d bytes; want %d, %d", p, b, len(in), inBytes)
	}
	if p, b := c.Ports[TapIndex].TxPackets.Load(), c.Ports[TapIndex].TxBytes.Load(); p != uint64(len(want)) || b != inBytes-uint64(len(loop)) {
		t.Errorf("kernel sent %d frames, %d bytes; want %d, %d", p, b, len(want), inBytes-uint64(len(loop)))
	}
	if n := c.Drops[DropLoop].Load(); n != 1 {
		t.Errorf("%d loop drops, want 1", n)
	}
}

// TestWorkerCountsAWholeFastVectorAsTheFullPath sends a vector the fast
// test takes whole (wireHead sends and counts it) and the same vector
// with a broadcast frame after it (fromWire): the kernel gets the same
// frames, and every counter moves alike, client slots included.
func TestWorkerCountsAWholeFastVectorAsTheFullPath(t *testing.T) {
	r := newRig(t, 2, func(r *rig, _ *WorkerConfig) { r.noStart = true })
	ts := slbState(ModeSLB)
	a := netip.MustParseAddr("192.0.2.10")
	slots := &RxSlots{}
	slot := place(slots, RxKey(a))
	ts.RxSlots = slots
	r.publishState(ts)
	v4 := udpFrame(teamMAC, clientMAC, a.As4(), [4]byte{192, 0, 2, 1}, 1, 2, 0)
	v6 := ip6Frame(teamMAC, clientMAC, netip.MustParseAddr("2001:db8::b"), netip.MustParseAddr("2001:db8::1"))
	toMember := udpFrame(memberMAC1, clientMAC, a.As4(), [4]byte{192, 0, 2, 1}, 1, 2, 0)
	bcast := ethFrame(frame.Broadcast, clientMAC, 4)
	vector := [][]byte{v4, v6, toMember}
	var vecBytes uint64
	for _, f := range vector {
		vecBytes += uint64(len(f))
	}
	type counts struct {
		member, tap               PortTotals
		packets, vectors, clients uint64
		clientBytes               uint64
	}
	read := func() counts {
		c := &r.w.Counters().Teams[0]
		var k counts
		k.member = PortTotals{c.Ports[0].RxPackets.Load(), c.Ports[0].RxBytes.Load(), c.Ports[0].TxPackets.Load(), c.Ports[0].TxBytes.Load()}
		k.tap = PortTotals{c.Ports[TapIndex].RxPackets.Load(), c.Ports[TapIndex].RxBytes.Load(), c.Ports[TapIndex].TxPackets.Load(), c.Ports[TapIndex].TxBytes.Load()}
		k.packets, k.vectors = r.w.Counters().Packets.Load(), r.w.Counters().Vectors.Load()
		k.clients, k.clientBytes = ClientSlotCounters(r.w.ClientCounters(), 0, slot)
		return k
	}
	step := func(frames [][]byte) counts {
		before := read()
		for _, f := range frames {
			r.members[0].send(f)
		}
		r.w.Poll()
		r.w.Poll() // flush, and publish the counters
		if got := r.tap.collect(len(frames)); len(got) != len(frames) {
			t.Errorf("the kernel got %d frames, want %d", len(got), len(frames))
		}
		r.tap.quiet()
		after := read()
		return counts{after.member.Sub(before.member), after.tap.Sub(before.tap), after.packets - before.packets,
			after.vectors - before.vectors, after.clients - before.clients, after.clientBytes - before.clientBytes}
	}
	whole := step(vector)
	want := counts{PortTotals{RxPackets: 3, RxBytes: vecBytes}, PortTotals{TxPackets: 3, TxBytes: vecBytes}, 3, 1, 2, 2 * uint64(len(v4))}
	if whole != want {
		t.Errorf("whole fast vector: %+v, want %+v", whole, want)
	}
	mixed := step(append(vector, bcast))
	want.member.RxPackets++
	want.member.RxBytes += uint64(len(bcast))
	want.tap.TxPackets++
	want.tap.TxBytes += uint64(len(bcast))
	want.packets++
	if mixed != want {
		t.Errorf("vector with a broadcast: %+v, want %+v", mixed, want)
	}
}
