// Command txbench measures teamgw's outbound path side by side with DPDK's
// own net_bonding, on net_null members, in three sections:
//
// outbound: one process, one lcore, the same prebuilt traffic (64K flows
// of 64-byte frames: TCP, UDP, ICMP, some IPv6) for every contender,
// received from a net_ring port kept filled by a feed:
//
//	null      a bare net_null port: the ceiling
//	bond-l34  net_bonding mode 2 (balance-xor), xmit_policy=l34, over N members
//	bond-rr   net_bonding mode 0 (round robin) over N members
//	slb       teamgw's worker in SLB mode over N members
//	trunk     teamgw's worker in trunk mode over N members
//	lacp      teamgw's worker in an LACP team, every member distributing
//
// peer: the whole-process comparison with stock DPDK tools. dpdk-testpmd
// (--forward-mode=txonly --txonly-multi-flow) sends into a net_null port
// (testpmd-null) and into net_bonding mode 2 l34 over N net_null members
// (testpmd-bond-l34), each in its own process on the same core, in rounds
// alternating with this process's contenders fed testpmd's own 256 flows.
//
// scaling: 1 and more worker lcores (-workers), each on its own core with
// its own queue on every port, reading real frames off a multi-queue
// net_null port (see bench.Prefill).
//
// Rounds alternate the contenders' order; medians of the rounds are
// reported with min and max, ratios as medians of per-round ratios, and
// instructions per packet where the machine has hardware counters. The
// last line is the summary `tx-ratio slb=X trunk=Y` (teamgw / bond-l34 at
// the first member count of the outbound section).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
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

// options are the command's flags.
type options struct {
	members      []int
	workers      []int
	scaleMembers int
	rounds       int
	steps        int
	flows        int
	sections     []string
	testpmdTime  time.Duration
	only         string
	core         int
	// scalePorts are real member ports for the scaling section.
	scalePorts []string
	// noHuge runs the EAL without hugepages (-no-huge).
	noHuge bool
}

func main() {
	var o options
	membersFlag := flag.String("members", "2,4,8", "member counts (outbound and peer sections)")
	workersFlag := flag.String("workers", "1,2", "worker lcores (scaling section)")
	flag.IntVar(&o.scaleMembers, "scale-members", 2, "member count of the scaling section")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds per configuration (median reported)")
	flag.IntVar(&o.steps, "steps", 10000, "vectors of up to 256 packets (dpdk.Vector) per contender and round")
	flag.IntVar(&o.flows, "flows", 65536, "distinct flows in the outbound section's traffic")
	sections := flag.String("sections", "outbound,peer,scaling", "sections to run")
	flag.DurationVar(&o.testpmdTime, "testpmd-time", 300*time.Millisecond, "length of a testpmd round (peer section)")
	out := flag.String("out", "perf/results", "directory for the JSON and Markdown report ('' = none)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to `file`")
	flag.StringVar(&o.only, "only", "", "run only this contender (with `perf stat`, or for a profile)")
	scalePorts := flag.String("scale-ports", "", "space-separated member `devargs` for the scaling section instead of net_null ports: PCI addresses of NICs bound to vfio-pci (perf/scale.sh)")
	flag.BoolVar(&o.noHuge, "no-huge", false, "run the EAL on ordinary memory (--no-huge), e.g. under valgrind")
	flag.Parse()
	if *scalePorts != "" {
		o.scalePorts = strings.Fields(*scalePorts)
	}
	var err error
	if o.members, err = intList(*membersFlag, 1, dataplane.MaxMembers); err == nil {
		o.workers, err = intList(*workersFlag, 1, runtime.NumCPU())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "txbench:", err)
		os.Exit(2)
	}
	o.sections = strings.Split(*sections, ",")
	o.core = runtime.NumCPU() - 1
	if *cpuprofile != "" {
		if f, err := os.Create(*cpuprofile); err == nil {
			pprof.StartCPUProfile(f)
		}
	}
	err = run(o, *out)
	pprof.StopCPUProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "txbench:", err)
		os.Exit(1)
	}
}

func intList(s string, lo, hi int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < lo || n > hi {
			return nil, fmt.Errorf("bad count %q (want %d..%d)", f, lo, hi)
		}
		out = append(out, n)
	}
	return out, nil
}

