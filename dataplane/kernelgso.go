package dataplane

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/afpacket"
	"github.com/teamgw/teamgw/dataplane/classify"
	"github.com/teamgw/teamgw/dataplane/vnet"
)

// Super-frames left whole to a kernel-backed member's kernel (issue 9).
// A member on net_af_packet offers no TSO: the PMD copies every frame into
// its ring and the kernel builds one skb per frame, which held the kernel
// path's transmit direction to a tenth of what the kernel does on the same
// veth. The control plane therefore opens, per worker, a transmit-only
// packet socket with virtio-net headers on such a member's interface
// (package afpacket, TeamPorts.MemberTx), and a TCP super-frame from the
// TAP that the snapshot sends on that member is written to it whole, from
// the buffer it was read into, with a header asking for GSO
// (vnet.PacketGSO). The kernel carries it as one skb and segments it only
// where the egress device needs it.
//
// Order within a flow: a flow leaves on one member, so only the order
// within the member matters. Before the super-frame is written, what the
// worker holds that may go to its member is forwarded and handed to the
// PMD (rte_eth_tx_burst): the TAP vector being built when it may hold
// frames for that member (kernelIO.vecMembers: a super-frame's segments
// count for the member superMember picked, any other frame for every
// member, as fromKernel decides), and the member's TX buffer when it holds
// frames (the member vector of this poll). Frames for other members stay
// queued, so a poll of super-frames for one member costs no cgo call and
// no PMD sendto per super-frame. A member has sockets only when both they
// and the PMD's bypass the interface's queueing discipline
// (control.memberTxPlan): through the qdisc the kernel copies what we
// send to the PMD's RX sockets, which would take it back in as loops. So
// both reach the driver the same way, on the TX queue of the worker's CPU.
//
// What this does not guarantee: net_af_packet's transmit copies frames
// into its ring and kicks the kernel with a sendto that ignores EAGAIN and
// ENOBUFS; when the device queue is full the kernel stops there and the
// rest of the ring waits for the PMD's next send. Under a full device a
// super-frame can therefore overtake earlier frames of its flow still in
// the ring (TCP sees reordering, not loss).

// allMembers is the member mask (kernelIO.vecMembers) of every slot.
const allMembers = 1<<MaxMembers - 1

// memberBit is slot mi's bit in a member mask, every slot's for a slot
// that names no member.
func memberBit(mi int8) uint8 {
	if mi < 0 || mi >= MaxMembers {
		return allMembers
	}
	return 1 << uint8(mi)
}

// memberTx is the worker's packet socket on member mi of src's team, or
// nil when the member has none (not kernel-backed) or the worker has no
// queue on it.
func (w *Worker) memberTx(src source, mi int8) *afpacket.Sender {
	if mi < 0 || uint8(mi) >= MaxMembers || w.memberQ[src.team][mi] == nil {
		return nil
	}
	tx := w.cfg.Teams[src.team].MemberTx
	if int(mi) >= len(tx) || w.cfg.ID >= len(tx[mi]) {
		return nil
	}
	return tx[mi][w.cfg.ID]
}

// segmentRoom is the room of an empty mbuf of the worker's pool: the
// largest frame the segmenting path writes before the VLAN's tag, which
// bounds the segments of a super-frame on every path; 0 while the pool
// has never had an mbuf to give.
func (w *Worker) segmentRoom() int {
	k := w.kio
	if k.room == 0 {
		if m := w.mbuf(); m != nil {
			k.room = len(m.Room())
			k.spare = append(k.spare, m)
		}
	}
	return k.room
}

// GSOBackoff is how many super-frames of one GSO type (TCPv4, TCPv6) for
// a member go the PMD's way after its kernel refused one of that type: a
// refusal that repeats (the interface lost its TSO while the socket
// bypasses the qdisc, a device queue stays full) must not cost a 64 KB
// copy into a dropped skb per super-frame. The backoff is per type, so a
// device that segments only one of them does not push the other to the
// slow path; it is cleared when the worker applies a new port set.
const GSOBackoff = 64

// GSO refusal classes, the index of TeamCounters.KernelGSORefused.
const (
	// GSORefusedFull: ENOBUFS or EAGAIN, the socket's send buffer or
	// the device queue full (or, past the qdisc, a device without TSO).
	GSORefusedFull = iota
	// GSORefusedOther: any other error (interface down or gone, EINVAL).
	GSORefusedOther
	numGSORefusals
)

// gsoKind is the backoff slot of GSO type t: 0 for TCPv4, 1 for TCPv6.
func gsoKind(t uint8) int {
	if t&^vnet.GSOECN == vnet.GSOTCPv6 {
		return 1
	}
	return 0
}

// wholeResult is what became of a super-frame sendWhole was given.
type wholeResult uint8

