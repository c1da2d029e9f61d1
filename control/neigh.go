package control

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/frame"
)

// neighbor is one IPv4 neighbour the kernel knows on the team's interface:
// a same-subnet client of the team (BASP's inbound client table starts
// from the clients the server talks to).
type neighbor struct {
	IP  netip.Addr
	MAC frame.MAC
}

// neighbors dumps the kernel's IPv4 neighbour table for interface ifindex
// (RTM_GETNEIGH) and returns the entries with a link-layer address that
// are usable (reachable, stale, delay, probe or permanent).
func neighbors(ifindex int) ([]neighbor, error) {
	var out []neighbor
	err := dump(unix.RTM_GETNEIGH, 12, unix.RTM_NEWNEIGH, func(b []byte) {
		if nb, ok := parseNeighbor(b, ifindex); ok {
			out = append(out, nb)
		}
	})
	return out, err
}

// gateways are the IPv4 next hops of the kernel's routes through interface
// ifindex: routers, whose many flows must stay on the primary member (BASP
// "Routers and receive balancing": a router hides many clients behind one
// MAC, so steering it would move all of them at once).
func gateways(ifindex int) (map[netip.Addr]bool, error) {
	out := map[netip.Addr]bool{}
	err := dump(unix.RTM_GETROUTE, 12, unix.RTM_NEWROUTE, func(b []byte) {
		if gw, ok := parseRouteGateway(b, ifindex); ok {
			out[gw] = true
		}
	})
	return out, err
}

// dump sends an rtnetlink dump request for IPv4 (header of hdrLen bytes
// after the nlmsghdr) and calls each with the body of every msgType reply.
func dump(req uint16, hdrLen int, msgType uint16, each func([]byte)) error {
	fd, err := openRoute()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	msg := make([]byte, 16+hdrLen)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], req)
	ne.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(msg[8:], 1)
	msg[16] = unix.AF_INET
	return exchange(fd, msg, func(m syscall.NetlinkMessage) (bool, error) {
		switch m.Header.Type {
		case unix.NLMSG_DONE:
			return true, nil
		case unix.NLMSG_ERROR:
			return true, fmt.Errorf("netlink: dump failed")
		case msgType:
			each(m.Data)
		}
		return false, nil
	})
}

// parseRouteGateway reads one rtmsg: its gateway if it leaves through
// ifindex.
func parseRouteGateway(b []byte, ifindex int) (netip.Addr, bool) {
	const rtmsgLen = 12
	if len(b) < rtmsgLen || b[0] != unix.AF_INET {
		return netip.Addr{}, false
	}
	ne := binary.NativeEndian
	var gw netip.Addr
	oif := -1
	for a := b[rtmsgLen:]; len(a) >= 4; {
		l := int(ne.Uint16(a[0:2]))
		if l < 4 || l > len(a) {
			break
		}
		switch ne.Uint16(a[2:4]) {
		case unix.RTA_GATEWAY:
			if l == 8 {
				gw = netip.AddrFrom4([4]byte(a[4:8]))
			}
		case unix.RTA_OIF:
			if l == 8 {
				oif = int(int32(ne.Uint32(a[4:8])))
			}
		}
		step := (l + 3) &^ 3
		if step > len(a) {
			break
		}
		a = a[step:]
	}
	return gw, gw.IsValid() && oif == ifindex
}

// parseNeighbor reads one ndmsg with its attributes; it never trusts a
// length it has not checked.
func parseNeighbor(b []byte, ifindex int) (neighbor, bool) {
	const ndmsgLen = 12
	if len(b) < ndmsgLen || b[0] != unix.AF_INET {
		return neighbor{}, false
	}
	ne := binary.NativeEndian
	if int(int32(ne.Uint32(b[4:8]))) != ifindex {
		return neighbor{}, false
	}
	state := ne.Uint16(b[8:10])
	const usable = unix.NUD_REACHABLE | unix.NUD_STALE | unix.NUD_DELAY | unix.NUD_PROBE | unix.NUD_PERMANENT
	if state&usable == 0 {
		return neighbor{}, false
	}
	var nb neighbor
	haveIP, haveMAC := false, false
	for a := b[ndmsgLen:]; len(a) >= 4; {
		l := int(ne.Uint16(a[0:2]))
		if l < 4 || l > len(a) {
			break
		}
		switch ne.Uint16(a[2:4]) {
		case unix.NDA_DST:
			if l == 8 {
				nb.IP = netip.AddrFrom4([4]byte(a[4:8]))
				haveIP = true
			}
		case unix.NDA_LLADDR:
			if l == 10 {
				nb.MAC = frame.MAC(a[4:10])
				haveMAC = true
			}
		}
		step := (l + 3) &^ 3
		if step > len(a) {
			break
		}
		a = a[step:]
	}
	return nb, haveIP && haveMAC && nb.MAC != (frame.MAC{}) && !nb.MAC.IsMulticast()
}
