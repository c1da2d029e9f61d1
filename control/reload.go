package control

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/teamgw/teamgw/configs"
	"github.com/teamgw/teamgw/dataplane"
)

// Live reconfiguration (SIGHUP, teamctl reload). A reload re-reads the
// config file and applies the difference to the running teams:
//
//   - members added, removed or replaced (a member whose devargs or
//     carrier changed is removed and added again): hot add and remove as
//     in members.go, so traffic on the other members goes on;
//   - VLANs added, removed or replaced (a VLAN whose name or addresses
//     changed gets a new kernel interface);
//   - timers and balancing settings (fallback, announcements,
//     rebalancing, probes, learning frames, LACP fallback) and member
//     roles and order (the primary).
//
// What the running process cannot change — [eal] (cores, memory, mbufs:
// the EAL and the mbuf pool are set up once), [control], teams added or
// removed, a team's name, mode, MAC, addresses, MTU, echo node and LACP
// identity — is refused with the fields named and a note that it needs a
// restart. An invalid file is refused with its field paths. A refused
// reload changes nothing. A reload that passes the checks may still fail
// to open a new device (a PCI address with no device behind it): it
// reports that member and applies the rest.

// SetConfigPath tells the daemon which file a reload reads.
func (d *Daemon) SetConfigPath(path string) { d.configPath = path }

// Reload loads the config file and applies it; it returns the structural
// changes it made, one line each.
func (d *Daemon) Reload(ctx context.Context) ([]string, error) {
	if d.configPath == "" {
		return nil, errors.New("reload: the daemon was not started from a config file")
	}
	cfg, err := configs.Load(d.configPath)
	if err != nil {
		d.event(EventReloadRejected, "configuration reload rejected", "err", err.Error())
		return nil, err
	}
	var changes []string
	err = d.doLater(ctx, func(reply func(error)) {
		reject := func(err error) {
			d.event(EventReloadRejected, "configuration reload rejected", "err", err.Error())
			reply(err)
		}
		if d.busy {
			reject(errBusy)
			return
		}
		if err := d.checkReload(cfg); err != nil {
			reject(err)
			return
		}
		plan, err := d.planReload(cfg)
		if err != nil {
			reject(err)
			return
		}
		d.busy = true
		d.takeOut(plan.removals, func(err error) {
			if err == nil {
				changes, err = d.applyReload(cfg, plan)
			}
			d.busy = false
			if err != nil {
				d.event(EventReloadRejected, "configuration reload incomplete", "err", err.Error())
			}
			d.event(EventReloaded, "configuration reloaded", "file", d.configPath, "changes", len(changes))
			reply(err)
		})
	})
	return changes, err
}

// checkReload lists the changes a reload cannot apply.
func (d *Daemon) checkReload(cfg *configs.Config) error {
	var bad []string
	bad = append(bad, differing("eal", cfg.EAL, d.cfg.EAL)...)
	bad = append(bad, differing("control", cfg.Control, d.cfg.Control)...)
	if len(cfg.Teams) != len(d.teams) {
		bad = append(bad, "team (teams added or removed)")
	}
	for i := range min(len(cfg.Teams), len(d.teams)) {
		old, nw := d.teams[i].cfg, cfg.Teams[i]
		p := fmt.Sprintf("team[%d]", i)
		check := func(field string, same bool) {
			if !same {
				bad = append(bad, p+"."+field)
			}
		}
		check("name", old.Name == nw.Name)
		check("mode", old.Mode == nw.Mode)
		check("mac", old.MAC == nw.MAC)
		check("addresses", reflect.DeepEqual(old.Addresses, nw.Addresses))
		check("mtu", old.MTU == nw.MTU)
		check("echo_node", old.EchoNode == nw.EchoNode)
		check("lacp_active", *old.LACPActive == *nw.LACPActive)
		check("lacp_system_priority", old.LACPSystemPriority == nw.LACPSystemPriority)
		check("lacp_key", old.LACPKey == nw.LACPKey)
		check("lacp_rate", old.LACPRate == nw.LACPRate)
	}
	if len(bad) > 0 {
		return fmt.Errorf("reload: cannot change %s while teamgw runs: restart teamgw to apply them; nothing was changed", strings.Join(bad, ", "))
	}
	return nil
}

// differing names the fields (by their TOML keys) in which two config
// sections differ.
func differing(section string, a, b any) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := range va.NumField() {
		f := va.Type().Field(i)
		if !f.IsExported() || reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		out = append(out, section+"."+key)
	}
	return out
}

// reloadPlan is the structural part of a reload.
type reloadPlan struct {
	removals  []removal
	additions []addition
}

