package dataplane

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/teamgw/teamgw/dataplane/classify"
	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/perf/traffic"
)

var memberMAC1 = frame.MAC{0x02, 0, 0, 0, 0, 0x21}

// udpFrame builds an IPv4/UDP frame; frag sets the more-fragments flag
// and offset word.
func udpFrame(dst, src frame.MAC, sip, dip [4]byte, sport, dport uint16, frag uint16) []byte {
	f := make([]byte, 14+20+8+18)
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(len(f)-14))
	binary.BigEndian.PutUint16(ip[6:], frag)
	ip[8] = 64
	ip[9] = 17
	copy(ip[12:16], sip[:])
	copy(ip[16:20], dip[:])
	binary.BigEndian.PutUint16(ip[20:], sport)
	binary.BigEndian.PutUint16(ip[22:], dport)
	return f
}

// slbState spreads the buckets over two members alternately; member 0 is
// the path member (team MAC), member 1 uses its own MAC.
func slbState(mode Mode) TeamState {
	ts := SingleMember(teamMAC, 2, 0)
	ts.Mode = mode
	ts.RxMask = 0b11
	for b := range ts.Table {
		ts.Table[b] = int8(b % 2)
	}
	if mode == ModeSLB {
		ts.SetSourceMAC(1, memberMAC1)
		ts.WireMAC[1] = memberMAC1
	}
	return ts
}

func TestWorkerSpreadsFlowsAndRewritesSourceMAC(t *testing.T) {
	r := newRig(t, 2)
	r.publishState(slbState(ModeSLB))
	const flows = 64
	for i := range flows {
		r.tap.send(udpFrame(clientMAC, teamMAC, [4]byte{192, 0, 2, 1}, [4]byte{192, 0, 2, 10}, uint16(10000+i), 53, 0))
	}
	per := [2]int{}
	deadline := time.Now().Add(5 * time.Second)
	for per[0]+per[1] < flows && time.Now().Before(deadline) {
		for mi, m := range r.members {
			for _, f := range m.drain() {
				per[mi]++
				src := frame.Ethernet(f).Src()
				if mi == 0 && src != teamMAC {
					t.Errorf("path member sent with source %s, want the team MAC", src)
				}
				if mi == 1 && src != memberMAC1 {
					t.Errorf("member 1 sent with source %s, want its own MAC %s", src, memberMAC1)
				}
			}
		}
	}
	if per[0]+per[1] != flows || per[0] == 0 || per[1] == 0 {
		t.Fatalf("flows per member %v, want all %d spread over both", per, flows)
	}
	var pk uint64
	packets, bytes := make([]uint64, NBuckets), make([]uint64, NBuckets)
	AddBuckets(r.w.BucketCounters(), 0, packets, bytes)
	for _, n := range packets {
		pk += n
	}
	if pk != flows {
		t.Errorf("bucket counters sum to %d packets, want %d", pk, flows)
	}
	if n := r.w.Counters().Teams[0].Classes[classify.ClassL4].Load(); n != flows {
		t.Errorf("l4 class counter %d, want %d", n, flows)
	}
}

func TestWorkerKeepsFragmentsOfADatagramTogether(t *testing.T) {
	r := newRig(t, 2)
	r.publishState(slbState(ModeTrunk))
	sip, dip := [4]byte{192, 0, 2, 1}, [4]byte{192, 0, 2, 99}
	r.tap.send(udpFrame(clientMAC, teamMAC, sip, dip, 1234, 80, 0x2000)) // first fragment: MF
	r.tap.send(udpFrame(clientMAC, teamMAC, sip, dip, 0, 0, 0x0010))     // last fragment: offset
	got := [2]int{}
	deadline := time.Now().Add(5 * time.Second)
	for got[0]+got[1] < 2 && time.Now().Before(deadline) {
		for mi, m := range r.members {
			got[mi] += len(m.drain())
		}
	}
	if got[0] != 2 && got[1] != 2 {
		t.Errorf("fragments left on members %v, want both on one member", got)
	}
}

func TestWorkerSLBMulticastOnlyFromPathMember(t *testing.T) {
	r := newRig(t, 2)
	r.publishState(slbState(ModeSLB))
	r.members[1].send(ethFrame(frame.Broadcast, clientMAC, 1))
	r.members[1].send(ethFrame(memberMAC1, clientMAC, 2)) // unicast to member 1's own MAC
	r.members[0].send(ethFrame(frame.Broadcast, clientMAC, 3))
	for _, f := range r.tap.collect(2) {
		if f[14] == 2 && frame.Ethernet(f).Dst() != teamMAC {
			t.Errorf("frame for member 1's MAC reached the kernel with destination %s, want the team MAC", frame.Ethernet(f).Dst())
		}
		if f[14] == 1 {
			t.Error("broadcast from the non-path member reached the kernel")
		}
	}
	waitCounter(t, &r.w.Counters().Teams[0].Drops[DropMulticastFilter], 1)
}

