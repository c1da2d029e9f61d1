package frame

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

func TestMACString(t *testing.T) {
	tests := []struct {
		m    MAC
		want string
	}{
		{MAC{}, "00:00:00:00:00:00"},
		{Broadcast, "ff:ff:ff:ff:ff:ff"},
		{MAC{0x02, 0x1a, 0xb0, 0x0c, 0xde, 0xf9}, "02:1a:b0:0c:de:f9"},
		{MAC{0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa}, "01:00:5e:7f:ff:fa"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.m, got, tt.want)
		}
	}
}

func TestMACIsMulticast(t *testing.T) {
	tests := []struct {
		m    MAC
		want bool
	}{
		{MAC{}, false},
		{Broadcast, true},
		{MAC{0x01, 0x00, 0x5e, 0, 0, 1}, true}, // IPv4 multicast
		{MAC{0x33, 0x33, 0, 0, 0, 1}, true},    // IPv6 multicast
		{MAC{0x01, 0x80, 0xc2, 0, 0, 2}, true}, // slow protocols
		{MAC{0x02, 0, 0, 0, 0, 1}, false},      // locally administered unicast
		{MAC{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff}, false},
	}
	for _, tt := range tests {
		if got := tt.m.IsMulticast(); got != tt.want {
			t.Errorf("%v.IsMulticast() = %v, want %v", tt.m, got, tt.want)
		}
	}
}

