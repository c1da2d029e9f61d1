package lacp

import (
	"strconv"
	"time"
)

// ReceiveState is a state of the Receive machine (802.1AX-2008 clause
// 5.4.12, figure 5-10). The machine keeps the partner's operational
// information: it records what each received LACPDU says about the
// partner, times that information out, and falls back to the
// administrative defaults when the partner has gone quiet.
//
//	   BEGIN                 !port_enabled && !port_moved (global)
//	     |                                |
//	     v                                v
//	INITIALIZE ------------UCT------> PORT_DISABLED
//	     ^                              |     |
//	     +--------- port_moved ---------+     | port_enabled
//	                                          v
//	                +------------------- EXPIRED <----------------+
//	                | current_while         |                     |
//	                | expired               | LACPDU received     |
//	                v                       v                     |
//	           DEFAULTED --LACPDU rx--> CURRENT --current_while --+
//	                                     |   ^        expired
//	                                     +---+ LACPDU received
//
// LACP_DISABLED, the state for a half duplex link (LACP_Enabled FALSE), is
// not modelled: every port is taken to be full duplex.
type ReceiveState uint8

// Receive machine states (802.1AX-2008 clause 5.4.12).
const (
	// ReceiveInitialize is INITIALIZE: the port is unselected and the
	// partner information reset to the administrative defaults.
	ReceiveInitialize ReceiveState = iota
	// ReceivePortDisabled is PORT_DISABLED: the link is down and the
	// partner is taken to be out of sync.
	ReceivePortDisabled
	// ReceiveExpired is EXPIRED: no LACPDU arrived within the timeout, the
	// partner is out of sync and a fast rate of LACPDUs is asked for.
	ReceiveExpired
	// ReceiveDefaulted is DEFAULTED: the partner information is the
	// administrative default.
	ReceiveDefaulted
	// ReceiveCurrent is CURRENT: the partner information comes from an
	// LACPDU received within the timeout.
	ReceiveCurrent
)

var receiveStateNames = [...]string{"INITIALIZE", "PORT_DISABLED", "EXPIRED", "DEFAULTED", "CURRENT"}

// String returns the state's name as 802.1AX-2008 figure 5-10 spells it,
// such as "CURRENT".
func (s ReceiveState) String() string {
	if int(s) < len(receiveStateNames) {
		return receiveStateNames[s]
	}
	return "ReceiveState(" + strconv.Itoa(int(s)) + ")"
}

// PeriodicState is a state of the Periodic Transmission machine
// (802.1AX-2008 clause 5.4.13, figure 5-11). The machine sets NTT once per
// period: every Fast_Periodic_Time (1 s) while the partner asks for a
// short timeout, every Slow_Periodic_Time (30 s) while it asks for a long
// one, and never when the link is down or both ends are passive.
//
//	BEGIN || !port_enabled || (actor passive && partner passive)  (global)
//	                |
//	                v
//	           NO_PERIODIC
//	                | UCT
//	                v
//	          FAST_PERIODIC ---- partner long timeout ----> SLOW_PERIODIC
//	            |      ^                                       |
//	  periodic_ |      | partner short     periodic_timer expired ||
//	  timer     v      | timeout           partner short timeout |
//	  expired  PERIODIC_TX (NTT) <---------------------------------+
//	                   |
//	                   +---- partner long timeout ----> SLOW_PERIODIC
type PeriodicState uint8

// Periodic Transmission machine states (802.1AX-2008 clause 5.4.13).
const (
	// PeriodicNone is NO_PERIODIC: no periodic transmissions, and the
	// Transmit machine sends nothing at all.
	PeriodicNone PeriodicState = iota
	// PeriodicFast is FAST_PERIODIC: periodic_timer runs for
	// Fast_Periodic_Time.
	PeriodicFast
	// PeriodicSlow is SLOW_PERIODIC: periodic_timer runs for
	// Slow_Periodic_Time.
	PeriodicSlow
	// PeriodicTx is PERIODIC_TX, a transient state that sets NTT.
	PeriodicTx
)

var periodicStateNames = [...]string{"NO_PERIODIC", "FAST_PERIODIC", "SLOW_PERIODIC", "PERIODIC_TX"}

// String returns the state's name as 802.1AX-2008 figure 5-11 spells it,
// such as "FAST_PERIODIC".
func (s PeriodicState) String() string {
	if int(s) < len(periodicStateNames) {
		return periodicStateNames[s]
	}
	return "PeriodicState(" + strconv.Itoa(int(s)) + ")"
}

