package control

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/frame"
)

// neighbor is one IPv4 or IPv6 neighbour the kernel knows on the team's
// interface: a same-subnet client of the team (BASP's inbound client table
// starts from the clients the server talks to).
type neighbor struct {
	IP  netip.Addr
	MAC frame.MAC
}

// neighbors dumps the kernel's IPv4 and IPv6 neighbour tables for
// interface ifindex (RTM_GETNEIGH) and returns the entries with a
// link-layer address that are usable (reachable, stale, delay, probe or
// permanent) and are not routers.
func neighbors(ifindex int) ([]neighbor, error) {
	var out []neighbor
	err := dumpFamily(unix.AF_UNSPEC, unix.RTM_GETNEIGH, 12, unix.RTM_NEWNEIGH, func(b []byte) {
		if nb, ok := parseNeighbor(b, ifindex); ok {
			out = append(out, nb)
		}
	})
	return out, err
}

// gateways are the IPv4 and IPv6 next hops of the kernel's routes through
// interface ifindex: routers, whose many flows must stay on the primary
// member (BASP "Routers and receive balancing": a router hides many
// clients behind one MAC, so steering it would move all of them at once).
func gateways(ifindex int) (map[netip.Addr]bool, error) {
	out := map[netip.Addr]bool{}
	err := dumpFamily(unix.AF_UNSPEC, unix.RTM_GETROUTE, 12, unix.RTM_NEWROUTE, func(b []byte) {
		if gw, ok := parseRouteGateway(b, ifindex); ok {
			out[gw] = true
		}
	})
	return out, err
}

// dump sends an rtnetlink dump request for IPv4 (header of hdrLen bytes
// after the nlmsghdr) and calls each with the body of every msgType reply.
func dump(req uint16, hdrLen int, msgType uint16, each func([]byte)) error {
	return dumpFamily(unix.AF_INET, req, hdrLen, msgType, each)
}

// dumpFamily is dump for an address family (AF_UNSPEC: all).
func dumpFamily(family byte, req uint16, hdrLen int, msgType uint16, each func([]byte)) error {
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
	msg[16] = family
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

// parseRouteGateway reads one rtmsg (IPv4 or IPv6): its gateway if it
// leaves through ifindex.
func parseRouteGateway(b []byte, ifindex int) (netip.Addr, bool) {
	const rtmsgLen = 12
	if len(b) < rtmsgLen || b[0] != unix.AF_INET && b[0] != unix.AF_INET6 {
		return netip.Addr{}, false
	}
	alen := addrLen(b[0])
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
			if l == 4+alen {
				gw, _ = netip.AddrFromSlice(a[4:l])
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

// parseNeighbor reads one ndmsg (IPv4 or IPv6) with its attributes; it
// never trusts a length it has not checked. An IPv6 neighbour flagged as
// a router (NTF_ROUTER, learnt from its advertisements) is left out: it
// is not balanced.
func parseNeighbor(b []byte, ifindex int) (neighbor, bool) {
	const ndmsgLen = 12
	if len(b) < ndmsgLen || b[0] != unix.AF_INET && b[0] != unix.AF_INET6 {
		return neighbor{}, false
	}
	ne := binary.NativeEndian
	if int(int32(ne.Uint32(b[4:8]))) != ifindex || b[10]&unix.NTF_ROUTER != 0 {
		return neighbor{}, false
	}
	alen := addrLen(b[0])
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
			if l == 4+alen {
				nb.IP, haveIP = netip.AddrFromSlice(a[4:l])
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

// addrLen is the length of an address of an rtnetlink family (AF_INET or
// AF_INET6).
func addrLen(family byte) int {
	if family == unix.AF_INET6 {
		return 16
	}
	return 4
}
