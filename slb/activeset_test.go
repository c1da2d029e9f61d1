package slb

import (
	"slices"
	"testing"
	"time"
)

func TestActiveSet(t *testing.T) {
	p := Policy{Primary: 0, FallbackDelay: time.Second, AutoFallback: true}
	noFallback := p
	noFallback.AutoFallback = false
	now := t0.Add(10 * time.Second)
	tests := []struct {
		name        string
		members     []MemberView
		prev        []bool
		path        int
		policy      Policy
		want        []bool
		wantRecheck time.Time
	}{
		{"all normal members up share the flows", []MemberView{up(0), up(0), up(0)}, nil, 0, p, []bool{true, true, true}, time.Time{}},
		{"standby carries nothing while a normal member is up", []MemberView{up(0), standby(up(0))}, nil, 0, p, []bool{true, false}, time.Time{}},
		{"down member carries nothing", []MemberView{up(0), down()}, []bool{true, true}, 0, p, []bool{true, false}, time.Time{}},
		{"returning member waits for the hold-down", []MemberView{up(0), up(9500 * time.Millisecond)}, []bool{true, false}, 0, p, []bool{true, false}, t0.Add(10500 * time.Millisecond)},
		{"returning member joins after the hold-down", []MemberView{up(0), up(8 * time.Second)}, []bool{true, false}, 0, p, []bool{true, true}, time.Time{}},
		{"member already active stays", []MemberView{up(0), up(9500 * time.Millisecond)}, []bool{true, true}, 0, p, []bool{true, true}, time.Time{}},
		{"only the standby is up: it carries everything", []MemberView{down(), standby(up(0))}, nil, 1, p, []bool{false, true}, time.Time{}},
		{"first member up after total outage joins at once via path", []MemberView{up(9900 * time.Millisecond), down()}, nil, 0, p, []bool{true, false}, t0.Add(10900 * time.Millisecond)},
		{"auto-fallback off: standby keeps the traffic", []MemberView{up(0), standby(up(0))}, []bool{false, true}, 1, noFallback, []bool{false, true}, time.Time{}},
		{"nothing up", []MemberView{down(), standby(down())}, nil, -1, p, []bool{false, false}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, recheck := ActiveSet(tt.members, tt.prev, tt.path, tt.policy, now)
			if !slices.Equal(got, tt.want) || !recheck.Equal(tt.wantRecheck) {
				t.Errorf("ActiveSet = %v %v, want %v %v", got, recheck, tt.want, tt.wantRecheck)
			}
		})
	}
}
