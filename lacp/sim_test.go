package lacp

import (
	"strings"
	"testing"
	"time"
)

// simEpoch is the virtual time at which every test starts.
var simEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	simSysA = SystemID{Priority: 0x8000, MAC: [6]byte{0x02, 0, 0, 0, 0, 0x0a}}
	simSysB = SystemID{Priority: 0x8000, MAC: [6]byte{0x02, 0, 0, 0, 0, 0x0b}}
)

const (
	simKeyA = 0x0101
	simKeyB = 0x0202
)

// simClock is a manual clock.
type simClock struct{ now time.Time }

// simTx is one LACPDU sent by a port.
type simTx struct {
	at  time.Time
	pdu LACPDU
}

// simLink is a full duplex link between two ports. A LACPDU sent in one
// step arrives in the next, unless drop says it is lost.
type simLink struct {
	a, b     *Port
	toA, toB []LACPDU
	drop     func(from *Port, pdu *LACPDU) bool
}

// simNet steps a set of ports, links and aggregators on a manual clock.
type simNet struct {
	t     testing.TB
	clock simClock
	step  time.Duration
	ports []*Port
	aggs  []*Aggregator
	links map[*Port]*simLink
	sent  map[*Port][]simTx
	// onStep, when set, is called after every step, to check invariants.
	onStep func()
}

func newSimNet(t testing.TB, step time.Duration) *simNet {
	return &simNet{
		t:     t,
		clock: simClock{now: simEpoch},
		step:  step,
		links: make(map[*Port]*simLink),
		sent:  make(map[*Port][]simTx),
	}
}

func (n *simNet) port(cfg PortConfig) *Port {
	p := NewPort(cfg, n.clock.now)
	n.ports = append(n.ports, p)
	return p
}

func (n *simNet) connect(a, b *Port) *simLink {
	l := &simLink{a: a, b: b}
	n.links[a], n.links[b] = l, l
	return l
}

func (n *simNet) aggregator(ports ...*Port) *Aggregator {
	a := NewAggregator(ports...)
	n.aggs = append(n.aggs, a)
	return a
}

func (n *simNet) update() {
	for _, a := range n.aggs {
		a.Update(n.clock.now)
	}
}

// stepOnce advances the clock by one step, delivers the LACPDUs in
// flight, runs the Selection Logic, ticks every port and puts what they
// send on the links.
func (n *simNet) stepOnce() { n.stepTo(n.clock.now.Add(n.step)) }

// stepTo is stepOnce with the clock set to now rather than advanced by a
// step.
func (n *simNet) stepTo(now time.Time) {
	n.clock.now = now
	for _, p := range n.ports {
		l := n.links[p]
		if l == nil || l.a != p {
			continue
		}
		toA, toB := l.toA, l.toB
		l.toA, l.toB = nil, nil
		for i := range toA {
			l.a.Receive(&toA[i], now)
		}
		for i := range toB {
			l.b.Receive(&toB[i], now)
		}
	}
	n.update()
	for _, p := range n.ports {
		pdu := p.Tick(now)
		if pdu == nil {
			continue
		}
		n.recordTx(p, pdu)
		l := n.links[p]
		if l == nil || l.drop != nil && l.drop(p, pdu) {
			continue
		}
		if l.a == p {
			l.toB = append(l.toB, *pdu)
		} else {
			l.toA = append(l.toA, *pdu)
		}
	}
	n.update()
	if n.onStep != nil {
		n.onStep()
	}
}

// recordTx logs a transmission and checks the Transmit machine's limit of
// three LACPDUs in any Fast_Periodic_Time.
func (n *simNet) recordTx(p *Port, pdu *LACPDU) {
	now := n.clock.now
	log := append(n.sent[p], simTx{at: now, pdu: *pdu})
	n.sent[p] = log
	if len(log) > maxTxPerPeriod {
		if first := log[len(log)-1-maxTxPerPeriod].at; now.Sub(first) < FastPeriodicTime {
			n.t.Errorf("port %d sent %d LACPDUs between %v and %v", p.cfg.Port, maxTxPerPeriod+1, first.Sub(simEpoch), now.Sub(simEpoch))
		}
	}
}

func (n *simNet) elapsed() time.Duration { return n.clock.now.Sub(simEpoch) }

