// Command linerate measures a running teamgw against line rate: it reads
// `teamctl -json show` at the start and end of an interval and reports,
// per team and member, the packet rates received and sent, what fraction
// of the member's line rate they are (from its link speed and the mean
// frame size: 14.88 Mpps for 64-byte frames on 10 Gbit/s, counting the
// FCS, preamble and inter-frame gap), the frames the NICs missed, and per
// worker lcore how busy it was. perf/scale.sh runs it once per worker count
// against real NICs fed by a traffic generator.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/teamgw/teamgw/control"
)

// wireOverhead is what a frame occupies on the wire beyond the bytes DPDK
// counts: FCS (4), preamble and start delimiter (8), inter-frame gap (12).
const wireOverhead = 24

// LineRate is the most frames a second a link of speedMbps carries when
// frames average frameBytes (FCS excluded).
func LineRate(speedMbps uint32, frameBytes float64) float64 {
	frameBytes = max(frameBytes, 60) // shorter frames are padded
	return float64(speedMbps) * 1e6 / ((frameBytes + wireOverhead) * 8)
}

// Port is one member's (or the kernel side's) rates over the interval.
type Port struct {
	Team       string  `json:"team"`
	Name       string  `json:"name"`
	SpeedMbps  uint32  `json:"speed_mbps"`
	RxMpps     float64 `json:"rx_mpps"`
	TxMpps     float64 `json:"tx_mpps"`
	FrameBytes float64 `json:"mean_frame_bytes"`
	// RxOfLine and TxOfLine are the rates over the line rate (0 when the
	// speed is unknown).
	RxOfLine float64 `json:"rx_of_line_rate"`
	TxOfLine float64 `json:"tx_of_line_rate"`
	Missed   uint64  `json:"nic_rx_missed"`
}

// Worker is one worker lcore's share of the interval.
type Worker struct {
	Core int     `json:"core"`
	Mpps float64 `json:"mpps"`
	// Busy is the fraction of its polls that found packets.
	Busy float64 `json:"busy"`
}

// Sample is one interval.
type Sample struct {
	Label   string    `json:"label"`
	When    time.Time `json:"when"`
	Seconds float64   `json:"seconds"`
	Ports   []Port    `json:"ports"`
	Workers []Worker  `json:"workers"`
}

// Rates compares two status snapshots taken dt apart.
func Rates(a, b *control.Status, dt time.Duration) Sample {
	s := Sample{When: time.Now().UTC(), Seconds: dt.Seconds()}
	sec := dt.Seconds()
	mpps := func(x, y uint64) float64 { return float64(y-x) / sec / 1e6 }
	for ti, tb := range b.Teams {
		if ti >= len(a.Teams) {
			break
		}
		ta := a.Teams[ti]
		for mi, mb := range tb.Members {
			if mi >= len(ta.Members) {
				break
			}
			ma := ta.Members[mi]
			p := Port{Team: tb.Name, Name: mb.Name, SpeedMbps: mb.SpeedMb,
				RxMpps: mpps(ma.Counters.RxPackets, mb.Counters.RxPackets),
				TxMpps: mpps(ma.Counters.TxPackets, mb.Counters.TxPackets),
				Missed: mb.NIC.RxMissed - ma.NIC.RxMissed}
			pkts := (mb.Counters.RxPackets - ma.Counters.RxPackets) + (mb.Counters.TxPackets - ma.Counters.TxPackets)
			if pkts > 0 {
				bytes := (mb.Counters.RxBytes - ma.Counters.RxBytes) + (mb.Counters.TxBytes - ma.Counters.TxBytes)
				p.FrameBytes = float64(bytes) / float64(pkts)
			}
			if mb.SpeedMb > 0 {
				line := LineRate(mb.SpeedMb, p.FrameBytes) / 1e6
				p.RxOfLine, p.TxOfLine = p.RxMpps/line, p.TxMpps/line
			}
			s.Ports = append(s.Ports, p)
		}
		s.Ports = append(s.Ports, Port{Team: tb.Name, Name: "(kernel)",
			RxMpps: mpps(ta.Kernel.RxPackets, tb.Kernel.RxPackets),
			TxMpps: mpps(ta.Kernel.TxPackets, tb.Kernel.TxPackets)})
	}
	for wi, wb := range b.Workers {
		if wi >= len(a.Workers) {
			break
		}
		wa := a.Workers[wi]
		w := Worker{Core: wb.Core, Mpps: mpps(wa.Packets, wb.Packets)}
		if steps := wb.Steps - wa.Steps; steps > 0 {
			w.Busy = 1 - float64(wb.IdleSteps-wa.IdleSteps)/float64(steps)
		}
		s.Workers = append(s.Workers, w)
	}
	return s
}

// WriteTable prints a sample for people.
func WriteTable(w io.Writer, s Sample) {
	fmt.Fprintf(w, "\n%s, %.1f s\n\n| team | port | speed | RX Mpps | TX Mpps | mean frame | RX of line | TX of line | NIC missed |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n", s.Label, s.Seconds)
	for _, p := range s.Ports {
		fmt.Fprintf(w, "| %s | %s | %d Mb/s | %.3f | %.3f | %.0f B | %.1f%% | %.1f%% | %d |\n",
			p.Team, p.Name, p.SpeedMbps, p.RxMpps, p.TxMpps, p.FrameBytes, 100*p.RxOfLine, 100*p.TxOfLine, p.Missed)
	}
	fmt.Fprintf(w, "\n| worker core | Mpps | busy |\n| --- | --- | --- |\n")
	for _, wk := range s.Workers {
		fmt.Fprintf(w, "| %d | %.3f | %.0f%% |\n", wk.Core, wk.Mpps, 100*wk.Busy)
	}
}

func main() {
	teamctl := flag.String("teamctl", "bin/teamctl", "teamctl `binary`")
	socket := flag.String("socket", "", "teamgw control socket (teamctl's default if empty)")
	interval := flag.Duration("interval", 10*time.Second, "length of each sample")
	samples := flag.Int("samples", 3, "samples to take")
	label := flag.String("label", "", "what is being measured (e.g. workers=2), kept in the report")
	out := flag.String("out", "perf/results", "directory to append linerate.jsonl to ('' = none)")
	flag.Parse()
	show := func() (*control.Status, error) {
		args := []string{"-json", "show"}
		if *socket != "" {
			args = append([]string{"-socket", *socket}, args...)
		}
		b, err := exec.Command(*teamctl, args...).Output()
		if err != nil {
			return nil, fmt.Errorf("%s show: %w", *teamctl, err)
		}
		var s control.Status
		return &s, json.Unmarshal(b, &s)
	}
	prev, err := show()
	if err != nil {
		fail(err)
	}
	t0 := time.Now()
	var lines bytes.Buffer
	for range *samples {
		time.Sleep(*interval)
		cur, err := show()
		if err != nil {
			fail(err)
		}
		t1 := time.Now()
		s := Rates(prev, cur, t1.Sub(t0))
		s.Label = *label
		WriteTable(os.Stdout, s)
		b, _ := json.Marshal(s)
		lines.Write(append(b, '\n'))
		prev, t0 = cur, t1
	}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			fail(err)
		}
		f, err := os.OpenFile(filepath.Join(*out, "linerate.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fail(err)
		}
		defer f.Close()
		if _, err := f.Write(lines.Bytes()); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "linerate:", err)
	os.Exit(1)
}
