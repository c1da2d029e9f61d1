package dataplane

import (
	"encoding/binary"

	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/frame"
)

// The receive path's fast test. Most frames from the wire are unicast IPv4
// or IPv6 for the team (or, in SLB, for a member's own MAC) from a host
// that is not us. For such a frame every receive filter has a known
// answer — not slow protocols, not an echo-probe reply, not ARP (so no
// ARP guard), not 802.1Q, not multicast — except the loop filter (is the
// source one of our MACs?) and the destination test. rxFast decides both
// from two 8-byte loads of the header and a few compares against MACs
// read out of the snapshot once per vector (fromWire's loop); every other
// frame takes the full filters (wireFrame: acceptFromWire and the rest),
// so the answer is the same either way.

// mac48Mask keeps the 6 bytes of a MAC read as a little-endian word.
const mac48Mask = 1<<48 - 1

// EtherTypes as the high 16 bits of a little-endian word read at offset 6
// of a frame (the source MAC, then the type): byte-swapped.
const (
	typeIPv4Swapped = frame.TypeIPv4>>8 | frame.TypeIPv4&0xff<<8
	typeIPv6Swapped = frame.TypeIPv6>>8 | frame.TypeIPv6&0xff<<8
)

// mac48 is mac as the fast path compares it.
func mac48(mac frame.MAC) uint64 {
	return uint64(binary.LittleEndian.Uint32(mac[0:4])) | uint64(binary.LittleEndian.Uint16(mac[4:6]))<<32
}

// rxFast is one vector's view of a team for the fast test.
type rxFast struct {
	// team is the team MAC, or noMAC when the fast path is off for
	// the vector: the member is inactive or one of our MACs is a group
	// address, and every frame takes the full filters.
	team uint64
	// members are the members' own MACs (WireMAC, those set), noMAC in
	// the other entries; hasMembers is set when there is one.
	members    [MaxMembers]uint64
	hasMembers bool
}

// noMAC equals no MAC read by mac48 or masked by mac48Mask.
const noMAC = 1 << 63

// load reads team ts for a vector from a member that is active or not.
func (f *rxFast) load(ts *TeamState, active bool) {
	f.team = mac48(ts.MAC)
	on := active && !ts.MAC.IsMulticast()
	f.hasMembers = false
	for i := range f.members {
		f.members[i] = noMAC
		if wm := ts.WireMAC[i]; i < int(ts.Members) && wm != (frame.MAC{}) {
			f.members[i] = mac48(wm)
			f.hasMembers = true
			on = on && !wm.IsMulticast()
		}
	}
	if !on {
		f.team, f.members, f.hasMembers = noMAC, [MaxMembers]uint64{noMAC, noMAC, noMAC, noMAC, noMAC, noMAC, noMAC, noMAC}, false
	}
}

// isMember reports whether mac is one of the members' own MACs.
func (f *rxFast) isMember(mac uint64) bool {
	m := &f.members
	return f.hasMembers && (m[0] == mac || m[1] == mac || m[2] == mac || m[3] == mac ||
		m[4] == mac || m[5] == mac || m[6] == mac || m[7] == mac)
}

// run returns how many frames at the head of pkts pass the fast test and
// their total length; it stops at the first frame that needs the full
// filters. A frame for a member's own MAC gets the team MAC as its
// destination, as acceptFromWire does.
func (f *rxFast) run(pkts []*dpdk.Mbuf) (taken int, bytes uint64) {
	team := f.team
	for i, m := range pkts {
		e := m.Data()
		if len(e) < frame.EthHeaderLen {
			return i, bytes
		}
		h := (*[frame.EthHeaderLen]byte)(e)
		st := binary.LittleEndian.Uint64(h[6:14]) // source MAC, EtherType
		dst := binary.LittleEndian.Uint64(h[0:8]) & mac48Mask
		if typ := uint16(st >> 48); typ != typeIPv4Swapped && typ != typeIPv6Swapped ||
			st&mac48Mask == team || f.isMember(st&mac48Mask) {
			return i, bytes
		}
		if dst != team {
			if !f.isMember(dst) {
				return i, bytes
			}
			binary.LittleEndian.PutUint32(h[0:4], uint32(team))
			binary.LittleEndian.PutUint16(h[4:6], uint16(team>>32))
		}
		bytes += uint64(m.PktLen())
	}
	return len(pkts), bytes
}

// wireDeliver sends a run of frames rxFast.run took (of bytes in all) to
// the kernel-facing DPDK port tq, counting their clients first, as
// wireFrame does one by one.
func (w *Worker) wireDeliver(v *wireVector, tq *dpdk.TxQueue, run []*dpdk.Mbuf, bytes uint64, d *delta) {
	d.rxBytes += bytes
	if v.slots != nil {
		countClients(v.slots, v.clients, run)
	}
	sent := tq.PushRun(run)
	for _, m := range run[sent:] {
		bytes -= uint64(m.PktLen())
		d.drops[DropTxFull]++
		w.io.Drop(m)
	}
	d.txPkts[TapIndex] += uint64(sent)
	d.txBytes[TapIndex] += bytes
}
