package lacp

import (
	"testing"
	"time"
)

var simSysC = SystemID{Priority: 0x8000, MAC: [6]byte{0x02, 0, 0, 0, 0, 0x0c}}

// teamOf returns an aggregator over ports of system A with the given port
// priorities, numbered from 1, links up at the epoch.
func teamOf(priorities ...uint16) (*Aggregator, []*Port) {
	var ports []*Port
	for i, prio := range priorities {
		cfg := fastCfg(uint16(i + 1))
		cfg.PortPriority = prio
		ports = append(ports, NewPort(cfg, at(0)))
	}
	a := NewAggregator(ports...)
	for _, p := range ports {
		p.SetLink(true, at(0))
	}
	a.Update(at(0))
	return a, ports
}

func partnerOn(sys SystemID, key, port uint16) PortInfo {
	return PortInfo{System: sys, Key: key, PortPriority: 0x8000, Port: port, State: peerActive}
}

func TestSelectionChoosesPartnerOfBestPort(t *testing.T) {
	a, ports := teamOf(0x8000, 0x0010, 0x8000)
	ports[0].Receive(from(ports[0], partnerOn(simSysB, simKeyB, 1)), at(time.Second))
	ports[1].Receive(from(ports[1], partnerOn(simSysC, simKeyB, 1)), at(time.Second))
	ports[2].Receive(from(ports[2], partnerOn(simSysC, simKeyB, 2)), at(time.Second))
	a.Update(at(time.Second))
	if sys, key := a.Partner(); sys != simSysC || key != simKeyB {
		t.Fatalf("partner %v/%#x, want the best port's", sys, key)
	}
	for i, want := range []bool{false, true, true} {
		if ok, why := a.Selected(ports[i]); ok != want {
			t.Errorf("port %d selected %v (%q)", i+1, ok, why)
		}
	}
	if _, why := a.Selected(ports[0]); why != "partner system differs" {
		t.Errorf("reason %q", why)
	}
}

func TestSelectionKeepsPartnerWhileAnyPortHasIt(t *testing.T) {
	a, ports := teamOf(0x8000, 0x0010)
	p1, p2 := ports[0], ports[1]
	p1.Receive(from(p1, partnerOn(simSysB, simKeyB, 1)), at(time.Second))
	a.Update(at(time.Second))
	// A better port comes up with another partner: no flapping.
	for d := time.Second; d < 10*time.Second; d += 500 * ms {
		p1.Receive(from(p1, partnerOn(simSysB, simKeyB, 1)), at(d))
		p2.Receive(from(p2, partnerOn(simSysC, simKeyB, 1)), at(d))
		a.Update(at(d))
		if sys, _ := a.Partner(); sys != simSysB {
			t.Fatalf("partner flapped to %v at %v", sys, d)
		}
	}
	if ok, why := a.Selected(p2); ok || why != "partner system differs" {
		t.Errorf("p2 selected %v %q", ok, why)
	}
	if p1.MuxState() != MuxAttached {
		t.Errorf("p1 mux %v", p1.MuxState())
	}
	// p1's partner falls silent; once it is DEFAULTED the aggregator
	// takes p2's partner.
	for d := 10 * time.Second; d < 20*time.Second; d += 500 * ms {
		p2.Receive(from(p2, partnerOn(simSysC, simKeyB, 1)), at(d))
		a.Update(at(d))
	}
	if sys, _ := a.Partner(); sys != simSysC {
		t.Errorf("partner %v, want %v", sys, simSysC)
	}
	if ok, _ := a.Selected(p2); !ok || p2.MuxState() != MuxAttached {
		t.Errorf("p2 mux %v", p2.MuxState())
	}
	if ok, _ := a.Selected(p1); ok || p1.MuxState() != MuxDetached {
		t.Errorf("p1 mux %v", p1.MuxState())
	}
}

