package lacp

import (
	"bytes"
	"errors"
	"testing"
)

// goldenLACPDUBody is the body of the golden LACPDU frame: a valid version
// 1 LACPDU with the TLVs at their usual offsets (Actor at 2, Partner at 22,
// Collector at 42, Terminator at 58).
func goldenLACPDUBody(t testing.TB) []byte { return goldenLACPDUFrame(t)[HeaderLen:] }

// goldenMarkerBody is the body of the golden Marker frame: the Marker
// Information TLV at 2 and the Terminator at 18.
func goldenMarkerBody(t testing.TB) []byte { return goldenMarkerFrame(t)[HeaderLen:] }

// portTLV encodes pi as an Actor or Partner Information TLV whose length
// octet is n; the TLV is n octets long, zero-filled past the defined
// fields, or cut short when n < 20.
func portTLV(typ uint8, n int, pi PortInfo) []byte {
	t := make([]byte, max(n, portInfoLen))
	putPortInfo(t, typ, &pi)
	t[1] = uint8(n)
	return t[:n]
}

// collectorTLV encodes a Collector Information TLV of length n >= 4.
func collectorTLV(n int, delay uint16) []byte {
	t := make([]byte, n)
	t[0], t[1] = tlvCollector, uint8(n)
	t[2], t[3] = uint8(delay>>8), uint8(delay)
	return t
}

// markerTLV encodes a Marker (typ 1) or Marker Response (typ 2)
// Information TLV of length n >= 16.
func markerTLV(typ uint8, n int, m MarkerPDU) []byte {
	t := make([]byte, n)
	t[0], t[1] = typ, uint8(n)
	t[2], t[3] = uint8(m.RequesterPort>>8), uint8(m.RequesterPort)
	copy(t[4:10], m.RequesterSystem[:])
	id := m.TransactionID
	t[10], t[11], t[12], t[13] = uint8(id>>24), uint8(id>>16), uint8(id>>8), uint8(id)
	return t
}

// rawTLV is a TLV of type typ and length n, its value filled with fill.
func rawTLV(typ uint8, n int, fill byte) []byte {
	t := bytes.Repeat([]byte{fill}, n)
	t[0], t[1] = typ, uint8(n)
	return t
}

// build lays out a PDU body: subtype, version, the TLVs, a Terminator, and
// zeros up to PDULen octets when the body is shorter.
func build(subtype, version uint8, tlvs ...[]byte) []byte {
	b := []byte{subtype, version}
	for _, t := range tlvs {
		b = append(b, t...)
	}
	b = append(b, 0, 0)
	if len(b) < PDULen {
		b = append(b, make([]byte, PDULen-len(b))...)
	}
	return b
}

// mutate returns a copy of b changed by f.
func mutate(b []byte, f func(b []byte)) []byte {
	c := bytes.Clone(b)
	f(c)
	return c
}

