package control

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/configs"
	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/slb"
)

// guardTeam is an SLB team on 192.0.2.1/24 (and a VLAN on
// 198.51.100.1/24) with two kernel-backed members, its addresses loaded
// from the config only (its interfaces do not exist).
func guardTeam() *team {
	cfg := configs.Team{Name: "tgnonexist0", Mode: configs.ModeSLB, Addresses: []string{"192.0.2.1/24", "2001:db8::1/64"},
		VLANs: []configs.VLAN{{ID: 5, Name: "tgnonexist0.5", Addresses: []string{"198.51.100.1/24"}}}}
	t := &team{cfg: cfg, mac: frame.MAC{0x02, 0, 0, 0, 0, 1}}
	for i := range 2 {
		t.members = append(t.members, &member{cfg: configs.Member{Device: "net_af_packet" + string(rune('0'+i)) + ",iface=m0"},
			mac: frame.MAC{0x0a, 0, 0, 0, 0, byte(0x10 + i)}})
	}
	t.refreshAddrs(nil)
	return t
}

func TestReadAddrsFromConfig(t *testing.T) {
	tm := guardTeam()
	want := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("198.51.100.1")}
	if !slices.Equal(tm.guard.addrs.own, want) {
		t.Errorf("own addresses %v, want %v", tm.guard.addrs.own, want)
	}
	if len(tm.guard.addrs.subnets) != 2 || tm.guard.addrs.subnets[0] != netip.MustParsePrefix("192.0.2.1/24") {
		t.Errorf("subnets %v, want the team interface's two prefixes (not the VLAN's)", tm.guard.addrs.subnets)
	}
	if tm.refreshAddrs(nil) {
		t.Error("refreshAddrs reported a change when nothing changed")
	}
	kernel := map[string][]netip.Prefix{
		"tgnonexist0":   {netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("10.1.0.5/16")},
		"tgnonexist0.5": {netip.MustParsePrefix("203.0.113.1/24")},
		"elsewhere0":    {netip.MustParsePrefix("172.16.0.1/12")},
	}
	if !tm.refreshAddrs(kernel) {
		t.Error("refreshAddrs missed the kernel's addresses")
	}
	if own := tm.guard.addrs.own; len(own) != 5 || !slices.Contains(own, netip.MustParseAddr("10.1.0.5")) ||
		!slices.Contains(own, netip.MustParseAddr("203.0.113.1")) || slices.Contains(own, netip.MustParseAddr("172.16.0.1")) {
		t.Errorf("own addresses with the kernel's: %v", own)
	}
	if sn := tm.guard.addrs.subnets; len(sn) != 3 || sn[2] != netip.MustParsePrefix("10.1.0.5/16") {
		t.Errorf("subnets with the kernel's: %v", sn)
	}
	if ip, ok := tm.addressFor(netip.MustParseAddr("10.1.200.1")); !ok || ip != netip.MustParseAddr("10.1.0.5") {
		t.Errorf("addressFor(10.1.200.1) = %v, %v", ip, ok)
	}
	if ip, ok := tm.addressFor(netip.MustParseAddr("192.0.2.77")); !ok || ip != want[0] {
		t.Errorf("addressFor(192.0.2.77) = %v, %v", ip, ok)
	}
	if _, ok := tm.addressFor(netip.MustParseAddr("198.51.100.7")); ok {
		t.Error("addressFor found a team address for an off-subnet host")
	}
}

