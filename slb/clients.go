package slb

import (
	"net/netip"
	"slices"
)

// Client is one same-subnet client of an SLB team in the inbound client
// table (BASP "Inbound Traffic Flow", seed 004): the member whose MAC the
// client has for the team IP receives that client's traffic.
type Client struct {
	IP     netip.Addr
	MAC    [6]byte
	Member int // -1 before the first assignment
}

// AssignClients gives every client an active member, the receive half of
// Smart Load Balancing. A client stays on its member while that member is
// active (no needless re-pointing); new clients and the clients of a member
// that is no longer active go to the active member with the fewest clients
// for its weight (link speed). It returns the clients whose member
// changed, in IP order: each needs a directed gratuitous ARP.
func AssignClients(clients []*Client, active []bool, weights []float64) (moved []*Client) {
	count := make([]int, len(active))
	if !slices.Contains(active, true) {
		return nil
	}
	for _, c := range clients {
		if c.Member >= 0 && c.Member < len(active) && active[c.Member] {
			count[c.Member]++
		}
	}
	sorted := slices.Clone(clients)
	slices.SortFunc(sorted, func(a, b *Client) int { return a.IP.Compare(b.IP) })
	for _, c := range sorted {
		if c.Member >= 0 && c.Member < len(active) && active[c.Member] {
			continue
		}
		best, bestLoad := -1, 0.0
		for i, a := range active {
			if !a {
				continue
			}
			w := 1.0
			if i < len(weights) && weights[i] > 0 {
				w = weights[i]
			}
			if load := float64(count[i]+1) / w; best < 0 || load < bestLoad {
				best, bestLoad = i, load
			}
		}
		c.Member = best
		count[best]++
		moved = append(moved, c)
	}
	return moved
}
