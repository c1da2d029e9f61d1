// Package traffic builds the prebuilt frames benchmarks send: a fixed,
// seeded mix of flows, so every contender of a run gets exactly the same
// traffic.
package traffic

import (
	"encoding/binary"
	"math"
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

// TxOnly returns the flows dpdk-testpmd sends in txonly mode with
// --txonly-multi-flow, so teamgw can be driven with the traffic a reader
// sends it with stock DPDK tools: 256 UDP/IPv4 flows of 64-byte frames
// (counted without FCS, testpmd's default --txpkts), port 9 to port 9,
// from 198.18.k.3 (k = 0..255, the third byte is what varies) to
// 198.18.0.2, from src to dst MAC.
func TxOnly(src, dst [6]byte) [][]byte {
	out := make([][]byte, 256)
	for k := range out {
		f := make([]byte, 64)
		copy(f[0:6], dst[:])
		copy(f[6:12], src[:])
		binary.BigEndian.PutUint16(f[12:], 0x0800)
		ip := f[14:34]
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(len(f)-14))
		ip[8], ip[9] = 64, 17
		copy(ip[12:16], []byte{198, 18, byte(k), 3})
		copy(ip[16:20], []byte{198, 18, 0, 2})
		binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))
		udp := f[34:42]
		binary.BigEndian.PutUint16(udp[0:], 9)
		binary.BigEndian.PutUint16(udp[2:], 9)
		binary.BigEndian.PutUint16(udp[4:], uint16(len(f)-34))
		out[k] = f
	}
	return out
}

// ipChecksum is the Internet checksum of an IPv4 header whose checksum
// field is zero.
func ipChecksum(h []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(h); i += 2 {
		s += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// Weights returns n flow weights summing to 1: equal when s is 0,
// otherwise Zipf-distributed (the flow of rank r weighs r^-s), with the
// ranks dealt to the flows in a seeded random order so the heavy flows
// land on arbitrary hashes.
func Weights(n int, s float64, seed uint64) []float64 {
	w := make([]float64, n)
	if n == 0 {
		return w
	}
	rank := rand.New(rand.NewPCG(seed, 0x21bf)).Perm(n)
	var sum float64
	for i := range w {
		w[i] = 1
		if s != 0 {
			w[i] = math.Pow(float64(rank[i]+1), -s)
		}
		sum += w[i]
	}
	for i := range w {
		w[i] /= sum
	}
	return w
}
