package dataplane

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/dpdk/dpdktest"
	"github.com/teamgw/teamgw/dataplane/frame"
)

func TestMain(m *testing.M) { dpdktest.Main(m) }

// ringPort is a net_ring port whose traffic a test writes and reads.
type ringPort struct {
	port   *dpdk.Port
	in     *dpdk.Ring // frames the port receives
	out    *dpdk.Ring // frames the port transmitted
	pool   *dpdk.Mempool
	tb     testing.TB
	outBuf []*dpdk.Mbuf
}

func newRingPort(tb testing.TB, pool *dpdk.Mempool) *ringPort {
	tb.Helper()
	in, out, p := dpdktest.RingPort(tb, pool)
	return &ringPort{port: p, in: in, out: out, pool: pool, tb: tb}
}

// send makes the port receive frame.
func (r *ringPort) send(f []byte) {
	r.tb.Helper()
	m := r.pool.Alloc()
	if m == nil || !m.SetData(f) {
		r.tb.Fatal("cannot build mbuf")
	}
	if !r.in.Enqueue(m) {
		r.tb.Fatal("ring full")
	}
}

// collect waits (up to 5 s) for n frames transmitted on the port and
// returns copies of them, freeing the mbufs.
func (r *ringPort) collect(n int) [][]byte {
	r.tb.Helper()
	var got [][]byte
	buf := make([]*dpdk.Mbuf, 32)
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		k := r.out.Dequeue(buf)
		for _, m := range buf[:k] {
			got = append(got, bytes.Clone(m.Data()))
			m.Free()
		}
		if k == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if len(got) < n {
		r.tb.Fatalf("port %s sent %d frames, want %d", r.port.Name, len(got), n)
	}
	return got
}

// quiet checks that nothing more was transmitted.
func (r *ringPort) quiet() {
	r.tb.Helper()
	buf := make([]*dpdk.Mbuf, 32)
	if k := r.out.Dequeue(buf); k != 0 {
		for _, m := range buf[:k] {
			m.Free()
		}
		r.tb.Errorf("port %s sent %d unexpected frames", r.port.Name, k)
	}
}

var (
	teamMAC   = frame.MAC{0x02, 0, 0, 0, 0, 1}
	clientMAC = frame.MAC{0x02, 0, 0, 0, 0, 0x10}
)

func ethFrame(dst, src frame.MAC, payload byte) []byte {
	f := append(append(append([]byte{}, dst[:]...), src[:]...), 0x08, 0x00)
	return append(f, bytes.Repeat([]byte{payload}, 46)...)
}

type rig struct {
	pool    *dpdk.Mempool
	tap     *ringPort
	members []*ringPort
	snap    atomic.Pointer[Snapshot]
	w       *Worker
	noStart bool // the test drives Poll itself
}

