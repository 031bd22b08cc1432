package rib

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"fibd/cgo/fptypes"
)

func TestNhObjsExpand(t *testing.T) {
	links := Links{7: "ua", 8: "ua2"}
	n := NewNhObjs()
	gw1, gw2 := netip.MustParseAddr("10.9.0.2"), netip.MustParseAddr("10.9.1.2")
	n.Replace([]*NhObj{{ID: 13, Gateway: gw1, Oif: 7}, {ID: 14, Gateway: gw2, Oif: 8},
		{ID: 12, Group: []NhMember{{13, 1}, {14, 2}}}, {ID: 9, Blackhole: true}})
	rk := NhRouteKey{mkTP(254, netip.MustParsePrefix("198.51.100.0/24")), 20}
	n.Use(rk, 12)
	rt := Route{Table: 254, Prefix: rk.k.Prefix(), Metric: 20, NhID: 12}
	n.Expand(&rt, links)
	if !slices.Equal(rt.Nexthops, []Nexthop{{gw1, "ua", 1}, {gw2, "ua2", 2}}) {
		t.Fatalf("group expanded to %+v", rt.Nexthops)
	}
	// The kernel deletes 13 (its link went down): group 12 shrinks, and
	// the routes naming 12 are to be expanded again.
	changed := n.Replace([]*NhObj{{ID: 14, Gateway: gw2, Oif: 8}, {ID: 12, Group: []NhMember{{14, 2}}}, {ID: 9, Blackhole: true}})
	if !slices.Contains(changed, 12) {
		t.Fatalf("changed %v, want 12 among them", changed)
	}
	rs := n.RoutesOf(changed)
	if len(rs) != 1 || rs[0].NhID != 12 {
		t.Fatalf("routes to expand again: %+v", rs)
	}
	n.Expand(&rs[0], links)
	if !slices.Equal(rs[0].Nexthops, []Nexthop{{gw2, "ua2", 2}}) {
		t.Fatalf("after the shrink: %+v", rs[0].Nexthops)
	}
	// An explicit delete of 14 takes it out of group 12 too, and group 12,
	// left empty, goes as in the kernel.
	if gone := n.Del(14); !slices.Equal(gone, []uint32{14, 12}) {
		t.Fatalf("deleting 14 affected %v, want 14 and its emptied group 12", gone)
	}
	if g := n.objs[12]; g != nil {
		t.Fatalf("group 12 still there: %+v", g)
	}
	// A blackhole object makes a blackhole route.
	bh := Route{NhID: 9, Type: Unicast}
	n.Expand(&bh, links)
	if bh.Type != Blackhole {
		t.Fatalf("blackhole object: %+v", bh)
	}
	// Moving the route to another object updates the index.
	n.Use(rk, 9)
	if n.Users(12) != 0 || n.Users(9) != 1 {
		t.Fatalf("users: 12 has %d, 9 has %d", n.Users(12), n.Users(9))
	}
}

