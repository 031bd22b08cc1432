package router

import (
	"net/netip"
	"slices"
)

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
	out := make([]NexthopView, 0, r.nh.Len())
	for id, o := range r.nh.All() {
		v := NexthopView{ID: id, Gateway: o.Gateway, Dev: r.links[o.Oif], Blackhole: o.Blackhole, Dead: o.Dead,
			Members: slices.Clone(o.Group), Routes: r.nh.Users(id)}
		v.Index, v.Indexed = r.prog.ObjectIndex(id)
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
	return r.nh.Len()
}

// NexthopRewrites counts FIB nexthops rewritten in place (an object or a
// neighbour changed under its routes), and routes written. Any goroutine.
func (r *Router) NexthopRewrites() (rewrites, routeWrites uint64) {
	return r.prog.Rewrites.Load(), r.prog.RouteWrites.Load()
}
