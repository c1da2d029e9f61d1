package dataplane

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/classify"
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

// kernelSkip is how many polls of the members' queues the worker's loop
// makes without reading its TAP queues after finding them empty.
const kernelSkip = 4

// maxChain bounds the segments of one mbuf chain written to the TAP.
const maxChain = 16

// groSlots is how many TCP flows one vector coalesces at once, and
// groSegments how many wire segments one super-frame may hold.
const (
	groSlots    = 8
	groSegments = 64
)

// groFlow is one TCP super-frame being built from a vector's segments.
type groFlow struct {
	q     *tap.Queue
	first vnet.TCPSegment
	co    vnet.Coalesced
	mbufs [groSegments]*dpdk.Mbuf
	n     int
}

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
	vecSegs int          // the mbufs in vec, chains counted whole
	// vecMembers has bit i set when a frame in vec may go to member
	// slot i (sendWhole): a super-frame's segments to the member
	// superMember picked, any other frame to every member.
	vecMembers uint8
	spare      []*dpdk.Mbuf // allocated, not yet used
	hdr        []byte       // the virtio-net header of frames written to the kernel
	tag        []byte       // the 802.1Q tag sendWhole inserts
	room       int          // the room of an empty mbuf (segmentRoom)
	// gsoSkip counts, by team, member slot and GSO type (gsoKind), the
	// super-frames that go the PMD's way before sendWhole tries the
	// member's socket again.
	gsoSkip [MaxTeams][MaxMembers][2]uint8
	iov     [1 + max(maxChain, groSegments)]unix.Iovec
	gro     [groSlots]groFlow
	groUsed int
	// unflushed: the step's member vector is still in the IO's buffers.
	unflushed bool
	// skip is how many more polls leave the TAP queues unread: in the
	// worker's own loop (not for callers of Poll), kernelSkip after a
	// poll found them empty. A read that finds a TAP queue empty is a
	// system call, where a poll of the members' queues costs none; a
	// frame the kernel sends meanwhile waits a few member polls (an
	// idle worker's sleep ends at once for it: Worker.waiter).
	skip int
}

func newKernelIO(pool *dpdk.Mempool) *kernelIO {
	return &kernelIO{
		pool:  pool,
		buf:   make([]byte, tap.MaxFrame),
		vec:   make([]*dpdk.Mbuf, 0, dpdk.Vector),
		spare: make([]*dpdk.Mbuf, 0, dpdk.Vector),
		hdr:   make([]byte, vnet.HeaderLen),
		tag:   make([]byte, 4),
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
	k := w.kio
	if k.skip > 0 {
		k.skip--
		return 0
	}
	total := 0
	for i := range k.sources {
		total += w.readKernel(&k.sources[i])
	}
	if total == 0 && w.looping {
		k.skip = kernelSkip
	}
	return total
}

// readKernel reads up to kernelReads frames from one TAP queue, turns
// them into mbufs (segmenting super-frames, unless their member segments
// TCP itself) and forwards them in vectors. One snapshot serves the whole
// read, so a super-frame goes to the member it was prepared for.
func (w *Worker) readKernel(ks *kernelSource) int {
	k := w.kio
	t := int(ks.src.team)
	c := &w.counters.Teams[t]
	s := w.cfg.Snapshot.Load()
	total := 0
	var bad, noMbuf, oversize, super, offloaded, backoff uint64
	var refused [numGSORefusals]uint64
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
			total += w.queueKernel(ks, s, m, 1)
			k.vecMembers = allMembers // fromKernel decides
			continue
		}
		mi, b, p := w.superMember(s, ks.src, f)
		if tx := w.memberTx(ks.src, mi); tx != nil {
			n, r := w.sendWhole(ks, s, tx, mi, b, h, f)
			total += n
			// Unless it left, the frame takes the PMD's path.
			switch r {
			case wholeSent:
				offloaded++
				continue
			case wholeRefusedFull:
				refused[GSORefusedFull]++
			case wholeRefusedOther:
				refused[GSORefusedOther]++
			case wholeBackoff:
				backoff++
			}
		}
		m := w.mbuf()
		if m == nil {
			noMbuf++
			continue
		}
		if p != nil && SegmentsTCP(p) {
			segs, err := w.offloadChain(ks.src, m, h, f)
			switch {
			case err == errNoMbuf:
				noMbuf++
			case err != nil:
				bad++
			default:
				offloaded++
				total += w.queueKernel(ks, s, m, segs)
				k.vecMembers |= memberBit(mi)
			}
			continue
		}
		if err := k.seg.Reset(h, f, len(m.Room())); err != nil {
			k.spare = append(k.spare, m)
			bad++
			continue
		}
		super++
		for {
			m.SetLen(k.seg.Next(m.Room())) // at least one segment after a Reset
			total += w.queueKernel(ks, s, m, 1)
			k.vecMembers |= memberBit(mi)
			if k.seg.Done() {
				break
			}
			if m = w.mbuf(); m == nil {
				noMbuf++ // the rest of the super-frame is lost
				break
			}
		}
	}
	total += w.flushKernel(ks, s)
	if bad|noMbuf|oversize|super|offloaded|backoff|refused[0]|refused[1] != 0 {
		c.Drops[DropBadOffload].Add(bad)
		c.Drops[DropNoMbuf].Add(noMbuf)
		c.Drops[DropOversize].Add(oversize)
		c.SuperFrames.Add(super)
		c.OffloadedFrames.Add(offloaded)
		c.KernelGSOBackoff.Add(backoff)
		for i, n := range refused {
			c.KernelGSORefused[i].Add(n)
		}
	}
	return total
}

