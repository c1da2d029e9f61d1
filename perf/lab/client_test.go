package lab

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAddClient adds a client on another subnet and one on the lab's:
// the latter reaches a lab client through the switch, and both
// namespaces go with the lab.
func TestAddClient(t *testing.T) {
	l := newLab(t, Spec{Members: 1, Clients: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	other, err := l.AddClient(ctx, netip.MustParsePrefix("198.51.100.10/24"))
	if err != nil {
		t.Fatal(err)
	}
	same, err := l.AddClient(ctx, netip.MustParsePrefix("192.0.2.99/24"))
	if err != nil {
		t.Fatal(err)
	}
	if other != l.Prefix+"-x0" || same != l.Prefix+"-x1" {
		t.Errorf("namespaces %s and %s, want %s-x0 and %s-x1", other, same, l.Prefix, l.Prefix)
	}
	if out, err := l.Exec(ctx, same, "ping", "-c", "1", "-W", "2", l.ClientIP(0).String()); err != nil {
		t.Fatalf("ping from an added client: %v\n%s", err, out)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{other, same} {
		if _, err := os.Stat(filepath.Join(netnsDir, ns)); err == nil {
			t.Errorf("namespace %s left after Close", ns)
		}
	}
}
