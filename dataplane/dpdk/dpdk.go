// Package dpdk is teamgw's own small binding to DPDK 22.11: EAL start-up and
// clean-up, mempools, ethdev ports, rings and the burst I/O vector that the
// worker lcores drive. It is the only package in the tree that uses cgo.
//
// Hot-path rule (DESIGN.md): a worker makes one cgo call per vector of up to
// 256 packets (IO.Step); packet bytes are read in place through Mbuf views,
// and every array that crosses into C lives in C memory.
//
// Linking: `make` builds with the tag dpdkstatic and PKG_CONFIG set to
// pkg-config-static, which links DPDK's static archives with every PMD
// whole-archived. A PMD in a shared object reaches its per-lcore mempool
// cache through a TLS lookup (__tls_get_addr) on every free and pays a
// PLT call for each DPDK function; linked statically the receive path
// runs 12 instructions a packet fewer (callgrind, trunk, one member:
// 142.8 -> 130.8). A plain `go build` links the shared libraries (and
// net_ring, which the EAL does not load as a plugin by itself).
package dpdk

/*
#cgo pkg-config: libdpdk
#cgo !dpdkstatic LDFLAGS: -lrte_net_ring
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"syscall"
)

// Burst sizes shared with the C side.
const (
	// Burst is the burst a PMD that caps its bursts hands out at most:
	// IO.Step polls a queue again after a full one.
	Burst = C.TG_BURST
	// Vector is the most packets one IO.Step returns.
	Vector = C.TG_VECTOR
	// TxQueueCap is how many packets a TX queue can buffer between two
	// steps (its buffer's size).
	TxQueueCap = C.TG_TXQ_CAP
	// TxQueueFill is the most a TX queue's buffer holds at a flush: a
	// worker queues at most a vector on it between two steps, and the
	// step adds at most a burst of frames from the control plane. Pools
	// are sized by it, not by TxQueueCap.
	TxQueueFill = Vector + Burst
	// MaxQueues is how many RX (and TX) queues one IO can own.
	MaxQueues = C.TG_MAX_QUEUES
	// SideCap is how many frames one step can free or hand to control.
	SideCap = C.TG_SIDE_CAP
	// PoolCache is the per-lcore cache of the packet pools: two vectors
	// (DPDK's largest, RTE_MEMPOOL_CACHE_MAX_SIZE), so that a vector
	// received and a vector freed are served from the cache rather than
	// the pool's ring. A cache holds up to 1.5 times its size.
	PoolCache = 2 * Vector
)

// TxQueue.Slots promises a 512-entry buffer: these fail to compile if
// TG_TXQ_CAP says otherwise.
var (
	_ [TxQueueCap - 512]struct{}
	_ [512 - TxQueueCap]struct{}
)

// Error is a failed DPDK call: Op is the operation, Port the device (may be
// empty) and Err the errno DPDK returned.
type Error struct {
	Op   string
	Port string
	Err  error
}

func (e *Error) Error() string {
	if e.Port != "" {
		return fmt.Sprintf("dpdk: %s %s: %v", e.Op, e.Port, e.Err)
	}
	return fmt.Sprintf("dpdk: %s: %v", e.Op, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// errnoErr turns DPDK's negative return convention into an *Error.
func errnoErr(op, port string, rc C.int) error {
	if rc >= 0 {
		return nil
	}
	return &Error{Op: op, Port: port, Err: syscall.Errno(-rc)}
}

// ErrNotInitialized is returned by calls that need the EAL before Init.
var ErrNotInitialized = errors.New("dpdk: EAL not initialized")

// errnoOr converts a positive errno from C, defaulting to EINVAL.
func errnoOr(e C.int) error {
	if e <= 0 {
		return syscall.EINVAL
	}
	return syscall.Errno(e)
}
