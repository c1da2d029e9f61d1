package dpdk_test

import (
	"bytes"
	"errors"
	"net"
	"slices"
	"syscall"
	"testing"

	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/dpdk/dpdktest"
)

func TestMain(m *testing.M) { dpdktest.Main(m) }

func TestEALArgs(t *testing.T) {
	tests := []struct {
		name string
		c    dpdk.EALConfig
		want []string
	}{
		{"virtual devices only", dpdk.EALConfig{MainCore: -1, Hugepages: true, MemoryMB: 512, FilePrefix: "p", LogLevel: "warning"},
			[]string{"-l", "0", "--in-memory", "--no-telemetry", "--file-prefix", "p", "-m", "512", "--log-level", "warning", "--no-pci"}},
		{"no hugepages", dpdk.EALConfig{MainCore: 1},
			[]string{"-l", "1", "--no-telemetry", "--no-huge", "--no-pci"}},
		{"pci allow list", dpdk.EALConfig{Hugepages: true, PCI: []string{"0000:03:00.0", "0000:03:00.1"}, Extra: []string{"--iova-mode", "va"}},
			[]string{"-l", "0", "--in-memory", "--no-telemetry", "-a", "0000:03:00.0", "-a", "0000:03:00.1", "--iova-mode", "va"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Args(); !slices.Equal(got, tt.want) {
				t.Errorf("Args() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInitTwiceFails(t *testing.T) {
	err := dpdk.Init(dpdk.EALConfig{Hugepages: false})
	if !errors.Is(err, syscall.EALREADY) {
		t.Fatalf("second Init = %v, want EALREADY", err)
	}
}

func TestHugepageErrorNamesTheFix(t *testing.T) {
	err := dpdk.CheckHugepages(1 << 30)
	var he *dpdk.HugepageError
	if !errors.As(err, &he) {
		t.Fatalf("CheckHugepages(huge) = %v, want *HugepageError", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("nr_hugepages")) {
		t.Errorf("error %q does not say how to reserve hugepages", err)
	}
}

func TestProbeBadDevargs(t *testing.T) {
	_, err := dpdk.Probe("net_nosuchdriver0")
	var de *dpdk.Error
	if !errors.As(err, &de) || de.Op != "probe" {
		t.Fatalf("Probe(bad) = %v, want *dpdk.Error with Op probe", err)
	}
}

func TestPortBasics(t *testing.T) {
	pool := dpdktest.Pool(t, 1023)
	p := dpdktest.NullPort(t, pool, 1, "")
	info, err := p.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.Driver != "net_null" {
		t.Errorf("driver = %q", info.Driver)
	}
	l, err := p.Link()
	if err != nil || !l.Up {
		t.Errorf("Link() = %+v, %v; want up", l, err)
	}
	mac := net.HardwareAddr{0x02, 0, 0, 0xaa, 0xbb, 0xcc}
	if err := p.SetMAC(mac); err != nil {
		t.Fatal(err)
	}
	if got, err := p.MAC(); err != nil || !bytes.Equal(got, mac) {
		t.Errorf("MAC() = %v, %v; want %v", got, err, mac)
	}
	if err := p.SetPromiscuous(true); err != nil {
		t.Error(err)
	}
	if _, err := p.XStats(); err != nil {
		t.Error(err)
	}
}

// TestIOForwardsAndReturnsEveryMbuf runs the Go step loop between two
// net_null ports and checks the counters and that no mbuf leaks.
func TestIOForwardsAndReturnsEveryMbuf(t *testing.T) {
	t.Run("plain", func(t *testing.T) { forwardsAndReturnsEveryMbuf(t, false) })
	t.Run("prefetching", func(t *testing.T) { forwardsAndReturnsEveryMbuf(t, true) })
}

func forwardsAndReturnsEveryMbuf(t *testing.T, prefetch bool) {
	pool := dpdktest.Pool(t, 4095)
	in := dpdktest.NullPort(t, pool, 1, "")
	out := dpdktest.NullPort(t, pool, 1, "")
	io, err := dpdk.NewIO(0)
	if err != nil {
		t.Fatal(err)
	}
	defer io.Free()
	rxq, _ := io.AddRx(in, 0)
	txq, _ := io.AddTx(out, 0)
	if prefetch {
		io.PrefetchTx(txq)
	}
	var got uint64
	for range 100 {
		pkts, q := io.Step()
		if len(pkts) > 0 && q != rxq {
			t.Fatalf("vector from queue %d, want %d", q, rxq)
		}
		for i, m := range pkts {
			if i%2 == 0 {
				io.Drop(m)
			} else if !io.Tx(txq, m) {
				io.Drop(m)
			}
		}
		got += uint64(len(pkts))
	}
	io.Flush()
	if got == 0 {
		t.Fatal("received nothing from net_null")
	}
	sent, dropped := io.TxCounters(txq)
	if sent+dropped != got/2 {
		t.Errorf("sent %d + dropped %d != half of received %d", sent, dropped, got)
	}
	if n := pool.InUse(); n != 0 {
		t.Errorf("%d mbufs in use after the loop, want 0 (leak)", n)
	}
}

func TestIOStepAllocatesNothing(t *testing.T) {
	pool := dpdktest.Pool(t, 4095)
	in := dpdktest.NullPort(t, pool, 1, "")
	out := dpdktest.NullPort(t, pool, 1, "")
	io, err := dpdk.NewIO(0)
	if err != nil {
		t.Fatal(err)
	}
	defer io.Free()
	io.AddRx(in, 0)
	txq, _ := io.AddTx(out, 0)
	allocs := testing.AllocsPerRun(1000, func() {
		pkts, _ := io.Step()
		for _, m := range pkts {
			_ = m.Data()
			if !io.Tx(txq, m) {
				io.Drop(m)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per step, want 0", allocs)
	}
}

// TestInjectRoutesByPort checks that frames the control plane enqueues
// leave on the port their Port field names.
func TestInjectRoutesByPort(t *testing.T) {
	pool := dpdktest.Pool(t, 1023)
	a := dpdktest.NullPort(t, pool, 1, "")
	b := dpdktest.NullPort(t, pool, 1, "")
	ring, err := dpdk.NewRing(dpdktest.Name("inj"), 256, false, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Free()
	io, err := dpdk.NewIO(0)
	if err != nil {
		t.Fatal(err)
	}
	defer io.Free()
	qa, _ := io.AddTx(a, 0)
	qb, _ := io.AddTx(b, 0)
	io.SetInject(ring)
	frame := bytes.Repeat([]byte{0xab}, 60)
	for i := range 3 {
		m := pool.Alloc()
		if m == nil || !m.SetData(frame) {
			t.Fatal("alloc/SetData failed")
		}
		if i == 0 {
			m.SetPort(a.ID)
		} else {
			m.SetPort(b.ID)
		}
		if !ring.Enqueue(m) {
			t.Fatal("enqueue failed")
		}
	}
	unroutable := pool.Alloc()
	unroutable.SetPort(999)
	ring.Enqueue(unroutable)
	io.Flush()
	sa, _ := io.TxCounters(qa)
	sb, _ := io.TxCounters(qb)
	if sa != 1 || sb != 2 {
		t.Errorf("sent a=%d b=%d, want 1 and 2", sa, sb)
	}
	if c := io.Counters(); c.InjectUnroutable != 1 {
		t.Errorf("InjectUnroutable = %d, want 1", c.InjectUnroutable)
	}
	if n := pool.InUse(); n != 0 {
		t.Errorf("%d mbufs in use, want 0", n)
	}
}

// TestIOResetForgetsQueues resets an IO in the middle of a loop: what was
// buffered is sent, the old queues are no longer polled, and the queues
// added afterwards start from index 0 with fresh counters.
func TestIOResetForgetsQueues(t *testing.T) {
	pool := dpdktest.Pool(t, 4095)
	in := dpdktest.NullPort(t, pool, 1, "")
	a := dpdktest.NullPort(t, pool, 1, "")
	b := dpdktest.NullPort(t, pool, 1, "")
	io, err := dpdk.NewIO(0)
	if err != nil {
		t.Fatal(err)
	}
	defer io.Free()
	io.AddRx(in, 0)
	qa, _ := io.AddTx(a, 0)
	pkts, _ := io.Step()
	if len(pkts) == 0 {
		t.Fatal("received nothing from net_null")
	}
	for _, m := range pkts {
		io.Tx(qa, m)
	}
	io.PrefetchTx(qa)
	io.Reset()
	if io.PrefetchingTx(qa) {
		t.Errorf("queue %d still prefetches after Reset", qa)
	}
	if sent, _ := io.TxCounters(qa); sent != 0 {
		t.Errorf("queue %d still counts %d sent after Reset", qa, sent)
	}
	if pkts, _ := io.Step(); len(pkts) != 0 {
		t.Errorf("a reset IO received %d packets, want none (no RX queue)", len(pkts))
	}
	if st, _ := a.Stats(); st.TxPackets == 0 {
		t.Error("the frames buffered for port a were not sent by Reset")
	}
	io.AddRx(in, 0)
	qb, _ := io.AddTx(b, 0)
	if qb != 0 {
		t.Errorf("first TX queue after Reset has index %d, want 0", qb)
	}
	pkts, _ = io.Step()
	for _, m := range pkts {
		io.Tx(qb, m)
	}
	io.Flush()
	if sent, _ := io.TxCounters(qb); sent != uint64(len(pkts)) {
		t.Errorf("port b sent %d, want %d", sent, len(pkts))
	}
	if n := pool.InUse(); n != 0 {
		t.Errorf("%d mbufs in use, want 0", n)
	}
}

func TestMbufSetDataRejectsOversize(t *testing.T) {
	pool := dpdktest.Pool(t, 63)
	m := pool.Alloc()
	defer m.Free()
	if m.SetData(make([]byte, 1<<16)) {
		t.Error("SetData accepted 64 KiB into a 2 KiB mbuf")
	}
	if !m.SetData([]byte{1, 2, 3}) || m.DataLen() != 3 || m.PktLen() != 3 || !bytes.Equal(m.Data(), []byte{1, 2, 3}) {
		t.Errorf("SetData(3 bytes): len %d/%d data %v", m.DataLen(), m.PktLen(), m.Data())
	}
}

// TestLinkEventsLifecycle registers the LSC callback on a port whose PMD
// has link-state interrupts (net_tap), unregisters it and closes the
// notifier: Close must return and close the channel.
func TestLinkEventsLifecycle(t *testing.T) {
	pool := dpdktest.Pool(t, 1023)
	p, err := dpdk.Probe(dpdktest.Name("net_tap") + ",iface=tgl" + dpdktest.Name("")[2:])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(); p.Remove() })
	if err := p.Configure(dpdk.PortConfig{RxQueues: 1, TxQueues: 1, Pool: pool, LSC: true}); err != nil {
		t.Fatal(err)
	}
	le, err := dpdk.NewLinkEvents()
	if err != nil {
		t.Fatal(err)
	}
	if err := le.Watch(p); err != nil {
		t.Fatal(err)
	}
	if err := le.Watch(p); err != nil {
		t.Errorf("second Watch: %v", err)
	}
	le.Unwatch(p)
	le.Close()
	if _, open := <-le.C(); open {
		t.Error("channel still open after Close")
	}
}

// TestStepFillsAVectorFromOneQueue: a queue holding more than a vector
// gives full vectors, one holding less gives all it has in one vector,
// whatever a single rte_eth_rx_burst call returns; EndMark follows each,
// an empty one too.
func TestStepFillsAVectorFromOneQueue(t *testing.T) {
	pool := dpdktest.Pool(t, 1023)
	rx, _, p := dpdktest.RingPort(t, pool)
	io, err := dpdk.NewIO(0)
	if err != nil {
		t.Fatal(err)
	}
	defer io.Free()
	io.AddRx(p, 0)
	const queued = dpdk.Vector + dpdk.Burst + 5
	for range queued {
		m := pool.Alloc()
		if m == nil || !rx.Enqueue(m) {
			t.Fatal("cannot queue a frame")
		}
	}
	var sizes []int
	for range 4 {
		pkts, _ := io.Step()
		sizes = append(sizes, len(pkts))
		if pkts[:len(pkts)+1][len(pkts)] != dpdk.EndMark() || len(dpdk.EndMark().Data()) != 0 {
			t.Errorf("a vector of %d frames not followed by an empty EndMark", len(pkts))
		}
		for _, m := range pkts {
			io.Drop(m)
		}
	}
	io.Flush()
	if want := []int{dpdk.Vector, dpdk.Burst + 5, 0, 0}; !slices.Equal(sizes, want) {
		t.Errorf("vectors of %v frames, want %v", sizes, want)
	}
	if n := pool.InUse(); n != 0 {
		t.Errorf("%d mbufs in use, want 0", n)
	}
	// net_null always has frames: every vector is full.
	in := dpdktest.NullPort(t, pool, 1, "")
	io.Reset()
	io.AddRx(in, 0)
	for range 3 {
		pkts, _ := io.Step()
		if len(pkts) != dpdk.Vector {
			t.Errorf("net_null vector of %d frames, want %d", len(pkts), dpdk.Vector)
		}
		for _, m := range pkts {
			io.Drop(m)
		}
	}
	io.Flush()
}

// TestPushVectorKeepsOrder: the head of a vector queued without a copy
// leaves before what is pushed on the queue after it; queued after other
// frames (or not at the head of the vector) it is copied, in order; what
// the PMD takes is counted and no mbuf leaks. Len counts both kinds
// until the flush.
func TestPushVectorKeepsOrder(t *testing.T) {
	pool := dpdktest.Pool(t, 1023)
	rx, tx, p := dpdktest.RingPort(t, pool)
	io, err := dpdk.NewIO(0)
	if err != nil {
		t.Fatal(err)
	}
	defer io.Free()
	io.AddRx(p, 0)
	qi, _ := io.AddTx(p, 0)
	q := io.Queue(qi)
	// vector receives n frames marked 0..n-1 (their first byte).
	vector := func(n int) []*dpdk.Mbuf {
		for i := range n {
			m := pool.Alloc()
			if m == nil || !m.SetData([]byte{byte(i), 0, 0, 0}) || !rx.Enqueue(m) {
				t.Fatal("cannot queue a frame")
			}
		}
		pkts, _ := io.Step()
		if len(pkts) != n {
			t.Fatalf("vector of %d frames, want %d", len(pkts), n)
		}
		return pkts
	}
	extra := func(mark byte) *dpdk.Mbuf {
		m := pool.Alloc()
		if m == nil || !m.SetData([]byte{mark, 0, 0, 0}) {
			t.Fatal("cannot fill an mbuf")
		}
		return m
	}
	// sent flushes and returns the marks of what reached the TX ring.
	sent := func() []byte {
		io.Flush()
		out := make([]*dpdk.Mbuf, 512)
		var marks []byte
		for _, m := range out[:tx.Dequeue(out)] {
			marks = append(marks, m.Data()[0])
			m.Free()
		}
		return marks
	}

	pkts := vector(6)
	if n := io.PushVector(q, pkts[:4]); n != 4 {
		t.Fatalf("PushVector took %d, want 4", n)
	}
	q.Push(extra(100))
	if n := io.PushVector(q, pkts[4:]); n != 2 { // not the head: copied after 100
		t.Fatalf("PushVector took %d, want 2", n)
	}
	if n := q.Len(); n != 7 {
		t.Errorf("Len %d with 4 frames of the vector and 3 pushed queued, want 7", n)
	}
	if got, want := sent(), []byte{0, 1, 2, 3, 100, 4, 5}; !bytes.Equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}

	pkts = vector(3)
	q.Push(extra(200))
	io.PushVector(q, pkts) // after 200: copied
	if got, want := sent(), []byte{200, 0, 1, 2}; !bytes.Equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}

	// Two calls in one step: the first takes the head without a copy,
	// the second copies the frames it is given; each leaves once.
	pkts = vector(2)
	if n := q.Len(); n != 0 {
		t.Errorf("Len %d after a step, want 0", n)
	}
	io.PushVector(q, pkts[:1])
	if n := q.Len(); n != 1 {
		t.Errorf("Len %d with the vector's head queued, want 1", n)
	}
	io.PushVector(q, pkts[1:])
	if got, want := sent(), []byte{0, 1}; !bytes.Equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
	if s, d := io.TxCounters(qi); s != 13 || d != 0 {
		t.Errorf("TX counters: %d sent, %d dropped; want 13, 0", s, d)
	}
	if n := pool.InUse(); n != 0 {
		t.Errorf("%d mbufs in use, want 0", n)
	}
}
