package configs

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"
)

// Member roles.
const (
	RoleNormal  = ""        // an ordinary active member
	RolePrimary = "primary" // the member traffic prefers and falls back to
	RoleStandby = "standby" // a member used only when no other member is up
)

// Member is one port of a team.
//
// In TOML a member is either a devargs string or an inline table with the
// keys device, role and carrier; both forms may be mixed in one array.
type Member struct {
	// Device is the DPDK devargs of the port: a PCI address ("0000:03:00.0"
	// or "03:00.0") or a vdev name ("net_af_packet0", "net_null0", ...),
	// optionally followed by ",key=value" arguments.
	Device string `toml:"device"`
	// Role is "" (an ordinary member), "primary" or "standby".
	Role string `toml:"role"`
	// Carrier is the kernel interface whose carrier is watched through
	// netlink. It defaults to the iface= argument of net_af_packet devices
	// and to "" (no carrier watch) otherwise.
	Carrier string `toml:"carrier"`
	// LACPPortPriority is the member's 802.1AX actor port priority, 1 to
	// 65535 (0 = the default, 32768); lacp teams only. Among ports that
	// cannot all be aggregated, the lower value is preferred.
	LACPPortPriority int `toml:"lacp_port_priority"`

	// problems holds what went wrong while decoding the member, one
	// "subpath\tmessage" entry per line; see decodeProblems.
	problems string
}

// memberKeys are the keys of a member table.
var memberKeys = []string{"device", "role", "carrier", "lacp_port_priority"}

// UnmarshalTOML decodes a member from either a devargs string or a table
// with the keys device, role, carrier and lacp_port_priority. Unknown keys and values of the
// wrong type are not returned as errors but recorded in the member, so that
// they can be reported with the member's path by Validate (and by Parse,
// before validation).
func (m *Member) UnmarshalTOML(v any) error {
	*m = Member{}
	switch v := v.(type) {
	case string:
		m.Device = v
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			var dst *string
			switch k {
			case "device":
				dst = &m.Device
			case "role":
				dst = &m.Role
			case "carrier":
				dst = &m.Carrier
			case "lacp_port_priority":
				n, ok := v[k].(int64)
				if !ok {
					m.addProblem("."+k, fmt.Sprintf("must be an integer, got %s", tomlType(v[k])))
					continue
				}
				m.LACPPortPriority = int(min(max(n, -1), 1<<20))
				continue
			default:
				m.addProblem("", fmt.Sprintf("unknown key %q (member keys are %s)", k, strings.Join(memberKeys, ", ")))
				continue
			}
			s, ok := v[k].(string)
			if !ok {
				m.addProblem("."+k, fmt.Sprintf("must be a string, got %s", tomlType(v[k])))
				continue
			}
			*dst = s
		}
	default:
		m.addProblem("", fmt.Sprintf("a member must be a devargs string or a table with keys %s, got %s", strings.Join(memberKeys, ", "), tomlType(v)))
	}
	return nil
}

func (m *Member) addProblem(subpath, msg string) {
	if m.problems != "" {
		m.problems += "\n"
	}
	m.problems += subpath + "\t" + msg
}

// decodeProblems adds the problems recorded by UnmarshalTOML to errs,
// under the member's path.
func (m *Member) decodeProblems(errs *Error, path string) {
	if m.problems == "" {
		return
	}
	for _, p := range strings.Split(m.problems, "\n") {
		sub, msg, _ := strings.Cut(p, "\t")
		errs.add(path+sub, "%s", msg)
	}
}

// tomlType names the TOML type of a decoded value.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case time.Time:
		return "datetime"
	case []map[string]any:
		return "array of tables"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// Name returns the device name: the devargs before the first comma. A PCI
// address is returned in its full lower-case form, so "03:00.0" becomes
// "0000:03:00.0".
func (m Member) Name() string {
	name, _, _ := strings.Cut(m.Device, ",")
	if pci, ok := parsePCI(name); ok {
		return pci
	}
	return name
}

// Args returns the key=value arguments that follow the device name. An
// argument without "=" maps to the empty string; when a key repeats, the
// last value wins.
func (m Member) Args() map[string]string {
	args := make(map[string]string)
	_, rest, _ := strings.Cut(m.Device, ",")
	for _, seg := range strings.Split(rest, ",") {
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		args[k] = v
	}
	return args
}

// IsPCI reports whether the device is a PCI address.
func (m Member) IsPCI() bool {
	name, _, _ := strings.Cut(m.Device, ",")
	_, ok := parsePCI(name)
	return ok
}

// Kind returns "pci" for a PCI device and the vdev driver (such as
// "net_af_packet" or "net_null") for a virtual device. It returns "" for a
// device name that is neither.
func (m Member) Kind() string {
	name, _, _ := strings.Cut(m.Device, ",")
	if _, ok := parsePCI(name); ok {
		return "pci"
	}
	return vdevDriver(name)
}

// carrierDefault returns the carrier interface a member watches when none
// is configured.
func (m Member) carrierDefault() string {
	if m.Kind() == "net_af_packet" {
		return m.Args()["iface"]
	}
	return ""
}

// vdevDrivers are the DPDK virtual device drivers teamgw accepts as team
// members.
var vdevDrivers = []string{
	"net_af_packet",
	"net_af_xdp",
	"net_bonding",
	"net_failsafe",
	"net_memif",
	"net_null",
	"net_pcap",
	"net_ring",
	"net_tap",
	"net_tun",
	"net_vhost",
	"net_virtio_user",
}

