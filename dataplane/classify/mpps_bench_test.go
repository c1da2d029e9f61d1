package classify

import (
	"testing"

	"github.com/teamgw/teamgw/perf/traffic"
)

// BenchmarkClassifyTraffic classifies the outbound benchmark's traffic
// (64K flows: TCP, UDP and ICMP over IPv4, UDP over IPv6), frame after
// frame as a worker meets them, and picks each frame's bucket. One op is
// one frame; Mpps is what one core would classify.
func BenchmarkClassifyTraffic(b *testing.B) {
	frames := traffic.Mix(65536, 1, [6]byte{2, 0, 0, 0, 0, 1}, [6]byte{2, 0, 0, 0, 0, 2})
	b.ReportAllocs()
	var sum int
	i := 0
	for b.Loop() {
		r := Frame(frames[i])
		sum += Bucket(r.Hash, 256) + int(r.Class)
		i = (i + 1) & (len(frames) - 1)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
	benchSink = uint32(sum)
}
