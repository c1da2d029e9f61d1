package configs

import (
	"fmt"
	"net"
	"net/netip"
	"path"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// FieldError is one validation problem and the path of the field it
// concerns, such as "team[0].members[2]" or "control.metrics". The path is
// empty for problems that concern no single field, such as unknown keys.
type FieldError struct {
	Path string
	Msg  string
}

// Error renders the problem as "PATH: MSG", or as MSG when there is no path.
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Error is the list of problems found in a configuration.
type Error struct {
	problems []*FieldError
}

// Error renders the first problem on one line and, if there are more, how
// many: "PROBLEM (and 2 more problems)".
func (e *Error) Error() string {
	if len(e.problems) == 0 {
		return "no problems"
	}
	s := oneLine(e.problems[0].Error())
	switch n := len(e.problems) - 1; n {
	case 0:
	case 1:
		s += " (and 1 more problem)"
	default:
		s += fmt.Sprintf(" (and %d more problems)", n)
	}
	return s
}

// Problems returns every problem, in the order of the configuration.
func (e *Error) Problems() []*FieldError {
	return append([]*FieldError(nil), e.problems...)
}

func (e *Error) add(path, format string, args ...any) {
	e.problems = append(e.problems, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// orNil returns e as an error, or nil when it holds no problems.
func (e *Error) orNil() error {
	if len(e.problems) == 0 {
		return nil
	}
	return e
}

var (
	logLevels   = []string{"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"}
	logFormats  = []string{"text", "json"}
	modes       = []string{ModeSLB, ModeTrunk, ModeLACP}
	filePrefix  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	teamNameRe  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
	maxSockPath = 107 // sizeof(sockaddr_un.sun_path) - 1 on Linux
)

// Validate checks the configuration, which should have had its defaults
// set, and returns an *Error listing every problem, or nil.
func (c *Config) Validate() error {
	var errs Error
	c.EAL.validate(&errs)
	c.Control.validate(&errs)
	c.validateTeams(&errs)
	return errs.orNil()
}

func (e *EAL) validate(errs *Error) {
	checkRange(errs, "eal.memory_mb", e.MemoryMB, 64, 65536)
	if e.FilePrefix != "" && !filePrefix.MatchString(e.FilePrefix) {
		errs.add("eal.file_prefix", "invalid file prefix %q: want 1 to 32 characters from [A-Za-z0-9_-]", e.FilePrefix)
	}
	checkOneOf(errs, "eal.log_level", "log level", e.LogLevel, logLevels)
	ncpu := runtime.NumCPU()
	if n := len(e.WorkerCores); n < 1 || n > MaxWorkerCores {
		errs.add("eal.worker_cores", "need 1 to %d worker cores, got %d", MaxWorkerCores, n)
	}
	seen := make(map[int]int)
	for i, cpu := range e.WorkerCores {
		p := fmt.Sprintf("eal.worker_cores[%d]", i)
		if cpu < 0 || cpu >= ncpu {
			errs.add(p, "cpu %d does not exist: this machine has cpus 0 to %d", cpu, ncpu-1)
		} else if j, dup := seen[cpu]; dup {
			errs.add(p, "duplicate cpu %d (also eal.worker_cores[%d])", cpu, j)
		} else {
			seen[cpu] = i
		}
	}
	checkRange(errs, "eal.mbufs", e.Mbufs, 1023, 1048575)
	checkDuration(errs, "eal.idle_sleep", e.IdleSleep.Duration, 0, 10*time.Millisecond)
	for i, a := range e.ExtraArgs {
		p := fmt.Sprintf("eal.extra_args[%d]", i)
		if a == "" {
			errs.add(p, "argument must not be empty")
		} else if strings.ContainsRune(a, 0) {
			errs.add(p, "argument %q contains a nul byte", a)
		}
	}
}

func (c *Control) validate(errs *Error) {
	switch {
	case c.Socket == "":
		errs.add("control.socket", "socket path is required")
	case !path.IsAbs(c.Socket):
		errs.add("control.socket", "socket path %q must be absolute", c.Socket)
	case len(c.Socket) > maxSockPath:
		errs.add("control.socket", "socket path %q is longer than %d bytes", c.Socket, maxSockPath)
	case strings.ContainsRune(c.Socket, 0):
		errs.add("control.socket", "socket path %q contains a nul byte", c.Socket)
	}
	if c.Metrics != MetricsOff {
		if msg := checkListenAddr(c.Metrics); msg != "" {
			errs.add("control.metrics", "%s", msg)
		}
	}
	checkDuration(errs, "control.link_poll", c.LinkPoll.Duration, time.Millisecond, time.Second)
	checkOneOf(errs, "control.log_format", "log format", c.LogFormat, logFormats)
}

// checkListenAddr returns what is wrong with a host:port listen address.
func checkListenAddr(addr string) string {
	if addr == "" {
		return fmt.Sprintf("listen address is required (or %q to disable metrics)", MetricsOff)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("invalid listen address %q: want host:port, such as %q, or %q", addr, DefaultMetrics, MetricsOff)
	}
	if host == "" {
		// Go would listen on every interface: that must be said outright.
		return fmt.Sprintf("listen address %q has no host and would listen on every interface: write %q (loopback, the default), or %q or %q to mean every interface",
			addr, DefaultMetrics, "0.0.0.0:"+port, "[::]:"+port)
	}
	if strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Sprintf("invalid host %q in listen address %q", host, addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Sprintf("invalid port %q in listen address %q: want a number from 0 to 65535", port, addr)
	}
	return ""
}

// memberRef identifies a member by its path and its team's name.
type memberRef struct {
	path string
	team string
	ti   int
}

func (c *Config) validateTeams(errs *Error) {
	switch n := len(c.Teams); {
	case n == 0:
		errs.add("team", "at least one [[team]] is required")
	case n > MaxTeams:
		errs.add("team", "at most %d teams are supported, got %d", MaxTeams, n)
	}

	names := make(map[string]int)         // team name -> team index
	devices := make(map[string]memberRef) // device name -> first user
	ifaces := make(map[string]memberRef)  // af_packet iface -> first user
	kernel := make(map[string]string)     // kernel interface -> member path
	for ti := range c.Teams {
		t := &c.Teams[ti]
		tp := fmt.Sprintf("team[%d]", ti)

		switch {
		case t.Name == "":
			errs.add(tp+".name", "team name is required")
		case t.Name == "." || t.Name == ".." || !teamNameRe.MatchString(t.Name):
			errs.add(tp+".name", "invalid team name %q: it names the kernel interface, so it must be 1 to 15 characters from [A-Za-z0-9_.-] and not \".\" or \"..\"", t.Name)
		default:
			if j, dup := names[t.Name]; dup {
				errs.add(tp+".name", "duplicate team name %q (also team[%d].name)", t.Name, j)
			} else {
				names[t.Name] = ti
			}
		}
		checkOneOf(errs, tp+".mode", "mode", t.Mode, modes)
		if t.MAC != "" {
			if msg := checkMAC(t.MAC); msg != "" {
				errs.add(tp+".mac", "%s", msg)
			}
		}
		t.validateAddresses(errs, tp)
		checkRange(errs, tp+".mtu", t.MTU, 68, 9600)
		checkDuration(errs, tp+".fallback_delay", t.FallbackDelay.Duration, 0, 10*time.Minute)
		checkRange(errs, tp+".garp_count", t.GARPCount, 0, 20)
		checkDuration(errs, tp+".garp_interval", t.GARPInterval.Duration, time.Millisecond, 5*time.Second)
		checkDuration(errs, tp+".rebalance_interval", t.RebalanceInterval.Duration, 0, time.Hour)
		checkDuration(errs, tp+".rx_balance_interval", t.RxBalanceInterval.Duration, 0, time.Hour)
		checkFloat(errs, tp+".rx_balance_threshold", t.RxBalanceThreshold, 0.01, 10)
		checkFloat(errs, tp+".rx_balance_min_gain", t.RxBalanceMinGain, 0.001, 1)
		checkDuration(errs, tp+".rx_balance_cooldown", t.RxBalanceCooldown.Duration, time.Second, time.Hour)
		checkDuration(errs, tp+".learning_interval", t.LearningInterval.Duration, time.Second, 10*time.Minute)
		checkDuration(errs, tp+".probe_interval", t.ProbeInterval.Duration, 100*time.Millisecond, time.Minute)
		checkRange(errs, tp+".probe_misses", t.ProbeMisses, 1, 100)
		if t.EchoNode != "" {
			if a, err := netip.ParseAddr(t.EchoNode); err != nil || !a.Is4() || a.IsUnspecified() || a.IsMulticast() {
				errs.add(tp+".echo_node", "invalid echo node %q: want a unicast IPv4 address", t.EchoNode)
			}
			if t.Mode != ModeSLB {
				errs.add(tp+".echo_node", "echo-node probes are for slb teams")
			}
		}
		checkOneOf(errs, tp+".lacp_rate", "lacp_rate", t.LACPRate, []string{"slow", "fast"})
		checkOneOf(errs, tp+".lacp_fallback", "lacp_fallback", t.LACPFallback, []string{"strict", "active-backup"})
		checkRange(errs, tp+".lacp_system_priority", t.LACPSystemPriority, 1, 65535)
		if t.LACPKey != 0 {
			checkRange(errs, tp+".lacp_key", t.LACPKey, 1, 65535)
		}

		if n := len(t.Members); n < MinMembers || n > MaxMembers {
			errs.add(tp+".members", "a team needs %d to %d members, got %d", MinMembers, MaxMembers, n)
		}
		primary := -1
		active := 0
		for mi := range t.Members {
			m := &t.Members[mi]
			mp := fmt.Sprintf("%s.members[%d]", tp, mi)
			m.decodeProblems(errs, mp)

			devOK := false
			if msg := checkDevargs(m.Device); msg != "" {
				errs.add(mp, "%s", msg)
			} else {
				devOK = true
				name := m.Name()
				dupName := false
				if prev, dup := devices[name]; dup {
					dupName = true
					if prev.ti == ti {
						errs.add(mp, "duplicate member %q (also %s)", name, prev.path)
					} else {
						errs.add(mp, "member %q is already used by team %q (%s)", name, prev.team, prev.path)
					}
				} else {
					devices[name] = memberRef{path: mp, team: t.Name, ti: ti}
				}
				// Two af_packet ports on one kernel interface are the same
				// port under different names.
				if m.Kind() == "net_af_packet" && !dupName {
					iface := m.Args()["iface"]
					if prev, dup := ifaces[iface]; dup {
						errs.add(mp, "duplicate member %q: interface %q is also used by %s", m.Device, iface, prev.path)
					} else {
						ifaces[iface] = memberRef{path: mp, team: t.Name, ti: ti}
					}
					if _, ok := kernel[iface]; !ok {
						kernel[iface] = mp
					}
				}
			}

			switch m.Role {
			case RolePrimary:
				if primary >= 0 {
					errs.add(mp+".role", "more than one primary member (also %s.members[%d])", tp, primary)
				} else {
					primary = mi
				}
				active++
			case RoleNormal:
				active++
			case RoleStandby:
			default:
				errs.add(mp+".role", "invalid role %q: want %q, %q or none", m.Role, RolePrimary, RoleStandby)
				active++ // do not also complain that all members are standby
			}

			if m.LACPPortPriority != 0 {
				checkRange(errs, mp+".lacp_port_priority", m.LACPPortPriority, 1, 65535)
				if t.Mode != ModeLACP {
					errs.add(mp+".lacp_port_priority", "port priorities are for lacp teams")
				}
			}

			if m.Carrier != "" && (devOK || m.Carrier != m.carrierDefault()) {
				if !validIfname(m.Carrier) {
					errs.add(mp+".carrier", "invalid carrier interface %q: want a kernel interface name of 1 to 15 characters", m.Carrier)
				} else if _, ok := kernel[m.Carrier]; !ok {
					kernel[m.Carrier] = mp + ".carrier"
				}
			}
		}
		if len(t.Members) > 0 && active == 0 {
			errs.add(tp+".members", "all members are standby: at least one must be active")
		}
		t.validateVLANs(errs, tp, names)
	}

	// A team's TAP interface must not take the name of a kernel interface
	// that a member uses.
	for ti, t := range c.Teams {
		if p, clash := kernel[t.Name]; clash {
			errs.add(fmt.Sprintf("team[%d].name", ti), "team name %q is also the kernel interface of %s", t.Name, p)
		}
	}
}

// MaxVLANs is the most VLANs a team may have (Broadcom BASP's limit).
const MaxVLANs = 64

// validateVLANs checks the team's VLANs; their interface names join the
// set of names that must not collide.
func (t *Team) validateVLANs(errs *Error, tp string, names map[string]int) {
	if len(t.VLANs) > MaxVLANs {
		errs.add(tp+".vlan", "a team has at most %d VLANs, got %d", MaxVLANs, len(t.VLANs))
	}
	ids := map[int]int{}
	for i, v := range t.VLANs {
		vp := fmt.Sprintf("%s.vlan[%d]", tp, i)
		if v.ID < 1 || v.ID > 4094 {
			errs.add(vp+".id", "VLAN id must be between 1 and 4094, got %d", v.ID)
		} else if j, dup := ids[v.ID]; dup {
			errs.add(vp+".id", "duplicate VLAN %d (also %s.vlan[%d])", v.ID, tp, j)
		} else {
			ids[v.ID] = i
		}
		if v.Name != "" {
			if v.Name == "." || v.Name == ".." || !teamNameRe.MatchString(v.Name) {
				errs.add(vp+".name", "invalid interface name %q: 1 to 15 characters from [A-Za-z0-9_.-] (name it explicitly if \"<team>.<id>\" is too long)", v.Name)
			} else if _, dup := names[v.Name]; dup {
				errs.add(vp+".name", "interface name %q is already used", v.Name)
			} else {
				names[v.Name] = -1
			}
		}
		for k, a := range v.Addresses {
			if msg := checkPrefix(a); msg != "" {
				errs.add(fmt.Sprintf("%s.addresses[%d]", vp, k), "%s", msg)
			}
		}
	}
}

// validateAddresses checks the team's addresses. After SetDefaults, Address
// is the first entry of Addresses; problems with it are reported under
// "address" and the others under "addresses" with their index in the
// configured list.
func (t *Team) validateAddresses(errs *Error, tp string) {
	if t.Address != "" && !contains(t.Addresses, t.Address) {
		// SetDefaults was not called; check Address on its own.
		if msg := checkPrefix(t.Address); msg != "" {
			errs.add(tp+".address", "%s", msg)
		}
	}
	offset := 0
	for i, a := range t.Addresses {
		p := fmt.Sprintf("%s.addresses[%d]", tp, i-offset)
		if i == 0 && t.Address != "" && a == t.Address {
			p = tp + ".address"
			offset = 1
		}
		if msg := checkPrefix(a); msg != "" {
			errs.add(p, "%s", msg)
		}
	}
}

// checkPrefix returns what is wrong with an interface address in CIDR form.
func checkPrefix(s string) string {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Sprintf("invalid address %q: want an address with prefix length, such as \"192.0.2.1/24\" or \"2001:db8::1/64\"", s)
	}
	a := p.Addr()
	switch {
	case a.IsUnspecified():
		return fmt.Sprintf("address %q is unspecified", s)
	case a.IsMulticast():
		return fmt.Sprintf("address %q is a multicast address", s)
	case a.Is4() && p.Bits() < 31:
		if a == p.Masked().Addr() {
			return fmt.Sprintf("address %q is the network address of its subnet", s)
		}
		if a == lastAddr(p) {
			return fmt.Sprintf("address %q is the broadcast address of its subnet", s)
		}
	}
	return ""
}

// lastAddr returns the highest address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(b)
}

// checkMAC returns what is wrong with a team MAC address.
func checkMAC(s string) string {
	bad := fmt.Sprintf("invalid mac address %q: want six colon-separated hex octets, such as \"02:00:00:00:00:01\"", s)
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return bad
	}
	var mac [6]byte
	for i, p := range parts {
		if len(p) != 2 || !isHex(p) {
			return bad
		}
		v, _ := strconv.ParseUint(p, 16, 8)
		mac[i] = byte(v)
	}
	if mac == [6]byte{} {
		return fmt.Sprintf("mac address %q is all zeros", s)
	}
	if mac[0]&1 != 0 {
		return fmt.Sprintf("mac address %q is a multicast address: the lowest bit of the first octet must be 0", s)
	}
	return ""
}

