package slb

import (
	"math"
	"slices"
	"time"
)

// RxBalanceConfig tunes receive balancing by traffic. Every move re-points
// a client with directed gratuitous ARPs, so the balancer acts only on a
// clear imbalance, only for a clear gain, not too often, and never moves
// one client twice in quick succession.
type RxBalanceConfig struct {
	// Interval is the least time between two balancing rounds; zero or
	// negative turns balancing by traffic off (clients are then spread
	// by count only).
	Interval time.Duration
	// Threshold is how far, as a fraction of the mean weighted load, the
	// busiest member's weighted load must exceed the idlest's before a
	// round moves anything (e.g. 0.25).
	Threshold float64
	// MinGain is how much, as a fraction of the mean weighted load, a move
	// must shrink the difference between the two members' weighted loads
	// (e.g. 0.05).
	MinGain float64
	// Cooldown is the least time between two moves of one client by the
	// balancer (failover moves a client whatever its cooldown).
	Cooldown time.Duration
	// MinRate is the total inbound load, in bytes per second, below which
	// traffic is too thin to weigh: clients are then placed by count and
	// the balancer does nothing.
	MinRate float64
	// MaxMoves bounds the clients one round moves.
	MaxMoves int
}

// DefaultRxBalanceConfig is what teamgw uses unless configured otherwise:
// a round at most every 10 s, acting on a 25% imbalance for moves that gain
// 5% of the mean, each client moved at most once a minute, at most 4
// moves a round, and only above 10 kB/s of inbound traffic.
func DefaultRxBalanceConfig() RxBalanceConfig {
	return RxBalanceConfig{Interval: 10 * time.Second, Threshold: 0.25, MinGain: 0.05, Cooldown: time.Minute, MinRate: 10000, MaxMoves: 4}
}

// RxBalancer is the receive half of Smart Load Balancing: it decides which
// member each client's traffic arrives on. In Broadcom BASP (seed 004,
// "Inbound Traffic Flow") inbound frames are counted per client in the
// Inbound Flow Head Hash Table and "the load-balancing engine" uses those
// counters "periodically to reassign the flows to the physical adapter";
// the reassignment is a directed gratuitous ARP to the client ("Smart Load
// Balancing": when BASP "detects a significant load imbalance between the
// physical adapters in an SLB team, it will generate G-ARPs in an effort to
// redistribute incoming frames").
//
// Assign places new clients and the clients of members that are no longer
// active, and fills members that have just become active; Balance moves
// clients between active members by measured traffic. Both weigh members
// by their link speed and return the clients whose member changed: each
// needs directed gratuitous ARPs. An RxBalancer remembers the active set
// it last saw and when it last balanced; the clock is passed in. It is not
// safe for concurrent use.
type RxBalancer struct {
	Config RxBalanceConfig

	prevActive []bool
	lastRound  time.Time
}

// Reorder follows a change of the members' indices (a member removed, the
// members renumbered): order lists, for each new index, the old index of
// the member now there. Clients' Member fields are the caller's to remap.
func (b *RxBalancer) Reorder(order []int) {
	prev := make([]bool, len(order))
	for j, i := range order {
		prev[j] = i >= 0 && i < len(b.prevActive) && b.prevActive[i]
	}
	b.prevActive = prev
}

// memberLoads is one round's view of the members.
type memberLoads struct {
	active []bool
	w      []float64 // weight of each member
	load   []float64 // traffic of its clients (bytes/s), or its client count
	count  []int     // its clients
}

func newMemberLoads(clients []*Client, active []bool, weights []float64, byTraffic bool) *memberLoads {
	n := len(active)
	ml := &memberLoads{active: active, w: make([]float64, n), load: make([]float64, n), count: make([]int, n)}
	for i := range n {
		ml.w[i] = assignWeight(weights, i)
	}
	for _, c := range clients {
		if ml.on(c) {
			ml.count[c.Member]++
			if byTraffic {
				ml.load[c.Member] += c.Load
			} else {
				ml.load[c.Member]++
			}
		}
	}
	return ml
}

// on reports whether c is on an active member.
func (ml *memberLoads) on(c *Client) bool {
	return c.Member >= 0 && c.Member < len(ml.active) && ml.active[c.Member]
}

// weighted is member i's load per unit of weight.
func (ml *memberLoads) weighted(i int) float64 { return ml.load[i] / ml.w[i] }

// move accounts for client c, of load x, moving from d to t.
func (ml *memberLoads) move(d, t int, x float64) {
	ml.load[d] -= x
	ml.load[t] += x
	ml.count[d]--
	ml.count[t]++
}

