package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newLab creates a lab for a test and closes it when the test ends.
func newLab(t *testing.T, s Spec) *Lab {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	l, err := New(ctx, s)
	if err != nil {
		t.Fatalf("New(%+v): %v", s, err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// namespacesWithPrefix lists the namespaces whose name starts with p.
func namespacesWithPrefix(t *testing.T, p string) []string {
	t.Helper()
	names, err := listNamespaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, p) {
			out = append(out, n)
		}
	}
	return out
}

// testPrefix returns a prefix unique to this test run.
func testPrefix(tag string) string {
	return tag + randomPrefix()[2:]
}

// addNS creates a namespace outside of any lab and deletes it when the
// test ends.
func addNS(t *testing.T, name string) {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { _ = deleteNamespace(context.Background(), name) })
}

func TestNewPingClose(t *testing.T) {
	ctx := context.Background()
	l, err := New(ctx, Spec{Members: 2, Clients: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })

	want := []string{l.Prefix + "-gw", l.Prefix + "-sw", l.Prefix + "-c0", l.Prefix + "-c1"}
	if l.GW != want[0] || l.Switch != want[1] || len(l.Clients) != 2 || l.Clients[0] != want[2] || l.Clients[1] != want[3] {
		t.Fatalf("names: GW=%q Switch=%q Clients=%q, want %q", l.GW, l.Switch, l.Clients, want)
	}
	got := namespacesWithPrefix(t, l.Prefix+"-")
	if len(got) != len(want) {
		t.Fatalf("namespaces %q, want %q", got, want)
	}
	if l.Spec.TeamIP != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("TeamIP = %v", l.Spec.TeamIP)
	}
	if ip := l.ClientIP(1); ip != netip.MustParseAddr("192.0.2.11") {
		t.Errorf("ClientIP(1) = %v", ip)
	}
	if ip := l.ClientIP6(1); ip != netip.MustParseAddr("2001:db8::b") {
		t.Errorf("ClientIP6(1) = %v", ip)
	}
	if l.ClientIP(2).IsValid() {
		t.Errorf("ClientIP(2) is valid for a lab with 2 clients")
	}

	for i := 0; i < 2; i++ {
		mac, err := l.MemberMAC(i)
		if err != nil || len(mac) != 6 {
			t.Errorf("MemberMAC(%d) = %v, %v", i, mac, err)
		}
	}
	out, err := l.Exec(ctx, l.GW, "sysctl", "-n", "net.ipv6.conf.m0.disable_ipv6")
	if err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Errorf("m0 disable_ipv6 = %q, %v", out, err)
	}

	ping := func(args ...string) {
		t.Helper()
		var err error
		for try := 0; try < 3; try++ {
			if _, err = l.Exec(ctx, l.Clients[0], "ping", append([]string{"-c1", "-W1"}, args...)...); err == nil {
				return
			}
		}
		t.Errorf("ping %v from c0: %v", args, err)
	}
	ping(l.ClientIP(1).String())
	ping("-6", l.ClientIP6(1).String())

	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := namespacesWithPrefix(t, l.Prefix+"-"); len(got) != 0 {
		t.Errorf("after Close, namespaces %q remain", got)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNewInvalidSpec(t *testing.T) {
	p := testPrefix("tv")
	for _, s := range []Spec{
		{Members: 0, Prefix: p},
		{Members: 9, Prefix: p},
		{Members: 1, Clients: -1, Prefix: p},
		{Members: 1, Clients: 17, Prefix: p},
		{Members: 1, Prefix: "bad/prefix"},
		{Members: 1, Prefix: strings.Repeat("x", 25)},
	} {
		if l, err := New(context.Background(), s); err == nil {
			l.Close()
			t.Errorf("New(%+v) succeeded", s)
		}
	}
	if got := namespacesWithPrefix(t, p); len(got) != 0 {
		t.Errorf("namespaces %q left behind", got)
	}
}

func TestNewCollisionCleansUp(t *testing.T) {
	p := testPrefix("tc")
	// The collision is on the last namespace, so New has created
	// several others that it must remove again.
	addNS(t, p+"-c1")
	l, err := New(context.Background(), Spec{Members: 2, Clients: 2, Prefix: p})
	if err == nil {
		l.Close()
		t.Fatal("New succeeded despite an existing namespace")
	}
	if !errors.Is(err, errNamespaceExists) {
		t.Errorf("error %v, want errNamespaceExists", err)
	}
	got := namespacesWithPrefix(t, p+"-")
	if len(got) != 1 || got[0] != p+"-c1" {
		t.Errorf("after failed New, namespaces %q, want only the pre-existing %s-c1", got, p)
	}
}

func TestCutRestoreMember(t *testing.T) {
	l := newLab(t, Spec{Members: 2})
	ctx := context.Background()

	linkShow := func() string {
		out, err := l.Exec(ctx, l.GW, "ip", "-o", "link", "show", "m1")
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	carrier := func(i int) bool {
		ok, err := l.MemberCarrier(i)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	waitCarrier := func(i int, want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for carrier(i) != want {
			if time.Now().After(deadline) {
				t.Fatalf("m%d carrier did not become %v: %s", i, want, linkShow())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	if !carrier(1) || strings.Contains(linkShow(), "NO-CARRIER") {
		t.Fatalf("m1 has no carrier after New: %s", linkShow())
	}
	if err := l.CutMember(1); err != nil {
		t.Fatal(err)
	}
	waitCarrier(1, false)
	if s := linkShow(); !strings.Contains(s, "NO-CARRIER") {
		t.Errorf("after CutMember, m1: %s", s)
	}
	if out, err := l.Exec(ctx, l.GW, "cat", "/sys/class/net/m1/carrier"); err != nil || strings.TrimSpace(string(out)) != "0" {
		t.Errorf("after CutMember, m1 carrier file %q, %v", out, err)
	}
	if !carrier(0) {
		t.Errorf("m0 lost carrier when m1 was cut")
	}
	if err := l.RestoreMember(1); err != nil {
		t.Fatal(err)
	}
	waitCarrier(1, true)
	if s := linkShow(); strings.Contains(s, "NO-CARRIER") {
		t.Errorf("after RestoreMember, m1: %s", s)
	}
	if err := l.CutMember(2); err == nil {
		t.Errorf("CutMember(2) succeeded on a 2-member lab")
	}
}

func TestDoTCP(t *testing.T) {
	l := newLab(t, Spec{Members: 1, Clients: 2})
	addr := netip.AddrPortFrom(l.ClientIP(1), 0)

	var ln net.Listener
	if err := l.Do(l.Clients[1], func() error {
		var err error
		ln, err = net.Listen("tcp", addr.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	// The address exists only in c1, so it cannot be bound outside.
	if ln2, err := net.Listen("tcp", addr.String()); err == nil {
		ln2.Close()
		t.Errorf("listening on %v outside the client namespace succeeded", addr)
	}

	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, err = io.WriteString(c, "hello")
			c.Close()
		}
		accepted <- err
	}()

	var conn net.Conn
	if err := l.Do(l.Clients[0], func() error {
		var err error
		conn, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := conn.LocalAddr().(*net.TCPAddr).AddrPort().Addr(); got != l.ClientIP(0) {
		t.Errorf("dialled from %v, want %v", got, l.ClientIP(0))
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(conn)
	if err != nil || string(b) != "hello" {
		t.Errorf("read %q, %v", b, err)
	}
	if err := <-accepted; err != nil {
		t.Errorf("accept: %v", err)
	}
}

func TestDoErrors(t *testing.T) {
	l := newLab(t, Spec{Members: 1})
	if err := l.Do("no-such-namespace-xyz", func() error { return nil }); err == nil {
		t.Error("Do in a missing namespace succeeded")
	}
	want := errors.New("boom")
	if err := l.Do(l.GW, func() error { return want }); !errors.Is(err, want) {
		t.Errorf("Do returned %v, want %v", err, want)
	}
	func() {
		defer func() {
			if r := recover(); r != "panic in fn" {
				t.Errorf("recovered %v", r)
			}
		}()
		l.Do(l.GW, func() error { panic("panic in fn") })
	}()
	// The calling goroutine's namespace is unchanged: m0 is not visible.
	if _, err := net.InterfaceByName("m0"); err == nil {
		t.Error("m0 visible outside the gateway namespace")
	}
}

func TestStream(t *testing.T) {
	l := newLab(t, Spec{Members: 1, Clients: 2})
	target := netip.AddrPortFrom(l.ClientIP(1), 7007)
	stop, err := l.StartEcho(l.Clients[1], target)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	s, err := l.StartStream(l.Clients[0], target, 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Received() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	r := s.Stop()
	t.Logf("result: %+v", r)
	if r.Received == 0 || r.Sent < r.Received || r.Lost != r.Sent-r.Received {
		t.Fatalf("inconsistent result %+v", r)
	}
	if r.Lost > r.Sent/10+2 {
		t.Errorf("lost %d of %d", r.Lost, r.Sent)
	}
	if r.MaxGap <= 0 || r.MaxGap > 2*time.Second {
		t.Errorf("MaxGap = %v", r.MaxGap)
	}
	if r2 := s.Stop(); r2 != r {
		t.Errorf("second Stop returned %+v, want %+v", r2, r)
	}
	stop()
	stop()
}

func TestStreamLossWindow(t *testing.T) {
	l := newLab(t, Spec{Members: 1, Clients: 2})
	ctx := context.Background()
	target := netip.AddrPortFrom(l.ClientIP(1), 7008)
	if _, err := l.StartEcho(l.Clients[1], target); err != nil {
		t.Fatal(err)
	}
	s, err := l.StartStream(l.Clients[0], target, 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Received() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// Cut client 1 off the switch for a while.
	const outage = 300 * time.Millisecond
	if _, err := l.Exec(ctx, l.Switch, "ip", "link", "set", "c1", "down"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(outage)
	if _, err := l.Exec(ctx, l.Switch, "ip", "link", "set", "c1", "up"); err != nil {
		t.Fatal(err)
	}
	before := s.Received()
	deadline = time.Now().Add(5 * time.Second)
	for s.Received() < before+20 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r := s.Stop()
	t.Logf("result: %+v", r)
	if r.Lost == 0 {
		t.Errorf("no loss during the outage: %+v", r)
	}
	// Receive times are taken when the reading goroutine runs, which a
	// busy machine may delay, so allow some slack below the outage.
	if r.MaxGap < outage*2/3 || r.MaxGap > 10*time.Second {
		t.Errorf("MaxGap = %v, want about %v", r.MaxGap, outage)
	}
	// Close stops the echo server registered above.
}

func TestStartClose(t *testing.T) {
	l, err := New(context.Background(), Spec{Members: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	// One process that exits on SIGTERM, one that ignores it.
	polite, err := l.Start(l.GW, nil, nil, "sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	stubborn, err := l.Start(l.GW, nil, nil, "sh", "-c", "trap '' TERM; sleep 60 & wait")
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- polite.Wait() }()
	// "ip netns exec" enters the namespace and then execs: give it the
	// moment it needs on a loaded machine.
	var out []byte
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out, err = l.Exec(context.Background(), l.GW, "ip", "netns", "identify", fmt.Sprint(polite.Process.Pid))
		if err == nil && strings.TrimSpace(string(out)) == l.GW || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || strings.TrimSpace(string(out)) != l.GW {
		t.Errorf("process runs in %q (%v), want %s", out, err, l.GW)
	}

	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Close took %v", time.Since(start))
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("polite process still running after Close")
	}
	done := make(chan error, 1)
	go func() { done <- stubborn.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stubborn process still running after Close")
	}
	if _, err := l.Start(l.GW, nil, nil, "true"); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func TestSweep(t *testing.T) {
	p := testPrefix("ts")
	addNS(t, p+"-gw")
	addNS(t, p+"-c0")
	addNS(t, p+"x-gw") // shares the prefix but not prefix+"-"
	if err := Sweep(p); err != nil {
		t.Fatal(err)
	}
	got := namespacesWithPrefix(t, p)
	if len(got) != 1 || got[0] != p+"x-gw" {
		t.Errorf("after Sweep, namespaces %q, want only %sx-gw", got, p)
	}
	if err := Sweep(""); err == nil {
		t.Error("Sweep with an empty prefix succeeded")
	}
}

func TestSweepLab(t *testing.T) {
	l := newLab(t, Spec{Members: 1, Clients: 1})
	if err := Sweep(l.Prefix); err != nil {
		t.Fatal(err)
	}
	if got := namespacesWithPrefix(t, l.Prefix+"-"); len(got) != 0 {
		t.Errorf("after Sweep, namespaces %q remain", got)
	}
	// Close copes with namespaces that are already gone.
	if err := l.Close(); err != nil {
		t.Errorf("Close after Sweep: %v", err)
	}
}

// TestSignalHelper is not a real test: TestCleanupOnSignal runs the test
// binary with LAB_SIGNAL_HELPER=1 to execute it in a child process, which
// builds a lab, prints its prefix and waits to be killed.
func TestSignalHelper(t *testing.T) {
	if os.Getenv("LAB_SIGNAL_HELPER") != "1" {
		return
	}
	l, err := New(context.Background(), Spec{Members: 1, Clients: 1})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	CleanupOnSignal(l)
	// A second, unregistered registration must not interfere.
	CleanupOnSignal(l)()
	if _, err := l.Start(l.GW, nil, nil, "sleep", "60"); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("prefix:", l.Prefix)
	time.Sleep(time.Minute)
	os.Exit(3)
}

func TestCleanupOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestSignalHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), "LAB_SIGNAL_HELPER=1")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			line, err := bufio.NewReader(stdout).ReadString('\n')
			prefix, ok := strings.CutPrefix(strings.TrimSpace(line), "prefix: ")
			if err != nil || !ok {
				t.Fatalf("helper said %q, %v", line, err)
			}
			t.Cleanup(func() { _ = Sweep(prefix) })
			if got := namespacesWithPrefix(t, prefix+"-"); len(got) != 3 {
				t.Fatalf("helper's namespaces: %q", got)
			}
			cmd.Process.Signal(sig)
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("helper exited with %v", err)
			}
			ws := ee.Sys().(syscall.WaitStatus)
			// When the test runs with SIGINT ignored (a background job
			// of a shell script), the helper exits with 128+SIGINT.
			if !(ws.Signaled() && ws.Signal() == sig) && ws.ExitStatus() != 128+int(sig) {
				t.Errorf("helper status %#x, want killed by %v or exit %d", ws, sig, 128+int(sig))
			}
			if got := namespacesWithPrefix(t, prefix+"-"); len(got) != 0 {
				t.Errorf("namespaces %q left after signal", got)
			}
		})
	}
}
