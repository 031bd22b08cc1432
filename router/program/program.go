// Package program keeps the fast path's FIB (lpm) equal to the RIB's
// resolution: it programs nexthops and routes from rib's changes.
package program

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync/atomic"
	"syscall"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
	"fibd/cgo/fptypes"
	"fibd/lpm"
	"fibd/router/rib"
)

// Programmer keeps the fast path's FIB equal to the RIB's resolution by
// applying only changes: nexthops first (so no route ever points at an
// unpublished index), then one batch of route changes per table, then the
// release of nexthops nothing uses any more. It is the single writer of
// the FIB.
type Programmer struct {
	log   zerolog.Logger
	fib   *lpm.FIB
	nh    map[rib.NhKey]*nhEntry
	byIdx map[uint32]*nhEntry // the same, by FIB nexthop index
	// cur is what the FIB holds, per table and prefix: a nexthop index
	// and the mark of Sync's mark-and-sweep.
	cur  map[uint32]*held
	mark programmed // the current mark: every entry carries it between Syncs
	// retry holds changes the FIB refused (table full, nexthop not
	// publishable), retried by Retry every router_fib_refresh.
	retry map[retryKey]rib.Change
	// resolve maps an interface id (a port, or a VLAN sub-interface) to
	// the port and VID of a nexthop; nil: ids are ports.
	resolve func(dpdk.PortID) (dpdk.PortID, uint16)
	// refused holds the kernel tables whose FIB table could not be made
	// (no slot, no memory), with why. Their routes stay out (the RIB keeps
	// them) and nothing retries them until Reconcile: a failing creation
	// per batch would cost an allocation attempt each time, and returning
	// the failure made the mirror resynchronise in a loop.
	refused map[uint32]error
	// tryRefused: Update tries the refused tables again (Reconcile).
	tryRefused bool
	// force lists the tables whose content Reconcile does not trust: every
	// prefix is written again, even where the record says it is there.
	force map[uint32]bool
	// counts is len(cur[table]) per family (0 IPv4, 1 IPv6), kept as cur
	// changes, to compare with the FIB's own counts at no cost.
	counts map[uint32]*[2]uint64
	// suspect: a change failed otherwise than by a full table (a batch
	// that did not run, a nexthop that could not be published): the next
	// NeedsReconcile says yes.
	suspect bool
	// TablesRefused counts the tables refused (once per refusal, not per
	// attempt). Read from any goroutine.
	TablesRefused atomic.Uint64
	// Rewrites counts nexthops rewritten in place (a kernel nexthop
	// object or a neighbour changed under its routes). Any goroutine.
	Rewrites atomic.Uint64
	// RouteWrites counts the routes written to (or deleted from) the FIB.
	// Any goroutine.
	RouteWrites atomic.Uint64
}

type retryKey struct {
	table  uint32
	prefix netip.Prefix
}

// programmed is what the FIB holds for one prefix: the index of its
// nexthop (below 2^31, as the FIB requires) and a mark bit.
type programmed uint32

const markBit programmed = 1 << 31

func (x programmed) idx() uint32 { return uint32(x &^ markBit) }

type nhEntry struct {
	idx     uint32
	target  rib.Target
	members []*nhEntry // ECMP
	refs    int        // routes programmed on it, plus groups using it
}

// New returns a Programmer over fib, which it then owns.
func New(log zerolog.Logger, fib *lpm.FIB) *Programmer {
	return &Programmer{
		log:     log.With().Str("component", "router").Logger(),
		fib:     fib,
		nh:      map[rib.NhKey]*nhEntry{},
		byIdx:   map[uint32]*nhEntry{},
		cur:     map[uint32]*held{},
		retry:   map[retryKey]rib.Change{},
		refused: map[uint32]error{},
		force:   map[uint32]bool{},
		counts:  map[uint32]*[2]uint64{},
	}
}

// NeedsReconcile reports whether the FIB may differ from the RIB's
// resolution otherwise than by the changes a full table refused (Retry
// takes those): a change failed, a refused table could be made now, or a
// table's own route counts differ from what was written to it. It costs a
// few table reads, and an attempt to make each refused table.
func (p *Programmer) NeedsReconcile() bool {
	if p.suspect {
		return true
	}
	// A refused table is tried again; once made, its routes are written.
	for id := range p.refused {
		p.tryRefused = true
		_, err := p.table(id)
		p.tryRefused = false
		if err == nil {
			return true
		}
	}
	return len(p.drifted()) > 0
}

