package configs

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is a whole teamgw configuration file.
type Config struct {
	EAL     EAL     `toml:"eal"`
	Control Control `toml:"control"`
	Teams   []Team  `toml:"team"` // [[team]] array of tables
}

// EAL configures how DPDK's Environment Abstraction Layer is initialised.
type EAL struct {
	// Hugepages selects hugepage-backed memory. It defaults to true; false
	// runs DPDK with --no-huge, which is usable with virtual devices only.
	Hugepages *bool `toml:"hugepages"`
	// MemoryMB is the amount of memory DPDK reserves, in MiB. It defaults
	// to 512 and must be between 64 and 65536.
	MemoryMB int `toml:"memory_mb"`
	// FilePrefix is DPDK's --file-prefix. Empty (the default) lets the
	// runtime pick "teamgw-<pid>"; otherwise it is 1 to 32 characters from
	// [A-Za-z0-9_-].
	FilePrefix string `toml:"file_prefix"`
	// LogLevel is DPDK's log level: emerg, alert, crit, error, warning
	// (the default), notice, info or debug.
	LogLevel string `toml:"log_level"`
	// WorkerCores lists the CPU ids of the worker lcores. The default is a
	// single worker on the highest CPU id; 1 to 8 distinct ids below
	// runtime.NumCPU() may be given.
	WorkerCores []int `toml:"worker_cores"`
	// Mbufs is the number of mbufs in the packet pool. It defaults to
	// 32767 (2 workers with 4 members need about 22,500: every ring and
	// cache full and a vector in flight everywhere) and must be between
	// 1023 and 1048575.
	Mbufs int `toml:"mbufs"`
	// IdleSleep, when set, lets an idle worker sleep that long after a
	// run of empty polls instead of spinning: for machines where the
	// worker shares its CPU. The sleep is on the kernel's timer (a
	// short one is kept) and ends at once when the kernel sends on one
	// of the worker's TAP queues. Default 0 (spin, as DPDK workers do);
	// 0 to 10ms.
	IdleSleep Duration `toml:"idle_sleep"`
	// ExtraArgs is appended verbatim to the EAL argument vector.
	ExtraArgs []string `toml:"extra_args"`
}

// Control configures the management side of teamgw.
type Control struct {
	// Socket is the absolute path of the control API's unix socket. It
	// defaults to /run/teamgw/teamgw.sock.
	Socket string `toml:"socket"`
	// Metrics is the Prometheus listen address as host:port. It defaults
	// to 127.0.0.1:9469 (loopback only); the host is required, so that
	// listening beyond loopback is always written out ("0.0.0.0:9469");
	// "off" disables the metrics endpoint.
	Metrics string `toml:"metrics"`
	// LinkPoll is how often the link state of ports whose driver has no
	// link-state interrupt is polled. It defaults to 10ms and must be
	// between 1ms and 1s.
	LinkPoll Duration `toml:"link_poll"`
	// LogFormat is the format of teamgw's own log: "text" (the default)
	// or "json".
	LogFormat string `toml:"log_format"`
}

