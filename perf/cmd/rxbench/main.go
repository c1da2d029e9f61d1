// Command rxbench measures teamgw's receive path — member RX, the receive
// filters (dataplane.Worker's fromWire), kernel-facing TX — against plain
// io forwarding on the same kind of ports and core:
//
//	testpmd-io  dpdk-testpmd --forward-mode=io over N net_null ports (chained:
//	            port i forwards to port i+1), its own process, the same core
//	io          the same rx_burst → tx_burst loop in this process (C), from the
//	            N members and the idle kernel-facing port to that port
//	slb, trunk, lacp
//	            teamgw's worker: N members → kernel-facing net_null port
//
// Members are net_null ports: their RX only sets lengths, so the frames
// are what the mempool's mbufs hold (bench.Prefill): unicast IPv4 and IPv6
// from clients to the team MAC, which the receive path passes without
// changing a byte. The SLB team counts inbound frames per client (receive
// balancing) in a client table holding as many of the sources as fit its
// 1024 slots. A teamgw round counts only the frames it delivered to
// the kernel-facing port; a round that dropped any is an error.
// Rounds alternate between the contenders and between the processes.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/teamgw/teamgw/dataplane"
	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/perf/bench"
	"github.com/teamgw/teamgw/perf/testpmd"
	"github.com/teamgw/teamgw/perf/traffic"
)

var (
	teamMAC   = frame.MAC{0x02, 0x54, 0x47, 0, 0, 1}
	clientMAC = [6]byte{0x02, 0, 0, 0, 0, 2}
)

// Report is what a run writes to rxbench-<time>.json.
type Report struct {
	When    time.Time      `json:"when"`
	Rounds  int            `json:"rounds"`
	Steps   int            `json:"steps"`
	Results []bench.Result `json:"results"`
	// Testpmd is the testpmd command line by member count.
	Testpmd map[string]string `json:"testpmd,omitempty"`
}

func main() {
	membersFlag := flag.String("members", "1,2,4", "member counts")
	rounds := flag.Int("rounds", 5, "rounds per member count (median reported)")
	steps := flag.Int("steps", 10000, "vectors of up to 256 packets (dpdk.Vector) per contender and round")
	tpTime := flag.Duration("testpmd-time", 300*time.Millisecond, "length of a testpmd round")
	useTestpmd := flag.Bool("testpmd", true, "compare with dpdk-testpmd (skipped if it is not installed)")
	out := flag.String("out", "perf/results", "directory for the JSON and Markdown report ('' = none)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to `file` (make pgo)")
	onlyFlag := flag.String("only", "", "comma-separated contenders to run (testpmd-io, io, slb, trunk, lacp); empty runs all")
	noHuge := flag.Bool("no-huge", false, "run the EAL on ordinary memory (--no-huge), e.g. under valgrind")
	flag.Parse()
	only := map[string]bool{}
	for _, s := range strings.Split(*onlyFlag, ",") {
		if s = strings.TrimSpace(s); s != "" {
			only[s] = true
		}
	}
	if len(only) > 0 && !only["testpmd-io"] {
		*useTestpmd = false
	}
	var members []int
	for _, s := range strings.Split(*membersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > dataplane.MaxMembers {
			fmt.Fprintf(os.Stderr, "rxbench: bad member count %q\n", s)
			os.Exit(2)
		}
		members = append(members, n)
	}
	if _, err := exec.LookPath(testpmd.Binary); err != nil && *useTestpmd {
		fmt.Fprintln(os.Stderr, "rxbench: no dpdk-testpmd, comparing with the in-process io loop only")
		*useTestpmd = false
	}
	if *cpuprofile != "" {
		if f, err := os.Create(*cpuprofile); err == nil {
			pprof.StartCPUProfile(f)
		}
	}
	err := run(members, *rounds, *steps, *tpTime, *useTestpmd, *noHuge, only, *out)
	pprof.StopCPUProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rxbench:", err)
		os.Exit(1)
	}
}

