package router

import (
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

// nhObjs mirrors one netns's nexthop objects, and which routes use each.
//
// Concurrency: the router goroutine writes it; other goroutines read it
// only under Router.mu (Router.Do).
type nhObjs struct {
	objs map[uint32]*NhObj
	// users: per object id, the routes that name it (table, prefix,
	// metric), to expand them again when the object changes.
	users   map[uint32]map[nhRouteKey]struct{}
	byRoute map[nhRouteKey]uint32 // the other way round
	// inGroup: per member id, the groups that hold it.
	inGroup map[uint32][]uint32
}

type nhRouteKey struct {
	k      tp
	metric uint32
}

func newNhObjs() *nhObjs {
	return &nhObjs{objs: map[uint32]*NhObj{}, users: map[uint32]map[nhRouteKey]struct{}{}, byRoute: map[nhRouteKey]uint32{}, inGroup: map[uint32][]uint32{}}
}

// set adds or replaces an object; it returns the objects whose expansion
// may have changed (o, and the groups holding it).
func (n *nhObjs) set(o *NhObj) []uint32 {
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

// del removes an object; it returns the objects affected.
func (n *nhObjs) del(id uint32) []uint32 {
	old := n.objs[id]
	if old == nil {
		return nil
	}
	n.ungroup(old)
	delete(n.objs, id)
	// The kernel takes a deleted object out of the groups holding it.
	groups := n.inGroup[id]
	delete(n.inGroup, id)
	for _, g := range groups {
		if o := n.objs[g]; o != nil {
			c := *o
			c.Group = slices.DeleteFunc(slices.Clone(o.Group), func(m NhMember) bool { return m.ID == id })
			n.objs[g] = &c
		}
	}
	return append([]uint32{id}, groups...)
}

func (n *nhObjs) ungroup(o *NhObj) {
	for _, m := range o.Group {
		g := slices.DeleteFunc(n.inGroup[m.ID], func(x uint32) bool { return x == o.ID })
		if len(g) == 0 {
			delete(n.inGroup, m.ID)
		} else {
			n.inGroup[m.ID] = g
		}
	}
}

// sameObj reports whether two objects forward alike.
func sameObj(a, b *NhObj) bool {
	return a.Gateway == b.Gateway && a.Oif == b.Oif && a.Blackhole == b.Blackhole && a.Dead == b.Dead &&
		slices.Equal(a.Group, b.Group)
}

// replace makes the objects equal to all (a dump): mark-and-sweep. It
// returns the objects whose expansion may have changed.
func (n *nhObjs) replace(all []*NhObj) []uint32 {
	var changed []uint32
	seen := make(map[uint32]bool, len(all))
	for _, o := range all {
		seen[o.ID] = true
		if old := n.objs[o.ID]; old != nil && sameObj(old, o) {
			continue
		}
		changed = append(changed, n.set(o)...)
	}
	for id := range n.objs {
		if !seen[id] {
			changed = append(changed, n.del(id)...)
		}
	}
	return changed
}

// use records that route rk names object id (0: none).
func (n *nhObjs) use(rk nhRouteKey, id uint32) {
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
			u = map[nhRouteKey]struct{}{}
			n.users[id] = u
		}
		u[rk] = struct{}{}
		n.byRoute[rk] = id
	}
}

// routesOf lists the routes naming any of ids (each once), as they are
// to be added again: unicast, their object to be expanded.
func (n *nhObjs) routesOf(ids []uint32) []Route {
	var out []Route
	done := map[uint32]bool{}
	for _, id := range ids {
		if done[id] {
			continue
		}
		done[id] = true
		for rk := range n.users[id] {
			out = append(out, Route{Table: rk.k.table, Prefix: rk.k.prefix, Type: Unicast, Metric: rk.metric, NhID: id})
		}
	}
	return out
}

// Users counts the routes naming object id.
func (n *nhObjs) Users(id uint32) int { return len(n.users[id]) }

// expand fills rt's type and nexthops from its object, as the kernel
// forwards it: a blackhole object makes a blackhole route, dead members
// leave the group (all dead: the group as it is), an object not known (yet)
// leaves the route without nexthops (unreachable until it comes).
func (n *nhObjs) expand(rt *Route, links Links) {
	if rt.NhID == 0 {
		return
	}
	rt.Nexthops = nil
	o := n.objs[rt.NhID]
	if o == nil {
		return
	}
	if o.Blackhole {
		rt.Type = Blackhole
		return
	}
	if len(o.Group) == 0 {
		rt.Nexthops = []Nexthop{{Gateway: o.Gateway, Dev: links[o.Oif]}}
		return
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
		rt.Nexthops = append(rt.Nexthops, nh)
	}
	if len(rt.Nexthops) == 0 {
		rt.Nexthops = dead
	}
	if len(rt.Nexthops) == 0 {
		// a group of blackholes
		if m := n.objs[o.Group[0].ID]; m != nil && m.Blackhole {
			rt.Type = Blackhole
		}
	}
}

// namesObj reports whether the RIB holds route rk naming object id.
func (r *RIB) namesObj(rk nhRouteKey, id uint32) bool {
	e := r.entries[rk.k]
	if e == nil {
		return false
	}
	for i := range e.routes {
		if e.routes[i].Metric == rk.metric {
			return e.routes[i].NhID == id
		}
	}
	return false
}

// NexthopView is one kernel nexthop object as fibd mirrors it (fdpi_cli
// router nexthop show).
type NexthopView struct {
	ID        uint32
	Gateway   netip.Addr
	Dev       string
	Blackhole bool
	Dead      bool
	Members   []NhMember
	Index     uint32 // the FIB nexthop of the routes naming it
	Indexed   bool   // Index is valid (some route naming it is programmed)
	Routes    int    // routes naming it
}

// Nexthops lists the mirrored kernel nexthop objects, by id. Any
// goroutine: it takes the router's lock for the copy.
func (r *Router) Nexthops() []NexthopView {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]NexthopView, 0, len(r.nh.objs))
	for id, o := range r.nh.objs {
		v := NexthopView{ID: id, Gateway: o.Gateway, Dev: r.links[o.Oif], Blackhole: o.Blackhole, Dead: o.Dead,
			Members: slices.Clone(o.Group), Routes: r.nh.Users(id)}
		if e, ok := r.prog.nh[nhKey{obj: id}]; ok {
			v.Index, v.Indexed = e.idx, true
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b NexthopView) int { return int(a.ID) - int(b.ID) })
	return out
}

// NexthopObjects counts the mirrored kernel nexthop objects. Any
// goroutine.
func (r *Router) NexthopObjects() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.nh.objs)
}

// NexthopRewrites counts FIB nexthops rewritten in place (an object or a
// neighbour changed under its routes), and routes written. Any goroutine.
func (r *Router) NexthopRewrites() (rewrites, routeWrites uint64) {
	return r.prog.Rewrites.Load(), r.prog.RouteWrites.Load()
}
