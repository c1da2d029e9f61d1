package control

import (
	"time"

	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/lacp"
)

// lacpTeam is the IEEE 802.1AX side of an lacp team: one aggregation port
// per member and the team's aggregator. The control loop feeds it received
// LACPDUs and link changes, ticks its timers and sends what it returns;
// the data plane sees only the outcome: members in Collecting receive,
// members in Distributing carry buckets.
type lacpTeam struct {
	ports []*lacp.Port
	agg   *lacp.Aggregator
	// fallback is true for lacp_fallback = "active-backup".
	fallback bool
	// gens are the members' Marker Generators; leaving says which
	// members leave distribution on purpose and wait for their marker.
	gens    []*lacp.MarkerGenerator
	leaving []*leaving
	// markers counts Marker PDUs answered; bad counts slow-protocols
	// frames that did not parse; looped counts LACPDUs that carried our
	// own system as the actor (a loop through the switch, ignored).
	markers, bad, looped uint64
	// throttled counts Marker PDUs left unanswered because their member
	// already answered markerAnswersPerSecond in the current second.
	throttled uint64
}

// markerAnswersPerSecond bounds the Marker Responses one member sends:
// IEEE 802.3 Annex 57A allows a slow protocol at most 10 frames per
// second on a link, and LACP itself may send up to 3 LACPDUs in that time,
// so a flood of markers cannot make teamgw flood the partner (or spend
// its control loop) in return.
const markerAnswersPerSecond = 5

// startLACP creates the team's LACP ports. The actor system is the team
// MAC, which does not change when a member fails (802.1AX 5.3.2).
func (d *Daemon) startLACP(t *team) {
	lt := &lacpTeam{fallback: t.cfg.LACPFallback == "active-backup"}
	lt.agg = lacp.NewAggregator()
	t.lacp = lt
	for _, m := range t.members {
		d.addLACPPort(t, m)
	}
}

// addLACPPort gives member m of an lacp team its aggregation port and
// Marker Generator, numbered after its slot (unique within the team while
// it is a member).
func (d *Daemon) addLACPPort(t *team, m *member) {
	lt := t.lacp
	key := t.cfg.LACPKey
	if key == 0 {
		key = t.idx + 1
	}
	prio := m.cfg.LACPPortPriority
	if prio == 0 {
		prio = 32768 // 802.1AX default
	}
	p := lacp.NewPort(lacp.PortConfig{
		System:       lacp.SystemID{Priority: uint16(t.cfg.LACPSystemPriority), MAC: t.mac},
		Key:          uint16(key),
		PortPriority: uint16(prio),
		Port:         uint16(m.slot + 1),
		Active:       t.cfg.LACPActive == nil || *t.cfg.LACPActive,
		ShortTimeout: t.cfg.LACPRate == "fast",
		Aggregatable: true,
	}, d.now())
	lt.ports = append(lt.ports, p)
	lt.agg.AddPort(p)
	lt.gens = append(lt.gens, lacp.NewMarkerGenerator(uint16(m.slot+1), t.mac))
	lt.leaving = append(lt.leaving, nil)
}

// slowFrame handles one slow-protocols frame received on port: LACPDUs go
// to the member's LACP port, Marker PDUs are answered (the Marker
// Responder, 802.1AX 5.5) and Marker Responses go to the member's Marker
// Generator.
func (d *Daemon) slowFrame(port uint16, f []byte, now time.Time) {
	t, mi := d.memberByPort(port)
	if t == nil || t.lacp == nil {
		return
	}
	sub, body, err := lacp.Parse(f)
	if err != nil {
		t.lacp.bad++
		return
	}
	switch sub {
	case lacp.SubtypeLACP:
		var pdu lacp.LACPDU
		if lacp.ParseLACPDU(body, &pdu) != nil {
			t.lacp.bad++
			return
		}
		if pdu.Actor.System == t.lacp.ports[mi].Actor().System {
			t.lacp.looped++
			return
		}
		p := t.lacp.ports[mi]
		p.Receive(&pdu, now)
		// The data plane lets this port's frames through ahead of any
		// flood (dataplane.TeamState.PartnerMAC) once they come from
		// the partner the port has recorded.
		if m := t.members[mi]; p.Partner().System == pdu.Actor.System && m.partnerMAC != frame.MAC(f[6:12]) {
			m.partnerMAC = frame.MAC(f[6:12])
			d.partnersMoved = true
		}
	case lacp.SubtypeMarker:
		var mk lacp.MarkerPDU
		if lacp.ParseMarker(body, &mk) != nil {
			t.lacp.bad++
			return
		}
		if r, ok := lacp.MarkerResponse(&mk); ok {
			m := t.members[mi]
			if now.Sub(m.markerWindow) >= time.Second {
				m.markerWindow, m.markerAnswers = now, 0
			}
			if m.markerAnswers >= markerAnswersPerSecond {
				t.lacp.throttled++
				return
			}
			m.markerAnswers++
			d.injectFrame(m.port, lacp.AppendMarker(nil, m.mac, &r))
			t.lacp.markers++
			return
		}
		d.markerResponse(t, mi, &mk, now)
	}
}

