// Package lacp will hold teamgw's IEEE 802.3ad / IEEE 802.1AX-2008 Link
// Aggregation: the Link Aggregation Control Protocol (LACP, 802.1AX-2008
// clause 5.4) and the Marker protocol (clause 5.5).
//
// For now it holds the PDU codecs: the LACPDU (802.1AX-2008 clause 5.4.2,
// formerly IEEE 802.3ad clause 43.4.2) and the Marker and Marker Response
// PDUs (802.1AX-2008 clause 5.5.3, formerly 43.5.3), carried as Slow
// Protocols frames (IEEE 802.3 Annex 43B). The encoders are strict: they
// always emit version 1 PDUs of exactly PDULen octets with every reserved
// field zero. The decoders are tolerant of what peers send: trailing vendor
// octets and padding, newer protocol versions and unknown TLVs are accepted,
// while no length field is trusted before it is checked against the buffer.
// Decoding never allocates, on success or on error.
//
// The per-port state machines (the Receive, Periodic Transmission, Mux and
// Transmit machines of 802.1AX-2008 clauses 5.4.12, 5.4.13, 5.4.15 and
// 5.4.16) and the Selection Logic (clause 5.4.14) are to come. Like the rest of the package they will be
// pure Go: no cgo, no goroutines, and the clock is injected by the caller
// rather than read with time.Now, so every transition is a table test.
package lacp
