package control

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teamgw/teamgw/lacp"
)

func memberNames(st TeamStatus) []string {
	var names []string
	for _, m := range st.Members {
		names = append(names, m.Name)
	}
	return names
}

// allActive reports whether the team has exactly want members, all active
// with an even share of the buckets.
func allActive(st TeamStatus, want int) bool {
	if len(st.Members) != want {
		return false
	}
	for _, m := range st.Members {
		if m.State != "active" || m.Buckets < 256/want-1 {
			return false
		}
	}
	return true
}

// TestMemberHotAddAndRemove adds a member to a running team and removes
// members, the path member among them: the new member gets its share of
// the buckets, a removed member's buckets and the path move to the
// others, its port (here its TAP interface) is gone, and a team keeps at
// least one member.
func TestMemberHotAddAndRemove(t *testing.T) {
	tt := startTapTeam(t, `fallback_delay = "0"`)
	id := strings.TrimPrefix(tt.name, "tgc")
	m0, m1, m2 := "net_tapc"+id+"m0", "net_tapc"+id+"m1", "net_tapc"+id+"m2"
	dev2 := fmt.Sprintf("%s,iface=tgc%sm2", m2, id)
	ctx := context.Background()
	tt.waitStatus(t, "both members active", func(st TeamStatus) bool { return allActive(st, 2) })

	if err := tt.d.AddMember(ctx, tt.name, dev2, ""); err != nil {
		t.Fatal(err)
	}
	st := tt.waitStatus(t, "three active members", func(st TeamStatus) bool { return allActive(st, 3) })
	if got := memberNames(st); !slices.Equal(got, []string{m0, m1, m2}) {
		t.Errorf("members %v, want %v", got, []string{m0, m1, m2})
	}
	if _, err := net.InterfaceByName("tgc" + id + "m2"); err != nil {
		t.Errorf("the added member's TAP is missing: %v", err)
	}

	for _, bad := range []struct{ dev, want string }{
		{dev2, "duplicate member"},
		{"net_bogus0", "team[0].members[3]"},
	} {
		if err := tt.d.AddMember(ctx, tt.name, bad.dev, ""); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("AddMember(%q) = %v, want an error mentioning %q", bad.dev, err, bad.want)
		}
	}
	if err := tt.d.AddMember(ctx, "nosuch", dev2, ""); err == nil || !strings.Contains(err.Error(), `no team "nosuch"`) {
		t.Errorf("AddMember to an unknown team = %v", err)
	}

	// The path member leaves: the path and its buckets move.
	if err := tt.d.RemoveMember(ctx, tt.name, m0); err != nil {
		t.Fatal(err)
	}
	st = tt.status(t)
	if got := memberNames(st); !slices.Equal(got, []string{m1, m2}) || st.Active == m0 || st.Active == "none" {
		t.Errorf("after removing %s: members %v, path %s", m0, got, st.Active)
	}
	if !allActive(st, 2) {
		t.Errorf("after removing %s: %+v", m0, st.Members)
	}
	if _, err := net.InterfaceByName("tgc" + id + "m0"); err == nil {
		t.Error("the removed member's port is still open (its TAP exists)")
	}
	if err := tt.d.RemoveMember(ctx, tt.name, m0); err == nil || !strings.Contains(err.Error(), "no member") {
		t.Errorf("removing a removed member = %v", err)
	}
	if err := tt.d.RemoveMember(ctx, tt.name, m1); err != nil {
		t.Fatal(err)
	}
	if err := tt.d.RemoveMember(ctx, tt.name, m2); err == nil || !strings.Contains(err.Error(), "last member") {
		t.Errorf("removing the last member = %v, want a refusal", err)
	}

	// A member added again takes the lowest free slot; the others keep theirs.
	if err := tt.d.AddMember(ctx, tt.name, fmt.Sprintf("%s,iface=tgc%sm0", m0, id), "primary"); err != nil {
		t.Fatal(err)
	}
	st = tt.waitActive(t, m0)
	if got := memberNames(st); !slices.Equal(got, []string{m2, m0}) || st.Members[0].Slot != 2 || st.Members[1].Slot != 0 {
		t.Errorf("members %v in slots %d and %d, want %s in 2 (kept) and %s in 0 (the lowest free)", got, st.Members[0].Slot, st.Members[1].Slot, m2, m0)
	}
	log := tt.log.String()
	for _, ev := range []string{"event=110 ", "event=111 "} {
		if !strings.Contains(log, ev) {
			t.Errorf("no %q in the event log", ev)
		}
	}
}

