package main

import (
	"context"
	"encoding/json"
	"errors"
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
	// Ready is from teamgw's start to its control socket answering (EAL
	// and ports set up, LACP running), and FromReady the rest of
	// Converge.
	Ready     time.Duration `json:"ready_ns"`
	FromReady time.Duration `json:"from_ready_ns"`
	// Relink is from both members' links coming back at once, after the
	// aggregate went down with them, to both distributing: 802.1AX
	// convergence after link up.
	Relink time.Duration `json:"relink_ns"`
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
	logFile := fs.String("log", "", "`file` for teamgw's log (\"\" = none)")
	capture := fs.String("capture", "", "`directory` for tshark captures of the LACPDUs on the switch ports during each start; prints their timeline (\"\" = none)")
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
	var glog io.Writer = io.Discard
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			return err
		}
		defer f.Close()
		glog = f
	}
	var results []lacpRun
	for i := range *runs {
		var r lacpRun
		var stops []func()
		if *capture != "" {
			if stops, err = captureLACP(l, *capture, i); err != nil {
				return err
			}
		}
		start := time.Now()
		g, err := l.StartTeamgwWait(ctx, c.teamgw, c.dir, cfg, glog, func(*control.Status) bool { return true })
		if err != nil {
			return err
		}
		r.Ready = time.Since(start)
		ready := time.Now()
		err = waitDistributing(g, 2, 30*time.Second)
		r.Converge, r.FromReady = time.Since(start), time.Since(ready)
		if *capture != "" {
			time.Sleep(300 * time.Millisecond) // the partner's answer to the last change
			for _, stop := range stops {
				stop()
			}
			if err == nil {
				err = printTimeline(l, *capture, i, start, g)
			}
		}
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
		if err == nil {
			err = errors.Join(l.CutMember(0), l.CutMember(1))
		}
		if err == nil {
			err = waitDistributing(g, 0, 10*time.Second)
		}
		up := time.Now()
		if err == nil {
			err = errors.Join(l.RestoreMember(0), l.RestoreMember(1))
		}
		if err == nil {
			err = waitDistributing(g, 2, 30*time.Second)
		}
		r.Relink = time.Since(up)
		if serr := g.Stop(); err == nil && serr != nil {
			err = serr
		}
		if err != nil {
			return err
		}
		results = append(results, r)
		fmt.Printf("run %d: converged in %v (ready after %v), a restored member rejoined in %v, both links restored: aggregate in %v\n", i+1,
			r.Converge.Round(time.Millisecond), r.Ready.Round(time.Millisecond), r.Rejoin.Round(time.Millisecond), r.Relink.Round(time.Millisecond))
		time.Sleep(3500 * time.Millisecond) // OVS's fast timeout: the next run starts from an expired partner
	}
	var conv, ready, fromReady, rejoin, relink []time.Duration
	for _, r := range results {
		conv, rejoin = append(conv, r.Converge), append(rejoin, r.Rejoin)
		ready, fromReady, relink = append(ready, r.Ready), append(fromReady, r.FromReady), append(relink, r.Relink)
	}
	report := struct {
		When      time.Time `json:"when"`
		Converge  Summary   `json:"converge"`
		Ready     Summary   `json:"ready"`
		FromReady Summary   `json:"from_ready"`
		Rejoin    Summary   `json:"rejoin"`
		Relink    Summary   `json:"relink"`
		Runs      []lacpRun `json:"runs"`
	}{time.Now().UTC(), summarize(conv), summarize(ready), summarize(fromReady), summarize(rejoin), summarize(relink), results}
	row := func(name string, s Summary) string {
		return fmt.Sprintf("| %s | %v | %v | %v |\n", name, s.P50.Round(time.Millisecond), s.Max.Round(time.Millisecond), s.Min.Round(time.Millisecond))
	}
	md := fmt.Sprintf(`# LACP convergence against Open vSwitch (netns lab)

%s, %d runs. teamgw lacp team (fast rate) of two net_af_packet members
against an Open vSwitch bond (userspace datapath, lacp=active,
balance-tcp). Every aggregate forming includes the 802.1AX aggregate
wait of 2 s; teamgw sends its first LACPDU at link up and Open vSwitch
answers at once, so the wait starts then. Convergence after start:
teamgw started until both members are Collecting and Distributing; of
it, teamgw ready (EAL, ports, control socket answering) and from ready.
After link up: both members' links cut until the aggregate is gone, then
restored together, until both distribute. Rejoin: one cut member's link
restored until it carries traffic again: the aggregate wait, then Open
vSwitch's acknowledgement of the link in sync (its next periodic
LACPDU, up to 1 s). Reproduce: bin/teamlab lacp -runs %d (-capture DIR
prints the LACPDUs each way).

| measure | median | worst | best |
| --- | --- | --- | --- |
`, report.When.Format(time.RFC3339), len(results), *runs) +
		row("convergence after start", report.Converge) + row("  of it: start until ready", report.Ready) +
		row("  of it: ready until distributing", report.FromReady) + row("convergence after link up (both links)", report.Relink) +
		row("rejoin after link restore (one link)", report.Rejoin)
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

// captureLACP starts a tshark capture of the slow protocols on every
// switch port facing a member, into dir/lacp-<run>-s<i>.pcap.
func captureLACP(l *lab.Lab, dir string, run int) ([]func(), error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	var stops []func()
	for i := range l.Spec.Members {
		stop, err := l.Capture(l.Switch, fmt.Sprintf("s%d", i), "ether proto 0x8809", filepath.Join(dir, fmt.Sprintf("lacp-%d-s%d.pcap", run, i)))
		if err != nil {
			for _, s := range stops {
				s()
			}
			return nil, err
		}
		stops = append(stops, stop)
	}
	return stops, nil
}

// printTimeline prints the LACPDUs captured during run's start, each way,
// in time since teamgw started.
func printTimeline(l *lab.Lab, dir string, run int, start time.Time, g *lab.Teamgw) error {
	s, err := g.Status()
	if err != nil {
		return err
	}
	team := s.Teams[0].MAC
	for i := range l.Spec.Members {
		pdus, err := lab.ReadLACPDUs(filepath.Join(dir, fmt.Sprintf("lacp-%d-s%d.pcap", run, i)))
		if err != nil {
			return err
		}
		fmt.Printf("  s%d LACPDUs (time since teamgw started; actor/partner state, EFDCSGSA = expired, defaulted, distributing, collecting, sync, aggregation, short timeout, activity):\n", i)
		for _, p := range pdus {
			dir := "switch -> teamgw"
			if strings.EqualFold(p.System, team) {
				dir = "teamgw -> switch"
			}
			fmt.Printf("    %8.3f s  %s  actor %s partner %s\n", p.At.Sub(start).Seconds(), dir, p.Actor, p.Partner)
		}
	}
	return nil
}
