package control

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/frame"
)

// rtattr appends one rtnetlink attribute, padded to 4 bytes.
func rtattr(b []byte, typ uint16, payload []byte) []byte {
	ne := binary.NativeEndian
	b = ne.AppendUint16(b, uint16(4+len(payload)))
	b = ne.AppendUint16(b, typ)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// ndmsg builds the body of an RTM_NEWNEIGH message.
func ndmsg(family byte, ifindex int32, state uint16, attrs ...[]byte) []byte {
	b := make([]byte, 12)
	b[0] = family
	binary.NativeEndian.PutUint32(b[4:], uint32(ifindex))
	binary.NativeEndian.PutUint16(b[8:], state)
	for _, a := range attrs {
		b = append(b, a...)
	}
	return b
}

// rtmsg builds the body of an RTM_NEWROUTE message.
func rtmsg(family byte, attrs ...[]byte) []byte {
	b := make([]byte, 12)
	b[0] = family
	for _, a := range attrs {
		b = append(b, a...)
	}
	return b
}

var (
	nbIP  = netip.MustParseAddr("192.0.2.10")
	nbMAC = frame.MAC{0x02, 0xaa, 0, 0, 0, 1}
)

func dstAttr(ip netip.Addr) []byte  { a := ip.As4(); return rtattr(nil, unix.NDA_DST, a[:]) }
func dst6Attr(ip netip.Addr) []byte { a := ip.As16(); return rtattr(nil, unix.NDA_DST, a[:]) }
func llAttr(mac frame.MAC) []byte   { return rtattr(nil, unix.NDA_LLADDR, mac[:]) }
func u32Attr(typ uint16, v uint32) []byte {
	return rtattr(nil, typ, binary.NativeEndian.AppendUint32(nil, v))
}

func TestParseNeighbor(t *testing.T) {
	good := ndmsg(unix.AF_INET, 7, unix.NUD_REACHABLE, dstAttr(nbIP), llAttr(nbMAC))
	tests := []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"reachable", good, true},
		{"stale, attributes reversed", ndmsg(unix.AF_INET, 7, unix.NUD_STALE, llAttr(nbMAC), dstAttr(nbIP)), true},
		{"permanent", ndmsg(unix.AF_INET, 7, unix.NUD_PERMANENT, dstAttr(nbIP), llAttr(nbMAC)), true},
		{"other interface", ndmsg(unix.AF_INET, 8, unix.NUD_REACHABLE, dstAttr(nbIP), llAttr(nbMAC)), false},
		{"IPv6 family", ndmsg(unix.AF_INET6, 7, unix.NUD_REACHABLE, dstAttr(nbIP), llAttr(nbMAC)), false},
		{"failed", ndmsg(unix.AF_INET, 7, unix.NUD_FAILED, dstAttr(nbIP), llAttr(nbMAC)), false},
		{"incomplete", ndmsg(unix.AF_INET, 7, unix.NUD_INCOMPLETE, dstAttr(nbIP)), false},
		{"no MAC", ndmsg(unix.AF_INET, 7, unix.NUD_REACHABLE, dstAttr(nbIP)), false},
		{"zero MAC", ndmsg(unix.AF_INET, 7, unix.NUD_REACHABLE, dstAttr(nbIP), llAttr(frame.MAC{})), false},
		{"multicast MAC", ndmsg(unix.AF_INET, 7, unix.NUD_REACHABLE, dstAttr(nbIP), llAttr(frame.Broadcast)), false},
		{"short MAC", ndmsg(unix.AF_INET, 7, unix.NUD_REACHABLE, dstAttr(nbIP), rtattr(nil, unix.NDA_LLADDR, nbMAC[:4])), false},
		{"last attribute without its padding", good[:len(good)-2], true},
		{"attribute longer than the message", good[:len(good)-3], false},
		{"header only", good[:12], false},
		{"short header", good[:11], false},
	}
	for _, tc := range tests {
		nb, ok := parseNeighbor(tc.b, 7)
		if ok != tc.ok || ok && (nb.IP != nbIP || nb.MAC != nbMAC) {
			t.Errorf("%s: parseNeighbor = %+v, %v; want ok %v", tc.name, nb, ok, tc.ok)
		}
	}
	ip6 := netip.MustParseAddr("2001:db8::a")
	if nb, ok := parseNeighbor(ndmsg(unix.AF_INET6, 7, unix.NUD_STALE, dst6Attr(ip6), llAttr(nbMAC)), 7); !ok || nb.IP != ip6 || nb.MAC != nbMAC {
		t.Errorf("IPv6 neighbour: %+v, %v", nb, ok)
	}
	for name, b := range map[string][]byte{
		"IPv6 router":                ndmsg(unix.AF_INET6, 7, unix.NUD_STALE, dst6Attr(ip6), llAttr(nbMAC)),
		"IPv4 address in IPv6":       ndmsg(unix.AF_INET6, 7, unix.NUD_STALE, dstAttr(nbIP), llAttr(nbMAC)),
		"IPv6 address in IPv4":       ndmsg(unix.AF_INET, 7, unix.NUD_STALE, dst6Attr(ip6), llAttr(nbMAC)),
		"another family (AF_BRIDGE)": ndmsg(unix.AF_BRIDGE, 7, unix.NUD_STALE, dstAttr(nbIP), llAttr(nbMAC)),
	} {
		if name == "IPv6 router" {
			b[10] = unix.NTF_ROUTER
		}
		if nb, ok := parseNeighbor(b, 7); ok {
			t.Errorf("%s: parsed %+v", name, nb)
		}
	}
}

