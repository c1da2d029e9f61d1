package control

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/configs"
	"github.com/teamgw/teamgw/control/linkwatch"
	"github.com/teamgw/teamgw/dataplane"
	"github.com/teamgw/teamgw/dataplane/afpacket"
	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/dataplane/tap"
	"github.com/teamgw/teamgw/slb"
)

// team is the control plane's state of one team; only the Run loop
// touches it after Start.
type team struct {
	// routers are the neighbours kept on the path member, and why
	// (slb.Routers).
	routers map[netip.Addr]string
	idx     int
	cfg     configs.Team
	mac     frame.MAC
	tap     *tap.Device
	vlans   []dataplane.VLANPort
	members []*member
	// pending are members being added (opened, handed to the workers,
	// not yet part of the team state) or removed members the workers
	// did not confirm dropping: they are closed when teamgw stops.
	pending []*member
	// stale are removed kernel interfaces the workers did not confirm
	// dropping, likewise.
	stale []*tap.Device
	// lacp is the 802.1AX state of an lacp team (nil otherwise).
	lacp *lacpTeam
	// probes is the echo-node probing of an SLB team (nil without one).
	probes *probeState
	// rx says which members may pass frames to the kernel when it differs
	// from active (LACP: members in Collecting).
	rx []bool
	// path is the member that carries what is not balanced (non-IP, ARP,
	// broadcast in SLB) and transmits with the team MAC; -1 when none.
	path int
	// active says which members carry flow buckets.
	active []bool
	// table is the outbound flow table: bucket -> member.
	table    []uint8
	rebal    *slb.Rebalancer
	policy   slb.Policy
	recheck  time.Time
	announce announcement
	// failovers counts changes of the path member away from a member
	// that went down.
	failovers uint64
	// clients is the SLB inbound client table; directed are the directed
	// gratuitous ARPs still to send, directedSent those sent.
	clients      []*slb.Client
	directed     []*pendingARP
	directedSent uint64
	lastNeigh    time.Time
	lastLearning time.Time
	learningSent uint64
	// inbound is the SLB clients' traffic accounting and balancer (rxload.go).
	inbound rxLoad
	// bucketMoves counts buckets moved, by failover, fallback or the
	// rebalancer.
	bucketMoves uint64
	lastRebal   time.Time
	// lossAt is when a member that carried traffic lost its link, until
	// the snapshot without it is published (failover duration).
	lossAt time.Time
	// failover is the failover-duration histogram.
	failover histogram

	// guard vets the neighbours that may become clients.
	guard clientGuard
}

// member is the control plane's state of one member port.
type member struct {
	cfg configs.Member
	// slot is the member's index in the forwarding snapshot and the
	// workers' port tables; it stays the same while the member belongs to
	// the team, whatever members come and go (dataplane.Worker.SetPorts).
	slot int
	// base is what the slot's counters held when the member took it;
	// the member's own counts are the slot's minus base.
	base  dataplane.PortTotals
	port  *dpdk.Port
	mac   frame.MAC
	iface *memberIface
	// tx are a kernel-backed member's transmit-only packet sockets, one
	// per worker: TCP super-frames from the TAP leave on them whole, for
	// the member's kernel to segment where its device needs it (issue 9).
	tx afpacket.Senders
	// wasPromisc: the kernel interface was promiscuous before teamgw
	// opened it, so teamgw leaves it so.
	wasPromisc bool
	// probe counts this member's echo-node probes (SLB with echo_node).
	probe probeStats
	// partnerMAC is the source MAC of the LACP partner's port (lacp
	// teams), published so its frames pass ahead of floods.
	partnerMAC frame.MAC
	// markerWindow and markerAnswers rate-limit Marker Responses (lacp
	// teams): answers sent in the second that began at markerWindow.
	markerWindow  time.Time
	markerAnswers int
	linkUp        bool // ethdev link
	carrierUp     bool // kernel carrier; true when not watched
	up            bool
	upSince       time.Time
	downs         uint64
	speed         uint32 // link speed in Mbit/s, 0 if unknown
	// disabled: taken out of the team by the operator (teamctl member
	// disable); it carries nothing whatever its link says.
	disabled bool
	// joining: added to the running team and not up yet.
	joining bool
	// removing: the member is leaving the team (teamctl member remove, a
	// reload); it carries nothing any more.
	removing bool
	// cleanup undoes what opening the member did, newest last.
	cleanup []func()
}

