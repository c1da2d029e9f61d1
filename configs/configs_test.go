package configs

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

const minimal = `
[[team]]
name    = "team0"
mode    = "slb"
members = ["net_af_packet0,iface=m0", "net_af_packet1,iface=m1"]
address = "192.0.2.1/24"
`

// twoMembers is a valid members line for tests that vary other keys.
const twoMembers = `members = ["net_af_packet0,iface=m0", "net_af_packet1,iface=m1"]`

// withTeam returns a config with one valid team named team0 and the given
// extra lines inside its table, preceded by the given top-level text.
func withTeam(top, extra string) string {
	return top + "\n[[team]]\nname = \"team0\"\n" + twoMembers + "\n" + extra + "\n"
}

// withMembers returns a config with one team named team0 whose members line
// is given.
func withMembers(members string) string {
	return "[[team]]\nname = \"team0\"\nmembers = " + members + "\n"
}

func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	cfg, err := Parse("test.toml", []byte(text))
	if err != nil {
		t.Fatalf("Parse: %v\ninput:\n%s", err, text)
	}
	return cfg
}

func TestMinimalDefaults(t *testing.T) {
	cfg := mustParse(t, minimal)

	e := cfg.EAL
	if e.Hugepages == nil || !*e.Hugepages || !e.HugepagesEnabled() {
		t.Errorf("eal.hugepages = %v, want true", e.Hugepages)
	}
	if e.MemoryMB != 512 {
		t.Errorf("eal.memory_mb = %d, want 512", e.MemoryMB)
	}
	if e.FilePrefix != "" {
		t.Errorf("eal.file_prefix = %q, want empty", e.FilePrefix)
	}
	if e.LogLevel != "warning" {
		t.Errorf("eal.log_level = %q, want warning", e.LogLevel)
	}
	if want := []int{runtime.NumCPU() - 1}; !reflect.DeepEqual(e.WorkerCores, want) {
		t.Errorf("eal.worker_cores = %v, want %v", e.WorkerCores, want)
	}
	if e.Mbufs != 32767 {
		t.Errorf("eal.mbufs = %d, want 32767", e.Mbufs)
	}
	if len(e.ExtraArgs) != 0 {
		t.Errorf("eal.extra_args = %q, want empty", e.ExtraArgs)
	}

	c := cfg.Control
	if c.Socket != "/run/teamgw/teamgw.sock" {
		t.Errorf("control.socket = %q", c.Socket)
	}
	if c.Metrics != "127.0.0.1:9469" {
		t.Errorf("control.metrics = %q", c.Metrics)
	}
	if c.LinkPoll.Duration != 10*time.Millisecond {
		t.Errorf("control.link_poll = %v, want 10ms", c.LinkPoll)
	}
	if c.LogFormat != "text" {
		t.Errorf("control.log_format = %q, want text", c.LogFormat)
	}

	if len(cfg.Teams) != 1 {
		t.Fatalf("got %d teams, want 1", len(cfg.Teams))
	}
	tm := cfg.Teams[0]
	if tm.Name != "team0" || tm.Mode != "slb" {
		t.Errorf("team = %q mode %q", tm.Name, tm.Mode)
	}
	if tm.MAC != "" {
		t.Errorf("team.mac = %q, want empty", tm.MAC)
	}
	if tm.Address != "192.0.2.1/24" || !reflect.DeepEqual(tm.Addresses, []string{"192.0.2.1/24"}) {
		t.Errorf("team address %q addresses %q", tm.Address, tm.Addresses)
	}
	if tm.MTU != 1500 {
		t.Errorf("team.mtu = %d, want 1500", tm.MTU)
	}
	if tm.FallbackDelay.Duration != 1500*time.Millisecond {
		t.Errorf("team.fallback_delay = %v, want 1.5s", tm.FallbackDelay)
	}
	if tm.AutoFallback == nil || !*tm.AutoFallback || !tm.AutoFallbackEnabled() {
		t.Errorf("team.auto_fallback = %v, want true", tm.AutoFallback)
	}
	if tm.GARPCount != 3 {
		t.Errorf("team.garp_count = %d, want 3", tm.GARPCount)
	}
	if tm.GARPInterval.Duration != 100*time.Millisecond {
		t.Errorf("team.garp_interval = %v, want 100ms", tm.GARPInterval)
	}
	if tm.RxBalanceInterval.Duration != 10*time.Second || tm.RxBalanceThreshold != 0.25 ||
		tm.RxBalanceMinGain != 0.05 || tm.RxBalanceCooldown.Duration != time.Minute {
		t.Errorf("receive balancing: interval %v threshold %v min gain %v cooldown %v, want 10s 0.25 0.05 1m",
			tm.RxBalanceInterval, tm.RxBalanceThreshold, tm.RxBalanceMinGain, tm.RxBalanceCooldown)
	}
	want := []Member{
		{Device: "net_af_packet0,iface=m0", Carrier: "m0"},
		{Device: "net_af_packet1,iface=m1", Carrier: "m1"},
	}
	if !reflect.DeepEqual(tm.Members, want) {
		t.Errorf("members = %+v, want %+v", tm.Members, want)
	}
	if tm.PrimaryIndex() != 0 {
		t.Errorf("PrimaryIndex = %d, want 0", tm.PrimaryIndex())
	}
}

