package lacp

import "time"

// Timer constants of 802.1AX-2008 clause 5.4.4.
const (
	// FastPeriodicTime is the period of LACPDUs while the partner asks for
	// a short timeout.
	FastPeriodicTime = 1 * time.Second
	// SlowPeriodicTime is the period of LACPDUs while the partner asks for
	// a long timeout.
	SlowPeriodicTime = 30 * time.Second
	// ShortTimeoutTime is how long received information stays current
	// when the actor uses a short timeout, and how long the Receive machine
	// stays in EXPIRED.
	ShortTimeoutTime = 3 * time.Second
	// LongTimeoutTime is how long received information stays current when
	// the actor uses a long timeout.
	LongTimeoutTime = 90 * time.Second
	// ChurnDetectionTime is how long a port may stay out of sync before
	// the Churn Detection machines report churn.
	ChurnDetectionTime = 60 * time.Second
	// AggregateWaitTime is how long a selected port waits before it
	// attaches, so that ports selected together attach together.
	AggregateWaitTime = 2 * time.Second
)

// maxTxPerPeriod is the Transmit machine's limit (802.1AX-2008 clause
// 5.4.16): no more than three LACPDUs in any Fast_Periodic_Time interval.
const maxTxPerPeriod = 3

// partnerAdmin is the administrative partner information (the Partner_Admin
// variables of 802.1AX-2008 clause 5.4.7) that recordDefault installs: a
// null system, key and port, passive, out of sync, aggregatable and asking
// for a short timeout. Passive keeps a passive port that has no partner
// silent; short timeout makes an active one solicit a partner every
// Fast_Periodic_Time rather than every Slow_Periodic_Time.
var partnerAdmin = PortInfo{State: StateAggregation | StateTimeout}

// PortConfig is an aggregation port's administrative configuration: the
// Actor_Admin variables of 802.1AX-2008 clause 5.4.7, which this package
// also uses as the operational ones.
type PortConfig struct {
	// System is the actor system: priority and the team's MAC address. It
	// must not change when a member port fails.
	System SystemID
	// Key is the actor's administrative and operational key, the team's.
	Key uint16
	// PortPriority is the actor's port priority; lower is better.
	PortPriority uint16
	// Port is the actor's port number, starting at 1.
	Port uint16
	// Active is LACP_Activity: true for an active port that sends LACPDUs
	// on its own, false for a passive one that only answers an active
	// partner.
	Active bool
	// ShortTimeout is LACP_Timeout: true asks the partner for a LACPDU every
	// Fast_Periodic_Time (1 s) and times received information out after
	// ShortTimeoutTime (3 s); false uses SlowPeriodicTime (30 s) and
	// LongTimeoutTime (90 s).
	ShortTimeout bool
	// Aggregatable is the Aggregation flag, normally true; false makes the
	// port Individual, and the Aggregator never selects it.
	Aggregatable bool
}

// PortCounters counts one port's protocol events. Illegal and unknown
// frames are the codec caller's to count.
type PortCounters struct {
	// LACPDUsRx counts the LACPDUs passed to Receive while the link was
	// up.
	LACPDUsRx uint64
	// LACPDUsTx counts the LACPDUs returned by Tick.
	LACPDUsTx uint64
	// Expired counts the times received information timed out: the
	// Receive machine going from CURRENT to EXPIRED. Entering EXPIRED
	// because the link came up is not counted.
	Expired uint64
	// Defaulted counts the entries of the Receive machine into DEFAULTED.
	Defaulted uint64
	// ActorChurn and PartnerChurn count the entries of the Churn
	// Detection machines into ACTOR_CHURN and PARTNER_CHURN.
	ActorChurn, PartnerChurn uint64
}

// Port is one aggregation port: its Receive (802.1AX-2008 clause 5.4.12),
// Periodic Transmission (5.4.13), Mux (5.4.15, coupled control), Transmit
// (5.4.16) and Churn Detection (5.4.17) machines and the variables they
// share (5.4.7). The Selection Logic (5.4.14) that sets its selected and
// Ready inputs belongs to the Aggregator, so a port attaches only once it
// has been given to NewAggregator.
//
// A Port does no I/O and reads no clock: the caller passes in received
// LACPDUs, link changes and the time, calls Tick by NextDeadline and sends
// what Tick returns. It is not safe for concurrent use.
type Port struct {
	cfg PortConfig
	agg *Aggregator

	now      time.Time // the time of the last event
	enabled  bool      // port_enabled
	detached bool      // kept out of the aggregator by management
	moved    bool      // port_moved
	ntt      bool      // NTT

	selected bool   // selected: SELECTED or UNSELECTED (never STANDBY)
	reason   string // why not selected
	readyN   bool   // ready_N
	ready    bool   // Ready, from the Selection Logic

	actor   PortInfo // Actor_Oper_* variables
	partner PortInfo // Partner_Oper_* variables
	// seenInSync: the last LACPDU recorded showed the partner's view of
	// the actor in sync while the actor was (InSyncAtPartner).
	seenInSync bool
	// shownActor and shownPartner are actor and partner as the machines
	// last left them (noteChange).
	shownActor, shownPartner PortInfo
	rxPDU                    *LACPDU // the LACPDU being recorded on entry to CURRENT

	rx       ReceiveState
	periodic PeriodicState
	mux      MuxState

	currentWhile  time.Time // current_while_timer
	periodicTimer time.Time // periodic_timer
	waitWhile     time.Time // wait_while_timer

	actorChurn, partnerChurn churnMachine

	txTimes [maxTxPerPeriod]time.Time // the last transmissions, oldest at txNext once txN is full
	txNext  int
	txN     int

	counters PortCounters
}

