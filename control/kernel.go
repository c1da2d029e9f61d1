package control

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/tap"
)

// addAddress assigns p to the interface with index ifindex through
// rtnetlink (RTM_NEWADDR). IPv6 addresses get IFA_F_NODAD so the team can
// use them at once; an address that is already there is not an error.
func addAddress(ifindex int, p netip.Prefix) error {
	fd, err := openRoute()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	family, addrLen := uint8(unix.AF_INET), 4
	if p.Addr().Is6() {
		family, addrLen = unix.AF_INET6, 16
	}
	var flags uint8
	if family == unix.AF_INET6 {
		flags = unix.IFA_F_NODAD
	}
	addr := p.Addr().AsSlice()
	// nlmsghdr(16) + ifaddrmsg(8) + IFA_LOCAL + IFA_ADDRESS attributes.
	attrLen := unix.SizeofRtAttr + addrLen
	attrSpace := (attrLen + 3) &^ 3
	msg := make([]byte, 16+8+2*attrSpace)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], unix.RTM_NEWADDR)
	ne.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_REPLACE)
	ne.PutUint32(msg[8:], 1)
	msg[16] = family
	msg[17] = uint8(p.Bits())
	msg[18] = flags
	msg[19] = unix.RT_SCOPE_UNIVERSE
	ne.PutUint32(msg[20:], uint32(ifindex))
	off := 24
	for _, typ := range []uint16{unix.IFA_LOCAL, unix.IFA_ADDRESS} {
		ne.PutUint16(msg[off:], uint16(attrLen))
		ne.PutUint16(msg[off+2:], typ)
		copy(msg[off+4:], addr)
		off += attrSpace
	}
	return exchange(fd, msg, func(m syscall.NetlinkMessage) (bool, error) {
		if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
			return false, nil
		}
		if code := int32(ne.Uint32(m.Data[0:4])); code < 0 && unix.Errno(-code) != unix.EEXIST {
			return true, fmt.Errorf("add address %s: %w", p, unix.Errno(-code))
		}
		return true, nil // acknowledged (or already there)
	})
}

// exchange sends one rtnetlink request on fd and hands every reply
// message to handle until handle reports the exchange done.
func exchange(fd int, req []byte, handle func(syscall.NetlinkMessage) (done bool, err error)) error {
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("netlink recv: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("netlink parse: %w", err)
		}
		for _, m := range msgs {
			if done, err := handle(m); done || err != nil {
				return err
			}
		}
	}
}

// openRoute opens and binds an rtnetlink socket.
func openRoute() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return -1, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("netlink bind: %w", err)
	}
	return fd, nil
}

// memberIface remembers how teamgw changed a kernel interface that backs a
// member (net_af_packet), so Stop can put it back.
type memberIface struct {
	name        string
	hadNoARP    bool
	disableIPv6 string // previous value, "" if unknown
}

// prepareMemberIface keeps the kernel's own stack off a member interface
// whose frames teamgw handles: the kernel must not answer ARP for the
// team's addresses on it (IFF_NOARP) nor run IPv6 on it, or clients would
// learn the member's kernel MAC instead of the team's (Linux bonding
// enslaves interfaces the same way).
func prepareMemberIface(name string) (*memberIface, error) {
	mi := &memberIface{name: name}
	flags, err := ifFlags(name)
	if err != nil {
		return nil, err
	}
	mi.hadNoARP = flags&unix.IFF_NOARP != 0
	if !mi.hadNoARP {
		if err := setIfFlags(name, flags|unix.IFF_NOARP); err != nil {
			return nil, err
		}
	}
	knob := "/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6"
	if b, err := os.ReadFile(knob); err == nil {
		mi.disableIPv6 = strings.TrimSpace(string(b))
		os.WriteFile(knob, []byte("1"), 0o644)
	}
	return mi, nil
}

// restore undoes prepareMemberIface; an interface that is gone is fine.
func (mi *memberIface) restore() {
	if !mi.hadNoARP {
		if flags, err := ifFlags(mi.name); err == nil {
			setIfFlags(mi.name, flags&^unix.IFF_NOARP)
		}
	}
	if mi.disableIPv6 != "" {
		os.WriteFile("/proc/sys/net/ipv6/conf/"+mi.name+"/disable_ipv6", []byte(mi.disableIPv6), 0o644)
	}
}

func ifFlags(name string) (uint16, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, fmt.Errorf("interface %q: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return 0, fmt.Errorf("interface %q: %w", name, err)
	}
	return ifr.Uint16(), nil
}

func setIfFlags(name string, flags uint16) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("interface %q: %w", name, err)
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("interface %q: set flags: %w", name, err)
	}
	return nil
}

// kernelIfacePoll is how often control checks that the teams' kernel
// interfaces still exist.
const kernelIfacePoll = time.Second

// kernelIfaceTick recreates a team or VLAN interface an administrator
// deleted (ip link del). The kernel drops the interface and its
// addresses; teamgw brings it back with the team MAC, the MTU and the
// configured addresses behind the same TAP queues, so the workers carry
// on. Until then, frames for the kernel count as kernel_write drops.
func (d *Daemon) kernelIfaceTick() {
	now := d.now()
	if now.Sub(d.lastIfaceCheck) < kernelIfacePoll {
		return
	}
	d.lastIfaceCheck = now
	for _, t := range d.teams {
		d.restoreKernelIface(t, t.tap, t.cfg.Addresses)
		for i, v := range t.vlans {
			if i < len(t.cfg.VLANs) {
				d.restoreKernelIface(t, v.Kernel, t.cfg.VLANs[i].Addresses)
			}
		}
	}
}

func (d *Daemon) restoreKernelIface(t *team, dev *tap.Device, addrs []string) {
	if dev == nil || dev.Exists() && !d.ifaceRetry[dev] {
		return
	}
	var err error
	if !dev.Exists() {
		err = dev.Recreate()
	}
	if err == nil {
		err = dev.Configure(t.mac[:], t.cfg.MTU)
	}
	for _, a := range addrs {
		if err != nil {
			break
		}
		var pfx netip.Prefix
		if pfx, err = netip.ParsePrefix(a); err == nil {
			if err = addAddress(dev.Index, pfx); errors.Is(err, unix.EEXIST) {
				err = nil // added by the try before
			}
		}
	}
	if err != nil {
		// Tried again every kernelIfacePoll until it works.
		if !d.ifaceRetry[dev] {
			d.log.Error("team interface deleted by an administrator: not recreated yet", "team", t.cfg.Name, "interface", dev.Name, "err", err)
		}
		d.ifaceRetry[dev] = true
		return
	}
	delete(d.ifaceRetry, dev)
	d.event(EventKernelIfRestored, "team interface deleted by an administrator: recreated", "team", t.cfg.Name, "interface", dev.Name)
}