// announcement is a pending series of gratuitous ARPs and unsolicited
// neighbor advertisements from one member.
type announcement struct {
	member int
	left   int
	next   time.Time
}

// memberDevargs adds what teamgw needs to a member's devargs: one
// net_af_packet queue pair per worker (each af_packet queue is a socket in
// a fanout group, so a queue nobody polls would lose its share of frames),
// a deeper ring, and, for a jumbo MTU, ring frames large enough to hold a
// frame (the PMD drops what does not fit its 2048-byte default).
func memberDevargs(m configs.Member, workers uint16, mtu int) (string, error) {
	if m.Kind() != "net_af_packet" {
		return m.Device, nil
	}
	args := m.Args()
	dev := m.Device
	if q, ok := args["qpairs"]; ok {
		if n, err := strconv.Atoi(q); err != nil || n != int(workers) {
			return "", fmt.Errorf("member %s: qpairs=%s must equal the number of worker cores (%d)", m.Name(), q, workers)
		}
	} else {
		dev += ",qpairs=" + strconv.Itoa(int(workers))
	}
	_, fs := args["framesz"]
	_, bs := args["blocksz"]
	if _, fc := args["framecnt"]; !fc && !fs && mtu <= configs.DefaultMTU {
		// The PMD's 512-frame ring overflows (silently: DPDK 22.11 does
		// not report PACKET_STATISTICS drops) during the kernel's TSO
		// bursts; 2048 frames of 2 KB cost 4 MB per ring.
		dev += ",framecnt=2048"
	}
	if mtu > configs.DefaultMTU && !fs && !bs {
		// The kernel fills each page-sized block with whole frames and
		// the PMD expects frame i at i*framesz: the block must be a
		// multiple of the frame, so it is the least common multiple.
		sz := jumboFrame(mtu)
		block := sz
		for block%4096 != 0 {
			block += sz
		}
		dev += fmt.Sprintf(",framesz=%d,blocksz=%d", sz, block)
	}
	return dev, nil
}

// jumboFrame is the buffer one frame of an MTU needs: the frame with two
// VLAN tags and room for the PACKET_MMAP ring header, in KiB. It sizes
// both the af_packet ring frames and the mbufs (the PMD refuses a ring
// frame larger than an mbuf's data room).
func jumboFrame(mtu int) int { return (mtu + 14 + 8 + 128 + 1023) &^ 1023 }

// mbufDataRoom is the data room of the daemon's mbufs: the default, or
// for a jumbo MTU one jumbo frame plus headroom.
func mbufDataRoom(teams []configs.Team) uint16 {
	room := dpdk.DefaultDataRoom
	for _, t := range teams {
		if t.MTU > configs.DefaultMTU {
			room = max(room, jumboFrame(t.MTU)+128)
		}
	}
	return uint16(room)
}

// teamMAC picks the team MAC: the configured one, else the primary's MAC.
// A kernel-backed primary (net_af_packet) keeps its MAC on its kernel
// interface, so the team uses a locally administered variant of it: the
// kernel must not take frames for the team as its own.
func teamMAC(tc configs.Team, primary *member) (frame.MAC, error) {
	if tc.MAC != "" {
		hw, err := net.ParseMAC(tc.MAC)
		if err != nil {
			return frame.MAC{}, err
		}
		mac, _ := frame.MACFrom(hw)
		return mac, nil
	}
	mac := primary.mac
	if primary.cfg.Kind() == "net_af_packet" {
		mac[0] = (mac[0] | 0x02) &^ 0x01
		mac[3] ^= 0x80
	}
	return mac, nil
}

