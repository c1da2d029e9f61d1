package control

import "testing"

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
