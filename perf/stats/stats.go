// Package stats summarises repeated benchmark measurements: machines are
// noisy, so reports give the median of several rounds with its range.
package stats

import (
	"math"
	"slices"
)

// Summary is the distribution of one figure over repeated rounds.
type Summary struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// Summarize returns the median, minimum and maximum of v; the zero
// Summary when v is empty. NaNs are left out.
func Summarize(v []float64) Summary {
	s := make([]float64, 0, len(v))
	for _, x := range v {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return Summary{}
	}
	slices.Sort(s)
	return Summary{Median: Quantile(s, 0.5), Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// Median is the middle of v (the mean of the two middle values for an
// even count); 0 for an empty v.
func Median(v []float64) float64 { return Summarize(v).Median }

// Quantile returns the q-quantile (0 <= q <= 1) of sorted, interpolating
// linearly between neighbours; 0 for an empty slice.
func Quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	pos := q * float64(n-1)
	i := int(pos)
	if i >= n-1 {
		return sorted[n-1]
	}
	f := pos - float64(i)
	return sorted[i] + f*(sorted[i+1]-sorted[i])
}

// Ratios returns a[i]/b[i] for each pair of rounds measured back to back:
// the median of paired ratios cancels slow drifts of a shared host better
// than the ratio of two medians.
func Ratios(a, b []float64) []float64 {
	n := min(len(a), len(b))
	out := make([]float64, 0, n)
	for i := range n {
		if b[i] != 0 {
			out = append(out, a[i]/b[i])
		}
	}
	return out
}