// run measures the contenders named in only (all when it is empty) with
// each member count.
func run(members []int, rounds, steps int, tpTime time.Duration, useTestpmd, noHuge bool, only map[string]bool, out string) error {
	start := bench.Start
	if noHuge {
		start = func(name string, mb int, _ ...string) (func(), error) { return bench.StartNoHuge(name, mb) }
	}
	stop, err := start("rxbench", 512)
	if err != nil {
		return err
	}
	defer stop()
	core := runtime.NumCPU() - 1
	crew, err := bench.NewCrew([]int{core})
	if err != nil {
		return err
	}
	defer crew.Close()
	pool, err := dpdk.NewMempool("rxbench", 16383, dpdk.PoolCache, dpdk.DefaultDataRoom, 0)
	if err != nil {
		return err
	}
	defer pool.Free()
	frames := traffic.Mix(4096, 3, clientMAC, teamMAC)
	if _, err := bench.Prefill(pool, frames); err != nil {
		return err
	}

	rep := Report{When: time.Now().UTC(), Rounds: rounds, Steps: steps, Testpmd: map[string]string{}}
	var md bytes.Buffer
	fmt.Fprintf(&md, `# Receive path against io forwarding (rxbench)

%s, one lcore on CPU %d, %d rounds per member count, median [min, max];
ratios are medians of per-round ratios; insn/pkt counted by the CPU's
instruction counter. Members are net_null ports whose mbufs hold 64-byte
unicast frames (TCP, UDP, ICMP over IPv4, UDP over IPv6) from clients to
the team MAC; the kernel-facing port is a net_null port. testpmd-io is
dpdk-testpmd's io forwarding over as many net_null ports (chained), io the
same loop in this process on teamgw's ports. Reproduce: make bench-rx.
`, rep.When.Format(time.RFC3339), core, rounds)
	var refs []string
	if useTestpmd {
		refs = append(refs, "testpmd-io")
	}
	if len(only) == 0 || only["io"] {
		refs = append(refs, "io")
	}
	for _, n := range members {
		var cs []bench.Contender
		var undo []func()
		cleanup := func() {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
		if useTestpmd {
			cfg := testpmdIO(n, core)
			rep.Testpmd[strconv.Itoa(n)] = cfg.CommandLine()
			fmt.Fprintf(&md, "\ntestpmd, %d ports: `%s`\n", n, cfg.CommandLine())
			p, err := testpmd.Start(context.Background(), cfg)
			if err != nil {
				return err
			}
			undo = append(undo, func() { p.Close() })
			cs = append(cs, bench.Contender{Name: "testpmd-io", Run: func(int) (bench.Measurement, error) {
				r, err := p.Run(context.Background(), tpTime)
				return bench.Measurement{Packets: r.Packets, Seconds: r.Seconds, CPUSeconds: r.CPUSeconds, Instructions: r.Instructions}, err
			}})
		}
		more, free, err := contenders(crew, pool, n, clientSlots(frames))
		undo = append(undo, free)
		if err != nil {
			cleanup()
			return err
		}
		for _, c := range more {
			if len(only) == 0 || only[c.Name] {
				cs = append(cs, c)
			}
		}
		rs, err := bench.Rounds(cs, rounds, steps)
		cleanup()
		if err != nil {
			return err
		}
		var names []string
		for _, c := range cs {
			names = append(names, c.Name)
		}
		res := bench.Summarize(rs, names, refs, n, 1)
		var t bytes.Buffer
		fmt.Fprintf(&t, "\n### %d member(s)\n\n", n)
		bench.WriteTable(&t, res, refs)
		fmt.Print(t.String())
		md.Write(t.Bytes())
		rep.Results = append(rep.Results, res...)
	}
	var summary []string
	for _, r := range rep.Results {
		if len(refs) == 0 {
			break
		}
		if r.Members == members[0] && (r.Contender == "slb" || r.Contender == "trunk") {
			summary = append(summary, fmt.Sprintf("%s=%.2f", r.Contender, r.Ratios[refs[0]]))
		}
	}
	if len(refs) > 0 {
		fmt.Printf("\nrx-ratio (÷ %s, %d member(s)) %s\n", refs[0], members[0], strings.Join(summary, " "))
	}
	if out == "" {
		return nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "rxbench-"+rep.When.Format("20060102T150405Z")+".json"), b, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "rxbench.md"), md.Bytes(), 0o644)
}