func TestMACFrom(t *testing.T) {
	tests := []struct {
		in     []byte
		want   MAC
		wantOK bool
	}{
		{nil, MAC{}, false},
		{[]byte{}, MAC{}, false},
		{[]byte{1, 2, 3, 4, 5}, MAC{}, false},
		{[]byte{1, 2, 3, 4, 5, 6}, MAC{1, 2, 3, 4, 5, 6}, true},
		{[]byte{1, 2, 3, 4, 5, 6, 7}, MAC{}, false},
		{make([]byte, 8), MAC{}, false},
	}
	for _, tt := range tests {
		got, ok := MACFrom(tt.in)
		if ok != tt.wantOK || got != tt.want {
			t.Errorf("MACFrom(%v) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
	// The result must be a copy, not an alias of the input.
	in := []byte{1, 2, 3, 4, 5, 6}
	m, _ := MACFrom(in)
	in[0] = 0xff
	if m[0] != 1 {
		t.Errorf("MACFrom aliases its input")
	}
}

func TestEthernetValidShort(t *testing.T) {
	for n := 0; n < EthHeaderLen; n++ {
		if Ethernet(make([]byte, n)).Valid() {
			t.Errorf("Ethernet of %d bytes is Valid", n)
		}
	}
	if !Ethernet(make([]byte, EthHeaderLen)).Valid() {
		t.Errorf("Ethernet of %d bytes is not Valid", EthHeaderLen)
	}
}

func TestEthernetAccessors(t *testing.T) {
	tests := []struct {
		name  string
		dst   MAC
		src   MAC
		typ   uint16
		extra []byte
	}{
		{"unicast ipv4", MAC{0x02, 0, 0, 0, 0, 1}, MAC{0x02, 0, 0, 0, 0, 2}, TypeIPv4, []byte{0x45}},
		{"broadcast arp", Broadcast, MAC{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}, TypeARP, make([]byte, 46)},
		{"multicast ipv6 header only", MAC{0x33, 0x33, 0, 0, 0, 1}, MAC{0x02, 1, 2, 3, 4, 5}, TypeIPv6, nil},
		{"vlan", MAC{0x02, 9, 9, 9, 9, 9}, MAC{0x02, 8, 8, 8, 8, 8}, TypeVLAN, []byte{0, 10, 0x08, 0}},
		{"slow", MAC{0x01, 0x80, 0xc2, 0, 0, 2}, MAC{0x02, 7, 7, 7, 7, 7}, TypeSlow, []byte{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b []byte
			b = append(b, tt.dst[:]...)
			b = append(b, tt.src[:]...)
			b = binary.BigEndian.AppendUint16(b, tt.typ)
			b = append(b, tt.extra...)
			e := Ethernet(b)
			if !e.Valid() {
				t.Fatalf("Valid() = false on %d bytes", len(b))
			}
			if got := e.Dst(); got != tt.dst {
				t.Errorf("Dst() = %v, want %v", got, tt.dst)
			}
			if got := e.Src(); got != tt.src {
				t.Errorf("Src() = %v, want %v", got, tt.src)
			}
			if got := e.Type(); got != tt.typ {
				t.Errorf("Type() = %#04x, want %#04x", got, tt.typ)
			}
			if got, want := e.DstIsMulticast(), tt.dst.IsMulticast(); got != want {
				t.Errorf("DstIsMulticast() = %v, want %v", got, want)
			}
		})
	}
}

// validARP returns a well-formed 28-byte ARP packet for IPv4 over Ethernet.
func validARP() []byte {
	return []byte{
		0, 1, // htype Ethernet
		0x08, 0x00, // ptype IPv4
		6, 4, // hlen, plen
		0, 2, // op reply
		0x02, 0x11, 0x22, 0x33, 0x44, 0x55, // sha
		192, 0, 2, 1, // spa
		0x02, 0x66, 0x77, 0x88, 0x99, 0xaa, // tha
		192, 0, 2, 2, // tpa
	}
}

func TestARPValid(t *testing.T) {
	mod := func(f func(b []byte) []byte) []byte { return f(validARP()) }
	tests := []struct {
		name string
		pkt  []byte
		want bool
	}{
		{"valid", validARP(), true},
		{"valid with padding", append(validARP(), make([]byte, 18)...), true},
		{"nil", nil, false},
		{"empty", []byte{}, false},
		{"truncated 27", validARP()[:27], false},
		{"truncated 8", validARP()[:8], false},
		{"truncated 5", validARP()[:5], false},
		{"truncated 1", validARP()[:1], false},
		{"htype 6 (IEEE 802)", mod(func(b []byte) []byte { b[1] = 6; return b }), false},
		{"htype 0x0101", mod(func(b []byte) []byte { b[0] = 1; return b }), false},
		{"ptype IPv6", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:], TypeIPv6); return b }), false},
		{"ptype 0", mod(func(b []byte) []byte { b[2] = 0; return b }), false},
		{"hlen 8", mod(func(b []byte) []byte { b[4] = 8; return b }), false},
		{"hlen 0", mod(func(b []byte) []byte { b[4] = 0; return b }), false},
		{"plen 16", mod(func(b []byte) []byte { b[5] = 16; return b }), false},
		{"plen 0", mod(func(b []byte) []byte { b[5] = 0; return b }), false},
	}
	for _, tt := range tests {
		if got := ARP(tt.pkt).Valid(); got != tt.want {
			t.Errorf("%s: Valid() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestARPAccessors(t *testing.T) {
	a := ARP(validARP())
	if !a.Valid() {
		t.Fatal("not Valid")
	}
	if got := a.Op(); got != ARPReply {
		t.Errorf("Op() = %d, want %d", got, ARPReply)
	}
	if got, want := a.SenderMAC(), (MAC{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}); got != want {
		t.Errorf("SenderMAC() = %v, want %v", got, want)
	}
	if got, want := a.SenderIP(), netip.MustParseAddr("192.0.2.1"); got != want {
		t.Errorf("SenderIP() = %v, want %v", got, want)
	}
	if got, want := a.TargetMAC(), (MAC{0x02, 0x66, 0x77, 0x88, 0x99, 0xaa}); got != want {
		t.Errorf("TargetMAC() = %v, want %v", got, want)
	}
	if got, want := a.TargetIP(), netip.MustParseAddr("192.0.2.2"); got != want {
		t.Errorf("TargetIP() = %v, want %v", got, want)
	}
}

func TestAppendGratuitousARP(t *testing.T) {
	mac := MAC{0x02, 0xde, 0xad, 0xbe, 0xef, 0x01}
	ip := netip.MustParseAddr("198.51.100.7")
	b := AppendGratuitousARP(nil, mac, ip)

	if len(b) != 60 {
		t.Fatalf("len = %d, want 60", len(b))
	}
	e := Ethernet(b)
	if !e.Valid() {
		t.Fatal("Ethernet not Valid")
	}
	if e.Dst() != Broadcast {
		t.Errorf("Dst = %v, want broadcast", e.Dst())
	}
	if !e.DstIsMulticast() {
		t.Errorf("DstIsMulticast = false for broadcast")
	}
	if e.Src() != mac {
		t.Errorf("Src = %v, want %v", e.Src(), mac)
	}
	if e.Type() != TypeARP || e.Type() != 0x0806 {
		t.Errorf("Type = %#04x, want 0x0806", e.Type())
	}
	a := ARP(b[EthHeaderLen:])
	if !a.Valid() {
		t.Fatalf("ARP payload not Valid: % x", b[EthHeaderLen:EthHeaderLen+ARPLen])
	}
	if a.Op() != ARPRequest {
		t.Errorf("Op = %d, want request", a.Op())
	}
	if a.SenderMAC() != mac {
		t.Errorf("SenderMAC = %v, want %v", a.SenderMAC(), mac)
	}
	if a.SenderIP() != ip {
		t.Errorf("SenderIP = %v, want %v", a.SenderIP(), ip)
	}
	if a.TargetIP() != ip {
		t.Errorf("TargetIP = %v, want %v (gratuitous: sender = target)", a.TargetIP(), ip)
	}
	if a.TargetMAC() != (MAC{}) {
		t.Errorf("TargetMAC = %v, want zero", a.TargetMAC())
	}
	// Exact wire bytes for the ARP part, independent of the view.
	wantARP := []byte{0, 1, 0x08, 0x00, 6, 4, 0, 1}
	wantARP = append(wantARP, mac[:]...)
	wantARP = append(wantARP, 198, 51, 100, 7)
	wantARP = append(wantARP, 0, 0, 0, 0, 0, 0)
	wantARP = append(wantARP, 198, 51, 100, 7)
	if got := b[EthHeaderLen : EthHeaderLen+ARPLen]; !bytes.Equal(got, wantARP) {
		t.Errorf("ARP bytes\n got % x\nwant % x", got, wantARP)
	}
	// Padding after the ARP packet is zero.
	for i, x := range b[EthHeaderLen+ARPLen:] {
		if x != 0 {
			t.Errorf("pad byte %d = %#x, want 0", i, x)
		}
	}
}

func TestAppendARPRoundTrip(t *testing.T) {
	dst := MAC{0x02, 1, 1, 1, 1, 1}
	src := MAC{0x02, 2, 2, 2, 2, 2}
	sha := MAC{0x02, 3, 3, 3, 3, 3}
	tha := MAC{0x02, 4, 4, 4, 4, 4}
	spa := netip.MustParseAddr("10.0.0.1")
	tpa := netip.MustParseAddr("10.0.0.254")
	for _, op := range []uint16{ARPRequest, ARPReply, 0xffff} {
		b := AppendARP(nil, dst, src, op, sha, spa, tha, tpa)
		if len(b) != 60 {
			t.Fatalf("op %d: len = %d, want 60", op, len(b))
		}
		e := Ethernet(b)
		if !e.Valid() || e.Dst() != dst || e.Src() != src || e.Type() != TypeARP {
			t.Errorf("op %d: Ethernet header % x", op, b[:EthHeaderLen])
		}
		a := ARP(b[EthHeaderLen:])
		if !a.Valid() {
			t.Fatalf("op %d: ARP not Valid", op)
		}
		if a.Op() != op || a.SenderMAC() != sha || a.SenderIP() != spa ||
			a.TargetMAC() != tha || a.TargetIP() != tpa {
			t.Errorf("op %d: round trip got op=%d sha=%v spa=%v tha=%v tpa=%v",
				op, a.Op(), a.SenderMAC(), a.SenderIP(), a.TargetMAC(), a.TargetIP())
		}
	}
}

func TestAppendARPPrefixPreserved(t *testing.T) {
	mac := MAC{0x02, 0xaa, 0, 0, 0, 1}
	ip := netip.MustParseAddr("192.0.2.55")
	for _, n := range []int{1, 7, 13, 60, 100} {
		prefix := make([]byte, n)
		for i := range prefix {
			prefix[i] = byte(0xa0 + i)
		}
		orig := bytes.Clone(prefix)
		// Give the prefix extra capacity so the builder writes in place.
		buf := append(make([]byte, 0, n+128), prefix...)
		b := AppendGratuitousARP(buf, mac, ip)
		if !bytes.Equal(b[:n], orig) {
			t.Errorf("prefix %d: prefix changed: % x", n, b[:n])
		}
		if len(b) != n+60 {
			t.Errorf("prefix %d: len = %d, want %d (frame padded relative to its own start)", n, len(b), n+60)
		}
		want := AppendGratuitousARP(nil, mac, ip)
		if !bytes.Equal(b[n:], want) {
			t.Errorf("prefix %d: appended frame differs from standalone frame\n got % x\nwant % x", n, b[n:], want)
		}

		// Same for AppendARP directly, without spare capacity.
		b2 := AppendARP(bytes.Clone(orig), Broadcast, mac, ARPReply, mac, ip, MAC{1, 2, 3, 4, 5, 6}, ip)
		if !bytes.Equal(b2[:n], orig) || len(b2) != n+60 {
			t.Errorf("prefix %d: AppendARP len %d prefix % x", n, len(b2), b2[:n])
		}
		if a := ARP(b2[n+EthHeaderLen:]); !a.Valid() || a.Op() != ARPReply {
			t.Errorf("prefix %d: AppendARP payload not a valid reply", n)
		}
	}
}

// refICMPv6Checksum is an independent implementation of the ICMPv6 checksum
// (RFC 4443 section 2.3) over the IPv6 pseudo-header of RFC 8200 section 8.1:
// source address, destination address, 32-bit upper-layer packet length,
// three zero bytes and the next header value (58). The checksum field in msg
// must already be zero.
func refICMPv6Checksum(src, dst netip.Addr, msg []byte) uint16 {
	var ph []byte
	s, d := src.As16(), dst.As16()
	ph = append(ph, s[:]...)
	ph = append(ph, d[:]...)
	ph = binary.BigEndian.AppendUint32(ph, uint32(len(msg)))
	ph = append(ph, 0, 0, 0, 58)
	ph = append(ph, msg...)
	if len(ph)%2 == 1 {
		ph = append(ph, 0)
	}
	var sum uint64
	for i := 0; i < len(ph); i += 2 {
		sum += uint64(ph[i])<<8 | uint64(ph[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// onesSum folds the 16-bit one's complement sum of b (even length).
func onesSum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

func TestRefICMPv6Checksum(t *testing.T) {
	// Known-answer check of the reference itself: an echo request
	// fe80::1 -> fe80::2, id 0x1234, seq 1, payload "abcd". Computed by hand:
	// pseudo-header words fe80+0001 + fe80+0002 + len 000c + 003a,
	// message 8000 0000 1234 0001 6162 6364.
	msg := []byte{128, 0, 0, 0, 0x12, 0x34, 0, 1, 'a', 'b', 'c', 'd'}
	src := netip.MustParseAddr("fe80::1")
	dst := netip.MustParseAddr("fe80::2")
	words := []uint32{0xfe80, 0x0001, 0xfe80, 0x0002, 0x000c, 0x003a, 0x8000, 0x1234, 0x0001, 0x6162, 0x6364}
	var s uint32
	for _, w := range words {
		s += w
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	want := ^uint16(s)
	if got := refICMPv6Checksum(src, dst, msg); got != want {
		t.Fatalf("reference checksum = %#04x, want %#04x", got, want)
	}
}

func TestAppendUnsolicitedNA(t *testing.T) {
	tests := []struct {
		mac MAC
		ip  string
	}{
		{MAC{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}, "2001:db8::1"},
		{MAC{0x02, 0xff, 0xff, 0xff, 0xff, 0xff}, "fe80::ff:fe00:1"},
		{MAC{0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54}, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
		{MAC{}, "::"},
	}
	allNodes := netip.MustParseAddr("ff02::1")
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.ip)
			b := AppendUnsolicitedNA(nil, tt.mac, ip)
			const wantLen = EthHeaderLen + 40 + 32
			if len(b) != wantLen {
				t.Fatalf("len = %d, want %d", len(b), wantLen)
			}
			e := Ethernet(b)
			if !e.Valid() {
				t.Fatal("Ethernet not Valid")
			}
			if got, want := e.Dst(), (MAC{0x33, 0x33, 0, 0, 0, 1}); got != want {
				t.Errorf("Dst = %v, want %v", got, want)
			}
			if e.Src() != tt.mac {
				t.Errorf("Src = %v, want %v", e.Src(), tt.mac)
			}
			if e.Type() != 0x86dd {
				t.Errorf("Type = %#04x, want 0x86dd", e.Type())
			}

			ip6 := b[EthHeaderLen:]
			if v := ip6[0] >> 4; v != 6 {
				t.Errorf("IP version = %d, want 6", v)
			}
			if tc, fl := binary.BigEndian.Uint32(ip6[0:4])>>20&0xff, binary.BigEndian.Uint32(ip6[0:4])&0xfffff; tc != 0 || fl != 0 {
				t.Errorf("traffic class %d, flow label %d; want 0, 0", tc, fl)
			}
			if pl := binary.BigEndian.Uint16(ip6[4:6]); pl != 32 {
				t.Errorf("payload length = %d, want 32", pl)
			}
			if ip6[6] != 58 {
				t.Errorf("next header = %d, want 58", ip6[6])
			}
			if ip6[7] != 255 {
				t.Errorf("hop limit = %d, want 255", ip6[7])
			}
			src := netip.AddrFrom16([16]byte(ip6[8:24]))
			dst := netip.AddrFrom16([16]byte(ip6[24:40]))
			if src != ip {
				t.Errorf("IPv6 src = %v, want %v", src, ip)
			}
			if dst != allNodes {
				t.Errorf("IPv6 dst = %v, want ff02::1", dst)
			}

			icmp := ip6[40:]
			if len(icmp) != 32 {
				t.Fatalf("ICMPv6 length = %d, want 32", len(icmp))
			}
			if icmp[0] != 136 || icmp[1] != 0 {
				t.Errorf("ICMPv6 type/code = %d/%d, want 136/0", icmp[0], icmp[1])
			}
			flags := icmp[4]
			if flags&0x20 == 0 {
				t.Errorf("override flag not set: flags %#02x", flags)
			}
			if flags&0x40 != 0 {
				t.Errorf("solicited flag set on an unsolicited NA: flags %#02x", flags)
			}
			if flags&0x80 != 0 {
				t.Errorf("router flag set: flags %#02x", flags)
			}
			if icmp[4]&0x1f != 0 || icmp[5] != 0 || icmp[6] != 0 || icmp[7] != 0 {
				t.Errorf("reserved bits not zero: % x", icmp[4:8])
			}
			if target := netip.AddrFrom16([16]byte(icmp[8:24])); target != ip {
				t.Errorf("target = %v, want %v", target, ip)
			}
			if icmp[24] != 2 || icmp[25] != 1 {
				t.Errorf("option type/len = %d/%d, want 2/1", icmp[24], icmp[25])
			}
			if got := MAC(icmp[26:32]); got != tt.mac {
				t.Errorf("option MAC = %v, want %v", got, tt.mac)
			}

			// Checksum, computed independently with the field zeroed.
			got := binary.BigEndian.Uint16(icmp[2:4])
			zeroed := bytes.Clone(icmp)
			zeroed[2], zeroed[3] = 0, 0
			if want := refICMPv6Checksum(ip, allNodes, zeroed); got != want {
				t.Errorf("ICMPv6 checksum = %#04x, want %#04x", got, want)
			}
			// And the receiver's check: the sum over pseudo-header and the
			// message including the checksum folds to 0xffff.
			var ph []byte
			s16, d16 := ip.As16(), allNodes.As16()
			ph = append(ph, s16[:]...)
			ph = append(ph, d16[:]...)
			ph = binary.BigEndian.AppendUint32(ph, uint32(len(icmp)))
			ph = append(ph, 0, 0, 0, 58)
			ph = append(ph, icmp...)
			if s := onesSum(ph); s != 0xffff {
				t.Errorf("receiver checksum verification: sum = %#04x, want 0xffff", s)
			}
			// No cross-check with golang.org/x/net/icmp: that module is not
			// a dependency of teamgw and its source is not in the module
			// cache, so the reference checksum above is the independent check.
		})
	}
}

func TestAppendUnsolicitedNAPrefixPreserved(t *testing.T) {
	mac := MAC{0x02, 1, 2, 3, 4, 5}
	ip := netip.MustParseAddr("2001:db8::42")
	want := AppendUnsolicitedNA(nil, mac, ip)
	for _, n := range []int{1, 3, 14, 61} {
		prefix := bytes.Repeat([]byte{0x5a}, n)
		b := AppendUnsolicitedNA(bytes.Clone(prefix), mac, ip)
		if !bytes.Equal(b[:n], prefix) {
			t.Errorf("prefix %d: prefix changed", n)
		}
		if !bytes.Equal(b[n:], want) {
			t.Errorf("prefix %d: appended frame differs\n got % x\nwant % x", n, b[n:], want)
		}
	}
}

// TestAppendDirectedNA builds the IPv6 counterpart of a directed
// gratuitous ARP: unicast to one client, override set, solicited not, the
// member's MAC in the Ethernet source and the target link-layer option.
func TestAppendDirectedNA(t *testing.T) {
	client, member := MAC{0x02, 0, 0, 0, 0, 0x10}, MAC{0x06, 0, 0, 0, 0, 0x21}
	team, cip := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::a")
	b := AppendNA(nil, client, member, team, cip, NAOverride, team, member)
	e := Ethernet(b)
	if len(b) != EthHeaderLen+40+32 || e.Dst() != client || e.Src() != member || e.Type() != TypeIPv6 {
		t.Fatalf("frame % x", b)
	}
	ip6, icmp := b[EthHeaderLen:], b[EthHeaderLen+40:]
	if netip.AddrFrom16([16]byte(ip6[8:24])) != team || netip.AddrFrom16([16]byte(ip6[24:40])) != cip || ip6[7] != 255 {
		t.Errorf("IPv6 header % x", ip6[:40])
	}
	if icmp[0] != 136 || icmp[4] != NAOverride || netip.AddrFrom16([16]byte(icmp[8:24])) != team || icmp[24] != 2 || MAC(icmp[26:32]) != member {
		t.Errorf("NA % x", icmp)
	}
	zeroed := bytes.Clone(icmp)
	zeroed[2], zeroed[3] = 0, 0
	s, d := team.As16(), cip.As16()
	if got, want := binary.BigEndian.Uint16(icmp[2:4]), refICMPv6Checksum(team, cip, zeroed); got != want || ICMPv6Checksum(s[:], d[:], zeroed) != want {
		t.Errorf("checksum %#04x, want %#04x", got, want)
	}
}