// Report is what a run writes to txbench-<time>.json.
type Report struct {
	When   time.Time `json:"when"`
	Flows  int       `json:"flows"`
	Rounds int       `json:"rounds"`
	Steps  int       `json:"steps"`
	// Outbound, Peer and Scaling are the sections' results.
	Outbound []bench.Result `json:"outbound"`
	Peer     []bench.Result `json:"peer,omitempty"`
	Scaling  []bench.Result `json:"scaling,omitempty"`
	// Testpmd holds the command line of each testpmd contender, by
	// contender and member count ("testpmd-bond-l34/2").
	Testpmd map[string]string `json:"testpmd,omitempty"`
}

func run(o options, out string) error {
	var pci []string
	for _, d := range o.scalePorts {
		if bench.IsPCI(d) {
			pci = append(pci, d)
		}
	}
	start := bench.Start
	if o.noHuge {
		start = func(name string, mb int, _ ...string) (func(), error) { return bench.StartNoHuge(name, mb) }
	}
	stop, err := start("txbench", 768, pci...)
	if err != nil {
		return err
	}
	defer stop()
	crew, err := bench.NewCrew([]int{o.core})
	if err != nil {
		return err
	}
	defer crew.Close()
	pool, err := dpdk.NewMempool("txbench", o.flows+32767, dpdk.PoolCache, dpdk.DefaultDataRoom, 0)
	if err != nil {
		return err
	}
	defer pool.Free()

	rep := Report{When: time.Now().UTC(), Flows: o.flows, Rounds: o.rounds, Steps: o.steps, Testpmd: map[string]string{}}
	var md bytes.Buffer
	fmt.Fprintf(&md, "# Outbound path against DPDK net_bonding (txbench)\n\n%s, one worker lcore on CPU %d unless said otherwise, %d rounds per configuration, median [min, max]; ratios are medians of per-round ratios; insn/pkt counted by the CPU's instruction counter. Reproduce: make bench-tx.\n",
		rep.When.Format(time.RFC3339), o.core, o.rounds)
	for _, s := range o.sections {
		switch s {
		case "outbound":
			rep.Outbound, err = outbound(o, crew, pool, &md)
		case "peer":
			rep.Peer, err = peer(o, crew, pool, rep.Testpmd, &md)
		case "scaling":
			rep.Scaling, err = scaling(o, &md)
		default:
			err = fmt.Errorf("unknown section %q", s)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(rep, "", "  ")
		stamp := rep.When.Format("20060102T150405Z")
		if err := os.WriteFile(filepath.Join(out, "txbench-"+stamp+".json"), b, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "txbench.md"), md.Bytes(), 0o644); err != nil {
			return err
		}
	}
	var slbR, trunkR float64
	for _, r := range rep.Outbound {
		if r.Members == o.members[0] && r.Contender == "slb" {
			slbR = r.Ratios["bond-l34"]
		}
		if r.Members == o.members[0] && r.Contender == "trunk" {
			trunkR = r.Ratios["bond-l34"]
		}
	}
	fmt.Printf("\ntx-ratio slb=%.2f trunk=%.2f\n", slbR, trunkR)
	return nil
}

// section runs one configuration's contenders, prints and records its
// table, and frees what it built.
func section(o options, title string, cs []bench.Contender, refs []string, members, workers int, md *bytes.Buffer) ([]bench.Result, error) {
	if o.only != "" {
		cs = slices.DeleteFunc(cs, func(c bench.Contender) bool { return c.Name != o.only })
	}
	rounds, err := bench.Rounds(cs, o.rounds, o.steps)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	res := bench.Summarize(rounds, names, refs, members, workers)
	var t bytes.Buffer
	fmt.Fprintf(&t, "\n%s\n\n", title)
	bench.WriteTable(&t, res, refs)
	fmt.Print(t.String())
	md.Write(t.Bytes())
	return res, nil
}