func TestParseRouteGateway(t *testing.T) {
	gw := netip.MustParseAddr("192.0.2.254")
	a := gw.As4()
	via := rtattr(nil, unix.RTA_GATEWAY, a[:])
	if got, ok := parseRouteGateway(rtmsg(unix.AF_INET, u32Attr(unix.RTA_OIF, 7), via), 7); !ok || got != gw {
		t.Errorf("route via %s on 7 = %v, %v", gw, got, ok)
	}
	gw6 := netip.MustParseAddr("fe80::1")
	a6 := gw6.As16()
	if got, ok := parseRouteGateway(rtmsg(unix.AF_INET6, u32Attr(unix.RTA_OIF, 7), rtattr(nil, unix.RTA_GATEWAY, a6[:])), 7); !ok || got != gw6 {
		t.Errorf("route via %s on 7 = %v, %v", gw6, got, ok)
	}
	for name, b := range map[string][]byte{
		"other interface": rtmsg(unix.AF_INET, u32Attr(unix.RTA_OIF, 8), via),
		"no gateway":      rtmsg(unix.AF_INET, u32Attr(unix.RTA_OIF, 7)),
		"IPv6":            rtmsg(unix.AF_INET6, u32Attr(unix.RTA_OIF, 7), via),
		"cut":             rtmsg(unix.AF_INET, u32Attr(unix.RTA_OIF, 7), via[:6]),
	} {
		if got, ok := parseRouteGateway(b, 7); ok {
			t.Errorf("%s: gateway %v", name, got)
		}
	}
}

// ifaddrmsg builds the body of an RTM_NEWADDR message.
func ifaddrmsg(family, prefixLen byte, index int32, attrs ...[]byte) []byte {
	b := make([]byte, unix.SizeofIfAddrmsg)
	b[0], b[1] = family, prefixLen
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	for _, a := range attrs {
		b = append(b, a...)
	}
	return b
}

func ip4Attr(typ uint16, ip string) []byte {
	a := netip.MustParseAddr(ip).As4()
	return rtattr(nil, typ, a[:])
}

func ip6Attr(typ uint16, ip string) []byte {
	a := netip.MustParseAddr(ip).As16()
	return rtattr(nil, typ, a[:])
}