// tsoOffloads are the member TX offloads a TCP super-frame needs to be
// handed over whole: segmentation, the checksums it implies, and chains.
const tsoOffloads = dpdk.TxOffloadTCPTSO | dpdk.TxOffloadIPv4Csum | dpdk.TxOffloadTCPCsum | dpdk.TxOffloadMultiSegs

// SegmentsTCP reports whether the workers hand TCP super-frames from the
// kernel whole to member port p, for the device to segment.
func SegmentsTCP(p *dpdk.Port) bool { return p.TxOffloads&tsoOffloads == tsoOffloads }

// superMember returns the member slot that s sends super-frame f on (as
// fromKernel will pick it: a TCP super-frame is ClassL4, so its bucket's
// member), its bucket and the worker's port for it; -1 and nil when no
// member takes it.
func (w *Worker) superMember(s *Snapshot, src source, f []byte) (int8, uint8, *dpdk.Port) {
	ts := &s.Teams[src.team]
	r := classify.Frame(f)
	if r.Class > classify.ClassL3 {
		return -1, 0, nil
	}
	b := bucketOf(r.Hash)
	mi := ts.Table[b]
	if uint8(mi) >= MaxMembers {
		return -1, 0, nil
	}
	return mi, b, w.member[src.team][mi]
}

// errNoMbuf: the pool ran dry while a chain was built.
var errNoMbuf = errors.New("no mbuf")

// offloadChain copies TCP super-frame f into head and as many chained
// mbufs as it needs, with the offload requests for the member's TSO
// (issue 9: segmentation on the member NIC when it offers it). It returns
// the chain's mbuf count; on error every mbuf, head included, is released.
func (w *Worker) offloadChain(src source, head *dpdk.Mbuf, h vnet.Header, f []byte) (int, error) {
	o, err := vnet.PrepareTSO(h, f, len(head.Room()))
	if err != nil {
		w.kio.spare = append(w.kio.spare, head)
		return 0, err
	}
	n := copy(head.Room(), f)
	head.SetLen(n)
	segs := 1
	for rest := f[n:]; len(rest) > 0; rest = rest[n:] {
		m := w.mbuf()
		if m == nil {
			w.io.Drop(head)
			return 0, errNoMbuf
		}
		n = copy(m.Room(), rest)
		m.SetLen(n)
		head.Append(m)
		segs++
	}
	l2 := o.L2
	if w.vlanID[src.team][src.tap] != 0 {
		l2 += 4 // fromKernel inserts the VLAN's tag
	}
	flags := dpdk.TxFlagTCPSeg | dpdk.TxFlagTCPCsum | dpdk.TxFlagIPv6
	if !o.V6 {
		flags = dpdk.TxFlagTCPSeg | dpdk.TxFlagTCPCsum | dpdk.TxFlagIPv4 | dpdk.TxFlagIPCsum
	}
	head.SetTxOffload(flags, l2, o.L3, o.L4, o.MSS)
	return segs, nil
}

// queueKernel adds m, a frame of segs mbufs, to the vector being built,
// forwarding the vector first when m would not fit (a vector holds at
// most dpdk.Vector mbufs, chains included, as the pool is sized for) and
// after when it is full; it returns the frames forwarded.
func (w *Worker) queueKernel(ks *kernelSource, s *Snapshot, m *dpdk.Mbuf, segs int) int {
	k := w.kio
	total := 0
	if k.vecSegs+segs > dpdk.Vector {
		total = w.flushKernel(ks, s)
	}
	k.vec = append(k.vec, m)
	k.vecSegs += segs
	if k.vecSegs < dpdk.Vector {
		return total
	}
	return total + w.flushKernel(ks, s)
}

