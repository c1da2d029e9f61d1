// Package frame reads and builds the few frame layouts teamgw handles
// itself: Ethernet II with optional 802.1Q tags, ARP for IPv4 over
// Ethernet, and IPv6 neighbor advertisements. Readers never trust lengths:
// a short or odd frame reports "not valid" instead of panicking.
package frame

import (
	"encoding/binary"
	"net/netip"
)

// MAC is an Ethernet address.
type MAC [6]byte

// Broadcast is ff:ff:ff:ff:ff:ff.
var Broadcast = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// IsMulticast reports whether the group bit is set (broadcast included).
func (m MAC) IsMulticast() bool { return m[0]&1 != 0 }

// String formats the address as aa:bb:cc:dd:ee:ff.
func (m MAC) String() string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, 17)
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hex[x>>4], hex[x&0xf])
	}
	return string(b)
}

// MACFrom copies a 6-byte address; ok is false for any other length.
func MACFrom(b []byte) (m MAC, ok bool) {
	if len(b) != 6 {
		return m, false
	}
	copy(m[:], b)
	return m, true
}

// EtherTypes teamgw looks at.
const (
	TypeIPv4 = 0x0800
	TypeARP  = 0x0806
	TypeVLAN = 0x8100
	TypeQinQ = 0x88a8
	TypeIPv6 = 0x86dd
	TypeSlow = 0x8809 // IEEE 802.3 slow protocols: LACP, marker
	TypeRARP = 0x8035
)

// EthHeaderLen is the length of an untagged Ethernet II header.
const EthHeaderLen = 14

// Ethernet is a view of an Ethernet II frame.
type Ethernet []byte

// Valid reports whether the frame holds at least an Ethernet header.
func (e Ethernet) Valid() bool { return len(e) >= EthHeaderLen }

// Dst is the destination address; the frame must be Valid.
func (e Ethernet) Dst() MAC { return MAC(e[0:6]) }

// Src is the source address; the frame must be Valid.
func (e Ethernet) Src() MAC { return MAC(e[6:12]) }

// DstIsMulticast reports the group bit of the destination; the frame must be Valid.
func (e Ethernet) DstIsMulticast() bool { return e[0]&1 != 0 }

// Type is the outer EtherType; the frame must be Valid.
func (e Ethernet) Type() uint16 { return binary.BigEndian.Uint16(e[12:14]) }

// ARP operation codes.
const (
	ARPRequest = 1
	ARPReply   = 2
)

// ARPLen is the length of an ARP packet for IPv4 over Ethernet.
const ARPLen = 28

// AppendGratuitousARP appends a broadcast gratuitous ARP request announcing
// ip at mac (sender and target protocol address both ip), the frame teamgw
// sends from a member that has just taken over so switches and clients
// relearn where the team lives (BASP failover, seed 004).
func AppendGratuitousARP(b []byte, mac MAC, ip netip.Addr) []byte {
	return AppendARP(b, Broadcast, mac, ARPRequest, mac, ip, MAC{}, ip)
}

// AppendARP appends an Ethernet frame carrying an ARP packet for IPv4 over
// Ethernet, padded to the 60-byte Ethernet minimum.
func AppendARP(b []byte, dst, src MAC, op uint16, sha MAC, spa netip.Addr, tha MAC, tpa netip.Addr) []byte {
	start := len(b)
	b = append(b, dst[:]...)
	b = append(b, src[:]...)
	b = binary.BigEndian.AppendUint16(b, TypeARP)
	b = binary.BigEndian.AppendUint16(b, 1) // hardware type: Ethernet
	b = binary.BigEndian.AppendUint16(b, TypeIPv4)
	b = append(b, 6, 4)
	b = binary.BigEndian.AppendUint16(b, op)
	b = append(b, sha[:]...)
	s4 := spa.As4()
	b = append(b, s4[:]...)
	b = append(b, tha[:]...)
	t4 := tpa.As4()
	b = append(b, t4[:]...)
	return pad(b, start)
}

// pad extends the frame that starts at start to 60 bytes.
func pad(b []byte, start int) []byte {
	for len(b)-start < 60 {
		b = append(b, 0)
	}
	return b
}

// ARP is a view of an ARP packet (the Ethernet payload).
type ARP []byte