func (n *simNet) runFor(d time.Duration) {
	for end := n.clock.now.Add(d); n.clock.now.Before(end); {
		n.stepOnce()
	}
}

// runUntil steps until cond holds, for at most limit, and returns how long
// it took and whether cond came to hold.
func (n *simNet) runUntil(limit time.Duration, cond func() bool) (time.Duration, bool) {
	start := n.clock.now
	for !cond() {
		if n.clock.now.Sub(start) >= limit {
			return limit, false
		}
		n.stepOnce()
	}
	return n.clock.now.Sub(start), true
}

// txTimesBetween returns when p sent LACPDUs in [from, to), as offsets from
// simEpoch.
func (n *simNet) txTimesBetween(p *Port, from, to time.Duration) []time.Duration {
	var ts []time.Duration
	for _, tx := range n.sent[p] {
		if d := tx.at.Sub(simEpoch); d >= from && d < to {
			ts = append(ts, d)
		}
	}
	return ts
}

type simSide struct{ active, short bool }

var (
	activeFast  = simSide{active: true, short: true}
	activeSlow  = simSide{active: true}
	passiveFast = simSide{short: true}
)

// twoSys is two systems A and B with two ports each, a[i] cabled to b[i],
// each system's ports in one aggregator, all links up at the epoch.
type twoSys struct {
	n          *simNet
	a, b       [2]*Port
	aggA, aggB *Aggregator
	l          [2]*simLink
}

func simPortConfig(sys SystemID, key, port uint16, side simSide) PortConfig {
	return PortConfig{
		System:       sys,
		Key:          key,
		PortPriority: 0x8000,
		Port:         port,
		Active:       side.active,
		ShortTimeout: side.short,
		Aggregatable: true,
	}
}

// newTwoSys builds the two systems; keyB2, when not zero, gives port b[1]
// another key and an aggregator of its own.
func newTwoSys(t testing.TB, step time.Duration, sideA, sideB simSide, keyB2 uint16) *twoSys {
	s := &twoSys{n: newSimNet(t, step)}
	for i := range 2 {
		s.a[i] = s.n.port(simPortConfig(simSysA, simKeyA, uint16(i+1), sideA))
		keyB := uint16(simKeyB)
		if i == 1 && keyB2 != 0 {
			keyB = keyB2
		}
		s.b[i] = s.n.port(simPortConfig(simSysB, keyB, uint16(i+1), sideB))
		s.l[i] = s.n.connect(s.a[i], s.b[i])
	}
	s.aggA = s.n.aggregator(s.a[0], s.a[1])
	if keyB2 != 0 {
		s.aggB = s.n.aggregator(s.b[0])
		s.n.aggregator(s.b[1])
	} else {
		s.aggB = s.n.aggregator(s.b[0], s.b[1])
	}
	for _, p := range s.n.ports {
		p.SetLink(true, s.n.clock.now)
	}
	s.n.update()
	return s
}

func (s *twoSys) all() []*Port { return []*Port{s.a[0], s.a[1], s.b[0], s.b[1]} }

func up(p *Port) bool { return p.Collecting() && p.Distributing() }

func (s *twoSys) allUp() bool {
	for _, p := range s.all() {
		if !up(p) {
			return false
		}
	}
	return true
}

// converge runs until all four ports collect and distribute, failing the
// test unless that happens within limit, and then lets the last LACPDUs
// land.
func (s *twoSys) converge(t testing.TB, limit time.Duration) time.Duration {
	t.Helper()
	took, ok := s.n.runUntil(limit, s.allUp)
	if !ok {
		for _, p := range s.all() {
			t.Logf("port %v: rx %v mux %v actor %v partner %v", p.Actor().System, p.ReceiveState(), p.MuxState(), p.Actor().State, p.Partner().State)
		}
		t.Fatalf("ports not all collecting and distributing after %v", limit)
	}
	s.n.runFor(200 * time.Millisecond)
	return took
}

