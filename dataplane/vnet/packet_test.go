package vnet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// maxSeg bounds the segments in these tests: room for 1500-byte IP
// packets behind an Ethernet header and two tags.
const maxSeg = 1522

// gsoFrame is superFrame's frame with its IP length the frame's, as the
// kernel writes a TCP super-frame for a TAP (superFrame leaves an IPv4
// total length 0, which the segmenter must not depend on).
func gsoFrame(s superSpec) []byte {
	f, _ := superFrame(s)
	l, err := parse(f)
	if err != nil {
		panic(err)
	}
	if !l.v6 {
		binary.BigEndian.PutUint16(f[l.l3+2:], uint16(len(f)-l.l3))
	}
	return f
}

// TestPacketGSOHeaderBytes checks the header written for an AF_PACKET
// socket byte by byte against headers worked out by hand from the
// frames' layouts (virtio 1.x struct virtio_net_hdr in the host's byte
// order, here little-endian: flags, gso_type, hdr_len, gso_size,
// csum_start, csum_offset), with and without VLAN tags in the frame and
// one inserted by the caller.
func TestPacketGSOHeaderBytes(t *testing.T) {
	cases := []struct {
		name string
		s    superSpec
		gso  uint8
		mss  uint16
		tag  int
		want []byte
	}{
		// 14 + 20 + 20: the TCP header at 34, the payload at 54.
		{"ipv4", superSpec{payload: 60000, flags: tcpPSH}, GSOTCPv4, 1448, 0,
			[]byte{1, 1, 54, 0, 0xa8, 0x05, 34, 0, 16, 0}},
		// 14 + 4 (a tag inserted) + 20 + 8 options, TCP 20 + 12: TCP at
		// 46, payload at 78.
		{"ipv4 options, tag inserted", superSpec{payload: 9000, ipOpts: 8, tcpOpts: 12}, GSOTCPv4, 1400, 4,
			[]byte{1, 1, 78, 0, 0x78, 0x05, 46, 0, 16, 0}},
		// 14 + 4 (a tag in the frame) + 20, TCP 20: TCP at 38, payload 58.
		{"ipv4 tagged frame", superSpec{payload: 3000, vlans: 1}, GSOTCPv4, 1448, 0,
			[]byte{1, 1, 58, 0, 0xa8, 0x05, 38, 0, 16, 0}},
		// 14 + 40, TCP 20 + 12: TCP at 54, payload at 86; ECN kept.
		{"ipv6 ecn", superSpec{v6: true, payload: 64000, tcpOpts: 12}, GSOTCPv6 | GSOECN, 1428, 0,
			[]byte{1, 0x84, 86, 0, 0x94, 0x05, 54, 0, 16, 0}},
		// 14 + 8 (QinQ in the frame) + 4 (inserted) + 40: TCP at 66,
		// payload at 86.
		{"ipv6 qinq, tag inserted", superSpec{v6: true, payload: 5000, vlans: 2}, GSOTCPv6, 1000, 4,
			[]byte{1, 4, 86, 0, 0xe8, 0x03, 66, 0, 16, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := gsoFrame(c.s)
			l, err := parse(f)
			if err != nil {
				t.Fatal(err)
			}
			orig := bytes.Clone(f)
			// The checksum field as the kernel leaves it for a partial
			// checksum: the pseudo-header sum over the TCP length.
			ip := f[l.l3:l.l4]
			src, dst := ip[12:16], ip[16:20]
			if l.v6 {
				src, dst = ip[8:24], ip[24:40]
			}
			binary.BigEndian.PutUint16(orig[l.l4+16:], Fold(pseudoSum(src, dst, protoTCP, len(f)-l.l4)))
			// What the TAP's header says is not trusted: garbage in
			// the field must not reach the member's kernel.
			binary.BigEndian.PutUint16(f[l.l4+16:], 0xbeef)
			// The TAP's header as the kernel writes it: hdr_len is the
			// skb's linear part, not the headers' length.
			h := Header{Flags: FlagNeedsCsum, GSOType: c.gso, HdrLen: 128, GSOSize: c.mss, CsumStart: uint16(l.l4), CsumOffset: 16}
			ph, err := PacketGSO(h, f, c.tag, 9000)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, HeaderLen)
			ph.Encode(got)
			if !bytes.Equal(got, c.want) {
				t.Errorf("header % x, want % x", got, c.want)
			}
			if !bytes.Equal(f, orig) {
				t.Error("the frame is not the kernel's with the pseudo-header sum over its TCP length in the checksum field")
			}
		})
	}
}

