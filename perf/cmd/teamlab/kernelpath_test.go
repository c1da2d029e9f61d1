package main

import (
	"strings"
	"testing"
)

func TestRepeatedSummaryPairsRounds(t *testing.T) {
	run := func(path string, members, round int, gbps float64) kernelRun {
		return kernelRun{Path: path, Members: members, Streams: 1, Direction: "server->client", CC: "cubic", Round: round, Gbps: gbps}
	}
	runs := []kernelRun{
		run("no team", 1, 1, 10), run("slb", 1, 1, 5), run("slb", 2, 1, 4),
		{Path: "no team", Members: 1, Streams: 1, Direction: "server->client", CC: "bbr", Round: 1, Gbps: 1},
		run("no team", 1, 2, 20), run("slb", 1, 2, 16),
		run("no team", 1, 3, 8), run("slb", 1, 3, 6),
	}
	got := repeatedSummary(runs)
	// Ratios 0.5, 0.8, 0.75: median 0.75; the 2-member team and the BBR
	// anchor stay out.
	want := "| 1 | server->client | 10.00 [8.00, 20.00] | 6.00 [5.00, 16.00] | 0.75 [0.50, 0.80] |"
	if !strings.Contains(got, want) {
		t.Errorf("summary:\n%s\nwant the row\n%s", got, want)
	}
	if !strings.Contains(got, "slb, 1 member(s), against the no-team path in 3 alternating rounds (cubic)") {
		t.Errorf("summary heading wrong:\n%s", got)
	}
	if s := repeatedSummary(runs[:3]); s != "" {
		t.Errorf("one round gave a summary:\n%s", s)
	}
}

func TestRepeatedSummaryWithoutAnchors(t *testing.T) {
	runs := []kernelRun{
		{Path: "slb", Members: 1, Streams: 1, Direction: "server->client", CC: "cubic", Round: 1, Gbps: 5},
		{Path: "slb", Members: 1, Streams: 1, Direction: "server->client", CC: "cubic", Round: 2, Gbps: 7},
	}
	want := "| 1 | server->client | — | 6.00 [5.00, 7.00] | — |"
	if got := repeatedSummary(runs); !strings.Contains(got, want) {
		t.Errorf("summary:\n%s\nwant the row\n%s", got, want)
	}
}

func TestSameCongestionControl(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{{"cubic", "cubic", true}, {"cubic", "bbr", false}, {"cubic", "", false}, {"", "", false}} {
		if same, err := sameCongestionControl(c.a, c.b); err != nil || same != c.same {
			t.Errorf("sameCongestionControl(%q, %q) = %v, %v; want %v", c.a, c.b, same, err, c.same)
		}
	}
	if err := congestionControlAvailable("no-such-cc"); err == nil {
		t.Error("a made-up congestion control was accepted")
	}
}
