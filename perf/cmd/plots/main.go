// Command plots draws the benchmark results in perf/results as PNG files
// next to them, from the newest JSON report of each kind:
//
//	txbench.png        outbound Mpps by contender and member count (txbench)
//	txbench-insn.png   the same in instructions per packet (when the report counted them)
//	txbench-peer.png   whole processes against dpdk-testpmd (txbench, peer section)
//	scaling.png        outbound Mpps over 1..N worker lcores (txbench, scaling section)
//	rxbench.png        receive path Mpps against io forwarding (rxbench)
//	failover.png       failover and fallback loss windows and SLB re-pointing, per team type (teamlab failover)
//	lacp.png           LACP convergence and rejoin times (teamlab lacp)
//	kernelpath.png     iperf3 Gbit/s through the kernel path (teamlab kernelpath)
//	dist-uniform.png   busiest/idlest member over time, equal flows (distbench)
//	dist-zipf.png      the same for Zipf-sized flows
//
// A kind without a report is skipped.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

func main() {
	dir := flag.String("dir", "perf/results", "directory of the JSON reports, where the PNG files go")
	flag.Parse()
	written, err := drawAll(*dir)
	for _, f := range written {
		fmt.Println("wrote", f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "plots:", err)
		os.Exit(1)
	}
}

// kind is one kind of report and the figures drawn from it.
type kind struct {
	glob string
	draw func(dir, file string) ([]string, error)
}

var kinds = []kind{
	{"txbench-*.json", drawTx},
	{"rxbench-*.json", drawRx},
	{"failover-*.json", drawFailover},
	{"lacp-*.json", drawLACP},
	{"kernelpath-*.json", drawKernel},
	{"dist-*.json", drawDist},
}

// drawAll writes every figure it has a report for and returns the files.
func drawAll(dir string) ([]string, error) {
	var written []string
	var errs []error
	for _, k := range kinds {
		file, err := newest(dir, k.glob)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if file == "" {
			continue
		}
		fs, err := k.draw(dir, file)
		written = append(written, fs...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Base(file), err))
		}
	}
	return written, errors.Join(errs...)
}

// newest is the last file matching glob in dir: report names end in a
// UTC time stamp, so the last in order is the newest. "" if none.
func newest(dir, glob string) (string, error) {
	m, err := filepath.Glob(filepath.Join(dir, glob))
	if err != nil || len(m) == 0 {
		return "", err
	}
	slices.Sort(m)
	return m[len(m)-1], nil
}

func readJSON(file string, v any) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
