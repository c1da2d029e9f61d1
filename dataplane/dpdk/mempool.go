package dpdk

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"unsafe"
)

// Mempool is a pool of packet mbufs (rte_pktmbuf_pool_create).
type Mempool struct {
	c    *C.struct_rte_mempool
	name string
}

// DefaultDataRoom is the data room of one mbuf: 2048 bytes plus headroom.
const DefaultDataRoom = 2048 + 128

// NewMempool creates a pool of n mbufs with a per-lcore cache. n should be
// 2^k-1 for the best ring usage.
func NewMempool(name string, n, cache int, dataRoom uint16, socket int) (*Mempool, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	var e C.int
	mp := C.tg_pool_create(cs, C.uint(n), C.uint(cache), C.uint16_t(dataRoom), C.int(socket), &e)
	if mp == nil {
		return nil, &Error{Op: "mempool create", Port: name, Err: errnoOr(e)}
	}
	return &Mempool{c: mp, name: name}, nil
}

// Name is the pool's name.
func (p *Mempool) Name() string { return p.name }

// Alloc takes one mbuf from the pool, or nil when it is empty.
func (p *Mempool) Alloc() *Mbuf {
	return (*Mbuf)(unsafe.Pointer(C.tg_pktmbuf_alloc(p.c)))
}

// InUse is the number of mbufs taken out of the pool (including caches).
func (p *Mempool) InUse() int { return int(C.tg_mempool_in_use(p.c)) }

// Available is the number of mbufs in the pool (including caches).
func (p *Mempool) Available() int { return int(C.tg_mempool_avail(p.c)) }

// Free destroys the pool; every mbuf must have been returned.
func (p *Mempool) Free() {
	if p.c != nil {
		C.tg_pool_free(p.c)
		p.c = nil
	}
}
