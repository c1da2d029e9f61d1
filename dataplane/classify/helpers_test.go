package classify

import (
	"encoding/binary"
	"net/netip"
)

// This file builds the frames the tests feed to Frame.

// tag is one VLAN tag: its TPID (EtherType) and TCI.
type tag struct{ tpid, tci uint16 }

func q(vid uint16) tag    { return tag{0x8100, vid} }
func qinq(vid uint16) tag { return tag{0x88a8, vid} }

// cat concatenates byte slices into a new one.
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// eth returns an Ethernet II header with the given tags, outer first, and
// EtherType.
func eth(etype uint16, tags ...tag) []byte {
	b := []byte{0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02}
	for _, t := range tags {
		b = binary.BigEndian.AppendUint16(b, t.tpid)
		b = binary.BigEndian.AppendUint16(b, t.tci)
	}
	return binary.BigEndian.AppendUint16(b, etype)
}

// ports returns an L4 header of n bytes (at least 4) that starts with the
// source and destination ports.
func ports(src, dst uint16, n int) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint16(b[0:], src)
	binary.BigEndian.PutUint16(b[2:], dst)
	return b
}

func tcp(src, dst uint16) []byte { return ports(src, dst, 20) }
func udp(src, dst uint16) []byte { return ports(src, dst, 8) }

var (
	v4a = netip.MustParseAddr("192.0.2.1")
	v4b = netip.MustParseAddr("198.51.100.7")
	v6a = netip.MustParseAddr("2001:db8::1")
	v6b = netip.MustParseAddr("2001:db8:ffff::c0:ffee")
)

// IPv4 fragment-field values.
const (
	fragDF = 0x4000
	fragMF = 0x2000
)

// ipv4x returns an IPv4 header of ihl 32-bit words (options zeroed) followed
// by payload; the total length covers both.
func ipv4x(ihl int, src, dst netip.Addr, proto byte, frag uint16, payload []byte) []byte {
	b := make([]byte, ihl*4, ihl*4+len(payload))
	b[0] = 0x40 | byte(ihl&0x0f)
	binary.BigEndian.PutUint16(b[2:], uint16(ihl*4+len(payload)))
	binary.BigEndian.PutUint16(b[4:], 0x1234)
	binary.BigEndian.PutUint16(b[6:], frag)
	b[8] = 64
	b[9] = proto
	s, d := src.As4(), dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	return append(b, payload...)
}

// ipv4 returns an IPv4 packet without options.
func ipv4(proto byte, frag uint16, payload []byte) []byte {
	return ipv4x(5, v4a, v4b, proto, frag, payload)
}

// setTotal overwrites the total length of the IPv4 header at l3 in frame.
func setTotal(frame []byte, l3 int, total uint16) []byte {
	binary.BigEndian.PutUint16(frame[l3+2:], total)
	return frame
}

// pad extends frame with zero bytes up to n bytes (Ethernet padding).
func pad(frame []byte, n int) []byte {
	for len(frame) < n {
		frame = append(frame, 0)
	}
	return frame
}

// ext describes one IPv6 extension header for ipv6x.
type ext struct {
	kind byte   // 0, 43, 44, 51, 60, or anything for a raw header
	size int    // total bytes, a multiple of 8 (of 4 for AH); ignored for 44
	frag uint16 // fragment offset and M flag, for 44
}

// ipv6x returns an IPv6 packet from src to dst carrying the extension
// headers exts and then payload as protocol proto. The payload length covers
// everything after the fixed header.
func ipv6x(src, dst netip.Addr, proto byte, payload []byte, exts ...ext) []byte {
	var rest []byte
	for i, e := range exts {
		next := proto
		if i+1 < len(exts) {
			next = exts[i+1].kind
		}
		var h []byte
		switch e.kind {
		case protoFragment:
			h = make([]byte, 8)
			binary.BigEndian.PutUint16(h[2:], e.frag)
			binary.BigEndian.PutUint32(h[4:], 0xcafe)
		case protoAH:
			h = make([]byte, e.size)
			h[1] = byte(e.size/4 - 2)
		default:
			h = make([]byte, e.size)
			h[1] = byte(e.size/8 - 1)
		}
		h[0] = next
		rest = append(rest, h...)
	}
	rest = append(rest, payload...)
	first := proto
	if len(exts) > 0 {
		first = exts[0].kind
	}
	b := make([]byte, 40, 40+len(rest))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(rest)))
	b[6] = first
	b[7] = 64
	s, d := src.As16(), dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return append(b, rest...)
}

// ipv6 returns an IPv6 packet between the default addresses.
func ipv6(proto byte, payload []byte, exts ...ext) []byte {
	return ipv6x(v6a, v6b, proto, payload, exts...)
}

// arpPacket returns an ARP request for IPv4 over Ethernet (28 bytes).
func arpPacket() []byte {
	b := []byte{0, 1, 8, 0, 6, 4, 0, 1}
	b = append(b, 0x02, 0, 0, 0, 0, 0x01, 192, 0, 2, 1)
	b = append(b, 0, 0, 0, 0, 0, 0, 198, 51, 100, 7)
	return b
}

// Expected hashes, computed from the field values the frames were built
// with rather than from the frames.

func v4pair(src, dst netip.Addr) uint64 {
	s, d := src.As4(), dst.As4()
	return uint64(binary.BigEndian.Uint32(s[:]))<<32 | uint64(binary.BigEndian.Uint32(d[:]))
}

func v6pair(src, dst netip.Addr) *addr6 {
	s, d := src.As16(), dst.As16()
	return &addr6{
		s0: binary.BigEndian.Uint64(s[:8]), s1: binary.BigEndian.Uint64(s[8:]),
		d0: binary.BigEndian.Uint64(d[:8]), d1: binary.BigEndian.Uint64(d[8:]),
	}
}

func wantV4L4(proto byte, sp, dp uint16) uint32 {
	return hashV4L4(v4pair(v4a, v4b), proto, uint32(sp)<<16|uint32(dp))
}

func wantV6L4(proto byte, sp, dp uint16) uint32 {
	return hashV6L4(v6pair(v6a, v6b), proto, uint32(sp)<<16|uint32(dp))
}

var (
	wantV4L3 = hashV4L3(v4pair(v4a, v4b))
	wantV6L3 = hashV6L3(v6pair(v6a, v6b))
)