// lacpTick advances every LACP team's machines and runs selection, sends
// the LACPDUs they ask for, and re-evaluates the teams (publishing when
// their Collecting or Distributing set changed). Selection runs first, so
// that a LACPDU announcing a Mux change (ATTACHED: in sync) leaves in the
// same tick as the data plane learns of it, not one link_poll later: a
// partner such as Open vSwitch drops what arrives on a link before it
// has heard that the link is in sync.
func (d *Daemon) lacpTick() {
	now := d.now()
	changed := false
	for _, t := range d.teams {
		if t.lacp == nil {
			continue
		}
		t.lacp.agg.Update(now)
		for i, p := range t.lacp.ports {
			if pdu := p.Tick(now); pdu != nil {
				m := t.members[i]
				d.injectFrame(m.port, lacp.AppendLACPDU(nil, m.mac, pdu))
			}
		}
		if d.evaluate(t) {
			changed = true
		}
	}
	if d.partnersMoved {
		d.partnersMoved = false
		changed = true
	}
	if changed {
		d.publish()
	}
}

// lacpSets is what LACP allows: members in Collecting may pass frames to
// the kernel, members in Distributing carry buckets. With the
// active-backup fallback and a partner that says nothing on any member,
// the team runs as a failover team on the path member instead.
func (t *team) lacpSets(path int) (collecting, distributing []bool, fallback bool) {
	collecting = make([]bool, len(t.members))
	distributing = make([]bool, len(t.members))
	any, silent := false, true
	acked := false
	for i, p := range t.lacp.ports {
		collecting[i] = p.Collecting() && t.members[i].up
		distributing[i] = p.Distributing() && t.members[i].up
		any = any || distributing[i]
		acked = acked || distributing[i] && p.InSyncAtPartner()
		if p.ReceiveState() == lacp.ReceiveCurrent {
			silent = false
		}
	}
	// While some member carries traffic the partner knows about, a
	// member that just began distributing waits until the partner has
	// acknowledged it in sync (lacp.Port.InSyncAtPartner): until then
	// the partner may drop what it sends (Open vSwitch does, for up to
	// its next periodic LACPDU). With no such member, every distributing
	// member is used at once.
	if acked {
		for i, p := range t.lacp.ports {
			distributing[i] = distributing[i] && p.InSyncAtPartner()
		}
	}
	if !any && silent && t.lacp.fallback && path >= 0 {
		collecting[path], distributing[path] = true, true
		return collecting, distributing, true
	}
	return collecting, distributing, false
}

// leaveAggregates tells every LACP partner, as teamgw stops, that its links
// leave the aggregate: each port goes detached and sends a LACPDU that is
// no longer in sync, collecting or distributing, so the partner stops
// sending on them at once instead of after its 3 s (or 90 s) timeout. It
// waits, briefly, for worker 0 to put the frames on the wire.
func (d *Daemon) leaveAggregates() {
	now := d.now()
	sent := false
	for _, t := range d.teams {
		if t.lacp == nil {
			continue
		}
		for i, p := range t.lacp.ports {
			p.SetDetached(true, now)
			if pdu := p.Tick(now); pdu != nil {
				m := t.members[i]
				sent = d.injectFrame(m.port, lacp.AppendLACPDU(nil, m.mac, pdu)) || sent
			}
		}
	}
	for deadline := time.Now().Add(100 * time.Millisecond); sent && d.inject.Len() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}
