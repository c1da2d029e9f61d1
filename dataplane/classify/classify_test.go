package classify

import (
	"testing"
)

// frameCase is one table entry: a frame and what Frame must report for it.
type frameCase struct {
	name  string
	frame []byte
	class Class
	hash  uint32
	tags  uint8
	vlan  uint16
	l3    uint16 // checked unless class is ClassMalformed
	l4    int    // offset of the port bytes, for ClassL4
}

// eightExts is a chain of eight extension headers, the most Frame walks.
var eightExts = []ext{
	{kind: protoHopByHop, size: 8},
	{kind: protoDestOpts, size: 16},
	{kind: protoRouting, size: 24},
	{kind: protoDestOpts, size: 8},
	{kind: protoAH, size: 12},
	{kind: protoDestOpts, size: 8},
	{kind: protoDestOpts, size: 8},
	{kind: protoDestOpts, size: 8},
}

// frameCases returns the table shared by the table, truncation, VLAN,
// allocation and fuzz-seed tests. Each call builds fresh frames.
func frameCases() []frameCase {
	const (
		icmp   = 1
		igmp   = 2
		gre    = 47
		esp    = 50
		icmp6  = 58
		noNext = 59
		sctp   = protoSCTP
	)
	l4v4 := 14 + 20
	l4v6 := 14 + 40
	return []frameCase{
		// Ethernet and VLAN tags.
		{name: "empty", frame: []byte{}, class: ClassMalformed},
		{name: "13 bytes", frame: eth(0x0800)[:13], class: ClassMalformed},
		{name: "ethertype only", frame: eth(0x88cc), class: ClassNonIP, l3: 14},
		{name: "tag cut at 14", frame: eth(0x8100), class: ClassMalformed},
		{name: "tag cut at 17", frame: eth(0x88cc, q(5))[:17], class: ClassMalformed},
		{name: "tag only", frame: eth(0x88cc, q(5)), class: ClassNonIP, tags: 1, vlan: 5, l3: 18},
		{name: "tagged no ip", frame: eth(0x0800, q(5)), class: ClassMalformed, tags: 1, vlan: 5},
		{name: "three tags", frame: cat(eth(0x0800, qinq(300), q(200), q(100)), ipv4(protoTCP, 0, tcp(1, 2))),
			class: ClassMalformed, tags: 2, vlan: 300},
		{name: "second tag cut", frame: eth(0x88cc, qinq(300), q(200))[:20], class: ClassMalformed, tags: 1, vlan: 300},

		// IPv4, per flow.
		{name: "ipv4 tcp", frame: cat(eth(0x0800), ipv4(protoTCP, 0, tcp(40000, 443))),
			class: ClassL4, hash: wantV4L4(protoTCP, 40000, 443), l3: 14, l4: l4v4},
		{name: "ipv4 tcp df", frame: cat(eth(0x0800), ipv4(protoTCP, fragDF, tcp(40000, 443))),
			class: ClassL4, hash: wantV4L4(protoTCP, 40000, 443), l3: 14, l4: l4v4},
		{name: "ipv4 udp", frame: cat(eth(0x0800), ipv4(protoUDP, 0, udp(5353, 53))),
			class: ClassL4, hash: wantV4L4(protoUDP, 5353, 53), l3: 14, l4: l4v4},
		{name: "ipv4 sctp", frame: cat(eth(0x0800), ipv4(sctp, 0, ports(3868, 3868, 12))),
			class: ClassL4, hash: wantV4L4(sctp, 3868, 3868), l3: 14, l4: l4v4},
		{name: "ipv4 tcp options", frame: cat(eth(0x0800), ipv4x(7, v4a, v4b, protoTCP, 0, tcp(1, 2))),
			class: ClassL4, hash: wantV4L4(protoTCP, 1, 2), l3: 14, l4: 14 + 28},
		{name: "ipv4 tcp vlan", frame: cat(eth(0x0800, q(100)), ipv4(protoTCP, 0, tcp(40000, 443))),
			class: ClassL4, hash: wantV4L4(protoTCP, 40000, 443), tags: 1, vlan: 100, l3: 18, l4: l4v4 + 4},
		{name: "ipv4 tcp vlan pcp dei", frame: cat(eth(0x0800, q(0xf000|4094)), ipv4(protoTCP, 0, tcp(40000, 443))),
			class: ClassL4, hash: wantV4L4(protoTCP, 40000, 443), tags: 1, vlan: 4094, l3: 18, l4: l4v4 + 4},
		{name: "ipv4 udp qinq", frame: cat(eth(0x0800, qinq(300), q(100)), ipv4(protoUDP, 0, udp(1, 2))),
			class: ClassL4, hash: wantV4L4(protoUDP, 1, 2), tags: 2, vlan: 300, l3: 22, l4: l4v4 + 8},
		{name: "ipv4 udp 9100", frame: cat(eth(0x0800, tag{0x9100, 7}), ipv4(protoUDP, 0, udp(1, 2))),
			class: ClassL4, hash: wantV4L4(protoUDP, 1, 2), tags: 1, vlan: 7, l3: 18, l4: l4v4 + 4},
		{name: "ipv4 tcp padded", frame: pad(cat(eth(0x0800), ipv4(protoTCP, 0, tcp(9, 10))), 80),
			class: ClassL4, hash: wantV4L4(protoTCP, 9, 10), l3: 14, l4: l4v4},
		{name: "ipv4 udp ports only", frame: pad(cat(eth(0x0800), ipv4(protoUDP, 0, ports(9, 10, 4))), 60),
			class: ClassL4, hash: wantV4L4(protoUDP, 9, 10), l3: 14, l4: l4v4},
		{name: "ipv4 tcp cut payload", frame: setTotal(cat(eth(0x0800), ipv4(protoTCP, 0, tcp(9, 10))), 14, 1500),
			class: ClassL4, hash: wantV4L4(protoTCP, 9, 10), l3: 14, l4: l4v4},
		{name: "ipv4 tcp cut to ports", frame: setTotal(cat(eth(0x0800), ipv4(protoTCP, 0, ports(9, 10, 4))), 14, 1500),
			class: ClassL4, hash: wantV4L4(protoTCP, 9, 10), l3: 14, l4: l4v4},

		// IPv4, per address pair.
		{name: "ipv4 icmp", frame: pad(cat(eth(0x0800), ipv4(icmp, 0, make([]byte, 8))), 60),
			class: ClassL3, hash: wantV4L3, l3: 14},
		{name: "ipv4 igmp", frame: pad(cat(eth(0x0800), ipv4(igmp, 0, make([]byte, 8))), 60),
			class: ClassL3, hash: wantV4L3, l3: 14},
		{name: "ipv4 gre", frame: cat(eth(0x0800), ipv4(gre, 0, make([]byte, 4))),
			class: ClassL3, hash: wantV4L3, l3: 14},
		{name: "ipv4 header only", frame: cat(eth(0x0800), ipv4(noNext, 0, nil)),
			class: ClassL3, hash: wantV4L3, l3: 14},
		{name: "ipv4 first fragment", frame: cat(eth(0x0800), ipv4(protoUDP, fragMF, udp(5000, 6000))),
			class: ClassL3, hash: wantV4L3, l3: 14},
		{name: "ipv4 middle fragment", frame: cat(eth(0x0800), ipv4(protoUDP, fragMF|185, make([]byte, 16))),
			class: ClassL3, hash: wantV4L3, l3: 14},
		{name: "ipv4 last fragment", frame: cat(eth(0x0800), ipv4(protoTCP, 370, make([]byte, 2))),
			class: ClassL3, hash: wantV4L3, l3: 14},
		{name: "ipv4 fragment no payload", frame: cat(eth(0x0800), ipv4(protoTCP, fragDF|1, nil)),
			class: ClassL3, hash: wantV4L3, l3: 14},
		{name: "ipv4 fragment vlan", frame: cat(eth(0x0800, q(9)), ipv4(protoTCP, 1, make([]byte, 2))),
			class: ClassL3, hash: wantV4L3, tags: 1, vlan: 9, l3: 18},

		// IPv4, malformed.
		{name: "ipv4 short", frame: cat(eth(0x0800), ipv4(icmp, 0, nil)[:19]), class: ClassMalformed},
		{name: "ipv4 version 6", frame: func() []byte {
			b := cat(eth(0x0800), ipv4(protoTCP, 0, tcp(1, 2)))
			b[14] = 0x65
			return b
		}(), class: ClassMalformed},
		{name: "ipv4 ihl 4", frame: func() []byte {
			b := cat(eth(0x0800), ipv4(protoTCP, 0, tcp(1, 2)))
			b[14] = 0x44
			return b
		}(), class: ClassMalformed},
		{name: "ipv4 ihl 0", frame: func() []byte {
			b := cat(eth(0x0800), ipv4(icmp, 0, make([]byte, 8)))
			b[14] = 0x40
			return b
		}(), class: ClassMalformed},
		{name: "ipv4 options cut", frame: cat(eth(0x0800), ipv4x(15, v4a, v4b, icmp, 0, nil)[:56]), class: ClassMalformed},
		{name: "ipv4 total below ihl", frame: setTotal(cat(eth(0x0800), ipv4(icmp, 0, make([]byte, 8))), 14, 19),
			class: ClassMalformed},
		{name: "ipv4 total zero", frame: setTotal(cat(eth(0x0800), ipv4(protoTCP, 0, tcp(1, 2))), 14, 0),
			class: ClassMalformed},
		{name: "ipv4 fragment total below ihl", frame: setTotal(cat(eth(0x0800), ipv4(protoTCP, fragMF, tcp(1, 2))), 14, 16),
			class: ClassMalformed},
		{name: "ipv4 tcp no ports", frame: cat(eth(0x0800), ipv4(protoTCP, 0, nil)), class: ClassMalformed},
		{name: "ipv4 tcp 3 port bytes", frame: setTotal(cat(eth(0x0800), ipv4(protoTCP, 0, []byte{1, 2, 3})), 14, 60),
			class: ClassMalformed},
		{name: "ipv4 tcp ports in padding", frame: pad(cat(eth(0x0800), ipv4(protoTCP, 0, nil)), 60),
			class: ClassMalformed},
		{name: "ipv4 udp 2 port bytes then padding", frame: pad(cat(eth(0x0800), ipv4(protoUDP, 0, []byte{1, 2})), 60),
			class: ClassMalformed},
		{name: "ipv4 vlan tcp no ports", frame: cat(eth(0x0800, q(3)), ipv4(protoTCP, 0, nil)),
			class: ClassMalformed, tags: 1, vlan: 3},

		// IPv6, per flow.
		{name: "ipv6 tcp", frame: cat(eth(0x86dd), ipv6(protoTCP, tcp(40000, 443))),
			class: ClassL4, hash: wantV6L4(protoTCP, 40000, 443), l3: 14, l4: l4v6},
		{name: "ipv6 udp", frame: cat(eth(0x86dd), ipv6(protoUDP, udp(546, 547))),
			class: ClassL4, hash: wantV6L4(protoUDP, 546, 547), l3: 14, l4: l4v6},
		{name: "ipv6 sctp", frame: cat(eth(0x86dd), ipv6(sctp, ports(1, 2, 12))),
			class: ClassL4, hash: wantV6L4(sctp, 1, 2), l3: 14, l4: l4v6},
		{name: "ipv6 udp qinq", frame: cat(eth(0x86dd, qinq(10), q(20)), ipv6(protoUDP, udp(1, 2))),
			class: ClassL4, hash: wantV6L4(protoUDP, 1, 2), tags: 2, vlan: 10, l3: 22, l4: l4v6 + 8},
		{name: "ipv6 hbh tcp", frame: cat(eth(0x86dd), ipv6(protoTCP, tcp(1, 2), ext{kind: protoHopByHop, size: 8})),
			class: ClassL4, hash: wantV6L4(protoTCP, 1, 2), l3: 14, l4: l4v6 + 8},
		{name: "ipv6 hbh dst rh tcp", frame: cat(eth(0x86dd), ipv6(protoTCP, tcp(1, 2),
			ext{kind: protoHopByHop, size: 16}, ext{kind: protoDestOpts, size: 8}, ext{kind: protoRouting, size: 24})),
			class: ClassL4, hash: wantV6L4(protoTCP, 1, 2), l3: 14, l4: l4v6 + 48},
		{name: "ipv6 ah tcp", frame: cat(eth(0x86dd), ipv6(protoTCP, tcp(1, 2), ext{kind: protoAH, size: 24})),
			class: ClassL4, hash: wantV6L4(protoTCP, 1, 2), l3: 14, l4: l4v6 + 24},
		{name: "ipv6 eight exts udp", frame: cat(eth(0x86dd), ipv6(protoUDP, udp(7, 8), eightExts...)),
			class: ClassL4, hash: wantV6L4(protoUDP, 7, 8), l3: 14, l4: l4v6 + 92},
		{name: "ipv6 udp ports only", frame: cat(eth(0x86dd), ipv6(protoUDP, ports(7, 8, 4))),
			class: ClassL4, hash: wantV6L4(protoUDP, 7, 8), l3: 14, l4: l4v6},
		{name: "ipv6 udp jumbo length", frame: func() []byte {
			b := cat(eth(0x86dd), ipv6(protoUDP, udp(7, 8)))
			b[18], b[19] = 0, 0
			return b
		}(), class: ClassL4, hash: wantV6L4(protoUDP, 7, 8), l3: 14, l4: l4v6},
		{name: "ipv6 tcp cut payload", frame: func() []byte {
			b := cat(eth(0x86dd), ipv6(protoTCP, tcp(7, 8)))
			b[18], b[19] = 0x05, 0xdc
			return b
		}(), class: ClassL4, hash: wantV6L4(protoTCP, 7, 8), l3: 14, l4: l4v6},

		// IPv6, per address pair.
		{name: "ipv6 icmpv6", frame: cat(eth(0x86dd), ipv6(icmp6, make([]byte, 8))),
			class: ClassL3, hash: wantV6L3, l3: 14},
		{name: "ipv6 no next header", frame: pad(cat(eth(0x86dd), ipv6(noNext, nil)), 60),
			class: ClassL3, hash: wantV6L3, l3: 14},
		{name: "ipv6 gre", frame: cat(eth(0x86dd), ipv6(gre, make([]byte, 4))),
			class: ClassL3, hash: wantV6L3, l3: 14},
		{name: "ipv6 esp", frame: cat(eth(0x86dd), ipv6(esp, make([]byte, 16))),
			class: ClassL3, hash: wantV6L3, l3: 14},
		{name: "ipv6 esp no body", frame: cat(eth(0x86dd), ipv6(esp, nil)),
			class: ClassL3, hash: wantV6L3, l3: 14},
		{name: "ipv6 hbh esp", frame: cat(eth(0x86dd), ipv6(esp, make([]byte, 16), ext{kind: protoHopByHop, size: 8})),
			class: ClassL3, hash: wantV6L3, l3: 14},
		{name: "ipv6 ah esp", frame: cat(eth(0x86dd), ipv6(esp, make([]byte, 16), ext{kind: protoAH, size: 16})),
			class: ClassL3, hash: wantV6L3, l3: 14},
		{name: "ipv6 hbh icmpv6", frame: cat(eth(0x86dd), ipv6(icmp6, make([]byte, 24), ext{kind: protoHopByHop, size: 8})),
			class: ClassL3, hash: wantV6L3, l3: 14},
		{name: "ipv6 first fragment", frame: cat(eth(0x86dd), ipv6(protoUDP, udp(5000, 6000), ext{kind: protoFragment, frag: 1})),
			class: ClassL3, hash: wantV6L3, l3: 14},
		{name: "ipv6 later fragment", frame: cat(eth(0x86dd), ipv6(protoUDP, make([]byte, 8), ext{kind: protoFragment, frag: 185 << 3})),
			class: ClassL3, hash: wantV6L3, l3: 14},
		{name: "ipv6 atomic fragment", frame: cat(eth(0x86dd), ipv6(protoTCP, tcp(1, 2), ext{kind: protoFragment})),
			class: ClassL3, hash: wantV6L3, l3: 14},
		{name: "ipv6 hbh fragment", frame: cat(eth(0x86dd), ipv6(protoTCP, nil, ext{kind: protoHopByHop, size: 8}, ext{kind: protoFragment, frag: 8 | 1})),
			class: ClassL3, hash: wantV6L3, l3: 14},
		{name: "ipv6 fragment vlan", frame: cat(eth(0x86dd, q(44)), ipv6(protoTCP, nil, ext{kind: protoFragment, frag: 8})),
			class: ClassL3, hash: wantV6L3, tags: 1, vlan: 44, l3: 18},

		// IPv6, malformed.
		{name: "ipv6 short", frame: cat(eth(0x86dd), ipv6(noNext, nil)[:39]), class: ClassMalformed},
		{name: "ipv6 version 4", frame: func() []byte {
			b := cat(eth(0x86dd), ipv6(protoTCP, tcp(1, 2)))
			b[14] = 0x40
			return b
		}(), class: ClassMalformed},
		{name: "ipv6 tcp no ports", frame: cat(eth(0x86dd), ipv6(protoTCP, nil)), class: ClassMalformed},
		{name: "ipv6 udp 3 port bytes", frame: cat(eth(0x86dd), ipv6(protoUDP, []byte{1, 2, 3})), class: ClassMalformed},
		{name: "ipv6 hbh cut", frame: cat(eth(0x86dd), ipv6(protoTCP, tcp(1, 2), ext{kind: protoHopByHop, size: 16}))[:14+40+12],
			class: ClassMalformed},
		{name: "ipv6 hbh under 8", frame: cat(eth(0x86dd), ipv6(protoTCP, tcp(1, 2), ext{kind: protoHopByHop, size: 8}))[:14+40+4],
			class: ClassMalformed},
		{name: "ipv6 hbh claims more", frame: func() []byte {
			b := cat(eth(0x86dd), ipv6(protoTCP, tcp(1, 2), ext{kind: protoHopByHop, size: 8}))
			b[14+40+1] = 3 // 32 bytes
			return b
		}(), class: ClassMalformed},
		{name: "ipv6 ah cut", frame: cat(eth(0x86dd), ipv6(protoTCP, tcp(1, 2), ext{kind: protoAH, size: 24}))[:14+40+20],
			class: ClassMalformed},
		{name: "ipv6 fragment cut", frame: cat(eth(0x86dd), ipv6(protoTCP, nil, ext{kind: protoFragment}))[:14+40+7],
			class: ClassMalformed},
		{name: "ipv6 nine exts", frame: cat(eth(0x86dd), ipv6(protoUDP, udp(7, 8), append(eightExts[:8:8], ext{kind: protoDestOpts, size: 8})...)),
			class: ClassMalformed},
		{name: "ipv6 fragment ninth", frame: cat(eth(0x86dd), ipv6(protoUDP, udp(7, 8), append(eightExts[:8:8], ext{kind: protoFragment})...)),
			class: ClassMalformed},
		{name: "ipv6 ports in padding", frame: pad(cat(eth(0x86dd), ipv6(protoTCP, nil, ext{kind: protoHopByHop, size: 8})), 66),
			class: ClassMalformed},
		{name: "ipv6 ext in padding", frame: pad(cat(eth(0x86dd), ipv6(protoHopByHop, nil)), 60),
			class: ClassMalformed},

		// ARP.
		{name: "arp", frame: cat(eth(0x0806), arpPacket()), class: ClassARP, l3: 14},
		{name: "arp padded", frame: pad(cat(eth(0x0806), arpPacket()), 60), class: ClassARP, l3: 14},
		{name: "arp vlan", frame: cat(eth(0x0806, q(12)), arpPacket()), class: ClassARP, tags: 1, vlan: 12, l3: 18},
		{name: "arp qinq", frame: cat(eth(0x0806, qinq(1), q(2)), arpPacket()), class: ClassARP, tags: 2, vlan: 1, l3: 22},
		{name: "arp cut", frame: cat(eth(0x0806), arpPacket()[:27]), class: ClassMalformed},
		{name: "arp fixed header cut", frame: cat(eth(0x0806), arpPacket()[:7]), class: ClassMalformed},
		{name: "arp no body", frame: eth(0x0806), class: ClassMalformed},

		// Non-IP.
		{name: "lacp", frame: pad(cat(eth(0x8809), []byte{1, 1, 1, 20}), 124), class: ClassNonIP, l3: 14},
		{name: "lldp vlan", frame: pad(eth(0x88cc, q(1)), 64), class: ClassNonIP, tags: 1, vlan: 1, l3: 18},
		{name: "802.3 llc", frame: pad(cat(eth(0x0026), []byte{0x42, 0x42, 0x03}), 60), class: ClassNonIP, l3: 14},
		{name: "mpls", frame: cat(eth(0x8847), []byte{0, 0x01, 0x41, 0x40}, ipv4(protoTCP, 0, tcp(1, 2))), class: ClassNonIP, l3: 14},
	}
}