// TestReloadAddsRemovesAndReplaces reloads a config that adds a member,
// replaces another and adds a VLAN, then one that removes the VLAN: the
// team ends with the file's members in the file's order and the VLAN's
// interface comes and goes.
func TestReloadAddsRemovesAndReplaces(t *testing.T) {
	tt := startTapTeam(t, `fallback_delay = "0"`)
	id := strings.TrimPrefix(tt.name, "tgc")
	dev := func(i int, iface string) string { return fmt.Sprintf("net_tapc%sm%d,iface=%s", id, i, iface) }
	text, _ := os.ReadFile(tt.config)
	orig := string(text)
	tt.waitStatus(t, "both members active", func(st TeamStatus) bool { return allActive(st, 2) })

	// m1 is replaced (same device, another interface), m2 is added first.
	vlanIf := fmt.Sprintf("tgc%sv7", id)
	changed := strings.Replace(orig, fmt.Sprintf("%q, %q", dev(0, "tgc"+id+"m0"), dev(1, "tgc"+id+"m1")),
		fmt.Sprintf("%q, %q, %q", dev(2, "tgc"+id+"m2"), dev(0, "tgc"+id+"m0"), dev(1, "tgc"+id+"x1")), 1)
	changed += fmt.Sprintf("[[team.vlan]]\nid = 7\nname = %q\naddresses = [\"198.51.100.1/24\"]\n", vlanIf)
	if changed == orig+"" {
		t.Fatal("config edit did not apply")
	}
	os.WriteFile(tt.config, []byte(changed), 0o644)
	changes, err := tt.d.Reload(context.Background())
	if err != nil {
		t.Fatalf("reload: %v\n%s", err, changed)
	}
	want := []string{"net_tapc" + id + "m2", "net_tapc" + id + "m0", "net_tapc" + id + "m1"}
	st := tt.waitStatus(t, "the reloaded members active", func(st TeamStatus) bool { return allActive(st, 3) })
	if got := memberNames(st); !slices.Equal(got, want) {
		t.Errorf("members %v, want %v (the file's order)", got, want)
	}
	if st.Members[2].Device != dev(1, "tgc"+id+"x1") {
		t.Errorf("member 1 was not replaced: device %s", st.Members[2].Device)
	}
	if st.Active != want[0] {
		t.Errorf("path member %s, want the new first member %s", st.Active, want[0])
	}
	if len(st.VLANs) != 1 || st.VLANs[0].Interface != vlanIf {
		t.Errorf("VLANs %+v, want %s", st.VLANs, vlanIf)
	}
	if _, err := net.InterfaceByName(vlanIf); err != nil {
		t.Errorf("VLAN interface: %v", err)
	}
	joined := strings.Join(changes, "\n")
	for _, c := range []string{"member net_tapc" + id + "m1 removed", "member net_tapc" + id + "m1 added", "member net_tapc" + id + "m2 added", "VLAN 7 added"} {
		if !strings.Contains(joined, c) {
			t.Errorf("changes %q lack %q", changes, c)
		}
	}

	// The VLAN goes again; nothing else changes.
	os.WriteFile(tt.config, []byte(changed[:strings.Index(changed, "[[team.vlan]]")]), 0o644)
	changes, err = tt.d.Reload(context.Background())
	if err != nil || len(changes) != 1 || !strings.Contains(changes[0], "VLAN 7 removed") {
		t.Fatalf("reload without the VLAN: %q, %v", changes, err)
	}
	if _, err := net.InterfaceByName(vlanIf); err == nil {
		t.Error("VLAN interface still there after its removal")
	}
	if st := tt.status(t); !slices.Equal(memberNames(st), want) {
		t.Errorf("members %v after a VLAN-only reload, want %v", memberNames(st), want)
	}
}

