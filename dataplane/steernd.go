package dataplane

import (
	"encoding/binary"

	"github.com/teamgw/teamgw/dataplane/frame"
)

// IPv6 receive balancing: steerARP's counterpart for Neighbor Discovery
// (RFC 4861). An IPv6 client learns the team's MAC from the kernel's
// neighbor advertisements (answers to its solicitations) and from the
// source link-layer address of the kernel's own unicast solicitations
// (reachability probes), so those leave on the client's member announcing
// that member's MAC, as the ARP replies do (BASP "Inbound Traffic Flow",
// seed 004: the team "carefully manipulates the ARP response to direct
// each IP host to send the inbound IP packet to the desired physical
// adapter").

// ND offsets in an untagged frame: the IPv6 header, then ICMPv6.
const (
	ndIP   = frame.EthHeaderLen
	ndICMP = ndIP + 40
	ndOpts = ndICMP + 24 // NS and NA: type, code, checksum, 4 bytes, target
)

// ICMPv6 ND message types and link-layer address options.
const (
	icmpNS      = 135
	icmpNA      = 136
	optSourceLL = 1
	optTargetLL = 2
)

// steerND picks the member for an IPv6 frame the kernel sends: a neighbor
// advertisement or a unicast neighbor solicitation from the team MAC to a
// client in Clients6 leaves on the client's member, with that member's MAC
// as Ethernet source and in the link-layer address option (target for an
// advertisement, source for a solicitation), the ICMPv6 checksum updated
// to match. Everything else keeps def.
func steerND(ts *TeamState, data []byte, def int8) int8 {
	if len(data) < ndOpts || data[0]&1 != 0 || binary.BigEndian.Uint16(data[12:14]) != frame.TypeIPv6 || data[ndIP+6] != 58 {
		return def
	}
	opt := optTargetLL
	switch data[ndICMP] {
	case icmpNA:
	case icmpNS:
		opt = optSourceLL
	default:
		return def
	}
	if data[ndICMP+1] != 0 || frame.MAC(data[6:12]) != ts.MAC {
		return def
	}
	mi, ok := ts.Clients6[[16]byte(data[ndIP+24:ndIP+40])]
	if !ok || uint8(mi) >= MaxMembers {
		return def
	}
	sm := ts.SourceMAC[mi]
	if sm == (frame.MAC{}) {
		return mi // the path member: the team MAC is right
	}
	end := min(len(data), ndICMP+int(binary.BigEndian.Uint16(data[ndIP+4:ndIP+6])))
	for off := ndOpts; off+8 <= end; {
		l := int(data[off+1]) * 8
		if l == 0 || off+l > end {
			break
		}
		if int(data[off]) == opt {
			sum := binary.BigEndian.Uint16(data[ndICMP+2:])
			sum = checksumReplace(sum, data[off+2:off+8], sm[:])
			binary.BigEndian.PutUint16(data[ndICMP+2:], sum)
			copy(data[off+2:off+8], sm[:])
		}
		off += l
	}
	copy(data[6:12], sm[:])
	return mi
}

// checksumReplace updates an Internet checksum for 16-bit-aligned bytes
// old replaced by new of the same even length (RFC 1624, equation 3).
func checksumReplace(sum uint16, old, new []byte) uint16 {
	s := uint32(^sum)
	for i := 0; i+1 < len(old); i += 2 {
		s += uint32(^binary.BigEndian.Uint16(old[i:]))
		s += uint32(binary.BigEndian.Uint16(new[i:]))
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
