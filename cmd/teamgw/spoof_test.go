package main

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/perf/lab"
)

// TestSLBSpoofedARPIsNotLearned: from a client namespace, a raw socket
// sends gratuitous ARPs claiming the team IP, ARP replies claiming member
// 1's MAC, and an ARP request from an address off the team's subnet.
// teamgw drops the first two kinds (spoofed_arp) so the kernel never sees
// them, and the third, which the kernel does take into its neighbour
// table, is refused as an SLB client (off_subnet): `teamctl clients` lists
// only the real client, `teamctl show` counts both, and the real client
// keeps reaching the team.
func TestSLBSpoofedARPIsNotLearned(t *testing.T) {
	l := newLab(t, 2, 2)
	ctx := context.Background()
	g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	// The off-subnet host is on the team's link (an on-link route), so the
	// kernel takes its ARP whatever the namespace's rp_filter says.
	if out, err := l.Exec(ctx, l.GW, "ip", "route", "add", "198.51.100.0/24", "dev", "team0"); err != nil {
		t.Fatalf("route: %v %s", err, out)
	}
	real := l.ClientIP(0)
	if out, err := l.Exec(ctx, l.Clients[0], "ping", "-c", "2", "-i", "0.2", "-W", "2", l.Spec.TeamIP.String()); err != nil {
		t.Fatalf("client 0 cannot reach the team: %v\n%s", err, out)
	}
	s, err := g.Status()
	if err != nil {
		t.Fatal(err)
	}
	teamMAC, _ := frame.MACFrom(mustParseMAC(t, s.Teams[0].MAC))
	member1, _ := frame.MACFrom(mustParseMAC(t, s.Teams[0].Members[1].WireMAC))
	before := s.Teams[0].Drops["spoofed_arp"]

	offSubnet := netip.MustParseAddr("198.51.100.7")
	const rounds = 20
	err = l.Do(l.Clients[1], func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		me, _ := frame.MACFrom(ifi.HardwareAddr)
		team := l.Spec.TeamIP
		spoofs := [][]byte{
			frame.AppendARP(nil, frame.Broadcast, me, frame.ARPRequest, me, team, frame.MAC{}, team),      // "the team IP is here"
			frame.AppendARP(nil, teamMAC, me, frame.ARPReply, member1, l.ClientIP(1), teamMAC, team),      // "I am member 1"
			frame.AppendARP(nil, frame.Broadcast, me, frame.ARPRequest, me, offSubnet, frame.MAC{}, team), // off the team's subnet
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		to := &unix.SockaddrLinklayer{Ifindex: ifi.Index}
		for range rounds {
			for _, f := range spoofs {
				if err := unix.Sendto(fd, f, 0, to); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the spoofed ARPs to be counted and the off-subnet neighbour refused", func() bool {
		s, err := g.Status()
		// Each claim of the team IP is a broadcast that reaches both members.
		return err == nil && s.Teams[0].Drops["spoofed_arp"] >= before+3*rounds && s.Teams[0].ClientsRefused["off_subnet"] == 1
	})

	out, err := exec.Command(teamctlBin, "-socket", l.Socket(), "clients", "team0").CombinedOutput()
	if err != nil {
		t.Fatalf("teamctl clients: %v\n%s", err, out)
	}
	text := string(out)
	t.Logf("teamctl clients:\n%s", text)
	if !strings.Contains(text, real.String()) || strings.Contains(text, offSubnet.String()) ||
		strings.Contains(text, " "+l.Spec.TeamIP.String()+" ") || strings.Contains(text, member1.String()) || !strings.Contains(text, "off_subnet=1") {
		t.Errorf("teamctl clients: want only %s as a client and off_subnet=1 refused:\n%s", real, text)
	}
	out, err = exec.Command(teamctlBin, "-socket", l.Socket(), "show").CombinedOutput()
	t.Logf("teamctl show:\n%s", out)
	if err != nil || !strings.Contains(string(out), "spoofed_arp=") || strings.Contains(string(out), "spoofed_arp=0") {
		t.Errorf("teamctl show lacks the spoofed ARPs: %v\n%s", err, out)
	}
	neigh, _ := l.Exec(ctx, l.GW, "ip", "neigh", "show", "dev", "team0")
	if strings.Contains(string(neigh), member1.String()) || strings.Contains(string(neigh), l.Spec.TeamIP.String()+" ") {
		t.Errorf("the kernel learned a spoofed neighbour:\n%s", neigh)
	}
	if !strings.Contains(string(neigh), offSubnet.String()) {
		t.Logf("the kernel has no entry for %s (the refusal was counted while it had one):\n%s", offSubnet, neigh)
	}
	if out, err := l.Exec(ctx, l.Clients[0], "ping", "-c", "2", "-i", "0.2", "-W", "2", l.Spec.TeamIP.String()); err != nil {
		t.Fatalf("client 0 cannot reach the team after the spoofing: %v\n%s", err, out)
	}
}

func mustParseMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