func TestExplicitSettings(t *testing.T) {
	cfg := mustParse(t, `
[eal]
hugepages    = false
memory_mb    = 1024
file_prefix  = "gw_1"
log_level    = "debug"
worker_cores = [0]
mbufs        = 8191
extra_args   = ["--vdev=net_null9", "--no-pci"]

[control]
socket     = "/tmp/tg.sock"
metrics    = "off"
link_poll  = "250ms"
log_format = "json"

[[team]]
name           = "team0"
mode           = "lacp"
mac            = "02:00:00:00:00:01"
address        = "192.0.2.1/24"
addresses      = ["2001:db8::1/64", "192.0.2.1/24", "2001:DB8::1/64", "198.51.100.7/32"]
mtu            = 9000
fallback_delay = "0"
auto_fallback  = false
garp_count     = 0
garp_interval  = "1s"
rx_balance_interval  = "0"
rx_balance_threshold = 1
rx_balance_min_gain  = 0.2
rx_balance_cooldown  = "5m"
members        = ["0000:03:00.0", "03:00.1"]
`)
	e := cfg.EAL
	if e.HugepagesEnabled() || e.MemoryMB != 1024 || e.FilePrefix != "gw_1" || e.LogLevel != "debug" ||
		!reflect.DeepEqual(e.WorkerCores, []int{0}) || e.Mbufs != 8191 || len(e.ExtraArgs) != 2 {
		t.Errorf("eal = %+v", e)
	}
	c := cfg.Control
	if c.Socket != "/tmp/tg.sock" || c.Metrics != "off" || c.LinkPoll.Duration != 250*time.Millisecond || c.LogFormat != "json" {
		t.Errorf("control = %+v", c)
	}
	tm := cfg.Teams[0]
	if tm.Mode != "lacp" || tm.MAC != "02:00:00:00:00:01" || tm.MTU != 9000 || tm.AutoFallbackEnabled() ||
		tm.GARPInterval.Duration != time.Second {
		t.Errorf("team = %+v", tm)
	}
	// Explicit zeros are settings, not requests for the default.
	if tm.FallbackDelay.Duration != 0 {
		t.Errorf("fallback_delay = %v, want 0", tm.FallbackDelay)
	}
	if tm.GARPCount != 0 {
		t.Errorf("garp_count = %d, want 0", tm.GARPCount)
	}
	if tm.RxBalanceInterval.Duration != 0 || tm.RxBalanceThreshold != 1 || tm.RxBalanceMinGain != 0.2 || tm.RxBalanceCooldown.Duration != 5*time.Minute {
		t.Errorf("receive balancing: interval %v threshold %v min gain %v cooldown %v, want 0 1 0.2 5m",
			tm.RxBalanceInterval, tm.RxBalanceThreshold, tm.RxBalanceMinGain, tm.RxBalanceCooldown)
	}
	wantAddrs := []string{"192.0.2.1/24", "2001:db8::1/64", "198.51.100.7/32"}
	if !reflect.DeepEqual(tm.Addresses, wantAddrs) {
		t.Errorf("addresses = %q, want %q", tm.Addresses, wantAddrs)
	}
	if tm.Members[0].Carrier != "" || tm.Members[1].Name() != "0000:03:00.1" {
		t.Errorf("members = %+v", tm.Members)
	}
}

func TestMixedMemberForms(t *testing.T) {
	cfg := mustParse(t, withMembers(`["net_af_packet0,iface=m0", { device = "net_af_packet1,iface=m1", role = "standby" }, { device = "net_null0", role = "primary", carrier = "eth9" }]`))
	want := []Member{
		{Device: "net_af_packet0,iface=m0", Carrier: "m0"},
		{Device: "net_af_packet1,iface=m1", Role: "standby", Carrier: "m1"},
		{Device: "net_null0", Role: "primary", Carrier: "eth9"},
	}
	if got := cfg.Teams[0].Members; !reflect.DeepEqual(got, want) {
		t.Errorf("members = %+v, want %+v", got, want)
	}
	if got := cfg.Teams[0].PrimaryIndex(); got != 2 {
		t.Errorf("PrimaryIndex = %d, want 2", got)
	}
}

func TestMembersAsArrayOfTables(t *testing.T) {
	cfg := mustParse(t, `
[[team]]
name = "team0"
[[team.members]]
device = "net_af_packet0,iface=m0"
role   = "primary"
[[team.members]]
device = "net_af_packet1,iface=m1"
carrier = "m1x"
`)
	want := []Member{
		{Device: "net_af_packet0,iface=m0", Role: "primary", Carrier: "m0"},
		{Device: "net_af_packet1,iface=m1", Carrier: "m1x"},
	}
	if got := cfg.Teams[0].Members; !reflect.DeepEqual(got, want) {
		t.Errorf("members = %+v, want %+v", got, want)
	}
}

func TestSeveralTeams(t *testing.T) {
	cfg := mustParse(t, `
[[team]]
name = "team0"
members = ["net_af_packet0,iface=m0", "net_af_packet1,iface=m1"]
[[team]]
name = "team1"
mode = "trunk"
members = ["0000:03:00.0", "0000:03:00.1"]
`)
	if len(cfg.Teams) != 2 || cfg.Teams[1].Mode != "trunk" || cfg.Teams[0].Mode != "slb" {
		t.Fatalf("teams = %+v", cfg.Teams)
	}
}

