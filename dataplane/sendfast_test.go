package dataplane

import (
	"bytes"
	"testing"

	"github.com/teamgw/teamgw/dataplane/classify"
	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/perf/traffic"
)

// mbufs builds one mbuf per frame from r's pool.
func (r *rig) mbufs(t *testing.T, frames [][]byte) []*dpdk.Mbuf {
	t.Helper()
	var ms []*dpdk.Mbuf
	for _, f := range frames {
		m := r.pool.Alloc()
		if m == nil || !m.SetData(f) {
			t.Fatal("cannot build mbuf")
		}
		ms = append(ms, m)
	}
	return ms
}

// marked returns n frames the fast path does not take (LLDP), each
// carrying its index, to fill a queue before a vector.
func marked(n int) [][]byte {
	var fs [][]byte
	for i := range n {
		f := ethFrame(clientMAC, teamMAC, byte(i))
		f[12], f[13] = 0x88, 0xcc
		fs = append(fs, f)
	}
	return fs
}

// memberSent is what one fromKernel call counted as sent by member k of
// team 0, with d its delta and w.pend cleared before it: the fast path
// counts into the team's pending totals (fastQueues.store), the general
// path into d.
func memberSent(w *Worker, d *delta, k int) (pkts, bytes uint64) {
	p := &w.pend.teams[0].Ports[k]
	return d.txPkts[k] + p.TxPackets, d.txBytes[k] + p.TxBytes
}

// totalLen is the bytes of frames.
func totalLen(frames [][]byte) uint64 {
	var n uint64
	for _, f := range frames {
		n += uint64(len(f))
	}
	return n
}

// TestFastPathCountsMemberTrafficByQueueGrowth checks that the fast path
// counts a member's TX packets as what its queue grew by in the vector,
// and its bytes per vector: frames already queued before the vector (as
// control's injected frames or an earlier TAP vector may be) are not
// counted again, the next vector's counts start from zero, and every
// frame leaves in order behind those queued before.
func TestFastPathCountsMemberTrafficByQueueGrowth(t *testing.T) {
	r := newRig(t, 2, func(r *rig, _ *WorkerConfig) { r.noStart = true })
	r.publish(0)
	ts := &r.snap.Load().Teams[0]
	q := r.w.memberQ[0][0]
	before := marked(5)
	for _, m := range r.mbufs(t, before) {
		if !q.Push(m) {
			t.Fatal("queue full")
		}
	}
	first, second := traffic.Mix(20, 1, teamMAC, clientMAC), traffic.Mix(10, 2, teamMAC, clientMAC)
	for i, vec := range [][][]byte{first, second} {
		var d delta
		r.w.pend = pendingCounters{}
		r.w.fromKernel(0, ts, 0, r.mbufs(t, vec), &d)
		if pkts, bytes := memberSent(r.w, &d, 0); pkts != uint64(len(vec)) || bytes != totalLen(vec) {
			t.Errorf("vector %d: member 0 counted %d packets, %d bytes; want %d, %d", i, pkts, bytes, len(vec), totalLen(vec))
		}
		if pkts, bytes := memberSent(r.w, &d, 1); pkts != 0 || bytes != 0 {
			t.Errorf("vector %d: member 1 counted %d packets, %d bytes; want none", i, pkts, bytes)
		}
		if d.rxBytes != totalLen(vec) {
			t.Errorf("vector %d: %d bytes received, want %d", i, d.rxBytes, totalLen(vec))
		}
		if n := d.classes[classify.ClassL4] + d.classes[classify.ClassL3]; n != uint64(len(vec)) {
			t.Errorf("vector %d: %d frames classed L4 or L3, want %d", i, n, len(vec))
		}
	}
	if want := len(before) + len(first) + len(second); q.Len() != want {
		t.Errorf("member 0's queue holds %d frames, want %d", q.Len(), want)
	}
	r.w.IO().Flush()
	got := r.members[0].drain()
	want := append(append(append([][]byte{}, before...), first...), second...)
	if len(got) != len(want) {
		t.Fatalf("member 0 sent %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("frame %d sent out of order or changed: % x, want % x", i, got[i][:16], want[i][:16])
		}
	}
}

