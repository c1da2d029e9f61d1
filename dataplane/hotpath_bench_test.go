package dataplane

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/teamgw/teamgw/dataplane/classify"
	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/perf/traffic"
)

// benchTeam is an SLB team of two members with probes, an ARP guard and
// an inbound client table holding the first clients of frames' sources.
func benchTeam(frames [][]byte) *TeamState {
	mac := frame.MAC{2, 0x54, 0x47, 0, 0, 1}
	ts := SingleMember(mac, 2, 0)
	ts.RxMask = 3
	ts.WireMAC[1] = frame.MAC{2, 0x54, 0x47, 0, 0, 2}
	ts.SetSourceMAC(1, ts.WireMAC[1])
	ts.Probes = true
	ts.SetOwnIPs([]netip.Addr{netip.MustParseAddr("10.255.0.1")})
	ts.RxSlots = &RxSlots{}
	ts.Clients = map[[4]byte]int8{}
	for _, f := range frames {
		if len(f) < 34 || f[12] != 0x08 || f[13] != 0 {
			continue
		}
		k := rxKey4(binary.LittleEndian.Uint32(f[26:30]))
		if h := RxSlotOf(k); ts.RxSlots.Key[h] == 0 {
			ts.RxSlots.Key[h] = k
		} else if ts.RxSlots.Key[h^1] == 0 {
			ts.RxSlots.Key[h^1] = k
		}
		if len(ts.Clients) < 1024 {
			ts.Clients[[4]byte(f[26:30])] = int8(len(ts.Clients) % 2)
		}
	}
	for i := range ts.Table {
		ts.Table[i] = int8(i % 2)
	}
	return &ts
}

// BenchmarkReceiveFilters runs the per-frame decisions of the receive
// path (fromWire without the mbufs): the echo-probe reply test, the
// receive filters with the ARP guard, and the inbound client count, over
// 64K flows from clients to the team MAC. One op is one frame.
func BenchmarkReceiveFilters(b *testing.B) {
	frames := traffic.Mix(65536, 3, [6]byte{2, 0, 0, 0, 0, 9}, [6]byte{2, 0x54, 0x47, 0, 0, 1})
	ts := benchTeam(frames)
	var counts [NRxSlots * 2]uint64
	b.ReportAllocs()
	accepted, i := 0, 0
	for b.Loop() {
		e := frame.Ethernet(frames[i])
		i = (i + 1) & (len(frames) - 1)
		if isProbeReply(ts, e) {
			continue
		}
		if _, ok := acceptFromWire(ts, i&1, true, e); ok {
			countClient(ts.RxSlots, &counts, e, uint64(len(e)))
			accepted++
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
	if accepted == 0 {
		b.Fatal("every frame was dropped")
	}
}

// BenchmarkFlowTableLookup is the outbound flow table's share of a frame
// from the kernel once it is classified: hash to bucket, bucket to member,
// the bucket's packet and byte counters. One op is one frame.
func BenchmarkFlowTableLookup(b *testing.B) {
	frames := traffic.Mix(65536, 1, [6]byte{2, 0x54, 0x47, 0, 0, 1}, [6]byte{2, 0, 0, 0, 0, 9})
	hashes := make([]uint32, len(frames))
	for i, f := range frames {
		hashes[i] = classify.Frame(f).Hash
	}
	ts := benchTeam(nil)
	var buckets [NBuckets * 2]uint64
	var per [MaxMembers]uint64
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		bk := bucketOf(hashes[i])
		i = (i + 1) & (len(hashes) - 1)
		per[ts.Table[bk]&(MaxMembers-1)]++
		buckets[2*int(bk)]++
		buckets[2*int(bk)+1] += 60
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
	if per[0] == 0 || per[1] == 0 {
		b.Fatalf("one member got nothing: %v", per)
	}
}

// BenchmarkClientTableLookup looks up a frame's source address in the
// inbound client table (1024 slots, two probes). One op is one frame.
func BenchmarkClientTableLookup(b *testing.B) {
	frames := traffic.Mix(65536, 3, [6]byte{2, 0, 0, 0, 0, 9}, [6]byte{2, 0x54, 0x47, 0, 0, 1})
	ts := benchTeam(frames)
	keys := make([]uint64, 0, len(frames))
	for _, f := range frames {
		if f[12] == 0x08 && f[13] == 0 {
			keys = append(keys, rxKey4(binary.LittleEndian.Uint32(f[26:30])))
		}
	}
	keys = keys[:4096]
	b.ReportAllocs()
	found, i := 0, 0
	for b.Loop() {
		if ts.RxSlots.Lookup(keys[i]) >= 0 {
			found++
		}
		i = (i + 1) & (len(keys) - 1)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
	if found == 0 {
		b.Fatal("no client found")
	}
}

// BenchmarkSteerARP picks the member for ARP replies from the kernel to
// 1024 SLB clients (the client map lookup and the MAC rewrite). One op is
// one frame.
func BenchmarkSteerARP(b *testing.B) {
	ts := benchTeam(traffic.Mix(4096, 3, [6]byte{2, 0, 0, 0, 0, 9}, [6]byte{2, 0x54, 0x47, 0, 0, 1}))
	team := netip.MustParseAddr("10.255.0.1")
	var frames [][]byte
	for ip := range ts.Clients {
		frames = append(frames, frame.AppendARP(nil, frame.MAC{2, 0, 0, 0, 0, 9}, ts.MAC, frame.ARPReply, ts.MAC, team, frame.MAC{2, 0, 0, 0, 0, 9}, netip.AddrFrom4(ip)))
	}
	frames = frames[:512]
	b.ReportAllocs()
	var per [2]int
	i := 0
	for b.Loop() {
		f := frames[i]
		i = (i + 1) & (len(frames) - 1)
		per[steerARP(ts, f, 0)&1]++
		copy(f[6:12], ts.MAC[:]) // undo the rewrite for the next round
		copy(f[22:28], ts.MAC[:])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
	if per[1] == 0 {
		b.Fatal("no reply steered to member 1")
	}
}
