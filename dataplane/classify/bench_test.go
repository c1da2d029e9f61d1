package classify

import "testing"

// Note when reading the figures: Result has five fields, one more than the
// Go compiler keeps in registers, so every call site spills the returned
// registers to the stack and copies them with a wider load, which misses
// store forwarding. That costs a few nanoseconds per call, included here as
// it is in any caller.

// benchMix is a prebuilt mix of what the TAP sends: mostly TCP and UDP over
// IPv4 and IPv6, some tagged, plus ICMP, fragments and the odd ARP.
func benchMix() [][]byte {
	return [][]byte{
		cat(eth(0x0800), ipv4(protoTCP, fragDF, tcp(40000, 443))),
		cat(eth(0x0800), ipv4(protoTCP, fragDF, cat(tcp(40001, 443), make([]byte, 1400)))),
		cat(eth(0x0800, q(100)), ipv4(protoTCP, fragDF, tcp(40002, 22))),
		cat(eth(0x0800), ipv4(protoUDP, 0, udp(5353, 53))),
		cat(eth(0x0800, qinq(300), q(100)), ipv4(protoUDP, 0, udp(4789, 4789))),
		cat(eth(0x86dd), ipv6(protoTCP, tcp(40003, 443))),
		cat(eth(0x86dd, q(200)), ipv6(protoTCP, cat(tcp(40004, 443), make([]byte, 1200)))),
		cat(eth(0x86dd), ipv6(protoUDP, udp(546, 547))),
		pad(cat(eth(0x0800), ipv4(1, 0, make([]byte, 8))), 60),
		cat(eth(0x86dd), ipv6(58, make([]byte, 24))),
		cat(eth(0x0800), ipv4(protoUDP, fragMF, cat(udp(5000, 6000), make([]byte, 1472)))),
		cat(eth(0x0800), ipv4(protoUDP, 185, make([]byte, 200))),
		cat(eth(0x86dd), ipv6(protoUDP, make([]byte, 200), ext{kind: protoFragment, frag: 181 << 3})),
		cat(eth(0x86dd), ipv6(protoTCP, tcp(1, 2), ext{kind: protoHopByHop, size: 8})),
		cat(eth(0x0800), ipv4(protoTCP, fragDF, tcp(40005, 80))),
		cat(eth(0x0806), arpPacket()),
	}
}

// BenchmarkFrame classifies the whole mix per operation and reports the
// cost per frame.
func BenchmarkFrame(b *testing.B) {
	mix := benchMix()
	b.ReportAllocs()
	var sum uint32
	for b.Loop() {
		for _, f := range mix {
			r := Frame(f)
			sum += r.Hash + uint32(r.Class)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(mix)), "ns/frame")
	benchSink = sum
}

// BenchmarkFrameKind classifies one kind of frame repeatedly.
func BenchmarkFrameKind(b *testing.B) {
	for _, bc := range []struct {
		name  string
		frame []byte
	}{
		{"ipv4_tcp", cat(eth(0x0800), ipv4(protoTCP, fragDF, tcp(40000, 443)))},
		{"ipv4_tcp_qinq", cat(eth(0x0800, qinq(300), q(100)), ipv4(protoTCP, fragDF, tcp(40000, 443)))},
		{"ipv4_fragment", cat(eth(0x0800), ipv4(protoUDP, 185, make([]byte, 200)))},
		{"ipv6_tcp", cat(eth(0x86dd), ipv6(protoTCP, tcp(40003, 443)))},
		{"ipv6_hbh_tcp", cat(eth(0x86dd), ipv6(protoTCP, tcp(1, 2), ext{kind: protoHopByHop, size: 8}))},
		{"ipv6_icmp", cat(eth(0x86dd), ipv6(58, make([]byte, 24)))},
		{"arp", cat(eth(0x0806), arpPacket())},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var sum uint32
			for b.Loop() {
				r := Frame(bc.frame)
				sum += r.Hash + uint32(r.Class)
			}
			benchSink = sum
		})
	}
}

var benchSink uint32
