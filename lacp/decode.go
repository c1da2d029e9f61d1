package lacp

import "encoding/binary"

// Parse classifies a whole Ethernet frame, FCS optional. If the frame is an
// untagged Slow Protocols frame (EtherType EtherTypeSlow, IEEE 802.3 Annex
// 43B) with a legal subtype, Parse returns the subtype (the first body
// octet) and the body after the Ethernet header, which aliases frame.
// Otherwise it returns ErrShort, ErrNotSlow or ErrSubtype. A VLAN-tagged
// frame is ErrNotSlow: Slow Protocols frames are never tagged. Parse does
// not check the destination address; dropping frames not addressed to the
// port is the receive path's job. It accepts every legal Slow Protocols
// subtype, not just SubtypeLACP and SubtypeMarker, so the caller can
// dispatch or drop.
func Parse(frame []byte) (subtype uint8, body []byte, err error) {
	if len(frame) < HeaderLen {
		return 0, nil, ErrShort
	}
	if binary.BigEndian.Uint16(frame[12:14]) != EtherTypeSlow {
		return 0, nil, ErrNotSlow
	}
	if len(frame) == HeaderLen {
		return 0, nil, ErrShort
	}
	st := frame[HeaderLen]
	// Annex 43B: subtype 0 and subtypes 11 to 255 are illegal values.
	if st == 0 || st > 10 {
		return 0, nil, ErrSubtype
	}
	return st, frame[HeaderLen:], nil
}

// tlvWalker steps through the TLVs of a PDU body, trusting no length.
type tlvWalker struct {
	b   []byte
	off int
}

// next returns the next TLV, header included, and its type. At the
// Terminator TLV it returns a nil TLV and a nil error; the Terminator's
// length octet and everything after it are ignored. It fails with
// ErrNoTerminator when the buffer ends at a TLV boundary, ErrTLVOverrun
// when a TLV header or claimed length runs past the buffer and
// ErrTLVLength for a TLV_length below 2 (one that could not even cover its
// own header).
func (w *tlvWalker) next() (typ uint8, tlv []byte, err error) {
	rest := len(w.b) - w.off
	switch {
	case rest <= 0:
		return 0, nil, ErrNoTerminator
	case rest == 1:
		return 0, nil, ErrTLVOverrun
	}
	typ = w.b[w.off]
	if typ == tlvTerminator {
		return typ, nil, nil
	}
	n := int(w.b[w.off+1])
	if n < 2 {
		return 0, nil, ErrTLVLength
	}
	if n > rest {
		return 0, nil, ErrTLVOverrun
	}
	tlv = w.b[w.off : w.off+n]
	w.off += n
	return typ, tlv, nil
}

// knownLen reports whether a known TLV of length n is acceptable when its
// defined length is want: exactly want in a version 1 PDU, at least want in
// a later version, whose TLVs may have grown fields at the end.
// checkHeader checks what both PDUs start with: at least PDULen octets,
// the expected subtype and a version of 1 or more, which it returns.
func checkHeader(body []byte, subtype uint8) (version uint8, err error) {
	switch {
	case len(body) < PDULen:
		return 0, ErrShort
	case body[0] != subtype:
		return 0, ErrSubtype
	case body[1] == 0:
		return 0, ErrVersion
	}
	return body[1], nil
}

func knownLen(n, want int, version uint8) bool {
	if version == 1 {
		return n == want
	}
	return n >= want
}

// getPortInfo reads the first portInfoLen octets of an Actor or Partner
// Information TLV, reserved octets ignored.
func getPortInfo(t []byte, pi *PortInfo) {
	pi.System.Priority = binary.BigEndian.Uint16(t[2:4])
	copy(pi.System.MAC[:], t[4:10])
	pi.Key = binary.BigEndian.Uint16(t[10:12])
	pi.PortPriority = binary.BigEndian.Uint16(t[12:14])
	pi.Port = binary.BigEndian.Uint16(t[14:16])
	pi.State = State(t[16])
}

