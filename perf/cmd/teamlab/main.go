// Command teamlab drives teamgw in the network-namespace lab of package
// perf/lab:
//
//	teamlab demo     -teamgw BIN -teamctl BIN   a guided tour: traffic, failover, fallback, operator view
//	teamlab failover -teamgw BIN -cuts N -out DIR  failover/fallback loss windows over repeated cuts
//	teamlab kernelpath -teamgw BIN -out DIR        iperf3 through the team's TAP against the no-team kernel path
//	teamlab lacp -teamgw BIN -runs N -out DIR      LACP convergence and rejoin against Open vSwitch
//	teamlab soak -teamgw BIN -duration D -out DIR  a long run with disturbances; checks leaks and accounting
//	teamlab ovsdetect -cuts N                      how fast an Open vSwitch bond takes out a failed member
//
// Everything the lab creates is removed at the end, on error and on Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/teamgw/teamgw/perf/lab"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: teamlab demo|failover|kernelpath|lacp|soak|ovsdetect [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "demo":
		err = demo(os.Args[2:])
	case "failover":
		err = failover(os.Args[2:])
	case "kernelpath":
		err = kernelPath(os.Args[2:])
	case "lacp":
		err = lacpBench(os.Args[2:])
	case "soak":
		err = soak(os.Args[2:])
	case "ovsdetect":
		err = ovsDetect(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (want demo, failover, kernelpath, lacp, soak or ovsdetect)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "teamlab:", err)
		os.Exit(1)
	}
}

// newLab builds a lab and arranges for it to be removed on Ctrl-C.
func newLab(members, clients int) (*lab.Lab, func(), error) {
	lab.Sweep("tg") // leftovers of a crashed earlier run
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := lab.New(ctx, lab.Spec{Members: members, Clients: clients})
	if err != nil {
		return nil, nil, err
	}
	stop := lab.CleanupOnSignal(l)
	return l, func() { stop(); l.Close() }, nil
}

// flags common to both commands.
type common struct {
	teamgw string
	dir    string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.teamgw, "teamgw", "bin/teamgw", "teamgw `binary`")
	fs.StringVar(&c.dir, "dir", os.TempDir(), "where to write the lab's config")
}