// cat concatenates byte slices into a new one.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestParseLACPDUTolerant(t *testing.T) {
	g := goldenLACPDUBody(t)
	gp := goldenLACPDU
	withVersion := func(v uint8) LACPDU { p := gp; p.Version = v; return p }
	withDelay := func(d uint16) LACPDU { p := gp; p.CollectorMaxDelay = d; return p }
	unknown := rawTLV(0x0a, 8, 0x5a)
	tests := []struct {
		name string
		body []byte
		want LACPDU
	}{
		{"golden", g, gp},
		{"trailing vendor octets", cat(g, []byte("vendor specific trailer")), gp},
		{"FCS and extra padding", cat(g, []byte{0xde, 0xad, 0xbe, 0xef}, make([]byte, 40)), gp},
		{"unknown TLV before terminator, longer body",
			build(1, 1, portTLV(1, 20, gp.Actor), portTLV(2, 20, gp.Partner), collectorTLV(16, 5), unknown), gp},
		{"unknown TLV before terminator, 110 octets",
			cat(g[:58], unknown, g[58:PDULen-len(unknown)]), gp},
		{"unknown TLV first", build(1, 1, unknown, portTLV(1, 20, gp.Actor), portTLV(2, 20, gp.Partner), collectorTLV(16, 5)), gp},
		{"unknown empty TLV", build(1, 1, portTLV(1, 20, gp.Actor), rawTLV(0xff, 2, 0), portTLV(2, 20, gp.Partner), collectorTLV(16, 5)), gp},
		{"version 2", mutate(g, func(b []byte) { b[1] = 2 }), withVersion(2)},
		{"version 255", mutate(g, func(b []byte) { b[1] = 255 }), withVersion(255)},
		{"version 2 with longer TLVs and new ones",
			build(1, 2, portTLV(1, 24, gp.Actor), portTLV(2, 40, gp.Partner), collectorTLV(20, 5),
				rawTLV(0x04, 6, 0x11), rawTLV(0x05, 18, 0x22), rawTLV(0x06, 12, 0x33)), withVersion(2)},
		{"version 2 actor TLV of length 255",
			build(1, 2, portTLV(1, 255, gp.Actor), portTLV(2, 20, gp.Partner), collectorTLV(16, 5)), withVersion(2)},
		{"no collector TLV", build(1, 1, portTLV(1, 20, gp.Actor), portTLV(2, 20, gp.Partner)), withDelay(0)},
		{"longer collector TLV", build(1, 1, portTLV(1, 20, gp.Actor), portTLV(2, 20, gp.Partner), collectorTLV(24, 9)), withDelay(9)},
		{"TLVs out of order", build(1, 1, collectorTLV(16, 5), portTLV(2, 20, gp.Partner), portTLV(1, 20, gp.Actor)), gp},
		{"terminator with a length", mutate(g, func(b []byte) { b[59] = 0x33 }), gp},
		{"reserved octets set", mutate(g, func(b []byte) {
			for _, r := range [][2]int{{19, 22}, {39, 42}, {46, 58}, {60, PDULen}} {
				for i := r[0]; i < r[1]; i++ {
					b[i] = 0xa5
				}
			}
		}), gp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got LACPDU
			if err := ParseLACPDU(tt.body, &got); err != nil {
				t.Fatalf("ParseLACPDU(%x): %v", tt.body, err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseLACPDUReject(t *testing.T) {
	g := goldenLACPDUBody(t)
	gp := goldenLACPDU
	set := setter(g)
	tests := []struct {
		name string
		body []byte
		want error
	}{
		{"nil", nil, ErrShort},
		{"one octet short", g[:PDULen-1], ErrShort},
		{"all zero", make([]byte, PDULen), ErrSubtype},
		{"marker subtype", set(0, SubtypeMarker), ErrSubtype},
		{"OAM subtype", set(0, 3), ErrSubtype},
		{"subtype 0", set(0, 0), ErrSubtype},
		{"subtype 255", set(0, 255), ErrSubtype},
		{"version 0", set(1, 0), ErrVersion},
		{"actor length 19", set(3, 19), ErrTLVLength},
		{"actor length 21", set(3, 21), ErrTLVLength},
		{"actor length 255", set(3, 255), ErrTLVOverrun},
		{"version 1 actor length 255 in a long body",
			build(1, 1, portTLV(1, 255, gp.Actor), portTLV(2, 20, gp.Partner), collectorTLV(16, 5)), ErrTLVLength},
		{"partner length 19", set(23, 19), ErrTLVLength},
		{"partner length 24", set(23, 24), ErrTLVLength},
		{"version 2 actor length 18",
			build(1, 2, portTLV(1, 18, gp.Actor), portTLV(2, 20, gp.Partner), collectorTLV(16, 5)), ErrTLVLength},
		{"version 2 partner length 2",
			build(1, 2, portTLV(1, 20, gp.Actor), portTLV(2, 2, gp.Partner), collectorTLV(16, 5)), ErrTLVLength},
		{"collector length 15", set(43, 15), ErrTLVLength},
		{"collector length 2",
			build(1, 1, portTLV(1, 20, gp.Actor), portTLV(2, 20, gp.Partner), []byte{tlvCollector, 2}), ErrTLVLength},
		{"TLV length 0", set(58, 0x0a, 59, 0), ErrTLVLength},
		{"TLV length 1", set(58, 0x0a, 59, 1), ErrTLVLength},
		{"actor TLV length 0", set(3, 0), ErrTLVLength},
		{"TLV runs past the buffer", set(58, 0x0a, 59, 53), ErrTLVOverrun},
		{"TLV runs far past the buffer", set(58, 0x0a, 59, 255), ErrTLVOverrun},
		{"TLV header cut off", set(58, 0x0a, 59, 51), ErrTLVOverrun},
		{"missing terminator", set(58, 0x0a, 59, 52), ErrNoTerminator},
		{"missing actor", set(2, 0x0b), ErrMissingTLV},
		{"missing partner", set(22, 0x0c), ErrMissingTLV},
		{"terminator first", set(2, 0), ErrMissingTLV},
		{"terminator before partner", set(22, 0, 23, 0), ErrMissingTLV},
		{"duplicate actor", set(22, tlvActor), ErrDuplicateTLV},
		{"duplicate partner", set(2, tlvPartner), ErrDuplicateTLV},
		{"duplicate collector",
			build(1, 1, portTLV(1, 20, gp.Actor), portTLV(2, 20, gp.Partner), collectorTLV(16, 5), collectorTLV(16, 6)), ErrDuplicateTLV},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := goldenLACPDU
			p.Version = 99
			before := p
			err := ParseLACPDU(tt.body, &p)
			if err != tt.want {
				t.Fatalf("ParseLACPDU = %v, want %v", err, tt.want)
			}
			if p != before {
				t.Errorf("ParseLACPDU changed *p on error: %+v", p)
			}
		})
	}
	if err := ParseLACPDU(set(58, 0x0a, 59, 53), new(LACPDU)); !errors.Is(err, ErrShort) || !errors.Is(err, ErrTLV) {
		t.Errorf("overrun %v is not both ErrShort and ErrTLV", err)
	}
}

func TestParseLACPDUTruncated(t *testing.T) {
	frame := goldenLACPDUFrame(t)
	for n := 0; n < len(frame); n++ {
		var p LACPDU
		if n >= HeaderLen {
			if err := ParseLACPDU(frame[HeaderLen:n], &p); err != ErrShort {
				t.Errorf("ParseLACPDU of %d-octet body = %v, want ErrShort", n-HeaderLen, err)
			}
		}
		st, body, err := Parse(frame[:n])
		if err == nil {
			err = ParseLACPDU(body, &p)
		}
		if err == nil {
			t.Errorf("%d-octet frame accepted (subtype %d)", n, st)
		}
		if p != (LACPDU{}) {
			t.Errorf("%d-octet frame filled %+v", n, p)
		}
	}
}

func TestParseMarker(t *testing.T) {
	g := goldenMarkerBody(t)
	gm := goldenMarker
	resp := gm
	resp.Response = true
	tests := []struct {
		name string
		body []byte
		want MarkerPDU
	}{
		{"marker", g, gm},
		{"response", mutate(g, func(b []byte) { b[2] = tlvMarkerResponse }), resp},
		{"trailing octets", cat(g, []byte{1, 2, 3, 4, 5, 6, 7}), gm},
		{"version 2", mutate(g, func(b []byte) { b[1] = 2 }), gm},
		{"version 2 longer TLV", build(2, 2, markerTLV(2, 20, gm), rawTLV(0x07, 10, 0x77)), resp},
		{"unknown TLVs around", build(2, 1, rawTLV(0x03, 4, 0x99), markerTLV(1, 16, gm), rawTLV(0x0a, 8, 0x55)), gm},
		{"pad and reserved set", mutate(g, func(b []byte) {
			b[16], b[17] = 0xff, 0xff
			for i := 20; i < PDULen; i++ {
				b[i] = 0x5a
			}
		}), gm},
		{"terminator with a length", mutate(g, func(b []byte) { b[19] = 9 }), gm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got MarkerPDU
			if err := ParseMarker(tt.body, &got); err != nil {
				t.Fatalf("ParseMarker(%x): %v", tt.body, err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseMarkerReject(t *testing.T) {
	g := goldenMarkerBody(t)
	gm := goldenMarker
	set := setter(g)
	tests := []struct {
		name string
		body []byte
		want error
	}{
		{"nil", nil, ErrShort},
		{"one octet short", g[:PDULen-1], ErrShort},
		{"LACP subtype", set(0, SubtypeLACP), ErrSubtype},
		{"subtype 0", set(0, 0), ErrSubtype},
		{"version 0", set(1, 0), ErrVersion},
		{"length 15", set(3, 15), ErrTLVLength},
		{"length 17", set(3, 17), ErrTLVLength},
		{"length 1", set(3, 1), ErrTLVLength},
		{"version 2 length 14", build(2, 2, mutate(markerTLV(1, 16, gm)[:14], func(b []byte) { b[1] = 14 })), ErrTLVLength},
		{"info and response", build(2, 1, markerTLV(1, 16, gm), markerTLV(2, 16, gm)), ErrDuplicateTLV},
		{"two infos", build(2, 1, markerTLV(1, 16, gm), markerTLV(1, 16, gm)), ErrDuplicateTLV},
		{"missing marker TLV", set(2, 0x05), ErrMissingTLV},
		{"terminator first", set(2, 0), ErrMissingTLV},
		{"missing terminator", set(18, 0x0a, 19, 92), ErrNoTerminator},
		{"TLV runs past the buffer", set(18, 0x0a, 19, 93), ErrTLVOverrun},
		{"TLV header cut off", set(18, 0x0a, 19, 91), ErrTLVOverrun},
		{"unknown TLV length 0", set(18, 0x0a, 19, 0), ErrTLVLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := MarkerPDU{Response: true, RequesterPort: 42, TransactionID: 7}
			before := m
			if err := ParseMarker(tt.body, &m); err != tt.want {
				t.Fatalf("ParseMarker = %v, want %v", err, tt.want)
			}
			if m != before {
				t.Errorf("ParseMarker changed *m on error: %+v", m)
			}
		})
	}
	frame := goldenMarkerFrame(t)
	for n := 0; n < len(frame); n++ {
		var m MarkerPDU
		_, body, err := Parse(frame[:n])
		if err == nil {
			err = ParseMarker(body, &m)
		}
		if err == nil {
			t.Errorf("%d-octet marker frame accepted", n)
		}
		if n >= HeaderLen {
			if err := ParseMarker(frame[HeaderLen:n], &m); err != ErrShort {
				t.Errorf("ParseMarker of %d-octet body = %v, want ErrShort", n-HeaderLen, err)
			}
		}
	}
}

func TestParse(t *testing.T) {
	lacp := goldenLACPDUFrame(t)
	marker := goldenMarkerFrame(t)
	set := func(b []byte, kv ...int) []byte {
		return mutate(b, func(b []byte) {
			for i := 0; i < len(kv); i += 2 {
				b[kv[i]] = uint8(kv[i+1])
			}
		})
	}
	tagged := cat(lacp[:12], []byte{0x81, 0x00, 0x00, 0x05}, lacp[12:])
	tests := []struct {
		name    string
		frame   []byte
		subtype uint8
		err     error
	}{
		{"LACPDU", lacp, SubtypeLACP, nil},
		{"Marker", marker, SubtypeMarker, nil},
		{"with FCS", cat(lacp, []byte{1, 2, 3, 4}), SubtypeLACP, nil},
		{"OAM", set(lacp, 14, 3), 3, nil},
		{"OSSP", set(lacp, 14, 10), 10, nil},
		{"unicast destination", set(lacp, 0, 0x02, 5, 0x09), SubtypeLACP, nil},
		{"header and subtype only", lacp[:15], SubtypeLACP, nil},
		{"subtype 0", set(lacp, 14, 0), 0, ErrSubtype},
		{"subtype 11", set(lacp, 14, 11), 0, ErrSubtype},
		{"subtype 255", set(lacp, 14, 255), 0, ErrSubtype},
		{"802.1Q tagged", tagged, 0, ErrNotSlow},
		{"802.1ad tagged", set(tagged, 12, 0x88, 13, 0xa8), 0, ErrNotSlow},
		{"IPv4", set(lacp, 12, 0x08, 13, 0x00), 0, ErrNotSlow},
		{"EtherType 0x0988", set(lacp, 12, 0x09, 13, 0x88), 0, ErrNotSlow},
		{"IPv4 header only", set(lacp[:14], 12, 0x08, 13, 0x00), 0, ErrNotSlow},
		{"header only", lacp[:14], 0, ErrShort},
		{"nil", nil, 0, ErrShort},
	}
	for n := 1; n < HeaderLen; n++ {
		tests = append(tests, struct {
			name    string
			frame   []byte
			subtype uint8
			err     error
		}{"short", lacp[:n], 0, ErrShort})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body, err := Parse(tt.frame)
			if err != tt.err || st != tt.subtype {
				t.Fatalf("Parse(%d octets) = %d, %v; want %d, %v", len(tt.frame), st, err, tt.subtype, tt.err)
			}
			if err != nil {
				if body != nil {
					t.Errorf("body %x on error", body)
				}
				return
			}
			if len(body) != len(tt.frame)-HeaderLen || &body[0] != &tt.frame[HeaderLen] {
				t.Errorf("body does not alias frame[%d:]", HeaderLen)
			}
		})
	}
}

var (
	sinkErr error
	sinkU8  uint8
	sinkB   []byte
)

func TestZeroAllocs(t *testing.T) {
	lacp := goldenLACPDUFrame(t)
	marker := goldenMarkerFrame(t)
	lbody, mbody := lacp[HeaderLen:], marker[HeaderLen:]
	badLACP := mutate(lbody, func(b []byte) { b[3] = 19 })
	overrun := mutate(lbody, func(b []byte) { b[58], b[59] = 0x0a, 53 })
	badMarker := mutate(mbody, func(b []byte) { b[2] = 5 })
	tagged := cat(lacp[:12], []byte{0x81, 0x00, 0x00, 0x05}, lacp[12:])
	var p LACPDU
	var m MarkerPDU
	buf := make([]byte, 0, FrameLen)
	tests := []struct {
		name    string
		f       func()
		wantErr bool
	}{
		{"ParseLACPDU ok", func() { sinkErr = ParseLACPDU(lbody, &p) }, false},
		{"ParseLACPDU bad length", func() { sinkErr = ParseLACPDU(badLACP, &p) }, true},
		{"ParseLACPDU overrun", func() { sinkErr = ParseLACPDU(overrun, &p) }, true},
		{"ParseLACPDU short", func() { sinkErr = ParseLACPDU(lbody[:50], &p) }, true},
		{"ParseMarker ok", func() { sinkErr = ParseMarker(mbody, &m) }, false},
		{"ParseMarker missing", func() { sinkErr = ParseMarker(badMarker, &m) }, true},
		{"ParseMarker subtype", func() { sinkErr = ParseMarker(lbody, &m) }, true},
		{"Parse ok", func() { sinkU8, sinkB, sinkErr = Parse(lacp) }, false},
		{"Parse tagged", func() { sinkU8, sinkB, sinkErr = Parse(tagged) }, true},
		{"Parse short", func() { sinkU8, sinkB, sinkErr = Parse(lacp[:5]) }, true},
		{"AppendLACPDU with room", func() { sinkB = AppendLACPDU(buf[:0], goldenSrc, &goldenLACPDU) }, false},
		{"AppendMarker with room", func() { sinkB = AppendMarker(buf[:0], goldenSrc, &goldenMarker) }, false},
	}
	for _, tt := range tests {
		sinkErr = nil
		if allocs := testing.AllocsPerRun(100, tt.f); allocs != 0 {
			t.Errorf("%s: %v allocations per run, want 0", tt.name, allocs)
		}
		if (sinkErr != nil) != tt.wantErr {
			t.Errorf("%s: error %v, want error %v", tt.name, sinkErr, tt.wantErr)
		}
	}
}

// setter returns a function that copies g with the given offset/value
// pairs applied.
func setter(g []byte) func(kv ...int) []byte {
	return func(kv ...int) []byte {
		return mutate(g, func(b []byte) {
			for i := 0; i < len(kv); i += 2 {
				b[kv[i]] = uint8(kv[i+1])
			}
		})
	}
}
