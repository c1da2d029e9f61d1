package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/perf/lab"
)

// TestTAPDeletedByAdministrator deletes the team's interface under a
// running team (ip link del team0): teamgw must notice, create it again
// with the team MAC and addresses behind the same TAP queues, log the
// event, and carry the client's traffic again.
func TestTAPDeletedByAdministrator(t *testing.T) {
	l := newLab(t, 2, 1)
	var logb bytes.Buffer
	g, err := l.StartTeamgw(context.Background(), teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{}), &syncWriter{w: &logb})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	team := netip.AddrPortFrom(l.Spec.TeamIP, 7)
	stopEcho, err := l.StartEcho(l.GW, team)
	if err != nil {
		t.Fatal(err)
	}
	defer stopEcho()
	if out, err := l.Exec(context.Background(), l.GW, "ip", "link", "del", "team0"); err != nil {
		t.Fatalf("ip link del team0: %v %s", err, out)
	}
	deleted := time.Now()
	defer func() {
		if t.Failed() {
			out, _ := l.Exec(context.Background(), l.GW, "ip", "addr")
			t.Logf("log:\n%s\nip addr:\n%s", logb.String(), out)
		}
	}()
	waitFor(t, "team0 to be back with its address", func() bool {
		out, err := l.Exec(context.Background(), l.GW, "ip", "-br", "addr", "show", "team0")
		return err == nil && strings.Contains(string(out), l.Spec.TeamIP.String()+"/24")
	})
	t.Logf("team0 recreated %v after it was deleted", time.Since(deleted).Round(time.Millisecond))
	if out, err := l.Exec(context.Background(), l.Clients[0], "ping", "-c", "3", "-i", "0.2", "-W", "2", l.Spec.TeamIP.String()); err != nil {
		t.Fatalf("the client cannot reach the team after the interface came back: %v\n%s", err, out)
	}
	s, err := l.StartStream(l.Clients[0], team, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "UDP through the recreated interface", func() bool { return s.Received() > 100 })
	s.Stop()
	if !strings.Contains(logb.String(), "recreated") {
		t.Errorf("no event for the recreated interface in the log:\n%s", logb.String())
	}
}

// TestMemberUnpluggedUnderTraffic deletes a member's kernel interface (the
// veth pair, as if the NIC vanished) while a client streams to the team:
// the member goes down, traffic goes on over the other, and teamgw still
// stops cleanly.
func TestMemberUnpluggedUnderTraffic(t *testing.T) {
	l := newLab(t, 2, 1)
	var logb bytes.Buffer
	g, err := l.StartTeamgw(context.Background(), teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{}), &syncWriter{w: &logb})
	if err != nil {
		t.Fatal(err)
	}
	s := echoStream(t, l, 0)
	if out, err := l.Exec(context.Background(), l.GW, "ip", "link", "del", "m0"); err != nil {
		t.Fatalf("ip link del m0: %v %s", err, out)
	}
	waitFor(t, "member 0 to go down", func() bool {
		st, err := g.Status()
		return err == nil && st.Teams[0].Members[0].State == "down" && st.Teams[0].Active == "net_af_packet1"
	})
	before := s.Received()
	waitFor(t, "the stream to go on over member 1", func() bool { return s.Received() > before+200 })
	r := s.Stop()
	t.Logf("member 0 unplugged: %d of %d lost, longest gap %v", r.Lost, r.Sent, r.MaxGap)
	if err := g.Stop(); err != nil {
		t.Errorf("teamgw did not stop cleanly after losing a member device: %v\n%s", err, logb.String())
	}
}