// TestFastPathLeavesAFullQueueToTheGeneralPath fills a member's queue so
// far that a vector no longer fits: the fast path must not take the
// vector (its loop does not test for room), and the general path sends
// what fits and drops the rest as tx_full, counting each once.
func TestFastPathLeavesAFullQueueToTheGeneralPath(t *testing.T) {
	r := newRig(t, 2, func(r *rig, _ *WorkerConfig) { r.noStart = true })
	r.publish(0)
	ts := &r.snap.Load().Teams[0]
	q := r.w.memberQ[0][0]
	held := dpdk.TxQueueCap - dpdk.Vector + 1
	for _, m := range r.mbufs(t, marked(held)) {
		if !q.Push(m) {
			t.Fatal("queue full")
		}
	}
	vec := traffic.Mix(dpdk.Vector, 3, teamMAC, clientMAC)
	var d delta
	r.w.fromKernel(0, ts, 0, r.mbufs(t, vec), &d)
	fits := dpdk.TxQueueCap - held
	if d.txPkts[0] != uint64(fits) || d.drops[DropTxFull] != uint64(len(vec)-fits) {
		t.Errorf("member 0 counted %d packets and %d tx_full drops; want %d and %d", d.txPkts[0], d.drops[DropTxFull], fits, len(vec)-fits)
	}
	if d.txBytes[0] != totalLen(vec[:fits]) {
		t.Errorf("member 0 counted %d bytes, want %d", d.txBytes[0], totalLen(vec[:fits]))
	}
	if n := d.classes[classify.ClassL4] + d.classes[classify.ClassL3]; n != uint64(len(vec)) {
		t.Errorf("%d frames classed L4 or L3, want %d", n, len(vec))
	}
	if q.Len() != dpdk.TxQueueCap {
		t.Errorf("member 0's queue holds %d frames, want %d", q.Len(), dpdk.TxQueueCap)
	}
	r.w.IO().Flush()
	if got := r.members[0].drain(); len(got) != dpdk.TxQueueCap {
		t.Errorf("member 0 sent %d frames, want %d", len(got), dpdk.TxQueueCap)
	}
}

// TestFastPathRewritesOnlyTheTeamSource checks the SLB source rewrite
// the fast path does as one word: a frame from the team MAC leaves a
// member with its own MAC, IPv4 or IPv6 alike, with the rest of the
// header untouched; a frame from another source keeps it.
func TestFastPathRewritesOnlyTheTeamSource(t *testing.T) {
	r := newRig(t, 2, func(r *rig, _ *WorkerConfig) { r.noStart = true })
	ts := slbState(ModeSLB)
	for b := range ts.Table {
		ts.Table[b] = 1 // every flow on the member that rewrites
	}
	r.publishState(ts)
	other := frame.MAC{0x02, 0, 0, 0, 0, 0x77}
	mix := traffic.Mix(40, 4, teamMAC, clientMAC)
	var v4, v6 []byte
	for _, f := range mix {
		switch {
		case v4 == nil && classify.IsFastL4(f):
			v4 = f
		case v6 == nil && classify.IsFastV6L4(f):
			v6 = f
		}
	}
	if v4 == nil || v6 == nil {
		t.Fatal("no IPv4 or IPv6 TCP/UDP frame in the mix")
	}
	foreign := bytes.Clone(v4)
	copy(foreign[6:12], other[:])
	in := [][]byte{v4, v6, foreign}
	var d delta
	r.w.fromKernel(0, &r.snap.Load().Teams[0], 0, r.mbufs(t, in), &d)
	if pkts, _ := memberSent(r.w, &d, 1); pkts != uint64(len(in)) {
		t.Fatalf("member 1 counted %d packets, want %d", pkts, len(in))
	}
	r.w.IO().Flush()
	got := r.members[1].drain()
	if len(got) != len(in) {
		t.Fatalf("member 1 sent %d frames, want %d", len(got), len(in))
	}
	for i, wantSrc := range []frame.MAC{memberMAC1, memberMAC1, other} {
		want := bytes.Clone(in[i])
		copy(want[6:12], wantSrc[:])
		if !bytes.Equal(got[i], want) {
			t.Errorf("frame %d left as % x, want % x", i, got[i][:16], want[:16])
		}
	}
}

// TestFastPathLeavesATableWithoutMembersToTheGeneralPath gives half the
// buckets no member: sendFast, whose loop does not test the member it
// looks up, must leave the vector to the general path, which sends the
// frames of the other buckets and drops these as no_member.
func TestFastPathLeavesATableWithoutMembersToTheGeneralPath(t *testing.T) {
	r := newRig(t, 2, func(r *rig, _ *WorkerConfig) { r.noStart = true })
	ts := SingleMember(teamMAC, 2, 0)
	for b := range ts.Table {
		if b%2 == 1 {
			ts.Table[b] = -1
		}
	}
	r.publishState(ts)
	vec := traffic.Mix(dpdk.Vector, 5, teamMAC, clientMAC)
	sent := 0
	for _, f := range vec {
		if classify.Bucket(classify.Frame(f).Hash, NBuckets)%2 == 0 {
			sent++
		}
	}
	if sent == 0 || sent == len(vec) {
		t.Fatalf("%d of %d frames in buckets with a member: want some of each", sent, len(vec))
	}
	var d delta
	r.w.pend = pendingCounters{}
	r.w.fromKernel(0, &r.snap.Load().Teams[0], 0, r.mbufs(t, vec), &d)
	if pkts, _ := memberSent(r.w, &d, 0); pkts != uint64(sent) {
		t.Errorf("member 0 counted %d packets, want %d", pkts, sent)
	}
	if d.drops[DropNoMember] != uint64(len(vec)-sent) {
		t.Errorf("%d no_member drops, want %d", d.drops[DropNoMember], len(vec)-sent)
	}
	r.w.IO().Flush()
	if got := r.members[0].drain(); len(got) != sent {
		t.Errorf("member 0 sent %d frames, want %d", len(got), sent)
	}
}