// flushKernel forwards the vector built so far and sends it at once (the
// members' TX buffers hold one vector).
func (w *Worker) flushKernel(ks *kernelSource, s *Snapshot) int {
	k := w.kio
	n := len(k.vec)
	if n == 0 {
		k.vecMembers = 0
		return 0
	}
	if k.unflushed {
		w.io.Flush()
		k.unflushed = false
	}
	w.forward(s, ks.src, k.vec)
	k.vec = k.vec[:0]
	k.vecSegs = 0
	k.vecMembers = 0
	w.io.Flush()
	return n
}

// toKernel passes a frame from the wire to a TAP queue. Plain TCP data
// segments are held and coalesced with the rest of their flow in this
// vector into one super-frame (GRO, issue 9); anything else is written at
// once, after what is held, so the kernel sees every flow in order. The
// frame is written (copied) or dropped by the time the vector ends.
func (w *Worker) toKernel(q *tap.Queue, m *dpdk.Mbuf, d *delta) {
	k := w.kio
	if m.Segments() == 1 {
		data := m.Data()
		if s, ok := vnet.ParseTCPSegment(data); ok {
			for i := range k.groUsed {
				f := &k.gro[i]
				if f.q != q || !vnet.SameFlow(f.co.First(), &f.first, data, &s) {
					continue
				}
				if f.n < groSegments && f.co.Append(data, s) {
					f.mbufs[f.n] = m
					f.n++
					return
				}
				w.writeFlow(f, d)
				w.startFlow(f, q, m, s)
				return
			}
			if k.groUsed == groSlots {
				w.flushGRO(d)
			}
			w.startFlow(&k.gro[k.groUsed], q, m, s)
			k.groUsed++
			return
		}
	}
	w.flushGRO(d)
	w.writeKernel(q, m, vnet.Header{}, d)
}

func (w *Worker) startFlow(f *groFlow, q *tap.Queue, m *dpdk.Mbuf, s vnet.TCPSegment) {
	f.q, f.first, f.n = q, s, 1
	f.mbufs[0] = m
	f.co.Start(m.Data(), s)
}

// flushGRO writes every super-frame held.
func (w *Worker) flushGRO(d *delta) {
	k := w.kio
	for i := range k.groUsed {
		w.writeFlow(&k.gro[i], d)
	}
	k.groUsed = 0
}

// writeFlow writes one super-frame: the first segment's frame with the
// super-frame's headers, then the payloads of the others, gathered by one
// writev straight from the mbufs.
func (w *Worker) writeFlow(f *groFlow, d *delta) {
	k := w.kio
	f.co.Finish().Encode(k.hdr)
	iov := k.iov[:2]
	iov[0] = unix.Iovec{Base: unsafe.SliceData(k.hdr), Len: vnet.HeaderLen}
	first := f.mbufs[0].Data()
	iov[1] = unix.Iovec{Base: unsafe.SliceData(first), Len: uint64(len(first))}
	bytes := uint64(len(first))
	hl := f.first.HeaderLen()
	for _, m := range f.mbufs[1:f.n] {
		p := m.Data()[hl:]
		iov = append(iov, unix.Iovec{Base: unsafe.SliceData(p), Len: uint64(len(p))})
		bytes += uint64(len(p) + hl)
	}
	if f.q.Write(iov) == nil {
		d.txPkts[TapIndex] += uint64(f.n)
		d.txBytes[TapIndex] += bytes
		if f.n > 1 {
			d.coalesced++
			d.coalescedSegs += uint64(f.n)
		}
	} else {
		d.drop(DropKernelWrite, uint64(f.n))
	}
	for _, m := range f.mbufs[:f.n] {
		w.io.Drop(m)
	}
	f.n = 0
}

// writeKernel writes m to a TAP queue headed by h and frees it.
func (w *Worker) writeKernel(q *tap.Queue, m *dpdk.Mbuf, h vnet.Header, d *delta) {
	k := w.kio
	h.Encode(k.hdr)
	iov := k.iov[:1]
	iov[0] = unix.Iovec{Base: unsafe.SliceData(k.hdr), Len: vnet.HeaderLen}
	ok := true
	for s := m; s != nil; s = s.Next() {
		if len(iov) == 1+maxChain {
			ok = false
			break
		}
		if b := s.Data(); len(b) != 0 {
			iov = append(iov, unix.Iovec{Base: unsafe.SliceData(b), Len: uint64(len(b))})
		}
	}
	if ok && q.Write(iov) == nil {
		d.txPkts[TapIndex]++
		d.txBytes[TapIndex] += uint64(m.PktLen())
	} else {
		d.drop(DropKernelWrite, 1)
	}
	w.io.Drop(m)
}
