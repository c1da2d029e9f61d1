// Package bench is the in-process harness of teamgw's DPDK benchmarks
// (txbench, rxbench): it starts the EAL, builds net_null and net_ring
// ports and the forwarding state of a team over them, runs contenders on
// pinned, EAL-registered threads in alternating rounds, and reports
// medians with their range, paired ratios and instructions per packet.
package bench

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/teamgw/teamgw/dataplane"
	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/dpdk/dpdktest"
	"github.com/teamgw/teamgw/dataplane/frame"
	"github.com/teamgw/teamgw/slb"
)

// Start reserves hugepages and starts the EAL (main lcore on CPU 0) for a
// benchmark binary, with the PCI devices pci (none: --no-pci); the returned
// function cleans up.
func Start(name string, memoryMB int, pci ...string) (func(), error) {
	if err := dpdktest.EnsureHugepages(memoryMB + 256); err != nil {
		return nil, err
	}
	prefix := fmt.Sprintf("%s-%d", name, os.Getpid())
	if err := dpdk.Init(dpdk.EALConfig{MainCore: 0, Hugepages: true, MemoryMB: memoryMB, FilePrefix: prefix, LogLevel: "error", PCI: pci}); err != nil {
		return nil, err
	}
	return func() { dpdk.Cleanup() }, nil
}

// StartNoHuge starts the EAL as Start does but on ordinary memory
// (--no-huge), without PCI devices: for running a benchmark under tools
// that cannot map hugepages, such as valgrind.
func StartNoHuge(name string, memoryMB int) (func(), error) {
	prefix := fmt.Sprintf("%s-%d", name, os.Getpid())
	if err := dpdk.Init(dpdk.EALConfig{MainCore: 0, MemoryMB: memoryMB, FilePrefix: prefix, LogLevel: "error"}); err != nil {
		return nil, err
	}
	return func() { dpdk.Cleanup() }, nil
}

var seq atomic.Uint32

// Name returns a device name unique in the process, e.g. "net_null_tx3".
func Name(prefix string) string { return fmt.Sprintf("%s%d", prefix, seq.Add(1)) }

// StartPort configures queues queue pairs on p and starts it.
func StartPort(p *dpdk.Port, pool *dpdk.Mempool, queues int) error {
	if err := p.Configure(dpdk.PortConfig{RxQueues: uint16(queues), TxQueues: uint16(queues), Pool: pool}); err != nil {
		return err
	}
	return p.Start()
}

// NullPorts probes n net_null ports with extra devargs (",no-rx=1" for
// pure sinks) and, if queues > 0, starts them with that many queue pairs.
func NullPorts(n int, pool *dpdk.Mempool, extra string, queues int) ([]*dpdk.Port, error) {
	var ps []*dpdk.Port
	for range n {
		p, err := dpdk.Probe(Name("net_null_b") + extra)
		if err != nil {
			RemovePorts(ps)
			return nil, err
		}
		ps = append(ps, p)
		if queues > 0 {
			if err := StartPort(p, pool, queues); err != nil {
				RemovePorts(ps)
				return nil, err
			}
		}
	}
	return ps, nil
}

// IsPCI reports whether devargs names a PCI device ("0000:03:00.0",
// optionally with arguments).
func IsPCI(devargs string) bool {
	name, _, _ := strings.Cut(devargs, ",")
	var dom, bus, dev, fn int
	n, err := fmt.Sscanf(name, "%x:%x:%x.%x", &dom, &bus, &dev, &fn)
	return err == nil && n == 4
}

// Ports attaches devices by devargs — PCI devices the EAL probed at
// start (see Start), or vdevs — and starts them with queues queue pairs.
func Ports(devargs []string, pool *dpdk.Mempool, queues int) ([]*dpdk.Port, error) {
	var ps []*dpdk.Port
	for _, d := range devargs {
		var p *dpdk.Port
		var err error
		if IsPCI(d) {
			name, _, _ := strings.Cut(d, ",")
			p, err = dpdk.PortByName(name)
		} else {
			p, err = dpdk.Probe(d)
		}
		if err == nil {
			ps = append(ps, p)
			err = StartPort(p, pool, queues)
		}
		if err != nil {
			RemovePorts(ps)
			return nil, err
		}
	}
	return ps, nil
}

// TxPackets sums the packets the ports' devices have sent.
func TxPackets(ps []*dpdk.Port) uint64 {
	var n uint64
	for _, p := range ps {
		if s, err := p.Stats(); err == nil {
			n += s.TxPackets
		}
	}
	return n
}

