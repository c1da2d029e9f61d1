package control

import "time"

// failoverBuckets are the upper bounds of the failover-duration histogram:
// from a member's link loss being seen to the snapshot without it being
// published is microseconds when the control loop is idle, milliseconds
// when it is busy.
var failoverBuckets = []time.Duration{
	10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond, 100 * time.Microsecond,
	250 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond,
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
}

// histogram counts durations into failoverBuckets; only the Run loop
// touches it.
type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    time.Duration
	n      uint64
}

func (h *histogram) observe(d time.Duration) {
	if h.counts == nil {
		h.counts = make([]uint64, len(failoverBuckets)+1)
	}
	i := 0
	for i < len(failoverBuckets) && d > failoverBuckets[i] {
		i++
	}
	h.counts[i]++
	h.sum += d
	h.n++
}

// Histogram is a duration histogram as the control API reports it.
type Histogram struct {
	Count uint64  `json:"count"`
	Sum   float64 `json:"sum_seconds"`
	// Buckets are cumulative: how many observations were at most Le
	// seconds.
	Buckets []HistogramBucket `json:"buckets"`
}

// HistogramBucket is one cumulative bucket of a Histogram.
type HistogramBucket struct {
	Le    float64 `json:"le"`
	Count uint64  `json:"count"`
}

// status returns the histogram with cumulative buckets.
func (h *histogram) status() Histogram {
	out := Histogram{Count: h.n, Sum: h.sum.Seconds()}
	var cum uint64
	for i, le := range failoverBuckets {
		if h.counts != nil {
			cum += h.counts[i]
		}
		out.Buckets = append(out.Buckets, HistogramBucket{Le: le.Seconds(), Count: cum})
	}
	return out
}
