package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/teamgw/teamgw/control"
	"github.com/teamgw/teamgw/perf/lab"
)

// failoverRun is one cut of one team type: the loss windows when a
// member's link is cut and when it comes back.
type failoverRun struct {
	// Member is the member whose link was cut.
	Member string `json:"member"`
	// FailoverLost is the most datagrams any stream lost across the cut,
	// FailoverWindow the longest run of consecutive losses of any stream
	// in time (lab.StreamResult.LossWindow), FailoverGap the longest time
	// between two echoes of any stream.
	FailoverLost   uint64        `json:"failover_lost"`
	FailoverWindow time.Duration `json:"failover_window_ns"`
	FailoverGap    time.Duration `json:"failover_max_gap_ns"`
	// FailoverOut and FailoverBack split FailoverWindow by direction:
	// client -> team (through the switch's choice of member) and team ->
	// client (teamgw's).
	FailoverOut  time.Duration `json:"failover_window_to_team_ns"`
	FailoverBack time.Duration `json:"failover_window_from_team_ns"`
	// FailoverHit counts the streams that lost anything.
	FailoverHit    int           `json:"failover_streams_hit"`
	FallbackLost   uint64        `json:"fallback_lost"`
	FallbackWindow time.Duration `json:"fallback_window_ns"`
	FallbackGap    time.Duration `json:"fallback_max_gap_ns"`
	FallbackOut    time.Duration `json:"fallback_window_to_team_ns"`
	FallbackBack   time.Duration `json:"fallback_window_from_team_ns"`
	// Inside is teamgw's own share: from its control plane seeing the
	// link loss to the new forwarding snapshot published
	// (teamgw_failover_duration_seconds).
	Inside time.Duration `json:"teamgw_failover_ns"`
	// Repoint (SLB) is from the cut to the first frame of the last of the
	// cut member's clients to arrive on a surviving member addressed to
	// it: the clients re-pointed by directed ARP. Zero when not measured.
	Repoint time.Duration `json:"repoint_ns,omitempty"`
	// RestoredAt is when the link was restored (to find it in a
	// capture).
	RestoredAt time.Time `json:"restored_at"`
	// Repointed counts the clients Repoint covers.
	Repointed int `json:"repointed,omitempty"`
}

// failoverType is the report of one team type.
type failoverType struct {
	Type     string   `json:"type"`
	Switch   string   `json:"switch"`
	Failover Summary  `json:"failover_window"`
	Gap      Summary  `json:"failover_max_gap"`
	Fallback Summary  `json:"fallback_window"`
	Repoint  *Summary `json:"repoint,omitempty"`
	// ToTeam and FromTeam split Failover by direction; Inside is
	// teamgw's own share.
	ToTeam   Summary `json:"failover_window_to_team"`
	FromTeam Summary `json:"failover_window_from_team"`
	Inside   Summary `json:"teamgw_failover"`
	// Quiet and QuietGap are the loss window and longest gap of the
	// same streams over as long without any cut: the machine's noise
	// floor, which the failover figures include.
	Quiet    Summary       `json:"quiet_window"`
	QuietGap Summary       `json:"quiet_max_gap"`
	Runs     []failoverRun `json:"runs"`
	// QuietRuns are the no-cut runs' loss windows and longest gaps.
	QuietRuns []quietRun `json:"quiet_runs"`
}

// quietRun is one run of the streams without a cut.
type quietRun struct {
	Window time.Duration `json:"window_ns"`
	Gap    time.Duration `json:"max_gap_ns"`
}

// Summary is the distribution of one measure over the runs.
type Summary struct {
	P50, P99, Max, Min time.Duration
}

