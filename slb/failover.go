package slb

import (
	"time"
)

// Role is a member's configured role.
type Role uint8

// Roles (BASP "SLB with standby": a standby member carries traffic only
// when no other member can).
const (
	RoleNormal Role = iota
	RolePrimary
	RoleStandby
)

// MemberView is what the failover policy knows of one member.
type MemberView struct {
	Role Role
	// Up is the member's usable link state (ethdev link and, for kernel
	// backed members, the kernel carrier).
	Up bool
	// UpSince is when the member last came up.
	UpSince time.Time
}

// Policy is the failover configuration of a team.
type Policy struct {
	// Primary is the index of the preferred member.
	Primary int
	// FallbackDelay is how long a recovered member must stay up before
	// traffic returns to it (BASP: about 1.5 s, to ride out spanning-tree
	// blocking on the switch port).
	FallbackDelay time.Duration
	// AutoFallback false keeps traffic on whichever member took over
	// (BASP "SLB (Auto-Fallback Disable)").
	AutoFallback bool
}

// Decision is the outcome of SelectActive.
type Decision struct {
	// Active is the member to carry traffic, or -1 when none is up.
	Active int
	// Recheck, if not zero, is when a pending fallback becomes due: call
	// SelectActive again then.
	Recheck time.Time
}

// SelectActive chooses the member that carries the team's traffic.
//
// A member that is up keeps the traffic (no needless moves), except that
// traffic falls back — when AutoFallback is on and the preferred member
// has been up for FallbackDelay — to the primary, or from a standby to any
// non-standby member. When the current member is down or there is none,
// the best member that is up takes over at once — preferring members past
// their hold-down: the primary, then the other non-standby members in
// configuration order, then standbys.
func SelectActive(members []MemberView, current int, p Policy, now time.Time) Decision {
	best := preferred(members, p.Primary, func(m MemberView) bool { return m.Up })
	stableAt := func(m MemberView) bool { return m.Up && !now.Before(m.UpSince.Add(p.FallbackDelay)) }
	if current < 0 || current >= len(members) || !members[current].Up {
		// Take over on the best member past its hold-down (a port that
		// has just come back may still be blocked by spanning tree);
		// only when there is none, on the best member that is up.
		if stable := preferred(members, p.Primary, stableAt); stable >= 0 {
			d := Decision{Active: stable}
			if stable != best {
				d.Recheck = members[best].UpSince.Add(p.FallbackDelay)
			}
			if !p.AutoFallback {
				d.Recheck = time.Time{}
			}
			return d
		}
		return Decision{Active: best}
	}
	if !p.AutoFallback || best == current || rank(members, p.Primary, best) >= rank(members, p.Primary, current) {
		return Decision{Active: current}
	}
	// A better member is up: return to it once it has been stable for
	// the hold-down; the best stable member may be a lesser one.
	stable := preferred(members, p.Primary, stableAt)
	d := Decision{Active: current}
	if stable >= 0 && rank(members, p.Primary, stable) < rank(members, p.Primary, current) {
		d.Active = stable
	}
	if d.Active != best {
		d.Recheck = members[best].UpSince.Add(p.FallbackDelay)
	}
	return d
}

// rank orders members by preference: 0 for the primary, 1 for other
// normal members, 2 for standbys.
func rank(members []MemberView, primary, i int) int {
	switch {
	case i == primary:
		return 0
	case members[i].Role == RoleStandby:
		return 2
	default:
		return 1
	}
}

// preferred is the most preferred member for which ok holds, or -1.
func preferred(members []MemberView, primary int, ok func(MemberView) bool) int {
	best, bestRank := -1, 3
	for i, m := range members {
		if !ok(m) {
			continue
		}
		if r := rank(members, primary, i); r < bestRank {
			best, bestRank = i, r
		}
	}
	return best
}
