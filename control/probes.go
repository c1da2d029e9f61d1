package control

import (
	"net/netip"
	"time"

	"github.com/teamgw/teamgw/dataplane/frame"
)

// Echo-node probes (seed 003_f5c038d3ce851579.txt, "Directed ARP"): link
// state cannot see a path broken behind the switch port, so every member
// of an SLB team with an echo node sends, each probe interval, an ARP
// request for the echo node from its own MAC with sender address 0.0.0.0
// (so the echo node does not change its cache entry for the team) and
// expects the reply on that member. A member whose probes go unanswered
// probe_misses times is path-failed and treated as if its link were down
// until replies come back.

// probeStats are one member's echo-node probe counters.
type probeStats struct {
	sent, replies uint64
	// rtt is the round trip of the last reply (from the probe round's
	// start to the reply reaching the control plane).
	rtt time.Duration
}

// probeState is one team's echo-node probing.
type probeState struct {
	echo      netip.Addr
	lastSent  time.Time
	lastReply []time.Time
	failed    []bool
	replies   uint64
	sent      uint64
}

func (d *Daemon) startProbes(t *team) {
	if t.cfg.EchoNode == "" {
		return
	}
	echo, err := netip.ParseAddr(t.cfg.EchoNode)
	if err != nil {
		return
	}
	now := d.now()
	ps := &probeState{echo: echo, lastReply: make([]time.Time, len(t.members)), failed: make([]bool, len(t.members))}
	for i := range ps.lastReply {
		ps.lastReply[i] = now // grace: a member starts as healthy
	}
	t.probes = ps
}

// probeTick sends due probes and fails or restores member paths.
func (d *Daemon) probeTick() {
	now := d.now()
	changed := false
	for _, t := range d.teams {
		ps := t.probes
		if ps == nil {
			continue
		}
		iv := t.cfg.ProbeInterval.Duration
		if now.Sub(ps.lastSent) >= iv {
			ps.lastSent = now
			for _, m := range t.members {
				if !m.linkUp || !m.carrierUp || m.disabled {
					continue
				}
				mac := wireMAC(m)
				f := frame.AppendARP(nil, frame.Broadcast, mac, frame.ARPRequest, mac, netip.IPv4Unspecified(), frame.MAC{}, ps.echo)
				if d.injectFrame(m.port, f) {
					ps.sent++
					m.probe.sent++
				}
			}
		}
		limit := time.Duration(t.cfg.ProbeMisses) * iv
		fail := make([]bool, len(t.members))
		linkUp, failing := 0, 0
		for i, m := range t.members {
			if !m.linkUp || !m.carrierUp || m.disabled {
				ps.lastReply[i] = now // judged again from when it comes back
				continue
			}
			linkUp++
			if now.Sub(ps.lastReply[i]) > limit {
				fail[i] = true
				failing++
			}
		}
		// Every path failing at once says the echo node is gone, not the
		// paths: then probes decide nothing.
		if failing == linkUp {
			clear(fail)
		}
		for i, m := range t.members {
			if fail[i] == ps.failed[i] {
				continue
			}
			ps.failed[i] = fail[i]
			if fail[i] {
				d.event(EventPathFailed, "member path failed: echo node not answering", "team", t.cfg.Name, "member", m.cfg.Name(), "echo_node", ps.echo.String())
			} else {
				d.event(EventPathRestored, "member path restored", "team", t.cfg.Name, "member", m.cfg.Name())
			}
			if d.refresh(t, m) && d.evaluate(t) {
				changed = true
			}
		}
	}
	if changed {
		d.publish()
	}
}

// probeReply records an echo-node reply received on port.
func (d *Daemon) probeReply(port uint16, f []byte) {
	t, mi := d.memberByPort(port)
	if t == nil || t.probes == nil || !isEchoReply(f, t.probes.echo) {
		return
	}
	now := d.now()
	t.probes.lastReply[mi] = now
	t.probes.replies++
	m := t.members[mi]
	m.probe.replies++
	m.probe.rtt = now.Sub(t.probes.lastSent)
}

// isEchoReply reports whether frame f is the echo node's answer to a
// probe: an untagged ARP reply from echo to the probe's sender address,
// 0.0.0.0 (the data plane hands over only replies to one of our MACs).
func isEchoReply(f []byte, echo netip.Addr) bool {
	e := frame.Ethernet(f)
	if len(f) < frame.EthHeaderLen+frame.ARPLen || e.Type() != frame.TypeARP {
		return false
	}
	a := frame.ARP(f[frame.EthHeaderLen:])
	return a.Valid() && a.Op() == frame.ARPReply && a.SenderIP() == echo && a.TargetIP() == netip.IPv4Unspecified()
}
