package configs

import (
	"fmt"
	"net/netip"
	"runtime"
	"time"
)

// Team modes.
const (
	ModeSLB   = "slb"   // smart load balancing with failover (BASP SLB)
	ModeTrunk = "trunk" // static link aggregation (generic trunking)
	ModeLACP  = "lacp"  // IEEE 802.3ad dynamic link aggregation
)

// Default values filled in by SetDefaults.
const (
	DefaultMemoryMB      = 512
	DefaultLogLevel      = "warning"
	DefaultMbufs         = 32767
	DefaultSocket        = "/run/teamgw/teamgw.sock"
	DefaultMetrics       = "127.0.0.1:9469"
	DefaultLinkPoll      = 10 * time.Millisecond
	DefaultLogFormat     = "text"
	DefaultMode          = ModeSLB
	DefaultMTU           = 1500
	DefaultFallbackDelay = 1500 * time.Millisecond // as in Broadcom BASP
	DefaultGARPCount     = 3
	DefaultGARPInterval  = 100 * time.Millisecond
	// DefaultRebalanceInterval is how often the outbound flow table is
	// rebalanced.
	DefaultRebalanceInterval = 10 * time.Second
	// Receive balancing by traffic (SLB): the least time between two
	// rounds, the imbalance that starts one and the gain a move must
	// bring (fractions of the mean member load), and the least time
	// between two moves of one client.
	DefaultRxBalanceInterval  = 10 * time.Second
	DefaultRxBalanceThreshold = 0.25
	DefaultRxBalanceMinGain   = 0.05
	DefaultRxBalanceCooldown  = time.Minute
)

// MetricsOff is the Control.Metrics value that disables the metrics
// endpoint.
const MetricsOff = "off"

// Limits checked by Validate.
const (
	MaxTeams       = 4 // teams per gateway, as in Broadcom BASP
	MinMembers     = 1 // members per team: one is a team waiting for its second (as bonding and teamd allow)
	MaxMembers     = 8 // members per team, as in Broadcom BASP
	MaxWorkerCores = 8
)

// DefaultWorkerCores returns the default worker lcore list: one worker on
// the highest CPU id.
func DefaultWorkerCores() []int {
	return []int{runtime.NumCPU() - 1}
}

// SetDefaults fills in every setting that was left unset. A zero number, an
// empty string, an empty list and a nil pointer count as unset, except for
// a team's fallback_delay, garp_count, rebalance_interval and
// rx_balance_interval, for which zero is a valid setting:
// when they were written in the file, an explicit zero is kept (as it is
// for rx_balance_threshold and rx_balance_min_gain, so that validation
// refuses it rather than the default replacing it).
//
// SetDefaults also merges a team's Address into Addresses, Address first,
// and removes duplicate addresses. It is idempotent and is called by Parse
// and Load before validation.
func (c *Config) SetDefaults() {
	c.EAL.setDefaults()
	c.Control.setDefaults()
	for i := range c.Teams {
		c.Teams[i].setDefaults()
	}
}

func (e *EAL) setDefaults() {
	if e.Hugepages == nil {
		e.Hugepages = boolPtr(true)
	}
	if e.MemoryMB == 0 {
		e.MemoryMB = DefaultMemoryMB
	}
	if e.LogLevel == "" {
		e.LogLevel = DefaultLogLevel
	}
	if len(e.WorkerCores) == 0 {
		e.WorkerCores = DefaultWorkerCores()
	}
	if e.Mbufs == 0 {
		e.Mbufs = DefaultMbufs
	}
}

func (c *Control) setDefaults() {
	if c.Socket == "" {
		c.Socket = DefaultSocket
	}
	if c.Metrics == "" {
		c.Metrics = DefaultMetrics
	}
	if c.LinkPoll.Duration == 0 {
		c.LinkPoll.Duration = DefaultLinkPoll
	}
	if c.LogFormat == "" {
		c.LogFormat = DefaultLogFormat
	}
}

