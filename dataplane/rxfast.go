package dataplane

import (
	"encoding/binary"
	"math/bits"
	"unsafe"

	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/frame"
)

// The receive path's fast test. Most frames from the wire are unicast IPv4
// or IPv6 for the team (or, in SLB, for a member's own MAC) from a host
// that is not us. For such a frame every receive filter has a known
// answer — not slow protocols, not an echo-probe reply, not ARP (so no
// ARP guard), not 802.1Q, not multicast — except the loop filter (is the
// source one of our MACs?) and the destination test. rxFast decides both
// from the EtherType, the last byte of each MAC and one 8-byte load of the
// destination, with a few compares against MACs read out of the snapshot
// when it changes (rxView); every other
// frame takes the full filters (wireFrame: acceptFromWire and the rest),
// so the answer is the same either way.
//
// A MAC is compared as the top 48 bits of a word (macKey): a little-endian
// load of the 8 bytes that end with it, shifted left by 16, so one shift
// isolates the source MAC of the word at offset 6 (whose top 16 bits are
// the EtherType) and the destination of the word at offset 0.
//
// The source is tested against all of our MACs, team and members, with
// one table lookup (ours, by the MAC's last byte, read from the frame)
// before any compare: a frame from a host whose MAC ends in a byte none of
// ours ends in (most hosts) costs no compare of its source, nor a load of
// it.

// EtherTypes as a little-endian load of a frame's bytes 12 and 13 reads
// them: byte-swapped.
const (
	typeIPv4Swapped = frame.TypeIPv4>>8 | frame.TypeIPv4&0xff<<8
	typeIPv6Swapped = frame.TypeIPv6>>8 | frame.TypeIPv6&0xff<<8
)

// macKey is mac as the fast path compares it.
func macKey(mac frame.MAC) uint64 {
	return uint64(binary.LittleEndian.Uint32(mac[0:4]))<<16 | uint64(binary.LittleEndian.Uint16(mac[4:6]))<<48
}

// rxFast is a worker's view of a team for the fast test, loaded when the
// snapshot changes (rxView) and kept across vectors; only own is set per
// vector (from). The fields
// the loops read for every frame come first: at offsets under 128 an
// instruction holds them in one byte.
type rxFast struct {
	// team is the team MAC, or noMAC when the fast path is off for
	// the vector: the member is inactive or one of our MACs is a group
	// address, and every frame takes the full filters.
	team uint64
	// own is members[mi] for the member mi the vector came from (from),
	// noMAC until set.
	own uint64
	// mul are rxSlotMul, rxKeyMul1 and rxKeyMul2, which countRun
	// reads from memory.
	mul [3]uint64
	// members are the members' own MACs (WireMAC, those set), noMAC in
	// the other entries. ours[b] is set when the team MAC or a member's
	// MAC ends in the byte b: a MAC whose entry is clear is none of ours,
	// found with one load instead of nine compares.
	members [MaxMembers]uint64
	ours    [256]bool
	// slots and clients count SLB clients' frames (countClient); slots
	// is nil when the team does not.
	slots   *RxSlots
	clients *[NRxSlots * 2]uint64
}

// noMAC equals no macKey (its low 16 bits are zero).
const noMAC = 1

// mayBeOurs reports whether the MAC with key k may be the team's or a
// member's: the entry of its last byte is set in ours. The loops index
// ours with the byte as the frame holds it (e[5], e[11]): the same entry.
func (f *rxFast) mayBeOurs(k uint64) bool { return f.ours[k>>56] }

// mark sets the entry of the MAC with key k in ours.
func (f *rxFast) mark(k uint64) { f.ours[k>>56] = true }

// load reads team ts for a vector from a member that is active or not.
func (f *rxFast) load(ts *TeamState, active bool) {
	f.team, f.own = macKey(ts.MAC), noMAC
	f.mul = [3]uint64{rxSlotMul, rxKeyMul1, rxKeyMul2}
	on := active && !ts.MAC.IsMulticast()
	f.ours = [256]bool{}
	f.mark(f.team)
	for i := range f.members {
		f.members[i] = noMAC
		if wm := ts.WireMAC[i]; i < int(ts.Members) && wm != (frame.MAC{}) {
			f.members[i] = macKey(wm)
			f.mark(f.members[i])
			on = on && !wm.IsMulticast()
		}
	}
	if !on {
		f.team, f.members, f.ours = noMAC, [MaxMembers]uint64{noMAC, noMAC, noMAC, noMAC, noMAC, noMAC, noMAC, noMAC}, [256]bool{}
	}
}

// rxView is a worker's fast-test view of one team: rxFast loaded from
// the snapshot's TeamState ts for a member that is active or not, with
// ts's client table (the worker sets the view's client counters once). A
// snapshot never changes once published, so the view holds while vectors
// come with the same ts (most do: control publishes on changes only).
type rxView struct {
	ts     *TeamState
	active bool
	f      rxFast
}

