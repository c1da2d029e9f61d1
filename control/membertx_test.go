package control

import (
	"testing"

	"github.com/teamgw/teamgw/configs"
	"github.com/teamgw/teamgw/dataplane/afpacket"
)

// TestMemberTxPlan: a kernel-backed member gets packet sockets for whole
// super-frames only when both they and the PMD's sockets go past the
// qdisc: the PMD bypasses unless its qdisc_bypass devarg reads as 0 the
// way DPDK reads it (atoi), and ours can only on an interface with TSO.
// Every other configuration gets none (the segmenting path).
func TestMemberTxPlan(t *testing.T) {
	for _, c := range []struct {
		args    map[string]string
		tso     bool
		sockets bool
	}{
		{map[string]string{"iface": "m0"}, true, true},
		{map[string]string{"iface": "m0"}, false, false},
		{map[string]string{"qdisc_bypass": "1"}, true, true},
		{map[string]string{"qdisc_bypass": "1"}, false, false},
		{map[string]string{"qdisc_bypass": "0"}, true, false},
		{map[string]string{"qdisc_bypass": "00"}, true, false},
		{map[string]string{"qdisc_bypass": "+0"}, true, false},
		{map[string]string{"qdisc_bypass": " 0"}, true, false},
		{map[string]string{"qdisc_bypass": ""}, true, false},
		{map[string]string{"qdisc_bypass": "no"}, true, false},
		{map[string]string{"qdisc_bypass": "0x1"}, true, false},
		{map[string]string{"qdisc_bypass": "01"}, true, true},
		{map[string]string{"qdisc_bypass": " 1"}, true, true},
		{map[string]string{"qdisc_bypass": "1x"}, true, true},
	} {
		o, ok := memberTxPlan(c.args, c.tso)
		if ok != c.sockets {
			t.Errorf("%v, TSO %v: sockets %v, want %v", c.args, c.tso, ok, c.sockets)
			continue
		}
		if ok && (!o.QdiscBypass || o.SendBuffer < 64<<10) {
			t.Errorf("%v, TSO %v: %+v, want past the qdisc with room for a super-frame", c.args, c.tso, o)
		}
	}
}

func TestAtoi(t *testing.T) {
	for s, want := range map[string]int{
		"0": 0, "00": 0, "1": 1, "01": 1, "-1": -1, "+2": 2, " \t7": 7, "12ab": 12,
		"": 0, "x1": 0, "0x10": 0, "- 1": 0, "--1": 0,
	} {
		if got := atoi(s); got != want {
			t.Errorf("atoi(%q) = %d, want %d", s, got, want)
		}
	}
}

// TestMemberTxOptions: on the loopback interface (which offers TSO) the
// member gets sockets unless qdisc_bypass is 0, and the sockets opened
// with those options have a send buffer with room for a 64 KB
// super-frame's skb, as asked; an interface that is not there is an error.
func TestMemberTxOptions(t *testing.T) {
	for _, c := range []struct {
		dev     string
		sockets bool
	}{
		{"net_af_packet0,iface=lo", true},
		{"net_af_packet0,iface=lo,qdisc_bypass=1", true},
		{"net_af_packet0,iface=lo,qdisc_bypass=0", false},
	} {
		o, ok, err := memberTxOptions(configs.Member{Device: c.dev})
		if err != nil {
			t.Fatalf("%s: %v", c.dev, err)
		}
		if ok != c.sockets {
			t.Errorf("%s: sockets %v, want %v", c.dev, ok, c.sockets)
		}
		if !ok {
			continue
		}
		s, err := afpacket.Open("lo", o)
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.SendBuffer()
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		// The kernel reports twice what was set.
		if n != 2*o.SendBuffer || o.SendBuffer < 70<<10 {
			t.Errorf("%s: send buffer %d bytes (asked for %d), want room for a 64 KB super-frame's skb", c.dev, n, o.SendBuffer)
		}
	}
	if _, _, err := memberTxOptions(configs.Member{Device: "net_af_packet0,iface=nosuch0"}); err == nil {
		t.Error("no error for a missing interface")
	}
}
