package control

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/teamgw/teamgw/configs"
	"github.com/teamgw/teamgw/control/linkwatch"
	"github.com/teamgw/teamgw/dataplane"
	"github.com/teamgw/teamgw/dataplane/tap"
	"github.com/teamgw/teamgw/lacp"
)

// Member hot add and remove (teamctl member add|remove, and reloads that
// add, remove or replace members or VLANs). The workers keep forwarding
// throughout; what they poll changes through dataplane.Worker.SetPorts,
// which each worker applies between two polls, and the snapshot names a
// member's slot only while every worker has the member's queues:
//
//	add:    open and start the port -> SetPorts (all workers) -> the
//	        member joins the team state; it carries traffic once its link
//	        is seen up and the next snapshot is published
//	remove: (lacp: marker exchange, as for a disable) -> the member stops
//	        carrying traffic, its buckets, clients and the path move as in
//	        a failover -> snapshot without it -> SetPorts (all workers)
//	        -> the port is stopped and detached, its kernel interface
//	        restored
//
// Members that stay keep their slot, so nothing they carry moves. A VLAN
// is a TAP the workers poll: it is created before the SetPorts that adds
// it and closed after the one that drops it.

// errBusy refuses a change while another one is under way.
var errBusy = errors.New("another member or reload change is under way; try again when it has finished")

// freeSlot is the lowest member slot t does not use, or -1.
func (t *team) freeSlot() int {
	used := func(s int) bool {
		in := func(m *member) bool { return m.slot == s }
		return slices.ContainsFunc(t.members, in) || slices.ContainsFunc(t.pending, in)
	}
	for s := range dataplane.MaxMembers {
		if !used(s) {
			return s
		}
	}
	return -1
}

// sameMember reports whether a running member is the one a config names:
// the same devargs and the same carrier interface.
func sameMember(a, b configs.Member) bool { return a.Device == b.Device && a.Carrier == b.Carrier }

// pick returns the elements of s at the indices in order.
func pick[T any](s []T, order []int) []T {
	out := make([]T, len(order))
	for j, i := range order {
		out[j] = s[i]
	}
	return out
}

// reorder rearranges t's members to order (indices of the current
// members); members not in order leave the team state. Everything indexed
// by member — flow table, path, primary, active and receive sets, LACP
// ports and markers, probes, clients, announcements — follows. Members
// that leave must no longer carry buckets (evaluate first).
func (t *team) reorder(order []int) {
	inv := make([]int, len(t.members))
	for i := range inv {
		inv[i] = -1
	}
	for j, i := range order {
		inv[i] = j
	}
	remap := func(i int) int {
		if i < 0 || i >= len(inv) {
			return -1
		}
		return inv[i]
	}
	if lt := t.lacp; lt != nil {
		for i, p := range lt.ports {
			if inv[i] < 0 {
				lt.agg.RemovePort(p)
			}
		}
		lt.ports, lt.gens, lt.leaving = pick(lt.ports, order), pick(lt.gens, order), pick(lt.leaving, order)
	}
	if ps := t.probes; ps != nil {
		ps.lastReply, ps.failed = pick(ps.lastReply, order), pick(ps.failed, order)
	}
	t.members = pick(t.members, order)
	t.active = pick(t.active, order)
	if t.rx != nil {
		t.rx = pick(t.rx, order)
	}
	for b, mi := range t.table {
		t.table[b] = uint8(max(remap(int(mi)), 0))
	}
	t.path = remap(t.path)
	for _, c := range t.clients {
		c.Member = remap(c.Member)
	}
	t.inbound.bal.Reorder(order)
	if a := remap(t.announce.member); a < 0 {
		t.announce = announcement{}
	} else {
		t.announce.member = a
	}
	t.cfg.Members = make([]configs.Member, len(t.members))
	for i, m := range t.members {
		t.cfg.Members[i] = m.cfg
	}
	if p := remap(t.policy.Primary); p >= 0 {
		t.policy.Primary = p
	} else {
		t.policy.Primary = t.cfg.PrimaryIndex()
	}
}

// appendMember adds an opened member to t's state, carrying nothing yet.
func (d *Daemon) appendMember(t *team, m *member) {
	t.members = append(t.members, m)
	t.active = append(t.active, false)
	if t.rx != nil {
		t.rx = append(t.rx, false)
	}
	if t.lacp != nil {
		d.addLACPPort(t, m)
	}
	if ps := t.probes; ps != nil {
		ps.lastReply = append(ps.lastReply, d.now())
		ps.failed = append(ps.failed, false)
	}
	t.cfg.Members = append(slices.Clone(t.cfg.Members), m.cfg)
}