func (d *Daemon) startTeam(idx int, tc configs.Team) (*team, error) {
	t := &team{idx: idx, cfg: tc, path: -1, active: make([]bool, len(tc.Members))}
	t.rebal = slb.NewRebalancer(slb.DefaultRebalanceConfig(), dataplane.NBuckets)
	t.policy = slb.Policy{
		Primary:       tc.PrimaryIndex(),
		FallbackDelay: tc.FallbackDelay.Duration,
		AutoFallback:  tc.AutoFallbackEnabled(),
	}
	// One clean-up step for everything the team opens, members included,
	// so that members added or removed later are closed exactly once.
	d.onUndo(func() { d.closeTeam(t) })
	for i, mc := range tc.Members {
		m, err := d.startMember(mc, tc.MTU)
		if err != nil {
			return nil, fmt.Errorf("member %d (%s): %w", i, mc.Device, err)
		}
		m.slot = i
		t.members = append(t.members, m)
		d.event(EventMemberBound, "member port opened", "team", tc.Name, "member", mc.Name(), "port", m.port.ID, "mac", m.mac.String())
	}
	mac, err := teamMAC(tc, t.members[t.policy.Primary])
	if err != nil {
		return nil, err
	}
	t.mac = mac
	if tc.Mode == configs.ModeLACP {
		d.startLACP(t)
	}
	d.startProbes(t)
	for _, m := range t.members {
		if err := d.joinTeam(t, m); err != nil {
			return nil, err
		}
	}
	if err := d.startTap(t); err != nil {
		return nil, err
	}
	return t, nil
}

// joinTeam makes a started member port receive what the team needs: the
// team MAC (a filter entry where the NIC has one, promiscuous mode where
// it does not: af_packet, most vdevs) and multicast, at the team's MTU.
func (d *Daemon) joinTeam(t *team, m *member) error {
	if err := m.port.AddMAC(t.mac[:]); err != nil {
		if err := m.port.SetPromiscuous(true); err != nil {
			return fmt.Errorf("member %s: cannot receive the team MAC: %w", m.cfg.Name(), err)
		}
		if !m.wasPromisc {
			m.onClose(func() { m.port.SetPromiscuous(false) })
		}
	}
	if m.port.SetAllMulticast(true) == nil {
		m.onClose(func() { m.port.SetAllMulticast(false) })
	}
	if err := m.port.SetMTU(uint16(t.cfg.MTU)); err != nil && !errors.Is(err, unix.ENOTSUP) {
		d.log.Warn("member MTU", "member", m.cfg.Name(), "mtu", t.cfg.MTU, "err", err)
	}
	return nil
}

// onClose registers a step of the member's clean-up.
func (m *member) onClose(f func()) { m.cleanup = append(m.cleanup, f) }

// close undoes everything opening the member did, newest first: its
// kernel interface's state, promiscuous and all-multicast modes, the
// link-state watch, and the port itself (stopped and detached).
func (m *member) close() {
	for i := len(m.cleanup) - 1; i >= 0; i-- {
		m.cleanup[i]()
	}
	m.cleanup = nil
}

// closeTeam closes the team's kernel interfaces and then its members.
func (d *Daemon) closeTeam(t *team) {
	for _, dev := range t.stale {
		d.closeKernelPort(dev)
	}
	t.stale = nil
	for i := len(t.vlans) - 1; i >= 0; i-- {
		d.closeKernelPort(t.vlans[i].Kernel)
	}
	t.vlans = nil
	if t.tap != nil {
		d.closeKernelPort(t.tap)
		t.tap = nil
	}
	for _, m := range slices.Backward(append(slices.Clone(t.members), t.pending...)) {
		m.close()
	}
}

