package control

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/configs"
	"github.com/teamgw/teamgw/dataplane/dpdk/dpdktest"
	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/lacp"
)

func TestMain(m *testing.M) { dpdktest.Main(m) }

var teamSeq atomic.Uint32

// tapTeam is a daemon whose members are net_tap ports: their kernel side
// can be taken down with `ip link`, which the ethdev link poll sees.
type tapTeam struct {
	d       *Daemon
	name    string
	members []string // kernel names of the member TAPs
	socket  string
	config  string // the config file, for reload tests
	log     *syncBuffer
	cancel  context.CancelFunc
	done    chan error
}

func startTapTeam(t *testing.T, extra string) *tapTeam {
	t.Helper()
	return startTapTeamWith(t, extra, nil)
}

// startTapTeamWith is startTapTeam with before, when not nil, called on
// the daemon before its Run loop starts.
func startTapTeamWith(t *testing.T, extra string, before func(*Daemon)) *tapTeam {
	t.Helper()
	n := teamSeq.Add(1)
	tt := &tapTeam{name: fmt.Sprintf("tgc%d", n), socket: filepath.Join(t.TempDir(), "tg.sock"), log: &syncBuffer{}}
	var members []string
	for i := range 2 {
		ifname := fmt.Sprintf("tgc%dm%d", n, i)
		tt.members = append(tt.members, ifname)
		members = append(members, fmt.Sprintf("%q", fmt.Sprintf("net_tapc%dm%d,iface=%s", n, i, ifname)))
	}
	text := fmt.Sprintf(`
[eal]
idle_sleep = "50us"
mbufs = 12287
[control]
socket = %q
link_poll = "5ms"
[[team]]
name = %q
address = "192.0.2.1/24"
garp_interval = "10ms"
members = [%s]
%s
`, tt.socket, tt.name, strings.Join(members, ", "), extra)
	tt.run(t, text, before)
	return tt
}

