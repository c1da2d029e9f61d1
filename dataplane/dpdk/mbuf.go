package dpdk

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Mbuf is a DPDK packet buffer (struct rte_mbuf). Go code only ever holds
// *Mbuf pointers into hugepage memory and reads fields through the
// accessors below, which use the 22.11 layout checked by checkLayout.
type Mbuf struct{ _ [0]byte }

// Offsets of struct rte_mbuf fields in DPDK 22.11 (x86_64, IOVA as PA).
const (
	offBufAddr  = 0
	offDataOff  = 16
	offNbSegs   = 20
	offPort     = 22
	offOlFlags  = 24
	offPktType  = 32
	offPktLen   = 36
	offDataLen  = 40
	offVlanTCI  = 42
	offBufLen   = 54
	offNext     = 64
	offTxOffl   = 72
	sizeOfMbuf  = 128
	mbufHeadSeg = 1
)

func init() {
	if err := checkLayout(); err != nil {
		panic(err)
	}
}

// checkLayout compares the hard-coded offsets with what the C compiler
// computes from the installed headers.
func checkLayout() error {
	var l C.struct_tg_mbuf_layout
	C.tg_mbuf_layout(&l)
	want := []struct {
		name      string
		got, want C.uint32_t
	}{
		{"buf_addr", l.buf_addr, offBufAddr},
		{"data_off", l.data_off, offDataOff},
		{"nb_segs", l.nb_segs, offNbSegs},
		{"port", l.port, offPort},
		{"ol_flags", l.ol_flags, offOlFlags},
		{"packet_type", l.packet_type, offPktType},
		{"pkt_len", l.pkt_len, offPktLen},
		{"data_len", l.data_len, offDataLen},
		{"vlan_tci", l.vlan_tci, offVlanTCI},
		{"buf_len", l.buf_len, offBufLen},
		{"next", l.next, offNext},
		{"tx_offload", l.tx_offload, offTxOffl},
		{"sizeof", l.size, sizeOfMbuf},
		{"sizeof(tg_io)", l.io_size, C.uint32_t(unsafe.Sizeof(C.struct_tg_io{}))},
		{"sizeof(tg_txq)", l.txq_size, C.uint32_t(unsafe.Sizeof(C.struct_tg_txq{}))},
	}
	for _, w := range want {
		if w.got != w.want {
			return fmt.Errorf("dpdk: struct rte_mbuf layout mismatch: %s at %d, binding expects %d (rebuild against DPDK 22.11)", w.name, w.got, w.want)
		}
	}
	return nil
}

func (m *Mbuf) ptr() unsafe.Pointer { return unsafe.Pointer(m) }

// EndMark is the mbuf that follows the last packet of a vector Step
// returns: it holds no data (Data is empty), so a loop over a vector that
// stops at the first frame too short for its test stops there too. It
// must never be freed, sent or written.
func EndMark() *Mbuf { return (*Mbuf)(unsafe.Pointer(&C.tg_end_mark)) }

func (m *Mbuf) u16(off uintptr) *uint16 { return (*uint16)(unsafe.Add(m.ptr(), off)) }
func (m *Mbuf) u32(off uintptr) *uint32 { return (*uint32)(unsafe.Add(m.ptr(), off)) }

// Data is the first segment's packet bytes, in place (no copy). The slice
// is valid until the mbuf is transmitted or freed. It is cut from a
// pointer to a 64 KiB array, which a 16-bit length always fits, rather
// than made by unsafe.Slice, which checks the length on every frame.
func (m *Mbuf) Data() []byte {
	base := *(*unsafe.Pointer)(m.ptr())
	off := *m.u16(offDataOff)
	n := *m.u16(offDataLen)
	return (*[1 << 16]byte)(unsafe.Add(base, off))[:n:n]
}

// DataLen is the length of the first segment.
func (m *Mbuf) DataLen() int { return int(*m.u16(offDataLen)) }

// PktLen is the length of the whole packet over all segments.
func (m *Mbuf) PktLen() int { return int(*m.u32(offPktLen)) }

// Segments is the number of segments of a chained packet.
func (m *Mbuf) Segments() int { return int(*m.u16(offNbSegs)) }

// Port is the port the packet arrived on; for frames the control plane
// injects into a worker it names the destination port.
func (m *Mbuf) Port() uint16 { return *m.u16(offPort) }

// SetPort sets the port field (the destination of an injected frame).
func (m *Mbuf) SetPort(p uint16) { *m.u16(offPort) = p }

// Headroom is the free space in front of the data.
func (m *Mbuf) Headroom() int { return int(*m.u16(offDataOff)) }

