package main

import (
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/teamgw/teamgw/control"
	"github.com/teamgw/teamgw/perf/lab"
)

// Receive balancing in the lab: Linux clients behind a Linux bridge, their
// ARP caches, their traffic as each member receives it, a member cut and
// restored, and a heavy client among light ones.

// clientMACs reads, in every client, the MAC its ARP cache has for the
// team IP ("" when it has none).
func clientMACs(t *testing.T, l *lab.Lab) []string {
	t.Helper()
	return neighMACs(t, l, l.Spec.TeamIP)
}

// neighMACs reads, in every client, the MAC its neighbour cache has for
// addr ("" when it has none).
func neighMACs(t *testing.T, l *lab.Lab, addr netip.Addr) []string {
	t.Helper()
	macs := make([]string, len(l.Clients))
	for j, ns := range l.Clients {
		out, _ := l.Exec(context.Background(), ns, "ip", "neigh", "show", addr.String())
		f := strings.Fields(string(out))
		for i := range f {
			if f[i] == "lladdr" && i+1 < len(f) {
				macs[j] = f[i+1]
			}
		}
	}
	return macs
}

// spread counts the clients per MAC.
func spread(macs []string) map[string]int {
	per := map[string]int{}
	for _, m := range macs {
		per[m]++
	}
	return per
}

// evenWithinOne reports whether the clients are spread over want MACs
// (none empty), with at most one client between the most and the least.
func evenWithinOne(macs []string, want int) bool {
	per := spread(macs)
	if len(per) != want || per[""] > 0 {
		return false
	}
	lo, hi := len(macs), 0
	for _, n := range per {
		lo, hi = min(lo, n), max(hi, n)
	}
	return hi-lo <= 1
}

// waitUntil polls cond every 50 ms until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pingTeam makes every client ARP for and reach the team.
func pingTeam(t *testing.T, l *lab.Lab) {
	t.Helper()
	for j, ns := range l.Clients {
		if out, err := l.Exec(context.Background(), ns, "ping", "-c", "1", "-W", "2", l.Spec.TeamIP.String()); err != nil {
			t.Fatalf("client %d cannot reach the team: %v\n%s", j, err, out)
		}
	}
}

// sink discards UDP datagrams sent to the team on port.
func sink(t *testing.T, l *lab.Lab, port uint16) {
	t.Helper()
	var conn *net.UDPConn
	err := l.Do(l.GW, func() error {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.Spec.TeamIP, port)))
		conn = c
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadBuffer(4 << 20)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			if _, err := conn.Read(buf); errors.Is(err, net.ErrClosed) {
				return
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
}

// sender sends size-byte UDP datagrams from a client to the team at about
// pps datagrams a second, in bursts every 10 ms.
type sender struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
	sent atomic.Uint64
}

func startSender(t *testing.T, l *lab.Lab, ns string, port uint16, size, pps int) *sender {
	t.Helper()
	var conn *net.UDPConn
	err := l.Do(ns, func() error {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.Spec.TeamIP, port)))
		conn = c
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &sender{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer conn.Close()
		buf := make([]byte, size)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		start, due := time.Now(), 0
		for {
			select {
			case <-s.stop:
				return
			case now := <-tick.C:
				// Catch up on late ticks, so every sender keeps its rate.
				for want := int(now.Sub(start).Seconds() * float64(pps)); due < want; due++ {
					if _, err := conn.Write(buf); err == nil {
						s.sent.Add(1)
					}
				}
			}
		}
	}()
	t.Cleanup(s.Stop)
	return s
}

// Stop stops the sender and waits for it.
func (s *sender) Stop() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// memberRx is each member's received packets and bytes.
func memberRx(t *testing.T, g *lab.Teamgw) (packets, bytes []uint64) {
	t.Helper()
	s, err := g.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range s.Teams[0].Members {
		packets = append(packets, m.Counters.RxPackets)
		bytes = append(bytes, m.Counters.RxBytes)
	}
	return packets, bytes
}

// imbalance is (largest - smallest) / largest of the differences b - a.
func imbalance(a, b []uint64) (float64, []uint64) {
	d := make([]uint64, len(a))
	for i := range a {
		d[i] = b[i] - a[i]
	}
	lo, hi := slices.Min(d), slices.Max(d)
	if hi == 0 {
		return 1, d
	}
	return float64(hi-lo) / float64(hi), d
}

// wireMACs maps each member's MAC as clients see it (the path member's is
// the team MAC) to its name.
func wireMACs(s *control.Status) map[string]string {
	out := map[string]string{}
	for _, m := range s.Teams[0].Members {
		if m.Path {
			out[s.Teams[0].MAC] = m.Name
		} else {
			out[m.WireMAC] = m.Name
		}
	}
	return out
}

