package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/teamgw/teamgw/control"
	"github.com/teamgw/teamgw/dataplane/dpdk/dpdktest"
)

// TestShortSoak runs the soak for 15 s: members cut and restored, disabled
// and enabled, the primary moved and the config reloaded under UDP and
// TCP traffic, then no mbuf, goroutine or memory leak and every frame
// accounted for (soak returns an error if a check fails). make soak runs
// it for minutes.
func TestShortSoak(t *testing.T) {
	if err := dpdktest.EnsureHugepages(1024); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	bin := map[string]string{}
	for _, cmd := range []string{"teamgw", "teamctl"} {
		bin[cmd] = filepath.Join(dir, cmd)
		if out, err := exec.Command("go", "build", "-o", bin[cmd], "../../../cmd/"+cmd).CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", cmd, err, out)
		}
	}
	if err := soak([]string{"-teamgw", bin["teamgw"], "-teamctl", bin["teamctl"], "-dir", dir, "-duration", "15s", "-out", ""}); err != nil {
		t.Fatal(err)
	}
}

// checkSoak must catch each kind of leak and a frame unaccounted for.
func TestCheckSoakCatches(t *testing.T) {
	status := func(mbufs, goroutines int, in, out, dropped uint64) *control.Status {
		return &control.Status{
			Process: control.ProcessStatus{MbufsInUse: mbufs, Goroutines: goroutines, HeapBytes: 1 << 20, RSSBytes: 64 << 20},
			Workers: []control.WorkerInfo{{}},
			Teams: []control.TeamStatus{{
				Members: []control.MemberStatus{{Counters: control.PortCounters{RxPackets: in, TxPackets: out}}},
				Drops:   map[string]uint64{"tx_full": dropped},
			}},
		}
	}
	base := status(10, 10, 0, 0, 0)
	for _, c := range []struct {
		name string
		end  *control.Status
		ok   bool
	}{
		{"clean", status(12, 11, 100, 90, 10), true},
		{"mbuf leak", status(10+2*384+1, 10, 100, 90, 10), false},
		{"goroutine leak", status(10, 16, 100, 90, 10), false},
		{"frame lost silently", status(10, 10, 100, 90, 9), false},
	} {
		if r := checkSoak(base, c.end); r.OK != c.ok {
			t.Errorf("%s: OK = %v, want %v (%v)", c.name, r.OK, c.ok, r.Findings)
		}
	}
}
