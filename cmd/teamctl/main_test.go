package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/teamgw/teamgw/control"
)

// TestRefusedClientsAreShown: an SLB team's refused neighbours appear in
// show and clients; a team without receive balancing has no such line.
func TestRefusedClientsAreShown(t *testing.T) {
	slb := control.TeamStatus{Name: "team0", Mode: "slb",
		Clients:        []control.ClientStatus{{IP: "192.0.2.10", MAC: "02:00:00:00:00:10", Member: "m0"}},
		ClientsRefused: map[string]uint64{"own_address": 1, "own_mac": 0, "off_subnet": 2, "invalid": 0},
		Drops:          map[string]uint64{"spoofed_arp": 40}}
	trunk := control.TeamStatus{Name: "team1", Mode: "trunk"}
	var b bytes.Buffer
	printShow(&b, &control.Status{Started: time.Now(), Teams: []control.TeamStatus{slb, trunk}})
	out := b.String()
	if !strings.Contains(out, "clients: 1  refused: invalid=0 off_subnet=2 own_address=1 own_mac=0") || !strings.Contains(out, "spoofed_arp=40") {
		t.Errorf("show:\n%s", out)
	}
	if strings.Count(out, "refused") != 1 {
		t.Errorf("show prints refusals for the trunk team too:\n%s", out)
	}
	b.Reset()
	printClients(&b, slb)
	if !strings.Contains(b.String(), "neighbours refused as clients: invalid=0 off_subnet=2 own_address=1 own_mac=0") {
		t.Errorf("clients:\n%s", b.String())
	}
}

// TestClientsShowTraffic: teamctl clients prints each client's member and
// inbound traffic, and each member's clients and load.
func TestClientsShowTraffic(t *testing.T) {
	ts := control.TeamStatus{Name: "team0", Mode: "slb", DirectedARPs: 9, ClientMoves: 2,
		Clients: []control.ClientStatus{
			{IP: "192.0.2.10", MAC: "02:00:00:00:00:10", Member: "m0", Packets: 5000, Bytes: 6000000, Rate: 1.2e6, PacketRate: 1000, Moves: 1},
			{IP: "192.0.2.11", MAC: "02:00:00:00:00:11", Member: "m1", Packets: 70, Bytes: 7000, Rate: 1400.4, PacketRate: 14},
		},
		Members: []control.MemberStatus{{Name: "m0", Clients: 1, ClientLoad: 1.2e6}, {Name: "m1", Clients: 1, ClientLoad: 1400.4}},
	}
	var b bytes.Buffer
	printClients(&b, ts)
	out := b.String()
	for _, want := range []string{
		"2 clients  directed ARPs sent 9  moved by traffic 2",
		"192.0.2.10  02:00:00:00:00:10  m0      5000     6000000   1000    1200000  1",
		"m1      1        1400\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("clients output lacks %q:\n%s", want, out)
		}
	}
}