// NewPort returns a port with configuration cfg, with its machines
// initialized (BEGIN) at time now and its link down: call SetLink to bring
// it up.
func NewPort(cfg PortConfig, now time.Time) *Port {
	p := &Port{cfg: cfg, now: now}
	p.actor = PortInfo{System: cfg.System, Key: cfg.Key, PortPriority: cfg.PortPriority, Port: cfg.Port}
	if cfg.Active {
		p.actor.State |= StateActivity
	}
	if cfg.ShortTimeout {
		p.actor.State |= StateTimeout
	}
	if cfg.Aggregatable {
		p.actor.State |= StateAggregation
	}
	p.setReceiveState(ReceiveInitialize)
	p.setPeriodicState(PeriodicNone)
	p.setMuxState(MuxDetached)
	p.actorChurn.state, p.partnerChurn.state = ChurnMonitor, ChurnMonitor
	p.reason = "not yet selected"
	p.run()
	return p
}

// Config returns the port's configuration.
func (p *Port) Config() PortConfig { return p.cfg }

// SetLink reports at time now whether the link is up: port_enabled of
// 802.1AX-2008 clause 5.4.7, a full duplex link able to carry frames. Losing the
// link takes the Receive machine to PORT_DISABLED, which puts the partner
// out of sync, so the port stops collecting and distributing at once; the
// Aggregator then unselects it. Regaining it takes the Receive machine to
// EXPIRED and restarts the Churn Detection machines.
func (p *Port) SetLink(up bool, now time.Time) {
	p.advance(now)
	if up == p.enabled {
		return
	}
	p.enabled = up
	if up {
		p.actorChurn.setState(ChurnMonitor, p.now)
		p.partnerChurn.setState(ChurnMonitor, p.now)
	}
	p.run()
}

// LinkUp reports the last value given to SetLink.
func (p *Port) LinkUp() bool { return p.enabled }

// SetDetached keeps the port out of its aggregator, or lets it back in,
// from time now: an administrative input to the Selection Logic
// (802.1AX-2008 clause 5.4.14), for a member the operator takes out of
// the team. A detached port is UNSELECTED at once ("detached by the
// operator"), so its Mux machine stops collecting and distributing and
// detaches, and the LACPDU this calls for tells the partner that the link
// is out of sync: the partner takes it out of its own aggregate at once
// rather than after its timeout, as it would if the port fell silent. The
// Receive, Periodic and Transmit machines go on, so the link stays
// current on both sides and rejoins, after Aggregate_Wait_Time, once it
// is no longer detached.
func (p *Port) SetDetached(on bool, now time.Time) {
	p.advance(now)
	if on == p.detached {
		return
	}
	p.detached = on
	if on {
		p.unselect("detached by the operator")
	}
	p.run()
}

// Detached reports the last value given to SetDetached.
func (p *Port) Detached() bool { return p.detached }

// Receive processes a LACPDU received at time now (802.1AX-2008 clause
// 5.4.12): in EXPIRED, DEFAULTED or CURRENT the Receive machine enters
// CURRENT, which unselects the port if the partner changed
// (update_Selected), sets NTT if the partner's view of the actor is out of
// date (update_NTT), records the partner's information (recordPDU) and
// restarts current_while_timer. LACPDUs received while the link is down
// are ignored. Any LACPDU this calls for is returned by the next Tick; pdu
// is not retained.
func (p *Port) Receive(pdu *LACPDU, now time.Time) {
	p.advance(now)
	if pdu == nil || !p.enabled {
		return
	}
	p.counters.LACPDUsRx++
	switch p.rx {
	case ReceiveExpired, ReceiveDefaulted, ReceiveCurrent:
		p.rxPDU = pdu
		p.setReceiveState(ReceiveCurrent)
		p.rxPDU = nil
		p.run()
	}
}

