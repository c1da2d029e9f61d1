package control

import (
	"context"
	"fmt"
	"slices"
)

// Operator actions. Each runs on the Run loop (through the requests
// channel), so it sees and changes team state like a link event does.

// findMember returns the team and member an operator named; member may
// be the device name ("net_af_packet1") or the full devargs.
func (d *Daemon) findMember(team, member string) (*team, int, error) {
	for _, t := range d.teams {
		if t.cfg.Name != team {
			continue
		}
		for i, m := range t.members {
			if m.cfg.Name() == member || m.cfg.Device == member {
				return t, i, nil
			}
		}
		return nil, -1, fmt.Errorf("team %q has no member %q", team, member)
	}
	return nil, -1, fmt.Errorf("no team %q", team)
}

// do runs f on the Run loop and waits for its result.
func (d *Daemon) do(ctx context.Context, f func() error) error {
	return d.doLater(ctx, func(reply func(error)) { reply(f()) })
}

// doLater runs f on the Run loop and waits until reply is called, by f or
// later by the loop (when what f started has finished). Only the first
// reply counts.
func (d *Daemon) doLater(ctx context.Context, f func(reply func(error))) error {
	ch := make(chan error, 1)
	reply := func(err error) {
		select {
		case ch <- err:
		default:
		}
	}
	select {
	case d.requests <- func() { f(reply) }:
	case <-d.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetMemberEnabled takes a member out of its team or puts it back (BASP
// "enabled/disabled via management interface", events 14 and 15). A
// disabled member carries nothing; its buckets and, if it was the path
// member, the team MAC move to the others. In an lacp team a member in
// distribution first sends a marker and keeps its buckets until the
// partner answers or MarkerTimeout passes (marker.go); SetMemberEnabled
// returns once the member is out, without holding up the control loop
// meanwhile. Enabling a member whose disable waits for its marker cancels
// the disable.
func (d *Daemon) SetMemberEnabled(ctx context.Context, team, member string, enabled bool) error {
	return d.doLater(ctx, func(reply func(error)) {
		t, i, err := d.findMember(team, member)
		if err != nil {
			reply(err)
			return
		}
		m := t.members[i]
		if t.lacp != nil {
			lv := t.lacp.leaving[i]
			switch {
			case enabled && lv != nil && lv.disable:
				lv.disable = false
				if !lv.remove { // a removal goes ahead
					d.endLeave(t, i, errDisableCancelled)
				}
			case !enabled && !m.disabled && m.up && t.active[i]:
				lv := d.startLeave(t, i)
				lv.disable = true
				lv.replies = append(lv.replies, reply)
				return
			}
		}
		d.setEnabled(t, m, enabled)
		reply(nil)
	})
}

// setEnabled enables or disables a member at once.
func (d *Daemon) setEnabled(t *team, m *member, enabled bool) {
	if !d.noteEnabled(t, m, enabled) {
		return
	}
	if d.refresh(t, m) && d.evaluate(t) {
		d.publish()
	}
}

// noteEnabled records that a member is enabled or disabled and logs it; it
// reports whether that changed anything.
func (d *Daemon) noteEnabled(t *team, m *member, enabled bool) bool {
	if m.disabled == !enabled {
		return false
	}
	m.disabled = !enabled
	if enabled {
		d.event(EventMemberEnabled, "member enabled via management", "team", t.cfg.Name, "member", m.cfg.Name())
	} else {
		d.event(EventMemberDisabled, "member disabled via management", "team", t.cfg.Name, "member", m.cfg.Name())
	}
	return true
}

// SetPrimary makes member the team's primary: the member the path returns
// to (after the fallback hold-down, unless auto-fallback is off).
func (d *Daemon) SetPrimary(ctx context.Context, team, member string) error {
	return d.do(ctx, func() error {
		t, i, err := d.findMember(team, member)
		if err != nil {
			return err
		}
		if t.policy.Primary == i {
			return nil
		}
		t.policy.Primary = i
		d.event(EventPrimaryChanged, "primary member chosen via management", "team", team, "member", t.members[i].cfg.Name())
		if d.evaluate(t) {
			d.publish()
		}
		return nil
	})
}

// FlowTable is a team's outbound flow table as teamctl flows shows it.
type FlowTable struct {
	Team        string       `json:"team"`
	BucketMoves uint64       `json:"bucket_moves"`
	Buckets     []BucketInfo `json:"buckets"`
}

// BucketInfo is one bucket: its member and traffic.
type BucketInfo struct {
	Bucket  int     `json:"bucket"`
	Member  string  `json:"member"`
	Packets uint64  `json:"packets"`
	Bytes   uint64  `json:"bytes"`
	Load    float64 `json:"load"` // decayed bytes per rebalance interval
}

// Flows returns the flow table of a team.
func (d *Daemon) Flows(ctx context.Context, name string) (*FlowTable, error) {
	var ft *FlowTable
	err := d.do(ctx, func() error {
		i := slices.IndexFunc(d.teams, func(t *team) bool { return t.cfg.Name == name })
		if i < 0 {
			return fmt.Errorf("no team %q", name)
		}
		t := d.teams[i]
		packets, bytes := d.bucketLoad(t)
		load := t.rebal.Load()
		ft = &FlowTable{Team: name, BucketMoves: t.bucketMoves}
		for b, mi := range t.table {
			bi := BucketInfo{Bucket: b, Member: "none", Packets: packets[b], Bytes: bytes[b]}
			if int(mi) < len(t.members) && t.active[mi] {
				bi.Member = t.members[mi].cfg.Name()
			}
			if b < len(load) {
				bi.Load = load[b]
			}
			ft.Buckets = append(ft.Buckets, bi)
		}
		return nil
	})
	return ft, err
}
