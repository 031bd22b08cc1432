package dpdk

/*
#include <stdlib.h>
#include <string.h>
// <> and not "": cgo compiles its type probe from a file in $TMPDIR, and
// "" would look there first (a stray /tmp/fp_lpm.h once shadowed this one).
#include <fp_lpm.h>

// One prefix read back by fp_lpm_walk.
struct fibd_lpm_route {
	uint8_t ip[16];
	uint8_t depth;
	uint32_t nh;
};

struct fibd_lpm_routes {
	struct fibd_lpm_route *v;
	size_t n, cap;
	int fam;
};

static int
fibd_lpm_collect(void *arg, const uint8_t *ip, uint8_t depth, uint32_t nh)
{
	struct fibd_lpm_routes *w = arg;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256;
		void *v = realloc(w->v, cap * sizeof(*w->v));
		if (v == NULL)
			return -1;
		w->v = v;
		w->cap = cap;
	}
	struct fibd_lpm_route *r = &w->v[w->n++];
	memset(r->ip, 0, sizeof(r->ip));
	memcpy(r->ip, ip, w->fam == 4 ? 4 : 16);
	r->depth = depth;
	r->nh = nh;
	return 0;
}

// Collects every prefix into w (the caller frees w->v): 0 or -1 when out
// of memory.
static int
fibd_lpm_routes(const struct fp_lpm *l, struct fibd_lpm_routes *w)
{
	return fp_lpm_walk(l, fibd_lpm_collect, w);
}
*/
import "C"

import (
	"fmt"
	"net/netip"
	"syscall"
	"unsafe"
)

// LPM is one of fibd's own longest-prefix-match tables (cgo/dp/fp_lpm.h)
// on the C heap, outside any EAL: the fast path builds its FIB tables
// (fibd_fib=own) from the same code in C; this binding lets Go tests and
// tools drive one directly. It needs neither root nor DPDK.
//
// Concurrency: one goroutine, the writer, calls every method, lookups
// included. The C structure allows lock-free readers on other threads,
// but a Go goroutine cannot take part in the fast path's QSBR, so nothing
// would tell the writer when a retired block is safe to free: Reclaim is
// therefore only correct when no lookup runs concurrently, which is the
// case when all calls come from the writer.
type LPM struct {
	l   *C.struct_fp_lpm
	fam int
}

// LPMStats is fp_lpm_stats: sizes of the table.
type LPMStats struct {
	Prefixes   uint64
	FIBBytes   uint64 // reader-visible memory held
	FIBUsed    uint64 // of which in live nodes and leaves
	FirstBytes uint64 // of which the first level
	LimboBytes uint64 // retired, waiting for Reclaim
	RIBBytes   uint64 // the writer's shadow record
	Nodes      uint64 // live trie nodes
	FirstBits  uint   // bits of the first level (8 small; big: 18 IPv4, 20 IPv6)
	DirectBits uint   // 24 when the IPv4 direct level is on, else 0
}

// NewLPM creates an empty table of family 4 or 6 on libc memory.
func NewLPM(family int) (*LPM, error) {
	if family != 4 && family != 6 {
		return nil, fmt.Errorf("LPM family %d: %w", family, syscall.EINVAL)
	}
	l := C.fp_lpm_create(C.int(family), nil)
	if l == nil {
		return nil, fmt.Errorf("LPM family %d: %w", family, syscall.ENOMEM)
	}
	return &LPM{l: l, fam: family}, nil
}

// Free releases the table; it must not be used afterwards.
func (t *LPM) Free() {
	if t.l != nil {
		C.fp_lpm_free(t.l)
		t.l = nil
	}
}

// Family is 4 or 6.
func (t *LPM) Family() int { return t.fam }

// addr checks that a belongs to the table's family.
func (t *LPM) addr(a netip.Addr) error {
	if !a.IsValid() || a.Is4() != (t.fam == 4) {
		return fmt.Errorf("address %v in an IPv%d table: %w", a, t.fam, syscall.EINVAL)
	}
	return nil
}

// Add adds p (host bits ignored) with nexthop nh, or replaces its nexthop.
// nh must be in 1..2^31-1 (EINVAL otherwise); ENOMEM leaves the table as it
// was.
func (t *LPM) Add(p netip.Prefix, nh uint32) error {
	if err := t.addr(p.Addr()); err != nil {
		return err
	}
	var rc C.int
	if t.fam == 4 {
		rc = C.fp_lpm4_add(t.l, ip4(p.Addr()), C.uint8_t(p.Bits()), C.uint32_t(nh))
	} else {
		b := p.Addr().As16()
		rc = C.fp_lpm6_add(t.l, (*C.uint8_t)(&b[0]), C.uint8_t(p.Bits()), C.uint32_t(nh))
	}
	return errno(rc, "LPM add %v", p)
}

// Delete removes p: ENOENT when it is not in the table.
func (t *LPM) Delete(p netip.Prefix) error {
	if err := t.addr(p.Addr()); err != nil {
		return err
	}
	var rc C.int
	if t.fam == 4 {
		rc = C.fp_lpm4_delete(t.l, ip4(p.Addr()), C.uint8_t(p.Bits()))
	} else {
		b := p.Addr().As16()
		rc = C.fp_lpm6_delete(t.l, (*C.uint8_t)(&b[0]), C.uint8_t(p.Bits()))
	}
	return errno(rc, "LPM delete %v", p)
}

