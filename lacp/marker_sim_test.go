package lacp

import (
	"testing"
	"time"
)

// simMarkerWire carries encoded Marker PDUs over one simulated link next to
// the LACPDUs the simNet carries: a frame put on the wire in one step
// arrives in the next, unless lose drops the frames towards B.
type simMarkerWire struct {
	toA, toB []byte
	lose     bool
}

// markerExchange sends a marker from gen on system A's side of the wire
// and steps s until the exchange ends, system B answering with
// MarkerResponse as teamgw's control plane does. Both directions go through
// the codecs. It returns the steps taken.
func markerExchange(t *testing.T, s *twoSys, gen *MarkerGenerator, w *simMarkerWire, timeout time.Duration) int {
	t.Helper()
	srcA, srcB := [6]byte{0x02, 0, 0, 0, 0xa1, 0x01}, [6]byte{0x02, 0, 0, 0, 0xb1, 0x01}
	m := gen.Send(s.n.clock.now, timeout)
	if !w.lose {
		w.toB = AppendMarker(nil, srcA, &m)
	}
	steps := 0
	for gen.Pending() && steps < 1000 {
		s.n.stepOnce()
		steps++
		now := s.n.clock.now
		if f := w.toA; f != nil {
			w.toA = nil
			sub, body, err := Parse(f)
			var r MarkerPDU
			if err != nil || sub != SubtypeMarker || ParseMarker(body, &r) != nil {
				t.Fatalf("A received an undecodable marker frame %x", f)
			}
			gen.Receive(&r, now)
		}
		if f := w.toB; f != nil {
			w.toB = nil
			sub, body, err := Parse(f)
			var m MarkerPDU
			if err != nil || sub != SubtypeMarker || ParseMarker(body, &m) != nil {
				t.Fatalf("B received an undecodable marker frame %x", f)
			}
			if r, ok := MarkerResponse(&m); ok {
				w.toA = AppendMarker(nil, srcB, &r)
			}
		}
		gen.Expire(now)
	}
	return steps
}

// TestSimMarkerRequestAndResponse runs a marker exchange on an aggregated
// link: the partner's responder answers in the next step, the generator
// matches the response after one round trip, and the aggregate is not
// disturbed.
func TestSimMarkerRequestAndResponse(t *testing.T) {
	s := newTwoSys(t, 10*time.Millisecond, activeFast, activeFast, 0)
	s.converge(t, 5*time.Second)
	a := s.a[0].Actor()
	gen := NewMarkerGenerator(a.Port, a.System.MAC)
	steps := markerExchange(t, s, gen, &simMarkerWire{}, 150*time.Millisecond)
	if c := gen.Counters(); c != (MarkerCounters{MarkersTx: 1, ResponsesRx: 1}) {
		t.Errorf("counters %+v after %d steps", c, steps)
	}
	if steps != 2 || gen.LastRTT() != 20*time.Millisecond {
		t.Errorf("answered after %d steps, round trip %v; want 2 steps, 20ms", steps, gen.LastRTT())
	}
	if !s.allUp() {
		t.Error("the marker exchange disturbed the aggregate")
	}
}

// TestSimMarkerLostTimesOut loses the marker on the way: the generator
// gives up at its deadline and the aggregate stays up.
func TestSimMarkerLostTimesOut(t *testing.T) {
	s := newTwoSys(t, 10*time.Millisecond, activeFast, activeFast, 0)
	s.converge(t, 5*time.Second)
	a := s.a[1].Actor()
	gen := NewMarkerGenerator(a.Port, a.System.MAC)
	steps := markerExchange(t, s, gen, &simMarkerWire{lose: true}, 150*time.Millisecond)
	if c := gen.Counters(); c != (MarkerCounters{MarkersTx: 1, Timeouts: 1}) {
		t.Errorf("counters %+v", c)
	}
	if steps != 15 {
		t.Errorf("gave up after %d steps of 10ms, want 15", steps)
	}
	if !s.allUp() {
		t.Error("the lost marker disturbed the aggregate")
	}
}
