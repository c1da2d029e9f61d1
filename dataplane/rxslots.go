package dataplane

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	"github.com/teamgw/teamgw/dataplane/frame"
)

// Inbound client counters: BASP's Inbound Flow Head Hash Table (seed 004,
// "Inbound Traffic Flow"). "When an inbound IP Datagram arrives, the
// appropriate Inbound Flow Head Entry is located by hashing the source IP
// address", two statistics counters in it are updated, and "the overhead
// in processing each non-ARP packet is always a constant". Here the control
// plane places each SLB client in a slot of a fixed table and publishes
// the table's keys in the snapshot; a worker hashes a frame's source
// address to a pair of slots, compares keys and counts packets and bytes in
// its own per-slot counters — no lock, no allocation, no list to walk. A
// frame from a host that is not a client (or whose client found no free
// slot) is not counted.

// NRxSlots is the number of slots of a team's inbound client table.
const NRxSlots = 1024

// rxSlotBits is log2(NRxSlots).
const rxSlotBits = 10

// RxSlots is the published, immutable table of the clients' keys (RxKey):
// slot i counts the frames whose source address has key Key[i]; 0 is a
// free slot.
type RxSlots struct {
	Key [NRxSlots]uint64
}

// RxKey is the table key of a client address: for IPv4 the address with
// bit 32 set, for IPv6 a 63-bit fingerprint of the address with bit 63
// set; never 0. Two IPv6 clients whose fingerprints collide would share
// counters (it only skews balancing): with 63 bits an even chance of one
// collision takes about three billion clients. An IPv4 address is read as
// a little-endian word (as a worker loads it from a frame, with no byte
// swap); the key is only ever compared with another RxKey. IPv6 halves
// stay big-endian: the fingerprint's first step, hi*K+lo, spreads a
// difference only upwards, and addresses differ in their low bytes.
func RxKey(a netip.Addr) uint64 {
	if a.Is4() {
		b := a.As4()
		return rxKey4(binary.LittleEndian.Uint32(b[:]))
	}
	b := a.As16()
	return rxKey6(binary.BigEndian.Uint64(b[0:8]), binary.BigEndian.Uint64(b[8:16]))
}

// rxKey4 is the key of the IPv4 address whose 4 bytes, read as a
// little-endian word, are v.
func rxKey4(v uint32) uint64 { return 1<<32 | uint64(v) }

// rxKey6 is the key of the IPv6 address whose big-endian halves are hi
// and lo.
func rxKey6(hi, lo uint64) uint64 { return rxKey6By(hi, lo, rxKeyMul1, rxKeyMul2) }

// rxKey6By is rxKey6 with its multipliers as arguments (rxKeyMul1,
// rxKeyMul2): a loop that reads them from memory keeps no register for
// them across its other paths (rxFast.countRun).
func rxKey6By(hi, lo, mul1, mul2 uint64) uint64 {
	k := hi*mul1 + lo
	k ^= k >> 29
	k *= mul2
	k ^= k >> 32
	return k | 1<<63
}

// rxKey6's multipliers.
const (
	rxKeyMul1 = 0x9e3779b97f4a7c15
	rxKeyMul2 = 0xbf58476d1ce4e5b9
)

// RxSlotOf is the first of the two slots a key may occupy; the other is
// RxSlotOf(key)^1, in the same cache line of keys.
func RxSlotOf(key uint64) int { return int((key * rxSlotMul) >> (64 - rxSlotBits)) }

// rxSlotMul is RxSlotOf's multiplier.
const rxSlotMul = 0x9e3779b97f4a7c15

// Lookup is the slot holding key, or -1.
func (s *RxSlots) Lookup(key uint64) int {
	h := RxSlotOf(key)
	if s.Key[h] == key {
		return h
	}
	if s.Key[h^1] == key {
		return h ^ 1
	}
	return -1
}

// Client counters: a worker counts packets and bytes per team and slot in
// hugepage memory (dpdk.Counters), two words per slot, as it does for the
// outbound flow buckets.
const clientWords = MaxTeams * NRxSlots * 2

// clientIndex is the index of the packet counter of (team, slot); the byte
// counter follows it.
func clientIndex(team, slot int) int { return (team*NRxSlots + slot) * 2 }

// ClientSlotCounters returns one worker's packet and byte counters of a
// team's slot (c is Worker.ClientCounters).
func ClientSlotCounters(c []uint64, team, slot int) (packets, bytes uint64) {
	i := clientIndex(team, slot)
	return c[i], c[i+1]
}

// countClient counts the frame e of n bytes in the slot of its source
// address, if that address is a client's: an untagged IPv4 or IPv6 frame.
func countClient(s *RxSlots, c *[NRxSlots * 2]uint64, e []byte, n uint64) {
	if len(e) < frame.EthHeaderLen {
		return
	}
	var k uint64
	switch binary.BigEndian.Uint16(e[12:14]) {
	case frame.TypeIPv4:
		k = ipClientKey(e, false)
	case frame.TypeIPv6:
		k = ipClientKey(e, true)
	}
	if k != 0 {
		s.count(c, k, n)
	}
}

// ipClientKey is the key (RxKey) of the source address of e, an untagged
// IPv6 (ipv6) or IPv4 frame; 0 when e is too short to hold it.
func ipClientKey(e []byte, ipv6 bool) uint64 {
	if !ipv6 {
		if len(e) < 34 {
			return 0
		}
		return rxKey4(binary.LittleEndian.Uint32(e[26:30]))
	}
	if len(e) < rxCountLen {
		return 0
	}
	return rxKey6(binary.BigEndian.Uint64(e[22:30]), binary.BigEndian.Uint64(e[30:38]))
}

// rxCountLen is the length of an untagged frame's header up to the end of
// an IPv6 source address (and past an IPv4 one's).
const rxCountLen = 38

// count counts a frame of n bytes in the slot holding key k, if any (c
// are the team's counters); k must not be 0, the free slot's key.
//
// Whether a frame's source is a client, and in which slot of its pair,
// is as good as random from one frame to the next, so count takes no
// branch on it: it picks the slot of the pair that may hold k from a
// comparison's flag and adds 1 and n to its counters when the key
// matches, 0 when it does not (the counters are this worker's own:
// adding 0 changes nothing another reader could see).
func (s *RxSlots) count(c *[NRxSlots * 2]uint64, k, n uint64) {
	h := RxSlotOf(k)
	other := 0
	if s.Key[h] != k {
		other = 1
	}
	h = (h ^ other) & (NRxSlots - 1) // the mask only spares a bounds check
	hit := uint64(0)
	if s.Key[h] == k {
		hit = 1
	}
	slot := &(*[NRxSlots][2]uint64)(unsafe.Pointer(c))[h]
	slot[0] += hit
	slot[1] += n & -hit
}
