package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/teamgw/teamgw/dataplane"
	"github.com/teamgw/teamgw/perf/lab"
)

// TestKernelPathBulkTCP moves 16 MB each way between an application on
// the appliance (behind the team's TAP) and a client, at the standard and
// at a jumbo MTU, and checks every byte: the kernel hands the TAP TCP
// super-frames that teamgw passes whole to the af_packet members' kernel
// (or, should it refuse them, cuts into wire segments itself), and
// the client's segments reach the kernel coalesced (GRO in software). A
// full-size ping with DF set crosses in both directions too.
func TestKernelPathBulkTCP(t *testing.T) {
	for _, mtu := range []int{1500, 9000} {
		t.Run(strconv.Itoa(mtu), func(t *testing.T) {
			ctx := testContext(t, 30*time.Second)
			l := newLabSpec(t, lab.Spec{Members: 2, Clients: 1, MTU: mtu})
			g := startTeamgw(t, l, l.Config(lab.TeamConfig{Mode: "trunk"}))

			size := strconv.Itoa(mtu - 28)
			if out, err := l.Exec(ctx, l.Clients[0], "ping", "-c", "2", "-i", "0.2", "-W", "2", "-M", "do", "-s", size, l.Spec.TeamIP.String()); err != nil {
				st, _ := g.Status()
				t.Fatalf("client -> team, %s-byte ping with DF: %v\n%s\nstatus: %+v", size, err, out, st.Teams[0])
			}
			if out, err := l.Exec(ctx, l.GW, "ping", "-c", "2", "-i", "0.2", "-W", "2", "-M", "do", "-s", size, l.ClientIP(0).String()); err != nil {
				t.Fatalf("team -> client, %s-byte ping with DF: %v\n%s", size, err, out)
			}

			bulkEcho(t, l, uint64(mtu))

			s, err := g.Status()
			if err != nil {
				t.Fatal(err)
			}
			kp := s.Teams[0].KernelPath
			t.Logf("MTU %d: %s", mtu, fmt.Sprintf("offloads %s, super-frames segmented %d, coalesced %d of %d segments, drops %v",
				kp.Offloads, kp.SuperFrames, kp.Coalesced, kp.CoalescedSegments, s.Teams[0].Drops))
			if kp.SuperFrames+kp.Offloaded == 0 {
				t.Error("the kernel handed over no TCP super-frame (TSO not in use)")
			}
			if kp.Coalesced == 0 {
				t.Error("no wire segments were coalesced for the kernel (GRO not in use)")
			}
			noDrops(t, s.Teams[0].Drops, "bad_offload", "oversize", "kernel_write", "no_mbuf")
		})
	}
}

// bulkEcho sends 16 MB from the gateway namespace to an echo server on
// client 0 and checks that every byte comes back.
func bulkEcho(t *testing.T, l *lab.Lab, seed uint64) {
	t.Helper()
	bulkEchoTo(t, l, net.JoinHostPort(l.ClientIP(0).String(), "7002"), seed)
}