// trafficLoad is the clients' total load when it is enough to balance by
// (at least MinRate, with balancing by traffic on), else 0.
func (b *RxBalancer) trafficLoad(clients []*Client) float64 {
	if b.Config.Interval <= 0 {
		return 0
	}
	total := 0.0
	for _, c := range clients {
		if c.Load > 0 && !math.IsInf(c.Load, 0) {
			total += c.Load
		}
	}
	if total < max(b.Config.MinRate, math.SmallestNonzeroFloat64) || math.IsInf(total, 0) {
		return 0
	}
	return total
}

// byIP is clients in address order (moves are deterministic).
func byIP(clients []*Client) []*Client {
	s := slices.Clone(clients)
	slices.SortFunc(s, func(a, b *Client) int { return a.IP.Compare(b.IP) })
	return s
}

// Assign gives every client an active member. A client stays on its
// member while that member is active (no needless re-pointing). New
// clients and the clients of a member that is no longer active (failover)
// go, one by one and the busiest first, to the active member that is then
// least loaded for its weight: by traffic when there is enough of it (a
// client without history counting as an average one), else by client
// count. Then, if members have become active since the last call (a
// member joined or came back: fallback), clients move to them from the
// busiest members while that evens the members out — by traffic, or
// without traffic until the counts are even within one client. Neither
// step waits for cooldowns: these moves have a reason beyond balance.
// It returns the clients whose member changed.
func (b *RxBalancer) Assign(clients []*Client, active []bool, weights []float64, now time.Time) (moved []*Client) {
	joined := make([]bool, len(active))
	anyJoined := false
	for i, a := range active {
		joined[i] = a && !(i < len(b.prevActive) && b.prevActive[i])
		anyJoined = anyJoined || joined[i]
	}
	b.prevActive = slices.Clone(active)
	if !slices.Contains(active, true) {
		return nil
	}
	total := b.trafficLoad(clients)
	byTraffic := total > 0
	ml := newMemberLoads(clients, active, weights, byTraffic)

	sorted := byIP(clients)
	var orphans []*Client
	known := 0
	for _, c := range sorted {
		if !ml.on(c) {
			orphans = append(orphans, c)
		}
		if c.Load > 0 {
			known++
		}
	}
	avg := 1.0
	if byTraffic {
		avg = total / float64(max(known, 1))
		// The busiest first: the big ones land where there is room.
		slices.SortStableFunc(orphans, func(x, y *Client) int { return -cmpFloat(x.Load, y.Load) })
	}
	for _, c := range orphans {
		est := 1.0
		if byTraffic {
			est = avg
			if c.Load > 0 {
				est = c.Load
			}
		}
		best, bestLoad := -1, 0.0
		for i, a := range active {
			if !a {
				continue
			}
			l := (ml.load[i] + est) / ml.w[i]
			if best < 0 || l < bestLoad || l == bestLoad && ml.count[i] < ml.count[best] {
				best, bestLoad = i, l
			}
		}
		c.moveTo(best, now)
		ml.load[best] += est
		ml.count[best]++
		moved = append(moved, c)
	}
	if !anyJoined {
		return moved
	}
	var more []*Client
	if byTraffic {
		more = b.even(sorted, ml, joined, 0, 0, false, len(clients), now)
	} else {
		more = evenCount(sorted, ml, joined, now)
	}
	for _, c := range more {
		if !slices.Contains(moved, c) {
			moved = append(moved, c)
		}
	}
	return moved
}

// evenCount moves clients from the members with the most clients (for
// their weight) to the joined members with the fewest until no move would
// make the spread better (within one client, weighted); the busiest
// member's last client in address order moves.
func evenCount(sorted []*Client, ml *memberLoads, joined []bool, now time.Time) (moved []*Client) {
	for range len(sorted) { // each move strictly evens the spread; bounded anyway
		busiest, idlest := -1, -1
		for i, a := range ml.active {
			if !a {
				continue
			}
			if busiest < 0 || ml.weighted(i) > ml.weighted(busiest) {
				busiest = i
			}
			if joined[i] && (idlest < 0 || ml.weighted(i) < ml.weighted(idlest)) {
				idlest = i
			}
		}
		if idlest < 0 || busiest == idlest || (ml.load[busiest]-1)/ml.w[busiest] < (ml.load[idlest]+1)/ml.w[idlest] {
			return moved
		}
		var c *Client
		for _, x := range sorted {
			if x.Member == busiest {
				c = x
			}
		}
		c.moveTo(idlest, now)
		ml.move(busiest, idlest, 1)
		moved = append(moved, c)
	}
	return moved
}

