package main

import (
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// reports are small reports of every kind, in the shapes the benchmark
// commands write.
var reports = map[string]string{
	"txbench-20260101T000000Z.json": `{"when":"2026-01-01T00:00:00Z","flows":65536,
		"outbound":[{"contender":"null","members":2,"workers":1,"mpps":{"median":40,"min":35,"max":45},"insn_per_packet":97},
			{"contender":"trunk","members":2,"workers":1,"mpps":{"median":14,"min":12,"max":15},"insn_per_packet":259},
			{"contender":"null","members":4,"workers":1,"mpps":{"median":38,"min":30,"max":44},"insn_per_packet":97},
			{"contender":"trunk","members":4,"workers":1,"mpps":{"median":12,"min":11,"max":13},"insn_per_packet":262}],
		"peer":[{"contender":"testpmd-null","members":2,"workers":1,"mpps":{"median":16,"min":15,"max":17}}],
		"scaling":[{"contender":"trunk","members":2,"workers":1,"mpps":{"median":30,"min":29,"max":31}},
			{"contender":"trunk","members":2,"workers":2,"mpps":{"median":48,"min":31,"max":56}}]}`,
	// An older report of the same kind, which must be ignored.
	"txbench-20250101T000000Z.json": `not JSON`,
	"rxbench-20260101T000000Z.json": `{"when":"2026-01-01T00:00:00Z","results":[
		{"contender":"testpmd-io","members":1,"workers":1,"mpps":{"median":50,"min":49,"max":53}},
		{"contender":"slb","members":1,"workers":1,"mpps":{"median":30,"min":29,"max":31}}]}`,
	"failover-20260101T000000Z.json": `{"when":"2026-01-01T00:00:00Z","cuts":2,"types":[
		{"type":"slb","runs":[
			{"failover_window_ns":1000000,"failover_max_gap_ns":4000000,"fallback_window_ns":500000,"repoint_ns":9000000},
			{"failover_window_ns":1500000,"failover_max_gap_ns":3500000,"fallback_window_ns":0,"repoint_ns":7000000}]},
		{"type":"lacp","runs":[
			{"failover_window_ns":3000000,"failover_max_gap_ns":6000000,"fallback_window_ns":1000000},
			{"failover_window_ns":2500000,"failover_max_gap_ns":5000000,"fallback_window_ns":0}]}]}`,
	"lacp-20260101T000000Z.json": `{"when":"2026-01-01T00:00:00Z","runs":[{"converge_ns":2400000000,"rejoin_ns":990000000}]}`,
	"kernelpath-20260101T000000Z.json": `{"when":"2026-01-01T00:00:00Z","runs":[
		{"path":"no team","members":1,"streams":1,"direction":"client->server","gbps":3.8},
		{"path":"slb","members":2,"streams":1,"direction":"client->server","gbps":3.6}]}`,
	"dist-20260101T000000Z.json": `{"when":"2026-01-01T00:00:00Z","flows":4096,"series":[
		{"members":2,"mix":"uniform","zipf":0,"policy":"static","points":[{"t_ns":10000000000,"ratio":1.02},{"t_ns":20000000000,"ratio":1.05}]},
		{"members":2,"mix":"zipf","zipf":1,"policy":"rebalanced","points":[{"t_ns":10000000000,"ratio":1.5},{"t_ns":20000000000,"ratio":0}]}]}`,
}

func TestDrawAllWritesAFigurePerReport(t *testing.T) {
	dir := t.TempDir()
	for name, body := range reports {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	written, err := drawAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range written {
		names = append(names, filepath.Base(f))
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(r)
		r.Close()
		if err != nil || cfg.Width < 300 || cfg.Height < 200 {
			t.Errorf("%s: %dx%d, %v", f, cfg.Width, cfg.Height, err)
		}
	}
	slices.Sort(names)
	want := []string{"dist-uniform.png", "dist-zipf.png", "failover.png", "kernelpath.png", "lacp.png", "rxbench.png",
		"scaling.png", "txbench-insn.png", "txbench-peer.png", "txbench.png"}
	if !slices.Equal(names, want) {
		t.Errorf("wrote %v, want %v", names, want)
	}
}

func TestDrawAllWithoutReportsWritesNothing(t *testing.T) {
	written, err := drawAll(t.TempDir())
	if err != nil || len(written) != 0 {
		t.Errorf("empty directory: wrote %v, %v", written, err)
	}
}

func TestBrokenNewestReportIsAnError(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rxbench-20270101T000000Z.json"), []byte("{"), 0o644)
	if _, err := drawAll(dir); err == nil {
		t.Error("a broken report drew without error")
	}
}

// TestDrawAllLeavesOutInstructionsNotCounted: a report from a machine
// without instruction counters (insn_per_packet absent) draws the
// outbound rates but no chart of zeros.
func TestDrawAllLeavesOutInstructionsNotCounted(t *testing.T) {
	dir := t.TempDir()
	body := `{"when":"2026-01-01T00:00:00Z","flows":65536,
		"outbound":[{"contender":"null","members":2,"workers":1,"mpps":{"median":40,"min":35,"max":45}},
			{"contender":"trunk","members":2,"workers":1,"mpps":{"median":14,"min":12,"max":15}}]}`
	if err := os.WriteFile(filepath.Join(dir, "txbench-20260101T000000Z.json"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	written, err := drawAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range written {
		names = append(names, filepath.Base(f))
	}
	if !slices.Equal(names, []string{"txbench.png"}) {
		t.Errorf("wrote %v, want [txbench.png]", names)
	}
}
