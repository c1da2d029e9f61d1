// Package vnet handles what the kernel's TAP device exchanges with teamgw
// when it is opened with virtio-net headers (IFF_VNET_HDR): the header
// codec, Internet checksums, software segmentation of TCP (TSO) and UDP
// (USO) super-frames into wire-sized frames, and coalescing of wire frames
// into TCP super-frames for the kernel (GRO). Issue 9: the kernel hands
// the team whole 64 KB segments and teamgw segments them as late as
// possible, after the flow has picked its member.
//
// Nothing here trusts the header or the frame: lengths and offsets are
// checked against the frame itself, and anything that does not add up is
// an error for the caller to count and drop.
package vnet

import (
	"encoding/binary"
	"errors"
)

// HeaderLen is the size of struct virtio_net_hdr (virtio 1.x, section
// 5.1.6), the header the TAP prepends to every frame.
const HeaderLen = 10

// Header flags (virtio_net_hdr.flags).
const (
	// FlagNeedsCsum: the L4 checksum is partial; the sum from CsumStart
	// to the end must be folded into the field at CsumStart+CsumOffset.
	FlagNeedsCsum = 1
	// FlagDataValid: the receiver may trust the frame's checksums.
	FlagDataValid = 2
)

// GSO types (virtio_net_hdr.gso_type).
const (
	GSONone  = 0
	GSOTCPv4 = 1
	GSOUDP   = 3 // UFO, IP fragmentation: never offered, always refused
	GSOTCPv6 = 4
	GSOUDPL4 = 5    // USO: UDP segmentation (Linux 6.2+)
	GSOECN   = 0x80 // the TCP super-frame has CWR set (TSO with ECN)
)

// Header is a decoded virtio-net header.
type Header struct {
	Flags      uint8
	GSOType    uint8
	HdrLen     uint16 // the kernel's idea of the headers' length; a hint only
	GSOSize    uint16 // payload bytes per segment
	CsumStart  uint16
	CsumOffset uint16
}

// The TAP exchanges the header in the host's byte order (no TUNSETVNETLE
// or TUNSETVNETBE call is made).
var hostOrder = binary.NativeEndian

// Decode reads a header from the first HeaderLen bytes of b.
func Decode(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, errShort
	}
	return Header{
		Flags:      b[0],
		GSOType:    b[1],
		HdrLen:     hostOrder.Uint16(b[2:4]),
		GSOSize:    hostOrder.Uint16(b[4:6]),
		CsumStart:  hostOrder.Uint16(b[6:8]),
		CsumOffset: hostOrder.Uint16(b[8:10]),
	}, nil
}

// Encode writes h into the first HeaderLen bytes of b.
func (h Header) Encode(b []byte) {
	_ = b[HeaderLen-1]
	b[0], b[1] = h.Flags, h.GSOType
	hostOrder.PutUint16(b[2:4], h.HdrLen)
	hostOrder.PutUint16(b[4:6], h.GSOSize)
	hostOrder.PutUint16(b[6:8], h.CsumStart)
	hostOrder.PutUint16(b[8:10], h.CsumOffset)
}

// Errors, one per reason a frame from the kernel is refused.
var (
	errShort    = errors.New("vnet: frame shorter than its headers")
	ErrGSOType  = errors.New("vnet: unsupported GSO type")
	ErrHeaders  = errors.New("vnet: frame headers do not match the GSO type")
	ErrCsumSpan = errors.New("vnet: checksum start or offset outside the frame")
	ErrGSOSize  = errors.New("vnet: GSO size 0 or larger than a segment may be")
	ErrLength   = errors.New("vnet: IP length does not match the frame")
)

// ErrShort reports a frame too short for the headers it claims.
var ErrShort = errShort

// CompleteChecksum finishes a partial checksum in place (FlagNeedsCsum,
// no GSO): the field at CsumStart+CsumOffset already holds the pseudo-
// header sum, as the kernel leaves it (CHECKSUM_PARTIAL), so the folded
// sum from CsumStart to the end, complemented, is the checksum.
func CompleteChecksum(h Header, frame []byte) error {
	start, field := int(h.CsumStart), int(h.CsumStart)+int(h.CsumOffset)
	if start >= len(frame) || field+2 > len(frame) {
		return ErrCsumSpan
	}
	s := ^Fold(Sum(frame[start:], 0))
	if s == 0 && isUDPAt(frame, start) {
		s = 0xffff // UDP sends a computed zero as all ones (RFC 768)
	}
	binary.BigEndian.PutUint16(frame[field:], s)
	return nil
}

// isUDPAt reports whether the IP header that ends at l4 carries UDP.
func isUDPAt(frame []byte, l4 int) bool {
	l, err := parse(frame)
	return err == nil && l.l4 == l4 && l.proto == protoUDP
}
