// Package afpacket opens transmit-only AF_PACKET sockets with virtio-net
// headers on the kernel interfaces behind kernel-backed members
// (net_af_packet,iface=X). Issue 9: DPDK's net_af_packet PMD sends every
// frame with its own copy into a ring and its own skb, so a 64 KB TCP
// super-frame from the team's TAP, cut into 45 wire segments, costs 45
// skbs; written whole to such a socket with a header asking for GSO
// (packet(7), PACKET_VNET_HDR) it costs one, which the kernel segments as
// late as the egress device needs — on a veth not at all.
//
// A Sender is bound with protocol 0, so the kernel delivers it nothing:
// receiving stays with the PMD's sockets. One Sender serves one worker
// lcore; it is not safe for concurrent use.
package afpacket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Options of a Sender.
type Options struct {
	// QdiscBypass sends straight to the device driver (PACKET_QDISC_BYPASS),
	// past the interface's queueing discipline, as DPDK's net_af_packet
	// does by default. The kernel then drops GSO skbs for a device that
	// does not segment TCP itself (see OffersTSO).
	QdiscBypass bool
	// SendBuffer, if non-zero, is the socket's send buffer in bytes
	// (SO_SNDBUFFORCE): a 64 KB super-frame's skb takes about 70 KB of it
	// until the kernel is done with it.
	SendBuffer int
}

// OffersTSO reports whether interface iface segments TCP itself (any of
// its TSO features on: the legacy ETHTOOL_GTSO query, which the kernel
// answers from NETIF_F_ALL_TSO). A GSO skb sent past the queueing
// discipline (QdiscBypass) to a device without it is dropped, not
// segmented: the kernel's direct transmit refuses an skb its checks would
// have to cut (__dev_direct_xmit), and the write fails with ENOBUFS.
func OffersTSO(iface string) (bool, error) {
	// x/sys's Ifreq checks the name as the kernel wants it, but cannot
	// carry the pointer to the ethtool command that SIOCETHTOOL reads
	// from ifr_data: the request is laid out here, with the name it
	// checked.
	ifr, err := unix.NewIfreq(iface)
	if err != nil {
		return false, fmt.Errorf("afpacket: interface %q: %w", iface, err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("afpacket: %w", err)
	}
	defer unix.Close(fd)
	const ethtoolGTSO = 0x1e // linux/ethtool.h
	v := struct{ cmd, data uint32 }{cmd: ethtoolGTSO}
	// data is a pointer, not a uintptr, so that v stays where it points
	// (struct ifreq: the name, then a union of 24 bytes).
	var req struct {
		name [unix.IFNAMSIZ]byte
		data unsafe.Pointer
		_    [16]byte
	}
	copy(req.name[:], ifr.Name())
	req.data = unsafe.Pointer(&v)
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&req)))
	if e != 0 {
		return false, fmt.Errorf("afpacket: %s: ETHTOOL_GTSO: %w", iface, e)
	}
	return v.data != 0, nil
}

// Sender is one transmit-only packet socket on one interface. Only Open
// makes a usable one; a zero Sender owns no descriptor (Close does
// nothing, Write fails with EBADF).
type Sender struct {
	Iface string
	Index int
	fd    int // valid only when open
	open  bool
	addr  unix.RawSockaddrLinklayer
	msg   unix.Msghdr
}

// Open opens a Sender on interface iface.
func Open(iface string, o Options) (*Sender, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("afpacket: %w", err)
	}
	return open(ifi, o)
}

func open(ifi *net.Interface, o Options) (_ *Sender, err error) {
	iface := ifi.Name
	// Protocol 0: no packet type is hooked, the socket receives nothing.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("afpacket: socket on %s: %w", iface, err)
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
		}
	}()
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: 0, Ifindex: ifi.Index}); err != nil {
		return nil, fmt.Errorf("afpacket: bind to %s: %w", iface, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		return nil, fmt.Errorf("afpacket: %s: PACKET_VNET_HDR: %w", iface, err)
	}
	if o.QdiscBypass {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
			return nil, fmt.Errorf("afpacket: %s: PACKET_QDISC_BYPASS: %w", iface, err)
		}
	}
	if o.SendBuffer > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, o.SendBuffer); err != nil {
			return nil, fmt.Errorf("afpacket: %s: SO_SNDBUFFORCE %d: %w", iface, o.SendBuffer, err)
		}
	}
	s := &Sender{Iface: iface, Index: ifi.Index, fd: fd, open: true}
	s.addr = unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Ifindex: int32(ifi.Index)}
	s.msg.Name = (*byte)(unsafe.Pointer(&s.addr))
	s.msg.Namelen = uint32(unsafe.Sizeof(s.addr))
	return s, nil
}

// Write sends one frame made of the pieces iov describes, the first being
// its virtio-net header (vnet.HeaderLen bytes), without blocking.
// etherType is the frame's outer EtherType (0x8100 for a tagged frame):
// the kernel takes the skb's protocol from it, which its GSO needs to find
// the IP header behind VLAN tags. Every piece must live outside the Go
// heap or be kept alive by the caller across the call. The errors are the
// kernel's: EAGAIN or ENOBUFS when the send buffer or the device is full,
// ENETDOWN or ENXIO when the interface is down or gone, EINVAL when the
// header does not match the frame.
func (s *Sender) Write(iov []unix.Iovec, etherType uint16) error {
	if !s.open {
		return unix.EBADF
	}
	if len(iov) == 0 {
		return unix.EINVAL
	}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&s.addr.Protocol))[:], etherType)
	s.msg.Iov = unsafe.SliceData(iov)
	s.msg.SetIovlen(len(iov))
	_, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msg)), unix.MSG_DONTWAIT)
	s.msg.Iov = nil
	if e != 0 {
		return e
	}
	return nil
}

// SendBuffer is the socket's send buffer in bytes (SO_SNDBUF as the
// kernel reports it: twice what was set, for its bookkeeping).
func (s *Sender) SendBuffer() (int, error) {
	if !s.open {
		return 0, unix.EBADF
	}
	n, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	if err != nil {
		return 0, fmt.Errorf("afpacket: %s: SO_SNDBUF: %w", s.Iface, err)
	}
	return n, nil
}

// Close closes the socket.
func (s *Sender) Close() error {
	if s == nil || !s.open {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd, s.open = -1, false
	return err
}

// Senders are one member's Senders, one per worker lcore by worker index.
type Senders []*Sender

// OpenSenders opens n Senders on iface; on error none stays open.
func OpenSenders(iface string, n int, o Options) (Senders, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("afpacket: %w", err)
	}
	var ss Senders
	for range n {
		s, err := open(ifi, o)
		if err != nil {
			ss.Close()
			return nil, err
		}
		ss = append(ss, s)
	}
	return ss, nil
}

// Close closes every Sender.
func (ss Senders) Close() error {
	var errs []error
	for _, s := range ss {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
