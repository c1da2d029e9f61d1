package control

import (
	"net/netip"
	"slices"
	"time"

	"github.com/teamgw/teamgw/configs"
	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/slb"
)

// Receive balancing for SLB teams (BASP "Smart Load Balancing", seed 004:
// receive load balancing is client load balancing). The kernel's
// neighbour table on the team interface is the inbound client table's
// source; each client is assigned a member; the data plane then answers the
// client's ARP with that member's MAC, and a directed (unicast) gratuitous
// ARP re-points a client whenever its member changes. Broadcast G-ARPs are
// never used for this: they would pull every client onto one member.

// neighborPoll is how often the kernel's neighbour table is read.
const neighborPoll = time.Second

// pendingARP is a directed gratuitous ARP still to send to one client.
type pendingARP struct {
	client *slb.Client
	left   int
	next   time.Time
}

// wireMAC is the MAC a member announces to clients it receives for. A
// kernel-backed member (net_af_packet) uses a locally administered variant
// of its kernel MAC, so frames for it are not also taken in by the kernel's
// own stack on that interface.
func wireMAC(m *member) frame.MAC {
	mac := m.mac
	if m.cfg.Kind() == "net_af_packet" {
		mac[0] = (mac[0] | 0x02) &^ 0x01
		mac[4] ^= 0x80
	}
	return mac
}

// balancesReceive reports whether t does SLB receive balancing.
func (t *team) balancesReceive() bool { return t.cfg.Mode == configs.ModeSLB }

// neighborTick refreshes every SLB team's client table from the kernel.
func (d *Daemon) neighborTick() {
	now := d.now()
	changed := false
	var kernel map[string][]netip.Prefix
	for _, t := range d.teams {
		if now.Sub(t.lastNeigh) < neighborPoll {
			continue
		}
		t.lastNeigh = now
		if kernel == nil {
			kernel = kernelAddrs()
		}
		if t.refreshAddrs(kernel) {
			changed = true
		}
		if !t.balancesReceive() {
			continue
		}
		ifindex, err := interfaceIndex(t.cfg.Name)
		if err != nil {
			continue
		}
		ns, err := neighbors(ifindex)
		if err != nil {
			continue
		}
		// Routers stay with the path member, not balanced: next hops,
		// virtual router MACs (HSRP, VRRP, GLBP), proxy-ARP MACs.
		gws, _ := gateways(ifindex)
		sn := make([]slb.Neighbor, len(ns))
		for i, n := range ns {
			sn[i] = slb.Neighbor{IP: n.IP, MAC: n.MAC}
		}
		t.routers = slb.Routers(sn, gws)
		ns = slices.DeleteFunc(ns, func(n neighbor) bool { return t.routers[n.IP] != "" })
		if t.syncClients(d.vetNeighbors(t, ns)) {
			changed = true
		}
		if d.placeClientSlots(t) {
			changed = true
		}
		d.sampleClients(t, now)
		if now.Sub(t.lastLearning) >= t.cfg.LearningInterval.Duration {
			t.lastLearning = now
			d.sendLearningFrames(t)
		}
		if d.assignClients(t) {
			changed = true
		}
		if d.balanceClients(t) {
			changed = true
		}
	}
	if changed {
		d.publish()
	}
}

// sendLearningFrames sends, from every active member but the path member,
// a frame whose source and destination are the member's own wire MAC
// (EtherType 0x9000, the loopback protocol, as Linux bonding's ALB mode
// does): switches relearn the MAC on the member's port and never flood it,
// even while no client sends to that member.
func (d *Daemon) sendLearningFrames(t *team) {
	for i, m := range t.members {
		if i == t.path || !t.active[i] {
			continue
		}
		mac := wireMAC(m)
		f := make([]byte, 60)
		copy(f[0:6], mac[:])
		copy(f[6:12], mac[:])
		f[12], f[13] = 0x90, 0x00
		if d.injectFrame(m.port, f) {
			t.learningSent++
		}
	}
}