// TestSLBReceiveBalancingSixClients is the receive-balancing lab test of
// issue 4: six Linux clients behind a bridge and three members. The
// clients' ARP caches map the team IP to the three members' MACs, two
// clients each; equal traffic from every client arrives evenly on the
// members (per-member RX within 15%); cutting a member's link re-points its
// clients (their ARP caches change) and every client reaches the team
// again within 1 s (the loss windows are printed); restoring it loses no
// datagram while its clients move back.
func TestSLBReceiveBalancingSixClients(t *testing.T) {
	l := newLab(t, 3, 6)
	ctx := context.Background()
	cfg := l.Config(lab.TeamConfig{FallbackDelay: "200ms", Extra: "garp_interval = \"20ms\"\n"})
	g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	pingTeam(t, l)
	waitUntil(t, 10*time.Second, "the clients to be spread over three member MACs", func() bool { return evenWithinOne(clientMACs(t, l), 3) })
	st, err := g.Status()
	if err != nil {
		t.Fatal(err)
	}
	names := wireMACs(st)
	macs := clientMACs(t, l)
	for j, m := range macs {
		if names[m] == "" {
			t.Errorf("client %d has %s for the team, which is no member's", j, m)
		}
	}
	t.Logf("ARP spread: %v", spread(macs))

	// Equal traffic from every client: 400 datagrams of 200 bytes a second.
	sink(t, l, 9)
	p0, b0 := memberRx(t, g)
	var senders []*sender
	for _, ns := range l.Clients {
		senders = append(senders, startSender(t, l, ns, 9, 200, 400))
	}
	time.Sleep(3 * time.Second)
	for _, s := range senders {
		s.Stop()
	}
	time.Sleep(100 * time.Millisecond)
	p1, b1 := memberRx(t, g)
	pk, dp := imbalance(p0, p1)
	by, db := imbalance(b0, b1)
	t.Logf("equal traffic: per-member RX packets %v (spread %.1f%%), bytes %v (spread %.1f%%)", dp, 100*pk, db, 100*by)
	if pk > 0.15 || by > 0.15 {
		t.Errorf("per-member RX differs by %.1f%% (packets) and %.1f%% (bytes), want within 15%%", 100*pk, 100*by)
	}

	// Cut member 2 while every client streams to the team.
	if _, err := l.StartEcho(l.GW, netip.AddrPortFrom(l.Spec.TeamIP, 7)); err != nil {
		t.Fatal(err)
	}
	streams := func() []*lab.Stream {
		var ss []*lab.Stream
		for _, ns := range l.Clients {
			s, err := l.StartStream(ns, netip.AddrPortFrom(l.Spec.TeamIP, 7), 2*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			ss = append(ss, s)
		}
		waitUntil(t, 5*time.Second, "every stream to flow", func() bool {
			return !slices.ContainsFunc(ss, func(s *lab.Stream) bool { return s.Received() == 0 })
		})
		return ss
	}
	cut := st.Teams[0].Members[2]
	var onCut []int
	for j, m := range clientMACs(t, l) {
		if names[m] == cut.Name {
			onCut = append(onCut, j)
		}
	}
	ss := streams()
	time.Sleep(200 * time.Millisecond)
	if err := l.CutMember(2); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the cut member's clients to be re-pointed", func() bool {
		return !slices.ContainsFunc(clientMACs(t, l), func(m string) bool { return names[m] == cut.Name })
	})
	time.Sleep(time.Second)
	var worst time.Duration
	for j, s := range ss {
		r := s.Stop()
		worst = max(worst, r.MaxGap)
		t.Logf("cut: client %d (on the cut member: %v) lost %d of %d, loss window %s", j, slices.Contains(onCut, j), r.Lost, r.Sent, r.MaxGap.Round(100*time.Microsecond))
		if r.MaxGap > time.Second {
			t.Errorf("client %d was cut off for %s, want under 1 s", j, r.MaxGap)
		}
	}
	t.Logf("cut: loss window at most %s over %d clients (%d of them on the cut member)", worst.Round(100*time.Microsecond), len(ss), len(onCut))
	if len(onCut) == 0 {
		t.Error("no client was on the cut member")
	}
	if after := clientMACs(t, l); !evenWithinOne(after, 2) {
		t.Errorf("after the cut the clients' MACs spread %v, want two members within one client", spread(after))
	}
	pingTeam(t, l)

	// Restore it: its share comes back, and nothing is lost meanwhile.
	ss = streams()
	if err := l.RestoreMember(2); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the clients to be spread over three members again", func() bool { return evenWithinOne(clientMACs(t, l), 3) })
	time.Sleep(500 * time.Millisecond)
	var lost, sent uint64
	for j, s := range ss {
		r := s.Stop()
		lost += r.Lost
		sent += r.Sent
		t.Logf("fallback: client %d lost %d of %d, longest gap %s", j, r.Lost, r.Sent, r.MaxGap.Round(100*time.Microsecond))
	}
	t.Logf("fallback: %d of %d datagrams lost; ARP spread %v", lost, sent, spread(clientMACs(t, l)))
	if lost != 0 {
		t.Errorf("fallback lost %d of %d datagrams, want none", lost, sent)
	}
}