// Tick advances the port's timers to now, running the machines at each
// timer's expiry in turn, and returns the LACPDU to transmit, or nil. It
// plays the Transmit machine (802.1AX-2008 clause 5.4.16): a LACPDU goes out
// when NTT is set, the link is up and the Periodic machine is not in
// NO_PERIODIC, unless three have already gone out in the last
// Fast_Periodic_Time, in which case it is held (with NTT) until the limit
// allows it. The LACPDU carries the actor's and partner's operational
// information and a CollectorMaxDelay of zero; it is freshly allocated and
// owned by the caller.
func (p *Port) Tick(now time.Time) (send *LACPDU) {
	p.advance(now)
	if !p.ntt {
		return nil
	}
	if t := p.txAllowedAt(); p.now.Before(t) {
		return nil
	}
	p.ntt = false
	p.txTimes[p.txNext] = p.now
	p.txNext = (p.txNext + 1) % maxTxPerPeriod
	p.txN = min(p.txN+1, maxTxPerPeriod)
	p.counters.LACPDUsTx++
	return &LACPDU{Version: 1, Actor: p.actor, Partner: p.partner}
}

// txAllowedAt returns the earliest time the Transmit machine's rate limit
// allows another LACPDU.
func (p *Port) txAllowedAt() time.Time {
	if p.txN < maxTxPerPeriod {
		return time.Time{}
	}
	return p.txTimes[p.txNext].Add(FastPeriodicTime)
}

// NextDeadline returns when Tick must run next: the earliest running timer
// or, if a LACPDU is waiting to go out, when the rate limit allows it
// (possibly a time already passed, meaning at once). It returns the zero
// time when nothing is pending.
func (p *Port) NextDeadline() time.Time {
	d := p.nextTimer()
	if p.ntt {
		t := p.txAllowedAt()
		if t.Before(p.now) {
			t = p.now
		}
		if d.IsZero() || t.Before(d) {
			d = t
		}
	}
	return d
}

// nextTimer returns the earliest deadline of the running timers, or the
// zero time.
func (p *Port) nextTimer() time.Time {
	var d time.Time
	for _, t := range [...]time.Time{p.currentWhile, p.periodicTimer, p.waitWhile, p.actorChurn.timer, p.partnerChurn.timer} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// advance brings the port's time to now, running the machines at the
// deadline of each timer that expires on the way, so that a timer restarted
// by an expiry counts from that deadline whatever the caller's tick size.
// Time never goes backwards: an earlier now is taken as the port's current
// time.
func (p *Port) advance(now time.Time) {
	for {
		d := p.nextTimer()
		if d.IsZero() || d.After(now) {
			break
		}
		if d.After(p.now) {
			p.now = d
		}
		p.run()
		// Every expiry is acted on at once, which stops or restarts
		// its timer; a timer still expired would mean a bug, and must
		// not hang the caller.
		if d := p.nextTimer(); !d.IsZero() && !d.After(p.now) {
			break
		}
	}
	if now.After(p.now) {
		p.now = now
	}
	p.run()
}

// Actor returns the actor's operational information (Actor_Oper_*
// variables, 802.1AX-2008 clause 5.4.7), as the next LACPDU will carry it.
func (p *Port) Actor() PortInfo { return p.actor }

// Partner returns the partner's operational information (Partner_Oper_*
// variables): from the last LACPDU received, or the administrative default
// while the actor's Defaulted flag is set.
func (p *Port) Partner() PortInfo { return p.partner }

// Collecting reports whether frames received on the port are to be passed
// up (the actor's Collecting flag, set by the Mux machine).
func (p *Port) Collecting() bool { return p.actor.State.Has(StateCollecting) }

// Distributing reports whether frames may be sent on the port (the actor's
// Distributing flag, set by the Mux machine).
func (p *Port) Distributing() bool { return p.actor.State.Has(StateDistributing) }

// ReceiveState returns the state of the Receive machine.
func (p *Port) ReceiveState() ReceiveState { return p.rx }

// PeriodicState returns the state of the Periodic Transmission machine.
func (p *Port) PeriodicState() PeriodicState { return p.periodic }

// MuxState returns the state of the Mux machine.
func (p *Port) MuxState() MuxState { return p.mux }

// Churn returns the states of the Actor and Partner Churn Detection
// machines.
func (p *Port) Churn() (actor, partner ChurnState) {
	return p.actorChurn.state, p.partnerChurn.state
}

// Counters returns the port's protocol counters.
func (p *Port) Counters() PortCounters {
	c := p.counters
	c.ActorChurn, c.PartnerChurn = p.actorChurn.count, p.partnerChurn.count
	return c
}

// InSyncAtPartner reports whether the partner has acknowledged the actor's
// synchronization: the last LACPDU received from it carried, in its
// Partner TLV (its view of the actor, 802.1AX-2008 clause 5.4.2.2), this
// port, system and key in sync, and the actor has stayed in sync since.
// Distributing alone means that the partner is in sync (coupled control,
// clause 5.4.15), not that it knows the actor is: a partner that starts
// collecting on a link only once it has heard the actor in sync, and
// whose own Collecting flag says nothing (Open vSwitch sets Collecting and
// Distributing in every LACPDU, and drops what arrives on a link it has not
// enabled), loses the frames sent to it in between. The Frame
// Distributor chooses the links it uses among the Distributing ones
// (clause 5.2.4), and may wait for this.
func (p *Port) InSyncAtPartner() bool { return p.seenInSync }
