package lacp

import (
	"strings"
	"testing"
	"time"
)

// at returns the virtual time d after the epoch.
func at(d time.Duration) time.Time { return simEpoch.Add(d) }

const ms = time.Millisecond

// fastCfg is an active, short-timeout, aggregatable port of system A.
func fastCfg(port uint16) PortConfig { return simPortConfig(simSysA, simKeyA, port, activeFast) }

// peer is the partner port's own information, as the Actor TLV of its
// LACPDUs carries it.
func peer(port uint16, st State) PortInfo {
	return PortInfo{System: simSysB, Key: simKeyB, PortPriority: 0x8000, Port: port, State: st}
}

// peerActive is an active, short-timeout, aggregatable partner state.
const peerActive = StateActivity | StateTimeout | StateAggregation

// from builds a LACPDU sent by actor to p, with an up-to-date view of p.
func from(p *Port, actor PortInfo) *LACPDU {
	return &LACPDU{Version: 1, Actor: actor, Partner: p.Actor()}
}

// upPort returns a port of its own aggregator with its link up at the
// epoch.
func upPort(t *testing.T, cfg PortConfig) (*Port, *Aggregator) {
	t.Helper()
	p := NewPort(cfg, at(0))
	a := NewAggregator(p)
	p.SetLink(true, at(0))
	a.Update(at(0))
	return p, a
}

// attachedPort returns a port that heard an out-of-sync partner at 100 ms
// and attached 2 s later.
func attachedPort(t *testing.T) (*Port, *Aggregator) {
	t.Helper()
	p, a := upPort(t, fastCfg(1))
	p.Receive(from(p, peer(7, peerActive)), at(100*ms))
	a.Update(at(100 * ms))
	p.Tick(at(100 * ms))
	a.Update(at(2100 * ms))
	if p.MuxState() != MuxAttached {
		t.Fatalf("setup: mux %v", p.MuxState())
	}
	return p, a
}

// distributingPort returns a port that is collecting and distributing.
func distributingPort(t *testing.T) (*Port, *Aggregator) {
	t.Helper()
	p, a := attachedPort(t)
	p.Receive(from(p, peer(7, peerActive|StateSynchronization)), at(2200*ms))
	a.Update(at(2200 * ms))
	if p.MuxState() != MuxCollectingDistributing {
		t.Fatalf("setup: mux %v", p.MuxState())
	}
	return p, a
}

func TestNewPortBeginsDisabledAndDetached(t *testing.T) {
	p := NewPort(fastCfg(1), at(0))
	if p.ReceiveState() != ReceivePortDisabled || p.PeriodicState() != PeriodicNone || p.MuxState() != MuxDetached {
		t.Errorf("rx %v periodic %v mux %v", p.ReceiveState(), p.PeriodicState(), p.MuxState())
	}
	if ac, pc := p.Churn(); ac != ChurnMonitor || pc != ChurnMonitor {
		t.Errorf("churn %v %v", ac, pc)
	}
	want := PortInfo{System: simSysA, Key: simKeyA, PortPriority: 0x8000, Port: 1,
		State: StateActivity | StateTimeout | StateAggregation | StateDefaulted}
	if p.Actor() != want {
		t.Errorf("actor %+v, want %+v", p.Actor(), want)
	}
	if p.Partner() != partnerAdmin {
		t.Errorf("partner %+v", p.Partner())
	}
	if pdu := p.Tick(at(time.Hour)); pdu != nil {
		t.Errorf("port with link down sent %+v", pdu)
	}
	if d := p.NextDeadline(); !d.IsZero() {
		t.Errorf("deadline %v with link down", d)
	}
}

func TestReceivePortDisabledToExpiredWhenLinkUp(t *testing.T) {
	p := NewPort(fastCfg(1), at(0))
	p.SetLink(true, at(0))
	if p.ReceiveState() != ReceiveExpired {
		t.Fatalf("rx %v", p.ReceiveState())
	}
	if !p.Actor().State.Has(StateExpired | StateDefaulted) {
		t.Errorf("actor %v", p.Actor().State)
	}
	if !p.Partner().State.Has(StateTimeout) || p.Partner().State.Has(StateSynchronization) {
		t.Errorf("partner %v", p.Partner().State)
	}
	if p.PeriodicState() != PeriodicFast {
		t.Errorf("periodic %v", p.PeriodicState())
	}
	// The LACPDU that says so is due at once (noteChange), the next one
	// a Fast_Periodic_Time later.
	if d := p.NextDeadline(); !d.Equal(at(0)) {
		t.Errorf("deadline %v, want 0 (a LACPDU due)", d.Sub(simEpoch))
	}
	if pdu := p.Tick(at(0)); pdu == nil || !pdu.Actor.State.Has(StateExpired) {
		t.Errorf("sent %+v at link up, want a LACPDU with the actor expired", pdu)
	}
	if d := p.NextDeadline(); !d.Equal(at(FastPeriodicTime)) {
		t.Errorf("deadline %v", d.Sub(simEpoch))
	}
	if c := p.Counters(); c.Expired != 0 {
		t.Errorf("link up counted as expiry: %+v", c)
	}
}

