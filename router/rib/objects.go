package rib

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"fibd/cgo/fptypes"
)

// Kernel nexthop objects are resolved once each, not once per route.
//
// An object is an entry of its own, in the reserved table ObjTable: its
// "route" is the object's expansion (its paths, or a blackhole), and it
// resolves like any route, with the gateways it goes through as its
// dependencies. A prefix whose best route names a known object resolves
// to a reference to it (Target{Obj: id}, no type), and reads the object's
// resolution when it is yielded (Each, Flush, Snapshot). So a change of
// the object, or of a neighbour one of its paths goes through, recomputes
// one entry and yields one change (in ObjTable), which the programmer
// turns into one write of the object's FIB nexthop, whatever the number
// of routes naming it. A route naming an object the RIB does not know (a
// notification out of order) resolves through its own paths, as before.

// ObjTable is the table of the objects' entries: the kernel's
// RT_TABLE_UNSPEC, which holds no routes. A Change in it is an object's
// new resolution (Target.Obj says which).
const ObjTable = 0

// objKey is the entry of object id.
func objKey(id uint32) tp {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], id)
	return mkTP(ObjTable, netip.PrefixFrom(netip.AddrFrom4(a), 32))
}

// objOf is the object id of an ObjTable entry.
func objOf(k tp) uint32 { return binary.BigEndian.Uint32(k.addr[:4]) }

// SetObj sets the expansion of object id (NhObjs.Expansion): its paths,
// or a blackhole. It reports whether the routes naming the object must be
// added again: the RIB did not know the object (they resolved without
// it), or it is or was a dev-only path (their on-link prefixes change).
func (r *RIB) SetObj(id uint32, exp Route) (readd bool) {
	k := objKey(id)
	e := r.entry(k)
	exp.Table, exp.Prefix, exp.NhID, exp.Metric = ObjTable, k.Prefix(), 0, 0
	if len(e.routes) == 1 {
		old := &e.routes[0]
		if r.sameContent(old, &exp) {
			return false
		}
		c := r.cand(&exp)
		e.routesChanged()
		readd = r.onlinkCand(old) || r.onlinkCand(&c)
		r.paths.release(old.paths)
		e.routes[0] = c
	} else {
		readd = true
		e.routesChanged()
		e.routes = append(e.routes[:0], r.cand(&exp))
	}
	r.markEntry(k, e)
	return readd
}

// DelObj forgets object id. The routes naming it must be added again
// (the kernel removes them, and a re-dump follows).
func (r *RIB) DelObj(id uint32) {
	k := objKey(id)
	if e := r.entries.get(k); e != nil && len(e.routes) > 0 {
		for i := range e.routes {
			r.paths.release(e.routes[i].paths)
		}
		e.routes = e.routes[:0]
		e.routesChanged()
		r.markEntry(k, e)
	}
}

// HasObj reports whether the RIB knows object id.
func (r *RIB) HasObj(id uint32) bool {
	e := r.entries.get(objKey(id))
	return e != nil && len(e.routes) > 0
}

// objRef is the resolution of a route naming object id, if the RIB knows
// the object: a reference, read through resolved.
func (r *RIB) objRef(id uint32) (Target, bool) {
	if id == 0 || !r.HasObj(id) {
		return Target{}, false
	}
	return Target{Type: fptypes.NexthopNone, Obj: id}, true
}

// resolved is what entry e (resolved: has) forwards with: its own target,
// or the object's it refers to. Valid until the RIB next changes.
func (r *RIB) resolved(e *entry) *Target {
	t := r.targets.get(e.out)
	if t.Type != fptypes.NexthopNone || t.Obj == 0 {
		return t
	}
	if o := r.entries.get(objKey(t.Obj)); o != nil && o.has() {
		return r.targets.get(o.out)
	}
	return &unreachable // not reached: an object's routes are recomputed when it goes
}

var unreachable = Target{Type: fptypes.NexthopUnreachable}

// computeObj resolves object entry k: every type carries the object's id,
// so its routes keep one FIB nexthop whatever it becomes.
func (r *RIB) computeObj(k tp, e *entry) (Target, bool, error) {
	if len(e.routes) == 0 {
		return Target{}, false, nil
	}
	id := objOf(k)
	t, err := r.pathsTarget(k, e, &e.routes[0])
	e.state |= listedBit
	if err != nil {
		return Target{Type: fptypes.NexthopUnreachable, Obj: id}, true,
			fmt.Errorf("nexthop object %d: %w (its routes installed as unreachable)", id, err)
	}
	t.Obj = id
	return t, true, nil
}

// FollowObjects gives the RIB the new expansion of objects ids, changed
// in n: one entry each, which the routes naming them follow with no work
// of their own (one FIB nexthop rewritten per object). The routes of an
// object gone go too, as the kernel removes them (it tells for some
// families only; a re-dump confirms); only those of an object new to the
// RIB, or on-link before or after, are added again.
func (r *RIB) FollowObjects(n *NhObjs, ids []uint32, links Links) {
	var again, gone []uint32
	for _, id := range ids {
		exp, ok := n.Expansion(id, links)
		if !ok {
			r.DelObj(id)
			gone = append(gone, id)
		} else if r.SetObj(id, exp) {
			again = append(again, id)
		}
	}
	for _, rt := range n.RoutesOf(gone) {
		n.Use(RouteKey(rt.Table, rt.Prefix, rt.Metric), 0)
		r.DelRoute(rt)
	}
	for _, rt := range n.RoutesOf(again) {
		rk := RouteKey(rt.Table, rt.Prefix, rt.Metric)
		if !r.NamesObj(rk, rt.NhID) {
			n.Use(rk, 0) // gone from the RIB (a re-dump removed it)
			continue
		}
		n.Expand(&rt, links)
		r.AddRoute(rt)
	}
}
