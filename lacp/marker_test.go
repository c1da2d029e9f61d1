package lacp

import (
	"testing"
	"time"
)

var (
	markerSys   = [6]byte{0x02, 0, 0, 0, 0, 0x0a}
	markerEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
)

func TestMarkerResponseEchoesRequester(t *testing.T) {
	m := MarkerPDU{RequesterPort: 3, RequesterSystem: markerSys, TransactionID: 0xdeadbeef}
	r, ok := MarkerResponse(&m)
	want := m
	want.Response = true
	if !ok || r != want {
		t.Errorf("MarkerResponse(%+v) = %+v, %v; want %+v, true", m, r, ok, want)
	}
}

func TestMarkerResponseNeverAnswersAResponse(t *testing.T) {
	m := MarkerPDU{Response: true, RequesterPort: 3, RequesterSystem: markerSys, TransactionID: 1}
	if r, ok := MarkerResponse(&m); ok {
		t.Errorf("MarkerResponse answered a response with %+v", r)
	}
}

func TestMarkerGeneratorSendCarriesPortSystemAndNewTransaction(t *testing.T) {
	g := NewMarkerGenerator(2, markerSys)
	m1 := g.Send(markerEpoch, time.Second)
	m2 := g.Send(markerEpoch, time.Second)
	if m1.Response || m1.RequesterPort != 2 || m1.RequesterSystem != markerSys {
		t.Errorf("marker %+v, want a Marker Information PDU from port 2 of %x", m1, markerSys)
	}
	if m1.TransactionID == m2.TransactionID {
		t.Errorf("two markers share transaction ID %d", m1.TransactionID)
	}
	if !g.Pending() || g.Deadline() != markerEpoch.Add(time.Second) || g.Counters().MarkersTx != 2 {
		t.Errorf("pending %v deadline %v counters %+v", g.Pending(), g.Deadline(), g.Counters())
	}
}

func TestMarkerGeneratorMatchingResponseEndsExchange(t *testing.T) {
	g := NewMarkerGenerator(2, markerSys)
	m := g.Send(markerEpoch, 150*time.Millisecond)
	r, _ := MarkerResponse(&m)
	if !g.Receive(&r, markerEpoch.Add(3*time.Millisecond)) {
		t.Fatal("the matching response did not end the exchange")
	}
	if g.Pending() || !g.Deadline().IsZero() {
		t.Errorf("still pending after the response (deadline %v)", g.Deadline())
	}
	if g.LastRTT() != 3*time.Millisecond {
		t.Errorf("round trip %v, want 3ms", g.LastRTT())
	}
	if c := g.Counters(); c != (MarkerCounters{MarkersTx: 1, ResponsesRx: 1}) {
		t.Errorf("counters %+v", c)
	}
	if g.Expire(markerEpoch.Add(time.Second)) {
		t.Error("an answered marker expired")
	}
}

func TestMarkerGeneratorIgnoresResponsesToOtherMarkers(t *testing.T) {
	other := [6]byte{0x02, 0, 0, 0, 0, 0x0b}
	tests := []struct {
		name   string
		mutate func(r *MarkerPDU)
	}{
		{"other port", func(r *MarkerPDU) { r.RequesterPort = 3 }},
		{"other system", func(r *MarkerPDU) { r.RequesterSystem = other }},
		{"other transaction", func(r *MarkerPDU) { r.TransactionID++ }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewMarkerGenerator(2, markerSys)
			m := g.Send(markerEpoch, time.Second)
			r, _ := MarkerResponse(&m)
			tt.mutate(&r)
			if g.Receive(&r, markerEpoch) {
				t.Fatalf("response %+v to marker %+v ended the exchange", r, m)
			}
			if !g.Pending() || g.Counters().Unmatched != 1 || g.Counters().ResponsesRx != 0 {
				t.Errorf("pending %v counters %+v", g.Pending(), g.Counters())
			}
		})
	}
}

func TestMarkerGeneratorIgnoresMarkerInformation(t *testing.T) {
	g := NewMarkerGenerator(2, markerSys)
	m := g.Send(markerEpoch, time.Second)
	if g.Receive(&m, markerEpoch) {
		t.Error("a Marker Information PDU ended the exchange")
	}
	if c := g.Counters(); c.Unmatched != 0 || c.ResponsesRx != 0 {
		t.Errorf("counters %+v: a marker (not a response) was counted", c)
	}
}

func TestMarkerGeneratorExpiresAtDeadline(t *testing.T) {
	g := NewMarkerGenerator(1, markerSys)
	m := g.Send(markerEpoch, 150*time.Millisecond)
	if g.Expire(markerEpoch.Add(149 * time.Millisecond)) {
		t.Fatal("expired before the deadline")
	}
	if !g.Expire(markerEpoch.Add(150 * time.Millisecond)) {
		t.Fatal("not expired at the deadline")
	}
	if g.Pending() || g.Expire(markerEpoch.Add(time.Second)) {
		t.Error("an expired marker is still pending")
	}
	r, _ := MarkerResponse(&m)
	if g.Receive(&r, markerEpoch.Add(200*time.Millisecond)) {
		t.Error("a late response ended an exchange already given up")
	}
	if c := g.Counters(); c != (MarkerCounters{MarkersTx: 1, Timeouts: 1, Unmatched: 1}) {
		t.Errorf("counters %+v", c)
	}
	if g.LastRTT() != 0 {
		t.Errorf("round trip %v from a marker never answered in time", g.LastRTT())
	}
}

func TestMarkerGeneratorSendAbandonsOutstandingMarker(t *testing.T) {
	g := NewMarkerGenerator(1, markerSys)
	old := g.Send(markerEpoch, time.Second)
	g.Send(markerEpoch.Add(10*time.Millisecond), time.Second)
	r, _ := MarkerResponse(&old)
	if g.Receive(&r, markerEpoch.Add(20*time.Millisecond)) {
		t.Error("the response to an abandoned marker ended the new exchange")
	}
	if c := g.Counters(); c.Timeouts != 0 || c.Unmatched != 1 || !g.Pending() {
		t.Errorf("pending %v counters %+v", g.Pending(), c)
	}
}

func TestMarkerGeneratorCancelDoesNotCountTimeout(t *testing.T) {
	g := NewMarkerGenerator(1, markerSys)
	g.Send(markerEpoch, time.Second)
	g.Cancel()
	if g.Pending() || g.Expire(markerEpoch.Add(time.Hour)) || g.Counters().Timeouts != 0 {
		t.Errorf("after Cancel: pending %v counters %+v", g.Pending(), g.Counters())
	}
}
