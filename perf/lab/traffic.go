package lab

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// streamGrace is how long Stream.Stop waits for outstanding echoes after
// the last datagram was sent. Stop returns earlier once every datagram
// has been echoed.
const streamGrace = 500 * time.Millisecond

// streamHeader is the size of a stream datagram: an 8-byte token that
// identifies the stream followed by an 8-byte big-endian sequence number.
const streamHeader = 16

// StartEcho opens a UDP echo server on addr inside namespace ns; it sends
// every datagram it receives back to its sender, unchanged. The socket
// uses IP_FREEBIND, so addr need not be configured yet (for example the
// team address before teamgw has created its TAP interface). The returned
// stop function closes the server and waits for it to finish; it is
// idempotent and also called by Close.
func (l *Lab) StartEcho(ns string, addr netip.AddrPort) (stop func(), err error) {
	var conn *net.UDPConn
	err = l.Do(ns, func() error {
		lc := net.ListenConfig{Control: freebind}
		pc, err := lc.ListenPacket(context.Background(), "udp", addr.String())
		if err != nil {
			return err
		}
		conn = pc.(*net.UDPConn)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lab: echo server on %s in %s: %w", addr, ns, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				time.Sleep(time.Millisecond)
				continue
			}
			if n >= streamHeader {
				l.sawAtEcho([8]byte(buf[:8]), binary.BigEndian.Uint64(buf[8:streamHeader]))
			}
			_, _ = conn.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			conn.Close()
			<-done
		})
	}
	if !l.addCloser(stop) {
		stop()
		return nil, errors.New("lab: StartEcho on closed lab")
	}
	return stop, nil
}

// echoLog is what the lab's echo servers received, per stream token: the
// sequence numbers that made it there, so that a stream can tell loss on
// the way out from loss on the way back.
type echoLog struct {
	mu   sync.Mutex
	seen map[[8]byte]map[uint64]bool
}

// sawAtEcho records that an echo server received seq of stream token.
func (l *Lab) sawAtEcho(token [8]byte, seq uint64) {
	l.echoes.mu.Lock()
	defer l.echoes.mu.Unlock()
	if m := l.echoes.seen[token]; m != nil {
		m[seq] = true
	}
}

// freebind sets IP_FREEBIND or IPV6_FREEBIND on a socket about to be bound.
func freebind(network, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if network == "udp6" {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_FREEBIND, 1)
		} else {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
		}
	})
	return errors.Join(err, serr)
}

// Stream is a UDP sequence stream started with StartStream. It sends one
// datagram carrying a sequence number per interval to an echo server and
// records, per sequence number, when it was sent and whether its echo came
// back.
type Stream struct {
	lab   *Lab
	conn  *net.UDPConn
	token [8]byte
	start time.Time

	received atomic.Uint64

	mu       sync.Mutex
	sendAt   []time.Duration // send time of each sequence number, since start
	got      []bool          // whether the echo of each sequence number arrived
	dups     uint64
	haveRecv bool
	lastRecv time.Duration
	maxGap   time.Duration
	maxRTT   time.Duration
	lastSend time.Duration
	sendDone chan struct{}
	recvDone chan struct{}
	stopSend chan struct{}
	stopOnce sync.Once
	result   StreamResult
}

// StreamResult summarises a stream.
type StreamResult struct {
	// Sent is the number of datagrams sent (including those whose send
	// call failed, which count as lost).
	Sent uint64
	// Received is the number of distinct sequence numbers echoed back.
	Received uint64
	// Lost is Sent - Received.
	Lost uint64
	// Duplicates counts echoes of sequence numbers already received.
	Duplicates uint64
	// MaxGap is the loss window: the longest time between two consecutive
	// echoes, by receive time, counted from the first echo received. If
	// echoes stopped arriving before the stream was stopped, the time from
	// the last echo to the last send is included as well, so an outage
	// that lasts until Stop is not missed. Without loss it is about the
	// send interval plus scheduling jitter; it is zero if fewer than two
	// echoes arrived and the stream never went silent.
	MaxGap time.Duration
	// MaxRTT is the longest round-trip time of any echo.
	MaxRTT time.Duration
	// LossWindowOut and LossWindowBack split LossWindow by direction,
	// for streams to an echo server of the same lab: the longest run of
	// datagrams that never reached the echo server, and of those that
	// reached it but whose echo never came back.
	LossWindowOut, LossWindowBack time.Duration
	// LossRun is the longest run of consecutive sequence numbers whose
	// echoes never came back, and LossWindow its length in time: from
	// the send time of its first datagram to that of the next datagram
	// echoed (or of the last one sent, if the run lasts until Stop).
	// Unlike Lost, it is not inflated by a datagram lost here and there
	// on a loaded machine; unlike MaxGap, not by a late echo.
	LossRun    uint64
	LossWindow time.Duration
}

// StartStream starts sending a datagram every interval from namespace ns to
// target, which is normally an echo server started with StartEcho, and
// reading the echoes. Sending starts immediately. Call Stop to end the
// stream and obtain its result; Close stops it too.
func (l *Lab) StartStream(ns string, target netip.AddrPort, interval time.Duration) (*Stream, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("lab: stream interval %v must be positive", interval)
	}
	var conn *net.UDPConn
	err := l.Do(ns, func() error {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(target))
		conn = c
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab: stream to %s from %s: %w", target, ns, err)
	}
	s := &Stream{
		conn:     conn,
		start:    time.Now(),
		sendDone: make(chan struct{}),
		recvDone: make(chan struct{}),
		stopSend: make(chan struct{}),
	}
	if _, err := rand.Read(s.token[:]); err != nil {
		conn.Close()
		return nil, fmt.Errorf("lab: stream token: %w", err)
	}
	l.echoes.mu.Lock()
	if l.echoes.seen == nil {
		l.echoes.seen = map[[8]byte]map[uint64]bool{}
	}
	l.echoes.seen[s.token] = map[uint64]bool{}
	l.echoes.mu.Unlock()
	s.lab = l
	go s.receive()
	go s.send(interval)
	if !l.addCloser(func() { s.Stop() }) {
		s.Stop()
		return nil, errors.New("lab: StartStream on closed lab")
	}
	return s, nil
}

