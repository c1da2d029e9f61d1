package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/teamgw/teamgw/configs"
)

// dialAsEnv makes the test binary a helper that dials the control socket
// named in it, sends "show" and prints what happened (see dialAs).
const dialAsEnv = "TEAMGW_TEST_DIAL"

func init() {
	if path := os.Getenv(dialAsEnv); path != "" {
		c, err := net.Dial("unix", path)
		if err != nil {
			fmt.Println("dial:", err)
			os.Exit(0)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte(`{"cmd":"show"}` + "\n"))
		b, _ := io.ReadAll(c)
		fmt.Printf("reply: %s", b)
		os.Exit(0)
	}
}

// idleDaemon is a Daemon without teams or workers whose Run loop only
// serves requests: enough for the control API.
func idleDaemon(t *testing.T) *Daemon {
	t.Helper()
	d := &Daemon{cfg: &configs.Config{}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		now: time.Now, requests: make(chan func()), done: make(chan struct{})}
	stop := make(chan struct{})
	go func() {
		defer close(d.done)
		for {
			select {
			case f := <-d.requests:
				f()
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-d.done })
	return d
}

// serveAPI serves an idle daemon's API on a socket in a fresh directory
// that any user may enter (the socket itself is root's, 0600).
func serveAPI(t *testing.T) (*API, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "tgapi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "tg.sock")
	a, err := ListenAPI(idleDaemon(t), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return a, path
}

// roundTrip sends b on a new connection and returns everything the daemon
// writes until it closes the connection.
func roundTrip(t *testing.T, path string, b []byte) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	go func() {
		c.Write(b)
		c.(*net.UnixConn).CloseWrite()
	}()
	// The daemon may close with part of the request unread: the reply
	// is then followed by ECONNRESET rather than EOF.
	out, err := io.ReadAll(c)
	if err != nil && (len(out) == 0 || !errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("reading the reply to %.40q: %v (got %q)", b, err, out)
	}
	return string(out)
}

// decodeOne decodes the single response in out.
func decodeOne(t *testing.T, out string) Response {
	t.Helper()
	var r Response
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&r); err != nil || dec.More() {
		t.Fatalf("reply %q is not one response: %v", out, err)
	}
	return r
}

func (a *API) rejectedCounts() map[string]uint64 {
	m := map[string]uint64{}
	for r := range numRejectReasons {
		if n := a.rejected[r].Load(); n > 0 {
			m[r.String()] = n
		}
	}
	return m
}