// feedSource is a net_ring port whose RX ring a feed keeps filled with
// frames.
func feedSource(pool *dpdk.Mempool, frames [][]byte) (*dpdk.Port, *dpdk.Feed, func(), error) {
	rx, err := dpdk.NewRing(bench.Name("txb_rx"), 4096, true, true)
	if err != nil {
		return nil, nil, nil, err
	}
	sink, err := dpdk.NewRing(bench.Name("txb_sink"), 64, true, true)
	if err != nil {
		rx.Free()
		return nil, nil, nil, err
	}
	undo := func() { rx.Free(); sink.Free() }
	src, err := dpdk.PortFromRings(bench.Name("net_ring_txb"), rx, sink)
	if err == nil {
		err = bench.StartPort(src, pool, 1)
	}
	if err != nil {
		undo()
		return nil, nil, nil, err
	}
	feed, err := dpdk.NewFeed(rx, pool, frames)
	if err != nil {
		bench.RemovePorts([]*dpdk.Port{src})
		undo()
		return nil, nil, nil, err
	}
	return src, feed, func() { bench.RemovePorts([]*dpdk.Port{src}); feed.Free(); undo() }, nil
}

// builder collects contenders and what to undo after them.
type builder struct {
	crew *bench.Crew
	cs   []bench.Contender
	undo []func()
}

func (b *builder) cleanup() {
	for i := len(b.undo) - 1; i >= 0; i-- {
		b.undo[i]()
	}
	b.undo = nil
}

// add registers a contender that runs part i of each round on crew
// thread i.
func (b *builder) add(name string, run func(i, steps int) uint64) {
	crew := b.crew
	b.cs = append(b.cs, bench.Contender{Name: name, Run: func(steps int) (bench.Measurement, error) {
		return crew.Measure(steps, run), nil
	}})
}

// refLoops registers a contender forwarding with the C reference loop
// from queue i of src to queue i of dst on each crew thread.
func (b *builder) refLoops(name string, src, dst *dpdk.Port, feed *dpdk.Feed) error {
	var ios []*dpdk.IO
	for i := range b.crew.Size() {
		io, err := dpdk.NewIO(0)
		if err != nil {
			return err
		}
		b.undo = append(b.undo, io.Free)
		if _, err := io.AddRx(src, uint16(i)); err != nil {
			return err
		}
		if _, err := io.AddTx(dst, uint16(i)); err != nil {
			return err
		}
		if feed != nil {
			io.SetFeed(feed)
		}
		ios = append(ios, io)
	}
	b.add(name, func(i, steps int) uint64 { return ios[i].RefLoop(uint64(steps)) })
	return nil
}

// peers registers the ceiling (a bare net_null port) and net_bonding over
// n net_null members in each of modes ("bond-l34", "bond-rr").
func (b *builder) peers(src *dpdk.Port, pool *dpdk.Mempool, feed *dpdk.Feed, n int, modes ...string) error {
	q := b.crew.Size()
	null, err := bench.NullPorts(1, pool, ",no-rx=1", q)
	if err != nil {
		return err
	}
	b.undo = append(b.undo, func() { bench.RemovePorts(null) })
	if err := b.refLoops("null", src, null[0], feed); err != nil {
		return err
	}
	args := map[string]string{"bond-l34": "mode=2,xmit_policy=l34", "bond-rr": "mode=0"}
	for _, m := range modes {
		members, err := bench.NullPorts(n, pool, ",no-rx=1", 0) // the bond configures them
		if err != nil {
			return err
		}
		b.undo = append(b.undo, func() { bench.RemovePorts(members) })
		bond, err := bench.Bond(members, args[m], pool, q)
		if err != nil {
			return err
		}
		b.undo = append(b.undo, func() { bench.RemovePorts([]*dpdk.Port{bond}) })
		if err := b.refLoops(m, src, bond, feed); err != nil {
			return err
		}
	}
	time.Sleep(200 * time.Millisecond) // bonding activates members on its link poll
	return nil
}

