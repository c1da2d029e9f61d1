package slb

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// rxSim is a team with simulated clients that send steady traffic, a
// manual clock and a balancer driven the way the daemon drives it: every
// second the clients' counters are observed, then Assign and Balance run.
type rxSim struct {
	t       *testing.T
	b       *RxBalancer
	clients []*Client
	rate    map[*Client]float64 // bytes per second each client sends
	active  []bool
	weights []float64
	now     time.Time
	jitter  float64 // each second's traffic varies by up to this fraction
	rnd     *rand.Rand
	moves   int // clients moved so far (Assign and Balance)
}

func newRxSim(t *testing.T, cfg RxBalanceConfig, members int, rates ...float64) *rxSim {
	s := &rxSim{t: t, b: &RxBalancer{Config: cfg}, rate: map[*Client]float64{}, now: t0, rnd: rand.New(rand.NewPCG(1, 2))}
	for range members {
		s.active = append(s.active, true)
		s.weights = append(s.weights, 1)
	}
	for i, r := range rates {
		c := &Client{IP: netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}), Member: -1}
		s.clients = append(s.clients, c)
		s.rate[c] = r
	}
	s.b.Assign(s.clients, s.active, s.weights, s.now)
	return s
}

// run advances the clock by n seconds.
func (s *rxSim) run(n int) {
	for range n {
		s.now = s.now.Add(time.Second)
		for _, c := range s.clients {
			r := s.rate[c] * (1 + s.jitter*(2*s.rnd.Float64()-1))
			c.Observe(uint64(r/1000), uint64(r), time.Second, s.b.Config.Interval)
		}
		s.moves += len(s.b.Assign(s.clients, s.active, s.weights, s.now))
		s.moves += len(s.b.Balance(s.clients, s.active, s.weights, s.now))
	}
}

// load is the traffic each member really receives (the clients' rates).
func (s *rxSim) load() []float64 {
	l := make([]float64, len(s.active))
	for _, c := range s.clients {
		if c.Member >= 0 {
			l[c.Member] += s.rate[c]
		}
	}
	return l
}

// spread is (busiest - idlest) / mean of the active members' real loads.
func (s *rxSim) spread() float64 {
	lo, hi, sum, n := math.Inf(1), 0.0, 0.0, 0
	for i, l := range s.load() {
		if !s.active[i] {
			continue
		}
		lo, hi, sum, n = min(lo, l/s.weights[i]), max(hi, l/s.weights[i]), sum+l, n+1
	}
	w := 0.0
	for i, a := range s.active {
		if a {
			w += s.weights[i]
		}
	}
	return (hi - lo) / (sum / w)
}

func (s *rxSim) members(cs ...*Client) []int {
	var m []int
	for _, c := range cs {
		m = append(m, c.Member)
	}
	return m
}

func fastConfig() RxBalanceConfig {
	cfg := DefaultRxBalanceConfig()
	cfg.Interval = 2 * time.Second
	cfg.Cooldown = 10 * time.Second
	return cfg
}

func TestRxBalanceSeparatesAHeavyClient(t *testing.T) {
	// One client sends 1 MB/s, five send 200 kB/s: spread by count the
	// heavy one shares its member with two light ones.
	s := newRxSim(t, fastConfig(), 2, 1e6, 2e5, 2e5, 2e5, 2e5, 2e5)
	heavy := s.clients[0]
	if l := s.load(); l[heavy.Member] != 1.4e6 {
		t.Fatalf("by count the heavy client's member gets %.0f B/s, want 1.4e6 (the premise)", l[heavy.Member])
	}
	s.run(60)
	for _, c := range s.clients[1:] {
		if c.Member == heavy.Member {
			t.Errorf("light client %s still shares member %d with the heavy client", c.IP, c.Member)
		}
	}
	if sp := s.spread(); sp > 0.01 {
		t.Errorf("members' loads %v, spread %.2f of the mean, want even", s.load(), sp)
	}
	if heavy.Moves != 0 {
		t.Errorf("the heavy client moved %d times, want 0 (the light ones should go)", heavy.Moves)
	}
	before := s.moves
	s.run(300)
	if s.moves != before {
		t.Errorf("%d more moves in 5 minutes of the same traffic, want none", s.moves-before)
	}
}

