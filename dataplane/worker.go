package dataplane

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/afpacket"
	"github.com/teamgw/teamgw/dataplane/classify"
	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/dataplane/tap"
)

// TeamPorts are the ports of one team as a worker sees them.
type TeamPorts struct {
	// Kernel is the team's kernel-facing TAP (untagged frames), one
	// queue per worker; Tap, a DPDK port, stands in for it when nil
	// (benchmarks and tests feed the outbound path through net_ring).
	Kernel *tap.Device
	// Tap is the team's kernel-facing DPDK port when Kernel is nil.
	Tap *dpdk.Port
	// VLANs are the kernel-facing ports of the team's 802.1Q VLANs.
	VLANs []VLANPort
	// Members are the member ports by slot: the index the snapshot uses
	// for the member (TeamState.Table, RxMask, ...). A nil entry is a free
	// slot; a member keeps its slot while others come and go.
	Members []*dpdk.Port
	// MemberTx, by slot like Members, are the packet sockets of a
	// kernel-backed member, one per worker by worker index, that TCP
	// super-frames from the TAP leave on whole (kernelgso.go); nil for
	// other members.
	MemberTx []afpacket.Senders
}

// VLANPort is the kernel-facing port of one VLAN: frames from it leave
// the members tagged with ID, tagged frames for ID reach it untagged.
type VLANPort struct {
	ID     uint16
	Kernel *tap.Device // as TeamPorts.Kernel
	Tap    *dpdk.Port  // as TeamPorts.Tap
}

// MaxVLANs is the most VLANs a team may have (BASP's limit).
const MaxVLANs = 64

// WorkerConfig describes one worker lcore.
type WorkerConfig struct {
	// ID is the worker's index; it is also the queue the worker owns on
	// every port.
	ID int
	// Core is the CPU the worker is pinned to; -1 leaves it unpinned.
	Core int
	// Teams are the ports to poll and transmit on, indexed like
	// Snapshot.Teams.
	Teams []TeamPorts
	// Snapshot is where the control plane publishes forwarding state.
	Snapshot *atomic.Pointer[Snapshot]
	// Inject, if set, carries frames from the control plane that the
	// worker transmits on the port each frame names.
	Inject *dpdk.Ring
	// Control, if set, carries frames for the control plane (LACPDUs,
	// markers) from this worker; single producer. Their mbuf's Port
	// field names the member port they arrived on.
	Control *dpdk.Ring
	// Pool is where mbufs for frames read from a TAP come from; needed
	// when a team has a Kernel device.
	Pool *dpdk.Mempool
	// IdleSleep, if non-zero, makes an idle worker sleep that long after
	// idlePolls empty polls in a row instead of spinning (for small
	// shared machines; a dedicated appliance core should spin). A frame
	// the kernel sends on one of the worker's TAP queues ends the sleep
	// at once; the members' queues wait for its end.
	IdleSleep time.Duration
}

// idlePolls is how many empty polls in a row make a worker idle (see
// WorkerConfig.IdleSleep).
const idlePolls = 32

// slowWindow counts the slow-protocols frames from unknown sources a
// member handed to control since start.
type slowWindow struct {
	start time.Time
	used  int
}

// source says where an RX queue's frames come from.
type source struct {
	team   int8
	member int8  // -1 for a kernel-facing port
	tap    uint8 // which kernel-facing port: 0 untagged, i VLAN i-1
}

// Worker is one pinned, EAL-registered poll loop.
type Worker struct {
	cfg     WorkerConfig
	io      *dpdk.IO
	sources [dpdk.MaxQueues]source
	tapQ    [MaxTeams][1 + MaxVLANs]*dpdk.TxQueue // kernel-facing TX queues (DPDK ports)
	kernelQ [MaxTeams][1 + MaxVLANs]*tap.Queue    // kernel-facing TAP queues
	kio     *kernelIO                             // nil when no team has a TAP
	// waiter puts the worker to sleep when idle (IdleSleep), woken early
	// by its TAP queues.
	waiter tap.Waiter
	// looping: the worker's own loop polls (Start), not a harness.
	looping bool
	slow    [MaxTeams][MaxMembers]slowWindow // slow-protocols budget per member
	vlanID  [MaxTeams][1 + MaxVLANs]uint16   // VLAN of each kernel-facing port
	vlanTap [MaxTeams]*[4096]uint8           // VLAN ID -> kernel-facing port, 0 = none
	memberQ [MaxTeams][MaxMembers]*dpdk.TxQueue
	// slots is, per team, one more than its highest member slot with a
	// queue: the loops over a team's members stop there.
	slots [MaxTeams]uint8
	// dst and others are fromKernel's scratch space: the member chosen
	// for each frame of a vector, and the frames chooseFast left over.
	dst      [dpdk.Vector]int8
	others   [dpdk.Vector]uint8
	fast     fastQueues                   // sendFast's
	memberID [MaxTeams][MaxMembers]uint16 // member port ids
	member   [MaxTeams][MaxMembers]*dpdk.Port
	// next is a new port set waiting for the worker (SetPorts).
	next     atomic.Pointer[portSet]
	counters WorkerCounters
	pend     pendingCounters // counts not yet in counters
	bucketC  *dpdk.Counters
	buckets  []uint64 // bucketC's words: packets and bytes per team and bucket
	clientC  *dpdk.Counters
	clients  []uint64 // clientC's words: packets and bytes per team and client slot
	stop     atomic.Bool
	started  atomic.Bool
	freed    atomic.Bool
	done     chan struct{}
	lcore    int

	// rxView is each team's fast-test view (rxFast) of the snapshot it
	// was loaded from, reused while vectors come with that snapshot.
	rxView [MaxTeams]rxView
}

// NewWorker allocates a worker's I/O vector, queues and counters; Start
// runs it.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.Snapshot == nil {
		return nil, errors.New("dataplane: worker without a snapshot")
	}
	if err := checkPorts(cfg.ID, cfg.Pool, cfg.Teams); err != nil {
		return nil, err
	}
	io, err := dpdk.NewIO(0)
	if err != nil {
		return nil, err
	}
	w := &Worker{cfg: cfg, io: io, done: make(chan struct{}), lcore: -1}
	if err := w.addQueues(); err != nil {
		io.Free()
		return nil, err
	}
	if cfg.Inject != nil {
		io.SetInject(cfg.Inject)
	}
	if cfg.Control != nil {
		io.SetControl(cfg.Control)
	}
	if w.bucketC, err = dpdk.NewCounters(bucketWords); err != nil {
		io.Free()
		return nil, err
	}
	w.buckets = w.bucketC.Slice()
	if w.clientC, err = dpdk.NewCounters(clientWords); err != nil {
		w.bucketC.Free()
		io.Free()
		return nil, err
	}
	w.clients = w.clientC.Slice()
	for t := range w.rxView {
		w.rxView[t].f.clients = w.clientTable(t)
	}
	return w, nil
}

