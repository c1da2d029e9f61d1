package dpdk

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import "unsafe"

// Ring is a lock-free rte_ring of mbuf pointers, used between the control
// plane and the workers.
type Ring struct {
	c   *C.struct_rte_ring
	arr **C.struct_rte_mbuf // C array of ringBatch pointers for Dequeue
}

const ringBatch = 32

// NewRing creates a ring of count slots (a power of two). singleProducer
// and singleConsumer select the faster SP/SC modes.
func NewRing(name string, count int, singleProducer, singleConsumer bool) (*Ring, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	var e C.int
	r := C.tg_ring_create(cs, C.uint(count), -1, cbool(singleProducer), cbool(singleConsumer), &e)
	if r == nil {
		return nil, &Error{Op: "ring create", Port: name, Err: errnoOr(e)}
	}
	arr := (**C.struct_rte_mbuf)(C.calloc(ringBatch, C.size_t(unsafe.Sizeof(uintptr(0)))))
	return &Ring{c: r, arr: arr}, nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Enqueue puts m on the ring; it reports false if the ring is full (the
// caller still owns m).
func (r *Ring) Enqueue(m *Mbuf) bool {
	return C.tg_ring_enqueue_one(r.c, m.c()) == 1
}

// Dequeue takes up to len(out) mbufs off the ring. It uses a scratch
// array of the Ring, so only one goroutine may dequeue.
func (r *Ring) Dequeue(out []*Mbuf) int {
	n := len(out)
	if n > ringBatch {
		n = ringBatch
	}
	got := int(C.tg_ring_dequeue(r.c, r.arr, C.uint(n)))
	src := unsafe.Slice((**Mbuf)(unsafe.Pointer(r.arr)), ringBatch)
	copy(out, src[:got])
	return got
}

// Len is the number of entries on the ring.
func (r *Ring) Len() int { return int(C.tg_ring_count(r.c)) }

// Free frees every mbuf still on the ring and the ring itself.
func (r *Ring) Free() {
	if r.c == nil {
		return
	}
	var tmp [ringBatch]*Mbuf
	for {
		n := r.Dequeue(tmp[:])
		if n == 0 {
			break
		}
		for _, m := range tmp[:n] {
			m.Free()
		}
	}
	C.tg_ring_free(r.c)
	C.free(unsafe.Pointer(r.arr))
	r.c = nil
}

// PortFromRings creates an ethdev named name whose single RX queue reads
// from rx and whose single TX queue writes to tx (DPDK's net_ring driver).
// Tests use it to feed exact frames into a worker and read what it sends.
func PortFromRings(name string, rx, tx *Ring) (*Port, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	rc := C.tg_eth_from_rings(cs, rx.c, tx.c)
	if rc < 0 {
		return nil, errnoErr("port from rings", name, rc)
	}
	return &Port{ID: uint16(rc), Name: name}, nil
}
