package slb

import (
	"net/netip"
	"testing"
)

func TestVirtualRouterMAC(t *testing.T) {
	for _, c := range []struct {
		mac  [6]byte
		want string
	}{
		{[6]byte{0, 0, 0x0c, 0x07, 0xac, 0x01}, RouterHSRP},
		{[6]byte{0, 0, 0x0c, 0x9f, 0xf0, 0x10}, RouterHSRP},
		{[6]byte{0, 0, 0x5e, 0, 1, 7}, RouterVRRP},
		{[6]byte{0, 0, 0x5e, 0, 2, 7}, RouterVRRP},
		{[6]byte{0, 0x07, 0xb4, 0, 1, 2}, RouterGLBP},
		{[6]byte{0, 0, 0x0c, 0x07, 0xad, 0x01}, ""},
		{[6]byte{0, 0, 0x5e, 0, 3, 7}, ""},
		{[6]byte{0x02, 0, 0, 0, 0, 1}, ""},
	} {
		if got := VirtualRouterMAC(c.mac); got != c.want {
			t.Errorf("VirtualRouterMAC(% x) = %q, want %q", c.mac, got, c.want)
		}
	}
}

func TestRouters(t *testing.T) {
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	proxy := [6]byte{0x02, 0, 0, 0, 0, 0x99}
	ns := []Neighbor{
		{a("192.0.2.10"), [6]byte{0x02, 0, 0, 0, 0, 0x10}},  // a client
		{a("192.0.2.11"), [6]byte{0x02, 0, 0, 0, 0, 0x11}},  // another
		{a("192.0.2.254"), [6]byte{0x02, 0, 0, 0, 0, 0xfe}}, // the default gateway
		{a("192.0.2.253"), [6]byte{0, 0, 0x0c, 0x07, 0xac, 0x01}},
		{a("192.0.2.50"), proxy}, {a("192.0.2.51"), proxy}, {a("192.0.2.52"), proxy},
		{a("2001:db8::10"), [6]byte{0x02, 0, 0, 0, 0, 0x10}}, // the first client's IPv6: one IPv4 per MAC is no router
	}
	got := Routers(ns, map[netip.Addr]bool{a("192.0.2.254"): true})
	want := map[netip.Addr]string{
		a("192.0.2.254"): RouterGateway, a("192.0.2.253"): RouterHSRP,
		a("192.0.2.50"): RouterProxyARP, a("192.0.2.51"): RouterProxyARP, a("192.0.2.52"): RouterProxyARP,
	}
	if len(got) != len(want) {
		t.Fatalf("Routers = %v, want %v", got, want)
	}
	for ip, why := range want {
		if got[ip] != why {
			t.Errorf("%v: %q, want %q", ip, got[ip], why)
		}
	}
}