// MuxState is a state of the Mux machine with coupled control
// (802.1AX-2008 clause 5.4.15, figure 5-15): collection and distribution
// are enabled and disabled together, so the partner's Collecting flag is
// not consulted.
//
//	BEGIN
//	  |
//	  v
//	DETACHED <--------------------------------------------+
//	  |    ^                                              |
//	  |    +--------- UNSELECTED --------+                |
//	  | SELECTED || STANDBY              |                |
//	  v                                  |                |
//	WAITING -----------------------------+                |
//	  |  (wait_while_timer, Aggregate_Wait_Time)          |
//	  | SELECTED && Ready                                 |
//	  v                                                   |
//	ATTACHED ---------- UNSELECTED || STANDBY ------------+
//	  |    ^
//	  |    +--- UNSELECTED || STANDBY || partner out of sync ---+
//	  |                                                         |
//	  +--- SELECTED && partner in sync ---> COLLECTING_DISTRIBUTING
//
// STANDBY is never produced by this package's Selection Logic (see
// Aggregator), so it never appears.
type MuxState uint8

// Mux machine states (802.1AX-2008 clause 5.4.15, coupled control).
const (
	// MuxDetached is DETACHED: the port is not attached to the
	// aggregator and the actor is out of sync.
	MuxDetached MuxState = iota
	// MuxWaiting is WAITING: the port is selected and waits
	// Aggregate_Wait_Time and then for Ready, so that ports selected
	// together attach together.
	MuxWaiting
	// MuxAttached is ATTACHED: the port is attached and the actor in sync,
	// but collection and distribution are disabled until the partner is in
	// sync.
	MuxAttached
	// MuxCollectingDistributing is COLLECTING_DISTRIBUTING: frames are
	// collected from and distributed to the port.
	MuxCollectingDistributing
)

var muxStateNames = [...]string{"DETACHED", "WAITING", "ATTACHED", "COLLECTING_DISTRIBUTING"}

// String returns the state's name as 802.1AX-2008 figure 5-15 spells it,
// such as "COLLECTING_DISTRIBUTING".
func (s MuxState) String() string {
	if int(s) < len(muxStateNames) {
		return muxStateNames[s]
	}
	return "MuxState(" + strconv.Itoa(int(s)) + ")"
}

// ChurnState is a state of the Actor or Partner Churn Detection machine
// (802.1AX-2008 clause 5.4.17, figures 5-16 and 5-17). Churn is reported
// when a port's actor (or partner) has not reached synchronization within
// Churn_Detection_Time (60 s) of the link coming up or of losing it, which
// usually means a misconfiguration.
//
//	BEGIN || !port_enabled (global)
//	              |
//	              v
//	       CHURN_MONITOR --------- in sync --------> NO_CHURN
//	         |       ^                                 |  ^
//	         |       +-------- out of sync ------------+  |
//	         | churn timer expired                        |
//	         v                                            |
//	       CHURN ------------------ in sync --------------+
//
// The names drop the ACTOR_ and PARTNER_ prefixes of the standard because
// one type serves both machines. While the link is down the machine is
// held in CHURN_MONITOR with its timer stopped; the timer starts when the
// link comes up.
type ChurnState uint8

// Churn Detection machine states (802.1AX-2008 clause 5.4.17).
const (
	// ChurnMonitor is ACTOR_CHURN_MONITOR or PARTNER_CHURN_MONITOR: the
	// churn timer runs while waiting for synchronization.
	ChurnMonitor ChurnState = iota
	// NoChurn is NO_ACTOR_CHURN or NO_PARTNER_CHURN: the end is in sync.
	NoChurn
	// Churn is ACTOR_CHURN or PARTNER_CHURN: the end failed to get in sync
	// within Churn_Detection_Time.
	Churn
)

var churnStateNames = [...]string{"CHURN_MONITOR", "NO_CHURN", "CHURN"}

// String returns "CHURN_MONITOR", "NO_CHURN" or "CHURN".
func (s ChurnState) String() string {
	if int(s) < len(churnStateNames) {
		return churnStateNames[s]
	}
	return "ChurnState(" + strconv.Itoa(int(s)) + ")"
}

// expired reports whether the timer with deadline t is running and has
// expired at the port's current time.
func (p *Port) expired(t time.Time) bool { return !t.IsZero() && !p.now.Before(t) }

