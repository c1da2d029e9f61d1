package lab

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// sigState is the process-wide registry of labs to close on a signal. One
// handler serves all labs, so that every registered lab is closed before
// the process dies, however many called CleanupOnSignal.
var sigState struct {
	mu   sync.Mutex
	labs map[uint64]*Lab // keyed by registration number
	next uint64
	ch   chan os.Signal
	stop chan struct{}

	// ignored records which signals were ignored before this package
	// first asked for them (for example SIGINT in a background job of a
	// non-interactive shell); re-raising those would have no effect.
	ignoredOnce sync.Once
	ignored     map[syscall.Signal]bool
}

// CleanupOnSignal arranges for l.Close to be called when the process
// receives SIGINT or SIGTERM. After closing every registered lab, the
// handler restores the default disposition of the signal and re-raises it,
// so the process dies as it would have without the handler (a shell
// reports exit status 130 or 143). If the signal was ignored when the
// program started (SIGINT in a background job of a non-interactive
// shell), re-raising it would do nothing, so the process exits with
// status 128+signal number instead. The returned stop function unregisters
// l; it is idempotent.
//
// While at least one lab is registered, SIGINT and SIGTERM are delivered to
// this handler rather than terminating the process directly.
func CleanupOnSignal(l *Lab) (stop func()) {
	sigState.mu.Lock()
	if sigState.labs == nil {
		sigState.labs = make(map[uint64]*Lab)
	}
	sigState.next++
	r := sigState.next
	sigState.labs[r] = l
	sigState.ignoredOnce.Do(func() {
		sigState.ignored = map[syscall.Signal]bool{
			syscall.SIGINT:  signal.Ignored(syscall.SIGINT),
			syscall.SIGTERM: signal.Ignored(syscall.SIGTERM),
		}
	})
	if sigState.ch == nil {
		ch := make(chan os.Signal, 1)
		done := make(chan struct{})
		sigState.ch, sigState.stop = ch, done
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		go sigLoop(ch, done)
	}
	sigState.mu.Unlock()

	var once sync.Once
	return func() {
		once.Do(func() {
			sigState.mu.Lock()
			defer sigState.mu.Unlock()
			delete(sigState.labs, r)
			if len(sigState.labs) == 0 && sigState.ch != nil {
				signal.Stop(sigState.ch)
				close(sigState.stop)
				sigState.ch, sigState.stop = nil, nil
			}
		})
	}
}

// sigLoop waits for a signal on ch, closes the registered labs and
// re-raises the signal. It returns when done is closed.
func sigLoop(ch chan os.Signal, done chan struct{}) {
	var sig os.Signal
	select {
	case <-done:
		return
	case sig = <-ch:
	}
	sigState.mu.Lock()
	labs := make([]*Lab, 0, len(sigState.labs))
	for _, l := range sigState.labs {
		labs = append(labs, l)
	}
	sigState.mu.Unlock()

	var wg sync.WaitGroup
	for _, l := range labs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = l.Close()
		}()
	}
	wg.Wait()

	s, ok := sig.(syscall.Signal)
	if !ok {
		s = syscall.SIGTERM
	}
	sigState.mu.Lock()
	wasIgnored := sigState.ignored[s]
	sigState.mu.Unlock()
	if !wasIgnored {
		signal.Reset(s)
		_ = syscall.Kill(os.Getpid(), s)
		// The re-raised signal should kill the process at once; fall
		// back to the conventional exit status if it does not.
		time.Sleep(500 * time.Millisecond)
	}
	os.Exit(128 + int(s))
}
