package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teamgw/teamgw/perf/lab"
)

// capture runs tshark on iface in namespace ns (lab.Capture) until stop
// is called, and returns the capture file's path.
func capture(t *testing.T, l *lab.Lab, ns, iface, filter string) (path string, stop func()) {
	t.Helper()
	path = filepath.Join(t.TempDir(), iface+".pcap")
	os.Chmod(filepath.Dir(path), 0o777)
	stop, err := l.Capture(ns, iface, filter, path)
	if err != nil {
		t.Fatal(err)
	}
	return path, stop
}

// decode runs tshark's full dissection over a capture and fails the test
// on any malformed-packet or error-level expert warning.
func decode(t *testing.T, path, display string) string {
	t.Helper()
	out, err := exec.Command("tshark", "-r", path, "-V", "-Y", display).CombinedOutput()
	if err != nil {
		t.Fatalf("tshark -r: %v\n%s", err, out)
	}
	s := string(out)
	for _, bad := range []string{"Malformed", "[Expert Info (Error", "Bogus"} {
		if strings.Contains(s, bad) {
			t.Errorf("tshark reports %q:\n%s", bad, s)
		}
	}
	return s
}

// TestWireFormatsDecodeCleanly captures what teamgw puts on the wire —
// LACPDUs while negotiating with Open vSwitch, and the gratuitous and
// directed ARPs of an SLB team — and has tshark dissect every frame.
func TestWireFormatsDecodeCleanly(t *testing.T) {
	t.Run("lacp", func(t *testing.T) {
		l := newLab(t, 2, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if _, err := l.StartOVS(ctx, lab.BondMode{Mode: "balance-tcp", LACP: "active"}, io.Discard); err != nil {
			t.Fatal(err)
		}
		path, stop := capture(t, l, l.Switch, "s0", "ether proto 0x8809")
		g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), lacpConfig(l), io.Discard)
		if err != nil {
			stop()
			t.Fatal(err)
		}
		st, err := g.Status()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		stop()
		g.Stop()
		// Only the LACPDUs teamgw sent: from member 0's MAC.
		s := decode(t, path, "lacp && eth.src == "+st.Teams[0].Members[0].MAC)
		if n := strings.Count(s, "Link Aggregation Control Protocol"); n < 2 {
			t.Errorf("captured %d LACPDUs, want at least 2:\n%s", n, s)
		}
		if !strings.Contains(s, "Actor System Priority: 32768") {
			t.Errorf("LACPDU dissection lacks the actor system priority:\n%s", s)
		}
	})
	t.Run("probes", func(t *testing.T) {
		l := newLab(t, 2, 1)
		ctx := context.Background()
		path, stop := capture(t, l, l.Switch, "s1", "arp")
		extra := fmt.Sprintf("echo_node = %q\nprobe_interval = \"200ms\"\n", l.ClientIP(0))
		g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{Extra: extra}), io.Discard)
		if err != nil {
			stop()
			t.Fatal(err)
		}
		waitFor(t, "echo-node replies on member 1", func() bool {
			s, err := g.Status()
			return err == nil && s.Teams[0].Members[1].Probe != nil && s.Teams[0].Members[1].Probe.Replies >= 2
		})
		st, _ := g.Status()
		stop()
		g.Stop()
		// The probes member 1 sent (sender 0.0.0.0, from its wire MAC)
		// and the echo node's replies to them.
		wire := st.Teams[0].Members[1].WireMAC
		s := decode(t, path, "arp && arp.src.proto_ipv4 == 0.0.0.0 && eth.src == "+wire)
		if !strings.Contains(s, "ARP Probe") || !strings.Contains(s, "Target IP address: "+l.ClientIP(0).String()) {
			t.Errorf("no echo-node probe for %s from member 1's wire MAC %s in the capture:\n%s", l.ClientIP(0), wire, s)
		}
		if r := decode(t, path, "arp.opcode == 2 && eth.dst == "+wire); !strings.Contains(r, "Address Resolution Protocol (reply)") {
			t.Errorf("no echo-node reply to member 1 in the capture:\n%s", r)
		}
	})
	t.Run("arp", func(t *testing.T) {
		l := newLab(t, 2, 4)
		ctx := context.Background()
		path, stop := capture(t, l, l.Switch, "s1", "arp")
		g, err := l.StartTeamgw(ctx, teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{}), io.Discard)
		if err != nil {
			stop()
			t.Fatal(err)
		}
		for _, ns := range l.Clients {
			l.Exec(ctx, ns, "ping", "-c", "1", "-W", "2", l.Spec.TeamIP.String())
		}
		var wire string
		waitFor(t, "a client to be pointed at member 1", func() bool {
			s, err := g.Status()
			if err != nil {
				return false
			}
			wire = s.Teams[0].Members[1].WireMAC
			// A client must have been pointed at member 1 (clients are
			// learned a neighbour-table round at a time).
			for _, c := range s.Teams[0].Clients {
				if c.Member == "net_af_packet1" {
					return true
				}
			}
			return false
		})
		time.Sleep(500 * time.Millisecond)
		stop()
		g.Stop()
		// The directed gratuitous ARPs member 1 sent: unicast, from its
		// wire MAC.
		s := decode(t, path, "arp && eth.src == "+wire+" && !(eth.dst == ff:ff:ff:ff:ff:ff)")
		if !strings.Contains(s, "Address Resolution Protocol (request)") || !strings.Contains(s, "Sender MAC address: "+wire) {
			t.Errorf("no directed ARP from member 1's wire MAC %s in the capture:\n%s", wire, s)
		}
	})
}
