package control

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/teamgw/teamgw/dataplane"
)

// metricsCollector exposes the daemon's state to Prometheus. It reads one
// consistent Status per scrape (through the Run loop), so scraping costs
// the data path nothing: workers only ever bump their own counters.
type metricsCollector struct {
	d *Daemon

	buildInfo                                  *prometheus.Desc
	memberRxPackets, memberRxBytes             *prometheus.Desc
	memberTxPackets, memberTxBytes             *prometheus.Desc
	kernelRxPackets, kernelRxBytes             *prometheus.Desc
	kernelTxPackets, kernelTxBytes             *prometheus.Desc
	drops, classes                             *prometheus.Desc
	memberUp, memberActive, memberPath         *prometheus.Desc
	memberBuckets, memberLinkDowns, memberInfo *prometheus.Desc
	failovers, bucketMoves, failoverSeconds    *prometheus.Desc
	clients, directedARPs                      *prometheus.Desc
	clientLoad, clientMoves                    *prometheus.Desc
	clientsRefused                             *prometheus.Desc
	workerSteps, workerIdle, workerPackets     *prometheus.Desc
	superFrames, coalescedSegs                 *prometheus.Desc
	nicDrops                                   *prometheus.Desc
	lacpAnswered, lacpBad, lacpLooped          *prometheus.Desc
	lacpThrottled                              *prometheus.Desc
	markersSent, markerResponses               *prometheus.Desc
	markerTimeouts, markerRTT                  *prometheus.Desc
	lacpPDUs, lacpDistributing, lacpExpired    *prometheus.Desc
	probeSent, probeReplies, probeRTT          *prometheus.Desc
	probePathFailed, vectorSize                *prometheus.Desc
	workerStalled                              *prometheus.Desc
}