// dialAs runs the test binary as uid/gid 65534 (nobody), from a copy any
// user may execute, to dial the socket at path.
func dialAs(t *testing.T, path string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(filepath.Dir(path), "helper")
	if err := os.WriteFile(helper, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(helper)
	cmd.Env = append(os.Environ(), dialAsEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper as nobody: %v\n%s", err, out)
	}
	return string(out)
}

// TestAPISocketIsRootOnly: the socket is root's with mode 0600, so a
// non-root process cannot even connect; and were the mode ever widened,
// the peer-credential check still refuses it (and counts not_root).
func TestAPISocketIsRootOnly(t *testing.T) {
	a, path := serveAPI(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o600 || st.Uid != 0 {
		t.Errorf("socket mode %v owner %d, want 0600 root", fi.Mode().Perm(), st.Uid)
	}
	if out := dialAs(t, path); !strings.Contains(out, "dial:") || !strings.Contains(out, "permission denied") {
		t.Errorf("nobody dialing the 0600 socket: %q, want permission denied at connect", out)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	out := dialAs(t, path)
	if !strings.HasPrefix(out, "reply: ") || !strings.Contains(out, "root-only") || strings.Contains(out, "status") {
		t.Errorf("nobody on a 0666 socket: %q, want a root-only refusal", out)
	}
	if got := a.rejectedCounts(); got["not_root"] != 1 || len(got) != 1 {
		t.Errorf("rejected %v, want not_root=1", got)
	}
	if _, err := Call(path, Request{Cmd: "show"}); err != nil {
		t.Errorf("root's show after the refusal: %v", err)
	}
}

// TestAPIRejectsMalformedRequests: every bad request gets one error reply,
// the connection is closed, and the refusal is counted by reason.
func TestAPIRejectsMalformedRequests(t *testing.T) {
	a, path := serveAPI(t)
	tests := []struct {
		req, reason, reply string
	}{
		{"{not json\n", "malformed", "malformed request"},
		{"\n", "malformed", "empty line"},
		{"null\n", "malformed", `no "cmd"`},
		{"[1, 2]\n", "malformed", "malformed request"},
		{`{"cmd":"show","frob":1}` + "\n", "malformed", `unknown field "frob"`},
		{`{"cmd":"show"} {"cmd":"reload"}` + "\n", "malformed", "data after the request"},
		{`{"cmd":7}` + "\n", "malformed", "malformed request"},
		{`{"cmd":"show","since":-1}` + "\n", "malformed", "malformed request"},
		{"\x00\xff\xfe\n", "malformed", "malformed request"},
		{`{"cmd":"frobnicate"}` + "\n", "unknown_command", `unknown command "frobnicate"`},
	}
	want := map[string]uint64{}
	for _, tc := range tests {
		r := decodeOne(t, roundTrip(t, path, []byte(tc.req)))
		if !strings.Contains(r.Error, tc.reply) || r.Status != nil {
			t.Errorf("%q answered %+v, want an error with %q", tc.req, r, tc.reply)
		}
		want[tc.reason]++
	}
	if got := a.rejectedCounts(); !mapsEqual(got, want) {
		t.Errorf("rejected %v, want %v", got, want)
	}
	// A request without a final newline is still one request.
	if r := decodeOne(t, roundTrip(t, path, []byte(`{"cmd":"show"}`))); r.Error != "" || r.Status == nil {
		t.Errorf("show without a newline: %+v", r)
	}
	// A connection closed without a word (a liveness check) is no refusal.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := Call(path, Request{Cmd: "show"}); err != nil {
		t.Fatal(err)
	}
	if got := a.rejectedCounts(); !mapsEqual(got, want) {
		t.Errorf("after an empty connection: rejected %v, want %v", got, want)
	}
}

// TestAPIRejectsOversizedRequests: a request of exactly maxRequest bytes
// is served; one byte more, or an endless line, is refused as too large.
func TestAPIRejectsOversizedRequests(t *testing.T) {
	a, path := serveAPI(t)
	show := `{"cmd":"show"}`
	fits := show + strings.Repeat(" ", maxRequest-len(show)-1) + "\n"
	if r := decodeOne(t, roundTrip(t, path, []byte(fits))); r.Error != "" || r.Status == nil {
		t.Errorf("a request of exactly %d bytes: %+v", maxRequest, r)
	}
	over := show + strings.Repeat(" ", maxRequest-len(show)) + "\n"
	if r := decodeOne(t, roundTrip(t, path, []byte(over))); !strings.Contains(r.Error, "request too large") || r.Status != nil {
		t.Errorf("a request of %d bytes: %+v", len(over), r)
	}
	if r := decodeOne(t, roundTrip(t, path, bytes.Repeat([]byte("x"), 8<<20))); !strings.Contains(r.Error, "request too large") {
		t.Errorf("8 MiB without a newline: %+v", r)
	}
	if got := a.rejectedCounts(); got["too_large"] != 2 || len(got) != 1 {
		t.Errorf("rejected %v, want too_large=2", got)
	}
}

// TestAPICutsOffSilentClients: a client that connects and says nothing,
// or stops half-way, is answered with a timeout and disconnected.
func TestAPICutsOffSilentClients(t *testing.T) {
	a, path := serveAPI(t)
	a.requestTimeout = 50 * time.Millisecond
	for _, b := range []string{"", `{"cmd":"sh`} {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		c.Write([]byte(b)) // and then nothing, without closing
		out, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("silent client after %q: %v (never disconnected)", b, err)
		}
		if r := decodeOne(t, string(out)); !strings.Contains(r.Error, "timeout") {
			t.Errorf("silent client after %q: %+v, want a timeout", b, r)
		}
	}
	if got := a.rejectedCounts(); got["timeout"] != 2 || len(got) != 1 {
		t.Errorf("rejected %v, want timeout=2", got)
	}
}

// TestAPIBoundsConnections: with maxConns clients connected and silent,
// one more is refused at once with Retry (counted busy); once they go,
// a show is served again.
func TestAPIBoundsConnections(t *testing.T) {
	a, path := serveAPI(t)
	a.requestTimeout = time.Hour
	var held []net.Conn
	for range maxConns {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// Connections are accepted in order: this one finds every slot taken.
	r := decodeOne(t, roundTrip(t, path, []byte(`{"cmd":"show"}`+"\n")))
	if !r.Retry || !strings.Contains(r.Error, "busy") || r.Status != nil {
		t.Errorf("connection %d: %+v, want a busy refusal with Retry", maxConns+1, r)
	}
	if got := a.rejectedCounts(); got["busy"] != 1 || len(got) != 1 {
		t.Errorf("rejected %v, want busy=1", got)
	}
	for _, c := range held {
		c.Close()
	}
	if resp, err := Call(path, Request{Cmd: "show"}); err != nil || resp.Status == nil {
		t.Errorf("show once the silent clients left: %+v, %v", resp, err)
	}
}

// TestAPISurvivesAFlood: many clients connect at once, most sending
// garbage; shows sent meanwhile are served (Call retries when the daemon
// says it is busy), every flood connection is accounted for as malformed
// or busy, and afterwards nothing is left being served.
func TestAPISurvivesAFlood(t *testing.T) {
	a, path := serveAPI(t)
	const flooders, each = 4 * maxConns, 25
	var wg sync.WaitGroup
	var failed sync.Map
	var malformed, busy atomic.Uint64 // replies the flood got
	for i := range flooders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				c, err := net.Dial("unix", path)
				if err != nil {
					failed.Store(i, err)
					return
				}
				c.SetDeadline(time.Now().Add(20 * time.Second))
				c.Write([]byte("garbage\n"))
				out, err := io.ReadAll(c)
				switch {
				case bytes.Contains(out, []byte("malformed request")):
					malformed.Add(1)
				case bytes.Contains(out, []byte(`"retry":true`)):
					busy.Add(1)
				default:
					failed.Store(i, fmt.Errorf("reply %q, %v", out, err))
				}
				c.Close()
			}
		}()
	}
	for range 5 {
		if resp, err := Call(path, Request{Cmd: "show"}); err != nil || resp.Status == nil {
			t.Errorf("show during the flood: %+v, %v", resp, err)
		}
	}
	wg.Wait()
	failed.Range(func(k, v any) bool {
		t.Errorf("flooder %v: %v", k, v)
		return true
	})
	// The shows may have been refused as busy too, before a retry.
	got := a.rejectedCounts()
	if got["malformed"] != malformed.Load() || got["busy"] < busy.Load() || len(got) > 2 {
		t.Errorf("rejected %v; the flood was answered malformed %d times, busy %d times", got, malformed.Load(), busy.Load())
	}
	t.Logf("flood of %d connections: %v", flooders*each, got)
	waitUntil(t, "every connection to be released", func() bool { return len(a.slots) == 0 })
	if _, err := Call(path, Request{Cmd: "show"}); err != nil {
		t.Errorf("show after the flood: %v", err)
	}
}