// checkPorts reports what would keep worker id from owning a queue on
// every port of teams.
func checkPorts(id int, pool *dpdk.Mempool, teams []TeamPorts) error {
	if len(teams) > MaxTeams {
		return fmt.Errorf("dataplane: %d teams, at most %d", len(teams), MaxTeams)
	}
	queues := 0
	for t, tp := range teams {
		if len(tp.Members) > MaxMembers {
			return fmt.Errorf("dataplane: team %d has %d member slots, at most %d", t, len(tp.Members), MaxMembers)
		}
		if len(tp.VLANs) > MaxVLANs {
			return fmt.Errorf("dataplane: team %d has %d VLANs, at most %d", t, len(tp.VLANs), MaxVLANs)
		}
		seen := map[uint16]bool{}
		devs := []*tap.Device{tp.Kernel}
		ports := 0
		if tp.Kernel == nil && tp.Tap != nil {
			ports++
		}
		for _, v := range tp.VLANs {
			if v.ID < 1 || v.ID > 4094 || seen[v.ID] {
				return fmt.Errorf("dataplane: team %d: bad or duplicate VLAN %d", t, v.ID)
			}
			seen[v.ID] = true
			devs = append(devs, v.Kernel)
			if v.Kernel == nil && v.Tap != nil {
				ports++
			}
		}
		for _, d := range devs {
			if d == nil {
				continue
			}
			if id >= d.Queues() {
				return fmt.Errorf("dataplane: TAP %s has %d queues, worker %d needs its own", d.Name, d.Queues(), id)
			}
			if pool == nil {
				return errors.New("dataplane: a worker with a TAP needs a mempool")
			}
		}
		for _, p := range tp.Members {
			if p != nil {
				ports++
			}
		}
		queues += ports
	}
	if queues > dpdk.MaxQueues {
		return fmt.Errorf("dataplane: %d ports, a worker polls at most %d", queues, dpdk.MaxQueues)
	}
	return nil
}

// addQueues registers the worker's queue on every port of every team; the
// ports were checked by checkPorts.
func (w *Worker) addQueues() error {
	q := uint16(w.cfg.ID)
	for t, tp := range w.cfg.Teams {
		type kernelPort struct {
			dev  *tap.Device
			port *dpdk.Port
		}
		taps := []kernelPort{{tp.Kernel, tp.Tap}}
		w.vlanTap[t] = new([4096]uint8)
		for i, v := range tp.VLANs {
			taps = append(taps, kernelPort{v.Kernel, v.Tap})
			w.vlanID[t][i+1] = v.ID
			w.vlanTap[t][v.ID] = uint8(i + 1)
		}
		for k, kp := range taps {
			if kp.dev != nil {
				if w.kio == nil {
					w.kio = newKernelIO(w.cfg.Pool)
				}
				tq := kp.dev.Queue(w.cfg.ID)
				w.kernelQ[t][k] = tq
				w.kio.sources = append(w.kio.sources, kernelSource{q: tq, src: source{team: int8(t), member: -1, tap: uint8(k)}})
				w.waiter.Add(tq)
				continue
			}
			p := kp.port
			if p == nil {
				continue
			}
			i, err := w.io.AddRx(p, q)
			if err != nil {
				return err
			}
			w.sources[i] = source{team: int8(t), member: -1, tap: uint8(k)}
			qi, err := w.io.AddTx(p, q)
			if err != nil {
				return err
			}
			w.tapQ[t][k] = w.io.Queue(qi)
		}
		for m, p := range tp.Members {
			if p == nil {
				continue
			}
			i, err := w.io.AddRx(p, q)
			if err != nil {
				return err
			}
			w.sources[i] = source{team: int8(t), member: int8(m)}
			qi, err := w.io.AddTx(p, q)
			if err != nil {
				return err
			}
			if freesOnSend(p) {
				w.io.PrefetchTx(qi)
			}
			w.memberQ[t][m] = w.io.Queue(qi)
			w.slots[t] = uint8(m + 1)
			w.memberID[t][m] = p.ID
			w.member[t][m] = p
		}
	}
	return nil
}

// Changing a running worker's ports (member hot add and remove, VLANs
// added or removed by a reload). The worker owns its queue tables — the C
// I/O vector's RX and TX lists and the Go tables that map a queue to its
// team and member slot — and never locks them, so nobody else may change
// them while it polls. SetPorts therefore hands the worker a complete new
// port set and the worker applies it itself, between two polls: it sends
// what it has buffered (on the old ports, still running), forgets every
// queue and registers the new set. That takes microseconds; meanwhile the
// other ports' frames wait in their RX rings, so traffic on members the
// change does not touch is delayed, not lost. Workers apply the set one
// by one, each at its own poll boundary, with no barrier between them.
//
// That is safe because of two rules the control plane keeps:
//
//   - a member keeps its slot (TeamPorts.Members index, the member index of
//     the snapshot) for as long as it is a member, so a port set never
//     moves a member that stays;
//   - a snapshot names a slot only while every worker has its queues: a new
//     member's slot appears in a snapshot only after SetPorts returned on
//     every worker, and a member leaves every snapshot before the port set
//     without it is handed out; its port is stopped only after SetPorts
//     returned on every worker (none polls it or holds frames for it).
//
// A worker that gets a new port for a slot zeroes that slot's counters:
// they belong to the new member.

// portSet is a port set waiting for a worker.
type portSet struct {
	teams []TeamPorts
	done  chan error
}

// freesOnSend reports whether port p's PMD frees each mbuf it sends
// within the send (a virtual device that copies the frame out, or drops
// it), so that prefetching a member burst pays (IO.PrefetchTx; measured
// with net_null). A NIC's PMD frees at a later completion, when the
// prefetched lines are long gone: its queues do not prefetch.
func freesOnSend(p *dpdk.Port) bool {
	info, err := p.Info()
	if err != nil {
		return false
	}
	switch info.Driver {
	case "net_null", "net_af_packet", "net_tap":
		return true
	}
	return false
}

