package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Request is one control API call: a JSON object on one line.
type Request struct {
	Cmd  string `json:"cmd"`
	Team string `json:"team,omitempty"`
	// Since asks "events" for the events after this sequence number.
	Since uint64 `json:"since,omitempty"`
	// Member names a member for "member-enable", "member-disable",
	// "member-remove" and "primary".
	Member string `json:"member,omitempty"`
	// Device (DPDK devargs) and Role describe the member "member-add"
	// adds.
	Device string `json:"device,omitempty"`
	Role   string `json:"role,omitempty"`
}

// Response answers a Request on one line.
type Response struct {
	Error string `json:"error,omitempty"`
	// Retry says the daemon was too busy to take the request: the
	// client may send it again shortly.
	Retry  bool       `json:"retry,omitempty"`
	Status *Status    `json:"status,omitempty"`
	Events []Event    `json:"events,omitempty"`
	Flows  *FlowTable `json:"flows,omitempty"`
	// Changes are the structural changes a reload made, one line each.
	Changes []string `json:"changes,omitempty"`
}

// Limits of the control socket. A client sends one request line at once
// and reads one response: whoever sends nothing, too much or garbage is
// answered with an error and cut off, and a flood of connections can hold
// at most maxConns of them.
const (
	// maxRequest bounds what a client may send in one request.
	maxRequest = 64 << 10
	// maxConns bounds the connections served at once; more are refused
	// with a Retry response.
	maxConns = 16
	// requestTimeout is how long a client has to send its request.
	requestTimeout = 5 * time.Second
	// replyTimeout bounds writing a response (and a refusal).
	replyTimeout = 5 * time.Second
)

// rejectReason says why the control socket refused a request.
type rejectReason uint8

const (
	rejectNotRoot rejectReason = iota
	rejectBusy
	rejectTimeout
	rejectTooLarge
	rejectMalformed
	rejectUnknownCommand
	numRejectReasons
)

var rejectNames = [numRejectReasons]string{"not_root", "busy", "timeout", "too_large", "malformed", "unknown_command"}

func (r rejectReason) String() string { return rejectNames[r] }

// API serves the control socket: a Unix socket only root can open (mode
// 0600 and a peer-credential check).
type API struct {
	d  *Daemon
	ln *net.UnixListener
	// slots holds a token per connection being served.
	slots chan struct{}
	// requestTimeout is requestTimeout; tests shorten it.
	requestTimeout time.Duration
	rejected       [numRejectReasons]atomic.Uint64
}

// ListenAPI creates the control socket at path, replacing a stale one.
func ListenAPI(d *Daemon, path string) (*API, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := CheckNotRunning(path); err != nil {
		return nil, err
	}
	os.Remove(path)
	old := unix.Umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return &API{d: d, ln: ln, slots: make(chan struct{}, maxConns), requestTimeout: requestTimeout}, nil
}

// CheckNotRunning fails if a teamgw already answers on the control socket
// at path. teamgw checks it before touching any port, so a second instance
// started by mistake cannot disturb the first one's members.
func CheckNotRunning(path string) error {
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: another teamgw is running", path)
	}
	return nil
}

// Serve accepts clients until ctx is done or Close is called. When the
// process runs out of file descriptors (a flood of connections), it backs
// off and accepts again rather than give up the socket.
func (a *API) Serve(ctx context.Context) {
	go func() {
		<-ctx.Done()
		a.ln.Close()
	}()
	backoff := 5 * time.Millisecond
	for {
		c, err := a.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			a.d.log.Warn("control socket: accept", "err", err)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		select {
		case a.slots <- struct{}{}:
			go func() {
				defer func() { <-a.slots }()
				a.serveConn(ctx, c)
			}()
		default:
			a.refuse(c, rejectBusy, Response{Error: fmt.Sprintf("busy: %d control connections open, try again", maxConns), Retry: true})
			c.Close()
		}
	}
}

// Close removes the socket.
func (a *API) Close() { a.ln.Close() }

// refuse counts a rejected request and answers it with resp.
func (a *API) refuse(c *net.UnixConn, why rejectReason, resp Response) {
	a.rejected[why].Add(1)
	c.SetWriteDeadline(time.Now().Add(replyTimeout))
	json.NewEncoder(c).Encode(resp)
}

func (a *API) serveConn(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	if !peerIsRoot(c) {
		a.refuse(c, rejectNotRoot, Response{Error: "permission denied: the control socket is root-only"})
		return
	}
	c.SetReadDeadline(time.Now().Add(a.requestTimeout))
	req, why, err := readRequest(c)
	switch {
	case errors.Is(err, errNoRequest):
		return // a liveness check (CheckNotRunning) or a client gone
	case errors.Is(err, os.ErrDeadlineExceeded):
		a.refuse(c, rejectTimeout, Response{Error: fmt.Sprintf("timeout: no request within %v", a.requestTimeout)})
		return
	case err != nil:
		a.refuse(c, why, Response{Error: err.Error()})
		return
	}
	resp := a.handle(ctx, req)
	c.SetWriteDeadline(time.Now().Add(replyTimeout))
	json.NewEncoder(c).Encode(resp)
}