// TestObjectChangeIsOneChange: routes naming a kernel nexthop object
// follow it through one entry. A change of the object, or of a neighbour
// one of its paths goes through, yields one change (the object's), not one
// per route; what the RIB yields for the routes is the object's new
// resolution.
func TestObjectChangeIsOneChange(t *testing.T) {
	links := Links{1: "a", 2: "b"}
	gwA, gwB := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.1.2")
	macA, macB := net.HardwareAddr{2, 0, 0, 0, 0, 0xa}, net.HardwareAddr{2, 0, 0, 0, 0, 0xb}
	n := NewNhObjs()
	n.Replace([]*NhObj{{ID: 1, Gateway: gwA, Oif: 1}, {ID: 2, Gateway: gwB, Oif: 2},
		{ID: 3, Group: []NhMember{{1, 1}, {2, 1}}}})
	r := NewRIB(ribPorts, MainTable)
	r.AddAddr(Addr{Prefix: netip.MustParsePrefix("10.0.0.1/24"), Dev: "a"})
	r.AddAddr(Addr{Prefix: netip.MustParsePrefix("10.0.1.1/24"), Dev: "b"})
	r.SetNeigh(Neigh{Addr: gwA, MAC: macA, Dev: "a"})
	r.SetNeigh(Neigh{Addr: gwB, MAC: macB, Dev: "b"})
	for id := range n.All() {
		exp, _ := n.Expansion(id, links)
		r.SetObj(id, exp)
	}
	const routes = 1000
	for i := range routes {
		rt := Route{Table: 100, Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{20, byte(i >> 8), byte(i), 0}), 24), NhID: 3}
		n.Use(RouteKey(rt.Table, rt.Prefix, 0), 3)
		n.Expand(&rt, links)
		r.AddRoute(rt)
	}
	if ch := r.Flush(); len(ch) < routes {
		t.Fatalf("first flush: %d changes, want the %d routes at least", len(ch), routes)
	}
	members := func() int {
		var got []int
		r.Each(func(table uint32, p netip.Prefix, tg *Target) {
			if table == 100 {
				got = append(got, len(tg.Members))
			}
		})
		if len(got) != routes {
			t.Fatalf("Each yields %d routes of table 100, want %d", len(got), routes)
		}
		for _, m := range got[1:] {
			if m != got[0] {
				t.Fatalf("routes of one object resolve apart: %v", got)
			}
		}
		return got[0]
	}
	if m := members(); m != 2 {
		t.Fatalf("routes over %d members, want 2", m)
	}

	// one: object 3 changes once, and none of its routes (other objects
	// and the neighbour's own host route may change too)
	one := func(what string) Change {
		t.Helper()
		var obj []Change
		for _, c := range r.Flush() {
			switch {
			case c.Table == 100:
				t.Fatalf("%s: route %s changed on its own", what, c.Prefix)
			case c.Table == ObjTable && c.Target.Obj == 3:
				obj = append(obj, c)
			}
		}
		if len(obj) != 1 {
			t.Fatalf("%s: object 3 changed %d times, want once", what, len(obj))
		}
		return obj[0]
	}
	// The kernel flushes object 2 (its link went down): group 3 shrinks.
	for _, id := range n.Del(2) {
		if exp, ok := n.Expansion(id, links); ok {
			r.SetObj(id, exp)
		} else {
			r.DelObj(id)
		}
	}
	if c := one("a member removed"); c.Target.Type != fptypes.NexthopForward || c.Target.Hop.Gw != gwA {
		t.Fatalf("object 3 now %+v, want forward via %s", c.Target, gwA)
	}
	if m := members(); m != 0 {
		t.Fatalf("routes still over %d members", m)
	}
	// The remaining member's neighbour changes its MAC.
	r.SetNeigh(Neigh{Addr: gwA, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 0xc}, Dev: "a"})
	if c := one("a neighbour's MAC"); c.Target.Hop.MAC != [6]byte{2, 0, 0, 0, 0, 0xc} {
		t.Fatalf("object 3 now %+v, want the new MAC", c.Target)
	}
	// The object becomes a blackhole: still one change, the routes drop.
	r.SetObj(3, Route{Type: Blackhole})
	if c := one("a blackhole"); c.Target.Type != fptypes.NexthopBlackhole {
		t.Fatalf("object 3 now %+v", c.Target)
	}
	if d := r.Desired()[100]; d[netip.MustParsePrefix("20.0.5.0/24")].Type != fptypes.NexthopBlackhole {
		t.Fatalf("Desired: %+v", d[netip.MustParsePrefix("20.0.5.0/24")])
	}
	if s := r.Snapshot(nil); len(s.Routes) < routes || s.Targets[s.Routes[0].Target].Type == fptypes.NexthopNone {
		t.Fatalf("Snapshot yields references: %+v", s.Targets)
	}
	// Without the object the routes resolve through their own paths.
	r.DelObj(3)
	for _, rt := range n.RoutesOf([]uint32{3}) {
		rt.Nexthops = []Nexthop{{Gateway: gwA, Dev: "a"}}
		r.AddRoute(rt)
	}
	if ch := r.Flush(); len(ch) != routes {
		t.Fatalf("object gone: %d changes, want %d (each route)", len(ch), routes)
	}
}