// Tailroom is the free space after the first segment's data.
func (m *Mbuf) Tailroom() int {
	return int(*m.u16(offBufLen)) - int(*m.u16(offDataOff)) - int(*m.u16(offDataLen))
}

// SetData replaces the content of a single-segment mbuf with b. It reports
// false, changing nothing, if b does not fit.
func (m *Mbuf) SetData(b []byte) bool {
	if *m.u16(offNbSegs) != mbufHeadSeg || len(b) > int(*m.u16(offBufLen))-int(*m.u16(offDataOff)) {
		return false
	}
	*m.u16(offDataLen) = uint16(len(b))
	*m.u32(offPktLen) = uint32(len(b))
	copy(m.Data(), b)
	return true
}

// Room is the writable space of an empty single-segment mbuf: from the
// start of its data to the end of its buffer. Write into it, then SetLen.
func (m *Mbuf) Room() []byte {
	base := *(*unsafe.Pointer)(m.ptr())
	off := *m.u16(offDataOff)
	return unsafe.Slice((*byte)(unsafe.Add(base, off)), int(*m.u16(offBufLen))-int(off))
}

// SetLen sets the length of a single-segment mbuf's data (at most
// len(Room())).
func (m *Mbuf) SetLen(n int) {
	*m.u16(offDataLen) = uint16(n)
	*m.u32(offPktLen) = uint32(n)
}

// Next is the next segment of a chained packet, or nil.
func (m *Mbuf) Next() *Mbuf { return *(**Mbuf)(unsafe.Add(m.ptr(), offNext)) }

// Append chains seg (a single-segment mbuf) after the packet's last
// segment: the packet's segment count and length grow by seg's.
func (m *Mbuf) Append(seg *Mbuf) {
	last := m
	for n := last.Next(); n != nil; n = last.Next() {
		last = n
	}
	*(**Mbuf)(unsafe.Add(last.ptr(), offNext)) = seg
	*m.u16(offNbSegs) += *seg.u16(offNbSegs)
	*m.u32(offPktLen) += *seg.u32(offPktLen)
}

// TX offload requests in ol_flags (RTE_MBUF_F_TX_*).
const (
	TxFlagTCPSeg   = uint64(C.RTE_MBUF_F_TX_TCP_SEG)
	TxFlagTCPCsum  = uint64(C.RTE_MBUF_F_TX_TCP_CKSUM)
	TxFlagIPCsum   = uint64(C.RTE_MBUF_F_TX_IP_CKSUM)
	TxFlagIPv4     = uint64(C.RTE_MBUF_F_TX_IPV4)
	TxFlagIPv6     = uint64(C.RTE_MBUF_F_TX_IPV6)
	txOffloadShift = 7 + 9 + 8 // l2_len, l3_len, l4_len, then tso_segsz
)

// SetTxOffload asks the device for offloads (TxFlag*) on this packet, with
// the header lengths and, for TCP segmentation, the payload size of each
// segment (struct rte_mbuf ol_flags and tx_offload).
func (m *Mbuf) SetTxOffload(flags uint64, l2, l3, l4, segSize int) {
	*(*uint64)(unsafe.Add(m.ptr(), offOlFlags)) |= flags
	*(*uint64)(unsafe.Add(m.ptr(), offTxOffl)) = uint64(l2&0x7f) | uint64(l3&0x1ff)<<7 | uint64(l4&0xff)<<16 | uint64(segSize&0xffff)<<txOffloadShift
}

// Free returns the mbuf (and its chain) to its pool. It is a cgo call: the
// data path frees in bulk through IO.Drop instead.
func (m *Mbuf) Free() { C.tg_pktmbuf_free((*C.struct_rte_mbuf)(m.ptr())) }

func (m *Mbuf) c() *C.struct_rte_mbuf { return (*C.struct_rte_mbuf)(m.ptr()) }

// Prepend grows the packet by n bytes at the front (into the headroom)
// and returns the new data; it returns nil, changing nothing, when the
// headroom is short.
func (m *Mbuf) Prepend(n int) []byte {
	off := int(*m.u16(offDataOff))
	if n > off {
		return nil
	}
	*m.u16(offDataOff) = uint16(off - n)
	*m.u16(offDataLen) += uint16(n)
	*m.u32(offPktLen) += uint32(n)
	return m.Data()
}

// Adj removes n bytes from the front of the packet; it reports false,
// changing nothing, when the first segment is shorter.
func (m *Mbuf) Adj(n int) bool {
	if n > int(*m.u16(offDataLen)) {
		return false
	}
	*m.u16(offDataOff) += uint16(n)
	*m.u16(offDataLen) -= uint16(n)
	*m.u32(offPktLen) -= uint32(n)
	return true
}
