package router

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
	"fibd/lpm"
)

// Programmer keeps the fast path's FIB equal to the RIB's resolution by
// applying only changes: nexthops first (so no route ever points at an
// unpublished index), then one batch of route changes per table, then the
// release of nexthops nothing uses any more. It is the single writer of
// the FIB.
type Programmer struct {
	log zerolog.Logger
	fib *lpm.FIB
	nh  map[string]*nhEntry                // by Target.key()
	cur map[uint32]map[netip.Prefix]string // programmed: table -> prefix -> key
}

type nhEntry struct {
	idx     uint32
	target  Target
	members []string // ECMP: member keys (each holds its own entry)
	refs    int      // routes programmed on it, plus groups using it
}

// NewProgrammer returns a Programmer over fib, which it then owns.
func NewProgrammer(log zerolog.Logger, fib *lpm.FIB) *Programmer {
	return &Programmer{
		log: log.With().Str("component", "router").Logger(),
		fib: fib,
		nh:  map[string]*nhEntry{},
		cur: map[uint32]map[netip.Prefix]string{},
	}
}

// SyncStats counts what one Update or Sync did.
type SyncStats struct {
	Added, Replaced, Deleted, Refused int
	Nexthops                          int // live nexthop indices afterwards
}

// Sync makes the FIB equal to want, whatever it held before: the
// mark-and-sweep of a resync. Only differences are applied, so the FIB is
// never emptied on the way.
func (p *Programmer) Sync(want Desired) (SyncStats, error) {
	var changes []Change
	for table, routes := range want {
		cur := p.cur[table]
		for pfx, t := range routes {
			if cur[pfx] != t.key() {
				tt := t
				changes = append(changes, Change{table, pfx, &tt})
			}
		}
	}
	for table, cur := range p.cur {
		for pfx := range cur {
			if _, ok := want[table][pfx]; !ok {
				changes = append(changes, Change{table, pfx, nil})
			}
		}
	}
	return p.Update(changes)
}

