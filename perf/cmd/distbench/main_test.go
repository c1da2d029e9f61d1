package main

import (
	"strings"
	"testing"
	"time"

	"github.com/teamgw/teamgw/perf/distsim"
)

func TestSummarizeTakesTheSecondHalf(t *testing.T) {
	var ps []distsim.Point
	for i, r := range []float64{3, 2.5, 1.2, 1.1, 1.4, 1.3} {
		ps = append(ps, distsim.Point{T: time.Duration(i+1) * 10 * time.Second, Ratio: r, Moves: 1})
	}
	s := summarize(4, "zipf", 1, true, ps)
	if s.First != 3 || s.Settled != 1.3 || s.Worst != 1.4 || s.Moves != 6 || s.Policy != "rebalanced" || len(s.Points) != 6 {
		t.Errorf("%+v", s)
	}
	md := markdown(Report{Flows: 4096, Interval: 10 * time.Second, Intervals: 6, Series: []Series{s, {Members: 2, Mix: "uniform", Policy: "static"}}})
	for _, want := range []string{"| 4 | Zipf s=1.0 | rebalanced | 3.00 | 1.30 | 1.40 | 6 |", "| 2 | uniform | static | ∞ | ∞ | ∞ | 0 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("no %q in\n%s", want, md)
		}
	}
}
