package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
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
	Error  string     `json:"error,omitempty"`
	Status *Status    `json:"status,omitempty"`
	Events []Event    `json:"events,omitempty"`
	Flows  *FlowTable `json:"flows,omitempty"`
	// Changes are the structural changes a reload made, one line each.
	Changes []string `json:"changes,omitempty"`
}

// maxRequest bounds what a client may send in one request.
const maxRequest = 64 << 10

// API serves the control socket: a Unix socket only root can open (mode
// 0600 and a peer-credential check).
type API struct {
	d  *Daemon
	ln *net.UnixListener
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
	return &API{d: d, ln: ln}, nil
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

// Serve accepts clients until ctx is done or Close is called.
func (a *API) Serve(ctx context.Context) {
	go func() {
		<-ctx.Done()
		a.ln.Close()
	}()
	for {
		c, err := a.ln.AcceptUnix()
		if err != nil {
			return
		}
		go a.serveConn(ctx, c)
	}
}

// Close removes the socket.
func (a *API) Close() { a.ln.Close() }

func (a *API) serveConn(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	if !peerIsRoot(c) {
		json.NewEncoder(c).Encode(Response{Error: "permission denied: the control socket is root-only"})
		return
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(&limitReader{r: c, n: maxRequest})
	line, err := r.ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return
	}
	var req Request
	resp := Response{}
	if err := json.Unmarshal(line, &req); err != nil {
		resp.Error = "malformed request: " + err.Error()
	} else {
		resp = a.handle(ctx, req)
	}
	json.NewEncoder(c).Encode(resp)
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

// limitReader fails reads past n bytes, so a client cannot make the
// daemon buffer an endless line.
type limitReader struct {
	r io.Reader
	n int
}

var errTooLarge = errors.New("request too large")

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errTooLarge
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= n
	return n, err
}

// Call sends one request to the control socket at path and decodes the
// response (the client side, used by teamctl and tests).
func Call(path string, req Request) (*Response, error) {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("cannot reach teamgw at %s: %w", path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(25 * time.Second))
	b, _ := json.Marshal(req)
	if _, err := c.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return nil, fmt.Errorf("reading teamgw's answer: %w", err)
	}
	if resp.Error != "" {
		return &resp, errors.New(resp.Error)
	}
	return &resp, nil
}
