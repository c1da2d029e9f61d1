// Package linkwatch watches the kernel carrier state of network interfaces
// through rtnetlink.
//
// Interfaces that DPDK drives through net_af_packet always report "link up"
// to DPDK, so teamgw follows the kernel's view of those interfaces instead.
// A Watcher subscribes to RTNLGRP_LINK notifications and reports every change
// of the operational state (IFF_UP and IFF_LOWER_UP both set) of the
// interfaces it was asked to watch. Interfaces are tracked by name: an
// interface that is deleted, renamed away, recreated or renamed back is
// picked up again as soon as an interface with the watched name exists.
package linkwatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Event reports a carrier change of a watched interface.
type Event struct {
	Name  string    // interface name
	Index int       // ifindex
	Up    bool      // operationally usable: IFF_UP and IFF_LOWER_UP (carrier) both set
	At    time.Time // when the netlink message was read
}

const (
	// eventBuffer is the capacity of the Events channel.
	eventBuffer = 128
	// initialReadBuf is the initial size of the datagram read buffer. The
	// kernel limits dump datagrams to 32 KiB, and link notifications are
	// far smaller unless an interface has many VFs.
	initialReadBuf = 64 << 10
	// maxReadBuf bounds the growth of the read buffer after truncation.
	maxReadBuf = 1 << 20
	// initTimeout bounds the initial link dump performed by NewWatcher.
	initTimeout = 5 * time.Second
	// dumpRetryDelay is how long the reader waits before retrying a dump
	// request that failed.
	dumpRetryDelay = 100 * time.Millisecond
	// stopCheckInterval bounds how long the reader sleeps in poll without
	// checking for Close, as a safety net should the eventfd wake-up fail.
	stopCheckInterval = time.Second
)

// rcvBufSize is the requested socket receive buffer size. It is a variable
// so that tests can provoke receive buffer overruns.
var rcvBufSize = 1 << 20

// linkState is what the Watcher knows about one watched name.
type linkState struct {
	index   int  // ifindex of the interface that has or last had the name
	present bool // an interface with the name currently exists
	up      bool // present, IFF_UP and IFF_LOWER_UP
}

// Watcher watches the carrier state of a fixed set of kernel interfaces.
// It is safe for concurrent use.
type Watcher struct {
	fd     int // AF_NETLINK/NETLINK_ROUTE socket
	efd    int // eventfd used to wake the reader on Close
	portID uint32

	events chan Event
	stop   chan struct{}
	done   chan struct{}

	closeOnce sync.Once
	closeErr  error

	mu    sync.Mutex
	links map[string]*linkState // keyed by watched name; guarded by mu

	// resync asks the reader for a fresh dump (a name was added).
	resync atomic.Bool

	// The fields below are owned by whichever goroutine reads the socket:
	// NewWatcher during the initial dump, the reader goroutine afterwards.
	buf      []byte
	seq      uint32              // sequence number of the latest dump request
	dumping  bool                // a dump is in progress
	needDump bool                // state may be stale; a dump must be (re)started
	retryAt  time.Time           // earliest time to retry a failed dump request
	dumpErr  error               // error reply to the latest dump request
	seen     map[string]struct{} // watched names seen in the current dump
	emit     bool                // queue events for state changes
	pending  []Event             // events to deliver to the channel
	overruns int                 // receive buffer overruns seen, for tests
}

// NewWatcher watches kernel interfaces of the network namespace that the
// calling thread is in when NewWatcher is called.
//
// It opens an rtnetlink socket subscribed to link notifications and dumps the
// current link state before returning, so State is valid immediately. It
// returns an error if a named interface does not exist.
func NewWatcher(names ...string) (*Watcher, error) {
	if len(names) == 0 {
		return nil, errors.New("linkwatch: no interface names given")
	}
	links := make(map[string]*linkState, len(names))
	for _, n := range names {
		if n == "" || len(n) > maxNameLen {
			return nil, fmt.Errorf("linkwatch: invalid interface name %q", n)
		}
		links[n] = &linkState{}
	}

	w := &Watcher{
		fd:     -1,
		efd:    -1,
		events: make(chan Event, eventBuffer),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		links:  links,
		buf:    make([]byte, initialReadBuf),
	}
	if err := w.open(); err != nil {
		w.closeFDs()
		return nil, err
	}
	if err := w.initialDump(); err != nil {
		w.closeFDs()
		return nil, err
	}
	for _, n := range names {
		if !w.links[n].present {
			w.closeFDs()
			return nil, fmt.Errorf("linkwatch: interface %q does not exist in the current network namespace", n)
		}
	}
	w.emit = true
	go w.run()
	return w, nil
}

