// Package slb holds the decisions of Smart Load Balancing (Broadcom BASP,
// seed 004_b05358459c5767ad.txt, "Smart Load Balancing and Failover"):
// which member carries the team's traffic, when to fail over and when to
// fall back, how the outbound flow buckets are spread, which neighbours
// may be clients and which member each client's inbound traffic arrives
// on ("Inbound Traffic Flow": by client count, then by measured traffic).
// It is pure Go: no cgo, no goroutines, and the clock is passed in, so
// every decision is a table or simulation test.
package slb
