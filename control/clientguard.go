package control

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/slb"
)

// Frame contents must not steer traffic. The data plane drops ARPs from
// the wire that claim one of the team's addresses or MACs (spoofed_arp),
// and only vetted neighbours become SLB clients: a unicast host on the
// team interface's subnets (IPv6: or link-local) that is neither the
// team's own address nor behind one of its MACs (slb.Vetter). Whatever a frame made the
// kernel believe, the team never re-points such a host with directed ARPs
// nor steers its traffic to a member.

// teamAddrs are the addresses a team owns and the subnets its clients
// live on.
type teamAddrs struct {
	// own are the addresses of the team's interface and its VLANs'.
	own []netip.Addr
	// subnets are the prefixes of the team's own interface, where the
	// clients in its neighbour table are.
	subnets []netip.Prefix
}

// clientGuard is a team's address book for vetting, the neighbours it
// refused at the last poll and its refusal counts.
type clientGuard struct {
	loaded  bool
	addrs   teamAddrs
	refused map[netip.Addr]refusedNeighbor
	counts  [slb.NumRefusals]uint64
}

// refusedNeighbor is one neighbour left out of the client table.
type refusedNeighbor struct {
	mac frame.MAC
	why slb.Refusal
}

// readAddrs reads the team's addresses from its config and from kernel,
// the kernel's IPv4 addresses by interface (an administrator may add
// addresses of their own).
func (t *team) readAddrs(kernel map[string][]netip.Prefix) teamAddrs {
	var ta teamAddrs
	add := func(p netip.Prefix, subnet bool) {
		if !p.IsValid() {
			return
		}
		if !slices.Contains(ta.own, p.Addr()) {
			ta.own = append(ta.own, p.Addr())
		}
		if subnet && !slices.Contains(ta.subnets, p) {
			ta.subnets = append(ta.subnets, p)
		}
	}
	for _, a := range t.cfg.Addresses {
		p, _ := netip.ParsePrefix(a)
		add(p, true)
	}
	for _, p := range kernel[t.cfg.Name] {
		add(p, true)
	}
	for _, v := range t.cfg.VLANs {
		for _, a := range v.Addresses {
			p, _ := netip.ParsePrefix(a)
			add(p, false)
		}
		for _, p := range kernel[v.Name] {
			add(p, false)
		}
	}
	return ta
}

// ownAddrs are the team's addresses, read on first use.
func (t *team) ownAddrs() []netip.Addr {
	if !t.guard.loaded {
		t.refreshAddrs(kernelAddrs())
	}
	return t.guard.addrs.own
}

// refreshAddrs re-reads the team's addresses and reports whether its own
// addresses changed (the data plane's guard then needs a new snapshot).
func (t *team) refreshAddrs(kernel map[string][]netip.Prefix) bool {
	ta := t.readAddrs(kernel)
	changed := !slices.Equal(ta.own, t.guard.addrs.own)
	t.guard.addrs, t.guard.loaded = ta, true
	return changed
}

// vetter builds the team's client vetter.
func (t *team) vetter() *slb.Vetter {
	v := &slb.Vetter{Subnets: t.guard.addrs.subnets, Own: t.guard.addrs.own, OwnMACs: [][6]byte{t.mac}}
	for _, m := range t.members {
		v.OwnMACs = append(v.OwnMACs, m.mac, wireMAC(m))
	}
	return v
}

// vetNeighbors returns the neighbours that may be clients. A refused one
// is counted and logged once per appearance: again only after it has left
// the kernel's table (or changed) and come back.
func (d *Daemon) vetNeighbors(t *team, ns []neighbor) []neighbor {
	v := t.vetter()
	refused := map[netip.Addr]refusedNeighbor{}
	keep := ns[:0]
	for _, n := range ns {
		why := v.Vet(n.IP, n.MAC)
		if why == slb.Accepted {
			keep = append(keep, n)
			continue
		}
		r := refusedNeighbor{mac: n.MAC, why: why}
		refused[n.IP] = r
		if t.guard.refused[n.IP] != r {
			t.guard.counts[why]++
			d.log.Warn("neighbour not taken as an SLB client", "team", t.cfg.Name, "ip", n.IP, "mac", n.MAC, "reason", why)
		}
	}
	t.guard.refused = refused
	return keep
}

// refusals are the team's refusal counts by reason (SLB teams only).
func (t *team) refusals() map[string]uint64 {
	if !t.balancesReceive() {
		return nil
	}
	m := map[string]uint64{}
	for r := slb.Accepted + 1; r < slb.NumRefusals; r++ {
		m[r.String()] = t.guard.counts[r]
	}
	return m
}

// kernelAddrs are the kernel's IPv4 and IPv6 addresses by interface name:
// one link and one address dump, however many teams and VLANs there are
// (the control loop reads them every second and must not stall on it).
func kernelAddrs() map[string][]netip.Prefix {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	names := make(map[int]string, len(ifs))
	for _, ifi := range ifs {
		names[ifi.Index] = ifi.Name
	}
	out := map[string][]netip.Prefix{}
	dumpFamily(unix.AF_UNSPEC, unix.RTM_GETADDR, unix.SizeofIfAddrmsg, unix.RTM_NEWADDR, func(b []byte) {
		if index, p, ok := parseAddr(b); ok && names[index] != "" {
			out[names[index]] = append(out[names[index]], p)
		}
	})
	return out
}

// parseAddr reads one ifaddrmsg: the interface index and the IPv4 or
// IPv6 address with its prefix length (the local address, which differs
// from IFA_ADDRESS only on point-to-point links).
func parseAddr(b []byte) (int, netip.Prefix, bool) {
	if len(b) < unix.SizeofIfAddrmsg || b[0] != unix.AF_INET && b[0] != unix.AF_INET6 || int(b[1]) > 8*addrLen(b[0]) {
		return 0, netip.Prefix{}, false
	}
	alen := addrLen(b[0])
	ne := binary.NativeEndian
	index := int(int32(ne.Uint32(b[4:8])))
	var local, addr netip.Addr
	for a := b[unix.SizeofIfAddrmsg:]; len(a) >= 4; {
		l := int(ne.Uint16(a[0:2]))
		if l < 4 || l > len(a) {
			break
		}
		if l == 4+alen {
			switch ne.Uint16(a[2:4]) {
			case unix.IFA_LOCAL:
				local, _ = netip.AddrFromSlice(a[4:l])
			case unix.IFA_ADDRESS:
				addr, _ = netip.AddrFromSlice(a[4:l])
			}
		}
		step := (l + 3) &^ 3
		if step > len(a) {
			break
		}
		a = a[step:]
	}
	if local.IsValid() {
		addr = local
	}
	return index, netip.PrefixFrom(addr, int(b[1])), addr.IsValid() && index > 0
}
