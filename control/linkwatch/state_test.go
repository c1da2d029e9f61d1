package linkwatch

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// newTestWatcher returns a Watcher without sockets whose state machine can be
// driven directly through process.
func newTestWatcher(names ...string) *Watcher {
	w := &Watcher{fd: -1, efd: -1, portID: 99, links: map[string]*linkState{}, emit: true}
	for _, n := range names {
		w.links[n] = &linkState{}
	}
	return w
}

// feed parses the messages described by ms and processes them.
func (w *Watcher) feed(ms ...testMsg) {
	var b []byte
	for _, m := range ms {
		b = appendMsg(b, m)
	}
	w.process(parseLinkMessages(b), time.Now())
}

// takeEvents returns and clears the queued events.
func (w *Watcher) takeEvents() []Event {
	evs := w.pending
	w.pending = nil
	return evs
}

// checkEvents compares queued events with want, ignoring timestamps.
func checkEvents(t *testing.T, w *Watcher, want ...Event) {
	t.Helper()
	got := w.takeEvents()
	if len(got) != len(want) {
		t.Fatalf("events = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Index != want[i].Index || got[i].Up != want[i].Up {
			t.Fatalf("event %d = %+v, want %+v", i, got[i], want[i])
		}
		if got[i].At.IsZero() {
			t.Fatalf("event %d has no timestamp", i)
		}
	}
}

func TestStateDeduplicates(t *testing.T) {
	w := newTestWatcher("a0")
	w.feed(testMsg{typ: unix.RTM_NEWLINK, index: 3, flags: upFlags, name: "a0"})
	checkEvents(t, w, Event{Name: "a0", Index: 3, Up: true})

	// Repeated messages with the same state produce no events; messages
	// for unwatched interfaces are ignored.
	w.feed(
		testMsg{typ: unix.RTM_NEWLINK, index: 3, flags: upFlags, name: "a0"},
		testMsg{typ: unix.RTM_NEWLINK, index: 3, flags: upFlags | unix.IFF_PROMISC, name: "a0"},
		testMsg{typ: unix.RTM_NEWLINK, index: 4, flags: unix.IFF_UP, name: "b0"},
	)
	checkEvents(t, w)

	// Carrier loss, then a nameless message identified by ifindex.
	w.feed(
		testMsg{typ: unix.RTM_NEWLINK, index: 3, flags: unix.IFF_UP, name: "a0"},
		testMsg{typ: unix.RTM_NEWLINK, index: 3, flags: unix.IFF_UP},
		testMsg{typ: unix.RTM_NEWLINK, index: 3, flags: upFlags},
	)
	checkEvents(t, w, Event{Name: "a0", Index: 3, Up: false}, Event{Name: "a0", Index: 3, Up: true})

	if up, ok := w.State("a0"); !up || !ok {
		t.Fatalf("State(a0) = %v, %v; want true, true", up, ok)
	}
	if _, ok := w.State("b0"); ok {
		t.Fatal("State(b0) reports an unwatched interface as known")
	}
}

func TestStateDeleteRecreateRename(t *testing.T) {
	w := newTestWatcher("a0")
	w.feed(testMsg{typ: unix.RTM_NEWLINK, index: 3, flags: upFlags, name: "a0"})
	w.takeEvents()

	// Deleted, then recreated with a new ifindex.
	w.feed(testMsg{typ: unix.RTM_DELLINK, index: 3, flags: upFlags, name: "a0"})
	checkEvents(t, w, Event{Name: "a0", Index: 3, Up: false})
	w.feed(testMsg{typ: unix.RTM_NEWLINK, index: 7, flags: upFlags, name: "a0"})
	checkEvents(t, w, Event{Name: "a0", Index: 7, Up: true})

	// A late deletion of the old ifindex does not hide the new interface.
	w.feed(testMsg{typ: unix.RTM_DELLINK, index: 3, name: "a0"})
	checkEvents(t, w)

	// Renamed away while up, then another interface takes the name.
	w.feed(testMsg{typ: unix.RTM_NEWLINK, index: 7, flags: upFlags, name: "x0"})
	checkEvents(t, w, Event{Name: "a0", Index: 7, Up: false})
	w.feed(testMsg{typ: unix.RTM_NEWLINK, index: 8, flags: upFlags, name: "a0"})
	checkEvents(t, w, Event{Name: "a0", Index: 8, Up: true})
}

func TestStateDumpResync(t *testing.T) {
	w := newTestWatcher("a0", "b0")
	w.feed(
		testMsg{typ: unix.RTM_NEWLINK, index: 3, flags: upFlags, name: "a0"},
		testMsg{typ: unix.RTM_NEWLINK, index: 4, flags: upFlags, name: "b0"},
	)
	w.takeEvents()

	// Simulate a dump after an overrun: b0 vanished (its RTM_DELLINK was
	// lost) and a0 lost carrier.
	w.dumping, w.seq = true, 5
	w.seen = map[string]struct{}{}
	w.feed(
		testMsg{typ: unix.RTM_NEWLINK, hdrFlags: unix.NLM_F_MULTI, seq: 5, pid: 99, index: 1, flags: upFlags, name: "lo"},
		testMsg{typ: unix.RTM_NEWLINK, hdrFlags: unix.NLM_F_MULTI, seq: 5, pid: 99, index: 3, flags: unix.IFF_UP, name: "a0"},
	)
	checkEvents(t, w, Event{Name: "a0", Index: 3, Up: false})
	// A done message of another requester does not end the dump.
	w.feed(testMsg{typ: unix.NLMSG_DONE, seq: 5, pid: 12})
	checkEvents(t, w)
	w.feed(testMsg{typ: unix.NLMSG_DONE, seq: 5, pid: 99})
	checkEvents(t, w, Event{Name: "b0", Index: 4, Up: false})
	if w.dumping || w.needDump {
		t.Fatalf("dumping = %v, needDump = %v after the dump ended", w.dumping, w.needDump)
	}

	// An interrupted dump asks for another one.
	w.dumping, w.seq = true, 6
	w.seen = map[string]struct{}{}
	w.feed(testMsg{typ: unix.RTM_NEWLINK, hdrFlags: unix.NLM_F_MULTI | unix.NLM_F_DUMP_INTR, seq: 6, pid: 99, index: 3, flags: unix.IFF_UP, name: "a0"})
	w.feed(testMsg{typ: unix.NLMSG_DONE, hdrFlags: unix.NLM_F_MULTI, seq: 6, pid: 99})
	if !w.needDump {
		t.Fatal("an interrupted dump did not schedule another dump")
	}

	// An error reply to the dump request schedules a retry.
	w.needDump = false
	w.dumping, w.seq = true, 7
	w.feed(testMsg{typ: unix.NLMSG_ERROR, seq: 7, pid: 99, errno: -int32(unix.EBUSY)})
	if w.dumping || !w.needDump || w.retryAt.IsZero() {
		t.Fatalf("after an error reply: dumping = %v, needDump = %v, retryAt = %v", w.dumping, w.needDump, w.retryAt)
	}
}