// send transmits one datagram per interval until stopSend is closed.
func (s *Stream) send(interval time.Duration) {
	defer close(s.sendDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	var pkt [streamHeader]byte
	copy(pkt[:8], s.token[:])
	for {
		s.mu.Lock()
		seq := uint64(len(s.sendAt))
		now := time.Since(s.start)
		s.sendAt = append(s.sendAt, now)
		s.got = append(s.got, false)
		s.lastSend = now
		s.mu.Unlock()
		binary.BigEndian.PutUint64(pkt[8:], seq)
		// A failed send (no route, ICMP error reported on the socket)
		// simply counts as a lost datagram.
		_, _ = s.conn.Write(pkt[:])
		select {
		case <-s.stopSend:
			return
		case <-t.C:
		}
	}
}

// receive reads echoes until the socket is closed.
func (s *Stream) receive() {
	defer close(s.recvDone)
	buf := make([]byte, 2048)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Connected UDP sockets report ICMP errors (for example
			// ECONNREFUSED while the echo server is unreachable) on the
			// next read; keep going.
			time.Sleep(100 * time.Microsecond)
			continue
		}
		now := time.Since(s.start)
		if n < streamHeader || [8]byte(buf[:8]) != s.token {
			continue
		}
		seq := binary.BigEndian.Uint64(buf[8:streamHeader])
		s.mu.Lock()
		if seq >= uint64(len(s.sendAt)) {
			s.mu.Unlock()
			continue
		}
		if s.got[seq] {
			s.dups++
			s.mu.Unlock()
			continue
		}
		s.got[seq] = true
		if rtt := now - s.sendAt[seq]; rtt > s.maxRTT {
			s.maxRTT = rtt
		}
		if s.haveRecv {
			if gap := now - s.lastRecv; gap > s.maxGap {
				s.maxGap = gap
			}
		}
		s.haveRecv = true
		s.lastRecv = now
		s.mu.Unlock()
		s.received.Add(1)
	}
}

// Received returns the number of distinct echoes received so far. It is
// useful for waiting until traffic flows.
func (s *Stream) Received() uint64 {
	return s.received.Load()
}

// Sent is the number of datagrams sent so far.
func (s *Stream) Sent() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(len(s.sendAt))
}

// Stop stops sending, waits up to 500 ms for outstanding echoes, closes
// the socket and returns the result. Later calls return the same result.
func (s *Stream) Stop() StreamResult { return s.StopWithin(streamGrace) }

// StopWithin is Stop waiting at most grace for outstanding echoes (a
// benchmark that stops many streams that lost datagrams saves the rest of
// the 500 ms).
func (s *Stream) StopWithin(grace time.Duration) StreamResult {
	s.stopOnce.Do(func() {
		close(s.stopSend)
		<-s.sendDone
		deadline := time.Now().Add(grace)
		for time.Now().Before(deadline) {
			s.mu.Lock()
			sent := uint64(len(s.sendAt))
			s.mu.Unlock()
			if s.received.Load() >= sent {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		s.conn.Close()
		<-s.recvDone

		s.mu.Lock()
		defer s.mu.Unlock()
		r := StreamResult{
			Sent:       uint64(len(s.sendAt)),
			Received:   s.received.Load(),
			Duplicates: s.dups,
			MaxGap:     s.maxGap,
			MaxRTT:     s.maxRTT,
		}
		r.Lost = r.Sent - r.Received
		s.lab.echoes.mu.Lock()
		atEcho := s.lab.echoes.seen[s.token]
		delete(s.lab.echoes.seen, s.token)
		s.lab.echoes.mu.Unlock()
		var n uint64
		r.LossWindow, n = s.longestLoss(func(i int) bool { return !s.got[i] })
		r.LossRun = n
		r.LossWindowOut, _ = s.longestLoss(func(i int) bool { return !atEcho[uint64(i)] })
		r.LossWindowBack, _ = s.longestLoss(func(i int) bool { return atEcho[uint64(i)] && !s.got[i] })
		if s.haveRecv && s.lastSend > s.lastRecv {
			if tail := s.lastSend - s.lastRecv; tail > r.MaxGap {
				r.MaxGap = tail
			}
		}
		s.result = r
	})
	return s.result
}

// longestLoss returns the longest run of consecutive sequence numbers for
// which lost holds, in time (from the send time of its first datagram to
// that of the next datagram not lost, or the last send) and in datagrams.
// s.mu must be held.
func (s *Stream) longestLoss(lost func(int) bool) (window time.Duration, run uint64) {
	for i := 0; i < len(s.got); {
		if !lost(i) {
			i++
			continue
		}
		j := i
		for j < len(s.got) && lost(j) {
			j++
		}
		end := s.lastSend
		if j < len(s.got) {
			end = s.sendAt[j]
		}
		run = max(run, uint64(j-i))
		window = max(window, end-s.sendAt[i])
		i = j
	}
	return window, run
}
