// Package dataplane holds teamgw's worker lcores: each worker is a
// goroutine locked to an OS thread, pinned to a CPU and registered as an
// EAL thread, that polls its RX queue on every member and TAP port in
// vectors (dpdk.IO.Step), decides each frame's fate against the forwarding
// snapshot the control plane publishes, and transmits on its own TX queues.
//
// The worker never locks and never allocates: it loads the snapshot once
// per vector, counts into its own cache-line-padded counters, and drops
// frames by reason (DropReason) instead of building errors.
package dataplane