func TestSimTwoActiveFastSystemsAggregateWithinThreeSeconds(t *testing.T) {
	s := newTwoSys(t, 10*time.Millisecond, activeFast, activeFast, 0)
	took := s.converge(t, 5*time.Second)
	// First LACPDUs at link up (noteChange), then Aggregate_Wait_Time
	// and a few link delays.
	if took < AggregateWaitTime || took > AggregateWaitTime+100*time.Millisecond {
		t.Errorf("aggregated after %v, want about 2s", took)
	}
	for i := range 2 {
		a, b := s.a[i], s.b[i]
		if a.Partner() != b.Actor() {
			t.Errorf("a%d partner %+v, b%d actor %+v", i+1, a.Partner(), i+1, b.Actor())
		}
		if b.Partner() != a.Actor() {
			t.Errorf("b%d partner %+v, a%d actor %+v", i+1, b.Partner(), i+1, a.Actor())
		}
		for _, p := range []*Port{a, b} {
			if p.ReceiveState() != ReceiveCurrent || p.MuxState() != MuxCollectingDistributing || p.PeriodicState() != PeriodicFast {
				t.Errorf("port %v/%d: rx %v mux %v periodic %v", p.Actor().System, p.Actor().Port, p.ReceiveState(), p.MuxState(), p.PeriodicState())
			}
			want := StateActivity | StateTimeout | StateAggregation | StateSynchronization | StateCollecting | StateDistributing
			if p.Actor().State != want {
				t.Errorf("port %v/%d actor state %v, want %v", p.Actor().System, p.Actor().Port, p.Actor().State, want)
			}
			if ac, pc := p.Churn(); ac != NoChurn || pc != NoChurn {
				t.Errorf("churn %v %v", ac, pc)
			}
		}
	}
	if sys, key := s.aggA.Partner(); sys != simSysB || key != simKeyB {
		t.Errorf("A's aggregator partner %v/%#x", sys, key)
	}
	if sys, key := s.aggB.Partner(); sys != simSysA || key != simKeyA {
		t.Errorf("B's aggregator partner %v/%#x", sys, key)
	}
}

func TestSimActivePassiveNegotiates(t *testing.T) {
	s := newTwoSys(t, 20*time.Millisecond, activeFast, passiveFast, 0)
	s.converge(t, 4*time.Second)
	for i := range 2 {
		if s.b[i].Actor().State.Has(StateActivity) {
			t.Errorf("passive port b%d claims activity", i+1)
		}
		if s.a[i].Partner() != s.b[i].Actor() || s.b[i].Partner() != s.a[i].Actor() {
			t.Errorf("link %d: views disagree", i+1)
		}
	}
	// The passive side answers the active one at the rate it asks for.
	s.n.runFor(20 * time.Second)
	got := s.n.txTimesBetween(s.b[0], 10*time.Second, 20*time.Second)
	if len(got) != 10 {
		t.Errorf("passive port sent %d LACPDUs in 10s, want 10", len(got))
	}
}

func TestSimPassivePassiveNeverSendsNorAggregates(t *testing.T) {
	s := newTwoSys(t, 100*time.Millisecond, passiveFast, passiveFast, 0)
	s.n.onStep = func() {
		for _, p := range s.all() {
			if p.Collecting() || p.Distributing() {
				t.Fatalf("passive port %v/%d aggregated", p.Actor().System, p.Actor().Port)
			}
		}
	}
	s.n.runFor(2 * time.Minute)
	for _, p := range s.all() {
		if n := len(s.n.sent[p]); n != 0 {
			t.Errorf("passive port %v/%d sent %d LACPDUs", p.Actor().System, p.Actor().Port, n)
		}
		if p.ReceiveState() != ReceiveDefaulted || p.PeriodicState() != PeriodicNone || p.MuxState() != MuxDetached {
			t.Errorf("port %v/%d: rx %v periodic %v mux %v", p.Actor().System, p.Actor().Port, p.ReceiveState(), p.PeriodicState(), p.MuxState())
		}
		if !p.NextDeadline().IsZero() && p.NextDeadline().Before(s.n.clock.now) {
			t.Errorf("deadline in the past")
		}
	}
}

// wantIntervals checks that ts are evenly spaced by want.
func wantIntervals(t *testing.T, name string, ts []time.Duration, want time.Duration, minCount int) {
	t.Helper()
	if len(ts) < minCount {
		t.Fatalf("%s: %d LACPDUs (%v), want at least %d", name, len(ts), ts, minCount)
	}
	for i := 1; i < len(ts); i++ {
		if d := ts[i] - ts[i-1]; d != want {
			t.Errorf("%s: LACPDUs at %v and %v, %v apart, want %v", name, ts[i-1], ts[i], d, want)
		}
	}
}

