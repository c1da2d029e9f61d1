package vnet

import (
	"bytes"
	"errors"
	"testing"
)

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
			f, _ := superFrame(c.s)
			l, err := parse(f)
			if err != nil {
				t.Fatal(err)
			}
			orig := bytes.Clone(f)
			// The TAP's header as the kernel writes it: hdr_len is the
			// skb's linear part, not the headers' length.
			h := Header{Flags: FlagNeedsCsum, GSOType: c.gso, HdrLen: 128, GSOSize: c.mss, CsumStart: uint16(l.l4), CsumOffset: 16}
			ph, err := PacketGSO(h, f, c.tag)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, HeaderLen)
			ph.Encode(got)
			if !bytes.Equal(got, c.want) {
				t.Errorf("header % x, want % x", got, c.want)
			}
			if !bytes.Equal(f, orig) {
				t.Error("PacketGSO changed the frame")
			}
		})
	}
}

// TestPacketGSORefuses: what the kernel would misread is refused, so the
// worker segments the frame itself.
func TestPacketGSORefuses(t *testing.T) {
	tcp, _ := superFrame(superSpec{payload: 5000})
	tcp6, _ := superFrame(superSpec{v6: true, payload: 5000})
	udp, _ := superFrame(superSpec{udp: true, payload: 5000})
	ok := Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, GSOSize: 1448, CsumStart: 34, CsumOffset: 16}
	with := func(f func(*Header)) Header { h := ok; f(&h); return h }
	for _, c := range []struct {
		name string
		h    Header
		f    []byte
		want error
	}{
		{"udp segmentation", Header{Flags: FlagNeedsCsum, GSOType: GSOUDPL4, GSOSize: 1472, CsumStart: 34, CsumOffset: 6}, udp, ErrGSOType},
		{"ufo", with(func(h *Header) { h.GSOType = GSOUDP }), tcp, ErrGSOType},
		{"no gso", with(func(h *Header) { h.GSOType = GSONone }), tcp, ErrGSOType},
		{"tcpv6 type on ipv4", with(func(h *Header) { h.GSOType = GSOTCPv6 }), tcp, ErrHeaders},
		{"tcpv4 type on ipv6", with(func(h *Header) { h.CsumStart = 54 }), tcp6, ErrHeaders},
		{"checksum not partial", with(func(h *Header) { h.Flags = 0 }), tcp, ErrHeaders},
		{"checksum start elsewhere", with(func(h *Header) { h.CsumStart = 30 }), tcp, ErrHeaders},
		{"checksum offset not the tcp field", with(func(h *Header) { h.CsumOffset = 6 }), tcp, ErrHeaders},
		{"mss zero", with(func(h *Header) { h.GSOSize = 0 }), tcp, ErrGSOSize},
		{"short", ok, tcp[:40], ErrHeaders},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := PacketGSO(c.h, c.f, 0); !errors.Is(err, c.want) {
				t.Errorf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestPacketGSOAllocatesNothing(t *testing.T) {
	f, _ := superFrame(superSpec{payload: 64000})
	h := Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, GSOSize: 1448, CsumStart: 34, CsumOffset: 16}
	b := make([]byte, HeaderLen)
	if n := testing.AllocsPerRun(100, func() {
		ph, _ := PacketGSO(h, f, 4)
		ph.Encode(b)
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
