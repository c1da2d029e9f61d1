package dataplane

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

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
	memberTx [MaxTeams][MaxMembers]int
	counters WorkerCounters
	stop     atomic.Bool
	started  atomic.Bool
	freed    atomic.Bool
	done     chan struct{}
	lcore    int
}

// NewWorker allocates a worker's I/O vector and queues; Start runs it.
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
	q := uint16(cfg.ID)
	for t, tp := range cfg.Teams {
		if len(tp.Members) > MaxMembers {
			io.Free()
			return nil, fmt.Errorf("dataplane: team %d has %d members, at most %d", t, len(tp.Members), MaxMembers)
		}
		i, err := io.AddRx(tp.Tap, q)
		if err != nil {
			io.Free()
			return nil, err
		}
		w.sources[i] = source{team: int8(t), member: -1}
		if w.tapTx[t], err = io.AddTx(tp.Tap, q); err != nil {
			io.Free()
			return nil, err
		}
		for m, p := range tp.Members {
			i, err := io.AddRx(p, q)
			if err != nil {
				io.Free()
				return nil, err
			}
			w.sources[i] = source{team: int8(t), member: int8(m)}
			if w.memberTx[t][m], err = io.AddTx(p, q); err != nil {
				io.Free()
				return nil, err
			}
		}
	}
	if cfg.Inject != nil {
		io.SetInject(cfg.Inject)
	}
	return w, nil
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
		pkts, q := w.io.Step()
		if len(pkts) == 0 {
			idle++
			if w.cfg.IdleSleep > 0 && idle >= 256 {
				time.Sleep(w.cfg.IdleSleep)
			}
			continue
		}
		idle = 0
		w.forward(w.cfg.Snapshot.Load(), w.sources[q], pkts)
	}
	w.io.Flush()
}

// forward decides the fate of one vector. All packets of a vector come
// from one queue, so from one port of one team.
func (w *Worker) forward(s *Snapshot, src source, pkts []*dpdk.Mbuf) {
	t := int(src.team)
	ts := &s.Teams[t]
	c := &w.counters.Teams[t]
	var rxBytes, txPkts, txBytes uint64
	var drops [NumDropReasons]uint64
	var dstIdx int
	if src.member < 0 {
		// From the kernel: everything leaves on the active member.
		dstIdx = int(ts.Active)
		for _, m := range pkts {
			n := uint64(m.PktLen())
			rxBytes += n
			switch {
			case dstIdx < 0:
				drops[DropNoMember]++
				w.io.Drop(m)
			case !w.io.Tx(w.memberTx[t][dstIdx], m):
				drops[DropTxFull]++
				w.io.Drop(m)
			default:
				txPkts++
				txBytes += n
			}
		}
	} else {
		// From the wire: only the active member's frames reach the kernel.
		dstIdx = TapIndex
		active := src.member == ts.Active
		for _, m := range pkts {
			n := uint64(m.PktLen())
			rxBytes += n
			if r, ok := w.acceptFromWire(ts, active, frame.Ethernet(m.Data())); !ok {
				drops[r]++
				w.io.Drop(m)
				continue
			}
			if !w.io.Tx(w.tapTx[t], m) {
				drops[DropTxFull]++
				w.io.Drop(m)
				continue
			}
			txPkts++
			txBytes += n
		}
	}
	rx := &c.Ports[TapIndex]
	if src.member >= 0 {
		rx = &c.Ports[src.member]
	}
	rx.RxPackets.Add(uint64(len(pkts)))
	rx.RxBytes.Add(rxBytes)
	if txPkts > 0 {
		tx := &c.Ports[dstIdx]
		tx.TxPackets.Add(txPkts)
		tx.TxBytes.Add(txBytes)
	}
	for r, n := range drops {
		if n != 0 {
			c.Drops[r].Add(n)
		}
	}
	w.counters.Vectors.Add(1)
	w.counters.Packets.Add(uint64(len(pkts)))
}

// acceptFromWire applies the receive filters to a frame from a member.
func (w *Worker) acceptFromWire(ts *TeamState, active bool, e frame.Ethernet) (DropReason, bool) {
	if !e.Valid() {
		return DropMalformed, false
	}
	if !active {
		return DropInactive, false
	}
	if e.Src() == ts.MAC {
		return DropLoop, false
	}
	if !e.DstIsMulticast() && e.Dst() != ts.MAC {
		return DropNotForUs, false
	}
	return 0, true
}
