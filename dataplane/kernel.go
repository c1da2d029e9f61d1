package dataplane

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/tap"
	"github.com/teamgw/teamgw/dataplane/vnet"
)

// The worker's side of a team's TAP (issue 9): frames the kernel sends are
// read with their virtio-net header, checksums the kernel left partial
// are completed and TCP/UDP super-frames are cut into wire-sized segments
// straight into mbufs; frames for the kernel are written with a header
// that asks for nothing.

// kernelReads bounds the frames read from one TAP queue per poll, so the
// members' queues get their turn while the kernel is sending.
const kernelReads = 16

// maxChain bounds the segments of one mbuf chain written to the TAP.
const maxChain = 16

// kernelSource is one TAP queue the worker polls.
type kernelSource struct {
	q   *tap.Queue
	src source
}

// kernelIO is the worker's state for its TAP queues; it exists only when
// a team has a TAP.
type kernelIO struct {
	pool    *dpdk.Mempool
	sources []kernelSource
	buf     []byte // one frame read from the kernel
	seg     vnet.Segmenter
	vec     []*dpdk.Mbuf // a vector being built, at most dpdk.Vector
	spare   []*dpdk.Mbuf // allocated, not yet used
	hdr     []byte       // the virtio-net header of frames written to the kernel
	iov     [1 + maxChain]unix.Iovec
}

func newKernelIO(pool *dpdk.Mempool) *kernelIO {
	return &kernelIO{
		pool:  pool,
		buf:   make([]byte, tap.MaxFrame),
		vec:   make([]*dpdk.Mbuf, 0, dpdk.Vector),
		spare: make([]*dpdk.Mbuf, 0, dpdk.Vector),
		hdr:   make([]byte, vnet.HeaderLen),
	}
}

// mbuf returns an empty mbuf, refilling the spares in bulk; nil when the
// pool is dry.
func (w *Worker) mbuf() *dpdk.Mbuf {
	k := w.kio
	if len(k.spare) == 0 {
		k.spare = append(k.spare, w.io.Alloc(k.pool, dpdk.Burst)...)
		if len(k.spare) == 0 {
			return nil
		}
	}
	m := k.spare[len(k.spare)-1]
	k.spare = k.spare[:len(k.spare)-1]
	return m
}

// pollKernel reads what the kernel sent on the worker's TAP queues and
// forwards it; it returns the frames handled.
func (w *Worker) pollKernel() int {
	total := 0
	for i := range w.kio.sources {
		total += w.readKernel(&w.kio.sources[i])
	}
	return total
}

// readKernel reads up to kernelReads frames from one TAP queue, turns
// them into mbufs (segmenting super-frames) and forwards them in vectors.
func (w *Worker) readKernel(ks *kernelSource) int {
	k := w.kio
	t := int(ks.src.team)
	c := &w.counters.Teams[t]
	total := 0
	var bad, noMbuf, oversize, super uint64
	for range kernelReads {
		n, err := ks.q.Read(k.buf)
		if n == 0 || err != nil {
			break
		}
		h, err := vnet.Decode(k.buf[:n])
		if err != nil {
			bad++
			continue
		}
		f := k.buf[vnet.HeaderLen:n]
		if h.GSOType == vnet.GSONone {
			if h.Flags&vnet.FlagNeedsCsum != 0 && vnet.CompleteChecksum(h, f) != nil {
				bad++
				continue
			}
			m := w.mbuf()
			if m == nil {
				noMbuf++
				continue
			}
			room := m.Room()
			if len(f) > len(room) {
				k.spare = append(k.spare, m)
				oversize++
				continue
			}
			m.SetLen(copy(room, f))
			total += w.queueKernel(ks, m)
			continue
		}
		m := w.mbuf()
		if m == nil {
			noMbuf++
			continue
		}
		if err := k.seg.Reset(h, f, len(m.Room())); err != nil {
			k.spare = append(k.spare, m)
			bad++
			continue
		}
		super++
		for m != nil {
			l := k.seg.Next(m.Room())
			if l == 0 {
				k.spare = append(k.spare, m)
				break
			}
			m.SetLen(l)
			total += w.queueKernel(ks, m)
			if m = w.mbuf(); m == nil {
				noMbuf++ // the rest of the super-frame is lost
			}
		}
	}
	total += w.flushKernel(ks)
	if bad|noMbuf|oversize|super != 0 {
		c.Drops[DropBadOffload].Add(bad)
		c.Drops[DropNoMbuf].Add(noMbuf)
		c.Drops[DropOversize].Add(oversize)
		c.SuperFrames.Add(super)
	}
	return total
}

// queueKernel adds m to the vector being built, forwarding the vector
// when it is full; it returns the frames forwarded.
func (w *Worker) queueKernel(ks *kernelSource, m *dpdk.Mbuf) int {
	k := w.kio
	k.vec = append(k.vec, m)
	if len(k.vec) < dpdk.Vector {
		return 0
	}
	return w.flushKernel(ks)
}

// flushKernel forwards the vector built so far and sends it at once (the
// members' TX buffers hold one vector).
func (w *Worker) flushKernel(ks *kernelSource) int {
	k := w.kio
	n := len(k.vec)
	if n == 0 {
		return 0
	}
	w.forward(w.cfg.Snapshot.Load(), ks.src, k.vec)
	k.vec = k.vec[:0]
	w.io.Flush()
	return n
}

// writeKernel writes m to a TAP queue, headed by a virtio-net header that
// asks for nothing (the kernel checks checksums itself), and reports
// whether the kernel took it. The caller still owns m.
func (w *Worker) writeKernel(q *tap.Queue, m *dpdk.Mbuf) bool {
	k := w.kio
	iov := k.iov[:1]
	iov[0] = unix.Iovec{Base: unsafe.SliceData(k.hdr), Len: vnet.HeaderLen}
	for s := m; s != nil; s = s.Next() {
		if len(iov) == len(k.iov) {
			return false
		}
		d := s.Data()
		if len(d) == 0 {
			continue
		}
		iov = append(iov, unix.Iovec{Base: unsafe.SliceData(d), Len: uint64(len(d))})
	}
	return q.Write(iov) == nil
}