// TestPacketGSORefuses: what the kernel would misread, or what would put
// on the wire a frame larger than the segmenting path does, is refused
// and the frame left as it was, so the worker segments it itself (and
// counts it if the segmenter refuses it too).
func TestPacketGSORefuses(t *testing.T) {
	tcp := gsoFrame(superSpec{payload: 5000})
	tcp6 := gsoFrame(superSpec{v6: true, payload: 5000})
	udp := gsoFrame(superSpec{udp: true, payload: 5000})
	ok := Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, GSOSize: 1448, CsumStart: 34, CsumOffset: 16}
	ok6 := Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv6, GSOSize: 1428, CsumStart: 54, CsumOffset: 16}
	with := func(h Header, f func(*Header)) Header { f(&h); return h }
	// frameWith is a copy of f with the two bytes at i set to v.
	frameWith := func(f []byte, i int, v uint16) []byte {
		f = bytes.Clone(f)
		binary.BigEndian.PutUint16(f[i:], v)
		return f
	}
	for _, c := range []struct {
		name string
		h    Header
		f    []byte
		tag  int
		want error
	}{
		{"udp segmentation", Header{Flags: FlagNeedsCsum, GSOType: GSOUDPL4, GSOSize: 1472, CsumStart: 34, CsumOffset: 6}, udp, 0, ErrGSOType},
		{"ufo", with(ok, func(h *Header) { h.GSOType = GSOUDP }), tcp, 0, ErrGSOType},
		{"no gso", with(ok, func(h *Header) { h.GSOType = GSONone }), tcp, 0, ErrGSOType},
		{"tcpv6 type on ipv4", with(ok, func(h *Header) { h.GSOType = GSOTCPv6 }), tcp, 0, ErrHeaders},
		{"tcpv4 type on ipv6", with(ok, func(h *Header) { h.CsumStart = 54 }), tcp6, 0, ErrHeaders},
		{"checksum not partial", with(ok, func(h *Header) { h.Flags = 0 }), tcp, 0, ErrHeaders},
		{"checksum start elsewhere", with(ok, func(h *Header) { h.CsumStart = 30 }), tcp, 0, ErrHeaders},
		{"checksum offset not the tcp field", with(ok, func(h *Header) { h.CsumOffset = 6 }), tcp, 0, ErrHeaders},
		{"mss zero", with(ok, func(h *Header) { h.GSOSize = 0 }), tcp, 0, ErrGSOSize},
		// 54 bytes of headers + 1469 > 1522: a segment the PMD path
		// would not send either.
		{"mss over the segment bound", with(ok, func(h *Header) { h.GSOSize = 1469 }), tcp, 0, ErrGSOSize},
		{"ipv6 mss over the segment bound", with(ok6, func(h *Header) { h.GSOSize = 1449 }), tcp6, 4, ErrGSOSize},
		{"mss of 64 KB", with(ok, func(h *Header) { h.GSOSize = 0xffff }), tcp, 0, ErrGSOSize},
		{"ipv4 total length short", ok, frameWith(tcp, 16, uint16(len(tcp)-14-1)), 0, ErrLength},
		{"ipv4 total length long", ok, frameWith(tcp, 16, uint16(len(tcp)-14+1)), 0, ErrLength},
		{"ipv4 total length 0", ok, frameWith(tcp, 16, 0), 0, ErrLength},
		{"ipv6 payload length short", ok6, frameWith(tcp6, 18, uint16(len(tcp6)-54-1)), 0, ErrLength},
		{"ipv6 payload length long", ok6, frameWith(tcp6, 18, uint16(len(tcp6)-54+1)), 0, ErrLength},
		{"ipv6 jumbogram length 0", ok6, frameWith(tcp6, 18, 0), 0, ErrLength},
		{"short", ok, tcp[:40], 0, ErrHeaders},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := bytes.Clone(c.f)
			if _, err := PacketGSO(c.h, f, c.tag, maxSeg); !errors.Is(err, c.want) {
				t.Errorf("got %v, want %v", err, c.want)
			}
			if !bytes.Equal(f, c.f) {
				t.Error("a refused frame was changed")
			}
		})
	}
	// The bounds themselves are accepted.
	if _, err := PacketGSO(with(ok, func(h *Header) { h.GSOSize = maxSeg - 54 }), bytes.Clone(tcp), 4, maxSeg); err != nil {
		t.Errorf("the largest GSO size refused: %v", err)
	}
	if _, err := PacketGSO(ok6, bytes.Clone(tcp6), 0, maxSeg); err != nil {
		t.Errorf("ipv6: %v", err)
	}
}

func TestPacketGSOAllocatesNothing(t *testing.T) {
	f := gsoFrame(superSpec{payload: 64000})
	h := Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, GSOSize: 1448, CsumStart: 34, CsumOffset: 16}
	b := make([]byte, HeaderLen)
	if n := testing.AllocsPerRun(100, func() {
		ph, _ := PacketGSO(h, f, 4, maxSeg)
		ph.Encode(b)
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
