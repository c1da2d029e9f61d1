package slb

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// assignCounts counts the buckets of each of members members.
func assignCounts(table []uint8, members int) []int {
	c := make([]int, members)
	for _, m := range table {
		if int(m) < members {
			c[m]++
		}
	}
	return c
}

// assignAllActive returns n active flags, all true except the given members.
func assignAllActive(n int, inactive ...int) []bool {
	a := make([]bool, n)
	for i := range a {
		a[i] = !slices.Contains(inactive, i)
	}
	return a
}

// assignCheck verifies the invariants of an Assign result: every entry names
// an active member, every active member is within one bucket of its share,
// and moved counts the entries that differ from cur.
func assignCheck(t *testing.T, cur, next []uint8, moved int, active []bool, weights []float64) {
	t.Helper()
	n := len(cur)
	if n == 0 {
		n = freshTableSize
	}
	if len(next) != n {
		t.Fatalf("len(next) = %d, want %d", len(next), n)
	}
	diff := 0
	for b, m := range next {
		if int(m) >= len(active) || !active[m] {
			t.Fatalf("bucket %d -> member %d, which is not active", b, m)
		}
		if b >= len(cur) || cur[b] != m {
			diff++
		}
	}
	if diff != moved {
		t.Errorf("moved = %d, but %d entries changed", moved, diff)
	}
	var total float64
	for i, a := range active {
		if a {
			total += assignWeight(weights, i)
		}
	}
	counts := assignCounts(next, len(active))
	for i, a := range active {
		if !a {
			continue
		}
		share := float64(n) * assignWeight(weights, i) / total
		if math.Abs(float64(counts[i])-share) >= 1+1e-9 {
			t.Errorf("member %d has %d buckets, share %.3f", i, counts[i], share)
		}
	}
}

func TestAssignFresh(t *testing.T) {
	tests := []struct {
		name    string
		n       int // 0: nil cur
		active  []bool
		weights []float64
	}{
		{"1 member", 0, assignAllActive(1), nil},
		{"2 members", 0, assignAllActive(2), nil},
		{"3 members", 0, assignAllActive(3), nil},
		{"4 members", 0, assignAllActive(4), nil},
		{"8 members", 0, assignAllActive(8), nil},
		{"8 members, 1 bucket", 1, assignAllActive(8), nil},
		{"8 members, 7 buckets", 7, assignAllActive(8), nil},
		{"5 members, 4096 buckets", 4096, assignAllActive(5), nil},
		{"weights 0 and negative count as 1", 0, assignAllActive(4), []float64{0, -3, math.NaN(), 1}},
		{"10G + 1G", 0, assignAllActive(2), []float64{10e9, 1e9}},
		{"25G 10G 1G 1G", 0, assignAllActive(4), []float64{25, 10, 1, 1}},
		{"inactive members get nothing", 0, assignAllActive(8, 0, 3, 7), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A table of the right size naming no member is fresh too.
			var cur []uint8
			if tt.n > 0 {
				cur = slices.Repeat([]uint8{0xff}, tt.n)
			}
			next, moved := Assign(cur, tt.active, tt.weights, nil)
			assignCheck(t, cur, next, moved, tt.active, tt.weights)
			counts := assignCounts(next, len(tt.active))
			lo, hi := len(next), 0
			for i, a := range tt.active {
				if a {
					lo, hi = min(lo, counts[i]), max(hi, counts[i])
				}
			}
			t.Logf("counts %v", counts)
			if tt.weights == nil && hi-lo > 1 {
				t.Errorf("equal weights: counts %v differ by more than 1", counts)
			}
		})
	}
}

func TestAssignFreshIsRoundRobin(t *testing.T) {
	next, _ := Assign(nil, assignAllActive(4), nil, nil)
	for b, m := range next {
		if int(m) != b%4 {
			t.Fatalf("bucket %d -> %d, want %d", b, m, b%4)
		}
	}
	// Weighted: 10G and 1G interleave rather than fill in runs.
	next, _ = Assign(nil, assignAllActive(2), []float64{10, 1}, nil)
	if c := assignCounts(next, 2); c[0] != 233 || c[1] != 23 {
		t.Errorf("10G + 1G counts %v, want [233 23]", c)
	}
	run := 0
	for b := range next {
		if next[b] == 0 {
			run++
			if run > 12 {
				t.Fatalf("run of %d buckets on member 0 ending at %d: not interleaved", run, b)
			}
		} else {
			run = 0
		}
	}
}