func TestParseAddr(t *testing.T) {
	tests := []struct {
		name  string
		b     []byte
		index int
		want  string // "" = not parsed
	}{
		{"address", ifaddrmsg(unix.AF_INET, 24, 5, ip4Attr(unix.IFA_ADDRESS, "192.0.2.1"), ip4Attr(unix.IFA_LOCAL, "192.0.2.1")), 5, "192.0.2.1/24"},
		{"point-to-point: the local end", ifaddrmsg(unix.AF_INET, 32, 6, ip4Attr(unix.IFA_ADDRESS, "10.0.0.2"), ip4Attr(unix.IFA_LOCAL, "10.0.0.1")), 6, "10.0.0.1/32"},
		{"only IFA_ADDRESS", ifaddrmsg(unix.AF_INET, 16, 7, ip4Attr(unix.IFA_ADDRESS, "10.1.0.5")), 7, "10.1.0.5/16"},
		{"IPv6 with an IPv4 address", ifaddrmsg(unix.AF_INET6, 64, 5, ip4Attr(unix.IFA_ADDRESS, "192.0.2.1")), 0, ""},
		{"IPv6", ifaddrmsg(unix.AF_INET6, 64, 5, ip6Attr(unix.IFA_ADDRESS, "fe80::1")), 5, "fe80::1/64"},
		{"IPv6 prefix length 129", ifaddrmsg(unix.AF_INET6, 129, 5, ip6Attr(unix.IFA_ADDRESS, "fe80::1")), 0, ""},
		{"prefix length 33", ifaddrmsg(unix.AF_INET, 33, 5, ip4Attr(unix.IFA_ADDRESS, "192.0.2.1")), 0, ""},
		{"no address", ifaddrmsg(unix.AF_INET, 24, 5, rtattr(nil, unix.IFA_LABEL, []byte("team0\x00"))), 0, ""},
		{"index 0", ifaddrmsg(unix.AF_INET, 24, 0, ip4Attr(unix.IFA_ADDRESS, "192.0.2.1")), 0, ""},
		{"short", ifaddrmsg(unix.AF_INET, 24, 5)[:7], 0, ""},
	}
	for _, tc := range tests {
		index, p, ok := parseAddr(tc.b)
		if ok != (tc.want != "") || ok && (index != tc.index || p.String() != tc.want) {
			t.Errorf("%s: parseAddr = %d %v %v, want %d %q", tc.name, index, p, ok, tc.index, tc.want)
		}
	}
}

// FuzzParseRtnetlink feeds arbitrary rtnetlink bodies to the neighbour,
// route and address parsers that fill the SLB client table and the ARP
// guard: they never panic, a neighbour they return is an address of the
// message's family at a unicast MAC, and an address is a prefix of the
// message's family on a real interface.
func FuzzParseRtnetlink(f *testing.F) {
	f.Add(ifaddrmsg(unix.AF_INET, 24, 5, ip4Attr(unix.IFA_ADDRESS, "192.0.2.1"), ip4Attr(unix.IFA_LOCAL, "192.0.2.1")))
	f.Add(ifaddrmsg(unix.AF_INET, 32, 5, rtattr(nil, unix.IFA_LABEL, []byte("team0:1\x00")), ip4Attr(unix.IFA_LOCAL, "10.0.0.1")))
	f.Add(ndmsg(unix.AF_INET, 7, unix.NUD_REACHABLE, dstAttr(nbIP), llAttr(nbMAC)))
	f.Add(ndmsg(unix.AF_INET, 7, unix.NUD_STALE, rtattr(nil, 99, make([]byte, 13)), llAttr(nbMAC), dstAttr(nbIP)))
	f.Add(ndmsg(unix.AF_INET, 7, unix.NUD_PERMANENT, []byte{4, 0, 1, 0}, []byte{0xff, 0xff, 1, 0}))
	f.Add(rtmsg(unix.AF_INET, u32Attr(unix.RTA_OIF, 7), dstAttr(nbIP)[:4], rtattr(nil, unix.RTA_GATEWAY, []byte{192, 0, 2, 1})))
	f.Add(ndmsg(unix.AF_INET6, 7, unix.NUD_REACHABLE, dst6Attr(netip.MustParseAddr("2001:db8::a")), llAttr(nbMAC)))
	f.Add(ifaddrmsg(unix.AF_INET6, 64, 5, ip6Attr(unix.IFA_ADDRESS, "2001:db8::1")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if nb, ok := parseNeighbor(b, 7); ok {
			if nb.IP.Is4() != (b[0] == unix.AF_INET) || nb.MAC == (frame.MAC{}) || nb.MAC.IsMulticast() {
				t.Fatalf("parsed %+v", nb)
			}
			if int32(binary.NativeEndian.Uint32(b[4:8])) != 7 {
				t.Fatal("a neighbour of another interface")
			}
		}
		if gw, ok := parseRouteGateway(b, 7); ok && gw.Is4() != (b[0] == unix.AF_INET) {
			t.Fatalf("gateway %v", gw)
		}
		if index, p, ok := parseAddr(b); ok && (index <= 0 || !p.IsValid() || p.Addr().Is4() != (b[0] == unix.AF_INET)) {
			t.Fatalf("address %d %v", index, p)
		}
	})
}

