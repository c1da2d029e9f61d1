package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/teamgw/teamgw/control"
)

// TeamConfig describes the team a lab runs teamgw with.
type TeamConfig struct {
	// Mode is the team type (default "slb").
	Mode string
	// Standby makes the last member a standby (BASP "SLB with standby").
	Standby bool
	// FallbackDelay is the team's fallback hold-down ("" = default).
	FallbackDelay string
	// AutoFallback false disables fallback.
	AutoFallback *bool
	// Extra is appended to the [[team]] table verbatim.
	Extra string
	// TapMembers makes the members DPDK net_tap ports (TAP interfaces
	// tgm<i>, which offer TSO and checksum offloads) instead of af_packet
	// ports on m<i>; WireTapMembers connects each to m<i> once teamgw
	// has created them.
	TapMembers bool
	// MemberArgs are appended to each af_packet member's device string
	// (such as ",qdisc_bypass=0").
	MemberArgs string
}

// Config renders a teamgw config for the lab's members: the team "team0"
// on the lab's team addresses, its control socket and DPDK file prefix
// named after the lab, small memory and an idle worker that sleeps (the
// lab shares two cores with everything else).
func (l *Lab) Config(tc TeamConfig) string {
	mode := tc.Mode
	if mode == "" {
		mode = "slb"
	}
	var b strings.Builder
	mem := 256
	if l.Spec.MTU > 1500 {
		mem = 512 // jumbo mbufs
	}
	fmt.Fprintf(&b, "[eal]\nmemory_mb = %d\nfile_prefix = %q\nidle_sleep = \"50us\"\n\n", mem, l.Prefix)
	fmt.Fprintf(&b, "[control]\nsocket = %q\nmetrics = \"off\"\nlink_poll = \"10ms\"\n\n", l.Socket())
	fmt.Fprintf(&b, "[[team]]\nname = \"team0\"\nmode = %q\n", mode)
	if l.Spec.MTU != 1500 {
		fmt.Fprintf(&b, "mtu = %d\n", l.Spec.MTU)
	}
	fmt.Fprintf(&b, "addresses = [\"%s/24\", \"%s/64\"]\n", l.Spec.TeamIP, l.Spec.TeamIP6)
	if tc.FallbackDelay != "" {
		fmt.Fprintf(&b, "fallback_delay = %q\n", tc.FallbackDelay)
	}
	if tc.AutoFallback != nil {
		fmt.Fprintf(&b, "auto_fallback = %v\n", *tc.AutoFallback)
	}
	b.WriteString("members = [\n")
	for i := range l.Spec.Members {
		dev := fmt.Sprintf("net_af_packet%d,iface=m%d%s", i, i, tc.MemberArgs)
		if tc.TapMembers {
			dev = fmt.Sprintf("net_tap%d,iface=%s", i, TapMember(i))
		}
		if tc.Standby && i == l.Spec.Members-1 {
			fmt.Fprintf(&b, "  { device = %q, role = \"standby\" },\n", dev)
		} else {
			fmt.Fprintf(&b, "  %q,\n", dev)
		}
	}
	b.WriteString("]\n")
	b.WriteString(tc.Extra)
	return b.String()
}

// TapMember is the kernel interface of member i with TeamConfig.TapMembers.
func TapMember(i int) string { return fmt.Sprintf("tgm%d", i) }

// WireTapMembers connects each TAP member to its member veth as a wire
// does: what one receives the other sends (tc mirred on both ingresses).
// A bridge would not do: it takes the TAP's MAC, the member's, for its
// own and keeps frames for it.
func (l *Lab) WireTapMembers(ctx context.Context) error {
	var script strings.Builder
	script.WriteString("set -e\n")
	for i := range l.Spec.Members {
		for _, p := range [][2]string{{fmt.Sprintf("m%d", i), TapMember(i)}, {TapMember(i), fmt.Sprintf("m%d", i)}} {
			fmt.Fprintf(&script, "tc qdisc add dev %s ingress\n", p[0])
			fmt.Fprintf(&script, "tc filter add dev %s parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev %s\n", p[0], p[1])
		}
	}
	if out, err := l.Exec(ctx, l.GW, "sh", "-c", script.String()); err != nil {
		return fmt.Errorf("lab: wire TAP members: %w\n%s", err, out)
	}
	return nil
}

// Socket is the control socket path of the lab's teamgw.
func (l *Lab) Socket() string { return "/run/teamgw/" + l.Prefix + ".sock" }

// Teamgw is a teamgw process running in the lab's gateway namespace.
type Teamgw struct {
	Cmd    *exec.Cmd
	Socket string
	exited chan error
}

// StartTeamgw writes config to dir, starts binary in the gateway namespace
// with its output going to log, and waits until the control socket
// answers with an active member (or the process exits, or 20 s pass).
func (l *Lab) StartTeamgw(ctx context.Context, binary, dir, config string, log io.Writer) (*Teamgw, error) {
	return l.StartTeamgwWait(ctx, binary, dir, config, log, func(s *control.Status) bool {
		return len(s.Teams) > 0 && s.Teams[0].Active != "none"
	})
}

// StartTeamgwWait is StartTeamgw with the readiness condition given: it
// waits until ready accepts the status the control socket reports.
func (l *Lab) StartTeamgwWait(ctx context.Context, binary, dir, config string, log io.Writer, ready func(*control.Status) bool) (*Teamgw, error) {
	path := filepath.Join(dir, l.Prefix+".toml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		return nil, err
	}
	cmd, err := l.Start(l.GW, log, log, binary, "-config", path)
	if err != nil {
		return nil, err
	}
	g := &Teamgw{Cmd: cmd, Socket: l.Socket(), exited: make(chan error, 1)}
	go func() { g.exited <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if s, err := g.Status(); err == nil && ready(s) {
			return g, nil
		}
		select {
		case err := <-g.exited:
			g.exited <- err
			return nil, fmt.Errorf("teamgw exited during start-up: %v", err)
		case <-ctx.Done():
			g.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			g.Stop()
			return nil, errors.New("teamgw did not bring its team up within 20 s")
		}
	}
}

// Status asks teamgw for its state through the control socket.
func (g *Teamgw) Status() (*control.Status, error) {
	resp, err := control.Call(g.Socket, control.Request{Cmd: "show"})
	if err != nil {
		return nil, err
	}
	return resp.Status, nil
}

// WaitActive polls until member becomes the team's active member.
func (g *Teamgw) WaitActive(member string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		if s, err := g.Status(); err == nil && len(s.Teams) > 0 {
			if last = s.Teams[0].Active; last == member {
				return nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("active member is %q after %s, want %q", last, timeout, member)
}

// Stop sends SIGTERM and waits for teamgw to exit; it returns the exit
// error (nil for a clean stop, status 0).
func (g *Teamgw) Stop() error {
	if g.Cmd.Process != nil {
		g.Cmd.Process.Signal(os.Interrupt)
	}
	select {
	case err := <-g.exited:
		g.exited <- err
		return err
	case <-time.After(15 * time.Second):
		g.Cmd.Process.Kill()
		return errors.New("teamgw did not stop within 15 s of SIGINT")
	}
}
