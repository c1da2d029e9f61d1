package tap

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/netnstest"
	"github.com/teamgw/teamgw/dataplane/vnet"
)

// The tests create TAPs in the test's own network namespace: each test
// process gets a fresh one (unshare in TestMain), so nothing touches the
// host's interfaces.
func TestMain(m *testing.M) { netnstest.Main(m) }

// open creates a configured TAP with 198.18.0.1/24 on it.
func open(t *testing.T, name string, queues int) *Device {
	t.Helper()
	d, err := Open(name, queues)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	if err := d.Configure(mac, 1500); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "addr", "add", "198.18.0.1/24", "dev", name).CombinedOutput(); err != nil {
		t.Fatalf("ip addr add: %v: %s", err, out)
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil || ifi.Index != d.Index || !bytes.Equal(ifi.HardwareAddr, mac) || ifi.MTU != 1500 || ifi.Flags&net.FlagUp == 0 {
		t.Fatalf("interface %+v, %v; want index %d, MAC %v, MTU 1500, up", ifi, err, d.Index, mac)
	}
	return d
}

// readFrame polls every queue until a frame arrives whose Ethernet type
// is etherType.
func readFrame(t *testing.T, d *Device, etherType uint16) (vnet.Header, []byte) {
	t.Helper()
	buf := make([]byte, MaxFrame)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for i := range d.Queues() {
			n, err := d.Queue(i).Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			if n < vnet.HeaderLen+14 {
				continue
			}
			f := buf[vnet.HeaderLen:n]
			if binary.BigEndian.Uint16(f[12:14]) != etherType {
				continue
			}
			h, err := vnet.Decode(buf[:n])
			if err != nil {
				t.Fatal(err)
			}
			return h, bytes.Clone(f)
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no frame of type %#04x within 5 s", etherType)
	return vnet.Header{}, nil
}

func TestOpenRefusesAnExistingName(t *testing.T) {
	open(t, "tgtap0", 1)
	if _, err := Open("tgtap0", 1); err == nil {
		t.Fatal("a second TAP with the same name was created")
	}
	if _, err := Open("a-name-longer-than-15", 1); err == nil {
		t.Fatal("an over-long name was accepted")
	}
}

func TestCloseRemovesTheInterface(t *testing.T) {
	d, err := Open("tgtap1", 2)
	if err != nil {
		t.Fatal(err)
	}
	if d.Queues() != 2 || !d.Offloads.Csum || !d.Offloads.TSO {
		t.Fatalf("queues %d offloads %v; want 2 queues with checksum and TSO offloads", d.Queues(), d.Offloads)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.InterfaceByName("tgtap1"); err == nil {
		t.Fatal("tgtap1 still exists after Close")
	}
}

// The kernel resolves a neighbour through the TAP: its ARP request comes
// out of a queue, our reply goes in, and a UDP datagram then leaves with a
// partial checksum that CompleteChecksum finishes correctly.
func TestBothDirectionsWithTheKernel(t *testing.T) {
	d := open(t, "tgtap2", 2)
	s, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort("198.18.0.2:9")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	_, req := readFrame(t, d, 0x0806)
	if len(req) < 42 || !bytes.Equal(req[38:42], []byte{198, 18, 0, 2}) {
		t.Fatalf("not an ARP request for 198.18.0.2: % x", req)
	}
	peer := []byte{0x02, 0, 0, 0, 0, 2}
	reply := append(append(append([]byte{}, req[6:12]...), peer...), 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 2)
	reply = append(append(append(append(append(reply, peer...), 198, 18, 0, 2), req[6:12]...), 198, 18, 0, 1), make([]byte, 18)...)
	hdr := make([]byte, vnet.HeaderLen)
	iov := []unix.Iovec{{Base: &hdr[0], Len: vnet.HeaderLen}, {Base: &reply[0], Len: uint64(len(reply))}}
	if err := d.Queue(1).Write(iov); err != nil {
		t.Fatal(err)
	}
	h, f := readFrame(t, d, 0x0800)
	if !bytes.Equal(f[0:6], peer) {
		t.Fatalf("UDP frame to %x, want the MAC our ARP reply gave", f[0:6])
	}
	if h.GSOType != vnet.GSONone {
		t.Fatalf("a 5-byte datagram came with GSO type %d", h.GSOType)
	}
	if h.Flags&vnet.FlagNeedsCsum != 0 {
		if err := vnet.CompleteChecksum(h, f); err != nil {
			t.Fatal(err)
		}
	}
	if !udpChecksumValid(f[14:]) {
		t.Fatalf("UDP checksum invalid: % x", f)
	}
}

// A UDP socket with UDP_SEGMENT hands the TAP one super-frame (USO) when
// the kernel supports it; the segmenter cuts it back into the datagrams.
func TestUDPSuperFrame(t *testing.T) {
	d := open(t, "tgtap3", 1)
	if !d.Offloads.USO {
		t.Skip("this kernel's TAP refuses UDP segmentation offload (TUNSETOFFLOAD with TUN_F_USO4|6: Linux before 6.2, or a kernel built without it)")
	}
	if out, err := exec.Command("ip", "neigh", "add", "198.18.0.3", "lladdr", "02:00:00:00:00:03", "dev", "tgtap3").CombinedOutput(); err != nil {
		t.Fatalf("ip neigh add: %v: %s", err, out)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	const segSize = 1000
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_SEGMENT, segSize); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 4500)
	for i := range payload {
		payload[i] = byte(i)
	}
	if err := unix.Sendto(fd, payload, 0, &unix.SockaddrInet4{Port: 9, Addr: [4]byte{198, 18, 0, 3}}); err != nil {
		t.Fatal(err)
	}
	h, f := readFrame(t, d, 0x0800)
	if h.GSOType != vnet.GSOUDPL4 || h.GSOSize != segSize {
		t.Fatalf("header %+v, want a UDP super-frame of %d-byte segments", h, segSize)
	}
	var s vnet.Segmenter
	if err := s.Reset(h, f, 2048); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 2048)
	for n := s.Next(buf); n != 0; n = s.Next(buf) {
		if !udpChecksumValid(buf[14:n]) {
			t.Fatal("a segment's UDP checksum is invalid")
		}
		got = append(got, buf[14+28:n]...)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("segments do not reassemble to the payload sent")
	}
}

