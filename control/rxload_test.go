package control

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/configs"
	"github.com/teamgw/teamgw/dataplane"
	"github.com/teamgw/teamgw/slb"
)

// slotTeam is an SLB team with the given clients and no data plane.
func slotTeam(ips ...netip.Addr) *team {
	t := &team{cfg: configs.Team{Mode: configs.ModeSLB}}
	for _, ip := range ips {
		t.clients = append(t.clients, &slb.Client{IP: ip, Member: -1})
	}
	return t
}

// samePair returns n IPv4 addresses whose keys want the same pair of slots.
func samePair(n int) []netip.Addr {
	byPair := map[int][]netip.Addr{}
	for i := 0; ; i++ {
		ip := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		p := dataplane.RxSlotOf(dataplane.RxKey(ip)) >> 1
		byPair[p] = append(byPair[p], ip)
		if len(byPair[p]) == n {
			return byPair[p]
		}
	}
}

func TestClientSlotsArePlacedFreedAndNeverChangedOncePublished(t *testing.T) {
	d := &Daemon{}
	ips := samePair(3)
	tm := slotTeam(ips...)
	if !d.placeClientSlots(tm) {
		t.Fatal("placing three clients changed nothing")
	}
	r := &tm.inbound
	first := r.slots
	var slots []int
	for _, c := range tm.clients[:2] {
		s, ok := r.slot[c]
		if !ok || first.Lookup(dataplane.RxKey(c.IP)) != s {
			t.Fatalf("client %s: slot %d (%v), lookup %d", c.IP, s, ok, first.Lookup(dataplane.RxKey(c.IP)))
		}
		slots = append(slots, s)
	}
	if slots[0]^1 != slots[1] {
		t.Errorf("slots %v: want the two slots of one pair", slots)
	}
	if _, ok := r.slot[tm.clients[2]]; ok || r.uncounted != 1 {
		t.Errorf("third client of a full pair: placed %v, uncounted %d; want not placed, 1", ok, r.uncounted)
	}
	if d.placeClientSlots(tm) {
		t.Error("a second placement with nothing new changed the table")
	}
	// The first client leaves: its slot is freed in a new table, the
	// published one stays as it was, and the waiting client takes it.
	snapshot := *first
	tm.clients = tm.clients[1:]
	if !d.placeClientSlots(tm) {
		t.Fatal("a client leaving changed nothing")
	}
	if *first != snapshot {
		t.Error("the published table was changed in place")
	}
	if s := r.slot[tm.clients[1]]; s != slots[0] || r.slots.Lookup(dataplane.RxKey(ips[0])) != -1 || r.uncounted != 0 {
		t.Errorf("after the first client left: waiting client in slot %d (want %d), uncounted %d", s, slots[0], r.uncounted)
	}
	if len(r.slot) != 2 || len(r.prev) != 2 {
		t.Errorf("%d slots and %d baselines kept for 2 clients", len(r.slot), len(r.prev))
	}
}

func TestRxConfigDefaultsAreSLBDefaults(t *testing.T) {
	cfg, err := configs.Parse("", []byte("[[team]]\nname = \"t\"\nmembers = [\"net_null0\", \"net_null1\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rxConfig(cfg.Teams[0]), slb.DefaultRxBalanceConfig(); got != want {
		t.Errorf("config defaults give %+v, slb's defaults are %+v", got, want)
	}
}

func TestReassertClientsAfterAnnouncement(t *testing.T) {
	d := &Daemon{now: func() time.Time { return time.Unix(100, 0) }}
	tm := slotTeam(netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.12"))
	tm.cfg.GARPCount = 3
	tm.path = 1
	for i, c := range tm.clients {
		c.Member = i
	}
	d.reassertClients(tm)
	var got []netip.Addr
	for _, p := range tm.directed {
		got = append(got, p.client.IP)
		if p.left != 3 || !p.next.Equal(time.Unix(100, 0)) {
			t.Errorf("directed ARPs to %s: %d left, next %v; want 3 now", p.client.IP, p.left, p.next)
		}
	}
	if !slices.Equal(got, []netip.Addr{tm.clients[0].IP, tm.clients[2].IP}) {
		t.Errorf("re-pointed %v, want the clients off the path member", got)
	}
}

// TestDaemonCountsClientTraffic makes 192.0.2.10 a client (a neighbour
// of the team interface) and sends it frames in through member 0: the
// status shows its packets and bytes, a rate, and its member's load.
func TestDaemonCountsClientTraffic(t *testing.T) {
	tt := startTapTeam(t, "")
	st := tt.waitActive(t, tt.status(t).Members[0].Name)
	client := netip.MustParseAddr("192.0.2.10")
	clientMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x10}
	if out, err := exec.Command("ip", "neigh", "replace", client.String(), "lladdr", clientMAC.String(), "dev", tt.name, "nud", "permanent").CombinedOutput(); err != nil {
		t.Fatalf("ip neigh: %v %s", err, out)
	}
	find := func(st TeamStatus) *ClientStatus {
		for i := range st.Clients {
			if st.Clients[i].IP == client.String() {
				return &st.Clients[i]
			}
		}
		return nil
	}
	deadline := time.Now().Add(5 * time.Second)
	for find(tt.status(t)) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the neighbour did not become a client")
		}
		time.Sleep(20 * time.Millisecond)
	}
	teamMAC, _ := net.ParseMAC(st.MAC)
	f := make([]byte, 14+20+8+100)
	copy(f[0:6], teamMAC)
	copy(f[6:12], clientMAC)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	f[14], f[22], f[23] = 0x45, 64, 17
	binary.BigEndian.PutUint16(f[16:], uint16(len(f)-14))
	copy(f[26:30], client.AsSlice())
	copy(f[30:34], netip.MustParseAddr("192.0.2.1").AsSlice())
	binary.BigEndian.PutUint16(f[34:], 4000)
	binary.BigEndian.PutUint16(f[36:], 9) // discard
	binary.BigEndian.PutUint16(f[38:], 108)
	fd := packetSocket(t, tt.members[0])
	ifi, _ := net.InterfaceByName(tt.members[0])
	const n = 50
	for range n {
		if err := unix.Sendto(fd, f, 0, &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}); err != nil {
			t.Fatal(err)
		}
	}
	var cs *ClientStatus
	var ms MemberStatus
	deadline = time.Now().Add(5 * time.Second)
	for {
		st = tt.status(t)
		cs = find(st)
		for _, m := range st.Members {
			if m.Name == cs.Member {
				ms = m
			}
		}
		if cs.Packets == n && ms.ClientLoad > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cs.Packets != n || cs.Bytes != n*uint64(len(f)) || cs.Rate <= 0 || cs.PacketRate <= 0 {
		t.Errorf("client %s: %d packets, %d bytes, %.0f B/s, %.1f pkt/s; want %d and %d and rates", cs.IP, cs.Packets, cs.Bytes, cs.Rate, cs.PacketRate, n, n*len(f))
	}
	if ms.Clients != 1 || ms.ClientLoad != cs.Rate {
		t.Errorf("member %s: %d clients, load %.0f; want 1 and the client's %.0f", ms.Name, ms.Clients, ms.ClientLoad, cs.Rate)
	}
}
