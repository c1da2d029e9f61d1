package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// OVS is an Open vSwitch instance in the lab's switch namespace, with the
// userspace datapath (no kernel module) and private run, log and database
// directories. Its bridge br1 replaces the Linux bridge: the member ports
// s<i> form one bond, and the client ports c<j> are plain ports. It is the
// real peer for static trunking (bond with lacp=off) and for LACP.
type OVS struct {
	l   *Lab
	dir string
}

// BondMode configures the OVS bond facing the team's members.
type BondMode struct {
	// Mode is OVS's bond_mode: "balance-slb", "balance-tcp" or
	// "active-backup".
	Mode string
	// LACP is "off", "active" or "passive".
	LACP string
}

// StartOVS starts ovsdb-server and ovs-vswitchd in the switch namespace
// and moves every port from the Linux bridge to an OVS bridge with the
// members in one bond. The daemons are stopped by Close.
func (l *Lab) StartOVS(ctx context.Context, bond BondMode, log io.Writer) (*OVS, error) {
	dir := filepath.Join(os.TempDir(), "teamgw-ovs-"+l.Prefix)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	l.addCloser(func() { os.RemoveAll(dir) })
	o := &OVS{l: l, dir: dir}
	db := filepath.Join(dir, "conf.db")
	if out, err := exec.CommandContext(ctx, "ovsdb-tool", "create", db, "/usr/share/openvswitch/vswitch.ovsschema").CombinedOutput(); err != nil {
		return nil, cmdError("ovsdb-tool create", out, err)
	}
	env := o.env()
	if _, err := l.Start(l.Switch, log, log, "env", append(env, "ovsdb-server", db,
		"--remote=punix:"+o.dbSock(), "--unixctl="+filepath.Join(dir, "ovsdb.ctl"),
		"--pidfile="+filepath.Join(dir, "ovsdb.pid"), "--log-file="+filepath.Join(dir, "ovsdb.log"))...); err != nil {
		return nil, err
	}
	if err := o.waitFor(ctx, o.dbSock()); err != nil {
		return nil, err
	}
	if out, err := o.vsctl(ctx, "--no-wait", "init"); err != nil {
		return nil, cmdError("ovs-vsctl init", out, err)
	}
	if _, err := l.Start(l.Switch, log, log, "env", append(env, "ovs-vswitchd", "unix:"+o.dbSock(),
		"--unixctl="+o.ctl(), "--pidfile="+filepath.Join(dir, "vswitchd.pid"),
		"--log-file="+filepath.Join(dir, "vswitchd.log"))...); err != nil {
		return nil, err
	}
	if err := o.waitFor(ctx, o.ctl()); err != nil {
		return nil, err
	}
	var members []string
	for i := range l.Spec.Members {
		members = append(members, fmt.Sprintf("s%d", i))
	}
	var cmds []string
	for _, p := range members {
		cmds = append(cmds, "link set "+p+" nomaster")
	}
	for j := range l.Clients {
		cmds = append(cmds, fmt.Sprintf("link set c%d nomaster", j))
	}
	if err := ipBatch(ctx, l.Switch, cmds...); err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.ovs = true
	l.mu.Unlock()
	args := []string{"add-br", "br1", "--", "set", "bridge", "br1", "datapath_type=netdev",
		"--", "add-bond", "br1", "bond0"}
	args = append(args, members...)
	args = append(args, "lacp="+bond.LACP, "bond_mode="+bond.Mode, "other_config:lacp-time=fast",
		"other_config:bond-detect-mode=carrier")
	for j := range l.Clients {
		args = append(args, "--", "add-port", "br1", fmt.Sprintf("c%d", j))
	}
	if out, err := o.vsctl(ctx, args...); err != nil {
		return nil, cmdError("ovs-vsctl add-br/add-bond", out, err)
	}
	if err := ipBatch(ctx, l.Switch, "link set br1 up"); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *OVS) env() []string {
	return []string{"OVS_RUNDIR=" + o.dir, "OVS_LOGDIR=" + o.dir, "OVS_DBDIR=" + o.dir}
}

func (o *OVS) dbSock() string { return filepath.Join(o.dir, "db.sock") }
func (o *OVS) ctl() string    { return filepath.Join(o.dir, "vswitchd.ctl") }

// waitFor waits until a daemon created its socket.
func (o *OVS) waitFor(ctx context.Context, path string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("lab: OVS socket %s did not appear", path)
}

// Vsctl runs ovs-vsctl against the lab's database (e.g. to reconfigure
// the bond).
func (o *OVS) Vsctl(ctx context.Context, args ...string) (string, error) {
	out, err := o.vsctl(ctx, args...)
	return strings.TrimSpace(string(out)), err
}

func (o *OVS) vsctl(ctx context.Context, args ...string) ([]byte, error) {
	return o.l.Exec(ctx, o.l.Switch, "ovs-vsctl", append([]string{"--db=unix:" + o.dbSock(), "--timeout=10"}, args...)...)
}

// Appctl runs ovs-appctl against ovs-vswitchd (e.g. "bond/show",
// "lacp/show").
func (o *OVS) Appctl(ctx context.Context, args ...string) (string, error) {
	out, err := o.l.Exec(ctx, o.l.Switch, "ovs-appctl", append([]string{"-t", o.ctl()}, args...)...)
	return strings.TrimSpace(string(out)), err
}