// drifted lists the tables whose route counts differ from the record.
func (p *Programmer) drifted() []uint32 {
	var out []uint32
	tables := p.fib.Tables()
	for id, n := range p.counts {
		t := tables[id]
		if t == nil {
			continue
		}
		info, err := p.fib.Info(t)
		if err != nil || info.Routes4 != n[0] || info.Routes6 != n[1] {
			p.log.Warn().Err(err).Uint32("table", id).Uint64("fib_ip4", info.Routes4).Uint64("fib_ip6", info.Routes6).
				Uint64("want_ip4", n[0]).Uint64("want_ip6", n[1]).Msg("FIB table differs from what was programmed")
			out = append(out, id)
		}
	}
	return out
}

// famOf is k's index in Programmer.counts (0 IPv4, 1 IPv6).
func famOf(k rib.PrefixKey) int {
	if k.Is6() {
		return 1
	}
	return 0
}

// Reconcile compares the whole resolution (each, the RIB) with what the
// FIB holds, every table, and repairs the differences: changes a table
// refused, a batch that failed as a whole, a table that could not be made.
// Each table's own route counts are checked against the record of what it
// holds; a table that disagrees gets every prefix written again. It
// returns what it had to change.
func (p *Programmer) Reconcile(hint int, each func(func(uint32, netip.Prefix, *rib.Target))) (SyncStats, error) {
	for _, id := range p.drifted() {
		p.force[id] = true // written again in full
	}
	p.tryRefused, p.suspect = true, false
	defer func() {
		p.tryRefused = false
		clear(p.force)
	}()
	return p.SyncEach(hint, each)
}

// RefusedTables lists the kernel tables the FIB could not make a table
// for, with why.
func (p *Programmer) RefusedTables() map[uint32]error { return maps.Clone(p.refused) }

// SetResolve sets how interface ids map to a port and VID (router's
// ifaces.Resolve); nil: ids are ports. Before the first Sync.
func (p *Programmer) SetResolve(f func(dpdk.PortID) (dpdk.PortID, uint16)) { p.resolve = f }

// FIB is the FIB the programmer writes.
func (p *Programmer) FIB() *lpm.FIB { return p.fib }

// ObjectIndex is the FIB nexthop of the routes naming kernel nexthop
// object id; ok is false while no such route is programmed.
func (p *Programmer) ObjectIndex(id uint32) (idx uint32, ok bool) {
	if e, ok := p.nh[rib.ObjKey(id)]; ok {
		return e.idx, true
	}
	return 0, false
}

// Resolve maps an interface id of a Hop (or of rib.EachAddr) to its port
// and VLAN (0: none).
func (p *Programmer) Resolve(id fptypes.PortID) (dpdk.PortID, uint16) {
	if p.resolve == nil {
		return dpdk.PortID(id), 0
	}
	return p.resolve(dpdk.PortID(id))
}

// Pending is the number of changes waiting for a retry.
func (p *Programmer) Pending() int { return len(p.retry) }

// Retry applies again the changes the FIB refused before. It costs
// nothing when there are none: unlike a full Sync, it can run often.
func (p *Programmer) Retry() (SyncStats, error) {
	if len(p.retry) == 0 {
		return SyncStats{}, nil
	}
	changes := make([]rib.Change, 0, len(p.retry))
	for _, c := range p.retry {
		changes = append(changes, c)
	}
	clear(p.retry)
	return p.Update(changes)
}

// SyncStats counts what one Update or Sync did.
type SyncStats struct {
	Added, Replaced, Deleted, Refused int
	Nexthops                          int // live nexthop indices afterwards
}

// Sync makes the FIB equal to want, whatever it held before.
func (p *Programmer) Sync(want rib.Desired) (SyncStats, error) {
	n := 0
	for _, routes := range want {
		n += len(routes)
	}
	return p.SyncEach(n, func(f func(uint32, netip.Prefix, *rib.Target)) {
		for table, routes := range want {
			for pfx, t := range routes {
				f(table, pfx, &t)
			}
		}
	})
}

