package afpacket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/netnstest"
	"github.com/teamgw/teamgw/dataplane/vnet"
)

// The tests run in a network namespace of their own (unshare in TestMain),
// on a veth pair they create: frames written on one end are read back
// from the other by a packet socket with virtio-net headers, which shows
// whether the kernel carried a super-frame whole (one frame, GSO type and
// size in its header) or cut it.
func TestMain(m *testing.M) { netnstest.Main(m) }

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

// vethPair creates veth a<->b, both up at MTU 1500.
func vethPair(t *testing.T, a, b string) {
	t.Helper()
	run(t, "ip", "link", "add", a, "mtu", "1500", "type", "veth", "peer", "name", b, "mtu", "1500")
	t.Cleanup(func() { exec.Command("ip", "link", "del", a).Run() })
	for _, i := range []string{a, b} {
		// No router solicitations or MLD reports in the way.
		if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+i+"/disable_ipv6", []byte("1"), 0); err != nil {
			t.Fatal(err)
		}
	}
	run(t, "ip", "link", "set", a, "up")
	run(t, "ip", "link", "set", b, "up")
}

// receiver is a packet socket on an interface that reads every frame with
// its virtio-net header and, from the auxiliary data, the VLAN tag the
// kernel took off on receipt.
type receiver struct{ fd int }

func listen(t *testing.T, iface string) *receiver {
	t.Helper()
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	for _, o := range []int{unix.PACKET_VNET_HDR, unix.PACKET_AUXDATA} {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, o, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	r := &receiver{fd: fd}
	r.timeout(t, 2*time.Second)
	return r
}

// none reports whether no further frame of the test's arrives within
// 200 ms.
func (r *receiver) none(t *testing.T) bool {
	t.Helper()
	r.timeout(t, 200*time.Millisecond)
	defer r.timeout(t, 2*time.Second)
	_, _, ok := r.next(t)
	return !ok
}

func (r *receiver) timeout(t *testing.T, d time.Duration) {
	t.Helper()
	tv := unix.NsecToTimeval(d.Nanoseconds())
	if err := unix.SetsockoptTimeval(r.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
}

// next reads frames until one of EtherType IPv4 or IPv6 (after any VLAN
// tag) arrives, and returns its header and the frame with the VLAN tag
// the kernel stripped put back; false once nothing came for 2 s.
func (r *receiver) next(t *testing.T) (vnet.Header, []byte, bool) {
	t.Helper()
	buf := make([]byte, 70000)
	oob := make([]byte, 256)
	for {
		n, oobn, _, _, err := unix.Recvmsg(r.fd, buf, oob, 0)
		if err == unix.EAGAIN || err == unix.EINTR {
			return vnet.Header{}, nil, false
		}
		if err != nil {
			t.Fatal(err)
		}
		h, err := vnet.Decode(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		f := bytes.Clone(buf[vnet.HeaderLen:n])
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Header.Level != unix.SOL_PACKET || m.Header.Type != unix.PACKET_AUXDATA {
				continue
			}
			aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&m.Data[0]))
			if aux.Status&unix.TP_STATUS_VLAN_VALID != 0 {
				tpid := aux.Vlan_tpid
				if aux.Status&unix.TP_STATUS_VLAN_TPID_VALID == 0 {
					tpid = 0x8100
				}
				tag := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, tpid), aux.Vlan_tci)
				f = append(f[:12:12], append(tag, f[12:]...)...)
			}
		}
		et, off := binary.BigEndian.Uint16(f[12:]), 14
		for et == 0x8100 || et == 0x88a8 {
			et, off = binary.BigEndian.Uint16(f[off+2:]), off+4
		}
		// Only the test's frames (source 02:00:00:00:00:0a), not what the
		// kernel sends on a link coming up.
		if (et == 0x0800 || et == 0x86dd) && bytes.Equal(f[6:12], srcMAC) {
			return h, f, true
		}
	}
}

// maxSegment bounds the segments PacketGSO lets the kernel cut: 1500-byte
// IP packets behind an Ethernet header and two tags.
const maxSegment = 1522

