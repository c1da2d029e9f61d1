package lacp

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// unhex decodes hexadecimal written with spaces and newlines for layout.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	goldenSrc = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}

	goldenLACPDU = LACPDU{
		Version: 1,
		Actor: PortInfo{
			System:       SystemID{Priority: 0x8000, MAC: [6]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}},
			Key:          0x000d,
			PortPriority: 0x00ff,
			Port:         0x0102,
			State:        StateActivity | StateAggregation | StateSynchronization | StateCollecting | StateDistributing,
		},
		Partner: PortInfo{
			System:       SystemID{Priority: 0x0001, MAC: [6]byte{0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb}},
			Key:          0x1234,
			PortPriority: 0x8000,
			Port:         0x0007,
			State:        StateTimeout | StateDefaulted | StateExpired,
		},
		CollectorMaxDelay: 0x0005,
	}

	// goldenLACPDUHex is goldenLACPDU from goldenSrc, laid out by hand
	// from 802.1AX-2008 clause 5.4.2.
	goldenLACPDUHex = `
		01 80 c2 00 00 02        destination: Slow_Protocols_Multicast
		02 00 00 00 00 01        source
		88 09                    Slow_Protocols_Type
		01 01                    subtype LACP, version 1
		01 14                    Actor Information, length 20
		80 00                    actor system priority
		00 11 22 33 44 55        actor system
		00 0d                    actor key
		00 ff                    actor port priority
		01 02                    actor port
		3d                       actor state
		00 00 00                 reserved
		02 14                    Partner Information, length 20
		00 01                    partner system priority
		66 77 88 99 aa bb        partner system
		12 34                    partner key
		80 00                    partner port priority
		00 07                    partner port
		c2                       partner state
		00 00 00                 reserved
		03 10                    Collector Information, length 16
		00 05                    collector max delay
		00 00 00 00 00 00 00 00 00 00 00 00         reserved (12)
		00 00                    Terminator
		00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
		00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
		                         reserved (50)
	`

	goldenMarker = MarkerPDU{
		RequesterPort:   0x0102,
		RequesterSystem: [6]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55},
		TransactionID:   0xdeadbeef,
	}

	// goldenMarkerHex is goldenMarker from goldenSrc, laid out by hand from
	// 802.1AX-2008 clause 5.5.3.
	goldenMarkerHex = `
		01 80 c2 00 00 02        destination: Slow_Protocols_Multicast
		02 00 00 00 00 01        source
		88 09                    Slow_Protocols_Type
		02 01                    subtype Marker, version 1
		01 10                    Marker Information, length 16
		01 02                    requester port
		00 11 22 33 44 55        requester system
		de ad be ef              requester transaction ID
		00 00                    pad
		00 00                    Terminator
		00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
		00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
		00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
		                         reserved (90)
	`
)

// stripComments keeps only the hexadecimal pairs of a layout: every word of
// two hex digits.
func stripComments(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, w := range strings.Fields(line) {
			if len(w) != 2 {
				break
			}
			if _, err := hex.DecodeString(w); err != nil {
				break
			}
			out = append(out, w)
		}
	}
	return strings.Join(out, " ")
}

func goldenLACPDUFrame(t testing.TB) []byte { return unhex(t, stripComments(goldenLACPDUHex)) }
func goldenMarkerFrame(t testing.TB) []byte { return unhex(t, stripComments(goldenMarkerHex)) }

func TestGoldenLengths(t *testing.T) {
	if FrameLen != 124 || PDULen != 110 {
		t.Errorf("FrameLen %d, PDULen %d, want 124 and 110", FrameLen, PDULen)
	}
	if n := len(goldenLACPDUFrame(t)); n != 124 {
		t.Errorf("golden LACPDU frame is %d octets, want 124", n)
	}
	if n := len(goldenMarkerFrame(t)); n != 124 {
		t.Errorf("golden Marker frame is %d octets, want 124", n)
	}
}

func TestAppendLACPDUGolden(t *testing.T) {
	want := goldenLACPDUFrame(t)
	got := AppendLACPDU(nil, goldenSrc, &goldenLACPDU)
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendLACPDU:\n got %x\nwant %x", got, want)
	}
	// The version field is not sent: version 1 always.
	p := goldenLACPDU
	p.Version = 7
	if got := AppendLACPDU(nil, goldenSrc, &p); !bytes.Equal(got, want) {
		t.Errorf("AppendLACPDU with Version 7:\n got %x\nwant %x", got, want)
	}
}

func TestAppendMarkerGolden(t *testing.T) {
	want := goldenMarkerFrame(t)
	got := AppendMarker(nil, goldenSrc, &goldenMarker)
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendMarker:\n got %x\nwant %x", got, want)
	}
	// A Marker Response differs only in the TLV type.
	want[HeaderLen+2] = 0x02
	r := goldenMarker
	r.Response = true
	if got := AppendMarker(nil, goldenSrc, &r); !bytes.Equal(got, want) {
		t.Errorf("AppendMarker response:\n got %x\nwant %x", got, want)
	}
}