func TestReceiveExpiredToDefaultedWhenCurrentWhileExpires(t *testing.T) {
	p, _ := upPort(t, fastCfg(1))
	p.Tick(at(ShortTimeoutTime - ms))
	if p.ReceiveState() != ReceiveExpired {
		t.Fatalf("rx %v before the short timeout", p.ReceiveState())
	}
	p.Tick(at(ShortTimeoutTime))
	if p.ReceiveState() != ReceiveDefaulted {
		t.Fatalf("rx %v", p.ReceiveState())
	}
	if st := p.Actor().State; st.Has(StateExpired) || !st.Has(StateDefaulted) {
		t.Errorf("actor %v", st)
	}
	if p.Partner() != partnerAdmin {
		t.Errorf("partner %+v", p.Partner())
	}
	if c := p.Counters(); c.Defaulted != 1 || c.Expired != 0 {
		t.Errorf("counters %+v", c)
	}
}

func TestReceiveExpiredToCurrentOnLACPDU(t *testing.T) {
	p, _ := upPort(t, fastCfg(1))
	p.Receive(from(p, peer(7, peerActive)), at(500*ms))
	if p.ReceiveState() != ReceiveCurrent {
		t.Fatalf("rx %v", p.ReceiveState())
	}
	if st := p.Actor().State; st.Has(StateExpired) || st.Has(StateDefaulted) {
		t.Errorf("actor %v", st)
	}
	if want := peer(7, peerActive); p.Partner() != want {
		t.Errorf("partner %+v, want %+v", p.Partner(), want)
	}
	if c := p.Counters(); c.LACPDUsRx != 1 {
		t.Errorf("counters %+v", c)
	}
}

func TestReceiveCurrentToExpiredWhenCurrentWhileExpires(t *testing.T) {
	for _, tc := range []struct {
		name    string
		side    simSide
		timeout time.Duration
	}{
		{"short", activeFast, ShortTimeoutTime},
		{"long", activeSlow, LongTimeoutTime},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := upPort(t, simPortConfig(simSysA, simKeyA, 1, tc.side))
			p.Receive(from(p, peer(7, peerActive)), at(time.Second))
			p.Tick(at(time.Second + tc.timeout - ms))
			if p.ReceiveState() != ReceiveCurrent {
				t.Fatalf("rx %v before the timeout", p.ReceiveState())
			}
			p.Tick(at(time.Second + tc.timeout))
			if p.ReceiveState() != ReceiveExpired {
				t.Fatalf("rx %v", p.ReceiveState())
			}
			if !p.Actor().State.Has(StateExpired) || !p.Partner().State.Has(StateTimeout) {
				t.Errorf("actor %v partner %v", p.Actor().State, p.Partner().State)
			}
			if p.Partner().Port != 7 {
				t.Errorf("expired partner lost its identity: %+v", p.Partner())
			}
			if c := p.Counters(); c.Expired != 1 {
				t.Errorf("counters %+v", c)
			}
		})
	}
}

func TestReceiveCurrentRestartsCurrentWhileOnLACPDU(t *testing.T) {
	p, _ := upPort(t, fastCfg(1))
	for i := range 10 {
		p.Receive(from(p, peer(7, peerActive)), at(time.Duration(i)*2*time.Second))
	}
	p.Tick(at(18*time.Second + ShortTimeoutTime - ms))
	if p.ReceiveState() != ReceiveCurrent {
		t.Fatalf("rx %v", p.ReceiveState())
	}
}

func TestReceiveDefaultedToCurrentOnLACPDU(t *testing.T) {
	p, a := upPort(t, fastCfg(1))
	p.Tick(at(10 * time.Second))
	p.Receive(from(p, peer(7, peerActive)), at(10*time.Second))
	a.Update(at(10 * time.Second))
	if p.ReceiveState() != ReceiveCurrent || p.Actor().State.Has(StateDefaulted) {
		t.Fatalf("rx %v actor %v", p.ReceiveState(), p.Actor().State)
	}
	if ok, _ := a.Selected(p); !ok || p.MuxState() != MuxWaiting {
		t.Errorf("selected %v mux %v", ok, p.MuxState())
	}
}

func TestReceiveCurrentToPortDisabledOnLinkDown(t *testing.T) {
	p, _ := distributingPort(t)
	p.SetLink(false, at(3*time.Second))
	if p.ReceiveState() != ReceivePortDisabled {
		t.Fatalf("rx %v", p.ReceiveState())
	}
	if p.Partner().State.Has(StateSynchronization) || p.Partner().Port != 7 {
		t.Errorf("partner %+v: want out of sync, identity kept", p.Partner())
	}
	if p.Collecting() || p.Distributing() {
		t.Errorf("mux %v", p.MuxState())
	}
	if p.PeriodicState() != PeriodicNone || p.Tick(at(3*time.Second)) != nil {
		t.Errorf("periodic %v", p.PeriodicState())
	}
}