// planReload works out which members and VLANs a reload removes and adds
// and checks that the additions can be opened: their kernel interfaces
// exist, the mbuf pool is large enough. It changes nothing.
func (d *Daemon) planReload(cfg *configs.Config) (*reloadPlan, error) {
	plan := &reloadPlan{}
	ports := 0
	var errs []string
	for i, t := range d.teams {
		nw := &cfg.Teams[i]
		for _, m := range t.members {
			if !slices.ContainsFunc(nw.Members, func(mc configs.Member) bool { return sameMember(m.cfg, mc) }) {
				plan.removals = append(plan.removals, removal{t: t, member: m})
			}
		}
		for j := range nw.Members {
			mc := &nw.Members[j]
			if slices.ContainsFunc(t.members, func(m *member) bool { return sameMember(m.cfg, *mc) }) {
				continue
			}
			p := fmt.Sprintf("team[%d].members[%d]", i, j)
			if _, err := memberDevargs(*mc, d.queues(), t.cfg.MTU); err != nil {
				errs = append(errs, p+": "+err.Error())
			}
			if mc.Kind() == "net_af_packet" {
				if _, err := ifFlags(mc.Args()["iface"]); err != nil {
					errs = append(errs, p+": "+err.Error())
				}
			}
			if mc.Carrier != "" {
				if _, err := ifFlags(mc.Carrier); err != nil {
					errs = append(errs, p+".carrier: "+err.Error())
				}
			}
			plan.additions = append(plan.additions, addition{t: t, member: mc})
		}
		ports += len(nw.Members)
		for _, v := range t.cfg.VLANs {
			if !slices.ContainsFunc(nw.VLANs, func(w configs.VLAN) bool { return reflect.DeepEqual(v, w) }) {
				plan.removals = append(plan.removals, removal{t: t, vlan: v.ID})
			}
		}
		for j := range nw.VLANs {
			v := &nw.VLANs[j]
			if !slices.ContainsFunc(t.cfg.VLANs, func(w configs.VLAN) bool { return reflect.DeepEqual(*v, w) }) {
				plan.additions = append(plan.additions, addition{t: t, vlan: v})
			}
		}
	}
	if len(plan.additions) > 0 {
		if need := d.mbufsFor(ports); d.cfg.EAL.Mbufs < need {
			errs = append(errs, fmt.Sprintf("eal.mbufs = %d is too small for %d member ports (they need %d): raise it and restart teamgw", d.cfg.EAL.Mbufs, ports, need))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("reload: %s; nothing was changed", strings.Join(errs, "; "))
	}
	return plan, nil
}

// applyReload carries out a plan whose removals are out of traffic
// (takeOut): removals, then additions (a replaced member's device is
// closed before it is opened again), then each team's settings, roles
// and member order.
func (d *Daemon) applyReload(cfg *configs.Config, plan *reloadPlan) ([]string, error) {
	var changes []string
	if len(plan.removals) > 0 {
		c, err := d.removeAll(plan.removals)
		changes = append(changes, c...)
		if err != nil {
			return changes, err
		}
	}
	var addErr error
	if len(plan.additions) > 0 {
		c, err := d.addAll(plan.additions)
		changes = append(changes, c...)
		addErr = err
	}
	for i, t := range d.teams {
		nw := cfg.Teams[i]
		var order []int
		for _, mc := range nw.Members {
			if j := slices.IndexFunc(t.members, func(m *member) bool { return sameMember(m.cfg, mc) }); j >= 0 {
				order = append(order, j)
			}
		}
		t.reorder(order)
		for _, m := range t.members {
			if j := slices.IndexFunc(nw.Members, func(mc configs.Member) bool { return sameMember(m.cfg, mc) }); j >= 0 {
				m.cfg.Role = nw.Members[j].Role
			}
		}
		// The team runs what it has: a member that could not be added
		// is not in its config.
		nw.Members = make([]configs.Member, len(t.members))
		for j, m := range t.members {
			nw.Members[j] = m.cfg
		}
		// Likewise for VLANs, in the config's order.
		var vlans []configs.VLAN
		var ports []dataplane.VLANPort
		for _, v := range nw.VLANs {
			if k := slices.IndexFunc(t.vlans, func(p dataplane.VLANPort) bool { return int(p.ID) == v.ID }); k >= 0 {
				vlans = append(vlans, v)
				ports = append(ports, t.vlans[k])
			}
		}
		nw.VLANs, t.vlans = vlans, ports
		d.applyTeamConfig(t, nw)
	}
	d.publish()
	return changes, addErr
}

// applyTeamConfig takes over a team's changeable settings; nw's members
// are t's members, in t's order.
func (d *Daemon) applyTeamConfig(t *team, nw configs.Team) {
	t.cfg = nw
	for i, m := range t.members {
		m.cfg.Role = nw.Members[i].Role
	}
	t.policy.Primary = nw.PrimaryIndex()
	t.policy.FallbackDelay = nw.FallbackDelay.Duration
	t.policy.AutoFallback = nw.AutoFallbackEnabled()
	if t.lacp != nil {
		t.lacp.fallback = nw.LACPFallback == "active-backup"
	}
	// A member the new settings take out of an lacp team's distribution
	// sends a marker first (marker.go).
	d.evaluateWith(t, true)
}
