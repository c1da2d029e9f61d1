package vnet

// PacketGSO builds the virtio-net header that hands TCP super-frame frame
// (as the TAP delivered it with h, without its virtio-net header) whole to
// the kernel through an AF_PACKET socket with PACKET_VNET_HDR (packet(7)):
// the kernel then carries it as one GSO skb and segments it as late as the
// egress device needs (on a veth: not at all; issue 9). tag is how many
// bytes of 802.1Q tags the caller inserts after the MAC addresses before
// sending (0 or 4 per tag), which moves every offset by as much.
//
// The header is built from the frame's own headers, not copied from h: the
// checksum is partial from the TCP header (FlagNeedsCsum, CsumStart the TCP
// header's offset, CsumOffset 16, the field of RFC 9293's header), HdrLen
// covers every header up to the payload, and the GSO type (with the ECN
// bit, which asks the kernel to keep CWR on the first segment only) and
// size come from h, checked against the frame. The checksum field itself
// is left as the kernel wrote it: the pseudo-header sum over the
// super-frame's length, the form the kernel's own GSO (tcp_gso_segment)
// expects and adjusts per segment.
func PacketGSO(h Header, frame []byte, tag int) (Header, error) {
	l, err := parse(frame)
	if err != nil {
		return Header{}, err
	}
	switch h.GSOType &^ GSOECN {
	case GSOTCPv4:
		if l.v6 || l.proto != protoTCP {
			return Header{}, ErrHeaders
		}
	case GSOTCPv6:
		if !l.v6 || l.proto != protoTCP {
			return Header{}, ErrHeaders
		}
	default:
		return Header{}, ErrGSOType
	}
	if h.Flags&FlagNeedsCsum == 0 || int(h.CsumStart) != l.l4 || h.CsumOffset != 16 {
		return Header{}, ErrHeaders
	}
	if h.GSOSize == 0 || l.payload+tag+int(h.GSOSize) > 0xffff {
		return Header{}, ErrGSOSize
	}
	return Header{
		Flags:      FlagNeedsCsum,
		GSOType:    h.GSOType,
		HdrLen:     uint16(l.payload + tag),
		GSOSize:    h.GSOSize,
		CsumStart:  uint16(l.l4 + tag),
		CsumOffset: 16,
	}, nil
}
