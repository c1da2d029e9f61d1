// Package lab builds a disposable network-namespace topology for testing,
// benchmarking and demonstrating teamgw.
//
// A lab created with New(ctx, Spec{Members: 2, Clients: 2}) looks like this:
//
//	<prefix>-gw                 <prefix>-sw                  <prefix>-cJ
//	+-----------+               +---------------+            +-------------+
//	| m0 (veth) |---------------| s0            |            |             |
//	| m1 (veth) |---------------| s1     br0    |------------| eth0 (veth) |
//	|           |               | c0 c1 ...     |            | 192.0.2.x   |
//	+-----------+               +---------------+            +-------------+
//
// The gateway namespace (<prefix>-gw) is where teamgw runs: every member
// m<i> is one end of a veth pair whose other end s<i> is a port of the Linux
// bridge br0 in the switch namespace (<prefix>-sw). Each client namespace
// <prefix>-c<j> holds an eth0 veth with the addresses 192.0.2.(10+j)/24 and
// 2001:db8::(10+j)/64, whose peer c<j> is also a port of br0. The lab does
// not assign the team address; teamgw does that on its TAP interface.
//
// All namespaces are created with "ip netns add", so they are visible to
// "ip netns list" and usable with "ip netns exec". Every name starts with a
// per-lab prefix, so labs in parallel test binaries do not collide, and
// Sweep can remove the leftovers of a crashed run.
//
// The package also offers in-process traffic helpers (StartEcho and
// StartStream) that measure loss and the loss window of a UDP stream, for
// example across a member failure simulated with CutMember.
//
// Everything here requires root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and the
// iproute2 "ip" and "bridge" tools.
package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Limits on the size of a lab.
const (
	MaxMembers = 8
	MaxClients = 16
)

// netnsDir is where "ip netns add" bind-mounts named namespaces.
const netnsDir = "/var/run/netns"

// maxPrefixLen bounds Spec.Prefix so that namespace names stay short.
const maxPrefixLen = 24

// terminateGrace is how long Close waits after SIGTERM before it sends
// SIGKILL to a process started with Start.
const terminateGrace = 3 * time.Second

// readyTimeout bounds how long New and RestoreMember wait for links to
// come up when the context has no earlier deadline.
const readyTimeout = 10 * time.Second

// Spec describes the topology to build.
type Spec struct {
	// Members is the number of member ports (veth pairs m<i> <-> s<i>),
	// from 1 to MaxMembers.
	Members int
	// Clients is the number of client namespaces, from 0 to MaxClients.
	Clients int
	// Prefix is the common prefix of all namespace names. When empty, a
	// short random prefix such as "tg4f2a9c" is chosen. It may contain
	// only letters, digits, '_' and '.', and must be at most 24 bytes.
	Prefix string
	// TeamIP is the IPv4 address teamgw is expected to put on its TAP
	// interface (prefix length 24). The lab does not assign it. The
	// default is 192.0.2.1.
	TeamIP netip.Addr
	// MTU is the MTU of every lab link (default 1500); jumbo-frame tests
	// set 9000.
	MTU int
	// TeamIP6 is the IPv6 address teamgw is expected to put on its TAP
	// interface (prefix length 64). The lab does not assign it. The
	// default is 2001:db8::1.
	TeamIP6 netip.Addr
}

// Lab is a running topology. Its exported fields must not be modified.
type Lab struct {
	// Prefix is the prefix shared by all namespace names of the lab.
	Prefix string
	// GW is the name of the gateway namespace, "<prefix>-gw".
	GW string
	// Switch is the name of the switch namespace, "<prefix>-sw".
	Switch string
	// Clients holds the names of the client namespaces, "<prefix>-c<j>".
	Clients []string
	// Spec is the specification the lab was built from, with defaults
	// filled in.
	Spec Spec

	mu      sync.Mutex
	closed  bool
	created []string // namespaces this lab created, in creation order
	procs   []*proc
	closers []func()
	// ovs is set once StartOVS moved the switch ports from br0 to Open
	// vSwitch (they no longer have a Linux bridge port state).
	ovs bool
	// extraClients counts the clients added with AddClient.
	extraClients int
	// echoes is what the echo servers received (StartEcho).
	echoes echoLog
}

// proc is a background process started with Start.
type proc struct {
	cmd   *exec.Cmd
	pidfd int // -1 if pidfd_open failed
}

