package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/teamgw/teamgw/perf/lab"
)

// failoverRun is one cut: the loss window when the active member's link is
// cut and when traffic falls back to it.
type failoverRun struct {
	FailoverLost   uint64        `json:"failover_lost"`
	FailoverWindow time.Duration `json:"failover_window_ns"`
	FailoverGap    time.Duration `json:"failover_max_gap_ns"`
	FallbackLost   uint64        `json:"fallback_lost"`
	FallbackWindow time.Duration `json:"fallback_window_ns"`
}

// Summary is the distribution of one measure over the runs.
type Summary struct {
	P50, P99, Max, Min time.Duration
}

func summarize(v []time.Duration) Summary {
	s := slices.Clone(v)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Summary{P50: at(0.5), P99: at(0.99), Max: s[len(s)-1], Min: s[0]}
}

func failover(args []string) error {
	fs := flag.NewFlagSet("failover", flag.ExitOnError)
	var c common
	c.register(fs)
	cuts := fs.Int("cuts", 20, "how many times to cut the active member")
	interval := fs.Duration("interval", 500*time.Microsecond, "UDP stream interval")
	out := fs.String("out", "perf/results", "directory for the JSON and Markdown report")
	fs.Parse(args)

	l, cleanup, err := newLab(2, 1)
	if err != nil {
		return err
	}
	defer cleanup()
	cfg := l.Config(lab.TeamConfig{Standby: true, FallbackDelay: "200ms"})
	g, err := l.StartTeamgw(context.Background(), c.teamgw, c.dir, cfg, io.Discard)
	if err != nil {
		return err
	}
	defer g.Stop()
	team := netip.AddrPortFrom(l.Spec.TeamIP, 7)
	stopEcho, err := l.StartEcho(l.GW, team)
	if err != nil {
		return err
	}
	defer stopEcho()

	var runs []failoverRun
	for i := range *cuts {
		var r failoverRun
		s, err := l.StartStream(l.Clients[0], team, *interval)
		if err != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
		if err := l.CutMember(0); err != nil {
			return err
		}
		if err := g.WaitActive("net_af_packet1", 5*time.Second); err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond)
		res := s.Stop()
		r.FailoverLost, r.FailoverGap = res.Lost, res.MaxGap
		r.FailoverWindow = time.Duration(res.Lost) * *interval

		if s, err = l.StartStream(l.Clients[0], team, *interval); err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
		if err := l.RestoreMember(0); err != nil {
			return err
		}
		if err := g.WaitActive("net_af_packet0", 5*time.Second); err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond)
		res = s.Stop()
		r.FallbackLost = res.Lost
		r.FallbackWindow = time.Duration(res.Lost) * *interval
		runs = append(runs, r)
		fmt.Printf("cut %2d: failover lost %3d (%v, max gap %v), fallback lost %3d (%v)\n", i+1,
			r.FailoverLost, r.FailoverWindow, r.FailoverGap.Round(10*time.Microsecond), r.FallbackLost, r.FallbackWindow)
	}
	var fo, fb, gap []time.Duration
	for _, r := range runs {
		fo = append(fo, r.FailoverWindow)
		fb = append(fb, r.FallbackWindow)
		gap = append(gap, r.FailoverGap)
	}
	report := struct {
		When     time.Time     `json:"when"`
		Cuts     int           `json:"cuts"`
		Interval time.Duration `json:"interval_ns"`
		Failover Summary       `json:"failover_window"`
		Gap      Summary       `json:"failover_max_gap"`
		Fallback Summary       `json:"fallback_window"`
		Runs     []failoverRun `json:"runs"`
	}{time.Now().UTC(), *cuts, *interval, summarize(fo), summarize(gap), summarize(fb), runs}
	md := fmt.Sprintf(`# Failover timing (SLB with standby, netns lab)

%s, %d cuts of the active member's switch port (ip link set s0 down), UDP
echo stream every %v from a client through a Linux bridge; loss window =
datagrams lost x interval. Reproduce: make bench (or bin/teamlab failover -cuts %d).

| measure | median | p99 | worst | best |
| --- | --- | --- | --- | --- |
| failover loss window | %v | %v | %v | %v |
| failover: longest gap between echoes | %v | %v | %v | %v |
| fallback loss window (hold-down 200 ms) | %v | %v | %v | %v |
`, report.When.Format(time.RFC3339), *cuts, *interval, *cuts,
		report.Failover.P50, report.Failover.P99, report.Failover.Max, report.Failover.Min,
		report.Gap.P50.Round(10*time.Microsecond), report.Gap.P99.Round(10*time.Microsecond), report.Gap.Max.Round(10*time.Microsecond), report.Gap.Min.Round(10*time.Microsecond),
		report.Fallback.P50, report.Fallback.P99, report.Fallback.Max, report.Fallback.Min)
	fmt.Print("\n" + md)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(report, "", "  ")
	stamp := strings.ReplaceAll(report.When.Format("20060102T150405Z"), ":", "")
	if err := os.WriteFile(filepath.Join(*out, "failover-"+stamp+".json"), b, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*out, "failover.md"), []byte(md), 0o644)
}
