package frame

import (
	"net/netip"
	"testing"
)

// BenchmarkParse reads what the receive filters read of a frame from the
// wire — destination, source, multicast bit, EtherType, and for ARP the
// operation and addresses — over a mix of unicast IPv4, tagged frames and
// ARP requests and replies. One op is the whole mix.
func BenchmarkParse(b *testing.B) {
	mac := MAC{2, 0x54, 0x47, 0, 0, 1}
	peer := MAC{2, 0, 0, 0, 0, 2}
	ip := netip.MustParseAddr("192.0.2.1")
	client := netip.MustParseAddr("192.0.2.10")
	ipv4 := make([]byte, 60)
	copy(ipv4, mac[:])
	copy(ipv4[6:], peer[:])
	ipv4[12], ipv4[13] = 0x08, 0x00
	mix := [][]byte{
		ipv4,
		Tag(append([]byte(nil), ipv4...), 100),
		AppendARP(nil, Broadcast, peer, ARPRequest, peer, client, MAC{}, ip),
		AppendARP(nil, mac, peer, ARPReply, peer, client, mac, ip),
		ipv4,
		ipv4,
		AppendGratuitousARP(nil, peer, client),
		ipv4,
	}
	b.ReportAllocs()
	var sink int
	for b.Loop() {
		for _, f := range mix {
			e := Ethernet(f)
			if !e.Valid() {
				continue
			}
			if e.DstIsMulticast() || e.Dst() == mac || e.Src() == mac {
				sink++
			}
			if e.Type() == TypeARP {
				a := ARP(f[EthHeaderLen:])
				if a.Valid() && a.Op() == ARPReply && a.TargetIP() == ip {
					sink++
				}
				if a.SenderIP() == ip || a.SenderMAC() == mac {
					sink--
				}
			}
		}
	}
	b.ReportMetric(float64(b.N*len(mix))/b.Elapsed().Seconds()/1e6, "Mpps")
	parseSink = sink
}

var parseSink int