func TestFrame(t *testing.T) {
	for _, tc := range frameCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := Frame(tc.frame)
			if got.Class != tc.class {
				t.Fatalf("Class = %v, want %v", got.Class, tc.class)
			}
			if got.Hash != tc.hash {
				t.Errorf("Hash = %#08x, want %#08x", got.Hash, tc.hash)
			}
			if uint8(got.Tags()) != tc.tags || got.VLAN != tc.vlan {
				t.Errorf("Tags, VLAN = %d, %d; want %d, %d", got.Tags(), got.VLAN, tc.tags, tc.vlan)
			}
			if tc.class != ClassMalformed && got.L3 != tc.l3 {
				t.Errorf("L3 = %d, want %d", got.L3, tc.l3)
			}
			if (tc.class == ClassL4) != (tc.l4 > 0) {
				t.Fatalf("bad table entry: l4 = %d for %v", tc.l4, tc.class)
			}
		})
	}
}

// TestFrameTruncated cuts every well-formed table frame at every length and
// checks that Frame neither panics nor reads past the cut: a cut frame is
// either malformed or classified exactly as the whole frame, and an L4
// result needs the port bytes inside the cut.
func TestFrameTruncated(t *testing.T) {
	for _, tc := range frameCases() {
		if tc.class == ClassMalformed {
			continue
		}
		full := Frame(tc.frame)
		for n := range len(tc.frame) {
			cut := append([]byte(nil), tc.frame[:n]...) // exact length and capacity
			got := Frame(cut)
			if got.Class == ClassMalformed {
				if got.Hash != 0 {
					t.Errorf("%s[:%d]: malformed with hash %#x", tc.name, n, got.Hash)
				}
				continue
			}
			if got != full {
				t.Errorf("%s[:%d] = %+v, want %+v or malformed", tc.name, n, got, full)
			}
			if got.Class == ClassL4 && n < tc.l4+4 {
				t.Errorf("%s[:%d]: ClassL4 with ports at %d..%d beyond the frame", tc.name, n, tc.l4, tc.l4+4)
			}
		}
		if tc.class == ClassL4 {
			// The shortest L4 frame ends exactly after the ports.
			if got := Frame(tc.frame[:tc.l4+4]); got.Class != ClassL4 {
				t.Errorf("%s[:%d] = %v, want l4", tc.name, tc.l4+4, got.Class)
			}
			if got := Frame(tc.frame[:tc.l4+3]); got.Class != ClassMalformed {
				t.Errorf("%s[:%d] = %v, want malformed", tc.name, tc.l4+3, got.Class)
			}
		}
	}
}

