// Package tap opens the team's kernel-facing interface: a Linux TAP device
// driven directly through /dev/net/tun, with virtio-net headers and
// offloads (so the kernel hands over 64 KB TCP segments with partial
// checksums and takes coalesced ones back) and one queue per worker lcore
// (IFF_MULTI_QUEUE: the kernel spreads its flows over the queues). Issue 9
// and the measurements in perf/results/kernelpath.md chose this over
// DPDK's net_tap, which offers neither in DPDK 22.11.
//
// Frames cross as [virtio-net header][Ethernet frame]; package vnet reads
// and writes the header.
package tap

import (
	"errors"
	"fmt"
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/vnet"
)

// Offloads the TAP may be asked for (TUNSETOFFLOAD, linux/if_tun.h).
const (
	offCsum   = 0x01
	offTSO4   = 0x02
	offTSO6   = 0x04
	offTSOECN = 0x08
	offUSO4   = 0x20 // Linux 6.2+
	offUSO6   = 0x40
)

// Offloads says what the kernel may hand the TAP unfinished.
type Offloads struct {
	Csum bool // partial L4 checksums (FlagNeedsCsum)
	TSO  bool // TCP super-frames over IPv4 and IPv6
	USO  bool // UDP super-frames
}

func (o Offloads) String() string {
	s := "none"
	if o.Csum {
		s = "csum"
	}
	if o.TSO {
		s += ",tso"
	}
	if o.USO {
		s += ",uso"
	}
	return s
}

// MaxFrame is the largest frame a queue reads: a 64 KB super-frame with
// its Ethernet header, two VLAN tags and the virtio-net header.
const MaxFrame = vnet.HeaderLen + 14 + 8 + 65535

// Device is one TAP interface and its queues.
type Device struct {
	Name     string
	Index    int
	Offloads Offloads
	queues   []*Queue
}

// Queue is one of the device's queues: a non-blocking file descriptor that
// reads and writes whole frames.
type Queue struct {
	fd int
}

// ifreq is struct ifreq: the interface name and a 24-byte union.
type ifreq struct {
	name  [unix.IFNAMSIZ]byte
	union [24]byte
}

// Open creates the TAP interface name (it must not exist) with the given
// number of queues, virtio-net headers and every offload this kernel
// supports. The interface is gone again once Close closes every queue.
func Open(name string, queues int) (d *Device, err error) {
	if len(name) == 0 || len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("tap: bad interface name %q", name)
	}
	if queues < 1 {
		return nil, fmt.Errorf("tap: %d queues", queues)
	}
	if _, err := net.InterfaceByName(name); err == nil {
		return nil, fmt.Errorf("tap: interface %q already exists", name)
	}
	d = &Device{Name: name}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	for range queues {
		fd, err := openQueue(name)
		if fd >= 0 {
			d.queues = append(d.queues, &Queue{fd: fd})
		}
		if err != nil {
			return d, err
		}
	}
	if err := d.setOffloads(); err != nil {
		return d, err
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return d, fmt.Errorf("tap: %s did not appear: %w", name, err)
	}
	d.Index = ifi.Index
	return d, nil
}

// openQueue opens one queue of the TAP interface name (creating the
// interface with the first), with virtio-net headers. On error after the
// open it returns the descriptor too, for the caller to close.
func openQueue(name string) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("tap: open /dev/net/tun: %w", err)
	}
	var req ifreq
	copy(req.name[:], name)
	*(*uint16)(unsafe.Pointer(&req.union[0])) = unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR | unix.IFF_MULTI_QUEUE
	if err := ioctlPtr(fd, unix.TUNSETIFF, unsafe.Pointer(&req)); err != nil {
		return fd, fmt.Errorf("tap: create %s: %w", name, err)
	}
	hdr := int32(vnet.HeaderLen)
	if err := ioctlPtr(fd, unix.TUNSETVNETHDRSZ, unsafe.Pointer(&hdr)); err != nil {
		return fd, fmt.Errorf("tap: %s: virtio-net header size: %w", name, err)
	}
	return fd, nil
}

// setOffloads asks for every offload this kernel supports (they are per
// device; set through the first queue).
func (d *Device) setOffloads() error {
	fd := d.queues[0].fd
	switch {
	case ioctlVal(fd, unix.TUNSETOFFLOAD, offCsum|offTSO4|offTSO6|offTSOECN|offUSO4|offUSO6) == nil:
		d.Offloads = Offloads{Csum: true, TSO: true, USO: true}
	case ioctlVal(fd, unix.TUNSETOFFLOAD, offCsum|offTSO4|offTSO6|offTSOECN) == nil:
		d.Offloads = Offloads{Csum: true, TSO: true}
	default:
		d.Offloads = Offloads{}
		if err := ioctlVal(fd, unix.TUNSETOFFLOAD, 0); err != nil {
			return fmt.Errorf("tap: %s: offloads: %w", d.Name, err)
		}
	}
	return nil
}

// Exists reports whether the device's interface is still there (an
// administrator may delete it: ip link del).
func (d *Device) Exists() bool {
	ifi, err := net.InterfaceByName(d.Name)
	return err == nil && ifi.Index == d.Index
}

