// Package lacp is teamgw's IEEE 802.3ad / IEEE 802.1AX-2008 Link
// Aggregation: the Link Aggregation Control Protocol (LACP, 802.1AX-2008
// clause 5.4) and the Marker protocol (clause 5.5).
//
// It holds the PDU codecs: the LACPDU (802.1AX-2008 clause 5.4.2, formerly
// IEEE 802.3ad clause 43.4.2) and the Marker and Marker Response PDUs
// (802.1AX-2008 clause 5.5.3, formerly 43.5.3), carried as Slow Protocols
// frames (IEEE 802.3 Annex 43B). The encoders are strict: they always emit
// version 1 PDUs of exactly PDULen octets with every reserved field zero.
// The decoders are tolerant of what peers send: trailing vendor octets and
// padding, newer protocol versions and unknown TLVs are accepted, while no
// length field is trusted before it is checked against the buffer.
// Decoding never allocates, on success or on error.
//
// A Port runs the per-port state machines — Receive (5.4.12), Periodic
// Transmission (5.4.13), Mux with coupled control (5.4.15), Transmit with
// its three-PDUs-a-second limit (5.4.16) and Churn Detection (5.4.17) —
// and an Aggregator runs the Selection Logic (5.4.14) for one team.
// MarkerResponse is the Marker Responder and a MarkerGenerator the
// optional Marker Generator of one port (5.5). The package is pure Go: no
// cgo, no goroutines, and the clock is passed in by the caller rather than
// read with time.Now, so every transition is a table test and whole
// negotiations run in simulated time.
package lacp
