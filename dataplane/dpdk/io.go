package dpdk

/*
#cgo noescape tg_io_step_at
#cgo nocallback tg_io_step_at
#cgo noescape tg_io_ref_loop
#cgo nocallback tg_io_ref_loop
#cgo noescape tg_io_alloc
#cgo nocallback tg_io_alloc
#include "shim.h"

// tg_io_step_at is tg_io_step taking the vector's address as an integer:
// cgo checks every pointer argument whose type holds pointers for Go
// pointers on each call (cgocheck), which costs a step more than the rest
// of the crossing; an IO lives in C memory, so there is nothing to check.
static inline uint16_t tg_io_step_at(uintptr_t io) { return tg_io_step((struct tg_io *)io); }
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
	alloc []*Mbuf
	drop  *[SideCap]uintptr
	ctl   *[SideCap]uintptr
	nDrop int
	nCtl  int
	nTx   int
	txq   [MaxQueues]TxQueue
	// vecQ is the queue holding the head of the current vector without
	// a copy (PushVector), nil if none.
	vecQ *TxQueue
}

// TxQueue is the Go view of one C TX buffer. The count lives on the Go
// side while the worker fills the buffer (so the compiler can keep it in a
// register and drop bounds checks) and is handed to C by sync. A worker
// keeps *TxQueue handles (IO.Queue) to push without re-indexing.
type TxQueue struct {
	n    int
	pkts *[TxQueueCap]uintptr // mbuf addresses: C memory, no GC write barrier
	cn   *C.uint16_t
	// vec is how many packets at the head of the IO's current vector go
	// out before pkts (PushVector); crun is its C side.
	vec  int
	crun *C.uint16_t
}

// NewIO allocates an empty IO on a NUMA socket.
func NewIO(socket int) (*IO, error) {
	c := C.tg_io_new(C.int(socket))
	if c == nil {
		return nil, &Error{Op: "io alloc", Err: fmt.Errorf("out of hugepage memory")}
	}
	io := &IO{c: c}
	io.rx = unsafe.Slice((**Mbuf)(unsafe.Pointer(&c.rx_pkts[0])), Vector+1) // and EndMark
	io.alloc = unsafe.Slice((**Mbuf)(unsafe.Pointer(&c.alloc[0])), Vector)
	io.drop = (*[SideCap]uintptr)(unsafe.Pointer(&c.drop[0]))
	io.ctl = (*[SideCap]uintptr)(unsafe.Pointer(&c.ctl_pkts[0]))
	for i := range io.txq {
		q := &c.tx[i]
		io.txq[i] = TxQueue{cn: &q.n, crun: &q.rx_run, pkts: (*[TxQueueCap]uintptr)(unsafe.Pointer(&q.pkts[0]))}
	}
	return io, nil
}

// Free flushes what is buffered and releases the C memory.
func (io *IO) Free() {
	if io.c != nil {
		io.sync()
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
	io.nTx++
	return i, nil
}

// PrefetchTx makes the step that sends TX queue q's own buffer (not a
// vector pushed whole with PushVector) ask for each mbuf's cache lines
// just before the PMD gets it, for a queue whose bursts are a vector split
// over several ports and whose PMD frees what it sends at once (see
// tg_send_prefetched in shim.c). Reset clears it.
func (io *IO) PrefetchTx(q int) { io.c.tx[q].prefetch = 1 }

// PrefetchingTx reports whether TX queue q prefetches (PrefetchTx).
func (io *IO) PrefetchingTx(q int) bool { return io.c.tx[q].prefetch != 0 }

// Reset sends and frees everything queued, then forgets every RX and TX
// queue (and their counters), so that the owner can add a new set. Queue
// handles from Queue stay valid but name whatever queue is added at their
// index next.
func (io *IO) Reset() {
	io.Flush()
	for i := range int(io.c.n_rx) {
		io.c.rx[i] = C.struct_tg_rxq{}
	}
	for i := range int(io.c.n_tx) {
		q := &io.c.tx[i]
		q.port, q.queue, q.n, q.rx_run, q.prefetch, q.sent, q.dropped = 0, 0, 0, 0, 0, 0, 0
	}
	io.c.n_rx, io.c.n_tx, io.c.next_rx, io.c.last_rx, io.c.nb_rx = 0, 0, 0, 0, 0
	io.nTx = 0
}

// SetInject makes Step move frames the control plane enqueues on r into
// the TX buffer of the port named by each frame's Port field.
func (io *IO) SetInject(r *Ring) { io.c.inject = r.c }

// SetControl makes frames queued with ToControl go to r.
func (io *IO) SetControl(r *Ring) { io.c.ctl = r.c }

// Step flushes the previous vector's output and receives the next vector.
// It returns the received packets and the index (from AddRx) of the queue
// they came from; an empty slice means every queue was idle. The entry
// after the last packet (pkts[:len(pkts)+1]) holds EndMark, for an empty
// slice too.
func (io *IO) Step() (pkts []*Mbuf, rxq int) {
	io.sync()
	n := int(C.tg_io_step_at(C.uintptr_t(uintptr(unsafe.Pointer(io.c)))))
	return io.rx[:n], int(io.c.last_rx)
}

// Alloc takes n (at most Vector) fresh, empty mbufs from pool in one cgo
// call: all of them, or none (nil) when the pool is short. The slice is
// valid until the next Alloc; the caller owns the mbufs.
func (io *IO) Alloc(pool *Mempool, n int) []*Mbuf {
	got := int(C.tg_io_alloc(io.c, pool.c, C.uint(min(n, Vector))))
	if got == 0 {
		return nil
	}
	return io.alloc[:got]
}

// Flush sends and frees everything queued without receiving.
func (io *IO) Flush() {
	io.sync()
	C.tg_io_flush(io.c)
}

// sync hands the counts the Go side kept to the C side before a step.
func (io *IO) sync() {
	for i := range io.txq[:io.nTx] {
		if v := &io.txq[i]; v.n != 0 {
			*v.cn = C.uint16_t(v.n)
			v.n = 0
		}
	}
	if v := io.vecQ; v != nil {
		*v.crun = C.uint16_t(v.vec)
		v.vec, io.vecQ = 0, nil
	}
	io.c.n_drop = C.uint16_t(io.nDrop)
	io.c.n_ctl = C.uint16_t(io.nCtl)
	io.nDrop, io.nCtl = 0, 0
}

// Tx queues m on TX queue q (an index from AddTx). It reports false, and
// the caller must Drop m, when the buffer is full.
func (io *IO) Tx(q int, m *Mbuf) bool { return io.txq[q].Push(m) }

// PushVector queues ms on q as q.PushRun does and returns how many it
// took. When ms is the head of the vector the last Step returned, q holds
// nothing yet and no queue holds part of the vector this way, nothing is
// copied: the next step sends ms from the vector itself, ahead of what is
// pushed on q after it.
func (io *IO) PushVector(q *TxQueue, ms []*Mbuf) int {
	if len(ms) > 0 && q.n == 0 && io.vecQ == nil && unsafe.SliceData(ms) == unsafe.SliceData(io.rx) {
		q.vec, io.vecQ = len(ms), q
		return len(ms)
	}
	return q.PushRun(ms)
}

// Queue is the handle of TX queue q (an index from AddTx).
func (io *IO) Queue(q int) *TxQueue { return &io.txq[q] }

// Push queues m; it reports false, and the caller must Drop m, when the
// buffer is full.
func (q *TxQueue) Push(m *Mbuf) bool {
	if q.Full() {
		return false
	}
	q.Put(m)
	return true
}

// Len is how many frames are queued on q, waiting for the next Step or
// Flush: those pushed and a run of the received vector (PushVector).
// Frames the control plane injects join a buffer only inside the flush
// that sends them.
func (q *TxQueue) Len() int { return q.n + q.vec }

// Full reports whether the buffer is full.
func (q *TxQueue) Full() bool { return uint(q.n) >= TxQueueCap }

// Put queues m on a queue that is not Full. A hot loop tests Full and
// calls Put rather than Push, which returns a result the loop would test
// a second time.
func (q *TxQueue) Put(m *Mbuf) {
	q.pkts[uint(q.n)] = uintptr(unsafe.Pointer(m))
	q.n++
}

// Slots gives a loop that fills several queues at once direct access to
// q: its buffer and how many packets it holds. The buffer has TxQueueCap
// entries; the loop must not write past the last and hands its count back
// with SetLen.
func (q *TxQueue) Slots() (buf *[TxQueueCap]uintptr, n int) { return q.pkts, q.n }

// Queued is q's buffer (see Slots) as the mbufs it holds, for reading
// them back: writes must go through Slots, whose entries are addresses,
// since a store of a Go pointer type into C memory would take a GC write
// barrier for nothing.
func (q *TxQueue) Queued() *[TxQueueCap]*Mbuf { return (*[TxQueueCap]*Mbuf)(unsafe.Pointer(q.pkts)) }

// SetLen records that the first n entries of q's buffer (see Slots) are
// queued.
func (q *TxQueue) SetLen(n int) { q.n = n }

// MbufAddr is the address of m as a TX buffer entry holds it (Slots).
func MbufAddr(m *Mbuf) uintptr { return uintptr(unsafe.Pointer(m)) }

// Drop queues m to be freed at the next Step. A step hands out at most
// Vector (= SideCap) packets and each is dropped at most once, so the
// buffer cannot overflow; the index is masked rather than checked so that
// the hot loops calling Drop contain no call.
func (io *IO) Drop(m *Mbuf) {
	io.drop[io.nDrop&(SideCap-1)] = uintptr(unsafe.Pointer(m))
	io.nDrop++
}

// ToControl queues m for the control ring; it is dropped (and counted) if
// no control ring is set or it is full.
func (io *IO) ToControl(m *Mbuf) {
	if io.nCtl >= SideCap {
		io.Drop(m)
		return
	}
	io.ctl[io.nCtl] = uintptr(unsafe.Pointer(m))
	io.nCtl++
}

// RefLoop runs the C reference loop for steps steps: everything received
// goes to TX queue 0. It returns the packets forwarded.
func (io *IO) RefLoop(steps uint64) uint64 {
	io.sync()
	return uint64(C.tg_io_ref_loop(io.c, C.uint64_t(steps)))
}

// IOCounters are an IO's counters, read without synchronisation (they are
// monotonic 64-bit words written by one worker).
type IOCounters struct {
	Steps, IdleSteps, InjectUnroutable, InjectDropped, ControlDropped uint64
	// TxRefused counts packets the PMDs refused at flush (their TX
	// rings full), over every TX queue; they were freed.
	TxRefused uint64
}

// Counters reads the IO-wide counters.
func (io *IO) Counters() IOCounters {
	if io.c == nil {
		return IOCounters{}
	}
	return IOCounters{
		Steps: uint64(io.c.steps), IdleSteps: uint64(io.c.idle_steps),
		InjectUnroutable: uint64(io.c.inject_unroutable), InjectDropped: uint64(io.c.inject_dropped),
		ControlDropped: uint64(io.c.ctl_dropped), TxRefused: io.txRefused(),
	}
}

func (io *IO) txRefused() uint64 {
	var n uint64
	for i := range int(io.c.n_tx) {
		n += uint64(io.c.tx[i].dropped)
	}
	return n
}

// TxCounters reads the sent and dropped counters of TX queue q.
func (io *IO) TxCounters(q int) (sent, dropped uint64) {
	t := &io.c.tx[q]
	return uint64(t.sent), uint64(t.dropped)
}

// RxPackets reads the packets received on RX queue q.
func (io *IO) RxPackets(q int) uint64 { return uint64(io.c.rx[q].packets) }
