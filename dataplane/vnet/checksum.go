package vnet

import (
	"encoding/binary"
)

// Sum adds b to a ones'-complement partial sum (RFC 1071) and returns the
// new partial sum, not folded. Sums of consecutive pieces may be added
// together as long as every piece but the last has an even length.
//
// It reads eight bytes at a time in little-endian order: the ones'-
// complement sum does not depend on byte order as long as the result is
// swapped back (RFC 1071, section 2(B)), which Fold does.
func Sum(b []byte, acc uint64) uint64 {
	for len(b) >= 32 {
		x0 := binary.LittleEndian.Uint64(b[0:8])
		x1 := binary.LittleEndian.Uint64(b[8:16])
		x2 := binary.LittleEndian.Uint64(b[16:24])
		x3 := binary.LittleEndian.Uint64(b[24:32])
		acc += x0&0xffffffff + x0>>32 + x1&0xffffffff + x1>>32
		acc += x2&0xffffffff + x2>>32 + x3&0xffffffff + x3>>32
		b = b[32:]
	}
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		acc += x&0xffffffff + x>>32
		b = b[8:]
	}
	if len(b) >= 4 {
		acc += uint64(binary.LittleEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		acc += uint64(binary.LittleEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0])
	}
	return acc
}

// Fold folds a partial sum from Sum to 16 bits in network byte order
// (not complemented).
func Fold(acc uint64) uint16 {
	acc = acc&0xffffffff + acc>>32
	acc = acc&0xffff + acc>>16
	acc = acc&0xffff + acc>>16
	acc = acc&0xffff + acc>>16
	x := uint16(acc)
	return x<<8 | x>>8
}

// Checksum is the Internet checksum of b: the complement of its folded
// ones'-complement sum.
func Checksum(b []byte) uint16 { return ^Fold(Sum(b, 0)) }

// pseudoSum is the partial sum of an IPv4 or IPv6 pseudo-header for an
// upper-layer protocol proto carrying length bytes (RFC 793, RFC 8200
// section 8.1); src and dst are 4 or 16 bytes.
func pseudoSum(src, dst []byte, proto uint8, length int) uint64 {
	acc := Sum(src, 0)
	acc = Sum(dst, acc)
	var tail [8]byte
	binary.BigEndian.PutUint32(tail[0:4], uint32(length))
	tail[7] = proto
	return Sum(tail[:], acc)
}