// TestCallRetriesWhenBusy: Call sends a refused request again while the
// daemon says Retry, and gives up with the daemon's error after callTries.
func TestCallRetriesWhenBusy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "busy.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busyFor := 3
	go func() {
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			resp := Response{Error: "busy", Retry: true}
			if n >= busyFor {
				resp = Response{Events: []Event{{Seq: uint64(n)}}}
			}
			json.NewEncoder(c).Encode(resp)
			c.Close()
		}
	}()
	resp, err := Call(path, Request{Cmd: "events"})
	if err != nil || len(resp.Events) != 1 || resp.Events[0].Seq != uint64(busyFor) {
		t.Fatalf("Call = %+v, %v; want the answer to the fourth try", resp, err)
	}
	busyFor = 1 << 30 // racy write is fine: the server only reads it after the next accept
	if _, err := Call(path, Request{Cmd: "events"}); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Errorf("Call against a daemon that stays busy = %v, want the busy error", err)
	}
}

// TestAPIRejectedMetric: the refusal counts are served as
// teamgw_api_rejected_total{reason}.
func TestAPIRejectedMetric(t *testing.T) {
	a, path := serveAPI(t)
	roundTrip(t, path, []byte("{oops\n"))
	mx, err := ListenMetrics(a.d, "127.0.0.1:0", a)
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
	for _, want := range []string{`teamgw_api_rejected_total{reason="malformed"} 1`, `teamgw_api_rejected_total{reason="busy"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// FuzzReadRequest feeds arbitrary bytes to the control socket's request
// reader: it never panics, reads at most maxRequest bytes, and what it
// accepts is a request with a command that encodes back to one line.
func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{`{"cmd":"show","team":"team0"}` + "\n", `{"cmd":"events","since":18446744073709551615}`,
		`{"cmd":"member-disable","team":"t","member":"m"}` + "\n", "{\n", "\n", "null", `{"cmd":""}`, `{"cmd":"x"} 1`, `{"Cmd":"show"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &countingReader{r: bytes.NewReader(b)}
		req, why, err := readRequest(r)
		if r.n > maxRequest+1 {
			t.Fatalf("read %d bytes", r.n)
		}
		if err != nil {
			if why >= numRejectReasons || err.Error() == "" {
				t.Fatalf("refusal %d %q", why, err)
			}
			if errors.Is(err, errNoRequest) && len(bytes.TrimSpace(b)) > 0 && bytes.IndexByte(b, '\n') < 0 && len(b) <= maxRequest {
				t.Fatalf("a request of %d bytes without newline taken for none", len(b))
			}
			return
		}
		if req.Cmd == "" {
			t.Fatal("accepted a request without a command")
		}
		line, _ := json.Marshal(req)
		again, _, err := readRequest(bytes.NewReader(append(line, '\n')))
		if err != nil || again != req {
			t.Fatalf("re-encoded %s: %+v, %v", line, again, err)
		}
	})
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
