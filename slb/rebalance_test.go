package slb

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// rebalZipfRates returns each bucket's traffic per round: flows flows whose
// sizes follow Zipf's law (s = 1.1: the k-th biggest flow carries in
// proportion to k^-1.1, the biggest about 14% of 64K flows' traffic), each
// hashed into one of nBuckets buckets the way the workers do it
// (multiply-shift of a 32-bit flow hash). The traffic is 1<<19 packets of
// 1000 bytes, each drawn from a flow with rand.NewZipf.
func rebalZipfRates(seed uint64, nBuckets, flows int) []uint64 {
	r := rand.New(rand.NewPCG(seed, 0x7ea3))
	bucket := make([]uint16, flows)
	for f := range bucket {
		bucket[f] = uint16(uint64(r.Uint32()) * uint64(nBuckets) >> 32)
	}
	z := rand.NewZipf(r, 1.1, 1, uint64(flows-1))
	rates := make([]uint64, nBuckets)
	for range 1 << 19 {
		rates[bucket[z.Uint64()]] += 1000
	}
	return rates
}

// rebalMemberLoads returns each member's weighted load under rates.
func rebalMemberLoads(rates []uint64, table []uint8, active []bool, weights []float64) []float64 {
	l := make([]float64, len(active))
	for b, m := range table {
		if int(m) < len(active) && active[m] {
			l[m] += float64(rates[b])
		}
	}
	for i := range l {
		l[i] /= assignWeight(weights, i)
	}
	return l
}

// rebalRatio is the busiest active member's weighted load over the idlest's.
func rebalRatio(rates []uint64, table []uint8, active []bool, weights []float64) float64 {
	l := rebalMemberLoads(rates, table, active, weights)
	lo, hi := math.Inf(1), 0.0
	for i, a := range active {
		if a {
			lo, hi = min(lo, l[i]), max(hi, l[i])
		}
	}
	return hi / lo
}

// rebalApply checks moves against the rules Step promises and applies them
// to table.
func rebalApply(t testing.TB, cfg RebalanceConfig, moves []Move, table []uint8, active []bool) {
	t.Helper()
	if len(moves) > cfg.MaxMoves {
		t.Fatalf("%d moves, MaxMoves %d", len(moves), cfg.MaxMoves)
	}
	counts := assignCounts(table, len(active))
	seen := map[int]bool{}
	for _, mv := range moves {
		if mv.Bucket < 0 || mv.Bucket >= len(table) || int(table[mv.Bucket]) != mv.From {
			t.Fatalf("move %+v: bucket is on member %d", mv, table[mv.Bucket])
		}
		if seen[mv.Bucket] {
			t.Fatalf("move %+v: bucket moved twice in one round", mv)
		}
		seen[mv.Bucket] = true
		if !active[mv.From] || !active[mv.To] || mv.From == mv.To {
			t.Fatalf("move %+v: between inactive or identical members (active %v)", mv, active)
		}
		if counts[mv.From] < 2 {
			t.Fatalf("move %+v: takes member %d's last bucket", mv, mv.From)
		}
		counts[mv.From]--
		counts[mv.To]++
		table[mv.Bucket] = uint8(mv.To)
	}
}

// rebalSim runs rounds rounds of constant traffic at rates against a fresh
// table, applying Step's moves, and returns the table and the moves of each
// round.
func rebalSim(t testing.TB, cfg RebalanceConfig, rates []uint64, active []bool, weights []float64, rounds int) ([]uint8, []int) {
	t.Helper()
	table, _ := Assign(slices.Repeat([]uint8{0xff}, len(rates)), active, weights, nil)
	rb := NewRebalancer(cfg, len(rates))
	counters := make([]uint64, len(rates))
	perRound := make([]int, rounds)
	for round := range rounds {
		for b := range counters {
			counters[b] += rates[b]
		}
		moves := rb.Step(counters, table, active, weights)
		rebalApply(t, cfg, moves, table, active)
		perRound[round] = len(moves)
	}
	return table, perRound
}