// New creates the namespaces, links and addresses described by s and waits
// until every member and client link has carrier and every bridge port is
// forwarding. On error, everything created so far is removed again; a
// namespace that existed before New was called is never touched.
func New(ctx context.Context, s Spec) (*Lab, error) {
	if err := s.normalize(); err != nil {
		return nil, err
	}
	auto := s.Prefix == ""
	for attempt := 0; ; attempt++ {
		spec := s
		if auto {
			spec.Prefix = randomPrefix()
		}
		l, err := build(ctx, spec)
		if err == nil {
			return l, nil
		}
		// An automatically chosen prefix may collide with another lab;
		// try a different one a few times.
		if auto && errors.Is(err, errNamespaceExists) && attempt < 5 {
			continue
		}
		return nil, err
	}
}

// errNamespaceExists reports that a namespace name is already taken.
var errNamespaceExists = errors.New("network namespace already exists")

// normalize validates s and fills in defaults.
func (s *Spec) normalize() error {
	if s.Members < 1 || s.Members > MaxMembers {
		return fmt.Errorf("lab: Members = %d, want 1..%d", s.Members, MaxMembers)
	}
	if s.Clients < 0 || s.Clients > MaxClients {
		return fmt.Errorf("lab: Clients = %d, want 0..%d", s.Clients, MaxClients)
	}
	if s.Prefix != "" {
		if err := checkPrefix(s.Prefix); err != nil {
			return err
		}
	}
	if s.MTU == 0 {
		s.MTU = 1500
	}
	if s.MTU < 68 || s.MTU > 65535 {
		return fmt.Errorf("lab: MTU = %d, want 68..65535", s.MTU)
	}
	if !s.TeamIP.IsValid() {
		s.TeamIP = netip.AddrFrom4([4]byte{192, 0, 2, 1})
	}
	if !s.TeamIP6.IsValid() {
		s.TeamIP6 = netip.MustParseAddr("2001:db8::1")
	}
	return nil
}

// checkPrefix reports whether p is usable as a namespace name prefix.
func checkPrefix(p string) error {
	if p == "" || len(p) > maxPrefixLen {
		return fmt.Errorf("lab: prefix %q must be 1..%d bytes", p, maxPrefixLen)
	}
	for _, r := range p {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.':
		default:
			return fmt.Errorf("lab: prefix %q contains %q; use letters, digits, '_' and '.'", p, r)
		}
	}
	if p == "." || p == ".." {
		return fmt.Errorf("lab: invalid prefix %q", p)
	}
	return nil
}

// randomPrefix returns "tg" followed by six random hex digits.
func randomPrefix() string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on Linux; fall back to the pid anyway.
		pid := os.Getpid()
		b = [3]byte{byte(pid >> 16), byte(pid >> 8), byte(pid)}
	}
	return "tg" + hex.EncodeToString(b[:])
}

