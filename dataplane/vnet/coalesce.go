package vnet

import (
	"bytes"
	"encoding/binary"
)

// TCP flags that let a segment join a coalesced super-frame: ACK, with
// PSH allowed on the segment that ends it (as Linux GRO does).
const (
	tcpACK = 0x10
)

// MaxCoalesced is the largest IP packet a coalesced super-frame may be
// (the IPv4 total length and IPv6 payload length are 16 bits).
const MaxCoalesced = 65535

// TCPSegment describes a wire frame that may be coalesced with the
// segments that follow it into one TCP super-frame for the kernel (GRO in
// software, issue 9). Only plain data segments qualify: IPv4 without
// options or IPv6 without extension headers, the IP length matching the
// frame, ACK set and nothing else but PSH, payload present, and valid IP
// and TCP checksums — a segment that fails its checksum is never merged
// into a frame the kernel will trust.
type TCPSegment struct {
	l       layout
	seq     uint32
	payload int
	flags   uint8
}

// Payload is the segment's TCP payload length.
func (s *TCPSegment) Payload() int { return s.payload }

// HeaderLen is where the payload starts in the frame.
func (s *TCPSegment) HeaderLen() int { return s.l.payload }

// ParseTCPSegment reports whether frame may be coalesced, and describes it.
func ParseTCPSegment(frame []byte) (TCPSegment, bool) {
	l, err := parse(frame)
	if err != nil || l.proto != protoTCP {
		return TCPSegment{}, false
	}
	ip := frame[l.l3:]
	var src, dst []byte
	if l.v6 {
		if int(binary.BigEndian.Uint16(ip[4:6])) != len(ip)-40 {
			return TCPSegment{}, false
		}
		src, dst = ip[8:24], ip[24:40]
	} else {
		if l.l4-l.l3 != 20 || int(binary.BigEndian.Uint16(ip[2:4])) != len(ip) || Checksum(ip[:20]) != 0 {
			return TCPSegment{}, false
		}
		src, dst = ip[12:16], ip[16:20]
	}
	tcp := frame[l.l4:]
	flags := tcp[13]
	if flags&^(tcpACK|tcpPSH) != 0 || flags&tcpACK == 0 || len(frame) == l.payload {
		return TCPSegment{}, false
	}
	if Fold(Sum(tcp, pseudoSum(src, dst, protoTCP, len(tcp)))) != 0xffff {
		return TCPSegment{}, false
	}
	return TCPSegment{l: l, seq: binary.BigEndian.Uint32(tcp[4:8]), payload: len(frame) - l.payload, flags: flags}, true
}

// SameFlow reports whether two coalescable frames belong to the same TCP
// connection and direction (addresses, ports, VLAN tags, MACs). Their
// header layouts may differ (a segment with a SACK option has a longer
// TCP header): such a segment is the same flow but cannot join the
// super-frame (Append refuses it), so the flow's order is kept.
func SameFlow(a []byte, sa *TCPSegment, b []byte, sb *TCPSegment) bool {
	la, lb := &sa.l, &sb.l
	if la.l3 != lb.l3 || la.v6 != lb.v6 || !bytes.Equal(a[:la.l3], b[:lb.l3]) ||
		!bytes.Equal(a[la.l4:la.l4+4], b[lb.l4:lb.l4+4]) {
		return false
	}
	if la.v6 {
		return bytes.Equal(a[la.l3+8:la.l3+40], b[lb.l3+8:lb.l3+40])
	}
	return bytes.Equal(a[la.l3+12:la.l3+20], b[lb.l3+12:lb.l3+20])
}

// Coalesced is a TCP super-frame being built from wire segments: the
// first segment's frame (whose headers it becomes) and what follows.
type Coalesced struct {
	first    []byte
	seg      TCPSegment
	segments int
	payload  int    // payload bytes so far
	nextSeq  uint32 // the sequence number the next segment must have
	short    bool   // the last segment was shorter than the first: it ends the frame
	push     bool   // the last segment had PSH: it ends the frame
}

// Start begins a super-frame with frame, a coalescable segment.
func (c *Coalesced) Start(frame []byte, s TCPSegment) {
	*c = Coalesced{first: frame, seg: s, segments: 1, payload: s.payload, nextSeq: s.seq + uint32(s.payload), push: s.flags&tcpPSH != 0}
}