// newRig builds a worker over a TAP and members ring ports, with member
// 0 carrying everything; opts may change the ports and the worker's
// configuration before it starts (the worker is not started when the
// option sets noStart).
func newRig(t *testing.T, members int, opts ...func(*rig, *WorkerConfig)) *rig {
	t.Helper()
	r := &rig{pool: dpdktest.Pool(t, 4095)}
	r.tap = newRingPort(t, r.pool)
	tp := TeamPorts{Tap: r.tap.port}
	for range members {
		m := newRingPort(t, r.pool)
		r.members = append(r.members, m)
		tp.Members = append(tp.Members, m.port)
	}
	r.publish(0)
	wc := WorkerConfig{ID: 0, Core: -1, Teams: []TeamPorts{tp}, Snapshot: &r.snap}
	for _, o := range opts {
		o(r, &wc)
	}
	w, err := NewWorker(wc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Free)
	r.w = w
	if !r.noStart {
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *rig) publish(active int) {
	r.publishState(SingleMember(teamMAC, len(r.members), active))
}

func (r *rig) publishState(ts TeamState) {
	s := &Snapshot{}
	s.Teams[0] = ts
	r.snap.Store(s)
}

func TestWorkerSendsKernelFramesOnActiveMember(t *testing.T) {
	r := newRig(t, 2)
	f := ethFrame(clientMAC, teamMAC, 1)
	r.tap.send(f)
	if got := r.members[0].collect(1); !bytes.Equal(got[0], f) {
		t.Errorf("member 0 sent %x, want %x", got[0], f)
	}
	r.members[1].quiet()
}

func TestWorkerFailoverMovesTransmitToNewActive(t *testing.T) {
	r := newRig(t, 2)
	r.publish(1)
	r.tap.send(ethFrame(clientMAC, teamMAC, 2))
	r.members[1].collect(1)
	r.members[0].quiet()
}

func TestWorkerDeliversActiveMemberFramesToKernel(t *testing.T) {
	r := newRig(t, 2)
	uni := ethFrame(teamMAC, clientMAC, 3)
	bcast := ethFrame(frame.Broadcast, clientMAC, 4)
	r.members[0].send(uni)
	r.members[0].send(bcast)
	got := r.tap.collect(2)
	if !bytes.Equal(got[0], uni) || !bytes.Equal(got[1], bcast) {
		t.Errorf("kernel got %x, want the unicast then the broadcast frame", got)
	}
}

func TestWorkerDropsByReason(t *testing.T) {
	r := newRig(t, 2)
	r.members[1].send(ethFrame(frame.Broadcast, clientMAC, 5))                // inactive member
	r.members[0].send(ethFrame(frame.Broadcast, teamMAC, 6))                  // our own frame reflected
	r.members[0].send(ethFrame(frame.MAC{0x02, 9, 9, 9, 9, 9}, clientMAC, 7)) // someone else's unicast
	r.members[0].send([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})                  // runt
	lacpdu := ethFrame(frame.MAC{0x01, 0x80, 0xc2, 0, 0, 2}, clientMAC, 1)
	lacpdu[12], lacpdu[13] = 0x88, 0x09
	r.members[0].send(lacpdu)                          // slow protocol on a team without LACP
	r.members[0].send(ethFrame(teamMAC, clientMAC, 8)) // good
	r.tap.collect(1)
	r.tap.quiet()
	c := &r.w.Counters().Teams[0]
	want := map[DropReason]uint64{DropInactive: 1, DropLoop: 1, DropNotForUs: 1, DropMalformed: 1, DropSlowProtocol: 1}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok := true
		for reason, n := range want {
			if c.Drops[reason].Load() != n {
				ok = false
			}
		}
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for reason, n := range want {
		if got := c.Drops[reason].Load(); got != n {
			t.Errorf("drops[%s] = %d, want %d", reason, got, n)
		}
	}
	if got := c.Ports[0].RxPackets.Load(); got != 5 {
		t.Errorf("member 0 rx packets = %d, want 5", got)
	}
}

func TestWorkerWithoutActiveMemberDropsKernelFrames(t *testing.T) {
	r := newRig(t, 2)
	r.publish(-1)
	r.tap.send(ethFrame(clientMAC, teamMAC, 9))
	deadline := time.Now().Add(5 * time.Second)
	c := &r.w.Counters().Teams[0]
	for c.Drops[DropNoMember].Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if c.Drops[DropNoMember].Load() != 1 {
		t.Fatal("frame from the kernel was not dropped as no_member")
	}
	r.members[0].quiet()
	r.members[1].quiet()
}

func TestWorkerReturnsEveryMbuf(t *testing.T) {
	r := newRig(t, 2)
	for i := range 200 {
		r.tap.send(ethFrame(clientMAC, teamMAC, byte(i)))
		r.members[i%2].send(ethFrame(teamMAC, clientMAC, byte(i)))
	}
	r.members[0].collect(200)
	r.tap.collect(100)
	r.w.Stop()
	if n := r.pool.InUse(); n != 0 {
		t.Errorf("%d mbufs still in use after the worker stopped", n)
	}
}

// TestWorkerSetPortsKeepsOtherMembersFlowing adds and removes a member
// on a running worker, again and again, while frames arrive on member 0:
// every one of them reaches the kernel, the new member transmits once a
// snapshot names its slot, and its slot's counters start from zero.
func TestWorkerSetPortsKeepsOtherMembersFlowing(t *testing.T) {
	r := newRig(t, 1)
	extra := newRingPort(t, r.pool)
	with := []TeamPorts{{Tap: r.tap.port, Members: []*dpdk.Port{r.members[0].port, extra.port}}}
	without := []TeamPorts{{Tap: r.tap.port, Members: []*dpdk.Port{r.members[0].port, nil}}}
	ctx := context.Background()
	const rounds, perRound = 20, 10
	for i := range rounds {
		for j := range perRound {
			r.members[0].send(ethFrame(teamMAC, clientMAC, byte(i*perRound+j)))
		}
		ports := without
		if i%2 == 0 {
			ports = with
		}
		if err := r.w.SetPorts(ctx, ports); err != nil {
			t.Fatal(err)
		}
	}
	r.tap.collect(rounds * perRound)

	if err := r.w.SetPorts(ctx, with); err != nil {
		t.Fatal(err)
	}
	r.publishState(SingleMember(teamMAC, 2, 1))
	f := ethFrame(clientMAC, teamMAC, 0xee)
	r.tap.send(f)
	if got := extra.collect(1); !bytes.Equal(got[0], f) {
		t.Errorf("added member sent %x, want %x", got[0], f)
	}
	r.members[0].quiet()
	slot1 := &r.w.Counters().Teams[0].Ports[1]
	if n := slot1.TxPackets.Load(); n != 1 {
		t.Errorf("slot 1 counts %d frames sent, want 1", n)
	}

	// Another port in slot 1: the slot's counters go on (the control
	// plane subtracts what the new member found there), so the team's
	// totals stay whole.
	other := newRingPort(t, r.pool)
	if err := r.w.SetPorts(ctx, []TeamPorts{{Tap: r.tap.port, Members: []*dpdk.Port{r.members[0].port, other.port}}}); err != nil {
		t.Fatal(err)
	}
	if n := slot1.TxPackets.Load(); n != 1 {
		t.Errorf("slot 1 counts %d frames after the port change, want the 1 from before", n)
	}
	r.tap.send(f)
	other.collect(1)
	if err := r.w.SetPorts(ctx, with); err != nil {
		t.Fatal(err)
	}

	r.publish(0)
	if err := r.w.SetPorts(ctx, without); err != nil {
		t.Fatal(err)
	}
	extra.send(ethFrame(teamMAC, clientMAC, 0xef)) // nobody polls it now
	r.members[0].send(ethFrame(teamMAC, clientMAC, 0xf0))
	r.tap.collect(1)
	r.tap.quiet()
	if n := extra.in.Len(); n != 1 {
		t.Errorf("removed member's RX ring holds %d frames, want the 1 nobody polled", n)
	}
}

// TestWorkerSetPortsRefusesWhatDoesNotFit checks that a port set the
// worker cannot own is refused and the worker keeps its ports.
func TestWorkerSetPortsRefusesWhatDoesNotFit(t *testing.T) {
	r := newRig(t, 1)
	nine := make([]*dpdk.Port, MaxMembers+1)
	nine[0] = r.members[0].port
	if err := r.w.SetPorts(context.Background(), []TeamPorts{{Tap: r.tap.port, Members: nine}}); err == nil {
		t.Fatal("SetPorts took 9 member slots")
	}
	r.members[0].send(ethFrame(teamMAC, clientMAC, 1))
	r.tap.collect(1)
}

// TestWorkerPublishesCountersEveryFewVectorsAndWhenIdle drives Poll one
// single-frame vector at a time: the counters stay behind until
// publishEvery vectors have gone by, then show all of them, and an idle
// step shows the rest.
func TestWorkerPublishesCountersEveryFewVectorsAndWhenIdle(t *testing.T) {
	r := newRig(t, 1, func(r *rig, _ *WorkerConfig) { r.noStart = true })
	tx := &r.w.Counters().Teams[0].Ports[0].TxPackets
	f := ethFrame(clientMAC, teamMAC, 1)
	for i := 1; i <= publishEvery+1; i++ {
		r.tap.send(f)
		if n := r.w.Poll(); n != 1 {
			t.Fatalf("vector %d: Poll handled %d frames, want 1", i, n)
		}
		want := uint64(0)
		if i >= publishEvery {
			want = publishEvery
		}
		if got := tx.Load(); got != want {
			t.Fatalf("after %d vectors: member TX packets %d, want %d", i, got, want)
		}
	}
	if n := r.w.Poll(); n != 0 {
		t.Fatalf("idle Poll handled %d frames", n)
	}
	if got, want := tx.Load(), uint64(publishEvery+1); got != want {
		t.Errorf("after an idle step: member TX packets %d, want %d", got, want)
	}
	if got := r.w.Counters().Vectors.Load(); got != publishEvery+1 {
		t.Errorf("vectors %d, want %d", got, publishEvery+1)
	}
	r.members[0].collect(publishEvery + 1)
}

// TestWorkerPrefetchesOnlyMembersThatFreeOnSend: member queues on a PMD
// that frees what it sends at once (net_null) prefetch their bursts, a
// member on net_ring (which hands the mbufs on) and the TAP side do not,
// and a new port set sets the flags again from its own ports.
func TestWorkerPrefetchesOnlyMembersThatFreeOnSend(t *testing.T) {
	r := newRig(t, 1, func(r *rig, wc *WorkerConfig) {
		r.noStart = true
		wc.Teams[0].Members = append(wc.Teams[0].Members, dpdktest.NullPort(t, r.pool, 1, ""))
	})
	check := func(want0, want1 bool) {
		t.Helper()
		flags := map[*dpdk.TxQueue]bool{}
		for qi := range dpdk.MaxQueues {
			flags[r.w.io.Queue(qi)] = r.w.io.PrefetchingTx(qi)
		}
		for m, want := range []bool{want0, want1} {
			if got := flags[r.w.memberQ[0][m]]; got != want {
				t.Errorf("member %d prefetches: %v, want %v", m, got, want)
			}
		}
		if got := flags[r.w.tapQ[0][0]]; got {
			t.Error("the TAP side's queue prefetches")
		}
	}
	check(false, true) // net_ring, net_null
	// Swap the members: the flags follow the ports.
	tp := r.w.cfg.Teams[0]
	tp.Members = []*dpdk.Port{tp.Members[1], tp.Members[0]}
	if err := r.w.SetPorts(context.Background(), []TeamPorts{tp}); err != nil {
		t.Fatal(err)
	}
	check(true, false) // net_null, net_ring
}