// build creates a lab with the fixed prefix s.Prefix.
func build(ctx context.Context, s Spec) (l *Lab, err error) {
	l = &Lab{
		Prefix: s.Prefix,
		GW:     s.Prefix + "-gw",
		Switch: s.Prefix + "-sw",
		Spec:   s,
	}
	for j := 0; j < s.Clients; j++ {
		l.Clients = append(l.Clients, fmt.Sprintf("%s-c%d", s.Prefix, j))
	}
	defer func() {
		if err != nil {
			if cerr := l.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("lab: cleanup after failed New: %w", cerr))
			}
			l = nil
		}
	}()

	// Namespaces. Refuse to reuse an existing name: "ip netns add" fails
	// with EEXIST, and only namespaces recorded in l.created are removed
	// on failure.
	for _, ns := range append([]string{l.GW, l.Switch}, l.Clients...) {
		if err := l.addNamespace(ctx, ns); err != nil {
			return l, err
		}
	}

	// Switch: no IPv6 at all (it has no addresses and should not emit
	// router solicitations or MLD reports), a bridge without STP and
	// without multicast snooping, so it floods like a dumb switch, and
	// without the host's firewall (br_netfilter would run iptables on
	// every bridged frame).
	if err := l.Do(l.Switch, func() error {
		return errors.Join(
			writeSysctl("net/ipv6/conf/all/disable_ipv6", "1"),
			writeSysctl("net/ipv6/conf/default/disable_ipv6", "1"),
		)
	}); err != nil {
		return l, fmt.Errorf("lab: disable IPv6 in %s: %w", l.Switch, err)
	}
	if err := ipBatch(ctx, l.Switch,
		"link set lo up",
		"link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0 nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0",
		"link set br0 up",
	); err != nil {
		return l, err
	}
	if err := ipBatch(ctx, l.GW, "link set lo up"); err != nil {
		return l, err
	}

	// Veth pairs, created directly inside their namespaces so that the
	// names never exist in the caller's namespace.
	var veths []string
	for i := 0; i < s.Members; i++ {
		veths = append(veths, fmt.Sprintf("link add m%d netns %s mtu %d type veth peer name s%d netns %s mtu %d", i, l.GW, s.MTU, i, l.Switch, s.MTU))
	}
	for j, ns := range l.Clients {
		veths = append(veths, fmt.Sprintf("link add eth0 netns %s mtu %d type veth peer name c%d netns %s mtu %d", ns, s.MTU, j, l.Switch, s.MTU))
	}
	if err := ipBatch(ctx, "", veths...); err != nil {
		return l, err
	}

	// Members: IPv6 off before the link goes up, so the kernel never
	// sends its own frames (router solicitations, MLD, DAD) on them.
	if err := l.Do(l.GW, func() error {
		var errs []error
		for i := 0; i < s.Members; i++ {
			errs = append(errs, writeSysctl(fmt.Sprintf("net/ipv6/conf/m%d/disable_ipv6", i), "1"))
		}
		return errors.Join(errs...)
	}); err != nil {
		return l, fmt.Errorf("lab: disable IPv6 on members: %w", err)
	}
	var gwCmds, swCmds []string
	for i := 0; i < s.Members; i++ {
		gwCmds = append(gwCmds, fmt.Sprintf("link set m%d up", i))
		swCmds = append(swCmds, fmt.Sprintf("link set s%d master br0 up", i))
	}
	for j := range l.Clients {
		swCmds = append(swCmds, fmt.Sprintf("link set c%d master br0 up", j))
	}
	if err := ipBatch(ctx, l.GW, gwCmds...); err != nil {
		return l, err
	}
	if err := ipBatch(ctx, l.Switch, swCmds...); err != nil {
		return l, err
	}
	if err := l.offloadWire(ctx); err != nil {
		return l, err
	}
	for j, ns := range l.Clients {
		if err := ipBatch(ctx, ns,
			"link set lo up",
			fmt.Sprintf("addr add %s/24 dev eth0", l.ClientIP(j)),
			fmt.Sprintf("addr add %s/64 dev eth0 nodad", l.ClientIP6(j)),
			"link set eth0 up",
		); err != nil {
			return l, err
		}
		// A veth hands TCP/UDP frames on with the checksum left for
		// "hardware" to fill in; a packet socket on the far side (DPDK's
		// af_packet members) sees them unfinished. Real NICs put
		// complete checksums on the wire, so the clients do too.
		if out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "off").CombinedOutput(); err != nil {
			return l, cmdError("ethtool -K eth0 tx off in "+ns, out, err)
		}
	}

	if err := l.waitReady(ctx); err != nil {
		return l, err
	}
	return l, nil
}

// addNamespace runs "ip netns add ns" and records ns as created.
func (l *Lab) addNamespace(ctx context.Context, ns string) error {
	if _, err := os.Stat(filepath.Join(netnsDir, ns)); err == nil {
		return fmt.Errorf("lab: %w: %s", errNamespaceExists, ns)
	}
	out, err := exec.CommandContext(ctx, "ip", "netns", "add", ns).CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("File exists")) {
			return fmt.Errorf("lab: %w: %s", errNamespaceExists, ns)
		}
		return cmdError("ip netns add "+ns, out, err)
	}
	l.mu.Lock()
	l.created = append(l.created, ns)
	l.mu.Unlock()
	return nil
}

// waitReady waits until every member and client veth has carrier and
// every bridge port forwards. Carrier is reported by the kernel's link
// watch, which may lag behind "ip link set up" by up to a second, and
// until then a veth silently drops what is sent on it.
func (l *Lab) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var ports []string
	for i := 0; i < l.Spec.Members; i++ {
		ports = append(ports, fmt.Sprintf("s%d", i))
	}
	for j := range l.Clients {
		ports = append(ports, fmt.Sprintf("c%d", j))
	}
	var members []string
	for i := 0; i < l.Spec.Members; i++ {
		members = append(members, fmt.Sprintf("m%d", i))
	}
	return poll(ctx, func() (bool, error) {
		ok, err := l.running(l.GW, members...)
		if err != nil || !ok {
			return false, err
		}
		for _, ns := range l.Clients {
			ok, err := l.running(ns, "eth0")
			if err != nil || !ok {
				return false, err
			}
		}
		return l.forwarding(ctx, ports...)
	})
}