func TestSimPeriodicFastEverySecond(t *testing.T) {
	s := newTwoSys(t, 10*time.Millisecond, activeFast, activeFast, 0)
	s.converge(t, 5*time.Second)
	s.n.runFor(20 * time.Second)
	for _, p := range s.all() {
		wantIntervals(t, "fast", s.n.txTimesBetween(p, 10*time.Second, 20*time.Second), FastPeriodicTime, 10)
	}
}

func TestSimPeriodicSlowEveryThirtySeconds(t *testing.T) {
	s := newTwoSys(t, 100*time.Millisecond, activeSlow, activeSlow, 0)
	s.converge(t, 5*time.Second)
	s.n.runFor(200 * time.Second)
	for _, p := range s.all() {
		if p.PeriodicState() != PeriodicSlow {
			t.Errorf("periodic %v", p.PeriodicState())
		}
		wantIntervals(t, "slow", s.n.txTimesBetween(p, 10*time.Second, 200*time.Second), SlowPeriodicTime, 6)
	}
}

func TestSimPeriodicFastWhenPartnerRequestsShortTimeout(t *testing.T) {
	// A asks for a long timeout and B for a short one: A must send every
	// second and B every 30 seconds.
	s := newTwoSys(t, 50*time.Millisecond, activeSlow, activeFast, 0)
	s.converge(t, 5*time.Second)
	s.n.runFor(100 * time.Second)
	for i := range 2 {
		wantIntervals(t, "A (partner short)", s.n.txTimesBetween(s.a[i], 10*time.Second, 100*time.Second), FastPeriodicTime, 80)
		wantIntervals(t, "B (partner long)", s.n.txTimesBetween(s.b[i], 10*time.Second, 100*time.Second), SlowPeriodicTime, 3)
	}
	if !s.allUp() {
		t.Error("aggregation lost")
	}
}

func TestSimLinkLossStopsDistributingAndPeerExpires(t *testing.T) {
	s := newTwoSys(t, 10*time.Millisecond, activeFast, activeFast, 0)
	s.converge(t, 5*time.Second)
	a1, a2, b1, b2 := s.a[0], s.a[1], s.b[0], s.b[1]

	down := s.n.clock.now
	a1.SetLink(false, down)
	if a1.Collecting() || a1.Distributing() {
		t.Fatalf("a1 still collecting/distributing after link loss: mux %v", a1.MuxState())
	}
	if a1.ReceiveState() != ReceivePortDisabled {
		t.Errorf("a1 rx %v", a1.ReceiveState())
	}
	s.n.onStep = func() {
		if !up(a2) || !up(b2) {
			t.Fatalf("the other link stopped distributing at %v", s.n.elapsed())
		}
		if a1.Distributing() {
			t.Fatalf("a1 distributing with link down")
		}
	}
	s.n.update()
	if ok, why := s.aggA.Selected(a1); ok || why != "link down" {
		t.Errorf("a1 selected %v %q", ok, why)
	}
	if a1.MuxState() != MuxDetached {
		t.Errorf("a1 mux %v", a1.MuxState())
	}

	took, ok := s.n.runUntil(5*time.Second, func() bool { return b1.ReceiveState() == ReceiveExpired })
	if !ok || took > ShortTimeoutTime+s.n.step {
		t.Fatalf("b1 expired after %v (ok %v)", took, ok)
	}
	if b1.Distributing() || b1.Collecting() || !b1.Actor().State.Has(StateExpired) {
		t.Errorf("expired b1: mux %v actor %v", b1.MuxState(), b1.Actor().State)
	}
	took, ok = s.n.runUntil(5*time.Second, func() bool { return b1.ReceiveState() == ReceiveDefaulted })
	if !ok || took != ShortTimeoutTime {
		t.Fatalf("b1 defaulted %v after expiring (ok %v)", took, ok)
	}
	if b1.MuxState() != MuxDetached || b1.Actor().State.Has(StateExpired) || !b1.Actor().State.Has(StateDefaulted) {
		t.Errorf("defaulted b1: mux %v actor %v", b1.MuxState(), b1.Actor().State)
	}
	if c := b1.Counters(); c.Expired != 1 || c.Defaulted != 1 {
		t.Errorf("b1 counters %+v", c)
	}
	s.n.runFor(10 * time.Second)

	s.n.onStep = nil
	a1.SetLink(true, s.n.clock.now)
	took, ok = s.n.runUntil(6*time.Second, s.allUp)
	if !ok || took > 3100*time.Millisecond {
		t.Fatalf("renegotiated after %v (ok %v)", took, ok)
	}
	s.n.runFor(200 * time.Millisecond)
	if a1.Partner() != b1.Actor() || b1.Partner() != a1.Actor() {
		t.Errorf("views disagree after renegotiation")
	}
}