func TestAssignFailureMovesOnlyThatMember(t *testing.T) {
	for _, members := range []int{2, 3, 4, 8} {
		for _, weights := range [][]float64{nil, {10, 1, 25, 1, 10, 10, 40, 1}} {
			all := assignAllActive(members)
			fresh, _ := Assign(nil, all, weights, nil)
			for failed := range members {
				active := assignAllActive(members, failed)
				next, moved := Assign(fresh, active, weights, nil)
				assignCheck(t, fresh, next, moved, active, weights)
				lost := assignCounts(fresh, members)[failed]
				if moved != lost {
					t.Errorf("%d members %v, member %d fails: moved %d, it had %d", members, weights, failed, moved, lost)
				}
				for b := range fresh {
					if fresh[b] != next[b] && int(fresh[b]) != failed {
						t.Fatalf("%d members, member %d fails: bucket %d moved from %d", members, failed, b, fresh[b])
					}
				}
			}
		}
	}
}

func TestAssignFallback(t *testing.T) {
	for _, members := range []int{2, 4, 8} {
		all := assignAllActive(members)
		fresh, _ := Assign(nil, all, nil, nil)
		ret := members - 1
		failed, _ := Assign(fresh, assignAllActive(members, ret), nil, nil)
		back, moved := Assign(failed, all, nil, nil)
		assignCheck(t, failed, back, moved, all, nil)
		share := 256 / float64(members)
		if math.Abs(float64(moved)-share) >= 1 {
			t.Errorf("%d members: member %d returns and takes %d buckets, share %.2f", members, ret, moved, share)
		}
		for b := range back {
			if back[b] != failed[b] && int(back[b]) != ret {
				t.Errorf("%d members: bucket %d moved %d -> %d, not to the returning member", members, b, failed[b], back[b])
			}
		}
		// Without load, the highest-numbered buckets of each donor go.
		for m := range members - 1 {
			lowestGiven, highestKept := len(back), -1
			for b := range back {
				if int(failed[b]) != m {
					continue
				}
				if back[b] != failed[b] {
					lowestGiven = min(lowestGiven, b)
				} else {
					highestKept = max(highestKept, b)
				}
			}
			if highestKept > lowestGiven {
				t.Errorf("%d members: member %d gave bucket %d but kept %d", members, m, lowestGiven, highestKept)
			}
		}
	}
}

func TestAssignFallbackGivesLeastLoaded(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	load := make([]uint64, 256)
	for b := range load {
		load[b] = r.Uint64N(1000)
	}
	cur, _ := Assign(nil, assignAllActive(3), nil, nil)
	all := assignAllActive(4)
	next, moved := Assign(cur, all, nil, load)
	assignCheck(t, cur, next, moved, all, nil)
	for m := range 3 {
		maxGiven, minKept := uint64(0), uint64(math.MaxUint64)
		for b := range cur {
			if int(cur[b]) != m {
				continue
			}
			if next[b] != cur[b] {
				if next[b] != 3 {
					t.Fatalf("bucket %d moved to %d, not to the new member 3", b, next[b])
				}
				maxGiven = max(maxGiven, load[b])
			} else {
				minKept = min(minKept, load[b])
			}
		}
		if maxGiven > minKept {
			t.Errorf("member %d gave a bucket of load %d but kept one of %d", m, maxGiven, minKept)
		}
	}
}

func TestAssignNoneActive(t *testing.T) {
	cur, _ := Assign(nil, assignAllActive(4), nil, nil)
	next, moved := Assign(cur, make([]bool, 4), nil, nil)
	if moved != 0 || !slices.Equal(next, cur) {
		t.Fatalf("no member active: moved %d, table changed", moved)
	}
	next[0] = 9
	if cur[0] == 9 {
		t.Fatal("Assign returned cur itself, not a copy")
	}
	if next, moved := Assign(nil, nil, nil, nil); next != nil || moved != 0 {
		t.Fatalf("no members, no table: %v %d", next, moved)
	}
}

func TestAssignRepairsOutOfRange(t *testing.T) {
	active := assignAllActive(4)
	cur, _ := Assign(nil, active, nil, nil)
	bad := slices.Clone(cur)
	bad[5], bad[77], bad[200] = 4, 0xff, 17
	next, moved := Assign(bad, active, nil, nil)
	assignCheck(t, bad, next, moved, active, nil)
	if moved != 3 {
		t.Errorf("moved %d, want the 3 out-of-range entries", moved)
	}
	for b := range next {
		if next[b] != bad[b] && b != 5 && b != 77 && b != 200 {
			t.Errorf("bucket %d moved %d -> %d", b, bad[b], next[b])
		}
	}
}

