package lacp

import "time"

// Aggregator is the Selection Logic (802.1AX-2008 clause 5.4.14) of one
// team with a single aggregator. It decides which of the team's ports are
// SELECTED, sets their selected variable, and raises Ready for the ports
// waiting to attach once all of them have waited Aggregate_Wait_Time, so
// that ports selected together attach together.
//
// The aggregator's actor is the system and key of the first port given to
// NewAggregator. Its partner is chosen, among the ports with a current,
// aggregatable partner, from the port with the best (lowest) port priority,
// then port number; the choice is kept for as long as any port still has
// that partner, so a better port coming up with another partner does not
// make the aggregator flap. A port is SELECTED when its link is up, it is
// not detached (SetDetached), it and its partner are aggregatable, its
// actor system and key are the aggregator's, its partner information came
// from a LACPDU (it is not DEFAULTED), and its partner's system and key
// are the aggregator's partner's.
//
// Simplifications allowed by clause 5.4.14.1 or outside its scope: a port
// that is not SELECTED is UNSELECTED, never STANDBY (there is no limit on
// the number of ports); a port whose link is down is UNSELECTED at once
// rather than kept attached until its partner changes; Individual and
// DEFAULTED ports are never selected, rather than each given an
// aggregator of its own; and port_moved is detected only between the
// aggregator's own ports.
type Aggregator struct {
	ports []*Port

	actorSystem SystemID
	actorKey    uint16

	partnerSystem SystemID
	partnerKey    uint16
	hasPartner    bool

	snap []uint64 // see snapshot
}

// NewAggregator returns the aggregator of a team made of ports, which must
// share one actor system and key; a port whose system or key differs is
// never selected. NewAggregator panics if a port already belongs to another
// aggregator.
func NewAggregator(ports ...*Port) *Aggregator {
	a := &Aggregator{ports: append([]*Port(nil), ports...)}
	for _, p := range a.ports {
		if p.agg != nil {
			panic("lacp: port already belongs to an aggregator")
		}
		p.agg = a
	}
	if len(ports) > 0 {
		a.actorSystem, a.actorKey = ports[0].cfg.System, ports[0].cfg.Key
	}
	return a
}

// AddPort makes p one of the aggregator's ports (a member added to a
// running team); it is considered from the next Update. AddPort panics if
// p already belongs to an aggregator.
func (a *Aggregator) AddPort(p *Port) {
	if p.agg != nil {
		panic("lacp: port already belongs to an aggregator")
	}
	p.agg = a
	a.ports = append(a.ports, p)
	if len(a.ports) == 1 {
		a.actorSystem, a.actorKey = p.cfg.System, p.cfg.Key
	}
}

// RemovePort takes p out of the aggregator (a member removed from a
// running team): it is unselected and no longer counts for the partner
// choice or Ready. The aggregator's partner is chosen again at the next
// Update if p was the last port that had it.
func (a *Aggregator) RemovePort(p *Port) {
	i := -1
	for j, q := range a.ports {
		if q == p {
			i = j
		}
	}
	if i < 0 {
		return
	}
	a.ports = append(a.ports[:i:i], a.ports[i+1:]...)
	p.agg = nil
	p.unselect("removed from the team")
	p.run()
	a.snap = nil
}

// Ports returns the aggregator's ports, in the order given to
// NewAggregator (and AddPort).
func (a *Aggregator) Ports() []*Port { return append([]*Port(nil), a.ports...) }

// Partner returns the system and key of the aggregator's partner, both zero
// when it has none.
func (a *Aggregator) Partner() (SystemID, uint16) { return a.partnerSystem, a.partnerKey }

// Selected reports whether p is SELECTED for the aggregator and, when it is
// not, why: "link down", "detached by the operator", "not aggregatable", "actor system differs",
// "actor key differs", "partner defaulted: no LACPDU received", "partner
// individual", "no partner", "partner system differs", "partner key
// differs", or, until the next Update, "partner information changed" and the like from the
// Receive machine.
func (a *Aggregator) Selected(p *Port) (bool, string) {
	if p.agg != a {
		return false, "not a port of this aggregator"
	}
	if p.selected {
		return true, ""
	}
	return false, p.reason
}

// Update runs the Selection Logic at time now, to be called after Receive,
// SetLink or Tick on any of the aggregator's ports. It advances every port
// to now, detects ports whose partner has moved to another port, chooses
// the aggregator's partner, selects or unselects each port, and computes
// Ready, running the ports' machines after each step until nothing
// changes. LACPDUs this calls for are returned by the ports' next Tick.
func (a *Aggregator) Update(now time.Time) {
	for _, p := range a.ports {
		p.advance(now)
	}
	a.snapshot()
	for range 8 {
		a.detectMoved()
		a.choosePartner()
		for _, p := range a.ports {
			p.selected, p.reason = a.decide(p)
			p.run()
		}
		ready := a.readyAll()
		for _, p := range a.ports {
			p.ready = ready
			p.run()
		}
		if !a.snapshot() {
			break
		}
	}
}