// run evaluates the Receive, Periodic Transmission, Mux and Churn
// Detection machines until none of them makes a transition, as the
// continuously evaluated state diagrams of 802.1AX-2008 clause 5.4.11
// require, then sets NTT if the information a LACPDU carries changed
// (noteChange), and finally applies the rule of the Transmit machine
// (clause 5.4.16) that NTT is dropped while the Periodic machine is in
// NO_PERIODIC.
func (p *Port) run() {
	// Every transition is driven by a change that the previous pass made,
	// and the longest chain (INITIALIZE, PORT_DISABLED, EXPIRED, ...) is
	// short; the bound only guards against a bug looping forever.
	for range 32 {
		changed := p.stepReceive()
		changed = p.stepPeriodic() || changed
		changed = p.stepMux() || changed
		changed = p.stepChurn() || changed
		if !changed {
			break
		}
	}
	p.noteChange()
	if !p.enabled || p.periodic == PeriodicNone {
		p.ntt = false
	}
}

// noteChange sets NTT when the actor's or the partner's operational
// information (the Actor and Partner TLVs of the next LACPDU) differs from
// what it was when the machines last came to rest. NTT means "there is new
// protocol information that should be transmitted on the link"
// (802.1AX-2008 clause 5.4.7), and the transitions that set it explicitly
// do not cover every such change: entering EXPIRED when the link comes up
// sets the actor's Expired flag and a short partner timeout, but only the
// Periodic machine would send it, a Fast_Periodic_Time later. Sending at
// once lets a partner that is silent (Open vSwitch sends every
// Slow_Periodic_Time while its own partner information is defaulted)
// answer at once, so the aggregate's 2 s wait starts at link up. The
// Transmit machine's limit of three LACPDUs per Fast_Periodic_Time (clause
// 5.4.16) still applies.
func (p *Port) noteChange() {
	if p.actor != p.shownActor || p.partner != p.shownPartner {
		p.ntt = true
		p.shownActor, p.shownPartner = p.actor, p.partner
	}
}

// stepReceive makes at most one transition of the Receive machine
// (802.1AX-2008 clause 5.4.12) other than the one on a received LACPDU,
// which Receive makes, and reports whether it made one.
func (p *Port) stepReceive() bool {
	if !p.enabled && !p.moved {
		if p.rx == ReceivePortDisabled {
			return false
		}
		p.setReceiveState(ReceivePortDisabled)
		return true
	}
	switch p.rx {
	case ReceiveInitialize:
		p.setReceiveState(ReceivePortDisabled)
	case ReceivePortDisabled:
		switch {
		case p.moved:
			p.setReceiveState(ReceiveInitialize)
		case p.enabled:
			p.setReceiveState(ReceiveExpired)
		default:
			return false
		}
	case ReceiveExpired:
		if !p.expired(p.currentWhile) {
			return false
		}
		p.setReceiveState(ReceiveDefaulted)
	case ReceiveCurrent:
		if !p.expired(p.currentWhile) {
			return false
		}
		p.counters.Expired++
		p.setReceiveState(ReceiveExpired)
	default:
		return false
	}
	return true
}

// setReceiveState enters state next of the Receive machine: it re-arms
// current_while_timer (running only in EXPIRED and CURRENT) and performs
// the state's actions from 802.1AX-2008 figure 5-10. Entering CURRENT
// processes p.rxPDU.
func (p *Port) setReceiveState(next ReceiveState) {
	p.rx = next
	p.currentWhile = time.Time{}
	switch next {
	case ReceiveInitialize:
		p.unselect("receive machine initialized")
		p.recordDefault()
		p.actor.State &^= StateExpired
		p.moved = false
	case ReceivePortDisabled:
		p.partner.State &^= StateSynchronization
		p.seenInSync = false
	case ReceiveExpired:
		p.partner.State &^= StateSynchronization
		p.partner.State |= StateTimeout
		p.currentWhile = p.now.Add(ShortTimeoutTime)
		p.actor.State |= StateExpired
	case ReceiveDefaulted:
		p.counters.Defaulted++
		p.updateDefaultSelected()
		p.recordDefault()
		p.actor.State &^= StateExpired
	case ReceiveCurrent:
		pdu := p.rxPDU
		p.updateSelected(pdu)
		p.updateNTT(pdu)
		p.recordPDU(pdu)
		timeout := LongTimeoutTime
		if p.actor.State.Has(StateTimeout) {
			timeout = ShortTimeoutTime
		}
		p.currentWhile = p.now.Add(timeout)
		p.actor.State &^= StateExpired
	}
}

// unselect sets selected to UNSELECTED and records why.
func (p *Port) unselect(reason string) {
	p.selected = false
	p.reason = reason
}

// sameLink reports whether a and b name the same port of the same system
// with the same key and the same Aggregation flag: the parameters that
// update_Selected and update_Default_Selected (802.1AX-2008 clause 5.4.9)
// compare.
func sameLink(a, b PortInfo) bool {
	return a.Port == b.Port && a.PortPriority == b.PortPriority &&
		a.System == b.System && a.Key == b.Key &&
		a.State.Has(StateAggregation) == b.State.Has(StateAggregation)
}

