package lacp

import "testing"

// parseErrors are the only errors the parsers may return.
var parseErrors = []error{
	ErrShort, ErrNotSlow, ErrSubtype, ErrVersion,
	ErrTLVLength, ErrTLVOverrun, ErrNoTerminator, ErrMissingTLV, ErrDuplicateTLV,
}

func knownError(err error) bool {
	for _, e := range parseErrors {
		if err == e {
			return true
		}
	}
	return false
}

func addSeeds(f *testing.F, bodies ...[]byte) {
	for _, b := range bodies {
		f.Add(b)
	}
}

func FuzzParseLACPDU(f *testing.F) {
	g := goldenLACPDUBody(f)
	gp := goldenLACPDU
	addSeeds(f,
		g,
		AppendLACPDU(nil, goldenSrc, &LACPDU{})[HeaderLen:],
		cat(g, []byte("trailer")),
		g[:57],
		mutate(g, func(b []byte) { b[1] = 2 }),
		mutate(g, func(b []byte) { b[3] = 19 }),
		mutate(g, func(b []byte) { b[58], b[59] = 0x0a, 52 }),
		mutate(g, func(b []byte) { b[58], b[59] = 0x0a, 53 }),
		build(1, 2, portTLV(1, 24, gp.Actor), portTLV(2, 20, gp.Partner), collectorTLV(20, 5), rawTLV(0x0a, 8, 1)),
		build(1, 1, portTLV(2, 20, gp.Partner), portTLV(1, 20, gp.Actor)),
		goldenLACPDUFrame(f),
	)
	f.Fuzz(func(t *testing.T, body []byte) {
		// Parse must not panic on any frame either.
		if st, b, err := Parse(body); err == nil && (st == 0 || len(b) != len(body)-HeaderLen) {
			t.Fatalf("Parse = %d, %d octets", st, len(b))
		}
		sentinel := LACPDU{Version: 42, CollectorMaxDelay: 4242}
		p := sentinel
		err := ParseLACPDU(body, &p)
		if err != nil {
			if !knownError(err) {
				t.Fatalf("unexpected error %v", err)
			}
			if p != sentinel {
				t.Fatalf("*p changed on error %v: %+v", err, p)
			}
			return
		}
		if p.Version == 0 {
			t.Fatalf("accepted version 0")
		}
		frame := AppendLACPDU(nil, goldenSrc, &p)
		if len(frame) != FrameLen {
			t.Fatalf("frame is %d octets", len(frame))
		}
		st, b, err := Parse(frame)
		if err != nil || st != SubtypeLACP {
			t.Fatalf("Parse(re-encoded) = %d, %v", st, err)
		}
		var q LACPDU
		if err := ParseLACPDU(b, &q); err != nil {
			t.Fatalf("ParseLACPDU(re-encoded): %v", err)
		}
		// The encoder always sends version 1.
		want := p
		want.Version = 1
		if q != want {
			t.Fatalf("re-encoded:\n got %+v\nwant %+v", q, want)
		}
	})
}

func FuzzParseMarker(f *testing.F) {
	g := goldenMarkerBody(f)
	gm := goldenMarker
	addSeeds(f,
		g,
		mutate(g, func(b []byte) { b[2] = tlvMarkerResponse }),
		cat(g, []byte{0xff}),
		g[:17],
		mutate(g, func(b []byte) { b[1] = 3 }),
		mutate(g, func(b []byte) { b[3] = 15 }),
		mutate(g, func(b []byte) { b[18], b[19] = 0x0a, 92 }),
		build(2, 2, rawTLV(0x0a, 8, 1), markerTLV(2, 24, gm)),
		build(2, 1, markerTLV(1, 16, gm), markerTLV(2, 16, gm)),
		goldenMarkerFrame(f),
	)
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, _, err := Parse(body); err != nil && !knownError(err) {
			t.Fatalf("Parse: unexpected error %v", err)
		}
		sentinel := MarkerPDU{Response: true, RequesterPort: 4242, TransactionID: 42}
		m := sentinel
		err := ParseMarker(body, &m)
		if err != nil {
			if !knownError(err) {
				t.Fatalf("unexpected error %v", err)
			}
			if m != sentinel {
				t.Fatalf("*m changed on error %v: %+v", err, m)
			}
			return
		}
		frame := AppendMarker(nil, goldenSrc, &m)
		st, b, err := Parse(frame)
		if err != nil || st != SubtypeMarker || len(frame) != FrameLen {
			t.Fatalf("Parse(re-encoded) = %d, %v", st, err)
		}
		var q MarkerPDU
		if err := ParseMarker(b, &q); err != nil {
			t.Fatalf("ParseMarker(re-encoded): %v", err)
		}
		if q != m {
			t.Fatalf("re-encoded:\n got %+v\nwant %+v", q, m)
		}
	})
}