// startMember opens a member port: probe, one queue pair per worker, link
// watching, start, and the kernel interface behind it prepared. On error
// what was opened is closed again.
func (d *Daemon) startMember(mc configs.Member, mtu int) (_ *member, err error) {
	devargs, err := memberDevargs(mc, d.queues(), mtu)
	if err != nil {
		return nil, err
	}
	m := &member{cfg: mc, carrierUp: true}
	if mc.Kind() == "net_af_packet" {
		iface := mc.Args()["iface"]
		flags, err := ifFlags(iface)
		if err != nil {
			return nil, fmt.Errorf("kernel interface %q: %w", iface, err)
		}
		m.wasPromisc = flags&unix.IFF_PROMISC != 0
	}
	p, err := dpdk.Probe(devargs)
	if err != nil {
		return nil, err
	}
	m.port = p
	defer func() {
		if err != nil {
			m.close()
		}
	}()
	m.onClose(func() {
		p.Stop()
		if err := p.Remove(); err != nil {
			d.log.Warn("removing member port", "member", p.Name, "err", err)
		}
	})
	info, err := p.Info()
	if err != nil {
		return nil, err
	}
	q := d.queues()
	if info.MaxRxQueues < q || info.MaxTxQueues < q {
		return nil, fmt.Errorf("device has %d/%d RX/TX queues, %d workers need %d", info.MaxRxQueues, info.MaxTxQueues, q, q)
	}
	// TCP segmentation and the checksums it implies, on devices that
	// offer them: the kernel's super-frames then leave whole (issue 9).
	tx := uint64(dpdk.TxOffloadTCPTSO | dpdk.TxOffloadIPv4Csum | dpdk.TxOffloadTCPCsum | dpdk.TxOffloadMultiSegs)
	conf := dpdk.PortConfig{RxQueues: q, TxQueues: q, RSS: q > 1, LSC: info.LSC, TxOffloads: tx, Pool: d.pool}
	// The device takes the team's MTU; an af_packet member's is its
	// kernel interface's (prepareMemberIface), whatever the PMD reports.
	if mc.Kind() != "net_af_packet" {
		if info.MaxMTU != 0 && uint32(mtu) > info.MaxMTU {
			return nil, fmt.Errorf("team MTU %d is more than the device's largest, %d", mtu, info.MaxMTU)
		}
		conf.MTU = uint32(mtu)
	}
	if err := p.Configure(conf); err != nil {
		return nil, err
	}
	if info.LSC {
		if err := d.lsc.Watch(p); err != nil {
			return nil, err
		}
		m.onClose(func() { d.lsc.Unwatch(p) })
	}
	hw, err := p.MAC()
	if err != nil {
		return nil, err
	}
	m.mac, _ = frame.MACFrom(hw)
	if err := p.Start(); err != nil {
		return nil, err
	}
	if mc.Kind() == "net_af_packet" {
		mi, err := prepareMemberIface(mc.Args()["iface"])
		if err != nil {
			return nil, err
		}
		m.iface = mi
		m.onClose(mi.restore)
		o, ok, err := memberTxOptions(mc)
		if err != nil {
			return nil, err
		}
		if ok {
			tx, err := afpacket.OpenSenders(mc.Args()["iface"], int(q), o)
			if err != nil {
				return nil, err
			}
			m.tx = tx
			m.onClose(func() { tx.Close() })
		}
	}
	return m, nil
}

// memberTxOptions are the options of a kernel-backed member's packet
// sockets, and whether it gets any (see memberTxPlan).
func memberTxOptions(mc configs.Member) (afpacket.Options, bool, error) {
	iface := mc.Args()["iface"]
	tso, err := afpacket.OffersTSO(iface)
	if err != nil {
		return afpacket.Options{}, false, fmt.Errorf("kernel interface %q: %w", iface, err)
	}
	o, ok := memberTxPlan(mc.Args(), tso)
	return o, ok, nil
}