func TestRxBalanceDoesNotBounceUnderNoisyTraffic(t *testing.T) {
	// Twelve clients of uneven, noisy traffic (each second's rate is
	// off by up to 30%) on three members for an hour with the default
	// settings: once the members are even within the threshold, the
	// noise must not keep clients moving.
	rates := []float64{9e5, 7e5, 5e5, 4e5, 3e5, 3e5, 2e5, 2e5, 1e5, 1e5, 5e4, 5e4}
	s := newRxSim(t, DefaultRxBalanceConfig(), 3, rates...)
	s.jitter = 0.3
	s.run(120)
	settled := s.moves
	if sp := s.spread(); sp >= s.b.Config.Threshold {
		t.Errorf("after two minutes the loads %v spread %.2f of the mean, want under the %.2f threshold", s.load(), sp, s.b.Config.Threshold)
	}
	s.run(3600)
	t.Logf("%d moves while settling, %d in the hour after; loads %v", settled, s.moves-settled, s.load())
	if extra := s.moves - settled; extra > 2 {
		t.Errorf("%d moves in the hour after settling (loads %v), want at most 2: clients bounce", extra, s.load())
	}
	for _, c := range s.clients {
		if c.Moves > 2 {
			t.Errorf("client %s moved %d times", c.IP, c.Moves)
		}
	}
}

func TestRxBalanceWaitsForTheInterval(t *testing.T) {
	b := &RxBalancer{Config: fastConfig()}
	cs := clientsN(4)
	active := []bool{true, true}
	b.Assign(cs, active, nil, t0)
	for i, c := range cs {
		c.Load = 1e5
		if c.Member == 0 && i < 2 {
			c.Load = 1e6
		}
	}
	if moved := b.Balance(cs, active, nil, t0); len(moved) == 0 {
		t.Fatal("first round moved nothing on a 10:1 imbalance")
	}
	for _, c := range cs {
		c.Member = 0 // imbalanced again, at once
	}
	if moved := b.Balance(cs, active, nil, t0.Add(time.Second)); moved != nil {
		t.Errorf("a round 1 s after the last (interval 2 s) moved %d clients", len(moved))
	}
	if moved := b.Balance(cs, active, nil, t0.Add(2*time.Second)); len(moved) == 0 {
		t.Error("a round one interval later moved nothing")
	}
}

func TestRxBalanceRespectsTheCooldown(t *testing.T) {
	cfg := fastConfig()
	b := &RxBalancer{Config: cfg}
	cs := clientsN(3)
	for _, c := range cs {
		c.Member, c.Load = 0, 3e5
	}
	cs[0].LastMoved = t0.Add(-time.Second) // just moved (by failover, say)
	cs[1].LastMoved = t0.Add(-time.Second)
	moved := b.Balance(cs, []bool{true, true}, nil, t0)
	if len(moved) != 1 || moved[0] != cs[2] {
		t.Fatalf("moved %v, want only the client out of its cooldown (%s)", moved, cs[2].IP)
	}
	// Member 1 drops to 1e5 while member 0 has 6e5: worth a move, but the
	// clients left on member 0 are in their cooldown until t0+9s.
	cs[2].Load = 1e5
	if moved := b.Balance(cs, []bool{true, true}, nil, t0.Add(cfg.Interval)); len(moved) != 0 {
		t.Errorf("moved %d clients in their cooldown", len(moved))
	}
	if moved := b.Balance(cs, []bool{true, true}, nil, t0.Add(cfg.Cooldown)); len(moved) != 1 {
		t.Errorf("once out of their cooldown %d clients moved, want 1", len(moved))
	}
}

func TestRxBalanceLeavesSmallImbalancesAndThinTraffic(t *testing.T) {
	cfg := fastConfig()
	cs := clientsN(4)
	for i, c := range cs {
		c.Member = i % 2
		c.Load = 1e5
	}
	cs[0].Load = 1.4e5 // member 0: 2.4e5, member 1: 2e5 — 18% of the mean
	b := &RxBalancer{Config: cfg}
	if moved := b.Balance(cs, []bool{true, true}, nil, t0); moved != nil {
		t.Errorf("an imbalance under the threshold moved %d clients", len(moved))
	}
	for _, c := range cs {
		c.Load /= 100 // 4.4 kB/s in all: under MinRate
	}
	cs[0].Load = 5000
	b = &RxBalancer{Config: cfg}
	if moved := b.Balance(cs, []bool{true, true}, nil, t0); moved != nil {
		t.Errorf("traffic under MinRate moved %d clients", len(moved))
	}
	cfg.Interval = 0 // off
	cs[0].Load = 1e7
	b = &RxBalancer{Config: cfg}
	if moved := b.Balance(cs, []bool{true, true}, nil, t0); moved != nil {
		t.Errorf("balancing turned off moved %d clients", len(moved))
	}
}