// run writes the config text, starts a daemon from it and runs its loop
// until the test ends; before, when not nil, is called first.
func (tt *tapTeam) run(t *testing.T, text string, before func(*Daemon)) {
	t.Helper()
	if tt.log == nil {
		tt.log = &syncBuffer{}
	}
	tt.config = filepath.Join(t.TempDir(), "teamgw.toml")
	if err := os.WriteFile(tt.config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(tt.config)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Start(cfg, slog.New(slog.NewTextHandler(tt.log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	d.SetConfigPath(tt.config)
	tt.d = d
	if before != nil {
		before(d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tt.cancel = cancel
	tt.done = make(chan error, 1)
	go func() { tt.done <- d.Run(ctx) }()
	t.Cleanup(func() {
		tt.stop()
		if t.Failed() {
			t.Logf("daemon log:\n%s", tt.log.String())
		}
	})
}

func (tt *tapTeam) stop() {
	if tt.cancel == nil {
		return
	}
	tt.cancel()
	<-tt.done
	tt.d.Stop()
	tt.cancel = nil
}

func (tt *tapTeam) status(t *testing.T) TeamStatus {
	t.Helper()
	s, err := tt.d.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s.Teams[0]
}

func (tt *tapTeam) waitActive(t *testing.T, want string) TeamStatus {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := tt.status(t)
		if st.Active == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("active member %q, want %q", st.Active, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ipLink(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"link", "set"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ip link set %v: %v %s", args, err, out)
	}
}

func TestDaemonBringsUpTeam(t *testing.T) {
	tt := startTapTeam(t, "")
	st := tt.waitActive(t, fmt.Sprintf("net_tapc%sm0", strings.TrimPrefix(tt.name, "tgc")))
	if st.Mode != "slb" || len(st.Members) != 2 {
		t.Errorf("status %+v", st)
	}
	ifi, err := net.InterfaceByName(tt.name)
	if err != nil {
		t.Fatalf("team TAP %s missing: %v", tt.name, err)
	}
	if ifi.HardwareAddr.String() != st.MAC {
		t.Errorf("TAP MAC %s, team MAC %s", ifi.HardwareAddr, st.MAC)
	}
	addrs, _ := ifi.Addrs()
	if len(addrs) == 0 || !strings.Contains(fmt.Sprint(addrs), "192.0.2.1/24") {
		t.Errorf("TAP addresses %v, want 192.0.2.1/24", addrs)
	}
	tt.stop()
	if _, err := net.InterfaceByName(tt.name); err == nil {
		t.Errorf("TAP %s still exists after Stop", tt.name)
	}
	for _, m := range tt.members {
		if _, err := net.InterfaceByName(m); err == nil {
			t.Errorf("member %s still exists after Stop", m)
		}
	}
}

func TestDaemonFailsOverAndFallsBack(t *testing.T) {
	tt := startTapTeam(t, `fallback_delay = "100ms"`)
	id := strings.TrimPrefix(tt.name, "tgc")
	m0, m1 := "net_tapc"+id+"m0", "net_tapc"+id+"m1"
	tt.waitActive(t, m0)
	ipLink(t, tt.members[0], "down")
	st := tt.waitActive(t, m1)
	if st.Failovers != 1 || st.Members[0].State != "down" || st.Members[0].Downs != 1 {
		t.Errorf("after failover: %+v", st)
	}
	ipLink(t, tt.members[0], "up")
	tt.waitActive(t, m0)
	for _, ev := range []string{"event=9 ", "event=16 ", "event=17 "} {
		if !strings.Contains(tt.log.String(), ev) {
			t.Errorf("no %q in the event log", ev)
		}
	}
}

func TestDaemonAutoFallbackDisabledStaysOnSurvivor(t *testing.T) {
	tt := startTapTeam(t, `fallback_delay = "0"`+"\nauto_fallback = false")
	id := strings.TrimPrefix(tt.name, "tgc")
	tt.waitActive(t, "net_tapc"+id+"m0")
	ipLink(t, tt.members[0], "down")
	tt.waitActive(t, "net_tapc"+id+"m1")
	ipLink(t, tt.members[0], "up")
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		st := tt.status(t)
		if st.Active != "net_tapc"+id+"m1" {
			t.Fatalf("fell back to %s with auto_fallback = false", st.Active)
		}
		if st.Members[0].State == "standby" {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFailoverAnnouncesTeamOnNewMember reads what the new active member
// puts on its wire after a failover: gratuitous ARPs for the team address
// from the team MAC.
func TestFailoverAnnouncesTeamOnNewMember(t *testing.T) {
	tt := startTapTeam(t, `garp_count = 3`)
	id := strings.TrimPrefix(tt.name, "tgc")
	st := tt.waitActive(t, "net_tapc"+id+"m0")
	teamMAC, _ := net.ParseMAC(st.MAC)
	fd := packetSocket(t, tt.members[1])
	ipLink(t, tt.members[0], "down")
	tt.waitActive(t, "net_tapc"+id+"m1")
	garps := 0
	buf := make([]byte, 2048)
	deadline := time.Now().Add(3 * time.Second)
	for garps < 3 && time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue
		}
		e := frame.Ethernet(buf[:n])
		if !e.Valid() || e.Type() != frame.TypeARP {
			continue
		}
		a := frame.ARP(buf[frame.EthHeaderLen:n])
		if a.Valid() && e.Dst() == frame.Broadcast && e.Src().String() == teamMAC.String() &&
			a.SenderIP() == netip.MustParseAddr("192.0.2.1") && a.TargetIP() == a.SenderIP() {
			garps++
		}
	}
	if garps < 3 {
		t.Errorf("saw %d gratuitous ARPs from the team MAC on the new member, want 3", garps)
	}
}

// packetSocket opens a raw socket on the kernel side of a member TAP: what
// the worker transmits on the member arrives there.
func packetSocket(t *testing.T, ifname string) int {
	t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	proto := htons(unix.ETH_P_ALL)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(proto))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return fd
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

func TestAPI(t *testing.T) {
	tt := startTapTeam(t, "")
	api, err := ListenAPI(tt.d, tt.socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go api.Serve(ctx)

	fi, err := os.Stat(tt.socket)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if _, err := ListenAPI(tt.d, tt.socket); err == nil || !strings.Contains(err.Error(), "another teamgw") {
		t.Errorf("second ListenAPI on a live socket = %v, want 'another teamgw is running'", err)
	}
	resp, err := Call(tt.socket, Request{Cmd: "show", Team: tt.name})
	if err != nil || len(resp.Status.Teams) != 1 || resp.Status.Teams[0].Name != tt.name {
		t.Fatalf("show %s = %+v, %v", tt.name, resp, err)
	}
	if _, err := Call(tt.socket, Request{Cmd: "show", Team: "nosuch"}); err == nil || !strings.Contains(err.Error(), `no team "nosuch"`) {
		t.Errorf("show nosuch = %v", err)
	}
	ev, err := Call(tt.socket, Request{Cmd: "events"})
	if err != nil || len(ev.Events) == 0 || ev.Events[0].ID != EventMemberBound {
		t.Fatalf("events = %+v, %v; want the start-up events, member bound first", ev, err)
	}
	last := ev.Events[len(ev.Events)-1].Seq
	if more, err := Call(tt.socket, Request{Cmd: "events", Since: last}); err != nil || len(more.Events) != 0 {
		t.Errorf("events since the last one = %+v, %v; want none", more, err)
	}
	if _, err := Call(tt.socket, Request{Cmd: "frobnicate"}); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command = %v", err)
	}
	if got := rawCall(t, tt.socket, []byte("{not json\n")); !strings.Contains(got, "malformed request") {
		t.Errorf("malformed request answered %q", got)
	}
	if got := rawCall(t, tt.socket, bytes.Repeat([]byte("x"), 1<<20)); strings.Contains(got, "status") {
		t.Errorf("oversized request answered with a status: %q", got)
	}
}

func rawCall(t *testing.T, path string, b []byte) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	go c.Write(b)
	var out bytes.Buffer
	tmp := make([]byte, 4096)
	for {
		n, err := c.Read(tmp)
		out.Write(tmp[:n])
		if err != nil {
			return out.String()
		}
	}
}

// TestOperatorActions disables and enables members, moves the primary and
// reads the flow table, as teamctl does.
func TestOperatorActions(t *testing.T) {
	tt := startTapTeam(t, `fallback_delay = "50ms"`)
	id := strings.TrimPrefix(tt.name, "tgc")
	m0, m1 := "net_tapc"+id+"m0", "net_tapc"+id+"m1"
	ctx := context.Background()
	tt.waitActive(t, m0)
	if err := tt.d.SetMemberEnabled(ctx, tt.name, m0, false); err != nil {
		t.Fatal(err)
	}
	st := tt.waitActive(t, m1)
	if st.Members[0].State != "disabled" || st.Members[0].Buckets != 0 || st.Members[1].Buckets != 256 {
		t.Errorf("after disabling m0: %+v", st.Members)
	}
	if err := tt.d.SetMemberEnabled(ctx, tt.name, m0, true); err != nil {
		t.Fatal(err)
	}
	tt.waitActive(t, m0) // back after the hold-down
	if err := tt.d.SetPrimary(ctx, tt.name, m1); err != nil {
		t.Fatal(err)
	}
	tt.waitActive(t, m1)
	ft, err := tt.d.Flows(ctx, tt.name)
	if err != nil || len(ft.Buckets) != 256 {
		t.Fatalf("Flows = %+v, %v", ft, err)
	}
	if err := tt.d.SetMemberEnabled(ctx, tt.name, "nosuch", false); err == nil || !strings.Contains(err.Error(), `no member "nosuch"`) {
		t.Errorf("disabling an unknown member: %v", err)
	}
	for _, ev := range []string{"event=15 ", "event=14 ", "event=104 "} {
		if !strings.Contains(tt.log.String(), ev) {
			t.Errorf("no %q in the event log", ev)
		}
	}
}

// TestMetrics scrapes the Prometheus endpoint of a running team and
// checks the families an operator relies on, with their labels.
func TestMetrics(t *testing.T) {
	tt := startTapTeam(t, "")
	mx, err := ListenMetrics(tt.d, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mx.Close()
	resp, err := http.Get("http://" + mx.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	id := strings.TrimPrefix(tt.name, "tgc")
	for _, want := range []string{
		`teamgw_build_info{`,
		fmt.Sprintf(`teamgw_member_up{member="net_tapc%sm0",team="%s"} 1`, id, tt.name),
		fmt.Sprintf(`teamgw_member_path{member="net_tapc%sm0",team="%s"} 1`, id, tt.name),
		fmt.Sprintf(`teamgw_member_flow_buckets{member="net_tapc%sm1",team="%s"} 128`, id, tt.name),
		fmt.Sprintf(`teamgw_drops_total{reason="unknown_vlan",team="%s"} 0`, tt.name),
		fmt.Sprintf(`teamgw_failovers_total{team="%s"} 0`, tt.name),
		`teamgw_worker_polls_total{worker="0"}`,
		`teamgw_worker_vector_packets_bucket{worker="0",le="256"}`,
		`teamgw_worker_vector_packets_count{worker="0"}`,
		fmt.Sprintf(`teamgw_kernel_superframes_total{direction="segmented",team="%s"}`, tt.name),
		fmt.Sprintf(`teamgw_member_nic_drops_total{member="net_tapc%sm0",reason="rx_missed",team="%s"} 0`, id, tt.name),
		`teamgw_member_transmit_packets_total{`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}

func TestMemberDevargs(t *testing.T) {
	tests := []struct {
		device  string
		workers uint16
		mtu     int
		want    string
		wantErr bool
	}{
		{"net_af_packet0,iface=m0", 1, 1500, "net_af_packet0,iface=m0,qpairs=1,framecnt=2048", false},
		{"net_af_packet0,iface=m0", 2, 1500, "net_af_packet0,iface=m0,qpairs=2,framecnt=2048", false},
		{"net_af_packet0,iface=m0,qpairs=2", 2, 1500, "net_af_packet0,iface=m0,qpairs=2,framecnt=2048", false},
		{"net_af_packet0,iface=m0,framecnt=256", 1, 1500, "net_af_packet0,iface=m0,framecnt=256,qpairs=1", false},
		{"net_af_packet0,iface=m0,qpairs=3", 2, 1500, "", true},
		{"net_af_packet0,iface=m0", 1, 9000, "net_af_packet0,iface=m0,qpairs=1,framesz=9216,blocksz=36864", false},
		{"net_af_packet0,iface=m0,framesz=16384,blocksz=16384", 1, 9000, "net_af_packet0,iface=m0,framesz=16384,blocksz=16384,qpairs=1", false},
		{"0000:03:00.0", 2, 9000, "0000:03:00.0", false},
		{"net_null0", 1, 1500, "net_null0", false},
	}
	for _, tt := range tests {
		got, err := memberDevargs(configs.Member{Device: tt.device}, tt.workers, tt.mtu)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("memberDevargs(%q, %d, %d) = %q, %v; want %q, error %v", tt.device, tt.workers, tt.mtu, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestTeamMACOfKernelBackedPrimaryIsLocallyAdministered(t *testing.T) {
	m := &member{cfg: configs.Member{Device: "net_af_packet0,iface=m0"}, mac: frame.MAC{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}}
	mac, err := teamMAC(configs.Team{}, m)
	if err != nil {
		t.Fatal(err)
	}
	if mac == m.mac || mac[0]&2 == 0 || mac[0]&1 != 0 {
		t.Errorf("team MAC %s for af_packet primary %s: want a different, locally administered unicast MAC", mac, m.mac)
	}
	pci := &member{cfg: configs.Member{Device: "0000:03:00.0"}, mac: m.mac}
	if mac, _ := teamMAC(configs.Team{}, pci); mac != pci.mac {
		t.Errorf("team MAC %s, want the PCI primary's own MAC %s", mac, pci.mac)
	}
	if mac, _ := teamMAC(configs.Team{MAC: "02:aa:bb:cc:dd:ee"}, pci); mac.String() != "02:aa:bb:cc:dd:ee" {
		t.Errorf("configured team MAC ignored: %s", mac)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLACPBadAndLoopedPDUs feeds an LACP team's member broken LACPDUs and
// one that carries the team's own system ID (a loop): they are counted and
// ignored.
func TestLACPBadAndLoopedPDUs(t *testing.T) {
	tt := startTapTeam(t, "mode = \"lacp\"\nlacp_rate = \"fast\"")
	st := tt.status(t)
	teamMAC, _ := net.ParseMAC(st.MAC)
	fd := packetSocket(t, tt.members[0])
	ifi, _ := net.InterfaceByName(tt.members[0])
	to := &unix.SockaddrLinklayer{Ifindex: ifi.Index}
	var self lacp.LACPDU
	self.Actor.System = lacp.SystemID{Priority: 32768, MAC: [6]byte(teamMAC)}
	self.Actor.Port = 9
	src := [6]byte{0x02, 0, 0, 0, 0x77, 0x77}
	looped := lacp.AppendLACPDU(nil, src, &self)
	truncated := looped[:40]
	badTLV := append([]byte(nil), looped...)
	badTLV[14+3] = 19 // actor TLV length
	for _, f := range [][]byte{looped, truncated, badTLV} {
		if err := unix.Sendto(fd, f, 0, to); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st = tt.status(t)
		if st.LACP != nil && st.LACP.Looped == 1 && st.LACP.Bad == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("LACP counters %+v, want 1 looped and 2 bad", st.LACP)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.Members[0].LACP.PDUsRx != 0 {
		t.Errorf("member 0 took %d LACPDUs in, want 0", st.Members[0].LACP.PDUsRx)
	}
}

// TestLACPAnswersMarkers sends a Marker Information PDU to an LACP team's
// member and expects the Marker Response on the same member, carrying the
// requester's port, system and transaction (802.1AX 5.5).
func TestLACPAnswersMarkers(t *testing.T) {
	tt := startTapTeam(t, "mode = \"lacp\"")
	fd := packetSocket(t, tt.members[1])
	ifi, _ := net.InterfaceByName(tt.members[1])
	req := lacp.MarkerPDU{RequesterPort: 7, RequesterSystem: [6]byte{0x02, 1, 2, 3, 4, 5}, TransactionID: 0xfeedbeef}
	src := [6]byte{0x02, 0, 0, 0, 0x66, 0x66}
	if err := unix.Sendto(fd, lacp.AppendMarker(nil, src, &req), 0, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue
		}
		sub, body, err := lacp.Parse(buf[:n])
		if err != nil || sub != lacp.SubtypeMarker {
			continue
		}
		var got lacp.MarkerPDU
		if err := lacp.ParseMarker(body, &got); err != nil || !got.Response {
			continue
		}
		want := req
		want.Response = true
		if got != want {
			t.Errorf("marker response %+v, want %+v", got, want)
		}
		return
	}
	t.Fatal("no marker response within 5 s")
}

// TestReload changes timers and a role in the config file and reloads:
// they take effect; a structural change is refused, naming the field, and
// leaves the team as it was.
func TestReload(t *testing.T) {
	tt := startTapTeam(t, `fallback_delay = "1s"`)
	id := strings.TrimPrefix(tt.name, "tgc")
	m1 := "net_tapc" + id + "m1"
	tt.waitActive(t, "net_tapc"+id+"m0")
	text, _ := os.ReadFile(tt.config)
	changed := strings.Replace(string(text), `fallback_delay = "1s"`, `fallback_delay = "0"`+"\ngarp_count = 1", 1)
	changed = strings.Replace(changed, fmt.Sprintf("%q", "net_tapc"+id+"m1,iface=tgc"+id+"m1"),
		fmt.Sprintf("{ device = %q, role = \"primary\" }", "net_tapc"+id+"m1,iface=tgc"+id+"m1"), 1)
	os.WriteFile(tt.config, []byte(changed), 0o644)
	if _, err := tt.d.Reload(context.Background()); err != nil {
		t.Fatalf("reload: %v\n%s", err, changed)
	}
	tt.waitActive(t, m1) // the new primary, with no hold-down
	if !strings.Contains(tt.log.String(), "event=107 ") {
		t.Error("no reload event")
	}
	bad := strings.Replace(changed, "mbufs = 12287", "mbufs = 16383", 1)
	bad = strings.Replace(bad, `address = "192.0.2.1/24"`, `address = "192.0.2.2/24"`, 1)
	os.WriteFile(tt.config, []byte(bad), 0o644)
	_, err := tt.d.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "eal") || !strings.Contains(err.Error(), "team[0].addresses") {
		t.Fatalf("structural reload = %v, want a refusal naming eal and team[0].addresses", err)
	}
	if st := tt.status(t); st.Active != m1 || !strings.Contains(strings.Join(st.Addresses, " "), "192.0.2.1") {
		t.Errorf("after a refused reload: active %s, addresses %v", st.Active, st.Addresses)
	}
}