func summarize(v []time.Duration) Summary {
	if len(v) == 0 {
		return Summary{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Summary{P50: at(0.5), P99: at(0.99), Max: s[len(s)-1], Min: s[0]}
}

// teamTypes are the team types failover measures, with the switch each
// runs against.
var teamTypes = map[string]struct {
	cfg    lab.TeamConfig
	bond   *lab.BondMode // nil: the Linux bridge
	swName string
}{
	"slb": {cfg: lab.TeamConfig{FallbackDelay: "200ms"},
		swName: "Linux bridge"},
	"slb-standby": {cfg: lab.TeamConfig{Standby: true, FallbackDelay: "200ms"},
		swName: "Linux bridge"},
	"trunk": {cfg: lab.TeamConfig{Mode: "trunk", FallbackDelay: "200ms"},
		bond:   &lab.BondMode{Mode: "balance-slb", LACP: "off"},
		swName: "Open vSwitch bond, lacp=off, balance-slb"},
	"lacp": {cfg: lab.TeamConfig{Mode: "lacp", FallbackDelay: "200ms", Extra: "lacp_rate = \"fast\"\n"},
		bond:   &lab.BondMode{Mode: "balance-tcp", LACP: "active"},
		swName: "Open vSwitch bond, lacp=active (fast), balance-tcp"},
}

// failover measures, for each team type, the loss windows of UDP echo
// streams across repeated cuts of a member's link and its return.
func failover(args []string) error {
	fs := flag.NewFlagSet("failover", flag.ExitOnError)
	var c common
	c.register(fs)
	cuts := fs.Int("cuts", 20, "how many times to cut a member, per team type")
	types := fs.String("types", "slb,slb-standby,trunk,lacp", "team types to measure, comma-separated (slb, slb-standby, trunk, lacp)")
	interval := fs.Duration("interval", time.Millisecond, "interval of each UDP stream")
	flows := fs.Int("flows", 2, "UDP streams per client (two clients)")
	quiet := fs.Int("quiet", 5, "runs of the streams without a cut, per team type (the noise floor)")
	out := fs.String("out", "perf/results", "directory for the JSON and Markdown report (\"\" = none)")
	logFile := fs.String("log", "", "`file` for teamgw's and Open vSwitch's logs (\"\" = none)")
	capture := fs.String("capture", "", "`directory` for tshark captures of the slow protocols on the switch ports, per team type (\"\" = none)")
	fs.Parse(args)

	var log io.Writer = io.Discard
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			return err
		}
		defer f.Close()
		log = f
	}
	report := struct {
		When     time.Time      `json:"when"`
		Cuts     int            `json:"cuts"`
		Interval time.Duration  `json:"interval_ns"`
		Streams  int            `json:"streams"`
		Types    []failoverType `json:"types"`
	}{When: time.Now().UTC(), Cuts: *cuts, Interval: *interval, Streams: 2 * *flows}
	for _, name := range strings.Split(*types, ",") {
		if _, ok := teamTypes[name]; !ok {
			return fmt.Errorf("unknown team type %q", name)
		}
		fmt.Printf("== %s\n", name)
		ft, err := failoverOne(c, name, *cuts, *quiet, *interval, *flows, log, *capture)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		report.Types = append(report.Types, ft)
	}

	d := func(v time.Duration) string { return v.Round(10 * time.Microsecond).String() }
	var md strings.Builder
	fmt.Fprintf(&md, `# Failover timing (netns lab)

%s, %d cuts per team type. Two members (net_af_packet), two clients, %d
UDP echo streams (%d per client) of one datagram every %v through the team.
A cut sets the switch port of a member down (ip link set s<i> down): the
member's veth loses its carrier. Loss window = the longest run of
consecutive datagrams lost by any stream, in send time, also split by the
direction they were lost in; longest gap = the longest time between two
echoes of any stream (it includes the machine's scheduling noise); inside
teamgw = link loss seen by teamgw's control plane to the new forwarding
snapshot (teamgw_failover_duration_seconds). The
member cut is the one receiving and sending most of the streams (slb: a member other
than the path member, with a client; slb-standby: the primary). Fallback:
the link restored until the member carries traffic again (slb, trunk:
200 ms hold-down; lacp: the 2 s aggregate wait and the partner's
acknowledgement) and 200 ms more. No cut: the same streams for as long
without a cut, the noise floor.
Re-pointing (slb): from the cut until the cut member's client's first
datagram arrives on the surviving member addressed to it (directed ARP).
p99 of 20 cuts is the worst. Reproduce: bin/teamlab failover -cuts %d
(make bench).

| team type | switch | measure | median | p99 | worst | best |
| --- | --- | --- | --- | --- | --- | --- |
`, report.When.Format(time.RFC3339), *cuts, 2**flows, *flows, *interval, *cuts)
	for _, t := range report.Types {
		row := func(measure string, s Summary) {
			fmt.Fprintf(&md, "| %s | %s | %s | %s | %s | %s | %s |\n", t.Type, t.Switch, measure, d(s.P50), d(s.P99), d(s.Max), d(s.Min))
		}
		row("failover loss window", t.Failover)
		row("  of it: client -> team", t.ToTeam)
		row("  of it: team -> client", t.FromTeam)
		row("failover: longest gap", t.Gap)
		row("failover inside teamgw", t.Inside)
		row("fallback loss window", t.Fallback)
		if t.Repoint != nil {
			row("client re-pointing", *t.Repoint)
		}
		if len(t.QuietRuns) > 0 {
			row(fmt.Sprintf("no cut (%d runs): loss window", len(t.QuietRuns)), t.Quiet)
			row("no cut: longest gap", t.QuietGap)
		}
	}
	fmt.Print("\n" + md.String())
	if *out == "" {
		return nil
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(report, "", "  ")
	if err := os.WriteFile(filepath.Join(*out, "failover-"+report.When.Format("20060102T150405Z")+".json"), b, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*out, "failover.md"), []byte(md.String()), 0o644)
}