func TestAssignStable(t *testing.T) {
	// An already fair table does not change.
	active := assignAllActive(8, 2, 5)
	weights := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	cur, _ := Assign(nil, active, weights, nil)
	next, moved := Assign(cur, active, weights, nil)
	if moved != 0 || !slices.Equal(next, cur) {
		t.Errorf("fair table: moved %d", moved)
	}
}

// TestAssignRandom checks Assign's invariants, minimality and determinism on
// random tables, member sets, weights and loads.
func TestAssignRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2026))
	for iter := range 1000 {
		members := 1 + r.IntN(8)
		n := 1 + r.IntN(4096)
		if iter%4 == 0 {
			n = 256
		}
		active := make([]bool, members)
		for i := range active {
			active[i] = r.IntN(4) != 0
		}
		var weights []float64
		if r.IntN(2) == 0 {
			weights = make([]float64, r.IntN(members+1))
			for i := range weights {
				weights[i] = []float64{1, 10, 25, 100, 0, -1}[r.IntN(6)]
			}
		}
		cur := make([]uint8, n)
		skew := r.IntN(members + 3)
		for b := range cur {
			if r.IntN(3) == 0 {
				cur[b] = uint8(skew)
			} else {
				cur[b] = uint8(r.IntN(members + 2))
			}
		}
		var load []uint64
		if r.IntN(2) == 0 {
			load = make([]uint64, n)
			for b := range load {
				load[b] = r.Uint64N(100)
			}
		}
		next, moved := Assign(cur, active, weights, load)
		if !slices.Contains(active, true) {
			if moved != 0 || !slices.Equal(next, cur) {
				t.Fatalf("iter %d: no member active, but the table changed", iter)
			}
			continue
		}
		assignCheck(t, cur, next, moved, active, weights)
		if t.Failed() {
			t.Fatalf("iter %d: members %d n %d active %v weights %v", iter, members, n, active, weights)
		}
		// A lower bound on the moves: every orphan, and whatever a member
		// holds beyond the ceiling of its share.
		var total float64
		for i, a := range active {
			if a {
				total += assignWeight(weights, i)
			}
		}
		before := assignCounts(cur, members)
		bound := 0
		for b := range cur {
			if int(cur[b]) >= members || !active[cur[b]] {
				bound++
			}
		}
		after := assignCounts(next, members)
		for i, a := range active {
			if !a {
				continue
			}
			share := float64(n) * assignWeight(weights, i) / total
			bound += max(0, before[i]-int(math.Ceil(share-1e-9)))
			if after[i] > before[i] {
				// Only members below their share receive, and they give
				// nothing.
				if float64(before[i]) >= share {
					t.Fatalf("iter %d: member %d at %d of share %.2f received buckets", iter, i, before[i], share)
				}
				for b := range cur {
					if cur[b] == uint8(i) && next[b] != cur[b] {
						t.Fatalf("iter %d: receiving member %d gave bucket %d", iter, i, b)
					}
				}
			}
		}
		if moved < bound || moved > bound+members {
			t.Fatalf("iter %d: moved %d, lower bound %d", iter, moved, bound)
		}
		again, moved2 := Assign(cur, active, weights, load)
		if moved2 != moved || !slices.Equal(again, next) {
			t.Fatalf("iter %d: not deterministic", iter)
		}
		if _, m := Assign(next, active, weights, load); m != 0 {
			t.Fatalf("iter %d: Assign of its own result moved %d", iter, m)
		}
	}
}

func TestAssignAllocs(t *testing.T) {
	cur, _ := Assign(nil, assignAllActive(8), nil, nil)
	down := assignAllActive(8, 3)
	if a := testing.AllocsPerRun(100, func() { Assign(cur, down, nil, nil) }); a > 2 {
		t.Errorf("member failure: %v allocations, want the table and one scratch slice", a)
	}
	failed, _ := Assign(cur, down, nil, nil)
	all := assignAllActive(8)
	load := make([]uint64, len(cur))
	if a := testing.AllocsPerRun(100, func() { Assign(failed, all, nil, load) }); a > 3 {
		t.Errorf("fallback: %v allocations, want the table and two scratch slices", a)
	}
}

func BenchmarkAssignFallback(b *testing.B) {
	cur, _ := Assign(nil, assignAllActive(7), nil, nil)
	all := assignAllActive(8)
	load := make([]uint64, len(cur))
	for i := range load {
		load[i] = uint64(i * 7919 % 1000)
	}
	b.ReportAllocs()
	for b.Loop() {
		Assign(cur, all, nil, load)
	}
}