// retag returns frame with its tags replaced by tags.
func retag(frame []byte, tags ...tag) []byte {
	r := Frame(frame)
	inner := frame[r.L3-2:] // EtherType and on
	return cat(eth(0, tags...)[:12+4*len(tags)], inner)
}

// TestFrameVLANHashesLikeUntagged checks that one or two tags change only
// Tags, VLAN and L3, never the class or the hash.
func TestFrameVLANHashesLikeUntagged(t *testing.T) {
	stacks := [][]tag{
		{q(1)},
		{q(4095)},
		{qinq(300), q(100)},
		{tag{0x9100, 7}, q(8)},
	}
	for _, tc := range frameCases() {
		if tc.class == ClassMalformed || tc.tags != 0 {
			continue
		}
		plain := Frame(tc.frame)
		for _, tags := range stacks {
			got := Frame(retag(tc.frame, tags...))
			want := plain
			want.VLAN = tags[0].tci & 0x0fff
			want.L3 += uint16(4 * len(tags))
			if got != want {
				t.Errorf("%s with tags %v = %+v, want %+v", tc.name, tags, got, want)
			}
		}
	}
}

// TestFragmentsShareHash sends a UDP datagram in three fragments, the first
// carrying the ports: all must be ClassL3 with the address-pair hash, which
// is also what any other protocol between the two hosts gets.
func TestFragmentsShareHash(t *testing.T) {
	v4 := [][]byte{
		cat(eth(0x0800), ipv4(protoUDP, fragMF, cat(udp(5000, 6000), make([]byte, 1472)))),
		cat(eth(0x0800), ipv4(protoUDP, fragMF|185, make([]byte, 1480))),
		cat(eth(0x0800, q(5)), ipv4(protoUDP, 370, make([]byte, 100))),
		cat(eth(0x0800), ipv4(1, 0, make([]byte, 8))),   // ICMP
		cat(eth(0x0800), ipv4(103, 0, make([]byte, 8))), // PIM
	}
	v6 := [][]byte{
		cat(eth(0x86dd), ipv6(protoUDP, cat(udp(5000, 6000), make([]byte, 1440)), ext{kind: protoFragment, frag: 1})),
		cat(eth(0x86dd), ipv6(protoUDP, make([]byte, 1448), ext{kind: protoFragment, frag: 181<<3 | 1})),
		cat(eth(0x86dd, q(5)), ipv6(protoUDP, make([]byte, 100), ext{kind: protoHopByHop, size: 8}, ext{kind: protoFragment, frag: 362 << 3})),
		cat(eth(0x86dd), ipv6(58, make([]byte, 8))), // ICMPv6
	}
	for _, set := range []struct {
		name   string
		frames [][]byte
		want   uint32
	}{{"ipv4", v4, wantV4L3}, {"ipv6", v6, wantV6L3}} {
		for i, f := range set.frames {
			got := Frame(f)
			if got.Class != ClassL3 || got.Hash != set.want {
				t.Errorf("%s frame %d = %v %#08x, want l3 %#08x", set.name, i, got.Class, got.Hash, set.want)
			}
		}
	}
	if wantV4L3 == wantV6L3 {
		t.Errorf("IPv4 and IPv6 address-pair hashes agree: %#08x", wantV4L3)
	}
}

func TestClassString(t *testing.T) {
	want := map[Class]string{
		ClassL4:        "l4",
		ClassL3:        "l3",
		ClassARP:       "arp",
		ClassNonIP:     "non_ip",
		ClassMalformed: "malformed",
		NumClasses:     "class(5)",
	}
	for c, s := range want {
		if got := c.String(); got != s {
			t.Errorf("Class(%d).String() = %q, want %q", c, got, s)
		}
	}
}

// TestFrameNoAllocs checks that Frame allocates nothing for any class.
func TestFrameNoAllocs(t *testing.T) {
	seen := map[Class]bool{}
	for _, tc := range frameCases() {
		seen[tc.class] = true
		var sink Result
		if n := testing.AllocsPerRun(100, func() { sink = Frame(tc.frame) }); n != 0 {
			t.Errorf("%s (%v): %v allocs per Frame", tc.name, tc.class, n)
		}
		_ = sink
	}
	for c := range NumClasses {
		if !seen[c] {
			t.Errorf("no table frame of class %v", c)
		}
	}
}
