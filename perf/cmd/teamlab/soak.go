package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/teamgw/teamgw/control"
	"github.com/teamgw/teamgw/perf/lab"
)

// soak is a bounded long run (issue 8): traffic of every kind through an
// SLB team while members are cut and restored, disabled and enabled,
// removed and added back, the primary moves and the config is reloaded,
// then checks at the end that nothing leaked and that every frame is
// accounted for.
func soak(args []string) error {
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	var c common
	c.register(fs)
	teamctl := fs.String("teamctl", "bin/teamctl", "teamctl `binary`")
	dur := fs.Duration("duration", 2*time.Minute, "how long to disturb the team")
	every := fs.Duration("every", 1500*time.Millisecond, "time between two disturbances")
	out := fs.String("out", "perf/results", "directory for the JSON and Markdown report (\"\" = none)")
	fs.Parse(args)

	const members, clients = 3, 3
	l, cleanup, err := newLab(members, clients)
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()
	cfg := func(fallback string) string {
		return l.Config(lab.TeamConfig{FallbackDelay: fallback})
	}
	cfgPath := filepath.Join(c.dir, l.Prefix+".toml")
	g, err := l.StartTeamgw(ctx, c.teamgw, c.dir, cfg("200ms"), io.Discard)
	if err != nil {
		return err
	}
	defer g.Stop()

	// Traffic: a UDP echo stream from every client (loss and gaps), and
	// TCP both ways through the kernel path (TSO and GRO).
	team := netip.AddrPortFrom(l.Spec.TeamIP, 7)
	stopEcho, err := l.StartEcho(l.GW, team)
	if err != nil {
		return err
	}
	defer stopEcho()
	var streams []*lab.Stream
	for j := range clients {
		s, err := l.StartStream(l.Clients[j], team, time.Millisecond)
		if err != nil {
			return err
		}
		streams = append(streams, s)
	}
	// The lab's own iperf3 processes, stopped by process group at the
	// end: pkill in a network namespace would reach every iperf3 on the
	// machine (namespaces do not separate process ids), other labs' too.
	var iperfs []*exec.Cmd
	iperf := func(ns string, args ...string) error {
		cmd, err := l.Start(ns, nil, nil, "iperf3", args...)
		if err == nil {
			iperfs = append(iperfs, cmd)
		}
		return err
	}
	if err := iperf(l.GW, "-s", "-B", l.Spec.TeamIP.String(), "-p", "5401"); err != nil {
		return err
	}
	if err := iperf(l.Clients[0], "-s", "-B", l.ClientIP(0).String(), "-p", "5401"); err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	secs := strconv.Itoa(int((*dur + 5*time.Second).Seconds()))
	for _, cl := range []struct{ ns, to string }{{l.GW, l.ClientIP(0).String()}, {l.Clients[1], l.Spec.TeamIP.String()}} {
		if err := iperf(cl.ns, "-c", cl.to, "-p", "5401", "-b", "300M", "-t", secs); err != nil {
			return err
		}
	}
	time.Sleep(2 * time.Second)
	base, err := g.Status()
	if err != nil {
		return err
	}

	ctl := func(args ...string) error {
		out, err := exec.Command(*teamctl, append([]string{"-socket", l.Socket()}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("teamctl %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	name := func(i int) string { return fmt.Sprintf("net_af_packet%d", i) }
	var actions []string
	fallback := "200ms"
	steps := []func(k int) (string, error){
		func(k int) (string, error) { m := k % members; return "cut m" + strconv.Itoa(m), l.CutMember(m) },
		func(k int) (string, error) {
			m := k % members
			return "restore m" + strconv.Itoa(m), l.RestoreMember(m)
		},
		func(k int) (string, error) {
			m := (k + 1) % members
			return "disable " + name(m), ctl("member", "disable", "team0", name(m))
		},
		func(k int) (string, error) {
			m := (k + 1) % members
			return "enable " + name(m), ctl("member", "enable", "team0", name(m))
		},
		func(k int) (string, error) {
			fallback = map[string]string{"200ms": "300ms", "300ms": "200ms"}[fallback]
			if err := os.WriteFile(cfgPath, []byte(cfg(fallback)), 0o644); err != nil {
				return "", err
			}
			return "reload (fallback_delay " + fallback + ")", g.Cmd.Process.Signal(syscall.SIGHUP)
		},
		func(k int) (string, error) {
			m := (k + 2) % members
			return "primary " + name(m), ctl("primary", "team0", name(m))
		},
		func(k int) (string, error) {
			m := (k + 1) % members
			return "remove " + name(m), ctl("member", "remove", "team0", name(m))
		},
		func(k int) (string, error) {
			m := (k + 1) % members
			return "add " + name(m), ctl("member", "add", "team0", fmt.Sprintf("%s,iface=m%d", name(m), m))
		},
	}
	// worst[kind] is the most datagrams any client lost in the interval
	// after a disturbance of that kind (sent minus echoed).
	worst := map[string]int64{}
	start := time.Now()
	for k := 0; time.Since(start) < *dur; k++ {
		before := make([]int64, len(streams))
		for i, st := range streams {
			before[i] = int64(st.Sent()) - int64(st.Received())
		}
		what, err := steps[k%len(steps)](k / len(steps))
		if err != nil {
			return fmt.Errorf("soak step %d (%s): %w", k, what, err)
		}
		actions = append(actions, what)
		time.Sleep(*every)
		// Let the echoes of the interval's last datagrams come back.
		time.Sleep(20 * time.Millisecond)
		kind, _, _ := strings.Cut(what, " ")
		for i, st := range streams {
			worst[kind] = max(worst[kind], int64(st.Sent())-int64(st.Received())-before[i])
		}
	}
	// Everything back: links up, members enabled; then let the team
	// settle, stop the traffic and let the queues drain.
	st, err := g.Status()
	if err != nil {
		return err
	}
	present := map[string]bool{}
	for _, m := range st.Teams[0].Members {
		present[m.Name] = true
	}
	for i := range members {
		if err := l.RestoreMember(i); err != nil {
			return err
		}
		if !present[name(i)] {
			if err := ctl("member", "add", "team0", fmt.Sprintf("%s,iface=m%d", name(i), i)); err != nil {
				return err
			}
		}
		if err := ctl("member", "enable", "team0", name(i)); err != nil {
			return err
		}
	}
	time.Sleep(2 * time.Second)
	var lost, sent uint64
	var worstGap time.Duration
	for _, s := range streams {
		r := s.Stop()
		lost, sent = lost+r.Lost, sent+r.Sent
		worstGap = max(worstGap, r.MaxGap)
	}
	stopEcho()
	for _, cmd := range iperfs {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) // its process group (lab.Start sets one)
	}
	time.Sleep(3 * time.Second)
	end, err := g.Status()
	if err != nil {
		return err
	}
	r := checkSoak(base, end)
	r.Duration, r.Actions, r.Sent, r.Lost, r.WorstGap = *dur, len(actions), sent, lost, worstGap
	r.Shortfall = worst
	fmt.Printf("%d disturbances in %v; UDP streams: %d of %d lost, longest gap %v\n", len(actions), *dur, lost, sent, worstGap.Round(time.Millisecond))
	for _, f := range r.Findings {
		fmt.Println("  " + f)
	}
	fmt.Println("  most datagrams one client lost after each kind of disturbance:", shortfalls(worst))
	if *out != "" {
		if err := writeSoak(*out, r); err != nil {
			return err
		}
	}
	if !r.OK {
		return errors.New("soak: a check failed (see above)")
	}
	return nil
}

// soakResult is what a soak found.
type soakResult struct {
	When     time.Time     `json:"when"`
	Duration time.Duration `json:"duration_ns"`
	Actions  int           `json:"disturbances"`
	Sent     uint64        `json:"udp_sent"`
	Lost     uint64        `json:"udp_lost"`
	WorstGap time.Duration `json:"udp_worst_gap_ns"`
	Before   control.ProcessStatus
	After    control.ProcessStatus
	// In and Out are every frame the data plane received and passed on;
	// Dropped and ToControl are the rest. In must equal their sum.
	In, Out, Dropped, ToControl uint64
	Findings                    []string
	OK                          bool
	// Shortfall is, per kind of disturbance, the most datagrams one
	// client lost in the interval after it.
	Shortfall map[string]int64 `json:"shortfall_after"`
}

// checkSoak compares the end of a soak with its start: mbufs back (within
// what per-lcore caches may hold), no goroutine or memory growth worth the
// name, and frames in = frames out + drops + frames to control.
func checkSoak(base, end *control.Status) soakResult {
	r := soakResult{When: time.Now().UTC(), Before: base.Process, After: end.Process, OK: true}
	fail := func(format string, a ...any) {
		r.OK = false
		r.Findings = append(r.Findings, "FAIL "+fmt.Sprintf(format, a...))
	}
	note := func(format string, a ...any) { r.Findings = append(r.Findings, fmt.Sprintf(format, a...)) }
	// Each lcore's mempool cache may keep up to 1.5 x 256 mbufs that the
	// pool counts as in use; workers plus the control thread.
	slack := (len(end.Workers) + 1) * 384
	b, a := base.Process, end.Process
	note("mbufs in use: %d at the start, %d at the end (of %d; caches may hold %d)", b.MbufsInUse, a.MbufsInUse, a.MbufsTotal, slack)
	if a.MbufsInUse > b.MbufsInUse+slack {
		fail("mbufs leaked: %d more in use than at the start", a.MbufsInUse-b.MbufsInUse)
	}
	note("goroutines: %d at the start, %d at the end", b.Goroutines, a.Goroutines)
	if a.Goroutines > b.Goroutines+5 {
		fail("goroutines grew by %d", a.Goroutines-b.Goroutines)
	}
	note("Go heap %.1f -> %.1f MB, RSS %.1f -> %.1f MB", float64(b.HeapBytes)/1e6, float64(a.HeapBytes)/1e6, float64(b.RSSBytes)/1e6, float64(a.RSSBytes)/1e6)
	if a.HeapBytes > 2*b.HeapBytes+(8<<20) || a.RSSBytes > b.RSSBytes+b.RSSBytes/4+(32<<20) {
		fail("memory grew beyond bounds")
	}
	for _, t := range end.Teams {
		for _, p := range append(t.Members[:len(t.Members):len(t.Members)], control.MemberStatus{Counters: t.Kernel}, control.MemberStatus{Counters: t.Retired}) {
			r.In += p.Counters.RxPackets
			r.Out += p.Counters.TxPackets
		}
		for _, n := range t.Drops {
			r.Dropped += n
		}
		r.ToControl += t.ToControl
	}
	note("frames: %d in = %d out + %d dropped + %d to control (difference %d)", r.In, r.Out, r.Dropped, r.ToControl, int64(r.In)-int64(r.Out+r.Dropped+r.ToControl))
	if r.In != r.Out+r.Dropped+r.ToControl {
		fail("frames unaccounted for")
	}
	var refused uint64
	for _, w := range end.Workers {
		refused += w.TxRefused
	}
	note("frames the member PMDs refused at transmit: %d", refused)
	return r
}

func writeSoak(dir string, r soakResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	j, _ := json.MarshalIndent(r, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "soak-"+r.When.Format("20060102T150405Z")+".json"), j, 0o644); err != nil {
		return err
	}
	verdict := "passed"
	if !r.OK {
		verdict = "FAILED"
	}
	md := fmt.Sprintf(`# Soak (netns lab)

%s: %v of disturbances (%d: member links cut and restored, members disabled
and enabled, removed and added back, the primary moved, the config
reloaded) on an SLB team of
three net_af_packet members, with a UDP echo stream from each of three
clients every 1 ms and 300 Mbit/s of TCP each way through the kernel path.
Reproduce: make soak (bin/teamlab soak -duration %v). Verdict: %s.

UDP streams: %d of %d datagrams lost, longest gap %v.

`, r.When.Format(time.RFC3339), r.Duration, r.Actions, r.Duration, verdict, r.Lost, r.Sent, r.WorstGap.Round(time.Millisecond))
	for _, f := range r.Findings {
		md += "- " + f + "\n"
	}
	md += "- most datagrams one client lost in the interval after each kind of disturbance: " + shortfalls(r.Shortfall) + "\n"
	return os.WriteFile(filepath.Join(dir, "soak.md"), []byte(md), 0o644)
}

func shortfalls(m map[string]int64) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
