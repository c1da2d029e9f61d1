package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teamgw/teamgw/dataplane/dpdk/dpdktest"
	"github.com/teamgw/teamgw/perf/lab"
)

var teamgwBin, teamctlBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "teamgw-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755)
	teamgwBin = filepath.Join(dir, "teamgw")
	if out, err := exec.Command("go", "build", "-o", teamgwBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building teamgw: %v\n%s", err, out)
		os.Exit(1)
	}
	teamctlBin = filepath.Join(dir, "teamctl")
	if out, err := exec.Command("go", "build", "-o", teamctlBin, "../teamctl").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building teamctl: %v\n%s", err, out)
		os.Exit(1)
	}
	if err := dpdktest.EnsureHugepages(1024); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newLab builds a lab of members and clients, torn down at the end of
// the test.
func newLab(t *testing.T, members, clients int) *lab.Lab {
	t.Helper()
	return newLabSpec(t, lab.Spec{Members: members, Clients: clients})
}

// newLabSpec builds the lab spec describes, torn down at the end of the
// test.
func newLabSpec(t *testing.T, spec lab.Spec) *lab.Lab {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := lab.New(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// testContext is a context that ends after d, or with the test.
func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// runTeamgw runs teamgw to completion in ns ("" = here) and returns its
// exit code and output.
func runTeamgw(t *testing.T, l *lab.Lab, config string, args ...string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "teamgw.toml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	argv := append([]string{teamgwBin, "-config", path}, args...)
	if l != nil {
		argv = append([]string{"ip", "netns", "exec", l.GW}, argv...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// On timeout, stop teamgw the way an operator would, so it cleans up.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 15 * time.Second
	out, _ := cmd.CombinedOutput()
	return cmd.ProcessState.ExitCode(), string(out)
}

// lastLine is the last non-empty line of s (teamgw's one-line error; DPDK
// may print its own lines before it).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// leftovers lists what a teamgw run in l may leave behind.
func leftovers(t *testing.T, l *lab.Lab) []string {
	t.Helper()
	var left []string
	out, _ := l.Exec(context.Background(), l.GW, "ip", "-o", "link", "show")
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "team0") {
			left = append(left, "interface team0")
		}
		if strings.Contains(line, "PROMISC") {
			left = append(left, "promiscuous member: "+strings.Fields(line)[1])
		}
	}
	if _, err := os.Stat("/var/run/dpdk/" + l.Prefix); err == nil {
		left = append(left, "/var/run/dpdk/"+l.Prefix)
	}
	if _, err := os.Stat(l.Socket()); err == nil {
		left = append(left, l.Socket())
	}
	return left
}

func TestCheckValidConfig(t *testing.T) {
	code, out := runTeamgw(t, nil, "[[team]]\nname = \"team0\"\nmembers = [\"net_null0\", \"net_null1\"]\n", "-check")
	if code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("teamgw -check = %d %q, want 0 and 'valid'", code, out)
	}
}

// TestBadInputEndsWithOneClearLine covers the config errors that never
// touch the machine: each ends with one line naming the problem.
func TestBadInputEndsWithOneClearLine(t *testing.T) {
	tests := []struct {
		name, config, want string
	}{
		{"unknown key", "[[team]]\nname = \"team0\"\nbogus = 1\nmembers = [\"net_null0\", \"net_null1\"]\n", `unknown key "team.bogus"`},
		{"bad devargs", "[[team]]\nname = \"team0\"\nmembers = [\"net_null0\", \"eth 0\"]\n", "team[0].members[1]"},
		{"duplicate member", "[[team]]\nname = \"team0\"\nmembers = [\"net_null0\", \"net_null0\"]\n", "duplicate member"},
		{"member in two teams", "[[team]]\nname = \"team0\"\nmembers = [\"net_null0\", \"net_null1\"]\n[[team]]\nname = \"team1\"\nmembers = [\"net_null1\", \"net_null2\"]\n", "team[1].members[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runTeamgw(t, nil, tt.config)
			if code == 0 {
				t.Fatalf("exit 0, want failure; output %q", out)
			}
			if n := strings.Count(strings.TrimSpace(out), "\n"); n != 0 {
				t.Errorf("error is %d lines, want one: %q", n+1, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("error %q does not mention %q", out, tt.want)
			}
		})
	}
}

// TestStartupFailuresCleanUp covers errors found while starting: each
// ends with one clear line and leaves no TAP, promiscuous member, runtime
// directory or socket behind.
func TestStartupFailuresCleanUp(t *testing.T) {
	l := newLab(t, 2, 0)
	base := l.Config(lab.TeamConfig{})
	tests := []struct {
		name, config, want string
		asNobody           bool
	}{
		{"missing hugepages", strings.Replace(base, "memory_mb = 256", "memory_mb = 65536", 1), "hugepages:", false},
		{"missing member interface", strings.Replace(base, "iface=m1", "iface=nosuch1", 1), `kernel interface "nosuch1"`, false},
		{"bad vdev driver args", strings.Replace(base, "net_af_packet1,iface=m1", "net_af_packet1,iface=m1,blocksz=7", 1), "net_af_packet1", false},
		{"not root", base, "must run as root", true},
		{"mbuf pool too small", strings.Replace(base, "[eal]\n", "[eal]\nmbufs = 1023\n", 1), "eal.mbufs = 1023 is too small", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var code int
			var out string
			if tt.asNobody {
				code, out = runTeamgwAs(t, l, tt.config)
			} else {
				code, out = runTeamgw(t, l, tt.config)
			}
			if code == 0 {
				t.Fatalf("exit 0, want failure; output %q", out)
			}
			if line := lastLine(out); !strings.HasPrefix(line, "teamgw: ") || !strings.Contains(line, tt.want) {
				t.Errorf("last line %q, want 'teamgw: ...%s...'", line, tt.want)
			}
			if left := leftovers(t, l); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// runTeamgwAs runs teamgw as the unprivileged user nobody.
func runTeamgwAs(t *testing.T, l *lab.Lab, config string) (int, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "teamgw-nobody")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "teamgw.toml")
	os.WriteFile(path, []byte(config), 0o644)
	cmd := exec.Command("ip", "netns", "exec", l.GW, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", teamgwBin, "-config", path)
	out, _ := cmd.CombinedOutput()
	return cmd.ProcessState.ExitCode(), string(out)
}

// TestFailoverKeepsTrafficFlowing is the end-to-end walking skeleton: a
// client pings the team and holds a TCP connection through it; the active
// member's switch port is cut; traffic resumes on the standby and the TCP
// connection survives; after the port returns, traffic falls back.
func TestFailoverKeepsTrafficFlowing(t *testing.T) {
	l := newLab(t, 2, 1)
	var log bytes.Buffer
	g, err := l.StartTeamgw(context.Background(), teamgwBin, t.TempDir(),
		l.Config(lab.TeamConfig{Standby: true, FallbackDelay: "300ms"}), &syncWriter{w: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	defer func() {
		if err := g.Stop(); err != nil {
			t.Errorf("teamgw did not stop cleanly: %v", err)
		}
		if t.Failed() {
			t.Logf("teamgw log:\n%s", log.String())
		}
		if left := leftovers(t, l); len(left) > 0 {
			t.Errorf("left behind after a clean stop: %v", left)
		}
	}()

	// Ping works.
	if out, err := l.Exec(context.Background(), l.Clients[0], "ping", "-c", "3", "-i", "0.2", "-W", "2", l.Spec.TeamIP.String()); err != nil {
		t.Fatalf("ping through the team: %v\n%s", err, out)
	}
	// IPv6 too.
	if out, err := l.Exec(context.Background(), l.Clients[0], "ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", l.Spec.TeamIP6.String()); err != nil {
		t.Fatalf("ping6 through the team: %v\n%s", err, out)
	}

	// A TCP connection: server in the gateway namespace, client in c0.
	tcpEcho(t, l, l.GW, net.JoinHostPort(l.Spec.TeamIP.String(), "5001"))
	conn := dial(t, l, l.Clients[0], net.JoinHostPort(l.Spec.TeamIP.String(), "5001"))
	tcpRoundTrip(t, conn, "before the cut")

	// A UDP stream measures the loss window.
	stream := echoStream(t, l, 0)

	if err := l.CutMember(0); err != nil {
		t.Fatal(err)
	}
	if err := g.WaitActive("net_af_packet1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	before := stream.Received()
	waitFor(t, "traffic to resume on the standby", func() bool { return stream.Received() > before+100 })
	tcpRoundTrip(t, conn, "after the cut")
	res := stream.Stop()
	t.Logf("failover: %d of %d datagrams lost (1 ms interval): loss window about %v; longest gap between echoes %v",
		res.Lost, res.Sent, time.Duration(res.Lost)*time.Millisecond, res.MaxGap)
	if res.MaxGap > time.Second {
		t.Errorf("traffic stopped for %v, want it to resume within 1 s", res.MaxGap)
	}
	if out, err := l.Exec(context.Background(), l.Clients[0], "ping", "-c", "2", "-i", "0.2", "-W", "2", l.Spec.TeamIP.String()); err != nil {
		t.Fatalf("ping after failover: %v\n%s", err, out)
	}

	// Fallback after the hold-down.
	if err := l.RestoreMember(0); err != nil {
		t.Fatal(err)
	}
	if err := g.WaitActive("net_af_packet0", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	tcpRoundTrip(t, conn, "after fallback")
	s, err := g.Status()
	if err != nil {
		t.Fatal(err)
	}
	if s.Teams[0].Failovers != 1 {
		t.Errorf("failovers = %d, want 1", s.Teams[0].Failovers)
	}
	if h := s.Teams[0].FailoverSeconds; h.Count != 1 {
		t.Errorf("failover histogram %+v, want one failover", h)
	} else {
		t.Logf("failover: link loss seen to snapshot published in %.0f µs", h.Sum*1e6)
	}
	if !strings.Contains(log.String(), "standby member selected as primary") {
		t.Errorf("no BASP event 12 in the log:\n%s", log.String())
	}
}

// TestSecondInstanceLeavesFirstAlone starts teamgw twice on the same
// config: the second must refuse before touching the members, and the
// first must keep forwarding.
func TestSecondInstanceLeavesFirstAlone(t *testing.T) {
	l := newLab(t, 2, 1)
	cfg := l.Config(lab.TeamConfig{})
	g, err := l.StartTeamgw(context.Background(), teamgwBin, t.TempDir(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	code, out := runTeamgw(t, l, cfg)
	if code == 0 || !strings.Contains(lastLine(out), "another teamgw is running") {
		t.Fatalf("second teamgw: exit %d, %q; want a refusal", code, out)
	}
	if out, err := l.Exec(context.Background(), l.Clients[0], "ping", "-c", "2", "-i", "0.2", "-W", "2", l.Spec.TeamIP.String()); err != nil {
		t.Fatalf("first teamgw stopped forwarding after the second one failed: %v\n%s", err, out)
	}
}

func tcpRoundTrip(t *testing.T, c net.Conn, when string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := fmt.Sprintf("hello %s\n", when)
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("TCP write %s: %v", when, err)
	}
	got, err := bufio.NewReader(io.LimitReader(c, int64(len(msg)))).ReadString('\n')
	if err != nil || got != msg {
		t.Fatalf("TCP echo %s = %q, %v; want %q", when, got, err, msg)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startTeamgw starts teamgw in l's gateway namespace with config, fails
// t with teamgw's log if it does not come up, and stops it at the end of
// the test.
func startTeamgw(t *testing.T, l *lab.Lab, config string) *lab.Teamgw {
	t.Helper()
	var logb bytes.Buffer
	g, err := l.StartTeamgw(context.Background(), teamgwBin, t.TempDir(), config, &syncWriter{w: &logb})
	if err != nil {
		t.Fatalf("%v\n%s", err, logb.String())
	}
	t.Cleanup(func() { g.Stop() })
	return g
}