func TestRxBalanceWeighsMembersBySpeed(t *testing.T) {
	// Eleven equal clients on a 10G and a 1G member: the 1G member's
	// share is a tenth.
	rates := slices.Repeat([]float64{1e5}, 11)
	s := newRxSim(t, fastConfig(), 2, rates...)
	s.weights = []float64{10000, 1000}
	for _, c := range s.clients {
		c.Member = 1 // all on the slow member to start with
	}
	s.run(120)
	if l := s.load(); l[0] != 1e6 || l[1] != 1e5 {
		t.Errorf("loads %v B/s, want 1e6 on the 10G member and 1e5 on the 1G", l)
	}
}

func TestRxBalanceFailoverAndFallback(t *testing.T) {
	s := newRxSim(t, fastConfig(), 2, 1e6, 2e5, 2e5, 2e5, 2e5, 2e5)
	heavy, light := s.clients[0], s.clients[1:]
	separated := func(when string) {
		t.Helper()
		for _, c := range light {
			if c.Member == heavy.Member || c.Member != light[0].Member {
				t.Fatalf("%s: heavy client on %d, light ones on %v; want the heavy one alone", when, heavy.Member, s.members(light...))
			}
		}
	}
	s.run(60)
	separated("balanced")

	for _, failed := range []string{"light", "heavy"} {
		m := light[0].Member
		if failed == "heavy" {
			m = heavy.Member
		}
		// The member fails: its clients go to the survivor at once,
		// whatever their cooldown.
		s.active[m] = false
		s.b.Assign(s.clients, s.active, s.weights, s.now)
		for _, c := range s.clients {
			if c.Member != 1-m {
				t.Fatalf("%s member failed: client %s on member %d, want %d", failed, c.IP, c.Member, 1-m)
			}
		}
		s.run(30) // the balancer has nowhere to move them
		// It returns: by traffic, one move (the heavy client, half the
		// load) evens the members out at once.
		s.active[m] = true
		if moved := s.b.Assign(s.clients, s.active, s.weights, s.now); len(moved) != 1 || moved[0] != heavy {
			t.Errorf("%s member returned: moved %d clients, want just the heavy one", failed, len(moved))
		}
		separated(failed + " member returned")
	}
	before := s.moves
	s.run(120)
	if s.moves != before {
		t.Errorf("%d balancing moves after fallback restored the even split", s.moves-before)
	}
}

func TestAssignPlacesNewClientsByTraffic(t *testing.T) {
	b := &RxBalancer{Config: fastConfig()}
	cs := clientsN(2)
	b.Assign(cs, []bool{true, true}, nil, t0)
	cs[0].Load = 1e6 // member 0 is busy
	cs[1].Load = 1e5
	added := clientsN(5)[2:] // three new clients without history
	all := append(cs, added...)
	b.Assign(all, []bool{true, true}, nil, t0)
	per := map[int]int{}
	for _, c := range added {
		per[c.Member]++
	}
	if per[cs[1].Member] != 2 || per[cs[0].Member] != 1 {
		t.Errorf("new clients per member %v (busy member %d), want 2 on the idle member and 1 on the busy one", per, cs[0].Member)
	}
}

func TestRxBalanceReorderKeepsWhoJoined(t *testing.T) {
	// Four members, the second down; the first, without clients, is
	// removed, so the others are renumbered 0, 1 and 2. Nobody joined:
	// the uneven spread (1 and 3, left by departures) stays.
	b := &RxBalancer{Config: fastConfig()}
	cs := clientsN(4)
	b.Assign(nil, []bool{true, false, true, true}, nil, t0)
	cs[0].Member = 2
	for _, c := range cs[1:] {
		c.Member = 3
	}
	b.Reorder([]int{1, 2, 3})
	for _, c := range cs {
		c.Member--
	}
	if moved := b.Assign(cs, []bool{false, true, true}, nil, t0); len(moved) != 0 {
		t.Errorf("after renumbering, %d clients moved as if a member had joined", len(moved))
	}
	// The renumbered member 0 comes up: it joined, and takes its share.
	if moved := b.Assign(cs, []bool{true, true, true}, nil, t0); len(moved) != 1 {
		t.Errorf("member 0 came up: moved %d clients, want 1", len(moved))
	}
}
