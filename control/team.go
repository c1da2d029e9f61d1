package control

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/configs"
	"github.com/teamgw/teamgw/control/linkwatch"
	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/slb"
)

// team is the control plane's state of one team; only the Run loop
// touches it after Start.
type team struct {
	idx      int
	cfg      configs.Team
	mac      frame.MAC
	tap      *dpdk.Port
	members  []*member
	active   int
	policy   slb.Policy
	recheck  time.Time
	announce announcement
	// failovers counts changes of the active member away from a member
	// that went down.
	failovers uint64
}

// member is the control plane's state of one member port.
type member struct {
	cfg   configs.Member
	port  *dpdk.Port
	mac   frame.MAC
	iface *memberIface
	// wasPromisc: the kernel interface was promiscuous before teamgw
	// opened it, so teamgw leaves it so.
	wasPromisc bool
	linkUp     bool // ethdev link
	carrierUp  bool // kernel carrier; true when not watched
	up         bool
	upSince    time.Time
	downs      uint64
}

// announcement is a pending series of gratuitous ARPs and unsolicited
// neighbor advertisements from one member.
type announcement struct {
	member int
	left   int
	next   time.Time
}

// maxMTU is the largest MTU whose frames (with an 802.1Q tag) fit one
// mbuf of dpdk.DefaultDataRoom.
const maxMTU = 2048 - 14 - 4

// memberDevargs adds what teamgw needs to a member's devargs: one
// net_af_packet queue pair per worker (each af_packet queue is a socket in
// a fanout group, so a queue nobody polls would lose its share of frames).
func memberDevargs(m configs.Member, workers uint16) (string, error) {
	if m.Kind() != "net_af_packet" {
		return m.Device, nil
	}
	if q, ok := m.Args()["qpairs"]; ok {
		if n, err := strconv.Atoi(q); err != nil || n != int(workers) {
			return "", fmt.Errorf("member %s: qpairs=%s must equal the number of worker cores (%d)", m.Name(), q, workers)
		}
		return m.Device, nil
	}
	return m.Device + ",qpairs=" + strconv.Itoa(int(workers)), nil
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
	if tc.Mode != configs.ModeSLB {
		return nil, fmt.Errorf("mode %q is not available in this build yet: only \"slb\" (failover with a primary and standbys) runs today", tc.Mode)
	}
	if tc.MTU > maxMTU {
		return nil, fmt.Errorf("mtu %d needs jumbo-frame (multi-segment) support, which this build lacks: at most %d", tc.MTU, maxMTU)
	}
	t := &team{idx: idx, cfg: tc, active: -1}
	t.policy = slb.Policy{
		Primary:       tc.PrimaryIndex(),
		FallbackDelay: tc.FallbackDelay.Duration,
		AutoFallback:  tc.AutoFallbackEnabled(),
	}
	for i, mc := range tc.Members {
		m, err := d.startMember(mc)
		if err != nil {
			return nil, fmt.Errorf("member %d (%s): %w", i, mc.Device, err)
		}
		t.members = append(t.members, m)
		d.event(EventMemberBound, "member port opened", "team", tc.Name, "member", mc.Name(), "port", m.port.ID, "mac", m.mac.String())
	}
	mac, err := teamMAC(tc, t.members[t.policy.Primary])
	if err != nil {
		return nil, err
	}
	t.mac = mac
	for _, m := range t.members {
		// Receive the team MAC: a filter entry where the NIC has one,
		// promiscuous mode where it does not (af_packet, most vdevs).
		if err := m.port.AddMAC(mac[:]); err != nil {
			if err := m.port.SetPromiscuous(true); err != nil {
				return nil, fmt.Errorf("member %s: cannot receive the team MAC: %w", m.cfg.Name(), err)
			}
			if !m.wasPromisc {
				d.onUndo(func() { m.port.SetPromiscuous(false) })
			}
		}
		if m.port.SetAllMulticast(true) == nil {
			d.onUndo(func() { m.port.SetAllMulticast(false) })
		}
	}
	if err := d.startTap(t); err != nil {
		return nil, err
	}
	return t, nil
}

