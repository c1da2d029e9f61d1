package dataplane

import (
	"math/bits"
	"sync/atomic"

	"github.com/teamgw/teamgw/dataplane/classify"
)

// DropReason says why a worker dropped a frame.
type DropReason uint8

// Drop reasons.
const (
	// DropMalformed: shorter than an Ethernet header.
	DropMalformed DropReason = iota
	// DropInactive: arrived on a member that does not carry traffic now
	// (a standby, or a member that has failed over); BASP accepts
	// inbound frames on the active member only.
	DropInactive
	// DropLoop: the source MAC is the team's own, so this is our own
	// frame reflected by the switch.
	DropLoop
	// DropNotForUs: unicast to a MAC that is not the team's.
	DropNotForUs
	// DropNoMember: from the kernel while no member can transmit.
	DropNoMember
	// DropTxFull: the TX buffer of the chosen queue was full.
	DropTxFull
	// DropMulticastFilter: broadcast or multicast received on an SLB
	// member other than the path member (BASP's loop filter: the kernel
	// must see each broadcast once).
	DropMulticastFilter
	// DropUnknownVLAN: tagged with a VLAN the team does not have.
	DropUnknownVLAN
	// DropSlowProtocol: an IEEE 802.3 slow-protocols frame (LACP,
	// marker) on a team that does not run LACP; never for the kernel.
	DropSlowProtocol
	// DropBadOffload: a frame from the TAP whose virtio-net header does
	// not match its headers (GSO type, checksum offsets, GSO size).
	DropBadOffload
	// DropNoMbuf: the mbuf pool was empty when a frame from the TAP
	// needed one.
	DropNoMbuf
	// DropOversize: a frame from the TAP larger than an mbuf and not a
	// super-frame to segment.
	DropOversize
	// DropKernelWrite: the kernel refused a frame written to the TAP.
	DropKernelWrite
	// DropSpoofedARP: an ARP from the wire whose sender claims one of
	// the team's own IPv4 addresses or MACs. Never passed on, so no
	// frame can make the kernel (and through it the SLB client table)
	// put the team's address or MAC somewhere else.
	DropSpoofedARP
	// DropSlowFlood: a slow-protocols frame from a source other than the
	// LACP partner beyond SlowBudget (a flood of LACPDUs or markers).
	DropSlowFlood
	// NumDropReasons counts the reasons.
	NumDropReasons
)

var dropNames = [NumDropReasons]string{"malformed", "inactive_member", "loop", "not_for_us", "no_member", "tx_full", "multicast_filter", "unknown_vlan", "slow_protocol", "bad_offload", "no_mbuf", "oversize", "kernel_write", "spoofed_arp", "slow_flood"}

