package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/teamgw/teamgw/perf/lab"
	"github.com/teamgw/teamgw/perf/stats"
)

// kernelRun is one iperf3 measurement of the kernel path (issue 9, the
// shape of seed 004's Table 7: throughput and CPU by member count).
type kernelRun struct {
	Path      string `json:"path"` // "no team" or the team mode
	Members   int    `json:"members"`
	Streams   int    `json:"streams"`
	Direction string `json:"direction"` // "client->server" or "server->client"
	// CC is the TCP congestion control of the iperf3 ends.
	CC string `json:"congestion_control"`
	// Round counts the passes (1 = the whole matrix; later rounds repeat
	// the no-team path and the smallest team).
	Round int     `json:"round"`
	Gbps  float64 `json:"gbps"`
	// TeamgwCPU is teamgw's CPU time over the run divided by its length
	// (1.0 = one core busy); 0 for the no-team anchor.
	TeamgwCPU float64 `json:"teamgw_cpu"`
	// CPUPerGbit is teamgw's CPU seconds per gigabit carried.
	CPUPerGbit float64 `json:"cpu_s_per_gbit"`
	// MachineCPU is what every process at normal priority and the
	// kernel used of the machine over the run, in CPUs (user, system and
	// interrupt time of /proc/stat; niced neighbours are left out), and
	// MachinePerGbit the same in CPU seconds per gigabit: teamgw, both
	// iperf3 ends and the lab's switch together.
	MachineCPU     float64 `json:"machine_cpu"`
	MachinePerGbit float64 `json:"machine_cpu_s_per_gbit"`
	// Retransmits are the TCP retransmissions iperf3 reports.
	Retransmits int `json:"retransmits"`
	// Drops are the frames teamgw lost during the run (see lossReasons),
	// and NICDrops those its member devices dropped (RX ring full, ...).
	Drops    uint64 `json:"drops"`
	NICDrops uint64 `json:"nic_drops"`
	// Whole are the kernel's super-frames that left teamgw whole (to a
	// member's TSO or an af_packet member's kernel), Cut those teamgw
	// segmented, Refused those an af_packet member's kernel refused whole
	// (any error) and Backoff those not offered to it in the 64 after a
	// refusal (both are among Cut).
	Whole   uint64 `json:"superframes_whole"`
	Cut     uint64 `json:"superframes_cut"`
	Refused uint64 `json:"superframes_refused"`
	Backoff uint64 `json:"superframes_backoff"`
}

