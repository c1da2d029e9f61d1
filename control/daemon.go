// Package control is teamgw's control plane: it brings up the EAL, the
// member ports and each team's TAP, starts the worker lcores, watches
// links (ethdev link state, link-state interrupts and the kernel carrier
// of kernel-backed members), decides failover and fallback, announces the
// team after a change, and publishes the forwarding snapshot the workers
// read. All team state is owned by one goroutine, the loop in Run.
package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/teamgw/teamgw/configs"
	"github.com/teamgw/teamgw/control/linkwatch"
	"github.com/teamgw/teamgw/dataplane"
	"github.com/teamgw/teamgw/dataplane/afpacket"
	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/tap"
)

// Daemon is a running teamgw instance.
type Daemon struct {
	cfg     *configs.Config
	log     *slog.Logger
	pool    *dpdk.Mempool
	lsc     *dpdk.LinkEvents
	carrier *linkwatch.Watcher
	inject  *dpdk.Ring
	teams   []*team
	workers []*dataplane.Worker
	snap    atomic.Pointer[dataplane.Snapshot]
	undo    []func()
	now     func() time.Time
	// lastIfaceCheck is when kernelIfaceTick last looked for deleted
	// team interfaces.
	lastIfaceCheck time.Time
	// watch follows every worker's polls (watchWorkers).
	watch []workerWatch
	// notify talks to the service manager (sd_notify), if there is one.
	notify *notifier
	// ifaceRetry holds the team interfaces recreated whose configuration
	// has not gone through yet (kernelIfaceTick tries again).
	ifaceRetry map[*tap.Device]bool
	// partnersMoved: an LACP partner port's MAC changed; publish.
	partnersMoved bool
	started       time.Time
	requests      chan func()
	done          chan struct{}
	events        eventLog
	ctlRings      []*dpdk.Ring // worker -> control, one per worker
	// configPath is the file a reload reads.
	configPath string
	// markerTimeout is how long a member leaving an lacp team's
	// distribution on purpose waits for its marker (MarkerTimeout).
	markerTimeout time.Duration
	// busy: a member add or remove or a reload is under way (it may wait
	// for marker exchanges); another one is refused meanwhile.
	busy bool
	// deferred runs on the Run loop after the current event (afterTurn).
	deferred []func()
}

// ErrNotRoot is returned when teamgw is not run as root.
var ErrNotRoot = errors.New("teamgw must run as root (DPDK needs hugepages, raw sockets and TAP devices)")

// Start brings a Daemon up. On any error everything it created is removed
// again before Start returns.
func Start(cfg *configs.Config, log *slog.Logger) (_ *Daemon, err error) {
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	d := &Daemon{cfg: cfg, log: log, now: time.Now, requests: make(chan func()), done: make(chan struct{}), markerTimeout: MarkerTimeout, ifaceRetry: map[*tap.Device]bool{}}
	defer func() {
		if err != nil {
			d.teardown()
		}
	}()
	if err := d.startEAL(); err != nil {
		return nil, err
	}
	for i, tc := range cfg.Teams {
		t, err := d.startTeam(i, tc)
		if err != nil {
			return nil, fmt.Errorf("team %s: %w", tc.Name, err)
		}
		d.teams = append(d.teams, t)
	}
	if err := d.startCarrierWatch(); err != nil {
		return nil, err
	}
	d.readLinks()
	for _, t := range d.teams {
		d.evaluate(t)
	}
	d.publish()
	if err := d.startWorkers(); err != nil {
		return nil, err
	}
	d.started = d.now()
	d.event(EventStarted, "teamgw started", "teams", len(d.teams), "workers", len(d.workers))
	return d, nil
}

// onUndo registers a clean-up step; teardown runs them in reverse.
func (d *Daemon) onUndo(f func()) { d.undo = append(d.undo, f) }

// teardown stops everything Start created, newest first.
func (d *Daemon) teardown() {
	for i := len(d.undo) - 1; i >= 0; i-- {
		d.undo[i]()
	}
	d.undo = nil
}

// Stop stops the workers and releases every port and the EAL.
func (d *Daemon) Stop() {
	d.teardown()
	d.event(EventStopped, "teamgw stopped")
}