func TestSimActorSystemStableWhenPortGoesDown(t *testing.T) {
	s := newTwoSys(t, 20*time.Millisecond, activeFast, activeFast, 0)
	s.converge(t, 5*time.Second)
	s.a[0].SetLink(false, s.n.clock.now)
	s.n.runFor(10 * time.Second)
	for i, p := range s.a {
		if got := p.Actor().System; got != simSysA {
			t.Errorf("a%d actor system %v, want %v", i+1, got, simSysA)
		}
	}
	if got := s.b[1].Partner().System; got != simSysA {
		t.Errorf("b2 partner system %v", got)
	}
	if sys, key := s.aggB.Partner(); sys != simSysA || key != simKeyA {
		t.Errorf("B's aggregator partner %v/%#x", sys, key)
	}
	for _, tx := range s.n.sent[s.a[1]] {
		if tx.pdu.Actor.System != simSysA {
			t.Fatalf("a2 sent actor system %v", tx.pdu.Actor.System)
		}
	}
}

func TestSimPartnerKeyMismatchUnselected(t *testing.T) {
	s := newTwoSys(t, 20*time.Millisecond, activeFast, activeFast, 0x0999)
	a1, a2, b1, b2 := s.a[0], s.a[1], s.b[0], s.b[1]
	s.n.onStep = func() {
		if a2.Collecting() || a2.Distributing() || b2.Distributing() {
			t.Fatalf("mismatched link aggregated at %v", s.n.elapsed())
		}
	}
	if _, ok := s.n.runUntil(5*time.Second, func() bool { return up(a1) && up(b1) }); !ok {
		t.Fatal("a1-b1 did not aggregate")
	}
	s.n.runFor(10 * time.Second)
	ok, why := s.aggA.Selected(a2)
	if ok || !strings.Contains(why, "key") {
		t.Errorf("a2 selected %v, reason %q; want unselected for the key", ok, why)
	}
	if ok, why := s.aggA.Selected(a1); !ok || why != "" {
		t.Errorf("a1 selected %v %q", ok, why)
	}
	if a2.ReceiveState() != ReceiveCurrent || a2.Partner().Key != 0x0999 {
		t.Errorf("a2 rx %v partner %+v", a2.ReceiveState(), a2.Partner())
	}
	if !up(a1) || !up(b1) {
		t.Error("a1-b1 stopped")
	}
}

// silence makes l lose everything from p.
func silence(l *simLink, p *Port) {
	l.drop = func(from *Port, _ *LACPDU) bool { return from == p }
}

