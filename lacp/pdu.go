package lacp

// SlowProtocolsMAC is the Slow_Protocols_Multicast group address
// 01-80-C2-00-00-02 (IEEE 802.3 Annex 43B), the destination address of
// every LACPDU and Marker PDU this package encodes.
var SlowProtocolsMAC = [6]byte{0x01, 0x80, 0xc2, 0x00, 0x00, 0x02}

// EtherTypeSlow is the Slow_Protocols_Type EtherType (IEEE 802.3 Annex 43B)
// that carries LACPDUs and Marker PDUs.
const EtherTypeSlow = 0x8809

// Slow Protocols subtypes (IEEE 802.3 Annex 43B) handled by this package:
// the first octet of the frame body.
const (
	// SubtypeLACP marks an LACPDU (802.1AX-2008 clause 5.4.2).
	SubtypeLACP = 1
	// SubtypeMarker marks a Marker or Marker Response PDU (802.1AX-2008
	// clause 5.5.3).
	SubtypeMarker = 2
)

// Frame and PDU sizes.
const (
	// PDULen is the length in octets of the body of both a version 1
	// LACPDU (802.1AX-2008 clause 5.4.2) and a Marker PDU (clause
	// 5.5.3): everything after the Ethernet header, from the subtype
	// octet through the trailing reserved octets, FCS excluded.
	PDULen = 110
	// HeaderLen is the length of the untagged Ethernet header in front of
	// the body: destination, source and EtherType.
	HeaderLen = 14
	// FrameLen is the length of a complete frame built by AppendLACPDU or
	// AppendMarker, FCS excluded.
	FrameLen = HeaderLen + PDULen
)

// TLV types and lengths of the version 1 LACPDU (802.1AX-2008 clause
// 5.4.2) and the Marker PDU (clause 5.5.3).
const (
	tlvTerminator = 0x00

	tlvActor     = 0x01
	tlvPartner   = 0x02
	tlvCollector = 0x03

	tlvMarkerInfo     = 0x01
	tlvMarkerResponse = 0x02

	portInfoLen  = 20
	collectorLen = 16
	markerLen    = 16
)

// State is the Actor_State or Partner_State octet of an LACPDU: eight
// flags, one per bit, defined by 802.1AX-2008 clause 5.4.2 (802.3ad
// 43.4.2).
type State uint8

// State bits, least significant first, as 802.1AX-2008 clause 5.4.2
// numbers them (bit 0 to bit 7).
const (
	// StateActivity is LACP_Activity: set for an Active port, clear for a
	// Passive one.
	StateActivity State = 1 << iota
	// StateTimeout is LACP_Timeout: set for a Short Timeout, clear for a
	// Long Timeout.
	StateTimeout
	// StateAggregation is set when the link is Aggregatable, clear when it
	// is Individual.
	StateAggregation
	// StateSynchronization is set when the link is IN_SYNC: allocated to
	// the right Link Aggregation Group.
	StateSynchronization
	// StateCollecting is set when collection of incoming frames is enabled.
	StateCollecting
	// StateDistributing is set when distribution of outgoing frames is
	// enabled.
	StateDistributing
	// StateDefaulted is set when the Receive machine is using defaulted
	// partner information rather than information from a received LACPDU.
	StateDefaulted
	// StateExpired is set when the Receive machine is in the EXPIRED state.
	StateExpired
)

var stateNames = [8]string{
	"activity",
	"timeout",
	"aggregation",
	"sync",
	"collecting",
	"distributing",
	"defaulted",
	"expired",
}

// Has reports whether every bit of bits is set in s. Has(0) is true.
func (s State) Has(bits State) bool { return s&bits == bits }

// String lists the names of the set bits, least significant first,
// separated by "|", as in "activity|aggregation|sync". The names are
// activity, timeout, aggregation, sync, collecting, distributing, defaulted
// and expired. A zero State is "none", so the result is never empty.
func (s State) String() string {
	if s == 0 {
		return "none"
	}
	var buf [80]byte
	b := buf[:0]
	for i, name := range stateNames {
		if s&(1<<i) == 0 {
			continue
		}
		if len(b) > 0 {
			b = append(b, '|')
		}
		b = append(b, name...)
	}
	return string(b)
}

// SystemID identifies an Aggregation System: a System Priority and a MAC
// address (802.1AX-2008 clause 5.3.2), compared as one 64-bit number with
// the priority in the most significant octets.
type SystemID struct {
	Priority uint16
	MAC      [6]byte
}

const hexDigits = "0123456789abcdef"

// String formats the System ID as the priority in four lower-case
// hexadecimal digits, a comma and the MAC address, as in
// "8000,aa:bb:cc:dd:ee:ff".
func (id SystemID) String() string {
	var buf [22]byte
	b := buf[:0]
	for shift := 12; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[id.Priority>>shift&0xf])
	}
	b = append(b, ',')
	for i, x := range id.MAC {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexDigits[x>>4], hexDigits[x&0xf])
	}
	return string(b)
}

// PortInfo is the content of the Actor Information or Partner Information
// TLV of an LACPDU (802.1AX-2008 clause 5.4.2): one end's System ID,
// operational Key, Port Priority, Port Number and State.
type PortInfo struct {
	System       SystemID
	Key          uint16
	PortPriority uint16
	Port         uint16
	State        State
}

// LACPDU is a decoded Link Aggregation Control PDU (802.1AX-2008 clause
// 5.4.2, 802.3ad 43.4.2).
type LACPDU struct {
	// Version is the received Version_Number. ParseLACPDU accepts any
	// version from 1 up; AppendLACPDU ignores the field and always sends
	// version 1.
	Version uint8
	// Actor is what the sender reports about itself and Partner what it
	// believes about its partner, the receiver.
	Actor, Partner PortInfo
	// CollectorMaxDelay is the sender's CollectorMaxDelay in tens of
	// microseconds; zero when the Collector Information TLV is absent.
	CollectorMaxDelay uint16
}

// MarkerPDU is a decoded Marker PDU or Marker Response PDU (802.1AX-2008
// clause 5.5.3, 802.3ad 43.5.3). A Marker Response echoes the
// Requester fields of the Marker it answers.
type MarkerPDU struct {
	// Response is false for a Marker Information TLV and true for a
	// Marker Response Information TLV.
	Response bool
	// RequesterPort is the Port Number of the port that sent the Marker.
	RequesterPort uint16
	// RequesterSystem is the MAC address part of the System ID of the
	// system that sent the Marker.
	RequesterSystem [6]byte
	// TransactionID is chosen by the requester to match responses to
	// Markers.
	TransactionID uint32
}
