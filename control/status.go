package control

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"time"

	"github.com/teamgw/teamgw/dataplane"
	"github.com/teamgw/teamgw/dataplane/classify"
	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/lacp"
	"github.com/teamgw/teamgw/slb"
)

// Status is a consistent snapshot of the daemon, as the control API and
// teamctl show it.
type Status struct {
	Started time.Time     `json:"started"`
	Process ProcessStatus `json:"process"`
	Workers []WorkerInfo  `json:"workers"`
	Teams   []TeamStatus  `json:"teams"`
}

// ProcessStatus is what a long run watches for leaks: goroutines, Go
// heap, resident memory and the mbuf pool.
type ProcessStatus struct {
	Goroutines int    `json:"goroutines"`
	HeapBytes  uint64 `json:"heap_bytes"`
	RSSBytes   uint64 `json:"rss_bytes"`
	// MbufsInUse counts the pool's mbufs not in its ring, those parked
	// in per-lcore caches included.
	MbufsInUse int `json:"mbufs_in_use"`
	MbufsTotal int `json:"mbufs_total"`
}

// WorkerInfo describes one worker lcore.
type WorkerInfo struct {
	ID         int    `json:"id"`
	Core       int    `json:"core"`
	Lcore      int    `json:"lcore"`
	Steps      uint64 `json:"steps"`
	IdleSteps  uint64 `json:"idle_steps"`
	Vectors    uint64 `json:"vectors"`
	Packets    uint64 `json:"packets"`
	InjectLost uint64 `json:"inject_unroutable"`
	InjectFull uint64 `json:"inject_dropped"`
	// TxRefused counts frames the member PMDs refused (TX ring full).
	TxRefused uint64 `json:"tx_refused"`
	// Stalled is true while the worker has not polled for 2 s.
	Stalled bool `json:"stalled"`
	// ControlDropped counts frames for the control plane dropped because
	// its ring was full (a slow-protocols storm).
	ControlDropped uint64 `json:"control_dropped"`
	// VectorSizes counts vectors by size, bucket i holding those of at
	// most dataplane.VectorSizeBounds[i] packets.
	VectorSizes []uint64 `json:"vector_sizes"`
}

// TeamStatus describes one team.
type TeamStatus struct {
	Name      string   `json:"name"`
	Mode      string   `json:"mode"`
	MAC       string   `json:"mac"`
	Addresses []string `json:"addresses"`
	// Active is the path member: it transmits with the team MAC and
	// carries what is not balanced.
	Active    string `json:"active"`
	Failovers uint64 `json:"failovers"`
	// FailoverSeconds is the failover-duration histogram: from a
	// member that carried traffic losing its link to the snapshot without
	// it being published.
	FailoverSeconds Histogram         `json:"failover_seconds"`
	BucketMoves     uint64            `json:"bucket_moves"`
	Classes         map[string]uint64 `json:"classes"`
	Members         []MemberStatus    `json:"members"`
	VLANs           []VLANStatus      `json:"vlans,omitempty"`
	// Clients is the SLB inbound client table.
	Clients []ClientStatus `json:"clients,omitempty"`
	// Routers are the neighbours receive balancing leaves on the path
	// member (routed traffic), and why.
	Routers      []RouterStatus `json:"routers,omitempty"`
	LACP         *TeamLACP      `json:"lacp,omitempty"`
	DirectedARPs uint64         `json:"directed_arps_sent"`
	// ClientMoves counts the clients receive balancing by traffic moved;
	// ClientsUncounted the clients whose traffic is not counted (no free
	// slot in the inbound client table).
	ClientMoves      uint64 `json:"client_balance_moves"`
	ClientsUncounted int    `json:"clients_uncounted,omitempty"`
	// LearningFrames counts the SLB learning frames sent.
	LearningFrames uint64       `json:"learning_frames_sent"`
	Kernel         PortCounters `json:"kernel"`
	// Retired are the frames counted on member slots no member holds now
	// (members removed since the start), so that the team's frames in
	// still add up to its frames out plus drops.
	Retired    PortCounters `json:"retired_members"`
	KernelPath KernelPath   `json:"kernel_path"`
	// ToControl counts frames the data plane handed to the control plane
	// (LACPDUs, markers, echo-node replies).
	ToControl uint64            `json:"to_control"`
	Drops     map[string]uint64 `json:"drops"`

	// ClientsRefused counts, by reason, the neighbours left out of the
	// SLB client table: own_address, own_mac, off_subnet, invalid.
	ClientsRefused map[string]uint64 `json:"clients_refused,omitempty"`
}