func TestReceiveIgnoresLACPDUWhileLinkDown(t *testing.T) {
	p := NewPort(fastCfg(1), at(0))
	p.Receive(from(p, peer(7, peerActive)), at(time.Second))
	if p.ReceiveState() != ReceivePortDisabled || p.Partner() != partnerAdmin || p.Counters().LACPDUsRx != 0 {
		t.Errorf("rx %v partner %+v", p.ReceiveState(), p.Partner())
	}
}

func TestReceivePortDisabledToInitializeWhenPortMoved(t *testing.T) {
	p1 := NewPort(fastCfg(1), at(0))
	p2 := NewPort(fastCfg(2), at(0))
	a := NewAggregator(p1, p2)
	p1.SetLink(true, at(0))
	p2.SetLink(true, at(0))
	p1.Receive(from(p1, peer(7, peerActive)), at(time.Second))
	a.Update(at(time.Second))
	p1.SetLink(false, at(2*time.Second))
	a.Update(at(2 * time.Second))
	if p1.ReceiveState() != ReceivePortDisabled || p1.Partner().Port != 7 {
		t.Fatalf("setup: rx %v partner %+v", p1.ReceiveState(), p1.Partner())
	}
	// The partner's port 7 is now cabled to p2.
	p2.Receive(from(p2, peer(7, peerActive)), at(3*time.Second))
	a.Update(at(3 * time.Second))
	if p1.ReceiveState() != ReceivePortDisabled || p1.Partner() != partnerAdmin || !p1.Actor().State.Has(StateDefaulted) {
		t.Errorf("moved port: rx %v partner %+v actor %v", p1.ReceiveState(), p1.Partner(), p1.Actor().State)
	}
	if p1.moved {
		t.Error("port_moved not cleared by INITIALIZE")
	}
}

func TestReceiveCurrentSetsNTTWhenPartnerViewStale(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stale func(*PortInfo)
	}{
		{"port", func(v *PortInfo) { v.Port++ }},
		{"port priority", func(v *PortInfo) { v.PortPriority++ }},
		{"system", func(v *PortInfo) { v.System.MAC[5]++ }},
		{"key", func(v *PortInfo) { v.Key++ }},
		{"activity", func(v *PortInfo) { v.State ^= StateActivity }},
		{"timeout", func(v *PortInfo) { v.State ^= StateTimeout }},
		{"aggregation", func(v *PortInfo) { v.State ^= StateAggregation }},
		{"synchronization", func(v *PortInfo) { v.State ^= StateSynchronization }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := upPort(t, fastCfg(1))
			pdu := from(p, peer(7, peerActive))
			tc.stale(&pdu.Partner)
			p.Receive(pdu, at(500*ms))
			got := p.Tick(at(500 * ms))
			if got == nil {
				t.Fatal("no LACPDU for a stale partner view")
			}
			if got.Actor != p.Actor() || got.Partner != p.Partner() || got.Version != 1 {
				t.Errorf("sent %+v", got)
			}
		})
	}
}

func TestReceiveCurrentNoNTTWhenPartnerViewCurrent(t *testing.T) {
	p, _ := upPort(t, fastCfg(1))
	p.Tick(at(0)) // the link-up LACPDU
	// The first LACPDU from the partner changes the partner information
	// (and clears the actor's Defaulted flag), which is answered; the
	// same LACPDU again changes nothing.
	pdu := from(p, peer(7, peerActive))
	p.Receive(pdu, at(500*ms))
	p.Tick(at(500 * ms))
	pdu = from(p, peer(7, peerActive))
	// Collecting, Distributing, Defaulted and Expired are not compared.
	pdu.Partner.State ^= StateCollecting | StateDefaulted | StateExpired
	p.Receive(pdu, at(600*ms))
	if got := p.Tick(at(600 * ms)); got != nil {
		t.Errorf("sent %+v for an up-to-date view", got)
	}
}

func TestReceiveCurrentUnselectsWhenPartnerChanges(t *testing.T) {
	p, a := distributingPort(t)
	p.Receive(from(p, PortInfo{System: simSysB, Key: simKeyB + 1, PortPriority: 0x8000, Port: 7, State: peerActive | StateSynchronization}), at(3*time.Second))
	if ok, why := a.Selected(p); ok || why != "partner information changed" {
		t.Errorf("selected %v %q", ok, why)
	}
	if p.MuxState() != MuxDetached || p.Distributing() {
		t.Errorf("mux %v", p.MuxState())
	}
	// The Selection Logic picks the new partner, and the port waits again.
	a.Update(at(3 * time.Second))
	if _, key := a.Partner(); key != simKeyB+1 || p.MuxState() != MuxWaiting {
		t.Errorf("partner key %#x mux %v", key, p.MuxState())
	}
}