func TestAppendKeepsPrefixAndClearsReused(t *testing.T) {
	prefix := []byte("prefix")
	// Dirty spare capacity must not leak into the reserved octets.
	buf := make([]byte, 0, len(prefix)+FrameLen)
	buf = append(buf, bytes.Repeat([]byte{0xee}, cap(buf))...)[:0]
	buf = append(buf, prefix...)
	got := AppendLACPDU(buf, goldenSrc, &goldenLACPDU)
	if !bytes.Equal(got[:len(prefix)], prefix) {
		t.Errorf("prefix clobbered: %q", got[:len(prefix)])
	}
	if !bytes.Equal(got[len(prefix):], goldenLACPDUFrame(t)) {
		t.Errorf("LACPDU after prefix:\n got %x", got[len(prefix):])
	}
	buf = append(buf[:0], bytes.Repeat([]byte{0xee}, cap(buf))...)[:len(prefix)]
	got = AppendMarker(buf, goldenSrc, &goldenMarker)
	if !bytes.Equal(got[len(prefix):], goldenMarkerFrame(t)) {
		t.Errorf("Marker after prefix:\n got %x", got[len(prefix):])
	}
}

func TestLACPDURoundTrip(t *testing.T) {
	full := PortInfo{
		System:       SystemID{Priority: 0xffff, MAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		Key:          0xffff,
		PortPriority: 0xffff,
		Port:         0xffff,
		State:        0xff,
	}
	tests := []struct {
		name string
		src  [6]byte
		p    LACPDU
	}{
		{"zero", [6]byte{}, LACPDU{Version: 1}},
		{"golden", goldenSrc, goldenLACPDU},
		{"all ones", [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, LACPDU{Version: 1, Actor: full, Partner: full, CollectorMaxDelay: 0xffff}},
		{"defaulted partner", [6]byte{0x02, 0, 0, 0, 0, 9}, LACPDU{
			Version: 1,
			Actor: PortInfo{
				System: SystemID{0x8000, [6]byte{0x02, 0, 0, 0, 0, 9}}, Key: 1, PortPriority: 0x8000, Port: 3,
				State: StateActivity | StateTimeout | StateAggregation | StateDefaulted,
			},
			Partner: PortInfo{State: StateAggregation},
		}},
		{"partner only", [6]byte{0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}, LACPDU{
			Version: 1,
			Partner: PortInfo{System: SystemID{1, [6]byte{1, 2, 3, 4, 5, 6}}, Key: 0x0100, PortPriority: 2, Port: 0x8001, State: StateExpired},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := AppendLACPDU(nil, tt.src, &tt.p)
			if len(frame) != FrameLen {
				t.Fatalf("frame is %d octets, want %d", len(frame), FrameLen)
			}
			if !bytes.Equal(frame[0:6], SlowProtocolsMAC[:]) || !bytes.Equal(frame[6:12], tt.src[:]) {
				t.Errorf("addresses %x", frame[:12])
			}
			st, body, err := Parse(frame)
			if err != nil || st != SubtypeLACP || len(body) != PDULen {
				t.Fatalf("Parse = %d, %d octets, %v", st, len(body), err)
			}
			var got LACPDU
			if err := ParseLACPDU(body, &got); err != nil {
				t.Fatalf("ParseLACPDU: %v", err)
			}
			if got != tt.p {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tt.p)
			}
		})
	}
}

func TestMarkerRoundTrip(t *testing.T) {
	tests := []MarkerPDU{
		{},
		goldenMarker,
		{Response: true, RequesterPort: 0xffff, RequesterSystem: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, TransactionID: 0xffffffff},
		{Response: true, RequesterPort: 1, RequesterSystem: [6]byte{2, 0, 0, 0, 0, 1}, TransactionID: 1},
		{RequesterPort: 0x8000, TransactionID: 0x01020304},
	}
	for _, m := range tests {
		frame := AppendMarker(nil, goldenSrc, &m)
		st, body, err := Parse(frame)
		if err != nil || st != SubtypeMarker || len(body) != PDULen {
			t.Fatalf("Parse(%+v) = %d, %d octets, %v", m, st, len(body), err)
		}
		var got MarkerPDU
		if err := ParseMarker(body, &got); err != nil {
			t.Fatalf("ParseMarker(%+v): %v", m, err)
		}
		if got != m {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, m)
		}
		// Neither parser accepts the other's PDU.
		var p LACPDU
		if err := ParseLACPDU(body, &p); err != ErrSubtype {
			t.Errorf("ParseLACPDU(marker) = %v, want ErrSubtype", err)
		}
	}
}
