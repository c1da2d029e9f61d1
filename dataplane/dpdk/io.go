package dpdk

/*
#cgo noescape tg_io_step
#cgo nocallback tg_io_step
#cgo noescape tg_io_ref_loop
#cgo nocallback tg_io_ref_loop
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// IO is one worker's burst I/O vector, allocated in C memory. Between two
// calls to Step the worker reads Rx, and queues packets with Tx, Drop and
// ToControl; Step sends and frees them in the same cgo crossing that
// receives the next vector. An IO belongs to exactly one goroutine.
type IO struct {
	c     *C.struct_tg_io
	rx    []*Mbuf
	drop  []*Mbuf
	ctl   []*Mbuf
	txq   [MaxQueues]txView
	rxIDs [MaxQueues]uint16
}

// txView is the Go view of one C TX buffer.
type txView struct {
	n    *C.uint16_t
	pkts []*Mbuf
}

// NewIO allocates an empty IO on a NUMA socket.
func NewIO(socket int) (*IO, error) {
	c := C.tg_io_new(C.int(socket))
	if c == nil {
		return nil, &Error{Op: "io alloc", Err: fmt.Errorf("out of hugepage memory")}
	}
	io := &IO{c: c}
	io.rx = unsafe.Slice((**Mbuf)(unsafe.Pointer(&c.rx_pkts[0])), Vector)
	io.drop = unsafe.Slice((**Mbuf)(unsafe.Pointer(&c.drop[0])), SideCap)
	io.ctl = unsafe.Slice((**Mbuf)(unsafe.Pointer(&c.ctl_pkts[0])), SideCap)
	for i := range io.txq {
		q := &c.tx[i]
		io.txq[i] = txView{n: &q.n, pkts: unsafe.Slice((**Mbuf)(unsafe.Pointer(&q.pkts[0])), TxQueueCap)}
	}
	return io, nil
}

// Free flushes what is buffered and releases the C memory.
func (io *IO) Free() {
	if io.c != nil {
		C.tg_io_flush(io.c)
		C.tg_io_free(io.c)
		io.c = nil
	}
}

// AddRx adds an RX queue to poll and returns its index.
func (io *IO) AddRx(port *Port, queue uint16) (int, error) {
	i := int(io.c.n_rx)
	if i >= MaxQueues {
		return -1, &Error{Op: "io add rx", Port: port.Name, Err: fmt.Errorf("more than %d queues", MaxQueues)}
	}
	io.c.rx[i].port = C.uint16_t(port.ID)
	io.c.rx[i].queue = C.uint16_t(queue)
	io.rxIDs[i] = port.ID
	io.c.n_rx++
	return i, nil
}

// AddTx adds a TX queue and returns its index for Tx.
func (io *IO) AddTx(port *Port, queue uint16) (int, error) {
	i := int(io.c.n_tx)
	if i >= MaxQueues {
		return -1, &Error{Op: "io add tx", Port: port.Name, Err: fmt.Errorf("more than %d queues", MaxQueues)}
	}
	io.c.tx[i].port = C.uint16_t(port.ID)
	io.c.tx[i].queue = C.uint16_t(queue)
	io.c.n_tx++
	return i, nil
}

// SetInject makes Step move frames the control plane enqueues on r into
// the TX buffer of the port named by each frame's Port field.
func (io *IO) SetInject(r *Ring) { io.c.inject = r.c }

// SetControl makes frames queued with ToControl go to r.
func (io *IO) SetControl(r *Ring) { io.c.ctl = r.c }

// Step flushes the previous vector's output and receives the next vector.
// It returns the received packets and the index (from AddRx) of the queue
// they came from; an empty slice means every queue was idle.
func (io *IO) Step() (pkts []*Mbuf, rxq int) {
	n := int(C.tg_io_step(io.c))
	return io.rx[:n], int(io.c.last_rx)
}

// Flush sends and frees everything queued without receiving.
func (io *IO) Flush() { C.tg_io_flush(io.c) }

// Tx queues m on TX queue q (an index from AddTx). It reports false, and
// the caller must Drop m, when the buffer is full.
func (io *IO) Tx(q int, m *Mbuf) bool {
	v := &io.txq[q]
	n := int(*v.n)
	if n >= len(v.pkts) {
		return false
	}
	v.pkts[n] = m
	*v.n = C.uint16_t(n + 1)
	return true
}

// Drop queues m to be freed at the next Step.
func (io *IO) Drop(m *Mbuf) {
	n := int(io.c.n_drop)
	if n >= len(io.drop) {
		m.Free() // cannot happen with at most Vector packets per step
		return
	}
	io.drop[n] = m
	io.c.n_drop = C.uint16_t(n + 1)
}

// ToControl queues m for the control ring; it is dropped (and counted) if
// no control ring is set or it is full.
func (io *IO) ToControl(m *Mbuf) {
	n := int(io.c.n_ctl)
	if n >= len(io.ctl) {
		io.Drop(m)
		return
	}
	io.ctl[n] = m
	io.c.n_ctl = C.uint16_t(n + 1)
}

// RefLoop runs the C reference loop for steps steps: everything received
// goes to TX queue 0. It returns the packets forwarded.
func (io *IO) RefLoop(steps uint64) uint64 {
	return uint64(C.tg_io_ref_loop(io.c, C.uint64_t(steps)))
}

// IOCounters are an IO's counters, read without synchronisation (they are
// monotonic 64-bit words written by one worker).
type IOCounters struct {
	Steps, IdleSteps, InjectUnroutable, ControlDropped uint64
}

// Counters reads the IO-wide counters.
func (io *IO) Counters() IOCounters {
	return IOCounters{
		Steps: uint64(io.c.steps), IdleSteps: uint64(io.c.idle_steps),
		InjectUnroutable: uint64(io.c.inject_unroutable), ControlDropped: uint64(io.c.ctl_dropped),
	}
}

// TxCounters reads the sent and dropped counters of TX queue q.
func (io *IO) TxCounters(q int) (sent, dropped uint64) {
	t := &io.c.tx[q]
	return uint64(t.sent), uint64(t.dropped)
}

// RxPackets reads the packets received on RX queue q.
func (io *IO) RxPackets(q int) uint64 { return uint64(io.c.rx[q].packets) }