// SetPorts gives the worker a new set of ports and returns once the worker
// uses it (see above); a worker that is not running takes it at once. It
// fails without changing anything if the set does not fit the worker, and
// with ctx's error if the worker did not take the set in time (it may
// still take it later: the caller must not free the old ports).
func (w *Worker) SetPorts(ctx context.Context, teams []TeamPorts) error {
	if err := checkPorts(w.cfg.ID, w.cfg.Pool, teams); err != nil {
		return err
	}
	if !w.started.Load() || w.exited() {
		return w.applyPorts(teams)
	}
	ps := &portSet{teams: teams, done: make(chan error, 1)}
	w.next.Store(ps)
	select {
	case err := <-ps.done:
		return err
	case <-w.done:
		select {
		case err := <-ps.done: // taken just before the loop ended
			return err
		default:
			return w.applyPorts(teams)
		}
	case <-ctx.Done():
		return fmt.Errorf("dataplane: worker %d did not take its new ports: %w", w.cfg.ID, ctx.Err())
	}
}

// exited reports whether the poll loop has ended.
func (w *Worker) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// takePorts applies a port set SetPorts left for the running worker.
func (w *Worker) takePorts() {
	ps := w.next.Swap(nil)
	if ps == nil {
		return
	}
	ps.done <- w.applyPorts(ps.teams)
}

// applyPorts replaces the worker's queues with those of teams. Only the
// goroutine that polls (or, when none does, the owner) calls it.
func (w *Worker) applyPorts(teams []TeamPorts) error {
	if w.freed.Load() {
		w.cfg.Teams = teams // nothing polls any more
		return nil
	}
	w.io.Reset()
	w.sources = [dpdk.MaxQueues]source{}
	w.tapQ = [MaxTeams][1 + MaxVLANs]*dpdk.TxQueue{}
	w.kernelQ = [MaxTeams][1 + MaxVLANs]*tap.Queue{}
	w.vlanID = [MaxTeams][1 + MaxVLANs]uint16{}
	w.vlanTap = [MaxTeams]*[4096]uint8{}
	w.memberQ = [MaxTeams][MaxMembers]*dpdk.TxQueue{}
	w.slots = [MaxTeams]uint8{}
	w.memberID = [MaxTeams][MaxMembers]uint16{}
	w.member = [MaxTeams][MaxMembers]*dpdk.Port{}
	w.waiter.Reset()
	if w.kio != nil {
		w.kio.sources = w.kio.sources[:0]
		// A slot the new set reuses starts without the backoff of
		// the member that had it.
		w.kio.gsoSkip = [MaxTeams][MaxMembers][2]uint8{}
	}
	w.cfg.Teams = teams
	// A slot's counters are not reset when another port takes it: the
	// control plane keeps each member's starting point, so that the
	// team's totals stay whole over member changes.
	return w.addQueues()
}

// BucketCounters are the worker's per-bucket packet and byte counters
// (see AddBuckets); valid until Free.
func (w *Worker) BucketCounters() []uint64 { return w.buckets }

// ClientCounters are the worker's per-client packet and byte counters, by
// team and slot of the published RxSlots (see ClientSlotCounters); valid
// until Free.
func (w *Worker) ClientCounters() []uint64 { return w.clients }

// Free releases the worker's counters; call it after Stop.
func (w *Worker) Free() {
	w.Stop()
	if w.kio != nil {
		for _, m := range w.kio.spare {
			m.Free()
		}
		w.kio.spare = w.kio.spare[:0]
	}
	w.bucketC.Free()
	w.buckets = nil
	w.clientC.Free()
	w.clients = nil
}

// Counters are the worker's counters, readable from any goroutine. A
// running worker adds its counts every publishEvery vectors and whenever a
// step finds nothing (PublishCounters).
func (w *Worker) Counters() *WorkerCounters { return &w.counters }

// IOCounters are the worker's I/O counters (steps, idle steps, ...).
func (w *Worker) IOCounters() dpdk.IOCounters { return w.io.Counters() }

// Lcore is the EAL lcore id the worker registered as (-1 before Start).
func (w *Worker) Lcore() int { return w.lcore }

// Start pins the worker's thread, registers it with the EAL and runs the
// poll loop until Stop. It returns once the worker is running or failed
// to start.
func (w *Worker) Start() error {
	ready := make(chan error, 1)
	w.started.Store(true)
	go w.run(ready)
	return <-ready
}

// Stop ends the poll loop, flushes what is buffered and frees the I/O
// vector. It is safe to call more than once.
func (w *Worker) Stop() {
	w.stop.Store(true)
	if !w.started.Load() {
		if w.io != nil && !w.freed.Swap(true) {
			w.io.Free()
		}
		return
	}
	<-w.done
}

func (w *Worker) run(ready chan<- error) {
	// The thread's affinity changes: it must never run other goroutines
	// afterwards, so the goroutine exits while still locked and the
	// runtime discards the thread.
	runtime.LockOSThread()
	// Named for operators (top -H, ps -L) and tools: tg-worker-<id>.
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte(fmt.Sprintf("tg-worker-%d\x00", w.cfg.ID))[0])), 0, 0, 0)
	defer close(w.done)
	defer func() {
		if !w.freed.Swap(true) {
			w.io.Free()
		}
	}()
	if w.cfg.Core >= 0 {
		var set unix.CPUSet
		set.Set(w.cfg.Core)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			ready <- fmt.Errorf("dataplane: worker %d: pin to CPU %d: %w", w.cfg.ID, w.cfg.Core, err)
			return
		}
	}
	lcore, err := dpdk.RegisterThread()
	if err != nil {
		ready <- fmt.Errorf("dataplane: worker %d: %w", w.cfg.ID, err)
		return
	}
	defer dpdk.UnregisterThread()
	w.lcore = lcore
	ready <- nil
	w.looping = true
	idle := 0
	for !w.stop.Load() {
		if w.next.Load() != nil {
			w.takePorts()
		}
		if w.Poll() == 0 {
			idle++
			if w.cfg.IdleSleep > 0 && idle >= idlePolls && w.waiter.Wait(w.cfg.IdleSleep) {
				w.kio.skip = 0 // woken by a TAP queue: read it now
			}
			continue
		}
		idle = 0
	}
	w.io.Flush()
	w.publishCounters()
}

// Poll runs one iteration of the worker loop — one step, then the
// forwarding of the vector it received — and returns the packets handled.
// The loop of Start calls it; a benchmark harness may call it directly on
// its own registered lcore thread instead of starting the worker.
func (w *Worker) Poll() int {
	pkts, q := w.io.Step()
	n := len(pkts)
	if n > 0 {
		w.forward(w.cfg.Snapshot.Load(), w.sources[q], pkts)
	}
	if w.kio != nil {
		// A member vector's frees and transmits must go out before a
		// TAP vector queues its own (the IO's side buffers hold one
		// vector's worth, dpdk.SideCap): flushKernel flushes first
		// when the TAP had anything.
		w.kio.unflushed = n > 0
		n += w.pollKernel()
	}
	if n == 0 && w.pend.vectors != 0 {
		w.publishCounters()
	}
	return n
}