// KernelPath describes the team's TAP: its queues, the offloads the
// kernel uses, and the super-frames cut (TSO/USO from the kernel) and
// built (GRO to the kernel) in software.
type KernelPath struct {
	Interface   string `json:"interface"`
	Queues      int    `json:"queues"`
	Offloads    string `json:"offloads"`
	SuperFrames uint64 `json:"superframes_segmented"`
	// Offloaded are the TCP super-frames handed whole to members that
	// segment them (TSO on the NIC) or to a kernel-backed member's kernel
	// (GSO).
	Offloaded uint64 `json:"superframes_offloaded"`
	// KernelGSORefusedFull and KernelGSORefusedOther are the
	// super-frames a kernel-backed member's kernel refused whole:
	// ENOBUFS or EAGAIN (send buffer or device full), and any other
	// error (interface down or gone). KernelGSOBackoff are those not
	// offered to it because it refused one of their GSO type shortly
	// before (the next 64). All were segmented and sent through the PMD
	// instead (they are among SuperFrames).
	KernelGSORefusedFull  uint64 `json:"superframes_gso_refused_full"`
	KernelGSORefusedOther uint64 `json:"superframes_gso_refused_other"`
	KernelGSOBackoff      uint64 `json:"superframes_gso_backoff"`
	Coalesced             uint64 `json:"superframes_coalesced"`
	// CoalescedSegments are the wire segments the coalesced
	// super-frames were made of.
	CoalescedSegments uint64 `json:"segments_coalesced"`
}

// ClientStatus is one entry of the SLB inbound client table: the member
// the client sends to, and its inbound traffic (totals, and rates decayed
// RouterStatus is a neighbour kept on the path member: Kind is gateway,
// hsrp, vrrp, glbp or proxy-arp (slb.Routers).
type RouterStatus struct {
	IP   string `json:"ip"`
	Kind string `json:"kind"`
}

// over about one rx_balance_interval).
type ClientStatus struct {
	IP         string  `json:"ip"`
	MAC        string  `json:"mac"`
	Member     string  `json:"member"`
	Packets    uint64  `json:"rx_packets"`
	Bytes      uint64  `json:"rx_bytes"`
	Rate       float64 `json:"rx_bytes_per_second"`
	PacketRate float64 `json:"rx_packets_per_second"`
	// Moves counts the client's moves between members (not its first
	// assignment).
	Moves uint64 `json:"moves"`
}

// VLANStatus describes one VLAN of a team.
type VLANStatus struct {
	ID        int      `json:"id"`
	Interface string   `json:"interface"`
	Addresses []string `json:"addresses"`
}

// MemberStatus describes one member.
type MemberStatus struct {
	Name   string `json:"name"`
	Device string `json:"device"`
	// Slot is the member's index in the data plane (it keeps it while
	// other members come and go).
	Slot     int          `json:"slot"`
	MAC      string       `json:"mac"`
	WireMAC  string       `json:"wire_mac"` // the MAC SLB clients are pointed at
	Role     string       `json:"role"`
	State    string       `json:"state"` // active, standby, down
	Path     bool         `json:"path"`  // carries the team MAC
	Buckets  int          `json:"buckets"`
	Link     bool         `json:"link"`
	Carrier  *bool        `json:"carrier,omitempty"`
	SpeedMb  uint32       `json:"speed_mbps"`
	Downs    uint64       `json:"link_downs"`
	Counters PortCounters `json:"counters"`
	// TxOffloads are the transmit offloads the device offers; teamgw
	// segments and checksums in software where it offers none.
	TxOffloads string `json:"tx_offloads"`
	// TSO: TCP super-frames from the kernel leave on this member whole,
	// for the device to segment (it offers TSO, checksums and chains).
	TSO bool `json:"tso"`
	// KernelGSO: a kernel-backed member (net_af_packet) whose TCP
	// super-frames from the kernel leave whole on teamgw's packet sockets,
	// for the member interface's kernel to segment (GSO) where needed.
	KernelGSO bool `json:"kernel_gso,omitempty"`
	// Probe are the member's echo-node probe counters (SLB teams with an
	// echo node).
	Probe *MemberProbe `json:"probe,omitempty"`
	// Clients are the SLB clients the member receives for and ClientLoad
	// their decayed inbound traffic in bytes per second.
	Clients    int     `json:"clients"`
	ClientLoad float64 `json:"client_load_bytes_per_second"`
	// NIC are the device's own drop and error counters (rte_eth_stats).
	NIC  NICCounters `json:"nic"`
	LACP *MemberLACP `json:"lacp,omitempty"`
}

