package vnet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// deviceTSO cuts a frame prepared by PrepareTSO as a NIC does: each
// segment gets the headers with its IP length, IPv4 ID and checksum, TCP
// sequence number and flags, and a TCP checksum from the pseudo-header
// sum left in the field plus the segment's length.
func deviceTSO(f []byte, o Offload) [][]byte {
	hdr := o.L2 + o.L3 + o.L4
	seq := binary.BigEndian.Uint32(f[o.L2+o.L3+4:])
	var out [][]byte
	for i, off := 0, hdr; off < len(f); i, off = i+1, off+o.MSS {
		end := min(off+o.MSS, len(f))
		s := append(bytes.Clone(f[:hdr]), f[off:end]...)
		ip, tcp := s[o.L2:], s[o.L2+o.L3:]
		if o.V6 {
			binary.BigEndian.PutUint16(ip[4:], uint16(len(s)-o.L2-40))
		} else {
			binary.BigEndian.PutUint16(ip[2:], uint16(len(s)-o.L2))
			binary.BigEndian.PutUint16(ip[4:], binary.BigEndian.Uint16(ip[4:])+uint16(i))
			binary.BigEndian.PutUint16(ip[10:], Checksum(ip[:o.L3]))
		}
		binary.BigEndian.PutUint32(tcp[4:], seq+uint32(off-hdr))
		if end < len(f) {
			tcp[13] &^= tcpFIN | tcpPSH
		}
		if i > 0 {
			tcp[13] &^= tcpCWR
		}
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(tcp)))
		binary.BigEndian.PutUint16(tcp[16:], ^Fold(Sum(tcp, Sum(l[:], 0))))
		out = append(out, s)
	}
	return out
}

// A frame prepared for a device's TSO and cut by that device gives the
// very segments the software segmenter makes, byte for byte.
func TestPrepareTSOMatchesSoftwareSegments(t *testing.T) {
	for _, c := range []struct {
		name string
		s    superSpec
		gso  uint8
	}{
		{"ipv4", superSpec{payload: 60000, flags: tcpPSH | tcpFIN | tcpCWR}, GSOTCPv4},
		{"ipv4 options vlan", superSpec{payload: 9000, ipOpts: 8, tcpOpts: 12, vlans: 1}, GSOTCPv4},
		{"ipv6", superSpec{v6: true, payload: 64000, tcpOpts: 12, flags: tcpPSH}, GSOTCPv6},
		{"ipv6 qinq", superSpec{v6: true, payload: 3000, vlans: 2}, GSOTCPv6 | GSOECN},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, _ := superFrame(c.s)
			want := segmentAll(t, f, c.gso, 1448)
			l, _ := parse(f)
			h := Header{Flags: FlagNeedsCsum, GSOType: c.gso, GSOSize: 1448, CsumStart: uint16(l.l4), CsumOffset: 16}
			// Whatever the kernel left in the checksum fields (here the
			// sum with the super-frame's length) must not matter.
			binary.BigEndian.PutUint16(f[l.l4+16:], 0x1234)
			if !c.s.v6 {
				binary.BigEndian.PutUint16(f[l.l3+10:], 0x5678)
			}
			o, err := PrepareTSO(h, f, 9216)
			if err != nil {
				t.Fatal(err)
			}
			if o.L2 != l.l3 || o.L2+o.L3 != l.l4 || o.L2+o.L3+o.L4 != l.payload || o.MSS != 1448 || o.V6 != c.s.v6 {
				t.Fatalf("offload %+v for layout %+v", o, l)
			}
			got := deviceTSO(f, o)
			if len(got) != len(want) {
				t.Fatalf("%d segments, software made %d", len(got), len(want))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("segment %d differs from the software segment", i)
				}
			}
		})
	}
}

func TestPrepareTSORefuses(t *testing.T) {
	tcp, _ := superFrame(superSpec{payload: 4000})
	udp, _ := superFrame(superSpec{payload: 4000, udp: true})
	h := Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, GSOSize: 1448, CsumStart: 34, CsumOffset: 16}
	for _, c := range []struct {
		name string
		h    Header
		f    []byte
		want error
	}{
		{"udp", Header{GSOType: GSOUDPL4, GSOSize: 1472}, udp, ErrGSOType},
		{"tcpv6 type on ipv4", Header{GSOType: GSOTCPv6, GSOSize: 1448}, tcp, ErrHeaders},
		{"csum start elsewhere", Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, GSOSize: 1448, CsumStart: 30}, tcp, ErrHeaders},
		{"mss zero", Header{GSOType: GSOTCPv4}, tcp, ErrGSOSize},
		{"segment too big", Header{GSOType: GSOTCPv4, GSOSize: 1500}, tcp, ErrGSOSize},
		{"truncated", h, tcp[:40], ErrHeaders},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := PrepareTSO(c.h, bytes.Clone(c.f), 1514); !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
}