// openMember opens a new member of t in a free slot; it does not join
// the team state or the workers yet.
func (d *Daemon) openMember(t *team, mc configs.Member) (*member, error) {
	slot := t.freeSlot()
	if slot < 0 {
		return nil, fmt.Errorf("team %s has %d members, at most %d", t.cfg.Name, len(t.members), dataplane.MaxMembers)
	}
	m, err := d.startMember(mc, t.cfg.MTU)
	if err != nil {
		return nil, fmt.Errorf("member %s: %w", mc.Device, err)
	}
	m.slot = slot
	// The slot's counters go on from what an earlier member left in
	// them: this member's count starts there.
	m.base = d.Totals()[t.idx].Ports[slot]
	m.joining = true
	if err := d.joinTeam(t, m); err != nil {
		m.close()
		return nil, err
	}
	if mc.Carrier != "" {
		if err := d.watchCarrier(mc.Carrier); err != nil {
			m.close()
			return nil, fmt.Errorf("member %s: %w", mc.Device, err)
		}
	}
	d.event(EventMemberBound, "member port opened", "team", t.cfg.Name, "member", mc.Name(), "port", m.port.ID, "mac", m.mac.String())
	return m, nil
}

// watchCarrier watches a kernel interface's carrier, starting the
// watcher if no member needed one so far.
func (d *Daemon) watchCarrier(name string) error {
	if d.carrier != nil {
		return d.carrier.Watch(name)
	}
	w, err := linkwatch.NewWatcher(name)
	if err != nil {
		return err
	}
	d.carrier = w
	d.onUndo(func() { w.Close() })
	return nil
}

// unwatchCarrier stops watching a carrier no member uses any more.
func (d *Daemon) unwatchCarrier(name string) {
	if d.carrier == nil || name == "" {
		return
	}
	for _, t := range d.teams {
		for _, m := range t.members {
			if m.cfg.Carrier == name {
				return
			}
		}
	}
	d.carrier.Unwatch(name)
}

// addition is a member or VLAN being added to a team.
type addition struct {
	t      *team
	member *configs.Member
	vlan   *configs.VLAN
}

// addAll opens the members and VLANs of adds, gives the workers their
// queues and only then lets the members join the teams. It returns what
// it added and the errors of what it could not.
func (d *Daemon) addAll(adds []addition) (changes []string, err error) {
	type opened struct {
		t *team
		m *member
	}
	var members []opened
	var errs []error
	for _, a := range adds {
		if a.member != nil {
			m, err := d.openMember(a.t, *a.member)
			if err != nil {
				errs = append(errs, fmt.Errorf("team %s: %w", a.t.cfg.Name, err))
				continue
			}
			// The workers get its queues (teamPorts); its slot is
			// free in every snapshot until it joins the state below,
			// after SetPorts.
			a.t.pending = append(a.t.pending, m)
			members = append(members, opened{a.t, m})
			continue
		}
		vp, err := d.startVLAN(a.t, *a.vlan)
		if err != nil {
			errs = append(errs, fmt.Errorf("team %s: %w", a.t.cfg.Name, err))
			continue
		}
		a.t.vlans = append(a.t.vlans, vp)
		a.t.cfg.VLANs = append(slices.Clone(a.t.cfg.VLANs), *a.vlan)
		changes = append(changes, fmt.Sprintf("team %s: VLAN %d added (%s)", a.t.cfg.Name, a.vlan.ID, a.vlan.Name))
		d.event(EventVLANAdded, "VLAN added", "team", a.t.cfg.Name, "vlan", a.vlan.ID, "interface", a.vlan.Name)
	}
	if len(changes) == 0 && len(members) == 0 {
		return nil, errors.Join(errs...)
	}
	took, serr := d.setWorkerPorts()
	for _, o := range members {
		if serr != nil {
			// A worker may still take the port later: it stays open,
			// pending, until teamgw stops.
			continue
		}
		o.t.pending = slices.DeleteFunc(o.t.pending, func(m *member) bool { return m == o.m })
		d.appendMember(o.t, o.m)
		changes = append(changes, fmt.Sprintf("team %s: member %s added", o.t.cfg.Name, o.m.cfg.Name()))
		d.event(EventMemberAdded, "member added", "team", o.t.cfg.Name, "member", o.m.cfg.Name(), "slot", o.m.slot, "workers_switched_in", took.String())
	}
	if serr != nil {
		errs = append(errs, serr)
	}
	d.publish()
	d.linksChanged(d.readLinks())
	return changes, errors.Join(errs...)
}

