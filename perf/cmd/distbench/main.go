// Command distbench reports how evenly teams spread outbound flows over
// their members — busiest/idlest member bytes per rebalance interval — for
// uniform and Zipf flow mixes, with the bucket table as dealt (static) and
// with the rebalancer running, over simulated time (package distsim: the
// real classifier hash, bucket table and rebalancer, a manual clock).
// It writes dist-<time>.json and dist.md.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/teamgw/teamgw/perf/distsim"
	"github.com/teamgw/teamgw/perf/stats"
)

// Series is one simulated team over time.
type Series struct {
	Members int     `json:"members"`
	Mix     string  `json:"mix"` // "uniform" or "zipf"
	Zipf    float64 `json:"zipf"`
	Policy  string  `json:"policy"` // "static" or "rebalanced"
	// First is the first interval's ratio, Settled the median over the
	// second half of the run and Worst its maximum there.
	First   float64 `json:"first"`
	Settled float64 `json:"settled"`
	Worst   float64 `json:"worst"`
	Moves   int     `json:"moves"`
	Points  []Point `json:"points"`
}

// Point is one interval of a series (distsim.Point without the shares).
type Point struct {
	T     time.Duration `json:"t_ns"`
	Ratio float64       `json:"ratio"`
	Moves int           `json:"moves,omitempty"`
}

// Report is what a run writes.
type Report struct {
	When      time.Time     `json:"when"`
	Flows     int           `json:"flows"`
	Intervals int           `json:"intervals"`
	Interval  time.Duration `json:"interval_ns"`
	Churn     float64       `json:"churn"`
	Jitter    float64       `json:"jitter"`
	Seed      uint64        `json:"seed"`
	Series    []Series      `json:"series"`
}

func main() {
	membersFlag := flag.String("members", "2,4,8", "team sizes")
	flows := flag.Int("flows", 4096, "concurrent flows")
	zipf := flag.Float64("zipf", 1.0, "skew of the Zipf mix (flow of rank r weighs r^-s)")
	intervals := flag.Int("intervals", 60, "rebalance intervals to simulate")
	interval := flag.Duration("interval", 10*time.Second, "rebalance interval (teamgw's default rebalance_interval)")
	churn := flag.Float64("churn", 0.02, "fraction of flows replaced by new ones every interval")
	jitter := flag.Float64("jitter", 0.5, "a flow's bytes per interval vary within ±jitter of its mean")
	seed := flag.Uint64("seed", 1, "seed of the flows")
	out := flag.String("out", "perf/results", "directory for the JSON and Markdown report ('' = none)")
	flag.Parse()

	rep := Report{When: time.Now().UTC(), Flows: *flows, Intervals: *intervals, Interval: *interval, Churn: *churn, Jitter: *jitter, Seed: *seed}
	for _, s := range strings.Split(*membersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fmt.Fprintf(os.Stderr, "distbench: bad member count %q\n", s)
			os.Exit(2)
		}
		for _, mix := range []struct {
			name string
			s    float64
		}{{"uniform", 0}, {"zipf", *zipf}} {
			for _, reb := range []bool{false, true} {
				cfg := distsim.Config{Members: n, Flows: *flows, Zipf: mix.s, Intervals: *intervals, Interval: *interval,
					Churn: *churn, Jitter: *jitter, Rebalance: reb, Seed: *seed}
				ps, err := distsim.Run(cfg)
				if err != nil {
					fmt.Fprintln(os.Stderr, "distbench:", err)
					os.Exit(1)
				}
				rep.Series = append(rep.Series, summarize(n, mix.name, mix.s, reb, ps))
			}
		}
	}
	md := markdown(rep)
	fmt.Print(md)
	if *out == "" {
		return
	}
	if err := write(*out, rep, md); err != nil {
		fmt.Fprintln(os.Stderr, "distbench:", err)
		os.Exit(1)
	}
}

func summarize(members int, mix string, s float64, reb bool, ps []distsim.Point) Series {
	se := Series{Members: members, Mix: mix, Zipf: s, Policy: "static", First: ps[0].Ratio}
	if reb {
		se.Policy = "rebalanced"
	}
	var late []float64
	for i, p := range ps {
		se.Points = append(se.Points, Point{T: p.T, Ratio: math.Round(p.Ratio*1e4) / 1e4, Moves: p.Moves})
		se.Moves += p.Moves
		if i >= len(ps)/2 {
			late = append(late, p.Ratio)
		}
	}
	sum := stats.Summarize(late)
	se.Settled, se.Worst = sum.Median, sum.Max
	return se
}

func markdown(rep Report) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, `# Distribution quality (distbench)

%s. Busiest member's bytes over the idlest's in each rebalance interval
(1.00 = perfectly even), for %d concurrent flows whose sizes are equal
(uniform) or Zipf-distributed, hashed by teamgw's classifier into the
256-bucket table slb.Assign deals; "rebalanced" runs slb.Rebalancer with
teamgw's defaults every %v (simulated, manual clock). Every interval %.0f%%
of the flows end and as many new ones start; a flow's bytes per interval
vary by ±%.0f%%. first = the first interval, settled = median over the
second half of %d intervals, worst = the maximum there. Reproduce: make
bench-dist (bin/distbench).

| members | mix | policy | first | settled | worst | buckets moved |
| --- | --- | --- | --- | --- | --- | --- |
`, rep.When.Format(time.RFC3339), rep.Flows, rep.Interval, 100*rep.Churn, 100*rep.Jitter, rep.Intervals)
	for _, s := range rep.Series {
		mix := s.Mix
		if s.Mix == "zipf" {
			mix = fmt.Sprintf("Zipf s=%.1f", s.Zipf)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %d |\n", s.Members, mix, s.Policy, ratio(s.First), ratio(s.Settled), ratio(s.Worst), s.Moves)
	}
	return b.String()
}

func ratio(v float64) string {
	if v == 0 {
		return "∞"
	}
	return fmt.Sprintf("%.2f", v)
}

func write(dir string, rep Report, md string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "dist-"+rep.When.Format("20060102T150405Z")+".json"), b, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "dist.md"), []byte(md), 0o644)
}
