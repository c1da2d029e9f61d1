package dpdk

import "unsafe"

// PushRun queues the packets of ms in order as far as the buffer has room
// and returns how many it took; the caller must Drop the rest. One copy
// for the whole run instead of a Push per packet.
func (q *TxQueue) PushRun(ms []*Mbuf) int {
	n := q.n
	k := min(len(ms), TxQueueCap-n)
	if k <= 0 {
		return 0
	}
	// The buffer holds addresses (C memory, no write barrier): copy the
	// run's pointers as such.
	copy(q.pkts[n:n+k], unsafe.Slice((*uintptr)(unsafe.Pointer(unsafe.SliceData(ms))), k))
	q.n = n + k
	return k
}