// removal is a member or VLAN being removed from a team.
type removal struct {
	t      *team
	member *member
	vlan   int // VLAN ID when member is nil
}

// takeOut stops the members of rms carrying traffic and calls done once
// they all have, on the Run loop after the current event: in an lacp
// team a member in distribution first exchanges a marker with the partner
// (marker.go), as for a disable; any other member is out at once.
func (d *Daemon) takeOut(rms []removal, done func(error)) {
	pending := 1
	var first error
	finish := func(err error) {
		if first == nil {
			first = err
		}
		if pending--; pending == 0 {
			d.afterTurn(func() { done(first) })
		}
	}
	for _, r := range rms {
		m, t := r.member, r.t
		if m == nil {
			continue
		}
		i := slices.Index(t.members, m)
		if t.lacp != nil && !m.disabled && m.up && t.active[i] {
			lv := d.startLeave(t, i)
			lv.remove = true
			pending++
			lv.replies = append(lv.replies, func(err error) {
				if err == ErrStopped {
					done(err) // the loop is ending: no later turn
					return
				}
				finish(err)
			})
			continue
		}
		m.removing = true
		d.refresh(t, m)
	}
	finish(nil)
}

// afterTurn runs f on the Run loop once the current event is handled
// (never in the middle of a walk over a team's members).
func (d *Daemon) afterTurn(f func()) { d.deferred = append(d.deferred, f) }

// runDeferred runs what afterTurn queued.
func (d *Daemon) runDeferred() {
	for len(d.deferred) > 0 {
		f := d.deferred[0]
		d.deferred = d.deferred[1:]
		f()
	}
}

// removeAll detaches the members and VLANs of rms (members taken out
// already, see takeOut): their buckets, clients and path move, the
// snapshot without them is published, the workers drop their queues, and
// only then are the ports closed. It returns what it removed.
func (d *Daemon) removeAll(rms []removal) ([]string, error) {
	var changes []string
	var closing []*tap.Device
	now := d.now()
	touched := map[*team]bool{}
	for _, r := range rms {
		t, m := r.t, r.member
		touched[t] = true
		if m == nil {
			i := slices.IndexFunc(t.vlans, func(v dataplane.VLANPort) bool { return int(v.ID) == r.vlan })
			if i >= 0 {
				closing = append(closing, t.vlans[i].Kernel)
				t.vlans = slices.Delete(slices.Clone(t.vlans), i, i+1)
			}
			if j := slices.IndexFunc(t.cfg.VLANs, func(v configs.VLAN) bool { return v.ID == r.vlan }); j >= 0 {
				t.cfg.VLANs = slices.Delete(slices.Clone(t.cfg.VLANs), j, j+1)
			}
			continue
		}
		m.removing = true
		d.refresh(t, m)
		if t.lacp != nil {
			// The LACPDU that says the port is out of sync leaves
			// before the port closes (worker 0 sends what control
			// injected when it takes its new ports).
			if pdu := t.lacp.ports[slices.Index(t.members, m)].Tick(now); pdu != nil {
				d.injectFrame(m.port, lacp.AppendLACPDU(nil, m.mac, pdu))
			}
		}
	}
	for t := range touched {
		d.evaluate(t)
		var keep []int
		for i, m := range t.members {
			if !slices.ContainsFunc(rms, func(r removal) bool { return r.member == m }) {
				keep = append(keep, i)
			}
		}
		t.reorder(keep)
	}
	d.publish()
	// The moved clients hear of their new member now, not after the
	// ports have closed (closing a device can take tens of ms).
	for t := range touched {
		d.sendDirectedARPs(t)
		if !t.announce.next.IsZero() && !d.now().Before(t.announce.next) {
			d.sendAnnouncement(t)
		}
	}
	took, err := d.setWorkerPorts()
	if err != nil {
		// A worker may still poll the old ports: they stay open (and
		// in the workers' port sets) until teamgw stops.
		for _, r := range rms {
			if r.member != nil {
				r.t.pending = append(r.t.pending, r.member)
			}
		}
		for t := range touched {
			t.stale = append(t.stale, closing...)
			break
		}
		return nil, err
	}
	for _, dev := range closing {
		d.closeKernelPort(dev)
	}
	for _, r := range rms {
		t, m := r.t, r.member
		if m == nil {
			changes = append(changes, fmt.Sprintf("team %s: VLAN %d removed", t.cfg.Name, r.vlan))
			d.event(EventVLANRemoved, "VLAN removed", "team", t.cfg.Name, "vlan", r.vlan)
			continue
		}
		m.close()
		d.unwatchCarrier(m.cfg.Carrier)
		changes = append(changes, fmt.Sprintf("team %s: member %s removed", t.cfg.Name, m.cfg.Name()))
		d.event(EventMemberRemoved, "member removed", "team", t.cfg.Name, "member", m.cfg.Name(), "slot", m.slot, "workers_switched_in", took.String())
	}
	return changes, nil
}