// of returns the view of ts for a member that is active or not, loading
// it again only when either differs from the last vector's.
func (v *rxView) of(ts *TeamState, active bool) *rxFast {
	if v.ts != ts || v.active != active {
		v.f.load(ts, active)
		v.f.slots = ts.RxSlots
		v.ts, v.active = ts, active
	}
	return &v.f
}

// srcKey is the key (macKey) of the source MAC of the frame e, at least
// 14 bytes long.
func srcKey(e []byte) uint64 { return binary.LittleEndian.Uint64(e[6:14]) << 16 }

// isOurs reports whether the MAC with key k is the team's or a member's.
func (f *rxFast) isOurs(k uint64) bool { return k == f.team || f.isMember(k) }

// isMember reports whether the MAC with key k is one of the members' own
// MACs (test ours first: it is cheaper).
func (f *rxFast) isMember(k uint64) bool {
	m := &f.members
	return m[0] == k || m[1] == k || m[2] == k || m[3] == k || m[4] == k || m[5] == k || m[6] == k || m[7] == k
}

// run returns how many frames at the head of pkts pass the fast test and
// their total length, counting their clients (as countClient) when the
// team counts them; it stops at the first frame that needs the full
// filters. A frame for a member's own MAC gets the team MAC as its
// destination, as acceptFromWire does.
//
// The entry after the last of pkts must be dpdk.EndMark, as it is in a
// vector from IO.Step (and pkts its tail): runPlain stops there as at any
// frame too short to test, and so needs no bound of its own.
//
// Teams that count no clients (trunk, lacp) run a copy of the loop
// without the counting: the same test, with fewer values live per frame.
// runCounting is the loop with it; TestFastPathMatchesFiltersOverManyFrames
// checks both against the full filters.
func (f *rxFast) run(pkts []*dpdk.Mbuf) (taken int, bytes uint64) {
	if f.slots != nil {
		return f.runCounting(pkts)
	}
	return f.runPlain(pkts)
}

// runPlain is run for a team that counts no clients, to the EndMark.
//
// The destination test reads the team MAC from f for each frame, not
// from a copy the loop keeps in a register. A frame for a member's own
// MAC (SLB) is tested against the MAC of the member it came from (own)
// first, then against the others (in countRun out of line: isMemberDst),
// and gets the team MAC (toTeam) once the loop filter passed it, as
// acceptFromWire does. runPlain calls nothing, so it keeps no stack
// frame.
func (f *rxFast) runPlain(pkts []*dpdk.Mbuf) (taken int, bytes uint64) {
	at := unsafe.Pointer(unsafe.SliceData(pkts))
	for i := 0; ; i++ {
		m := *(**dpdk.Mbuf)(unsafe.Add(at, uintptr(i)*unsafe.Sizeof((*dpdk.Mbuf)(nil))))
		// The call shares its line with the test, which carries the
		// inlining mark (else the compiler adds a NOP for it).
		var h *[frame.EthHeaderLen]byte
		if e := m.Data(); len(e) >= frame.EthHeaderLen {
			h = (*[frame.EthHeaderLen]byte)(e)
		} else {
			return i, bytes
		}
		if typ := binary.LittleEndian.Uint16(h[12:14]); typ != typeIPv4Swapped && typ != typeIPv6Swapped {
			return i, bytes
		}
		if dst := binary.LittleEndian.Uint64(h[0:8]) << 16; dst != f.team {
			if dst != f.own && !(f.ours[h[5]] && f.isMember(dst)) {
				return i, bytes
			}
			if f.ours[h[11]] && f.isOurs(srcKey(h[:])) {
				return i, bytes
			}
			f.toTeam(h)
		}
		if f.ours[h[11]] && f.isOurs(srcKey(h[:])) {
			return i, bytes
		}
		bytes += uint64(m.PktLen())
	}
}

// isMemberDst reports whether the destination of the frame whose header
// is h is a member's own MAC.
//
//go:noinline
func (f *rxFast) isMemberDst(h *[frame.EthHeaderLen]byte) bool {
	return f.ours[h[5]] && f.isMember(binary.LittleEndian.Uint64(h[0:8])<<16)
}

// toTeam writes the team MAC as the destination of the frame whose
// header is h.
func (f *rxFast) toTeam(h *[frame.EthHeaderLen]byte) {
	binary.LittleEndian.PutUint32(h[0:4], uint32(f.team>>16))
	binary.LittleEndian.PutUint16(h[4:6], uint16(f.team>>48))
}

// from sets own to the MAC of member mi, the one the next frames come
// from.
func (f *rxFast) from(mi int) { f.own = f.members[mi&(MaxMembers-1)] }

