package dpdk

/*
#include <stdlib.h>
#include <rte_ethdev.h>
#include <rte_dev.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"net"
	"strings"
	"unsafe"
)

// Port is an ethdev port: a member NIC, a virtual device or the team's TAP.
type Port struct {
	ID      uint16
	Name    string // the device name (devargs before the first comma)
	Devargs string
	// TxOffloads are the TX offloads (TxOffload*) Configure enabled.
	TxOffloads uint64
}

// Probe attaches the device described by devargs (a PCI address or a vdev
// such as "net_af_packet0,iface=eth1") and returns its port. It is the hot
// add path too: devices can be probed at any time after Init.
func Probe(devargs string) (*Port, error) {
	name, _, _ := strings.Cut(devargs, ",")
	cs := C.CString(devargs)
	defer C.free(unsafe.Pointer(cs))
	if rc := C.rte_dev_probe(cs); rc < 0 {
		return nil, errnoErr("probe", devargs, rc)
	}
	p, err := PortByName(name)
	if err != nil {
		return nil, err
	}
	p.Devargs = devargs
	return p, nil
}

// PortByName finds an attached port by its device name.
func PortByName(name string) (*Port, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	var id C.uint16_t
	if rc := C.rte_eth_dev_get_port_by_name(cs, &id); rc < 0 {
		return nil, errnoErr("find port", name, rc)
	}
	return &Port{ID: uint16(id), Name: name}, nil
}

func (p *Port) err(op string, rc C.int) error { return errnoErr(op, p.Name, rc) }

// PortConfig is what Configure sets up.
type PortConfig struct {
	RxQueues, TxQueues uint16
	RxDesc, TxDesc     uint16 // 0 = 1024
	MTU                uint32 // 0 = leave the device default
	RSS                bool   // spread RX over queues by IP/TCP/UDP hash
	LSC                bool   // request link-state-change interrupts if the PMD has them
	// TxOffloads are the TX offloads (TxOffload*) wanted; those the
	// device offers are enabled and recorded in Port.TxOffloads.
	TxOffloads uint64
	Pool       *Mempool
}

// Configure configures the device and sets up its queues; the port must be
// stopped.
func (p *Port) Configure(c PortConfig) error {
	if c.Pool == nil {
		return &Error{Op: "configure", Port: p.Name, Err: fmt.Errorf("no mempool")}
	}
	if c.RxDesc == 0 {
		c.RxDesc = 1024
	}
	if c.TxDesc == 0 {
		c.TxDesc = 1024
	}
	conf := C.struct_tg_port_conf{
		rx_queues: C.uint16_t(c.RxQueues), tx_queues: C.uint16_t(c.TxQueues),
		rx_desc: C.uint16_t(c.RxDesc), tx_desc: C.uint16_t(c.TxDesc),
		mtu: C.uint32_t(c.MTU),
	}
	if c.RSS {
		conf.rss = 1
	}
	if c.LSC {
		conf.lsc = 1
	}
	conf.tx_offloads = C.uint64_t(c.TxOffloads)
	if err := p.err("configure", C.tg_port_configure(C.uint16_t(p.ID), &conf, c.Pool.c)); err != nil {
		return err
	}
	p.TxOffloads = uint64(conf.tx_offloads)
	return nil
}

// Start starts the port.
func (p *Port) Start() error { return p.err("start", C.rte_eth_dev_start(C.uint16_t(p.ID))) }

// Stop stops the port.
func (p *Port) Stop() error { return p.err("stop", C.rte_eth_dev_stop(C.uint16_t(p.ID))) }

// Close releases the port's resources; the device stays attached.
func (p *Port) Close() error { return p.err("close", C.rte_eth_dev_close(C.uint16_t(p.ID))) }

// Remove closes the port and detaches its device (hot unplug). For a
// net_tap port this deletes the kernel interface.
func (p *Port) Remove() error { return p.err("remove", C.tg_port_remove(C.uint16_t(p.ID))) }

// SetMTU sets the MTU.
func (p *Port) SetMTU(mtu uint16) error {
	return p.err("set mtu", C.rte_eth_dev_set_mtu(C.uint16_t(p.ID), C.uint16_t(mtu)))
}

// MAC is the port's primary MAC address.
func (p *Port) MAC() (net.HardwareAddr, error) {
	var a C.struct_rte_ether_addr
	if rc := C.rte_eth_macaddr_get(C.uint16_t(p.ID), &a); rc < 0 {
		return nil, p.err("get mac", rc)
	}
	return C.GoBytes(unsafe.Pointer(&a.addr_bytes[0]), 6), nil
}

func etherAddr(mac net.HardwareAddr) (C.struct_rte_ether_addr, error) {
	var a C.struct_rte_ether_addr
	if len(mac) != 6 {
		return a, fmt.Errorf("bad MAC %q", mac)
	}
	for i := range 6 {
		a.addr_bytes[i] = C.uint8_t(mac[i])
	}
	return a, nil
}

// SetMAC replaces the port's primary MAC address.
func (p *Port) SetMAC(mac net.HardwareAddr) error {
	a, err := etherAddr(mac)
	if err != nil {
		return &Error{Op: "set mac", Port: p.Name, Err: err}
	}
	return p.err("set mac", C.rte_eth_dev_default_mac_addr_set(C.uint16_t(p.ID), &a))
}

// AddMAC adds a secondary unicast MAC address to the port's filter.
func (p *Port) AddMAC(mac net.HardwareAddr) error {
	a, err := etherAddr(mac)
	if err != nil {
		return &Error{Op: "add mac", Port: p.Name, Err: err}
	}
	return p.err("add mac", C.rte_eth_dev_mac_addr_add(C.uint16_t(p.ID), &a, 0))
}

// SetPromiscuous turns promiscuous mode on or off.
func (p *Port) SetPromiscuous(on bool) error {
	if on {
		return p.err("promiscuous on", C.rte_eth_promiscuous_enable(C.uint16_t(p.ID)))
	}
	return p.err("promiscuous off", C.rte_eth_promiscuous_disable(C.uint16_t(p.ID)))
}

// SetAllMulticast turns all-multicast mode on or off.
func (p *Port) SetAllMulticast(on bool) error {
	if on {
		return p.err("allmulticast on", C.rte_eth_allmulticast_enable(C.uint16_t(p.ID)))
	}
	return p.err("allmulticast off", C.rte_eth_allmulticast_disable(C.uint16_t(p.ID)))
}

// Link is a port's link state.
type Link struct {
	Up         bool
	SpeedMbps  uint32
	FullDuplex bool
	Autoneg    bool
}

// Link reads the link state without waiting (rte_eth_link_get_nowait).
func (p *Port) Link() (Link, error) {
	var l C.struct_tg_link
	if rc := C.tg_link_get_nowait(C.uint16_t(p.ID), &l); rc < 0 {
		return Link{}, p.err("link get", rc)
	}
	return Link{Up: l.up != 0, SpeedMbps: uint32(l.speed), FullDuplex: l.full_duplex != 0, Autoneg: l.autoneg != 0}, nil
}

// Info describes a device's driver and capabilities.
type Info struct {
	Driver                   string
	Name                     string
	MaxRxQueues, MaxTxQueues uint16
	MinMTU, MaxMTU           uint32
	SpeedCapa                uint32
	LSC                      bool // the PMD raises link-state-change interrupts
	RxOffloads, TxOffloads   uint64
	RSSOffloads              uint64
	MaxMACAddrs              uint16
}

// Info reads the device's information.
func (p *Port) Info() (Info, error) {
	var d C.struct_tg_dev_info
	if rc := C.tg_dev_info(C.uint16_t(p.ID), &d); rc < 0 {
		return Info{}, p.err("dev info", rc)
	}
	return Info{
		Driver:      C.GoString(&d.driver[0]),
		Name:        C.GoString(&d.name[0]),
		MaxRxQueues: uint16(d.max_rx_queues), MaxTxQueues: uint16(d.max_tx_queues),
		MinMTU: uint32(d.min_mtu), MaxMTU: uint32(d.max_mtu),
		SpeedCapa:  uint32(d.speed_capa),
		LSC:        d.dev_flags&C.RTE_ETH_DEV_INTR_LSC != 0,
		RxOffloads: uint64(d.rx_offload_capa), TxOffloads: uint64(d.tx_offload_capa),
		RSSOffloads: uint64(d.flow_type_rss_offloads),
		MaxMACAddrs: uint16(d.max_mac_addrs),
	}, nil
}

// Stats are a port's basic counters (rte_eth_stats).
type Stats struct {
	RxPackets, TxPackets, RxBytes, TxBytes uint64
	RxMissed, RxErrors, TxErrors, RxNoMbuf uint64
}

// Stats reads the basic counters.
func (p *Port) Stats() (Stats, error) {
	var s C.struct_rte_eth_stats
	if rc := C.rte_eth_stats_get(C.uint16_t(p.ID), &s); rc < 0 {
		return Stats{}, p.err("stats", rc)
	}
	return Stats{
		RxPackets: uint64(s.ipackets), TxPackets: uint64(s.opackets),
		RxBytes: uint64(s.ibytes), TxBytes: uint64(s.obytes),
		RxMissed: uint64(s.imissed), RxErrors: uint64(s.ierrors),
		TxErrors: uint64(s.oerrors), RxNoMbuf: uint64(s.rx_nombuf),
	}, nil
}

// XStats reads the extended counters by name.
func (p *Port) XStats() (map[string]uint64, error) {
	port := C.uint16_t(p.ID)
	n := C.rte_eth_xstats_get_names(port, nil, 0)
	if n < 0 {
		return nil, p.err("xstats names", n)
	}
	if n == 0 {
		return map[string]uint64{}, nil
	}
	names := make([]C.struct_rte_eth_xstat_name, n)
	vals := make([]C.struct_rte_eth_xstat, n)
	if rc := C.rte_eth_xstats_get_names(port, &names[0], C.uint(n)); rc < 0 {
		return nil, p.err("xstats names", rc)
	}
	got := C.rte_eth_xstats_get(port, &vals[0], C.uint(n))
	if got < 0 {
		return nil, p.err("xstats", got)
	}
	out := make(map[string]uint64, int(got))
	for i := 0; i < int(got) && i < int(n); i++ {
		id := vals[i].id
		if int(id) < int(n) {
			out[C.GoString(&names[id].name[0])] = uint64(vals[i].value)
		}
	}
	return out, nil
}

// SocketID is the NUMA socket of the device (0 when unknown).
func (p *Port) SocketID() int {
	s := int(C.rte_eth_dev_socket_id(C.uint16_t(p.ID)))
	if s < 0 {
		return 0
	}
	return s
}

// TX offload bits of rte_eth_dev_info.tx_offload_capa (RTE_ETH_TX_OFFLOAD_*).
const (
	TxOffloadVLANInsert = 1 << 0
	TxOffloadIPv4Csum   = 1 << 1
	TxOffloadUDPCsum    = 1 << 2
	TxOffloadTCPCsum    = 1 << 3
	TxOffloadTCPTSO     = 1 << 5
	TxOffloadUDPTSO     = 1 << 6
	TxOffloadMultiSegs  = 1 << 15
)

// TxOffloadNames spells out the TX offloads a port offers that matter to
// a team (checksums and segmentation), comma separated, or "none".
func TxOffloadNames(capa uint64) string {
	var s string
	for _, o := range []struct {
		bit  uint64
		name string
	}{{TxOffloadIPv4Csum, "ipv4-csum"}, {TxOffloadTCPCsum, "tcp-csum"}, {TxOffloadUDPCsum, "udp-csum"},
		{TxOffloadTCPTSO, "tso"}, {TxOffloadUDPTSO, "uso"}, {TxOffloadVLANInsert, "vlan-insert"}, {TxOffloadMultiSegs, "multi-segs"}} {
		if capa&o.bit != 0 {
			if s != "" {
				s += ","
			}
			s += o.name
		}
	}
	if s == "" {
		return "none"
	}
	return s
}