func (t *Team) setDefaults() {
	if t.Mode == "" {
		t.Mode = DefaultMode
	}
	if t.MTU == 0 {
		t.MTU = DefaultMTU
	}
	if t.FallbackDelay.Duration == 0 && t.explicit&keyFallbackDelay == 0 {
		t.FallbackDelay.Duration = DefaultFallbackDelay
	}
	if t.AutoFallback == nil {
		t.AutoFallback = boolPtr(true)
	}
	if t.GARPCount == 0 && t.explicit&keyGARPCount == 0 {
		t.GARPCount = DefaultGARPCount
	}
	if t.GARPInterval.Duration == 0 {
		t.GARPInterval.Duration = DefaultGARPInterval
	}
	if t.ProbeInterval.Duration == 0 {
		t.ProbeInterval.Duration = time.Second
	}
	if t.ProbeMisses == 0 {
		t.ProbeMisses = 3
	}
	if t.LearningInterval.Duration == 0 {
		t.LearningInterval.Duration = 30 * time.Second
	}
	if t.LACPActive == nil {
		t.LACPActive = boolPtr(true)
	}
	if t.LACPRate == "" {
		t.LACPRate = "slow"
	}
	if t.LACPSystemPriority == 0 {
		t.LACPSystemPriority = 32768
	}
	if t.LACPFallback == "" {
		t.LACPFallback = "strict"
	}
	if t.RebalanceInterval.Duration == 0 && t.explicit&keyRebalanceInterval == 0 {
		t.RebalanceInterval.Duration = DefaultRebalanceInterval
	}
	if t.RxBalanceInterval.Duration == 0 && t.explicit&keyRxBalanceInterval == 0 {
		t.RxBalanceInterval.Duration = DefaultRxBalanceInterval
	}
	if t.RxBalanceThreshold == 0 && t.explicit&keyRxBalanceThreshold == 0 {
		t.RxBalanceThreshold = DefaultRxBalanceThreshold
	}
	if t.RxBalanceMinGain == 0 && t.explicit&keyRxBalanceMinGain == 0 {
		t.RxBalanceMinGain = DefaultRxBalanceMinGain
	}
	if t.RxBalanceCooldown.Duration == 0 {
		t.RxBalanceCooldown.Duration = DefaultRxBalanceCooldown
	}
	t.Addresses = mergeAddresses(t.Address, t.Addresses)
	for i := range t.VLANs {
		if v := &t.VLANs[i]; v.Name == "" {
			v.Name = fmt.Sprintf("%s.%d", t.Name, v.ID)
		}
	}
	for i := range t.Members {
		m := &t.Members[i]
		if m.Carrier == "" {
			m.Carrier = m.carrierDefault()
		}
	}
}

// mergeAddresses returns addrs with addr (if set) first and without
// duplicates. Addresses that parse as prefixes are compared in their
// canonical form, so "2001:DB8::1/64" and "2001:db8::1/64" are the same;
// the first spelling is kept.
func mergeAddresses(addr string, addrs []string) []string {
	if addr == "" && len(addrs) == 0 {
		return addrs
	}
	all := make([]string, 0, len(addrs)+1)
	if addr != "" {
		all = append(all, addr)
	}
	all = append(all, addrs...)
	seen := make(map[string]bool, len(all))
	out := make([]string, 0, len(all))
	for _, a := range all {
		key := a
		if p, err := netip.ParsePrefix(a); err == nil {
			key = p.String()
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, a)
		}
	}
	return out
}

// HugepagesEnabled reports whether DPDK runs on hugepages (the default).
func (e EAL) HugepagesEnabled() bool {
	return e.Hugepages == nil || *e.Hugepages
}

// AutoFallbackEnabled reports whether traffic returns to the primary member
// automatically once it has recovered (the default).
func (t Team) AutoFallbackEnabled() bool {
	return t.AutoFallback == nil || *t.AutoFallback
}

// PrimaryIndex returns the index of the member whose role is primary, or
// else of the first member that is not a standby, or else 0.
func (t Team) PrimaryIndex() int {
	for i, m := range t.Members {
		if m.Role == RolePrimary {
			return i
		}
	}
	for i, m := range t.Members {
		if m.Role != RoleStandby {
			return i
		}
	}
	return 0
}

func boolPtr(b bool) *bool { return &b }
