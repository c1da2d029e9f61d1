package lab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Sniffer watches the IPv4 frames an interface receives, with a packet
// socket of its own (DPDK's af_packet PMD on the same interface gets its
// copies as before), and records when the first frame from each source
// address arrives after Arm. It is how a benchmark tells when an SLB
// client's traffic reaches a new member: Arm names the destination MAC
// that does not count (the cut member's, to which a bridge floods the
// client's frames until the client is re-pointed).
type Sniffer struct {
	fd   int
	done chan struct{}
	stop chan struct{}
	once sync.Once

	mu    sync.Mutex
	armed bool
	avoid [6]byte
	first map[netip.Addr]time.Time
}

// Sniff opens a Sniffer on iface in namespace ns. Close, or the lab's
// Close, stops it.
func (l *Lab) Sniff(ns, iface string) (*Sniffer, error) {
	s := &Sniffer{fd: -1, done: make(chan struct{}), stop: make(chan struct{}), first: map[netip.Addr]time.Time{}}
	err := l.Do(ns, func() error {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		proto := int(htons(unix.ETH_P_IP))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		// A receive timeout lets the reader notice Close.
		tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return err
		}
		s.fd = fd
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lab: sniff %s in %s: %w", iface, ns, err)
	}
	go s.read()
	if !l.addCloser(s.Close) {
		s.Close()
		return nil, errors.New("lab: Sniff on closed lab")
	}
	return s, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// read records arrivals until Close.
func (s *Sniffer) read() {
	defer close(s.done)
	buf := make([]byte, 256)
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		n, from, err := unix.Recvfrom(s.fd, buf, 0)
		now := time.Now()
		if err != nil || n < 14+20 {
			continue
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if binary.BigEndian.Uint16(buf[12:14]) != unix.ETH_P_IP {
			continue
		}
		src := netip.AddrFrom4([4]byte(buf[14+12 : 14+16]))
		s.mu.Lock()
		if s.armed && [6]byte(buf[:6]) != s.avoid {
			if _, ok := s.first[src]; !ok {
				s.first[src] = now
			}
		}
		s.mu.Unlock()
	}
}

// Arm forgets earlier arrivals and from now on records the first frame
// from each source whose destination MAC is not avoid.
func (s *Sniffer) Arm(avoid net.HardwareAddr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = true
	copy(s.avoid[:], avoid)
	clear(s.first)
}

// First returns when the first frame from src arrived since Arm.
func (s *Sniffer) First(src netip.Addr) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.first[src]
	return t, ok
}

// Close stops the Sniffer; it is idempotent.
func (s *Sniffer) Close() {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		unix.Close(s.fd)
	})
}
