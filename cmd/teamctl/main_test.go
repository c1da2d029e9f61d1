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
