// Command txbench measures teamgw's outbound path side by side with DPDK's
// own net_bonding, in one process on one lcore, with the same prebuilt
// traffic (64K flows of 64-byte frames) for every contender:
//
//	null      a bare net_null port: the ceiling
//	bond-l34  net_bonding mode 2 (balance-xor), xmit_policy=l34, over N net_null members
//	bond-rr   net_bonding mode 0 (round robin) over N net_null members
//	slb       teamgw's worker in SLB mode over N net_null members
//	trunk     teamgw's worker in trunk mode over N net_null members
//
// Every contender receives its traffic from the same net_ring port through
// a real rx_burst, kept filled by a feed. Rounds alternate the contenders'
// order; medians of the rounds are reported with min and max. The last
// line is the summary `tx-ratio slb=X trunk=Y` (teamgw Mpps / bond-l34
// Mpps, at the first member count).
package main

import (
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
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane"
	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/dpdk/dpdktest"
	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/perf/traffic"
	"github.com/teamgw/teamgw/slb"
)

func main() {
	membersFlag := flag.String("members", "2,4,8", "member counts to measure")
	rounds := flag.Int("rounds", 7, "rounds per member count (median reported)")
	steps := flag.Int("steps", 40000, "vectors of up to 128 packets per contender and round")
	flows := flag.Int("flows", 65536, "distinct flows in the traffic")
	out := flag.String("out", "perf/results", "directory for the JSON report ('' = none)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to `file`")
	flag.StringVar(&only, "only", "", "run only this contender (with `perf stat`, to count instructions per packet)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(*membersFlag, *rounds, *steps, *flows, *out); err != nil {
		fmt.Fprintln(os.Stderr, "txbench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// contender is one way of sending the feed's traffic.
type contender struct {
	name string
	run  func(steps int) uint64 // returns packets sent
}

// Result is one contender's figures for one member count.
type Result struct {
	Contender string  `json:"contender"`
	Members   int     `json:"members"`
	MppsP50   float64 `json:"mpps_median"`
	MppsMin   float64 `json:"mpps_min"`
	MppsMax   float64 `json:"mpps_max"`
	NsPerPkt  float64 `json:"ns_per_packet"`
	OfCeiling float64 `json:"ratio_to_ceiling"`
	OfBond    float64 `json:"ratio_to_bond_l34"`
}

var (
	seq  atomic.Uint32
	only string
)

func name(p string) string { return fmt.Sprintf("%s%d", p, seq.Add(1)) }

func run(membersFlag string, rounds, steps, flows int, out string) error {
	var counts []int
	for _, s := range strings.Split(membersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > dataplane.MaxMembers {
			return fmt.Errorf("bad member count %q", s)
		}
		counts = append(counts, n)
	}
	if err := dpdktest.EnsureHugepages(1024); err != nil {
		return err
	}
	prefix := fmt.Sprintf("txbench-%d", os.Getpid())
	if err := dpdk.Init(dpdk.EALConfig{MainCore: 0, Hugepages: true, MemoryMB: 768, FilePrefix: prefix, LogLevel: "error"}); err != nil {
		return err
	}
	defer dpdk.Cleanup()

	// Measure on one pinned, registered lcore, as a worker runs.
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(runtime.NumCPU() - 1)
	unix.SchedSetaffinity(0, &set)
	if _, err := dpdk.RegisterThread(); err != nil {
		return err
	}

	pool, err := dpdk.NewMempool("txbench", flows+32767, 256, dpdk.DefaultDataRoom, 0)
	if err != nil {
		return err
	}
	defer pool.Free()
	rxRing, err := dpdk.NewRing("txbench_rx", 4096, true, true)
	if err != nil {
		return err
	}
	defer rxRing.Free()
	sink, err := dpdk.NewRing("txbench_sink", 64, true, true)
	if err != nil {
		return err
	}
	defer sink.Free()
	src, err := dpdk.PortFromRings("net_ring_txbench", rxRing, sink)
	if err != nil {
		return err
	}
	if err := startPort(src, pool); err != nil {
		return err
	}
	teamMAC := frame.MAC{0x02, 0x54, 0x47, 0, 0, 1}
	feed, err := dpdk.NewFeed(rxRing, pool, traffic.Mix(flows, 1, teamMAC, [6]byte{0x02, 0, 0, 0, 0, 2}))
	if err != nil {
		return err
	}
	defer feed.Free()

	var results []Result
	summary := map[string]float64{}
	for ci, n := range counts {
		cs, cleanup, err := contenders(n, src, pool, feed, teamMAC)
		if err != nil {
			return err
		}
		mpps := map[string][]float64{}
		for r := range rounds {
			order := slices.Clone(cs)
			if r%2 == 1 {
				slices.Reverse(order)
			}
			for _, c := range order {
				if only != "" && c.name != only {
					mpps[c.name] = append(mpps[c.name], 1)
					continue
				}
				start := time.Now()
				pkts := c.run(steps)
				mpps[c.name] = append(mpps[c.name], float64(pkts)/time.Since(start).Seconds()/1e6)
			}
		}
		cleanup()
		med := func(name string) float64 { return median(mpps[name]) }
		fmt.Printf("\n%d members, %d flows, %d rounds of %d vectors (Mpps on one lcore: median [min, max])\n", n, flows, rounds, steps)
		fmt.Printf("%-9s %8s %17s %8s %9s %9s\n", "contender", "Mpps", "[min, max]", "ns/pkt", "/ceiling", "/bond-l34")
		for _, c := range cs {
			v := mpps[c.name]
			res := Result{Contender: c.name, Members: n, MppsP50: med(c.name), MppsMin: slices.Min(v), MppsMax: slices.Max(v)}
			res.NsPerPkt = 1e3 / res.MppsP50
			res.OfCeiling = res.MppsP50 / med("null")
			res.OfBond = res.MppsP50 / med("bond-l34")
			results = append(results, res)
			fmt.Printf("%-9s %8.2f  [%6.2f, %6.2f] %8.1f %9.2f %9.2f\n", c.name, res.MppsP50, res.MppsMin, res.MppsMax, res.NsPerPkt, res.OfCeiling, res.OfBond)
			if ci == 0 && (c.name == "slb" || c.name == "trunk") {
				summary[c.name] = res.OfBond
			}
		}
	}
	if out != "" {
		os.MkdirAll(out, 0o755)
		b, _ := json.MarshalIndent(struct {
			When    time.Time `json:"when"`
			Flows   int       `json:"flows"`
			Rounds  int       `json:"rounds"`
			Steps   int       `json:"steps"`
			Results []Result  `json:"results"`
		}{time.Now().UTC(), flows, rounds, steps, results}, "", "  ")
		os.WriteFile(filepath.Join(out, "txbench.json"), b, 0o644)
	}
	fmt.Printf("\ntx-ratio slb=%.2f trunk=%.2f\n", summary["slb"], summary["trunk"])
	return nil
}

func startPort(p *dpdk.Port, pool *dpdk.Mempool) error {
	if err := p.Configure(dpdk.PortConfig{RxQueues: 1, TxQueues: 1, Pool: pool}); err != nil {
		return err
	}
	return p.Start()
}

// nullMembers probes n net_null ports that receive nothing.
func nullMembers(n int, pool *dpdk.Mempool, start bool) ([]*dpdk.Port, error) {
	var ps []*dpdk.Port
	for range n {
		p, err := dpdk.Probe(name("net_null_tx") + ",no-rx=1")
		if err != nil {
			return nil, err
		}
		if start {
			if err := startPort(p, pool); err != nil {
				return nil, err
			}
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func removeAll(ps []*dpdk.Port) {
	for _, p := range ps {
		p.Stop()
		p.Remove()
	}
}

// refContender forwards with the C reference loop from the feed's port to
// one TX port.
func refContender(label string, src, dst *dpdk.Port, feed *dpdk.Feed) (contender, func(), error) {
	io, err := dpdk.NewIO(0)
	if err != nil {
		return contender{}, nil, err
	}
	io.AddRx(src, 0)
	io.AddTx(dst, 0)
	io.SetFeed(feed)
	return contender{label, func(steps int) uint64 { return io.RefLoop(uint64(steps)) }}, io.Free, nil
}

func contenders(n int, src *dpdk.Port, pool *dpdk.Mempool, feed *dpdk.Feed, teamMAC frame.MAC) ([]contender, func(), error) {
	var cs []contender
	var undo []func()
	cleanup := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	fail := func(err error) ([]contender, func(), error) { cleanup(); return nil, nil, err }

	// Ceiling: one bare net_null port.
	null, err := nullMembers(1, pool, true)
	if err != nil {
		return fail(err)
	}
	undo = append(undo, func() { removeAll(null) })
	c, free, err := refContender("null", src, null[0], feed)
	if err != nil {
		return fail(err)
	}
	cs, undo = append(cs, c), append(undo, free)

	// DPDK's net_bonding, balance-xor l34 and round robin.
	for _, b := range []struct{ label, args string }{{"bond-l34", "mode=2,xmit_policy=l34"}, {"bond-rr", "mode=0"}} {
		members, err := nullMembers(n, pool, false)
		if err != nil {
			return fail(err)
		}
		undo = append(undo, func() { removeAll(members) })
		args := name("net_bonding_tx") + "," + b.args
		for _, m := range members {
			args += ",slave=" + m.Name
		}
		bond, err := dpdk.Probe(args)
		if err != nil {
			return fail(err)
		}
		undo = append(undo, func() { removeAll([]*dpdk.Port{bond}) })
		if err := startPort(bond, pool); err != nil {
			return fail(err)
		}
		c, free, err := refContender(b.label, src, bond, feed)
		if err != nil {
			return fail(err)
		}
		cs, undo = append(cs, c), append(undo, free)
	}
	time.Sleep(200 * time.Millisecond) // bonding activates members on its link poll

	// teamgw's worker, SLB and trunk, on the same member ports (DPDK
	// builds have 32 port slots).
	members, err := nullMembers(n, pool, true)
	if err != nil {
		return fail(err)
	}
	undo = append(undo, func() { removeAll(members) })
	for _, mode := range []dataplane.Mode{dataplane.ModeSLB, dataplane.ModeTrunk} {
		var snap atomic.Pointer[dataplane.Snapshot]
		s := &dataplane.Snapshot{}
		s.Teams[0] = teamState(mode, teamMAC, members)
		snap.Store(s)
		w, err := dataplane.NewWorker(dataplane.WorkerConfig{Core: -1, Teams: []dataplane.TeamPorts{{Tap: src, Members: members}}, Snapshot: &snap})
		if err != nil {
			return fail(err)
		}
		undo = append(undo, w.Free)
		w.IO().SetFeed(feed)
		label := "slb"
		if mode == dataplane.ModeTrunk {
			label = "trunk"
		}
		cs = append(cs, contender{label, func(steps int) uint64 {
			var pkts uint64
			for range steps {
				pkts += uint64(w.Poll())
			}
			w.IO().Flush()
			return pkts
		}})
	}
	return cs, cleanup, nil
}

// teamState is the forwarding state control would publish for a team of
// these members, all up: buckets dealt by slb.Assign, member 0 the path.
func teamState(mode dataplane.Mode, mac frame.MAC, members []*dpdk.Port) dataplane.TeamState {
	ts := dataplane.SingleMember(mac, len(members), 0)
	ts.Mode = mode
	active := make([]bool, len(members))
	for i, p := range members {
		active[i] = true
		ts.RxMask |= 1 << i
		if mode == dataplane.ModeSLB && i > 0 {
			hw, _ := p.MAC()
			mac, _ := frame.MACFrom(hw)
			ts.SetSourceMAC(i, mac)
			ts.WireMAC[i] = mac
		}
	}
	table, _ := slb.Assign(nil, active, nil, nil)
	for b := range ts.Table {
		ts.Table[b] = int8(table[b%len(table)])
	}
	return ts
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