// repeatableArgs lists, per driver, the devargs keys that may be given more
// than once.
var repeatableArgs = map[string][]string{
	"net_bonding":  {"slave", "member"},
	"net_failsafe": {"dev", "exec"},
}

// reservedPrefix starts the names of the TAP ports teamgw creates itself.
const reservedPrefix = "net_tap_tg"

var vdevName = regexp.MustCompile(`^net_[a-z_]+[a-z0-9_]*$`)

// vdevDriver returns the known driver a vdev name belongs to: the longest
// known driver name that is a prefix of it, as DPDK's vdev bus matches
// names. It returns "" when the name is not a vdev name of a known driver.
func vdevDriver(name string) string {
	if !vdevName.MatchString(name) {
		return ""
	}
	best := ""
	for _, d := range vdevDrivers {
		if strings.HasPrefix(name, d) && len(d) > len(best) {
			best = d
		}
	}
	return best
}

// parsePCI parses a PCI address as DDDD:BB:DD.F or BB:DD.F (hexadecimal
// domain, bus and device, decimal function) and returns it in the canonical
// DDDD:BB:DD.F lower-case form.
func parsePCI(s string) (string, bool) {
	parts := strings.Split(s, ":")
	domain := "0000"
	switch len(parts) {
	case 2:
	case 3:
		domain, parts = parts[0], parts[1:]
		if len(domain) != 4 || !isHex(domain) {
			return "", false
		}
	default:
		return "", false
	}
	bus := parts[0]
	dev, fn, ok := strings.Cut(parts[1], ".")
	if !ok || len(bus) != 2 || !isHex(bus) || len(dev) != 2 || !isHex(dev) || len(fn) != 1 {
		return "", false
	}
	if dev[0] > '1' || fn[0] < '0' || fn[0] > '7' {
		return "", false // device is at most 0x1f, function at most 7
	}
	return strings.ToLower(domain + ":" + bus + ":" + dev + "." + fn), true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// checkDevargs returns what is wrong with a member's devargs, or "".
func checkDevargs(dev string) string {
	if dev == "" {
		return "device is required"
	}
	if strings.IndexFunc(dev, unicode.IsSpace) >= 0 {
		return fmt.Sprintf("device %q contains whitespace", dev)
	}
	segs := strings.Split(dev, ",")
	name := segs[0]
	driver := ""
	switch {
	case name == "":
		return fmt.Sprintf("device %q has no name before the first comma", dev)
	case strings.HasPrefix(name, reservedPrefix):
		return fmt.Sprintf("device name %q is reserved: names starting with %q are the kernel-facing ports teamgw creates itself", name, reservedPrefix)
	case strings.Contains(name, ":"):
		if _, ok := parsePCI(name); !ok {
			return fmt.Sprintf("invalid pci address %q: want DDDD:BB:DD.F or BB:DD.F, for example \"0000:03:00.0\"", name)
		}
		driver = "pci"
	case vdevName.MatchString(name):
		driver = vdevDriver(name)
		if driver == "" {
			return fmt.Sprintf("unknown vdev driver in %q (known drivers include net_af_packet, net_af_xdp, net_memif, net_null, net_pcap, net_ring, net_tap, net_vhost and net_virtio_user)", name)
		}
	default:
		msg := fmt.Sprintf("device name %q is neither a pci address (such as \"0000:03:00.0\") nor a vdev name (such as \"net_af_packet0\")", name)
		if validIfname(name) {
			msg += fmt.Sprintf("; to use kernel interface %s write \"net_af_packet0,iface=%s\"", name, name)
		}
		return msg
	}

	seen := make(map[string]bool)
	for _, seg := range segs[1:] {
		if seg == "" {
			return fmt.Sprintf("device %q has an empty argument (stray comma)", dev)
		}
		k, v, ok := strings.Cut(seg, "=")
		if !ok {
			return fmt.Sprintf("argument %q of device %q is not key=value", seg, dev)
		}
		if k == "" {
			return fmt.Sprintf("argument %q of device %q has an empty key", seg, dev)
		}
		if seen[k] && !repeatable(driver, k) {
			return fmt.Sprintf("argument %q is given twice in device %q", k, dev)
		}
		seen[k] = true
		if driver == "net_af_packet" && k == "iface" && v != "" && !validIfname(v) {
			return fmt.Sprintf("iface %q of device %q is not a valid kernel interface name", v, dev)
		}
	}
	if driver == "net_af_packet" && !hasNonEmptyArg(segs[1:], "iface") {
		return fmt.Sprintf("net_af_packet device %q needs an iface= argument naming its kernel interface", dev)
	}
	return ""
}

func repeatable(driver, key string) bool {
	for _, k := range repeatableArgs[driver] {
		if k == key {
			return true
		}
	}
	return false
}

func hasNonEmptyArg(segs []string, key string) bool {
	for _, seg := range segs {
		if k, v, _ := strings.Cut(seg, "="); k == key && v != "" {
			return true
		}
	}
	return false
}

// validIfname reports whether s is a usable Linux network interface name:
// 1 to 15 printable ASCII characters other than '/', ':' and space, and not
// "." or "..". (The kernel itself forbids only '/', ':', whitespace and
// "." or "..", but other bytes only make trouble in scripts and logs.)
func validIfname(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '/' || c == ':' {
			return false
		}
	}
	return true
}