func kernelPath(args []string) error {
	fs := flag.NewFlagSet("kernelpath", flag.ExitOnError)
	var c common
	c.register(fs)
	membersFlag := fs.String("members", "1,2,4", "team sizes")
	modesFlag := fs.String("modes", "slb,trunk", "team modes: a trunk runs on the lab's Linux bridge, which learns the team MAC on whichever member sent last (this kernel has no bonding driver to make the switch ports a static LAG; every trunk member takes frames for the team MAC, so nothing is lost to it); lacp needs an LACP partner")
	streamsFlag := fs.String("streams", "1,4", "parallel TCP streams (one client namespace each)")
	dur := fs.Duration("time", 5*time.Second, "length of each iperf3 run")
	out := fs.String("out", "perf/results", "directory for the JSON and Markdown report (\"\" = none)")
	idle := fs.String("idle-sleep", "50us", "teamgw's eal.idle_sleep (\"0s\" = busy polling)")
	workersFlag := fs.Int("workers", 1, "teamgw worker lcores (and TAP queues)")
	workersAlso := fs.Int("workers-also", 2, "worker lcores for one more run of the smallest team of the first kind and mode (0 = none)")
	anchors := fs.Bool("anchors", true, "measure the no-team anchors first")
	dirsFlag := fs.String("directions", "client->server,server->client", "directions to measure")
	cc := fs.String("cc", "cubic", "TCP congestion control of the iperf3 ends, set in the lab's namespaces (Linux's default; \"\" = the machine's net.ipv4.tcp_congestion_control)")
	ccAlso := fs.String("cc-also", "bbr", "a second congestion control for the no-team anchor and one member of the first mode and member kind (\"\" = none)")
	repeat := fs.Int("repeat", 3, "rounds of the no-team path and the smallest team of the first kind and mode (the target's configuration), alternating, for medians of per-round ratios")
	kindsFlag := fs.String("member-kinds", "af_packet", "member ports (a list): af_packet on the member veths (no offloads: teamgw writes TCP super-frames whole to its own packet sockets on the veths, for their kernel's GSO), net_tap wired to the member veths (offers TSO: super-frames leave teamgw whole; the clients' MTU is then 1486, as net_tap counts the Ethernet header against its MTU)")
	fs.Parse(args)
	members, err := intList(*membersFlag)
	if err != nil {
		return err
	}
	streams, err := intList(*streamsFlag)
	if err != nil {
		return err
	}
	members, streams = uniq(members), uniq(streams)
	smallest := slices.Min(members)
	modes := strings.Split(*modesFlag, ",")
	var dirs []bool // reverse: server->client
	for _, d := range strings.Split(*dirsFlag, ",") {
		var reverse bool
		switch d {
		case "client->server":
		case "server->client":
			reverse = true
		default:
			return fmt.Errorf("-directions: unknown direction %q (client->server or server->client)", d)
		}
		if !slices.Contains(dirs, reverse) {
			dirs = append(dirs, reverse)
		}
	}
	for _, name := range []string{*cc, *ccAlso} {
		if err := congestionControlAvailable(name); err != nil {
			return err
		}
	}
	// A second congestion control that is the first one measures the
	// same thing again.
	if same, err := sameCongestionControl(*cc, *ccAlso); err != nil {
		return err
	} else if same {
		*ccAlso = ""
	}

	var runs []kernelRun
	round := 1
	report := func(r kernelRun) {
		r.Round = round
		runs = append(runs, r)
		fmt.Printf("%-20s %-5s members %d streams %d %-15s %6.2f Gbit/s  teamgw CPU %4.2f  %5.3f CPU-s/Gbit  machine %4.2f  retr %d  drops %d nic %d  super-frames whole %d cut %d (refused %d, backoff %d)\n",
			r.Path, r.CC, r.Members, r.Streams, r.Direction, r.Gbps, r.TeamgwCPU, r.CPUPerGbit, r.MachineCPU, r.Retransmits, r.Drops, r.NICDrops, r.Whole, r.Cut, r.Refused, r.Backoff)
	}
	maxStreams := slices.Max(streams)
	// anchor measures the server's kernel on the veth itself, no teamgw.
	// A veth carries the kernel's 64 KB TSO segments whole, all the way
	// into the client, which no wire does; the wire-sized anchor segments
	// before the veth (TSO and GSO off), as a NIC puts frames on a wire.
	anchor := func(name string, wire bool, cc string) error {
		return withLab(1, maxStreams, cc, func(l *lab.Lab) error {
			ctx := context.Background()
			if _, err := l.Exec(ctx, l.GW, "ip", "addr", "add", l.Spec.TeamIP.String()+"/24", "dev", "m0"); err != nil {
				return err
			}
			if wire {
				if _, err := l.Exec(ctx, l.GW, "ethtool", "-K", "m0", "tso", "off", "gso", "off"); err != nil {
					return err
				}
			}
			return iperfAll(l, kernelCase{name, 1, cc}, streams, dirs, *dur, nil, report)
		})
	}
	team := func(kind, mode string, n int, cc string, workers int) error {
		tapMembers := kind == "net_tap"
		path := mode
		if tapMembers {
			path = mode + ", net_tap TSO"
		}
		if workers != *workersFlag {
			path += fmt.Sprintf(", %d workers", workers)
		}
		return withLab(n, maxStreams, cc, func(l *lab.Lab) error {
			cfg := strings.Replace(l.Config(lab.TeamConfig{Mode: mode, TapMembers: tapMembers}), `idle_sleep = "50us"`, fmt.Sprintf("idle_sleep = %q", *idle), 1)
			if workers > 1 {
				cores := make([]string, workers)
				for i := range cores {
					cores[i] = strconv.Itoa(i)
				}
				// Every worker has rings and caches on every port:
				// the default pool is too small for 4 members and 2.
				cfg = strings.Replace(cfg, "[eal]\n", "[eal]\nworker_cores = ["+strings.Join(cores, ", ")+"]\nmbufs = 32767\n", 1)
			}
			g, err := l.StartTeamgw(context.Background(), c.teamgw, c.dir, cfg, io.Discard)
			if err != nil {
				return err
			}
			defer g.Stop()
			if tapMembers {
				if err := errors.Join(l.WireTapMembers(context.Background()), clientMTU(l, 1486)); err != nil {
					return err
				}
			}
			if err := waitAllActive(g, n); err != nil {
				return err
			}
			return iperfAll(l, kernelCase{path, n, cc}, streams, dirs, *dur, &teamProbe{g}, report)
		})
	}
	kinds := strings.Split(*kindsFlag, ",")
	for _, kind := range kinds {
		if kind != "net_tap" && kind != "af_packet" {
			return fmt.Errorf("unknown member kind %q", kind)
		}
	}
	// measure runs the whole plan; what it measured before an error
	// still makes the report.
	measure := func() error {
		if *anchors {
			if err := anchor("no team", false, *cc); err != nil {
				return err
			}
			if err := anchor("no team, wire-sized", true, *cc); err != nil {
				return err
			}
		}
		for _, kind := range kinds {
			for _, mode := range modes {
				for _, n := range members {
					if err := team(kind, mode, n, *cc, *workersFlag); err != nil {
						return err
					}
				}
			}
		}
		// The second congestion control, on the no-team path and the
		// smallest team of the first kind and mode: how much the comparison
		// depends on it.
		if *ccAlso != "" {
			if *anchors {
				if err := anchor("no team", false, *ccAlso); err != nil {
					return err
				}
			}
			if err := team(kinds[0], modes[0], smallest, *ccAlso, *workersFlag); err != nil {
				return err
			}
		}
		// More workers (and TAP queues) for the smallest team: on two cores
		// they share the CPUs with the iperf3 ends.
		if *workersAlso > 0 && *workersAlso != *workersFlag {
			if err := team(kinds[0], modes[0], smallest, *cc, *workersAlso); err != nil {
				return err
			}
		}
		// More rounds of the target's configuration: one run of each is at
		// the mercy of the machine's neighbours.
		for round = 2; round <= *repeat; round++ {
			if *anchors {
				if err := anchor("no team", false, *cc); err != nil {
					return err
				}
			}
			if err := team(kinds[0], modes[0], smallest, *cc, *workersFlag); err != nil {
				return err
			}
		}
		return nil
	}
	err = measure()
	if *out == "" || len(runs) == 0 {
		return err
	}
	info := reportInfo{dur: *dur, cc: *cc, ccAlso: *ccAlso, workers: *workersFlag}
	return errors.Join(err, writeKernelReport(*out, runs, info))
}

