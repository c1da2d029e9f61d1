package slb

import (
	"math"
	"net/netip"
	"time"
)

// Client is one same-subnet client of an SLB team in the inbound client
// table (BASP "Inbound Traffic Flow", seed 004): the member whose MAC the
// client has for the team IP receives that client's traffic.
type Client struct {
	IP     netip.Addr
	MAC    [6]byte
	Member int // -1 before the first assignment

	// Packets and Bytes are the client's inbound traffic seen so far (the
	// statistics counters of its Inbound Flow Head Entry, seed 004).
	Packets, Bytes uint64
	// Load and PacketRate are the client's recent inbound traffic in bytes
	// and packets per second, exponentially decayed (Observe): what the
	// receive balancer weighs.
	Load, PacketRate float64
	// LastMoved is when the client was last moved from one member to
	// another (zero: never); Moves counts those moves. Its first
	// assignment is not a move.
	LastMoved time.Time
	Moves     uint64
}

// Observe folds packets and bytes received from the client over the last
// dt into its totals and decayed rates: an exponential moving average with
// time constant tau, so a rate sampled every second settles within a few
// tau and one burst does not move the client. A non-positive dt only adds
// to the totals; a non-positive tau takes the newest rate as it is.
func (c *Client) Observe(packets, bytes uint64, dt, tau time.Duration) {
	c.Packets += packets
	c.Bytes += bytes
	if dt <= 0 {
		return
	}
	s := dt.Seconds()
	a := 1.0
	if tau > 0 {
		a = 1 - math.Exp(-s/tau.Seconds())
	}
	c.Load += a * (float64(bytes)/s - c.Load)
	c.PacketRate += a * (float64(packets)/s - c.PacketRate)
}

// moveTo gives c member m, recording it as a move unless c had none.
func (c *Client) moveTo(m int, now time.Time) {
	if c.Member == m {
		return
	}
	first := c.Member < 0
	c.Member = m
	if first {
		return
	}
	c.LastMoved = now
	c.Moves++
}