// MemberProbe is one member's echo-node probing (seed 003): probes sent,
// replies received, the last round trip, and whether its path is failed.
type MemberProbe struct {
	Sent       uint64        `json:"sent"`
	Replies    uint64        `json:"replies"`
	LastRTT    time.Duration `json:"last_rtt_ns"`
	PathFailed bool          `json:"path_failed"`
}

// NICCounters are what a member device itself dropped or failed: frames
// its RX ring had no room for (missed), no mbuf for, or that had errors.
type NICCounters struct {
	RxMissed uint64 `json:"rx_missed"`
	RxNoMbuf uint64 `json:"rx_nombuf"`
	RxErrors uint64 `json:"rx_errors"`
	TxErrors uint64 `json:"tx_errors"`
}

// TeamLACP is a team's 802.1AX aggregator state and counters.
type TeamLACP struct {
	PartnerSystem   string `json:"partner_system"`
	PartnerKey      uint16 `json:"partner_key"`
	MarkersAnswered uint64 `json:"markers_answered"`
	// MarkersThrottled are Marker PDUs left unanswered by the rate limit
	// (markerAnswersPerSecond per member).
	MarkersThrottled uint64 `json:"markers_throttled"`
	Bad              uint64 `json:"bad_frames"`  // slow-protocols frames that did not parse
	Looped           uint64 `json:"looped_pdus"` // LACPDUs carrying our own system ID
}

// MemberLACP is a member's 802.1AX state (lacp teams).
type MemberLACP struct {
	Actor        string `json:"actor"`   // system,key,port priority,port
	Partner      string `json:"partner"` // likewise
	ActorState   string `json:"actor_state"`
	PartnerState string `json:"partner_state"`
	Receive      string `json:"receive"`
	Mux          string `json:"mux"`
	Selected     bool   `json:"selected"`
	Reason       string `json:"reason,omitempty"` // why not selected
	// InSyncAtPartner: the partner's last LACPDU showed this port in
	// sync (lacp.Port.InSyncAtPartner); a member that distributes
	// without it carries no flows while others do.
	InSyncAtPartner bool   `json:"in_sync_at_partner"`
	PDUsRx          uint64 `json:"lacpdus_rx"`
	PDUsTx          uint64 `json:"lacpdus_tx"`
	Expired         uint64 `json:"expired"`
	Defaulted       uint64 `json:"defaulted"`
	// Marker Generator (planned removal, 802.1AX 5.5): markers sent,
	// responses that answered them in time, markers given up, responses
	// that matched no outstanding marker, whether one is out now, and the
	// round trip of the last one answered.
	MarkersTx       uint64        `json:"markers_tx"`
	MarkerResponses uint64        `json:"marker_responses_rx"`
	MarkerTimeouts  uint64        `json:"marker_timeouts"`
	MarkerUnmatched uint64        `json:"marker_responses_unmatched"`
	MarkerPending   bool          `json:"marker_pending"`
	LastMarkerRTT   time.Duration `json:"last_marker_rtt_ns"`
}