// Bond probes DPDK's net_bonding over members with args (e.g.
// "mode=2,xmit_policy=l34") and starts it with queues queue pairs.
func Bond(members []*dpdk.Port, args string, pool *dpdk.Mempool, queues int) (*dpdk.Port, error) {
	devargs := Name("net_bonding_b") + "," + args
	for _, m := range members {
		devargs += ",slave=" + m.Name
	}
	b, err := dpdk.Probe(devargs)
	if err != nil {
		return nil, err
	}
	if err := StartPort(b, pool, queues); err != nil {
		RemovePorts([]*dpdk.Port{b})
		return nil, err
	}
	return b, nil
}

// RemovePorts stops and removes ports, last first.
func RemovePorts(ps []*dpdk.Port) {
	for i := len(ps) - 1; i >= 0; i-- {
		ps[i].Stop()
		ps[i].Remove()
	}
}

// Prefill writes frames, cycled, into every mbuf of pool and returns
// them. A net_null port receiving from such a pool hands out real frames:
// its RX only sets lengths, so a benchmark can read frames off net_null
// ports as testpmd does. The frames stay valid as long as nothing changes
// them in place (the receive path does not for unicast to the team MAC).
// Call it on a fresh pool, before ports start. It holds its OS thread
// throughout: a goroutine that moved between the EAL's main thread and
// another thread would leave mbufs in lcore 0's cache that it cannot see
// from the other, and miss them.
func Prefill(pool *dpdk.Mempool, frames [][]byte) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all []*dpdk.Mbuf
	for {
		m := pool.Alloc()
		if m == nil {
			break
		}
		all = append(all, m)
	}
	defer func() {
		for _, m := range all {
			m.Free()
		}
	}()
	for i, m := range all {
		if !m.SetData(frames[i%len(frames)]) {
			return 0, fmt.Errorf("bench: frame %d does not fit an mbuf", i%len(frames))
		}
	}
	return len(all), nil
}

// Team is the forwarding state control would publish for a team of these
// members, all up and (LACP) collecting and distributing: buckets dealt by
// slb.Assign, member 0 the path member. In SLB the other members transmit
// with their own MACs; an LACP team forwards as a trunk and hands slow
// protocols to control.
func Team(mode string, mac frame.MAC, members []*dpdk.Port) (dataplane.TeamState, error) {
	ts := dataplane.SingleMember(mac, len(members), 0)
	switch mode {
	case "slb":
		ts.Mode = dataplane.ModeSLB
	case "trunk":
		ts.Mode = dataplane.ModeTrunk
	case "lacp":
		ts.Mode = dataplane.ModeTrunk
		ts.SlowToControl = true
	default:
		return ts, fmt.Errorf("bench: unknown team mode %q", mode)
	}
	active := make([]bool, len(members))
	for i, p := range members {
		active[i] = true
		ts.RxMask |= 1 << i
		if mode == "slb" && i > 0 {
			hw, err := p.MAC()
			if err != nil {
				return ts, err
			}
			m, _ := frame.MACFrom(hw)
			ts.SetSourceMAC(i, m)
			ts.WireMAC[i] = m
		}
	}
	table, _ := slb.Assign(nil, active, nil, nil)
	for b := range ts.Table {
		ts.Table[b] = int8(table[b%len(table)])
	}
	return ts, nil
}

// Worker builds a benchmark worker with id (its queue on every port) for
// one team whose kernel-facing port is tap, forwarding by state. The
// caller polls it (Worker.Poll) on a registered thread and frees it.
func Worker(id int, state dataplane.TeamState, tap *dpdk.Port, members []*dpdk.Port) (*dataplane.Worker, error) {
	var snap atomic.Pointer[dataplane.Snapshot]
	s := &dataplane.Snapshot{}
	s.Teams[0] = state
	snap.Store(s)
	return dataplane.NewWorker(dataplane.WorkerConfig{ID: id, Core: -1, Teams: []dataplane.TeamPorts{{Tap: tap, Members: members}}, Snapshot: &snap})
}

// PollSteps polls w steps times and flushes; it returns the packets
// handled.
func PollSteps(w *dataplane.Worker, steps int) uint64 {
	var pkts uint64
	for range steps {
		pkts += uint64(w.Poll())
	}
	w.IO().Flush()
	w.PublishCounters()
	return pkts
}