// Segments is how many segments the super-frame holds.
func (c *Coalesced) Segments() int { return c.segments }

// First is the first segment's frame.
func (c *Coalesced) First() []byte { return c.first }

// Append adds frame (segment s, of the same flow) to the super-frame if
// it continues it exactly: the next sequence number, the same headers but
// for lengths, IP ID, checksums and PSH, a payload no larger than the
// first segment's (only the last may be shorter), and room left. It
// reports whether frame was taken.
func (c *Coalesced) Append(frame []byte, s TCPSegment) bool {
	if c.short || c.push || s.seq != c.nextSeq || s.payload > c.seg.payload || s.l != c.seg.l {
		return false
	}
	if (c.seg.l.payload-c.seg.l.l3)+c.payload+s.payload > MaxCoalesced {
		return false
	}
	if !sameHeaders(c.first, frame, &c.seg.l) {
		return false
	}
	c.segments++
	c.payload += s.payload
	c.nextSeq += uint32(s.payload)
	c.short = s.payload < c.seg.payload
	c.push = s.flags&tcpPSH != 0
	return true
}

// sameHeaders compares two segments' headers except for the fields that
// differ between consecutive segments of one flow.
func sameHeaders(a, b []byte, l *layout) bool {
	if !bytes.Equal(a[:l.l3], b[:l.l3]) {
		return false
	}
	ipA, ipB := a[l.l3:l.l4], b[l.l3:l.l4]
	if l.v6 {
		// Version, class, flow label; next header, hop limit, addresses.
		if !bytes.Equal(ipA[0:4], ipB[0:4]) || !bytes.Equal(ipA[6:40], ipB[6:40]) {
			return false
		}
	} else if ipA[0] != ipB[0] || ipA[1] != ipB[1] || !bytes.Equal(ipA[6:10], ipB[6:10]) || !bytes.Equal(ipA[12:20], ipB[12:20]) {
		return false // version/IHL, TOS, flags, TTL, protocol, addresses
	}
	tA, tB := a[l.l4:l.payload], b[l.l4:l.payload]
	// Ports; acknowledgment number, data offset; window, urgent pointer,
	// options (timestamps included: Linux GRO also requires them equal).
	return bytes.Equal(tA[0:4], tB[0:4]) && bytes.Equal(tA[8:13], tB[8:13]) &&
		tA[13]&^tcpPSH == tB[13]&^tcpPSH && bytes.Equal(tA[14:16], tB[14:16]) && bytes.Equal(tA[18:], tB[18:])
}

// Finish turns the first segment's headers into the super-frame's and
// returns the virtio-net header to write it with. A single segment is
// left as it was and marked checksum-valid (it was verified); a
// super-frame gets the total lengths, PSH if its last segment had it, a
// partial TCP checksum (the pseudo-header sum, as CHECKSUM_PARTIAL
// expects) and a GSO header with the first segment's size.
func (c *Coalesced) Finish() Header {
	if c.segments == 1 {
		return Header{Flags: FlagDataValid}
	}
	f, l := c.first, &c.seg.l
	ip := f[l.l3:]
	tcpLen := l.payload - l.l4 + c.payload
	var src, dst []byte
	gso := uint8(GSOTCPv4)
	if l.v6 {
		binary.BigEndian.PutUint16(ip[4:6], uint16(tcpLen))
		src, dst = ip[8:24], ip[24:40]
		gso = GSOTCPv6
	} else {
		binary.BigEndian.PutUint16(ip[2:4], uint16(l.l4-l.l3+tcpLen))
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:12], Checksum(ip[:20]))
		src, dst = ip[12:16], ip[16:20]
	}
	tcp := f[l.l4:]
	if c.push {
		tcp[13] |= tcpPSH
	}
	binary.BigEndian.PutUint16(tcp[16:18], Fold(pseudoSum(src, dst, protoTCP, tcpLen)))
	return Header{
		Flags:      FlagNeedsCsum,
		GSOType:    gso,
		HdrLen:     uint16(l.payload),
		GSOSize:    uint16(c.seg.payload),
		CsumStart:  uint16(l.l4),
		CsumOffset: 16,
	}
}