// syncClients makes the client table match the kernel's neighbours.
func (t *team) syncClients(ns []neighbor) bool {
	changed := false
	seen := make(map[netip.Addr]bool, len(ns))
	for _, n := range ns {
		seen[n.IP] = true
		i := slices.IndexFunc(t.clients, func(c *slb.Client) bool { return c.IP == n.IP })
		switch {
		case i < 0:
			t.clients = append(t.clients, &slb.Client{IP: n.IP, MAC: n.MAC, Member: -1})
			changed = true
		case t.clients[i].MAC != n.MAC:
			t.clients[i].MAC = n.MAC
			t.clients[i].Member = -1 // a new host behind the address
			changed = true
		}
	}
	before := len(t.clients)
	t.clients = slices.DeleteFunc(t.clients, func(c *slb.Client) bool { return !seen[c.IP] })
	return changed || len(t.clients) != before
}

// assignClients gives every client of t an active member (placement of
// new clients, failover, fallback: slb.RxBalancer.Assign) and queues
// directed gratuitous ARPs for the clients that moved.
func (d *Daemon) assignClients(t *team) bool {
	if !t.balancesReceive() {
		return false
	}
	t.inbound.bal.Config = rxConfig(t.cfg)
	moved := t.inbound.bal.Assign(t.clients, t.clientActive(), t.memberWeights(), d.now())
	d.queueDirected(t, moved)
	return len(moved) > 0
}

// queueDirected queues a series of directed gratuitous ARPs to each of
// cs, due now, replacing any series still pending for it.
func (d *Daemon) queueDirected(t *team, cs []*slb.Client) {
	now := d.now()
	for _, c := range cs {
		t.directed = slices.DeleteFunc(t.directed, func(p *pendingARP) bool { return p.client == c })
		t.directed = append(t.directed, &pendingARP{client: c, left: max(t.cfg.GARPCount, 1), next: now})
	}
}

// sendDirectedARPs sends the directed gratuitous ARPs that are due: to
// the client only, sender = team IP at the member's MAC (BASP: "G-ARPs
// are not broadcast because this would cause all clients to send their
// traffic to the same port"). An IPv6 client gets the IPv6 counterpart: a
// neighbor advertisement of the team address at the member's MAC with the
// override flag, unicast to the client.
func (d *Daemon) sendDirectedARPs(t *team) {
	now := d.now()
	keep := t.directed[:0]
	for _, p := range t.directed {
		if now.Before(p.next) {
			keep = append(keep, p)
			continue
		}
		c := p.client
		if c.Member < 0 || c.Member >= len(t.members) {
			continue
		}
		m := t.members[c.Member]
		src := t.mac
		if c.Member != t.path {
			src = wireMAC(m)
		}
		if ip, ok := t.addressFor(c.IP); ok {
			var f []byte
			if c.IP.Is4() {
				f = frame.AppendARP(nil, frame.MAC(c.MAC), src, frame.ARPRequest, src, ip, frame.MAC(c.MAC), c.IP)
			} else {
				f = frame.AppendNA(nil, frame.MAC(c.MAC), src, ip, c.IP, frame.NAOverride, ip, src)
			}
			if d.injectFrame(m.port, f) {
				t.directedSent++
			}
		}
		if p.left--; p.left > 0 {
			p.next = now.Add(t.cfg.GARPInterval.Duration)
			keep = append(keep, p)
		}
	}
	t.directed = keep
}

// addressFor is the team's address on the client's subnet, of the
// client's family (for an IPv6 link-local client, the team's link-local
// address).
func (t *team) addressFor(client netip.Addr) (netip.Addr, bool) {
	for _, p := range t.guard.addrs.subnets {
		if p.Addr().Is4() == client.Is4() && p.Contains(client) {
			return p.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// clientTables are the data plane's view of the client table: IPv4 and
// IPv6 client addresses to member slots.
func (t *team) clientTables() (map[[4]byte]int8, map[[16]byte]int8) {
	if !t.balancesReceive() {
		return nil, nil
	}
	m4 := make(map[[4]byte]int8, len(t.clients))
	m6 := make(map[[16]byte]int8)
	for _, c := range t.clients {
		switch {
		case c.Member < 0 || c.Member >= len(t.members):
		case c.IP.Is4():
			m4[c.IP.As4()] = int8(t.members[c.Member].slot)
		default:
			m6[c.IP.As16()] = int8(t.members[c.Member].slot)
		}
	}
	return m4, m6
}