// rebalBound is the least busiest/idlest ratio any table can reach when the
// biggest bucket is on a member alone and the other members share the rest
// evenly (weights equal); 1 when the biggest bucket is no obstacle.
func rebalBound(rates []uint64, members int) float64 {
	var total, big float64
	for _, x := range rates {
		total += float64(x)
		big = max(big, float64(x))
	}
	rest := (total - big) / float64(members-1)
	return max(1, big/rest)
}

func TestRebalanceZipf(t *testing.T) {
	cfg := DefaultRebalanceConfig()
	const rounds = 50
	for seed := range uint64(3) {
		rates := rebalZipfRates(seed, 256, 64<<10)
		for _, tc := range []struct {
			members int
			weights []float64
		}{
			{2, nil}, {4, nil}, {8, nil},
			{2, []float64{10, 1}},
			{4, []float64{25, 10, 10, 1}},
		} {
			t.Run(fmt.Sprintf("seed %d %d members %v", seed, tc.members, tc.weights), func(t *testing.T) {
				active := assignAllActive(tc.members)
				fresh, _ := Assign(nil, active, tc.weights, nil)
				before := rebalRatio(rates, fresh, active, tc.weights)
				table, perRound := rebalSim(t, cfg, rates, active, tc.weights, rounds)
				after := rebalRatio(rates, table, active, tc.weights)
				bound := 1.0
				if tc.weights == nil {
					bound = rebalBound(rates, tc.members)
				}
				total, late := 0, 0
				for i, m := range perRound {
					total += m
					if i >= rounds-20 {
						late += m
					}
				}
				t.Logf("busiest/idlest %.3f -> %.3f (bound %.3f), %d moves, per round %v", before, after, bound, total, perRound[:10])
				if limit := max(1.25, bound); after > limit {
					t.Errorf("ratio after %d rounds %.3f > %.3f", rounds, after, limit)
				}
				if before > 1+2*cfg.MinImbalance && after-1 > (before-1)/2 || after > before {
					t.Errorf("ratio %.3f -> %.3f: not clearly better", before, after)
				}
				if late != 0 {
					t.Errorf("%d moves in the last 20 rounds: %v", late, perRound)
				}
			})
		}
	}
}

// TestRebalanceElephant puts 40% of the traffic into one bucket: with more
// than two members its member cannot be relieved, but the others must still
// be balanced among themselves, and the elephant's member may keep besides
// it only buckets too small to be worth a move.
func TestRebalanceElephant(t *testing.T) {
	cfg := DefaultRebalanceConfig()
	rates := rebalZipfRates(7, 256, 64<<10)
	var total uint64
	for _, x := range rates {
		total += x
	}
	rates[100] += total * 2 / 3 // 40% of the new total
	for _, members := range []int{2, 4, 8} {
		active := assignAllActive(members)
		table, perRound := rebalSim(t, cfg, rates, active, nil, 50)
		loads := rebalMemberLoads(rates, table, active, nil)
		elephant := int(table[100])
		lo, hi := math.Inf(1), 0.0
		for i, l := range loads {
			if i != elephant {
				lo, hi = min(lo, l), max(hi, l)
			}
		}
		bound := rebalBound(rates, members)
		ratio := rebalRatio(rates, table, active, nil)
		t.Logf("%d members: busiest/idlest %.3f (bound %.3f), others %.3f, moves %v", members, ratio, bound, hi/lo, perRound[:10])
		if members > 2 && hi/lo > 1.25 {
			t.Errorf("%d members: members without the elephant unbalanced, %.3f", members, hi/lo)
		}
		// Besides the elephant, its member keeps only buckets whose move
		// would gain less than MinGain of the mean (2x for equal weights);
		// the bound with those counted in.
		var sum, small float64
		for _, x := range rates {
			sum += float64(x)
		}
		for b, x := range rates {
			if int(table[b]) == elephant && b != 100 {
				small += float64(x)
				if members > 2 && 2*float64(x) >= cfg.MinGain*sum/float64(members) {
					t.Errorf("%d members: bucket %d (%d) left with the elephant", members, b, x)
				}
			}
		}
		heavy := float64(rates[100]) + small
		bound2 := max(1, heavy/((sum-heavy)/float64(members-1)))
		if members > 2 {
			t.Logf("%d members: %.2f%% of the traffic in small buckets with the elephant, bound with them %.3f", members, 100*small/sum, bound2)
		}
		if ratio > max(1.25, bound2*1.25) {
			t.Errorf("%d members: ratio %.3f, bound %.3f", members, ratio, bound2)
		}
		if slices.ContainsFunc(perRound[30:], func(m int) bool { return m != 0 }) {
			t.Errorf("%d members: still moving late: %v", members, perRound)
		}
	}
}