var srcMAC = []byte{0x02, 0, 0, 0, 0, 0xa}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// superFrame builds a TCP super-frame as the kernel hands one to a TAP:
// MACs, the given 802.1Q tags, IPv4 or IPv6, a TCP header with 12 option
// bytes, payload bytes that differ position by position, and in the TCP
// checksum field the pseudo-header sum over the super-frame's length
// (CHECKSUM_PARTIAL). It returns the frame and the TCP header's offset.
func superFrame(v6 bool, tags []uint16, payload int) ([]byte, int) {
	f := []byte{0x02, 0, 0, 0, 0, 0xb, 0x02, 0, 0, 0, 0, 0xa}
	for _, vid := range tags {
		f = append(f, 0x81, 0x00, byte(vid>>8), byte(vid))
	}
	const tcpLen = 32
	var pseudo []byte
	if v6 {
		f = append(f, 0x86, 0xdd)
		ip := make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(tcpLen+payload))
		ip[6], ip[7] = unix.IPPROTO_TCP, 64
		copy(ip[8:], []byte{0x20, 0x01, 0x0d, 0xb8, 15: 1})
		copy(ip[24:], []byte{0x20, 0x01, 0x0d, 0xb8, 15: 2})
		f = append(f, ip...)
		pseudo = append(append(pseudo, ip[8:40]...), 0, 0, byte((tcpLen+payload)>>8), byte(tcpLen+payload), 0, 0, 0, unix.IPPROTO_TCP)
	} else {
		f = append(f, 0x08, 0x00)
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+tcpLen+payload))
		binary.BigEndian.PutUint16(ip[4:], 0x1234)
		ip[6] = 0x40
		ip[8], ip[9] = 64, unix.IPPROTO_TCP
		copy(ip[12:], []byte{198, 18, 0, 1, 198, 18, 0, 2})
		binary.BigEndian.PutUint16(ip[10:], vnet.Checksum(ip))
		f = append(f, ip...)
		pseudo = append(append(pseudo, ip[12:20]...), 0, unix.IPPROTO_TCP, byte((tcpLen+payload)>>8), byte(tcpLen+payload))
	}
	l4 := len(f)
	tcp := make([]byte, tcpLen)
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], 1000)
	binary.BigEndian.PutUint32(tcp[8:], 1)
	tcp[12], tcp[13] = tcpLen/4<<4, 0x18
	binary.BigEndian.PutUint16(tcp[14:], 1000)
	tcp[20], tcp[21] = 1, 1 // NOP NOP, then a timestamp option
	tcp[22], tcp[23] = 8, 10
	binary.BigEndian.PutUint16(tcp[16:], vnet.Fold(vnet.Sum(pseudo, 0)))
	f = append(f, tcp...)
	for i := range payload {
		f = append(f, byte(i*7+i>>8))
	}
	return f, l4
}

// write sends frame through s with PacketGSO's header, inserting an
// 802.1Q tag for vid after the MACs when vid != 0, as the worker does.
func write(t *testing.T, s *Sender, frame []byte, l4 int, gso uint8, mss uint16, vid uint16) []byte {
	t.Helper()
	tag := 0
	if vid != 0 {
		tag = 4
	}
	h := vnet.Header{Flags: vnet.FlagNeedsCsum, GSOType: gso, GSOSize: mss, CsumStart: uint16(l4), CsumOffset: 16}
	ph, err := vnet.PacketGSO(h, frame, tag, maxSegment)
	if err != nil {
		t.Fatal(err)
	}
	hb := make([]byte, vnet.HeaderLen)
	ph.Encode(hb)
	iov := []unix.Iovec{{Base: &hb[0], Len: vnet.HeaderLen}}
	want := frame
	et := binary.BigEndian.Uint16(frame[12:])
	if vid != 0 {
		tb := []byte{0x81, 0x00, byte(vid >> 8), byte(vid)}
		iov = append(iov, unix.Iovec{Base: &frame[0], Len: 12}, unix.Iovec{Base: &tb[0], Len: 4}, unix.Iovec{Base: &frame[12], Len: uint64(len(frame) - 12)})
		want = append(append(bytes.Clone(frame[:12]), tb...), frame[12:]...)
		et = 0x8100
	} else {
		iov = append(iov, unix.Iovec{Base: &frame[0], Len: uint64(len(frame))})
	}
	if err := s.Write(iov, et); err != nil {
		t.Fatalf("write: %v", err)
	}
	return want
}

