package control

import (
	"testing"

	"github.com/teamgw/teamgw/configs"
)

// TestMemberTxOptions: a kernel-backed member's packet sockets bypass the
// qdisc as the PMD's do (qdisc_bypass, on unless 0) on an interface with
// TSO (the loopback interface; OffersTSO without it is tested in package
// afpacket), and an interface that is not there is an error.
func TestMemberTxOptions(t *testing.T) {
	for _, c := range []struct {
		dev    string
		bypass bool
	}{
		{"net_af_packet0,iface=lo", true},
		{"net_af_packet0,iface=lo,qdisc_bypass=1", true},
		{"net_af_packet0,iface=lo,qdisc_bypass=0", false},
	} {
		o, err := memberTxOptions(configs.Member{Device: c.dev})
		if err != nil {
			t.Fatalf("%s: %v", c.dev, err)
		}
		if o.QdiscBypass != c.bypass || o.SendBuffer < 64<<10 {
			t.Errorf("%s: %+v, want bypass %v and room for a super-frame", c.dev, o, c.bypass)
		}
	}
	if _, err := memberTxOptions(configs.Member{Device: "net_af_packet0,iface=nosuch0"}); err == nil {
		t.Error("no error for a missing interface")
	}
}