// memberTxPlan decides whether a kernel-backed member with devargs args,
// on an interface that segments TCP itself or not (tso), gets packet
// sockets for whole super-frames, and their options. It does only when
// both its sockets and the PMD's go past the interface's queueing
// discipline:
//
//   - A frame sent through the qdisc (dev_queue_xmit) is copied to every
//     other ETH_P_ALL packet socket on the interface, the PMD's RX sockets
//     among them (DPDK 22.11 does not set PACKET_IGNORE_OUTGOING on them):
//     our super-frames, or the segments the kernel cuts them into, would
//     come back in on the member and be dropped as loops. The direct
//     transmit past the qdisc hands no copies to packet taps.
//   - The kernel drops a GSO skb sent past the qdisc to a device that does
//     not segment TCP itself (afpacket.OffersTSO; the write fails with
//     ENOBUFS), so such an interface gets no sockets either.
//   - With the PMD's sockets past the qdisc too (its qdisc_bypass devarg,
//     on by default), a super-frame and the PMD's frames of its flow take
//     the same way to the driver, the TX queue of the sending CPU.
//
// Without sockets the member's super-frames are segmented by the worker
// and sent through the PMD, as for any member without TSO. The sockets
// get room for a few 64 KB super-frames in flight.
func memberTxPlan(args map[string]string, tso bool) (afpacket.Options, bool) {
	if !tso || !pmdQdiscBypass(args) {
		return afpacket.Options{}, false
	}
	return afpacket.Options{QdiscBypass: true, SendBuffer: 4 << 20}, true
}

// pmdQdiscBypass reports whether net_af_packet with devargs args sets
// PACKET_QDISC_BYPASS on its sockets. DPDK 22.11 reads the devarg with
// atoi and bypasses when the result is not 0; without the devarg it
// bypasses.
func pmdQdiscBypass(args map[string]string) bool {
	v, ok := args["qdisc_bypass"]
	if !ok {
		return true
	}
	return atoi(v) != 0
}

// atoi is C's atoi as far as zero or not goes: leading white space, an
// optional sign, then decimal digits up to the first other byte; no
// digits is 0.
func atoi(s string) int {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	n := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n < 1<<30 { // the size does not matter, only zero or not
			n = n*10 + int(s[i]-'0')
		}
	}
	if neg {
		return -n
	}
	return n
}

// startTap creates the team's kernel-facing interfaces: the team's own
// and one per VLAN, each a TAP with one queue per worker. The kernel sees
// each as an interface with the team MAC and owns its addresses.
func (d *Daemon) startTap(t *team) error {
	dev, err := d.startKernelPort(t.cfg.Name, t.mac, t.cfg.MTU, t.cfg.Addresses)
	if err != nil {
		return err
	}
	t.tap = dev
	for _, v := range t.cfg.VLANs {
		vp, err := d.startVLAN(t, v)
		if err != nil {
			return err
		}
		t.vlans = append(t.vlans, vp)
	}
	return nil
}

// startVLAN creates the kernel interface of one of t's VLANs.
func (d *Daemon) startVLAN(t *team, v configs.VLAN) (dataplane.VLANPort, error) {
	dev, err := d.startKernelPort(v.Name, t.mac, t.cfg.MTU, v.Addresses)
	if err != nil {
		return dataplane.VLANPort{}, fmt.Errorf("VLAN %d: %w", v.ID, err)
	}
	return dataplane.VLANPort{ID: uint16(v.ID), Kernel: dev}, nil
}

// startKernelPort creates one TAP interface ifname with the team MAC, the
// MTU and the given addresses; closeKernelPort removes it again.
func (d *Daemon) startKernelPort(ifname string, mac frame.MAC, mtu int, addrs []string) (_ *tap.Device, err error) {
	dev, err := tap.Open(ifname, int(d.queues()))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			d.closeKernelPort(dev)
		}
	}()
	if err := dev.Configure(mac[:], mtu); err != nil {
		return nil, err
	}
	for _, a := range addrs {
		pfx, err := netip.ParsePrefix(a)
		if err != nil {
			return nil, err
		}
		if err := addAddress(dev.Index, pfx); err != nil {
			return nil, fmt.Errorf("TAP %s: %w", ifname, err)
		}
	}
	return dev, nil
}

