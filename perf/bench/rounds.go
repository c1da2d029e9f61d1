package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/teamgw/teamgw/perf/stats"
)

// Measurement is one contender's round.
type Measurement struct {
	Packets uint64
	Seconds float64
	// CPUSeconds is the CPU time of the measuring threads together (0 if
	// not measured): the wall time less what other processes took.
	CPUSeconds float64
	// Instructions retired by the measuring threads (0 without hardware
	// counters).
	Instructions uint64
}

// Mpps is the round's rate in millions of packets per second.
func (m Measurement) Mpps() float64 {
	if m.Seconds <= 0 {
		return 0
	}
	return float64(m.Packets) / m.Seconds / 1e6
}

// CPUMpps is the rate per CPU-second of the measuring threads: what one
// core of its own would do. NaN when not measured.
func (m Measurement) CPUMpps() float64 {
	if m.CPUSeconds <= 0 {
		return nan
	}
	return float64(m.Packets) / m.CPUSeconds / 1e6
}

// InsnPerPacket is the instructions per packet, NaN when not counted.
func (m Measurement) InsnPerPacket() float64 {
	if m.Packets == 0 || m.Instructions == 0 {
		return nan
	}
	return float64(m.Instructions) / float64(m.Packets)
}

var nan = func() float64 { var z float64; return z / z }()

// Contender is one way of moving the benchmark's traffic; Run measures
// one round of steps vectors (or an equivalent time).
type Contender struct {
	Name string
	Run  func(steps int) (Measurement, error)
}

// Rounds runs every contender once per round, reversing the order every
// other round so no contender always runs first after a pause, and
// returns each contender's rounds in order.
func Rounds(cs []Contender, rounds, steps int) (map[string][]Measurement, error) {
	out := map[string][]Measurement{}
	for r := range rounds {
		order := slices.Clone(cs)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, c := range order {
			m, err := c.Run(steps)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.Name, err)
			}
			out[c.Name] = append(out[c.Name], m)
		}
	}
	return out, nil
}

// Result is one contender's summary for one configuration.
type Result struct {
	Contender string `json:"contender"`
	Members   int    `json:"members"`
	Workers   int    `json:"workers"`
	// Mpps is the rate over the rounds.
	Mpps stats.Summary `json:"mpps"`
	// NsPerPacket is 1000 / the median Mpps (per worker thread: the time
	// one core spends on a packet).
	NsPerPacket float64 `json:"ns_per_packet"`
	// CPUMpps is the median of the rounds' packets per CPU-second of
	// the measuring threads, per core: what a core of its own would do,
	// whoever else ran on it. 0 when not measured.
	CPUMpps float64 `json:"mpps_per_cpu_second"`
	// InsnPerPacket is the median of the rounds' instructions per
	// packet; 0 when not counted.
	InsnPerPacket float64 `json:"insn_per_packet"`
	// Ratios are the median over rounds of this contender's Mpps divided
	// by a reference's Mpps in the same round, by reference name.
	Ratios map[string]float64 `json:"ratios"`
}

// Summarize turns rounds into results in the order of names, with ratios
// to each of refs that ran.
func Summarize(rounds map[string][]Measurement, names []string, refs []string, members, workers int) []Result {
	mpps := func(name string) []float64 {
		var v []float64
		for _, m := range rounds[name] {
			v = append(v, m.Mpps())
		}
		return v
	}
	var out []Result
	for _, n := range names {
		ms, ok := rounds[n]
		if !ok {
			continue
		}
		r := Result{Contender: n, Members: members, Workers: workers, Mpps: stats.Summarize(mpps(n)), Ratios: map[string]float64{}}
		if r.Mpps.Median > 0 {
			r.NsPerPacket = 1e3 / r.Mpps.Median * float64(max(workers, 1))
		}
		var ipp, cpu []float64
		for _, m := range ms {
			ipp = append(ipp, m.InsnPerPacket())
			cpu = append(cpu, m.CPUMpps())
		}
		r.InsnPerPacket = stats.Summarize(ipp).Median
		r.CPUMpps = stats.Summarize(cpu).Median
		for _, ref := range refs {
			if _, ok := rounds[ref]; ok {
				r.Ratios[ref] = stats.Median(stats.Ratios(mpps(n), mpps(ref)))
			}
		}
		out = append(out, r)
	}
	return out
}

// WriteTable prints results as a Markdown table with a ratio column per
// reference.
func WriteTable(w io.Writer, results []Result, refs []string) {
	head := []string{"contender", "members", "workers", "Mpps (median)", "[min, max]", "ns/pkt", "Mpps per CPU-s", "insn/pkt"}
	for _, r := range refs {
		head = append(head, "÷ "+r)
	}
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat(" --- |", len(head)))
	for _, r := range results {
		row := []string{r.Contender, fmt.Sprint(r.Members), fmt.Sprint(r.Workers),
			fmt.Sprintf("%.2f", r.Mpps.Median), fmt.Sprintf("[%.2f, %.2f]", r.Mpps.Min, r.Mpps.Max),
			fmt.Sprintf("%.1f", r.NsPerPacket), cell(r.CPUMpps, "%.2f"), cell(r.InsnPerPacket, "%.0f")}
		for _, ref := range refs {
			if v, ok := r.Ratios[ref]; ok {
				row = append(row, fmt.Sprintf("%.2f", v))
			} else {
				row = append(row, "")
			}
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
}

func cell(v float64, format string) string {
	if !(v > 0) {
		return "n/a"
	}
	return fmt.Sprintf(format, v)
}
