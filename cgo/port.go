package dpdk

/*
#include <stdlib.h>
#include <rte_ethdev.h>
#include "fp.h"
*/
import "C"

import (
	"fmt"
	"net"
	"unsafe"
)

// PortID identifies an ethdev port.
type PortID uint16

// PortInfo is what a device reports about itself.
type PortInfo struct {
	Name        string
	Driver      string
	MaxRxQueues int
	MaxTxQueues int
	MTU         int
	MAC         net.HardwareAddr
	Socket      int
	RSSOffloads uint64
}

// PortByName finds a probed device by its DPDK name ("0000:41:00.1",
// "net_pcap0").
func PortByName(name string) (PortID, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	var id C.uint16_t
	if rc := C.fp_port_by_name(cs, &id); rc < 0 {
		return 0, errno(rc, "no DPDK port %q (probed: %d)", name, int(C.fp_port_count()))
	}
	return PortID(id), nil
}

// Info reads the port's device information.
func (p PortID) Info() (PortInfo, error) {
	var ci C.struct_fp_port_info
	if rc := C.fp_port_info(C.uint16_t(p), &ci); rc < 0 {
		return PortInfo{}, errno(rc, "port %d info", p)
	}
	return PortInfo{
		Name:        C.GoString(&ci.name[0]),
		Driver:      C.GoString(&ci.driver[0]),
		MaxRxQueues: int(ci.max_rxq),
		MaxTxQueues: int(ci.max_txq),
		MTU:         int(ci.mtu),
		MAC:         C.GoBytes(unsafe.Pointer(&ci.mac[0]), 6),
		Socket:      int(ci.socket),
		RSSOffloads: uint64(ci.rss_offloads),
	}, nil
}

// CreatePool creates the packet mbuf pool all ports receive into.
func CreatePool(name string, mbufs uint32, socket int) error {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return errno(C.fp_pool_create(cs, C.uint32_t(mbufs), C.int(socket)),
		"mbuf pool of %d", mbufs)
}

// PortConfig is one port's queue layout.
type PortConfig struct {
	RxQueues, TxQueues int
	RxDesc, TxDesc     int
	RSS                bool // spread rx over RxQueues by flow hash
	Promiscuous        bool
	Scatter            bool // receive frames larger than an mbuf as chains
	TxPoll             bool // the driver needs tx bursts even when idle (802.3ad bonding)
	Bond               bool // a net_bonding port: received frames carry the member's port id
}

// Setup configures the device, its queues and the fast path's view of it.
func (p PortID) Setup(c PortConfig) error {
	cc := C.struct_fp_port_conf{
		port_id: C.uint16_t(p),
		n_rxq:   C.uint16_t(c.RxQueues),
		n_txq:   C.uint16_t(c.TxQueues),
		nb_rxd:  C.uint16_t(c.RxDesc),
		nb_txd:  C.uint16_t(c.TxDesc),
		rss:     cbool(c.RSS),
		promisc: cbool(c.Promiscuous),
		scatter: cbool(c.Scatter),
		tx_poll: cbool(c.TxPoll),
		bond:    cbool(c.Bond),
	}
	var ebuf [256]C.char
	if rc := C.fp_port_setup(&cc, &ebuf[0], C.int(len(ebuf))); rc < 0 {
		return fmt.Errorf("port %d: %s", p, C.GoString(&ebuf[0]))
	}
	return nil
}

func cbool(b bool) C.uint8_t {
	if b {
		return 1
	}
	return 0
}

// Start starts the device.
func (p PortID) Start() error { return errno(C.fp_port_start(C.uint16_t(p)), "start port %d", p) }

// Stop stops the device (pcap vdevs flush their output file).
func (p PortID) Stop() error { return errno(C.fp_port_stop(C.uint16_t(p)), "stop port %d", p) }

// Close releases the device.
func (p PortID) Close() error { return errno(C.fp_port_close(C.uint16_t(p)), "close port %d", p) }

// Link is a port's link state.
type Link struct {
	Up         bool
	SpeedMbps  uint32
	FullDuplex bool
	Autoneg    bool
}

// Link reads the link state without waiting.
func (p PortID) Link() (Link, error) {
	var l C.struct_fp_link
	if rc := C.fp_port_link(C.uint16_t(p), &l); rc < 0 {
		return Link{}, errno(rc, "port %d link", p)
	}
	return Link{Up: l.up != 0, SpeedMbps: uint32(l.speed_mbps),
		FullDuplex: l.full_duplex != 0, Autoneg: l.autoneg != 0}, nil
}

// SetLinkDown tells the fast path that port p's link is down (or up
// again): ECMP groups stop picking members on it at once.
func (p PortID) SetLinkDown(down bool) error {
	d := C.int(0)
	if down {
		d = 1
	}
	return errno(C.fp_port_set_link_down(C.uint16_t(p), d), "port %d link flag", p)
}

// PortStats are the device's basic counters.
type PortStats struct {
	IPackets, OPackets, IBytes, OBytes  uint64
	IMissed, IErrors, OErrors, RxNoMbuf uint64
}

// Stats reads the device's basic counters.
func (p PortID) Stats() (PortStats, error) {
	var s C.struct_fp_port_stats
	if rc := C.fp_port_stats(C.uint16_t(p), &s); rc < 0 {
		return PortStats{}, errno(rc, "port %d stats", p)
	}
	return PortStats{
		IPackets: uint64(s.ipackets), OPackets: uint64(s.opackets),
		IBytes: uint64(s.ibytes), OBytes: uint64(s.obytes),
		IMissed: uint64(s.imissed), IErrors: uint64(s.ierrors),
		OErrors: uint64(s.oerrors), RxNoMbuf: uint64(s.rx_nombuf),
	}, nil
}

// ResetStats zeroes the device's basic counters.
func (p PortID) ResetStats() error {
	return errno(C.fp_port_stats_reset(C.uint16_t(p)), "port %d stats reset", p)
}

// Xstats reads the device's extended counters by name.
func (p PortID) Xstats() (map[string]uint64, error) {
	n := C.rte_eth_xstats_get_names(C.uint16_t(p), nil, 0)
	if n < 0 {
		return nil, errno(n, "port %d xstats", p)
	}
	if n == 0 {
		return map[string]uint64{}, nil
	}
	names := make([]C.struct_rte_eth_xstat_name, n)
	vals := make([]C.struct_rte_eth_xstat, n)
	if rc := C.rte_eth_xstats_get_names(C.uint16_t(p), &names[0], C.uint(n)); rc < 0 {
		return nil, errno(rc, "port %d xstats names", p)
	}
	got := C.rte_eth_xstats_get(C.uint16_t(p), &vals[0], C.uint(n))
	if got < 0 {
		return nil, errno(got, "port %d xstats", p)
	}
	out := make(map[string]uint64, int(got))
	for i := 0; i < int(got) && i < int(n); i++ {
		id := int(vals[i].id)
		if id < int(n) {
			out[C.GoString(&names[id].name[0])] = uint64(vals[i].value)
		}
	}
	return out, nil
}
