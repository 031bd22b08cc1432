package rib

import (
	"iter"
	"net/netip"
	"slices"
)

// NhObj is a kernel nexthop object (ip nexthop): a single path, a
// blackhole, or a group of other objects with weights. Routes refer to it
// by id (RTA_NH_ID); with net.ipv4.nexthop_compat_mode=0 the id is all a
// route message carries.
type NhObj struct {
	ID        uint32
	Gateway   netip.Addr // single: invalid means on-link
	Oif       int        // single: ifindex
	Blackhole bool
	Dead      bool       // RTNH_F_DEAD or LINKDOWN: the kernel does not use it
	Group     []NhMember // a group (resilient groups are taken as plain ones)
}

// NhMember is one member of a group object.
type NhMember struct {
	ID     uint32
	Weight int // 1..256
}

// NhObjs mirrors one netns's nexthop objects, and which routes use each.
//
// Concurrency: the router goroutine writes it; other goroutines read it
// only under Router.mu (router.Router.Do).
type NhObjs struct {
	objs map[uint32]*NhObj
	// users: per object id, the routes that name it (table, prefix,
	// metric), to expand them again when the object changes.
	users   map[uint32]map[NhRouteKey]struct{}
	byRoute map[NhRouteKey]uint32 // the other way round
	// inGroup: per member id, the groups that hold it.
	inGroup map[uint32][]uint32
}

// NhRouteKey identifies a route that names an object: what the kernel
// tells routes apart by (table, prefix, metric).
type NhRouteKey struct {
	k      tp
	metric uint32
}

// RouteKey is the NhRouteKey of the route in table to p with metric; p
// must be masked.
func RouteKey(table uint32, p netip.Prefix, metric uint32) NhRouteKey {
	return NhRouteKey{mkTP(table, p), metric}
}

func NewNhObjs() *NhObjs {
	return &NhObjs{objs: map[uint32]*NhObj{}, users: map[uint32]map[NhRouteKey]struct{}{}, byRoute: map[NhRouteKey]uint32{}, inGroup: map[uint32][]uint32{}}
}

// Set adds or replaces an object; it returns the objects whose expansion
// may have changed (o, and the groups holding it).
func (n *NhObjs) Set(o *NhObj) []uint32 {
	if old := n.objs[o.ID]; old != nil {
		n.ungroup(old)
	}
	n.objs[o.ID] = o
	for _, m := range o.Group {
		if !slices.Contains(n.inGroup[m.ID], o.ID) {
			n.inGroup[m.ID] = append(n.inGroup[m.ID], o.ID)
		}
	}
	return append([]uint32{o.ID}, n.inGroup[o.ID]...)
}

// Del removes an object, as the kernel does: out of the groups holding
// it, and a group left empty goes too. It returns the objects affected
// (those gone included).
func (n *NhObjs) Del(id uint32) []uint32 {
	old := n.objs[id]
	if old == nil {
		return nil
	}
	n.ungroup(old)
	delete(n.objs, id)
	// The kernel takes a deleted object out of the groups holding it.
	groups := n.inGroup[id]
	delete(n.inGroup, id)
	affected := []uint32{id}
	for _, g := range groups {
		o := n.objs[g]
		if o == nil {
			continue
		}
		c := *o
		c.Group = slices.DeleteFunc(slices.Clone(o.Group), func(m NhMember) bool { return m.ID == id })
		if len(c.Group) == 0 { // its last member: the group goes too
			affected = append(affected, n.Del(g)...)
			continue
		}
		n.objs[g] = &c
		affected = append(affected, g)
	}
	return affected
}

func (n *NhObjs) ungroup(o *NhObj) {
	for _, m := range o.Group {
		g := slices.DeleteFunc(n.inGroup[m.ID], func(x uint32) bool { return x == o.ID })
		if len(g) == 0 {
			delete(n.inGroup, m.ID)
		} else {
			n.inGroup[m.ID] = g
		}
	}
}

// SameObj reports whether two objects forward alike.
func SameObj(a, b *NhObj) bool {
	return a.Gateway == b.Gateway && a.Oif == b.Oif && a.Blackhole == b.Blackhole && a.Dead == b.Dead &&
		slices.Equal(a.Group, b.Group)
}

// Replace makes the objects equal to all (a dump): mark-and-sweep. It
// returns the objects whose expansion may have changed.
func (n *NhObjs) Replace(all []*NhObj) []uint32 {
	var changed []uint32
	seen := make(map[uint32]bool, len(all))
	for _, o := range all {
		seen[o.ID] = true
		if old := n.objs[o.ID]; old != nil && SameObj(old, o) {
			continue
		}
		changed = append(changed, n.Set(o)...)
	}
	for id := range n.objs {
		if !seen[id] {
			changed = append(changed, n.Del(id)...)
		}
	}
	return changed
}

