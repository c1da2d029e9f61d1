package control

import (
	"testing"
	"time"
)

func TestEventLogKeepsTheNewestInOrder(t *testing.T) {
	var l eventLog
	for i := range eventLogSize + 10 {
		l.add(Event{ID: i})
	}
	all := l.since(0)
	if len(all) != eventLogSize {
		t.Fatalf("kept %d events, want %d", len(all), eventLogSize)
	}
	if all[0].Seq != 11 || all[len(all)-1].Seq != eventLogSize+10 {
		t.Errorf("kept seq %d..%d, want 11..%d", all[0].Seq, all[len(all)-1].Seq, eventLogSize+10)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq != all[i-1].Seq+1 {
			t.Fatalf("events out of order at %d: %d after %d", i, all[i].Seq, all[i-1].Seq)
		}
	}
	if got := l.since(eventLogSize + 5); len(got) != 5 {
		t.Errorf("since(n-5) returned %d events, want 5", len(got))
	}
}

func TestHistogramBucketsAreCumulative(t *testing.T) {
	var h histogram
	for _, d := range []time.Duration{5 * time.Microsecond, 30 * time.Microsecond, 30 * time.Microsecond, 2 * time.Second} {
		h.observe(d)
	}
	s := h.status()
	if s.Count != 4 || s.Sum < 2 || s.Sum > 2.001 {
		t.Errorf("count %d sum %v, want 4 and about 2.000065 s", s.Count, s.Sum)
	}
	want := map[float64]uint64{10e-6: 1, 25e-6: 1, 50e-6: 3, 1: 3}
	for _, b := range s.Buckets {
		if n, ok := want[b.Le]; ok && b.Count != n {
			t.Errorf("bucket le=%v counts %d, want %d", b.Le, b.Count, n)
		}
	}
	if last := s.Buckets[len(s.Buckets)-1]; last.Le != 1 || last.Count != 3 {
		t.Errorf("last finite bucket %+v, want le=1 count=3 (the 2 s failover is only in the count)", last)
	}
}