// Team is one team of member ports that appears to the host as a single
// kernel TAP interface.
type Team struct {
	// Name is required. It is also the name of the kernel TAP interface,
	// so it is 1 to 15 characters from [A-Za-z0-9_.-] and not "." or "..".
	Name string `toml:"name"`
	// Mode is "slb" (smart load balancing with failover, the default),
	// "trunk" (static link aggregation) or "lacp" (IEEE 802.3ad).
	Mode string `toml:"mode"`
	// MAC is the team's MAC address as "aa:bb:cc:dd:ee:ff". Empty (the
	// default) makes the runtime use the primary member's MAC; when set it
	// must be a non-zero unicast address.
	MAC string `toml:"mac"`
	// Address is a single address in CIDR form, such as "192.0.2.1/24".
	// The defaults step puts it first in Addresses.
	Address string `toml:"address"`
	// Addresses lists the team's addresses in CIDR form. After the defaults
	// step it holds Address first and has no duplicates.
	Addresses []string `toml:"addresses"`
	// MTU defaults to 1500 and must be between 68 and 9600.
	MTU int `toml:"mtu"`
	// FallbackDelay is the hold-down before traffic returns to a recovered
	// primary member. It defaults to 1.5s, as in Broadcom BASP, and must
	// be between 0 and 10m.
	FallbackDelay Duration `toml:"fallback_delay"`
	// AutoFallback defaults to true; false never moves traffic back to the
	// primary member automatically (BASP's "auto-fallback disable").
	AutoFallback *bool `toml:"auto_fallback"`
	// GARPCount is the number of gratuitous ARPs sent on failover. It
	// defaults to 3 and must be between 0 and 20.
	GARPCount int `toml:"garp_count"`
	// GARPInterval is the spacing of those gratuitous ARPs. It defaults to
	// 100ms and must be between 1ms and 5s.
	GARPInterval Duration `toml:"garp_interval"`
	// RebalanceInterval is how often the outbound flow table is
	// rebalanced from the measured bucket loads. It defaults to 10s, must
	// be between 0 and 1h, and 0 turns rebalancing off.
	RebalanceInterval Duration `toml:"rebalance_interval"`
	// RxBalanceInterval is the least time between two rounds of an SLB
	// team's receive balancing by traffic, which moves clients between
	// members by their measured inbound traffic; default 10s, 0 to 1h,
	// and 0 turns it off (clients are then spread by count only). The
	// clients' traffic is averaged over about one interval.
	RxBalanceInterval Duration `toml:"rx_balance_interval"`
	// RxBalanceThreshold is the imbalance, as a fraction of the mean
	// member load (weighted by link speed), at which a round moves
	// clients: the busiest member's load must exceed the idlest's by at
	// least this much. Default 0.25, 0.01 to 10.
	RxBalanceThreshold float64 `toml:"rx_balance_threshold"`
	// RxBalanceMinGain is how much, as a fraction of the mean member
	// load, one move must shrink the difference between the two members'
	// loads. Default 0.05, 0.001 to 1.
	RxBalanceMinGain float64 `toml:"rx_balance_min_gain"`
	// RxBalanceCooldown is the least time between two moves of one client
	// by receive balancing (failover moves it whatever its cooldown).
	// Default 1m, 1s to 1h.
	RxBalanceCooldown Duration `toml:"rx_balance_cooldown"`
	// LearningInterval is how often each SLB member that is not the path
	// member sends a learning frame from its own MAC, so switches keep
	// that MAC on its port even while no client sends to it (no unicast
	// flooding); default 30s, 1s to 10m.
	LearningInterval Duration `toml:"learning_interval"`
	// EchoNode is the IPv4 address of an SLB team's echo node (seed 003,
	// "Directed ARP"): every member probes it with an ARP request from its
	// own MAC and sender address 0.0.0.0, and a member whose probes go
	// unanswered is path-failed, as if its link were down. Empty: no probes.
	EchoNode string `toml:"echo_node"`
	// ProbeInterval is the spacing of echo-node probes (default 1s,
	// 100ms to 1m); ProbeMisses the unanswered probes that fail a path
	// (default 3, 1 to 100).
	ProbeInterval Duration `toml:"probe_interval"`
	ProbeMisses   int      `toml:"probe_misses"`
	// LACPActive chooses LACP active (true, the default) or passive mode
	// (802.1AX LACP_Activity); lacp teams only.
	LACPActive *bool `toml:"lacp_active"`
	// LACPRate is "slow" (the default: LACPDUs every 30 s, 90 s timeout)
	// or "fast" (1 s, 3 s).
	LACPRate string `toml:"lacp_rate"`
	// LACPSystemPriority is the actor system priority, 1 to 65535
	// (default 32768).
	LACPSystemPriority int `toml:"lacp_system_priority"`
	// LACPKey is the actor's operational key, 1 to 65535; it defaults to
	// the team's position in the file plus one.
	LACPKey int `toml:"lacp_key"`
	// LACPFallback says what a team does when the partner is silent:
	// "strict" (the default: no member carries traffic until LACP
	// agrees) or "active-backup" (one member carries it, so a server
	// stays reachable through a misconfigured switch, like Open
	// vSwitch's lacp-fallback-ab).
	LACPFallback string `toml:"lacp_fallback"`
	// Members are the team's ports, 1 to 8 of them (BASP teams 2 to 8;
	// a team of one is allowed, as in bonding and teamd).
	Members []Member `toml:"members"`
	// VLANs are the team's 802.1Q VLANs, at most 64 (BASP's limit), each
	// its own kernel interface; frames of the team's own interface leave
	// untagged.
	VLANs []VLAN `toml:"vlan"`

	// explicit records which keys whose zero value is valid (and differs
	// from the default) were written in the file, so that SetDefaults
	// keeps an explicit zero.
	explicit teamKeys
}

