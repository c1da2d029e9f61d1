package control

import (
	"testing"
	"time"

	"github.com/teamgw/teamgw/lacp"
)

// lacpSetsTeam is a team of two LACP ports in one aggregator, both links
// up, without a data plane: enough for lacpSets.
func lacpSetsTeam(t0 time.Time) (*team, []*lacp.Port, *lacp.Aggregator) {
	agg := lacp.NewAggregator()
	tm := &team{lacp: &lacpTeam{agg: agg}}
	var ports []*lacp.Port
	for i := range 2 {
		p := lacp.NewPort(lacp.PortConfig{
			System: lacp.SystemID{Priority: 0x8000, MAC: [6]byte{2, 0, 0, 0, 0, 1}}, Key: 1,
			PortPriority: 0x8000, Port: uint16(i + 1), Active: true, ShortTimeout: true, Aggregatable: true,
		}, t0)
		agg.AddPort(p)
		p.SetLink(true, t0)
		ports = append(ports, p)
		tm.members = append(tm.members, &member{up: true})
	}
	tm.lacp.ports = ports
	return tm, ports, agg
}

// partnerPDU is a LACPDU from partner port n in sync, with its view of p
// as p is now, or with the actor's synchronization cleared when stale.
func partnerPDU(p *lacp.Port, n uint16, stale bool) *lacp.LACPDU {
	view := p.Actor()
	if stale {
		view.State &^= lacp.StateSynchronization
	}
	return &lacp.LACPDU{Version: 1, Partner: view, Actor: lacp.PortInfo{
		System: lacp.SystemID{Priority: 0x8000, MAC: [6]byte{2, 0, 0, 0, 0, 2}}, Key: 7, PortPriority: 0x8000, Port: n,
		State: lacp.StateActivity | lacp.StateTimeout | lacp.StateAggregation | lacp.StateSynchronization |
			lacp.StateCollecting | lacp.StateDistributing,
	}}
}

func TestLACPSetsHoldNewMemberUntilPartnerAcknowledges(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tm, ports, agg := lacpSetsTeam(t0)
	// Member 0 aggregates and the partner acknowledges it in sync.
	at := t0.Add(100 * time.Millisecond)
	ports[0].Receive(partnerPDU(ports[0], 1, false), at)
	agg.Update(at)
	at = at.Add(lacp.AggregateWaitTime)
	agg.Update(at)
	ports[0].Receive(partnerPDU(ports[0], 1, false), at)
	agg.Update(at)
	if !ports[0].Distributing() || !ports[0].InSyncAtPartner() {
		t.Fatalf("setup: member 0 distributing %v, acknowledged %v", ports[0].Distributing(), ports[0].InSyncAtPartner())
	}
	// Member 1 joins later: distributing, but the partner's last LACPDU
	// predates its sync.
	ports[1].Receive(partnerPDU(ports[1], 2, false), at)
	agg.Update(at)
	at = at.Add(lacp.AggregateWaitTime)
	agg.Update(at)
	ports[1].Receive(partnerPDU(ports[1], 2, true), at)
	agg.Update(at)
	if !ports[1].Distributing() || ports[1].InSyncAtPartner() {
		t.Fatalf("setup: member 1 distributing %v, acknowledged %v", ports[1].Distributing(), ports[1].InSyncAtPartner())
	}
	collecting, distributing, _ := tm.lacpSets(0)
	if !collecting[1] || distributing[1] || !distributing[0] {
		t.Errorf("before the acknowledgement: collecting %v, distributing %v; want member 1 collecting, not yet distributing", collecting, distributing)
	}
	at = at.Add(500 * time.Millisecond)
	ports[0].Receive(partnerPDU(ports[0], 1, false), at)
	ports[1].Receive(partnerPDU(ports[1], 2, false), at)
	agg.Update(at)
	if _, distributing, _ := tm.lacpSets(0); !distributing[0] || !distributing[1] {
		t.Errorf("after the acknowledgement: distributing %v, want both", distributing)
	}
}

func TestLACPSetsUseUnacknowledgedMembersWhenNoneIs(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tm, ports, agg := lacpSetsTeam(t0)
	at := t0.Add(100 * time.Millisecond)
	for i, p := range ports {
		p.Receive(partnerPDU(p, uint16(i+1), false), at)
	}
	agg.Update(at)
	at = at.Add(lacp.AggregateWaitTime)
	agg.Update(at)
	// Neither is acknowledged yet (the partner's LACPDUs predate the
	// sync): with nothing else to carry traffic, both are used at once.
	for i, p := range ports {
		p.Receive(partnerPDU(p, uint16(i+1), true), at)
	}
	agg.Update(at)
	if _, distributing, _ := tm.lacpSets(0); !distributing[0] || !distributing[1] {
		t.Errorf("distributing %v, want both", distributing)
	}
}