// teams registers teamgw's worker in each mode over n fresh net_null
// members, one worker per crew thread.
func (b *builder) teams(src *dpdk.Port, pool *dpdk.Mempool, feed *dpdk.Feed, n int, modes ...string) error {
	q := b.crew.Size()
	members, err := bench.NullPorts(n, pool, ",no-rx=1", q)
	if err != nil {
		return err
	}
	b.undo = append(b.undo, func() { bench.RemovePorts(members) })
	for _, mode := range modes {
		state, err := bench.Team(mode, teamMAC, members)
		if err != nil {
			return err
		}
		var ws []*dataplane.Worker
		for i := range q {
			w, err := bench.Worker(i, state, src, members)
			if err != nil {
				return err
			}
			b.undo = append(b.undo, w.Free)
			if feed != nil {
				w.IO().SetFeed(feed)
			}
			ws = append(ws, w)
		}
		b.add(mode, func(i, steps int) uint64 { return bench.PollSteps(ws[i], steps) })
	}
	return nil
}

func outbound(o options, crew *bench.Crew, pool *dpdk.Mempool, md *bytes.Buffer) ([]bench.Result, error) {
	src, feed, free, err := feedSource(pool, traffic.Mix(o.flows, 1, teamMAC, clientMAC))
	if err != nil {
		return nil, err
	}
	defer free()
	fmt.Fprintf(md, "\n## Outbound path, one lcore\n\n%d flows of 64-byte frames (45%% TCP, 40%% UDP, 5%% ICMP over IPv4, 10%% UDP over IPv6) from a net_ring port kept filled by a feed, to net_null members. null is the ceiling (the same loop to one port), bond-* are DPDK's net_bonding, slb/trunk/lacp teamgw's worker.\n", o.flows)
	var all []bench.Result
	for _, n := range o.members {
		b := &builder{crew: crew}
		err := b.peers(src, pool, feed, n, "bond-l34", "bond-rr")
		if err == nil {
			err = b.teams(src, pool, feed, n, "slb", "trunk", "lacp")
		}
		if err == nil {
			var res []bench.Result
			res, err = section(o, fmt.Sprintf("### %d members", n), b.cs, []string{"null", "bond-l34"}, n, 1, md)
			all = append(all, res...)
		}
		b.cleanup()
		if err != nil {
			return nil, err
		}
	}
	return all, nil
}

// testpmdTx is the testpmd configuration that sends testpmd's txonly
// traffic into a net_null port (members = 0) or into net_bonding mode 2
// l34 over members net_null ports.
func testpmdTx(o options, members int) testpmd.Config {
	c := testpmd.Config{MainCore: 0, Core: o.core}
	args := []string{"--forward-mode=txonly", "--txonly-multi-flow", "--burst=" + strconv.Itoa(dpdk.Vector), "--mbcache=" + strconv.Itoa(dpdk.PoolCache), "--total-num-mbufs=16384"}
	if members == 0 {
		c.Vdevs = []string{"net_null0"}
		c.Args = args
		return c
	}
	bond := "net_bonding0,mode=2,xmit_policy=l34"
	for i := range members {
		c.Vdevs = append(c.Vdevs, fmt.Sprintf("net_null%d", i))
		bond += fmt.Sprintf(",slave=net_null%d", i)
	}
	c.Vdevs = append(c.Vdevs, bond)
	// The bond is the port probed last; forward on it alone.
	c.Args = append(args, fmt.Sprintf("--portmask=%#x", 1<<members), "--port-topology=loop")
	return c
}

// testpmdContender starts testpmd and returns a contender whose rounds are
// testpmd's start/stop cycles.
func testpmdContender(name string, c testpmd.Config, d time.Duration) (bench.Contender, func(), error) {
	p, err := testpmd.Start(context.Background(), c)
	if err != nil {
		return bench.Contender{}, nil, err
	}
	return bench.Contender{Name: name, Run: func(int) (bench.Measurement, error) {
		r, err := p.Run(context.Background(), d)
		return bench.Measurement{Packets: r.Packets, Seconds: r.Seconds, CPUSeconds: r.CPUSeconds, Instructions: r.Instructions}, err
	}}, func() { p.Close() }, nil
}