// open creates the netlink socket and the wake-up eventfd.
func (w *Watcher) open() error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("linkwatch: netlink socket: %w", err)
	}
	w.fd = fd
	// SO_RCVBUFFORCE lets a privileged process exceed net.core.rmem_max;
	// fall back to SO_RCVBUF, which the kernel silently caps.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBufSize); err != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBufSize); err != nil {
			return fmt.Errorf("linkwatch: set netlink receive buffer: %w", err)
		}
	}
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (unix.RTNLGRP_LINK - 1)}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("linkwatch: bind netlink socket: %w", err)
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		return fmt.Errorf("linkwatch: netlink getsockname: %w", err)
	}
	nl, ok := local.(*unix.SockaddrNetlink)
	if !ok {
		return errors.New("linkwatch: netlink getsockname: unexpected address type")
	}
	w.portID = nl.Pid
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("linkwatch: eventfd: %w", err)
	}
	w.efd = efd
	return nil
}

// initialDump reads the complete link state synchronously. Notifications that
// arrive meanwhile update the state but produce no events.
func (w *Watcher) initialDump() error {
	deadline := time.Now().Add(initTimeout)
	w.needDump = true
	for w.dumping || w.needDump {
		if !w.dumping {
			if err := w.startDump(); err != nil {
				return fmt.Errorf("linkwatch: request link dump: %w", err)
			}
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return errors.New("linkwatch: timed out waiting for the link dump")
		}
		fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, pollMillis(remaining)); err != nil && err != unix.EINTR {
			return fmt.Errorf("linkwatch: poll: %w", err)
		}
		if err := w.drain(); err != nil {
			return fmt.Errorf("linkwatch: read netlink socket: %w", err)
		}
		if w.dumpErr != nil {
			return fmt.Errorf("linkwatch: link dump: %w", w.dumpErr)
		}
	}
	return nil
}

// pollMillis converts d to a poll timeout in milliseconds, rounding up so a
// short positive duration never becomes a busy loop.
func pollMillis(d time.Duration) int {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > 1<<30 {
		ms = 1 << 30
	}
	return int(ms)
}

// startDump sends an RTM_GETLINK dump request.
func (w *Watcher) startDump() error {
	w.seq++
	if w.seq == 0 {
		w.seq = 1
	}
	const reqLen = unix.SizeofNlMsghdr + unix.SizeofIfInfomsg
	var req [reqLen]byte
	binary.NativeEndian.PutUint32(req[0:4], reqLen)
	binary.NativeEndian.PutUint16(req[4:6], unix.RTM_GETLINK)
	binary.NativeEndian.PutUint16(req[6:8], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:12], w.seq)
	// nlmsg_pid 0 and an all-zero ifinfomsg (AF_UNSPEC, no filter).
	err := unix.Sendto(w.fd, req[:], 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	if err != nil {
		return err
	}
	w.dumping = true
	w.needDump = false
	w.dumpErr = nil
	w.seen = make(map[string]struct{}, len(w.links))
	return nil
}

// drain reads and processes every datagram queued on the socket. It returns
// only unexpected errors; a receive buffer overrun schedules a new dump.
func (w *Watcher) drain() error {
	for {
		msgs, at, err := w.recv()
		switch {
		case err == unix.EAGAIN:
			return nil
		case err == unix.EINTR:
			continue
		case err == unix.ENOBUFS:
			// Notifications were lost; only a fresh dump tells the
			// current state. A dump in progress may already have
			// passed the affected interfaces, so always dump again.
			w.needDump = true
			w.retryAt = time.Time{}
			w.overruns++
			continue
		case err != nil:
			return err
		}
		w.process(msgs, at)
	}
}