// snapshot records in a.snap the ports' machine states and selection, and
// reports whether they differ from the previous record, so that Update can
// iterate to a fixed point.
func (a *Aggregator) snapshot() (changed bool) {
	if len(a.snap) != len(a.ports) {
		a.snap = make([]uint64, len(a.ports))
		changed = true
	}
	for i, p := range a.ports {
		v := uint64(p.rx) | uint64(p.mux)<<8 | uint64(p.actor.State)<<16 | uint64(p.partner.State)<<24
		if p.selected {
			v |= 1 << 32
		}
		if p.ready {
			v |= 1 << 33
		}
		if a.snap[i] != v {
			a.snap[i], changed = v, true
		}
	}
	return changed
}

// detectMoved sets port_moved (802.1AX-2008 clause 5.4.7) on a port in
// PORT_DISABLED whose partner system and port number now arrive in
// LACPDUs on another port, so that its Receive machine reinitializes.
func (a *Aggregator) detectMoved() {
	for _, p := range a.ports {
		if p.rx != ReceivePortDisabled || p.actor.State.Has(StateDefaulted) {
			continue
		}
		for _, q := range a.ports {
			if q != p && q.rx == ReceiveCurrent &&
				q.partner.System == p.partner.System && q.partner.Port == p.partner.Port {
				p.moved = true
				p.run()
				break
			}
		}
	}
}

// candidate reports whether p has a partner the aggregator could use:
// everything decide checks except the partner's identity. current narrows
// this to ports whose Receive machine is CURRENT, rather than CURRENT or
// EXPIRED.
func (a *Aggregator) candidate(p *Port, current bool) bool {
	_, why := a.eligible(p)
	if why != "" {
		return false
	}
	return !current || p.rx == ReceiveCurrent
}

// choosePartner keeps the aggregator's partner while any port has it and
// otherwise takes the partner of the best port that has a current one or,
// when none has, of the best port that has an expired one: after a link
// comes back, its Receive machine is EXPIRED with the partner's last
// information (802.1AX-2008 clause 5.4.12), and selecting on it at once
// starts the aggregate wait without waiting for the partner's next
// LACPDU (a partner that turns out to be another system unselects the
// port when its LACPDU arrives).
func (a *Aggregator) choosePartner() {
	if a.hasPartner {
		for _, p := range a.ports {
			if a.candidate(p, false) && p.partner.System == a.partnerSystem && p.partner.Key == a.partnerKey {
				return
			}
		}
	}
	best := a.bestCandidate(true)
	if best == nil {
		best = a.bestCandidate(false)
	}
	if best == nil {
		a.hasPartner, a.partnerSystem, a.partnerKey = false, SystemID{}, 0
		return
	}
	a.hasPartner, a.partnerSystem, a.partnerKey = true, best.partner.System, best.partner.Key
}

// bestCandidate returns the candidate port (see candidate) with the best
// port priority and number, or nil.
func (a *Aggregator) bestCandidate(current bool) *Port {
	var best *Port
	for _, p := range a.ports {
		if !a.candidate(p, current) {
			continue
		}
		if best == nil || p.cfg.PortPriority < best.cfg.PortPriority ||
			p.cfg.PortPriority == best.cfg.PortPriority && p.cfg.Port < best.cfg.Port {
			best = p
		}
	}
	return best
}

// eligible checks everything about p but its partner's identity, returning
// ok or the reason it cannot be selected.
func (a *Aggregator) eligible(p *Port) (bool, string) {
	switch {
	case !p.enabled:
		return false, "link down"
	case p.detached:
		return false, "detached by the operator"
	case !p.actor.State.Has(StateAggregation):
		return false, "not aggregatable"
	case p.actor.System != a.actorSystem:
		return false, "actor system differs"
	case p.actor.Key != a.actorKey:
		return false, "actor key differs"
	case p.actor.State.Has(StateDefaulted) || p.rx != ReceiveCurrent && p.rx != ReceiveExpired:
		return false, "partner defaulted: no LACPDU received"
	case !p.partner.State.Has(StateAggregation):
		return false, "partner individual"
	}
	return true, ""
}

// decide returns whether p is to be SELECTED and, if not, why.
func (a *Aggregator) decide(p *Port) (bool, string) {
	if ok, why := a.eligible(p); !ok {
		return false, why
	}
	switch {
	case !a.hasPartner:
		return false, "no partner"
	case p.partner.System != a.partnerSystem:
		return false, "partner system differs"
	case p.partner.Key != a.partnerKey:
		return false, "partner key differs"
	}
	return true, ""
}

// readyAll computes Ready: true when at least one selected port waits to
// attach and every such port has waited Aggregate_Wait_Time (ready_N).
func (a *Aggregator) readyAll() bool {
	n := 0
	for _, p := range a.ports {
		if p.mux != MuxWaiting || !p.selected {
			continue
		}
		if !p.readyN {
			return false
		}
		n++
	}
	return n > 0
}
