package vnet

import "encoding/binary"

// PacketGSO builds the virtio-net header that hands TCP super-frame frame
// (as the TAP delivered it with h, without its virtio-net header) whole to
// the kernel through an AF_PACKET socket with PACKET_VNET_HDR (packet(7)):
// the kernel then carries it as one GSO skb and segments it as late as the
// egress device needs (on a veth: not at all; issue 9). tag is how many
// bytes of 802.1Q tags the caller inserts after the MAC addresses before
// sending (0 or 4 per tag), which moves every offset by as much.
// maxSegment bounds a segment's frame before that tag, as in
// Segmenter.Reset and PrepareTSO, so that no path puts on the wire a
// frame larger than the segmenting path would.
//
// The header values are the TAP's, which the kernel behind it wrote but
// nothing else vouches for, and the kernel we hand the frame to trusts
// them: so the header is built from the frame's own headers, not copied
// from h. The checksum is partial from the TCP header (FlagNeedsCsum,
// CsumStart the TCP header's offset, CsumOffset 16, the field of RFC
// 9293's header), HdrLen covers every header up to the payload, and the
// GSO type (with the ECN bit, which asks the kernel to keep CWR on the
// first segment only) and size come from h, checked against the frame.
// The IP length (IPv4 total length, IPv6 payload length) must be the
// frame's, or the frame is refused (ErrLength): the kernel's GSO derives
// every segment's length from the skb's, so a frame whose headers say
// otherwise is left to the segmenter. PacketGSO rewrites the TCP checksum
// field in place, from the addresses, as the pseudo-header sum over the
// super-frame's TCP length: the form the kernel's own GSO
// (tcp_gso_segment) expects of a partial checksum and adjusts per segment.
// It changes nothing in a frame it refuses.
func PacketGSO(h Header, frame []byte, tag, maxSegment int) (Header, error) {
	l, err := openSuper(h, frame, maxSegment, false)
	if err != nil {
		return Header{}, err
	}
	if h.Flags&FlagNeedsCsum == 0 || h.CsumOffset != 16 {
		return Header{}, ErrHeaders
	}
	if l.payload+tag+int(h.GSOSize) > 0xffff {
		return Header{}, ErrGSOSize
	}
	ip := frame[l.l3:l.l4]
	var src, dst []byte
	if l.v6 {
		if int(binary.BigEndian.Uint16(ip[4:6])) != len(frame)-l.l4 {
			return Header{}, ErrLength
		}
		src, dst = ip[8:24], ip[24:40]
	} else {
		if int(binary.BigEndian.Uint16(ip[2:4])) != len(frame)-l.l3 {
			return Header{}, ErrLength
		}
		src, dst = ip[12:16], ip[16:20]
	}
	binary.BigEndian.PutUint16(frame[l.l4+16:], Fold(pseudoSum(src, dst, protoTCP, len(frame)-l.l4)))
	return Header{
		Flags:      FlagNeedsCsum,
		GSOType:    h.GSOType,
		HdrLen:     uint16(l.payload + tag),
		GSOSize:    h.GSOSize,
		CsumStart:  uint16(l.l4 + tag),
		CsumOffset: 16,
	}, nil
}
