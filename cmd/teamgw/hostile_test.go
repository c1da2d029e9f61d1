package main

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/perf/lab"
)

// TestHostileFramesFromTheKernelSide writes broken frames into the team's
// TAP from the gateway's own namespace (as a compromised or buggy local
// application could): truncated and lying IPv4 headers, a bad IHL, three
// stacked VLAN tags, a truncated IPv6 extension chain, an ARP packet with
// odd address lengths. teamgw must count every one of them as malformed
// (they leave on the path member, like any non-flow frame) and keep
// forwarding.
func TestHostileFramesFromTheKernelSide(t *testing.T) {
	l := newLab(t, 2, 1)
	g, err := l.StartTeamgw(context.Background(), teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	s, _ := g.Status()
	before := s.Teams[0].Classes["malformed"]
	mac, _ := net.ParseMAC(s.Teams[0].MAC)
	src, _ := frame.MACFrom(mac)
	dst := frame.MAC{0x02, 0, 0, 0, 0, 0x99}
	eth := func(typ uint16, payload ...byte) []byte {
		f := append(append(append([]byte{}, dst[:]...), src[:]...), byte(typ>>8), byte(typ))
		return append(f, payload...)
	}
	ipv4 := func(ihl byte, total uint16, proto byte, n int) []byte {
		h := make([]byte, n)
		h[0] = 0x40 | ihl
		binary.BigEndian.PutUint16(h[2:], total)
		if n > 9 {
			h[9] = proto
		}
		return h
	}
	hostile := [][]byte{
		eth(0x0800, ipv4(5, 40, 6, 10)...),                                               // IPv4 header cut short
		eth(0x0800, ipv4(3, 40, 6, 24)...),                                               // IHL below 5
		eth(0x0800, ipv4(5, 12, 6, 24)...),                                               // total length below the header
		eth(0x0800, ipv4(15, 80, 6, 40)...),                                              // IHL past the frame
		eth(0x0800, ipv4(5, 22, 17, 22)...),                                              // UDP ports missing
		eth(0x8100, 0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3, 0x08, 0),                         // three VLAN tags
		eth(0x86dd, append([]byte{0x60, 0, 0, 0, 0, 16, 0, 64}, make([]byte, 36)...)...), // IPv6, hop-by-hop chain cut
		eth(0x0806, 0, 1, 8, 0, 200, 200, 0, 1),                                          // ARP claiming 200-byte addresses
	}
	// As fast as a raw socket writes them, for two seconds.
	rounds := 0
	err = l.Do(l.GW, func() error {
		ifi, err := net.InterfaceByName("team0")
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		to := &unix.SockaddrLinklayer{Ifindex: ifi.Index}
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); rounds++ {
			for _, f := range hostile {
				if err := unix.Sendto(fd, f, 0, to); err != nil && err != unix.ENOBUFS {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// What the TAP's queue holds is read; the kernel drops the rest of
	// the flood at the TAP (its own counters). Every frame teamgw read
	// is counted as malformed, and nothing else moved meanwhile.
	sent := uint64(rounds * len(hostile))
	var got uint64
	for prev := uint64(1 << 63); ; time.Sleep(200 * time.Millisecond) {
		s, err := g.Status()
		if err != nil {
			t.Fatal(err)
		}
		if got = s.Teams[0].Classes["malformed"] - before; got == prev {
			break
		}
		prev = got
	}
	t.Logf("%d hostile frames written in 2 s; teamgw read and counted %d as malformed (the TAP's queue dropped the rest)", sent, got)
	if got < uint64(len(hostile))*100 {
		t.Errorf("only %d hostile frames counted as malformed", got)
	}
	if out, err := l.Exec(context.Background(), l.Clients[0], "ping", "-c", "2", "-i", "0.2", "-W", "2", l.Spec.TeamIP.String()); err != nil {
		t.Fatalf("team stopped forwarding after hostile frames: %v\n%s", err, out)
	}
}

// TestHostileStormFromTheWire floods both members of an SLB team from the
// switch side, as fast as a raw socket sends, with what a hostile or
// broken segment carries — broadcast ARP storms, frames for unknown MACs,
// frames claiming the team's own MAC, slow-protocols frames, three stacked
// VLAN tags, runt and truncated IP frames, ARP claiming the team's IP —
// while a client's UDP echo stream runs. teamgw must keep the stream
// going and count each kind under its drop reason.
func TestHostileStormFromTheWire(t *testing.T) {
	l := newLab(t, 2, 1)
	g, err := l.StartTeamgw(context.Background(), teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	s, _ := g.Status()
	teamMAC, _ := net.ParseMAC(s.Teams[0].MAC)
	stream := echoStream(t, l, 0)

	bcast := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	stranger := []byte{0x02, 0xba, 0xd0, 0, 0, 1}
	eth := func(dst, src []byte, typ uint16, payload ...byte) []byte {
		f := append(append(append([]byte{}, dst...), src...), byte(typ>>8), byte(typ))
		return append(f, append(payload, make([]byte, max(0, 46-len(payload)))...)...)
	}
	arp := func(op byte, sha []byte, spa netip.Addr, tpa netip.Addr) []byte {
		a := append([]byte{0, 1, 8, 0, 6, 4, 0, op}, sha...)
		a = append(append(a, spa.AsSlice()...), make([]byte, 6)...)
		return append(a, tpa.AsSlice()...)
	}
	storm := [][]byte{
		eth(bcast, stranger, 0x0806, arp(1, stranger, netip.MustParseAddr("192.0.2.200"), netip.MustParseAddr("192.0.2.201"))...), // broadcast storm
		eth([]byte{0x02, 0xba, 0xd0, 0, 0, 2}, stranger, 0x0800, 0x45, 0, 0, 20),                                                  // unicast for a stranger
		eth(teamMAC, teamMAC, 0x0800, 0x45, 0, 0, 20),                                                                             // our own MAC as source
		eth([]byte{0x01, 0x80, 0xc2, 0, 0, 2}, stranger, 0x8809, 1, 1),                                                            // slow protocols on an slb team
		eth(teamMAC, stranger, 0x8100, 0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3, 0x08, 0),                                               // three VLAN tags (passed through: the team has no VLANs)
		eth(teamMAC, stranger, 0x0806, arp(2, stranger, l.Spec.TeamIP, netip.MustParseAddr("192.0.2.10"))...),                     // ARP claiming the team's IP
		eth(teamMAC, stranger, 0x0800, 0x4f, 0, 0xff, 0xff),                                                                       // IPv4 with lying lengths
	}
	const seconds = 4
	for _, port := range []string{"s0", "s1"} {
		go func() {
			for deadline := time.Now().Add(seconds * time.Second); time.Now().Before(deadline); {
				var batch [][]byte
				for range 200 {
					batch = append(batch, storm...)
				}
				if inject(l, port, batch...) != nil {
					return
				}
			}
		}()
	}
	receivedBefore := stream.Received()
	time.Sleep(seconds * time.Second)
	duringStorm := stream.Received() - receivedBefore
	r := stream.Stop()
	after, _ := g.Status()
	drops := after.Teams[0].Drops
	t.Logf("during %d s of storm on both members: %d echoes (of ~%d sent each second); stream lost %d of %d, longest gap %v; drops %v",
		seconds, duringStorm, 1000, r.Lost, r.Sent, r.MaxGap, drops)
	if duringStorm < seconds*1000/2 {
		t.Errorf("only %d echoes during the storm: good traffic starved", duringStorm)
	}
	for _, reason := range []string{"multicast_filter", "not_for_us", "loop", "slow_protocol", "spoofed_arp"} {
		if drops[reason] == 0 {
			t.Errorf("no frame counted as %s", reason)
		}
	}
	if out, err := l.Exec(context.Background(), l.Clients[0], "ping", "-c", "2", "-i", "0.2", "-W", "2", l.Spec.TeamIP.String()); err != nil {
		t.Fatalf("team stopped forwarding after the storm: %v\n%s", err, out)
	}
}
