package control

import (
	"context"
	"log/slog"
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
	EventMemberActivated   = 16 // a member now carries traffic
	EventMemberDeactivated = 17 // a member no longer carries traffic
	EventTeamDown          = 100
	EventAnnounced         = 101 // gratuitous ARPs / NAs sent after a change
	EventPathMember        = 102 // a member now carries the team MAC, broadcasts and non-IP traffic
	EventBucketsMoved      = 103 // outbound flow buckets moved between members
)

// event logs one numbered event.
func (d *Daemon) event(id int, msg string, args ...any) {
	d.log.LogAttrs(context.Background(), slog.LevelInfo, msg, append([]slog.Attr{slog.Int("event", id)}, attrs(args)...)...)
}

func attrs(args []any) []slog.Attr {
	var out []slog.Attr
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok {
			out = append(out, slog.Any(k, args[i+1]))
		}
	}
	return out
}