// FuzzEchoReply feeds arbitrary frames to the control plane's test for an
// echo-node probe reply: it never panics and accepts only an ARP reply
// from the echo node to 0.0.0.0.
func FuzzEchoReply(f *testing.F) {
	echo := netip.MustParseAddr("192.0.2.254")
	us := frame.MAC{0x02, 0, 0, 0, 0, 1}
	reply := frame.AppendARP(nil, us, nbMAC, frame.ARPReply, nbMAC, echo, us, netip.IPv4Unspecified())
	f.Add(reply)
	f.Add(reply[:frame.EthHeaderLen+frame.ARPLen])
	f.Add(reply[:frame.EthHeaderLen+frame.ARPLen-1])
	f.Add(frame.AppendARP(nil, us, nbMAC, frame.ARPRequest, nbMAC, echo, us, netip.IPv4Unspecified()))
	f.Add(frame.AppendARP(nil, us, nbMAC, frame.ARPReply, nbMAC, echo, us, nbIP))
	f.Add(frame.Tag(reply, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !isEchoReply(b, echo) {
			return
		}
		a := frame.ARP(b[frame.EthHeaderLen:])
		if frame.Ethernet(b).Type() != frame.TypeARP || a.Op() != frame.ARPReply || a.SenderIP() != echo || a.TargetIP() != netip.IPv4Unspecified() {
			t.Fatalf("accepted % x", b)
		}
	})
}

func TestIsEchoReply(t *testing.T) {
	echo := netip.MustParseAddr("192.0.2.254")
	us := frame.MAC{0x02, 0, 0, 0, 0, 1}
	reply := frame.AppendARP(nil, us, nbMAC, frame.ARPReply, nbMAC, echo, us, netip.IPv4Unspecified())
	if !isEchoReply(reply, echo) {
		t.Error("the echo node's reply was not recognised")
	}
	for name, b := range map[string][]byte{
		"from another host": frame.AppendARP(nil, us, nbMAC, frame.ARPReply, nbMAC, nbIP, us, netip.IPv4Unspecified()),
		"a request":         frame.AppendARP(nil, us, nbMAC, frame.ARPRequest, nbMAC, echo, us, netip.IPv4Unspecified()),
		"to an address":     frame.AppendARP(nil, us, nbMAC, frame.ARPReply, nbMAC, echo, us, nbIP),
		"truncated":         reply[:frame.EthHeaderLen+frame.ARPLen-1],
		"tagged":            frame.Tag(reply, 3),
	} {
		if isEchoReply(b, echo) {
			t.Errorf("%s taken for the echo reply", name)
		}
	}
}