func newMetricsCollector(d *Daemon) *metricsCollector {
	team := []string{"team"}
	member := []string{"team", "member"}
	desc := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc("teamgw_"+name, help, labels, nil)
	}
	return &metricsCollector{
		d:               d,
		buildInfo:       desc("build_info", "Build of the running teamgw (value 1).", []string{"version", "goversion"}),
		memberRxPackets: desc("member_receive_packets_total", "Frames received on a member.", member),
		memberRxBytes:   desc("member_receive_bytes_total", "Bytes received on a member.", member),
		memberTxPackets: desc("member_transmit_packets_total", "Frames transmitted on a member.", member),
		memberTxBytes:   desc("member_transmit_bytes_total", "Bytes transmitted on a member.", member),
		kernelRxPackets: desc("kernel_receive_packets_total", "Frames received from the team's kernel interfaces.", team),
		kernelRxBytes:   desc("kernel_receive_bytes_total", "Bytes received from the team's kernel interfaces.", team),
		kernelTxPackets: desc("kernel_transmit_packets_total", "Frames passed to the team's kernel interfaces.", team),
		kernelTxBytes:   desc("kernel_transmit_bytes_total", "Bytes passed to the team's kernel interfaces.", team),
		drops:           desc("drops_total", "Frames dropped by the data plane, by reason.", []string{"team", "reason"}),
		classes:         desc("kernel_frames_classified_total", "Frames from the kernel by balancing class.", []string{"team", "class"}),
		memberUp:        desc("member_up", "1 when the member's link (and kernel carrier) is up.", member),
		memberActive:    desc("member_active", "1 when the member carries traffic.", member),
		memberPath:      desc("member_path", "1 for the member that carries the team MAC, broadcasts and non-IP traffic.", member),
		memberBuckets:   desc("member_flow_buckets", "Outbound flow buckets assigned to the member.", member),
		memberLinkDowns: desc("member_link_downs_total", "Times the member lost its link.", member),
		memberInfo:      desc("member_info", "Member metadata (value 1).", []string{"team", "member", "device", "mac", "role"}),
		failovers:       desc("failovers_total", "Times the path member changed because it went down.", team),
		failoverSeconds: desc("failover_duration_seconds", "From a member that carried traffic losing its link (as seen by control) to the forwarding snapshot without it being published.", team),
		clients:         desc("member_clients", "SLB clients whose traffic the member receives (receive balancing).", member),
		directedARPs:    desc("directed_arps_sent_total", "Directed gratuitous ARPs sent to re-point SLB clients.", team),
		clientLoad:      desc("member_client_load_bytes_per_second", "Inbound traffic of the SLB clients the member receives for, decayed over about one rx_balance_interval.", member),
		clientMoves:     desc("client_balance_moves_total", "SLB clients moved between members by receive balancing by traffic.", team),
		clientsRefused:  desc("clients_refused_total", "Neighbours not taken as SLB clients, by reason (own_address, own_mac, off_subnet, invalid).", []string{"team", "reason"}),
		bucketMoves:     desc("flow_bucket_moves_total", "Outbound flow buckets moved (failover, fallback, rebalancing).", team),
		workerSteps:     desc("worker_polls_total", "Poll iterations of a worker lcore.", []string{"worker"}),
		workerIdle:      desc("worker_idle_polls_total", "Poll iterations that found no packet (busy ratio = 1 - idle/polls).", []string{"worker"}),
		workerPackets:   desc("worker_packets_total", "Packets a worker lcore handled.", []string{"worker"}),
		superFrames: desc("kernel_superframes_total",
			"TCP/UDP super-frames of the kernel path: cut into wire segments (direction=segmented, TSO/USO in software), handed whole to a member NIC's TSO or a kernel-backed member's GSO (direction=offloaded), refused whole by such a member's kernel and segmented instead (direction=gso_refused_full: ENOBUFS/EAGAIN, send buffer or device full; direction=gso_refused_other: any other error, such as the interface down), segmented without being offered to that kernel because it refused one of their GSO type within the previous 64 (direction=gso_backoff) or built from wire segments (direction=coalesced, GRO).", []string{"team", "direction"}),
		coalescedSegs: desc("kernel_coalesced_segments_total", "Wire segments merged into super-frames for the kernel.", team),
		nicDrops: desc("member_nic_drops_total",
			"Frames the member device itself dropped or failed (rx_missed: RX ring full, rx_nombuf, rx_errors, tx_errors).", []string{"team", "member", "reason"}),
		lacpAnswered:     desc("lacp_markers_answered_total", "Marker PDUs from the partner answered with a Marker Response (lacp teams).", team),
		lacpThrottled:    desc("lacp_markers_throttled_total", "Marker PDUs left unanswered: the member already sent its responses for this second (rate limit).", team),
		lacpBad:          desc("lacp_bad_frames_total", "Slow-protocols frames that did not parse, ignored (lacp teams).", team),
		lacpLooped:       desc("lacp_looped_pdus_total", "LACPDUs carrying the team's own system ID (a loop), ignored.", team),
		markersSent:      desc("lacp_markers_sent_total", "Marker PDUs sent before the member left distribution on purpose.", member),
		markerResponses:  desc("lacp_marker_responses_total", "Marker Responses that answered the member's marker in time.", member),
		markerTimeouts:   desc("lacp_marker_timeouts_total", "Markers the partner did not answer within the marker timeout.", member),
		markerRTT:        desc("lacp_marker_rtt_seconds", "Round trip of the member's last answered marker (0 until one is).", member),
		lacpPDUs:         desc("lacp_pdus_total", "LACPDUs received (direction=rx) and sent (direction=tx) on the member.", []string{"team", "member", "direction"}),
		lacpDistributing: desc("lacp_distributing", "1 when 802.1AX has the member Collecting and Distributing.", member),
		lacpExpired:      desc("lacp_partner_expired_total", "Times the member's partner information expired (no LACPDU within the timeout).", member),
		probeSent:        desc("probe_sent_total", "Echo-node probes sent on the member (SLB path validation).", member),
		probeReplies:     desc("probe_replies_total", "Echo-node replies received on the member; sent - replies are the misses.", member),
		probeRTT:         desc("probe_rtt_seconds", "Round trip of the member's last echo-node reply.", member),
		probePathFailed:  desc("member_path_failed", "1 while the member's echo-node probes go unanswered and it carries no traffic.", member),
		vectorSize:       desc("worker_vector_packets", "Packets per vector a worker handled (burst size).", []string{"worker"}),
		workerStalled:    desc("worker_stalled", "1 while the worker lcore has not polled for 2 s.", []string{"worker"}),
	}
}