// PublishCounters makes the counts of every vector handled so far visible
// in Counters. The worker does so every few vectors and whenever it finds
// nothing to do; a harness that calls Poll and reads the counters while
// traffic is still queued calls it, from the thread that polls.
func (w *Worker) PublishCounters() { w.publishCounters() }

// IO is the worker's I/O vector, for harnesses (e.g. to attach a
// benchmark feed). The worker owns it: use it only while Poll is not
// running concurrently.
func (w *Worker) IO() *dpdk.IO { return w.io }

// forward decides the fate of one vector. All packets of a vector come
// from one queue, so from one port of one team.
func (w *Worker) forward(s *Snapshot, src source, pkts []*dpdk.Mbuf) {
	t := int(src.team)
	ts := &s.Teams[t]
	head, headBytes := 0, uint64(0)
	if src.member >= 0 {
		if head, headBytes = w.wireHead(t, ts, int(src.member), pkts); head < 0 {
			return
		}
	}
	var d delta
	if src.member < 0 {
		w.fromKernel(t, ts, w.vlanID[t][src.tap], pkts, &d)
	} else {
		w.fromWire(t, ts, int(src.member), pkts, head, headBytes, &d)
	}
	p := &w.pend
	c := &p.teams[t]
	rx := &c.Ports[TapIndex]
	if src.member >= 0 {
		rx = &c.Ports[src.member]
	}
	rx.RxPackets += uint64(len(pkts))
	rx.RxBytes += d.rxBytes
	// Frames from the wire go to the kernel, those from the kernel to
	// the team's members.
	if src.member >= 0 {
		d.addTx(c, TapIndex)
	} else if d.generalTx {
		for i := range int(w.slots[t]) {
			d.addTx(c, i)
		}
	}
	if d.dropped != 0 {
		for r, n := range d.drops {
			c.Drops[r] += n
		}
	}
	for k, n := range d.classes[:classify.NumClasses] {
		c.Classes[k] += n
	}
	c.ToControl += d.toControl
	c.Coalesced += d.coalesced
	c.CoalescedSegments += d.coalescedSegs
	p.dirty |= 1 << t
	p.sizes[vectorSizeBucket(len(pkts))]++
	p.packets += uint64(len(pkts))
	if p.vectors++; p.vectors >= publishEvery {
		w.publishCounters()
	}
}

// delta accumulates one vector's counts, added to the shared counters once.
type delta struct {
	rxBytes uint64
	txPkts  [MaxMembers + 1]uint64
	txBytes [MaxMembers + 1]uint64
	drops   [NumDropReasons]uint64
	// dropped is the sum of drops, for one test when nothing was
	// dropped (delta.drop keeps it).
	dropped uint64
	classes [classMask + 1]uint64
	// toControl counts frames handed to the control plane.
	toControl uint64
	// coalesced and coalescedSegs count the TCP super-frames written to
	// the kernel and the segments in them.
	coalesced, coalescedSegs uint64
	// generalTx: txPkts and txBytes hold counts of members (frames from
	// the kernel that took the general path); sendFast's counts go to
	// the team's totals directly (fastQueues.store).
	generalTx bool
}

// addTx adds port i's transmit counts to c.
func (d *delta) addTx(c *TeamTotals, i int) {
	c.Ports[i].TxPackets += d.txPkts[i]
	c.Ports[i].TxBytes += d.txBytes[i]
}

// drop counts n frames dropped for reason r.
func (d *delta) drop(r DropReason, n uint64) {
	d.drops[r] += n
	d.dropped += n
}

// classMask bounds a class index for the per-vector class counts (an
// array of 8 needs no bounds check).
const classMask = 7

// fromKernel sends frames from the team's TAP: IP flows by their bucket,
// everything else on the path member (BASP outbound flow table, seed 004).
// In SLB a frame leaves with its member's own source MAC. Frames from a
// VLAN's kernel port (vid != 0) are classified untagged (the hash is the
// same as for the tagged frame) and get their 802.1Q tag last.
//
// This is the outbound hot path, written so that the loops every frame
// goes through make no call into the general classifier: a call in a
// loop makes Go spill the loop's values on every iteration. sendFast
// sends the leading run of common frames (untagged IP without options or
// extension headers, for a member with room; for most traffic the whole
// vector) in one pass. The rest goes in passes, at most dpdk.Vector
// frames at a time: chooseFast picks the member of the common frames and
// lists the others, kernelMember picks theirs, tagging (VLANs only) marks
// the frames that cannot take their tag, and sendChosen queues or drops
// every frame in order. Frame order is kept throughout.
func (w *Worker) fromKernel(t int, ts *TeamState, vid uint16, pkts []*dpdk.Mbuf, d *delta) {
	// Team t's packet and byte counter pairs, by bucket.
	buckets := (*bucketCounters)(unsafe.Pointer((*[NBuckets * 2]uint64)(w.buckets[bucketIndex(t, 0):])))
	if q := &w.fast; vid == 0 && q.load(&w.memberQ[t], w.slots[t], ts) {
		var n int
		if vec := pkts[:min(len(pkts), dpdk.Vector)]; ts.Rewrite == 0 {
			n = sendFast(0, q, vec, 0, buckets)
		} else {
			n = sendFastSLB(0, q, vec, 0, buckets)
		}
		d.rxBytes += q.store(&w.memberQ[t], &w.pend.teams[t])
		d.classes[classify.ClassL3] += q.l3
		d.classes[classify.ClassL4] += uint64(n) - q.l3
		pkts = pkts[n:]
	}
	d.generalTx = d.generalTx || len(pkts) > 0
	for len(pkts) > 0 {
		vec := pkts[:min(len(pkts), dpdk.Vector)]
		pkts = pkts[len(vec):]
		dst := w.dst[:len(vec)]
		l3 := d.classes[classify.ClassL3]
		others := chooseFast(ts, vec, dst, buckets, &w.others, &d.classes)
		d.classes[classify.ClassL4] += uint64(len(vec)-len(others)) - (d.classes[classify.ClassL3] - l3)
		for _, i := range others {
			dst[i] = kernelMember(ts, vec[i].Data(), uint64(vec[i].PktLen()), buckets, d)
		}
		if vid != 0 {
			for i, m := range vec {
				if uint8(dst[i]) < MaxMembers && !tagFrame(m, vid) {
					dst[i] = untaggable
				}
			}
		}
		w.sendChosen(ts, &w.memberQ[t], vec, dst, d)
	}
	// Every frame was sent on a member or dropped.
	if d.generalTx {
		for _, b := range d.txBytes[:min(w.slots[t], MaxMembers)] {
			d.rxBytes += b
		}
	}
}

