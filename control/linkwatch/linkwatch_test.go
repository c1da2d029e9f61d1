package linkwatch

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// eventTimeout is a generous bound for a kernel notification to arrive.
const eventTimeout = 2 * time.Second

// newNetns creates a private network namespace that is deleted when the test
// ends and returns its name.
func newNetns(t *testing.T) string {
	t.Helper()
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	ns := "lwtest-" + hex.EncodeToString(r[:])
	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	})
	return ns
}

// ipCmd runs ip(8) with args and fails the test on error.
func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// addVeth creates the veth pair a0/b0 in ns and brings both ends up.
func addVeth(t *testing.T, ns string) {
	t.Helper()
	ipCmd(t, "-n", ns, "link", "add", "a0", "type", "veth", "peer", "name", "b0")
	ipCmd(t, "-n", ns, "link", "set", "a0", "up")
	ipCmd(t, "-n", ns, "link", "set", "b0", "up")
}

// newWatcherInNetns calls NewWatcher on a thread that has entered ns. The
// thread returns to its original namespace afterwards; if that fails the
// thread stays locked so the runtime discards it.
func newWatcherInNetns(ns string, names ...string) (*Watcher, error) {
	type result struct {
		w   *Watcher
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		w, restored, err := func() (*Watcher, bool, error) {
			orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return nil, true, fmt.Errorf("open current netns: %w", err)
			}
			defer unix.Close(orig)
			target, err := unix.Open("/var/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return nil, true, fmt.Errorf("open netns %s: %w", ns, err)
			}
			defer unix.Close(target)
			if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
				return nil, true, fmt.Errorf("enter netns %s: %w", ns, err)
			}
			w, werr := NewWatcher(names...)
			restored := unix.Setns(orig, unix.CLONE_NEWNET) == nil
			return w, restored, werr
		}()
		if restored {
			runtime.UnlockOSThread()
		}
		ch <- result{w, err}
	}()
	r := <-ch
	return r.w, r.err
}

// waitEvent waits for an event of name with the given state. It fails on an
// event of name with the opposite state, which would be a spurious change.
func waitEvent(t *testing.T, w *Watcher, name string, up bool) {
	t.Helper()
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("events channel closed while waiting for %s up=%v", name, up)
			}
			if ev.Name != name {
				continue
			}
			if ev.Up != up {
				t.Fatalf("got event %+v while waiting for %s up=%v", ev, name, up)
			}
			if ev.Index <= 0 || ev.At.IsZero() {
				t.Fatalf("incomplete event %+v", ev)
			}
			if got, _ := w.State(name); got != up {
				t.Fatalf("State(%s) = %v after event up=%v", name, got, up)
			}
			return
		case <-timer.C:
			t.Fatalf("no event for %s up=%v within %v", name, up, eventTimeout)
		}
	}
}

// waitGoroutines waits up to a second for the goroutine count to return to
// baseline.
func waitGoroutines(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, baseline %d:\n%s", runtime.NumGoroutine(), baseline, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWatcherCarrier(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns)

	w, err := newWatcherInNetns(ns, "a0")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	if up, ok := w.State("a0"); !up || !ok {
		t.Fatalf("State(a0) = %v, %v; want true, true", up, ok)
	}
	if _, ok := w.State("b0"); ok {
		t.Fatal("State(b0) reports an unwatched interface as known")
	}

	// Peer down removes the carrier of a0.
	ipCmd(t, "-n", ns, "link", "set", "b0", "down")
	waitEvent(t, w, "a0", false)
	ipCmd(t, "-n", ns, "link", "set", "b0", "up")
	waitEvent(t, w, "a0", true)

	// Administrative down.
	ipCmd(t, "-n", ns, "link", "set", "a0", "down")
	waitEvent(t, w, "a0", false)
	ipCmd(t, "-n", ns, "link", "set", "a0", "up")
	waitEvent(t, w, "a0", true)

	// Deletion.
	ipCmd(t, "-n", ns, "link", "del", "a0")
	waitEvent(t, w, "a0", false)
	if up, ok := w.State("a0"); up || !ok {
		t.Fatalf("State(a0) = %v, %v after deletion; want false, true", up, ok)
	}

	// A recreated interface with the same name is picked up.
	addVeth(t, ns)
	waitEvent(t, w, "a0", true)
}