// VLAN is one 802.1Q VLAN of a team ([[team.vlan]]).
type VLAN struct {
	// ID is the VLAN ID, 1 to 4094.
	ID int `toml:"id"`
	// Name is the VLAN's kernel interface; it defaults to "<team>.<id>"
	// and must be a valid interface name of at most 15 characters.
	Name string `toml:"name"`
	// Addresses are assigned to the VLAN interface (CIDR form).
	Addresses []string `toml:"addresses"`
}

// teamKeys is a set of Team keys whose zero value is meaningful.
type teamKeys uint8

const (
	keyFallbackDelay teamKeys = 1 << iota
	keyGARPCount
	keyRebalanceInterval
	keyRxBalanceInterval
	keyRxBalanceThreshold
	keyRxBalanceMinGain
)

// Duration is a time.Duration written in TOML as a Go duration string such
// as "1.5s", "100ms" or "0".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(text []byte) error {
	s := string(text)
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: use a Go duration such as \"100ms\" or \"1.5s\"", s)
	}
	d.Duration = v
	return nil
}

// MarshalText formats the duration the way time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.Duration.String()), nil
}

// Load reads, strictly decodes, applies defaults to and validates the
// configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("configs: %w", err)
	}
	return Parse(path, data)
}

// Parse strictly decodes data, applies defaults and validates the result.
// The name is used only in error messages. Errors are single lines of the
// form "configs: NAME: PROBLEM"; validation problems can be retrieved with
// errors.As and an *Error.
func Parse(name string, data []byte) (*Config, error) {
	if name == "" {
		name = "<input>"
	}
	cfg, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("configs: %s: %w", name, err)
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configs: %s: %w", name, err)
	}
	return cfg, nil
}

