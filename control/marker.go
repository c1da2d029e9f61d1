package control

import (
	"errors"
	"time"

	"github.com/teamgw/teamgw/lacp"
)

// Planned removal from distribution in lacp teams (802.1AX-2008 clause
// 5.5, 802.1AX-2014 clause 6.5, the Marker Generator). When a member
// leaves distribution on purpose — the operator disables it, or a reload
// takes it out — while its link is fine, teamgw first sends a Marker PDU
// on it and leaves the member's buckets where they are until the
// partner's Marker Response comes back or MarkerTimeout passes; only then
// does the member stop distributing and its buckets move. The response
// says that every frame sent on the member before the marker has reached
// the partner, so the conversations that move do not overtake their own
// frames still queued on the old link. A member that loses its link
// meanwhile leaves at once. The control loop does not wait: other teams,
// links and requests are served while the marker is out.

// MarkerTimeout is how long a member leaving distribution on purpose
// waits for the partner's Marker Response: far above a LAN round trip and
// the control loop's 10 ms default poll, short enough for an operator not
// to notice. Partners without a Marker Responder (Open vSwitch 3.1 counts
// markers but never answers them) cost exactly this delay.
const MarkerTimeout = 150 * time.Millisecond

// errDisableCancelled answers a disable request whose member was enabled
// again while its marker was out.
var errDisableCancelled = errors.New("member enabled again before its marker exchange ended; it stays enabled")

// leaving is a member of an lacp team leaving distribution on purpose,
// whose marker is out.
type leaving struct {
	// disable: the operator disabled the member, which takes effect when
	// the exchange ends (until then the member is as it was).
	disable bool
	// held: a reload took the member out of distribution; evaluate keeps
	// it in until the exchange ends.
	held bool
	// remove: the member leaves the team (teamctl member remove, a
	// reload); it stops carrying traffic when the exchange ends and is
	// then detached by whoever waits in replies.
	remove bool
	// replies answer the operator requests waiting for the exchange.
	replies []func(error)
}

// startLeave sends a Marker PDU on member i of t and records that it is
// leaving; a member already leaving keeps its marker.
func (d *Daemon) startLeave(t *team, i int) *leaving {
	lt := t.lacp
	if lv := lt.leaving[i]; lv != nil {
		return lv
	}
	m := t.members[i]
	mk := lt.gens[i].Send(d.now(), d.markerTimeout)
	d.injectFrame(m.port, lacp.AppendMarker(nil, m.mac, &mk))
	lv := &leaving{}
	lt.leaving[i] = lv
	return lv
}

// takeLeave ends member i's wait without acting on it and returns what was
// waiting (nil if nothing was).
func (t *team) takeLeave(i int) *leaving {
	if t.lacp == nil {
		return nil
	}
	lv := t.lacp.leaving[i]
	t.lacp.leaving[i] = nil
	t.lacp.gens[i].Cancel()
	return lv
}

// endLeave ends member i's marker wait: a pending disable takes effect
// unless err says why not, the team is re-evaluated (the member's buckets
// move) and the waiting requests are answered with err.
func (d *Daemon) endLeave(t *team, i int, err error) {
	lv := t.takeLeave(i)
	if lv == nil {
		return
	}
	if lv.disable && err == nil {
		d.setEnabled(t, t.members[i], false)
	}
	if lv.remove {
		t.members[i].removing = true
		d.refresh(t, t.members[i])
	}
	if d.evaluate(t) {
		d.publish()
	}
	for _, reply := range lv.replies {
		reply(err)
	}
}

// dropLeave ends member i's wait because the member lost its link: it
// leaves distribution anyway, and a pending disable is recorded without a
// re-evaluation (the caller, refresh, is in the middle of one).
func (d *Daemon) dropLeave(t *team, i int) {
	lv := t.takeLeave(i)
	if lv == nil {
		return
	}
	if lv.disable {
		d.noteEnabled(t, t.members[i], false)
	}
	if lv.remove {
		t.members[i].removing = true
	}
	for _, reply := range lv.replies {
		reply(nil)
	}
}

// holdLeaving starts a marker exchange for every member that a planned
// change (a reload) takes out of distribution while it is up, and keeps
// those members in distribution, their buckets and receive state
// unchanged, until their exchange ends (or they go down). A member the
// partner takes out is not held.
func (d *Daemon) holdLeaving(t *team, rx, active []bool, planned bool) {
	for i, m := range t.members {
		if planned && t.active[i] && !active[i] && m.up {
			d.startLeave(t, i).held = true
		}
		lv := t.lacp.leaving[i]
		if lv == nil || !lv.held || !m.up || !t.active[i] {
			continue
		}
		active[i] = true
		if t.rx != nil {
			rx[i] = t.rx[i]
		}
	}
}

// markerResponse takes a Marker Response received on member i: if it
// answers the member's marker, the member's planned departure goes ahead.
func (d *Daemon) markerResponse(t *team, i int, r *lacp.MarkerPDU, now time.Time) {
	g := t.lacp.gens[i]
	if !g.Receive(r, now) {
		return
	}
	d.event(EventMarker, "marker answered", "team", t.cfg.Name, "member", t.members[i].cfg.Name(), "rtt", g.LastRTT().String())
	d.endLeave(t, i, nil)
}

// markerTimeouts gives up the markers whose deadline has passed: those
// members' departures go ahead without a response.
func (d *Daemon) markerTimeouts(now time.Time) {
	for _, t := range d.teams {
		if t.lacp == nil {
			continue
		}
		for i, g := range t.lacp.gens {
			if g.Expire(now) {
				d.event(EventMarker, "marker unanswered", "team", t.cfg.Name, "member", t.members[i].cfg.Name(), "timeout", d.markerTimeout.String())
				d.endLeave(t, i, nil)
			}
		}
	}
}

// markerDeadline is the earliest deadline of an outstanding marker.
func (d *Daemon) markerDeadline() time.Time {
	var next time.Time
	for _, t := range d.teams {
		if t.lacp == nil {
			continue
		}
		for _, g := range t.lacp.gens {
			next = earliest(next, g.Deadline())
		}
	}
	return next
}

// abandonLeaves answers every request still waiting for a marker when the
// control loop stops.
func (d *Daemon) abandonLeaves() {
	for _, t := range d.teams {
		for i := range t.members {
			if lv := t.takeLeave(i); lv != nil {
				for _, reply := range lv.replies {
					reply(ErrStopped)
				}
			}
		}
	}
}