// TestObjectsIncrementalEqualsFull: with routes naming kernel nexthop
// objects, and objects, neighbours and addresses changing at random, the
// incremental resolution (objects resolved once, routes referring to
// them) forwards as resolving every route from its own expansion.
func TestObjectsIncrementalEqualsFull(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	links := Links{1: "a", 2: "b", 3: "c"}
	gw := func() netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(3)), byte(2 + rng.IntN(5))}) }
	single := func(id uint32) *NhObj {
		o := &NhObj{ID: id, Oif: 1 + rng.IntN(3), Dead: rng.IntN(8) == 0}
		if rng.IntN(6) > 0 {
			o.Gateway = gw()
		}
		return o
	}
	n := NewNhObjs()
	rib := NewRIB(ribPorts, MainTable)
	st := &State{}
	for i := range 3 {
		a := Addr{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(i), 1}), 24), Dev: links[i+1]}
		st.Addrs = append(st.Addrs, a)
		rib.AddAddr(a)
	}
	setObj := func(affected []uint32) { rib.FollowObjects(n, affected, links) }
	for id := uint32(1); id <= 6; id++ {
		setObj(n.Set(single(id)))
	}
	setObj(n.Set(&NhObj{ID: 9, Blackhole: true}))
	group := func(id uint32) *NhObj {
		o := &NhObj{ID: id}
		for m := uint32(1); m <= 6; m++ {
			if n.Obj(m) != nil && rng.IntN(2) == 0 {
				o.Group = append(o.Group, NhMember{m, 1 + rng.IntN(3)})
			}
		}
		if len(o.Group) == 0 {
			o.Group = []NhMember{{9, 1}}
		}
		return o
	}
	setObj(n.Set(group(7)))
	setObj(n.Set(group(8)))

	for step := range 3000 {
		switch op := rng.IntN(10); {
		case op < 4: // a route naming an object, or not
			rt := Route{Table: 100, Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{20, byte(rng.IntN(8)), 0, 0}), 16),
				Metric: uint32(rng.IntN(2))}
			rk := RouteKey(rt.Table, rt.Prefix, rt.Metric)
			var ids []uint32
			for id := range n.All() {
				ids = append(ids, id)
			}
			if rng.IntN(4) > 0 && len(ids) > 0 {
				slices.Sort(ids)
				rt.NhID = ids[rng.IntN(len(ids))]
			} else {
				rt.Nexthops = []Nexthop{{Gateway: gw(), Dev: links[1+rng.IntN(3)]}}
			}
			n.Use(rk, rt.NhID)
			n.Expand(&rt, links)
			rib.AddRoute(rt)
		case op < 5: // a route goes
			rt := Route{Table: 100, Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{20, byte(rng.IntN(8)), 0, 0}), 16),
				Metric: uint32(rng.IntN(2))}
			n.Use(RouteKey(rt.Table, rt.Prefix, rt.Metric), 0)
			rib.DelRoute(rt)
		case op < 7: // an object changes, comes or goes
			id := uint32(1 + rng.IntN(8))
			switch {
			case rng.IntN(6) == 0:
				setObj(n.Del(id))
			case id <= 6:
				setObj(n.Set(single(id)))
			default:
				setObj(n.Set(group(id)))
			}
		case op < 9: // a neighbour
			nb := Neigh{Addr: gw(), Dev: links[1+rng.IntN(3)], MAC: net.HardwareAddr{2, 0, 0, 0, 0, byte(rng.IntN(256))}}
			if rng.IntN(3) == 0 {
				rib.DelNeigh(nb)
				st.Neighs = delNeigh(st.Neighs, nb)
			} else {
				rib.SetNeigh(nb)
				st.Neighs = append(delNeigh(st.Neighs, nb), nb)
			}
		default: // the kernel flushes an interface's objects
			setObj(n.FlushDev(1 + rng.IntN(3)))
		}
		if rng.IntN(4) > 0 && step != 2999 {
			continue
		}
		rib.Flush()
		// The reference: every route from its own current expansion, no
		// object known to the RIB.
		full := &State{Addrs: st.Addrs, Neighs: st.Neighs}
		rib.Each(func(uint32, netip.Prefix, *Target) {}) // Each must not fail on references
		for rk, id := range n.byRoute {
			rt := Route{Table: rk.k.table, Prefix: rk.k.Prefix(), Metric: rk.metric, Type: Unicast, NhID: id}
			n.Expand(&rt, links)
			full.Routes = append(full.Routes, rt)
		}
		for k, e := range rib.entries.all() {
			for _, c := range e.routes {
				if k.table == 100 && c.nhid == 0 {
					full.Routes = append(full.Routes, rib.route(k, &c))
				}
			}
		}
		want, _ := Resolve(full, ribPorts, MainTable)
		if got, exp := content(rib.Desired()), content(want); !reflect.DeepEqual(got, exp) {
			for k, v := range exp {
				if got[k] != v {
					t.Errorf("step %d: %s: incremental %s, full %s", step, k, got[k], v)
				}
			}
			for k, v := range got {
				if _, ok := exp[k]; !ok {
					t.Errorf("step %d: %s: incremental %s, not in full", step, k, v)
				}
			}
			t.FailNow()
		}
	}
}

// content is what each prefix forwards with, object ids aside.
func content(d Desired) map[string]string {
	out := map[string]string{}
	for tb, m := range d {
		for p, x := range m {
			x.Obj = 0
			out[fmt.Sprintf("%d %s", tb, p)] = fmt.Sprintf("%d %s %v", x.Type, x.Hop, x.Members)
		}
	}
	return out
}
