package dpdk

/*
#include <string.h>
#include "fp.h"
*/
import "C"

import (
	"fmt"
	"net/netip"
	"time"
	"unsafe"
)

// RxQueue is one (port, queue) a worker polls.
type RxQueue struct {
	Port  PortID
	Queue uint16
}

// Worker is one lcore's assignment.
type Worker struct {
	Lcore   uint
	TxQueue uint16 // the queue it owns on every port
	Rx      []RxQueue
}

// InitDataplane prepares QSBR and counters for n workers.
func InitDataplane(n int) error {
	return errno(C.fp_dp_init(C.uint(n)), "data plane for %d workers", n)
}

// AddWorker registers a worker; call before Launch.
func AddWorker(w Worker) error {
	var c C.struct_fp_worker_conf
	if len(w.Rx) > len(c.rxq) {
		return fmt.Errorf("lcore %d: %d rx queues, at most %d", w.Lcore, len(w.Rx), len(c.rxq))
	}
	c.lcore = C.uint(w.Lcore)
	c.txq = C.uint16_t(w.TxQueue)
	c.n_rxq = C.uint16_t(len(w.Rx))
	for i, q := range w.Rx {
		c.rxq[i].port = C.uint16_t(q.Port)
		c.rxq[i].queue = C.uint16_t(q.Queue)
	}
	return errno(C.fp_worker_add(&c), "worker on lcore %d", w.Lcore)
}

// Launch starts all workers. It runs on the main lcore thread.
func (e *EAL) Launch() error {
	return e.Do(func() error { return errno(C.fp_workers_launch(), "launch workers") })
}

// StopWorkers asks every worker to flush and stop, and waits for them.
func (e *EAL) StopWorkers() error {
	return e.Do(func() error { return errno(C.fp_workers_stop(), "stop workers") })
}

// SetIdleSleep sets the workers' idle back-off: 0 busy-polls, otherwise a
// worker that found nothing to do for a while sleeps d (offline for RCU).
func SetIdleSleep(d time.Duration) { C.fp_set_idle_sleep_us(C.uint32_t(d.Microseconds())) }

// WorkerStats are one worker's counters.
type WorkerStats struct {
	Rx, Tx, Forwarded, Polls, IdlePolls, Sleeps uint64
	ICMPSent, ICMPRateLimited                   uint64   // ICMP errors sent / held back
	ICMPAllocFailed                             uint64   // ICMP errors lost: no mbuf for the reply
	Punted, Injected                            uint64   // to / from the exception thread
	Drops                                       []uint64 // by reason, see DropReasons
}

// WorkerCount is the number of workers added.
func WorkerCount() int { return int(C.fp_worker_count()) }

// ReadWorkerStats reads worker i's counters.
func ReadWorkerStats(i int) (WorkerStats, error) {
	var s C.struct_fp_worker_stats
	if rc := C.fp_worker_stats(C.uint(i), &s); rc < 0 {
		return WorkerStats{}, errno(rc, "worker %d stats", i)
	}
	d := unsafe.Slice((*uint64)(unsafe.Pointer(&s.drop[0])), int(C.FP_DROP_MAX))
	return WorkerStats{
		Rx: uint64(s.rx), Tx: uint64(s.tx), Forwarded: uint64(s.forwarded),
		Polls: uint64(s.polls), IdlePolls: uint64(s.idle_polls), Sleeps: uint64(s.sleeps),
		ICMPSent: uint64(s.icmp_sent), ICMPRateLimited: uint64(s.icmp_ratelimited),
		ICMPAllocFailed: uint64(s.icmp_alloc_failed),
		Punted:          uint64(s.punted), Injected: uint64(s.injected),
		Drops: append([]uint64(nil), d...),
	}, nil
}

// ResetWorkerStats zeroes all worker counters.
func ResetWorkerStats() { C.fp_stats_reset() }

// SetAddrs gives the fast path fibd's addresses on port p: the source of
// the ICMP errors it sends there. An invalid address clears that family.
func (p PortID) SetAddrs(v4, v6 netip.Addr) {
	var b4 [4]byte
	var b16 [16]byte
	var p4, p6 *C.uint8_t
	if v4.Is4() {
		b4 = v4.As4()
		p4 = (*C.uint8_t)(unsafe.Pointer(&b4[0]))
	}
	if v6.Is6() {
		b16 = v6.As16()
		p6 = (*C.uint8_t)(unsafe.Pointer(&b16[0]))
	}
	C.fp_port_set_addrs(C.uint16_t(p), p4, p6)
}

// SetRouterAddrs gives the fast path the router's own addresses
// (bras_arp_ip, bras_ipv6_address): the source of ICMP errors sent from an
// interface without an address of the family. Invalid clears one.
func SetRouterAddrs(v4, v6 netip.Addr) {
	var b4 [4]byte
	var b16 [16]byte
	var p4, p6 *C.uint8_t
	if v4.Is4() {
		b4 = v4.As4()
		p4 = (*C.uint8_t)(unsafe.Pointer(&b4[0]))
	}
	if v6.Is6() && !v6.Is4In6() {
		b16 = v6.As16()
		p6 = (*C.uint8_t)(unsafe.Pointer(&b16[0]))
	}
	C.fp_set_router_addrs(p4, p6)
}

// IfAddr is an address of one of a port's interfaces (the port or a
// sub-interface, by IIF id), or, with IIF AnyIIF, a routing-protocol peer.
type IfAddr struct {
	IIF    PortID
	Prefix netip.Prefix // an interface's address and subnet (unmasked), or a peer
}

// AnyIIF marks an IfAddr that is a peer, not an interface's address.
const AnyIIF PortID = C.FP_IIF_ANY

// SetIfAddrs replaces the layer-3 facts of port p: its interfaces'
// addresses, whose subnets (and the peers) are where the routing daemon's
// protocol traffic may come from (the punt policer's protected class), and
// whose first address per family and sub-interface is the source of the
// ICMP errors about what arrives there.
func (p PortID) SetIfAddrs(l []IfAddr) error {
	c := make([]C.struct_fp_ifaddr, 0, len(l))
	for _, a := range l {
		if !a.Prefix.IsValid() {
			continue
		}
		var e C.struct_fp_ifaddr
		e.iif = C.uint16_t(a.IIF)
		e.family = 4
		if a.Prefix.Addr().Is6() {
			e.family = 6
		}
		e.len = C.uint8_t(a.Prefix.Bits())
		putAddr(e.addr[:], a.Prefix.Addr())
		c = append(c, e)
	}
	var ptr *C.struct_fp_ifaddr
	if len(c) > 0 {
		ptr = &c[0]
	}
	return errno(C.fp_port_set_ifaddrs(C.uint16_t(p), ptr, C.uint32_t(len(c))), "interface addresses of port %d", p)
}

// SetPortMTU overrides the MTU the fast path enforces on egress.
func SetPortMTU(p PortID, mtu int) { C.fp_port_set_mtu(C.uint16_t(p), C.uint16_t(mtu)) }