func peer(o options, crew *bench.Crew, pool *dpdk.Mempool, cmds map[string]string, md *bytes.Buffer) ([]bench.Result, error) {
	src, feed, free, err := feedSource(pool, traffic.TxOnly(teamMAC, clientMAC))
	if err != nil {
		return nil, err
	}
	defer free()
	fmt.Fprintf(md, "\n## Whole process against dpdk-testpmd\n\ntestpmd-* are separate dpdk-testpmd processes sending `--forward-mode=txonly --txonly-multi-flow` (256 UDP flows of 64-byte frames) with their forwarding lcore on CPU %d, started and stopped for each round in turn with this process's contenders, which get the same 256 flows from the feed. Both generators cost something: compare the balancing layers by the difference to each process's own ceiling (testpmd-null, null), in the last table. Command lines (interactive: type `start`, wait, `stop`; or drop `-i` and add `--stats-period=1` to read Tx-pps every second):\n\n", o.core)
	nullCfg := testpmdTx(o, 0)
	fmt.Fprintf(md, "- testpmd-null: `%s`\n", nullCfg.CommandLine())
	cmds["testpmd-null"] = nullCfg.CommandLine()
	tpNull, closeNull, err := testpmdContender("testpmd-null", nullCfg, o.testpmdTime)
	if err != nil {
		return nil, err
	}
	defer closeNull()
	var all []bench.Result
	for _, n := range o.members {
		cfg := testpmdTx(o, n)
		key := fmt.Sprintf("testpmd-bond-l34/%d", n)
		cmds[key] = cfg.CommandLine()
		fmt.Fprintf(md, "- testpmd-bond-l34, %d members: `%s`\n", n, cfg.CommandLine())
		b := &builder{crew: crew}
		tpBond, closeBond, err := testpmdContender("testpmd-bond-l34", cfg, o.testpmdTime)
		if err == nil {
			b.undo = append(b.undo, closeBond)
			b.cs = append(b.cs, tpNull, tpBond)
			err = b.peers(src, pool, feed, n, "bond-l34")
		}
		if err == nil {
			err = b.teams(src, pool, feed, n, "slb", "trunk")
		}
		if err == nil {
			var res []bench.Result
			res, err = section(o, fmt.Sprintf("### %d members, testpmd's traffic", n), b.cs, []string{"testpmd-bond-l34", "bond-l34"}, n, 1, md)
			all = append(all, res...)
		}
		b.cleanup()
		if err != nil {
			return nil, err
		}
	}
	writeOverheads(md, all)
	return all, nil
}

// writeOverheads prints what each balancing layer adds per packet over its
// own process's ceiling: net_bonding in testpmd, net_bonding here and
// teamgw here.
func writeOverheads(md *bytes.Buffer, res []bench.Result) {
	get := func(name string, n int) (bench.Result, bool) {
		for _, r := range res {
			if r.Contender == name && r.Members == n {
				return r, true
			}
		}
		return bench.Result{}, false
	}
	var t bytes.Buffer
	fmt.Fprintf(&t, "\n### Cost of the balancing layer over its own process's ceiling\n\n| members | layer | process | ns/pkt added | insn/pkt added |\n| --- | --- | --- | --- | --- |\n")
	seen := map[int]bool{}
	for _, r := range res {
		if seen[r.Members] {
			continue
		}
		seen[r.Members] = true
		for _, row := range []struct{ layer, proc, name, ceil string }{
			{"net_bonding l34", "dpdk-testpmd", "testpmd-bond-l34", "testpmd-null"},
			{"net_bonding l34", "txbench", "bond-l34", "null"},
			{"teamgw trunk", "txbench", "trunk", "null"},
			{"teamgw slb", "txbench", "slb", "null"},
		} {
			a, ok1 := get(row.name, r.Members)
			c, ok2 := get(row.ceil, r.Members)
			if !ok1 || !ok2 {
				continue
			}
			insn := "n/a"
			if a.InsnPerPacket > 0 && c.InsnPerPacket > 0 {
				insn = fmt.Sprintf("%.0f", a.InsnPerPacket-c.InsnPerPacket)
			}
			fmt.Fprintf(&t, "| %d | %s | %s | %.1f | %s |\n", r.Members, row.layer, row.proc, a.NsPerPacket-c.NsPerPacket, insn)
		}
	}
	fmt.Print(t.String())
	md.Write(t.Bytes())
}

