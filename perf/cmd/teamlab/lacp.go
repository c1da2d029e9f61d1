package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/teamgw/teamgw/control"
	"github.com/teamgw/teamgw/perf/lab"
)

// lacpRun is one start of an lacp team against Open vSwitch, and one cut
// and restore of a member.
type lacpRun struct {
	// Converge is from teamgw's start to every member Collecting and
	// Distributing (2 s of it is 802.1AX's aggregate wait).
	Converge time.Duration `json:"converge_ns"`
	// Rejoin is from a cut member's link coming back to it distributing
	// again.
	Rejoin time.Duration `json:"rejoin_ns"`
}

// lacpBench measures LACP convergence against a real partner: an Open
// vSwitch bond (userspace datapath, lacp=active, fast rate).
func lacpBench(args []string) error {
	fs := flag.NewFlagSet("lacp", flag.ExitOnError)
	var c common
	c.register(fs)
	runs := fs.Int("runs", 5, "how many times to start the team")
	out := fs.String("out", "perf/results", "directory for the JSON and Markdown report (\"\" = none)")
	fs.Parse(args)

	l, cleanup, err := newLab(2, 1)
	if err != nil {
		return err
	}
	defer cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(*runs)*time.Minute)
	defer cancel()
	if _, err := l.StartOVS(ctx, lab.BondMode{Mode: "balance-tcp", LACP: "active"}, io.Discard); err != nil {
		return err
	}
	cfg := l.Config(lab.TeamConfig{Mode: "lacp", Extra: "lacp_rate = \"fast\"\n"})
	var results []lacpRun
	for i := range *runs {
		var r lacpRun
		start := time.Now()
		g, err := l.StartTeamgwWait(ctx, c.teamgw, c.dir, cfg, io.Discard, func(*control.Status) bool { return true })
		if err != nil {
			return err
		}
		err = waitDistributing(g, 2, 30*time.Second)
		r.Converge = time.Since(start)
		if err == nil {
			err = l.CutMember(0)
		}
		if err == nil {
			err = waitDistributing(g, 1, 10*time.Second)
		}
		if err == nil {
			err = l.RestoreMember(0)
		}
		back := time.Now()
		if err == nil {
			err = waitDistributing(g, 2, 30*time.Second)
		}
		r.Rejoin = time.Since(back)
		if serr := g.Stop(); err == nil && serr != nil {
			err = serr
		}
		if err != nil {
			return err
		}
		results = append(results, r)
		fmt.Printf("run %d: converged in %v, a restored member rejoined in %v\n", i+1, r.Converge.Round(time.Millisecond), r.Rejoin.Round(time.Millisecond))
		time.Sleep(3500 * time.Millisecond) // OVS's fast timeout: the next run starts from an expired partner
	}
	var conv, rejoin []time.Duration
	for _, r := range results {
		conv, rejoin = append(conv, r.Converge), append(rejoin, r.Rejoin)
	}
	report := struct {
		When     time.Time `json:"when"`
		Converge Summary   `json:"converge"`
		Rejoin   Summary   `json:"rejoin"`
		Runs     []lacpRun `json:"runs"`
	}{time.Now().UTC(), summarize(conv), summarize(rejoin), results}
	md := fmt.Sprintf(`# LACP convergence against Open vSwitch (netns lab)

%s, %d runs. teamgw lacp team (fast rate) of two net_af_packet members
against an Open vSwitch bond (userspace datapath, lacp=active,
balance-tcp). Converge: teamgw started until both members are Collecting
and Distributing (2 s of it is the 802.1AX aggregate wait). Rejoin: a cut
member's link restored until it distributes again. Reproduce:
bin/teamlab lacp -runs %d.

| measure | median | worst | best |
| --- | --- | --- | --- |
| convergence after start | %v | %v | %v |
| rejoin after link restore | %v | %v | %v |
`, report.When.Format(time.RFC3339), len(results), *runs,
		report.Converge.P50.Round(time.Millisecond), report.Converge.Max.Round(time.Millisecond), report.Converge.Min.Round(time.Millisecond),
		report.Rejoin.P50.Round(time.Millisecond), report.Rejoin.Max.Round(time.Millisecond), report.Rejoin.Min.Round(time.Millisecond))
	fmt.Print("\n" + md)
	if *out == "" {
		return nil
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(report, "", "  ")
	if err := os.WriteFile(filepath.Join(*out, "lacp-"+report.When.Format("20060102T150405Z")+".json"), b, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*out, "lacp.md"), []byte(md), 0o644)
}

// waitDistributing waits until exactly want members of team0 are
// Collecting and Distributing.
func waitDistributing(g *lab.Teamgw, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	n := -1
	for time.Now().Before(deadline) {
		if s, err := g.Status(); err == nil && len(s.Teams) > 0 {
			n = 0
			for _, m := range s.Teams[0].Members {
				if m.LACP != nil && strings.Contains(m.LACP.ActorState, "distributing") && m.State == "active" {
					n++
				}
			}
			if n == want {
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("%d members distributing after %v, want %d", n, timeout, want)
}