// TestStalledWorker stops the worker lcore's thread alone (a ptrace
// interrupt of that one thread, as a kernel starving its core would) for
// a few seconds, with teamgw under a service-manager watchdog (sd_notify,
// WATCHDOG_USEC = 1 s). Two ends are defined: the Go runtime goes on and
// teamgw reports the stall (event, status, metric) while keeping the
// watchdog fed; or the stopped thread holds the runtime (it stopped in Go
// code, and stop-the-world phases wait for it), the control loop stops
// feeding the watchdog and the service manager restarts teamgw. Either
// way, once the thread runs again the worker polls, the watchdog is fed
// and traffic flows.
func TestStalledWorker(t *testing.T) {
	l := newLab(t, 2, 1)
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mu sync.Mutex
	var ready bool
	var lastPing time.Time
	pings := 0
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			for _, line := range strings.Split(string(buf[:n]), "\n") {
				switch line {
				case "READY=1":
					ready = true
				case "WATCHDOG=1":
					lastPing = time.Now()
					pings++
				}
			}
			mu.Unlock()
		}
	}()
	sinceLastPing := func() (time.Duration, int) {
		mu.Lock()
		defer mu.Unlock()
		return time.Since(lastPing), pings
	}
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "1000000")
	var logb bytes.Buffer
	g, err := l.StartTeamgw(context.Background(), teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{}), &syncWriter{w: &logb})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	waitFor(t, "READY=1 and watchdog pings", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return ready && pings >= 2
	})
	tid := threadNamed(t, g.Cmd.Process.Pid, "tg-worker-0")

	runtime.LockOSThread() // every ptrace request must come from the tracer thread
	defer runtime.UnlockOSThread()
	if err := unix.PtraceSeize(tid); err != nil {
		t.Fatalf("ptrace seize %d: %v", tid, err)
	}
	if err := unix.PtraceInterrupt(tid); err != nil {
		t.Fatalf("ptrace interrupt: %v", err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(tid, &ws, unix.WALL, nil); err != nil || !ws.Stopped() {
		t.Fatalf("the worker thread did not stop: %v %v", err, ws)
	}
	stopped := time.Now()
	outcome := ""
	for outcome == "" && time.Since(stopped) < 20*time.Second {
		time.Sleep(250 * time.Millisecond)
		if s, err := g.Status(); err == nil && s.Workers[0].Stalled {
			outcome = "teamgw reported the stalled worker and kept the watchdog fed"
		}
		if since, _ := sinceLastPing(); since > 2*time.Second {
			outcome = fmt.Sprintf("the control loop stopped feeding the watchdog (%v without a ping): the service manager restarts teamgw", since.Round(time.Millisecond))
		}
	}
	if outcome == "" {
		t.Fatal("a stalled worker went unnoticed: no stall reported and the watchdog still fed")
	}
	t.Logf("%v after the worker thread stopped: %s", time.Since(stopped).Round(time.Millisecond), outcome)
	if err := unix.PtraceDetach(tid); err != nil {
		t.Fatalf("ptrace detach: %v", err)
	}
	_, before := sinceLastPing()
	waitFor(t, "the worker to poll again and the watchdog to be fed", func() bool {
		s, err := g.Status()
		_, n := sinceLastPing()
		return err == nil && !s.Workers[0].Stalled && n > before
	})
	if out, err := l.Exec(context.Background(), l.Clients[0], "ping", "-c", "2", "-i", "0.2", "-W", "2", l.Spec.TeamIP.String()); err != nil {
		t.Errorf("no traffic after the worker resumed: %v\n%s", err, out)
	}
}

// threadNamed finds the thread of pid with the given name (comm).
func threadNamed(t *testing.T, pid int, name string) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/task", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(b)) == name {
			tid, _ := strconv.Atoi(e.Name())
			return tid
		}
	}
	t.Fatalf("no thread named %s in process %d", name, pid)
	return 0
}

// echoStream starts a UDP echo on the team address (port 7) and a stream
// from client j to it every millisecond, both stopped when the test ends,
// and waits until the stream flows.
func echoStream(t *testing.T, l *lab.Lab, j int) *lab.Stream {
	t.Helper()
	team := netip.AddrPortFrom(l.Spec.TeamIP, 7)
	stopEcho, err := l.StartEcho(l.GW, team)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopEcho)
	s, err := l.StartStream(l.Clients[j], team, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	waitFor(t, "the stream to flow", func() bool { return s.Received() > 50 })
	return s
}