// failoverOne measures one team type in a lab of its own.
func failoverOne(c common, name string, cuts, quiet int, interval time.Duration, flows int, log io.Writer, capture string) (failoverType, error) {
	tt := teamTypes[name]
	ft := failoverType{Type: name, Switch: tt.swName}
	l, cleanup, err := newLab(2, 2)
	if err != nil {
		return ft, err
	}
	defer cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cuts+6)*15*time.Second)
	defer cancel()
	if tt.bond != nil {
		if _, err := l.StartOVS(ctx, *tt.bond, log); err != nil {
			return ft, err
		}
	}
	if capture != "" && tt.bond != nil {
		if err := os.MkdirAll(capture, 0o777); err != nil {
			return ft, err
		}
		for i := range l.Spec.Members {
			if _, err := l.Capture(l.Switch, fmt.Sprintf("s%d", i), "ether proto 0x8809", filepath.Join(capture, fmt.Sprintf("%s-s%d.pcap", name, i))); err != nil {
				return ft, err
			}
		}
	}
	g, err := l.StartTeamgwWait(ctx, c.teamgw, c.dir, l.Config(tt.cfg), log, func(*control.Status) bool { return true })
	if err != nil {
		return ft, err
	}
	defer g.Stop()
	team := netip.AddrPortFrom(l.Spec.TeamIP, 7)
	stopEcho, err := l.StartEcho(l.GW, team)
	if err != nil {
		return ft, err
	}
	defer stopEcho()
	start := func() ([]*lab.Stream, error) {
		var ss []*lab.Stream
		for _, ns := range l.Clients {
			for range flows {
				s, err := l.StartStream(ns, team, interval)
				if err != nil {
					return nil, err
				}
				ss = append(ss, s)
			}
		}
		return ss, nil
	}
	type loss struct {
		worst                  uint64
		window, gap, out, back time.Duration
		hit                    int
	}
	stop := func(ss []*lab.Stream) (l loss) {
		// Stop them all at once, then collect: each waits up to 200 ms
		// for its echoes in flight (a round trip is well under 1 ms).
		for _, s := range ss {
			go s.StopWithin(200 * time.Millisecond)
		}
		for _, s := range ss {
			r := s.StopWithin(200 * time.Millisecond)
			l.worst, l.window, l.gap = max(l.worst, r.Lost), max(l.window, r.LossWindow), max(l.gap, r.MaxGap)
			l.out, l.back = max(l.out, r.LossWindowOut), max(l.back, r.LossWindowBack)
			if r.Lost > 0 {
				l.hit++
			}
		}
		return l
	}
	// Every member carrying traffic, both ways, before the first cut.
	ss, err := start()
	if err != nil {
		return ft, err
	}
	if err := waitStatus(g, 20*time.Second, "the team to carry traffic on both members", func(s *control.TeamStatus) bool {
		return ready(name, s, l)
	}); err != nil {
		stop(ss)
		return ft, err
	}
	stop(ss)

	var sniffers []*lab.Sniffer
	if name == "slb" {
		for i := range l.Spec.Members {
			sn, err := l.Sniff(l.GW, fmt.Sprintf("m%d", i))
			if err != nil {
				return ft, err
			}
			sniffers = append(sniffers, sn)
		}
	}
	var fo, gap, fb, rp, to, from, inside []time.Duration
	for i := range cuts {
		var r failoverRun
		ss, err := start()
		if err != nil {
			return ft, err
		}
		time.Sleep(100 * time.Millisecond)
		s0, err := g.Status()
		if err != nil {
			return ft, err
		}
		time.Sleep(100 * time.Millisecond)
		s1, err := g.Status()
		if err != nil {
			return ft, err
		}
		k, clients := pickCut(name, &s0.Teams[0], &s1.Teams[0])
		cut := s1.Teams[0].Members[k]
		r.Member = cut.Name
		cutMAC, _ := net.ParseMAC(cut.WireMAC)
		for _, sn := range sniffers {
			sn.Arm(cutMAC)
		}
		at := time.Now()
		if err := l.CutMember(k); err != nil {
			return ft, err
		}
		if err := waitStatus(g, 5*time.Second, "the cut member to leave", func(s *control.TeamStatus) bool {
			return s.Members[k].State != "active"
		}); err != nil {
			return ft, err
		}
		if s2, err := g.Status(); err == nil {
			h0, h1 := s1.Teams[0].FailoverSeconds, s2.Teams[0].FailoverSeconds
			if h1.Count > h0.Count {
				r.Inside = time.Duration((h1.Sum - h0.Sum) / float64(h1.Count-h0.Count) * 1e9)
			}
		}
		if len(sniffers) > 0 && len(clients) > 0 {
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) && r.Repointed < len(clients) {
				r.Repoint, r.Repointed = 0, 0
				for _, ip := range clients {
					for j, sn := range sniffers {
						if j == k {
							continue
						}
						if t, ok := sn.First(ip); ok {
							r.Repoint = max(r.Repoint, t.Sub(at))
							r.Repointed++
						}
					}
				}
				time.Sleep(10 * time.Millisecond)
			}
			if r.Repointed < len(clients) {
				return ft, fmt.Errorf("cut %d: %d of the cut member's %d clients re-pointed within 3 s", i+1, r.Repointed, len(clients))
			}
		}
		time.Sleep(200 * time.Millisecond)
		lo := stop(ss)
		r.FailoverLost, r.FailoverWindow, r.FailoverGap, r.FailoverHit = lo.worst, lo.window, lo.gap, lo.hit
		r.FailoverOut, r.FailoverBack = lo.out, lo.back

		if ss, err = start(); err != nil {
			return ft, err
		}
		time.Sleep(100 * time.Millisecond)
		r.RestoredAt = time.Now()
		if err := l.RestoreMember(k); err != nil {
			return ft, err
		}
		if err := waitStatus(g, 10*time.Second, "the restored member to carry traffic", func(s *control.TeamStatus) bool {
			return back(name, s, k, clients)
		}); err != nil {
			return ft, err
		}
		time.Sleep(200 * time.Millisecond)
		lo = stop(ss)
		r.FallbackLost, r.FallbackWindow, r.FallbackGap = lo.worst, lo.window, lo.gap
		r.FallbackOut, r.FallbackBack = lo.out, lo.back
		ft.Runs = append(ft.Runs, r)
		fo, gap, fb = append(fo, r.FailoverWindow), append(gap, r.FailoverGap), append(fb, r.FallbackWindow)
		to, from, inside = append(to, r.FailoverOut), append(from, r.FailoverBack), append(inside, r.Inside)
		rd := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
		line := fmt.Sprintf("%s cut %2d (%s): failover window %v (to team %v, from team %v; %d streams hit, longest gap %v; teamgw inside %v), fallback window %v (to team %v, from team %v; longest gap %v; restored at %s)",
			name, i+1, r.Member, rd(r.FailoverWindow), rd(r.FailoverOut), rd(r.FailoverBack), r.FailoverHit, rd(r.FailoverGap), r.Inside.Round(time.Microsecond),
			rd(r.FallbackWindow), rd(r.FallbackOut), rd(r.FallbackBack), rd(r.FallbackGap), r.RestoredAt.UTC().Format("15:04:05.000"))
		if r.Repointed > 0 {
			rp = append(rp, r.Repoint)
			line += fmt.Sprintf(", %d client(s) re-pointed after %v", r.Repointed, r.Repoint.Round(10*time.Microsecond))
		}
		fmt.Println(line)
	}
	var qw, qg []time.Duration
	for range quiet {
		ss, err := start()
		if err != nil {
			return ft, err
		}
		time.Sleep(500 * time.Millisecond)
		lo := stop(ss)
		ft.QuietRuns = append(ft.QuietRuns, quietRun{lo.window, lo.gap})
		qw, qg = append(qw, lo.window), append(qg, lo.gap)
	}
	if quiet > 0 {
		fmt.Printf("%s without a cut: loss windows %v, longest gaps %v\n", name, qw, qg)
	}
	ft.Quiet, ft.QuietGap = summarize(qw), summarize(qg)
	ft.Failover, ft.Gap, ft.Fallback = summarize(fo), summarize(gap), summarize(fb)
	ft.ToTeam, ft.FromTeam, ft.Inside = summarize(to), summarize(from), summarize(inside)
	if len(rp) > 0 {
		s := summarize(rp)
		ft.Repoint = &s
	}
	return ft, nil
}

