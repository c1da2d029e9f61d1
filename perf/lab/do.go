package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// Do runs fn on an OS thread that has been switched into the network
// namespace ns, then switches the thread back.
//
// Sockets that fn opens (net.Listen, net.Dial, net.ListenUDP, netlink
// queries such as net.InterfaceByName) belong to ns and stay there after
// Do returns, so a test can open a listener in one namespace and dial it
// from another within one process.
//
// fn runs on a separate goroutine that is locked to its thread. Goroutines
// that fn starts run on other threads, in the program's original
// namespace, and fn must not call runtime.Goexit (t.FailNow, t.Fatal);
// if it does, Do returns an error. A panic in fn is re-raised in the
// caller's goroutine. If the thread cannot be switched back, it stays
// locked so that the Go runtime discards it when the goroutine exits.
//
// Note that /sys/class/net shows the interfaces of the namespace in which
// sysfs was mounted, not those of the thread; inside fn use the netlink
// based functions of package net or /proc/sys/net instead.
func (l *Lab) Do(ns string, fn func() error) error {
	target, err := os.Open(filepath.Join(netnsDir, ns))
	if err != nil {
		return fmt.Errorf("lab: open namespace %s: %w", ns, err)
	}
	defer target.Close()

	type result struct {
		err      error
		done     bool // fn returned normally
		panicked bool
		panicVal any
	}
	resc := make(chan result, 1)
	go func() {
		var res result
		defer func() { resc <- res }()

		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			res.err = fmt.Errorf("lab: open current namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			res.err = fmt.Errorf("lab: enter namespace %s: %w", ns, err)
			return
		}
		defer func() {
			if r := recover(); r != nil {
				res.panicked, res.panicVal = true, r
			}
			if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
				// Stay locked: the thread dies with this goroutine.
				res.err = errors.Join(res.err, fmt.Errorf("lab: restore namespace after %s: %w", ns, err))
				return
			}
			runtime.UnlockOSThread()
		}()
		res.err = fn()
		res.done = true
	}()
	res := <-resc
	if res.panicked {
		panic(res.panicVal)
	}
	if !res.done && res.err == nil {
		return fmt.Errorf("lab: function run in %s called runtime.Goexit", ns)
	}
	return res.err
}