// udpChecksumValid checks an IPv4 packet's UDP checksum the slow way.
func udpChecksumValid(ip []byte) bool {
	ihl := int(ip[0]&0xf) * 4
	udp := ip[ihl:int(binary.BigEndian.Uint16(ip[2:4]))]
	pseudo := append(append([]byte{}, ip[12:20]...), 0, 17, byte(len(udp)>>8), byte(len(udp)))
	all := append(pseudo, udp...)
	if len(all)%2 == 1 {
		all = append(all, 0)
	}
	var acc uint32
	for i := 0; i < len(all); i += 2 {
		acc += uint32(binary.BigEndian.Uint16(all[i:]))
	}
	for acc > 0xffff {
		acc = acc&0xffff + acc>>16
	}
	return acc == 0xffff
}

// An administrator deletes the interface; Recreate brings it back behind
// the same queue descriptors, and frames flow through them again.
func TestRecreateAfterDelete(t *testing.T) {
	d := open(t, "tgtap4", 2)
	fds := []int{d.Queue(0).fd, d.Queue(1).fd}
	if out, err := exec.Command("ip", "link", "del", "tgtap4").CombinedOutput(); err != nil {
		t.Fatalf("ip link del: %v: %s", err, out)
	}
	if d.Exists() {
		t.Fatal("Exists() after the interface was deleted")
	}
	if err := d.Recreate(); err != nil {
		t.Fatal(err)
	}
	if !d.Exists() || d.Queue(0).fd != fds[0] || d.Queue(1).fd != fds[1] {
		t.Fatalf("after Recreate: exists %v, descriptors %d %d (were %v)", d.Exists(), d.Queue(0).fd, d.Queue(1).fd, fds)
	}
	if err := d.Configure(net.HardwareAddr{0x02, 0, 0, 0, 0, 1}, 1500); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "addr", "add", "198.18.0.1/24", "dev", "tgtap4").CombinedOutput(); err != nil {
		t.Fatalf("ip addr add: %v: %s", err, out)
	}
	s, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort("198.18.0.2:9")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Write([]byte("again"))
	if _, req := readFrame(t, d, 0x0806); len(req) < 42 {
		t.Fatalf("short ARP request % x", req)
	}
}

// An idle worker's sleep (Waiter) keeps short timeouts: the Go runtime
// rounds a locked thread's time.Sleep(200µs) up to a millisecond or more.
func TestWaiterKeepsShortTimeouts(t *testing.T) {
	d, err := Open("tgtap5", 2) // down: the kernel sends it nothing
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var w Waiter
	w.Add(d.Queue(0))
	w.Add(d.Queue(1))
	var zero Waiter // no queue: a plain sleep
	for _, w := range []*Waiter{&w, &zero} {
		const wait = 200 * time.Microsecond
		took := make([]time.Duration, 41)
		for i := range took {
			start := time.Now()
			if w.Wait(wait) {
				t.Fatal("woken by a queue that has nothing to read")
			}
			took[i] = time.Since(start)
		}
		slices.Sort(took)
		if med := took[len(took)/2]; med < wait || med > 3*wait {
			t.Errorf("%d queues: median wait %v for a timeout of %v", len(w.fds), med, wait)
		}
	}
}

// A frame the kernel sends ends the wait at once.
func TestWaiterWakesOnAFrame(t *testing.T) {
	d := open(t, "tgtap6", 2)
	var w Waiter
	w.Add(d.Queue(0))
	w.Add(d.Queue(1))
	// Whatever the kernel sent when the interface came up.
	buf := make([]byte, MaxFrame)
	for w.Wait(50 * time.Millisecond) {
		for i := range d.Queues() {
			for {
				n, err := d.Queue(i).Read(buf)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
		}
	}
	s, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort("198.18.0.2:9")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.Write([]byte("hello")) // an ARP request for 198.18.0.2 leaves on a queue
	}()
	// A signal (the Go runtime preempts with SIGURG) ends a wait early,
	// as Wait says: wait again until the frame or the deadline.
	woken := false
	for deadline := start.Add(5 * time.Second); !woken && time.Now().Before(deadline); {
		woken = w.Wait(time.Until(deadline))
	}
	if !woken {
		t.Fatal("the wait ended without a frame")
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("woken %v after the frame was sent", took)
	}
	w.Reset()
	if w.Wait(time.Millisecond) {
		t.Fatal("a waiter without queues was woken by one")
	}
}