// errNoRequest: the client closed the connection without a request.
var errNoRequest = errors.New("no request")

// readRequest reads and strictly decodes one request line of at most
// maxRequest bytes (newline included); the reason says how a bad one is
// counted.
func readRequest(r io.Reader) (Request, rejectReason, error) {
	var req Request
	line, err := bufio.NewReader(io.LimitReader(r, maxRequest+1)).ReadBytes('\n')
	switch {
	case len(line) > maxRequest:
		return req, rejectTooLarge, fmt.Errorf("request too large: more than %d bytes", maxRequest)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return req, rejectTimeout, err
	case err != nil && err != io.EOF:
		return req, rejectMalformed, errNoRequest // the client is gone
	case len(bytes.TrimSpace(line)) == 0:
		if err == io.EOF {
			return req, rejectMalformed, errNoRequest
		}
		return req, rejectMalformed, errors.New("malformed request: empty line")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Request{}, rejectMalformed, fmt.Errorf("malformed request: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Request{}, rejectMalformed, errors.New("malformed request: data after the request object")
	}
	if req.Cmd == "" {
		return Request{}, rejectMalformed, errors.New(`malformed request: no "cmd"`)
	}
	return req, 0, nil
}

func (a *API) handle(ctx context.Context, req Request) Response {
	switch req.Cmd {
	case "show":
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s, err := a.d.Status(ctx)
		if err != nil {
			return Response{Error: err.Error()}
		}
		if req.Team != "" {
			var keep []TeamStatus
			for _, t := range s.Teams {
				if t.Name == req.Team {
					keep = append(keep, t)
				}
			}
			if keep == nil {
				return Response{Error: fmt.Sprintf("no team %q", req.Team)}
			}
			s.Teams = keep
		}
		return Response{Status: s}
	case "events":
		return Response{Events: a.d.Events(req.Since)}
	case "member-enable", "member-disable":
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := a.d.SetMemberEnabled(ctx, req.Team, req.Member, req.Cmd == "member-enable"); err != nil {
			return Response{Error: err.Error()}
		}
		return Response{}
	case "primary":
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := a.d.SetPrimary(ctx, req.Team, req.Member); err != nil {
			return Response{Error: err.Error()}
		}
		return Response{}
	case "reload":
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		changes, err := a.d.Reload(ctx)
		if err != nil {
			return Response{Error: err.Error(), Changes: changes}
		}
		return Response{Changes: changes}
	case "member-add", "member-remove":
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		var err error
		if req.Cmd == "member-add" {
			err = a.d.AddMember(ctx, req.Team, req.Device, req.Role)
		} else {
			err = a.d.RemoveMember(ctx, req.Team, req.Member)
		}
		if err != nil {
			return Response{Error: err.Error()}
		}
		return a.handle(ctx, Request{Cmd: "show", Team: req.Team})
	case "flows":
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		ft, err := a.d.Flows(ctx, req.Team)
		if err != nil {
			return Response{Error: err.Error()}
		}
		return Response{Flows: ft}
	default:
		a.rejected[rejectUnknownCommand].Add(1)
		return Response{Error: fmt.Sprintf("unknown command %q", req.Cmd)}
	}
}

func peerIsRoot(c *net.UnixConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var cred *unix.Ucred
	var cerr error
	raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	return cerr == nil && cred.Uid == 0
}

// Call sends one request to the control socket at path and decodes the
// response (the client side, used by teamctl and tests). While the daemon
// answers that it is busy, Call tries again for a few seconds.
func Call(path string, req Request) (*Response, error) {
	wait := 10 * time.Millisecond
	for tries := 1; ; tries++ {
		resp, err := call(path, req)
		if err == nil || resp == nil || !resp.Retry || tries == callTries {
			return resp, err
		}
		time.Sleep(wait)
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// callTries bounds how often Call sends a request the daemon was too busy
// for (about five seconds in all).
const callTries = 15

func call(path string, req Request) (*Response, error) {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("cannot reach teamgw at %s: %w", path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(25 * time.Second))
	b, _ := json.Marshal(req)
	_, werr := c.Write(append(b, '\n'))
	// Even when the write failed the daemon may have answered (busy)
	// before it closed the connection.
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		if werr != nil {
			return nil, werr
		}
		return nil, fmt.Errorf("reading teamgw's answer: %w", err)
	}
	if resp.Error != "" {
		return &resp, errors.New(resp.Error)
	}
	return &resp, nil
}
