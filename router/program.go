package router

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
	"fibd/lpm"
)

// Programmer keeps the fast path's FIB equal to a Desired state by diffing
// and applying only the changes: nexthops first (so no route ever points
// at an unpublished index), then one batch of route changes per table,
// then the release of nexthops nothing uses any more. It is the single
// writer of the FIB.
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
	refs    int
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

// Stats of one Sync.
type SyncStats struct {
	Added, Replaced, Deleted, Refused int
	Nexthops                          int // live nexthop indices afterwards
}

// Sync makes the FIB equal to want. Routes a table refuses (full) stay out
// and are retried by the next Sync; everything else is applied.
func (p *Programmer) Sync(want Desired) (SyncStats, error) {
	var st SyncStats
	var errs []error

	// 1. publish every nexthop the new state needs; count references.
	for _, e := range p.nh {
		e.refs = 0
	}
	for _, routes := range want {
		for _, t := range routes {
			if _, err := p.ensure(t); err != nil {
				return st, err
			}
		}
	}

	// 2. route changes, one batch per table
	var b lpm.Batch
	for table, routes := range want {
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
		// Deletes first: they make room in a table close to full. Then
		// the routes that make the router reachable at all (local
		// addresses, connected subnets, neighbours' host routes), so that
		// a full table refuses ordinary routes before those.
		b.Reset()
		for pfx := range cur {
			if _, ok := routes[pfx]; !ok {
				b.Del(pfx)
			}
		}
		var later []netip.Prefix
		for pfx, tgt := range routes {
			k := tgt.key()
			if old, ok := cur[pfx]; ok && old == k {
				continue
			}
			if !essential(pfx, tgt) {
				later = append(later, pfx)
				continue
			}
			b.Add(pfx, p.nh[k].idx)
		}
		for _, pfx := range later {
			b.Add(pfx, p.nh[routes[pfx].key()].idx)
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
		for pfx, tgt := range routes {
			k := tgt.key()
			old, had := cur[pfx]
			if had && old == k {
				continue
			}
			if err := failed[pfx]; err != nil {
				// Refused: the FIB keeps the old target, if any.
				if !errors.Is(err, lpm.ErrFull) {
					errs = append(errs, fmt.Errorf("table %d: %w", table, err))
				}
				continue
			}
			cur[pfx] = k
			if had {
				st.Replaced++
			} else {
				st.Added++
			}
		}
		for pfx := range cur {
			if _, ok := routes[pfx]; !ok {
				if err := failed[pfx]; err != nil {
					errs = append(errs, fmt.Errorf("table %d: %w", table, err))
				}
				delete(cur, pfx)
				st.Deleted++
			}
		}
	}
	// Tables the new state no longer mentions are emptied.
	for table, cur := range p.cur {
		if _, ok := want[table]; ok || len(cur) == 0 {
			continue
		}
		t, err := p.fib.Table(table, -1)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.Reset()
		for pfx := range cur {
			b.Del(pfx)
		}
		if _, err := p.fib.Apply(t, &b); err != nil {
			errs = append(errs, err)
			continue
		}
		st.Deleted += len(cur)
		p.cur[table] = map[netip.Prefix]string{}
	}

	// 3. references held by what is programmed now (refused routes hold
	// none; routes kept on an old target hold that one).
	for _, e := range p.nh {
		e.refs = 0
	}
	for _, cur := range p.cur {
		for _, k := range cur {
			p.ref(k)
		}
	}
	// 4. release unused nexthops, groups before their members
	for _, pass := range []bool{true, false} {
		for k, e := range p.nh {
			if e.refs > 0 || (e.target.Type == dpdk.NexthopECMP) != pass {
				continue
			}
			if err := p.fib.NH.Release(e.idx); err != nil {
				errs = append(errs, err)
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
