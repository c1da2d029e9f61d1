package dataplane

import (
	"github.com/teamgw/teamgw/dataplane/frame"
)

// MaxTeams and MaxMembers are the limits of one teamgw instance, as in
// Broadcom BASP (seed 004, "Teaming and Other Advanced Networking
// Features": 8 ports per team, 4 teams).
const (
	MaxTeams   = 4
	MaxMembers = 8
	// MaxOwnIPs bounds the IPv4 addresses of a team (and its VLANs) the
	// data plane guards against ARP spoofing.
	MaxOwnIPs = 32
)

// Snapshot is the immutable forwarding state the control plane publishes
// through an atomic pointer; a worker loads it once per vector. Control
// never modifies a published Snapshot: it builds a new one.
type Snapshot struct {
	Teams [MaxTeams]TeamState
}

// NBuckets is the size of the outbound flow table: frames hash into a
// bucket, and the bucket names the member they leave on (BASP "Outbound
// Traffic Flow", seed 004). An indirection table rather than hash modulo
// members, so a member change moves only that member's buckets.
const NBuckets = 256

// bucketOf maps a flow hash to its bucket: classify.Bucket for 256
// buckets, the hash's top byte.
func bucketOf(hash uint32) uint8 { return uint8(hash >> 24) }

// Mode is how a team uses its members.
type Mode uint8

// Modes.
const (
	// ModeSLB is Smart Load Balancing: members transmit with their own
	// MACs (the path member with the team MAC), and only the path member
	// passes broadcast and multicast to the kernel (BASP loop filter).
	ModeSLB Mode = iota
	// ModeTrunk is generic static trunking: every member transmits with
	// the team MAC and every active member receives for it.
	ModeTrunk
)

// TeamState is one team's forwarding state.
type TeamState struct {
	// MAC is the team MAC: the source of frames from the kernel and the
	// unicast destination accepted from the wire.
	MAC frame.MAC
	// Mode is the team type.
	Mode Mode
	// Path is the member that carries what is not balanced (non-IP, ARP,
	// malformed frames) and, in SLB, the only member whose broadcast and
	// multicast frames reach the kernel; -1 when no member is usable.
	Path int8
	// RxMask has bit i set when member i's frames may reach the kernel.
	RxMask uint8
	// Members is the number of members.
	Members int8
	// SourceMAC is the source MAC each member transmits with (SLB); zero
	// means leave the frame's source alone (the team MAC).
	SourceMAC [MaxMembers]frame.MAC
	// Rewrite has bit i set when SourceMAC[i] is set: the per-packet test.
	Rewrite uint8
	// WireMAC is each member's own MAC as clients may know it (SLB),
	// whether or not the member is the path member now: frames for it are
	// taken in (for the team MAC) and frames from it are our own.
	WireMAC [MaxMembers]frame.MAC
	// Clients maps an SLB client's IPv4 address to the member it is
	// assigned to (receive balancing, BASP "Inbound Traffic Flow"): ARP
	// from the kernel to that client leaves on that member with its MAC.
	// Nil when the team does not balance receive traffic.
	Clients map[[4]byte]int8
	// Clients6 is Clients for IPv6 clients: neighbor advertisements and
	// unicast solicitations from the kernel to one leave on its member
	// with its MAC (steerND). Nil when the team does not balance IPv6.
	Clients6 map[[16]byte]int8
	// RxSlots are the keys of the SLB clients whose inbound frames the
	// workers count per client (BASP's Inbound Flow Head Hash Table);
	// nil when the team does not balance receive traffic.
	RxSlots *RxSlots
	// Probes hands echo-node probe replies (ARP replies to a member or
	// team MAC with target address 0.0.0.0, seed 003) to the control plane.
	Probes bool
	// SlowToControl hands IEEE 802.3 slow-protocols frames (LACPDUs,
	// markers) from every member, whatever its state, to the control
	// plane (LACP teams); otherwise they are dropped.
	SlowToControl bool
	// PartnerMAC is, per member slot, the source MAC of the LACP
	// partner's port as control last heard it: its slow-protocols frames
	// always reach control, while those from any other source share a
	// small budget (SlowBudget), so a flood cannot crowd the partner's
	// LACPDUs out of the control ring.
	PartnerMAC [MaxMembers]frame.MAC
	// OwnIPs are the team's IPv4 addresses (its own and its VLANs'), the
	// first NumOwnIPs of them: an ARP from the wire that claims one is
	// dropped as DropSpoofedARP.
	OwnIPs    [MaxOwnIPs][4]byte
	NumOwnIPs uint8
	// Table maps a flow bucket to the member that transmits it; -1 when
	// no member is active.
	Table [NBuckets]int8
}

// SetSourceMAC makes member i transmit with mac (SLB).
func (ts *TeamState) SetSourceMAC(i int, mac frame.MAC) {
	ts.SourceMAC[i] = mac
	if mac != (frame.MAC{}) {
		ts.Rewrite |= 1 << i
	} else {
		ts.Rewrite &^= 1 << i
	}
}

// SingleMember returns a state in which member m (or none, -1) carries
// everything: failover mode, and a convenient start for tests.
func SingleMember(mac frame.MAC, members int, m int) TeamState {
	ts := TeamState{MAC: mac, Path: int8(m), Members: int8(members)}
	if m >= 0 {
		ts.RxMask = 1 << m
	}
	for b := range ts.Table {
		ts.Table[b] = int8(m)
	}
	return ts
}