// recv reads one datagram from the kernel and parses it. Datagrams that do
// not come from the kernel are ignored.
//
// The datagram is read in a single call: peeking first would leave it
// queued, and the kernel may then fail to continue a dump for lack of
// receive buffer space and report ENOBUFS before every read, so that the
// queue never drains. A truncated datagram instead grows the buffer and
// schedules a dump, since the lost part cannot be recovered.
func (w *Watcher) recv() ([]linkInfo, time.Time, error) {
	n, _, recvFlags, from, err := unix.Recvmsg(w.fd, w.buf, nil, 0)
	if err != nil {
		return nil, time.Time{}, err
	}
	at := time.Now()
	if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
		return nil, at, nil
	}
	n = min(n, len(w.buf))
	msgs := parseLinkMessages(w.buf[:n])
	if recvFlags&unix.MSG_TRUNC != 0 {
		if len(w.buf) < maxReadBuf {
			w.buf = make([]byte, min(2*len(w.buf), maxReadBuf))
		}
		w.needDump = true
		w.retryAt = time.Time{}
	}
	return msgs, at, nil
}

// isDumpReply reports whether li belongs to the dump in progress.
func (w *Watcher) isDumpReply(li linkInfo) bool {
	return w.dumping && li.seq == w.seq && li.pid == w.portID
}

// process applies parsed messages to the link state and queues events for
// every change of a watched interface.
func (w *Watcher) process(msgs []linkInfo, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, li := range msgs {
		switch li.kind {
		case kindNewLink, kindDelLink:
			if w.isDumpReply(li) && li.hdrFlags&unix.NLM_F_DUMP_INTR != 0 {
				// The link list changed while it was being dumped.
				w.needDump = true
			}
			w.applyLink(li, at)
		case kindDone:
			if w.isDumpReply(li) {
				w.finishDump(at)
			}
		case kindError:
			if w.isDumpReply(li) && li.errno != 0 {
				w.dumping = false
				w.needDump = true
				w.retryAt = at.Add(dumpRetryDelay)
				w.dumpErr = li.errno
			}
		}
	}
}

// applyLink applies one RTM_NEWLINK or RTM_DELLINK message. w.mu is held.
func (w *Watcher) applyLink(li linkInfo, at time.Time) {
	name := li.name
	if name == "" {
		name = w.nameByIndex(li.index)
		if name == "" {
			return
		}
	}
	if li.kind == kindNewLink {
		// A watched name still attached to this ifindex was renamed
		// away: the watched name no longer exists.
		for n, st := range w.links {
			if n != name && st.present && st.index == li.index {
				w.setState(n, st.index, false, false, at)
			}
		}
	}
	st, ok := w.links[name]
	if !ok {
		return
	}
	if w.isDumpReply(li) {
		w.seen[name] = struct{}{}
	}
	switch li.kind {
	case kindNewLink:
		w.setState(name, li.index, true, li.up(), at)
	case kindDelLink:
		// A deletion of an older interface with the same name must not
		// hide a newer one.
		if !st.present || st.index == li.index {
			w.setState(name, li.index, false, false, at)
		}
	}
}

// nameByIndex returns the watched name currently held by ifindex, or the
// empty string. w.mu is held.
func (w *Watcher) nameByIndex(index int) string {
	for n, st := range w.links {
		if st.present && st.index == index {
			return n
		}
	}
	return ""
}

// finishDump completes a dump: watched names the dump did not report no
// longer exist. w.mu is held.
func (w *Watcher) finishDump(at time.Time) {
	for n, st := range w.links {
		if _, ok := w.seen[n]; !ok && st.present {
			w.setState(n, st.index, false, false, at)
		}
	}
	w.dumping = false
	w.seen = nil
}

// setState records the state of a watched name and queues an event if its
// operational state changed. w.mu is held.
func (w *Watcher) setState(name string, index int, present, up bool, at time.Time) {
	st := w.links[name]
	changed := st.up != up
	st.index = index
	st.present = present
	st.up = up
	if changed && w.emit {
		w.pending = append(w.pending, Event{Name: name, Index: index, Up: up, At: at})
	}
}