// Member choices (int8) that name no member: a frame chooseFast leaves to
// kernelMember, and a frame for a VLAN that could not take its tag. A
// negative member from the snapshot means none is usable (DropNoMember).
const (
	notChosen  = -128
	untaggable = -127
)

// sendFast queues the frames of pkts from index i on, in one pass, while
// they are ones chooseFast would take for a member, and returns the index
// of the first it left (len(pkts) if none), counting their buckets in
// buckets, and in q their classes and each
// member's bytes (sendFastSLB does the same for SLB, giving frames their
// member's source MAC). It fills the members' buffers through q (see
// fastQueues), without testing for room: it takes at most dpdk.Vector
// frames, which fastQueues.load made sure fit. Like the other loops of
// fromKernel it is kept out of line, so that PGO does not merge it into a
// function whose loops make calls. Its arguments are laid out for the
// register allocator: the hash's 128-bit multiply clobbers AX and DX, and
// a value the loop keeps in either is moved out and back on every turn.
// The unused first argument takes AX, so q arrives in BX; the loop starts
// at i, an argument, and buckets comes as one too, so that no value made
// before the loop lands in AX or DX; pkts holds at most dpdk.Vector
// frames (the caller's slice), which fastQueues.load made room for.
//
//go:noinline
func sendFast(_ uintptr, q *fastQueues, pkts []*dpdk.Mbuf, i int, buckets *bucketCounters) int {
	if !q.valid {
		return 0
	}
	// Both pointers tested once here, not on every turn.
	_, _ = q.table[0], buckets[0]
	for ; uint(i) < uint(len(pkts)); i++ {
		m := pkts[i]
		data := m.Data()
		// As in chooseFast: the classifier's checks inline, one by one
		// (a helper holding them would be too big to inline).
		var b uint8
		switch {
		case classify.IsFastL4(data):
			b = bucketOf(classify.FastL4Hash(data))
		case classify.IsFastV6L4(data):
			b = bucketOf(classify.MixV6L4(classify.FastV6L4Words(data)))
		case classify.IsFastV4L3(data):
			b = bucketOf(classify.FastV4L3Hash(data))
			q.l3++
		default:
			return i
		}
		q.put(m, b, buckets)
	}
	return len(pkts)
}

// put queues m, of bucket b, on the member the table names for b and
// counts it; it returns that member. The table is valid (load): the mask
// only spares a bounds check.
func (q *fastQueues) put(m *dpdk.Mbuf, b uint8, buckets *bucketCounters) uint {
	mi := uint(uint8(q.table[b])) & (MaxMembers - 1)
	n := uint64(m.PktLen())
	// next holds a C address as a uintptr (a pointer type would take a
	// write barrier at every bump), read here as the pointer it is.
	*(*uintptr)(*(*unsafe.Pointer)(unsafe.Pointer(&q.next[mi]))) = dpdk.MbufAddr(m)
	q.next[mi] += unsafe.Sizeof(uintptr(0))
	buckets[0][b]++
	buckets[1][b] += n
	q.bytes[mi] += n
	return mi
}

// sendFastSLB is sendFast for a team whose members transmit with their
// own MACs (SLB): a frame for a member that rewrites leaves with that
// member's source MAC where its source is the team MAC. The rewrite
// reads and writes bytes 6-13 (source MAC and EtherType) as one word,
// which the xor with fastQueues.fix changes in its low 48 bits only. A
// copy of sendFast's loop rather than a test in it, so that trunk and
// LACP teams pay nothing for it, and in the same pass, so that SLB does
// not walk the frames and their mbufs a second time. Every frame with
// the team MAC as its source is rewritten, with a fix of 0 for a member
// that keeps it (the path member): whether a frame's member rewrites
// follows its flow hash, a branch on it would be mispredicted for half
// the frames of a two-member team (callgrind's branch simulation: 0.5 a
// packet, 42% of all the path's mispredictions), where the store of an
// unchanged word costs one instruction.
//
//go:noinline
func sendFastSLB(_ uintptr, q *fastQueues, pkts []*dpdk.Mbuf, i int, buckets *bucketCounters) int {
	if !q.valid {
		return 0
	}
	team := q.team << 16 // as a source MAC reads in the word at byte 6
	_, _ = q.table[0], buckets[0]
	for ; uint(i) < uint(len(pkts)); i++ {
		m := pkts[i]
		data := m.Data()
		var b uint8
		switch {
		case classify.IsFastL4(data):
			b = bucketOf(classify.FastL4Hash(data))
		case classify.IsFastV6L4(data):
			b = bucketOf(classify.MixV6L4(classify.FastV6L4Words(data)))
		case classify.IsFastV4L3(data):
			b = bucketOf(classify.FastV4L3Hash(data))
			q.l3++
		default:
			return i
		}
		mi := q.put(m, b, buckets)
		// Every frame taken is longer than 14 bytes: no bounds check.
		h := (*[8]byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(data)), 6))
		if w := le.Uint64(h[:]); w<<16 == team {
			le.PutUint64(h[:], w^q.fix[mi])
		}
	}
	return len(pkts)
}

// fastQueues is sendFast's view of a team's member queues: where in each
// member's buffer (dpdk.TxQueue.Slots) its next packet goes and where the
// vector's packets began, the bytes it queued, and, in SLB, what turns the
// team MAC into the member's source MAC.
type fastQueues struct {
	// ts is the team state table, valid, fix and team were taken from.
	ts *TeamState
	// table is the team's bucket table (a copy, so that the loop has one
	// pointer less to keep).
	table [NBuckets]int8
	// next is the address of the buffer entry the member's next packet
	// goes to, start that of the vector's first; n0 is how many packets
	// the buffer held before the vector. A pointer bumped by one word is
	// one instruction less per packet than a count and an index.
	next, start [MaxMembers]uintptr
	n0          [MaxMembers]uint16
	bytes       [MaxMembers]uint64
	// fix is, for a member that rewrites, the team MAC xor its source MAC
	// as the low 48 bits of a little-endian word, and team the team MAC
	// as such a word (SLB).
	fix  [MaxMembers]uint64
	team uint64
	// l3 counts the ClassL3 frames sent.
	l3 uint64
	// slots bounds the member slots in use (Worker.slots): the table
	// names none past it, and the loops over members stop there.
	slots uint8
	// valid: every table entry names a member slot (none is negative),
	// so that sendFast need not test the member it looks up. A table
	// without members at all is left to the general path, which drops.
	valid bool
}

