package control

import (
	"testing"
	"time"
)

func TestWorkerWatchSeesAStallAndTheRecovery(t *testing.T) {
	var w workerWatch
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at      time.Duration
		steps   uint64
		changed bool
		stalled bool
	}{
		{0, 10, false, false},
		{time.Second, 500, false, false},
		{2 * time.Second, 500, false, false},                  // 1 s without a poll: not yet
		{3*time.Second - time.Millisecond, 500, false, false}, // just under stallAfter
		{3 * time.Second, 500, true, true},                    // stalled
		{4 * time.Second, 500, false, true},                   // still, no new event
		{5 * time.Second, 501, true, false},                   // polls again
		{6 * time.Second, 502, false, false},
	}
	for i, s := range steps {
		if got := w.observe(s.steps, t0.Add(s.at)); got != s.changed || w.stalled != s.stalled {
			t.Fatalf("step %d (%v, %d polls): changed %v stalled %v, want %v %v", i, s.at, s.steps, got, w.stalled, s.changed, s.stalled)
		}
	}
}