// Recreate brings back an interface deleted from under the device: it
// creates the interface again under the same name and makes every
// queue's descriptor refer to it, by dup3 over the old descriptor, so a
// worker using a queue never sees a closed or reused descriptor. The
// caller configures the new interface (Configure, addresses).
func (d *Device) Recreate() error {
	for _, q := range d.queues {
		fd, err := openQueue(d.Name)
		if err == nil {
			err = unix.Dup3(fd, q.fd, unix.O_CLOEXEC)
		}
		if fd >= 0 {
			unix.Close(fd)
		}
		if err != nil {
			return fmt.Errorf("tap: recreate %s: %w", d.Name, err)
		}
	}
	if err := d.setOffloads(); err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(d.Name)
	if err != nil {
		return fmt.Errorf("tap: %s did not reappear: %w", d.Name, err)
	}
	d.Index = ifi.Index
	return nil
}

// Queues is the number of queues.
func (d *Device) Queues() int { return len(d.queues) }

// Queue returns queue i.
func (d *Device) Queue(i int) *Queue { return d.queues[i] }

// Close closes every queue; the kernel then removes the interface.
func (d *Device) Close() error {
	var errs []error
	for _, q := range d.queues {
		if q.fd >= 0 {
			errs = append(errs, unix.Close(q.fd))
			q.fd = -1
		}
	}
	return errors.Join(errs...)
}

// Configure gives the interface its MAC address and MTU and brings it up.
func (d *Device) Configure(mac net.HardwareAddr, mtu int) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	var req ifreq
	copy(req.name[:], d.Name)
	if len(mac) != 6 {
		return fmt.Errorf("tap: %s: bad MAC %v", d.Name, mac)
	}
	*(*uint16)(unsafe.Pointer(&req.union[0])) = unix.ARPHRD_ETHER
	copy(req.union[2:8], mac)
	if err := ioctlPtr(s, unix.SIOCSIFHWADDR, unsafe.Pointer(&req)); err != nil {
		return fmt.Errorf("tap: %s: set MAC: %w", d.Name, err)
	}
	req.union = [24]byte{}
	*(*int32)(unsafe.Pointer(&req.union[0])) = int32(mtu)
	if err := ioctlPtr(s, unix.SIOCSIFMTU, unsafe.Pointer(&req)); err != nil {
		return fmt.Errorf("tap: %s: set MTU %d: %w", d.Name, mtu, err)
	}
	req.union = [24]byte{}
	if err := ioctlPtr(s, unix.SIOCGIFFLAGS, unsafe.Pointer(&req)); err != nil {
		return fmt.Errorf("tap: %s: get flags: %w", d.Name, err)
	}
	*(*uint16)(unsafe.Pointer(&req.union[0])) |= unix.IFF_UP
	if err := ioctlPtr(s, unix.SIOCSIFFLAGS, unsafe.Pointer(&req)); err != nil {
		return fmt.Errorf("tap: %s: up: %w", d.Name, err)
	}
	return nil
}

func ioctlPtr(fd int, req uint, arg unsafe.Pointer) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg)); e != 0 {
		return e
	}
	return nil
}

func ioctlVal(fd int, req uint, arg uintptr) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), arg); e != 0 {
		return e
	}
	return nil
}

// Read reads one frame with its virtio-net header into b. It returns 0
// and no error when nothing is waiting.
func (q *Queue) Read(b []byte) (int, error) {
	n, _, e := unix.Syscall(unix.SYS_READ, uintptr(q.fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	switch e {
	case 0:
		return int(n), nil
	case unix.EAGAIN:
		return 0, nil
	}
	return 0, e
}

// Write writes one frame made of the pieces iov describes (the first is
// the virtio-net header). Every piece must live outside the Go heap or be
// kept alive by the caller across the call.
func (q *Queue) Write(iov []unix.Iovec) error {
	_, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(q.fd), uintptr(unsafe.Pointer(unsafe.SliceData(iov))), uintptr(len(iov)))
	if e != 0 {
		return e
	}
	return nil
}

// Waiter puts an idle worker to sleep until one of its queues has a
// frame for it or a timeout passes. It sleeps on the kernel's
// high-resolution timer (ppoll), so a timeout of tens of microseconds is
// kept, where the Go runtime's timers round a short sleep of a locked
// thread up to a millisecond or more; and a frame the kernel sends ends
// the sleep at once. A zero Waiter waits on no queue: Wait just sleeps.
// Not safe for concurrent use.
type Waiter struct {
	fds []unix.PollFd
	ts  unix.Timespec
}

// Add makes the waiter wake when q has a frame to read.
func (w *Waiter) Add(q *Queue) {
	w.fds = append(w.fds, unix.PollFd{Fd: int32(q.fd), Events: unix.POLLIN})
}

// Reset forgets every queue.
func (w *Waiter) Reset() { w.fds = w.fds[:0] }

// Wait sleeps until a queue of the waiter has a frame to read, d has
// passed or a signal arrives, whichever comes first; it reports whether a
// queue woke it. A queue closed or recreated meanwhile (Device.Recreate)
// wakes it or lets it time out, never blocks it longer.
func (w *Waiter) Wait(d time.Duration) bool {
	w.ts = unix.NsecToTimespec(d.Nanoseconds())
	n, err := unix.Ppoll(w.fds, &w.ts, nil)
	return err == nil && n > 0
}
