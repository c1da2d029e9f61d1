package lacp

import "testing"

func benchPDU() LACPDU {
	return LACPDU{
		Actor: PortInfo{System: SystemID{Priority: 32768, MAC: [6]byte{2, 0x54, 0x47, 0, 0, 1}}, Key: 17, PortPriority: 255, Port: 1,
			State: StateActivity | StateSynchronization | StateCollecting},
		Partner: PortInfo{System: SystemID{Priority: 32768, MAC: [6]byte{2, 0, 0, 0, 0, 9}}, Key: 3, PortPriority: 255, Port: 7,
			State: StateActivity | StateSynchronization},
		CollectorMaxDelay: 5,
	}
}

// BenchmarkLACPDUEncode builds a whole LACPDU frame into a reused buffer.
func BenchmarkLACPDUEncode(b *testing.B) {
	p := benchPDU()
	buf := make([]byte, 0, FrameLen)
	src := [6]byte{2, 0x54, 0x47, 0, 0, 1}
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendLACPDU(buf[:0], src, &p)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
}

// BenchmarkLACPDUDecode classifies a received frame as a slow-protocols
// frame and decodes its LACPDU, as the control plane does for every one.
func BenchmarkLACPDUDecode(b *testing.B) {
	p := benchPDU()
	frame := AppendLACPDU(nil, [6]byte{2, 0, 0, 0, 0, 9}, &p)
	var got LACPDU
	b.ReportAllocs()
	for b.Loop() {
		st, body, err := Parse(frame)
		if err != nil || st != SubtypeLACP {
			b.Fatal(st, err)
		}
		if err := ParseLACPDU(body, &got); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
	if got.Actor != p.Actor {
		b.Fatalf("decoded %+v", got)
	}
}

// BenchmarkMarkerRoundTrip decodes a Marker PDU and encodes its response.
func BenchmarkMarkerRoundTrip(b *testing.B) {
	m := MarkerPDU{RequesterPort: 7, RequesterSystem: [6]byte{2, 0, 0, 0, 0, 9}, TransactionID: 42}
	frame := AppendMarker(nil, [6]byte{2, 0, 0, 0, 0, 9}, &m)
	buf := make([]byte, 0, FrameLen)
	var got MarkerPDU
	b.ReportAllocs()
	for b.Loop() {
		_, body, err := Parse(frame)
		if err != nil {
			b.Fatal(err)
		}
		if err := ParseMarker(body, &got); err != nil {
			b.Fatal(err)
		}
		resp, ok := MarkerResponse(&got)
		if !ok {
			b.Fatal("no response")
		}
		buf = AppendMarker(buf[:0], [6]byte{2, 0x54, 0x47, 0, 0, 1}, &resp)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
}
