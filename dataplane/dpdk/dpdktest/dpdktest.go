// Package dpdktest starts a real EAL for tests: it reserves hugepages when
// the machine has too few (tests run as root, as CI does), initialises the
// EAL once per test binary with a private file prefix, and cleans up.
package dpdktest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/teamgw/teamgw/dataplane/dpdk"
)

// MemoryMB is what each test binary reserves; several test binaries run
// in parallel, so it stays small.
const MemoryMB = 256

// EnsureHugepages makes sure at least needMB MiB of 2 MiB hugepages are free,
// growing the kernel's pool if necessary.
func EnsureHugepages(needMB int) error {
	free, err := dpdk.FreeHugepagesMB()
	if err != nil {
		return err
	}
	if free >= needMB {
		return nil
	}
	const knob = "/proc/sys/vm/nr_hugepages"
	b, err := os.ReadFile(knob)
	if err != nil {
		return err
	}
	cur, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	want := cur + (needMB-free)/2 + 64
	if err := os.WriteFile(knob, []byte(strconv.Itoa(want)), 0o644); err != nil {
		return fmt.Errorf("reserving hugepages (run as root or `make deps`): %w", err)
	}
	return dpdk.CheckHugepages(needMB)
}

// Main initialises the EAL, runs the tests and cleans up; use it from
// TestMain: func TestMain(m *testing.M) { dpdktest.Main(m) }.
func Main(m *testing.M) {
	if err := EnsureHugepages(MemoryMB); err != nil {
		fmt.Fprintln(os.Stderr, "dpdktest:", err)
		os.Exit(1)
	}
	prefix := fmt.Sprintf("tgtest-%d", os.Getpid())
	err := dpdk.Init(dpdk.EALConfig{
		MainCore:   0,
		Hugepages:  true,
		MemoryMB:   MemoryMB,
		FilePrefix: prefix,
		LogLevel:   "error",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "dpdktest:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := dpdk.Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, "dpdktest:", err)
	}
	os.Exit(code)
}

var seq atomic.Uint64

// Name returns a device or object name unique within the test binary, e.g.
// Name("net_null") = "net_null_t3".
func Name(prefix string) string {
	return fmt.Sprintf("%s_t%d", prefix, seq.Add(1))
}

// Pool creates a mempool for a test and frees it at the end.
func Pool(tb testing.TB, n int) *dpdk.Mempool {
	tb.Helper()
	p, err := dpdk.NewMempool(Name("pool"), n, min(dpdk.PoolCache, n/8), dpdk.DefaultDataRoom, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Free)
	return p
}

// NullPort probes, configures and starts a net_null port with one queue
// pair (or queues RX/TX queues), removed at the end of the test.
func NullPort(tb testing.TB, pool *dpdk.Mempool, queues uint16, extra string) *dpdk.Port {
	tb.Helper()
	return StartPort(tb, pool, Name("net_null")+extra, queues)
}

// StartPort probes devargs, configures queues queue pairs and starts it;
// the port is removed at the end of the test.
func StartPort(tb testing.TB, pool *dpdk.Mempool, devargs string, queues uint16) *dpdk.Port {
	tb.Helper()
	p, err := dpdk.Probe(devargs)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		p.Stop()
		if err := p.Remove(); err != nil {
			tb.Errorf("remove %s: %v", p.Name, err)
		}
	})
	if err := p.Configure(dpdk.PortConfig{RxQueues: queues, TxQueues: queues, Pool: pool}); err != nil {
		tb.Fatal(err)
	}
	if err := p.Start(); err != nil {
		tb.Fatal(err)
	}
	return p
}

// RingPort makes a started net_ring port with one queue pair over two
// new rings of 1024 (any thread may enqueue or dequeue): what it
// receives is what a test enqueues on rx, what it sends lands on tx. All
// three go at the end of the test.
func RingPort(tb testing.TB, pool *dpdk.Mempool) (rx, tx *dpdk.Ring, p *dpdk.Port) {
	tb.Helper()
	rings := make([]*dpdk.Ring, 2)
	for i := range rings {
		r, err := dpdk.NewRing(Name("ring"), 1024, false, false)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(r.Free) // after the port's removal, registered later
		rings[i] = r
	}
	p, err := dpdk.PortFromRings(Name("net_ring"), rings[0], rings[1])
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		p.Stop()
		p.Remove()
	})
	if err := p.Configure(dpdk.PortConfig{RxQueues: 1, TxQueues: 1, Pool: pool}); err != nil {
		tb.Fatal(err)
	}
	if err := p.Start(); err != nil {
		tb.Fatal(err)
	}
	return rings[0], rings[1], p
}