type frameCase struct {
	name    string
	v6      bool
	tags    []uint16 // in the frame
	vid     uint16   // inserted by write
	gso     uint8
	mss     uint16
	payload int
}

var frameCases = []frameCase{
	{name: "ipv4", gso: vnet.GSOTCPv4, mss: 1448, payload: 60000},
	{name: "ipv4 tag inserted", vid: 10, gso: vnet.GSOTCPv4, mss: 1448, payload: 30000},
	{name: "ipv6", v6: true, gso: vnet.GSOTCPv6, mss: 1428, payload: 50000},
	{name: "ipv6 tagged frame", v6: true, tags: []uint16{20}, gso: vnet.GSOTCPv6, mss: 1428, payload: 20000},
}

// TestSuperFrameCrossesWhole: a veth takes GSO skbs, so a super-frame
// written with PacketGSO's header arrives on the peer as the one frame it
// was, byte for byte (checksum field still partial), with its GSO type and
// size: one skb for the whole super-frame, tagged or not.
func TestSuperFrameCrossesWhole(t *testing.T) {
	vethPair(t, "wa", "wb")
	if tso, err := OffersTSO("wa"); err != nil || !tso {
		t.Fatalf("OffersTSO on a veth = %v, %v", tso, err)
	}
	r := listen(t, "wb")
	for _, bypass := range []bool{false, true} {
		s, err := Open("wa", Options{QdiscBypass: bypass})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, c := range frameCases {
			t.Run(fmt.Sprintf("%s, qdisc bypass %v", c.name, bypass), func(t *testing.T) { whole(t, r, s, c) })
		}
	}
}

func whole(t *testing.T, r *receiver, s *Sender, c frameCase) {
	f, l4 := superFrame(c.v6, c.tags, c.payload)
	want := write(t, s, f, l4, c.gso, c.mss, c.vid)
	h, got, ok := r.next(t)
	if !ok {
		t.Fatal("nothing arrived")
	}
	if len(got) != len(want) {
		t.Fatalf("a %d-byte frame arrived, %d sent: the super-frame did not cross whole", len(got), len(want))
	}
	if !bytes.Equal(got, want) {
		t.Error("the frame that arrived differs from the one sent")
	}
	if h.GSOType != c.gso || h.GSOSize != c.mss {
		t.Errorf("arrived with GSO type %d size %d, want %d %d", h.GSOType, h.GSOSize, c.gso, c.mss)
	}
	if !r.none(t) {
		t.Error("more than one frame arrived")
	}
}

