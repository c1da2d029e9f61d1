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
// for its weight (link speed); then clients move from the busiest members
// to one that has just become active until the spread is even within one
// client (weighted). It returns the clients whose member changed: each
// needs a directed gratuitous ARP.
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
	// Then even out: a member that has just become active (fallback,
	// a standby turned normal) takes clients from the busiest members
	// until no move would make the spread better (within one client,
	// weighted) — so clients are not bounced for nothing.
	w := func(i int) float64 {
		if i < len(weights) && weights[i] > 0 {
			return weights[i]
		}
		return 1
	}
	for range len(clients) { // each move strictly evens the spread; bounded anyway
		busiest, idlest := -1, -1
		for i, a := range active {
			if !a {
				continue
			}
			if busiest < 0 || float64(count[i])/w(i) > float64(count[busiest])/w(busiest) {
				busiest = i
			}
			if idlest < 0 || float64(count[i])/w(i) < float64(count[idlest])/w(idlest) {
				idlest = i
			}
		}
		if busiest == idlest || float64(count[busiest]-1)/w(busiest) < float64(count[idlest]+1)/w(idlest) {
			break
		}
		// The busiest member's last client in IP order moves.
		var c *Client
		for _, x := range sorted {
			if x.Member == busiest {
				c = x
			}
		}
		c.Member = idlest
		count[busiest]--
		count[idlest]++
		if !slices.Contains(moved, c) {
			moved = append(moved, c)
		}
	}
	return moved
}
