package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/perf/lab"
)

// TestVLANInterface gives the team VLAN 10 with its own kernel interface
// (team0.10, 198.51.100.1/24). A client sends an 802.1Q-tagged ARP request
// for that address from a raw socket (this kernel has no 8021q module);
// the gateway's kernel answers on team0.10 and the reply comes back tagged
// with VLAN 10 from the team MAC.
func TestVLANInterface(t *testing.T) {
	l := newLab(t, 2, 1)
	cfg := l.Config(lab.TeamConfig{Extra: "[[team.vlan]]\nid = 10\naddresses = [\"198.51.100.1/24\"]\n"})
	var logb bytes.Buffer
	g, err := l.StartTeamgw(context.Background(), teamgwBin, t.TempDir(), cfg, &syncWriter{w: &logb})
	if err != nil {
		t.Fatalf("%v\n%s", err, logb.String())
	}
	defer g.Stop()
	s, err := g.Status()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Teams[0].VLANs) != 1 || s.Teams[0].VLANs[0].Interface != "team0.10" {
		t.Fatalf("VLANs in status: %+v", s.Teams[0].VLANs)
	}
	teamMAC, _ := net.ParseMAC(s.Teams[0].MAC)
	vip := netip.MustParseAddr("198.51.100.1")
	cip := netip.MustParseAddr("198.51.100.10")

	err = l.Do(l.Clients[0], func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			return err
		}
		unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1)
		tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		cmac, _ := frame.MACFrom(ifi.HardwareAddr)
		req := frame.AppendARP(nil, frame.Broadcast, cmac, frame.ARPRequest, cmac, cip, frame.MAC{}, vip)
		to := &unix.SockaddrLinklayer{Ifindex: ifi.Index}

		ask := func(f []byte) (vid int, reply bool) {
			for try := 0; try < 10 && !reply; try++ {
				if err := unix.Sendto(fd, f, 0, to); err != nil {
					t.Errorf("send: %v", err)
					return
				}
				deadline := time.Now().Add(300 * time.Millisecond)
				buf, oob := make([]byte, 2048), make([]byte, 256)
				for time.Now().Before(deadline) {
					n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
					if err != nil {
						continue
					}
					vid, ok := arpReplyFrom(buf[:n], oob[:oobn], vip, teamMAC)
					if ok {
						return vid, true
					}
				}
			}
			return 0, false
		}
		vid, got := ask(frame.Tag(req, 10))
		if !got {
			t.Errorf("no ARP reply for %s on VLAN 10", vip)
		} else if vid != 10 {
			t.Errorf("ARP reply came back on VLAN %d, want 10", vid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		t.Logf("teamgw log:\n%s", logb.String())
	}
}

// arpReplyFrom reports whether f is an ARP reply from ip at mac, and its
// VLAN: from the frame's tag, or from the kernel's auxiliary data when
// the tag was taken off on receive.
func arpReplyFrom(f, oob []byte, ip netip.Addr, mac net.HardwareAddr) (vid int, ok bool) {
	e := frame.Ethernet(f)
	if !e.Valid() {
		return 0, false
	}
	payload, typ := f[frame.EthHeaderLen:], e.Type()
	if typ == frame.TypeVLAN && len(f) >= 18 {
		vid = int(binary.BigEndian.Uint16(f[14:16]) & 0x0fff)
		typ, payload = binary.BigEndian.Uint16(f[16:18]), f[18:]
	}
	if typ != frame.TypeARP {
		return 0, false
	}
	a := frame.ARP(payload)
	if !a.Valid() || a.Op() != frame.ARPReply || a.SenderIP() != ip || a.SenderMAC().String() != mac.String() {
		return 0, false
	}
	if vid == 0 {
		msgs, _ := unix.ParseSocketControlMessage(oob)
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_PACKET && m.Header.Type == unix.PACKET_AUXDATA && len(m.Data) >= 20 {
				status := binary.NativeEndian.Uint32(m.Data[0:4])
				if status&unix.TP_STATUS_VLAN_VALID != 0 {
					vid = int(binary.NativeEndian.Uint16(m.Data[16:18]) & 0x0fff)
				}
			}
		}
	}
	return vid, true
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