// poll calls cond every 10 ms until it reports true, fails, or ctx ends.
func poll(ctx context.Context, cond func() (bool, error)) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab: waiting for links: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// running reports whether all named interfaces in ns are up with carrier
// (IFF_RUNNING).
func (l *Lab) running(ns string, ifnames ...string) (bool, error) {
	all := true
	err := l.Do(ns, func() error {
		for _, name := range ifnames {
			ifi, err := net.InterfaceByName(name)
			if err != nil {
				return fmt.Errorf("lab: %s in %s: %w", name, ns, err)
			}
			if ifi.Flags&net.FlagRunning == 0 {
				all = false
			}
		}
		return nil
	})
	return all && err == nil, err
}

// forwarding reports whether all named bridge ports in the switch
// namespace are in the forwarding state.
func (l *Lab) forwarding(ctx context.Context, ports ...string) (bool, error) {
	out, err := exec.CommandContext(ctx, "bridge", "-n", l.Switch, "-j", "link", "show").CombinedOutput()
	if err != nil {
		return false, cmdError("bridge -n "+l.Switch+" -j link show", out, err)
	}
	var links []struct {
		IfName string `json:"ifname"`
		State  string `json:"state"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return false, fmt.Errorf("lab: parse bridge link output: %w", err)
	}
	state := make(map[string]string, len(links))
	for _, ln := range links {
		state[ln.IfName] = ln.State
	}
	for _, p := range ports {
		if state[p] != "forwarding" {
			return false, nil
		}
	}
	return true, nil
}

// ipBatch runs the ip commands in cmds (without the leading "ip") in one
// "ip -batch" invocation, inside ns unless ns is empty.
func ipBatch(ctx context.Context, ns string, cmds ...string) error {
	if len(cmds) == 0 {
		return nil
	}
	var args []string
	if ns != "" {
		args = append(args, "-n", ns)
	}
	args = append(args, "-batch", "-")
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return cmdError("ip "+strings.Join(args, " ")+" <<< "+strconv.Quote(strings.Join(cmds, "; ")), out, err)
	}
	return nil
}

// writeSysctl writes value to /proc/sys/<key>. Called inside Do, it
// affects the namespace of the calling thread, because /proc/sys/net is
// resolved per task.
func writeSysctl(key, value string) error {
	return os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0o644)
}

// cmdError formats a failed command together with its output.
func cmdError(what string, out []byte, err error) error {
	msg := strings.TrimSpace(string(out))
	if msg == "" {
		return fmt.Errorf("lab: %s: %w", what, err)
	}
	return fmt.Errorf("lab: %s: %w: %s", what, err, msg)
}

// ClientIP returns the IPv4 address of client j, 192.0.2.(10+j), or the
// zero Addr if j is not a client of the lab.
func (l *Lab) ClientIP(j int) netip.Addr {
	if j < 0 || j >= l.Spec.Clients {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + j)})
}

// ClientIP6 returns the IPv6 address of client j, 2001:db8::(10+j) with
// the host part in hexadecimal (2001:db8::a for client 0), or the zero
// Addr if j is not a client of the lab.
func (l *Lab) ClientIP6(j int) netip.Addr {
	if j < 0 || j >= l.Spec.Clients {
		return netip.Addr{}
	}
	a := netip.MustParseAddr("2001:db8::").As16()
	a[15] = byte(10 + j)
	return netip.AddrFrom16(a)
}

// MemberMAC returns the hardware address of member interface m<i> in the
// gateway namespace. The kernel chose it when the lab was created.
func (l *Lab) MemberMAC(i int) (net.HardwareAddr, error) {
	if err := l.checkMember(i); err != nil {
		return nil, err
	}
	var mac net.HardwareAddr
	err := l.Do(l.GW, func() error {
		ifi, err := net.InterfaceByName(fmt.Sprintf("m%d", i))
		if err != nil {
			return err
		}
		mac = ifi.HardwareAddr
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lab: member %d MAC: %w", i, err)
	}
	return mac, nil
}

// MemberCarrier reports whether member interface m<i> in the gateway
// namespace is up and has carrier (IFF_RUNNING).
func (l *Lab) MemberCarrier(i int) (bool, error) {
	if err := l.checkMember(i); err != nil {
		return false, err
	}
	return l.running(l.GW, fmt.Sprintf("m%d", i))
}

// checkMember validates a member index.
func (l *Lab) checkMember(i int) error {
	if i < 0 || i >= l.Spec.Members {
		return fmt.Errorf("lab: no member %d (lab has %d)", i, l.Spec.Members)
	}
	return nil
}

// CutMember simulates pulling the cable of member i on the switch side by
// setting s<i> down in the switch namespace. The bridge flushes the MAC
// addresses it learnt on that port, and m<i> loses carrier.
func (l *Lab) CutMember(i int) error {
	if err := l.checkMember(i); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	return ipBatch(ctx, l.Switch, fmt.Sprintf("link set s%d down", i))
}

// RestoreMember undoes CutMember by setting s<i> up again. If m<i> is
// administratively up, it then waits (up to 10 s) until m<i> has carrier
// and s<i> forwards, so that traffic can flow when it returns.
func (l *Lab) RestoreMember(i int) error {
	if err := l.checkMember(i); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := ipBatch(ctx, l.Switch, fmt.Sprintf("link set s%d up", i)); err != nil {
		return err
	}
	name := fmt.Sprintf("m%d", i)
	adminUp := false
	if err := l.Do(l.GW, func() error {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return err
		}
		adminUp = ifi.Flags&net.FlagUp != 0
		return nil
	}); err != nil {
		return fmt.Errorf("lab: restore member %d: %w", i, err)
	}
	if !adminUp {
		return nil
	}
	l.mu.Lock()
	ovs := l.ovs
	l.mu.Unlock()
	return poll(ctx, func() (bool, error) {
		ok, err := l.running(l.GW, name)
		if err != nil || !ok || ovs {
			return ok, err
		}
		return l.forwarding(ctx, fmt.Sprintf("s%d", i))
	})
}

// Exec runs "ip netns exec ns name args..." and returns its combined
// standard output and standard error. A non-nil error includes the output.
func (l *Lab) Exec(ctx context.Context, ns string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, cmdError(fmt.Sprintf("[%s] %s", ns, strings.Join(append([]string{name}, args...), " ")), out, err)
	}
	return out, nil
}

// Start starts "ip netns exec ns name args..." in the background with the
// given standard output and standard error (nil discards). Because
// "ip netns exec" replaces itself with the command, the returned Cmd's
// process is the command itself. The process gets its own process group
// and is killed if the calling program dies (PR_SET_PDEATHSIG). The
// kernel ties that to the thread that forked, so do not call Start from a
// goroutine that locks its thread and then exits.
//
// Close sends SIGTERM to the process group, and SIGKILL 3 s later if the
// process has not exited. The caller may, and should, call Wait on the
// returned Cmd to reap the process; Close does not reap it.
func (l *Lab) Start(ns string, stdout, stderr io.Writer, name string, args ...string) (*exec.Cmd, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errors.New("lab: Start on closed lab")
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lab: start [%s] %s: %w", ns, name, err)
	}
	// A pidfd refers to this very process even after it has been reaped,
	// so Close can tell whether it exited without calling Wait itself.
	fd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		fd = -1
	}
	l.procs = append(l.procs, &proc{cmd: cmd, pidfd: fd})
	return cmd, nil
}

// exited reports whether p has exited, waiting at most d.
func (p *proc) exited(d time.Duration) bool {
	if p.pidfd < 0 {
		deadline := time.Now().Add(d)
		for {
			// Signal 0 fails once the process has been reaped.
			if p.cmd.Process.Signal(syscall.Signal(0)) != nil {
				return true
			}
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	fds := []unix.PollFd{{Fd: int32(p.pidfd), Events: unix.POLLIN}}
	deadline := time.Now().Add(d)
	for {
		ms := int(time.Until(deadline) / time.Millisecond)
		if ms < 0 {
			ms = 0
		}
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0
	}
}

// signal sends sig to the process group of p, or to p alone if p has
// already exited (its pid, and so its group id, may have been reused).
func (p *proc) signal(sig unix.Signal) {
	if p.exited(0) {
		return
	}
	if p.pidfd >= 0 {
		_ = unix.PidfdSendSignal(p.pidfd, sig, nil, 0)
	}
	_ = unix.Kill(-p.cmd.Process.Pid, sig)
}

// terminate stops p: SIGTERM, then SIGKILL after terminateGrace.
func (p *proc) terminate() {
	p.signal(unix.SIGTERM)
	if !p.exited(terminateGrace) {
		p.signal(unix.SIGKILL)
		p.exited(terminateGrace)
	}
	if p.pidfd >= 0 {
		unix.Close(p.pidfd)
		p.pidfd = -1
	}
}

// addCloser registers fn, which must be idempotent, to run when the lab
// is closed. It reports false, without registering, if the lab is already
// closed.
func (l *Lab) addCloser(fn func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.closers = append(l.closers, fn)
	return true
}

// Close stops the traffic helpers, terminates the processes started with
// Start, kills any other process still inside the lab's namespaces and
// deletes every namespace the lab created, which also removes the veths
// and the bridge. Close is idempotent; later calls return nil.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	closers, procs, created := l.closers, l.procs, l.created
	l.closers, l.procs = nil, nil
	l.mu.Unlock()

	for i := len(closers) - 1; i >= 0; i-- {
		if closers[i] != nil {
			closers[i]()
		}
	}
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.terminate()
		}()
	}
	wg.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for i := len(created) - 1; i >= 0; i-- {
		if err := deleteNamespace(ctx, created[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deleteNamespace kills every process left in ns (other than this one)
// and deletes it. A namespace that no longer exists is not an error.
func deleteNamespace(ctx context.Context, ns string) error {
	if _, err := os.Stat(filepath.Join(netnsDir, ns)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	killNamespacePids(ctx, ns)
	out, err := exec.CommandContext(ctx, "ip", "netns", "delete", ns).CombinedOutput()
	if err != nil {
		if _, serr := os.Stat(filepath.Join(netnsDir, ns)); errors.Is(serr, os.ErrNotExist) {
			return nil
		}
		return cmdError("ip netns delete "+ns, out, err)
	}
	return nil
}

// killNamespacePids sends SIGKILL to every process whose network
// namespace is ns, except the calling process: a thread of this process
// that is inside Do may make it appear in the list.
func killNamespacePids(ctx context.Context, ns string) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output()
	if err != nil {
		return
	}
	self := os.Getpid()
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 1 || pid == self {
			continue
		}
		_ = unix.Kill(pid, unix.SIGKILL)
	}
}

// Sweep deletes the namespaces whose names start with prefix+"-", such as
// the leftovers of a crashed run, after killing the processes inside them.
// prefix must not be empty.
func Sweep(prefix string) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	names, err := listNamespaces(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range names {
		if strings.HasPrefix(ns, prefix+"-") {
			if err := deleteNamespace(ctx, ns); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// listNamespaces parses "ip netns list", whose lines look like
// "name" or "name (id: 3)".
func listNamespaces(ctx context.Context) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "list").CombinedOutput()
	if err != nil {
		return nil, cmdError("ip netns list", out, err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}

// BreakPath cuts the path behind member i without touching its link: s<i>
// moves from br0 to a bridge of its own, so m<i> keeps its carrier but
// reaches nobody (a failure only probes can see).
func (l *Lab) BreakPath(i int) error {
	if err := l.checkMember(i); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	return ipBatch(ctx, l.Switch,
		fmt.Sprintf("link add brx%d type bridge stp_state 0 forward_delay 0", i),
		fmt.Sprintf("link set brx%d up", i),
		fmt.Sprintf("link set s%d master brx%d", i, i))
}

// RepairPath undoes BreakPath.
func (l *Lab) RepairPath(i int) error {
	if err := l.checkMember(i); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	return ipBatch(ctx, l.Switch,
		fmt.Sprintf("link set s%d master br0", i),
		fmt.Sprintf("link del brx%d", i))
}

// offloadWire makes the switch's member ports take in frames on the CPUs
// that teamgw's default worker (the last CPU) does not use, through RPS.
// Without it, every frame a member sends is bridged and received by the
// client's TCP inside the sender's own system call: the lab would charge
// the far end of the wire, which stands for other machines, to the
// sender's CPU. The no-team anchors of the benchmarks go through the same
// ports and get the same treatment.
func (l *Lab) offloadWire(ctx context.Context) error {
	n := runtime.NumCPU()
	if n < 2 {
		return nil
	}
	mask := fmt.Sprintf("%x", uint64(1)<<(n-1)-1)
	var script strings.Builder
	for i := 0; i < l.Spec.Members; i++ {
		fmt.Fprintf(&script, "echo %s > /sys/class/net/s%d/queues/rx-0/rps_cpus || exit 1\n", mask, i)
	}
	if out, err := exec.CommandContext(ctx, "ip", "netns", "exec", l.Switch, "sh", "-c", script.String()).CombinedOutput(); err != nil {
		return cmdError("rps_cpus on the switch ports", out, err)
	}
	return nil
}