// TestValidation checks that every rule rejects a bad value and names the
// field it concerns.
func TestValidation(t *testing.T) {
	ncpu := runtime.NumCPU()
	nine := make([]string, 9)
	for i := range nine {
		nine[i] = fmt.Sprintf("%q", fmt.Sprintf("net_null%d", i))
	}
	five := ""
	for i := range 5 {
		five += fmt.Sprintf("[[team]]\nname = \"t%d\"\nmembers = [\"net_null%d\", \"net_ring%d\"]\n", i, i, i)
	}

	tests := []struct {
		name string
		toml string
		path string // the problem's path
		msg  string // a substring of the problem's message
	}{
		// Teams.
		{"no team", "", "team", "at least one"},
		{"no team but eal", "[eal]\nmemory_mb = 128\n", "team", "at least one"},
		{"five teams", five, "team", "at most 4 teams"},
		{"name missing", "[[team]]\n" + twoMembers, "team[0].name", "required"},
		{"name empty", "[[team]]\nname = \"\"\n" + twoMembers, "team[0].name", "required"},
		{"name too long", "[[team]]\nname = \"abcdefghijklmnop\"\n" + twoMembers, "team[0].name", `"abcdefghijklmnop"`},
		{"name dot", "[[team]]\nname = \".\"\n" + twoMembers, "team[0].name", `"."`},
		{"name dotdot", "[[team]]\nname = \"..\"\n" + twoMembers, "team[0].name", `".."`},
		{"name slash", "[[team]]\nname = \"a/b\"\n" + twoMembers, "team[0].name", `"a/b"`},
		{"name space", "[[team]]\nname = \"a b\"\n" + twoMembers, "team[0].name", `"a b"`},
		{"duplicate team name", withTeam("", "") + "[[team]]\nname = \"team0\"\nmembers = [\"net_null0\", \"net_null1\"]\n", "team[1].name", `duplicate team name "team0" (also team[0].name)`},
		{"name is a member interface", "[[team]]\nname = \"m1\"\n" + twoMembers, "team[0].name", `team name "m1" is also the kernel interface of team[0].members[1]`},
		{"name is a carrier", withTeam("", "") + "[[team]]\nname = \"eth7\"\nmembers = [{device = \"net_null0\", carrier = \"eth7\"}, \"net_null1\"]\n", "team[1].name", "kernel interface of team[1].members[0].carrier"},
		{"mode", withTeam("", `mode = "rr"`), "team[0].mode", `invalid mode "rr"`},
		{"mac format", withTeam("", `mac = "02-00-00-00-00-01"`), "team[0].mac", `"02-00-00-00-00-01"`},
		{"mac short", withTeam("", `mac = "02:00:00:00:01"`), "team[0].mac", "invalid mac"},
		{"mac hex", withTeam("", `mac = "02:00:00:00:00:zz"`), "team[0].mac", "invalid mac"},
		{"mac multicast", withTeam("", `mac = "01:00:5e:00:00:01"`), "team[0].mac", "multicast"},
		{"mac broadcast", withTeam("", `mac = "ff:ff:ff:ff:ff:ff"`), "team[0].mac", "multicast"},
		{"mac zero", withTeam("", `mac = "00:00:00:00:00:00"`), "team[0].mac", "all zeros"},
		{"address syntax", withTeam("", `address = "192.0.2.1"`), "team[0].address", `invalid address "192.0.2.1"`},
		{"address unspecified", withTeam("", `address = "0.0.0.0/0"`), "team[0].address", "unspecified"},
		{"address v6 unspecified", withTeam("", `address = "::/64"`), "team[0].address", "unspecified"},
		{"address multicast", withTeam("", `address = "224.0.0.1/24"`), "team[0].address", "multicast"},
		{"address v6 multicast", withTeam("", `address = "ff02::1/64"`), "team[0].address", "multicast"},
		{"address network", withTeam("", `address = "192.0.2.0/24"`), "team[0].address", "network address"},
		{"address broadcast", withTeam("", `address = "192.0.2.255/24"`), "team[0].address", "broadcast address"},
		{"addresses index with address", withTeam("", `address = "192.0.2.1/24"`+"\n"+`addresses = ["198.51.100.1/24", "bogus"]`), "team[0].addresses[1]", `"bogus"`},
		{"addresses index alone", withTeam("", `addresses = ["bogus", "198.51.100.1/24"]`), "team[0].addresses[0]", `"bogus"`},
		{"mtu low", withTeam("", "mtu = 67"), "team[0].mtu", "between 68 and 9600, got 67"},
		{"mtu high", withTeam("", "mtu = 9601"), "team[0].mtu", "got 9601"},
		{"fallback delay high", withTeam("", `fallback_delay = "11m"`), "team[0].fallback_delay", `between 0s and 10m, got "11m0s"`},
		{"fallback delay negative", withTeam("", `fallback_delay = "-1s"`), "team[0].fallback_delay", `got "-1s"`},
		{"garp count high", withTeam("", "garp_count = 21"), "team[0].garp_count", "between 0 and 20, got 21"},
		{"garp count negative", withTeam("", "garp_count = -1"), "team[0].garp_count", "got -1"},
		{"garp interval low", withTeam("", `garp_interval = "500us"`), "team[0].garp_interval", `got "500µs"`},
		{"garp interval high", withTeam("", `garp_interval = "6s"`), "team[0].garp_interval", `got "6s"`},
		{"rx balance interval high", withTeam("", `rx_balance_interval = "2h"`), "team[0].rx_balance_interval", `between 0s and 1h, got "2h0m0s"`},
		{"rx balance interval negative", withTeam("", `rx_balance_interval = "-1s"`), "team[0].rx_balance_interval", `got "-1s"`},
		{"rx balance threshold zero", withTeam("", `rx_balance_threshold = 0`), "team[0].rx_balance_threshold", "between 0.01 and 10, got 0"},
		{"rx balance threshold high", withTeam("", `rx_balance_threshold = 11`), "team[0].rx_balance_threshold", "got 11"},
		{"rx balance threshold nan", withTeam("", `rx_balance_threshold = nan`), "team[0].rx_balance_threshold", "got NaN"},
		{"rx balance min gain zero", withTeam("", `rx_balance_min_gain = 0.0`), "team[0].rx_balance_min_gain", "between 0.001 and 1, got 0"},
		{"rx balance min gain high", withTeam("", `rx_balance_min_gain = 1.5`), "team[0].rx_balance_min_gain", "got 1.5"},
		{"rx balance min gain inf", withTeam("", `rx_balance_min_gain = inf`), "team[0].rx_balance_min_gain", "got +Inf"},
		{"rx balance cooldown low", withTeam("", `rx_balance_cooldown = "500ms"`), "team[0].rx_balance_cooldown", `between 1s and 1h, got "500ms"`},

		// Members.
		{"no members", withMembers(`[]`), "team[0].members", "1 to 8 members, got 0"},
		{"no members", "[[team]]\nname = \"team0\"\n", "team[0].members", "got 0"},
		{"nine members", withMembers("[" + strings.Join(nine, ", ") + "]"), "team[0].members", "got 9"},
		{"empty device", withMembers(`["", "net_null1"]`), "team[0].members[0]", "device is required"},
		{"table without device", withMembers(`[{role = "standby"}, "net_null1"]`), "team[0].members[0]", "device is required"},
		{"port priority outside lacp", withMembers(`[{device = "net_null0", lacp_port_priority = 10}, "net_null1"]`), "team[0].members[0].lacp_port_priority", "for lacp teams"},
		{"port priority high", "[[team]]\nname = \"team0\"\nmode = \"lacp\"\nmembers = [{device = \"net_null0\", lacp_port_priority = 70000}]\n", "team[0].members[0].lacp_port_priority", "between 1 and 65535, got 70000"},
		{"port priority string", withMembers(`[{device = "net_null0", lacp_port_priority = "high"}, "net_null1"]`), "team[0].members[0].lacp_port_priority", "must be an integer, got string"},
		{"whitespace", withMembers(`["net_af_packet0, iface=m0", "net_null1"]`), "team[0].members[0]", "whitespace"},
		{"tab", withMembers(`["net_null0\t", "net_null1"]`), "team[0].members[0]", "whitespace"},
		{"no name", withMembers(`[",iface=m0", "net_null1"]`), "team[0].members[0]", "no name"},
		{"unknown driver", withMembers(`["net_foo0", "net_null1"]`), "team[0].members[0]", `unknown vdev driver in "net_foo0" (known drivers include net_af_packet`},
		{"kernel name", withMembers(`["eth0", "net_null1"]`), "team[0].members[0]", `write "net_af_packet0,iface=eth0"`},
		{"upper case vdev", withMembers(`["NET_NULL0", "net_null1"]`), "team[0].members[0]", "neither a pci address"},
		{"vdev digit after net_", withMembers(`["net_0", "net_null1"]`), "team[0].members[0]", "neither"},
		{"pci function", withMembers(`["0000:03:00.8", "net_null1"]`), "team[0].members[0]", `invalid pci address "0000:03:00.8"`},
		{"pci device", withMembers(`["0000:03:20.0", "net_null1"]`), "team[0].members[0]", "invalid pci address"},
		{"pci short", withMembers(`["03:00", "net_null1"]`), "team[0].members[0]", "invalid pci address"},
		{"pci domain", withMembers(`["000:03:00.0", "net_null1"]`), "team[0].members[0]", "invalid pci address"},
		{"pci hex", withMembers(`["0000:0g:00.0", "net_null1"]`), "team[0].members[0]", "invalid pci address"},
		{"empty argument", withMembers(`["net_null0,,a=b", "net_null1"]`), "team[0].members[0]", "empty argument"},
		{"trailing comma", withMembers(`["net_null0,", "net_null1"]`), "team[0].members[0]", "empty argument"},
		{"argument without value", withMembers(`["net_null0,foo", "net_null1"]`), "team[0].members[0]", `argument "foo" of device "net_null0,foo" is not key=value`},
		{"empty key", withMembers(`["net_null0,=x", "net_null1"]`), "team[0].members[0]", "empty key"},
		{"repeated key", withMembers(`["net_null0,size=1,size=2", "net_null1"]`), "team[0].members[0]", `argument "size" is given twice`},
		{"af_packet without iface", withMembers(`["net_af_packet0", "net_null1"]`), "team[0].members[0]", "needs an iface= argument"},
		{"af_packet empty iface", withMembers(`["net_af_packet0,iface=", "net_null1"]`), "team[0].members[0]", "needs an iface= argument"},
		{"af_packet bad iface", withMembers(`["net_af_packet0,iface=a/b", "net_null1"]`), "team[0].members[0]", `iface "a/b"`},
		{"reserved name", withMembers(`["net_tap_tg0", "net_null1"]`), "team[0].members[0]", "reserved"},
		{"duplicate member", withMembers(`["net_af_packet0,iface=m0", "net_null0", "net_af_packet0,iface=m2"]`), "team[0].members[2]", `duplicate member "net_af_packet0" (also team[0].members[0])`},
		{"duplicate pci", withMembers(`["0000:03:00.0", "03:00.0"]`), "team[0].members[1]", `duplicate member "0000:03:00.0" (also team[0].members[0])`},
		{"duplicate pci case", withMembers(`["0000:0A:00.0", "0a:00.0"]`), "team[0].members[1]", "duplicate member"},
		{"duplicate iface", withMembers(`["net_af_packet0,iface=m0", "net_af_packet1,iface=m0"]`), "team[0].members[1]", `interface "m0" is also used by team[0].members[0]`},
		{"member in two teams", withTeam("", "") + "[[team]]\nname = \"team1\"\nmembers = [\"net_null0\", \"net_af_packet1,iface=m1\"]\n", "team[1].members[1]", `member "net_af_packet1" is already used by team "team0" (team[0].members[1])`},
		{"iface in two teams", withTeam("", "") + "[[team]]\nname = \"team1\"\nmembers = [\"net_null0\", \"net_af_packet7,iface=m0\"]\n", "team[1].members[1]", "also used by team[0].members[0]"},
		{"invalid role", withMembers(`[{device = "net_null0", role = "backup"}, "net_null1"]`), "team[0].members[0].role", `invalid role "backup"`},
		{"two primaries", withMembers(`[{device = "net_null0", role = "primary"}, {device = "net_null1", role = "primary"}]`), "team[0].members[1].role", "more than one primary member (also team[0].members[0])"},
		{"all standby", withMembers(`[{device = "net_null0", role = "standby"}, {device = "net_null1", role = "standby"}]`), "team[0].members", "all members are standby"},
		{"bad carrier", withMembers(`[{device = "net_null0", carrier = "a:b"}, "net_null1"]`), "team[0].members[0].carrier", `invalid carrier interface "a:b"`},
		{"long carrier", withMembers(`[{device = "net_null0", carrier = "abcdefghijklmnop"}, "net_null1"]`), "team[0].members[0].carrier", "invalid carrier"},
		{"member role type", withMembers(`[{device = "net_null0", role = 1}, "net_null1"]`), "team[0].members[0].role", "must be a string, got integer"},
		{"member type", withMembers(`[7, "net_null1"]`), "team[0].members[0]", "got integer"},
		{"member array", withMembers(`[["net_null0"], "net_null1"]`), "team[0].members[0]", "got array"},

		// EAL.
		{"memory low", withTeam("[eal]\nmemory_mb = 63", ""), "eal.memory_mb", "between 64 and 65536, got 63"},
		{"memory high", withTeam("[eal]\nmemory_mb = 65537", ""), "eal.memory_mb", "got 65537"},
		{"file prefix chars", withTeam("[eal]\nfile_prefix = \"a.b\"", ""), "eal.file_prefix", `invalid file prefix "a.b"`},
		{"file prefix long", withTeam("[eal]\nfile_prefix = \""+strings.Repeat("x", 33)+"\"", ""), "eal.file_prefix", "invalid file prefix"},
		{"log level", withTeam("[eal]\nlog_level = \"verbose\"", ""), "eal.log_level", `invalid log level "verbose": want one of "emerg"`},
		{"log level case", withTeam("[eal]\nlog_level = \"DEBUG\"", ""), "eal.log_level", `"DEBUG"`},
		{"worker core missing", withTeam(fmt.Sprintf("[eal]\nworker_cores = [%d]", ncpu), ""), "eal.worker_cores[0]", fmt.Sprintf("cpu %d does not exist", ncpu)},
		{"worker core negative", withTeam("[eal]\nworker_cores = [0, -1]", ""), "eal.worker_cores[1]", "cpu -1 does not exist"},
		{"worker core duplicate", withTeam("[eal]\nworker_cores = [0, 0]", ""), "eal.worker_cores[1]", "duplicate cpu 0 (also eal.worker_cores[0])"},
		{"worker cores many", withTeam("[eal]\nworker_cores = [0, 0, 0, 0, 0, 0, 0, 0, 0]", ""), "eal.worker_cores", "need 1 to 8 worker cores, got 9"},
		{"mbufs low", withTeam("[eal]\nmbufs = 1022", ""), "eal.mbufs", "between 1023 and 1048575, got 1022"},
		{"mbufs high", withTeam("[eal]\nmbufs = 1048576", ""), "eal.mbufs", "got 1048576"},
		{"extra arg empty", withTeam("[eal]\nextra_args = [\"--no-pci\", \"\"]", ""), "eal.extra_args[1]", "must not be empty"},

		// Control.
		{"socket relative", withTeam("[control]\nsocket = \"run/tg.sock\"", ""), "control.socket", `socket path "run/tg.sock" must be absolute`},
		{"socket long", withTeam("[control]\nsocket = \"/"+strings.Repeat("s", 107)+"\"", ""), "control.socket", "longer than 107 bytes"},
		{"metrics no port", withTeam("[control]\nmetrics = \"localhost\"", ""), "control.metrics", `invalid listen address "localhost"`},
		{"metrics named port", withTeam("[control]\nmetrics = \"127.0.0.1:http\"", ""), "control.metrics", `invalid port "http"`},
		{"metrics port range", withTeam("[control]\nmetrics = \"127.0.0.1:65536\"", ""), "control.metrics", `invalid port "65536"`},
		{"metrics Off", withTeam("[control]\nmetrics = \"Off\"", ""), "control.metrics", `"Off"`},
		{"metrics no host", withTeam("[control]\nmetrics = \":9469\"", ""), "control.metrics", `listen address ":9469" has no host and would listen on every interface`},
		{"metrics no host v6", withTeam("[control]\nmetrics = \"[]:9469\"", ""), "control.metrics", "has no host"},
		{"link poll low", withTeam("[control]\nlink_poll = \"999us\"", ""), "control.link_poll", "between 1ms and 1s"},
		{"link poll high", withTeam("[control]\nlink_poll = \"2s\"", ""), "control.link_poll", `got "2s"`},
		{"log format", withTeam("[control]\nlog_format = \"xml\"", ""), "control.log_format", `invalid log format "xml": want one of "text", "json"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.toml", []byte(tc.toml))
			if err == nil {
				t.Fatalf("Parse succeeded, want an error\ninput:\n%s", tc.toml)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if !strings.HasPrefix(err.Error(), "configs: bad.toml: ") {
				t.Errorf("error %q lacks the file name prefix", err)
			}
			if tc.path == "" && tc.msg == "" {
				return
			}
			var verr *Error
			if !errors.As(err, &verr) {
				t.Fatalf("error %q is not an *Error", err)
			}
			for _, p := range verr.Problems() {
				if p.Path == tc.path && strings.Contains(p.Msg, tc.msg) {
					return
				}
			}
			t.Errorf("no problem at %s containing %q; got:", tc.path, tc.msg)
			for _, p := range verr.Problems() {
				t.Errorf("  %s", p)
			}
		})
	}
}

func TestValidAddressesAndDevices(t *testing.T) {
	for _, members := range []string{
		`["0000:03:00.0", "0000:03:00.1,rxq=2"]`,
		`["03:1f.7", "ab:00.0"]`,
		`["net_null0", "net_ring0"]`,
		`["net_af_xdp0,iface=eth1,start_queue=0", "net_pcap0,iface=eth2"]`,
		`["net_memif0,role=client,id=1", "net_virtio_user0,path=/dev/vhost-net,queues=1"]`,
		`["net_tap0,iface=tap9", "net_vhost0,iface=/tmp/sock0"]`,
		`["net_bonding0,mode=1,slave=0000:03:00.0,slave=0000:03:00.1", "net_null_x"]`,
		`["net_null0,empty=", "net_null1"]`,
	} {
		mustParse(t, withMembers(members))
	}
	for _, addr := range []string{
		`address = "192.0.2.1/31"`,
		`address = "192.0.2.0/31"`,
		`address = "192.0.2.255/32"`,
		`address = "2001:db8::/64"`,
		`address = "fe80::1/64"`,
		`addresses = ["10.0.0.1/8", "2001:db8::1/128"]`,
	} {
		mustParse(t, withTeam("", addr))
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name, toml, want string
	}{
		{"top level", "bogus = 1\n" + minimal, `unknown key "bogus"`},
		{"top level table", minimal + "[extra]\nx = 1\n", `unknown key "extra"`},
		{"eal", "[eal]\nbogus = 1\n" + minimal, `unknown key "eal.bogus"`},
		{"control", "[control]\nsocket_path = \"/x\"\n" + minimal, `unknown key "control.socket_path"`},
		{"team", minimal + "bogus = true\n", `unknown key "team.bogus"`},
		{"team case", withTeam("", `MTU = 9000`), `unknown key "team.MTU"`},
		{"table case", "[EAL]\nmemory_mb = 128\n" + minimal, `unknown key "EAL"`},
		{"member table", withMembers(`["net_null0", { device = "net_null1", bogus = 1 }]`), `team[0].members[1]: unknown key "bogus" (member keys are device, role, carrier, lacp_port_priority)`},
		{"member table case", withMembers(`["net_null0", { Device = "net_null1" }]`), `team[0].members[1]: unknown key "Device"`},
		{"member array of tables", "[[team]]\nname = \"t\"\n[[team.members]]\ndevice = \"net_null0\"\n[[team.members]]\ndevice = \"net_null1\"\nrole2 = \"x\"\n", `team[0].members[1]: unknown key "role2"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.toml", []byte(tc.toml))
			if err == nil {
				t.Fatalf("Parse succeeded, want %q", tc.want)
			}
			if want := "configs: x.toml: " + tc.want; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error = %q, want prefix %q", err, want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, toml string
		want       []string
	}{
		{"syntax", "[[team]]\nname = \"t\"\nmembers = [\"a\",\n", []string{"configs: x.toml: line 3, column", "expected value"}},
		{"unterminated string", "[eal]\nlog_level = \"debug\n", []string{"line 2"}},
		{"duplicate key", "[[team]]\nname = \"a\"\nname = \"b\"\n", []string{"line 3", "name"}},
		{"type", "[eal]\nmemory_mb = \"lots\"\n", []string{"line 2", "eal.memory_mb", "integer"}},
		{"duration", withTeam("", `fallback_delay = "soon"`), []string{"team.fallback_delay", `invalid duration "soon"`}},
		{"duration without unit", withTeam("", `garp_interval = 100`), []string{`invalid duration "100"`}},
		{"team not a table", "team = 5\n", []string{"team"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.toml", []byte(tc.toml))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestErrorIsOneLine(t *testing.T) {
	text := `
[eal]
memory_mb = 1
log_level = "a\nb"
[control]
socket = "x\ny"
[[team]]
name = "bad\nname"
members = ["net\nnull0", "x"]
`
	_, err := Parse("multi.toml", []byte(text))
	var verr *Error
	if !errors.As(err, &verr) {
		t.Fatalf("error %v is not an *Error", err)
	}
	n := len(verr.Problems())
	if n < 5 {
		t.Fatalf("got %d problems, want at least 5: %v", n, verr.Problems())
	}
	want := fmt.Sprintf("configs: multi.toml: eal.memory_mb: must be between 64 and 65536, got 1 (and %d more problems)", n-1)
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	if strings.ContainsAny(err.Error(), "\r\n") {
		t.Errorf("error is not one line: %q", err)
	}

	one := &Error{problems: []*FieldError{{Path: "a", Msg: "b"}}}
	if got := one.Error(); got != "a: b" {
		t.Errorf("one problem: %q", got)
	}
	one.add("c", "d")
	if got := one.Error(); got != "a: b (and 1 more problem)" {
		t.Errorf("two problems: %q", got)
	}
	if got := (&FieldError{Msg: "m"}).Error(); got != "m" {
		t.Errorf("FieldError without path: %q", got)
	}
}

func TestSetDefaultsIdempotent(t *testing.T) {
	cfg := mustParse(t, withTeam("", `address = "192.0.2.1/24"`+"\n"+`addresses = ["192.0.2.1/24", "2001:db8::1/64", "2001:db8::1/64"]`))
	before := *cfg
	before.Teams = append([]Team(nil), cfg.Teams...)
	before.Teams[0].Addresses = append([]string(nil), cfg.Teams[0].Addresses...)
	cfg.SetDefaults()
	cfg.SetDefaults()
	if !reflect.DeepEqual(before, *cfg) {
		t.Errorf("SetDefaults changed the config:\nbefore %+v\nafter  %+v", before, *cfg)
	}
	if want := []string{"192.0.2.1/24", "2001:db8::1/64"}; !reflect.DeepEqual(cfg.Teams[0].Addresses, want) {
		t.Errorf("addresses = %q, want %q", cfg.Teams[0].Addresses, want)
	}
}

func TestSetDefaultsOnCodeBuiltConfig(t *testing.T) {
	cfg := &Config{Teams: []Team{{
		Name:    "team0",
		Address: "192.0.2.1/24",
		Members: []Member{{Device: "net_af_packet0,iface=m0"}, {Device: "0000:03:00.0"}},
	}}}
	if err := cfg.Validate(); err == nil {
		t.Error("Validate accepted a config without defaults")
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	tm := cfg.Teams[0]
	if tm.GARPCount != DefaultGARPCount || tm.FallbackDelay.Duration != DefaultFallbackDelay {
		t.Errorf("garp_count %d fallback_delay %v", tm.GARPCount, tm.FallbackDelay)
	}
	if tm.Members[0].Carrier != "m0" || tm.Members[1].Carrier != "" {
		t.Errorf("carriers %q %q", tm.Members[0].Carrier, tm.Members[1].Carrier)
	}
}

func TestValidateWithoutDefaultsReportsAddress(t *testing.T) {
	cfg := &Config{Teams: []Team{{Address: "nonsense"}}}
	err := cfg.Validate()
	var verr *Error
	if !errors.As(err, &verr) {
		t.Fatalf("Validate = %v", err)
	}
	for _, p := range verr.Problems() {
		if p.Path == "team[0].address" {
			return
		}
	}
	t.Errorf("no team[0].address problem in %v", verr.Problems())
}

func TestMemberHelpers(t *testing.T) {
	tests := []struct {
		device string
		name   string
		kind   string
		pci    bool
		args   map[string]string
	}{
		{"0000:03:00.0", "0000:03:00.0", "pci", true, map[string]string{}},
		{"03:00.1", "0000:03:00.1", "pci", true, map[string]string{}},
		{"0000:AF:1F.7,rxq=4,txq=4", "0000:af:1f.7", "pci", true, map[string]string{"rxq": "4", "txq": "4"}},
		{"net_af_packet0,iface=m0", "net_af_packet0", "net_af_packet", false, map[string]string{"iface": "m0"}},
		{"net_af_packet12,iface=eth1,qpairs=2", "net_af_packet12", "net_af_packet", false, map[string]string{"iface": "eth1", "qpairs": "2"}},
		{"net_af_xdp0,iface=eth1", "net_af_xdp0", "net_af_xdp", false, map[string]string{"iface": "eth1"}},
		{"net_null0", "net_null0", "net_null", false, map[string]string{}},
		{"net_ring1", "net_ring1", "net_ring", false, map[string]string{}},
		{"net_tap0,iface=x", "net_tap0", "net_tap", false, map[string]string{"iface": "x"}},
		{"net_tun0", "net_tun0", "net_tun", false, map[string]string{}},
		{"net_pcap0,rx_pcap=a.pcap", "net_pcap0", "net_pcap", false, map[string]string{"rx_pcap": "a.pcap"}},
		{"net_memif0", "net_memif0", "net_memif", false, map[string]string{}},
		{"net_vhost0,iface=/tmp/s", "net_vhost0", "net_vhost", false, map[string]string{"iface": "/tmp/s"}},
		{"net_virtio_user0,path=/dev/vhost-net", "net_virtio_user0", "net_virtio_user", false, map[string]string{"path": "/dev/vhost-net"}},
		{"net_bonding0,mode=1", "net_bonding0", "net_bonding", false, map[string]string{"mode": "1"}},
		{"net_foo0", "net_foo0", "", false, map[string]string{}},
		{"eth0", "eth0", "", false, map[string]string{}},
		{"", "", "", false, map[string]string{}},
		{"net_null0,flag,,k=v=w", "net_null0", "net_null", false, map[string]string{"flag": "", "k": "v=w"}},
	}
	for _, tc := range tests {
		m := Member{Device: tc.device}
		if got := m.Name(); got != tc.name {
			t.Errorf("%q: Name = %q, want %q", tc.device, got, tc.name)
		}
		if got := m.Kind(); got != tc.kind {
			t.Errorf("%q: Kind = %q, want %q", tc.device, got, tc.kind)
		}
		if got := m.IsPCI(); got != tc.pci {
			t.Errorf("%q: IsPCI = %v, want %v", tc.device, got, tc.pci)
		}
		if got := m.Args(); !reflect.DeepEqual(got, tc.args) {
			t.Errorf("%q: Args = %v, want %v", tc.device, got, tc.args)
		}
	}
}

func TestPrimaryIndex(t *testing.T) {
	mk := func(roles ...string) Team {
		var tm Team
		for i, r := range roles {
			tm.Members = append(tm.Members, Member{Device: fmt.Sprintf("net_null%d", i), Role: r})
		}
		return tm
	}
	tests := []struct {
		team Team
		want int
	}{
		{mk(), 0},
		{mk("", ""), 0},
		{mk("standby", ""), 1},
		{mk("", "standby", "primary"), 2},
		{mk("standby", "standby"), 0},
		{mk("standby", "primary", ""), 1},
	}
	for i, tc := range tests {
		if got := tc.team.PrimaryIndex(); got != tc.want {
			t.Errorf("case %d: PrimaryIndex = %d, want %d", i, got, tc.want)
		}
	}
}

func TestBoolHelpers(t *testing.T) {
	f, tr := false, true
	if !(EAL{}).HugepagesEnabled() || (EAL{Hugepages: &f}).HugepagesEnabled() || !(EAL{Hugepages: &tr}).HugepagesEnabled() {
		t.Error("HugepagesEnabled")
	}
	if !(Team{}).AutoFallbackEnabled() || (Team{AutoFallback: &f}).AutoFallbackEnabled() {
		t.Error("AutoFallbackEnabled")
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"1.5s":  1500 * time.Millisecond,
		"100ms": 100 * time.Millisecond,
		"0":     0,
		"10m":   10 * time.Minute,
	} {
		var d Duration
		if err := d.UnmarshalText([]byte(in)); err != nil || d.Duration != want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", in, d.Duration, err, want)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("1.5")); err == nil {
		t.Error("UnmarshalText accepted a number without unit")
	}
	out, err := Duration{1500 * time.Millisecond}.MarshalText()
	if err != nil || string(out) != "1.5s" {
		t.Errorf("MarshalText = %q, %v", out, err)
	}
}

func TestLoad(t *testing.T) {
	if _, err := Load("testdata/does-not-exist.toml"); err == nil || !strings.HasPrefix(err.Error(), "configs: ") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

// TestMetricsListenerDefaultsToLoopback: without a metrics key the
// endpoint listens on loopback only; any other address is accepted only
// when written out in full.
func TestMetricsListenerDefaultsToLoopback(t *testing.T) {
	cfg, err := Parse("t.toml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	host, _, err := net.SplitHostPort(cfg.Control.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		t.Errorf("default metrics address %q is not loopback", cfg.Control.Metrics)
	}
	for _, addr := range []string{"0.0.0.0:9469", "[::]:9469", "192.0.2.1:9469", "localhost:9469", "[::1]:0"} {
		cfg, err := Parse("t.toml", []byte(withTeam(fmt.Sprintf("[control]\nmetrics = %q", addr), "")))
		if err != nil || cfg.Control.Metrics != addr {
			t.Errorf("explicit metrics = %q: %v, %v", addr, cfg, err)
		}
	}
}
