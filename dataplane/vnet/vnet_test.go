package vnet

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// refSum is RFC 1071 written the slow, obvious way: 16-bit big-endian
// words, the odd byte padded with zero, end-around carry.
func refSum(b []byte) uint16 {
	var acc uint32
	for i := 0; i+1 < len(b); i += 2 {
		acc += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		acc += uint32(b[len(b)-1]) << 8
	}
	for acc > 0xffff {
		acc = acc&0xffff + acc>>16
	}
	return uint16(acc)
}

// refValid reports whether data (a header or an L4 segment with its
// pseudo-header prepended) checksums to all ones.
func refValid(data ...[]byte) bool {
	var all []byte
	for _, d := range data {
		all = append(all, d...)
	}
	return refSum(all) == 0xffff
}

func TestSumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if got, want := Fold(Sum(b, 0)), refSum(b); got != want {
			t.Fatalf("len %d: Fold(Sum) = %#04x, reference %#04x", n, got, want)
		}
		// Pieces of even length add up to the whole.
		if n >= 2 {
			cut := (r.IntN(n) / 2) * 2
			if got, want := Fold(Sum(b[cut:], Sum(b[:cut], 0))), refSum(b); got != want {
				t.Fatalf("len %d cut %d: %#04x, want %#04x", n, cut, got, want)
			}
		}
	}
	// All ones everywhere: the carries must not be lost.
	b := bytes.Repeat([]byte{0xff}, 65536)
	if got, want := Fold(Sum(b, 0)), refSum(b); got != want {
		t.Fatalf("all ones: %#04x, want %#04x", got, want)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	h := Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv4 | GSOECN, HdrLen: 66, GSOSize: 1448, CsumStart: 34, CsumOffset: 16}
	var b [HeaderLen]byte
	h.Encode(b[:])
	got, err := Decode(b[:])
	if err != nil || got != h {
		t.Fatalf("Decode(Encode(%+v)) = %+v, %v", h, got, err)
	}
	if _, err := Decode(b[:HeaderLen-1]); err == nil {
		t.Fatal("a 9-byte header decoded")
	}
}

// superFrame builds a TCP or UDP frame over IPv4 or IPv6 with payload
// bytes of payload, optionally VLAN tagged, as the kernel hands it over
// for segmentation (L4 checksum field holding the pseudo-header sum).
type superSpec struct {
	v6, udp bool
	vlans   int
	payload int
	ipOpts  int // IPv4 option bytes (multiple of 4)
	tcpOpts int // TCP option bytes (multiple of 4)
	flags   uint8
}

