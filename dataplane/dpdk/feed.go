package dpdk

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Feed is a benchmark traffic source: it keeps the RX ring of a net_ring
// port filled with a cycle of prebuilt frames, so every contender of a
// benchmark receives the same traffic through a real rx_burst. Each frame
// is an mbuf that stays allocated; the feed takes a reference before
// handing it out, so the transmit side's free only drops that reference.
// The feed restores each frame's MAC addresses before reuse (a path may
// rewrite them); a path that changes a frame's length cannot be fed.
type Feed struct {
	c *C.struct_tg_feed
}

// NewFeed builds mbufs from frames (all at most stride bytes) for ring.
func NewFeed(ring *Ring, pool *Mempool, frames [][]byte) (*Feed, error) {
	stride := 0
	for _, f := range frames {
		stride = max(stride, len(f))
	}
	buf := C.malloc(C.size_t(len(frames) * stride))
	lens := C.malloc(C.size_t(len(frames) * 2))
	defer C.free(buf)
	defer C.free(lens)
	b := unsafe.Slice((*byte)(buf), len(frames)*stride)
	l := unsafe.Slice((*uint16)(lens), len(frames))
	for i, f := range frames {
		copy(b[i*stride:], f)
		l[i] = uint16(len(f))
	}
	c := C.tg_feed_new(ring.c, pool.c, (*C.uint8_t)(buf), (*C.uint16_t)(lens), C.uint32_t(len(frames)), C.uint16_t(stride))
	if c == nil {
		return nil, &Error{Op: "feed", Err: fmt.Errorf("cannot allocate %d mbufs", len(frames))}
	}
	return &Feed{c: c}, nil
}

// Free returns the feed's mbufs to their pool.
func (f *Feed) Free() {
	if f.c != nil {
		C.tg_feed_free(f.c)
		f.c = nil
	}
}

// SetFeed makes every Step refill f's ring before polling (benchmarks).
func (io *IO) SetFeed(f *Feed) { io.c.feed = f.c }