// ready reports whether a team of type name carries traffic on both
// members: SLB clients spread over both (slb), the primary active
// (slb-standby), both members with buckets (trunk), both distributing
// (lacp).
func ready(name string, s *control.TeamStatus, l *lab.Lab) bool {
	switch name {
	case "slb":
		on := map[string]bool{}
		for _, c := range s.Clients {
			for j := range l.Clients {
				if c.IP == l.ClientIP(j).String() {
					on[c.Member] = true
				}
			}
		}
		return len(on) == 2
	case "slb-standby":
		return s.Active == s.Members[0].Name
	}
	for _, m := range s.Members {
		if m.State != "active" || m.Buckets == 0 {
			return false
		}
		if name == "lacp" && (m.LACP == nil || !strings.Contains(m.LACP.ActorState, "distributing")) {
			return false
		}
	}
	return true
}

// pickCut chooses the member to cut from two status snapshots taken while
// the streams flow: for slb a member other than the path member that
// receives for a client (whose clients are then returned), for
// slb-standby the active member, otherwise the member that received and
// sent most in between.
func pickCut(name string, s0, s1 *control.TeamStatus) (int, []netip.Addr) {
	switch name {
	case "slb":
		for k, m := range s1.Members {
			if m.Path {
				continue
			}
			var clients []netip.Addr
			for _, c := range s1.Clients {
				if ip, err := netip.ParseAddr(c.IP); err == nil && c.Member == m.Name && ip.Is4() {
					clients = append(clients, ip)
				}
			}
			if len(clients) > 0 {
				return k, clients
			}
		}
	case "slb-standby":
		for k, m := range s1.Members {
			if m.Name == s1.Active {
				return k, nil
			}
		}
	}
	k, most := 0, uint64(0)
	for i := range s1.Members {
		c0, c1 := s0.Members[i].Counters, s1.Members[i].Counters
		if d := c1.RxPackets + c1.TxPackets - c0.RxPackets - c0.TxPackets; d > most {
			k, most = i, d
		}
	}
	return k, nil
}

// back reports whether restored member k carries traffic again.
func back(name string, s *control.TeamStatus, k int, clients []netip.Addr) bool {
	m := s.Members[k]
	switch name {
	case "slb":
		if m.State != "active" {
			return false
		}
		for _, c := range s.Clients {
			if c.Member == m.Name {
				return true
			}
		}
		return len(clients) == 0
	case "slb-standby":
		return s.Active == m.Name
	case "lacp":
		for _, m := range s.Members {
			if m.LACP == nil || !strings.Contains(m.LACP.ActorState, "distributing") {
				return false
			}
		}
	}
	return m.State == "active" && m.Buckets > 0
}

// waitStatus polls teamgw's first team until cond holds.
func waitStatus(g *lab.Teamgw, timeout time.Duration, what string, cond func(*control.TeamStatus) bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if s, err := g.Status(); err == nil && len(s.Teams) > 0 && cond(&s.Teams[0]) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return errors.New("timed out waiting for " + what)
}
