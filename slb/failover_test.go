package slb

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func up(since time.Duration) MemberView { return MemberView{Up: true, UpSince: t0.Add(since)} }
func down() MemberView                  { return MemberView{} }
func standby(m MemberView) MemberView   { m.Role = RoleStandby; return m }

func TestSelectActive(t *testing.T) {
	policy := Policy{Primary: 0, FallbackDelay: 1500 * time.Millisecond, AutoFallback: true}
	noFallback := policy
	noFallback.AutoFallback = false
	now := t0.Add(10 * time.Second)
	tests := []struct {
		name        string
		members     []MemberView
		current     int
		policy      Policy
		wantActive  int
		wantRecheck time.Time
	}{
		{"start: primary takes traffic", []MemberView{up(0), standby(up(0))}, -1, policy, 0, time.Time{}},
		{"primary up stays", []MemberView{up(0), standby(up(0))}, 0, policy, 0, time.Time{}},
		{"primary down: standby takes over at once", []MemberView{down(), standby(up(0))}, 0, policy, 1, time.Time{}},
		{"primary down: normal member before standby", []MemberView{down(), standby(up(0)), up(0)}, 0, policy, 2, time.Time{}},
		{"all down: none", []MemberView{down(), standby(down())}, 0, policy, -1, time.Time{}},
		{"primary back within hold-down: stay, recheck when due", []MemberView{up(9 * time.Second), standby(up(0))}, 1, policy, 1, t0.Add(10500 * time.Millisecond)},
		{"primary back past hold-down: fall back", []MemberView{up(8 * time.Second), standby(up(0))}, 1, policy, 0, time.Time{}},
		{"auto-fallback disabled: stay on standby", []MemberView{up(0), standby(up(0))}, 1, noFallback, 1, time.Time{}},
		{"auto-fallback disabled: still fails over", []MemberView{up(0), standby(down())}, 1, noFallback, 0, time.Time{}},
		{"zero hold-down falls back at once", []MemberView{up(10 * time.Second), standby(up(0))}, 1, Policy{FallbackDelay: 0, AutoFallback: true}, 0, time.Time{}},
		{"standby to stable normal member while primary is in hold-down", []MemberView{up(9 * time.Second), up(0), standby(up(0))}, 2, policy, 1, t0.Add(10500 * time.Millisecond)},
		{"non-primary normal member is not left for a standby", []MemberView{down(), up(0), standby(up(0))}, 1, policy, 1, time.Time{}},
		{"configured primary other than first", []MemberView{up(0), up(0)}, -1, Policy{Primary: 1, AutoFallback: true}, 1, time.Time{}},
		{"current out of range", []MemberView{up(0), up(0)}, 7, policy, 0, time.Time{}},
		{"takeover prefers a member past its hold-down", []MemberView{down(), up(9500 * time.Millisecond), up(0)}, 0, policy, 2, t0.Add(11 * time.Second)},
		{"takeover by a member in hold-down when no other is up", []MemberView{down(), up(9500 * time.Millisecond)}, 0, policy, 1, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := SelectActive(tt.members, tt.current, tt.policy, now)
			if d.Active != tt.wantActive || !d.Recheck.Equal(tt.wantRecheck) {
				t.Errorf("SelectActive = {%d %v}, want {%d %v}", d.Active, d.Recheck, tt.wantActive, tt.wantRecheck)
			}
		})
	}
}