func superFrame(s superSpec) (frame []byte, payload []byte) {
	f := []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2}
	for i := range s.vlans {
		f = append(f, 0x81, 0x00, 0x00, byte(10+i))
	}
	l4len := 20 + s.tcpOpts
	if s.udp {
		l4len = 8
	}
	proto := byte(protoTCP)
	if s.udp {
		proto = protoUDP
	}
	var src, dst []byte
	if s.v6 {
		f = append(f, 0x86, 0xdd)
		ip := make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(l4len+s.payload))
		ip[6], ip[7] = proto, 64
		copy(ip[8:], []byte{0x20, 0x01, 0x0d, 0xb8, 15: 1})
		copy(ip[24:], []byte{0x20, 0x01, 0x0d, 0xb8, 15: 0x10})
		f = append(f, ip...)
		src, dst = ip[8:24], ip[24:40]
	} else {
		f = append(f, 0x08, 0x00)
		ihl := 20 + s.ipOpts
		ip := make([]byte, ihl)
		ip[0] = 0x40 | byte(ihl/4)
		binary.BigEndian.PutUint16(ip[2:], 0) // the kernel may leave it 0 for GSO
		binary.BigEndian.PutUint16(ip[4:], 0xfffe)
		ip[6] = 0x40 // DF
		ip[8], ip[9] = 64, proto
		copy(ip[12:], []byte{192, 0, 2, 1, 192, 0, 2, 10})
		for i := 20; i < ihl; i++ {
			ip[i] = 1 // NOP options
		}
		f = append(f, ip...)
		src, dst = ip[12:16], ip[16:20]
	}
	l4 := make([]byte, l4len)
	binary.BigEndian.PutUint16(l4[0:], 40000)
	binary.BigEndian.PutUint16(l4[2:], 5201)
	if !s.udp {
		binary.BigEndian.PutUint32(l4[4:], 0xfffffff0) // wraps during the frame
		binary.BigEndian.PutUint32(l4[8:], 77)
		l4[12] = byte(l4len/4) << 4
		l4[13] = s.flags
		binary.BigEndian.PutUint16(l4[14:], 502)
		for i := 20; i < l4len; i++ {
			l4[i] = 1
		}
	}
	payload = make([]byte, s.payload)
	for i := range payload {
		payload[i] = byte(i*7 + i>>8)
	}
	f = append(f, l4...)
	f = append(f, payload...)
	// The kernel leaves the pseudo-header sum (without length, for GSO)
	// in the checksum field; the segmenter must not depend on it.
	off := len(f) - len(payload) - l4len
	ps := Fold(pseudoSum(src, dst, proto, 0))
	if s.udp {
		binary.BigEndian.PutUint16(f[off+6:], ps)
	} else {
		binary.BigEndian.PutUint16(f[off+16:], ps)
	}
	return f, payload
}

func TestSegmentTCPAndUDP(t *testing.T) {
	cases := []struct {
		name string
		s    superSpec
		mss  int
	}{
		{"tcp4", superSpec{payload: 64000, flags: 0x18 | tcpFIN | tcpCWR}, 1448},
		{"tcp4 options vlan", superSpec{payload: 10000, ipOpts: 8, tcpOpts: 12, vlans: 1, flags: 0x18}, 1400},
		{"tcp4 qinq", superSpec{payload: 3000, vlans: 2, flags: 0x10}, 1000},
		{"tcp4 exact multiple", superSpec{payload: 4 * 1448, flags: 0x18}, 1448},
		{"tcp4 shorter than mss", superSpec{payload: 100, flags: 0x18}, 1448},
		{"tcp6", superSpec{v6: true, payload: 65000, tcpOpts: 12, flags: 0x18}, 1428},
		{"udp4", superSpec{udp: true, payload: 9000}, 1472},
		{"udp6 vlan", superSpec{v6: true, udp: true, vlans: 1, payload: 5000}, 1452},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, payload := superFrame(c.s)
			gt := uint8(GSOTCPv4)
			switch {
			case c.s.udp:
				gt = GSOUDPL4
			case c.s.v6:
				gt = GSOTCPv6
			}
			l, err := parse(f)
			if err != nil {
				t.Fatal(err)
			}
			h := Header{Flags: FlagNeedsCsum, GSOType: gt, GSOSize: uint16(c.mss), CsumStart: uint16(l.l4), CsumOffset: 16}
			var s Segmenter
			if err := s.Reset(h, f, 9216); err != nil {
				t.Fatal(err)
			}
			want := (len(payload) + c.mss - 1) / c.mss
			if s.Segments() != want {
				t.Fatalf("Segments() = %d, want %d", s.Segments(), want)
			}
			var got []byte
			buf := make([]byte, 9216)
			for i := 0; ; i++ {
				n := s.Next(buf)
				if n == 0 {
					if i != want {
						t.Fatalf("%d segments, want %d", i, want)
					}
					break
				}
				seg := buf[:n]
				checkSegment(t, c.s, l, seg, i, i == want-1, c.mss)
				got = append(got, seg[l.payload:]...)
			}
			if !bytes.Equal(got, payload) {
				t.Fatal("reassembled payload differs from the super-frame's")
			}
		})
	}
}