func (d *Daemon) startEAL() error {
	if dpdk.Initialized() {
		// Embedded in a process that runs the EAL itself (tests, tools):
		// use it and leave it to its owner.
		d.log.Info("using the EAL this process already started")
		return d.startShared()
	}
	e := d.cfg.EAL
	var pci []string
	for _, t := range d.cfg.Teams {
		for _, m := range t.Members {
			if m.IsPCI() {
				pci = append(pci, m.Device)
			}
		}
	}
	prefix := e.FilePrefix
	if prefix == "" {
		prefix = "teamgw-" + strconv.Itoa(os.Getpid())
	}
	main := 0
	for slices.Contains(e.WorkerCores, main) && main < runtime.NumCPU()-1 {
		main++
	}
	err := dpdk.Init(dpdk.EALConfig{
		MainCore:   main,
		Hugepages:  e.HugepagesEnabled(),
		MemoryMB:   e.MemoryMB,
		FilePrefix: prefix,
		LogLevel:   e.LogLevel,
		PCI:        pci,
		Extra:      e.ExtraArgs,
	})
	if err != nil {
		return err
	}
	d.onUndo(func() { dpdk.Cleanup() })
	return d.startShared()
}

// instances numbers daemons within a process, so the names of their DPDK
// objects (which are global to the EAL) never collide.
var instances atomic.Uint32

// startShared creates the objects a daemon needs on a running EAL.
func (d *Daemon) startShared() error {
	e := d.cfg.EAL
	if need := d.mbufsNeeded(); e.Mbufs < need {
		return fmt.Errorf("eal.mbufs = %d is too small: %d ports x %d workers need at least %d (RX and TX rings, caches, vectors)",
			e.Mbufs, d.ports(), len(e.WorkerCores), need)
	}
	id := instances.Add(1)
	pool, err := dpdk.NewMempool(fmt.Sprintf("tg_mbufs_%d", id), e.Mbufs, dpdk.PoolCache, mbufDataRoom(d.cfg.Teams), 0)
	if err != nil {
		return err
	}
	d.pool = pool
	d.onUndo(pool.Free)
	if d.lsc, err = dpdk.NewLinkEvents(); err != nil {
		return err
	}
	d.onUndo(d.lsc.Close)
	if d.inject, err = dpdk.NewRing(fmt.Sprintf("tg_inject_%d", id), 1024, false, true); err != nil {
		return err
	}
	d.onUndo(d.inject.Free)
	return nil
}

// ports is the number of DPDK ports the config asks for (the members).
func (d *Daemon) ports() int {
	n := 0
	for _, t := range d.cfg.Teams {
		n += len(t.Members)
	}
	return n
}

// mbufsNeeded is the smallest pool that cannot run dry in steady state
// with the config's member ports.
func (d *Daemon) mbufsNeeded() int { return d.mbufsFor(d.ports()) }

// mbufsFor is the smallest pool that cannot run dry in steady state with
// ports member ports: every RX and TX ring full, every lcore cache full,
// and every worker's vectors (from the members and from the TAPs) and
// buffers in flight.
func (d *Daemon) mbufsFor(ports int) int {
	w := len(d.cfg.EAL.WorkerCores)
	const ringDesc = 1024
	return ports*w*2*ringDesc + (w+1)*dpdk.PoolCache*3/2 + w*(2*dpdk.Vector+ports*dpdk.TxQueueFill) + 512
}

func (d *Daemon) queues() uint16 { return uint16(len(d.cfg.EAL.WorkerCores)) }

// startWorkers starts one worker per configured core; worker 0 also sends
// the frames control injects.
func (d *Daemon) startWorkers() error {
	tps := d.teamPorts()
	for i, core := range d.cfg.EAL.WorkerCores {
		ctl, err := dpdk.NewRing(fmt.Sprintf("tg_ctl_%d_%d", instances.Load(), i), 1024, true, true)
		if err != nil {
			return err
		}
		d.onUndo(ctl.Free)
		d.ctlRings = append(d.ctlRings, ctl)
		wc := dataplane.WorkerConfig{ID: i, Core: core, Teams: tps, Snapshot: &d.snap, IdleSleep: d.cfg.EAL.IdleSleep.Duration, Control: ctl, Pool: d.pool}
		if i == 0 {
			wc.Inject = d.inject
		}
		w, err := dataplane.NewWorker(wc)
		if err != nil {
			return err
		}
		d.onUndo(w.Free)
		if err := w.Start(); err != nil {
			return err
		}
		d.workers = append(d.workers, w)
	}
	return nil
}

