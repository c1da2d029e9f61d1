package dataplane

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/classify"
	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/frame"
)

// TeamPorts are the ports of one team as a worker sees them.
type TeamPorts struct {
	Tap     *dpdk.Port
	Members []*dpdk.Port
}

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
	// IdleSleep, if non-zero, makes an idle worker sleep that long after
	// 256 empty polls in a row instead of spinning (for small shared
	// machines; a dedicated appliance core should spin).
	IdleSleep time.Duration
}

// source says where an RX queue's frames come from.
type source struct {
	team   int8
	member int8 // -1 for the TAP
}

// Worker is one pinned, EAL-registered poll loop.
type Worker struct {
	cfg      WorkerConfig
	io       *dpdk.IO
	sources  [dpdk.MaxQueues]source
	tapTx    [MaxTeams]int
	memberQ  [MaxTeams][MaxMembers]*dpdk.TxQueue
	counters WorkerCounters
	bucketC  *dpdk.Counters
	buckets  []uint64 // bucketC's words: packets and bytes per team and bucket
	stop     atomic.Bool
	started  atomic.Bool
	freed    atomic.Bool
	done     chan struct{}
	lcore    int
}

// NewWorker allocates a worker's I/O vector, queues and counters; Start
// runs it.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if len(cfg.Teams) > MaxTeams {
		return nil, fmt.Errorf("dataplane: %d teams, at most %d", len(cfg.Teams), MaxTeams)
	}
	if cfg.Snapshot == nil {
		return nil, errors.New("dataplane: worker without a snapshot")
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
	if w.bucketC, err = dpdk.NewCounters(bucketWords); err != nil {
		io.Free()
		return nil, err
	}
	w.buckets = w.bucketC.Slice()
	return w, nil
}

// addQueues registers the worker's queue on every port of every team.
func (w *Worker) addQueues() error {
	q := uint16(w.cfg.ID)
	for t, tp := range w.cfg.Teams {
		if len(tp.Members) > MaxMembers {
			return fmt.Errorf("dataplane: team %d has %d members, at most %d", t, len(tp.Members), MaxMembers)
		}
		i, err := w.io.AddRx(tp.Tap, q)
		if err != nil {
			return err
		}
		w.sources[i] = source{team: int8(t), member: -1}
		if w.tapTx[t], err = w.io.AddTx(tp.Tap, q); err != nil {
			return err
		}
		for m, p := range tp.Members {
			i, err := w.io.AddRx(p, q)
			if err != nil {
				return err
			}
			w.sources[i] = source{team: int8(t), member: int8(m)}
			qi, err := w.io.AddTx(p, q)
			if err != nil {
				return err
			}
			w.memberQ[t][m] = w.io.Queue(qi)
		}
	}
	return nil
}

// BucketCounters are the worker's per-bucket packet and byte counters
// (see AddBuckets); valid until Free.
func (w *Worker) BucketCounters() []uint64 { return w.buckets }

// Free releases the worker's counters; call it after Stop.
func (w *Worker) Free() {
	w.Stop()
	w.bucketC.Free()
	w.buckets = nil
}

// Counters are the worker's counters, readable from any goroutine.
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
	idle := 0
	for !w.stop.Load() {
		if w.Poll() == 0 {
			idle++
			if w.cfg.IdleSleep > 0 && idle >= 256 {
				time.Sleep(w.cfg.IdleSleep)
			}
			continue
		}
		idle = 0
	}
	w.io.Flush()
}

// Poll runs one iteration of the worker loop — one step, then the
// forwarding of the vector it received — and returns the packets handled.
// The loop of Start calls it; a benchmark harness may call it directly on
// its own registered lcore thread instead of starting the worker.
func (w *Worker) Poll() int {
	pkts, q := w.io.Step()
	if len(pkts) > 0 {
		w.forward(w.cfg.Snapshot.Load(), w.sources[q], pkts)
	}
	return len(pkts)
}

// IO is the worker's I/O vector, for harnesses (e.g. to attach a
// benchmark feed). The worker owns it: use it only while Poll is not
// running concurrently.
func (w *Worker) IO() *dpdk.IO { return w.io }