// SyncEach is Sync over an iteration (RIB.Each): the mark-and-sweep of a
// resync. Every prefix the iteration yields is marked (and changed if its
// target differs); whatever stays unmarked is deleted. Only differences
// are applied, so the FIB is never emptied on the way.
// hint is the number of prefixes each will yield, for sizing.
func (p *Programmer) SyncEach(hint int, each func(func(uint32, netip.Prefix, *rib.Target))) (SyncStats, error) {
	// Every entry carries p.mark; the new mark tells the prefixes the
	// iteration yields from the rest.
	p.mark ^= markBit
	had := 0
	for _, cur := range p.cur {
		had += cur.len()
	}
	clear(p.retry) // a Sync supersedes every pending change
	var errs []error
	var recent recentNH
	// Mostly all new (first load) or mostly unchanged (resync): size for the first.
	ops := make([]op, 0, max(hint-had, 0)+64)
	each(func(table uint32, pfx netip.Prefix, t *rib.Target) {
		cur := p.cur[table]
		k := rib.KeyOf(pfx)
		if c, ok := cur.get(k); ok {
			cur.set(k, programmed(c.idx())|p.mark)
			if e := p.byIdx[c.idx()]; e != nil && e.target.Equal(t) && !p.force[table] {
				return
			}
		}
		// The nexthop now: t is valid for this call only (the RIB may be
		// settling as it yields).
		nh, err := p.ensureRecent(t, &recent)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s table %d: %w", pfx, table, err))
			p.retry[retryKey{table, pfx}] = rib.Change{Table: table, Prefix: pfx, Target: *t}
			return
		}
		ops = append(ops, op{table: table, k: k, nh: nh})
	})
	for table, cur := range p.cur {
		for k, c := range cur.all() {
			if c&markBit != p.mark {
				ops = append(ops, op{table: table, k: k, del: true})
			}
		}
	}
	st, err := p.apply(ops, errs)
	// apply marks what it writes; what it could not write or delete (all
	// of it waits in p.retry) is marked too, so that every entry carries
	// the mark again (the next Sync deletes it if still unwanted).
	for rk := range p.retry {
		k := rib.KeyOf(rk.prefix)
		if x, ok := p.cur[rk.table].get(k); ok {
			p.cur[rk.table].set(k, programmed(x.idx())|p.mark)
		}
	}
	return st, err
}

// op is one route change for apply, its nexthop ensured: a rib.Change
// whose target its nexthop holds (40 bytes, not 128, for each of a full
// view's routes).
type op struct {
	table uint32
	del   bool
	k     rib.PrefixKey
	// old is what the FIB held for k, read while the batch is made (one
	// lookup per change, not two), with markBit set: 0 when nothing.
	old programmed
	nh  *nhEntry // nil for a delete
}

// change is o as the rib.Change it stands for (a retry).
func (o *op) change() rib.Change {
	c := rib.Change{Table: o.table, Prefix: o.k.Prefix(), Del: o.del}
	if o.nh != nil {
		c.Target = o.nh.target
	}
	return c
}

// Update applies changes, at most one per table and prefix. Routes a table
// refuses (full) stay out, or keep their previous target, and are counted;
// Retry (the router runs it every router_fib_refresh) or a later change of
// the same prefix tries them again.
func (p *Programmer) Update(changes []rib.Change) (SyncStats, error) {
	var errs []error
	// 1. publish the nexthops the changes need; an object's new resolution
	// is one rewrite of its nexthop, which every route naming it follows
	for i := range changes {
		if c := &changes[i]; c.Table == rib.ObjTable {
			if err := p.objectChanged(c); err != nil {
				errs = append(errs, err)
			}
		}
	}
	ops := make([]op, 0, len(changes))
	var recent recentNH
	for i := range changes {
		c := &changes[i]
		if c.Table == rib.ObjTable {
			continue
		}
		if len(p.retry) > 0 {
			delete(p.retry, retryKey{c.Table, c.Prefix}) // superseded
		}
		o := op{table: c.Table, del: c.Del, k: rib.KeyOf(c.Prefix)}
		if !c.Del {
			nh, err := p.ensureRecent(&c.Target, &recent)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s table %d: %w", c.Prefix, c.Table, err))
				p.retry[retryKey{c.Table, c.Prefix}] = *c
				continue
			}
			o.nh = nh
		}
		ops = append(ops, o)
	}
	return p.apply(ops, errs)
}

// recentNH are the nexthops ensureRecent returned last, for one Update or
// SyncEach: no nexthop is released meanwhile.
type recentNH struct {
	e    [4]*nhEntry
	next int
}