// TestSLBPathMemberCutKeepsClientsSpread cuts the path member, which
// carries the team MAC: the new path member announces the team by
// broadcast, which points every client at the team MAC, so teamgw then
// re-points the clients of the other member with directed ARPs. The
// clients end up spread over the two survivors, not all on the new path
// member.
func TestSLBPathMemberCutKeepsClientsSpread(t *testing.T) {
	l := newLab(t, 3, 6)
	ctx := context.Background()
	cfg := l.Config(lab.TeamConfig{Extra: "garp_interval = \"20ms\"\n"})
	g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	pingTeam(t, l)
	waitUntil(t, 10*time.Second, "the clients to be spread over three member MACs", func() bool { return evenWithinOne(clientMACs(t, l), 3) })
	if err := l.CutMember(0); err != nil {
		t.Fatal(err)
	}
	if err := g.WaitActive("net_af_packet1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	st, _ := g.Status()
	names := wireMACs(st)
	survivors := func() bool {
		macs := clientMACs(t, l)
		for _, m := range macs {
			if names[m] == "" || names[m] == "net_af_packet0" {
				return false
			}
		}
		return evenWithinOne(macs, 2)
	}
	waitUntil(t, 5*time.Second, "the clients to be spread over the two survivors", survivors)
	time.Sleep(500 * time.Millisecond) // every announcement and directed ARP sent
	macs := clientMACs(t, l)
	if !survivors() {
		t.Errorf("after the announcements the clients' MACs spread %v, want the two survivors within one client", spread(macs))
	}
	per := map[string]int{}
	for _, m := range macs {
		per[names[m]]++
	}
	t.Logf("after cutting the path member: clients per member %v", per)
	pingTeam(t, l)
}

// TestSLBReceiveBalancingByTraffic: one heavy client (1 MB/s) and five
// light ones (200 kB/s each) on two members. Spread by count, the heavy
// client shares its member with two light ones; the balancer (1 s rounds)
// moves light clients until the heavy one is alone, and then leaves them
// there. The assertions are on the final placement, the clients' ARP
// caches and the members' RX counters, not on how long it took.
func TestSLBReceiveBalancingByTraffic(t *testing.T) {
	l := newLab(t, 2, 6)
	ctx := context.Background()
	cfg := l.Config(lab.TeamConfig{Extra: "garp_interval = \"20ms\"\nrx_balance_interval = \"1s\"\nrx_balance_cooldown = \"3s\"\n"})
	g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	pingTeam(t, l)
	waitUntil(t, 10*time.Second, "the clients to be spread over both members", func() bool { return evenWithinOne(clientMACs(t, l), 2) })
	st, _ := g.Status()
	names := wireMACs(st)
	heavyIP := l.ClientIP(0).String()
	member := func(s *control.Status) map[string]string {
		m := map[string]string{}
		for _, c := range s.Teams[0].Clients {
			m[c.IP] = c.Member
		}
		return m
	}
	before := member(st)
	shared := 0
	for ip, m := range before {
		if ip != heavyIP && m == before[heavyIP] {
			shared++
		}
	}
	t.Logf("by count: heavy client on %s with %d light ones; placement %v", before[heavyIP], shared, before)

	sink(t, l, 9)
	began := time.Now()
	startSender(t, l, l.Clients[0], 9, 1000, 1000)
	for _, ns := range l.Clients[1:] {
		startSender(t, l, ns, 9, 1000, 200)
	}
	separated := func() bool {
		s, err := g.Status()
		if err != nil {
			return false
		}
		m := member(s)
		for _, c := range s.Teams[0].Clients {
			if c.IP != heavyIP && m[c.IP] == m[heavyIP] {
				return false
			}
		}
		return len(m) == len(l.Clients)
	}
	waitUntil(t, 60*time.Second, "the heavy client to be alone on its member", separated)
	st, _ = g.Status()
	after := member(st)
	// The clients' ARP caches follow.
	waitUntil(t, 5*time.Second, "the clients' ARP caches to follow", func() bool {
		macs := clientMACs(t, l)
		for j, mac := range macs {
			if names[mac] != after[l.ClientIP(j).String()] {
				return false
			}
		}
		return true
	})
	moves := st.Teams[0].ClientMoves
	out, _ := exec.Command(teamctlBin, "-socket", l.Socket(), "clients", "team0").CombinedOutput()
	t.Logf("separated after %d moves, %s after the traffic began (measured, not asserted):\n%s", moves, time.Since(began).Round(100*time.Millisecond), out)
	if moves < uint64(shared) {
		t.Errorf("%d balancing moves, want at least the %d light clients that shared the heavy one's member", moves, shared)
	}

	// Settled: the members' RX, and no more moves over five more rounds.
	p0, b0 := memberRx(t, g)
	time.Sleep(5 * time.Second)
	p1, b1 := memberRx(t, g)
	pk, dp := imbalance(p0, p1)
	by, db := imbalance(b0, b1)
	t.Logf("settled: per-member RX packets %v (spread %.1f%%), bytes %v (spread %.1f%%)", dp, 100*pk, db, 100*by)
	if by > 0.15 {
		t.Errorf("per-member RX bytes differ by %.1f%% with the heavy client alone, want within 15%%", 100*by)
	}
	st, _ = g.Status()
	if n := st.Teams[0].ClientMoves; n != moves || !maps.Equal(member(st), after) {
		t.Errorf("clients kept moving: %d moves (was %d), placement %v (was %v)", n, moves, member(st), after)
	}
}

// TestSLBReceiveBalancingIPv6: four clients reach the team over IPv6 only.
// teamgw learns them from the kernel's IPv6 neighbour table and spreads
// them over both members with directed neighbor advertisements, and the
// kernel's own advertisements to them are steered the same way: their
// neighbour caches hold two different MACs for the team's IPv6 address.
// Cutting member 1 re-points its clients, which reach the team again.
func TestSLBReceiveBalancingIPv6(t *testing.T) {
	l := newLab(t, 2, 4)
	ctx := context.Background()
	g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{Extra: "garp_interval = \"20ms\"\n"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	team6 := l.Spec.TeamIP6
	ping6 := func(when string) {
		t.Helper()
		for j, ns := range l.Clients {
			var out []byte
			var err error
			for try := 0; try < 5; try++ { // the team address may still be tentative (DAD)
				if out, err = l.Exec(ctx, ns, "ping", "-6", "-c", "1", "-W", "1", team6.String()); err == nil {
					break
				}
			}
			if err != nil {
				t.Fatalf("%s: client %d cannot reach %s: %v\n%s", when, j, team6, err, out)
			}
		}
	}
	ping6("before balancing")
	waitUntil(t, 10*time.Second, "the clients' IPv6 neighbour caches to spread over both members", func() bool { return evenWithinOne(neighMACs(t, l, team6), 2) })
	st, _ := g.Status()
	names := wireMACs(st)
	macs := neighMACs(t, l, team6)
	per := map[string]int{}
	for _, m := range macs {
		per[names[m]]++
	}
	t.Logf("IPv6 spread: %v", per)
	if per["net_af_packet0"] != 2 || per["net_af_packet1"] != 2 {
		t.Errorf("clients per member %v (MACs %v), want two on each", per, macs)
	}
	v6 := 0
	for _, c := range st.Teams[0].Clients {
		if netip.MustParseAddr(c.IP).Is6() {
			v6++
		}
	}
	if v6 != len(l.Clients) {
		t.Errorf("%d IPv6 clients in the table, want %d: %+v", v6, len(l.Clients), st.Teams[0].Clients)
	}
	// The clients forget the team and solicit it again: the kernel's
	// advertisements, steered, give each its member's MAC once more.
	for _, ns := range l.Clients {
		if out, err := l.Exec(ctx, ns, "ip", "-6", "neigh", "del", team6.String(), "dev", "eth0"); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	ping6("after the clients flushed their caches")
	if after := neighMACs(t, l, team6); !slices.Equal(after, macs) {
		t.Errorf("re-solicited, the clients have %v for the team, want %v as before", after, macs)
	}

	if err := l.CutMember(1); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "member 1's IPv6 clients to be re-pointed", func() bool {
		return !slices.ContainsFunc(neighMACs(t, l, team6), func(m string) bool { return names[m] == "net_af_packet1" })
	})
	ping6("after cutting member 1")
}
