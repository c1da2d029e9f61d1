package slb

import (
	"net/netip"
	"testing"
	"time"
)

// assign runs a fresh balancer's Assign after it has seen prev active
// (nil: nothing), as a daemon would after the change prev -> active.
func assign(cs []*Client, prev, active []bool, weights []float64) []*Client {
	b := &RxBalancer{Config: DefaultRxBalanceConfig(), prevActive: prev}
	return b.Assign(cs, active, weights, t0)
}

func clientsN(n int) []*Client {
	var cs []*Client
	for i := range n {
		cs = append(cs, &Client{IP: netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}), Member: -1})
	}
	return cs
}

func TestAssignClientsSpreadsNewClients(t *testing.T) {
	cs := clientsN(6)
	moved := assign(cs, nil, []bool{true, true, true}, nil)
	if len(moved) != 6 {
		t.Fatalf("moved %d, want all 6 new clients", len(moved))
	}
	per := map[int]int{}
	for _, c := range cs {
		per[c.Member]++
	}
	if per[0] != 2 || per[1] != 2 || per[2] != 2 {
		t.Errorf("clients per member %v, want 2 each", per)
	}
	if again := assign(cs, []bool{true, true, true}, []bool{true, true, true}, nil); len(again) != 0 {
		t.Errorf("a second round moved %d clients, want none", len(again))
	}
}

func TestAssignClientsMovesOnlyTheFailedMembersClients(t *testing.T) {
	cs := clientsN(6)
	assign(cs, nil, []bool{true, true, true}, nil)
	var onOne []*Client
	for _, c := range cs {
		if c.Member == 1 {
			onOne = append(onOne, c)
		}
	}
	moved := assign(cs, []bool{true, true, true}, []bool{true, false, true}, nil)
	if len(moved) != len(onOne) {
		t.Fatalf("moved %d clients, want the %d of the failed member", len(moved), len(onOne))
	}
	for _, c := range moved {
		if c.Member == 1 {
			t.Errorf("client %s still on the failed member", c.IP)
		}
	}
}

func TestAssignClientsWeighsBySpeed(t *testing.T) {
	cs := clientsN(11)
	assign(cs, nil, []bool{true, true}, []float64{10000, 1000})
	per := map[int]int{}
	for _, c := range cs {
		per[c.Member]++
	}
	if per[0] != 10 || per[1] != 1 {
		t.Errorf("clients per member %v, want 10 on the 10G member and 1 on the 1G", per)
	}
}

func TestAssignClientsWithoutActiveMembersMovesNothing(t *testing.T) {
	cs := clientsN(2)
	if moved := assign(cs, nil, []bool{false, false}, nil); moved != nil || cs[0].Member != -1 {
		t.Errorf("moved %v, member %d; want nothing", moved, cs[0].Member)
	}
}

func TestAssignClientsFillsAMemberThatBecomesActive(t *testing.T) {
	cs := clientsN(6)
	assign(cs, nil, []bool{true, false}, nil) // all on member 0
	moved := assign(cs, []bool{true, false}, []bool{true, true}, nil)
	per := map[int]int{}
	for _, c := range cs {
		per[c.Member]++
	}
	if per[0] != 3 || per[1] != 3 || len(moved) != 3 {
		t.Errorf("after member 1 joined: %v clients per member, %d moved; want 3/3 and 3 moved", per, len(moved))
	}
	if again := assign(cs, []bool{true, true}, []bool{true, true}, nil); len(again) != 0 {
		t.Errorf("balanced table moved %d clients", len(again))
	}
}

func TestAssignClientsToleratesOneClientOfSpread(t *testing.T) {
	cs := clientsN(3)
	assign(cs, nil, []bool{true, true}, nil)
	if moved := assign(cs, []bool{true, true}, []bool{true, true}, nil); len(moved) != 0 {
		t.Errorf("2/1 spread moved %d clients, want none (hysteresis)", len(moved))
	}
}

func TestAssignClientsEvensCountsOnlyWhenAMemberJoins(t *testing.T) {
	cs := clientsN(6)
	assign(cs, nil, []bool{true, true}, nil)
	// Three clients of member 1 leave: 3/0 is uneven, but no member
	// joined, so nobody is re-pointed (traffic balancing may, later).
	var left []*Client
	for _, c := range cs {
		if c.Member == 0 {
			left = append(left, c)
		}
	}
	if moved := assign(left, []bool{true, true}, []bool{true, true}, nil); len(moved) != 0 {
		t.Errorf("moved %d clients without a member joining, want none", len(moved))
	}
}

func TestFirstAssignmentIsNotAMove(t *testing.T) {
	cs := clientsN(2)
	assign(cs, nil, []bool{true, true}, nil)
	for _, c := range cs {
		if c.Moves != 0 || !c.LastMoved.IsZero() {
			t.Errorf("client %s: %d moves, last %v after its first assignment; want none", c.IP, c.Moves, c.LastMoved)
		}
	}
	moved := assign(cs, []bool{true, true}, []bool{true, false}, nil)
	for _, c := range moved {
		if c.Moves != 1 || !c.LastMoved.Equal(t0) {
			t.Errorf("client %s moved by failover: %d moves, last %v; want 1 at %v", c.IP, c.Moves, c.LastMoved, t0)
		}
	}
}

func TestObserveDecaysTowardsTheRate(t *testing.T) {
	var c Client
	tau := 10 * time.Second
	c.Observe(100, 100000, tau, tau) // one tau at 10 kB/s from nothing
	if want := 10000 * (1 - 0.36787944); c.Load < want-1 || c.Load > want+1 {
		t.Errorf("load after one time constant %.1f, want %.1f (1-1/e of the rate)", c.Load, want)
	}
	for range 100 {
		c.Observe(10, 10000, time.Second, tau)
	}
	if c.Load < 9990 || c.Load > 10010 || c.PacketRate < 9.99 || c.PacketRate > 10.01 {
		t.Errorf("steady 10 kB/s, 10 pkt/s: load %.1f B/s, %.2f pkt/s", c.Load, c.PacketRate)
	}
	if c.Packets != 1100 || c.Bytes != 1100000 {
		t.Errorf("totals %d packets %d bytes, want 1100 and 1100000", c.Packets, c.Bytes)
	}
	c.Observe(5, 5, 0, tau) // no time: totals only
	if c.Packets != 1105 || c.Load < 9990 {
		t.Errorf("zero interval: %d packets, load %.1f", c.Packets, c.Load)
	}
}
