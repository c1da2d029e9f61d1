package dataplane

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/afpacket"
	"github.com/teamgw/teamgw/dataplane/vnet"
)

// TestSendWholeAllocatesNothing: writing a super-frame whole to a member's
// packet socket allocates nothing, and each is counted as the wire
// segments it becomes. The socket is on the loopback interface of a
// network namespace of the test's own thread (unshared, so nothing
// reaches the machine's), which takes GSO skbs past the qdisc.
func TestSendWholeAllocatesNothing(t *testing.T) {
	ownNetns(t)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		t.Fatal(err)
	}
	ifr.SetUint16(unix.IFF_UP)
	err = unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
	unix.Close(fd)
	if err != nil {
		t.Fatalf("lo up: %v", err)
	}
	tx, err := afpacket.Open("lo", afpacket.Options{QdiscBypass: true, SendBuffer: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()

	w, ks, s := gsoWorker(t, tx)
	if w.memberTx(ks.src, 0) != tx {
		t.Fatal("the worker has not the member's socket")
	}
	f := tcpSuper(20000)
	h := vnet.Header{Flags: vnet.FlagNeedsCsum, GSOType: vnet.GSOTCPv4, GSOSize: 1448, CsumStart: 34, CsumOffset: 16}
	results := map[wholeResult]int{}
	const runs = 100
	if n := testing.AllocsPerRun(runs, func() {
		_, res := w.sendWhole(ks, s, tx, 0, 0, h, f)
		results[res]++
	}); n != 0 {
		t.Errorf("%v allocations per super-frame", n)
	}
	if results[wholeSent] != runs+1 { // AllocsPerRun runs it once more first
		t.Fatalf("results %v, want all sent", results)
	}
	segs, bytes := wireSegments(len(f), 54, 1448)
	c := &w.counters.Teams[0].Ports[0]
	if got := c.TxPackets.Load(); got != (runs+1)*segs {
		t.Errorf("member TX packets %d, want %d segments for each of %d super-frames", got, segs, runs+1)
	}
	if got := c.TxBytes.Load(); got != (runs+1)*bytes {
		t.Errorf("member TX bytes %d, want %d", got, (runs+1)*bytes)
	}
}

// TestWireSegmentsMatchTheSegmenter: a super-frame left whole is counted
// as the segments the segmenter cuts it into, packets and bytes.
func TestWireSegmentsMatchTheSegmenter(t *testing.T) {
	for _, c := range []struct{ payload, mss int }{{1, 1448}, {1448, 1448}, {1449, 1448}, {60000, 1448}, {65000, 1000}} {
		f := tcpSuper(c.payload)
		var s vnet.Segmenter
		h := vnet.Header{Flags: vnet.FlagNeedsCsum, GSOType: vnet.GSOTCPv4, GSOSize: uint16(c.mss), CsumStart: 34, CsumOffset: 16}
		if err := s.Reset(h, f, 9000); err != nil {
			t.Fatal(err)
		}
		var segs, bytes uint64
		buf := make([]byte, 9000)
		for n := s.Next(buf); n != 0; n = s.Next(buf) {
			segs++
			bytes += uint64(n)
		}
		if gs, gb := wireSegments(len(f), 54, c.mss); gs != segs || gb != bytes {
			t.Errorf("payload %d, mss %d: %d segments of %d bytes, the segmenter cut %d of %d", c.payload, c.mss, gs, gb, segs, bytes)
		}
	}
}

// tcpSuper is an IPv4 TCP super-frame with payload bytes of payload
// behind 14 + 20 + 20 bytes of headers.
func tcpSuper(payload int) []byte {
	f := make([]byte, 54+payload)
	f[12], f[13] = 0x08, 0x00
	f[14] = 0x45
	n := 40 + payload
	f[16], f[17] = byte(n>>8), byte(n)
	f[22], f[23] = 64, 6
	copy(f[26:34], []byte{192, 0, 2, 1, 192, 0, 2, 10})
	f[46] = 5 << 4
	return f
}

// TestGSOBackoffPerTypeAndClearedByNewPorts: a refusal sends the next
// GSOBackoff super-frames of its GSO type for the member the PMD's way
// untried, counted apart from the refusal and classed by its error; the
// other GSO type is still tried; a new port set clears the backoff. The
// socket is a Sender never opened, whose writes fail (EBADF: a refusal
// of the "other" class).
func TestGSOBackoffPerTypeAndClearedByNewPorts(t *testing.T) {
	dead := &afpacket.Sender{}
	w, ks, s := gsoWorker(t, dead)
	v4, v6 := tcpSuper(5000), tcpSuper6(5000)
	h4 := vnet.Header{Flags: vnet.FlagNeedsCsum, GSOType: vnet.GSOTCPv4, GSOSize: 1448, CsumStart: 34, CsumOffset: 16}
	h6 := vnet.Header{Flags: vnet.FlagNeedsCsum, GSOType: vnet.GSOTCPv6, GSOSize: 1428, CsumStart: 54, CsumOffset: 16}
	send := func(h vnet.Header, f []byte) wholeResult {
		_, res := w.sendWhole(ks, s, dead, 0, 0, h, f)
		return res
	}
	if res := send(h4, v4); res != wholeRefusedOther {
		t.Fatalf("first IPv4 super-frame: %v, want refused (other)", res)
	}
	for i := range GSOBackoff {
		if res := send(h4, v4); res != wholeBackoff {
			t.Fatalf("IPv4 super-frame %d after the refusal: %v, want backoff", i+1, res)
		}
		if i == 0 {
			if res := send(h6, v6); res != wholeRefusedOther {
				t.Fatalf("IPv6 super-frame during the IPv4 backoff: %v, want tried and refused", res)
			}
		}
	}
	if res := send(h4, v4); res != wholeRefusedOther {
		t.Fatalf("IPv4 super-frame after %d in backoff: %v, want tried again", GSOBackoff, res)
	}
	if res := send(h4, v4); res != wholeBackoff {
		t.Fatalf("%v, want backoff", res)
	}
	if err := w.applyPorts(w.cfg.Teams); err != nil {
		t.Fatal(err)
	}
	if res := send(h4, v4); res != wholeRefusedOther {
		t.Fatalf("IPv4 super-frame after a new port set: %v, want tried (backoff cleared)", res)
	}
}

// tcpSuper6 is an IPv6 TCP super-frame with payload bytes of payload
// behind 14 + 40 + 20 bytes of headers.
func tcpSuper6(payload int) []byte {
	f := make([]byte, 74+payload)
	f[12], f[13] = 0x86, 0xdd
	f[14] = 0x60
	n := 20 + payload
	f[18], f[19] = byte(n>>8), byte(n)
	f[20], f[21] = 6, 64
	f[22], f[38] = 0x20, 0x20
	f[66] = 5 << 4
	return f
}

// gsoWorker is a worker, not started, of a one-member team whose member
// sends super-frames on tx, with its kernel-path state, the source of the
// team's TAP and the published snapshot.
func gsoWorker(t *testing.T, tx *afpacket.Sender) (*Worker, *kernelSource, *Snapshot) {
	t.Helper()
	r := newRig(t, 1, func(r *rig, wc *WorkerConfig) {
		wc.Teams[0].MemberTx = []afpacket.Senders{{tx}}
		r.noStart = true
	})
	r.w.kio = newKernelIO(r.pool)
	return r.w, &kernelSource{src: source{team: 0, member: -1}}, r.snap.Load()
}

// ownNetns moves the test's thread into a network namespace of its own
// for the rest of the test: the thread stays locked, and ends with it.
func ownNetns(t *testing.T) {
	t.Helper()
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Fatalf("unshare: %v", err)
	}
}