func scaling(o options, md *bytes.Buffer) ([]bench.Result, error) {
	fmt.Fprintf(md, "\n## Scaling over worker lcores\n\n%d members; each worker on its own core with its own queue on every port, reading frames off a multi-queue net_null port (its RX only sets lengths; the pool's mbufs hold the traffic, see bench.Prefill). Mpps is the sum over the workers; ns/pkt is per core.\n", o.scaleMembers)
	var all []bench.Result
	for _, w := range o.workers {
		cores := make([]int, w)
		for i := range cores {
			cores[i] = o.core - i
		}
		res, err := scaleRun(o, cores, md)
		if err != nil {
			return nil, err
		}
		all = append(all, res...)
	}
	return all, nil
}

func scaleRun(o options, cores []int, md *bytes.Buffer) ([]bench.Result, error) {
	w := len(cores)
	crew, err := bench.NewCrew(cores)
	if err != nil {
		return nil, err
	}
	defer crew.Close()
	pool, err := dpdk.NewMempool(bench.Name("txb_scale"), 16383, dpdk.PoolCache, dpdk.DefaultDataRoom, 0)
	if err != nil {
		return nil, err
	}
	defer pool.Free()
	if _, err := bench.Prefill(pool, traffic.Mix(o.flows, 1, teamMAC, clientMAC)); err != nil {
		return nil, err
	}
	srcs, err := bench.NullPorts(1, pool, ",size=64", w)
	if err != nil {
		return nil, err
	}
	defer bench.RemovePorts(srcs)
	b := &builder{crew: crew}
	defer b.cleanup()
	if len(o.scalePorts) > 0 {
		return scaleReal(o, b, cores, srcs[0], pool, md)
	}
	// Only modes that leave frames as they are: SLB rewrites source MACs
	// in place, which would change the prefilled frames.
	if err := b.peers(srcs[0], pool, nil, o.scaleMembers, "bond-l34"); err != nil {
		return nil, err
	}
	if err := b.teams(srcs[0], pool, nil, o.scaleMembers, "trunk"); err != nil {
		return nil, err
	}
	return section(o, fmt.Sprintf("### %d worker(s) on CPU %s", w, joinInts(cores)), b.cs, []string{"null", "bond-l34"}, o.scaleMembers, w, md)
}

// scaleReal measures teamgw's trunk worker over real member ports: a
// round counts what the NICs report sent, so frames a full TX ring
// refused do not count. The ceiling is the same loop to a net_null port.
func scaleReal(o options, b *builder, cores []int, src *dpdk.Port, pool *dpdk.Mempool, md *bytes.Buffer) ([]bench.Result, error) {
	w := b.crew.Size()
	null, err := bench.NullPorts(1, pool, ",no-rx=1", w)
	if err != nil {
		return nil, err
	}
	b.undo = append(b.undo, func() { bench.RemovePorts(null) })
	if err := b.refLoops("null", src, null[0], nil); err != nil {
		return nil, err
	}
	members, err := bench.Ports(o.scalePorts, pool, w)
	if err != nil {
		return nil, err
	}
	b.undo = append(b.undo, func() { bench.RemovePorts(members) })
	state, err := bench.Team("trunk", teamMAC, members)
	if err != nil {
		return nil, err
	}
	var ws []*dataplane.Worker
	for i := range w {
		wk, err := bench.Worker(i, state, src, members)
		if err != nil {
			return nil, err
		}
		b.undo = append(b.undo, wk.Free)
		ws = append(ws, wk)
	}
	crew := b.crew
	b.cs = append(b.cs, bench.Contender{Name: "trunk", Run: func(steps int) (bench.Measurement, error) {
		before := bench.TxPackets(members)
		m := crew.Measure(steps, func(i, steps int) uint64 { return bench.PollSteps(ws[i], steps) })
		m.Packets = bench.TxPackets(members) - before
		return m, nil
	}})
	time.Sleep(2 * time.Second) // links come up
	return section(o, fmt.Sprintf("### %d worker(s) on CPU %s, members %s", w, joinInts(cores), strings.Join(o.scalePorts, " ")), b.cs, []string{"null"}, len(members), w, md)
}

func joinInts(v []int) string {
	var s []string
	for _, x := range v {
		s = append(s, strconv.Itoa(x))
	}
	return strings.Join(s, ",")
}