// TestReloadRefusesWhatNeedsARestart checks the message of a reload that
// changes worker cores and memory: the fields, and that a restart is
// needed; nothing changes.
func TestReloadRefusesWhatNeedsARestart(t *testing.T) {
	tt := startTapTeam(t, "")
	text, _ := os.ReadFile(tt.config)
	bad := strings.Replace(string(text), "[eal]\n", "[eal]\nworker_cores = [0]\nmemory_mb = 1024\n", 1)
	bad = strings.Replace(bad, `garp_interval = "10ms"`, `garp_interval = "20ms"`, 1)
	os.WriteFile(tt.config, []byte(bad), 0o644)
	_, err := tt.d.Reload(context.Background())
	if err == nil {
		t.Fatal("reload of worker cores and memory accepted")
	}
	for _, want := range []string{"eal.memory_mb", "eal.worker_cores", "restart teamgw", "nothing was changed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not mention %q", err, want)
		}
	}
	if st := tt.status(t); len(st.Members) != 2 {
		t.Errorf("members %v after a refused reload", memberNames(st))
	}
	if tt.d.teams[0].cfg.GARPInterval.Duration != 10*time.Millisecond {
		t.Error("a refused reload applied garp_interval")
	}
}

// TestLACPMarkerBeforeRemove removes the distributing member of an lacp
// team: as for a disable, a marker goes out first and the member keeps its
// buckets until the partner answers; then it leaves and its port closes.
func TestLACPMarkerBeforeRemove(t *testing.T) {
	tt, m0, m1 := fallbackTeam(t, time.Minute)
	fd := packetSocket(t, tt.members[0])
	done := make(chan error, 1)
	go func() { done <- tt.d.RemoveMember(context.Background(), tt.name, m0) }()
	mk, _ := readMarker(t, fd)
	st := tt.waitStatus(t, "the marker counted as out", func(st TeamStatus) bool { return st.Members[0].LACP.MarkerPending })
	if m := st.Members[0]; m.Name != m0 || m.State != "active" || m.Buckets != 256 {
		t.Errorf("while the marker is out member 0 is %s %s with %d buckets; want %s active with all 256", m.Name, m.State, m.Buckets, m0)
	}
	if err := tt.d.AddMember(context.Background(), tt.name, "net_null9", ""); err != errBusy {
		t.Errorf("AddMember during a removal = %v, want %v", err, errBusy)
	}
	resp, _ := lacp.MarkerResponse(&mk)
	sendTo(t, fd, tt.members[0], lacp.AppendMarker(nil, partnerMAC, &resp))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the Marker Response did not let the removal finish")
	}
	st = tt.status(t)
	if len(st.Members) != 1 || st.Members[0].Name != m1 || st.Active != m1 || st.Members[0].Buckets != 256 {
		t.Errorf("after the removal: path %s, members %+v; want %s alone with all 256 buckets", st.Active, st.Members, m1)
	}
	if _, err := net.InterfaceByName(tt.members[0]); err == nil {
		t.Error("the removed member's port is still open")
	}
}

// TestFailoverDurationHistogram cuts the path member's link: the failover
// is observed once in the team's histogram, in the status and the
// metrics; the member's return is not a failover.
func TestFailoverDurationHistogram(t *testing.T) {
	tt := startTapTeam(t, "")
	id := strings.TrimPrefix(tt.name, "tgc")
	tt.waitActive(t, "net_tapc"+id+"m0")
	ipLink(t, tt.members[0], "down")
	tt.waitActive(t, "net_tapc"+id+"m1")
	st := tt.status(t)
	h := st.FailoverSeconds
	if h.Count != 1 || h.Sum <= 0 || h.Buckets[len(h.Buckets)-1].Count != 1 {
		t.Errorf("failover histogram %+v, want one observation within a second", h)
	}
	t.Logf("failover: link loss seen to snapshot published in %v", time.Duration(h.Sum*float64(time.Second)))
	ipLink(t, tt.members[0], "up")
	tt.waitStatus(t, "member 0 back", func(st TeamStatus) bool { return st.Members[0].State != "down" })
	mx, err := ListenMetrics(tt.d, "127.0.0.1:0")
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
	for _, want := range []string{
		fmt.Sprintf(`teamgw_failover_duration_seconds_count{team=%q} 1`, tt.name),
		fmt.Sprintf(`teamgw_failover_duration_seconds_bucket{team=%q,le="1"} 1`, tt.name),
		fmt.Sprintf(`teamgw_failover_duration_seconds_bucket{team=%q,le="+Inf"} 1`, tt.name),
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
