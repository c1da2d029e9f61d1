package slb

import (
	"net/netip"
)

// Routed traffic stays on the path member (seed 004, "Inbound Traffic
// Flow": clients on other subnets arrive through a router, whose one MAC
// stands for many IP addresses, so balancing it would move them all
// at once; seed 000/002 add HSRP, whose virtual MAC several routers share).
// RouterKind says why a neighbour counts as a router, "" if it does not.

// Router kinds.
const (
	RouterGateway  = "gateway"   // a next hop in the kernel's routing table
	RouterHSRP     = "hsrp"      // Cisco HSRP virtual MAC 00:00:0c:07:ac:xx (v1) or 00:00:0c:9f:fx:xx (v2)
	RouterVRRP     = "vrrp"      // VRRP virtual MAC 00:00:5e:00:01:xx (IPv4) or 00:00:5e:00:02:xx (IPv6)
	RouterGLBP     = "glbp"      // Cisco GLBP virtual MAC 00:07:b4:xx:xx:xx
	RouterProxyARP = "proxy-arp" // one MAC answering for ProxyARPAddrs or more addresses
)

// ProxyARPAddrs is how many IPv4 addresses behind one MAC make it a router
// (proxy ARP, or a router the kernel learnt several next hops of).
const ProxyARPAddrs = 3

// VirtualRouterMAC names the first-hop redundancy protocol a MAC belongs
// to, or "" for any other MAC.
func VirtualRouterMAC(mac [6]byte) string {
	switch {
	case mac[0] == 0 && mac[1] == 0 && mac[2] == 0x0c && mac[3] == 0x07 && mac[4] == 0xac:
		return RouterHSRP
	case mac[0] == 0 && mac[1] == 0 && mac[2] == 0x0c && mac[3] == 0x9f && mac[4]&0xf0 == 0xf0:
		return RouterHSRP
	case mac[0] == 0 && mac[1] == 0 && mac[2] == 0x5e && mac[3] == 0 && (mac[4] == 1 || mac[4] == 2):
		return RouterVRRP
	case mac[0] == 0 && mac[1] == 0x07 && mac[2] == 0xb4:
		return RouterGLBP
	}
	return ""
}

// Neighbor is one entry of the kernel's neighbour table.
type Neighbor struct {
	IP  netip.Addr
	MAC [6]byte
}

// Routers picks the neighbours that are routers, and why: next hops of
// the routing table (gateways), virtual router MACs, and IPv4 addresses
// that share a MAC with ProxyARPAddrs-1 others.
func Routers(ns []Neighbor, gateways map[netip.Addr]bool) map[netip.Addr]string {
	out := map[netip.Addr]string{}
	perMAC := map[[6]byte]int{}
	for _, n := range ns {
		if n.IP.Is4() {
			perMAC[n.MAC]++
		}
	}
	for _, n := range ns {
		switch {
		case gateways[n.IP]:
			out[n.IP] = RouterGateway
		case VirtualRouterMAC(n.MAC) != "":
			out[n.IP] = VirtualRouterMAC(n.MAC)
		case n.IP.Is4() && perMAC[n.MAC] >= ProxyARPAddrs:
			out[n.IP] = RouterProxyARP
		}
	}
	return out
}
