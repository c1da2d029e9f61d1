package dataplane

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/teamgw/teamgw/dataplane/frame"
)

var (
	teamIP6   = netip.MustParseAddr("2001:db8::1")
	clientIP6 = netip.MustParseAddr("2001:db8::a")
)

// nsFrame builds a neighbor solicitation from the team for target to dst
// (Ethernet dstMAC), with a nonce option and then the source link-layer
// address option.
func nsFrame(dstMAC frame.MAC, dst, target netip.Addr) []byte {
	f := append([]byte{}, dstMAC[:]...)
	f = append(f, teamMAC[:]...)
	f = binary.BigEndian.AppendUint16(f, frame.TypeIPv6)
	f = append(f, 0x60, 0, 0, 0, 0, 24+8+8, 58, 255)
	s, d, tg := teamIP6.As16(), dst.As16(), target.As16()
	f = append(f, s[:]...)
	f = append(f, d[:]...)
	f = append(f, icmpNS, 0, 0, 0, 0, 0, 0, 0)
	f = append(f, tg[:]...)
	f = append(f, 14, 1, 1, 2, 3, 4, 5, 6) // nonce (RFC 3971)
	f = append(f, optSourceLL, 1)
	f = append(f, teamMAC[:]...)
	sum := frame.ICMPv6Checksum(s[:], d[:], f[ndICMP:])
	binary.BigEndian.PutUint16(f[ndICMP+2:], sum)
	return f
}

// checksumOK verifies the ICMPv6 checksum of an untagged ND frame.
func checksumOK(f []byte) bool {
	msg := bytes.Clone(f[ndICMP:])
	msg[2], msg[3] = 0, 0
	return frame.ICMPv6Checksum(f[ndIP+8:ndIP+24], f[ndIP+24:ndIP+40], msg) == binary.BigEndian.Uint16(f[ndICMP+2:])
}

// optionMAC is the MAC of the first link-layer address option of type t.
func optionMAC(f []byte, t byte) frame.MAC {
	for off := ndOpts; off+8 <= len(f); off += int(f[off+1]) * 8 {
		if f[off] == t {
			return frame.MAC(f[off+2 : off+8])
		}
		if f[off+1] == 0 {
			break
		}
	}
	return frame.MAC{}
}

func ndState() TeamState {
	ts := slbState(ModeSLB)
	ts.Clients6 = map[[16]byte]int8{clientIP6.As16(): 1}
	return ts
}

func TestSteerND(t *testing.T) {
	ts := ndState()
	na := frame.AppendNA(nil, clientMAC, teamMAC, teamIP6, clientIP6, frame.NASolicited|frame.NAOverride, teamIP6, teamMAC)
	if got := steerND(&ts, na, 0); got != 1 {
		t.Fatalf("solicited NA to a client of member 1 steered to %d", got)
	}
	if frame.Ethernet(na).Src() != memberMAC1 || optionMAC(na, optTargetLL) != memberMAC1 || !checksumOK(na) {
		t.Errorf("steered NA: source %s, target link-layer %s, checksum ok %v; want member 1's MAC and a valid checksum",
			frame.Ethernet(na).Src(), optionMAC(na, optTargetLL), checksumOK(na))
	}
	ns := nsFrame(clientMAC, clientIP6, clientIP6)
	if got := steerND(&ts, ns, 0); got != 1 || optionMAC(ns, optSourceLL) != memberMAC1 || !checksumOK(ns) {
		t.Errorf("unicast NS: member %d, source link-layer %s, checksum ok %v", got, optionMAC(ns, optSourceLL), checksumOK(ns))
	}
	if ns[ndOpts+2] != 1 || ns[ndOpts+7] != 6 {
		t.Errorf("nonce option changed: % x", ns[ndOpts:ndOpts+8])
	}

	for name, f := range map[string][]byte{
		"multicast NS":             nsFrame(frame.MAC{0x33, 0x33, 0xff, 0, 0, 0x0a}, netip.MustParseAddr("ff02::1:ff00:a"), clientIP6),
		"NA to a stranger":         frame.AppendNA(nil, clientMAC, teamMAC, teamIP6, netip.MustParseAddr("2001:db8::99"), frame.NASolicited, teamIP6, teamMAC),
		"NA not from the team MAC": frame.AppendNA(nil, clientMAC, memberMAC1, teamIP6, clientIP6, frame.NASolicited, teamIP6, memberMAC1),
		"UDP":                      ip6Frame(clientMAC, teamMAC, teamIP6, clientIP6),
		"truncated":                frame.AppendNA(nil, clientMAC, teamMAC, teamIP6, clientIP6, 0, teamIP6, teamMAC)[:ndOpts-1],
	} {
		orig := bytes.Clone(f)
		if got := steerND(&ts, f, 7); got != 7 || !bytes.Equal(f, orig) {
			t.Errorf("%s: steered to %d (changed %v), want left alone", name, got, !bytes.Equal(f, orig))
		}
	}

	// A client of the path member: its member, the team MAC left as is.
	ts.Clients6[clientIP6.As16()] = 0
	na = frame.AppendNA(nil, clientMAC, teamMAC, teamIP6, clientIP6, frame.NASolicited, teamIP6, teamMAC)
	orig := bytes.Clone(na)
	if got := steerND(&ts, na, 1); got != 0 || !bytes.Equal(na, orig) {
		t.Errorf("NA to a client of the path member: member %d, changed %v", got, !bytes.Equal(na, orig))
	}

	// A zero-length option ends the walk without a hang or a change.
	ts.Clients6[clientIP6.As16()] = 1
	bad := nsFrame(clientMAC, clientIP6, clientIP6)
	bad[ndOpts+1] = 0
	if got := steerND(&ts, bad, 0); got != 1 || frame.MAC(bad[ndOpts+10:ndOpts+16]) != teamMAC {
		t.Errorf("zero-length option: member %d, option MAC %s", got, frame.MAC(bad[ndOpts+10:ndOpts+16]))
	}
}

func TestChecksumReplace(t *testing.T) {
	msg := []byte{0x86, 0, 0, 0, 0x12, 0x34, 0xab, 0xcd, 0xff, 0xff, 0, 1}
	src, dst := teamIP6.As16(), clientIP6.As16()
	sum := frame.ICMPv6Checksum(src[:], dst[:], msg)
	repl := []byte{0xff, 0xff, 0, 0, 0x80, 0x01}
	got := checksumReplace(sum, msg[6:12], repl)
	copy(msg[6:12], repl)
	if want := frame.ICMPv6Checksum(src[:], dst[:], msg); got != want {
		t.Errorf("incremental checksum %#04x, recomputed %#04x", got, want)
	}
}

// TestNDToClientsIsSteered: the kernel's neighbor advertisement to an
// IPv6 client of member 1 leaves on member 1 with member 1's MAC.
func TestNDToClientsIsSteered(t *testing.T) {
	r := newRig(t, 2)
	ts := ndState()
	for b := range ts.Table {
		ts.Table[b] = 0 // every flow on the path member: steering decides
	}
	r.publishState(ts)
	r.tap.send(frame.AppendNA(nil, clientMAC, teamMAC, teamIP6, clientIP6, frame.NASolicited|frame.NAOverride, teamIP6, teamMAC))
	got := r.members[1].collect(1)[0]
	if frame.Ethernet(got).Src() != memberMAC1 || optionMAC(got, optTargetLL) != memberMAC1 || !checksumOK(got) {
		t.Errorf("steered NA: source %s, option %s, checksum ok %v", frame.Ethernet(got).Src(), optionMAC(got, optTargetLL), checksumOK(got))
	}
	r.members[0].quiet()
}
