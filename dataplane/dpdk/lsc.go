package dpdk

/*
#include "shim.h"
*/
import "C"

import (
	"encoding/binary"
	"os"
	"sync"
)

// LinkEvents delivers link-state-change interrupts of ports whose PMD
// raises them. DPDK calls back on its interrupt thread; the C callback only
// writes the port id into a pipe, and a goroutine turns that into a channel
// send, so no Go code runs on DPDK's thread.
type LinkEvents struct {
	r, w  *os.File
	c     chan uint16
	mu    sync.Mutex
	ports map[uint16]bool
	done  chan struct{}
}

// NewLinkEvents starts the notifier.
func NewLinkEvents() (*LinkEvents, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	le := &LinkEvents{r: r, w: w, c: make(chan uint16, 64), ports: map[uint16]bool{}, done: make(chan struct{})}
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
	if rc := C.tg_lsc_register(C.uint16_t(p.ID), C.int(le.w.Fd())); rc < 0 {
		return errnoErr("lsc register", p.Name, rc)
	}
	le.ports[p.ID] = true
	return nil
}

// Unwatch removes the callback of p; call it before the port is closed.
func (le *LinkEvents) Unwatch(p *Port) {
	le.mu.Lock()
	defer le.mu.Unlock()
	if le.ports[p.ID] {
		C.tg_lsc_unregister(C.uint16_t(p.ID), C.int(le.w.Fd()))
		delete(le.ports, p.ID)
	}
}

// Close unregisters every callback and stops the reader.
func (le *LinkEvents) Close() {
	le.mu.Lock()
	for id := range le.ports {
		C.tg_lsc_unregister(C.uint16_t(id), C.int(le.w.Fd()))
	}
	le.ports = map[uint16]bool{}
	le.mu.Unlock()
	le.w.Close()
	<-le.done
	le.r.Close()
}