func TestRebalanceUniform(t *testing.T) {
	cfg := DefaultRebalanceConfig()
	r := rand.New(rand.NewPCG(5, 5))
	for _, members := range []int{2, 3, 4, 8} {
		// Equal, then within ±4% per bucket: both balanced within
		// MinImbalance from the start.
		for _, jitter := range []uint64{0, 40} {
			rates := make([]uint64, 256)
			for b := range rates {
				rates[b] = 1000 - jitter + r.Uint64N(2*jitter+1)
			}
			_, perRound := rebalSim(t, cfg, rates, assignAllActive(members), nil, 20)
			if slices.ContainsFunc(perRound, func(m int) bool { return m != 0 }) {
				t.Errorf("%d members, jitter %d: moves %v on balanced traffic", members, jitter, perRound)
			}
		}
	}
}

func TestRebalanceCounterReset(t *testing.T) {
	cfg := DefaultRebalanceConfig()
	active := assignAllActive(4)
	table, _ := Assign(nil, active, nil, nil)
	rb := NewRebalancer(cfg, 256)
	counters := slices.Repeat([]uint64{1000}, 256)
	if m := rb.Step(counters, table, active, nil); m != nil {
		t.Fatalf("uniform first step: %v", m)
	}
	for b := range counters {
		counters[b] += 1000
	}
	// Worker restart: bucket 9's counter starts again from zero and
	// has counted 600 since.
	counters[9] = 600
	if m := rb.Step(counters, table, active, nil); m != nil {
		t.Fatalf("reset counter: moves %v", m)
	}
	if l := rb.Load(); l[9] != 800 || l[10] != 1000 {
		t.Errorf("after reset: load %v %v, want 800 1000", l[9], l[10])
	}
	// Missing counters are no traffic; the loads decay by half.
	for b := range counters {
		counters[b] += 1000
	}
	rb.Step(counters[:8], table, active, nil)
	if l := rb.Load(); l[0] != 1000 || l[10] != 500 {
		t.Errorf("after a short counter slice: load %v %v, want 1000 500", l[0], l[10])
	}
}

func TestRebalanceDecay(t *testing.T) {
	rb := NewRebalancer(RebalanceConfig{Decay: 0.25, MaxMoves: 8}, 2)
	active := []bool{true, true}
	rb.Step([]uint64{800, 0}, []uint8{0, 1}, active, nil) // first interval taken as is
	rb.Step([]uint64{800, 400}, []uint8{0, 1}, active, nil)
	if got, want := rb.Load(), []float64{600, 100}; !slices.Equal(got, want) {
		t.Errorf("Load = %v, want %v", got, want)
	}
	// Out-of-range Decay counts as 0.5.
	rb = NewRebalancer(RebalanceConfig{Decay: 0, MaxMoves: 8}, 1)
	rb.Step([]uint64{100}, []uint8{0}, active, nil)
	rb.Step([]uint64{100}, []uint8{0}, active, nil)
	if got := rb.Load()[0]; got != 50 {
		t.Errorf("Decay 0: load %v, want 50", got)
	}
}

func TestRebalanceInactive(t *testing.T) {
	cfg := DefaultRebalanceConfig()
	rates := rebalZipfRates(3, 256, 64<<10)
	// Member 2 went down but the table still names it (Assign not run
	// yet); member 4 is inactive with no buckets; one entry names no
	// member. Member 0 carries a third of the table.
	table, _ := Assign(nil, assignAllActive(4), nil, nil)
	for b := range 40 {
		table[b] = 0
	}
	table[255] = 0xff
	active := []bool{true, true, false, true, false}
	rb := NewRebalancer(cfg, 256)
	counters := make([]uint64, 256)
	total := 0
	for range 30 {
		for b := range counters {
			counters[b] += rates[b]
		}
		before := slices.Clone(table)
		moves := rb.Step(counters, table, active, nil)
		total += len(moves)
		rebalApply(t, cfg, moves, table, active)
		for b := range table {
			if (before[b] == 2 || before[b] == 0xff) && table[b] != before[b] {
				t.Fatalf("bucket %d of an inactive member moved", b)
			}
		}
	}
	if total == 0 {
		t.Error("no moves: the test does not exercise the rebalancer")
	}
	if r := rebalRatio(rates, table, active, nil); r > 1.25 {
		t.Errorf("active members unbalanced: %.3f", r)
	}
	// A single active member: nothing to balance.
	one := []bool{false, true}
	if m := NewRebalancer(cfg, 256).Step(counters, table, one, nil); m != nil {
		t.Errorf("one active member: moves %v", m)
	}
}