// Use records that route rk names object id (0: none).
func (n *NhObjs) Use(rk NhRouteKey, id uint32) {
	old := n.byRoute[rk]
	if old == id {
		return
	}
	if old != 0 {
		if u := n.users[old]; u != nil {
			delete(u, rk)
			if len(u) == 0 {
				delete(n.users, old)
			}
		}
		delete(n.byRoute, rk)
	}
	if id != 0 {
		u := n.users[id]
		if u == nil {
			u = map[NhRouteKey]struct{}{}
			n.users[id] = u
		}
		u[rk] = struct{}{}
		n.byRoute[rk] = id
	}
}

// RoutesOf lists the routes naming any of ids (each once), as they are
// to be added again: unicast, their object to be expanded.
func (n *NhObjs) RoutesOf(ids []uint32) []Route {
	var out []Route
	done := map[uint32]bool{}
	for _, id := range ids {
		if done[id] {
			continue
		}
		done[id] = true
		for rk := range n.users[id] {
			out = append(out, Route{Table: rk.k.table, Prefix: rk.k.Prefix(), Type: Unicast, Metric: rk.metric, NhID: id})
		}
	}
	return out
}

// Obj is object id, nil when not known.
func (n *NhObjs) Obj(id uint32) *NhObj { return n.objs[id] }

// Len counts the objects.
func (n *NhObjs) Len() int { return len(n.objs) }

// All iterates over the objects, in no order.
func (n *NhObjs) All() iter.Seq2[uint32, *NhObj] {
	return func(yield func(uint32, *NhObj) bool) {
		for id, o := range n.objs {
			if !yield(id, o) {
				return
			}
		}
	}
}

// Users counts the routes naming object id.
func (n *NhObjs) Users(id uint32) int { return len(n.users[id]) }

// Expand fills rt's type and nexthops from its object (Expansion); an
// object not known (yet) leaves the route without nexthops (unreachable
// until it comes).
func (n *NhObjs) Expand(rt *Route, links Links) {
	if rt.NhID == 0 {
		return
	}
	rt.Nexthops = nil
	if exp, ok := n.Expansion(rt.NhID, links); ok {
		rt.Type, rt.Nexthops = exp.Type, exp.Nexthops
	}
}

// Expansion is how the kernel forwards with object id, as a route: a
// blackhole object makes a blackhole; a group, its members' paths with
// their weights, dead members left out (all dead: the group as it is).
// ok is false for an object not known.
func (n *NhObjs) Expansion(id uint32, links Links) (exp Route, ok bool) {
	o := n.objs[id]
	if o == nil {
		return Route{}, false
	}
	if o.Blackhole {
		return Route{Type: Blackhole}, true
	}
	if len(o.Group) == 0 {
		return Route{Type: Unicast, Nexthops: []Nexthop{{Gateway: o.Gateway, Dev: links[o.Oif]}}}, true
	}
	var dead []Nexthop
	for _, m := range o.Group {
		mo := n.objs[m.ID]
		if mo == nil || mo.Blackhole || len(mo.Group) > 0 {
			continue
		}
		nh := Nexthop{Gateway: mo.Gateway, Dev: links[mo.Oif], Weight: m.Weight}
		if mo.Dead {
			dead = append(dead, nh)
			continue
		}
		exp.Nexthops = append(exp.Nexthops, nh)
	}
	if len(exp.Nexthops) == 0 {
		exp.Nexthops = dead
	}
	if len(exp.Nexthops) == 0 {
		// a group of blackholes
		if m := n.objs[o.Group[0].ID]; m != nil && m.Blackhole {
			return Route{Type: Blackhole}, true
		}
	}
	return exp, true
}

// FlushDev removes the objects on interface ifindex, as the kernel does
// when the interface goes down (administratively), without a word: the
// objects with that device, and their places in groups. It returns the
// objects affected. A re-dump confirms it; this only spares the wait.
func (n *NhObjs) FlushDev(ifindex int) []uint32 {
	var changed []uint32
	for id, o := range n.objs {
		if len(o.Group) == 0 && !o.Blackhole && o.Oif == ifindex {
			changed = append(changed, n.Del(id)...)
		}
	}
	return changed
}

// NamesObj reports whether the RIB holds route rk naming object id.
func (r *RIB) NamesObj(rk NhRouteKey, id uint32) bool {
	e := r.entries.get(rk.k)
	if e == nil {
		return false
	}
	for i := range e.routes {
		if e.routes[i].metric == rk.metric {
			return e.routes[i].nhid == id
		}
	}
	return false
}