// Valid reports whether this is a complete ARP packet for IPv4 over
// Ethernet; any other hardware or protocol size is not.
func (a ARP) Valid() bool {
	return len(a) >= ARPLen &&
		binary.BigEndian.Uint16(a[0:2]) == 1 &&
		binary.BigEndian.Uint16(a[2:4]) == TypeIPv4 &&
		a[4] == 6 && a[5] == 4
}

// Op is the operation; the packet must be Valid.
func (a ARP) Op() uint16 { return binary.BigEndian.Uint16(a[6:8]) }

// SenderMAC is the sender hardware address; the packet must be Valid.
func (a ARP) SenderMAC() MAC { return MAC(a[8:14]) }

// SenderIP is the sender protocol address; the packet must be Valid.
func (a ARP) SenderIP() netip.Addr { return netip.AddrFrom4([4]byte(a[14:18])) }

// TargetMAC is the target hardware address; the packet must be Valid.
func (a ARP) TargetMAC() MAC { return MAC(a[18:24]) }

// TargetIP is the target protocol address; the packet must be Valid.
func (a ARP) TargetIP() netip.Addr { return netip.AddrFrom4([4]byte(a[24:28])) }

// Neighbor advertisement flags (RFC 4861 section 4.4), in the first byte
// of the flags word.
const (
	NARouter    = 0x80
	NASolicited = 0x40
	NAOverride  = 0x20
)

// AppendUnsolicitedNA appends an unsolicited IPv6 neighbor advertisement
// (RFC 4861 section 7.2.6) for ip at mac, sent to all-nodes with the
// override flag, the IPv6 counterpart of a gratuitous ARP.
func AppendUnsolicitedNA(b []byte, mac MAC, ip netip.Addr) []byte {
	return AppendNA(b, MAC{0x33, 0x33, 0, 0, 0, 1}, mac, ip, netip.MustParseAddr("ff02::1"), NAOverride, ip, mac)
}

// AppendNA appends an IPv6 neighbor advertisement (RFC 4861 section 4.4)
// from src (Ethernet) and srcIP to dst and dstIP, with the given flags,
// advertising target at tlla (the target link-layer address option). To
// one client with the override flag it is the IPv6 counterpart of a
// directed gratuitous ARP.
func AppendNA(b []byte, dst, src MAC, srcIP, dstIP netip.Addr, flags byte, target netip.Addr, tlla MAC) []byte {
	start := len(b)
	b = append(b, dst[:]...)
	b = append(b, src[:]...)
	b = binary.BigEndian.AppendUint16(b, TypeIPv6)
	const icmpLen = 32 // NA header 24 + target link-layer address option 8
	ipStart := len(b)
	b = append(b, 0x60, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, icmpLen)
	b = append(b, 58, 255) // next header ICMPv6, hop limit 255
	s, d, tg := srcIP.As16(), dstIP.As16(), target.As16()
	b = append(b, s[:]...)
	b = append(b, d[:]...)
	icmp := len(b)
	b = append(b, 136, 0, 0, 0) // type NA, code, checksum
	b = append(b, flags, 0, 0, 0)
	b = append(b, tg[:]...) // target address
	b = append(b, 2, 1)     // option: target link-layer address, 1 x 8 bytes
	b = append(b, tlla[:]...)
	sum := icmpv6Checksum(b[ipStart+8:ipStart+24], b[ipStart+24:ipStart+40], b[icmp:])
	binary.BigEndian.PutUint16(b[icmp+2:], sum)
	return pad(b, start)
}

// ICMPv6Checksum is the ICMPv6 checksum of msg (with its checksum field
// zero) between the IPv6 addresses src and dst.
func ICMPv6Checksum(src, dst, msg []byte) uint16 { return icmpv6Checksum(src, dst, msg) }

func icmpv6Checksum(src, dst, msg []byte) uint16 {
	var s uint32
	add := func(p []byte) {
		for len(p) >= 2 {
			s += uint32(binary.BigEndian.Uint16(p))
			p = p[2:]
		}
		if len(p) == 1 {
			s += uint32(p[0]) << 8
		}
	}
	add(src)
	add(dst)
	s += uint32(len(msg))
	s += 58
	add(msg)
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// Tag returns the frame b with an 802.1Q tag for VLAN vid inserted after
// the MAC addresses (b must hold at least the addresses).
func Tag(b []byte, vid uint16) []byte {
	out := make([]byte, 0, len(b)+4)
	out = append(out, b[:12]...)
	out = append(out, 0x81, 0x00, byte(vid>>8)&0x0f, byte(vid))
	return append(out, b[12:]...)
}