const (
	// wholeSent: the super-frame left whole.
	wholeSent wholeResult = iota
	// wholeRefusedFull, wholeRefusedOther: the member's kernel refused
	// it (GSORefusedFull, GSORefusedOther).
	wholeRefusedFull
	wholeRefusedOther
	// wholeBackoff: not tried, the kernel refused one of its GSO type
	// for the member less than GSOBackoff super-frames before.
	wholeBackoff
	// wholeUnsuited: not a TCP super-frame whose headers suit the
	// kernel's GSO (vnet.PacketGSO): a UDP one, one whose GSO size
	// would make segments larger than the segmenting path's or whose IP
	// length is not the frame's — the segmenter will judge it.
	wholeUnsuited
)

// sendWhole writes TCP super-frame f (read from the TAP with header h)
// whole to member mi's packet socket tx, as fromKernel would send it: the
// member's source MAC in SLB, the 802.1Q tag of src's VLAN. It returns the
// frames it forwarded first (to keep their order) and what became of f;
// unless it was sent, the caller sends f the PMD's way. Counters are
// written only when the frame left.
func (w *Worker) sendWhole(ks *kernelSource, s *Snapshot, tx *afpacket.Sender, mi int8, b uint8, h vnet.Header, f []byte) (int, wholeResult) {
	k := w.kio
	t := int(ks.src.team)
	vid := w.vlanID[t][ks.src.tap]
	tag := 0
	if vid != 0 {
		tag = 4
	}
	ph, err := vnet.PacketGSO(h, f, tag, w.segmentRoom())
	if err != nil {
		return 0, wholeUnsuited
	}
	// PacketGSO rewrote the TCP checksum field; the segmenter, should
	// the frame go its way, computes complete checksums regardless.
	skip := &k.gsoSkip[t][mi][gsoKind(h.GSOType)]
	if *skip > 0 {
		*skip--
		return 0, wholeBackoff
	}
	// Only the order within the member matters: hand the PMD what is
	// queued for it, and only when something is.
	n := 0
	if len(k.vec) > 0 && k.vecMembers&memberBit(mi) != 0 {
		n = w.flushKernel(ks, s)
	} else if w.memberQ[t][mi].Len() > 0 {
		w.io.Flush()
		k.unflushed = false
	}
	ts := &s.Teams[t]
	if ts.Rewrite&(1<<(uint8(mi)&31)) != 0 {
		rewriteSource(f, &ts.MAC, &ts.SourceMAC[mi])
	}
	ph.Encode(k.hdr)
	iov := k.iov[:0]
	iov = append(iov, unix.Iovec{Base: unsafe.SliceData(k.hdr), Len: vnet.HeaderLen})
	et := binary.BigEndian.Uint16(f[12:14])
	if tag != 0 {
		putTag(k.tag, vid)
		et = 0x8100
		iov = append(iov,
			unix.Iovec{Base: unsafe.SliceData(f), Len: 12},
			unix.Iovec{Base: unsafe.SliceData(k.tag), Len: 4},
			unix.Iovec{Base: &f[12], Len: uint64(len(f) - 12)})
	} else {
		iov = append(iov, unix.Iovec{Base: unsafe.SliceData(f), Len: uint64(len(f))})
	}
	if err := tx.Write(iov, et); err != nil {
		*skip = GSOBackoff
		if err == unix.ENOBUFS || err == unix.EAGAIN {
			return n, wholeRefusedFull
		}
		return n, wholeRefusedOther
	}
	// Counted as the segmenting path counts it: in the wire segments the
	// kernel cuts it into (packets, and bytes with the headers of each),
	// so that the rates stay steady when a member's super-frames change
	// path (a refusal, its backoff).
	segs, wire := wireSegments(len(f), int(ph.HdrLen)-tag, int(ph.GSOSize))
	c := &w.counters.Teams[t]
	c.Ports[TapIndex].RxPackets.Add(segs)
	c.Ports[TapIndex].RxBytes.Add(wire)
	c.Ports[mi].TxPackets.Add(segs)
	c.Ports[mi].TxBytes.Add(wire + segs*uint64(tag))
	c.Classes[classify.ClassL4].Add(segs)
	bi := bucketIndex(t, int(b))
	w.buckets[bi] += segs
	w.buckets[bi+NBuckets] += wire
	return n + 1, wholeSent
}

// wireSegments is how many segments of at most mss payload bytes a
// super-frame of n bytes with hdr bytes of headers is cut into, and their
// bytes, each with the headers.
func wireSegments(n, hdr, mss int) (segs, bytes uint64) {
	k := max(1, (n-hdr+mss-1)/mss)
	return uint64(k), uint64(n + (k-1)*hdr)
}