func checkRange(errs *Error, p string, v, lo, hi int) {
	if v < lo || v > hi {
		errs.add(p, "must be between %d and %d, got %d", lo, hi, v)
	}
}

func checkFloat(errs *Error, p string, v, lo, hi float64) {
	if !(v >= lo && v <= hi) { // NaN too
		errs.add(p, "must be between %g and %g, got %g", lo, hi, v)
	}
}

func checkDuration(errs *Error, p string, d, lo, hi time.Duration) {
	if d < lo || d > hi {
		errs.add(p, "must be between %s and %s, got %q", fmtDuration(lo), fmtDuration(hi), d.String())
	}
}

// fmtDuration formats limits the way they are documented ("0", "1ms",
// "10m") rather than as "10m0s".
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func checkOneOf(errs *Error, p, what, v string, valid []string) {
	if contains(valid, v) {
		return
	}
	quoted := make([]string, 0, len(valid))
	for _, s := range valid {
		if s != "" {
			quoted = append(quoted, strconv.Quote(s))
		}
	}
	errs.add(p, "invalid %s %q: want one of %s", what, v, strings.Join(quoted, ", "))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// memberPath returns the path of member j of team i.
func memberPath(i, j int) string {
	return fmt.Sprintf("team[%d].members[%d]", i, j)
}
