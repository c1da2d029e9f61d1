package lacp

import (
	"errors"
	"testing"
)

func TestStateString(t *testing.T) {
	tests := []struct {
		s    State
		want string
	}{
		{0, "none"},
		{StateActivity, "activity"},
		{StateTimeout, "timeout"},
		{StateExpired, "expired"},
		{StateActivity | StateAggregation | StateSynchronization, "activity|aggregation|sync"},
		{StateCollecting | StateDistributing | StateDefaulted, "collecting|distributing|defaulted"},
		{0x3d, "activity|aggregation|sync|collecting|distributing"},
		{0xff, "activity|timeout|aggregation|sync|collecting|distributing|defaulted|expired"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("State(%#02x).String() = %q, want %q", uint8(tt.s), got, tt.want)
		}
	}
}

func TestStateBits(t *testing.T) {
	want := []State{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80}
	got := []State{StateActivity, StateTimeout, StateAggregation, StateSynchronization,
		StateCollecting, StateDistributing, StateDefaulted, StateExpired}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("state bit %d = %#02x, want %#02x", i, uint8(got[i]), uint8(want[i]))
		}
	}
}

func TestStateHas(t *testing.T) {
	s := StateActivity | StateSynchronization | StateCollecting
	tests := []struct {
		bits State
		want bool
	}{
		{0, true},
		{StateActivity, true},
		{StateActivity | StateSynchronization, true},
		{s, true},
		{StateTimeout, false},
		{StateActivity | StateTimeout, false},
		{0xff, false},
	}
	for _, tt := range tests {
		if got := s.Has(tt.bits); got != tt.want {
			t.Errorf("%v.Has(%v) = %v, want %v", s, tt.bits, got, tt.want)
		}
	}
}

func TestSystemIDString(t *testing.T) {
	tests := []struct {
		id   SystemID
		want string
	}{
		{SystemID{0x8000, [6]byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}}, "8000,aa:bb:cc:dd:ee:ff"},
		{SystemID{}, "0000,00:00:00:00:00:00"},
		{SystemID{0x0a1f, [6]byte{0x02, 0x00, 0x5e, 0x10, 0x0b, 0x01}}, "0a1f,02:00:5e:10:0b:01"},
		{SystemID{0xffff, [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, "ffff,ff:ff:ff:ff:ff:ff"},
	}
	for _, tt := range tests {
		if got := tt.id.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestErrorsIs(t *testing.T) {
	tlvErrs := []error{ErrTLVLength, ErrTLVOverrun, ErrNoTerminator, ErrMissingTLV, ErrDuplicateTLV}
	for _, err := range tlvErrs {
		if !errors.Is(err, ErrTLV) {
			t.Errorf("errors.Is(%v, ErrTLV) = false", err)
		}
		if got, want := errors.Is(err, ErrShort), err == ErrTLVOverrun; got != want {
			t.Errorf("errors.Is(%v, ErrShort) = %v, want %v", err, got, want)
		}
		if errors.Is(err, ErrNotSlow) || errors.Is(err, ErrSubtype) || errors.Is(err, ErrVersion) {
			t.Errorf("%v matches an unrelated error", err)
		}
		for _, other := range tlvErrs {
			if other != err && errors.Is(err, other) {
				t.Errorf("errors.Is(%v, %v) = true", err, other)
			}
		}
	}
	for _, err := range []error{ErrShort, ErrNotSlow, ErrSubtype, ErrVersion} {
		if errors.Is(err, ErrTLV) {
			t.Errorf("errors.Is(%v, ErrTLV) = true", err)
		}
	}
}
