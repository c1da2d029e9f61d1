package dpdk_test

import (
	"slices"
	"testing"
	"time"

	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/dpdk/dpdktest"
)

// nullPair gives an IO polling one net_null port and sending to another.
func nullPair(b *testing.B) (*dpdk.IO, int) {
	pool := dpdktest.Pool(b, 8191)
	in := dpdktest.NullPort(b, pool, 1, "")
	out := dpdktest.NullPort(b, pool, 1, "")
	io, err := dpdk.NewIO(0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(io.Free)
	io.AddRx(in, 0)
	txq, _ := io.AddTx(out, 0)
	return io, txq
}

// forwardSteps is the Go worker loop at its barest: every packet of a
// vector goes to TX queue txq. It returns the packets forwarded.
func forwardSteps(io *dpdk.IO, txq int, steps int) uint64 {
	var pkts uint64
	for range steps {
		v, _ := io.Step()
		for _, m := range v {
			if !io.Tx(txq, m) {
				io.Drop(m)
			}
		}
		pkts += uint64(len(v))
	}
	io.Flush()
	return pkts
}

// BenchmarkBurstLoop compares the bare worker loop (net_null in, net_null
// out, one thread) written in Go with the same loop written in C in this
// binary. One op is one step (a vector of up to dpdk.Vector = 256 packets). Compare the
// Mpps of the two sub-benchmarks from the same run: DESIGN.md, hot-path
// rules.
func BenchmarkBurstLoop(b *testing.B) {
	b.Run("go", func(b *testing.B) {
		io, txq := nullPair(b)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		pkts := forwardSteps(io, txq, b.N)
		b.ReportMetric(float64(pkts)/time.Since(start).Seconds()/1e6, "Mpps")
	})
	b.Run("c", func(b *testing.B) {
		io, _ := nullPair(b)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		pkts := io.RefLoop(uint64(b.N))
		b.ReportMetric(float64(pkts)/time.Since(start).Seconds()/1e6, "Mpps")
	})
}

// BenchmarkBurstLoopRatio runs the Go loop and the C loop alternately
// within one process, in short rounds (50k steps, a few milliseconds),
// and reports the median Mpps of both and the median of the per-pair
// ratios Go/C (target >= 0.95): each pair ran back to back, so the slow
// drifts of a shared host cancel out. One op is one pair of rounds.
func BenchmarkBurstLoopRatio(b *testing.B) {
	goIO, txq := nullPair(b)
	cIO, _ := nullPair(b)
	const steps = 50_000
	goLoop := func() float64 {
		start := time.Now()
		pkts := forwardSteps(goIO, txq, steps)
		return float64(pkts) / time.Since(start).Seconds() / 1e6
	}
	cLoop := func() float64 {
		start := time.Now()
		pkts := cIO.RefLoop(steps)
		return float64(pkts) / time.Since(start).Seconds() / 1e6
	}
	var goMpps, cMpps, ratios []float64
	for i := range b.N {
		var g, c float64
		if i%2 == 0 {
			g, c = goLoop(), cLoop()
		} else {
			c, g = cLoop(), goLoop()
		}
		goMpps, cMpps, ratios = append(goMpps, g), append(cMpps, c), append(ratios, g/c)
	}
	b.ReportMetric(median(goMpps), "go-Mpps")
	b.ReportMetric(median(cMpps), "c-Mpps")
	b.ReportMetric(median(ratios), "go/c")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
