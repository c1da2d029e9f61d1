package slb

import (
	"net/netip"
	"testing"
)

func TestVet(t *testing.T) {
	teamMAC := [6]byte{0x02, 0, 0, 0, 0, 1}
	memberMAC := [6]byte{0x06, 0, 0, 0, 0, 2}
	client := [6]byte{0x02, 0xc1, 0, 0, 0, 9}
	v := Vetter{
		Subnets: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("10.9.0.1/31"), netip.MustParsePrefix("2001:db8::1/64")},
		Own:     []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::1")},
		OwnMACs: [][6]byte{teamMAC, memberMAC},
	}
	tests := []struct {
		ip   string
		mac  [6]byte
		want Refusal
	}{
		{"192.0.2.10", client, Accepted},
		{"192.0.2.254", client, Accepted},
		{"10.9.0.0", client, Accepted}, // a /31 has no network or broadcast address
		{"192.0.2.1", client, RefusedOwnAddress},
		{"10.9.0.1", client, RefusedOwnAddress},
		{"192.0.2.10", teamMAC, RefusedOwnMAC},
		{"192.0.2.10", memberMAC, RefusedOwnMAC},
		{"198.51.100.7", client, RefusedOffSubnet},
		{"192.0.3.1", client, RefusedOffSubnet},
		{"10.9.0.2", client, RefusedOffSubnet},
		{"192.0.2.0", client, RefusedInvalid},
		{"192.0.2.255", client, RefusedInvalid},
		{"255.255.255.255", client, RefusedInvalid},
		{"224.0.0.1", client, RefusedInvalid},
		{"0.0.0.0", client, RefusedInvalid},
		{"127.0.0.1", client, RefusedInvalid},
		{"2001:db8::10", client, Accepted},
		{"fe80::a", client, Accepted}, // link-local: on the link whatever the prefixes
		{"2001:db8::1", client, RefusedOwnAddress},
		{"fe80::1", client, RefusedOwnAddress},
		{"2001:db8::10", memberMAC, RefusedOwnMAC},
		{"2001:db8:1::10", client, RefusedOffSubnet},
		{"2001:db8::", client, RefusedInvalid}, // Subnet-Router anycast
		{"ff02::1", client, RefusedInvalid},
		{"::", client, RefusedInvalid},
		{"::1", client, RefusedInvalid},
		{"::ffff:192.0.2.10", client, RefusedInvalid},
		{"2001:db8::10", [6]byte{0x33, 0x33, 0, 0, 0, 1}, RefusedInvalid},
		{"192.0.2.10", [6]byte{}, RefusedInvalid},
		{"192.0.2.10", [6]byte{0x01, 0, 0x5e, 0, 0, 1}, RefusedInvalid},
	}
	for _, tc := range tests {
		if got := v.Vet(netip.MustParseAddr(tc.ip), tc.mac); got != tc.want {
			t.Errorf("Vet(%s, % x) = %v, want %v", tc.ip, tc.mac, got, tc.want)
		}
	}
	var none Vetter
	if got := none.Vet(netip.MustParseAddr("192.0.2.10"), client); got != RefusedOffSubnet {
		t.Errorf("a team without subnets vets a client as %v, want off_subnet", got)
	}
}

func TestRefusalNames(t *testing.T) {
	seen := map[string]bool{}
	for r := range NumRefusals {
		if n := r.String(); n == "unknown" || seen[n] {
			t.Errorf("refusal %d named %q", r, n)
		} else {
			seen[n] = true
		}
	}
	if NumRefusals.String() != "unknown" {
		t.Errorf("NumRefusals named %q", NumRefusals)
	}
}

func TestLastAddr(t *testing.T) {
	for p, want := range map[string]string{"192.0.2.77/24": "192.0.2.255", "10.0.0.0/8": "10.255.255.255", "10.1.2.3/32": "10.1.2.3", "0.0.0.0/0": "255.255.255.255"} {
		if got := lastAddr(netip.MustParsePrefix(p)); got.String() != want {
			t.Errorf("lastAddr(%s) = %s, want %s", p, got, want)
		}
	}
}