// closeKernelPort closes a TAP; the kernel removes its interface.
func (d *Daemon) closeKernelPort(dev *tap.Device) {
	if err := dev.Close(); err != nil {
		d.log.Warn("closing TAP", "interface", dev.Name, "err", err)
	}
}

// readLinks reads every member's ethdev link and returns the teams in
// which a member changed state.
func (d *Daemon) readLinks() []*team {
	var changed []*team
	for _, t := range d.teams {
		moved := false
		for _, m := range t.members {
			l, err := m.port.Link()
			up := err == nil && l.Up
			if err == nil {
				m.speed = l.SpeedMbps
			}
			if up != m.linkUp {
				m.linkUp = up
				moved = d.refresh(t, m) || moved
			}
		}
		if moved {
			changed = append(changed, t)
		}
	}
	return changed
}

// carrierEvent applies a kernel carrier change.
func (d *Daemon) carrierEvent(ev linkwatch.Event) []*team {
	var changed []*team
	for _, t := range d.teams {
		for _, m := range t.members {
			if m.cfg.Carrier == ev.Name && m.carrierUp != ev.Up {
				m.carrierUp = ev.Up
				if d.refresh(t, m) {
					changed = append(changed, t)
				}
			}
		}
	}
	return changed
}

// refresh recomputes whether m is usable and logs a change.
func (d *Daemon) refresh(t *team, m *member) bool {
	if d.carrier != nil && m.cfg.Carrier != "" {
		if up, ok := d.carrier.State(m.cfg.Carrier); ok {
			m.carrierUp = up
		}
	}
	if !m.linkUp || !m.carrierUp {
		// A member waiting for its marker leaves at once.
		d.dropLeave(t, slices.Index(t.members, m))
	}
	if t.lacp != nil {
		// A disabled member goes on speaking LACP, detached, so that the
		// partner takes the link out of its aggregate at once rather than
		// when it times out (lacp.Port.SetDetached).
		p := t.lacp.ports[slices.Index(t.members, m)]
		p.SetLink(m.linkUp && m.carrierUp && !t.pathFailed(m), d.now())
		p.SetDetached(m.disabled || m.removing, d.now())
	}
	up := m.linkUp && m.carrierUp && !m.disabled && !m.removing && !t.pathFailed(m)
	if up == m.up {
		return false
	}
	m.up = up
	if i := slices.Index(t.members, m); !up && (!m.linkUp || !m.carrierUp) && t.lossAt.IsZero() &&
		(i == t.path || t.active[i] || t.rx != nil && t.rx[i]) {
		t.lossAt = d.now() // failover duration: until the next publish
	}
	if up {
		m.upSince = d.now()
		if d.started.IsZero() || m.joining {
			// Up when teamgw starts or when the member was just
			// added: no hold-down, it has not just come back.
			m.upSince = m.upSince.Add(-t.policy.FallbackDelay)
			m.joining = false
		}
		d.event(EventMemberConnect, "member connected", "team", t.cfg.Name, "member", m.cfg.Name())
	} else {
		m.downs++
		d.event(EventMemberDisconnect, "member disconnected", "team", t.cfg.Name, "member", m.cfg.Name())
	}
	return true
}

// evaluate runs the failover and load-balancing policy for t: which
// member is the path member, which members carry flow buckets, and the
// flow table. It reports whether anything the workers see changed.
func (d *Daemon) evaluate(t *team) bool { return d.evaluateWith(t, false) }