// checkSegment verifies one segment against the reference computations.
func checkSegment(t *testing.T, s superSpec, l layout, seg []byte, i int, last bool, mss int) {
	t.Helper()
	if pl := len(seg) - l.payload; pl > mss || (!last && pl != mss) {
		t.Fatalf("segment %d carries %d payload bytes (mss %d)", i, pl, mss)
	}
	ip := seg[l.l3:]
	var pseudo []byte
	proto := byte(protoTCP)
	if s.udp {
		proto = protoUDP
	}
	l4 := seg[l.l4:]
	if s.v6 {
		if got := int(binary.BigEndian.Uint16(ip[4:])); got != len(ip)-40 {
			t.Fatalf("segment %d: IPv6 payload length %d, want %d", i, got, len(ip)-40)
		}
		pseudo = append(append(pseudo, ip[8:40]...), 0, 0, byte(len(l4)>>8), byte(len(l4)), 0, 0, 0, proto)
	} else {
		ihl := int(ip[0]&0xf) * 4
		if got := int(binary.BigEndian.Uint16(ip[2:])); got != len(ip) {
			t.Fatalf("segment %d: IPv4 total length %d, want %d", i, got, len(ip))
		}
		if got, want := binary.BigEndian.Uint16(ip[4:]), uint16(0xfffe+i); got != want {
			t.Fatalf("segment %d: IP ID %#x, want %#x", i, got, want)
		}
		if !refValid(ip[:ihl]) {
			t.Fatalf("segment %d: bad IPv4 header checksum", i)
		}
		pseudo = append(append(pseudo, ip[12:20]...), 0, proto, byte(len(l4)>>8), byte(len(l4)))
	}
	if !refValid(pseudo, l4) {
		t.Fatalf("segment %d: bad L4 checksum", i)
	}
	if s.udp {
		if got := int(binary.BigEndian.Uint16(l4[4:])); got != len(l4) {
			t.Fatalf("segment %d: UDP length %d, want %d", i, got, len(l4))
		}
		return
	}
	if got, want := binary.BigEndian.Uint32(l4[4:]), 0xfffffff0+uint32(i*mss); got != want {
		t.Fatalf("segment %d: seq %#x, want %#x", i, got, want)
	}
	fl := l4[13]
	if !last && fl&(tcpFIN|tcpPSH) != 0 {
		t.Fatalf("segment %d of several carries FIN/PSH: %#x", i, fl)
	}
	if last && fl&(tcpFIN|tcpPSH) != s.flags&(tcpFIN|tcpPSH) {
		t.Fatalf("last segment flags %#x, super-frame %#x", fl, s.flags)
	}
	if i > 0 && fl&tcpCWR != 0 {
		t.Fatalf("segment %d repeats CWR", i)
	}
	if i == 0 && fl&tcpCWR != s.flags&tcpCWR {
		t.Fatal("first segment lost CWR")
	}
}

func TestSegmentRefusesWhatDoesNotAddUp(t *testing.T) {
	f, _ := superFrame(superSpec{payload: 5000, flags: 0x18})
	l, _ := parse(f)
	ok := Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, GSOSize: 1448, CsumStart: uint16(l.l4), CsumOffset: 16}
	var s Segmenter
	for _, c := range []struct {
		name string
		h    func(Header) Header
		f    func([]byte) []byte
		max  int
		want error
	}{
		{"v6 type on v4", func(h Header) Header { h.GSOType = GSOTCPv6; return h }, nil, 2048, ErrHeaders},
		{"udp type on tcp", func(h Header) Header { h.GSOType = GSOUDPL4; return h }, nil, 2048, ErrHeaders},
		{"ufo", func(h Header) Header { h.GSOType = GSOUDP; return h }, nil, 2048, ErrGSOType},
		{"zero size", func(h Header) Header { h.GSOSize = 0; return h }, nil, 2048, ErrGSOSize},
		{"size over segment", func(h Header) Header { h.GSOSize = 2000; return h }, nil, 2048, ErrGSOSize},
		{"csum start elsewhere", func(h Header) Header { h.CsumStart++; return h }, nil, 2048, ErrHeaders},
		{"truncated tcp header", nil, func(f []byte) []byte { return f[:l.l4+10] }, 2048, ErrHeaders},
		{"fragment", nil, func(f []byte) []byte { g := bytes.Clone(f); g[l.l3+7] = 1; return g }, 2048, ErrHeaders},
		{"three vlan tags", nil, func([]byte) []byte { g, _ := superFrame(superSpec{payload: 100, vlans: 3}); return g }, 2048, ErrHeaders},
	} {
		h, fr := ok, f
		if c.h != nil {
			h = c.h(h)
		}
		if c.f != nil {
			fr = c.f(f)
		}
		if err := s.Reset(h, fr, c.max); err != c.want {
			t.Errorf("%s: Reset = %v, want %v", c.name, err, c.want)
		}
		if s.Next(make([]byte, 2048)) != 0 {
			t.Errorf("%s: Next after a refused Reset wrote a segment", c.name)
		}
	}
}

