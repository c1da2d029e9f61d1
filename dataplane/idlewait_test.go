package dataplane

import (
	"net"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/tap"
)

// TestIdleWorkerWakesForTheKernel: a worker asleep for lack of traffic
// (IdleSleep) takes a frame the kernel sends on its TAP queue at once,
// not when the sleep ends. The TAP lives in a network namespace of the
// test's own thread; the frames are sent to it by a packet socket there.
func TestIdleWorkerWakesForTheKernel(t *testing.T) {
	ownNetns(t)
	d, err := tap.Open("tgwake0", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Configure(net.HardwareAddr(teamMAC[:]), 1500); err != nil {
		t.Fatal(err)
	}
	const sleep = 100 * time.Millisecond
	r := newRig(t, 1, func(r *rig, wc *WorkerConfig) {
		wc.Teams[0].Kernel = d
		wc.Pool = r.pool
		wc.IdleSleep = sleep
	})
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Ifindex: d.Index}
	out := r.members[0].out
	buf := make([]*dpdk.Mbuf, 32)
	var took []time.Duration
	for i := range 9 {
		time.Sleep(3 * sleep / 2) // long enough for the worker to be asleep
		for k := out.Dequeue(buf); k > 0; k = out.Dequeue(buf) {
			for _, m := range buf[:k] {
				m.Free() // what the kernel sent of its own (IPv6 when the link came up)
			}
		}
		payload := byte(0x40 + i)
		start := time.Now()
		if err := unix.Sendto(fd, ethFrame(clientMAC, teamMAC, payload), 0, to); err != nil {
			t.Fatal(err)
		}
		found := false
		for !found && time.Since(start) < 5*time.Second {
			k := out.Dequeue(buf)
			if k == 0 {
				// Not a spin: on a small machine the worker needs the CPU.
				unix.Nanosleep(&unix.Timespec{Nsec: 50_000}, nil)
			}
			for _, m := range buf[:k] {
				f := m.Data()
				found = found || len(f) == 60 && f[14] == payload && f[59] == payload
				m.Free()
			}
		}
		if !found {
			t.Fatalf("frame %d did not reach the member within 5 s", i)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	// Left to the sleep, a frame would wait half of it on average.
	if med := took[len(took)/2]; med > sleep/10 {
		t.Fatalf("median %v from the kernel to the member with an idle sleep of %v (all: %v)", med, sleep, took)
	}
}