// run is the reader goroutine. It returns when Close is called.
func (w *Watcher) run() {
	defer close(w.done)
	defer close(w.events)
	fds := make([]unix.PollFd, 2)
	for {
		timeout := pollMillis(stopCheckInterval)
		if w.needDump && !w.dumping {
			if wait := time.Until(w.retryAt); wait > 0 {
				timeout = min(timeout, pollMillis(wait))
			} else if err := w.startDump(); err != nil {
				w.retryAt = time.Now().Add(dumpRetryDelay)
				timeout = min(timeout, pollMillis(dumpRetryDelay))
			}
		}

		fds[0] = unix.PollFd{Fd: int32(w.efd), Events: unix.POLLIN}
		fds[1] = unix.PollFd{Fd: int32(w.fd), Events: unix.POLLIN}
		_, err := unix.Poll(fds, timeout)
		select {
		case <-w.stop:
			return
		default:
		}
		if err != nil {
			if err != unix.EINTR {
				// Should never happen; avoid spinning.
				w.pause(dumpRetryDelay)
			}
			continue
		}
		if fds[0].Revents != 0 {
			var cnt [8]byte
			_, _ = unix.Read(w.efd, cnt[:])
		}
		if w.resync.Swap(false) {
			w.needDump = true
			w.retryAt = time.Time{}
		}
		if fds[1].Revents != 0 {
			if err := w.drain(); err != nil {
				// An unexpected receive error; resynchronise
				// from a fresh dump a little later.
				w.needDump = true
				w.retryAt = time.Now().Add(dumpRetryDelay)
				w.pause(dumpRetryDelay)
			}
		}
		if !w.deliver() {
			return
		}
	}
}

// pause waits for d or until Close wakes the reader, whichever comes first.
func (w *Watcher) pause(d time.Duration) {
	fds := []unix.PollFd{{Fd: int32(w.efd), Events: unix.POLLIN}}
	_, _ = unix.Poll(fds, pollMillis(d))
}

// deliver sends the queued events. It reports false if the Watcher was
// closed meanwhile.
func (w *Watcher) deliver() bool {
	for i, ev := range w.pending {
		select {
		case w.events <- ev:
		case <-w.stop:
			return false
		}
		w.pending[i] = Event{}
	}
	w.pending = w.pending[:0]
	return true
}

// Events returns the channel on which carrier changes of the watched
// interfaces are delivered: one event per change of the Up state. The
// channel is buffered and is closed after Close. While the channel is full
// the Watcher stops reading the socket; if the kernel's queue overflows
// meanwhile, it resynchronises from a fresh dump once the consumer catches
// up. State always reflects the latest state the Watcher has read.
func (w *Watcher) Events() <-chan Event {
	return w.events
}

// State reports whether the watched interface name is operationally usable.
// ok is false if name is not watched by w. A watched interface that does not
// currently exist is reported as down.
func (w *Watcher) State(name string) (up bool, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.links[name]
	if !ok {
		return false, false
	}
	return st.up, true
}

// Watch adds name to the watched interfaces. Until the Watcher has read
// its state (a fresh dump, within milliseconds) it counts as down; an
// interface that is up then produces an Up event like any change. Watching
// a name already watched does nothing.
func (w *Watcher) Watch(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("linkwatch: invalid interface name %q", name)
	}
	w.mu.Lock()
	if _, ok := w.links[name]; ok {
		w.mu.Unlock()
		return nil
	}
	w.links[name] = &linkState{}
	w.mu.Unlock()
	w.resync.Store(true)
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	if _, err := unix.Write(w.efd, one[:]); err != nil && err != unix.EAGAIN {
		return fmt.Errorf("linkwatch: wake reader: %w", err)
	}
	return nil
}

// Unwatch stops watching name; events for it may still be in the channel.
func (w *Watcher) Unwatch(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.links, name)
}

// Close stops the Watcher, waits for its reader goroutine to exit and closes
// the Events channel. It is safe to call more than once; later calls return
// the result of the first.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() {
		close(w.stop)
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, wakeErr := unix.Write(w.efd, one[:])
		if wakeErr == unix.EAGAIN {
			// The counter is already non-zero: the reader is awake.
			wakeErr = nil
		}
		<-w.done
		w.closeErr = w.closeFDs()
		if wakeErr != nil && w.closeErr == nil {
			w.closeErr = fmt.Errorf("linkwatch: wake reader: %w", wakeErr)
		}
	})
	return w.closeErr
}

// closeFDs closes the socket and the eventfd.
func (w *Watcher) closeFDs() error {
	var errs []error
	if w.fd >= 0 {
		if err := unix.Close(w.fd); err != nil {
			errs = append(errs, fmt.Errorf("linkwatch: close netlink socket: %w", err))
		}
		w.fd = -1
	}
	if w.efd >= 0 {
		if err := unix.Close(w.efd); err != nil {
			errs = append(errs, fmt.Errorf("linkwatch: close eventfd: %w", err))
		}
		w.efd = -1
	}
	return errors.Join(errs...)
}