// evaluateWith is evaluate; planned says the change being evaluated is
// made on purpose (a reload), so that in an lacp team a member it takes out
// of distribution first sends a marker (holdLeaving).
func (d *Daemon) evaluateWith(t *team, planned bool) bool {
	now := d.now()
	views := make([]slb.MemberView, len(t.members))
	for i, m := range t.members {
		views[i] = slb.MemberView{Role: memberRole(m.cfg.Role), Up: m.up, UpSince: m.upSince}
	}
	dec := slb.SelectActive(views, t.path, t.policy, now)
	var active []bool
	path := dec.Active
	rxChanged := false
	if t.lacp != nil {
		// 802.1AX decides: Distributing members carry buckets,
		// Collecting ones receive; the path member (non-IP frames) is
		// a distributing one, kept while it stays so.
		var rx []bool
		var fallback bool
		rx, active, fallback = t.lacpSets(dec.Active)
		d.holdLeaving(t, rx, active, planned)
		if !fallback {
			path = -1
			if t.path >= 0 && active[t.path] {
				path = t.path
			} else if i := slices.Index(active, true); i >= 0 {
				path = i
			}
		}
		rxChanged = !slices.Equal(rx, t.rx)
		t.rx = rx
		t.recheck = time.Time{}
	} else {
		var recheck time.Time
		active, recheck = slb.ActiveSet(views, t.active, dec.Active, t.policy, now)
		t.recheck = earliest(dec.Recheck, recheck)
	}
	pathChanged := d.setPath(t, path)
	if slices.Equal(active, t.active) && !pathChanged && !rxChanged {
		return false
	}
	for i, m := range t.members {
		switch {
		case active[i] && !t.active[i]:
			d.event(EventMemberActivated, "member activated", "team", t.cfg.Name, "member", m.cfg.Name())
		case !active[i] && t.active[i]:
			d.event(EventMemberDeactivated, "member de-activated", "team", t.cfg.Name, "member", m.cfg.Name())
		}
	}
	t.active = active
	d.assignBuckets(t)
	d.assignClients(t)
	return true
}

// setPath moves the path member, announcing the team from the new one so
// switches learn the team MAC on its port (BASP failover, seed 004).
func (d *Daemon) setPath(t *team, next int) bool {
	if next == t.path {
		return false
	}
	prev := t.path
	t.path = next
	if prev >= 0 && !t.members[prev].up {
		t.failovers++
	}
	if next < 0 {
		d.event(EventTeamDown, "team has no usable member", "team", t.cfg.Name)
		t.announce = announcement{}
		return true
	}
	m := t.members[next]
	if m.cfg.Role == configs.RoleStandby {
		d.event(EventStandbySelected, "standby member selected as primary", "team", t.cfg.Name, "member", m.cfg.Name())
	}
	d.event(EventPathMember, "member carries the team MAC", "team", t.cfg.Name, "member", m.cfg.Name())
	if t.cfg.GARPCount > 0 {
		t.announce = announcement{member: next, left: t.cfg.GARPCount, next: d.now()}
	}
	return true
}

// assignBuckets re-deals the flow table over the active members, moving
// only what must move (slb.Assign), least-loaded buckets first.
func (d *Daemon) assignBuckets(t *team) {
	weights := make([]float64, len(t.members))
	for i, m := range t.members {
		weights[i] = m.weight()
	}
	// Least-loaded by recent traffic (the rebalancer's decayed load), not
	// by lifetime totals.
	decayed := t.rebal.Load()
	load := make([]uint64, len(decayed))
	for i, v := range decayed {
		load[i] = uint64(v)
	}
	next, moved := slb.Assign(t.table, t.active, weights, load)
	if len(t.table) > 0 && moved > 0 {
		t.bucketMoves += uint64(moved)
		d.event(EventBucketsMoved, "flow buckets moved", "team", t.cfg.Name, "buckets", moved, "reason", "membership")
	}
	t.table = next
}

// rebalance runs one round of the rebalancer on t and reports whether the
// table changed.
func (d *Daemon) rebalance(t *team) bool {
	iv := t.cfg.RebalanceInterval.Duration
	now := d.now()
	if iv <= 0 || now.Sub(t.lastRebal) < iv {
		return false
	}
	t.lastRebal = now
	_, bytes := d.bucketLoad(t)
	weights := make([]float64, len(t.members))
	for i, m := range t.members {
		weights[i] = m.weight()
	}
	moves := t.rebal.Step(bytes, t.table, t.active, weights)
	for _, mv := range moves {
		t.table[mv.Bucket] = uint8(mv.To)
	}
	if len(moves) == 0 {
		return false
	}
	t.bucketMoves += uint64(len(moves))
	d.event(EventBucketsMoved, "flow buckets moved", "team", t.cfg.Name, "buckets", len(moves), "reason", "rebalance")
	return true
}