// TestVetNeighbors feeds the kernel's view of neighbours, spoofed entries
// among them, to the client table: only the real client is learned, each
// refusal is counted once while it stays and again when it returns.
func TestVetNeighbors(t *testing.T) {
	d := &Daemon{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	tm := guardTeam()
	client := neighbor{IP: netip.MustParseAddr("192.0.2.10"), MAC: frame.MAC{0x02, 0xc, 0, 0, 0, 1}}
	spoofs := []neighbor{
		{IP: netip.MustParseAddr("192.0.2.1"), MAC: frame.MAC{0x02, 0xc, 0, 0, 0, 2}},      // the team's own address
		{IP: netip.MustParseAddr("198.51.100.1"), MAC: frame.MAC{0x02, 0xc, 0, 0, 0, 2}},   // the VLAN's address
		{IP: netip.MustParseAddr("192.0.2.11"), MAC: tm.mac},                               // the team MAC
		{IP: netip.MustParseAddr("192.0.2.12"), MAC: tm.members[1].mac},                    // a member's kernel MAC
		{IP: netip.MustParseAddr("192.0.2.13"), MAC: wireMAC(tm.members[1])},               // a member's wire MAC
		{IP: netip.MustParseAddr("203.0.113.9"), MAC: frame.MAC{0x02, 0xc, 0, 0, 0, 3}},    // off the team's subnets
		{IP: netip.MustParseAddr("192.0.2.255"), MAC: frame.MAC{0x02, 0xc, 0, 0, 0, 4}},    // the subnet's broadcast
		{IP: netip.MustParseAddr("192.0.2.14"), MAC: frame.MAC{0x01, 0x00, 0x5e, 0, 0, 1}}, // a multicast MAC
	}
	poll := func() {
		t.Helper()
		ns := append([]neighbor{client}, spoofs...)
		tm.syncClients(d.vetNeighbors(tm, ns))
		if len(tm.clients) != 1 || tm.clients[0].IP != client.IP {
			var got []string
			for _, c := range tm.clients {
				got = append(got, c.IP.String())
			}
			t.Fatalf("clients %v, want only %s", got, client.IP)
		}
	}
	want := map[string]uint64{"own_address": 2, "own_mac": 3, "off_subnet": 1, "invalid": 2}
	poll()
	poll() // the same entries again: not counted twice
	if got := tm.refusals(); !mapsEqual(got, want) {
		t.Errorf("refusals %v, want %v", got, want)
	}
	tm.syncClients(d.vetNeighbors(tm, []neighbor{client})) // the spoofed entries expire
	poll()                                                 // and come back
	for k := range want {
		want[k] *= 2
	}
	if got := tm.refusals(); !mapsEqual(got, want) {
		t.Errorf("after the entries returned: refusals %v, want %v", got, want)
	}
	tm.cfg.Mode = configs.ModeTrunk
	if got := tm.refusals(); got != nil {
		t.Errorf("a trunk team reports refusals %v", got)
	}
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// TestDaemonGuardsTheClientTable runs a team on net_tap members: the
// team's addresses reach the data plane's ARP guard (an address an
// administrator adds too); a gratuitous ARP claiming the team IP, sent
// into a member from the wire side, is dropped as spoofed_arp; neighbour
// entries the kernel holds for the team's own MAC or off its subnet are
// refused and counted, while a real neighbour becomes a client.
func TestDaemonGuardsTheClientTable(t *testing.T) {
	tt := startTapTeam(t, "")
	team := netip.MustParseAddr("192.0.2.1")
	owns := func(ip netip.Addr) bool {
		ts := tt.d.snap.Load().Teams[0]
		return slices.Contains(ts.OwnIPs[:ts.NumOwnIPs], ip.As4())
	}
	if !owns(team) {
		t.Fatal("the team address is not in the published snapshot")
	}
	extra := netip.MustParseAddr("192.0.2.2")
	ipCmd(t, "addr", "add", extra.String()+"/24", "dev", tt.name)
	waitUntil(t, "an added address to reach the snapshot", func() bool { return owns(extra) })

	st := tt.status(t)
	teamMAC, _ := frame.MACFrom(mustMAC(t, st.MAC))
	spoofer := frame.MAC{0x02, 0x5b, 0, 0, 0, 1}
	fd := packetSocket(t, tt.members[0])
	ifi, _ := net.InterfaceByName(tt.members[0])
	garp := frame.AppendARP(nil, frame.Broadcast, spoofer, frame.ARPRequest, spoofer, team, frame.MAC{}, team)
	for range 5 {
		if err := unix.Sendto(fd, garp, 0, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "five spoofed ARPs counted", func() bool { return tt.status(t).Drops["spoofed_arp"] >= 5 })

	ipCmd(t, "neigh", "replace", "192.0.2.50", "lladdr", teamMAC.String(), "dev", tt.name, "nud", "permanent")
	ipCmd(t, "neigh", "replace", "203.0.113.9", "lladdr", "02:5b:00:00:00:02", "dev", tt.name, "nud", "permanent")
	ipCmd(t, "neigh", "replace", "192.0.2.60", "lladdr", "02:5b:00:00:00:03", "dev", tt.name, "nud", "permanent")
	waitUntil(t, "the real neighbour to become a client", func() bool { return len(tt.status(t).Clients) == 1 })
	st = tt.status(t)
	if st.Clients[0].IP != "192.0.2.60" {
		t.Errorf("clients %+v, want only 192.0.2.60", st.Clients)
	}
	if r := st.ClientsRefused; r[slb.RefusedOwnMAC.String()] != 1 || r[slb.RefusedOffSubnet.String()] != 1 {
		t.Errorf("refusals %v, want own_mac=1 off_subnet=1", r)
	}
}

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v %s", strings.Join(args, " "), err, out)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
