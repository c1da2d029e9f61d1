package testpmd

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// stopReply has the shape of testpmd 22.11's reply to "stop" with
// --record-core-cycles (numbers made up).
const stopReply = `stop
Telling cores to stop...
Waiting for lcores to finish...

  ---------------------- Forward statistics for port 0  ----------------------
  RX-packets: 1000           RX-dropped: 0             RX-total: 1000
  TX-packets: 1000           TX-dropped: 0             TX-total: 1000
  ----------------------------------------------------------------------------

  +++++++++++++++ Accumulated forward statistics for all ports+++++++++++++++
  RX-packets: 2000           RX-dropped: 0             RX-total: 2000
  TX-packets: 2000           TX-dropped: 0             TX-total: 2000
  ++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++

  CPU cycles/packet=45.00 (total cycles=90000 / total io packets=2000) at 2000 MHz Clock

Done.
testpmd> `

func TestParseStopReadsPacketsAndBusyTime(t *testing.T) {
	r, err := ParseStop(stopReply)
	if err != nil {
		t.Fatal(err)
	}
	if r.Packets != 2000 || r.Seconds != 90000/2e9 {
		t.Errorf("got %+v, want 2000 packets in 45 µs", r)
	}
	if got := r.Mpps(); got < 44.44 || got > 44.45 {
		t.Errorf("Mpps = %v, want 44.44", got)
	}
}

func TestParseStopOfAnIdleRound(t *testing.T) {
	idle := strings.ReplaceAll(strings.ReplaceAll(stopReply, "1000", "0"), "2000", "0")
	idle = idle[:strings.Index(idle, "  CPU cycles")]
	r, err := ParseStop(idle)
	if err != nil || r.Packets != 0 {
		t.Errorf("idle round: %+v, %v", r, err)
	}
	if _, err := ParseStop("testpmd> "); err == nil {
		t.Error("a reply without statistics parsed")
	}
}

func TestArgvRunsOneInteractiveForwardingCore(t *testing.T) {
	c := Config{MainCore: 0, Core: 1, Vdevs: []string{"net_null0", "net_bonding0,mode=2,slave=net_null0"}, Args: []string{"--forward-mode=io"}}
	got := c.CommandLine()
	want := "dpdk-testpmd -l '0,1' --main-lcore 0 --no-pci --no-telemetry --log-level=error --in-memory --vdev net_null0 --vdev 'net_bonding0,mode=2,slave=net_null0' -- -i --nb-cores=1 --record-core-cycles --forward-mode=io"
	if got != want {
		t.Errorf("command line\n got %s\nwant %s", got, want)
	}
}

// TestRoundsAgainstRealTestpmd runs io forwarding between two net_null
// ports for two short rounds (make deps installs testpmd with dpdk-dev;
// the tests run as root).
func TestRoundsAgainstRealTestpmd(t *testing.T) {
	if _, err := exec.LookPath(Binary); err != nil {
		t.Fatalf("%s is not installed (make deps installs it with dpdk-dev)", Binary)
	}
	if os.Geteuid() != 0 {
		t.Fatal("testpmd needs root, as every DPDK test here")
	}
	ctx := context.Background()
	p, err := Start(ctx, Config{MainCore: 0, Core: 1, NoHuge: true,
		Vdevs: []string{"net_null0", "net_null1"},
		Args:  []string{"--forward-mode=io", "--total-num-mbufs=4096"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range 2 {
		r, err := p.Run(ctx, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %.1f Mpps, %.0f instructions per packet", i, r.Mpps(), r.InsnPerPacket())
		if r.Packets == 0 || r.Seconds <= 0 {
			t.Errorf("round %d: %+v", i, r)
		}
		if p.Counted() && r.Instructions < r.Packets {
			t.Errorf("round %d: %d instructions for %d packets", i, r.Instructions, r.Packets)
		}
	}
}
