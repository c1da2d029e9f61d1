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
	reply := make(chan error, 1)
	select {
	case d.requests <- func() { reply <- f() }:
	case <-d.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetMemberEnabled takes a member out of its team or puts it back (BASP
// "enabled/disabled via management interface", events 14 and 15). A
// disabled member carries nothing; its buckets and, if it was the path
// member, the team MAC move to the others at once.
func (d *Daemon) SetMemberEnabled(ctx context.Context, team, member string, enabled bool) error {
	return d.do(ctx, func() error {
		t, i, err := d.findMember(team, member)
		if err != nil {
			return err
		}
		m := t.members[i]
		if m.disabled == !enabled {
			return nil
		}
		m.disabled = !enabled
		if enabled {
			d.event(EventMemberEnabled, "member enabled via management", "team", team, "member", m.cfg.Name())
		} else {
			d.event(EventMemberDisabled, "member disabled via management", "team", team, "member", m.cfg.Name())
		}
		if d.refresh(t, m) && d.evaluate(t) {
			d.publish()
		}
		return nil
	})
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