func TestRebalanceKeepsLastBucket(t *testing.T) {
	cfg := DefaultRebalanceConfig()
	cfg.MinGain = 0
	active := assignAllActive(3)
	// Member 0 is the busiest, but has one bucket; member 1 has the
	// second most and gives to member 2.
	table := []uint8{0, 1, 1, 1, 2}
	counters := []uint64{1000, 200, 200, 200, 1}
	moves := NewRebalancer(cfg, len(table)).Step(counters, table, active, nil)
	rebalApply(t, cfg, moves, table, active)
	if len(moves) != 1 || moves[0].From != 1 || moves[0].To != 2 {
		t.Errorf("moves %v, want one from member 1 to member 2", moves)
	}
	// Two members, the busy one with a single bucket: no move at all.
	moves = NewRebalancer(cfg, 4).Step([]uint64{1000, 1, 1, 1}, []uint8{0, 1, 1, 1}, active[:2], nil)
	if moves != nil {
		t.Errorf("moves %v, want none", moves)
	}
}

func TestRebalanceNoPingPong(t *testing.T) {
	// Buckets of 100 and 60 against 10: the 60 is nearest to half the
	// difference (75).
	cfg := DefaultRebalanceConfig()
	active := assignAllActive(2)
	table := []uint8{0, 0, 1}
	moves := NewRebalancer(cfg, 3).Step([]uint64{100, 60, 10}, table, active, nil)
	if !slices.Equal(moves, []Move{{Bucket: 1, From: 0, To: 1}}) {
		t.Fatalf("moves %v, want bucket 1 to member 1", moves)
	}
	// Buckets of 1000 and 3 against 500: moving the 1000 would make the
	// target busier than the source was (ping-pong), and the 3 gains less
	// than MinGain.
	moves = NewRebalancer(cfg, 3).Step([]uint64{1000, 3, 500}, table, active, nil)
	if moves != nil {
		t.Fatalf("moves %v, want none", moves)
	}
}

func TestRebalanceMaxMoves(t *testing.T) {
	rates := rebalZipfRates(11, 256, 64<<10)
	active := assignAllActive(8)
	table, _ := Assign(nil, active, nil, nil)
	for b := range 128 {
		table[b] = 0 // member 0 carries half
	}
	for _, limit := range []int{0, 1, 3} {
		cfg := DefaultRebalanceConfig()
		cfg.MaxMoves = limit
		moves := NewRebalancer(cfg, 256).Step(rates, slices.Clone(table), active, nil)
		if len(moves) != limit {
			t.Errorf("MaxMoves %d: %d moves", limit, len(moves))
		}
	}
}

func BenchmarkRebalanceStep(b *testing.B) {
	rates := rebalZipfRates(1, 256, 64<<10)
	active := assignAllActive(8)
	fresh, _ := Assign(nil, active, nil, nil)
	for _, bc := range []struct {
		name  string
		table []uint8
	}{
		{"unbalanced", func() []uint8 {
			t := slices.Clone(fresh)
			for i := range 96 {
				t[i] = 0
			}
			return t
		}()},
		{"balanced", nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := DefaultRebalanceConfig()
			table := bc.table
			if table == nil {
				table, _ = rebalSim(b, cfg, rates, active, nil, 20)
			}
			rb := NewRebalancer(cfg, 256)
			counters := make([]uint64, 256)
			b.ReportAllocs()
			for b.Loop() {
				for i := range counters {
					counters[i] += rates[i]
				}
				rb.Step(counters, table, active, nil)
			}
		})
	}
}