func TestRecordPDUPartnerSynchronization(t *testing.T) {
	for _, tc := range []struct {
		name    string
		passive bool                   // actor passive
		peer    State                  // the PDU's Actor_State
		view    func(*PortInfo, State) // edits the PDU's Partner TLV
		want    bool
	}{
		{"in sync, view right", false, peerActive | StateSynchronization, nil, true},
		{"not in sync", false, peerActive, nil, false},
		{"view has wrong key", false, peerActive | StateSynchronization, func(v *PortInfo, _ State) { v.Key++ }, false},
		{"view has wrong aggregation", false, peerActive | StateSynchronization, func(v *PortInfo, _ State) { v.State &^= StateAggregation }, false},
		{"individual partner in sync, view wrong", false, StateActivity | StateSynchronization, func(v *PortInfo, _ State) { v.Key++ }, true},
		{"passive partner, active actor", false, StateTimeout | StateAggregation | StateSynchronization, nil, true},
		{"passive partner, view says passive", false, StateTimeout | StateAggregation | StateSynchronization,
			func(v *PortInfo, _ State) { v.State &^= StateActivity }, false},
		{"both passive", true, StateTimeout | StateAggregation | StateSynchronization, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fastCfg(1)
			cfg.Active = !tc.passive
			p, _ := upPort(t, cfg)
			pdu := from(p, peer(7, tc.peer))
			if tc.view != nil {
				tc.view(&pdu.Partner, tc.peer)
			}
			p.Receive(pdu, at(time.Second))
			if got := p.Partner().State.Has(StateSynchronization); got != tc.want {
				t.Errorf("partner in sync %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPeriodicNoPeriodicWhenBothPassive(t *testing.T) {
	cfg := fastCfg(1)
	cfg.Active = false
	p, _ := upPort(t, cfg)
	if p.PeriodicState() != PeriodicNone {
		t.Fatalf("periodic %v", p.PeriodicState())
	}
	for d := time.Duration(0); d < time.Minute; d += 100 * ms {
		if pdu := p.Tick(at(d)); pdu != nil {
			t.Fatalf("passive port without an active partner sent at %v", d)
		}
	}
}

func TestPeriodicNoPeriodicToFastWhenPartnerActive(t *testing.T) {
	cfg := fastCfg(1)
	cfg.Active = false
	p, _ := upPort(t, cfg)
	pdu := from(p, peer(7, peerActive))
	pdu.Partner = PortInfo{} // the partner knows nothing of us yet
	p.Receive(pdu, at(time.Second))
	if p.PeriodicState() != PeriodicFast {
		t.Fatalf("periodic %v", p.PeriodicState())
	}
	if p.Tick(at(time.Second)) == nil {
		t.Error("passive port did not answer an active partner")
	}
}

func TestPeriodicFastToSlowWhenPartnerLongTimeout(t *testing.T) {
	// A long-timeout actor, so that received information stays current
	// (90 s) across a slow period.
	p, _ := upPort(t, simPortConfig(simSysA, simKeyA, 1, activeSlow))
	if p.PeriodicState() != PeriodicFast {
		t.Fatalf("periodic %v before any LACPDU", p.PeriodicState())
	}
	p.Receive(from(p, peer(7, StateActivity|StateAggregation)), at(500*ms))
	if p.PeriodicState() != PeriodicSlow {
		t.Fatalf("periodic %v", p.PeriodicState())
	}
	// The new partner information is answered at once (noteChange).
	if pdu := p.Tick(at(500 * ms)); pdu == nil {
		t.Error("new partner information not answered")
	}
	if d := p.NextDeadline(); !d.Equal(at(500*ms + SlowPeriodicTime)) {
		t.Errorf("deadline %v", d.Sub(simEpoch))
	}
	if pdu := p.Tick(at(500*ms + SlowPeriodicTime - ms)); pdu != nil {
		t.Error("sent before Slow_Periodic_Time")
	}
	if pdu := p.Tick(at(500*ms + SlowPeriodicTime)); pdu == nil {
		t.Error("nothing sent at Slow_Periodic_Time")
	}
	if p.PeriodicState() != PeriodicSlow {
		t.Errorf("periodic %v after PERIODIC_TX", p.PeriodicState())
	}
}

func TestPeriodicSlowToPeriodicTxWhenPartnerShortTimeout(t *testing.T) {
	p, _ := upPort(t, simPortConfig(simSysA, simKeyA, 1, activeSlow))
	p.Receive(from(p, peer(7, StateActivity|StateAggregation)), at(500*ms))
	p.Tick(at(500 * ms))
	if p.PeriodicState() != PeriodicSlow {
		t.Fatalf("periodic %v", p.PeriodicState())
	}
	p.Receive(from(p, peer(7, peerActive)), at(5*time.Second))
	if p.PeriodicState() != PeriodicFast {
		t.Fatalf("periodic %v", p.PeriodicState())
	}
	if p.Tick(at(5*time.Second)) == nil {
		t.Error("no LACPDU on the switch to the fast rate")
	}
	if d := p.NextDeadline(); !d.Equal(at(5*time.Second + FastPeriodicTime)) {
		t.Errorf("deadline %v", d.Sub(simEpoch))
	}
}

func TestMuxDetachedToWaitingWhenSelected(t *testing.T) {
	p, a := upPort(t, fastCfg(1))
	if p.MuxState() != MuxDetached {
		t.Fatalf("mux %v", p.MuxState())
	}
	p.Receive(from(p, peer(7, peerActive)), at(time.Second))
	a.Update(at(time.Second))
	if p.MuxState() != MuxWaiting {
		t.Fatalf("mux %v", p.MuxState())
	}
	if d := p.NextDeadline(); d.After(at(time.Second + AggregateWaitTime)) {
		t.Errorf("deadline %v after wait_while", d.Sub(simEpoch))
	}
}

func TestMuxWaitingToAttachedWhenReady(t *testing.T) {
	p, a := upPort(t, fastCfg(1))
	p.Receive(from(p, peer(7, peerActive)), at(100*ms))
	a.Update(at(100 * ms))
	p.Tick(at(100 * ms))
	a.Update(at(2099 * ms))
	p.Tick(at(2099 * ms))
	if p.MuxState() != MuxWaiting {
		t.Fatalf("mux %v before Aggregate_Wait_Time", p.MuxState())
	}
	a.Update(at(2100 * ms))
	if p.MuxState() != MuxAttached {
		t.Fatalf("mux %v", p.MuxState())
	}
	if !p.Actor().State.Has(StateSynchronization) || p.Collecting() || p.Distributing() {
		t.Errorf("actor %v", p.Actor().State)
	}
	if pdu := p.Tick(at(2100 * ms)); pdu == nil || !pdu.Actor.State.Has(StateSynchronization) {
		t.Errorf("attaching sent %+v", pdu)
	}
}

func TestMuxWaitingToDetachedWhenUnselected(t *testing.T) {
	p, a := upPort(t, fastCfg(1))
	p.Receive(from(p, peer(7, peerActive)), at(100*ms))
	a.Update(at(100 * ms))
	p.SetLink(false, at(time.Second))
	a.Update(at(time.Second))
	if p.MuxState() != MuxDetached {
		t.Fatalf("mux %v", p.MuxState())
	}
}

func TestMuxAttachedToCollectingDistributingWhenPartnerInSync(t *testing.T) {
	p, a := attachedPort(t)
	p.Tick(at(2100 * ms))
	p.Receive(from(p, peer(7, peerActive|StateSynchronization)), at(2200*ms))
	if p.MuxState() != MuxCollectingDistributing || !p.Collecting() || !p.Distributing() {
		t.Fatalf("mux %v", p.MuxState())
	}
	a.Update(at(2200 * ms))
	if pdu := p.Tick(at(2200 * ms)); pdu == nil || !pdu.Actor.State.Has(StateCollecting|StateDistributing) {
		t.Errorf("sent %+v", pdu)
	}
}

func TestMuxAttachedStaysWhenPartnerOutOfSync(t *testing.T) {
	p, _ := attachedPort(t)
	p.Receive(from(p, peer(7, peerActive)), at(2200*ms))
	if p.MuxState() != MuxAttached || p.Distributing() {
		t.Fatalf("mux %v", p.MuxState())
	}
}

func TestMuxCollectingDistributingToAttachedWhenPartnerOutOfSync(t *testing.T) {
	p, _ := distributingPort(t)
	p.Receive(from(p, peer(7, peerActive)), at(3*time.Second))
	if p.MuxState() != MuxAttached || p.Collecting() || p.Distributing() {
		t.Fatalf("mux %v", p.MuxState())
	}
	if !p.Actor().State.Has(StateSynchronization) {
		t.Errorf("actor %v", p.Actor().State)
	}
}

func TestMuxAttachedToDetachedWhenUnselected(t *testing.T) {
	p, a := attachedPort(t)
	p.Tick(at(2100 * ms))
	p.SetLink(false, at(2200*ms))
	a.Update(at(2200 * ms))
	if p.MuxState() != MuxDetached || p.Actor().State.Has(StateSynchronization) {
		t.Fatalf("mux %v actor %v", p.MuxState(), p.Actor().State)
	}
}

func TestMuxPortsSelectedTogetherAttachTogether(t *testing.T) {
	p1 := NewPort(fastCfg(1), at(0))
	p2 := NewPort(fastCfg(2), at(0))
	a := NewAggregator(p1, p2)
	p1.SetLink(true, at(0))
	p2.SetLink(true, at(0))
	p1.Receive(from(p1, peer(7, peerActive)), at(100*ms))
	a.Update(at(100 * ms))
	p2.Receive(from(p2, peer(8, peerActive)), at(1100*ms))
	a.Update(at(1100 * ms))
	if p1.MuxState() != MuxWaiting || p2.MuxState() != MuxWaiting {
		t.Fatalf("mux %v %v", p1.MuxState(), p2.MuxState())
	}
	a.Update(at(2500 * ms)) // p1 has waited, p2 has not
	if p1.MuxState() != MuxWaiting {
		t.Errorf("p1 attached alone: %v", p1.MuxState())
	}
	a.Update(at(3100 * ms))
	if p1.MuxState() != MuxAttached || p2.MuxState() != MuxAttached {
		t.Errorf("mux %v %v", p1.MuxState(), p2.MuxState())
	}
}

func TestTransmitAtMostThreePerFastPeriodicTime(t *testing.T) {
	p, _ := upPort(t, fastCfg(1))
	var sent []time.Duration
	for d := time.Duration(0); d < 3*time.Second; d += 10 * ms {
		if d < 100*ms {
			// Ten conflicting LACPDUs in 100 ms, each calling for NTT.
			pdu := from(p, peer(7, peerActive))
			pdu.Partner.Key = uint16(d / ms)
			pdu.Actor.Key = uint16(d / ms)
			p.Receive(pdu, at(d))
		}
		if p.Tick(at(d)) != nil {
			sent = append(sent, d)
		}
	}
	if len(sent) < 4 || sent[0] != 0 {
		t.Fatalf("sent at %v", sent)
	}
	for i := maxTxPerPeriod; i < len(sent); i++ {
		if sent[i]-sent[i-maxTxPerPeriod] < FastPeriodicTime {
			t.Errorf("sent at %v: more than 3 in 1 s", sent)
			break
		}
	}
	// The NTT held back by the limit went out as soon as allowed.
	if sent[3] != FastPeriodicTime {
		t.Errorf("held LACPDU sent at %v, want %v (all: %v)", sent[3], FastPeriodicTime, sent)
	}
	if c := p.Counters(); c.LACPDUsTx != uint64(len(sent)) || c.LACPDUsRx != 10 {
		t.Errorf("counters %+v", c)
	}
}

func TestTransmitHeldNTTReportedByNextDeadline(t *testing.T) {
	p, _ := upPort(t, fastCfg(1))
	for i := range 4 {
		pdu := from(p, peer(7, peerActive))
		pdu.Partner.Key = uint16(i)
		p.Receive(pdu, at(time.Duration(i)*ms))
		p.Tick(at(time.Duration(i) * ms))
	}
	if d := p.NextDeadline(); !d.Equal(at(FastPeriodicTime)) {
		t.Errorf("deadline %v, want the end of the rate limit", d.Sub(simEpoch))
	}
}

func TestTransmitNothingInNoPeriodic(t *testing.T) {
	cfg := fastCfg(1)
	cfg.Active = false
	p, a := upPort(t, cfg)
	p.Tick(at(10 * time.Second)) // DEFAULTED
	// A mux change sets NTT, but a passive port with a passive partner
	// must still stay silent.
	for d := 11 * time.Second; d < 20*time.Second; d += 100 * ms {
		if d%time.Second == 0 {
			p.Receive(&LACPDU{Actor: peer(7, StateAggregation|StateSynchronization), Partner: p.Actor()}, at(d))
		}
		a.Update(at(d))
		if pdu := p.Tick(at(d)); pdu != nil {
			t.Fatalf("sent %+v", pdu)
		}
	}
	// Attached, but the partner is not in sync: neither end actively
	// maintains the link (recordPDU).
	if p.MuxState() != MuxAttached {
		t.Errorf("mux %v", p.MuxState())
	}
}

func TestChurnMonitorToNoChurnWhenInSync(t *testing.T) {
	p, _ := distributingPort(t)
	if ac, pc := p.Churn(); ac != NoChurn || pc != NoChurn {
		t.Errorf("churn %v %v", ac, pc)
	}
}

func TestChurnMonitorToChurnAfterChurnDetectionTime(t *testing.T) {
	p, _ := upPort(t, fastCfg(1))
	p.Tick(at(ChurnDetectionTime - ms))
	if ac, pc := p.Churn(); ac != ChurnMonitor || pc != ChurnMonitor {
		t.Fatalf("churn %v %v", ac, pc)
	}
	p.Tick(at(ChurnDetectionTime))
	if ac, pc := p.Churn(); ac != Churn || pc != Churn {
		t.Fatalf("churn %v %v", ac, pc)
	}
	if c := p.Counters(); c.ActorChurn != 1 || c.PartnerChurn != 1 {
		t.Errorf("counters %+v", c)
	}
}

func TestChurnToNoChurnWhenInSync(t *testing.T) {
	p, a := upPort(t, fastCfg(1))
	p.Tick(at(ChurnDetectionTime))
	p.Receive(from(p, peer(7, peerActive|StateSynchronization)), at(61*time.Second))
	a.Update(at(61 * time.Second))
	a.Update(at(63 * time.Second))
	if ac, pc := p.Churn(); ac != NoChurn || pc != NoChurn {
		t.Fatalf("churn %v %v (mux %v)", ac, pc, p.MuxState())
	}
	// Falling out of sync starts monitoring again.
	p.Receive(from(p, peer(7, peerActive)), at(64*time.Second))
	if _, pc := p.Churn(); pc != ChurnMonitor {
		t.Errorf("partner churn %v", pc)
	}
}

func TestChurnHeldWhileLinkDown(t *testing.T) {
	p := NewPort(fastCfg(1), at(0))
	p.Tick(at(10 * time.Minute))
	if ac, pc := p.Churn(); ac != ChurnMonitor || pc != ChurnMonitor {
		t.Fatalf("churn %v %v with link down", ac, pc)
	}
	p.SetLink(true, at(10*time.Minute))
	p.Tick(at(10*time.Minute + ChurnDetectionTime - ms))
	if ac, _ := p.Churn(); ac != ChurnMonitor {
		t.Errorf("churn %v before Churn_Detection_Time after link up", ac)
	}
	p.Tick(at(10*time.Minute + ChurnDetectionTime))
	if ac, _ := p.Churn(); ac != Churn {
		t.Errorf("churn %v", ac)
	}
}

func TestTickProcessesTimersAtTheirDeadlines(t *testing.T) {
	p, _ := upPort(t, fastCfg(1))
	p.Receive(from(p, peer(7, peerActive)), at(time.Second))
	// One big step: CURRENT expires at 4 s and EXPIRED at 7 s.
	p.Tick(at(6999 * ms))
	if p.ReceiveState() != ReceiveExpired {
		t.Fatalf("rx %v", p.ReceiveState())
	}
	p.Tick(at(7 * time.Second))
	if p.ReceiveState() != ReceiveDefaulted {
		t.Fatalf("rx %v", p.ReceiveState())
	}
	if c := p.Counters(); c.Expired != 1 || c.Defaulted != 1 {
		t.Errorf("counters %+v", c)
	}
}

func TestTimeNeverRunsBackwards(t *testing.T) {
	p, _ := upPort(t, fastCfg(1))
	p.Receive(from(p, peer(7, peerActive)), at(2*time.Second))
	p.Tick(at(time.Second))
	if d := p.NextDeadline(); d.Before(at(2 * time.Second)) {
		t.Errorf("deadline %v", d.Sub(simEpoch))
	}
	if p.ReceiveState() != ReceiveCurrent {
		t.Errorf("rx %v", p.ReceiveState())
	}
}

func TestNextDeadlineIsEarliestTimer(t *testing.T) {
	p, a := upPort(t, fastCfg(1))
	p.Receive(from(p, peer(7, StateActivity|StateAggregation)), at(500*ms))
	a.Update(at(500 * ms))
	p.Tick(at(500 * ms))
	// periodic 30.5 s, current_while 3.5 s, wait_while 2.5 s, churn 60 s.
	if d := p.NextDeadline(); !d.Equal(at(2500 * ms)) {
		t.Errorf("deadline %v, want 2.5s", d.Sub(simEpoch))
	}
}

func TestStateStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{ReceiveInitialize.String(), "INITIALIZE"},
		{ReceivePortDisabled.String(), "PORT_DISABLED"},
		{ReceiveExpired.String(), "EXPIRED"},
		{ReceiveDefaulted.String(), "DEFAULTED"},
		{ReceiveCurrent.String(), "CURRENT"},
		{ReceiveState(9).String(), "ReceiveState(9)"},
		{PeriodicNone.String(), "NO_PERIODIC"},
		{PeriodicFast.String(), "FAST_PERIODIC"},
		{PeriodicSlow.String(), "SLOW_PERIODIC"},
		{PeriodicTx.String(), "PERIODIC_TX"},
		{PeriodicState(9).String(), "PeriodicState(9)"},
		{MuxDetached.String(), "DETACHED"},
		{MuxWaiting.String(), "WAITING"},
		{MuxAttached.String(), "ATTACHED"},
		{MuxCollectingDistributing.String(), "COLLECTING_DISTRIBUTING"},
		{MuxState(9).String(), "MuxState(9)"},
		{ChurnMonitor.String(), "CHURN_MONITOR"},
		{NoChurn.String(), "NO_CHURN"},
		{Churn.String(), "CHURN"},
		{ChurnState(9).String(), "ChurnState(9)"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if !strings.HasPrefix(ReceiveState(200).String(), "ReceiveState(") {
		t.Error("unknown state")
	}
}

func TestTransmitAtOnceWhenLinkComesUp(t *testing.T) {
	p := NewPort(fastCfg(1), at(0))
	if pdu := p.Tick(at(500 * ms)); pdu != nil {
		t.Fatalf("sent %+v with the link down", pdu)
	}
	p.SetLink(true, at(500*ms))
	pdu := p.Tick(at(500 * ms))
	if pdu == nil {
		t.Fatal("no LACPDU at link up: the partner would wait for our Fast_Periodic_Time")
	}
	if !pdu.Actor.State.Has(StateExpired|StateDefaulted) || pdu.Partner != p.Partner() {
		t.Errorf("sent %+v", pdu)
	}
}

func TestTransmitAtOnceWhenPartnerStateChanges(t *testing.T) {
	p, _ := distributingPort(t)
	p.Tick(at(2200 * ms))
	// The partner starts distributing: not part of update_NTT's
	// comparison, but new partner information.
	p.Receive(from(p, peer(7, peerActive|StateSynchronization|StateCollecting|StateDistributing)), at(2300*ms))
	pdu := p.Tick(at(2300 * ms))
	if pdu == nil {
		t.Fatal("changed partner information not answered")
	}
	if !pdu.Partner.State.Has(StateDistributing) {
		t.Errorf("sent partner %v", pdu.Partner.State)
	}
}

func TestTransmitAtOnceWhenCurrentExpires(t *testing.T) {
	p, _ := upPort(t, fastCfg(1))
	p.Receive(from(p, peer(7, peerActive)), at(100*ms))
	var sent []time.Duration
	var last *LACPDU
	for d := 100 * ms; d <= 100*ms+ShortTimeoutTime; d += 10 * ms {
		if pdu := p.Tick(at(d)); pdu != nil {
			sent, last = append(sent, d), pdu
		}
	}
	// 100 ms: the answer; 1, 2 and 3 s: periodic (from link up); 3.1 s:
	// expired, at once.
	if len(sent) != 5 || sent[4] != 100*ms+ShortTimeoutTime || !last.Actor.State.Has(StateExpired) {
		t.Errorf("sent at %v, last %+v", sent, last)
	}
}

func TestTransmitOnlyPeriodicWhileNothingChanges(t *testing.T) {
	p, a := distributingPort(t)
	p.Tick(at(2200 * ms))
	var sent []time.Duration
	for d := 2300 * ms; d < 10*time.Second; d += 10 * ms {
		if d%(500*ms) == 0 {
			p.Receive(from(p, peer(7, peerActive|StateSynchronization)), at(d))
		}
		a.Update(at(d))
		if p.Tick(at(d)) != nil {
			sent = append(sent, d)
		}
	}
	for i := 1; i < len(sent); i++ {
		if sent[i]-sent[i-1] != FastPeriodicTime {
			t.Fatalf("sent at %v, want one every Fast_Periodic_Time", sent)
		}
	}
}

func TestInSyncAtPartnerOnceItsViewShowsTheActorInSync(t *testing.T) {
	p, a := attachedPort(t)
	// The partner's LACPDU crossed ours: its view of the actor is not in
	// sync yet, although the partner itself is.
	stale := from(p, peer(7, peerActive|StateSynchronization))
	stale.Partner.State &^= StateSynchronization
	p.Receive(stale, at(2150*ms))
	a.Update(at(2150 * ms))
	if !p.Distributing() || p.InSyncAtPartner() {
		t.Fatalf("distributing %v, in sync at partner %v after a stale view", p.Distributing(), p.InSyncAtPartner())
	}
	p.Receive(from(p, peer(7, peerActive|StateSynchronization)), at(2200*ms))
	a.Update(at(2200 * ms))
	if !p.InSyncAtPartner() {
		t.Error("partner's view shows the actor in sync, InSyncAtPartner false")
	}
}

func TestInSyncAtPartnerClearedWhenMuxDetaches(t *testing.T) {
	p, a := distributingPort(t)
	if !p.InSyncAtPartner() {
		t.Fatal("setup: not in sync at partner")
	}
	p.SetDetached(true, at(2300*ms))
	a.Update(at(2300 * ms))
	if p.MuxState() != MuxDetached || p.InSyncAtPartner() {
		t.Errorf("mux %v, in sync at partner %v", p.MuxState(), p.InSyncAtPartner())
	}
}

func TestInSyncAtPartnerClearedOnLinkDown(t *testing.T) {
	p, a := distributingPort(t)
	p.SetLink(false, at(2300*ms))
	a.Update(at(2300 * ms))
	if p.InSyncAtPartner() {
		t.Error("in sync at partner with the link down")
	}
}

func TestInSyncAtPartnerClearedWhenDefaulted(t *testing.T) {
	p, a := distributingPort(t)
	p.Tick(at(2200*ms + 2*ShortTimeoutTime)) // CURRENT, EXPIRED, DEFAULTED
	a.Update(at(2200*ms + 2*ShortTimeoutTime))
	if p.ReceiveState() != ReceiveDefaulted || p.InSyncAtPartner() {
		t.Errorf("rx %v, in sync at partner %v", p.ReceiveState(), p.InSyncAtPartner())
	}
}
