package dpdk

/*
#include "shim.h"
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// LinkEvents delivers link-state-change interrupts of ports whose PMD
// raises them. DPDK calls back on its interrupt thread; the C callback only
// writes the port id into a non-blocking pipe (a full pipe loses the
// notification, never blocks DPDK), and a goroutine turns that into a
// channel send, so no Go code runs on DPDK's thread.
type LinkEvents struct {
	r     *os.File
	wfd   int
	c     chan uint16
	mu    sync.Mutex
	ports map[uint16]bool
	done  chan struct{}
}

// NewLinkEvents starts the notifier.
func NewLinkEvents() (*LinkEvents, error) {
	var fds [2]int
	// Both ends non-blocking: the writer never stalls DPDK, and the
	// reader goes through Go's poller so Close interrupts it.
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, err
	}
	le := &LinkEvents{r: os.NewFile(uintptr(fds[0]), "lsc"), wfd: fds[1], c: make(chan uint16, 64), ports: map[uint16]bool{}, done: make(chan struct{})}
	go le.read()
	return le, nil
}

func (le *LinkEvents) read() {
	defer close(le.done)
	defer close(le.c)
	var b [2]byte
	for {
		if _, err := le.r.Read(b[:]); err != nil {
			return
		}
		select {
		case le.c <- binary.NativeEndian.Uint16(b[:]):
		default: // a consumer that lags re-reads every link anyway
		}
	}
}

// C is the channel of port ids whose link changed.
func (le *LinkEvents) C() <-chan uint16 { return le.c }

// Watch registers the LSC callback for p. It must be called after the port
// was configured with PortConfig.LSC and its Info reports LSC.
func (le *LinkEvents) Watch(p *Port) error {
	le.mu.Lock()
	defer le.mu.Unlock()
	if le.ports[p.ID] {
		return nil
	}
	if rc := C.tg_lsc_register(C.uint16_t(p.ID), C.int(le.wfd)); rc < 0 {
		return errnoErr("lsc register", p.Name, rc)
	}
	le.ports[p.ID] = true
	return nil
}

// unregister removes the callback of a port, retrying while DPDK reports
// it running (EAGAIN), so the pipe is never written after Close.
func (le *LinkEvents) unregister(id uint16) error {
	for range 100 {
		rc := C.tg_lsc_unregister(C.uint16_t(id), C.int(le.wfd))
		if rc >= 0 || syscall.Errno(-rc) != syscall.EAGAIN {
			if rc < 0 {
				return syscall.Errno(-rc)
			}
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return syscall.EAGAIN
}

// Unwatch removes the callback of p; call it before the port is closed.
func (le *LinkEvents) Unwatch(p *Port) {
	le.mu.Lock()
	defer le.mu.Unlock()
	if le.ports[p.ID] && le.unregister(p.ID) == nil {
		delete(le.ports, p.ID)
	}
}

// Close unregisters every callback and stops the reader. If a callback
// cannot be unregistered the write end stays open (a small leak rather
// than a write into a reused descriptor).
func (le *LinkEvents) Close() {
	le.mu.Lock()
	var errs []error
	for id := range le.ports {
		if err := le.unregister(id); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(le.ports, id)
	}
	le.mu.Unlock()
	if errors.Join(errs...) == nil {
		unix.Close(le.wfd)
	}
	le.r.Close()
	<-le.done
}