// bulkEchoTo is bulkEcho to an echo server it starts on client 0 at addr.
func bulkEchoTo(t *testing.T, l *lab.Lab, addr string, seed uint64) {
	t.Helper()
	tcpEcho(t, l, l.Clients[0], addr)
	c := dial(t, l, l.GW, addr)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	data := make([]byte, 16<<20)
	r := rand.New(rand.NewPCG(seed, 9))
	for i := 0; i < len(data); i += 8 {
		v := r.Uint64()
		for k := range 8 {
			data[i+k] = byte(v >> (8 * k))
		}
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		errc <- err
	}()
	h := sha256.New()
	if n, err := io.CopyN(h, c, int64(len(data))); err != nil {
		t.Fatalf("echo: read %d of %d bytes: %v", n, len(data), err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("the echo differs from what was sent")
	}

}

// TestKernelPathMemberTSO runs the bulk echo over a member that offers
// TCP segmentation offload (DPDK's net_tap, which segments in its PMD as
// a NIC would in hardware; its kernel interface is bridged to the lab's
// member veth): the kernel's super-frames leave whole, with the mbuf
// offload requests DPDK defines, and every byte still arrives.
func TestKernelPathMemberTSO(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	l := newLabSpec(t, lab.Spec{Members: 1, Clients: 1})
	cfg := l.Config(lab.TeamConfig{Mode: "slb", TapMembers: true})
	g := startTeamgw(t, l, cfg)
	if err := l.WireTapMembers(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := g.Status()
	if err != nil {
		t.Fatal(err)
	}
	if m := s.Teams[0].Members[0]; !m.TSO {
		t.Fatalf("member %s offers %q but is not used for TSO", m.Name, m.TxOffloads)
	}
	// net_tap checks a TSO segment's whole frame, Ethernet header
	// included, against its MTU, so full-sized segments fail there (a
	// quirk of the PMD, not of NICs): the client's smaller MTU makes the
	// kernel's segments 14 bytes shorter.
	if out, err := l.Exec(ctx, l.Clients[0], "ip", "link", "set", "eth0", "mtu", "1486"); err != nil {
		t.Fatalf("client MTU: %v\n%s", err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := l.Exec(ctx, l.Clients[0], "ping", "-c", "1", "-W", "1", l.Spec.TeamIP.String())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client cannot reach the team: %v\n%s", err, out)
		}
	}
	defer func() {
		if !t.Failed() {
			return
		}
		out, _ := l.Exec(context.Background(), l.GW, "ip", "-s", "-s", "link")
		st, _ := g.Status()
		t.Logf("%s\nmembers %+v", out, st.Teams[0].Members)
	}()
	bulkEcho(t, l, 3)
	if s, err = g.Status(); err != nil {
		t.Fatal(err)
	}
	kp := s.Teams[0].KernelPath
	t.Logf("super-frames left to the member's TSO %d, segmented in teamgw %d, coalesced %d; drops %v", kp.Offloaded, kp.SuperFrames, kp.Coalesced, s.Teams[0].Drops)
	if kp.Offloaded == 0 {
		t.Error("no super-frame was handed to the member whole")
	}
	if kp.SuperFrames != 0 {
		t.Errorf("%d super-frames were segmented in software on a TSO member", kp.SuperFrames)
	}
	noDrops(t, s.Teams[0].Drops, "bad_offload", "oversize", "kernel_write", "no_mbuf")
}

// TestKernelPathKernelGSO runs the bulk echo over an SLB team of two
// af_packet members and watches the switch side of the member veths: the
// kernel's TCP super-frames leave teamgw whole on the members' packet
// sockets — frames larger than the MTU cross the veth, from the team's or
// a member's own MAC (SLB) — and every byte still arrives.
func TestKernelPathKernelGSO(t *testing.T) {
	l := newLab(t, 2, 1)
	g := startTeamgw(t, l, l.Config(lab.TeamConfig{Mode: "slb"}))
	s, err := g.Status()
	if err != nil {
		t.Fatal(err)
	}
	// The path member sends with the team MAC, the others with their own.
	macs := map[string]bool{s.Teams[0].MAC: true}
	for _, m := range s.Teams[0].Members {
		if !m.KernelGSO {
			t.Errorf("member %s is not marked as leaving super-frames to its kernel", m.Name)
		}
		macs[m.WireMAC] = true
	}
	var paths []string
	var stops []func()
	for i := range 2 {
		p, stop := capture(t, l, l.Switch, fmt.Sprintf("s%d", i), "tcp and greater 1600")
		paths, stops = append(paths, p), append(stops, stop)
	}
	bulkEcho(t, l, 5)
	for _, stop := range stops {
		stop()
	}
	checkKernelGSO(t, g, paths, macs, 1514)
	out, err := exec.Command(teamctlBin, "-socket", l.Socket(), "show").CombinedOutput()
	if err != nil {
		t.Fatalf("teamctl show: %v\n%s", err, out)
	}
	for _, want := range []string{"net_af_packet0 offloads: ", "net_af_packet1 offloads: ", "(kernel super-frames leave whole: GSO by the member interface's kernel)", "left to member TSO or GSO "} {
		if !strings.Contains(string(out), want) {
			t.Errorf("teamctl show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "left to member TSO or GSO 0 ") {
		t.Errorf("teamctl show counts no super-frame left whole:\n%s", out)
	}
}

// checkKernelGSO checks after a bulk echo that the super-frames left whole
// on the af_packet members: counted so in the status, none segmented in
// teamgw but those the kernel refused, no frame lost, and frames longer
// than wire frames (maxWire bytes) in the captures at paths, each from
// one of macs.
func checkKernelGSO(t *testing.T, g *lab.Teamgw, paths []string, macs map[string]bool, maxWire int) {
	t.Helper()
	s, err := g.Status()
	if err != nil {
		t.Fatal(err)
	}
	kp := s.Teams[0].KernelPath
	refused := kp.KernelGSORefusedFull + kp.KernelGSORefusedOther
	t.Logf("super-frames left to the members' kernel %d (refused %d full, %d other; backoff %d), segmented %d; drops %v",
		kp.Offloaded, kp.KernelGSORefusedFull, kp.KernelGSORefusedOther, kp.KernelGSOBackoff, kp.SuperFrames, s.Teams[0].Drops)
	if kp.Offloaded == 0 {
		t.Error("no super-frame was left whole to a member's kernel")
	}
	if kp.SuperFrames > refused+kp.KernelGSOBackoff {
		t.Errorf("%d super-frames segmented in software, only %d refused by the kernel or in its backoff", kp.SuperFrames, refused+kp.KernelGSOBackoff)
	}
	if kp.KernelGSOBackoff > refused*dataplane.GSOBackoff {
		t.Errorf("%d super-frames in backoff after %d refusals", kp.KernelGSOBackoff, refused)
	}
	big := 0
	for _, p := range paths {
		out, err := exec.Command("tshark", "-r", p, "-T", "fields", "-e", "eth.src", "-e", "frame.len").CombinedOutput()
		if err != nil {
			t.Fatalf("tshark -r: %v\n%s", err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				continue
			}
			n, _ := strconv.Atoi(f[1])
			if n > maxWire {
				if !macs[f[0]] {
					t.Errorf("a %d-byte frame from %s, neither the team's MAC nor a member's (%v)", n, f[0], macs)
				}
				big++
			}
		}
	}
	if big == 0 {
		t.Error("no frame larger than the MTU crossed a member veth: the super-frames were cut before")
	}
	t.Logf("%d frames larger than the MTU crossed the member veths", big)
	noDrops(t, s.Teams[0].Drops, "bad_offload", "oversize", "kernel_write", "no_mbuf", "tx_full")
}

// TestKernelPathKernelGSOFallback turns TSO off on the member's interface
// after teamgw opened its packet sockets on it (past the qdisc, as DPDK's
// net_af_packet sends), so the kernel drops every super-frame written
// whole (ENOBUFS): each one tried is counted as refused for a full device
// and makes the next 64 of its type go the PMD's way untried (counted as
// backoff); all of them are cut into wire segments by teamgw, and every
// byte still arrives.
func TestKernelPathKernelGSOFallback(t *testing.T) {
	ctx := testContext(t, 60*time.Second)
	l := newLabSpec(t, lab.Spec{Members: 1, Clients: 1})
	g := startTeamgw(t, l, l.Config(lab.TeamConfig{Mode: "slb"}))
	if out, err := l.Exec(ctx, l.GW, "ethtool", "-K", "m0", "tso", "off"); err != nil {
		t.Fatalf("ethtool: %v\n%s", err, out)
	}
	bulkEcho(t, l, 7)
	s, err := g.Status()
	if err != nil {
		t.Fatal(err)
	}
	kp := s.Teams[0].KernelPath
	t.Logf("super-frames left whole %d, refused %d full, %d other, backoff %d, segmented %d; drops %v",
		kp.Offloaded, kp.KernelGSORefusedFull, kp.KernelGSORefusedOther, kp.KernelGSOBackoff, kp.SuperFrames, s.Teams[0].Drops)
	if kp.KernelGSORefusedFull == 0 {
		t.Error("no super-frame refused for a full device (ENOBUFS) was counted")
	}
	if kp.KernelGSORefusedOther != 0 {
		t.Errorf("%d super-frames refused for another reason than ENOBUFS/EAGAIN", kp.KernelGSORefusedOther)
	}
	// Every refusal starts a backoff of GSOBackoff super-frames; all but
	// the last of each GSO type (one worker) run to their end.
	refused := kp.KernelGSORefusedFull
	if kp.KernelGSOBackoff > refused*dataplane.GSOBackoff || refused > 2 && kp.KernelGSOBackoff < (refused-2)*dataplane.GSOBackoff {
		t.Errorf("%d super-frames in backoff after %d refusals, want %d per refusal", kp.KernelGSOBackoff, refused, dataplane.GSOBackoff)
	}
	if kp.SuperFrames != refused+kp.KernelGSOBackoff {
		t.Errorf("%d super-frames segmented, %d refused and %d in backoff", kp.SuperFrames, refused, kp.KernelGSOBackoff)
	}
	noDrops(t, s.Teams[0].Drops, "bad_offload", "oversize", "kernel_write", "no_mbuf", "tx_full")
}

// TestKernelPathNoSocketsThroughTheQdisc: a kernel-backed member whose
// PMD sends through the qdisc (qdisc_bypass=0), or whose interface has no
// TSO when teamgw starts, gets no packet sockets — through the qdisc the
// kernel would hand what they send to the PMD's RX sockets as well — so
// its super-frames are segmented by teamgw and sent through the PMD, and
// every byte still arrives.
func TestKernelPathNoSocketsThroughTheQdisc(t *testing.T) {
	for _, c := range []struct {
		name, args string
		tsoOff     bool
	}{
		{"qdisc_bypass=0", ",qdisc_bypass=0", false},
		{"qdisc_bypass=00", ",qdisc_bypass=00", false},
		{"no TSO", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := testContext(t, 60*time.Second)
			l := newLabSpec(t, lab.Spec{Members: 1, Clients: 1})
			if c.tsoOff {
				if out, err := l.Exec(ctx, l.GW, "ethtool", "-K", "m0", "tso", "off"); err != nil {
					t.Fatalf("ethtool: %v\n%s", err, out)
				}
			}
			g := startTeamgw(t, l, l.Config(lab.TeamConfig{Mode: "slb", MemberArgs: c.args}))
			bulkEcho(t, l, 3)
			s, err := g.Status()
			if err != nil {
				t.Fatal(err)
			}
			if m := s.Teams[0].Members[0]; m.KernelGSO {
				t.Errorf("member %s is marked as leaving super-frames to its kernel", m.Name)
			}
			kp := s.Teams[0].KernelPath
			t.Logf("super-frames left whole %d, segmented %d; drops %v", kp.Offloaded, kp.SuperFrames, s.Teams[0].Drops)
			if kp.Offloaded != 0 || kp.KernelGSORefusedFull+kp.KernelGSORefusedOther+kp.KernelGSOBackoff != 0 {
				t.Errorf("%d super-frames left whole, %d/%d refused, %d in backoff: want none offered to the member's kernel",
					kp.Offloaded, kp.KernelGSORefusedFull, kp.KernelGSORefusedOther, kp.KernelGSOBackoff)
			}
			if kp.SuperFrames == 0 {
				t.Error("no super-frame was segmented")
			}
			noDrops(t, s.Teams[0].Drops, "bad_offload", "oversize", "kernel_write", "no_mbuf", "tx_full")
		})
	}
}

// noDrops fails t for every frame counted in drops under one of reasons.
func noDrops(t *testing.T, drops map[string]uint64, reasons ...string) {
	t.Helper()
	for _, r := range reasons {
		if n := drops[r]; n != 0 {
			t.Errorf("%d frames dropped as %s", n, r)
		}
	}
}
