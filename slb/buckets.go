package slb

import (
	"math"
	"slices"
)

// freshTableSize is the size of the table Assign builds when it is given no
// current table: the 256 buckets of the team's outbound flow table
// (dataplane.NBuckets).
const freshTableSize = 256

// Assign returns a table in which every bucket maps to an active member,
// changing as few buckets as possible from cur.
//
// The table is teamgw's form of Broadcom BASP's Outbound Flow Hash Table
// (seed 004, "Outbound Traffic Flow"): SLB and trunking teams classify each
// transmitted frame by an L3/L4 flow hash, the hash selects an entry, and
// the entry names the member that transmits the flow. Keeping the table
// rather than hashing modulo the number of members is what lets a member
// change move only that member's flows. Assign changes it in two steps:
//
//   - Buckets whose member is not active (or is not a member at all: an
//     index >= len(active)) move to active members.
//   - Then members below their weighted fair share — a member that has just
//     come back (fallback), or one that has just been added — take buckets
//     from members above theirs, until every active member's bucket count
//     is within one bucket of its share, len(cur)*w/W, where W sums the
//     weights of the active members.
//
// Within these rules the number of moved buckets is the least possible, and
// a bucket only ever moves to a member that is below its share. The buckets
// a member above its share gives up are the ones with the least load, if
// load (indexed by bucket, like cur) is given, and otherwise, or among equal
// loads, its highest-numbered ones; the freed buckets are dealt to the
// receiving members in bucket order, interleaved in proportion to what each
// receives. load may be nil.
//
// active[i] says whether member i may carry traffic, and weights[i] is its
// relative capacity (its link speed, say); a missing, zero, negative or
// non-finite weight counts as 1. Only members 0 to 255 can be named by a
// table entry.
//
// A nil or empty cur asks for a fresh table of 256 buckets, and a cur in
// which no entry names an active member is rebuilt the same way: a weighted
// round-robin spread over the active members. If no member is active,
// Assign returns a copy of cur and moved = 0. Otherwise no entry of next
// names an inactive member. Assign is deterministic and allocates only next
// and, when buckets move, scratch space no larger than the table.
func Assign(cur []uint8, active []bool, weights []float64, load []uint64) (next []uint8, moved int) {
	members := min(len(active), 256)
	var (
		share  [256]float64
		count  [256]int
		target [256]int
		w      [256]float64
	)
	var total float64
	nActive := 0
	for i := range members {
		if active[i] {
			w[i] = assignWeight(weights, i)
			total += w[i]
			nActive++
		}
	}
	if nActive == 0 {
		return slices.Clone(cur), 0
	}
	n := len(cur)
	if n == 0 {
		n = freshTableSize
	}
	next = make([]uint8, n)
	copy(next, cur)

	// Current bucket counts; buckets of inactive or unknown members are
	// orphans and must move.
	orphans := 0
	for b := range n {
		if b >= len(cur) {
			orphans++
			continue
		}
		if m := int(cur[b]); m < members && active[m] {
			count[m]++
		} else {
			orphans++
		}
	}

	// Targets: each member keeps as many of its buckets as it may (its
	// count clamped to [floor(share), ceil(share)]), then the members most
	// above or below their share give up or take one more bucket until
	// the targets sum to n. A member's target is below its count only
	// when it must be, so the moves are as few as possible.
	sum := 0
	for i := range members {
		if !active[i] {
			continue
		}
		s := float64(n) * w[i] / total
		if r := math.Round(s); math.Abs(s-r) < 1e-9 {
			s = r
		}
		share[i] = s
		target[i] = min(max(count[i], int(math.Floor(s))), int(math.Ceil(s)))
		sum += target[i]
	}
	for sum > n {
		best := -1
		for i := range members {
			if active[i] && float64(target[i]) > math.Floor(share[i]) &&
				(best < 0 || float64(target[i])-share[i] > float64(target[best])-share[best]) {
				best = i
			}
		}
		target[best]--
		sum--
	}
	for sum < n {
		best := -1
		for i := range members {
			if active[i] && float64(target[i]) < math.Ceil(share[i]) &&
				(best < 0 || share[i]-float64(target[i]) > share[best]-float64(target[best])) {
				best = i
			}
		}
		target[best]++
		sum++
	}

	// Free the orphans and the buckets members above their target give
	// up: the least loaded, then the highest-numbered.
	excess := 0
	for i := range members {
		if active[i] && count[i] > target[i] {
			excess += count[i] - target[i]
		}
	}
	moved = orphans + excess
	if moved == 0 {
		return next, 0
	}
	freed := make([]int, 0, moved)
	for b := range n {
		if b >= len(cur) || int(cur[b]) >= members || !active[cur[b]] {
			freed = append(freed, b)
		}
	}
	if excess > 0 {
		donated := make([]int, 0, n-orphans)
		for b := range n {
			if m := int(next[b]); b < len(cur) && m < members && active[m] && count[m] > target[m] {
				donated = append(donated, b)
			}
		}
		loadOf := func(b int) uint64 {
			if b < len(load) {
				return load[b]
			}
			return 0
		}
		slices.SortFunc(donated, func(a, b int) int {
			if la, lb := loadOf(a), loadOf(b); la != lb {
				if la < lb {
					return -1
				}
				return 1
			}
			return b - a
		})
		var give [256]int
		for i := range members {
			if active[i] && count[i] > target[i] {
				give[i] = count[i] - target[i]
			}
		}
		for _, b := range donated {
			if m := next[b]; give[m] > 0 {
				give[m]--
				freed = append(freed, b)
			}
		}
		slices.Sort(freed)
	}

	// Deal the freed buckets to the members below their target, each
	// time to the one furthest behind its proportional schedule, so the
	// receivers interleave (round robin for equal needs).
	var need, got [256]int
	for i := range members {
		if active[i] && target[i] > count[i] {
			need[i] = target[i] - count[i]
		}
	}
	f := len(freed)
	for j, b := range freed {
		best, bestLag := -1, 0
		for i := range members {
			if need[i] == 0 {
				continue
			}
			if lag := need[i]*(j+1) - got[i]*f; best < 0 || lag > bestLag {
				best, bestLag = i, lag
			}
		}
		got[best]++
		next[b] = uint8(best)
	}
	return next, moved
}

// assignWeight is member i's weight: weights[i] when it is a positive finite
// number, otherwise 1.
func assignWeight(weights []float64, i int) float64 {
	if i < len(weights) {
		if w := weights[i]; w > 0 && !math.IsInf(w, 1) {
			return min(w, 1e300) // 256 of them still sum to a finite number
		}
	}
	return 1
}
