package lacp

import "errors"

// Errors returned by Parse, ParseLACPDU and ParseMarker. They are
// pre-declared values, so returning one never allocates; compare with
// errors.Is. The specific TLV errors (ErrTLVLength, ErrTLVOverrun,
// ErrNoTerminator, ErrMissingTLV, ErrDuplicateTLV) all match ErrTLV, and
// ErrTLVOverrun also matches ErrShort.
var (
	// ErrShort reports a buffer too short for an Ethernet header and a
	// subtype, or a PDU body shorter than PDULen octets.
	ErrShort = errors.New("lacp: frame too short")
	// ErrNotSlow reports a frame whose EtherType is not EtherTypeSlow,
	// including any VLAN-tagged frame: Slow Protocols frames are never
	// tagged (IEEE 802.3 Annex 43B).
	ErrNotSlow = errors.New("lacp: not a slow protocols frame")
	// ErrSubtype reports a Slow Protocols subtype that is illegal (0, or
	// 11 and above, IEEE 802.3 Annex 43B) or, from ParseLACPDU and
	// ParseMarker, not the one expected.
	ErrSubtype = errors.New("lacp: wrong slow protocols subtype")
	// ErrVersion reports a Version_Number of 0; every version from 1 up is
	// accepted.
	ErrVersion = errors.New("lacp: invalid version number")
	// ErrTLV reports a malformed TLV sequence; it is matched by each of
	// the specific TLV errors below.
	ErrTLV = errors.New("lacp: malformed TLV")

	// ErrTLVLength reports a TLV_length below 2, or a known TLV whose
	// length does not fit its type and the PDU version.
	ErrTLVLength error = &tlvError{msg: "lacp: invalid TLV length"}
	// ErrTLVOverrun reports a TLV whose header or claimed length runs past
	// the end of the buffer.
	ErrTLVOverrun error = &tlvError{msg: "lacp: TLV runs past end of PDU", short: true}
	// ErrNoTerminator reports a TLV sequence that ends with the buffer
	// rather than with a Terminator TLV.
	ErrNoTerminator error = &tlvError{msg: "lacp: missing terminator TLV"}
	// ErrMissingTLV reports an LACPDU without an Actor or Partner
	// Information TLV, or a Marker PDU without a Marker or Marker Response
	// Information TLV.
	ErrMissingTLV error = &tlvError{msg: "lacp: required TLV missing"}
	// ErrDuplicateTLV reports a known TLV that appears twice, or a Marker
	// PDU that carries both a Marker and a Marker Response Information TLV.
	ErrDuplicateTLV error = &tlvError{msg: "lacp: duplicate TLV"}
)

// tlvError is the type of the specific TLV errors: each is an ErrTLV, and
// those with short set are also an ErrShort.
type tlvError struct {
	msg   string
	short bool
}

func (e *tlvError) Error() string { return e.msg }

// Is makes errors.Is match the error against ErrTLV and, for an overrun,
// against ErrShort.
func (e *tlvError) Is(target error) bool {
	return target == ErrTLV || e.short && target == ErrShort
}
