package lacp

import "encoding/binary"

// appendHeader grows b by FrameLen zero octets, writes the Ethernet header
// and the subtype and version octets of the body, and returns the grown
// slice and the new frame within it.
func appendHeader(b []byte, src [6]byte, subtype uint8) (out, frame []byte) {
	start := len(b)
	b = append(b, make([]byte, FrameLen)...)
	f := b[start:]
	copy(f[0:6], SlowProtocolsMAC[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:14], EtherTypeSlow)
	f[14] = subtype
	f[15] = 1
	return b, f
}

// putPortInfo writes an Actor or Partner Information TLV of type typ into
// t, which holds at least portInfoLen zero octets.
func putPortInfo(t []byte, typ uint8, pi *PortInfo) {
	t[0] = typ
	t[1] = portInfoLen
	binary.BigEndian.PutUint16(t[2:4], pi.System.Priority)
	copy(t[4:10], pi.System.MAC[:])
	binary.BigEndian.PutUint16(t[10:12], pi.Key)
	binary.BigEndian.PutUint16(t[12:14], pi.PortPriority)
	binary.BigEndian.PutUint16(t[14:16], pi.Port)
	t[16] = uint8(pi.State)
	// t[17:20] is reserved and stays zero.
}

// AppendLACPDU appends to b a complete, untagged LACPDU frame (802.1AX-2008
// clause 5.4.2, 802.3ad 43.4.2) and returns the extended slice. The frame
// is FrameLen octets, FCS excluded: destination SlowProtocolsMAC, source
// src, EtherType EtherTypeSlow, and a PDULen-octet version 1 body holding
// the Actor, Partner and Collector Information TLVs and the Terminator TLV
// in that order. Every reserved octet is zero and p.Version is ignored.
// AppendLACPDU does not allocate when b has room for FrameLen more octets.
func AppendLACPDU(b []byte, src [6]byte, p *LACPDU) []byte {
	b, f := appendHeader(b, src, SubtypeLACP)
	body := f[HeaderLen:]
	putPortInfo(body[2:22], tlvActor, &p.Actor)
	putPortInfo(body[22:42], tlvPartner, &p.Partner)
	body[42] = tlvCollector
	body[43] = collectorLen
	binary.BigEndian.PutUint16(body[44:46], p.CollectorMaxDelay)
	// body[46:58] is reserved, body[58:60] is the Terminator TLV (type 0,
	// length 0) and body[60:110] is reserved: all stay zero.
	return b
}

// AppendMarker appends to b a complete, untagged Marker PDU, or Marker
// Response PDU when m.Response is set (802.1AX-2008 clause 5.5.3, 802.3ad
// 43.5.3), and returns the extended slice. The frame is FrameLen octets,
// FCS excluded: destination SlowProtocolsMAC, source src, EtherType
// EtherTypeSlow, and a PDULen-octet version 1 body holding the Marker (or
// Marker Response) Information TLV and the Terminator TLV. The pad and
// reserved octets are zero. AppendMarker does not allocate when b has room
// for FrameLen more octets.
func AppendMarker(b []byte, src [6]byte, m *MarkerPDU) []byte {
	b, f := appendHeader(b, src, SubtypeMarker)
	body := f[HeaderLen:]
	body[2] = tlvMarkerInfo
	if m.Response {
		body[2] = tlvMarkerResponse
	}
	body[3] = markerLen
	binary.BigEndian.PutUint16(body[4:6], m.RequesterPort)
	copy(body[6:12], m.RequesterSystem[:])
	binary.BigEndian.PutUint32(body[12:16], m.TransactionID)
	// body[16:18] is the pad, body[18:20] the Terminator TLV and
	// body[20:110] reserved: all stay zero.
	return b
}
