// Package slb holds the decisions of Smart Load Balancing (Broadcom BASP,
// seed 004_b05358459c5767ad.txt, "Smart Load Balancing and Failover"):
// which member carries the team's traffic, when to fail over and when to
// fall back. It is pure Go: no cgo, no goroutines, and the clock is passed
// in, so every decision is a table test.
package slb
