package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// The figures' size.
const (
	width  = 16 * vg.Centimeter
	height = 10 * vg.Centimeter
)

// result is the part of a bench.Result the figures use.
type result struct {
	Contender string `json:"contender"`
	Members   int    `json:"members"`
	Workers   int    `json:"workers"`
	Mpps      struct {
		Median, Min, Max float64
	} `json:"mpps"`
	InsnPerPacket float64 `json:"insn_per_packet"`
}

// byContender turns results into one series per contender (in order of
// first appearance) over the categories key gives, in ascending order.
func byContender(rs []result, key func(result) int, label func(int) string, value func(result) (v, lo, hi float64)) ([]string, []series) {
	var keys []int
	var names []string
	for _, r := range rs {
		if !slices.Contains(keys, key(r)) {
			keys = append(keys, key(r))
		}
		if !slices.Contains(names, r.Contender) {
			names = append(names, r.Contender)
		}
	}
	slices.Sort(keys)
	var cats []string
	for _, k := range keys {
		cats = append(cats, label(k))
	}
	var ss []series
	for _, n := range names {
		s := series{name: n, values: make([]float64, len(keys)), lo: make([]float64, len(keys)), hi: make([]float64, len(keys))}
		for _, r := range rs {
			if r.Contender == n {
				i := slices.Index(keys, key(r))
				s.values[i], s.lo[i], s.hi[i] = value(r)
			}
		}
		ss = append(ss, s)
	}
	return cats, ss
}

func members(r result) int { return r.Members }
func workers(r result) int { return r.Workers }
func mpps(r result) (float64, float64, float64) {
	return r.Mpps.Median, r.Mpps.Min, r.Mpps.Max
}
func insnPerPacket(r result) (float64, float64, float64) { return r.InsnPerPacket, 0, 0 }
func membersLabel(n int) string                          { return fmt.Sprintf("%d members", n) }