// decode decodes data into a Config and rejects every key that the schema
// does not know.
func decode(data []byte) (cfg *Config, err error) {
	text := string(data)
	cfg = new(Config)
	md, err := toml.Decode(text, cfg)
	if err != nil {
		return nil, newDecodeError(err)
	}

	var errs Error
	seen := make(map[string]bool)
	unknown := func(k toml.Key) {
		s := k.String()
		if !seen[s] {
			seen[s] = true
			errs.add("", "unknown key %q", s)
		}
	}
	for _, k := range md.Undecoded() {
		unknown(k)
	}
	// The decoder matches struct fields case-insensitively when no exact
	// match exists, so "Name" would silently be taken as "name". Keys are
	// case-sensitive in TOML, so treat such keys as unknown too. Keys in
	// member tables are checked by Member.UnmarshalTOML.
	for _, k := range md.Keys() {
		if len(k) > 2 && k[0] == "team" && k[1] == "members" {
			continue
		}
		if !schemaKeys[strings.Join(k, "\x00")] {
			unknown(k)
		}
	}
	for i := range cfg.Teams {
		for j := range cfg.Teams[i].Members {
			cfg.Teams[i].Members[j].decodeProblems(&errs, memberPath(i, j))
		}
	}
	if len(errs.problems) > 0 {
		return nil, &errs
	}

	// Find out which keys whose zero value is valid were given, so that
	// the defaults step does not overwrite an explicit zero.
	var given struct {
		Teams []struct {
			FallbackDelay any `toml:"fallback_delay"`
			GARPCount     any `toml:"garp_count"`
			Rebalance     any `toml:"rebalance_interval"`
			RxBalance     any `toml:"rx_balance_interval"`
			RxThreshold   any `toml:"rx_balance_threshold"`
			RxMinGain     any `toml:"rx_balance_min_gain"`
		} `toml:"team"`
	}
	if _, err := toml.Decode(text, &given); err == nil && len(given.Teams) == len(cfg.Teams) {
		for i, g := range given.Teams {
			if g.FallbackDelay != nil {
				cfg.Teams[i].explicit |= keyFallbackDelay
			}
			if g.GARPCount != nil {
				cfg.Teams[i].explicit |= keyGARPCount
			}
			if g.Rebalance != nil {
				cfg.Teams[i].explicit |= keyRebalanceInterval
			}
			if g.RxBalance != nil {
				cfg.Teams[i].explicit |= keyRxBalanceInterval
			}
			// An explicit zero threshold or gain is kept, and refused.
			if g.RxThreshold != nil {
				cfg.Teams[i].explicit |= keyRxBalanceThreshold
			}
			if g.RxMinGain != nil {
				cfg.Teams[i].explicit |= keyRxBalanceMinGain
			}
		}
	}
	return cfg, nil
}

// schemaKeys holds every key path of the schema, with components joined by
// NUL bytes.
var schemaKeys = collectKeys(reflect.TypeFor[Config](), "", make(map[string]bool))

var (
	textUnmarshalerType = reflect.TypeFor[interface{ UnmarshalText([]byte) error }]()
	tomlUnmarshalerType = reflect.TypeFor[toml.Unmarshaler]()
)

// collectKeys adds the key paths of the struct type t, found through its
// toml tags, to keys.
func collectKeys(t reflect.Type, prefix string, keys map[string]bool) map[string]bool {
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		key := prefix + name
		keys[key] = true
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		pt := reflect.PointerTo(ft)
		if ft.Kind() == reflect.Struct && !pt.Implements(textUnmarshalerType) && !pt.Implements(tomlUnmarshalerType) {
			collectKeys(ft, key+"\x00", keys)
		}
	}
	return keys
}

// decodeError is a TOML syntax or type error rendered on one line.
type decodeError struct {
	msg string
	err error
}

func (e *decodeError) Error() string { return e.msg }
func (e *decodeError) Unwrap() error { return e.err }

// newDecodeError renders err, as returned by the TOML decoder, on one line
// that gives the line (and column, when known) of the problem.
func newDecodeError(err error) error {
	var msg string
	var pe toml.ParseError
	if errors.As(err, &pe) {
		var b strings.Builder
		fmt.Fprintf(&b, "line %d", pe.Position.Line)
		if pe.Position.Col > 0 {
			fmt.Fprintf(&b, ", column %d", pe.Position.Col)
		}
		if pe.LastKey != "" {
			fmt.Fprintf(&b, " (last key %q)", pe.LastKey)
		}
		b.WriteString(": ")
		b.WriteString(pe.Message)
		msg = b.String()
	} else {
		msg = strings.TrimPrefix(err.Error(), "toml: ")
	}
	return &decodeError{msg: oneLine(msg), err: err}
}

// oneLine replaces line breaks with spaces.
func oneLine(s string) string {
	return strings.TrimSpace(lineBreaks.Replace(s))
}

var lineBreaks = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")