// Balance runs one round of receive balancing by traffic, at most once per
// Interval (a call sooner does nothing), and only with at least MinRate of
// inbound traffic. A member's weighted load is the decayed traffic of its
// clients divided by its weight. While the busiest and the idlest member
// differ by at least Threshold of the mean, the round moves the client
// that best evens out the busiest member and the idlest one it can help —
// the client whose load is nearest to half their difference (weighted)
// among those out of their Cooldown, gaining at least MinGain of the mean
// and not making the target busier than the source was — at most MaxMoves
// times. A member whose clients cannot move (one heavy client, all in
// cooldown) is passed over for the next busiest, so one heavy client ends
// up alone on its member while the light ones share the others.
//
// With steady traffic every move lowers the weighted sum of squared member
// loads, and each client moves at most once per Cooldown, so clients do
// not bounce. Inactive members and clients on them are left to Assign.
func (b *RxBalancer) Balance(clients []*Client, active []bool, weights []float64, now time.Time) []*Client {
	cfg := b.Config
	if cfg.Interval <= 0 || cfg.MaxMoves <= 0 {
		return nil
	}
	if !b.lastRound.IsZero() && now.Sub(b.lastRound) < cfg.Interval {
		return nil
	}
	b.lastRound = now
	total := b.trafficLoad(clients)
	if total <= 0 {
		return nil
	}
	ml := newMemberLoads(clients, active, weights, true)
	wsum := 0.0
	for i, a := range active {
		if a {
			wsum += ml.w[i]
		}
	}
	mean := 0.0
	for i, a := range active {
		if a {
			mean += ml.load[i]
		}
	}
	mean /= wsum
	all := slices.Clone(active)
	return b.even(byIP(clients), ml, all, max(cfg.Threshold, 0)*mean, max(cfg.MinGain, 0)*mean, true, cfg.MaxMoves, now)
}

// even moves clients by traffic from the busiest active members to the
// idlest target members, as Balance describes: pairs that differ by at
// least minDiff, moves that gain at least minGain (and something), clients
// out of their cooldown when cooldown is set, at most maxMoves.
func (b *RxBalancer) even(sorted []*Client, ml *memberLoads, targets []bool, minDiff, minGain float64, cooldown bool, maxMoves int, now time.Time) (moved []*Client) {
	var order []int
	for i, a := range ml.active {
		if a {
			order = append(order, i)
		}
	}
	if len(order) < 2 {
		return nil
	}
	movedNow := map[*Client]bool{}
	for len(moved) < maxMoves {
		slices.SortStableFunc(order, func(x, y int) int { return cmpFloat(ml.weighted(x), ml.weighted(y)) })
		found := false
		for di := len(order) - 1; di > 0 && !found; di-- {
			d := order[di]
			for ri := 0; ri < di; ri++ {
				t := order[ri]
				if !targets[t] {
					continue
				}
				diff := ml.weighted(d) - ml.weighted(t)
				if diff <= 0 || diff < minDiff {
					break
				}
				c := b.pick(sorted, ml, d, t, diff, minGain, cooldown, movedNow, now)
				if c == nil {
					continue
				}
				x := c.Load
				c.moveTo(t, now)
				ml.move(d, t, x)
				movedNow[c] = true
				moved = append(moved, c)
				found = true
				break
			}
		}
		if !found {
			break
		}
	}
	return moved
}

// pick returns the client of member d that, moved to member t, best evens
// out their weighted loads, which differ by diff > 0: the one nearest to
// the ideal load diff/(1/w_d + 1/w_t), first in address order on ties.
// The move must shrink the difference by at least minGain (and by
// something), leave t no busier than d was and d no idler than t was; with
// cooldown set, the client must not have moved within Cooldown. It returns
// nil if no client qualifies.
func (b *RxBalancer) pick(sorted []*Client, ml *memberLoads, d, t int, diff, minGain float64, cooldown bool, movedNow map[*Client]bool, now time.Time) *Client {
	inv := 1/ml.w[d] + 1/ml.w[t]
	ideal := diff / inv
	var best *Client
	bestErr := math.Inf(1)
	for _, c := range sorted {
		if c.Member != d || movedNow[c] {
			continue
		}
		if cooldown && !c.LastMoved.IsZero() && now.Sub(c.LastMoved) < b.Config.Cooldown {
			continue
		}
		x := c.Load
		if !(x > 0) || math.IsInf(x, 0) || x/ml.w[t] >= diff || x/ml.w[d] >= diff {
			continue
		}
		gain := diff - math.Abs(diff-x*inv)
		if !(gain > 0) || gain < minGain {
			continue
		}
		if e := math.Abs(x - ideal); e < bestErr {
			best, bestErr = c, e
		}
	}
	return best
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