func TestWorkerTrunkAcceptsMulticastFromAnyMember(t *testing.T) {
	r := newRig(t, 2)
	r.publishState(slbState(ModeTrunk))
	r.members[1].send(ethFrame(frame.Broadcast, clientMAC, 1))
	r.members[0].send(ethFrame(frame.Broadcast, clientMAC, 2))
	r.tap.collect(2)
}

// drain returns what the port transmitted so far.
func (r *ringPort) drain() [][]byte {
	var out [][]byte
	buf := make([]*dpdk.Mbuf, 32)
	for {
		k := r.out.Dequeue(buf)
		if k == 0 {
			return out
		}
		for _, m := range buf[:k] {
			out = append(out, append([]byte(nil), m.Data()...))
			m.Free()
		}
	}
}

func waitCounter(t *testing.T, c interface{ Load() uint64 }, want uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.Load() != want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := c.Load(); got != want {
		t.Errorf("counter = %d, want %d", got, want)
	}
}

// TestWorkerPollAllocatesNothing drives the balancing path (classify,
// bucket, source MAC rewrite, TX) through Poll and checks that a vector
// costs no allocation.
func TestWorkerPollAllocatesNothing(t *testing.T) {
	r := newRig(t, 2, func(r *rig, _ *WorkerConfig) {
		r.publishState(slbState(ModeSLB))
		r.noStart = true
	})
	w := r.w
	frames := make([][]byte, 32)
	for i := range frames {
		frames[i] = udpFrame(clientMAC, teamMAC, [4]byte{192, 0, 2, 1}, [4]byte{192, 0, 2, byte(i)}, uint16(1000+i), 53, 0)
	}
	allocs := testing.AllocsPerRun(200, func() {
		for _, f := range frames {
			r.tap.send(f)
		}
		w.Poll()
		w.Poll() // flush
		for _, m := range r.members {
			m.discard()
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per vector, want 0", allocs)
	}
}

// discard frees what the port transmitted.
func (r *ringPort) discard() {
	var buf [32]*dpdk.Mbuf
	for {
		k := r.out.Dequeue(buf[:])
		if k == 0 {
			return
		}
		for _, m := range buf[:k] {
			m.Free()
		}
	}
}

// TestARPRepliesToClientsAreSteered checks SLB receive balancing in the
// data plane: the kernel's ARP reply to a client assigned to member 1
// leaves on member 1 announcing member 1's MAC; to an unknown client it
// stays on the path member with the team MAC.
func TestARPRepliesToClientsAreSteered(t *testing.T) {
	r := newRig(t, 2)
	ts := slbState(ModeSLB)
	client := netip.MustParseAddr("192.0.2.10")
	ts.Clients = map[[4]byte]int8{client.As4(): 1}
	r.publishState(ts)
	team := netip.MustParseAddr("192.0.2.1")
	reply := frame.AppendARP(nil, clientMAC, teamMAC, frame.ARPReply, teamMAC, team, clientMAC, client)
	r.tap.send(reply)
	got := r.members[1].collect(1)[0]
	a := frame.ARP(got[frame.EthHeaderLen:])
	if frame.Ethernet(got).Src() != memberMAC1 || a.SenderMAC() != memberMAC1 || a.SenderIP() != team {
		t.Errorf("steered reply: eth src %s, sender %s %s; want member 1's MAC for %s", frame.Ethernet(got).Src(), a.SenderMAC(), a.SenderIP(), team)
	}
	other := frame.AppendARP(nil, clientMAC, teamMAC, frame.ARPReply, teamMAC, team, clientMAC, netip.MustParseAddr("192.0.2.99"))
	r.tap.send(other)
	got = r.members[0].collect(1)[0]
	if frame.ARP(got[frame.EthHeaderLen:]).SenderMAC() != teamMAC {
		t.Errorf("reply to an unknown client announced %s, want the team MAC", frame.ARP(got[frame.EthHeaderLen:]).SenderMAC())
	}
	r.members[1].quiet()
}

func TestVectorSizeBuckets(t *testing.T) {
	for n := 1; n <= 128; n++ {
		b := vectorSizeBucket(n)
		if n > VectorSizeBounds[b] || (b > 0 && n <= VectorSizeBounds[b-1]) {
			t.Fatalf("a vector of %d lands in bucket %d (bounds %v)", n, b, VectorSizeBounds)
		}
	}
}

// TestWorkerCountsOutboundTraffic checks every counter the outbound path
// keeps against the frames sent: packets and bytes received from the TAP
// and sent per member, classes, bucket counters and a no_member drop,
// over a mix of frames the inline fast path takes (TCP and UDP over
// IPv4) and frames it leaves to the general classifier (ICMP, IPv6, ARP,
// non-IP, runts).
func TestWorkerCountsOutboundTraffic(t *testing.T) {
	r := newRig(t, 2, func(r *rig, _ *WorkerConfig) { r.noStart = true })
	r.publishState(slbState(ModeSLB))
	frames := traffic.Mix(96, 7, teamMAC, clientMAC)
	arp := ethFrame(frame.Broadcast, teamMAC, 1)
	arp[12], arp[13] = 0x08, 0x06
	other := ethFrame(clientMAC, teamMAC, 2)
	other[12], other[13] = 0x88, 0xcc // LLDP
	frames = append(frames, arp, other, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	var (
		wantBytes, bucketPkts, bucketBytes uint64
		classes                            [classify.NumClasses]uint64
	)
	for _, f := range frames {
		r.tap.send(f)
		wantBytes += uint64(len(f))
		c := classify.Frame(f).Class
		classes[c]++
		if c <= classify.ClassL3 {
			bucketPkts++
			bucketBytes += uint64(len(f))
		}
	}
	for range 4 {
		r.w.Poll()
	}
	var sent [2][][]byte
	for mi, m := range r.members {
		sent[mi] = m.drain()
	}
	c := &r.w.Counters().Teams[0]
	tap := &c.Ports[TapIndex]
	if got := tap.RxPackets.Load(); got != uint64(len(frames)) {
		t.Errorf("tap rx packets %d, want %d", got, len(frames))
	}
	if got := tap.RxBytes.Load(); got != wantBytes {
		t.Errorf("tap rx bytes %d, want %d", got, wantBytes)
	}
	var txBytes uint64
	for mi := range sent {
		var b uint64
		for _, f := range sent[mi] {
			b += uint64(len(f))
		}
		p := &c.Ports[mi]
		if p.TxPackets.Load() != uint64(len(sent[mi])) || p.TxBytes.Load() != b {
			t.Errorf("member %d counted %d packets, %d bytes; sent %d, %d", mi, p.TxPackets.Load(), p.TxBytes.Load(), len(sent[mi]), b)
		}
		txBytes += b
	}
	if len(sent[0])+len(sent[1]) != len(frames) || txBytes != wantBytes {
		t.Errorf("members sent %d frames, %d bytes; want %d, %d", len(sent[0])+len(sent[1]), txBytes, len(frames), wantBytes)
	}
	for k, n := range classes {
		if got := c.Classes[k].Load(); got != n {
			t.Errorf("class %v counted %d, want %d", classify.Class(k), got, n)
		}
	}
	packets, bytes := make([]uint64, NBuckets), make([]uint64, NBuckets)
	AddBuckets(r.w.BucketCounters(), 0, packets, bytes)
	var bp, bb uint64
	for b := range packets {
		bp += packets[b]
		bb += bytes[b]
	}
	if bp != bucketPkts || bb != bucketBytes {
		t.Errorf("buckets counted %d packets, %d bytes; want %d, %d", bp, bb, bucketPkts, bucketBytes)
	}

	// Without a member, frames are dropped and still counted as
	// received, each class once. An ICMP frame goes first: the first
	// frame the outbound path cannot send is classified twice.
	r.publish(-1)
	for i, f := range frames {
		if classify.Frame(f).Class == classify.ClassL3 {
			frames[0], frames[i] = frames[i], frames[0]
			break
		}
	}
	if classify.Frame(frames[0]).Class != classify.ClassL3 {
		t.Fatal("no ICMP frame in the mix")
	}
	for _, f := range frames {
		r.tap.send(f)
	}
	for range 4 {
		r.w.Poll()
	}
	if got := c.Drops[DropNoMember].Load(); got != uint64(len(frames)) {
		t.Errorf("no_member drops %d, want %d", got, len(frames))
	}
	if got := tap.RxBytes.Load(); got != 2*wantBytes {
		t.Errorf("tap rx bytes %d after the drops, want %d", got, 2*wantBytes)
	}
	for k, n := range classes {
		if got := c.Classes[k].Load(); got != 2*n {
			t.Errorf("class %v counted %d after the drops, want %d", classify.Class(k), got, 2*n)
		}
	}
}
