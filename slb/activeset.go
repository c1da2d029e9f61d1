package slb

import "time"

// ActiveSet decides which members carry transmit buckets (BASP "Smart Load
// Balancing", seed 004: all load-balancing members share the outbound flows;
// a standby member is used only when none of them can).
//
// A normal or primary member that is up carries buckets if it already did
// or once it has been up for FallbackDelay (so a flapping or spanning-tree
// blocked port does not get flows back too early). When no such member
// qualifies, the team falls back to the single member path chooses (the
// SelectActive decision, which handles standbys and auto-fallback); with
// AutoFallback off, a standby that carries the traffic keeps it alone even
// after normal members return. Recheck is when a member in its hold-down
// becomes eligible.
func ActiveSet(members []MemberView, prev []bool, path int, p Policy, now time.Time) (active []bool, recheck time.Time) {
	active = make([]bool, len(members))
	if path >= 0 && path < len(members) && members[path].Role == RoleStandby && !p.AutoFallback && members[path].Up {
		active[path] = true
		return active, time.Time{}
	}
	anyActive := false
	for i, m := range members {
		if !m.Up || m.Role == RoleStandby {
			continue
		}
		was := i < len(prev) && prev[i]
		due := m.UpSince.Add(p.FallbackDelay)
		if was || !now.Before(due) {
			active[i] = true
			anyActive = true
		} else if recheck.IsZero() || due.Before(recheck) {
			recheck = due
		}
	}
	if !anyActive && path >= 0 && path < len(members) && members[path].Up {
		active[path] = true
	}
	return active, recheck
}