// Update applies changes, at most one per table and prefix. Routes a table
// refuses (full) stay out, or keep their previous target, and are counted;
// the next Sync (the router runs one every router_fib_refresh) retries
// them.
func (p *Programmer) Update(changes []Change) (SyncStats, error) {
	var st SyncStats
	var errs []error

	// 1. publish the nexthops the changes need
	byTable := map[uint32][]Change{}
	for _, c := range changes {
		if c.Target != nil {
			if _, err := p.ensure(*c.Target); err != nil {
				errs = append(errs, fmt.Errorf("%s table %d: %w", c.Prefix, c.Table, err))
				continue
			}
		}
		byTable[c.Table] = append(byTable[c.Table], c)
	}

	// 2. one batch per table: deletes first (they make room in a table
	// close to full), then the routes that keep the router reachable
	// (local addresses, on-link subnets, host routes), then the rest, so
	// that a full table refuses ordinary routes before those.
	var b lpm.Batch
	for table, cs := range byTable {
		t, err := p.fib.Table(table, -1)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cur := p.cur[table]
		if cur == nil {
			cur = map[netip.Prefix]string{}
			p.cur[table] = cur
		}
		b.Reset()
		var order []Change
		for _, c := range cs {
			if c.Target == nil {
				if _, ok := cur[c.Prefix]; ok {
					b.Del(c.Prefix)
					order = append(order, c)
				}
			}
		}
		for pass := range 2 {
			for _, c := range cs {
				if c.Target == nil || essential(c.Prefix, *c.Target) != (pass == 0) {
					continue
				}
				k := c.Target.key()
				if cur[c.Prefix] == k {
					continue
				}
				e := p.nh[k]
				if e == nil { // its nexthop could not be published
					continue
				}
				b.Add(c.Prefix, e.idx)
				order = append(order, c)
			}
		}
		res, err := p.fib.Apply(t, &b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		failed := map[netip.Prefix]error{}
		for _, f := range res.Failed {
			failed[f.Prefix] = f.Err
		}
		st.Refused += res.Full
		for _, c := range order {
			err := failed[c.Prefix]
			if c.Target == nil && errors.Is(err, syscall.ENOENT) {
				err = nil // already absent: the goal of a delete
			}
			if err != nil {
				if !errors.Is(err, lpm.ErrFull) {
					errs = append(errs, fmt.Errorf("table %d: %w", table, err))
				}
				continue // the FIB keeps what it had
			}
			old, had := cur[c.Prefix]
			if had {
				p.unref(old)
			}
			if c.Target == nil {
				delete(cur, c.Prefix)
				st.Deleted++
				continue
			}
			k := c.Target.key()
			cur[c.Prefix] = k
			p.ref(k)
			if had {
				st.Replaced++
			} else {
				st.Added++
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
		}
	}
	p.fib.Commit()
	st.Nexthops = p.fib.NH.Live()
	return st, errors.Join(errs...)
}

// essential routes keep the router itself reachable: local addresses,
// on-link subnets and host routes.
func essential(p netip.Prefix, t Target) bool {
	return t.Type == dpdk.NexthopLocal || t.Type == dpdk.NexthopUnresolved || p.IsSingleIP()
}

func (p *Programmer) ref(k string) {
	e := p.nh[k]
	e.refs++
	if e.refs == 1 {
		for _, m := range e.members {
			p.ref(m)
		}
	}
}

func (p *Programmer) unref(k string) {
	e := p.nh[k]
	e.refs--
	if e.refs == 0 {
		for _, m := range e.members {
			p.unref(m)
		}
	}
}

// ensure returns the nexthop index for t, publishing it (and ECMP
// members) if new.
func (p *Programmer) ensure(t Target) (uint32, error) {
	k := t.key()
	if e, ok := p.nh[k]; ok {
		return e.idx, nil
	}
	nh := dpdk.Nexthop{Type: t.Type}
	var members []string
	switch t.Type {
	case dpdk.NexthopForward, dpdk.NexthopUnresolved:
		nh.Port = t.Hop.Port
		nh.MAC = t.Hop.MAC[:]
	case dpdk.NexthopECMP:
		if len(t.Members) > dpdk.ECMPBuckets {
			return 0, fmt.Errorf("ECMP group of %d paths exceeds %d buckets (meson option ecmp_buckets)",
				len(t.Members), dpdk.ECMPBuckets)
		}
		idx := make([]uint32, len(t.Members))
		weights := make([]int, len(t.Members))
		for i, m := range t.Members {
			mt := Target{Type: m.Hop.Type, Hop: m.Hop}
			mi, err := p.ensure(mt)
			if err != nil {
				return 0, err
			}
			idx[i] = mi
			weights[i] = m.Weight
			members = append(members, mt.key())
		}
		for _, b := range Buckets(weights, dpdk.ECMPBuckets) {
			nh.Buckets = append(nh.Buckets, idx[b])
		}
	}
	i, err := p.fib.NH.Alloc()
	if err != nil {
		return 0, err
	}
	if err := p.fib.NH.Set(i, nh); err != nil {
		p.fib.NH.Unalloc(i)
		return 0, fmt.Errorf("publish nexthop for %s: %w", k, err)
	}
	p.nh[k] = &nhEntry{idx: i, target: t, members: members}
	return i, nil
}

// Nexthop describes nexthop index idx as the router sees it.
func (p *Programmer) Nexthop(idx uint32) (Target, bool) {
	for _, e := range p.nh {
		if e.idx == idx {
			return e.target, true
		}
	}
	return Target{}, false
}

// Programmed counts the routes the FIB holds per table.
func (p *Programmer) Programmed() map[uint32]int {
	out := map[uint32]int{}
	for t, cur := range p.cur {
		out[t] = len(cur)
	}
	return out
}