func TestCompleteChecksum(t *testing.T) {
	for _, spec := range []superSpec{{payload: 999, flags: 0x18}, {v6: true, udp: true, payload: 300}} {
		f, _ := superFrame(spec)
		l, _ := parse(f)
		// A single frame: the kernel's partial sum includes the length.
		var src, dst []byte
		if spec.v6 {
			src, dst = f[l.l3+8:l.l3+24], f[l.l3+24:l.l3+40]
		} else {
			src, dst = f[l.l3+12:l.l3+16], f[l.l3+16:l.l3+20]
		}
		field := 16
		if spec.udp {
			field = 6
		}
		binary.BigEndian.PutUint16(f[l.l4+field:], Fold(pseudoSum(src, dst, f[l.l3+9-3*b2i(spec.v6)], len(f)-l.l4)))
		h := Header{Flags: FlagNeedsCsum, CsumStart: uint16(l.l4), CsumOffset: uint16(field)}
		if err := CompleteChecksum(h, f); err != nil {
			t.Fatal(err)
		}
		l4 := f[l.l4:]
		proto := byte(protoTCP)
		if spec.udp {
			proto = protoUDP
		}
		pseudo := append(append(bytes.Clone(src), dst...), 0, 0, byte(len(l4)>>8), byte(len(l4)), 0, 0, 0, proto)
		if !refValid(pseudo, l4) {
			t.Fatalf("%+v: checksum not valid after CompleteChecksum", spec)
		}
		h.CsumOffset = uint16(len(f))
		if CompleteChecksum(h, f) != ErrCsumSpan {
			t.Fatal("a checksum field past the frame was accepted")
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestSegmentAllocatesNothing(t *testing.T) {
	f, _ := superFrame(superSpec{payload: 64000, flags: 0x18})
	l, _ := parse(f)
	h := Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, GSOSize: 1448, CsumStart: uint16(l.l4), CsumOffset: 16}
	var s Segmenter
	buf := make([]byte, 2048)
	if a := testing.AllocsPerRun(100, func() {
		s.Reset(h, f, len(buf))
		for s.Next(buf) != 0 {
		}
	}); a != 0 {
		t.Fatalf("%v allocations per super-frame", a)
	}
}

func BenchmarkSegment64K(b *testing.B) {
	f, _ := superFrame(superSpec{payload: 65000, flags: 0x18})
	l, _ := parse(f)
	h := Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, GSOSize: 1448, CsumStart: uint16(l.l4), CsumOffset: 16}
	var s Segmenter
	buf := make([]byte, 2048)
	b.SetBytes(int64(len(f)))
	for b.Loop() {
		s.Reset(h, f, len(buf))
		for s.Next(buf) != 0 {
		}
	}
}

func BenchmarkChecksum1500(b *testing.B) {
	buf := make([]byte, 1500)
	b.SetBytes(1500)
	for b.Loop() {
		Checksum(buf)
	}
}

// segmentAll cuts a super-frame into its wire segments.
func segmentAll(t *testing.T, f []byte, gso uint8, mss int) [][]byte {
	t.Helper()
	l, err := parse(f)
	if err != nil {
		t.Fatal(err)
	}
	var s Segmenter
	if err := s.Reset(Header{Flags: FlagNeedsCsum, GSOType: gso, GSOSize: uint16(mss), CsumStart: uint16(l.l4), CsumOffset: 16}, f, 9216); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	buf := make([]byte, 9216)
	for n := s.Next(buf); n != 0; n = s.Next(buf) {
		out = append(out, bytes.Clone(buf[:n]))
	}
	return out
}

// Segments cut from a super-frame coalesce back into one, and cutting that
// again gives the very same segments: lengths, IDs, sequence numbers,
// flags and checksums, byte for byte.
func TestCoalesceRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		s    superSpec
		gso  uint8
		mss  int
	}{
		{"tcp4", superSpec{payload: 20000, tcpOpts: 12, flags: tcpACK | tcpPSH}, GSOTCPv4, 1448},
		{"tcp4 vlan", superSpec{payload: 5000, vlans: 1, flags: tcpACK}, GSOTCPv4, 1400},
		{"tcp6", superSpec{v6: true, payload: 30000, flags: tcpACK | tcpPSH}, GSOTCPv6, 1428},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, _ := superFrame(c.s)
			segs := segmentAll(t, f, c.gso, c.mss)
			var co Coalesced
			var iov [][]byte
			for i, seg := range segs {
				s, ok := ParseTCPSegment(seg)
				if !ok {
					t.Fatalf("segment %d not coalescable", i)
				}
				if i == 0 {
					co.Start(bytes.Clone(seg), s)
					iov = append(iov, co.First()) // Finish edits it in place
					continue
				}
				if !co.Append(seg, s) {
					t.Fatalf("segment %d not appended", i)
				}
				iov = append(iov, seg[s.HeaderLen():])
			}
			h := co.Finish()
			if h.GSOType != c.gso || int(h.GSOSize) != c.mss || h.Flags != FlagNeedsCsum {
				t.Fatalf("header %+v", h)
			}
			merged := bytes.Join(iov, nil)
			again := segmentAll(t, merged, h.GSOType, int(h.GSOSize))
			if len(again) != len(segs) {
				t.Fatalf("%d segments again, want %d", len(again), len(segs))
			}
			for i := range segs {
				if !bytes.Equal(again[i], segs[i]) {
					t.Fatalf("segment %d differs after coalescing and cutting again:\n% x\n% x", i, again[i][:80], segs[i][:80])
				}
			}
		})
	}
}