// runCounting is run for a team that counts its clients (f.slots set):
// countRun over the vector, and takeShort for each frame countRun leaves
// for being short, up to the EndMark.
func (f *rxFast) runCounting(pkts []*dpdk.Mbuf) (taken int, bytes uint64) {
	for {
		k, b, short := f.countRun(pkts[taken:])
		taken, bytes = taken+k, bytes+b
		if !short || taken == len(pkts) { // short: or at the EndMark
			return taken, bytes
		}
		n, ok := f.takeShort(pkts[taken])
		if !ok {
			return taken, bytes
		}
		taken, bytes = taken+1, bytes+n
	}
}

// takeShort tests a frame shorter than rxCountLen as run does for a team
// that counts no clients and, if it passes, counts it as countClient does
// and returns its length. Rare: every frame from the wire is at least 60
// bytes long.
func (f *rxFast) takeShort(m *dpdk.Mbuf) (n uint64, ok bool) {
	slots := f.slots
	f.slots = nil
	k, _ := f.run([]*dpdk.Mbuf{m, dpdk.EndMark()}[:1])
	f.slots = slots
	if k == 0 {
		return 0, false
	}
	n = uint64(m.PktLen())
	countClient(slots, f.clients, m.Data(), n)
	return n, true
}

// countRun is runCounting's loop, for frames long enough to hold an IPv6
// source address (rxCountLen), so one length test covers the header and
// both kinds of source: it stops at the first frame that needs the full
// filters, or at the first shorter one (short), the EndMark after pkts
// at the latest (as runPlain). The slot is picked as
// RxSlots.count does, with the table and counters held in registers across
// the vector.
func (f *rxFast) countRun(pkts []*dpdk.Mbuf) (taken int, bytes uint64, short bool) {
	keys := unsafe.Pointer(&f.slots.Key)
	clients := unsafe.Pointer(f.clients)
	at := unsafe.Pointer(unsafe.SliceData(pkts))
	for i := 0; ; i++ { // to the EndMark, as runPlain
		m := *(**dpdk.Mbuf)(unsafe.Add(at, uintptr(i)*unsafe.Sizeof((*dpdk.Mbuf)(nil))))
		var h *[rxCountLen]byte // as in run
		if e := m.Data(); len(e) >= rxCountLen {
			h = (*[rxCountLen]byte)(e)
		} else {
			return i, bytes, true
		}
		var k uint64 // the source address's key (RxKey)
		if typ := binary.LittleEndian.Uint16(h[12:14]); typ == typeIPv4Swapped {
			k = rxKey4(binary.LittleEndian.Uint32(h[26:30]))
		} else if typ == typeIPv6Swapped {
			k = rxKey6By(binary.BigEndian.Uint64(h[22:30]), binary.BigEndian.Uint64(h[30:38]), f.mul[1], f.mul[2])
		} else {
			return i, bytes, false
		}
		if f.ours[h[11]] && f.isOurs(srcKey(h[:])) {
			return i, bytes, false
		}
		if dst := binary.LittleEndian.Uint64(h[0:8]) << 16; dst != f.team {
			h := (*[frame.EthHeaderLen]byte)(h[:])
			if dst != f.own && !f.isMemberDst(h) {
				return i, bytes, false
			}
			f.toTeam(h) // the loop filter passed it above
		}
		bytes += uint64(m.PktLen())
		// s is RxSlotOf(k), with the multiplier read from f, not a
		// constant the key's branches compete for a register to hold.
		s := uintptr((k * f.mul[0]) >> (64 - rxSlotBits))
		other := uintptr(0)
		if *(*uint64)(unsafe.Add(keys, s*8)) != k {
			other = 1
		}
		s ^= other // s < NRxSlots still: no bounds check
		// hit is all ones when slot s holds k, else 0: from the borrow
		// of (key^k) - 1, with no compare to turn into a number.
		_, borrow := bits.Sub64(*(*uint64)(unsafe.Add(keys, s*8))^k, 1, 0)
		hit := -borrow
		c := (*[2]uint64)(unsafe.Add(clients, s*16))
		c[1] += uint64(m.PktLen()) & hit // the same load as bytes'
		c[0] -= hit
	}
}

// wireDeliver sends a run of frames rxFast.run took (of bytes in all) to
// the kernel-facing DPDK port tq, as wireFrame does one by one. A run that
// heads the vector (most often the whole vector) goes out from the vector
// itself (PushVector), not copied into tq's buffer.
func (w *Worker) wireDeliver(v *wireVector, tq *dpdk.TxQueue, run []*dpdk.Mbuf, bytes uint64, d *delta) {
	d.rxBytes += bytes
	sent := w.io.PushVector(tq, run)
	for _, m := range run[sent:] {
		bytes -= uint64(m.PktLen())
		d.drop(DropTxFull, 1)
		w.io.Drop(m)
	}
	d.txPkts[TapIndex] += uint64(sent)
	d.txBytes[TapIndex] += bytes
}
