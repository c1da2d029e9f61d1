// Package traffic builds the prebuilt frames benchmarks send: a fixed,
// seeded mix of flows, so every contender of a run gets exactly the same
// traffic.
package traffic

import (
	"encoding/binary"
	"math/rand/v2"
)

// Mix returns one 64-byte frame (60 bytes without FCS) per flow: 45%
// TCP/IPv4, 40% UDP/IPv4, 5% ICMP/IPv4, 10% UDP/IPv6, with random
// addresses in 10.0.0.0/8 (fd00::/8 for IPv6) and random ports, from
// src to dst MAC. The same seed gives the same frames.
func Mix(flows int, seed uint64, src, dst [6]byte) [][]byte {
	r := rand.New(rand.NewPCG(seed, 0x7ea3))
	out := make([][]byte, flows)
	for i := range out {
		f := make([]byte, 60)
		copy(f[0:6], dst[:])
		copy(f[6:12], src[:])
		sport, dport := uint16(r.Uint32()), uint16(r.Uint32())
		switch p := r.IntN(100); {
		case p < 90:
			proto := byte(6)
			if p >= 45 {
				proto = 17
			}
			ipv4(f, proto, r.Uint32(), r.Uint32()&0x00ffffff|0x0a000000)
			binary.BigEndian.PutUint16(f[34:], sport)
			binary.BigEndian.PutUint16(f[36:], dport)
		case p < 95:
			ipv4(f, 1, r.Uint32()&0x00ffffff|0x0a000000, r.Uint32()&0x00ffffff|0x0a000000)
			f[34] = 8 // echo request
		default:
			f = append(f[:14], make([]byte, 40+8)...)
			binary.BigEndian.PutUint16(f[12:], 0x86dd)
			ip := f[14:]
			ip[0] = 0x60
			binary.BigEndian.PutUint16(ip[4:], 8)
			ip[6], ip[7] = 17, 64
			ip[8], ip[24] = 0xfd, 0xfd
			binary.BigEndian.PutUint64(ip[16:], r.Uint64())
			binary.BigEndian.PutUint64(ip[32:], r.Uint64())
			binary.BigEndian.PutUint16(ip[40:], sport)
			binary.BigEndian.PutUint16(ip[42:], dport)
		}
		out[i] = f
	}
	return out
}

func ipv4(f []byte, proto byte, src, dst uint32) {
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(len(f)-14))
	ip[8], ip[9] = 64, proto
	binary.BigEndian.PutUint32(ip[12:], src&0x00ffffff|0x0a000000)
	binary.BigEndian.PutUint32(ip[16:], dst&0x00ffffff|0x0a000000)
}