func (d *Daemon) startMember(mc configs.Member) (*member, error) {
	devargs, err := memberDevargs(mc, d.queues())
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
	d.onUndo(func() {
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
	if err := p.Configure(dpdk.PortConfig{RxQueues: q, TxQueues: q, RSS: q > 1, LSC: info.LSC, Pool: d.pool}); err != nil {
		return nil, err
	}
	if info.LSC {
		if err := d.lsc.Watch(p); err != nil {
			return nil, err
		}
		d.onUndo(func() { d.lsc.Unwatch(p) })
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
		d.onUndo(mi.restore)
	}
	return m, nil
}

// startTap creates the kernel-facing net_tap port: the kernel sees the team
// as one interface with the team MAC, and owns its addresses.
func (d *Daemon) startTap(t *team) error {
	name := t.cfg.Name
	if _, err := net.InterfaceByName(name); err == nil {
		return fmt.Errorf("kernel interface %q already exists", name)
	}
	devargs := fmt.Sprintf("net_tap_tg_%s,iface=%s,mac=%s", name, name, t.mac)
	p, err := dpdk.Probe(devargs)
	if err != nil {
		return err
	}
	t.tap = p
	d.onUndo(func() {
		p.Stop()
		if err := p.Remove(); err != nil {
			d.log.Warn("removing TAP port", "team", name, "err", err)
		}
	})
	q := d.queues()
	if err := p.Configure(dpdk.PortConfig{RxQueues: q, TxQueues: q, Pool: d.pool}); err != nil {
		return err
	}
	if err := p.SetMTU(uint16(t.cfg.MTU)); err != nil && !errors.Is(err, unix.ENOTSUP) {
		return err
	}
	if err := p.Start(); err != nil {
		return err
	}
	for _, m := range t.members {
		if err := m.port.SetMTU(uint16(t.cfg.MTU)); err != nil && !errors.Is(err, unix.ENOTSUP) {
			d.log.Warn("member MTU", "member", m.cfg.Name(), "mtu", t.cfg.MTU, "err", err)
		}
	}
	ifindex, err := interfaceIndex(name)
	if err != nil {
		return fmt.Errorf("TAP %s did not appear: %w", name, err)
	}
	for _, a := range t.cfg.Addresses {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return err
		}
		if err := addAddress(ifindex, p); err != nil {
			return fmt.Errorf("TAP %s: %w", name, err)
		}
	}
	return nil
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
	up := m.linkUp && m.carrierUp
	if up == m.up {
		return false
	}
	m.up = up
	if up {
		m.upSince = d.now()
		d.event(EventMemberConnect, "member connected", "team", t.cfg.Name, "member", m.cfg.Name())
	} else {
		m.downs++
		d.event(EventMemberDisconnect, "member disconnected", "team", t.cfg.Name, "member", m.cfg.Name())
	}
	return true
}

// evaluate runs the failover policy for t and reports whether the active
// member changed.
func (d *Daemon) evaluate(t *team) bool {
	views := make([]slb.MemberView, len(t.members))
	for i, m := range t.members {
		views[i] = slb.MemberView{Role: memberRole(m.cfg.Role), Up: m.up, UpSince: m.upSince}
	}
	dec := slb.SelectActive(views, t.active, t.policy, d.now())
	t.recheck = dec.Recheck
	if dec.Active == t.active {
		return false
	}
	prev := t.active
	t.active = dec.Active
	if prev >= 0 {
		if !t.members[prev].up {
			t.failovers++
		}
		d.event(EventMemberDeactivated, "member de-activated", "team", t.cfg.Name, "member", t.members[prev].cfg.Name())
	}
	if dec.Active < 0 {
		d.event(EventTeamDown, "team has no usable member", "team", t.cfg.Name)
		t.announce = announcement{}
		return true
	}
	m := t.members[dec.Active]
	if m.cfg.Role == configs.RoleStandby {
		d.event(EventStandbySelected, "standby member selected as primary", "team", t.cfg.Name, "member", m.cfg.Name())
	}
	d.event(EventMemberActivated, "member activated", "team", t.cfg.Name, "member", m.cfg.Name())
	if t.cfg.GARPCount > 0 {
		t.announce = announcement{member: dec.Active, left: t.cfg.GARPCount, next: d.now()}
	}
	return true
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
	if a.left <= 0 || a.member != t.active {
		*a = announcement{}
		return
	}
	m := t.members[a.member]
	sent := 0
	buf := make([]byte, 0, 128)
	for _, addr := range d.teamAddrs(t) {
		buf = buf[:0]
		if addr.Is4() {
			buf = frame.AppendGratuitousARP(buf, t.mac, addr)
		} else {
			buf = frame.AppendUnsolicitedNA(buf, t.mac, addr)
		}
		if d.injectFrame(m.port, buf) {
			sent++
		}
	}
	a.left--
	if a.left == 0 {
		*a = announcement{}
		d.event(EventAnnounced, "team announced", "team", t.cfg.Name, "member", m.cfg.Name(), "frames", sent)
		return
	}
	a.next = d.now().Add(t.cfg.GARPInterval.Duration)
}

// teamAddrs are the addresses the kernel has on the team interface.
func (d *Daemon) teamAddrs(t *team) []netip.Addr {
	ifi, err := net.InterfaceByName(t.cfg.Name)
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
