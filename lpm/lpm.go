// Package lpm manages the fast path's FIB tables and nexthops from Go: the
// single writer that allocates nexthop indices, batches route changes and
// applies them to left-right rte_fib/rte_fib6 pairs (see cgo/dp/fp_fib.c).
//
// Readers (worker lcores) never wait: a batch is applied to the standby
// copy, the copies swap atomically, a QSBR grace period passes, and the
// batch is replayed on the other copy. A freed nexthop index is handed out
// again only after a further grace period, so no worker can follow a stale
// FIB entry into a reused slot.
package lpm

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"syscall"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
)

// Config sizes the tables the FIB creates.
type Config struct {
	MaxRoutes4 uint32 // router_max_ip4_route_count
	MaxRoutes6 uint32 // router_max_ip6_route_count
	// Sizes overrides the size of some kernel tables (fibd_table_size):
	// a mux's client table or an upstream's partial view need not be
	// sized, and cost the memory of, a full view.
	Sizes map[uint32]TableSize
	// Own builds every table with fibd's own LPM structure (fibd_fib=own)
	// instead of rte_fib's left-right pair.
	Own bool
}

// TableSize is the capacity of one table.
type TableSize struct{ Routes4, Routes6 uint32 }

// size is the capacity of kernel table id.
func (c *Config) size(id uint32) TableSize {
	if s, ok := c.Sizes[id]; ok {
		return s
	}
	return TableSize{c.MaxRoutes4, c.MaxRoutes6}
}

// FIB is the set of tables and the nexthop table.
//
// Concurrency: one writer (the router goroutine, or the static loader under
// the daemon's lock) calls every method that changes it. Any goroutine may
// call Tables (an immutable snapshot behind an atomic pointer, replaced
// whenever a table comes or goes), NH.Live, Refused, and the read-only
// calls on a Table (Info, Routes, Lookup: the fast path serialises them
// with its control lock).
type FIB struct {
	log    zerolog.Logger
	cfg    Config
	tables map[uint32]*Table // by kernel table id; the writer's own
	// view is a copy of tables for other goroutines, never modified once
	// published.
	view  atomic.Pointer[map[uint32]*Table]
	slots []bool // table slot in use
	NH    *Nexthops
	// Refused counts routes refused because a table was full.
	Refused atomic.Uint64

	// the fast path's table calls (tests replace them)
	createTable  func(slot uint16, c dpdk.TableConfig) error
	destroyTable func(slot uint16) error
	heapUsed     func() uint64
}

// New returns an empty FIB.
func New(log zerolog.Logger, cfg Config) *FIB {
	f := &FIB{
		log:          log.With().Str("component", "lpm").Logger(),
		cfg:          cfg,
		tables:       map[uint32]*Table{},
		slots:        make([]bool, dpdk.MaxTables),
		NH:           newNexthops(),
		createTable:  dpdk.CreateTable,
		destroyTable: dpdk.DestroyTable,
		heapUsed:     dpdk.HeapUsed,
	}
	f.publish()
	return f
}

// publish gives other goroutines a copy of the table map (writer only).
func (f *FIB) publish() {
	m := make(map[uint32]*Table, len(f.tables))
	for id, t := range f.tables {
		m[id] = t
	}
	f.view.Store(&m)
}

// Table is one FIB table: a kernel routing table mirrored for workers. Its
// fields never change.
type Table struct {
	ID   uint32 // kernel table id
	Slot uint16 // fast-path table index
}

// Table returns the table mirroring kernel table id, creating it in the
// given slot (or the first free one when slot < 0).
func (f *FIB) Table(id uint32, slot int) (*Table, error) {
	if t, ok := f.tables[id]; ok {
		return t, nil
	}
	if slot < 0 {
		for i, used := range f.slots {
			if !used {
				slot = i
				break
			}
		}
	}
	if slot < 0 || slot >= len(f.slots) || f.slots[slot] {
		return nil, fmt.Errorf("no free FIB table slot for kernel table %d (max_tables %d)", id, dpdk.MaxTables)
	}
	sz := f.cfg.size(id)
	heap := f.heapUsed()
	err := f.createTable(uint16(slot), dpdk.TableConfig{ID: id, MaxRoutes4: sz.Routes4, MaxRoutes6: sz.Routes6, Own: f.cfg.Own})
	if err != nil {
		return nil, fmt.Errorf("%w (%d + %d routes; fibd_table_size sizes a table alone)", err, sz.Routes4, sz.Routes6)
	}
	f.slots[slot] = true
	t := &Table{ID: id, Slot: uint16(slot)}
	f.tables[id] = t
	f.publish()
	f.log.Info().Uint32("table", id).Int("slot", slot).Uint32("max_ip4", sz.Routes4).Uint32("max_ip6", sz.Routes6).
		Uint64("heap_mib", (f.heapUsed()-heap)>>20).Msg("FIB table created")
	return t, nil
}

