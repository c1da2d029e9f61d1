package slb

import (
	"net/netip"
	"testing"
)

func clientsN(n int) []*Client {
	var cs []*Client
	for i := range n {
		cs = append(cs, &Client{IP: netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}), Member: -1})
	}
	return cs
}

func TestAssignClientsSpreadsNewClients(t *testing.T) {
	cs := clientsN(6)
	moved := AssignClients(cs, []bool{true, true, true}, nil)
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
	if again := AssignClients(cs, []bool{true, true, true}, nil); len(again) != 0 {
		t.Errorf("a second round moved %d clients, want none", len(again))
	}
}

func TestAssignClientsMovesOnlyTheFailedMembersClients(t *testing.T) {
	cs := clientsN(6)
	AssignClients(cs, []bool{true, true, true}, nil)
	var onOne []*Client
	for _, c := range cs {
		if c.Member == 1 {
			onOne = append(onOne, c)
		}
	}
	moved := AssignClients(cs, []bool{true, false, true}, nil)
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
	AssignClients(cs, []bool{true, true}, []float64{10000, 1000})
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
	if moved := AssignClients(cs, []bool{false, false}, nil); moved != nil || cs[0].Member != -1 {
		t.Errorf("moved %v, member %d; want nothing", moved, cs[0].Member)
	}
}

func TestAssignClientsFillsAMemberThatBecomesActive(t *testing.T) {
	cs := clientsN(6)
	AssignClients(cs, []bool{true, false}, nil) // all on member 0
	moved := AssignClients(cs, []bool{true, true}, nil)
	per := map[int]int{}
	for _, c := range cs {
		per[c.Member]++
	}
	if per[0] != 3 || per[1] != 3 || len(moved) != 3 {
		t.Errorf("after member 1 joined: %v clients per member, %d moved; want 3/3 and 3 moved", per, len(moved))
	}
	if again := AssignClients(cs, []bool{true, true}, nil); len(again) != 0 {
		t.Errorf("balanced table moved %d clients", len(again))
	}
}

func TestAssignClientsToleratesOneClientOfSpread(t *testing.T) {
	cs := clientsN(3)
	AssignClients(cs, []bool{true, true}, nil)
	if moved := AssignClients(cs, []bool{true, true}, nil); len(moved) != 0 {
		t.Errorf("2/1 spread moved %d clients, want none (hysteresis)", len(moved))
	}
}