// teamPorts are the ports the workers poll: each team's kernel
// interfaces and its members by slot.
func (d *Daemon) teamPorts() []dataplane.TeamPorts {
	var tps []dataplane.TeamPorts
	for _, t := range d.teams {
		tp := dataplane.TeamPorts{Kernel: t.tap, VLANs: slices.Clone(t.vlans), Members: make([]*dpdk.Port, t.slots())}
		for _, m := range t.members {
			tp.Members[m.slot] = m.port
		}
		for _, m := range t.pending {
			if m.slot >= len(tp.Members) {
				tp.Members = append(tp.Members, make([]*dpdk.Port, m.slot+1-len(tp.Members))...)
			}
			tp.Members[m.slot] = m.port
		}
		for _, m := range append(slices.Clone(t.members), t.pending...) {
			if m.tx != nil {
				if tp.MemberTx == nil {
					tp.MemberTx = make([]afpacket.Senders, len(tp.Members))
				}
				tp.MemberTx[m.slot] = m.tx
			}
		}
		tps = append(tps, tp)
	}
	return tps
}

// workerSwitchTimeout bounds how long control waits for the workers to
// take a new port set; a running worker takes it within one poll.
const workerSwitchTimeout = 2 * time.Second

// setWorkerPorts hands every worker the current ports and waits until all
// of them use them (dataplane.Worker.SetPorts); it returns how long that
// took. After an error, ports the workers used before must stay open.
func (d *Daemon) setWorkerPorts() (time.Duration, error) {
	tps := d.teamPorts()
	ctx, cancel := context.WithTimeout(context.Background(), workerSwitchTimeout)
	defer cancel()
	start := time.Now()
	errs := make(chan error, len(d.workers))
	for _, w := range d.workers {
		go func() { errs <- w.SetPorts(ctx, tps) }()
	}
	var err error
	for range d.workers {
		err = errors.Join(err, <-errs)
	}
	return time.Since(start), err
}

