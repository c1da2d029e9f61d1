package control

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Event numbers. Where Broadcom BASP has an intermediate-driver message for
// the same thing (seed 004, Appendix A, Table 12) teamgw uses its number;
// its own events start at 100.
const (
	EventStarted           = 4  // teamgw has started
	EventStopped           = 5  // teamgw has stopped
	EventMemberBound       = 8  // a member port was opened
	EventMemberDisconnect  = 9  // a member lost its link
	EventMemberConnect     = 10 // a member established its link
	EventStandbySelected   = 12 // a standby member now carries the traffic
	EventMemberEnabled     = 14 // a member was enabled through the management interface
	EventMemberDisabled    = 15 // a member was disabled through the management interface
	EventMemberActivated   = 16 // a member now carries traffic
	EventMemberDeactivated = 17 // a member no longer carries traffic
	EventTeamDown          = 100
	EventAnnounced         = 101 // gratuitous ARPs / NAs sent after a change
	EventPathMember        = 102 // a member now carries the team MAC, broadcasts and non-IP traffic
	EventBucketsMoved      = 103 // outbound flow buckets moved between members
	EventPrimaryChanged    = 104 // the operator chose another primary member
	EventPathFailed        = 105 // echo-node probes unanswered on a member whose link is up
	EventPathRestored      = 106 // echo-node probes answered again
	EventReloaded          = 107 // the configuration was reloaded
	EventReloadRejected    = 108 // a reload was refused; nothing changed
	EventMarker            = 109 // a marker exchange before a planned removal ended (answered or not)
	EventMemberAdded       = 110 // a member joined a running team (teamctl member add, a reload)
	EventMemberRemoved     = 111 // a member left a running team; its port was closed
	EventVLANAdded         = 112 // a VLAN interface was added by a reload
	EventVLANRemoved       = 113 // a VLAN interface was removed by a reload
	EventClientsMoved      = 114 // SLB clients re-pointed to other members by their inbound traffic
	EventKernelIfRestored  = 115 // a team or VLAN interface deleted by an administrator was recreated
	EventWorkerStalled     = 116 // a worker lcore has not polled for 2 s
	EventWorkerResumed     = 117 // a stalled worker lcore polls again
)

// Event is one entry of the event log, as the control API returns it.
type Event struct {
	Seq   uint64            `json:"seq"`
	Time  time.Time         `json:"time"`
	ID    int               `json:"id"`
	Msg   string            `json:"msg"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

// eventLog keeps the most recent events for the control API.
type eventLog struct {
	mu   sync.Mutex
	buf  []Event
	next int
	seq  uint64
}

const eventLogSize = 1024

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	e.Seq = l.seq
	if len(l.buf) < eventLogSize {
		l.buf = append(l.buf, e)
		return
	}
	l.buf[l.next] = e
	l.next = (l.next + 1) % eventLogSize
}

// since returns the kept events with a sequence number above seq, oldest
// first.
func (l *eventLog) since(seq uint64) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []Event{}
	for i := range l.buf {
		e := l.buf[(l.next+i)%len(l.buf)]
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	return out
}

// event logs one numbered event and keeps it for the control API.
func (d *Daemon) event(id int, msg string, args ...any) {
	as := attrs(args)
	d.log.LogAttrs(context.Background(), slog.LevelInfo, msg, append([]slog.Attr{slog.Int("event", id)}, as...)...)
	e := Event{Time: d.now(), ID: id, Msg: msg}
	if len(as) > 0 {
		e.Attrs = make(map[string]string, len(as))
		for _, a := range as {
			e.Attrs[a.Key] = fmt.Sprint(a.Value.Any())
		}
	}
	d.events.add(e)
}

// Events returns the kept events after sequence number seq.
func (d *Daemon) Events(seq uint64) []Event { return d.events.since(seq) }

func attrs(args []any) []slog.Attr {
	var out []slog.Attr
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok {
			out = append(out, slog.Any(k, args[i+1]))
		}
	}
	return out
}