// AddMember adds the member described by device (DPDK devargs) and role
// to a running team (teamctl member add). The new member is checked as if
// it were written at the end of the team's members in the config file;
// a member added this way lasts until the next reload or restart, which
// take the config file's members.
func (d *Daemon) AddMember(ctx context.Context, team, device, role string) error {
	return d.do(ctx, func() error {
		t := d.teamByName(team)
		if t == nil {
			return fmt.Errorf("no team %q", team)
		}
		if d.busy {
			return errBusy
		}
		cfg := d.runningConfig()
		tc := &cfg.Teams[t.idx]
		tc.Members = append(tc.Members, configs.Member{Device: device, Role: role})
		cfg.SetDefaults()
		if err := cfg.Validate(); err != nil {
			return err
		}
		mc := tc.Members[len(tc.Members)-1]
		if err := d.checkCapacity(1); err != nil {
			return err
		}
		if _, err := d.addAll([]addition{{t: t, member: &mc}}); err != nil {
			return err
		}
		if mc.Role == configs.RolePrimary {
			t.policy.Primary = len(t.members) - 1
			if d.evaluate(t) {
				d.publish()
			}
		}
		return nil
	})
}

// RemoveMember removes a member from a running team (teamctl member
// remove); see AddMember for how long that lasts. It returns once the
// port is closed; in an lacp team that may take a marker exchange.
func (d *Daemon) RemoveMember(ctx context.Context, team, member string) error {
	return d.doLater(ctx, func(reply func(error)) {
		t, i, err := d.findMember(team, member)
		switch {
		case err != nil:
			reply(err)
			return
		case d.busy:
			reply(errBusy)
			return
		case len(t.members) <= configs.MinMembers:
			reply(fmt.Errorf("team %s: cannot remove its last member (a team needs %d to %d)", team, configs.MinMembers, configs.MaxMembers))
			return
		}
		rms := []removal{{t: t, member: t.members[i]}}
		d.busy = true
		d.takeOut(rms, func(err error) {
			if err == nil {
				_, err = d.removeAll(rms)
			}
			d.busy = false
			reply(err)
		})
	})
}

// checkCapacity fails if the mbuf pool is too small for added more
// member ports than are open now.
func (d *Daemon) checkCapacity(added int) error {
	n := added
	for _, t := range d.teams {
		n += len(t.members)
	}
	if need := d.mbufsFor(n); d.cfg.EAL.Mbufs < need {
		return fmt.Errorf("eal.mbufs = %d is too small for %d member ports (they need %d): raise it and restart teamgw", d.cfg.EAL.Mbufs, n, need)
	}
	return nil
}

// teamByName finds a team.
func (d *Daemon) teamByName(name string) *team {
	for _, t := range d.teams {
		if t.cfg.Name == name {
			return t
		}
	}
	return nil
}

// runningConfig is the configuration the daemon runs now: the file it
// started from (or last reloaded) with the members added or removed since.
func (d *Daemon) runningConfig() *configs.Config {
	cfg := &configs.Config{EAL: d.cfg.EAL, Control: d.cfg.Control}
	for _, t := range d.teams {
		tc := t.cfg
		tc.Members = slices.Clone(tc.Members)
		tc.VLANs = slices.Clone(tc.VLANs)
		cfg.Teams = append(cfg.Teams, tc)
	}
	return cfg
}