// testpmdIO is testpmd's io forwarding over n net_null ports on core.
func testpmdIO(n, core int) testpmd.Config {
	c := testpmd.Config{MainCore: 0, Core: core, Args: []string{"--forward-mode=io", "--port-topology=chained", "--burst=" + strconv.Itoa(dpdk.Vector), "--mbcache=" + strconv.Itoa(dpdk.PoolCache), "--total-num-mbufs=16384"}}
	for i := range n {
		c.Vdevs = append(c.Vdevs, fmt.Sprintf("net_null%d", i))
	}
	return c
}

// contenders builds n net_null members with RX and a kernel-facing
// net_null sink, the in-process io loop over them and teamgw's worker in
// each mode.
func contenders(crew *bench.Crew, pool *dpdk.Mempool, n int, slots *dataplane.RxSlots) ([]bench.Contender, func(), error) {
	var undo []func()
	free := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	members, err := bench.NullPorts(n, pool, ",size=64", 1)
	if err != nil {
		return nil, free, err
	}
	undo = append(undo, func() { bench.RemovePorts(members) })
	tap, err := bench.NullPorts(1, pool, ",no-rx=1", 1)
	if err != nil {
		return nil, free, err
	}
	undo = append(undo, func() { bench.RemovePorts(tap) })

	// The reference: the worker's queues in the worker's order (the
	// kernel-facing port first), everything received sent to that port.
	io, err := dpdk.NewIO(0)
	if err != nil {
		return nil, free, err
	}
	undo = append(undo, io.Free)
	io.AddRx(tap[0], 0)
	io.AddTx(tap[0], 0)
	for _, m := range members {
		io.AddRx(m, 0)
	}
	cs := []bench.Contender{{Name: "io", Run: func(steps int) (bench.Measurement, error) {
		return crew.Measure(steps, func(_, steps int) uint64 { return io.RefLoop(uint64(steps)) }), nil
	}}}

	for _, mode := range []string{"slb", "trunk", "lacp"} {
		state, err := bench.Team(mode, teamMAC, members)
		if err != nil {
			return nil, free, err
		}
		if mode == "slb" {
			state.RxSlots = slots // receive balancing counts per client
		}
		w, err := bench.Worker(0, state, tap[0], members)
		if err != nil {
			return nil, free, err
		}
		undo = append(undo, w.Free)
		c := &w.Counters().Teams[0]
		cs = append(cs, bench.Contender{Name: mode, Run: func(steps int) (bench.Measurement, error) {
			sent, dropped := delivered(c)
			m := crew.Measure(steps, func(_, steps int) uint64 { return bench.PollSteps(w, steps) })
			received := m.Packets
			sent2, dropped2 := delivered(c)
			m.Packets = sent2 - sent
			if m.Packets != received || dropped2 != dropped {
				return m, fmt.Errorf("received %d frames, delivered %d, dropped %d", received, m.Packets, dropped2-dropped)
			}
			return m, nil
		}})
	}
	return cs, free, nil
}

// clientSlots is the inbound client table of an SLB team whose clients
// are the sources of frames, as many as fit its slots.
func clientSlots(frames [][]byte) *dataplane.RxSlots {
	s := &dataplane.RxSlots{}
	for _, f := range frames {
		var a netip.Addr
		switch {
		case len(f) >= 34 && f[12] == 0x08 && f[13] == 0:
			a = netip.AddrFrom4([4]byte(f[26:30]))
		case len(f) >= 38 && f[12] == 0x86 && f[13] == 0xdd:
			a = netip.AddrFrom16([16]byte(f[22:38]))
		default:
			continue
		}
		k := dataplane.RxKey(a)
		if h := dataplane.RxSlotOf(k); s.Key[h] == 0 {
			s.Key[h] = k
		} else if s.Key[h^1] == 0 {
			s.Key[h^1] = k
		}
	}
	return s
}

// delivered reads what a worker sent to the kernel-facing port and
// dropped so far.
func delivered(c *dataplane.TeamCounters) (sent, dropped uint64) {
	for i := range c.Drops {
		dropped += c.Drops[i].Load()
	}
	return c.Ports[dataplane.TapIndex].TxPackets.Load(), dropped
}
