package control

import (
	"slices"
	"time"

	"github.com/teamgw/teamgw/configs"
	"github.com/teamgw/teamgw/dataplane"
	"github.com/teamgw/teamgw/slb"
)

// Receive balancing by traffic (BASP "Inbound Traffic Flow", seed 004: the
// inbound flow head entries' counters are used "by the load-balancing
// engine periodically to reassign the flows"). Each SLB client gets a slot
// of the team's inbound client table (dataplane.RxSlots), published in the
// snapshot; the workers count the client's frames there; every neighbour
// poll the control loop reads the counters into the clients' decayed
// loads, and the team's slb.RxBalancer moves clients between members when
// the members' loads drift apart. A move is a directed gratuitous ARP, like
// any other re-pointing of a client.

// rxLoad is one team's per-client traffic accounting and balancer.
type rxLoad struct {
	bal slb.RxBalancer
	// slots is the published table (nil until a client has a slot); it
	// is never changed once published: a change builds a new one.
	slots *dataplane.RxSlots
	slot  map[*slb.Client]int       // each counted client's slot
	prev  map[*slb.Client][2]uint64 // its slot's counters when last read
	last  time.Time                 // when the counters were last read
	// moves counts clients moved by the balancer; uncounted the clients
	// that found no free slot (their traffic is not weighed).
	moves     uint64
	uncounted int
}

// rxConfig is a team's receive balancing configuration.
func rxConfig(tc configs.Team) slb.RxBalanceConfig {
	c := slb.DefaultRxBalanceConfig()
	c.Interval = tc.RxBalanceInterval.Duration
	c.Threshold = tc.RxBalanceThreshold
	c.MinGain = tc.RxBalanceMinGain
	c.Cooldown = tc.RxBalanceCooldown.Duration
	return c
}

// rxDecay is the time constant of the clients' decayed loads: about one
// balancing interval (10 s when balancing by traffic is off).
func rxDecay(tc configs.Team) time.Duration {
	if d := tc.RxBalanceInterval.Duration; d > 0 {
		return d
	}
	return configs.DefaultRxBalanceInterval
}

// clientActive is the set of members clients may be assigned to: the
// active members and the path member.
func (t *team) clientActive() []bool {
	active := slices.Clone(t.active)
	if t.path >= 0 {
		active[t.path] = true
	}
	return active
}

// memberWeights are the members' link speeds.
func (t *team) memberWeights() []float64 {
	w := make([]float64, len(t.members))
	for i, m := range t.members {
		w[i] = m.weight()
	}
	return w
}

// placeClientSlots gives every client of t without a slot one of the two
// slots its key may take, frees the slots of clients that are gone, and
// reports whether the table changed (it must then be published).
func (d *Daemon) placeClientSlots(t *team) bool {
	r := &t.inbound
	if r.slot == nil {
		r.slot = map[*slb.Client]int{}
		r.prev = map[*slb.Client][2]uint64{}
	}
	present := make(map[*slb.Client]bool, len(t.clients))
	for _, c := range t.clients {
		present[c] = true
	}
	var next *dataplane.RxSlots
	edit := func() *dataplane.RxSlots {
		if next == nil {
			next = new(dataplane.RxSlots)
			if r.slots != nil {
				*next = *r.slots
			}
		}
		return next
	}
	for c, s := range r.slot {
		if !present[c] {
			edit().Key[s] = 0
			delete(r.slot, c)
			delete(r.prev, c)
		}
	}
	r.uncounted = 0
	for _, c := range t.clients {
		if _, ok := r.slot[c]; ok {
			continue
		}
		key := dataplane.RxKey(c.IP)
		cur := r.slots
		if next != nil {
			cur = next
		}
		h := dataplane.RxSlotOf(key)
		placed := false
		for _, s := range []int{h, h ^ 1} {
			if cur == nil || cur.Key[s] == 0 {
				edit().Key[s] = key
				r.slot[c] = s
				p, b := d.slotCounters(t, s)
				r.prev[c] = [2]uint64{p, b}
				placed = true
				break
			}
		}
		if !placed {
			r.uncounted++
		}
	}
	if next == nil {
		return false
	}
	r.slots = next
	return true
}

// slotCounters sums the workers' counters of one slot of t.
func (d *Daemon) slotCounters(t *team, slot int) (packets, bytes uint64) {
	for _, w := range d.workers {
		p, b := dataplane.ClientSlotCounters(w.ClientCounters(), t.idx, slot)
		packets += p
		bytes += b
	}
	return packets, bytes
}

// sampleClients reads every counted client's traffic since the last
// reading into its totals and decayed rates.
func (d *Daemon) sampleClients(t *team, now time.Time) {
	r := &t.inbound
	var dt time.Duration
	if !r.last.IsZero() {
		dt = now.Sub(r.last)
	}
	r.last = now
	tau := rxDecay(t.cfg)
	for c, s := range r.slot {
		p, b := d.slotCounters(t, s)
		prev := r.prev[c]
		r.prev[c] = [2]uint64{p, b}
		dp, db := p-prev[0], b-prev[1]
		if p < prev[0] || b < prev[1] { // counters restarted
			dp, db = p, b
		}
		c.Observe(dp, db, dt, tau)
	}
}

// balanceClients runs a round of receive balancing by traffic on t and
// queues directed gratuitous ARPs for the clients it moves.
func (d *Daemon) balanceClients(t *team) bool {
	if !t.balancesReceive() || len(t.clients) == 0 {
		return false
	}
	t.inbound.bal.Config = rxConfig(t.cfg)
	moved := t.inbound.bal.Balance(t.clients, t.clientActive(), t.memberWeights(), d.now())
	if len(moved) == 0 {
		return false
	}
	t.inbound.moves += uint64(len(moved))
	d.queueDirected(t, moved)
	d.event(EventClientsMoved, "clients moved by receive load", "team", t.cfg.Name, "clients", len(moved))
	return true
}

// reassertClients queues directed gratuitous ARPs for every client that is
// not on the path member: after the team was announced by broadcast (a
// failover), each neighbour has the team MAC for the team IP, so the
// clients of the other members are pointed back at them.
func (d *Daemon) reassertClients(t *team) {
	if !t.balancesReceive() {
		return
	}
	var cs []*slb.Client
	for _, c := range t.clients {
		if c.Member >= 0 && c.Member != t.path {
			cs = append(cs, c)
		}
	}
	d.queueDirected(t, cs)
}

// memberClientLoad sums, per member, the clients and their decayed loads.
func (t *team) memberClientLoad() (clients []int, load []float64) {
	clients, load = make([]int, len(t.members)), make([]float64, len(t.members))
	for _, c := range t.clients {
		if c.Member >= 0 && c.Member < len(t.members) {
			clients[c.Member]++
			load[c.Member] += c.Load
		}
	}
	return clients, load
}