func TestCoalesceRefuses(t *testing.T) {
	f, _ := superFrame(superSpec{payload: 6000, tcpOpts: 12, flags: tcpACK})
	segs := segmentAll(t, f, GSOTCPv4, 1000)
	parse := func(b []byte) TCPSegment {
		s, ok := ParseTCPSegment(b)
		if !ok {
			t.Fatal("not coalescable")
		}
		return s
	}
	start := func() *Coalesced {
		var c Coalesced
		c.Start(bytes.Clone(segs[0]), parse(segs[0]))
		return &c
	}
	if start().Append(segs[2], parse(segs[2])) {
		t.Error("a gap in the sequence was coalesced")
	}
	l, _ := ParseTCPSegment(segs[0])
	tsval := bytes.Clone(segs[1])
	tsval[l.l.payload-1] ^= 1 // an option byte (the timestamps)
	fixTCP(tsval, &l.l)
	if start().Append(tsval, parse(tsval)) {
		t.Error("a segment with different TCP options was coalesced")
	}
	port := bytes.Clone(segs[1])
	port[l.l.l4+1] ^= 1
	fixTCP(port, &l.l)
	if start().Append(port, parse(port)) {
		t.Error("a segment of another flow was coalesced")
	}
	bad := bytes.Clone(segs[1])
	bad[len(bad)-1] ^= 0xff
	if _, ok := ParseTCPSegment(bad); ok {
		t.Error("a segment with a bad TCP checksum is coalescable")
	}
	for _, fl := range []uint8{0x02, 0x01, 0x04, 0x20, tcpPSH} { // SYN, FIN, RST, URG, no ACK
		x := bytes.Clone(segs[1])
		x[l.l.l4+13] = fl
		fixTCP(x, &l.l)
		if _, ok := ParseTCPSegment(x); ok {
			t.Errorf("a segment with flags %#x is coalescable", fl)
		}
	}
	// A short segment ends the super-frame; so does PSH.
	a, _ := superFrame(superSpec{payload: 1500, tcpOpts: 12, flags: tcpACK})
	as := segmentAll(t, a, GSOTCPv4, 1000) // 1000 + 500
	b, _ := superFrame(superSpec{payload: 3000, tcpOpts: 12, flags: tcpACK})
	bs := segmentAll(t, b, GSOTCPv4, 500) // bs[3] starts where as[1] ends
	var c Coalesced
	c.Start(bytes.Clone(as[0]), parse(as[0]))
	if !c.Append(as[1], parse(as[1])) {
		t.Fatal("the short last segment was refused")
	}
	if c.Append(bs[3], parse(bs[3])) {
		t.Error("a segment after a short one was coalesced")
	}
	c2 := start()
	psh := bytes.Clone(segs[1])
	psh[l.l.l4+13] |= tcpPSH
	fixTCP(psh, &l.l)
	if !c2.Append(psh, parse(psh)) {
		t.Fatal("a PSH segment was refused")
	}
	if c2.Append(segs[2], parse(segs[2])) {
		t.Error("a segment after PSH was coalesced")
	}
	// A single segment is written as it was, marked verified.
	one := start()
	if h := one.Finish(); h != (Header{Flags: FlagDataValid}) || !bytes.Equal(one.First(), segs[0]) {
		t.Errorf("single segment: header %+v, frame changed %v", h, !bytes.Equal(one.First(), segs[0]))
	}
}

