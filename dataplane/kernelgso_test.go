package dataplane

import (
	"testing"

	"github.com/teamgw/teamgw/dataplane/vnet"
)

// TestWireSegmentsMatchTheSegmenter: a super-frame left whole is counted
// as the segments the segmenter cuts it into, packets and bytes.
func TestWireSegmentsMatchTheSegmenter(t *testing.T) {
	for _, c := range []struct{ payload, mss int }{{1, 1448}, {1448, 1448}, {1449, 1448}, {60000, 1448}, {65000, 1000}} {
		f := tcpSuper(c.payload)
		var s vnet.Segmenter
		h := vnet.Header{Flags: vnet.FlagNeedsCsum, GSOType: vnet.GSOTCPv4, GSOSize: uint16(c.mss), CsumStart: 34, CsumOffset: 16}
		if err := s.Reset(h, f, 9000); err != nil {
			t.Fatal(err)
		}
		var segs, bytes uint64
		buf := make([]byte, 9000)
		for n := s.Next(buf); n != 0; n = s.Next(buf) {
			segs++
			bytes += uint64(n)
		}
		if gs, gb := wireSegments(len(f), 54, c.mss); gs != segs || gb != bytes {
			t.Errorf("payload %d, mss %d: %d segments of %d bytes, the segmenter cut %d of %d", c.payload, c.mss, gs, gb, segs, bytes)
		}
	}
}

// tcpSuper is an IPv4 TCP super-frame with payload bytes of payload
// behind 14 + 20 + 20 bytes of headers.
func tcpSuper(payload int) []byte {
	f := make([]byte, 54+payload)
	f[12], f[13] = 0x08, 0x00
	f[14] = 0x45
	n := 40 + payload
	f[16], f[17] = byte(n>>8), byte(n)
	f[22], f[23] = 64, 6
	f[46] = 5 << 4
	return f
}
