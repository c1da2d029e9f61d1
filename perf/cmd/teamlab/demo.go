package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/teamgw/teamgw/perf/lab"
)

func demo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	var c common
	c.register(fs)
	teamctl := fs.String("teamctl", "bin/teamctl", "teamctl `binary`")
	fs.Parse(args)

	step := func(format string, a ...any) { fmt.Printf("\n\033[1m== "+format+"\033[0m\n", a...) }
	step("building the lab: gateway, switch (Linux bridge), two clients, two members")
	l, cleanup, err := newLab(2, 2)
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Printf("namespaces: %s (teamgw), %s (bridge br0), %s\n", l.GW, l.Switch, strings.Join(l.Clients, ", "))
	fmt.Println("members: m0 <-> s0, m1 <-> s1 (veth pairs, DPDK net_af_packet); m1 is the standby")

	cfg := l.Config(lab.TeamConfig{Standby: true})
	step("teamgw config")
	fmt.Print(cfg)
	step("starting teamgw in %s", l.GW)
	g, err := l.StartTeamgw(context.Background(), c.teamgw, c.dir, cfg, prefixWriter("  teamgw| "))
	if err != nil {
		return err
	}
	defer func() {
		step("stopping teamgw and removing the lab")
		if err := g.Stop(); err != nil {
			fmt.Println("teamgw:", err)
		}
	}()
	show := func() {
		cmd := exec.Command(*teamctl, "-socket", l.Socket(), "show")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.Run()
	}
	show()

	step("traffic: %s pings the team at %s", l.Clients[0], l.Spec.TeamIP)
	out, err := l.Exec(context.Background(), l.Clients[0], "ping", "-c", "4", "-i", "0.2", l.Spec.TeamIP.String())
	fmt.Print(string(out))
	if err != nil {
		return fmt.Errorf("ping through the team failed: %w", err)
	}

	team := netip.AddrPortFrom(l.Spec.TeamIP, 7)
	stopEcho, err := l.StartEcho(l.GW, team)
	if err != nil {
		return err
	}
	defer stopEcho()
	step("a UDP stream from %s every 1 ms, echoed by the gateway", l.Clients[1])
	s, err := l.StartStream(l.Clients[1], team, time.Millisecond)
	if err != nil {
		return err
	}
	time.Sleep(time.Second)
	show()

	step("cutting the active member's switch port (ip link set s0 down)")
	if err := l.CutMember(0); err != nil {
		return err
	}
	if err := g.WaitActive("net_af_packet1", 5*time.Second); err != nil {
		return err
	}
	time.Sleep(time.Second)
	r := s.Stop()
	fmt.Printf("failover: %d of %d datagrams lost: loss window about %v (longest gap between echoes %v)\n",
		r.Lost, r.Sent, time.Duration(r.Lost)*time.Millisecond, r.MaxGap.Round(100*time.Microsecond))
	show()

	step("restoring s0: teamgw falls back to m0 after the 1.5 s hold-down")
	s, err = l.StartStream(l.Clients[1], team, time.Millisecond)
	if err != nil {
		return err
	}
	if err := l.RestoreMember(0); err != nil {
		return err
	}
	if err := g.WaitActive("net_af_packet0", 5*time.Second); err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	r = s.Stop()
	fmt.Printf("fallback: %d of %d datagrams lost\n", r.Lost, r.Sent)
	show()

	step("live reload: m1 stops being a standby (teamctl reload), so both members carry traffic")
	path := filepath.Join(c.dir, l.Prefix+".toml")
	cur, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	balanced := strings.Replace(string(cur), `{ device = "net_af_packet1,iface=m1", role = "standby" }`, `"net_af_packet1,iface=m1"`, 1)
	if err := os.WriteFile(path, []byte(balanced), 0o644); err != nil {
		return err
	}
	ctl := func(args ...string) {
		cmd := exec.Command(*teamctl, append([]string{"-socket", l.Socket()}, args...)...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.Run()
	}
	ctl("reload")
	time.Sleep(300 * time.Millisecond)
	for _, ns := range l.Clients {
		l.Exec(context.Background(), ns, "ping", "-c", "3", "-i", "0.2", l.Spec.TeamIP.String())
	}
	time.Sleep(1500 * time.Millisecond) // a neighbour-table round: clients get spread
	step("receive balancing: each client is pointed at a member with a directed ARP (teamctl clients)")
	ctl("clients", "team0")
	step("transmit balancing: the outbound flow table (teamctl flows)")
	ctl("flows", "team0")
	show()

	step("the event log (teamctl events; numbers follow BASP's event log where it has one)")
	cmd := exec.Command(*teamctl, "-socket", l.Socket(), "events")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Run()
	return nil
}

// prefixWriter prefixes every line written to stdout.
type prefixWriter string

func (p prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			fmt.Print(string(p) + line)
		}
	}
	return len(b), nil
}