// load takes the member queues and, for SLB, ts's MACs. It reports false
// when a queue holds more than dpdk.TxQueueCap-dpdk.Vector packets (never
// after a step, which empties them), so that a vector of frames fits
// every queue.
func (q *fastQueues) load(queues *[MaxMembers]*dpdk.TxQueue, slots uint8, ts *TeamState) bool {
	// Field by field: a composite literal would be built on the stack
	// and copied. What comes from ts is taken again only when the
	// snapshot changed: a published TeamState never changes, and q.ts
	// keeps it alive, so that no new one can take its address.
	if q.ts != ts {
		q.ts = ts
		q.table = ts.Table
		q.valid = true
		for _, mi := range ts.Table {
			if uint8(mi) >= MaxMembers {
				q.valid = false
			}
		}
		q.fix = [MaxMembers]uint64{}
		if ts.Rewrite != 0 {
			q.loadRewrite(ts)
		}
	}
	q.bytes = [MaxMembers]uint64{}
	q.l3 = 0
	if slots = min(slots, MaxMembers); slots != q.slots {
		// No buffer of an earlier port set stays past the slots.
		q.next, q.start = [MaxMembers]uintptr{}, [MaxMembers]uintptr{}
		q.slots = slots
	}
	for k, tq := range queues[:q.slots] {
		if tq == nil {
			// No member in this slot: the table never names it.
			q.next[k], q.start[k], q.n0[k] = 0, 0, 0
			continue
		}
		buf, n := tq.Slots()
		if uint(n) > dpdk.TxQueueCap-dpdk.Vector { // unsigned: no bounds check below
			return false
		}
		p := uintptr(unsafe.Pointer(&buf[n]))
		q.next[k], q.start[k], q.n0[k] = p, p, uint16(n)
	}
	return true
}

// loadRewrite fills q.team and q.fix from ts's MACs.
func (q *fastQueues) loadRewrite(ts *TeamState) {
	q.team = macWord(&ts.MAC)
	for k := range q.fix {
		if ts.Rewrite&(1<<k) != 0 {
			q.fix[k] = q.team ^ macWord(&ts.SourceMAC[k])
		}
	}
}

// macWord is mac as the low 48 bits of a little-endian word.
func macWord(mac *frame.MAC) uint64 {
	return uint64(le.Uint32(mac[0:4])) | uint64(le.Uint16(mac[4:6]))<<32
}

// store hands the counts back to the queues, adds each member's packets
// (what its count grew by) and bytes to the team's totals c, in the one
// pass over the members a vector of sendFast takes, and returns the
// bytes sent.
func (q *fastQueues) store(queues *[MaxMembers]*dpdk.TxQueue, c *TeamTotals) (bytes uint64) {
	for k, tq := range queues[:q.slots] {
		if tq == nil || q.next[k] == q.start[k] {
			continue
		}
		sent := q.sent(k)
		tq.SetLen(int(q.n0[k]) + sent)
		c.Ports[k].TxPackets += uint64(sent)
		c.Ports[k].TxBytes += q.bytes[k]
		bytes += q.bytes[k]
	}
	return bytes
}

// sent is how many packets sendFast queued on member k.
func (q *fastQueues) sent(k int) int {
	return int((q.next[k] - q.start[k]) / unsafe.Sizeof(uintptr(0)))
}

// chooseFast sets dst[i] to the member of each common frame pkts[i]
// (classify.IsFastL4, IsFastV6L4, IsFastV4L3: untagged IP without
// options or extension headers), counting its bucket and, for ClassL3,
// its class in classes, and returns, in others, the indexes of the other
// frames. (An IPv4 ClassL3 frame is no neighbor discovery: kernelMember
// would not steer it either.) Like sendRun it is kept out of line (PGO
// would inline it), so that its loop has the registers to itself.
//
//go:noinline
func chooseFast(ts *TeamState, pkts []*dpdk.Mbuf, dst []int8, buckets *bucketCounters, others *[dpdk.Vector]uint8, classes *[classMask + 1]uint64) []uint8 {
	table := &ts.Table
	dst = dst[:len(pkts)]
	n := 0
	for i, m := range pkts {
		data := m.Data()
		var b uint8
		switch {
		case classify.IsFastL4(data):
			b = bucketOf(classify.FastL4Hash(data))
		case classify.IsFastV6L4(data):
			b = bucketOf(classify.MixV6L4(classify.FastV6L4Words(data)))
		case classify.IsFastV4L3(data):
			b = bucketOf(classify.FastV4L3Hash(data))
			classes[classify.ClassL3]++
		default:
			dst[i] = notChosen
			others[n&(dpdk.Vector-1)] = uint8(i)
			n++
			continue
		}
		dst[i] = table[b]
		buckets[0][b]++
		buckets[1][b] += uint64(m.PktLen())
	}
	return others[:min(n, dpdk.Vector)]
}

// sendChosen queues each frame of pkts on the member dst names, with the
// member's source MAC in SLB, or drops it: dst names no member, the frame
// could not take its VLAN tag or the member's queue is full.
func (w *Worker) sendChosen(ts *TeamState, queues *[MaxMembers]*dpdk.TxQueue, pkts []*dpdk.Mbuf, dst []int8, d *delta) {
	for i := 0; i < len(pkts); i++ {
		if i = sendRun(ts, *queues, pkts, dst, i, d); i == len(pkts) {
			break
		}
		r := DropTxFull
		switch {
		case dst[i] == untaggable:
			r = DropMalformed
		case uint8(dst[i]) >= MaxMembers:
			r = DropNoMember
		}
		w.dropKernel(pkts[i], r, d)
	}
}

// sendRun queues the frames of pkts from index i on, each on the member
// dst names (with the member's source MAC in SLB), up to the first that
// must be dropped; it returns that frame's index or len(pkts). Drops are
// left to the caller so that this loop, which every frame goes through,
// has few enough values to keep them in registers. The queues come by
// value, so that indexing them needs no nil check.
//
//go:noinline
func sendRun(ts *TeamState, queues [MaxMembers]*dpdk.TxQueue, pkts []*dpdk.Mbuf, dst []int8, i int, d *delta) int {
	rewrite := uint32(ts.Rewrite)
	dst = dst[:len(pkts)]
	for ; uint(i) < uint(len(pkts)); i++ { // unsigned: no bounds checks below
		m := pkts[i]
		mi := uint8(dst[i])
		if mi >= MaxMembers {
			break
		}
		q := queues[mi]
		if q.Full() {
			break
		}
		q.Put(m)
		n := uint64(m.PktLen())
		d.txPkts[mi]++
		d.txBytes[mi] += n
		if rewrite&(1<<(mi&31)) != 0 { // one BT instruction
			rewriteSource(m.Data(), &ts.MAC, &ts.SourceMAC[mi])
		}
	}
	return i
}

