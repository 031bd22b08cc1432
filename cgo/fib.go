package dpdk

/*
#include <string.h>
#include "fp.h"
*/
import "C"

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"unsafe"

	"fibd/cgo/fptypes"
)

// NexthopType says what the fast path does with packets routed to a
// nexthop; defined in fptypes so that pure-Go code can use it.
type NexthopType = fptypes.NexthopType

const (
	NexthopNone        = fptypes.NexthopNone
	NexthopForward     = fptypes.NexthopForward
	NexthopECMP        = fptypes.NexthopECMP
	NexthopUnresolved  = fptypes.NexthopUnresolved
	NexthopLocal       = fptypes.NexthopLocal
	NexthopBlackhole   = fptypes.NexthopBlackhole
	NexthopUnreachable = fptypes.NexthopUnreachable
	NexthopProhibit    = fptypes.NexthopProhibit
	NexthopPunt        = fptypes.NexthopPunt  // to Port's exception interface
	NexthopThrow       = fptypes.NexthopThrow // ip rules go on with the next rule
)

// Nexthop is the fast path's view of one nexthop.
type Nexthop struct {
	Type    NexthopType
	Port    PortID           // Forward, Unresolved, Punt
	VLAN    uint16           // Forward, Unresolved: 802.1Q VID on egress, 0 = untagged
	MAC     net.HardwareAddr // Forward
	Buckets []uint32         // ECMP: member nexthop indices, by hash bucket
}

// SetNexthop publishes nexthop idx. Replacing a live nexthop is atomic for
// workers; Type NexthopNone frees the slot. The old object is freed after
// the next grace period.
func SetNexthop(idx uint32, nh Nexthop) error {
	var c C.struct_fp_nh_conf
	c._type = C.uint8_t(nh.Type)
	c.port = C.uint16_t(nh.Port)
	c.vlan = C.uint16_t(nh.VLAN)
	copy(unsafe.Slice((*byte)(&c.dst_mac[0]), 6), nh.MAC)
	if len(nh.Buckets) > len(c.buckets) {
		return errno(-C.int(22), "nexthop %d: %d ECMP buckets", idx, len(nh.Buckets))
	}
	c.n_buckets = C.uint16_t(len(nh.Buckets))
	for i, b := range nh.Buckets {
		c.buckets[i] = C.uint32_t(b)
	}
	return errno(C.fp_nh_set(C.uint32_t(idx), &c), "nexthop %d", idx)
}

// GetNexthop reads back nexthop idx.
func GetNexthop(idx uint32) (Nexthop, error) {
	var c C.struct_fp_nh_conf
	if rc := C.fp_nh_get(C.uint32_t(idx), &c); rc < 0 {
		return Nexthop{}, errno(rc, "nexthop %d", idx)
	}
	nh := Nexthop{Type: NexthopType(c._type), Port: PortID(c.port), VLAN: uint16(c.vlan)}
	if nh.Type == NexthopForward {
		nh.MAC = C.GoBytes(unsafe.Pointer(&c.dst_mac[0]), 6)
	}
	for i := 0; i < int(c.n_buckets); i++ {
		nh.Buckets = append(nh.Buckets, uint32(c.buckets[i]))
	}
	return nh, nil
}

// TableConfig sizes one FIB table (both families, both copies).
type TableConfig struct {
	ID          uint32 // kernel table number, informative
	MaxRoutes4  uint32
	MaxRoutes6  uint32
	Tbl8Groups4 uint32 // 0: derived from MaxRoutes4
	Tbl8Groups6 uint32 // 0: derived from MaxRoutes6
	// Own selects fibd's own LPM structure (fibd_fib=own): one copy
	// updated in place; the tbl8 sizes do not apply.
	Own bool
}

// CreateTable creates FIB table slot idx.
func CreateTable(idx uint16, c TableConfig) error {
	cc := C.struct_fp_table_conf{
		id: C.uint32_t(c.ID), max_routes4: C.uint32_t(c.MaxRoutes4),
		max_routes6: C.uint32_t(c.MaxRoutes6), tbl8_4: C.uint32_t(c.Tbl8Groups4),
		tbl8_6: C.uint32_t(c.Tbl8Groups6),
	}
	if c.Own {
		cc.own = 1
	}
	return errno(C.fp_table_create(C.uint16_t(idx), &cc), "FIB table %d (kernel table %d)", idx, c.ID)
}