// ensureRecent is ensure with a memory of its last answers: a full view's
// changes go through a handful of targets (one per peer), whose nexthops
// are what ensure would return again; comparing costs less than a key
// and a map lookup.
func (p *Programmer) ensureRecent(t *rib.Target, r *recentNH) (*nhEntry, error) {
	for _, e := range r.e {
		if e != nil && e.target.Equal(t) {
			return e, nil
		}
	}
	e, err := p.ensure(t)
	if err == nil {
		r.e[r.next] = e
		r.next = (r.next + 1) % len(r.e)
	}
	return e, err
}

// apply writes ops (their nexthops ensured) to the FIB and records them;
// errs are the errors met on the way.
func (p *Programmer) apply(ops []op, errs []error) (SyncStats, error) {
	var st SyncStats
	byTable := map[uint32][]int{}
	for i := range ops {
		byTable[ops[i].table] = append(byTable[ops[i].table], i)
	}

	// 2. one batch per table: deletes first (they make room in a table
	// close to full), then the routes that keep the router reachable
	// (local addresses, on-link subnets, host routes), then the rest, so
	// that a full table refuses ordinary routes before those.
	var b lpm.Batch
	for table, idx := range byTable {
		cur := p.cur[table]
		if cur == nil && !slices.ContainsFunc(idx, func(i int) bool { return !ops[i].del }) {
			continue // nothing there to delete: no table made for it
		}
		t, err := p.table(table)
		if err != nil {
			continue // refused: logged once, its routes wait in the RIB
		}
		fresh := cur == nil // holds nothing: no lookups
		if cur == nil {
			n6 := 0
			for _, i := range idx {
				if ops[i].k.Is6() {
					n6++
				}
			}
			cur = newHeld(len(idx)-n6, n6)
			p.cur[table] = cur
			p.counts[table] = &[2]uint64{}
		}
		b.Reset()
		b.Grow(len(idx))
		order := make([]int, 0, len(idx))
		for _, i := range idx {
			if o := &ops[i]; o.del && !fresh {
				if x, ok := cur.get(o.k); ok {
					b.Del(o.k.Prefix())
					order = append(order, i)
					o.old = x | markBit
				}
			}
		}
		for pass := range 2 {
			for _, i := range idx {
				o := &ops[i]
				if o.del || essential(o.k, &o.nh.target) != (pass == 0) {
					continue
				}
				if !fresh {
					x, ok := cur.get(o.k)
					if ok && x.idx() == o.nh.idx && !p.force[table] {
						continue
					}
					if ok {
						o.old = x | markBit
					}
				}
				b.Add(o.k.Prefix(), o.nh.idx)
				order = append(order, i)
			}
		}
		// A table made for this batch takes adds only: its record is
		// filled while the FIB applies them (a million map inserts beside
		// the C side's work), then the refused ones leave it again.
		// Nothing else reads cur meanwhile: it is new, and the router
		// holds its lock while it programs.
		var filled chan struct{}
		if fresh {
			filled = make(chan struct{})
			go func() {
				defer close(filled)
				for _, i := range order {
					cur.set(ops[i].k, programmed(ops[i].nh.idx)|p.mark)
				}
			}()
		}
		res, err := p.fib.Apply(t, &b)
		if filled != nil {
			<-filled
		}
		if err != nil {
			// The batch did not run: the FIB keeps what it had, and the
			// changes wait for Retry or Reconcile.
			errs = append(errs, err)
			for _, i := range order {
				c := ops[i].change()
				p.retry[retryKey{table, c.Prefix}] = c
				if fresh {
					cur.del(ops[i].k)
				}
			}
			continue
		}
		var failed map[netip.Prefix]error
		if len(res.Failed) > 0 {
			failed = make(map[netip.Prefix]error, len(res.Failed))
			for _, f := range res.Failed {
				failed[f.Prefix] = f.Err
			}
		}
		st.Refused += res.Full
		for _, i := range order {
			o := &ops[i]
			var err error
			if failed != nil {
				err = failed[o.k.Prefix()]
			}
			if o.del && errors.Is(err, syscall.ENOENT) {
				err = nil // already absent: the goal of a delete
			}
			if err != nil {
				if !errors.Is(err, lpm.ErrFull) {
					errs = append(errs, fmt.Errorf("table %d: %w", table, err))
				}
				c := o.change()
				p.retry[retryKey{table, c.Prefix}] = c
				if fresh {
					cur.del(o.k)
				}
				continue // the FIB keeps what it had
			}
			had := o.old != 0
			if had {
				if e := p.byIdx[o.old.idx()]; e != nil {
					p.unref(e)
				}
			}
			if o.del {
				cur.del(o.k)
				p.counts[table][famOf(o.k)]--
				st.Deleted++
				continue
			}
			if !fresh {
				cur.set(o.k, programmed(o.nh.idx)|p.mark)
			}
			p.ref(o.nh)
			if had {
				st.Replaced++
			} else {
				st.Added++
				p.counts[table][famOf(o.k)]++
			}
		}
	}

	// 3. release unused nexthops, groups before their members
	for _, groups := range []bool{true, false} {
		for k, e := range p.nh {
			if e.refs > 0 || (e.target.Type == dpdk.NexthopECMP) != groups {
				continue
			}
			if err := p.fib.NH.Release(e.idx); err != nil {
				errs = append(errs, err) // kept, released next time
				continue
			}
			delete(p.nh, k)
			delete(p.byIdx, e.idx)
		}
	}
	if err := p.fib.Commit(); err != nil {
		errs = append(errs, err)
	}
	p.RouteWrites.Add(uint64(st.Added + st.Replaced + st.Deleted))
	st.Nexthops = p.fib.NH.Live()
	if len(errs) > 0 {
		p.suspect = true
	}
	return st, errors.Join(errs...)
}

