package main

import (
	"net/netip"
	"testing"

	"github.com/teamgw/teamgw/dataplane"
	"github.com/teamgw/teamgw/perf/traffic"
)

func TestClientSlotsHoldTheSourcesThatFit(t *testing.T) {
	frames := traffic.Mix(4096, 3, clientMAC, teamMAC)
	s := clientSlots(frames)
	used, found := 0, 0
	for _, k := range s.Key {
		if k != 0 {
			used++
		}
	}
	for _, f := range frames {
		if f[12] == 0x08 && f[13] == 0 && s.Lookup(dataplane.RxKey(netip.AddrFrom4([4]byte(f[26:30])))) >= 0 {
			found++
		}
	}
	if used < dataplane.NRxSlots*3/4 || found == 0 || found > used {
		t.Errorf("%d of %d slots used, %d IPv4 sources found", used, dataplane.NRxSlots, found)
	}
}

func TestTestpmdIOChainsAsManyPorts(t *testing.T) {
	c := testpmdIO(3, 1)
	if len(c.Vdevs) != 3 || c.Core != 1 || c.Args[0] != "--forward-mode=io" || c.Args[1] != "--port-topology=chained" {
		t.Errorf("%+v", c)
	}
}
