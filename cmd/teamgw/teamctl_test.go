package main

import (
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/teamgw/teamgw/perf/lab"
)

// TestTeamctl drives a running teamgw with the operator CLI: show, flows,
// member disable/enable, primary and events, and checks what each prints
// or changes.
func TestTeamctl(t *testing.T) {
	l := newLab(t, 2, 1)
	g, err := l.StartTeamgw(context.Background(), teamgwBin, t.TempDir(), l.Config(lab.TeamConfig{FallbackDelay: "50ms"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	ctl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(teamctlBin, append([]string{"-socket", l.Socket()}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("teamctl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := ctl("show"); !strings.Contains(out, "team team0  mode slb") || !strings.Contains(out, "net_af_packet1") {
		t.Errorf("show:\n%s", out)
	}
	if out := ctl("flows", "team0"); !strings.Contains(out, "256 buckets") {
		t.Errorf("flows:\n%s", out)
	}
	ctl("member", "disable", "team0", "net_af_packet0")
	if err := g.WaitActive("net_af_packet1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if out := ctl("show", "team0"); !strings.Contains(out, "disabled") {
		t.Errorf("show after disable:\n%s", out)
	}
	ctl("member", "enable", "team0", "net_af_packet0")
	if err := g.WaitActive("net_af_packet0", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	ctl("primary", "team0", "net_af_packet1")
	if err := g.WaitActive("net_af_packet1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if out := ctl("events"); !strings.Contains(out, "#15  member disabled via management") || !strings.Contains(out, "#104") {
		t.Errorf("events:\n%s", out)
	}
	if out, err := exec.Command(teamctlBin, "-socket", l.Socket(), "member", "disable", "team0", "nosuch").CombinedOutput(); err == nil || !strings.Contains(string(out), `no member "nosuch"`) {
		t.Errorf("disabling an unknown member: %v %s", err, out)
	}
}