// dropKernel drops a frame from the kernel for reason r, counting its
// bytes as received (fromKernel sums the bytes received from those sent
// and those dropped).
func (w *Worker) dropKernel(m *dpdk.Mbuf, r DropReason, d *delta) {
	d.drop(r, 1)
	d.rxBytes += uint64(m.PktLen())
	w.io.Drop(m)
}

// kernelMember classifies a frame from the kernel that classify.IsFastL4
// did not take and returns its member: the bucket's for IP (counting the
// bucket), the path member for the rest, and in SLB the client's member
// for ARP and ND to a client (steerARP, steerND). n is the frame's length.
// It stays out of line so that the hot loop keeps its registers.
//
//go:noinline
func kernelMember(ts *TeamState, data []byte, n uint64, buckets *bucketCounters, d *delta) int8 {
	r := classify.Rest(data)
	d.classes[r.Class&classMask]++
	mi := ts.Path
	switch r.Class {
	case classify.ClassL4, classify.ClassL3:
		b := bucketOf(r.Hash)
		mi = ts.Table[b]
		buckets[0][b]++
		buckets[1][b] += n
		if r.Class == classify.ClassL3 && ts.Clients6 != nil {
			mi = steerND(ts, data, mi)
		}
	case classify.ClassARP:
		if ts.Clients != nil {
			mi = steerARP(ts, data, mi)
		}
	}
	return mi
}

// tagFrame inserts an 802.1Q tag for vid after the MAC addresses.
func tagFrame(m *dpdk.Mbuf, vid uint16) bool {
	if m.DataLen() < frame.EthHeaderLen {
		return false
	}
	b := m.Prepend(4)
	if b == nil {
		return false
	}
	copy(b[0:12], b[4:16])
	putTag(b[12:16], vid)
	return true
}

// putTag writes the 802.1Q tag of VLAN vid (TPID 0x8100, priority 0) to
// b[:4].
func putTag(b []byte, vid uint16) {
	_ = b[3]
	b[0], b[1] = 0x81, 0x00
	b[2], b[3] = byte(vid>>8)&0x0f, byte(vid)
}

// untag removes a frame's outer 802.1Q tag.
func untag(m *dpdk.Mbuf) {
	b := m.Data()
	copy(b[4:16], b[0:12])
	m.Adj(4)
}

// steerARP picks the member for an ARP packet the kernel sends to an SLB
// client: a reply or unicast request to a client in the inbound client
// table leaves on the client's member, announcing that member's MAC as the
// team's (Ethernet source and sender hardware address), so the client
// keeps sending to it. Everything else stays on the path member, def.
func steerARP(ts *TeamState, data []byte, def int8) int8 {
	if len(data) < frame.EthHeaderLen+frame.ARPLen || frame.Ethernet(data).DstIsMulticast() {
		return def
	}
	a := frame.ARP(data[frame.EthHeaderLen:])
	if !a.Valid() || frame.MAC(data[6:12]) != ts.MAC {
		return def
	}
	mi, ok := ts.Clients[[4]byte(a[24:28])]
	if !ok || uint8(mi) >= MaxMembers {
		return def
	}
	if sm := ts.SourceMAC[mi]; sm != (frame.MAC{}) {
		copy(data[6:12], sm[:])
		copy(a[8:14], sm[:])
	}
	return mi
}

// rewriteSource gives a frame from the kernel (source = team MAC) the
// source MAC of the member it leaves on. The MACs are compared and
// written as 4+2 bytes.
func rewriteSource(data []byte, team, src *frame.MAC) {
	if len(data) < frame.EthHeaderLen {
		return
	}
	h := (*[frame.EthHeaderLen]byte)(data)
	if le.Uint32(h[6:10]) == le.Uint32(team[0:4]) && le.Uint16(h[10:12]) == le.Uint16(team[4:6]) {
		le.PutUint32(h[6:10], le.Uint32(src[0:4]))
		le.PutUint16(h[10:12], le.Uint16(src[4:6]))
	}
}

// le reads and writes MAC addresses as little-endian words: any byte
// order compares and copies bytes alike, and this is the machine's.
var le = binary.LittleEndian

// fromWire passes frames from member mi to the kernel after the receive
// filters: the member must be active; our own frames reflected by the
// switch are dropped; in SLB only the path member passes broadcast and
// multicast (BASP loop filter); unicast must be for the team MAC, or for
// a member's own MAC, which is rewritten to the team MAC the kernel owns.
// An SLB team's frames from its clients are counted per client
// (countClient) for receive balancing. Ordinary frames take the fast test
// (rxFast), the rest wireFrame; both decide alike. The first head frames,
// of headBytes in all, are those the fast test took already (wireHead).
func (w *Worker) fromWire(t int, ts *TeamState, mi int, pkts []*dpdk.Mbuf, head int, headBytes uint64, d *delta) {
	v := wireVector{t: t, ts: ts, mi: mi, active: ts.RxMask&(1<<mi) != 0, slots: ts.RxSlots}
	v.clients = w.clientTable(t)
	// Frames for a TAP device all take wireFrame (its write is what
	// costs); for a DPDK port, runs of frames the fast test takes are
	// delivered together (wireDeliver), the others one by one.
	tq := w.tapQ[t][0]
	if w.kernelQ[t][0] != nil {
		tq = nil
	}
	fast := w.rxView[t].of(ts, v.active)
	fast.from(mi)
	i := 0
	if head > 0 {
		w.wireDeliver(&v, tq, pkts[:head], headBytes, d)
		i = head
	}
	for ; i < len(pkts); i++ {
		if tq != nil && i > head {
			run := pkts[i:]
			if k, bytes := fast.run(run); k > 0 {
				w.wireDeliver(&v, tq, run[:k], bytes, d)
				if i += k; i == len(pkts) {
					break
				}
			}
		}
		w.wireFrame(&v, pkts[i], d)
	}
	if w.kio != nil {
		w.flushGRO(d)
	}
}

// clientTable is team t's client counters (ClientCounters).
func (w *Worker) clientTable(t int) *[NRxSlots * 2]uint64 {
	return (*[NRxSlots * 2]uint64)(w.clients[clientIndex(t, 0):])
}

