// Package distsim simulates how evenly a team spreads its outbound flows
// over its members, and how the rebalancer changes that over time. It runs
// the real pieces — the classifier's flow hash (dataplane/classify), the
// bucket table slb.Assign deals and slb.Rebalancer — over generated flows
// (perf/traffic) with a manual clock: one step per rebalance interval, no
// packets, no waiting.
package distsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/teamgw/teamgw/dataplane/classify"
	"github.com/teamgw/teamgw/perf/traffic"
	"github.com/teamgw/teamgw/slb"
)

// NBuckets is the size of teamgw's outbound flow table
// (dataplane.NBuckets, which this pure package does not import).
const NBuckets = 256

// Config is one simulated team and its traffic.
type Config struct {
	Members int
	// Flows is the number of concurrent flows.
	Flows int
	// Zipf is the skew of the flow sizes: 0 makes every flow equal,
	// s > 0 makes the flow of rank r weigh r^-s.
	Zipf float64
	// Intervals is how many rebalance intervals to simulate, each
	// Interval long (simulated time).
	Intervals int
	Interval  time.Duration
	// Churn is the fraction of flows that end every interval; each is
	// replaced by a new flow (new addresses and ports, so a new hash)
	// of the same size, so the heavy flows land somewhere else.
	Churn float64
	// Jitter makes a flow's bytes in an interval vary uniformly within
	// ±Jitter of its mean.
	Jitter float64
	// Rebalance runs slb.Rebalancer (slb.DefaultRebalanceConfig) every
	// interval; otherwise the table stays as slb.Assign dealt it.
	Rebalance bool
	Seed      uint64
}

// Point is one interval.
type Point struct {
	// T is the simulated time at the end of the interval.
	T time.Duration `json:"t_ns"`
	// Ratio is the busiest member's bytes over the idlest's in the
	// interval (+Inf is reported as 0: a member carried nothing).
	Ratio float64 `json:"ratio"`
	// Share is each member's fraction of the interval's bytes.
	Share []float64 `json:"share"`
	// Moves is the buckets the rebalancer moved at the end of the
	// interval.
	Moves int `json:"moves"`
}

// bytesPerInterval is the traffic of one interval (its scale does not
// matter to the rebalancer, which works on fractions of the mean).
const bytesPerInterval = 1e9

// Run simulates cfg and returns one point per interval.
func Run(cfg Config) ([]Point, error) {
	if cfg.Members < 1 || cfg.Members > 255 || cfg.Flows < 1 || cfg.Intervals < 1 {
		return nil, fmt.Errorf("distsim: bad config %+v", cfg)
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0xd157))
	weights := traffic.Weights(cfg.Flows, cfg.Zipf, cfg.Seed)
	// Frames for the flows and for every flow that may replace one.
	spare := int(math.Ceil(cfg.Churn*float64(cfg.Flows))) * cfg.Intervals
	frames := traffic.Mix(cfg.Flows+spare, cfg.Seed, [6]byte{2, 0, 0, 0, 0, 1}, [6]byte{2, 0, 0, 0, 0, 2})
	bucketOf := func(f []byte) int { return classify.Bucket(classify.Frame(f).Hash, NBuckets) }
	bucket := make([]int, cfg.Flows)
	for i := range bucket {
		bucket[i] = bucketOf(frames[i])
	}
	next := cfg.Flows

	active := make([]bool, cfg.Members)
	for i := range active {
		active[i] = true
	}
	table, _ := slb.Assign(nil, active, nil, nil)
	reb := slb.NewRebalancer(slb.DefaultRebalanceConfig(), NBuckets)
	counters := make([]uint64, NBuckets)
	points := make([]Point, 0, cfg.Intervals)
	for iv := range cfg.Intervals {
		load := make([]float64, cfg.Members)
		for f, w := range weights {
			b := w * bytesPerInterval * (1 + cfg.Jitter*(2*r.Float64()-1))
			counters[bucket[f]] += uint64(b)
			load[table[bucket[f]]] += b
		}
		p := Point{T: time.Duration(iv+1) * cfg.Interval, Ratio: Ratio(load), Share: make([]float64, cfg.Members)}
		var total float64
		for _, l := range load {
			total += l
		}
		for i, l := range load {
			p.Share[i] = l / total
		}
		if cfg.Rebalance {
			moves := reb.Step(counters, table, active, nil)
			for _, m := range moves {
				table[m.Bucket] = uint8(m.To)
			}
			p.Moves = len(moves)
		}
		points = append(points, p)
		// Flows end and others start.
		for range int(cfg.Churn * float64(cfg.Flows)) {
			f := r.IntN(cfg.Flows)
			bucket[f] = bucketOf(frames[next])
			next++
		}
	}
	return points, nil
}

// Ratio is the busiest load over the idlest; 0 when the idlest carried
// nothing (an unbounded ratio).
func Ratio(load []float64) float64 {
	if len(load) == 0 {
		return 0
	}
	lo, hi := load[0], load[0]
	for _, l := range load {
		lo, hi = min(lo, l), max(hi, l)
	}
	if lo <= 0 {
		return 0
	}
	return hi / lo
}
