package bench

import (
	"bytes"
	"strings"
	"testing"
)

func TestRoundsAlternateTheOrder(t *testing.T) {
	var order []string
	mk := func(name string, pkts uint64) Contender {
		return Contender{Name: name, Run: func(steps int) (Measurement, error) {
			order = append(order, name)
			return Measurement{Packets: pkts * uint64(steps), Seconds: 1}, nil
		}}
	}
	got, err := Rounds([]Contender{mk("a", 1), mk("b", 2), mk("c", 3)}, 3, 1e6)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a b c c b a a b c"; strings.Join(order, " ") != want {
		t.Errorf("order %v, want %s", order, want)
	}
	if len(got["b"]) != 3 || got["b"][0].Mpps() != 2 {
		t.Errorf("b's rounds: %+v", got["b"])
	}
}

func TestSummarizePairsRatiosByRound(t *testing.T) {
	rounds := map[string][]Measurement{
		// The host slows down in round 2: both contenders see it.
		"ref":  {{Packets: 10e6, Seconds: 1}, {Packets: 5e6, Seconds: 1}, {Packets: 10e6, Seconds: 1}},
		"team": {{Packets: 9e6, Seconds: 1, CPUSeconds: 0.9, Instructions: 900e6}, {Packets: 4.5e6, Seconds: 1, CPUSeconds: 0.5, Instructions: 450e6}, {Packets: 9e6, Seconds: 1, CPUSeconds: 0.9, Instructions: 900e6}},
	}
	res := Summarize(rounds, []string{"ref", "team", "absent"}, []string{"ref", "gone"}, 2, 1)
	if len(res) != 2 {
		t.Fatalf("%d results, want 2 (absent left out)", len(res))
	}
	team := res[1]
	if team.Mpps.Median != 9 || team.Mpps.Min != 4.5 || team.Mpps.Max != 9 {
		t.Errorf("team Mpps %+v", team.Mpps)
	}
	if r := team.Ratios["ref"]; r < 0.8999 || r > 0.9001 {
		t.Errorf("paired ratio %v, want 0.9", r)
	}
	if _, ok := team.Ratios["gone"]; ok {
		t.Error("ratio to a reference that did not run")
	}
	if team.InsnPerPacket != 100 || res[0].InsnPerPacket != 0 {
		t.Errorf("insn/pkt team %v ref %v, want 100 and 0 (not counted)", team.InsnPerPacket, res[0].InsnPerPacket)
	}
	if team.CPUMpps != 10 || res[0].CPUMpps != 0 {
		t.Errorf("Mpps per CPU-second team %v ref %v, want 10 and 0 (not measured)", team.CPUMpps, res[0].CPUMpps)
	}
	if team.NsPerPacket < 111.1 || team.NsPerPacket > 111.2 {
		t.Errorf("ns/pkt %v", team.NsPerPacket)
	}
	var b bytes.Buffer
	WriteTable(&b, res, []string{"ref"})
	if !strings.Contains(b.String(), "| team | 2 | 1 | 9.00 | [4.50, 9.00] | 111.1 | 10.00 | 100 | 0.90 |") ||
		!strings.Contains(b.String(), "| ref | 2 | 1 | 10.00 | [5.00, 10.00] | 100.0 | n/a | n/a | 1.00 |") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestIsPCI(t *testing.T) {
	for d, want := range map[string]bool{
		"0000:03:00.0": true, "0000:af:00.1,txq_inline=128": true,
		"net_null0": false, "net_af_packet0,iface=eth1": false, "03:00.0": false,
	} {
		if IsPCI(d) != want {
			t.Errorf("IsPCI(%q) = %v", d, !want)
		}
	}
}
