// Package classify decides how each frame the kernel sends through the
// team's TAP is spread over the member ports, following Broadcom BASP's
// outbound load balancing:
//
//   - TCP, UDP and SCTP are balanced per flow, on a hash of the source and
//     destination addresses, the protocol and the ports (ClassL4);
//   - other IP protocols (ICMP, IGMP, ESP, ...) and every IP fragment are
//     balanced on a hash of the two addresses only, so that all fragments of
//     a datagram leave on one member (ClassL3);
//   - ARP is handed to the SLB receive-balancing logic (ClassARP);
//   - anything else leaves on the primary member (ClassNonIP).
//
// IPv4 and IPv6 are handled, beneath up to two VLAN tags (802.1Q 0x8100,
// 802.1ad 0x88a8 and the legacy 0x9100); tagged frames are classified and
// hashed on their inner headers, so a tagged frame hashes exactly like the
// same frame untagged.
//
// Frame never trusts frame contents: a frame shorter than its headers claim,
// an impossible header field or an over-long tag or extension-header chain
// is reported as ClassMalformed, and Frame never panics or reads outside the
// slice it is given. It does not allocate or copy.
//
// Flow hashes are deterministic (no per-process seed), so every worker and
// every run agree; callers map a hash to one of n buckets with Bucket.
package classify

import (
	"encoding/binary"
	"strconv"
)

// Class says how a frame is balanced.
type Class uint8

// The classes Frame reports.
const (
	ClassL4        Class = iota // TCP, UDP, SCTP (non-fragment, ports readable): hash of addresses and ports
	ClassL3                     // other IP protocols, IPv4/IPv6 fragments (first and later): hash of the addresses only
	ClassARP                    // ARP (EtherType 0x0806)
	ClassNonIP                  // any other EtherType (incl. LACP 0x8809, LLDP, ...)
	ClassMalformed              // shorter than its headers claim, bad IPv4 IHL (<5), IPv4 total length < IHL*4, IPv6 with a truncated extension chain, more than 2 VLAN tags, ...
	NumClasses                  // number of classes, for sizing per-class counters
)

var classNames = [NumClasses]string{
	ClassL4:        "l4",
	ClassL3:        "l3",
	ClassARP:       "arp",
	ClassNonIP:     "non_ip",
	ClassMalformed: "malformed",
}