func TestSelectionReasons(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    func(*PortConfig) // edits the port's configuration
		pdu    func(*PortInfo)   // edits the partner's Actor TLV
		down   bool              // link down
		detach bool              // detached by the operator
		silent bool              // no LACPDU from the partner
		want   string
	}{
		{name: "link down", down: true, want: "link down"},
		{name: "detached", detach: true, want: "detached by the operator"},
		{name: "not aggregatable", cfg: func(c *PortConfig) { c.Aggregatable = false }, want: "not aggregatable"},
		{name: "actor key", cfg: func(c *PortConfig) { c.Key++ }, want: "actor key differs"},
		{name: "actor system", cfg: func(c *PortConfig) { c.System = simSysC }, want: "actor system differs"},
		{name: "defaulted", silent: true, want: "partner defaulted: no LACPDU received"},
		{name: "individual partner", pdu: func(v *PortInfo) { v.State &^= StateAggregation }, want: "partner individual"},
		{name: "partner system", pdu: func(v *PortInfo) { v.System = simSysC }, want: "partner system differs"},
		{name: "partner key", pdu: func(v *PortInfo) { v.Key++ }, want: "partner key differs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := NewPort(fastCfg(1), at(0))
			cfg := fastCfg(2)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			p := NewPort(cfg, at(0))
			a := NewAggregator(good, p)
			good.SetLink(true, at(0))
			p.SetLink(!tc.down, at(0))
			p.SetDetached(tc.detach, at(0))
			good.Receive(from(good, partnerOn(simSysB, simKeyB, 1)), at(time.Second))
			if !tc.silent {
				v := partnerOn(simSysB, simKeyB, 2)
				if tc.pdu != nil {
					tc.pdu(&v)
				}
				p.Receive(from(p, v), at(time.Second))
			}
			a.Update(at(time.Second))
			if ok, why := a.Selected(good); !ok {
				t.Fatalf("good port unselected: %q", why)
			}
			if ok, why := a.Selected(p); ok || why != tc.want {
				t.Errorf("selected %v %q, want %q", ok, why, tc.want)
			}
			a.Update(at(10 * time.Second))
			if p.MuxState() != MuxDetached || p.Collecting() || p.Distributing() {
				t.Errorf("mux %v", p.MuxState())
			}
		})
	}
}

func TestSelectedNotAMember(t *testing.T) {
	a, _ := teamOf(1)
	other := NewPort(fastCfg(9), at(0))
	if ok, why := a.Selected(other); ok || why != "not a port of this aggregator" {
		t.Errorf("selected %v %q", ok, why)
	}
}

func TestAggregatorWithoutPartner(t *testing.T) {
	a, ports := teamOf(1, 2)
	if sys, key := a.Partner(); sys != (SystemID{}) || key != 0 {
		t.Errorf("partner %v/%#x", sys, key)
	}
	if ok, why := a.Selected(ports[0]); ok || why != "partner defaulted: no LACPDU received" {
		t.Errorf("selected %v %q", ok, why)
	}
	NewAggregator().Update(at(time.Second)) // no ports: nothing to do
}

func TestNewAggregatorPanicsOnSharedPort(t *testing.T) {
	p := NewPort(fastCfg(1), at(0))
	NewAggregator(p)
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	NewAggregator(p)
}

func TestAggregatorPortsIsACopy(t *testing.T) {
	a, ports := teamOf(1, 2)
	got := a.Ports()
	got[0] = nil
	if a.Ports()[0] != ports[0] || len(a.Ports()) != 2 {
		t.Error("Ports exposes the aggregator's slice")
	}
}

// TestAggregatorAddAndRemovePort grows a team by a port that then joins
// the partner's aggregate, and shrinks it by the port that held the
// partner: the aggregator takes the remaining port's partner.
func TestAggregatorAddAndRemovePort(t *testing.T) {
	a, ports := teamOf(0x0010)
	p1 := ports[0]
	p1.Receive(from(p1, partnerOn(simSysB, simKeyB, 1)), at(time.Second))
	a.Update(at(time.Second))
	p2 := NewPort(fastCfg(2), at(time.Second))
	p2.SetLink(true, at(time.Second))
	a.AddPort(p2)
	if got := a.Ports(); len(got) != 2 || got[1] != p2 {
		t.Fatalf("ports after AddPort: %v", got)
	}
	for d := 2 * time.Second; d < 6*time.Second; d += 500 * ms {
		p1.Receive(from(p1, partnerOn(simSysB, simKeyB, 1)), at(d))
		p2.Receive(from(p2, partnerOn(simSysB, simKeyB, 2)), at(d))
		a.Update(at(d))
	}
	if ok, why := a.Selected(p2); !ok || p1.MuxState() != MuxAttached || p2.MuxState() != MuxAttached {
		t.Fatalf("added port selected %v (%s); mux %v and %v, want both ATTACHED", ok, why, p1.MuxState(), p2.MuxState())
	}
	a.RemovePort(p1)
	if ok, why := a.Selected(p1); ok || why != "not a port of this aggregator" {
		t.Errorf("removed port: selected %v %q", ok, why)
	}
	if p1.MuxState() != MuxDetached {
		t.Errorf("removed port's mux %v, want DETACHED", p1.MuxState())
	}
	for d := 6 * time.Second; d < 12*time.Second; d += 500 * ms {
		p2.Receive(from(p2, partnerOn(simSysB, simKeyB, 2)), at(d))
		a.Update(at(d))
	}
	if sys, _ := a.Partner(); sys != simSysB {
		t.Errorf("partner %v after removing a port, want %v", sys, simSysB)
	}
	if p2.MuxState() != MuxAttached {
		t.Errorf("remaining port's mux %v, want ATTACHED", p2.MuxState())
	}
	defer func() {
		if recover() == nil {
			t.Error("AddPort of a port of another aggregator did not panic")
		}
	}()
	NewAggregator().AddPort(p2)
}
