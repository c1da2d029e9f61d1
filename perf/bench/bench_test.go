package bench

import (
	"bytes"
	"testing"

	"github.com/teamgw/teamgw/dataplane"
	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/dpdk/dpdktest"
	"github.com/teamgw/teamgw/perf/traffic"
)

func TestMain(m *testing.M) { dpdktest.Main(m) }

// TestPrefilledNullPortDeliversFramesThroughTheReceivePath reads frames
// off net_null members whose pool holds real frames, through teamgw's
// worker to a kernel-facing sink, on a crew thread: nothing is dropped.
func TestPrefilledNullPortDeliversFramesThroughTheReceivePath(t *testing.T) {
	pool := dpdktest.Pool(t, 2047)
	mac := [6]byte{2, 0x54, 0x47, 0, 0, 1}
	frames := traffic.Mix(64, 9, [6]byte{2, 0, 0, 0, 0, 2}, mac)
	if n, err := Prefill(pool, frames); err != nil || n != 2047 {
		t.Fatalf("Prefill: %d mbufs, %v", n, err)
	}
	members, err := NullPorts(2, pool, ",size=64", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer RemovePorts(members)
	sink, err := NullPorts(1, pool, ",no-rx=1", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer RemovePorts(sink)
	crew, err := NewCrew([]int{0})
	if err != nil {
		t.Fatal(err)
	}
	defer crew.Close()

	// The null port's RX hands out the prefilled bytes.
	crew.Do(0, func() {
		io, _ := dpdk.NewIO(0)
		defer io.Free()
		io.AddRx(members[0], 0)
		pkts, _ := io.Step()
		if len(pkts) == 0 {
			t.Error("no frames from net_null")
		}
		for _, m := range pkts {
			d := m.Data()
			if len(d) != 64 || !bytes.Equal(d[:6], mac[:]) {
				t.Fatalf("frame % x is not one of the prefilled frames", d)
			}
			io.Drop(m)
		}
	})

	for _, mode := range []string{"slb", "trunk", "lacp"} {
		state, err := Team(mode, mac, members)
		if err != nil {
			t.Fatal(err)
		}
		w, err := Worker(0, state, sink[0], members)
		if err != nil {
			t.Fatal(err)
		}
		m := crew.Measure(50, func(_, steps int) uint64 { return PollSteps(w, steps) })
		c := &w.Counters().Teams[0]
		if sent := c.Ports[dataplane.TapIndex].TxPackets.Load(); m.Packets == 0 || sent != m.Packets {
			t.Errorf("%s: received %d, delivered %d", mode, m.Packets, sent)
		}
		for r := range c.Drops {
			if n := c.Drops[r].Load(); n != 0 {
				t.Errorf("%s: %d dropped as %v", mode, n, dataplane.DropReason(r))
			}
		}
		w.Free()
	}
	if _, err := Team("balance-alb", mac, members); err == nil {
		t.Error("unknown mode accepted")
	}
}