// fixTCP recomputes a test segment's TCP checksum after an edit.
func fixTCP(f []byte, l *layout) {
	tcp := f[l.l4:]
	tcp[16], tcp[17] = 0, 0
	ip := f[l.l3:]
	binary.BigEndian.PutUint16(tcp[16:], ^Fold(Sum(tcp, pseudoSum(ip[12:16], ip[16:20], protoTCP, len(tcp)))))
}

// A segment of the same connection whose TCP header is longer (a SACK
// option) is the same flow, so the caller flushes rather than opening a
// second super-frame for it, but it cannot join the super-frame.
func TestSameFlowAcrossHeaderLengths(t *testing.T) {
	a, _ := superFrame(superSpec{payload: 3000, tcpOpts: 12, flags: tcpACK})
	b, _ := superFrame(superSpec{payload: 3000, tcpOpts: 24, flags: tcpACK})
	sa := segmentAll(t, a, GSOTCPv4, 1000)
	sb := segmentAll(t, b, GSOTCPv4, 1000)
	pa, _ := ParseTCPSegment(sa[0])
	pb, ok := ParseTCPSegment(sb[1])
	if !ok {
		t.Fatal("not coalescable")
	}
	if !SameFlow(sa[0], &pa, sb[1], &pb) {
		t.Fatal("segments of one connection with different TCP header lengths are different flows")
	}
	var c Coalesced
	c.Start(bytes.Clone(sa[0]), pa)
	if c.Append(sb[1], pb) {
		t.Fatal("a segment with a different header length joined the super-frame")
	}
	other := bytes.Clone(sb[1])
	other[pb.l.l4+1] ^= 1 // another destination port
	fixTCP(other, &pb.l)
	po, _ := ParseTCPSegment(other)
	if SameFlow(sa[0], &pa, other, &po) {
		t.Fatal("another connection counts as the same flow")
	}
}
