package slb

import (
	"net/netip"
	"slices"
)

// Refusal says why a neighbour is not taken into the inbound client table.
type Refusal uint8

// Refusals. Receive balancing only ever re-points a same-subnet client at
// one of the team's members (BASP "Inbound Traffic Flow", seed 004), so
// anything that is not plainly such a client is left out: whatever a frame
// on the wire made the kernel believe, it cannot make the team announce its
// address to, or steer traffic through, a host that is not a client.
const (
	// Accepted: a unicast host on one of the team's subnets (IPv6: or
	// link-local).
	Accepted Refusal = iota
	// RefusedOwnAddress: the address is one of the team's own.
	RefusedOwnAddress
	// RefusedOwnMAC: the MAC is the team MAC or a member's.
	RefusedOwnMAC
	// RefusedOffSubnet: the address is on none of the team's subnets.
	RefusedOffSubnet
	// RefusedInvalid: not a unicast host (multicast, broadcast, zero,
	// the subnet's own network or broadcast address, an IPv6 subnet's
	// Subnet-Router anycast address, a multicast MAC).
	RefusedInvalid
	// NumRefusals counts the refusals (Accepted included).
	NumRefusals
)

var refusalNames = [NumRefusals]string{"accepted", "own_address", "own_mac", "off_subnet", "invalid"}

// String is the refusal's metric label.
func (r Refusal) String() string {
	if r < NumRefusals {
		return refusalNames[r]
	}
	return "unknown"
}

// Vetter decides which neighbours may become clients of a team.
type Vetter struct {
	// Subnets are the team's subnets (its interface's prefixes).
	Subnets []netip.Prefix
	// Own are the team's own addresses.
	Own []netip.Addr
	// OwnMACs are the team MAC and every member's MACs.
	OwnMACs [][6]byte
}

// Vet says whether the neighbour ip at mac may be a client: a unicast
// IPv4 host on one of the IPv4 subnets (not its network or broadcast
// address), or a unicast IPv6 host that is link-local or on one of the
// IPv6 subnets (not its Subnet-Router anycast address).
func (v *Vetter) Vet(ip netip.Addr, mac [6]byte) Refusal {
	switch {
	case !ip.IsValid() || ip.Is4In6() || !ip.IsGlobalUnicast() && !ip.IsLinkLocalUnicast() || mac == [6]byte{} || mac[0]&1 != 0:
		return RefusedInvalid
	case slices.Contains(v.Own, ip):
		return RefusedOwnAddress
	case slices.Contains(v.OwnMACs, mac):
		return RefusedOwnMAC
	case ip.Is6() && ip.IsLinkLocalUnicast():
		return Accepted // on the team's link, whatever its prefixes
	}
	in := false
	for _, p := range v.Subnets {
		if p.Addr().Is4() != ip.Is4() || !p.Contains(ip) {
			continue
		}
		switch {
		case ip.Is4() && p.Bits() <= 30 && (ip == p.Masked().Addr() || ip == lastAddr(p)):
			return RefusedInvalid
		case ip.Is6() && p.Bits() <= 126 && ip == p.Masked().Addr():
			return RefusedInvalid // RFC 4291 Subnet-Router anycast
		}
		in = true
	}
	if !in {
		return RefusedOffSubnet
	}
	return Accepted
}

// lastAddr is the highest address of an IPv4 prefix: its broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