// String returns the class's short name as used in counters and logs:
// "l4", "l3", "arp", "non_ip" or "malformed".
func (c Class) String() string {
	if c < NumClasses {
		return classNames[c]
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// Result is what Frame reports. The zero value is ClassL4 with hash 0, so
// always use Class.
type Result struct {
	// Class says how the frame is balanced.
	Class Class
	// Hash is the flow hash: for ClassL4 over (source IP, destination IP,
	// protocol, source port, destination port); for ClassL3 over (source
	// IP, destination IP) only, not the protocol, so that all fragments and
	// all protocols between two hosts agree. It is 0 for ClassARP,
	// ClassNonIP and ClassMalformed.
	Hash uint32
	// VLAN is the VLAN ID (12 bits) of the outer tag, 0 if untagged.
	VLAN uint16
	// L3 is the offset of the L3 (IP or ARP) header in the frame,
	// 14 + 4*Tags(). For ClassMalformed it is the offset reached.
	L3 uint16
}

// Tags is the number of VLAN tags (0, 1 or 2) read before the L3 header.
// Result keeps it implicit in L3 so that the struct has four fields and
// Go returns it in registers (five fields go through memory, which cost
// about as much again as the classification itself).
func (r Result) Tags() int {
	if r.L3 < ethHeaderLen {
		return 0
	}
	return int(r.L3-ethHeaderLen) / vlanTagLen
}

// EtherTypes and header sizes.
const (
	ethHeaderLen = 14
	vlanTagLen   = 4
	maxTags      = 2

	etherTypeIPv4  = 0x0800
	etherTypeARP   = 0x0806
	etherTypeIPv6  = 0x86dd
	etherTypeQinQ  = 0x88a8
	etherType8021Q = 0x8100
	etherType9100  = 0x9100

	ipv4MinHeaderLen = 20
	ipv6HeaderLen    = 40
	arpFixedLen      = 8
	portsLen         = 4
)

// IP protocol numbers and IPv6 extension headers.
const (
	protoHopByHop = 0
	protoTCP      = 6
	protoUDP      = 17
	protoRouting  = 43
	protoFragment = 44
	protoAH       = 51
	protoDestOpts = 60
	protoSCTP     = 132

	// maxExtHeaders bounds the IPv6 extension-header walk; a longer chain
	// is reported as ClassMalformed.
	maxExtHeaders = 8
)

var (
	be = binary.BigEndian
	le = binary.LittleEndian
)

// Frame classifies one Ethernet frame in place (no allocation, no copy).
//
// b is the frame from the destination MAC address on, without FCS. Ethernet
// padding after the IP datagram is ignored: the IPv4 total length and a
// non-zero IPv6 payload length bound the bytes Frame looks at, so ports are
// never taken from padding. A frame cut short of its IP total length is
// still classified as long as every header Frame needs (the IP header, the
// IPv6 extension headers and, for ClassL4, the four port bytes) is present.
//
// For ClassMalformed, VLAN and Tags() describe the tags read before the
// problem was found, and L3 is only set if the tag stack was complete.
func Frame(b []byte) Result {
	if IsFastL4(b) {
		return Result{Class: ClassL4, Hash: FastL4Hash(b), L3: ethHeaderLen}
	}
	return frame(b)
}

// fastLen is the part of a frame the fast path reads: Ethernet, an IPv4
// header without options and the ports.
const fastLen = ethHeaderLen + ipv4MinHeaderLen + portsLen

// IsFastL4 reports whether b takes Frame's fast path, the bulk of a
// server's traffic: an untagged IPv4 frame without options or
// fragmentation carrying TCP or UDP with its ports inside the datagram.
// Such a frame is ClassL4 with L3 14 and the hash FastL4Hash; any other
// is classified by Rest. IsFastL4 and FastL4Hash are small enough to be
// inlined into a caller's loop, where the one length check covers every
// read: the EtherType and the version and header length are one load
// (bytes 12-14: 0x0800, 0x45), and so are the flags, fragment offset and
// protocol (bytes 20-23 without the TTL, not fragmented: 0, 6 or 17).
// TCP or UDP is tested without a branch between them, as two flags
// compared (at most one is set): traffic mixes the two in no order, and
// the branch of `tcp || udp` was mispredicted about every other frame
// (callgrind's branch simulation: 0.52 a packet, three quarters of the
// outbound path's mispredictions; IsFastV6L4 likewise).
func IsFastL4(b []byte) bool {
	if len(b) < fastLen || le.Uint32(b[12:16])&0xffffff != 0x450008 {
		return false
	}
	fp := le.Uint32(b[20:24]) & 0xff00ff3f
	return (fp == protoTCP<<24) != (fp == protoUDP<<24) && be.Uint16(b[16:18]) >= ipv4MinHeaderLen+portsLen
}

// FastL4Hash is the flow hash of a frame IsFastL4 takes.
func FastL4Hash(b []byte) uint32 {
	p := (*[fastLen]byte)(b)
	return mixV4L4(le.Uint64(p[22:30])&0xffffffff_0000ff00, le.Uint64(p[30:38]))
}

// IsFastV4L3 reports whether b is an untagged IPv4 frame without options
// that Frame balances on its addresses alone (ClassL3, L3 14, hash
// FastV4L3Hash): a fragment, or a datagram of a protocol without ports
// (ICMP, ...). Like IsFastL4 it is small enough to be inlined.
func IsFastV4L3(b []byte) bool {
	return len(b) >= ethHeaderLen+ipv4MinHeaderLen && le.Uint32(b[12:16])&0xffffff == 0x450008 &&
		be.Uint16(b[16:18]) >= ipv4MinHeaderLen && (le.Uint16(b[20:22])&0xff3f != 0 || !isL4(b[23]))
}

// FastV4L3Hash is the flow hash of a frame IsFastV4L3 takes: hashV4L3,
// with its constants read from v4L3Keys. A loop that inlines the three
// fast paths would otherwise keep this rarer path's constants, as values
// shared with no other path, in registers or set them again on every
// turn (the compiler hoists constants to the loop).
func FastV4L3Hash(b []byte) uint32 {
	p := (*[ethHeaderLen + ipv4MinHeaderLen]byte)(b)
	k := &v4L3Keys
	h := (be.Uint64(p[26:34]) ^ k[0]) * k[1] // absorb
	h ^= h >> 32
	h ^= h >> 27 // finish
	h *= k[2]
	h ^= h >> 33
	h *= k[3]
	h ^= h >> 27
	return uint32(h >> 32)
}

// v4L3Keys are hashV4L3's constants, for FastV4L3Hash. Nothing writes
// them.
var v4L3Keys = [4]uint64{seedV4L3, absorbMul, finishM1, finishM2}

// Rest classifies b exactly as Frame does, for a caller that already
// found that IsFastL4 does not take it.
func Rest(b []byte) Result { return frame(b) }

// frame is Frame's general path. It starts with the second most common
// frame, IsFastV6L4's.
func frame(b []byte) Result {
	if IsFastV6L4(b) {
		return Result{Class: ClassL4, Hash: FastV6L4Hash(b), L3: ethHeaderLen}
	}
	return general(b)
}

// fastV6Len is the part of a frame the IPv6 fast path reads: Ethernet,
// the IPv6 header and the ports.
const fastV6Len = ethHeaderLen + ipv6HeaderLen + portsLen

// IsFastV6L4 reports whether b is an untagged IPv6 frame carrying TCP or
// UDP without extension headers, its ports inside the payload length
// (which ipv6Class would find too, with a loop and a call). Such a frame
// is ClassL4 with L3 14 and the hash FastV6L4Hash. Like IsFastL4 it is
// small enough to be inlined.
func IsFastV6L4(b []byte) bool {
	return len(b) >= fastV6Len && be.Uint16(b[12:14]) == etherTypeIPv6 && b[14]>>4 == 6 &&
		(b[20] == protoTCP) != (b[20] == protoUDP) && be.Uint16(b[18:20])-1 >= portsLen-1 // payload length 0 or >= 4
}

// FastV6L4Hash is the flow hash of a frame IsFastV6L4 takes.
func FastV6L4Hash(b []byte) uint32 { return MixV6L4(FastV6L4Words(b)) }

// FastV6L4Words and MixV6L4 are FastV6L4Hash in two parts, each small
// enough to be inlined (FastV6L4Hash is not): the flow's words as the
// frame holds them, read little-endian (the four address halves, and
// the ports with the protocol), and their hash. A loop that calls
// MixV6L4(FastV6L4Words(b)) makes no call.
func FastV6L4Words(b []byte) (s0, s1, d0, d1, portsProto uint64) {
	p := (*[fastV6Len]byte)(b)
	return le.Uint64(p[22:30]), le.Uint64(p[30:38]), le.Uint64(p[38:46]), le.Uint64(p[46:54]),
		uint64(le.Uint32(p[54:58]))<<8 | uint64(p[20])
}

// MixV6L4 hashes the words FastV6L4Words reads (see mixV6L4).
func MixV6L4(s0, s1, d0, d1, portsProto uint64) uint32 { return mixV6L4(s0, s1, d0, d1, portsProto) }

// general classifies any frame, walking its tags and headers.
func general(b []byte) Result {
	if len(b) < ethHeaderLen {
		return Result{Class: ClassMalformed}
	}
	var (
		vlan uint16
		tags uint8
	)
	off := ethHeaderLen - 2 // offset of the (next) EtherType field
	et := be.Uint16(b[off:])
	for et == etherType8021Q || et == etherTypeQinQ || et == etherType9100 {
		if tags == maxTags || len(b) < off+2+vlanTagLen {
			return Result{Class: ClassMalformed, VLAN: vlan, L3: uint16(off + 2)}
		}
		if tags == 0 {
			vlan = be.Uint16(b[off+2:]) & 0x0fff
		}
		tags++
		off += vlanTagLen
		et = be.Uint16(b[off:])
	}
	off += 2
	p := b[off:]
	var (
		class Class
		hash  uint32
	)
	switch et {
	case etherTypeIPv4:
		class, hash = ipv4Class(p)
	case etherTypeIPv6:
		class, hash = ipv6Class(p)
	case etherTypeARP:
		class = arpClass(p)
	default:
		class = ClassNonIP
	}
	return Result{Class: class, Hash: hash, VLAN: vlan, L3: uint16(off)}
}

// isL4 reports whether proto carries 16-bit source and destination ports in
// its first four bytes and is balanced per flow.
func isL4(proto byte) bool {
	return proto == protoTCP || proto == protoUDP || proto == protoSCTP
}

// ipv4Class classifies the IPv4 packet p, which may carry Ethernet padding
// or be cut short.
func ipv4Class(p []byte) (Class, uint32) {
	if len(p) < ipv4MinHeaderLen {
		return ClassMalformed, 0
	}
	h := p[:ipv4MinHeaderLen]
	if h[0]>>4 != 4 {
		return ClassMalformed, 0
	}
	hl := int(h[0]&0x0f) * 4
	total := int(be.Uint16(h[2:4]))
	if hl < ipv4MinHeaderLen || len(p) < hl || total < hl {
		return ClassMalformed, 0
	}
	addrs := be.Uint64(h[12:20]) // source << 32 | destination
	// MF flag or a non-zero fragment offset: a fragment, first or later.
	if be.Uint16(h[6:8])&0x3fff != 0 {
		return ClassL3, hashV4L3(addrs)
	}
	proto := h[9]
	if !isL4(proto) {
		return ClassL3, hashV4L3(addrs)
	}
	end := min(len(p), total) // drop Ethernet padding
	if end-hl < portsLen {
		return ClassMalformed, 0
	}
	ports := be.Uint32(p[hl : hl+portsLen])
	return ClassL4, hashV4L4(addrs, proto, ports)
}

// ipv6Class classifies the IPv6 packet p, which may carry Ethernet padding
// or be cut short, walking its extension headers.
func ipv6Class(p []byte) (Class, uint32) {
	if len(p) < ipv6HeaderLen {
		return ClassMalformed, 0
	}
	h := p[:ipv6HeaderLen]
	if h[0]>>4 != 6 {
		return ClassMalformed, 0
	}
	var a addr6
	a.s0, a.s1 = be.Uint64(h[8:16]), be.Uint64(h[16:24])
	a.d0, a.d1 = be.Uint64(h[24:32]), be.Uint64(h[32:40])
	// A zero payload length means a jumbogram (or a sender that did not
	// fill it in): the frame length is all there is to go by.
	if plen := int(be.Uint16(h[4:6])); plen != 0 && ipv6HeaderLen+plen < len(p) {
		p = p[:ipv6HeaderLen+plen] // drop Ethernet padding
	}
	nh := h[6]
	off := ipv6HeaderLen
	for n := 0; ; n++ {
		var size int
		switch nh {
		case protoTCP, protoUDP, protoSCTP:
			if len(p)-off < portsLen {
				return ClassMalformed, 0
			}
			return ClassL4, hashV6L4(&a, nh, be.Uint32(p[off:off+portsLen]))
		case protoHopByHop, protoRouting, protoDestOpts, protoAH, protoFragment:
			if n == maxExtHeaders || len(p)-off < 8 {
				return ClassMalformed, 0
			}
			switch nh {
			case protoFragment:
				// Fixed 8 bytes, present in every fragment.
				return ClassL3, hashV6L3(&a)
			case protoAH:
				size = (int(p[off+1]) + 2) * 4
			default:
				size = (int(p[off+1]) + 1) * 8
			}
		default:
			// ICMPv6, No Next Header, ESP (whose payload is
			// encrypted) and every other protocol.
			return ClassL3, hashV6L3(&a)
		}
		if len(p)-off < size {
			return ClassMalformed, 0
		}
		nh = p[off]
		off += size
	}
}

// arpClass classifies the ARP packet p: it must hold the fixed header and
// the four addresses whose lengths that header gives.
func arpClass(p []byte) Class {
	if len(p) < arpFixedLen {
		return ClassMalformed
	}
	h := p[:arpFixedLen]
	if len(p) < arpFixedLen+2*(int(h[4])+int(h[5])) {
		return ClassMalformed
	}
	return ClassARP
}
