package slb

import "math"

// RebalanceConfig guards the Rebalancer against churn: every bucket it moves
// re-routes live flows, so it acts only on a clear imbalance and only for a
// clear gain.
type RebalanceConfig struct {
	// MinImbalance is how far, as a fraction of the mean weighted load,
	// the busiest active member's weighted load must exceed the idlest's
	// before the Rebalancer acts (e.g. 0.10). Negative counts as 0.
	MinImbalance float64
	// MinGain is how much, as a fraction of the mean weighted load, a
	// move must reduce the difference between the two members' weighted
	// loads (e.g. 0.01). Whatever its value, a move never makes the target
	// busier than the source was, nor the source idler than the target
	// was, so buckets do not ping-pong. Negative counts as 0.
	MinGain float64
	// Decay is the weight of the newest interval in the exponentially
	// decayed per-bucket load (0 < Decay <= 1, e.g. 0.5); a value outside
	// that range counts as 0.5.
	Decay float64
	// MaxMoves bounds the buckets moved per round (e.g. 8); zero or
	// negative disables moves (Step still tracks the load).
	MaxMoves int
}

// DefaultRebalanceConfig returns the configuration teamgw uses: act on a
// 10% imbalance, only for moves that gain 1% of the mean, halve the weight
// of history every interval, and move at most 8 buckets per round.
//
// MinGain is 1% rather than 2% for two-member teams: with 256 buckets an
// average bucket carries 1/128 of a member's load, and moving it gains only
// 2/128, about 1.6%, of the mean, so a 2% floor would freeze such teams.
func DefaultRebalanceConfig() RebalanceConfig {
	return RebalanceConfig{MinImbalance: 0.10, MinGain: 0.01, Decay: 0.5, MaxMoves: 8}
}

// Move re-routes one bucket of the outbound flow table from member From to
// member To.
type Move struct{ Bucket, From, To int }

// Rebalancer is teamgw's load-balancing engine for the outbound flow table.
// In Broadcom BASP (seed 004, "Outbound Traffic Flow") SLB and trunking
// teams classify transmitted frames by an L3/L4 flow hash into an Outbound
// Flow Hash Table whose entries keep statistics counters, and "the
// load-balancing engine uses these counters to periodically distribute the
// flows across teamed ports". The Rebalancer does that for teamgw's bucket
// table: the workers count bytes (or packets) per bucket, and once per
// interval Step turns the counters into a decayed load per bucket and
// proposes the few bucket moves that bring the members' weighted loads
// together.
//
// A Rebalancer keeps the previous cumulative counters and the decayed
// loads; it is not safe for concurrent use.
type Rebalancer struct {
	cfg    RebalanceConfig
	prev   []uint64  // cumulative counters seen by the last Step
	load   []float64 // decayed load per bucket
	primed bool      // load holds at least one interval
	moved  []bool    // buckets moved in the current Step

	// Per-member scratch for Step, kept here so Step does not allocate.
	sum   [256]float64 // decayed load of the member's buckets
	w     [256]float64 // the member's weight
	cnt   [256]int     // the member's buckets
	order [256]uint8   // active members, idlest first
}

// NewRebalancer returns a Rebalancer for a table of nBuckets buckets, with
// out-of-range fields of cfg replaced as RebalanceConfig documents.
func NewRebalancer(cfg RebalanceConfig, nBuckets int) *Rebalancer {
	if !(cfg.MinImbalance >= 0) {
		cfg.MinImbalance = 0
	}
	if !(cfg.MinGain >= 0) {
		cfg.MinGain = 0
	}
	if !(cfg.Decay > 0 && cfg.Decay <= 1) {
		cfg.Decay = 0.5
	}
	nBuckets = max(nBuckets, 0)
	return &Rebalancer{
		cfg:   cfg,
		prev:  make([]uint64, nBuckets),
		load:  make([]float64, nBuckets),
		moved: make([]bool, nBuckets),
	}
}