// String is the reason's metric label.
func (r DropReason) String() string {
	if r < NumDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// PortCounters count the frames a worker received from and sent to one port.
type PortCounters struct {
	RxPackets, RxBytes, TxPackets, TxBytes atomic.Uint64
}

// TeamCounters are one worker's counters for one team. Index MaxMembers of
// Ports is the TAP.
type TeamCounters struct {
	Ports   [MaxMembers + 1]PortCounters
	Drops   [NumDropReasons]atomic.Uint64
	Classes [classify.NumClasses]atomic.Uint64 // frames from the kernel by class
	// ToControl counts slow-protocols frames handed to the control plane.
	ToControl atomic.Uint64
	// SuperFrames counts TCP/UDP super-frames from the TAP cut into
	// segments (TSO/USO done in software).
	SuperFrames atomic.Uint64
	// OffloadedFrames counts TCP super-frames from the TAP handed whole
	// to a member that segments them itself (TSO on the NIC) or to a
	// kernel-backed member's kernel (GSO, kernelgso.go).
	OffloadedFrames atomic.Uint64
	// KernelGSORefused counts TCP super-frames the kernel refused whole
	// on a kernel-backed member's packet socket, by reason class
	// (GSORefusedFull: ENOBUFS or EAGAIN, send buffer or device full;
	// GSORefusedOther: anything else, such as the interface down), and
	// KernelGSOBackoff those sent the PMD's way without trying, in the
	// GSOBackoff super-frames after a refusal. Both went the PMD's way,
	// segmented by the worker (they are among SuperFrames).
	KernelGSORefused [numGSORefusals]atomic.Uint64
	KernelGSOBackoff atomic.Uint64
	// Coalesced counts TCP super-frames written to the TAP, and
	// CoalescedSegments the wire segments they were made of (GRO).
	Coalesced, CoalescedSegments atomic.Uint64
	_                            [64]byte // keep the next team's counters off this cache line
}

// VectorSizeBounds are the upper bounds of the vector-size histogram's
// buckets (a vector holds at most dpdk.Vector = 256 packets).
var VectorSizeBounds = [...]int{1, 3, 7, 15, 31, 63, 127, 255, 256}

// vectorSizeBucket is the histogram bucket of a vector of n >= 1 packets:
// the bit length of n, capped (1 -> 0, 2..3 -> 1, ..., 128..255 -> 7,
// 256 -> 8).
func vectorSizeBucket(n int) int { return min(bits.Len(uint(n))-1, len(VectorSizeBounds)-1) }

// TapIndex is the Ports index of the kernel-facing port.
const TapIndex = MaxMembers

// WorkerCounters are everything one worker counts; only that worker writes
// them, any goroutine may read them.
type WorkerCounters struct {
	_       [64]byte
	Teams   [MaxTeams]TeamCounters
	Vectors atomic.Uint64
	// VectorSizes is the histogram of vector sizes: bucket i counts the
	// vectors of at most VectorSizeBounds[i] packets (and more than the
	// bound before it).
	VectorSizes [len(VectorSizeBounds)]atomic.Uint64
	Packets     atomic.Uint64
	_           [64]byte
}

// PortTotals is a plain copy of PortCounters.
type PortTotals struct {
	RxPackets, RxBytes, TxPackets, TxBytes uint64
}

// Sub is p minus q, field by field.
func (p PortTotals) Sub(q PortTotals) PortTotals {
	return PortTotals{p.RxPackets - q.RxPackets, p.RxBytes - q.RxBytes, p.TxPackets - q.TxPackets, p.TxBytes - q.TxBytes}
}

// Plus is p plus q, field by field.
func (p PortTotals) Plus(q PortTotals) PortTotals {
	return PortTotals{p.RxPackets + q.RxPackets, p.RxBytes + q.RxBytes, p.TxPackets + q.TxPackets, p.TxBytes + q.TxBytes}
}

// TeamTotals is a plain copy of TeamCounters summed over workers.
type TeamTotals struct {
	Ports       [MaxMembers + 1]PortTotals
	Drops       [NumDropReasons]uint64
	Classes     [classify.NumClasses]uint64
	ToControl   uint64
	SuperFrames uint64
	// OffloadedFrames are the super-frames left to a member's TSO or
	// its kernel's GSO.
	OffloadedFrames uint64
	// KernelGSORefused and KernelGSOBackoff are those of TeamCounters.
	KernelGSORefused [numGSORefusals]uint64
	KernelGSOBackoff uint64
	Coalesced        uint64
	// CoalescedSegments are the wire segments the Coalesced super-frames
	// were made of.
	CoalescedSegments uint64
}

// Add adds one worker's counters for team t into tt.
func (tt *TeamTotals) Add(c *TeamCounters) {
	for i := range c.Ports {
		p := &c.Ports[i]
		tt.Ports[i].RxPackets += p.RxPackets.Load()
		tt.Ports[i].RxBytes += p.RxBytes.Load()
		tt.Ports[i].TxPackets += p.TxPackets.Load()
		tt.Ports[i].TxBytes += p.TxBytes.Load()
	}
	for i := range c.Drops {
		tt.Drops[i] += c.Drops[i].Load()
	}
	for i := range c.Classes {
		tt.Classes[i] += c.Classes[i].Load()
	}
	tt.ToControl += c.ToControl.Load()
	tt.SuperFrames += c.SuperFrames.Load()
	tt.OffloadedFrames += c.OffloadedFrames.Load()
	for i := range c.KernelGSORefused {
		tt.KernelGSORefused[i] += c.KernelGSORefused[i].Load()
	}
	tt.KernelGSOBackoff += c.KernelGSOBackoff.Load()
	tt.Coalesced += c.Coalesced.Load()
	tt.CoalescedSegments += c.CoalescedSegments.Load()
}

// Bucket counters: a worker counts packets and bytes per team and flow
// bucket in hugepage memory (dpdk.Counters): per team, the packet
// counters of its buckets, then their byte counters (bucketCounters).
const bucketWords = MaxTeams * NBuckets * 2

// bucketIndex is the index of the packet counter of (team, bucket); its
// byte counter is NBuckets words further.
func bucketIndex(team, bucket int) int { return team*NBuckets*2 + bucket }

// bucketCounters is one team's bucket counters as a worker updates them:
// packets by bucket, then bytes by bucket. Two arrays of words rather than
// pairs, so that a bucket's counter is addressed with one scaled index.
type bucketCounters [2][NBuckets]uint64

// AddBuckets adds one worker's bucket counters of team into packets and
// bytes (each of length NBuckets).
func AddBuckets(c []uint64, team int, packets, bytes []uint64) {
	base := bucketIndex(team, 0)
	for b := range NBuckets {
		packets[b] += c[base+b]
		bytes[b] += c[base+NBuckets+b]
	}
}

// publishEvery is how many vectors a worker counts in its pendingCounters
// before it adds them to its WorkerCounters; it also does so at every step
// that finds nothing. At 256 packets a vector, readers see the counters
// at most 4096 packets late while the worker is busy.
const publishEvery = 16

// pendingCounters are the counts of the vectors a worker handled since it
// last published them (Worker.publishCounters): plain words that only
// the worker touches, so that a vector costs no locked instruction (each
// of which, on x86, also waits for the vector's stores to drain).
type pendingCounters struct {
	teams [MaxTeams]TeamTotals
	// dirty has bit t set when teams[t] holds counts.
	dirty   uint8
	vectors uint64
	sizes   [len(VectorSizeBounds)]uint64
	packets uint64
}

// publishCounters adds the pending counts to the shared counters and
// clears them. Only the worker's polling thread calls it.
func (w *Worker) publishCounters() {
	p := &w.pend
	for t := range p.teams {
		if p.dirty&(1<<t) == 0 {
			continue
		}
		pt, c := &p.teams[t], &w.counters.Teams[t]
		for i := range pt.Ports {
			pp, cp := &pt.Ports[i], &c.Ports[i]
			publish(&cp.RxPackets, &pp.RxPackets)
			publish(&cp.RxBytes, &pp.RxBytes)
			publish(&cp.TxPackets, &pp.TxPackets)
			publish(&cp.TxBytes, &pp.TxBytes)
		}
		for i := range pt.Drops {
			publish(&c.Drops[i], &pt.Drops[i])
		}
		for i := range pt.Classes {
			publish(&c.Classes[i], &pt.Classes[i])
		}
		publish(&c.ToControl, &pt.ToControl)
		publish(&c.Coalesced, &pt.Coalesced)
		publish(&c.CoalescedSegments, &pt.CoalescedSegments)
	}
	p.dirty = 0
	for i := range p.sizes {
		publish(&w.counters.VectorSizes[i], &p.sizes[i])
	}
	publish(&w.counters.Packets, &p.packets)
	publish(&w.counters.Vectors, &p.vectors)
}

// publish adds *n to c and clears it.
func publish(c *atomic.Uint64, n *uint64) {
	if *n != 0 {
		c.Add(*n)
		*n = 0
	}
}
