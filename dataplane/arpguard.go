package dataplane

import (
	"encoding/binary"
	"net/netip"

	"github.com/teamgw/teamgw/dataplane/frame"
)

// SetOwnIPs records the team's IPv4 addresses for the ARP guard; IPv6
// addresses are skipped, and addresses past MaxOwnIPs are left out.
func (ts *TeamState) SetOwnIPs(addrs []netip.Addr) {
	ts.NumOwnIPs = 0
	for _, a := range addrs {
		if !a.Is4() || int(ts.NumOwnIPs) == MaxOwnIPs {
			continue
		}
		ts.OwnIPs[ts.NumOwnIPs] = a.As4()
		ts.NumOwnIPs++
	}
}

// isOwnIP reports whether ip is one of the team's IPv4 addresses.
func (ts *TeamState) isOwnIP(ip [4]byte) bool {
	for _, own := range ts.OwnIPs[:ts.NumOwnIPs] {
		if own == ip {
			return true
		}
	}
	return false
}

// spoofedARP reports whether e, a frame from the wire, is an ARP packet
// (untagged or beneath one 802.1Q/802.1ad tag) whose sender claims the
// team: its sender protocol address is one of the team's IPv4 addresses,
// or its sender hardware address is the team MAC or a member's MAC. Only
// the team itself may say where its addresses live; our own reflected
// frames never get here (their Ethernet source is ours: DropLoop). ARP
// probes (sender 0.0.0.0) from hosts checking an address pass.
func spoofedARP(ts *TeamState, e frame.Ethernet) bool {
	if !e.Valid() {
		return false
	}
	off := frame.EthHeaderLen
	typ := e.Type()
	if (typ == frame.TypeVLAN || typ == frame.TypeQinQ) && len(e) >= off+4 {
		typ = binary.BigEndian.Uint16(e[off+2 : off+4])
		off += 4
	}
	if typ != frame.TypeARP || len(e) < off+frame.ARPLen {
		return false
	}
	a := frame.ARP(e[off:])
	if !a.Valid() {
		return false // the kernel ignores it too (wrong sizes)
	}
	sha := a.SenderMAC()
	return ts.isOwnIP([4]byte(a[14:18])) || sha == ts.MAC || ts.isMemberMAC(sha)
}
