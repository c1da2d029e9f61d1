package lacp

import "time"

// MarkerResponse is the Marker Responder (802.1AX-2008 clause 5.5,
// 802.1AX-2014 clause 6.5): the Marker Response PDU that answers m, which
// echoes its Requester_Port, Requester_System and Requester_Transaction_ID.
// It reports false when m is itself a response, which is never answered.
func MarkerResponse(m *MarkerPDU) (MarkerPDU, bool) {
	if m.Response {
		return MarkerPDU{}, false
	}
	r := *m
	r.Response = true
	return r, true
}

// MarkerCounters counts one port's Marker Generator events.
type MarkerCounters struct {
	// MarkersTx counts the Marker PDUs returned by Send.
	MarkersTx uint64
	// ResponsesRx counts the Marker Responses that answered the
	// outstanding marker in time.
	ResponsesRx uint64
	// Timeouts counts the markers given up by Expire.
	Timeouts uint64
	// Unmatched counts the Marker Responses that answered no outstanding
	// marker: late, stale, or meant for another port or system.
	Unmatched uint64
}

// MarkerGenerator is the optional Marker Generator of one aggregation port
// (802.1AX-2008 clause 5.5, 802.1AX-2014 clause 6.5). Before the
// conversations a port carries move to another port, the distributor sends
// a Marker PDU down the port and waits until the partner's Marker
// Responder returns it: every frame sent on the port before the marker has
// then been delivered, so the conversations can move without frames
// overtaking each other. If no response comes (the partner has no
// responder, or the marker was lost), the generator gives up at a
// deadline the caller chooses.
//
// One marker is outstanding at a time; each carries the next transaction
// ID, and only a response that echoes this port's number, this system's
// MAC and the outstanding transaction ID ends it. Like Port, a
// MarkerGenerator does no I/O and reads no clock.
type MarkerGenerator struct {
	port   uint16
	system [6]byte

	next     uint32    // the transaction ID of the next marker
	pending  bool      // a marker is outstanding
	id       uint32    // its transaction ID
	sent     time.Time // when it was sent
	deadline time.Time // when it is given up
	rtt      time.Duration

	counters MarkerCounters
}

// NewMarkerGenerator returns the generator of the port numbered port of
// the system whose System ID has the MAC address system: the
// Requester_Port and Requester_System its markers carry.
func NewMarkerGenerator(port uint16, system [6]byte) *MarkerGenerator {
	return &MarkerGenerator{port: port, system: system, next: 1}
}

// Send starts a marker exchange at now that is given up at now+timeout,
// and returns the Marker PDU to transmit. A marker still outstanding is
// abandoned without being counted as a timeout: its response, should it
// still come, is Unmatched.
func (g *MarkerGenerator) Send(now time.Time, timeout time.Duration) MarkerPDU {
	g.pending = true
	g.id = g.next
	g.next++
	g.sent = now
	g.deadline = now.Add(timeout)
	g.counters.MarkersTx++
	return MarkerPDU{RequesterPort: g.port, RequesterSystem: g.system, TransactionID: g.id}
}

// Receive takes a Marker Response received at now and reports whether it
// ended the outstanding marker exchange. Marker PDUs that are not
// responses are ignored (they are the responder's to answer).
func (g *MarkerGenerator) Receive(r *MarkerPDU, now time.Time) bool {
	if !r.Response {
		return false
	}
	if !g.pending || r.RequesterPort != g.port || r.RequesterSystem != g.system || r.TransactionID != g.id {
		g.counters.Unmatched++
		return false
	}
	g.pending = false
	g.rtt = now.Sub(g.sent)
	g.deadline = time.Time{}
	g.counters.ResponsesRx++
	return true
}

// Expire gives up the outstanding marker if its deadline has passed at
// now, and reports whether it did.
func (g *MarkerGenerator) Expire(now time.Time) bool {
	if !g.pending || now.Before(g.deadline) {
		return false
	}
	g.Cancel()
	g.counters.Timeouts++
	return true
}

// Cancel abandons the outstanding marker, if any, without counting a
// timeout: the caller no longer waits for it.
func (g *MarkerGenerator) Cancel() {
	g.pending = false
	g.deadline = time.Time{}
}

// Pending reports whether a marker is outstanding.
func (g *MarkerGenerator) Pending() bool { return g.pending }

// Deadline returns when the outstanding marker is given up, or the zero
// time when none is outstanding.
func (g *MarkerGenerator) Deadline() time.Time { return g.deadline }

// LastRTT returns the round-trip time of the last marker answered in
// time: from Send to the Receive that matched it. It is zero until one
// has been.
func (g *MarkerGenerator) LastRTT() time.Duration { return g.rtt }

// Counters returns the generator's counters.
func (g *MarkerGenerator) Counters() MarkerCounters { return g.counters }
