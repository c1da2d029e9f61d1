// Package insn measures one thread's work in ways a shared machine does
// not disturb: the instructions it retires in user space (the kernel's
// perf events) and the CPU time it runs. Wall-clock rates wander with the
// neighbours' load; instructions per packet and packets per CPU-second do
// not (much), so benchmarks report them next to the wall-clock rate.
package insn

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Counter is an open instruction counter for one thread.
type Counter struct {
	fd int
}

// Open starts counting the user-space instructions of thread tid (0: the
// calling thread, which must then stay locked to its goroutine with
// runtime.LockOSThread). It fails where the machine exposes no hardware
// counters (many VMs) or perf events are restricted.
func Open(tid int) (*Counter, error) {
	attr := unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_HARDWARE,
		Config: unix.PERF_COUNT_HW_INSTRUCTIONS,
		Bits:   unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv,
	}
	attr.Size = uint32(unsafe.Sizeof(attr))
	fd, err := unix.PerfEventOpen(&attr, tid, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("insn: perf_event_open (thread %d): %w", tid, err)
	}
	return &Counter{fd: fd}, nil
}

// Read returns the instructions counted since Open.
func (c *Counter) Read() (uint64, error) {
	var b [8]byte
	n, err := unix.Read(c.fd, b[:])
	if err != nil {
		return 0, fmt.Errorf("insn: read: %w", err)
	}
	if n != len(b) {
		return 0, fmt.Errorf("insn: read %d bytes", n)
	}
	return binary.NativeEndian.Uint64(b[:]), nil
}

// Close stops counting.
func (c *Counter) Close() error { return unix.Close(c.fd) }

// Span measures a stretch of work: Start and Stop around it. A nil *Span
// (no counter available) measures nothing and reports 0.
type Span struct {
	c     *Counter
	start uint64
}

// NewSpan opens a counter on the calling thread, or returns nil if the
// machine has none.
func NewSpan() *Span {
	c, err := Open(0)
	if err != nil {
		return nil
	}
	return &Span{c: c}
}

// Start marks the beginning of the work.
func (s *Span) Start() {
	if s != nil {
		s.start, _ = s.c.Read()
	}
}

// Stop returns the instructions since Start.
func (s *Span) Stop() uint64 {
	if s == nil {
		return 0
	}
	v, err := s.c.Read()
	if err != nil {
		return 0
	}
	return v - s.start
}

// Close releases the counter.
func (s *Span) Close() {
	if s != nil {
		s.c.Close()
	}
}