// Get is the exact match of p in the writer's record (deferred changes
// included): its nexthop, or false.
func (t *LPM) Get(p netip.Prefix) (uint32, bool) {
	if t.addr(p.Addr()) != nil {
		return 0, false
	}
	var nh C.uint32_t
	var rc C.int
	if t.fam == 4 {
		rc = C.fp_lpm4_get(t.l, ip4(p.Addr()), C.uint8_t(p.Bits()), &nh)
	} else {
		b := p.Addr().As16()
		rc = C.fp_lpm6_get(t.l, (*C.uint8_t)(&b[0]), C.uint8_t(p.Bits()), &nh)
	}
	return uint32(nh), rc == 0
}

// Lookup is the longest match of a in the table readers see (0: no
// route, or an address of the other family).
func (t *LPM) Lookup(a netip.Addr) uint32 {
	if t.addr(a) != nil {
		return 0
	}
	if t.fam == 4 {
		return uint32(C.fp_lpm4_lookup(t.l, ip4(a)))
	}
	b := a.As16()
	return uint32(C.fp_lpm6_lookup(t.l, (*C.uint8_t)(&b[0])))
}

// LookupBulk sets nh[i] to the longest match of addrs[i], through the
// fast path's bulk lookup; nh must be at least as long as addrs. An
// address of the other family gives 0.
func (t *LPM) LookupBulk(addrs []netip.Addr, nh []uint32) {
	n := len(addrs)
	if n == 0 {
		return
	}
	nh = nh[:n]
	if t.fam == 4 {
		ips := make([]C.uint32_t, n)
		for i, a := range addrs {
			if a.Is4() {
				ips[i] = ip4(a)
			}
		}
		C.fp_lpm4_lookup_bulk(t.l, &ips[0], (*C.uint32_t)(unsafe.Pointer(&nh[0])), C.uint(n))
	} else {
		ips := make([][16]byte, n)
		for i, a := range addrs {
			if a.Is6() {
				ips[i] = a.As16()
			}
		}
		C.fp_lpm6_lookup_bulk(t.l, (*[16]C.uint8_t)(unsafe.Pointer(&ips[0])),
			(*C.uint32_t)(unsafe.Pointer(&nh[0])), C.uint(n))
	}
	for i, a := range addrs {
		if t.addr(a) != nil {
			nh[i] = 0
		}
	}
}

// Defer starts a batch: until Commit, changes only go to the writer's
// record (Get, Walk and Stats see them), lookups see the table as it was.
func (t *LPM) Defer() { C.fp_lpm_defer(t.l) }

// Commit ends a batch: the whole table is built from the record and
// published at once. On ENOMEM the readers keep the old table and the
// batch stays open (Commit again).
func (t *LPM) Commit() error { return errno(C.fp_lpm_commit(t.l), "LPM commit") }

// Reclaim frees what changes retired. The fast path calls it after a
// grace period; here the writer may call it as soon as no lookup runs.
func (t *LPM) Reclaim() { C.fp_lpm_reclaim(t.l) }

// Check verifies, right after Reclaim, that the blocks the lookups can
// reach are exactly those the table's arenas count as in use: none lost,
// none freed twice.
func (t *LPM) Check() error {
	if C.fp_lpm_check(t.l) != 0 {
		return fmt.Errorf("LPM: the blocks reachable from the root differ from the blocks in use")
	}
	return nil
}

// Walk calls fn for every prefix in the writer's record, in no particular
// order, until fn returns false. The prefixes are read first, so fn may
// change the table.
func (t *LPM) Walk(fn func(p netip.Prefix, nh uint32) bool) error {
	w := C.struct_fibd_lpm_routes{fam: C.int(t.fam)}
	rc := C.fibd_lpm_routes(t.l, &w)
	defer C.free(unsafe.Pointer(w.v))
	if rc != 0 {
		return fmt.Errorf("LPM walk: %w", syscall.ENOMEM)
	}
	if w.n == 0 {
		return nil
	}
	for _, r := range unsafe.Slice(w.v, w.n) {
		b := unsafe.Slice((*byte)(&r.ip[0]), 16)
		var a netip.Addr
		if t.fam == 4 {
			a = netip.AddrFrom4([4]byte(b[:4]))
		} else {
			a = netip.AddrFrom16([16]byte(b))
		}
		if !fn(netip.PrefixFrom(a, int(r.depth)), uint32(r.nh)) {
			break
		}
	}
	return nil
}

// Stats reads the table's sizes.
func (t *LPM) Stats() LPMStats {
	var s C.struct_fp_lpm_stats
	C.fp_lpm_stats(t.l, &s)
	return LPMStats{
		Prefixes: uint64(s.prefixes), FIBBytes: uint64(s.fib_bytes), FIBUsed: uint64(s.fib_used),
		FirstBytes: uint64(s.first_bytes), LimboBytes: uint64(s.limbo_bytes),
		RIBBytes: uint64(s.rib_bytes), Nodes: uint64(s.nodes), FirstBits: uint(s.first_bits),
		DirectBits: uint(s.direct_bits),
	}
}

// DirectAt sets the number of prefixes above which an IPv4 table with an
// 18-bit first level gets its direct level (one entry per /24); it loses
// it at n/2 or fewer. The default is 16384; tests lower it.
func (t *LPM) DirectAt(n uint64) { C.fp_lpm_direct_at(t.l, C.uint64_t(n)) }

// ip4 is a in host order, as fp_lpm4_* take it.
func ip4(a netip.Addr) C.uint32_t {
	b := a.As4()
	return C.uint32_t(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
}