// DestroyTable frees table slot idx after a grace period.
func DestroyTable(idx uint16) error {
	return errno(C.fp_table_destroy(C.uint16_t(idx)), "FIB table %d", idx)
}

// RouteOp is one FIB change.
type RouteOp struct {
	Del     bool
	Prefix  netip.Prefix // masked
	Nexthop uint32       // for adds
}

// RouteOps is a batch of FIB changes kept in the fast path's own layout
// (24 bytes a change, nothing for the garbage collector to scan), so that
// ApplyRouteOps hands it to C as it is: a full view's batch is converted
// once, as it is filled, and never copied. The zero value is empty.
type RouteOps struct{ c []C.struct_fp_route_op }

// Add queues an add or replace of p (masked) towards nexthop nh.
func (r *RouteOps) Add(p netip.Prefix, nh uint32) { r.push(C.FP_ROUTE_ADD, p, nh) }

// Del queues the removal of p (masked).
func (r *RouteOps) Del(p netip.Prefix) { r.push(C.FP_ROUTE_DEL, p, 0) }

func (r *RouteOps) push(op C.uint8_t, p netip.Prefix, nh uint32) {
	r.c = append(r.c, C.struct_fp_route_op{op: op, depth: C.uint8_t(p.Bits()), nh: C.uint32_t(nh)})
	c := &r.c[len(r.c)-1]
	a := p.Masked().Addr()
	if a.Is4() {
		c.family = 4
		b := a.As4()
		copy(unsafe.Slice((*byte)(&c.addr[0]), 4), b[:])
	} else {
		c.family = 6
		b := a.As16()
		copy(unsafe.Slice((*byte)(&c.addr[0]), 16), b[:])
	}
}

// Grow makes room for n more changes.
func (r *RouteOps) Grow(n int) { r.c = slices.Grow(r.c, n) }

// Len is the number of changes queued; Room how many more fit without
// growing.
func (r *RouteOps) Len() int  { return len(r.c) }
func (r *RouteOps) Room() int { return cap(r.c) - len(r.c) }

// Reset empties the batch, keeping its memory.
func (r *RouteOps) Reset() { r.c = r.c[:0] }

// At is change i as queued, its prefix masked.
func (r *RouteOps) At(i int) RouteOp {
	c := &r.c[i]
	var a netip.Addr
	if c.family == 4 {
		a = netip.AddrFrom4([4]byte(unsafe.Slice((*byte)(&c.addr[0]), 4)))
	} else {
		a = netip.AddrFrom16([16]byte(unsafe.Slice((*byte)(&c.addr[0]), 16)))
	}
	return RouteOp{Del: c.op == C.FP_ROUTE_DEL, Prefix: netip.PrefixFrom(a, int(c.depth)), Nexthop: uint32(c.nh)}
}

// ApplyRoutes applies ops to table idx: see ApplyRouteOps.
func ApplyRoutes(idx uint16, ops []RouteOp) (errs []error, failed int, err error) {
	var r RouteOps
	r.Grow(len(ops))
	for _, o := range ops {
		if o.Del {
			r.Del(o.Prefix)
		} else {
			r.Add(o.Prefix, o.Nexthop)
		}
	}
	return ApplyRouteOps(idx, &r)
}

// ApplyRouteOps applies the batch to table idx (rte_fib: both copies,
// left-right swap, one grace period; own: in place, or recorded and built
// whole when the batch is large). errs[i] is nil or the failure of change
// i (ENOSPC when the table is full, ENOENT deleting an absent route). The
// returned error is set only when the batch could not run at all.
func ApplyRouteOps(idx uint16, r *RouteOps) (errs []error, failed int, err error) {
	if len(r.c) == 0 {
		return nil, 0, nil
	}
	res := make([]C.int32_t, len(r.c))
	rc := C.fp_table_apply(C.uint16_t(idx), &r.c[0], C.uint32_t(len(r.c)), &res[0])
	if rc < 0 {
		return nil, 0, errno(rc, "apply %d route changes to FIB table %d", len(r.c), idx)
	}
	if rc > 0 {
		errs = make([]error, len(r.c))
		for i, x := range res {
			if x < 0 {
				errs[i] = errno(C.int(x), "%s", r.At(i).Prefix)
			}
		}
	}
	return errs, int(rc), nil
}