func (d *Daemon) startCarrierWatch() error {
	var names []string
	for _, t := range d.teams {
		for _, m := range t.members {
			if m.cfg.Carrier != "" {
				names = append(names, m.cfg.Carrier)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	w, err := linkwatch.NewWatcher(names...)
	if err != nil {
		return err
	}
	d.carrier = w
	d.onUndo(func() { w.Close() })
	return nil
}

// Run serves the daemon until ctx is done.
func (d *Daemon) Run(ctx context.Context) error {
	poll := time.NewTicker(d.cfg.Control.LinkPoll.Duration)
	defer poll.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var carrier <-chan linkwatch.Event
	var watching *linkwatch.Watcher
	defer close(d.done)
	defer d.abandonLeaves()
	d.notify = newNotifier()
	defer d.notify.close()
	d.notify.send("READY=1\nSTATUS=teams up")
	d.notify.keepalive(d.now())
	for {
		d.runDeferred()
		if d.carrier != watching {
			// A member added with a carrier started the watcher.
			watching = d.carrier
			carrier = watching.Events()
		}
		if next := d.nextDeadline(); !next.IsZero() {
			timer.Reset(max(next.Sub(d.now()), 0))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-ctx.Done():
			d.notify.send("STOPPING=1")
			d.leaveAggregates()
			return nil
		case <-poll.C:
			d.linksChanged(d.readLinks())
			d.controlFrames()
			d.lacpTick()
			d.neighborTick()
			d.kernelIfaceTick()
			d.watchWorkers()
			d.notify.keepalive(d.now())
			d.probeTick()
			d.rebalanceAll()
		case <-d.lsc.C():
			d.linksChanged(d.readLinks())
		case ev, ok := <-carrier:
			if !ok {
				carrier = nil
				continue
			}
			d.linksChanged(d.carrierEvent(ev))
		case <-timer.C:
			d.timers()
		case f := <-d.requests:
			f()
		}
	}
}

// nextDeadline is the earliest pending fallback check, announcement,
// directed ARP or marker deadline.
func (d *Daemon) nextDeadline() time.Time {
	next := d.markerDeadline()
	for _, t := range d.teams {
		times := []time.Time{t.recheck, t.announce.next}
		for _, p := range t.directed {
			times = append(times, p.next)
		}
		for _, at := range times {
			if !at.IsZero() && (next.IsZero() || at.Before(next)) {
				next = at
			}
		}
	}
	return next
}

func (d *Daemon) timers() {
	now := d.now()
	d.markerTimeouts(now)
	changed := false
	for _, t := range d.teams {
		if !t.recheck.IsZero() && !now.Before(t.recheck) {
			t.recheck = time.Time{}
			changed = d.evaluate(t) || changed
		}
	}
	if changed {
		d.publish()
	}
	for _, t := range d.teams {
		if !t.announce.next.IsZero() && !now.Before(t.announce.next) {
			d.sendAnnouncement(t)
		}
		if len(t.directed) > 0 {
			d.sendDirectedARPs(t)
		}
	}
}

// rebalanceAll runs the rebalancer of every team whose interval is due.
func (d *Daemon) rebalanceAll() {
	changed := false
	for _, t := range d.teams {
		changed = d.rebalance(t) || changed
	}
	if changed {
		d.publish()
	}
}

// linksChanged re-evaluates the teams whose members changed state.
func (d *Daemon) linksChanged(teams []*team) {
	changed := false
	for _, t := range teams {
		changed = d.evaluate(t) || changed
	}
	if changed {
		d.publish()
	}
}

// publish builds and stores a new forwarding snapshot. A team that lost
// a member carrying traffic since the last one records how long the
// failover took: from the link loss seen to this snapshot.
func (d *Daemon) publish() {
	s := &dataplane.Snapshot{}
	for i, t := range d.teams {
		s.Teams[i] = t.state()
	}
	d.snap.Store(s)
	for _, t := range d.teams {
		if !t.lossAt.IsZero() {
			t.failover.observe(d.now().Sub(t.lossAt))
			t.lossAt = time.Time{}
		}
	}
}

// state is the team's forwarding state for the workers, by member slot.
func (t *team) state() dataplane.TeamState {
	ts := dataplane.TeamState{MAC: t.mac, Path: -1, Members: int8(t.slots())}
	if t.cfg.Mode != configs.ModeSLB {
		ts.Mode = dataplane.ModeTrunk // trunk and lacp: team MAC everywhere
	}
	ts.SlowToControl = t.lacp != nil
	for _, m := range t.members {
		ts.PartnerMAC[m.slot] = m.partnerMAC
	}
	ts.Clients, ts.Clients6 = t.clientTables()
	if t.balancesReceive() {
		ts.RxSlots = t.inbound.slots
	}
	ts.Probes = t.probes != nil
	ts.SetOwnIPs(t.ownAddrs())
	rx := t.active
	if t.rx != nil {
		rx = t.rx
	}
	anyActive := false
	for i, m := range t.members {
		if rx[i] {
			ts.RxMask |= 1 << m.slot
		}
		anyActive = anyActive || t.active[i]
		// SLB: every member but the path member transmits with its own
		// MAC (IEEE 802.3: a station's frames carry its own address);
		// trunk: the team MAC everywhere.
		if ts.Mode == dataplane.ModeSLB {
			ts.WireMAC[m.slot] = wireMAC(m)
			if i != t.path {
				ts.SetSourceMAC(m.slot, ts.WireMAC[m.slot])
			}
		}
	}
	if t.path >= 0 {
		ts.Path = int8(t.members[t.path].slot)
		ts.RxMask |= 1 << ts.Path
	}
	for b := range ts.Table {
		ts.Table[b] = -1
		if anyActive && b < len(t.table) && int(t.table[b]) < len(t.members) {
			ts.Table[b] = int8(t.members[t.table[b]].slot)
		}
	}
	return ts
}

// slots is one more than the highest member slot in use.
func (t *team) slots() int {
	n := 0
	for _, m := range t.members {
		n = max(n, m.slot+1)
	}
	return n
}

// Totals sums every worker's counters per team.
func (d *Daemon) Totals() []dataplane.TeamTotals {
	out := make([]dataplane.TeamTotals, len(d.teams))
	for _, w := range d.workers {
		c := w.Counters()
		for i := range d.teams {
			out[i].Add(&c.Teams[i])
		}
	}
	return out
}

// interfaceIndex is the kernel index of a named interface.
func interfaceIndex(name string) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, err
	}
	return ifi.Index, nil
}
