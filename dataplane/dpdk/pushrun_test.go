package dpdk_test

import (
	"testing"

	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/dpdk/dpdktest"
)

// TestPushRunFillsToCapacity pushes runs into one TX buffer: a run is
// taken whole while it fits, then only what fits, then nothing; what was
// taken is sent, in order, by the next flush.
func TestPushRunFillsToCapacity(t *testing.T) {
	pool := dpdktest.Pool(t, 4095)
	out := dpdktest.NullPort(t, pool, 1, "")
	io, err := dpdk.NewIO(0)
	if err != nil {
		t.Fatal(err)
	}
	defer io.Free()
	qi, err := io.AddTx(out, 0)
	if err != nil {
		t.Fatal(err)
	}
	q := io.Queue(qi)
	ms := make([]*dpdk.Mbuf, dpdk.TxQueueCap+40)
	for i := range ms {
		if ms[i] = pool.Alloc(); ms[i] == nil {
			t.Fatal("pool empty")
		}
	}
	if !q.Push(ms[0]) {
		t.Fatal("Push into an empty buffer failed")
	}
	for _, step := range []struct{ from, to, want int }{
		{1, 100, 99},
		{100, dpdk.TxQueueCap + 20, dpdk.TxQueueCap - 100},
		{dpdk.TxQueueCap, dpdk.TxQueueCap + 40, 0},
	} {
		if n := q.PushRun(ms[step.from:step.to]); n != step.want {
			t.Errorf("PushRun of [%d:%d] took %d, want %d", step.from, step.to, n, step.want)
		}
	}
	for _, m := range ms[dpdk.TxQueueCap:] {
		m.Free()
	}
	io.Flush()
	if sent, dropped := io.TxCounters(qi); sent != dpdk.TxQueueCap || dropped != 0 {
		t.Errorf("sent %d, dropped %d; want %d, 0", sent, dropped, dpdk.TxQueueCap)
	}
	if n := pool.InUse(); n != 0 {
		t.Errorf("%d mbufs in use, want 0", n)
	}
}
