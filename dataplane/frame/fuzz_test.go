package frame

import (
	"net/netip"
	"testing"
)

// FuzzViews feeds arbitrary bytes to the Ethernet and ARP views: Valid must
// never panic, and when it reports true every accessor must not panic either.
// The bytes are tried both as a whole frame (Ethernet, then ARP on its
// payload) and directly as an ARP packet.
func FuzzViews(f *testing.F) {
	garp := AppendGratuitousARP(nil, MAC{0x02, 0xde, 0xad, 0xbe, 0xef, 0x01}, netip.MustParseAddr("192.0.2.1"))
	f.Add(garp)
	f.Add(garp[EthHeaderLen:])                        // ARP payload alone, padded
	f.Add(garp[EthHeaderLen : EthHeaderLen+ARPLen])   // ARP payload, exact
	f.Add(garp[EthHeaderLen : EthHeaderLen+ARPLen-1]) // ARP payload, one short
	f.Add(garp[:EthHeaderLen])                        // header only
	f.Add(garp[:EthHeaderLen-1])                      // header one short
	f.Add(garp[:EthHeaderLen+ARPLen-1])               // frame, ARP one short
	f.Add(AppendUnsolicitedNA(nil, MAC{0x02, 1, 2, 3, 4, 5}, netip.MustParseAddr("2001:db8::1")))
	f.Add([]byte{})
	f.Add([]byte{0, 1, 8, 0, 8, 16}) // ARP-like header with odd sizes

	f.Fuzz(func(t *testing.T, b []byte) {
		checkARP := func(a ARP) {
			if !a.Valid() {
				return
			}
			_ = a.Op()
			_ = a.SenderMAC().String()
			_ = a.SenderIP()
			_ = a.TargetMAC().IsMulticast()
			_ = a.TargetIP()
			// A valid ARP view re-encodes to the same 28 bytes.
			re := AppendARP(nil, MAC{}, MAC{}, a.Op(), a.SenderMAC(), a.SenderIP(), a.TargetMAC(), a.TargetIP())
			if string(re[EthHeaderLen:EthHeaderLen+ARPLen]) != string(a[:ARPLen]) {
				t.Fatalf("ARP round trip mismatch:\n got % x\nwant % x", re[EthHeaderLen:EthHeaderLen+ARPLen], a[:ARPLen])
			}
		}

		e := Ethernet(b)
		if e.Valid() {
			dst := e.Dst()
			_ = e.Src().String()
			_ = e.Type()
			if e.DstIsMulticast() != dst.IsMulticast() {
				t.Fatalf("DstIsMulticast disagrees with Dst().IsMulticast for %v", dst)
			}
			checkARP(ARP(e[EthHeaderLen:]))
		} else if len(b) >= EthHeaderLen {
			t.Fatalf("Ethernet of %d bytes not Valid", len(b))
		}
		checkARP(ARP(b))
		_, _ = MACFrom(b)
	})
}
