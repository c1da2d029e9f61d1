package vnet

import (
	"encoding/binary"
)

// IP protocol numbers.
const (
	protoTCP = 6
	protoUDP = 17
)

// TCP flags the segmenter adjusts (RFC 9293; RFC 3168 for CWR).
const (
	tcpFIN = 0x01
	tcpPSH = 0x08
	tcpCWR = 0x80
)

// MaxVLANTags is how many 802.1Q/802.1ad tags a frame may carry before its
// IP header (more is refused, as in classify).
const MaxVLANTags = 2

// layout is where a frame's headers start, as read from the frame.
type layout struct {
	l3, l4, payload int
	v6              bool
	proto           uint8
}

// l3Offset skips the Ethernet header and up to MaxVLANTags tags.
func l3Offset(f []byte) (int, bool) {
	if len(f) < 14 {
		return 0, false
	}
	off := 14
	et := binary.BigEndian.Uint16(f[12:14])
	for tags := 0; et == 0x8100 || et == 0x88a8; tags++ {
		if tags == MaxVLANTags || len(f) < off+4 {
			return 0, false
		}
		et = binary.BigEndian.Uint16(f[off+2 : off+4])
		off += 4
	}
	if et != 0x0800 && et != 0x86dd {
		return 0, false
	}
	return off, true
}

// parse reads the headers of a TCP or UDP frame over IPv4 or IPv6 (no
// IPv6 extension headers, no IPv4 fragments: the kernel hands neither to
// a TAP for segmentation).
func parse(f []byte) (layout, error) {
	var l layout
	l3, ok := l3Offset(f)
	if !ok || len(f) < l3+20 {
		return l, ErrHeaders
	}
	l.l3 = l3
	switch f[l3] >> 4 {
	case 4:
		ihl := int(f[l3]&0x0f) * 4
		if ihl < 20 || len(f) < l3+ihl {
			return l, ErrHeaders
		}
		if binary.BigEndian.Uint16(f[l3+6:l3+8])&0x3fff != 0 {
			return l, ErrHeaders // a fragment
		}
		l.proto, l.l4 = f[l3+9], l3+ihl
	case 6:
		if len(f) < l3+40 {
			return l, ErrHeaders
		}
		l.v6, l.proto, l.l4 = true, f[l3+6], l3+40
	default:
		return l, ErrHeaders
	}
	switch l.proto {
	case protoTCP:
		if len(f) < l.l4+20 {
			return l, ErrHeaders
		}
		doff := int(f[l.l4+12]>>4) * 4
		if doff < 20 || len(f) < l.l4+doff {
			return l, ErrHeaders
		}
		l.payload = l.l4 + doff
	case protoUDP:
		if len(f) < l.l4+8 {
			return l, ErrHeaders
		}
		l.payload = l.l4 + 8
	default:
		return l, ErrHeaders
	}
	return l, nil
}

// openSuper is the opening PacketGSO, PrepareTSO and Segmenter.Reset
// share: it reads the headers of super-frame frame and checks them
// against h — the GSO type names the frame's protocols (GSOUDPL4 only
// when udp is true), a partial checksum starts at the L4 header, and
// the GSO size is not 0 and leaves every segment (headers plus GSO size
// bytes of payload) at most maxSegment bytes.
func openSuper(h Header, frame []byte, maxSegment int, udp bool) (layout, error) {
	l, err := parse(frame)
	if err != nil {
		return l, err
	}
	switch h.GSOType &^ GSOECN {
	case GSOTCPv4:
		if l.v6 || l.proto != protoTCP {
			return l, ErrHeaders
		}
	case GSOTCPv6:
		if !l.v6 || l.proto != protoTCP {
			return l, ErrHeaders
		}
	case GSOUDPL4:
		if !udp {
			return l, ErrGSOType
		}
		if l.proto != protoUDP {
			return l, ErrHeaders
		}
	default:
		return l, ErrGSOType
	}
	if h.Flags&FlagNeedsCsum != 0 && int(h.CsumStart) != l.l4 {
		return l, ErrHeaders
	}
	if h.GSOSize == 0 || l.payload+int(h.GSOSize) > maxSegment {
		return l, ErrGSOSize
	}
	return l, nil
}