// table returns the FIB table of a kernel table, making it if needed. A
// table that cannot be made is refused (logged and counted once) and not
// tried again before the next Reconcile.
func (p *Programmer) table(id uint32) (*lpm.Table, error) {
	if err, ok := p.refused[id]; ok && !p.tryRefused {
		return nil, err
	}
	t, err := p.fib.Table(id, -1)
	if err != nil {
		if _, ok := p.refused[id]; !ok {
			p.TablesRefused.Add(1)
			p.log.Error().Err(err).Uint32("table", id).
				Msg("FIB table refused: its routes are not forwarded; retried every router_fib_refresh")
		}
		p.refused[id] = err
		return nil, err
	}
	if _, ok := p.refused[id]; ok {
		delete(p.refused, id)
		p.log.Info().Uint32("table", id).Msg("FIB table made after all: its routes follow")
	}
	return t, nil
}

// DropTables frees the FIB tables of the kernel tables that are no longer
// mirrored (keep says which are), once their routes are gone: an ip rule
// removed takes its table's memory with it. Changes waiting for a retry
// and refusals of such tables are forgotten, lest a retry make the table
// again. A table the fast path cannot free yet (a rule still names it, a
// stalled worker) is tried again on the next call. It reports how many
// tables it freed.
func (p *Programmer) DropTables(keep func(uint32) bool) (int, error) {
	for k := range p.retry {
		if !keep(k.table) {
			delete(p.retry, k)
		}
	}
	for id := range p.refused {
		if !keep(id) {
			delete(p.refused, id)
		}
	}
	var errs []error
	freed := 0
	for id, t := range p.fib.Tables() {
		if keep(id) || p.cur[id].len() > 0 {
			continue
		}
		if err := p.fib.Destroy(t); err != nil {
			errs = append(errs, fmt.Errorf("freeing FIB table %d: %w", id, err))
			continue
		}
		delete(p.cur, id)
		delete(p.counts, id)
		delete(p.force, id)
		freed++
		p.log.Info().Uint32("table", id).Uint16("slot", t.Slot).Msg("FIB table freed: no longer mirrored")
	}
	return freed, errors.Join(errs...)
}

// essential routes keep the router itself reachable: local addresses,
// on-link subnets and host routes.
func essential(k rib.PrefixKey, t *rib.Target) bool {
	return t.Type == dpdk.NexthopLocal || t.Type == dpdk.NexthopPunt || t.Type == dpdk.NexthopUnresolved || k.IsHost()
}

func (p *Programmer) ref(e *nhEntry) {
	e.refs++
	if e.refs == 1 {
		for _, m := range e.members {
			p.ref(m)
		}
	}
}

func (p *Programmer) unref(e *nhEntry) {
	e.refs--
	if e.refs == 0 {
		for _, m := range e.members {
			p.unref(m)
		}
	}
}