// Describe sends every descriptor.
func (c *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.buildInfo, c.memberRxPackets, c.memberRxBytes, c.memberTxPackets,
		c.memberTxBytes, c.kernelRxPackets, c.kernelRxBytes, c.kernelTxPackets, c.kernelTxBytes, c.drops,
		c.classes, c.memberUp, c.memberActive, c.memberPath, c.memberBuckets, c.memberLinkDowns, c.memberInfo,
		c.failovers, c.bucketMoves, c.failoverSeconds, c.clients, c.directedARPs, c.clientLoad, c.clientMoves, c.clientsRefused, c.workerSteps, c.workerIdle, c.workerPackets,
		c.lacpAnswered, c.lacpThrottled, c.lacpBad, c.lacpLooped, c.markersSent, c.markerResponses, c.markerTimeouts, c.markerRTT, c.superFrames, c.coalescedSegs, c.nicDrops,
		c.lacpPDUs, c.lacpDistributing, c.lacpExpired, c.probeSent, c.probeReplies, c.probeRTT, c.probePathFailed, c.vectorSize, c.workerStalled} {
		ch <- d
	}
}

// Collect reads a Status and turns it into metrics.
func (c *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	version := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	ch <- prometheus.MustNewConstMetric(c.buildInfo, prometheus.GaugeValue, 1, version, runtime.Version())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.d.Status(ctx)
	if err != nil {
		return
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	b := func(x bool) float64 {
		if x {
			return 1
		}
		return 0
	}
	for _, t := range s.Teams {
		counter(c.kernelRxPackets, t.Kernel.RxPackets, t.Name)
		counter(c.kernelRxBytes, t.Kernel.RxBytes, t.Name)
		counter(c.kernelTxPackets, t.Kernel.TxPackets, t.Name)
		counter(c.kernelTxBytes, t.Kernel.TxBytes, t.Name)
		counter(c.failovers, t.Failovers, t.Name)
		fs := t.FailoverSeconds
		buckets := make(map[float64]uint64, len(fs.Buckets))
		for _, b := range fs.Buckets {
			buckets[b.Le] = b.Count
		}
		ch <- prometheus.MustNewConstHistogram(c.failoverSeconds, fs.Count, fs.Sum, buckets, t.Name)
		counter(c.bucketMoves, t.BucketMoves, t.Name)
		counter(c.directedARPs, t.DirectedARPs, t.Name)
		counter(c.clientMoves, t.ClientMoves, t.Name)
		counter(c.superFrames, t.KernelPath.SuperFrames, t.Name, "segmented")
		counter(c.superFrames, t.KernelPath.Offloaded, t.Name, "offloaded")
		counter(c.superFrames, t.KernelPath.KernelGSORefusedFull, t.Name, "gso_refused_full")
		counter(c.superFrames, t.KernelPath.KernelGSORefusedOther, t.Name, "gso_refused_other")
		counter(c.superFrames, t.KernelPath.KernelGSOBackoff, t.Name, "gso_backoff")
		counter(c.superFrames, t.KernelPath.Coalesced, t.Name, "coalesced")
		counter(c.coalescedSegs, t.KernelPath.CoalescedSegments, t.Name)
		if l := t.LACP; l != nil {
			counter(c.lacpAnswered, l.MarkersAnswered, t.Name)
			counter(c.lacpThrottled, l.MarkersThrottled, t.Name)
			counter(c.lacpBad, l.Bad, t.Name)
			counter(c.lacpLooped, l.Looped, t.Name)
		}
		perMember := map[string]int{}
		for _, cl := range t.Clients {
			perMember[cl.Member]++
		}
		for r, n := range t.Drops {
			counter(c.drops, n, t.Name, r)
		}
		for k, n := range t.Classes {
			counter(c.classes, n, t.Name, k)
		}
		for r, n := range t.ClientsRefused {
			counter(c.clientsRefused, n, t.Name, r)
		}
		for _, m := range t.Members {
			up := m.Link && (m.Carrier == nil || *m.Carrier)
			counter(c.memberRxPackets, m.Counters.RxPackets, t.Name, m.Name)
			counter(c.memberRxBytes, m.Counters.RxBytes, t.Name, m.Name)
			counter(c.memberTxPackets, m.Counters.TxPackets, t.Name, m.Name)
			counter(c.memberTxBytes, m.Counters.TxBytes, t.Name, m.Name)
			counter(c.memberLinkDowns, m.Downs, t.Name, m.Name)
			counter(c.nicDrops, m.NIC.RxMissed, t.Name, m.Name, "rx_missed")
			counter(c.nicDrops, m.NIC.RxNoMbuf, t.Name, m.Name, "rx_nombuf")
			counter(c.nicDrops, m.NIC.RxErrors, t.Name, m.Name, "rx_errors")
			counter(c.nicDrops, m.NIC.TxErrors, t.Name, m.Name, "tx_errors")
			gauge(c.memberUp, b(up), t.Name, m.Name)
			gauge(c.memberActive, b(m.State == "active"), t.Name, m.Name)
			gauge(c.memberPath, b(m.Path), t.Name, m.Name)
			gauge(c.memberBuckets, float64(m.Buckets), t.Name, m.Name)
			gauge(c.memberInfo, 1, t.Name, m.Name, m.Device, m.MAC, m.Role)
			gauge(c.clients, float64(perMember[m.Name]), t.Name, m.Name)
			if p := m.Probe; p != nil {
				counter(c.probeSent, p.Sent, t.Name, m.Name)
				counter(c.probeReplies, p.Replies, t.Name, m.Name)
				gauge(c.probeRTT, p.LastRTT.Seconds(), t.Name, m.Name)
				gauge(c.probePathFailed, b(p.PathFailed), t.Name, m.Name)
			}
			gauge(c.clientLoad, m.ClientLoad, t.Name, m.Name)
			if l := m.LACP; l != nil {
				counter(c.markersSent, l.MarkersTx, t.Name, m.Name)
				counter(c.markerResponses, l.MarkerResponses, t.Name, m.Name)
				counter(c.markerTimeouts, l.MarkerTimeouts, t.Name, m.Name)
				gauge(c.markerRTT, l.LastMarkerRTT.Seconds(), t.Name, m.Name)
				counter(c.lacpPDUs, l.PDUsRx, t.Name, m.Name, "rx")
				counter(c.lacpPDUs, l.PDUsTx, t.Name, m.Name, "tx")
				gauge(c.lacpDistributing, b(strings.Contains(l.ActorState, "distributing")), t.Name, m.Name)
				counter(c.lacpExpired, l.Expired, t.Name, m.Name)
			}
		}
	}
	for _, w := range s.Workers {
		id := fmt.Sprint(w.ID)
		counter(c.workerSteps, w.Steps, id)
		counter(c.workerIdle, w.IdleSteps, id)
		counter(c.workerPackets, w.Packets, id)
		gauge(c.workerStalled, b(w.Stalled), id)
		if len(w.VectorSizes) == len(dataplane.VectorSizeBounds) {
			buckets := make(map[float64]uint64, len(w.VectorSizes))
			var cum, count uint64
			for i, n := range w.VectorSizes {
				cum += n
				buckets[float64(dataplane.VectorSizeBounds[i])] = cum
				count += n
			}
			ch <- prometheus.MustNewConstHistogram(c.vectorSize, count, float64(w.Packets), buckets, id)
		}
	}
}

// Metrics serves Prometheus metrics over HTTP.
type Metrics struct {
	srv *http.Server
	ln  net.Listener
}

// apiRejected describes the control socket's refusals.
var apiRejected = prometheus.NewDesc("teamgw_api_rejected_total",
	"Control socket requests refused, by reason (not_root, busy, timeout, too_large, malformed, unknown_command).", []string{"reason"}, nil)

// Describe sends the API's descriptor.
func (a *API) Describe(ch chan<- *prometheus.Desc) { ch <- apiRejected }

// Collect sends the API's refusal counts.
func (a *API) Collect(ch chan<- prometheus.Metric) {
	for r := range numRejectReasons {
		ch <- prometheus.MustNewConstMetric(apiRejected, prometheus.CounterValue, float64(a.rejected[r].Load()), r.String())
	}
}

// ListenMetrics starts the metrics endpoint (/metrics) on addr, loopback by
// default; the Go runtime and process collectors come along, and so do
// extra collectors (the control API's).
func ListenMetrics(d *Daemon, addr string, extra ...prometheus.Collector) (*Metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newMetricsCollector(d), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(extra...)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	m := &Metrics{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln}
	go func() {
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Warn("metrics server", "err", err)
		}
	}()
	return m, nil
}

// Addr is where the endpoint listens.
func (m *Metrics) Addr() string { return m.ln.Addr().String() }

// Close stops the endpoint.
func (m *Metrics) Close() { m.srv.Close() }