// Segmenter cuts a TCP or UDP super-frame from the kernel into frames of
// at most the GSO size of payload each, the way a NIC does TSO/USO: every
// segment gets the headers of the super-frame with the IP length, the
// IPv4 identification (incremented per segment), the TCP sequence number
// and flags (FIN and PSH only on the last segment, CWR only on the first)
// or the UDP length fixed, and complete IP and L4 checksums.
//
// A Segmenter is reused frame after frame and allocates nothing.
type Segmenter struct {
	frame []byte
	l     layout
	mss   int
	next  int // payload offset of the next segment
	i     int
	done  bool
	seq   uint32
	id    uint16
	flags uint8
}

// Reset prepares frame (without its virtio-net header) to be cut as h
// says. maxSegment is the largest frame a segment may be: a GSO size that
// would exceed it is refused.
func (s *Segmenter) Reset(h Header, frame []byte, maxSegment int) error {
	*s = Segmenter{}
	l, err := openSuper(h, frame, maxSegment, true)
	if err != nil {
		return err
	}
	s.frame, s.l, s.mss, s.next = frame, l, int(h.GSOSize), l.payload
	if l.proto == protoTCP {
		s.seq = binary.BigEndian.Uint32(frame[l.l4+4:])
		s.flags = frame[l.l4+13]
	}
	if !l.v6 {
		s.id = binary.BigEndian.Uint16(frame[l.l3+4:])
	}
	return nil
}

// Done reports whether every segment has been written (or Reset refused
// the frame).
func (s *Segmenter) Done() bool { return s.done || s.frame == nil }

// Segments is how many frames the super-frame is cut into.
func (s *Segmenter) Segments() int {
	n := len(s.frame) - s.l.payload
	if s.frame == nil {
		return 0
	}
	if n <= 0 {
		return 1
	}
	return (n + s.mss - 1) / s.mss
}

// Next writes the next segment into dst and returns its length, or 0 once
// every segment has been written. dst must hold the headers plus the GSO
// size (at most the maxSegment given to Reset).
func (s *Segmenter) Next(dst []byte) int {
	if s.done || s.frame == nil {
		return 0
	}
	f, l := s.frame, &s.l
	end := min(s.next+s.mss, len(f))
	n := l.payload + end - s.next
	copy(dst[:l.payload], f[:l.payload])
	copy(dst[l.payload:n], f[s.next:end])
	last := end == len(f)
	ip := dst[l.l3:n]
	var src, dstIP []byte
	if l.v6 {
		binary.BigEndian.PutUint16(ip[4:6], uint16(len(ip)-40))
		src, dstIP = ip[8:24], ip[24:40]
	} else {
		ihl := l.l4 - l.l3
		binary.BigEndian.PutUint16(ip[2:4], uint16(len(ip)))
		binary.BigEndian.PutUint16(ip[4:6], s.id+uint16(s.i))
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:12], Checksum(ip[:ihl]))
		src, dstIP = ip[12:16], ip[16:20]
	}
	l4 := dst[l.l4:n]
	var csum int
	if l.proto == protoTCP {
		binary.BigEndian.PutUint32(l4[4:8], s.seq+uint32(s.next-l.payload))
		fl := s.flags
		if !last {
			fl &^= tcpFIN | tcpPSH
		}
		if s.i > 0 {
			fl &^= tcpCWR
		}
		l4[13] = fl
		csum = 16
	} else {
		binary.BigEndian.PutUint16(l4[4:6], uint16(len(l4)))
		csum = 6
	}
	l4[csum], l4[csum+1] = 0, 0
	c := ^Fold(Sum(l4, pseudoSum(src, dstIP, l.proto, len(l4))))
	if c == 0 && l.proto == protoUDP {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[csum:], c)
	s.next = end
	s.i++
	s.done = last
	return n
}
