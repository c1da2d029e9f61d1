package distsim

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

func base() Config {
	return Config{Members: 4, Flows: 2048, Intervals: 30, Interval: 10 * time.Second, Churn: 0.02, Jitter: 0.5, Seed: 1}
}

func medianRatio(ps []Point) float64 {
	var v []float64
	for _, p := range ps[len(ps)/2:] {
		v = append(v, p.Ratio)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func TestRunIsDeterministic(t *testing.T) {
	c := base()
	c.Zipf, c.Rebalance = 1, true
	a, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Run(c)
	if !reflect.DeepEqual(a, b) {
		t.Error("two runs with the same seed differ")
	}
	if len(a) != c.Intervals || a[len(a)-1].T != 300*time.Second {
		t.Errorf("%d points, last at %v", len(a), a[len(a)-1].T)
	}
}

func TestUniformFlowsSpreadEvenlyWithoutRebalancing(t *testing.T) {
	ps, err := Run(base())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Moves != 0 {
			t.Fatal("the static table moved buckets")
		}
		var sum float64
		for _, s := range p.Share {
			sum += s
		}
		if sum < 0.999 || sum > 1.001 {
			t.Fatalf("shares sum to %v", sum)
		}
	}
	if r := medianRatio(ps); r < 1 || r > 1.4 {
		t.Errorf("2048 equal flows over 4 members: busiest/idlest %v", r)
	}
}

func TestRebalancingEvensOutZipfFlows(t *testing.T) {
	c := base()
	c.Zipf = 1
	static, _ := Run(c)
	c.Rebalance = true
	reb, _ := Run(c)
	moves := 0
	for _, p := range reb {
		moves += p.Moves
	}
	if moves == 0 {
		t.Fatal("the rebalancer never moved a bucket")
	}
	if s, r := medianRatio(static), medianRatio(reb); !(r < s) {
		t.Errorf("busiest/idlest over the second half: static %v, rebalanced %v", s, r)
	}
}

func TestRatio(t *testing.T) {
	for _, tc := range []struct {
		load []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 1}, {[]float64{2, 4, 3}, 2}, {[]float64{0, 5}, 0}} {
		if got := Ratio(tc.load); got != tc.want {
			t.Errorf("Ratio(%v) = %v, want %v", tc.load, got, tc.want)
		}
	}
	if _, err := Run(Config{}); err == nil {
		t.Error("empty config accepted")
	}
}
