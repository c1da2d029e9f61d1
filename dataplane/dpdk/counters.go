package dpdk

/*
#include <rte_malloc.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Counters is an array of 64-bit counters in hugepage memory, cache-line
// aligned. One worker lcore writes them with plain stores, once per packet
// where that matters (per-bucket counters); any goroutine may read them.
// Aligned 64-bit loads and stores do not tear on the platforms DPDK runs
// on, and this memory is invisible to the Go race detector, as DPDK's own
// per-lcore statistics are to thread sanitizers.
type Counters struct {
	p unsafe.Pointer
	v []uint64
}

// NewCounters allocates n zeroed counters.
func NewCounters(n int) (*Counters, error) {
	p := C.rte_zmalloc(nil, C.size_t(n*8), 64)
	if p == nil {
		return nil, &Error{Op: "counters alloc", Err: fmt.Errorf("out of hugepage memory (%d counters)", n)}
	}
	return &Counters{p: p, v: unsafe.Slice((*uint64)(p), n)}, nil
}

// Slice is the counters as a Go slice (valid until Free).
func (c *Counters) Slice() []uint64 { return c.v }

// Free releases the memory.
func (c *Counters) Free() {
	if c.p != nil {
		C.rte_free(c.p)
		c.p, c.v = nil, nil
	}
}
