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
)

// Snapshot is the immutable forwarding state the control plane publishes
// through an atomic pointer; a worker loads it once per vector. Control
// never modifies a published Snapshot: it builds a new one.
type Snapshot struct {
	Teams [MaxTeams]TeamState
}

// TeamState is one team's forwarding state.
type TeamState struct {
	// MAC is the team MAC: the source of frames from the kernel and the
	// unicast destination accepted from the wire.
	MAC frame.MAC
	// Active is the index of the member that carries the team's traffic
	// (SLB failover: the primary, or the member that took over), or -1
	// when no member can carry traffic.
	Active int8
}
