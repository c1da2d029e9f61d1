package classify

import "math/bits"

// The flow hash absorbs the header fields as 64-bit words into a 64-bit
// state, one multiply/xor-shift round per word, and finishes with a full
// avalanche mixer. Each absorb round is a bijection of the state for a fixed
// word, so two inputs that differ only in their last word never collide
// before the final 64-to-32-bit reduction, and the finisher makes every
// input bit affect every output bit. The starting states are fixed
// constants, one per kind of hash, so results are identical across runs,
// processes and workers. The hash is not symmetric: the two directions of a
// flow may leave on different members.

const (
	absorbMul = 0xd6e8feb86659fd93 // odd, high-entropy multiplier
	finishM1  = 0x3c79ac492ba7b653
	finishM2  = 0x1c69b3f74ac4ae35

	seedV4L4 = 0x243f6a8885a308d3 // digits of pi, one per kind of hash
	seedV4L3 = 0x13198a2e03707344
	seedV6L4 = 0xa4093822299f31d0
	seedV6L3 = 0x082efa98ec4e6c89

	// The IPv6 L4 hash's seeds for the other three address halves:
	// fractional parts of the square roots of 3, 5 and 7.
	seedV6L4b = 0xbb67ae8584caa73b
	seedV6L4c = 0x3c6ef372fe94f82b
	seedV6L4d = 0xa54ff53a5f1d36f1
)

// absorb mixes the word w into the state h.
func absorb(h, w uint64) uint64 {
	h = (h ^ w) * absorbMul
	return h ^ h>>32
}

// finish avalanches the state h and reduces it to 32 bits.
func finish(h uint64) uint32 {
	h ^= h >> 27
	h *= finishM1
	h ^= h >> 33
	h *= finishM2
	h ^= h >> 27
	return uint32(h >> 32)
}

// hashV4L3 hashes an IPv4 address pair given as source<<32 | destination.
func hashV4L3(addrs uint64) uint32 {
	return finish(absorb(seedV4L3, addrs))
}

// hashV4L4 hashes an IPv4 flow; addrs is source<<32 | destination and
// ports source port<<16 | destination port, as read big-endian.
func hashV4L4(addrs uint64, proto byte, ports uint32) uint32 {
	src, dst := bits.ReverseBytes32(uint32(addrs>>32)), bits.ReverseBytes32(uint32(addrs))
	return mixV4L4(uint64(src)<<32|uint64(proto)<<8, uint64(dst)|uint64(bits.ReverseBytes32(ports))<<32)
}

// mixV4L4 is hashV4L4 on the flow as two words in the byte order of an
// untagged frame without IP options read little-endian, where the fast
// path (FastL4Hash) takes them with two loads: bytes 22-29 with only the
// protocol (bits 8-15) and the source address (bits 32-63) kept, and
// bytes 30-37, the destination address and the ports. Only the first
// word takes a seed: it is never the seed (its protocol byte is 6 or 17,
// the seed's 0x08), and the second is zero only for 0.0.0.0 port 0, the
// one destination whose flows all share a bucket.
func mixV4L4(srcProto, dstPorts uint64) uint32 {
	return mum(srcProto^seedV4L4, dstPorts)
}

// mum is the IPv4 fast path's mixer: one 64x64->128-bit multiply of the
// two input words, folded (the "mum" of wyhash). Every output bit depends
// on every input bit, at a fifth of the instructions of absorb+finish.
// (Its weak spot: an input of zero makes the product zero whatever the
// other input, so callers seed what can be zero.)
func mum(a, b uint64) uint32 {
	x := mum64(a, b)
	return uint32(x>>32) ^ uint32(x)
}

// addr6 is an IPv6 address pair as big-endian 64-bit halves.
type addr6 struct {
	s0, s1, d0, d1 uint64
}

// hashV6L3 hashes an IPv6 address pair.
func hashV6L3(a *addr6) uint32 {
	h := absorb(seedV6L3, a.s0)
	h = absorb(h, a.s1)
	h = absorb(h, a.d0)
	return finish(absorb(h, a.d1))
}

// hashV6L4 hashes an IPv6 flow; ports is source port<<16 | destination
// port, the address halves and ports as read big-endian.
func hashV6L4(a *addr6, proto byte, ports uint32) uint32 {
	r := bits.ReverseBytes64
	return mixV6L4(r(a.s0), r(a.s1), r(a.d0), r(a.d1), uint64(bits.ReverseBytes32(ports))<<8|uint64(proto))
}

// mixV6L4 is hashV6L4 on the flow as the fast path (FastV6L4Hash) reads
// it from the frame, little-endian: the four address halves, and the
// ports (bits 8-39) with the protocol (bits 0-7). The mixer of the IPv4
// fast path grown to eight words: the address halves are folded
// pairwise by two 64x64->128-bit multiplies, and their sum with the
// ports and protocol by a third (mum), where absorb+finish took seven
// dependent multiplies and twice the instructions. (Its weak spot, as
// mum's: an address half equal to its seed multiplies to zero, so all
// flows that differ only in the other half of that pair share a bucket.)
func mixV6L4(s0, s1, d0, d1, portsProto uint64) uint32 {
	h1, l1 := bits.Mul64(s0^seedV6L4, d0^seedV6L4b)
	h2, l2 := bits.Mul64(s1^seedV6L4c, d1^seedV6L4d)
	h, l := bits.Mul64(h1^l1^h2^l2^seedV4L4, portsProto^finishM2)
	return uint32((h^l)>>32) ^ uint32(h^l)
}

// mum64 is mum without the final fold to 32 bits.
func mum64(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// Bucket maps a flow hash to one of nBuckets buckets, numbered from 0, with
// a multiply-shift (Lemire) reduction: it takes the top bits of the hash
// rather than the remainder, and needs no division. Every caller that spreads
// Result.Hash over buckets or members should use Bucket, so that all workers
// agree on where a flow goes. nBuckets should be between 1 and 1<<32; Bucket
// returns 0 if it is not positive.
func Bucket(hash uint32, nBuckets int) int {
	if nBuckets <= 0 {
		return 0
	}
	return int(uint64(hash) * uint64(nBuckets) >> 32)
}