// TableInfo is what a FIB table holds and how often it was rebuilt.
type TableInfo struct {
	Routes4, Routes6 uint64
	Rebuilds         uint64 // copies rebuilt from scratch (drifted DPDK accounting, resync)
	CloneFailures    uint64 // rebuilds that failed: the two copies may differ
}

// ReadTableInfo reads table idx's counters.
func ReadTableInfo(idx uint16) (TableInfo, error) {
	var c C.struct_fp_table_info
	if rc := C.fp_table_info(C.uint16_t(idx), &c); rc < 0 {
		return TableInfo{}, errno(rc, "FIB table %d", idx)
	}
	return TableInfo{Routes4: uint64(c.routes4), Routes6: uint64(c.routes6),
		Rebuilds: uint64(c.rebuilds), CloneFailures: uint64(c.clone_failures)}, nil
}

// RebuildTable rebuilds both copies of table idx from scratch, without
// interrupting lookups.
func RebuildTable(idx uint16) error {
	return errno(C.fp_table_rebuild(C.uint16_t(idx)), "rebuild FIB table %d", idx)
}

// Lookup returns the nexthop index the active copy of table idx holds for
// addr (NexthopMiss when there is no route).
func Lookup(idx uint16, addr netip.Addr) uint32 {
	if addr.Is4() {
		b := addr.As4()
		var be C.uint32_t
		C.memcpy(unsafe.Pointer(&be), unsafe.Pointer(&b[0]), 4)
		return uint32(C.fp_lookup4(C.uint16_t(idx), be))
	}
	b := addr.As16()
	return uint32(C.fp_lookup6(C.uint16_t(idx), (*C.uint8_t)(unsafe.Pointer(&b[0]))))
}

// LookupBulk4 looks up host-order IPv4 addresses in table idx, as the fast
// path does (benchmarks).
func LookupBulk4(idx uint16, addrs []uint32, nh []uint32) error {
	if len(nh) < len(addrs) {
		return fmt.Errorf("lookup: %d results for %d addresses", len(nh), len(addrs))
	}
	if len(addrs) == 0 {
		return nil
	}
	return errno(C.fp_lookup4_bulk(C.uint16_t(idx), (*C.uint32_t)(&addrs[0]),
		(*C.uint32_t)(&nh[0]), C.uint32_t(len(addrs))), "lookup")
}

// LookupBulk6 looks up IPv6 addresses in table idx (benchmarks).
func LookupBulk6(idx uint16, addrs [][16]byte, nh []uint32) error {
	if len(nh) < len(addrs) {
		return fmt.Errorf("lookup: %d results for %d addresses", len(nh), len(addrs))
	}
	if len(addrs) == 0 {
		return nil
	}
	return errno(C.fp_lookup6_bulk(C.uint16_t(idx), (*[16]C.uint8_t)(unsafe.Pointer(&addrs[0])),
		(*C.uint32_t)(&nh[0]), C.uint32_t(len(addrs))), "lookup")
}

// Sync waits for a grace period: afterwards no worker still uses anything
// unpublished before the call, and retired objects are freed. The wait is
// bounded: when a worker does not pass its quiescent point in time (a
// wedged worker) it fails, wrapping syscall.ETIMEDOUT, and nothing was
// freed; table writes fail the same way until the worker moves on.
func Sync() error { return errno(C.fp_sync(), "grace period") }

// RCUInfo tells how grace periods went.
type RCUInfo struct {
	GracePeriods   uint64 // completed
	Stalls         uint64 // waits that timed out
	Leaked         uint64 // objects never freed because of a stall
	Stalled        bool   // the last wait timed out
	StalledWorkers []int  // workers that made no loop pass during it
}

// ReadRCUInfo reads the grace period counters; it never waits.
func ReadRCUInfo() RCUInfo {
	var c C.struct_fp_rcu_info
	C.fp_rcu_info(&c)
	r := RCUInfo{GracePeriods: uint64(c.grace_periods), Stalls: uint64(c.stalls),
		Leaked: uint64(c.leaked), Stalled: bool(c.stalled)}
	for i := range 64 {
		if uint64(c.stalled_workers)&(1<<i) != 0 {
			r.StalledWorkers = append(r.StalledWorkers, i)
		}
	}
	return r
}