// Destroy frees table t. No published ip rule may name it (the fast path
// refuses with EBUSY); workers may run: the memory goes after a grace
// period, and a stalled worker makes it fail with EAGAIN, the table whole.
func (f *FIB) Destroy(t *Table) error {
	if err := f.destroyTable(t.Slot); err != nil {
		return err
	}
	f.slots[t.Slot] = false
	delete(f.tables, t.ID)
	f.publish()
	return nil
}

// Tables lists the tables by kernel id: a snapshot, safe to read from any
// goroutine while the writer adds tables, and never to be modified.
func (f *FIB) Tables() map[uint32]*Table { return *f.view.Load() }

// Batch collects route changes for one table, in the fast path's layout
// (dpdk.RouteOps): Apply passes it on without converting or copying it.
type Batch struct {
	ops dpdk.RouteOps
}

// Add adds or replaces the route for p.
func (b *Batch) Add(p netip.Prefix, nh uint32) { b.ops.Add(p, nh) }

// Del removes the route for p.
func (b *Batch) Del(p netip.Prefix) { b.ops.Del(p) }

// Grow makes room for n more changes.
func (b *Batch) Grow(n int) { b.ops.Grow(n) }

// Len is the number of changes queued.
func (b *Batch) Len() int { return b.ops.Len() }

// Reset empties the batch for reuse.
func (b *Batch) Reset() { b.ops.Reset() }

// Failure is one change the table refused.
type Failure struct {
	Prefix netip.Prefix
	Del    bool
	Err    error
}

// Result summarises an applied batch.
type Result struct {
	Applied int
	Full    int       // refused: table full (router_max_ip*_route_count)
	Failed  []Failure // every refused change, Full ones included
}

// ErrFull matches changes refused because the table is full.
var ErrFull = syscall.ENOSPC

// Apply applies b to table t. Refusals are per route (a full table refuses
// further adds, counted and logged once per batch); err is set only when
// the batch could not run at all.
func (f *FIB) Apply(t *Table, b *Batch) (Result, error) {
	errs, failed, err := dpdk.ApplyRouteOps(t.Slot, &b.ops)
	if err != nil {
		return Result{}, err
	}
	r := Result{Applied: b.ops.Len() - failed}
	for i, e := range errs {
		if e == nil {
			continue
		}
		op := b.ops.At(i)
		r.Failed = append(r.Failed, Failure{Prefix: op.Prefix, Del: op.Del, Err: e})
		if !op.Del && errors.Is(e, ErrFull) {
			r.Full++
		}
	}
	if r.Full > 0 {
		f.Refused.Add(uint64(r.Full))
		f.log.Error().Uint32("table", t.ID).Int("refused", r.Full).
			Stringer("first", r.Failed[0].Prefix).
			Uint32("max_ip4", f.cfg.MaxRoutes4).Uint32("max_ip6", f.cfg.MaxRoutes6).
			Msg("FIB table full: routes refused (raise router_max_ip4/ip6_route_count)")
	}
	return r, nil
}

// Routes reports how many routes table t holds per family.
func (f *FIB) Routes(t *Table) (v4, v6 uint64, err error) {
	i, err := dpdk.ReadTableInfo(t.Slot)
	return i.Routes4, i.Routes6, err
}

// Info reads table t's counters.
func (f *FIB) Info(t *Table) (dpdk.TableInfo, error) { return dpdk.ReadTableInfo(t.Slot) }

// Rebuild rebuilds table t from scratch (operator command, resync).
func (f *FIB) Rebuild(t *Table) error { return dpdk.RebuildTable(t.Slot) }

// Lookup is the control plane's view of what the fast path decides for
// addr in table t: the nexthop index, dpdk.NexthopMiss when no route.
func (f *FIB) Lookup(t *Table, addr netip.Addr) uint32 { return dpdk.Lookup(t.Slot, addr) }

// Commit ends a round of changes: it waits for a grace period and makes
// the nexthop indices released before it reusable. When the grace period
// does not end (a stalled worker) the indices stay pending, to be reclaimed
// by a later Commit.
func (f *FIB) Commit() error {
	if len(f.NH.pending) == 0 {
		return nil
	}
	if err := dpdk.Sync(); err != nil {
		return fmt.Errorf("released nexthops kept: %w", err)
	}
	f.NH.reclaim()
	return nil
}