func TestSimSilentPartnerExpiresThenDefaults(t *testing.T) {
	s := newTwoSys(t, 10*time.Millisecond, activeFast, activeFast, 0)
	s.converge(t, 5*time.Second)
	a1 := s.a[0]
	silence(s.l[0], s.b[0])

	took, ok := s.n.runUntil(5*time.Second, func() bool { return a1.ReceiveState() == ReceiveExpired })
	if !ok || took > ShortTimeoutTime {
		t.Fatalf("expired after %v (ok %v)", took, ok)
	}
	expiredAt := s.n.elapsed()
	if !a1.Actor().State.Has(StateExpired) || !a1.Partner().State.Has(StateTimeout) || a1.Partner().State.Has(StateSynchronization) {
		t.Errorf("expired: actor %v partner %v", a1.Actor().State, a1.Partner().State)
	}
	if a1.Collecting() || a1.Distributing() || a1.MuxState() != MuxAttached {
		t.Errorf("expired: mux %v", a1.MuxState())
	}
	if ok, _ := s.aggA.Selected(a1); !ok {
		t.Error("expired port unselected; it keeps its partner until DEFAULTED")
	}
	if !up(s.a[1]) {
		t.Error("a2 stopped")
	}

	took, ok = s.n.runUntil(5*time.Second, func() bool { return a1.ReceiveState() == ReceiveDefaulted })
	if !ok || took != ShortTimeoutTime {
		t.Fatalf("defaulted %v after expiring (ok %v)", took, ok)
	}
	st := a1.Actor().State
	if !st.Has(StateDefaulted) || st.Has(StateExpired) || st.Has(StateSynchronization) || a1.MuxState() != MuxDetached {
		t.Errorf("defaulted: actor %v mux %v", st, a1.MuxState())
	}
	if ok, why := s.aggA.Selected(a1); ok || !strings.Contains(why, "defaulted") {
		t.Errorf("defaulted port selected %v %q", ok, why)
	}
	if c := a1.Counters(); c.Expired != 1 || c.Defaulted != 1 {
		t.Errorf("counters %+v", c)
	}
	// While expired, a1 told b1 so in the LACPDUs it sent.
	sawExpired := false
	for _, tx := range s.n.sent[a1] {
		if d := tx.at.Sub(simEpoch); d >= expiredAt && d < expiredAt+ShortTimeoutTime {
			sawExpired = sawExpired || tx.pdu.Actor.State.Has(StateExpired)
		}
	}
	if !sawExpired {
		t.Error("no LACPDU with the Expired flag sent while expired")
	}
	// Once a1 detached, b1 heard that a1 is out of sync and stopped.
	s.n.runFor(100 * time.Millisecond)
	if up(s.b[0]) || s.b[0].MuxState() != MuxAttached {
		t.Errorf("b1 mux %v", s.b[0].MuxState())
	}
}

func TestSimSilentSlowPartnerExpiredAsksForFastRate(t *testing.T) {
	s := newTwoSys(t, 100*time.Millisecond, activeSlow, activeSlow, 0)
	s.converge(t, 5*time.Second)
	a1 := s.a[0]
	silence(s.l[0], s.b[0])
	took, ok := s.n.runUntil(2*time.Minute, func() bool { return a1.ReceiveState() == ReceiveExpired })
	if !ok || took > LongTimeoutTime || took < LongTimeoutTime-SlowPeriodicTime {
		t.Fatalf("expired after %v (ok %v), want within the 90s long timeout", took, ok)
	}
	from := s.n.elapsed()
	if a1.PeriodicState() == PeriodicSlow {
		t.Errorf("expired port still on the slow rate")
	}
	s.n.runUntil(5*time.Second, func() bool { return a1.ReceiveState() == ReceiveDefaulted })
	ts := s.n.txTimesBetween(a1, from, s.n.elapsed())
	if len(ts) < 2 {
		t.Fatalf("sent %v while expired, want the fast rate", ts)
	}
	for _, d := range ts[1:] {
		if dd := d - ts[0]; dd%FastPeriodicTime != 0 {
			t.Errorf("LACPDU at %v off the fast rate", d)
		}
	}
	for _, tx := range s.n.sent[a1] {
		if tx.at.Sub(simEpoch) == ts[0] && !tx.pdu.Partner.State.Has(StateTimeout) {
			t.Error("expired port did not record a short partner timeout")
		}
	}
}

func TestSimActorChurnWhenNeverInSync(t *testing.T) {
	s := newTwoSys(t, 100*time.Millisecond, activeFast, activeFast, 0x0999)
	a2, b2 := s.a[1], s.b[1]
	s.n.runFor(ChurnDetectionTime - time.Second)
	if ac, pc := a2.Churn(); ac != ChurnMonitor || pc != NoChurn {
		t.Errorf("a2 churn %v %v before Churn_Detection_Time", ac, pc)
	}
	s.n.runFor(2 * time.Second)
	if ac, pc := a2.Churn(); ac != Churn || pc != NoChurn {
		t.Errorf("a2 churn actor %v partner %v, want CHURN, NO_CHURN", ac, pc)
	}
	// b2 attached in its own aggregator, so it is in sync but its
	// partner never is.
	if ac, pc := b2.Churn(); ac != NoChurn || pc != Churn {
		t.Errorf("b2 churn actor %v partner %v, want NO_CHURN, CHURN", ac, pc)
	}
	for _, p := range []*Port{s.a[0], s.b[0]} {
		if ac, pc := p.Churn(); ac != NoChurn || pc != NoChurn {
			t.Errorf("in-sync port churn %v %v", ac, pc)
		}
	}
	if c := a2.Counters(); c.ActorChurn != 1 || c.PartnerChurn != 0 {
		t.Errorf("a2 counters %+v", c)
	}
	if c := b2.Counters(); c.ActorChurn != 0 || c.PartnerChurn != 1 {
		t.Errorf("b2 counters %+v", c)
	}
}