// TestSuperFrameSegmentedWhereDeviceCannot: with segmentation and checksum
// offloads off on the sending veth (as on a NIC without them), the kernel
// cuts the super-frame on the way out: wire-sized frames whose payloads
// put together are the super-frame's, in order, with complete IP and TCP
// checksums — the kernel found the IP header behind the VLAN tags too.
func TestSuperFrameSegmentedWhereDeviceCannot(t *testing.T) {
	vethPair(t, "wc", "wd")
	run(t, "ethtool", "-K", "wc", "tx", "off", "tso", "off", "gso", "off")
	if tso, err := OffersTSO("wc"); err != nil || tso {
		t.Fatalf("OffersTSO with TSO off = %v, %v", tso, err)
	}
	r := listen(t, "wd")
	s, err := Open("wc", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range frameCases {
		t.Run(c.name, func(t *testing.T) { segmented(t, r, s, c) })
	}
	// Past the qdisc, the kernel drops what it would have to cut.
	b, err := Open("wc", Options{QdiscBypass: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Write(tcpGSO(5000), 0x0800); err != unix.ENOBUFS {
		t.Errorf("a super-frame past the qdisc to a device without TSO: %v, want ENOBUFS", err)
	}
}

func segmented(t *testing.T, r *receiver, s *Sender, c frameCase) {
	f, l4 := superFrame(c.v6, c.tags, c.payload)
	want := write(t, s, f, l4, c.gso, c.mss, c.vid)
	tag := len(want) - len(f)
	l4 += tag
	hdr := l4 + 32
	var payload []byte
	seq := binary.BigEndian.Uint32(f[l4-tag+4:])
	for i := 0; len(payload) < c.payload; i++ {
		_, got, ok := r.next(t)
		if !ok {
			t.Fatalf("segment %d missing: %d of %d payload bytes arrived", i, len(payload), c.payload)
		}
		if len(got) > 14+len(c.tags)*4+tag+1500 {
			t.Fatalf("segment %d is %d bytes, over the MTU", i, len(got))
		}
		l3 := l4 - 20
		if c.v6 {
			l3 = l4 - 40
		}
		if !bytes.Equal(got[:l3], want[:l3]) || !bytes.Equal(got[l4-8:l4+4], want[l4-8:l4+4]) {
			t.Fatalf("segment %d: Ethernet header, tags, addresses or ports differ", i)
		}
		if s := binary.BigEndian.Uint32(got[l4+4:]); s != seq+uint32(len(payload)) {
			t.Fatalf("segment %d: sequence %d, want %d", i, s, seq+uint32(len(payload)))
		}
		if n := len(got) - hdr; n != min(int(c.mss), c.payload-len(payload)) {
			t.Fatalf("segment %d carries %d bytes, want %d", i, n, min(int(c.mss), c.payload-len(payload)))
		}
		var pseudo []byte
		if c.v6 {
			n := len(got) - l4
			pseudo = append(append(pseudo, got[l3+8:l3+40]...), 0, 0, byte(n>>8), byte(n), 0, 0, 0, unix.IPPROTO_TCP)
		} else {
			if vnet.Checksum(got[l3:l4]) != 0 {
				t.Fatalf("segment %d: bad IPv4 header checksum", i)
			}
			n := len(got) - l4
			pseudo = append(append(pseudo, got[l3+12:l3+20]...), 0, unix.IPPROTO_TCP, byte(n>>8), byte(n))
		}
		if ^vnet.Fold(vnet.Sum(got[l4:], vnet.Sum(pseudo, 0))) != 0 {
			t.Fatalf("segment %d: bad TCP checksum", i)
		}
		payload = append(payload, got[hdr:]...)
	}
	if !bytes.Equal(payload, want[hdr:]) {
		t.Error("the segments' payloads differ from the super-frame's")
	}
}

// TestReceivesNothing: bound with protocol 0, a Sender's socket is handed
// none of the frames that reach its interface.
func TestReceivesNothing(t *testing.T) {
	vethPair(t, "we", "wf")
	s, err := Open("we", Options{QdiscBypass: true, SendBuffer: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	peer, err := Open("wf", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	r := listen(t, "we")
	f, l4 := superFrame(false, nil, 3000)
	write(t, peer, f, l4, vnet.GSOTCPv4, 1448, 0)
	if _, _, ok := r.next(t); !ok {
		t.Fatal("the frame sent to the Sender's interface did not arrive there")
	}
	buf := make([]byte, 9000)
	if n, _, err := unix.Recvfrom(s.fd, buf, unix.MSG_DONTWAIT); err != unix.EAGAIN {
		t.Errorf("the Sender's socket read %d bytes (%v), want nothing", n, err)
	}
}

// TestWriteAllocatesNothing: the worker writes a super-frame per call.
func TestWriteAllocatesNothing(t *testing.T) {
	vethPair(t, "wg", "wh")
	s, err := Open("wg", Options{SendBuffer: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	iov := tcpGSO(1000)
	var errs int
	if n := testing.AllocsPerRun(200, func() {
		if s.Write(iov, 0x0800) != nil {
			errs++
		}
	}); n != 0 {
		t.Errorf("%v allocations per Write", n)
	}
	if errs != 0 {
		t.Errorf("%d writes failed", errs)
	}
}

// TestOpenFailsCleanly: an interface that does not exist is an error,
// and OpenSenders leaves nothing open behind a failure, also one of its
// second socket after the first was opened (descriptors limited so that
// one Open fits and two do not).
func TestOpenFailsCleanly(t *testing.T) {
	if _, err := Open("nosuch0", Options{}); err == nil {
		t.Error("Open on a missing interface succeeded")
	}
	if ss, err := OpenSenders("nosuch0", 3, Options{}); err == nil || ss != nil {
		t.Errorf("OpenSenders on a missing interface: %v, %v", ss, err)
	}
	vethPair(t, "wi", "wj")
	before := openFDs(t)
	ss, err := OpenSenders("wi", 4, Options{})
	if err != nil || len(ss) != 4 {
		t.Fatalf("OpenSenders: %v, %d senders", err, len(ss))
	}
	if err := ss.Close(); err != nil {
		t.Fatal(err)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open before, %d after Close", before, after)
	}

	free := lowestFreeFD(t)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = uint64(free + 1) // room for one descriptor
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	one, err1 := Open("wi", Options{})
	one.Close()
	ss, err2 := OpenSenders("wi", 3, Options{})
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if err1 != nil {
		t.Fatalf("one Open within the limit: %v", err1)
	}
	if err2 == nil || ss != nil {
		ss.Close()
		t.Fatalf("OpenSenders of 3 with room for one descriptor: %v, %d senders", err2, len(ss))
	}
	if !errors.Is(err2, unix.EMFILE) || !strings.Contains(err2.Error(), "socket") {
		t.Errorf("OpenSenders with room for one descriptor: %v, want the second socket to fail with EMFILE", err2)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open before, %d after the failed OpenSenders", before, after)
	}
	if got := lowestFreeFD(t); got != free {
		t.Errorf("descriptor %d still taken after the failed OpenSenders", free)
	}
}

// lowestFreeFD is the descriptor the next one opened gets.
func lowestFreeFD(t *testing.T) int {
	t.Helper()
	fd, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	return fd
}

func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestOnlyPastTheQdiscNoCopyComesBack: a frame a Sender writes through
// the interface's queueing discipline is copied to every other ETH_P_ALL
// packet socket on that interface — as the PMD's RX sockets are, which
// would take our super-frames back in as loops — and one written past it
// (QdiscBypass) is copied to none. Hence control gives a member sockets
// only when they can bypass the qdisc (control.memberTxPlan).
func TestOnlyPastTheQdiscNoCopyComesBack(t *testing.T) {
	vethPair(t, "wk", "wl")
	r := listen(t, "wk") // as the PMD's RX socket on the member interface
	for _, bypass := range []bool{false, true} {
		s, err := Open("wk", Options{QdiscBypass: bypass})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		f, l4 := superFrame(false, nil, 20000)
		want := write(t, s, f, l4, vnet.GSOTCPv4, 1448, 0)
		if bypass {
			if !r.none(t) {
				t.Error("past the qdisc: a copy of the frame came back to the interface's packet socket")
			}
			continue
		}
		_, got, ok := r.next(t)
		if !ok {
			t.Fatal("through the qdisc: no copy reached the interface's packet socket (the reason for not using the qdisc path is gone?)")
		}
		if !bytes.Equal(got, want) {
			t.Error("through the qdisc: the copy differs from the frame sent")
		}
		if !r.none(t) {
			t.Error("through the qdisc: more than one copy")
		}
	}
}

// TestZeroSenderOwnsNothing: a Sender not made by Open has no descriptor
// of its own: Close leaves descriptor 0 (stdin) alone, Write fails.
func TestZeroSenderOwnsNothing(t *testing.T) {
	var s Sender
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := unix.FcntlInt(0, unix.F_GETFD, 0); err != nil {
		t.Errorf("descriptor 0 after a zero Sender's Close: %v", err)
	}
	var b [1]byte
	if err := s.Write([]unix.Iovec{{Base: &b[0], Len: 1}}, 0x0800); err != unix.EBADF {
		t.Errorf("Write on a zero Sender: %v, want EBADF", err)
	}
}

// tcpGSO is an untagged IPv4 TCP super-frame with payload bytes of
// payload behind its packet socket GSO header (MSS 1448), as the iovecs
// Write takes.
func tcpGSO(payload int) []unix.Iovec {
	f, l4 := superFrame(false, nil, payload)
	h := vnet.Header{Flags: vnet.FlagNeedsCsum, GSOType: vnet.GSOTCPv4, GSOSize: 1448, CsumStart: uint16(l4), CsumOffset: 16}
	ph, _ := vnet.PacketGSO(h, f, 0, maxSegment)
	hb := make([]byte, vnet.HeaderLen)
	ph.Encode(hb)
	return []unix.Iovec{{Base: &hb[0], Len: vnet.HeaderLen}, {Base: &f[0], Len: uint64(len(f))}}
}
