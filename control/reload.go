package control

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/teamgw/teamgw/configs"
)

// Live reconfiguration (SIGHUP, teamctl reload). A reload re-reads the
// config file and applies what can change without touching a port: the
// timers and balancing settings of each team (fallback, announcements,
// rebalancing, probes, learning frames, LACP fallback) and the members'
// roles. Anything structural — teams, members, modes, addresses,
// VLANs, MAC, MTU, [eal] or [control] — is refused with the fields named,
// and a refused or failed reload leaves the running teams untouched.

// SetConfigPath tells the daemon which file a reload reads.
func (d *Daemon) SetConfigPath(path string) { d.configPath = path }

// Reload loads the config file and applies it.
func (d *Daemon) Reload(ctx context.Context) error {
	if d.configPath == "" {
		return errors.New("reload: the daemon was not started from a config file")
	}
	cfg, err := configs.Load(d.configPath)
	if err != nil {
		d.event(EventReloadRejected, "configuration reload rejected", "err", err.Error())
		return err
	}
	return d.do(ctx, func() error {
		if err := d.checkReload(cfg); err != nil {
			d.event(EventReloadRejected, "configuration reload rejected", "err", err.Error())
			return err
		}
		for i, t := range d.teams {
			d.applyTeamConfig(t, cfg.Teams[i])
		}
		d.publish()
		d.event(EventReloaded, "configuration reloaded", "file", d.configPath)
		return nil
	})
}

// checkReload lists the changes a reload cannot apply.
func (d *Daemon) checkReload(cfg *configs.Config) error {
	var bad []string
	if !reflect.DeepEqual(cfg.EAL, d.cfg.EAL) {
		bad = append(bad, "eal")
	}
	if !reflect.DeepEqual(cfg.Control, d.cfg.Control) {
		bad = append(bad, "control")
	}
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
		check("vlan", reflect.DeepEqual(old.VLANs, nw.VLANs))
		check("echo_node", old.EchoNode == nw.EchoNode)
		check("lacp_active", *old.LACPActive == *nw.LACPActive)
		check("lacp_system_priority", old.LACPSystemPriority == nw.LACPSystemPriority)
		check("lacp_key", old.LACPKey == nw.LACPKey)
		check("lacp_rate", old.LACPRate == nw.LACPRate)
		same := len(old.Members) == len(nw.Members)
		for j := range min(len(old.Members), len(nw.Members)) {
			if old.Members[j].Device != nw.Members[j].Device || old.Members[j].Carrier != nw.Members[j].Carrier {
				same = false
			}
		}
		check("members", same)
	}
	if len(bad) > 0 {
		return fmt.Errorf("reload: cannot change %s without a restart; nothing was changed", strings.Join(bad, ", "))
	}
	return nil
}

// applyTeamConfig takes over a team's changeable settings.
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