func TestSimLossyLinkStillAggregates(t *testing.T) {
	s := newTwoSys(t, 10*time.Millisecond, activeFast, activeFast, 0)
	n := 0
	for _, l := range s.l {
		l.drop = func(*Port, *LACPDU) bool { n++; return n%3 == 0 }
	}
	s.converge(t, 10*time.Second)
	s.n.onStep = func() {
		if !s.allUp() {
			t.Fatalf("aggregation lost at %v", s.n.elapsed())
		}
	}
	s.n.runFor(30 * time.Second)
}

// inFlight reports whether any LACPDU is on a link.
func (n *simNet) inFlight() bool {
	for _, l := range n.links {
		if len(l.toA) > 0 || len(l.toB) > 0 {
			return true
		}
	}
	return false
}

func TestSimDrivenByNextDeadline(t *testing.T) {
	// Rather than ticking on a fixed step, run each port only when its
	// NextDeadline says so, with a 1 ms link delay.
	s := newTwoSys(t, time.Millisecond, activeFast, activeFast, 0)
	events := 0
	for !s.allUp() {
		next := time.Time{}
		for _, p := range s.n.ports {
			if d := p.NextDeadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
				next = d
			}
		}
		if s.n.inFlight() {
			next = s.n.clock.now.Add(time.Millisecond)
		}
		if next.IsZero() || s.n.elapsed() > 5*time.Second {
			t.Fatalf("stuck at %v after %d events", s.n.elapsed(), events)
		}
		if next.Before(s.n.clock.now) {
			next = s.n.clock.now
		}
		s.n.stepTo(next)
		events++
	}
	if took := s.n.elapsed(); took < AggregateWaitTime || took > AggregateWaitTime+10*time.Millisecond {
		t.Errorf("aggregated after %v", took)
	}
	if events > 40 {
		t.Errorf("%d events to aggregate, want a few dozen at most", events)
	}
}

// TestSimDetachedPortLeavesAtOnceAndPartnerFollows detaches an aggregated
// port: it stops collecting and distributing at once, its next LACPDU
// says it is out of sync — as soon as the three-a-second limit allows,
// right after negotiation — and the partner's port leaves the aggregate
// on receiving it, without waiting for a timeout (the link stays current
// on both sides). The other link is never disturbed, and once no longer
// detached the port rejoins after Aggregate_Wait_Time.
func TestSimDetachedPortLeavesAtOnceAndPartnerFollows(t *testing.T) {
	s := newTwoSys(t, 10*time.Millisecond, activeFast, activeFast, 0)
	s.converge(t, 5*time.Second)
	a1, a2, b1, b2 := s.a[0], s.a[1], s.b[0], s.b[1]
	a1.SetDetached(true, s.n.clock.now)
	if up(a1) || a1.MuxState() != MuxDetached || a1.Actor().State.Has(StateSynchronization) {
		t.Fatalf("detached a1: mux %v actor %v", a1.MuxState(), a1.Actor().State)
	}
	s.n.onStep = func() {
		if !up(a2) || !up(b2) {
			t.Fatalf("the other link stopped distributing at %v", s.n.elapsed())
		}
		if up(a1) {
			t.Fatalf("detached a1 distributing at %v", s.n.elapsed())
		}
	}
	took, ok := s.n.runUntil(time.Second, func() bool { return !b1.Collecting() && !b1.Distributing() })
	if !ok || took > FastPeriodicTime+2*s.n.step {
		t.Fatalf("b1 left the aggregate after %v (ok %v), want within Fast_Periodic_Time (the transmit limit) and a step", took, ok)
	}
	if ok, why := s.aggA.Selected(a1); ok || why != "detached by the operator" {
		t.Errorf("a1 selected %v %q", ok, why)
	}
	s.n.runFor(10 * time.Second)
	if a1.ReceiveState() != ReceiveCurrent || b1.ReceiveState() != ReceiveCurrent || b1.Counters().Expired != 0 {
		t.Errorf("a detached link expired: a1 rx %v, b1 rx %v, b1 %+v", a1.ReceiveState(), b1.ReceiveState(), b1.Counters())
	}
	if b1.Partner().State.Has(StateSynchronization) {
		t.Errorf("b1 sees a1 in sync while detached: %v", b1.Partner().State)
	}
	s.n.onStep = nil
	a1.SetDetached(false, s.n.clock.now)
	took, ok = s.n.runUntil(5*time.Second, s.allUp)
	if !ok || took < AggregateWaitTime || took > AggregateWaitTime+100*time.Millisecond {
		t.Errorf("rejoined after %v (ok %v), want Aggregate_Wait_Time", took, ok)
	}
}