// recordPDU is the function of 802.1AX-2008 clause 5.4.9: it takes the
// partner's operational information from the Actor TLV of pdu, clears the
// actor's Defaulted flag, and sets the partner's Synchronization flag only
// when the partner is in sync, the link is actively maintained and either
// the partner's view of the actor is right or the partner is Individual.
func (p *Port) recordPDU(pdu *LACPDU) {
	p.partner = pdu.Actor
	p.actor.State &^= StateDefaulted
	viewOK := sameLink(pdu.Partner, p.actor)
	individual := !pdu.Actor.State.Has(StateAggregation)
	active := pdu.Actor.State.Has(StateActivity) ||
		p.actor.State.Has(StateActivity) && pdu.Partner.State.Has(StateActivity)
	if pdu.Actor.State.Has(StateSynchronization) && active && (viewOK || individual) {
		p.partner.State |= StateSynchronization
	} else {
		p.partner.State &^= StateSynchronization
	}
	p.seenInSync = viewOK && pdu.Partner.State.Has(StateSynchronization) && p.actor.State.Has(StateSynchronization)
}

// recordDefault is the function of 802.1AX-2008 clause 5.4.9: the partner's
// operational information becomes the administrative default and the
// actor's Defaulted flag is set.
func (p *Port) recordDefault() {
	p.partner = partnerAdmin
	p.actor.State |= StateDefaulted
	p.seenInSync = false
}

// updateSelected is update_Selected (802.1AX-2008 clause 5.4.9): the port
// becomes UNSELECTED when the Actor TLV of pdu names a different partner
// port, system, key or aggregatability than the one recorded.
func (p *Port) updateSelected(pdu *LACPDU) {
	if !sameLink(pdu.Actor, p.partner) {
		p.unselect("partner information changed")
	}
}

// updateDefaultSelected is update_Default_Selected (802.1AX-2008 clause
// 5.4.9): the port becomes UNSELECTED when the administrative partner
// information differs from the operational one it is about to replace.
func (p *Port) updateDefaultSelected() {
	if !sameLink(partnerAdmin, p.partner) {
		p.unselect("partner defaulted: no LACPDU received")
	}
}

// nttMask is the part of the actor's state that update_NTT compares.
const nttMask = StateActivity | StateTimeout | StateSynchronization | StateAggregation

// updateNTT is update_NTT (802.1AX-2008 clause 5.4.9): NTT is set when the
// Partner TLV of pdu, the partner's view of the actor, is out of date in
// the port, system, key, activity, timeout, synchronization or aggregation
// it reports.
func (p *Port) updateNTT(pdu *LACPDU) {
	v := pdu.Partner
	if v.Port != p.actor.Port || v.PortPriority != p.actor.PortPriority ||
		v.System != p.actor.System || v.Key != p.actor.Key ||
		v.State&nttMask != p.actor.State&nttMask {
		p.ntt = true
	}
}

// stepPeriodic makes at most one transition of the Periodic Transmission
// machine (802.1AX-2008 clause 5.4.13) and reports whether it made one.
func (p *Port) stepPeriodic() bool {
	if !p.enabled || !p.actor.State.Has(StateActivity) && !p.partner.State.Has(StateActivity) {
		if p.periodic == PeriodicNone {
			return false
		}
		p.setPeriodicState(PeriodicNone)
		return true
	}
	short := p.partner.State.Has(StateTimeout)
	switch p.periodic {
	case PeriodicNone:
		p.setPeriodicState(PeriodicFast)
	case PeriodicFast:
		switch {
		case p.expired(p.periodicTimer):
			p.setPeriodicState(PeriodicTx)
		case !short:
			p.setPeriodicState(PeriodicSlow)
		default:
			return false
		}
	case PeriodicSlow:
		if !p.expired(p.periodicTimer) && !short {
			return false
		}
		p.setPeriodicState(PeriodicTx)
	case PeriodicTx:
		if short {
			p.setPeriodicState(PeriodicFast)
		} else {
			p.setPeriodicState(PeriodicSlow)
		}
	default:
		return false
	}
	return true
}

// setPeriodicState enters state next of the Periodic Transmission machine:
// it re-arms periodic_timer (Fast_Periodic_Time in FAST_PERIODIC,
// Slow_Periodic_Time in SLOW_PERIODIC, stopped otherwise) and sets NTT in
// PERIODIC_TX.
func (p *Port) setPeriodicState(next PeriodicState) {
	p.periodic = next
	p.periodicTimer = time.Time{}
	switch next {
	case PeriodicFast:
		p.periodicTimer = p.now.Add(FastPeriodicTime)
	case PeriodicSlow:
		p.periodicTimer = p.now.Add(SlowPeriodicTime)
	case PeriodicTx:
		p.ntt = true
	}
}

