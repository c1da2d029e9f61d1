package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/teamgw/teamgw/perf/lab"
)

// ovsDetect measures how fast an Open vSwitch bond (userspace datapath)
// takes a member out when its link fails, without teamgw: from the cut
// (the ip command's return) until "ovs-appctl bond/show" reports the
// member disabled (the time of one bond/show call is the resolution), for a cut on
// the switch side (the switch port set down: what teamlab failover does)
// and on the far side (the member veth set down: the switch port loses
// its carrier), with each bond-detect-mode.
func ovsDetect(args []string) error {
	fs := flag.NewFlagSet("ovsdetect", flag.ExitOnError)
	cuts := fs.Int("cuts", 5, "cuts per case")
	miimon := fs.Int("miimon", 100, "bond-miimon-interval (ms) for the miimon case")
	fs.Parse(args)
	for _, mode := range []string{"carrier", "miimon"} {
		for _, side := range []string{"switch port down", "far end down (carrier loss)"} {
			l, cleanup, err := newLab(2, 1)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			ovs, err := l.StartOVS(ctx, lab.BondMode{Mode: "balance-slb", LACP: "off"}, io.Discard)
			if err == nil && mode == "miimon" {
				_, err = ovs.Vsctl(ctx, "set", "port", "bond0", "other_config:bond-detect-mode=miimon",
					fmt.Sprintf("other_config:bond-miimon-interval=%d", *miimon))
			}
			var took, calls []time.Duration
			for i := 0; err == nil && i < *cuts; i++ {
				if err = waitBond(ctx, ovs, "s0", "enabled", 10*time.Second); err != nil {
					break
				}
				if side == "switch port down" {
					err = l.CutMember(0)
				} else {
					_, err = l.Exec(ctx, l.GW, "ip", "link", "set", "m0", "down")
				}
				// From the ip command's return: the link is down by then.
				start := time.Now()
				if err == nil {
					err = waitBond(ctx, ovs, "s0", "disabled", 5*time.Second)
				}
				took = append(took, time.Since(start).Round(100*time.Microsecond))
				if err == nil {
					if side == "switch port down" {
						err = l.RestoreMember(0)
					} else {
						_, err = l.Exec(ctx, l.GW, "ip", "link", "set", "m0", "up")
					}
				}
			}
			for range 5 {
				t := time.Now()
				ovs.Appctl(ctx, "bond/show", "bond0")
				calls = append(calls, time.Since(t).Round(100*time.Microsecond))
			}
			cancel()
			cleanup()
			if err != nil {
				return err
			}
			fmt.Printf("bond-detect-mode=%s, %s: member disabled after %v (one bond/show takes %v)\n", mode, side, took, calls)
		}
	}
	return nil
}

// waitBond polls bond/show until member is in state ("enabled" or
// "disabled"); the poll takes a few milliseconds, which bounds the
// resolution.
func waitBond(ctx context.Context, ovs *lab.OVS, member, state string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	want := "member " + member + ": " + state
	for time.Now().Before(deadline) {
		out, err := ovs.Appctl(ctx, "bond/show", "bond0")
		if err == nil && strings.Contains(out, want) {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	out, _ := ovs.Appctl(ctx, "bond/show", "bond0")
	return fmt.Errorf("%q not in bond/show within %v:\n%s", want, timeout, out)
}