// PortCounters are frames and bytes a port received and sent.
type PortCounters struct {
	RxPackets uint64 `json:"rx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	// TxPackets counts frames handed to the device: a TCP super-frame
	// left to a member's TSO counts once (its bytes count in full).
	TxPackets uint64 `json:"tx_packets"`
	TxBytes   uint64 `json:"tx_bytes"`
}

// ErrStopped is returned by Status once Run has returned.
var ErrStopped = errors.New("control: daemon stopped")

// Status asks the Run loop for a snapshot.
func (d *Daemon) Status(ctx context.Context) (*Status, error) {
	reply := make(chan *Status, 1)
	select {
	case d.requests <- func() { reply <- d.buildStatus() }:
	case <-d.done:
		return nil, ErrStopped
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case s := <-reply:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (d *Daemon) buildStatus() *Status {
	s := &Status{Started: d.started, Process: processStatus()}
	if d.pool != nil {
		s.Process.MbufsInUse = d.pool.InUse()
		s.Process.MbufsTotal = d.cfg.EAL.Mbufs
	}
	for i, w := range d.workers {
		io := w.IOCounters()
		c := w.Counters()
		s.Workers = append(s.Workers, WorkerInfo{
			ID: i, Core: d.cfg.EAL.WorkerCores[i], Lcore: w.Lcore(),
			Steps: io.Steps, IdleSteps: io.IdleSteps,
			Vectors: c.Vectors.Load(), Packets: c.Packets.Load(), InjectLost: io.InjectUnroutable, InjectFull: io.InjectDropped,
			TxRefused: io.TxRefused, VectorSizes: vectorSizes(c), ControlDropped: io.ControlDropped,
			Stalled: i < len(d.watch) && d.watch[i].stalled,
		})
	}
	totals := d.Totals()
	for ti, t := range d.teams {
		ts := TeamStatus{
			Name: t.cfg.Name, Mode: t.cfg.Mode, MAC: t.mac.String(), Active: "none",
			Failovers: t.failovers, BucketMoves: t.bucketMoves, FailoverSeconds: t.failover.status(),
			Drops: map[string]uint64{}, Classes: map[string]uint64{},
			Kernel: portCounters(totals[ti].Ports[dataplane.TapIndex]),
		}
		var retired dataplane.PortTotals
		for slot := range dataplane.MaxMembers {
			if !slices.ContainsFunc(t.members, func(m *member) bool { return m.slot == slot }) {
				retired = retired.Plus(totals[ti].Ports[slot])
			}
		}
		for _, m := range t.members {
			retired = retired.Plus(m.base)
		}
		ts.Retired = portCounters(retired)
		for _, a := range d.teamAddrs(t) {
			ts.Addresses = append(ts.Addresses, a.String())
		}
		if t.path >= 0 {
			ts.Active = t.members[t.path].cfg.Name()
		}
		ts.ToControl = totals[ti].ToControl
		for ip, kind := range t.routers {
			ts.Routers = append(ts.Routers, RouterStatus{IP: ip.String(), Kind: kind})
		}
		slices.SortFunc(ts.Routers, func(a, b RouterStatus) int { return strings.Compare(a.IP, b.IP) })
		ts.KernelPath = KernelPath{Interface: t.cfg.Name, SuperFrames: totals[ti].SuperFrames,
			Offloaded:             totals[ti].OffloadedFrames,
			KernelGSORefusedFull:  totals[ti].KernelGSORefused[dataplane.GSORefusedFull],
			KernelGSORefusedOther: totals[ti].KernelGSORefused[dataplane.GSORefusedOther],
			KernelGSOBackoff:      totals[ti].KernelGSOBackoff,
			Coalesced:             totals[ti].Coalesced, CoalescedSegments: totals[ti].CoalescedSegments}
		if t.tap != nil {
			ts.KernelPath.Queues, ts.KernelPath.Offloads = t.tap.Queues(), t.tap.Offloads.String()
		}
		ts.DirectedARPs = t.directedSent
		ts.ClientMoves, ts.ClientsUncounted = t.inbound.moves, t.inbound.uncounted
		perMember, perLoad := t.memberClientLoad()
		ts.ClientsRefused = t.refusals()
		ts.LearningFrames = t.learningSent
		if t.lacp != nil {
			sys, key := t.lacp.agg.Partner()
			ts.LACP = &TeamLACP{PartnerSystem: sys.String(), PartnerKey: key,
				MarkersAnswered: t.lacp.markers, MarkersThrottled: t.lacp.throttled, Bad: t.lacp.bad, Looped: t.lacp.looped}
		}
		clients := slices.Clone(t.clients)
		slices.SortFunc(clients, func(a, b *slb.Client) int { return a.IP.Compare(b.IP) })
		for _, c := range clients {
			cs := ClientStatus{IP: c.IP.String(), MAC: frame.MAC(c.MAC).String(), Member: "none",
				Packets: c.Packets, Bytes: c.Bytes, Rate: c.Load, PacketRate: c.PacketRate, Moves: c.Moves}
			if c.Member >= 0 && c.Member < len(t.members) {
				cs.Member = t.members[c.Member].cfg.Name()
			}
			ts.Clients = append(ts.Clients, cs)
		}
		for _, v := range t.cfg.VLANs {
			vs := VLANStatus{ID: v.ID, Interface: v.Name}
			for _, a := range interfaceAddrs(v.Name) {
				vs.Addresses = append(vs.Addresses, a.String())
			}
			ts.VLANs = append(ts.VLANs, vs)
		}
		for c, n := range totals[ti].Classes {
			ts.Classes[classify.Class(c).String()] = n
		}
		buckets := make([]int, len(t.members))
		for _, mi := range t.table {
			if int(mi) < len(buckets) && t.active[mi] {
				buckets[mi]++
			}
		}
		for r, n := range totals[ti].Drops {
			ts.Drops[dataplane.DropReason(r).String()] = n
		}
		for mi, m := range t.members {
			ms := MemberStatus{
				Name: m.cfg.Name(), Device: m.cfg.Device, Slot: m.slot, MAC: m.mac.String(), WireMAC: wireMAC(m).String(),
				Role: m.cfg.Role, Link: m.linkUp, Downs: m.downs,
				Path: mi == t.path, Buckets: buckets[mi], Clients: perMember[mi], ClientLoad: perLoad[mi],
				Counters: portCounters(totals[ti].Ports[m.slot].Sub(m.base)),
			}
			if ms.Role == "" {
				ms.Role = "normal"
			}
			if mi == t.policy.Primary && m.cfg.Role == "" {
				ms.Role = "primary"
			}
			if m.cfg.Carrier != "" {
				c := m.carrierUp
				ms.Carrier = &c
			}
			if t.lacp != nil {
				ms.LACP = memberLACP(t.lacp, mi)
			}
			if l, err := m.port.Link(); err == nil {
				ms.SpeedMb = l.SpeedMbps
			}
			if t.probes != nil {
				ms.Probe = &MemberProbe{Sent: m.probe.sent, Replies: m.probe.replies, LastRTT: m.probe.rtt, PathFailed: t.pathFailed(m)}
			}
			if info, err := m.port.Info(); err == nil {
				ms.TxOffloads = dpdk.TxOffloadNames(info.TxOffloads)
			}
			ms.TSO = dataplane.SegmentsTCP(m.port)
			ms.KernelGSO = m.tx != nil
			if st, err := m.port.Stats(); err == nil {
				ms.NIC = NICCounters{RxMissed: st.RxMissed, RxNoMbuf: st.RxNoMbuf, RxErrors: st.RxErrors, TxErrors: st.TxErrors}
			}
			switch {
			case m.removing:
				ms.State = "removing"
			case m.disabled:
				ms.State = "disabled"
			case t.pathFailed(m):
				ms.State = "path-failed"
			case mi == t.path || t.active[mi]:
				ms.State = "active"
			case m.up:
				ms.State = "standby"
			default:
				ms.State = "down"
			}
			ts.Members = append(ts.Members, ms)
		}
		s.Teams = append(s.Teams, ts)
	}
	return s
}

func portCounters(p dataplane.PortTotals) PortCounters {
	return PortCounters{RxPackets: p.RxPackets, RxBytes: p.RxBytes, TxPackets: p.TxPackets, TxBytes: p.TxBytes}
}

func portInfo(p lacp.PortInfo) string {
	return fmt.Sprintf("%s,key %d,port %d/%d", p.System, p.Key, p.PortPriority, p.Port)
}

func memberLACP(lt *lacpTeam, i int) *MemberLACP {
	p := lt.ports[i]
	c := p.Counters()
	g := lt.gens[i]
	mc := g.Counters()
	sel, reason := lt.agg.Selected(p)
	return &MemberLACP{
		Actor: portInfo(p.Actor()), Partner: portInfo(p.Partner()),
		ActorState: p.Actor().State.String(), PartnerState: p.Partner().State.String(),
		Receive: p.ReceiveState().String(), Mux: p.MuxState().String(),
		Selected: sel, Reason: reason, InSyncAtPartner: p.InSyncAtPartner(),
		PDUsRx: c.LACPDUsRx, PDUsTx: c.LACPDUsTx, Expired: c.Expired, Defaulted: c.Defaulted,
		MarkersTx: mc.MarkersTx, MarkerResponses: mc.ResponsesRx, MarkerTimeouts: mc.Timeouts,
		MarkerUnmatched: mc.Unmatched, MarkerPending: g.Pending(), LastMarkerRTT: g.LastRTT(),
	}
}

// processStatus samples the process's goroutines and memory.
func processStatus() ProcessStatus {
	// runtime/metrics, not ReadMemStats: no stop-the-world, so a status
	// still answers while a worker thread is stuck in Go code.
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	p := ProcessStatus{Goroutines: runtime.NumGoroutine()}
	if sample[0].Value.Kind() == metrics.KindUint64 {
		p.HeapBytes = sample[0].Value.Uint64()
	}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		var size, resident uint64
		if _, err := fmt.Sscan(string(b), &size, &resident); err == nil {
			p.RSSBytes = resident * uint64(os.Getpagesize())
		}
	}
	return p
}

func vectorSizes(c *dataplane.WorkerCounters) []uint64 {
	out := make([]uint64, len(c.VectorSizes))
	for i := range out {
		out[i] = c.VectorSizes[i].Load()
	}
	return out
}