// stepMux makes at most one transition of the Mux machine (802.1AX-2008
// clause 5.4.15, coupled control) and reports whether it made one or
// raised ready_N.
func (p *Port) stepMux() bool {
	switch p.mux {
	case MuxDetached:
		if !p.selected {
			return false
		}
		p.setMuxState(MuxWaiting)
	case MuxWaiting:
		if !p.selected {
			p.setMuxState(MuxDetached)
			return true
		}
		changed := false
		if p.expired(p.waitWhile) {
			// ready_N: this port has waited; Ready is the Selection
			// Logic's verdict over all the ports waiting to attach.
			p.readyN = true
			p.waitWhile = time.Time{}
			changed = true
		}
		if p.readyN && p.ready {
			p.setMuxState(MuxAttached)
			changed = true
		}
		return changed
	case MuxAttached:
		switch {
		case !p.selected:
			p.setMuxState(MuxDetached)
		case p.partner.State.Has(StateSynchronization):
			p.setMuxState(MuxCollectingDistributing)
		default:
			return false
		}
	case MuxCollectingDistributing:
		if p.selected && p.partner.State.Has(StateSynchronization) {
			return false
		}
		p.setMuxState(MuxAttached)
	default:
		return false
	}
	return true
}

// setMuxState enters state next of the Mux machine: it re-arms
// wait_while_timer (Aggregate_Wait_Time, running only in WAITING), clears
// ready_N and performs the state's actions from 802.1AX-2008 figure 5-15.
// Attaching, detaching and enabling collection and distribution are the
// actor's Synchronization, Collecting and Distributing flags, which the
// data plane reads through Collecting and Distributing.
func (p *Port) setMuxState(next MuxState) {
	p.mux = next
	p.waitWhile = time.Time{}
	p.readyN = false
	switch next {
	case MuxDetached:
		p.actor.State &^= StateSynchronization | StateCollecting | StateDistributing
		p.seenInSync = false
		p.ntt = true
	case MuxWaiting:
		p.waitWhile = p.now.Add(AggregateWaitTime)
		p.ready = false
	case MuxAttached:
		p.actor.State |= StateSynchronization
		p.actor.State &^= StateCollecting | StateDistributing
		p.ntt = true
	case MuxCollectingDistributing:
		p.actor.State |= StateCollecting | StateDistributing
		p.ntt = true
	}
}

// churnMachine is one Churn Detection machine (802.1AX-2008 clause
// 5.4.17): the actor's, watching Actor_Oper_Port_State.Synchronization, or
// the partner's, watching Partner_Oper_Port_State.Synchronization.
type churnMachine struct {
	state ChurnState
	timer time.Time // actor_churn_timer or partner_churn_timer
	count uint64    // entries into CHURN
}

// setState enters state next at time now and re-arms the churn timer,
// which runs for Churn_Detection_Time in CHURN_MONITOR only.
func (c *churnMachine) setState(next ChurnState, now time.Time) {
	c.state = next
	c.timer = time.Time{}
	switch next {
	case ChurnMonitor:
		c.timer = now.Add(ChurnDetectionTime)
	case Churn:
		c.count++
	}
}

// step makes at most one transition and reports whether it made one.
func (c *churnMachine) step(p *Port, inSync bool) bool {
	if !p.enabled {
		// Held in CHURN_MONITOR: the global transition restarts the
		// timer for as long as the port is disabled.
		if c.state == ChurnMonitor && c.timer.IsZero() {
			return false
		}
		c.state, c.timer = ChurnMonitor, time.Time{}
		return true
	}
	switch c.state {
	case ChurnMonitor:
		switch {
		case inSync:
			c.setState(NoChurn, p.now)
		case p.expired(c.timer):
			c.setState(Churn, p.now)
		default:
			return false
		}
	case NoChurn:
		if inSync {
			return false
		}
		c.setState(ChurnMonitor, p.now)
	case Churn:
		if !inSync {
			return false
		}
		c.setState(NoChurn, p.now)
	default:
		return false
	}
	return true
}

// stepChurn steps both Churn Detection machines and reports whether either
// made a transition.
func (p *Port) stepChurn() bool {
	a := p.actorChurn.step(p, p.actor.State.Has(StateSynchronization))
	b := p.partnerChurn.step(p, p.partner.State.Has(StateSynchronization))
	return a || b
}