// forward decides the fate of one vector. All packets of a vector come
// from one queue, so from one port of one team.
func (w *Worker) forward(s *Snapshot, src source, pkts []*dpdk.Mbuf) {
	t := int(src.team)
	ts := &s.Teams[t]
	c := &w.counters.Teams[t]
	var d delta
	if src.member < 0 {
		w.fromKernel(t, ts, pkts, &d)
	} else {
		w.fromWire(t, ts, int(src.member), pkts, &d)
	}
	rx := &c.Ports[TapIndex]
	if src.member >= 0 {
		rx = &c.Ports[src.member]
	}
	rx.RxPackets.Add(uint64(len(pkts)))
	rx.RxBytes.Add(d.rxBytes)
	for i := range d.txPkts {
		if d.txPkts[i] != 0 {
			c.Ports[i].TxPackets.Add(d.txPkts[i])
			c.Ports[i].TxBytes.Add(d.txBytes[i])
		}
	}
	for r, n := range d.drops {
		if n != 0 {
			c.Drops[r].Add(n)
		}
	}
	for k, n := range d.classes[:classify.NumClasses] {
		if n != 0 {
			c.Classes[k].Add(n)
		}
	}
	w.counters.Vectors.Add(1)
	w.counters.Packets.Add(uint64(len(pkts)))
}

// delta accumulates one vector's counts, added to the shared counters once.
type delta struct {
	rxBytes uint64
	txPkts  [MaxMembers + 1]uint64
	txBytes [MaxMembers + 1]uint64
	drops   [NumDropReasons]uint64
	classes [classMask + 1]uint64
}

// classMask bounds a class index for the per-vector class counts (an
// array of 8 needs no bounds check).
const classMask = 7

// fromKernel sends frames from the team's TAP: IP flows by their bucket,
// everything else on the path member (BASP outbound flow table, seed 004).
// In SLB a frame leaves with its member's own source MAC.
func (w *Worker) fromKernel(t int, ts *TeamState, pkts []*dpdk.Mbuf, d *delta) {
	buckets := (*[NBuckets * 2]uint64)(w.buckets[bucketIndex(t, 0):])
	queues := &w.memberQ[t]
	table := &ts.Table
	path, rewrite := ts.Path, ts.Rewrite
	for _, m := range pkts {
		data := m.Data()
		n := uint64(m.PktLen())
		d.rxBytes += n
		r := classify.Frame(data)
		d.classes[r.Class&classMask]++
		mi := path
		if r.Class <= classify.ClassL3 {
			b := bucketOf(r.Hash)
			mi = table[b]
			buckets[2*int(b)]++
			buckets[2*int(b)+1] += n
		}
		if uint8(mi) >= MaxMembers {
			d.drops[DropNoMember]++
			w.io.Drop(m)
			continue
		}
		if rewrite&(1<<mi) != 0 {
			rewriteSource(data, ts.MAC, &ts.SourceMAC[mi])
		}
		if !queues[mi].Push(m) {
			d.drops[DropTxFull]++
			w.io.Drop(m)
			continue
		}
		d.txPkts[mi]++
		d.txBytes[mi] += n
	}
}

// rewriteSource gives a frame from the kernel (source = team MAC) the
// source MAC of the member it leaves on.
func rewriteSource(data []byte, team frame.MAC, src *frame.MAC) {
	if len(data) >= frame.EthHeaderLen && frame.MAC(data[6:12]) == team {
		copy(data[6:12], src[:])
	}
}

// fromWire passes frames from member mi to the kernel after the receive
// filters: the member must be active; our own frames reflected by the
// switch are dropped; in SLB only the path member passes broadcast and
// multicast (BASP loop filter); unicast must be for the team MAC, or for
// a member's own MAC, which is rewritten to the team MAC the kernel owns.
func (w *Worker) fromWire(t int, ts *TeamState, mi int, pkts []*dpdk.Mbuf, d *delta) {
	active := ts.RxMask&(1<<mi) != 0
	for _, m := range pkts {
		d.rxBytes += uint64(m.PktLen())
		if r, ok := acceptFromWire(ts, mi, active, frame.Ethernet(m.Data())); !ok {
			d.drops[r]++
			w.io.Drop(m)
			continue
		}
		if !w.io.Tx(w.tapTx[t], m) {
			d.drops[DropTxFull]++
			w.io.Drop(m)
			continue
		}
		d.txPkts[TapIndex]++
		d.txBytes[TapIndex] += uint64(m.PktLen())
	}
}

// acceptFromWire applies the receive filters to a frame from member mi.
func acceptFromWire(ts *TeamState, mi int, active bool, e frame.Ethernet) (DropReason, bool) {
	if !e.Valid() {
		return DropMalformed, false
	}
	if !active {
		return DropInactive, false
	}
	src := e.Src()
	if src == ts.MAC || ts.isMemberMAC(src) {
		return DropLoop, false
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

// isMemberMAC reports whether mac is one of the members' source MACs.
func (ts *TeamState) isMemberMAC(mac frame.MAC) bool {
	for i := range int(ts.Members) {
		if sm := ts.SourceMAC[i]; sm == mac && sm != (frame.MAC{}) {
			return true
		}
	}
	return false
}
