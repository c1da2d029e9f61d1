package control

import (
	"net"
	"os"
	"strconv"
	"time"
)

// The service manager protocol (systemd's sd_notify): with Type=notify a
// unit learns when teamgw is ready, and with WatchdogSec it restarts a
// teamgw whose control loop stopped answering — the defined end of a
// stall the process cannot recover from itself (a worker thread stopped
// inside Go code also stops the Go runtime's stop-the-world phases, and
// with them everything else). Without NOTIFY_SOCKET all of this is off.

// notifier sends sd_notify messages; the zero value sends nothing.
type notifier struct {
	conn     *net.UnixConn
	interval time.Duration // half WATCHDOG_USEC; 0 = no watchdog
	last     time.Time
}

// newNotifier reads NOTIFY_SOCKET and WATCHDOG_USEC (and WATCHDOG_PID,
// which must be ours if set).
func newNotifier() *notifier {
	n := &notifier{}
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return n
	}
	if path[0] == '@' {
		path = "\x00" + path[1:] // abstract socket
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return n
	}
	n.conn = conn
	if us, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64); err == nil && us > 0 {
		if pid := os.Getenv("WATCHDOG_PID"); pid == "" || pid == strconv.Itoa(os.Getpid()) {
			n.interval = time.Duration(us) * time.Microsecond / 2
		}
	}
	return n
}

func (n *notifier) send(msg string) {
	if n.conn != nil {
		n.conn.Write([]byte(msg))
	}
}

// keepalive sends WATCHDOG=1 when half the watchdog interval has passed.
func (n *notifier) keepalive(now time.Time) {
	if n.interval > 0 && now.Sub(n.last) >= n.interval {
		n.last = now
		n.send("WATCHDOG=1")
	}
}

func (n *notifier) close() {
	if n.conn != nil {
		n.conn.Close()
	}
}
