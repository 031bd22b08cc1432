package rib

import (
	"net/netip"
	"slices"
	"testing"
)

func TestNhObjsExpand(t *testing.T) {
	links := Links{7: "ua", 8: "ua2"}
	n := NewNhObjs()
	gw1, gw2 := netip.MustParseAddr("10.9.0.2"), netip.MustParseAddr("10.9.1.2")
	n.Replace([]*NhObj{{ID: 13, Gateway: gw1, Oif: 7}, {ID: 14, Gateway: gw2, Oif: 8},
		{ID: 12, Group: []NhMember{{13, 1}, {14, 2}}}, {ID: 9, Blackhole: true}})
	rk := NhRouteKey{tp{254, netip.MustParsePrefix("198.51.100.0/24")}, 20}
	n.Use(rk, 12)
	rt := Route{Table: 254, Prefix: rk.k.prefix, Metric: 20, NhID: 12}
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
	// An explicit delete of 14 takes it out of group 12 too.
	n.Del(14)
	if g := n.objs[12]; len(g.Group) != 0 {
		t.Fatalf("group 12 still holds %+v", g.Group)
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