// bucketLoad sums the workers' packet and byte counters per bucket of t.
func (d *Daemon) bucketLoad(t *team) (packets, bytes []uint64) {
	packets, bytes = make([]uint64, dataplane.NBuckets), make([]uint64, dataplane.NBuckets)
	for _, w := range d.workers {
		dataplane.AddBuckets(w.BucketCounters(), t.idx, packets, bytes)
	}
	return packets, bytes
}

// weight is the member's share of the flows: its link speed in Mbit/s
// (mixed-speed SLB teams), or 1 when the PMD does not say.
func (m *member) weight() float64 {
	if m.speed > 0 {
		return float64(m.speed)
	}
	return 1
}

func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

func memberRole(r string) slb.Role {
	switch r {
	case configs.RolePrimary:
		return slb.RolePrimary
	case configs.RoleStandby:
		return slb.RoleStandby
	}
	return slb.RoleNormal
}

// sendAnnouncement sends one round of gratuitous ARPs (and unsolicited
// neighbor advertisements) for every address of the team's kernel
// interface from the announcing member, so switches learn the team MAC on
// its port and neighbours refresh their caches (BASP failover, seed 004).
func (d *Daemon) sendAnnouncement(t *team) {
	a := &t.announce
	if a.left <= 0 || a.member != t.path {
		*a = announcement{}
		return
	}
	m := t.members[a.member]
	sent := 0
	buf := make([]byte, 0, 128)
	announce := func(ifname string, vid uint16) {
		for _, addr := range interfaceAddrs(ifname) {
			buf = buf[:0]
			if addr.Is4() {
				buf = frame.AppendGratuitousARP(buf, t.mac, addr)
			} else {
				buf = frame.AppendUnsolicitedNA(buf, t.mac, addr)
			}
			if vid != 0 {
				buf = frame.Tag(buf, vid)
			}
			if d.injectFrame(m.port, buf) {
				sent++
			}
		}
	}
	announce(t.cfg.Name, 0)
	for i, v := range t.vlans {
		announce(t.cfg.VLANs[i].Name, v.ID)
	}
	a.left--
	if a.left == 0 {
		*a = announcement{}
		d.event(EventAnnounced, "team announced", "team", t.cfg.Name, "member", m.cfg.Name(), "frames", sent)
		d.reassertClients(t) // the broadcast pointed every client at the team MAC
		return
	}
	a.next = d.now().Add(t.cfg.GARPInterval.Duration)
}

// teamAddrs are the addresses the kernel has on the team interface.
func (d *Daemon) teamAddrs(t *team) []netip.Addr { return interfaceAddrs(t.cfg.Name) }

// interfaceAddrs are the addresses the kernel has on an interface.
func interfaceAddrs(name string) []netip.Addr {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// injectFrame hands a frame to worker 0 for transmission on port p.
func (d *Daemon) injectFrame(p *dpdk.Port, b []byte) bool {
	mb := d.pool.Alloc()
	if mb == nil {
		d.log.Warn("mbuf pool empty: control frame not sent", "port", p.Name)
		return false
	}
	if !mb.SetData(b) {
		mb.Free()
		return false
	}
	mb.SetPort(p.ID)
	if !d.inject.Enqueue(mb) {
		mb.Free()
		return false
	}
	return true
}

// pathFailed reports whether echo-node probes found m's path broken.
func (t *team) pathFailed(m *member) bool {
	if t.probes == nil {
		return false
	}
	i := slices.Index(t.members, m)
	return i >= 0 && t.probes.failed[i]
}