// Step is called once per rebalance interval. counters are the cumulative
// per-bucket byte (or packet) counters summed over the workers: monotonic,
// except that a counter lower than the last one seen (the counters were
// reset, by a restart say) counts as a reset, so its value is that bucket's
// traffic for the interval. A bucket without a counter had no traffic. The
// first Step takes the counters as one interval.
//
// table is the current outbound flow table, active says which members may
// carry traffic and weights are their relative capacities (missing, zero,
// negative or non-finite: 1). Step updates the decayed loads from the
// counter deltas and returns the moves to apply, in order; the caller
// applies them to its table and publishes it.
//
// A member's weighted load is the decayed load of its buckets divided by
// its weight. While the busiest and idlest members differ by at least
// MinImbalance of the mean, Step moves the bucket that best evens out the
// busiest member and the idlest one it can help — the bucket whose load is
// nearest to half their difference (weighted), among those that gain at
// least MinGain of the mean and that do not swap which member is the
// busier — and repeats, at most MaxMoves times. A member whose buckets
// cannot be moved (it has just one, or they are too big or too small) is
// passed over for the next busiest one, so a single elephant bucket does
// not keep the other members unbalanced.
//
// Step never moves a member's last bucket, never moves a bucket to or from
// an inactive member (nor one whose entry names no member: mending those
// is Assign's job), moves a bucket at most once per call, and returns nil
// when the members are balanced within MinImbalance. With steady traffic
// every move lowers the weighted sum of squared member loads, so the moves
// stop rather than oscillate. It allocates only the returned slice.
func (r *Rebalancer) Step(counters []uint64, table []uint8, active []bool, weights []float64) []Move {
	r.observe(counters)
	if r.cfg.MaxMoves <= 0 {
		return nil
	}
	n := min(len(table), len(r.load))
	members := min(len(active), 256)
	nActive := 0
	var total, wsum float64
	for i := range members {
		r.sum[i], r.cnt[i] = 0, 0
		if active[i] {
			r.w[i] = assignWeight(weights, i)
			wsum += r.w[i]
			r.order[nActive] = uint8(i)
			nActive++
		}
	}
	if nActive < 2 {
		return nil
	}
	for b := range n {
		if m := int(table[b]); m < members && active[m] {
			r.sum[m] += r.load[b]
			r.cnt[m]++
			total += r.load[b]
		}
	}
	if !(total > 0) || math.IsInf(total, 0) {
		return nil
	}
	mean := total / wsum
	minDiff := r.cfg.MinImbalance * mean
	minGain := r.cfg.MinGain * mean

	var moves []Move
	order := r.order[:nActive]
	for len(moves) < r.cfg.MaxMoves {
		r.sortByLoad(order)
		idlest := r.sum[order[0]] / r.w[order[0]]
		found := false
		for di := nActive - 1; di > 0 && !found; di-- {
			d := int(order[di])
			ld := r.sum[d] / r.w[d]
			if ld-idlest < minDiff || ld <= idlest {
				break
			}
			if r.cnt[d] < 2 {
				continue
			}
			for ri := 0; ri < di; ri++ {
				t := int(order[ri])
				diff := ld - r.sum[t]/r.w[t]
				if diff < minDiff || diff <= 0 {
					break
				}
				b := r.pick(table[:n], d, t, diff, minGain)
				if b < 0 {
					continue
				}
				if moves == nil {
					moves = make([]Move, 0, r.cfg.MaxMoves)
				}
				moves = append(moves, Move{Bucket: b, From: d, To: t})
				r.moved[b] = true
				x := r.load[b]
				r.sum[d] -= x
				r.sum[t] += x
				r.cnt[d]--
				r.cnt[t]++
				found = true
				break
			}
		}
		if !found {
			break
		}
	}
	for _, m := range moves {
		r.moved[m.Bucket] = false
	}
	return moves
}

// observe folds the counter deltas since the last Step into the decayed
// per-bucket loads.
func (r *Rebalancer) observe(counters []uint64) {
	a := r.cfg.Decay
	for b := range r.load {
		var delta float64
		if b < len(counters) {
			c := counters[b]
			if c >= r.prev[b] {
				delta = float64(c - r.prev[b])
			} else {
				delta = float64(c) // reset: all of it is new
			}
			r.prev[b] = c
		}
		if r.primed {
			r.load[b] = a*delta + (1-a)*r.load[b]
		} else {
			r.load[b] = delta
		}
	}
	r.primed = true
}

// sortByLoad orders members by weighted load, idlest first, ties by index
// (an insertion sort: there are at most a few members).
func (r *Rebalancer) sortByLoad(order []uint8) {
	less := func(a, b uint8) bool {
		la, lb := r.sum[a]/r.w[a], r.sum[b]/r.w[b]
		return la < lb || la == lb && a < b
	}
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && less(order[j], order[j-1]); j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
}

// pick returns the bucket of member d that, moved to member t, best evens
// out their weighted loads, which differ by diff > 0: the one nearest to
// the ideal load diff/(1/w_d + 1/w_t), lowest-numbered on ties. The move
// must reduce the difference by at least minGain and leave t no busier
// than d was and d no idler than t was. It returns -1 if no bucket
// qualifies.
func (r *Rebalancer) pick(table []uint8, d, t int, diff, minGain float64) int {
	inv := 1/r.w[d] + 1/r.w[t]
	ideal := diff / inv
	best, bestErr := -1, math.Inf(1)
	for b, m := range table {
		if int(m) != d || r.moved[b] {
			continue
		}
		x := r.load[b]
		if !(x > 0) || x/r.w[t] >= diff || x/r.w[d] >= diff {
			continue
		}
		if diff-math.Abs(diff-x*inv) < minGain {
			continue
		}
		if e := math.Abs(x - ideal); e < bestErr {
			best, bestErr = b, e
		}
	}
	return best
}

// Load returns a copy of the decayed per-bucket load, for display.
func (r *Rebalancer) Load() []float64 {
	out := make([]float64, len(r.load))
	copy(out, r.load)
	return out
}