// clientMTU sets the MTU of every client's interface.
func clientMTU(l *lab.Lab, mtu int) error {
	for _, ns := range l.Clients {
		if _, err := l.Exec(context.Background(), ns, "ip", "link", "set", "eth0", "mtu", strconv.Itoa(mtu)); err != nil {
			return err
		}
	}
	return nil
}

// withLab runs fn in a fresh lab of the given size whose TCP ends (the
// gateway and the clients) use congestion control cc ("" = the machine's).
func withLab(members, clients int, cc string, fn func(*lab.Lab) error) error {
	l, cleanup, err := newLab(members, clients)
	if err != nil {
		return err
	}
	defer cleanup()
	if cc != "" {
		for _, ns := range append([]string{l.GW}, l.Clients...) {
			if _, err := l.Exec(context.Background(), ns, "sysctl", "-qw", "net.ipv4.tcp_congestion_control="+cc); err != nil {
				return fmt.Errorf("congestion control %q in %s: %w", cc, ns, err)
			}
		}
	}
	return fn(l)
}

// kernelCase names what a set of iperf3 runs measures.
type kernelCase struct {
	path    string // "no team", "no team, wire-sized" or the team mode
	members int
	cc      string // the ends' TCP congestion control
}

// waitAllActive waits until every member of team0 carries traffic.
func waitAllActive(g *lab.Teamgw, n int) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s, err := g.Status(); err == nil && len(s.Teams) > 0 {
			up := 0
			for _, m := range s.Teams[0].Members {
				if m.State == "active" {
					up++
				}
			}
			if up == n {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not all %d members active within 10 s", n)
}

// iperfAll runs iperf3 for every stream count in the given directions
// (reverse = server->client). With k
// streams, clients 0..k-1 each run one stream against their own server
// port, so SLB can spread them over members.
func iperfAll(l *lab.Lab, kc kernelCase, streams []int, dirs []bool, dur time.Duration, cpu *teamProbe, report func(kernelRun)) error {
	maxStreams := slices.Max(streams)
	servers := func() error {
		for k := range maxStreams {
			if _, err := l.Start(l.GW, nil, nil, "iperf3", "-s", "-B", l.Spec.TeamIP.String(), "-p", strconv.Itoa(5201+k)); err != nil {
				return err
			}
		}
		time.Sleep(300 * time.Millisecond)
		return nil
	}
	if err := servers(); err != nil {
		return err
	}
	for _, s := range streams {
		for _, reverse := range dirs {
			r, err := iperfOnce(l, s, reverse, dur, kc.cc, cpu)
			// On a shared machine something may signal every iperf3
			// (pkill): start the servers again (those still running keep
			// their ports) and repeat the run, twice at most.
			for try := 0; try < 2 && err != nil && strings.Contains(err.Error(), "interrupt"); try++ {
				fmt.Printf("%s: iperf3 was interrupted by a signal, running again\n", kc.path)
				if err := servers(); err != nil {
					return err
				}
				r, err = iperfOnce(l, s, reverse, dur, kc.cc, cpu)
			}
			if err != nil {
				return err
			}
			r.Path, r.Members, r.CC = kc.path, kc.members, kc.cc
			report(r)
		}
	}
	return nil
}

// iperfOnce runs streams iperf3 clients at once and sums what they
// carried; with cc set, both ends of every stream must have used it.
func iperfOnce(l *lab.Lab, streams int, reverse bool, dur time.Duration, cc string, team *teamProbe) (kernelRun, error) {
	r := kernelRun{Streams: streams, Direction: "client->server"}
	if reverse {
		r.Direction = "server->client"
	}
	type result struct {
		bps  float64
		retr int
		err  error
	}
	results := make([]result, streams)
	var before teamSample
	busyBefore, err := machineBusy()
	if err != nil {
		return r, err
	}
	if team != nil {
		var err error
		if before, err = team.sample(); err != nil {
			return r, err
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for k := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"-c", l.Spec.TeamIP.String(), "-p", strconv.Itoa(5201 + k), "-t", strconv.Itoa(int(dur.Seconds())), "-J"}
			if reverse {
				args = append(args, "-R")
			}
			out, err := l.Exec(context.Background(), l.Clients[k], "iperf3", args...)
			if err != nil {
				results[k].err = err
				return
			}
			var j struct {
				Error string `json:"error"`
				End   struct {
					SumSent     struct{ Retransmits int } `json:"sum_sent"`
					SumReceived struct {
						BitsPerSecond float64 `json:"bits_per_second"`
					} `json:"sum_received"`
					SenderCC   string `json:"sender_tcp_congestion"`
					ReceiverCC string `json:"receiver_tcp_congestion"`
				} `json:"end"`
			}
			if err := json.Unmarshal(out, &j); err != nil {
				results[k].err = fmt.Errorf("iperf3 output: %w", err)
				return
			}
			if j.Error != "" {
				results[k].err = fmt.Errorf("iperf3 client %d: %s", k, j.Error)
				return
			}
			if cc != "" && (j.End.SenderCC != cc || j.End.ReceiverCC != cc) {
				results[k].err = fmt.Errorf("iperf3 client %d: congestion control %s (sender) and %s (receiver), want %s", k, j.End.SenderCC, j.End.ReceiverCC, cc)
				return
			}
			results[k] = result{bps: j.End.SumReceived.BitsPerSecond, retr: j.End.SumSent.Retransmits}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	busyAfter, err := machineBusy()
	if err != nil {
		return r, err
	}
	for _, res := range results {
		if res.err != nil {
			return r, res.err
		}
		r.Gbps += res.bps / 1e9
		r.Retransmits += res.retr
	}
	r.MachineCPU = (busyAfter - busyBefore).Seconds() / elapsed.Seconds()
	if r.Gbps > 0 {
		r.MachinePerGbit = (busyAfter - busyBefore).Seconds() / (r.Gbps * dur.Seconds())
	}
	if team != nil {
		after, err := team.sample()
		if err != nil {
			return r, err
		}
		r.Drops, r.NICDrops = after.drops-before.drops, after.nicDrops-before.nicDrops
		r.Whole, r.Cut, r.Refused = after.whole-before.whole, after.cut-before.cut, after.refused-before.refused
		r.Backoff = after.backoff - before.backoff
		used := (after.cpu - before.cpu).Seconds()
		r.TeamgwCPU = used / elapsed.Seconds()
		if r.Gbps > 0 {
			r.CPUPerGbit = used / (r.Gbps * dur.Seconds())
		}
	}
	return r, nil
}

// lossReasons are the drop reasons that lose traffic (the others are
// receive filters doing their job: loops, broadcasts on a non-path SLB
// member, frames for other hosts).
var lossReasons = []string{"malformed", "no_member", "tx_full", "bad_offload", "no_mbuf", "oversize", "kernel_write"}

// teamProbe samples a running teamgw: its CPU time and drop counters.
type teamProbe struct{ g *lab.Teamgw }

type teamSample struct {
	cpu                 time.Duration
	drops, nicDrops     uint64
	whole, cut, refused uint64
	backoff             uint64
}

func (p *teamProbe) sample() (teamSample, error) {
	var s teamSample
	var err error
	if s.cpu, err = processCPU(p.g.Cmd.Process.Pid); err != nil {
		return s, err
	}
	st, err := p.g.Status()
	if err != nil {
		return s, err
	}
	for _, t := range st.Teams {
		s.whole += t.KernelPath.Offloaded
		s.cut += t.KernelPath.SuperFrames
		s.refused += t.KernelPath.KernelGSORefusedFull + t.KernelPath.KernelGSORefusedOther
		s.backoff += t.KernelPath.KernelGSOBackoff
		for _, r := range lossReasons {
			s.drops += t.Drops[r]
		}
		for _, m := range t.Members {
			s.nicDrops += m.NIC.RxMissed + m.NIC.RxNoMbuf + m.NIC.RxErrors + m.NIC.TxErrors
		}
	}
	return s, nil
}

// machineBusy is the CPU time all CPUs spent in user (not niced), system,
// IRQ and softirq mode since boot (/proc/stat's first line).
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, errors.New("unexpected /proc/stat")
	}
	var ticks uint64
	for _, i := range []int{1, 3, 6, 7} { // user, system, irq, softirq
		n, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// processCPU is the user plus system CPU time a process has used so far.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) in ")".
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc/PID/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// uniq is v without repeats, in its order.
func uniq(v []int) []int {
	var out []int
	for _, x := range v {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// onlineCPUs counts the CPUs /proc/stat reports (its cpuN lines), the
// CPUs machineBusy adds up.
func onlineCPUs() int {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if len(line) > 3 && strings.HasPrefix(line, "cpu") && line[3] >= '0' && line[3] <= '9' {
			n++
		}
	}
	return n
}

// congestionControlAvailable checks that the kernel offers TCP congestion
// control name ("" = the machine's default, always there), loading its
// module if need be, before any lab is measured with it.
func congestionControlAvailable(name string) error {
	if name == "" {
		return nil
	}
	const avail = "/proc/sys/net/ipv4/tcp_available_congestion_control"
	have := func() (string, bool) {
		b, err := os.ReadFile(avail)
		return strings.TrimSpace(string(b)), err == nil && slices.Contains(strings.Fields(string(b)), name)
	}
	if _, ok := have(); ok {
		return nil
	}
	exec.Command("modprobe", "tcp_"+name).Run() // may be built in or absent: checked next
	if list, ok := have(); !ok {
		return fmt.Errorf("TCP congestion control %q is not available (the kernel offers: %s)", name, list)
	}
	return nil
}

// sameCongestionControl reports whether a and b name the same congestion
// control, "" standing for the machine's default; b = "" (none) is never
// the same.
func sameCongestionControl(a, b string) (bool, error) {
	if b == "" {
		return false, nil
	}
	if a == "" {
		d, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
		if err != nil {
			return false, err
		}
		a = strings.TrimSpace(string(d))
	}
	return a == b, nil
}

// clockTicks is USER_HZ, the unit of /proc's CPU times on Linux.
const clockTicks = 100

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad list %q", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// reportInfo is what the report says of how its runs were made.
type reportInfo struct {
	dur        time.Duration
	cc, ccAlso string // congestion controls ("" = the machine's; none for ccAlso)
	workers    int
}

func writeKernelReport(dir string, runs []kernelRun, info reportInfo) error {
	when := time.Now().UTC()
	var b strings.Builder
	workers := "one teamgw worker"
	if info.workers > 1 {
		workers = fmt.Sprintf("%d teamgw workers (and TAP queues)", info.workers)
	}
	ccText := "the machine's own congestion control"
	if info.cc != "" {
		ccText = info.cc
		if info.cc == "cubic" {
			ccText += ", Linux's default,"
		}
	}
	ccText += " for every configuration"
	if info.ccAlso != "" {
		ccText += fmt.Sprintf(", and %s for the no-team path and the smallest team, compared with the no-team path under the same congestion control", info.ccAlso)
	}
	fmt.Fprintf(&b, `# Kernel path throughput (iperf3 through the team's TAP, netns lab)

%s. iperf3 server in the gateway namespace on the team address, one client
namespace per stream behind a Linux bridge, %v per run, %s
unless the path names other counts. The anchors are the server's kernel
on the member veth itself, no teamgw:
"no team" as veths behave (the kernel's 64 KB TSO segments cross the veth
and the bridge whole, into the client), "no team, wire-sized" with TSO and
GSO off on the veth, so that wire-sized frames cross, as on a real wire.
Members are af_packet ports on the member veths (the PMD offers no
offloads: teamgw writes the kernel's TCP super-frames whole, with a GSO
virtio-net header, to packet sockets of its own on the veths, and the
PMD carries the rest) or, marked "net_tap TSO", DPDK net_tap
ports wired to the member veths, which offer TSO: super-frames leave
teamgw whole and the PMD segments them, as a NIC would (the clients' MTU
is 1486 in those runs: net_tap counts the Ethernet header against its
MTU). The switch takes frames in on the CPU the worker does not use (RPS).
teamgw CPU is its CPU time over the run (1.0 = one core), kernel work done
in its system calls included; CPU-s/Gbit sizes appliances. "machine CPU"
is what the whole machine spent meanwhile (teamgw, both iperf3 ends and
the switch; /proc/stat's user, system and interrupt time, niced processes
left out, so teamlab itself must not run niced; %d CPUs): where it nears
the CPUs there are, the run was CPU-bound and teamgw's CPU per Gbit is
what costs throughput against the no-team path. "lost in teamgw"
counts frames teamgw dropped for lack of room or as malformed; "super-frames
whole / cut" counts the kernel's TCP super-frames that left teamgw whole
(to a member's TSO or an af_packet member's kernel) and those it segmented.
The iperf3 ends use the congestion control in the TCP column, set in the
lab's namespaces (and checked in iperf3's report): %s. Reproduce:
bin/teamlab kernelpath (make bench-kernel).

| path | TCP | members | streams | direction | Gbit/s | vs no team | vs wire-sized | teamgw CPU | CPU-s/Gbit | machine CPU | machine CPU-s/Gbit | retransmits | lost in teamgw | super-frames whole / cut |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
`, when.Format(time.RFC3339), info.dur, workers, onlineCPUs(), ccText)
	// vs is r's throughput over the anchor's with the same streams,
	// direction and congestion control, "—" without one.
	vs := func(path string, r kernelRun) string {
		for _, a := range runs {
			if a.Path == path && a.CC == r.CC && a.Round == r.Round && a.Streams == r.Streams && a.Direction == r.Direction && a.Gbps > 0 {
				return fmt.Sprintf("%.2f", r.Gbps/a.Gbps)
			}
		}
		return "—"
	}
	for _, r := range runs {
		if r.Round != 1 {
			continue
		}
		cc := r.CC
		if cc == "" {
			cc = "machine's"
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %.2f | %s | %s | %.2f | %.3f | %.2f | %.3f | %d | %d | %d / %d |\n", r.Path, cc, r.Members, r.Streams, r.Direction, r.Gbps,
			vs("no team", r), vs("no team, wire-sized", r), r.TeamgwCPU, r.CPUPerGbit, r.MachineCPU, r.MachinePerGbit, r.Retransmits, r.Drops, r.Whole, r.Cut)
	}
	b.WriteString(repeatedSummary(runs))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	j, _ := json.MarshalIndent(struct {
		When time.Time   `json:"when"`
		Runs []kernelRun `json:"runs"`
	}{when, runs}, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "kernelpath-"+when.Format("20060102T150405Z")+".json"), j, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "kernelpath.md"), []byte(b.String()), 0o644)
}

// repeatedSummary is the Markdown table of the configurations measured in
// every round (the no-team path and the smallest team, with the first
// congestion control): medians with [min, max] of the throughputs and of
// the per-round ratios; "" with fewer than two rounds.
func repeatedSummary(runs []kernelRun) string {
	rounds := 0
	for _, r := range runs {
		rounds = max(rounds, r.Round)
	}
	if rounds < 2 {
		return ""
	}
	type key struct {
		streams   int
		direction string
	}
	var team kernelCase
	anchor := map[key][]float64{}
	ours := map[key][]float64{}
	ratios := map[key][]float64{}
	var keys []key
	for _, r := range runs {
		if r.Round == 2 && r.Path != "no team" {
			team = kernelCase{r.Path, r.Members, r.CC}
		}
	}
	for _, r := range runs {
		if r.CC != team.cc {
			continue
		}
		k := key{r.Streams, r.Direction}
		switch {
		case r.Path == "no team":
			anchor[k] = append(anchor[k], r.Gbps)
		case r.Path == team.path && r.Members == team.members:
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
			ours[k] = append(ours[k], r.Gbps)
			for _, a := range runs {
				if a.Path == "no team" && a.CC == r.CC && a.Round == r.Round && a.Streams == r.Streams && a.Direction == r.Direction && a.Gbps > 0 {
					ratios[k] = append(ratios[k], r.Gbps/a.Gbps)
				}
			}
		}
	}
	var b strings.Builder
	cc := team.cc
	if cc == "" {
		cc = "the machine's congestion control"
	}
	fmt.Fprintf(&b, "\n## %s, %d member(s), against the no-team path in %d alternating rounds (%s)\n\n", team.path, team.members, rounds, cc)
	b.WriteString("Median [min, max] over the rounds; the ratio is the median of each round's team / no-team ratio.\n\n")
	b.WriteString("| streams | direction | no team Gbit/s | team Gbit/s | team / no team |\n| --- | --- | --- | --- | --- |\n")
	mm := func(v []float64, f string) string {
		if len(v) == 0 {
			return "—" // no anchor measured (-anchors=false)
		}
		s := stats.Summarize(v)
		return fmt.Sprintf(f+" ["+f+", "+f+"]", s.Median, s.Min, s.Max)
	}
	for _, k := range keys {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s |\n", k.streams, k.direction, mm(anchor[k], "%.2f"), mm(ours[k], "%.2f"), mm(ratios[k], "%.2f"))
	}
	return b.String()
}