// ensure returns the nexthop for t, publishing it (and ECMP members) if
// new. A nexthop of the same key (the same kernel object, or adjacency)
// with other content is rewritten in place: the routes on it follow with
// no write of their own.
func (p *Programmer) ensure(t *rib.Target) (*nhEntry, error) {
	k := t.Key()
	if e, ok := p.nh[k]; ok {
		if !e.target.Equal(t) {
			if err := p.rewrite(e, t); err != nil {
				return nil, err
			}
		}
		return e, nil
	}
	nh, members, err := p.build(t)
	if err != nil {
		return nil, err
	}
	i, err := p.fib.NH.Alloc()
	if err != nil {
		return nil, err
	}
	if err := p.fib.NH.Set(i, nh); err != nil {
		p.fib.NH.Unalloc(i)
		return nil, fmt.Errorf("publish nexthop %s: %w", t.Hop, err)
	}
	e := &nhEntry{idx: i, target: *t, members: members}
	p.nh[k] = e
	p.byIdx[i] = e
	return e, nil
}

// objectChanged rewrites the nexthop of a kernel nexthop object that
// routes use (none: nothing to do; the first route naming it publishes
// it). A failed rewrite leaves the old content, and the next reconcile
// writes the routes' targets again.
func (p *Programmer) objectChanged(c *rib.Change) error {
	if c.Del {
		return nil // released with its last route
	}
	e, ok := p.nh[c.Target.Key()]
	if !ok || e.target.Equal(&c.Target) {
		return nil
	}
	if err := p.rewrite(e, &c.Target); err != nil {
		return fmt.Errorf("nexthop object %d: %w", c.Target.Obj, err)
	}
	return nil
}

// rewrite publishes e's new content at its index (an RCU pointer swap in
// the fast path) and moves its references to the new members.
func (p *Programmer) rewrite(e *nhEntry, t *rib.Target) error {
	nh, members, err := p.build(t)
	if err != nil {
		return err
	}
	if err := p.fib.NH.Set(e.idx, nh); err != nil {
		return fmt.Errorf("rewrite nexthop %d: %w", e.idx, err)
	}
	if e.refs > 0 {
		for _, m := range members {
			p.ref(m)
		}
		for _, m := range e.members {
			p.unref(m)
		}
	}
	e.members, e.target = members, *t
	p.Rewrites.Add(1)
	return nil
}

// build makes the fast path's nexthop for t, ensuring its ECMP members.
func (p *Programmer) build(t *rib.Target) (dpdk.Nexthop, []*nhEntry, error) {
	nh := dpdk.Nexthop{Type: t.Type}
	var members []*nhEntry
	switch t.Type {
	case dpdk.NexthopForward, dpdk.NexthopUnresolved, dpdk.NexthopPunt:
		nh.Port = dpdk.PortID(t.Hop.Port)
		if p.resolve != nil {
			nh.Port, nh.VLAN = p.resolve(dpdk.PortID(t.Hop.Port))
		}
		nh.MAC = t.Hop.MAC[:]
	case dpdk.NexthopECMP:
		if len(t.Members) > dpdk.ECMPBuckets {
			return nh, nil, fmt.Errorf("ECMP group of %d paths exceeds %d buckets (meson option ecmp_buckets)",
				len(t.Members), dpdk.ECMPBuckets)
		}
		weights := make([]int, len(t.Members))
		for i, m := range t.Members {
			me, err := p.ensure(&rib.Target{Type: m.Hop.Type, Hop: m.Hop})
			if err != nil {
				return nh, nil, err
			}
			members = append(members, me)
			weights[i] = m.Weight
		}
		for _, b := range rib.Buckets(weights, dpdk.ECMPBuckets) {
			nh.Buckets = append(nh.Buckets, members[b].idx)
		}
	}
	return nh, members, nil
}

// Nexthop describes nexthop index idx as the router sees it.
func (p *Programmer) Nexthop(idx uint32) (rib.Target, bool) {
	for _, e := range p.nh {
		if e.idx == idx {
			return e.target, true
		}
	}
	return rib.Target{}, false
}

// Programmed counts the routes the FIB holds per table.
func (p *Programmer) Programmed() map[uint32]int {
	out := map[uint32]int{}
	for t, cur := range p.cur {
		out[t] = cur.len()
	}
	return out
}