// wireHead runs the fast test (rxFast) over the head of a vector from
// member mi when team t's kernel-facing port is a DPDK port, and returns
// how many frames it took and their length. When it took the whole
// vector and the port's buffer was empty (most vectors), wireHead has
// sent and counted it as fromWire and forward would, and returns -1.
func (w *Worker) wireHead(t int, ts *TeamState, mi int, pkts []*dpdk.Mbuf) (int, uint64) {
	tq := w.tapQ[t][0]
	if w.kernelQ[t][0] != nil || tq == nil {
		return 0, 0
	}
	fast := w.rxView[t].of(ts, ts.RxMask&(1<<mi) != 0)
	fast.from(mi)
	k, bytes := fast.run(pkts)
	if k < len(pkts) || tq.Len() != 0 {
		return k, bytes
	}
	w.io.PushVector(tq, pkts) // takes all: the vector's head, on an empty buffer
	n := uint64(len(pkts))
	p := &w.pend
	c := &p.teams[t]
	c.Ports[mi].RxPackets += n
	c.Ports[mi].RxBytes += bytes
	c.Ports[TapIndex].TxPackets += n
	c.Ports[TapIndex].TxBytes += bytes
	p.dirty |= 1 << t
	p.sizes[vectorSizeBucket(len(pkts))]++
	p.packets += n
	if p.vectors++; p.vectors >= publishEvery {
		w.publishCounters()
	}
	return -1, 0
}

// wireVector is what the receive filters use of a vector from one member.
type wireVector struct {
	t, mi   int
	ts      *TeamState
	active  bool
	slots   *RxSlots
	clients *[NRxSlots * 2]uint64
}

// wireFrame passes one frame from the wire through every receive filter: slow protocols and probe replies to control, then
// acceptFromWire, client counting, 802.1Q and the kernel-facing port.
func (w *Worker) wireFrame(v *wireVector, m *dpdk.Mbuf, d *delta) {
	t, ts, mi := v.t, v.ts, v.mi
	n := uint64(m.PktLen())
	d.rxBytes += n
	e := frame.Ethernet(m.Data())
	if (ts.SlowToControl && e.Valid() && e.Type() == frame.TypeSlow) || (ts.Probes && isProbeReply(ts, e)) {
		if e.Type() == frame.TypeSlow && e.Src() != ts.PartnerMAC[mi] && !w.slowBudget(t, mi) {
			d.drop(DropSlowFlood, 1)
			w.io.Drop(m)
			return
		}
		m.SetPort(w.memberID[t][mi]) // not every PMD sets it
		w.io.ToControl(m)
		d.toControl++
		return
	}
	if r, ok := acceptFromWire(ts, mi, v.active, e); !ok {
		d.drop(r, 1)
		w.io.Drop(m)
		return
	}
	if v.slots != nil {
		countClient(v.slots, v.clients, e, n)
	}
	// 802.1Q, when the team has VLANs: a VLAN's frames go, untagged,
	// to its kernel port; priority-tagged (VLAN 0) ones to the team's
	// own. A team without VLANs passes tagged frames through untouched
	// (the kernel may have VLAN interfaces).
	tap := uint8(0)
	if w.vlanID[t][1] != 0 && e.Type() == frame.TypeVLAN && len(e) >= frame.EthHeaderLen+4 {
		if vid := binary.BigEndian.Uint16(e[14:16]) & 0x0fff; vid != 0 {
			if tap = w.vlanTap[t][vid]; tap == 0 {
				d.drop(DropUnknownVLAN, 1)
				w.io.Drop(m)
				return
			}
		}
		untag(m)
	}
	if kq := w.kernelQ[t][tap]; kq != nil {
		w.toKernel(kq, m, d)
		return
	}
	if !w.tapQ[t][tap].Push(m) {
		d.drop(DropTxFull, 1)
		w.io.Drop(m)
		return
	}
	d.txPkts[TapIndex]++
	d.txBytes[TapIndex] += uint64(m.PktLen())
}

// SlowBudget is how many slow-protocols frames from sources other than
// the LACP partner one member may hand to control in SlowWindow; the
// rest are dropped as slow_flood. LACP sends at most 3 LACPDUs a second
// and markers are rare: the budget only bites in a flood.
const (
	SlowBudget = 16
	SlowWindow = 100 * time.Millisecond
)

// slowBudget takes one frame from member mi's budget of team t.
func (w *Worker) slowBudget(t, mi int) bool {
	b := &w.slow[t][mi]
	if b.used < SlowBudget {
		if b.used == 0 {
			b.start = time.Now()
		}
		b.used++
		return true
	}
	if now := time.Now(); now.Sub(b.start) >= SlowWindow {
		b.start, b.used = now, 1
		return true
	}
	return false
}

// isProbeReply reports whether e answers an echo-node probe (seed 003,
// "Directed ARP"): an ARP reply to one of our MACs whose target protocol
// address is 0.0.0.0, the sender address the probe carried.
func isProbeReply(ts *TeamState, e frame.Ethernet) bool {
	if len(e) < frame.EthHeaderLen+frame.ARPLen || e.Type() != frame.TypeARP {
		return false
	}
	a := frame.ARP(e[frame.EthHeaderLen:])
	if !a.Valid() || a.Op() != frame.ARPReply || [4]byte(a[24:28]) != [4]byte{} {
		return false
	}
	dst := e.Dst()
	return dst == ts.MAC || ts.isMemberMAC(dst)
}

// acceptFromWire applies the receive filters to a frame from member mi.
func acceptFromWire(ts *TeamState, mi int, active bool, e frame.Ethernet) (DropReason, bool) {
	if !e.Valid() {
		return DropMalformed, false
	}
	if e.Type() == frame.TypeSlow {
		return DropSlowProtocol, false
	}
	if !active {
		return DropInactive, false
	}
	src := e.Src()
	if src == ts.MAC || ts.isMemberMAC(src) {
		return DropLoop, false
	}
	if spoofedARP(ts, e) {
		return DropSpoofedARP, false
	}
	if e.DstIsMulticast() {
		if ts.Mode == ModeSLB && mi != int(ts.Path) {
			return DropMulticastFilter, false
		}
		return 0, true
	}
	dst := e.Dst()
	if dst == ts.MAC {
		return 0, true
	}
	if ts.isMemberMAC(dst) {
		copy(e[0:6], ts.MAC[:])
		return 0, true
	}
	return DropNotForUs, false
}

// isMemberMAC reports whether mac is one of the members' own MACs.
func (ts *TeamState) isMemberMAC(mac frame.MAC) bool {
	for i := range int(ts.Members) {
		if wm := ts.WireMAC[i]; wm == mac && wm != (frame.MAC{}) {
			return true
		}
	}
	return false
}