// bothLinksDown takes every link of s down at both ends and lets the
// aggregates fall apart.
func bothLinksDown(s *twoSys) {
	for _, p := range s.all() {
		p.SetLink(false, s.n.clock.now)
	}
	s.n.runFor(time.Second)
}

// A partner that answers a returning link only with its next periodic
// LACPDU (Open vSwitch does, up to Fast_Periodic_Time later) does not add
// that delay to the aggregate wait: the returning ports select on the
// partner information their Receive machines kept in EXPIRED.
func TestSimLinksBackSelectOnRetainedPartner(t *testing.T) {
	s := newTwoSys(t, 10*time.Millisecond, activeFast, activeFast, 0)
	s.converge(t, 5*time.Second)
	bothLinksDown(s)
	quietUntil := s.n.clock.now.Add(900 * time.Millisecond)
	for i := range s.l {
		s.l[i].drop = func(from *Port, _ *LACPDU) bool {
			return from.Actor().System == simSysB && s.n.clock.now.Before(quietUntil)
		}
	}
	for _, p := range s.all() {
		p.SetLink(true, s.n.clock.now)
	}
	s.n.update()
	for _, p := range s.a {
		if ok, why := s.aggA.Selected(p); !ok || p.MuxState() != MuxWaiting {
			t.Fatalf("a returning port is not waiting to attach: selected %v (%s), mux %v", ok, why, p.MuxState())
		}
	}
	took, ok := s.n.runUntil(5*time.Second, s.allUp)
	if !ok || took > AggregateWaitTime+200*time.Millisecond {
		t.Fatalf("aggregate back %v after the links (ok %v), want the aggregate wait and little more", took, ok)
	}
}

// The retained partner is only a start: when the LACPDUs that arrive on
// the returning links come from another system, the ports leave it and
// aggregate with the new one, and never distribute to the old one.
func TestSimLinksBackToAnotherPartner(t *testing.T) {
	s := newTwoSys(t, 10*time.Millisecond, activeFast, activeFast, 0)
	s.converge(t, 5*time.Second)
	bothLinksDown(s)
	simSysC := SystemID{Priority: 0x8000, MAC: [6]byte{0x02, 0, 0, 0, 0, 0x0c}}
	var c [2]*Port
	for i := range c {
		c[i] = s.n.port(simPortConfig(simSysC, 0x0303, uint16(i+1), activeFast))
		s.n.connect(s.a[i], c[i])
	}
	s.n.aggregator(c[0], c[1])
	for _, p := range append(s.a[:], c[0], c[1]) {
		p.SetLink(true, s.n.clock.now)
	}
	s.n.onStep = func() {
		for _, p := range s.a {
			if p.Distributing() && p.Partner().System != simSysC {
				t.Fatalf("a port distributes to partner %v", p.Partner().System)
			}
		}
	}
	took, ok := s.n.runUntil(6*time.Second, func() bool { return up(s.a[0]) && up(s.a[1]) && up(c[0]) && up(c[1]) })
	if !ok || took > 3100*time.Millisecond {
		t.Fatalf("aggregate with the new partner %v after the links (ok %v)", took, ok)
	}
}