func TestWatcherBothEnds(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns)

	w, err := newWatcherInNetns(ns, "a0", "b0")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	ipCmd(t, "-n", ns, "link", "set", "b0", "down")
	// Both ends lose their usable state, in either order.
	got := map[string]bool{}
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	for len(got) < 2 {
		select {
		case ev := <-w.Events():
			if ev.Up {
				t.Fatalf("unexpected event %+v", ev)
			}
			if got[ev.Name] {
				t.Fatalf("duplicate event %+v", ev)
			}
			got[ev.Name] = true
		case <-timer.C:
			t.Fatalf("events within %v: %v; want a0 and b0 down", eventTimeout, got)
		}
	}
	for _, n := range []string{"a0", "b0"} {
		if up, ok := w.State(n); up || !ok {
			t.Errorf("State(%s) = %v, %v; want false, true", n, up, ok)
		}
	}
}

// TestWatcherWatchAndUnwatch adds a name to a running Watcher (a member
// added to a team): its Up state arrives as an event; a name no longer
// watched is unknown.
func TestWatcherWatchAndUnwatch(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns)

	w, err := newWatcherInNetns(ns, "a0")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Watch("b0"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, w, "b0", true)
	if up, ok := w.State("b0"); !up || !ok {
		t.Fatalf("State(b0) = %v, %v after Watch; want true, true", up, ok)
	}
	w.Unwatch("a0")
	if _, ok := w.State("a0"); ok {
		t.Error("State(a0) still known after Unwatch")
	}
	ipCmd(t, "-n", ns, "link", "set", "b0", "down")
	waitEvent(t, w, "b0", false)
	if err := w.Watch(""); err == nil {
		t.Error("Watch accepted an empty name")
	}
}

func TestNewWatcherMissingInterface(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns)

	baseline := runtime.NumGoroutine()
	w, err := newWatcherInNetns(ns, "a0", "nosuch0")
	if err == nil {
		w.Close()
		t.Fatal("NewWatcher succeeded for a missing interface")
	}
	if !strings.Contains(err.Error(), "nosuch0") {
		t.Fatalf("error %q does not name the missing interface", err)
	}
	waitGoroutines(t, baseline)
}

func TestWatcherClose(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns)

	baseline := runtime.NumGoroutine()
	w, err := newWatcherInNetns(ns, "a0")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case ev, ok := <-w.Events():
		if ok {
			t.Fatalf("event %+v after Close", ev)
		}
	case <-time.After(time.Second):
		t.Fatal("events channel not closed after Close")
	}
	waitGoroutines(t, baseline)
}

func TestWatcherCloseWithUnreadEvents(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns)

	baseline := runtime.NumGoroutine()
	w, err := newWatcherInNetns(ns, "a0")
	if err != nil {
		t.Fatal(err)
	}
	// Generate changes nobody reads, then close while they may still be
	// pending.
	ipCmd(t, "-n", ns, "link", "set", "b0", "down")
	ipCmd(t, "-n", ns, "link", "set", "b0", "up")
	done := make(chan error, 1)
	go func() { done <- w.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Close did not return promptly")
	}
	for range w.Events() {
	}
	waitGoroutines(t, baseline)
}

func TestWatcherOverrun(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns)

	// A tiny receive buffer and a consumer that does not read make the
	// socket overrun; the Watcher must resynchronise from a dump.
	saved := rcvBufSize
	rcvBufSize = 4096
	w, err := newWatcherInNetns(ns, "a0")
	rcvBufSize = saved
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	var batch strings.Builder
	for range 300 {
		batch.WriteString("link set b0 down\nlink set b0 up\n")
	}
	batch.WriteString("link set b0 down\n")
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(batch.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v: %s", err, out)
	}

	// Drain until the events go quiet; they must alternate and settle on
	// down.
	last := true
	n := 0
	deadline := time.After(5 * time.Second)
	for quiet := false; !quiet; {
		select {
		case ev := <-w.Events():
			if ev.Name != "a0" || ev.Up == last {
				t.Fatalf("event %d %+v does not follow up=%v", n, ev, last)
			}
			last = ev.Up
			n++
		case <-time.After(300 * time.Millisecond):
			quiet = !last
		case <-deadline:
			t.Fatalf("a0 did not settle down; last event up=%v after %d events", last, n)
		}
	}
	if up, _ := w.State("a0"); up {
		t.Fatal("State(a0) is up after the final down")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.overruns == 0 {
		t.Fatal("the socket never overran; the test did not exercise resynchronisation")
	}
	t.Logf("%d events, %d overruns", n, w.overruns)
}