// save writes p as dir/name and returns the path.
func save(p *plot.Plot, dir, name string) (string, error) {
	f := filepath.Join(dir, name)
	return f, p.Save(width, height, f)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func drawTx(dir, file string) ([]string, error) {
	var rep struct {
		When     time.Time `json:"when"`
		Flows    int       `json:"flows"`
		Outbound []result  `json:"outbound"`
		Peer     []result  `json:"peer"`
		Scaling  []result  `json:"scaling"`
	}
	if err := readJSON(file, &rep); err != nil {
		return nil, err
	}
	var out []string
	add := func(p *plot.Plot, err error, name string) error {
		if err != nil {
			return err
		}
		f, err := save(p, dir, name)
		if err == nil {
			out = append(out, f)
		}
		return err
	}
	if len(rep.Outbound) > 0 {
		cats, ss := byContender(rep.Outbound, members, membersLabel, mpps)
		p, err := groupedBars(fmt.Sprintf("Outbound path, one lcore, %d flows of 64 B (%s)", rep.Flows, stamp(rep.When)), "Mpps (median, min–max)", cats, ss)
		if err := add(p, err, "txbench.png"); err != nil {
			return out, err
		}
		// Instructions are counted only where the CPU has counters
		// for them: a report without counts draws no chart of them.
		if slices.ContainsFunc(rep.Outbound, func(r result) bool { return r.InsnPerPacket > 0 }) {
			cats, ss = byContender(rep.Outbound, members, membersLabel, insnPerPacket)
			p, err = groupedBars("Outbound path: instructions per packet (lower is better)", "instructions / packet", cats, ss)
			if err := add(p, err, "txbench-insn.png"); err != nil {
				return out, err
			}
		}
	}
	if len(rep.Peer) > 0 {
		cats, ss := byContender(rep.Peer, members, membersLabel, mpps)
		p, err := groupedBars("Whole processes: testpmd txonly vs txbench, testpmd's 256 flows", "Mpps (median, min–max)", cats, ss)
		if err := add(p, err, "txbench-peer.png"); err != nil {
			return out, err
		}
	}
	if len(rep.Scaling) > 0 {
		n := rep.Scaling[0].Members
		cats, ss := byContender(rep.Scaling, workers, func(w int) string { return fmt.Sprintf("%d worker lcore(s)", w) }, mpps)
		p, err := groupedBars(fmt.Sprintf("Outbound path over worker lcores, %d members", n), "Mpps, all workers (median, min–max)", cats, ss)
		if err := add(p, err, "scaling.png"); err != nil {
			return out, err
		}
	}
	return out, nil
}

func drawRx(dir, file string) ([]string, error) {
	var rep struct {
		When    time.Time `json:"when"`
		Results []result  `json:"results"`
	}
	if err := readJSON(file, &rep); err != nil {
		return nil, err
	}
	cats, ss := byContender(rep.Results, members, func(n int) string { return fmt.Sprintf("%d member(s)", n) }, mpps)
	p, err := groupedBars(fmt.Sprintf("Receive path against io forwarding, one lcore (%s)", stamp(rep.When)), "Mpps (median, min–max)", cats, ss)
	if err != nil {
		return nil, err
	}
	f, err := save(p, dir, "rxbench.png")
	return []string{f}, err
}

func drawFailover(dir, file string) ([]string, error) {
	type run struct {
		Failover time.Duration `json:"failover_window_ns"`
		Gap      time.Duration `json:"failover_max_gap_ns"`
		Fallback time.Duration `json:"fallback_window_ns"`
		Repoint  time.Duration `json:"repoint_ns"`
	}
	var rep struct {
		When  time.Time `json:"when"`
		Cuts  int       `json:"cuts"`
		Types []struct {
			Type string `json:"type"`
			Runs []run  `json:"runs"`
		} `json:"types"`
	}
	if err := readJSON(file, &rep); err != nil {
		return nil, err
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	cats := []string{"failover loss window", "failover: longest gap", "fallback loss window", "SLB client re-pointing"}
	var ss []boxSeries
	for _, t := range rep.Types {
		s := boxSeries{name: t.Type, samples: make([][]float64, len(cats))}
		for _, r := range t.Runs {
			s.samples[0] = append(s.samples[0], ms(r.Failover))
			s.samples[1] = append(s.samples[1], ms(r.Gap))
			s.samples[2] = append(s.samples[2], ms(r.Fallback))
			if r.Repoint > 0 {
				s.samples[3] = append(s.samples[3], ms(r.Repoint))
			}
		}
		ss = append(ss, s)
	}
	if len(ss) == 0 {
		return nil, fmt.Errorf("no team type in the report")
	}
	p, err := groupedBoxes(fmt.Sprintf("Failover timing, %d cuts per team type (netns lab, %s)", rep.Cuts, stamp(rep.When)), "ms",
		cats, ss, map[string]float64{"target p99 < 50 ms": 50, "goal < 10 ms": 10}, 100)
	if err != nil {
		return nil, err
	}
	f, err := save(p, dir, "failover.png")
	return []string{f}, err
}

func drawLACP(dir, file string) ([]string, error) {
	var rep struct {
		When time.Time `json:"when"`
		Runs []struct {
			Converge time.Duration `json:"converge_ns"`
			Rejoin   time.Duration `json:"rejoin_ns"`
		} `json:"runs"`
	}
	if err := readJSON(file, &rep); err != nil {
		return nil, err
	}
	var conv, rejoin []float64
	for _, r := range rep.Runs {
		conv, rejoin = append(conv, r.Converge.Seconds()), append(rejoin, r.Rejoin.Seconds())
	}
	p, err := boxes(fmt.Sprintf("LACP against Open vSwitch, %d runs (%s)", len(rep.Runs), stamp(rep.When)), "s",
		[]string{"aggregate up after start", "restored member distributing"}, [][]float64{conv, rejoin})
	if err != nil {
		return nil, err
	}
	f, err := save(p, dir, "lacp.png")
	return []string{f}, err
}

func drawKernel(dir, file string) ([]string, error) {
	var rep struct {
		When time.Time `json:"when"`
		Runs []struct {
			Path      string  `json:"path"`
			Members   int     `json:"members"`
			Streams   int     `json:"streams"`
			Direction string  `json:"direction"`
			CC        string  `json:"congestion_control"`
			Round     int     `json:"round"`
			Gbps      float64 `json:"gbps"`
		} `json:"runs"`
	}
	if err := readJSON(file, &rep); err != nil {
		return nil, err
	}
	var cats, names []string
	mainCC := ""
	if len(rep.Runs) > 0 {
		mainCC = rep.Runs[0].CC
	}
	type key struct{ cat, name string }
	val := map[key]float64{}
	for _, r := range rep.Runs {
		if r.Round > 1 {
			continue // the repeated rounds: the Markdown summary has them
		}
		cat := r.Path
		if r.Path != "no team" && r.Path != "no team, wire-sized" {
			cat = fmt.Sprintf("%s ×%d", r.Path, r.Members)
		}
		if r.CC != mainCC {
			cat += ", " + r.CC // the second congestion control's runs
		}
		name := fmt.Sprintf("%s, %d stream(s)", r.Direction, r.Streams)
		if !slices.Contains(cats, cat) {
			cats = append(cats, cat)
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		val[key{cat, name}] = r.Gbps
	}
	var ss []series
	for _, n := range names {
		s := series{name: n}
		for _, c := range cats {
			s.values = append(s.values, val[key{c, n}])
		}
		ss = append(ss, s)
	}
	p, err := groupedBars(fmt.Sprintf("Kernel path, iperf3 through the team's TAP (%s)", stamp(rep.When)), "Gbit/s", cats, ss)
	if err != nil {
		return nil, err
	}
	p.X.Tick.Label.Font.Size = vg.Points(7)
	f, err := save(p, dir, "kernelpath.png")
	return []string{f}, err
}

func drawDist(dir, file string) ([]string, error) {
	var rep struct {
		When   time.Time `json:"when"`
		Flows  int       `json:"flows"`
		Series []struct {
			Members int     `json:"members"`
			Mix     string  `json:"mix"`
			Zipf    float64 `json:"zipf"`
			Policy  string  `json:"policy"`
			Points  []struct {
				T     time.Duration `json:"t_ns"`
				Ratio float64       `json:"ratio"`
			} `json:"points"`
		} `json:"series"`
	}
	if err := readJSON(file, &rep); err != nil {
		return nil, err
	}
	var mixes []string
	var sizes []int
	for _, s := range rep.Series {
		if !slices.Contains(mixes, s.Mix) {
			mixes = append(mixes, s.Mix)
		}
		if !slices.Contains(sizes, s.Members) {
			sizes = append(sizes, s.Members)
		}
	}
	var out []string
	for _, mix := range mixes {
		var ls []line
		title := mix
		for _, s := range rep.Series {
			if s.Mix != mix {
				continue
			}
			if mix == "zipf" {
				title = fmt.Sprintf("Zipf s=%.1f", s.Zipf)
			}
			xy := make(plotter.XYs, 0, len(s.Points))
			for _, pt := range s.Points {
				if pt.Ratio > 0 { // 0: a member carried nothing (unbounded)
					xy = append(xy, plotter.XY{X: pt.T.Minutes(), Y: pt.Ratio})
				}
			}
			ls = append(ls, line{name: fmt.Sprintf("%d members, %s", s.Members, s.Policy), xy: xy,
				color: slices.Index(sizes, s.Members), dashed: s.Policy == "static"})
		}
		p, err := ratioLines(fmt.Sprintf("Distribution over time: %s, %d flows", title, rep.Flows), "simulated minutes", "busiest / idlest member (bytes per interval)", ls)
		if err != nil {
			return out, err
		}
		f, err := save(p, dir, "dist-"+mix+".png")
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
	return out, nil
}
