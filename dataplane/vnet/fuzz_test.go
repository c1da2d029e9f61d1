package vnet

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzSegment feeds arbitrary virtio-net headers and frames to the
// segmenter and the checksum completion: nothing may panic, and whatever
// the segmenter accepts must come out as segments no larger than allowed
// that carry exactly the super-frame's payload, in order, each with valid
// IP and L4 checksums.
func FuzzSegment(f *testing.F) {
	for _, s := range []superSpec{{payload: 3000, flags: 0x18}, {v6: true, payload: 2000, tcpOpts: 12, flags: 0x10}, {udp: true, payload: 1500, vlans: 1}} {
		fr, _ := superFrame(s)
		l, _ := parse(fr)
		gt := uint8(GSOTCPv4)
		switch {
		case s.udp:
			gt = GSOUDPL4
		case s.v6:
			gt = GSOTCPv6
		}
		var h [HeaderLen]byte
		Header{Flags: FlagNeedsCsum, GSOType: gt, GSOSize: 700, CsumStart: uint16(l.l4), CsumOffset: 16}.Encode(h[:])
		f.Add(h[:], fr)
	}
	f.Add(make([]byte, HeaderLen), []byte{})
	f.Fuzz(func(t *testing.T, hb, fr []byte) {
		h, err := Decode(hb)
		if err != nil {
			return
		}
		CompleteChecksum(h, bytes.Clone(fr))
		const maxSeg = 2048
		// A header PacketGSO accepts points inside the frame (with a
		// tag inserted, inside it and the tag), and no segment the
		// kernel cuts by it exceeds maxSeg before the tag.
		for _, tag := range []int{0, 4} {
			if ph, err := PacketGSO(h, bytes.Clone(fr), tag, maxSeg); err == nil {
				if int(ph.HdrLen) > len(fr)+tag || int(ph.CsumStart)+int(ph.CsumOffset)+2 > int(ph.HdrLen) || ph.GSOSize == 0 ||
					int(ph.HdrLen)-tag+int(ph.GSOSize) > maxSeg {
					t.Fatalf("PacketGSO(%+v, %d-byte frame, %d) = %+v", h, len(fr), tag, ph)
				}
			}
		}
		var s Segmenter
		if s.Reset(h, fr, maxSeg) != nil {
			if s.Next(make([]byte, maxSeg)) != 0 {
				t.Fatal("a refused frame produced a segment")
			}
			return
		}
		l := s.l
		var payload []byte
		buf := make([]byte, maxSeg)
		n := 0
		for k := s.Next(buf); k != 0; k = s.Next(buf) {
			if k > maxSeg || k < l.payload {
				t.Fatalf("segment of %d bytes (headers %d, max %d)", k, l.payload, maxSeg)
			}
			seg := buf[:k]
			ip := seg[l.l3:]
			if !l.v6 && !refValid(ip[:l.l4-l.l3]) {
				t.Fatal("bad IPv4 header checksum")
			}
			var pseudo []byte
			l4 := seg[l.l4:]
			if l.v6 {
				pseudo = append(append(pseudo, ip[8:40]...), 0, 0, byte(len(l4)>>8), byte(len(l4)), 0, 0, 0, l.proto)
			} else {
				pseudo = append(append(pseudo, ip[12:20]...), 0, l.proto, byte(len(l4)>>8), byte(len(l4)))
			}
			if !refValid(pseudo, l4) {
				t.Fatal("bad L4 checksum")
			}
			payload = append(payload, seg[l.payload:]...)
			n++
		}
		if n != s.Segments() {
			t.Fatalf("%d segments, Segments() said %d", n, s.Segments())
		}
		if !bytes.Equal(payload, fr[l.payload:]) {
			t.Fatal("segments do not carry the super-frame's payload")
		}
	})
}

// FuzzCoalesce cuts the input into frames (two-byte length prefixes) and
// coalesces what it can: nothing may panic, and a super-frame built from
// several segments must cut back into segments carrying the same payload.
func FuzzCoalesce(f *testing.F) {
	fr, _ := superFrame(superSpec{payload: 4000, tcpOpts: 12, flags: 0x18})
	l, _ := parse(fr)
	var s Segmenter
	s.Reset(Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, GSOSize: 1000, CsumStart: uint16(l.l4), CsumOffset: 16}, fr, 2048)
	var in []byte
	buf := make([]byte, 2048)
	for k := s.Next(buf); k != 0; k = s.Next(buf) {
		in = binary.BigEndian.AppendUint16(in, uint16(k))
		in = append(in, buf[:k]...)
	}
	f.Add(in)
	f.Add([]byte{0, 3, 1, 2, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		var frames [][]byte
		for len(in) >= 2 {
			n := int(binary.BigEndian.Uint16(in))
			in = in[2:]
			if n > len(in) {
				n = len(in)
			}
			frames = append(frames, bytes.Clone(in[:n]))
			in = in[n:]
		}
		var co Coalesced
		var payload []byte
		started := false
		var first TCPSegment
		for _, fr := range frames {
			seg, ok := ParseTCPSegment(fr)
			if !ok {
				continue
			}
			if !started {
				co.Start(fr, seg)
				first, started = seg, true
				payload = append(payload, fr[seg.HeaderLen():]...)
				continue
			}
			if SameFlow(co.First(), &first, fr, &seg) && co.Append(fr, seg) {
				payload = append(payload, fr[seg.HeaderLen():]...)
			}
		}
		if !started {
			return
		}
		h := co.Finish()
		if co.Segments() == 1 {
			return
		}
		merged := append(bytes.Clone(co.First()), payload[first.Payload():]...)
		var s Segmenter
		if err := s.Reset(h, merged, 65535+128); err != nil {
			t.Fatalf("a coalesced super-frame is refused by the segmenter: %v (%+v)", err, h)
		}
		var again []byte
		out := make([]byte, 65535+128)
		for k := s.Next(out); k != 0; k = s.Next(out) {
			again = append(again, out[first.HeaderLen():k]...)
		}
		if !bytes.Equal(again, payload) {
			t.Fatal("the coalesced super-frame does not carry the segments' payload")
		}
	})
}