// ParseLACPDU decodes an LACPDU body (802.1AX-2008 clause 5.4.2, 802.3ad
// 43.4.2): the octets after the Ethernet header, starting at the subtype,
// as returned by Parse. It does not allocate, and on error it leaves *p
// unchanged.
//
// The body must hold at least PDULen octets (ErrShort), subtype
// SubtypeLACP (ErrSubtype) and a version of 1 or more (ErrVersion). The
// TLVs are then walked by type and length up to the Terminator TLV, and
// whatever follows the Terminator (reserved octets, padding, vendor data,
// an FCS) is ignored. The Actor and Partner Information TLVs are required
// (ErrMissingTLV); their length must be exactly 20 in a version 1 PDU and
// at least 20 in a later version, of which the first 20 octets are read
// (ErrTLVLength). The Collector Information TLV is optional, with a length
// of at least 16; when it is absent CollectorMaxDelay is zero. A known TLV
// may appear once (ErrDuplicateTLV) and the order is not checked. Unknown
// TLV types are skipped by their length. A TLV_length below 2 is
// ErrTLVLength, one running past the body is ErrTLVOverrun, and a body
// ending without a Terminator is ErrNoTerminator. Reserved fields are not
// checked.
func ParseLACPDU(body []byte, p *LACPDU) error {
	v, err := checkHeader(body, SubtypeLACP)
	if err != nil {
		return err
	}
	q := LACPDU{Version: v}
	var seen uint8
	w := tlvWalker{b: body, off: 2}
	for {
		typ, t, err := w.next()
		if err != nil {
			return err
		}
		if t == nil {
			break
		}
		switch typ {
		case tlvActor, tlvPartner, tlvCollector:
			bit := uint8(1) << typ
			if seen&bit != 0 {
				return ErrDuplicateTLV
			}
			seen |= bit
		default:
			continue
		}
		switch typ {
		case tlvActor:
			if !knownLen(len(t), portInfoLen, v) {
				return ErrTLVLength
			}
			getPortInfo(t, &q.Actor)
		case tlvPartner:
			if !knownLen(len(t), portInfoLen, v) {
				return ErrTLVLength
			}
			getPortInfo(t, &q.Partner)
		case tlvCollector:
			if len(t) < collectorLen {
				return ErrTLVLength
			}
			q.CollectorMaxDelay = binary.BigEndian.Uint16(t[2:4])
		}
	}
	if seen&(1<<tlvActor|1<<tlvPartner) != 1<<tlvActor|1<<tlvPartner {
		return ErrMissingTLV
	}
	*p = q
	return nil
}

// ParseMarker decodes a Marker PDU or Marker Response PDU body
// (802.1AX-2008 clause 5.5.3, 802.3ad 43.5.3): the octets after the
// Ethernet header, starting at the subtype, as returned by Parse. It does
// not allocate, and on error it leaves *m unchanged.
//
// The body must hold at least PDULen octets (ErrShort), subtype
// SubtypeMarker (ErrSubtype) and a version of 1 or more (ErrVersion). The
// TLVs are walked as in ParseLACPDU: exactly one Marker Information or
// Marker Response Information TLV is required (ErrMissingTLV,
// ErrDuplicateTLV), of length exactly 16 in a version 1 PDU and at least
// 16 in a later version (ErrTLVLength); unknown TLV types are skipped;
// the walk must reach a Terminator TLV, after which everything is ignored.
// The pad and reserved octets are not checked.
func ParseMarker(body []byte, m *MarkerPDU) error {
	v, err := checkHeader(body, SubtypeMarker)
	if err != nil {
		return err
	}
	var q MarkerPDU
	found := false
	w := tlvWalker{b: body, off: 2}
	for {
		typ, t, err := w.next()
		if err != nil {
			return err
		}
		if t == nil {
			break
		}
		if typ != tlvMarkerInfo && typ != tlvMarkerResponse {
			continue
		}
		if found {
			return ErrDuplicateTLV
		}
		found = true
		if !knownLen(len(t), markerLen, v) {
			return ErrTLVLength
		}
		q.Response = typ == tlvMarkerResponse
		q.RequesterPort = binary.BigEndian.Uint16(t[2:4])
		copy(q.RequesterSystem[:], t[4:10])
		q.TransactionID = binary.BigEndian.Uint32(t[10:14])
	}
	if !found {
		return ErrMissingTLV
	}
	*m = q
	return nil
}
