package router

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// nla appends one netlink attribute.
func nla(b []byte, typ uint16, v []byte) []byte {
	var h [4]byte
	binary.NativeEndian.PutUint16(h[0:], uint16(4+len(v)))
	binary.NativeEndian.PutUint16(h[2:], typ)
	b = append(append(b, h[:]...), v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestParseNexthop(t *testing.T) {
	// a single path: id 13 via 10.9.0.2 dev 7
	m := nla(nla(nla(make([]byte, nhmsgLen), unix.NHA_ID, u32(13)), unix.NHA_OIF, u32(7)),
		unix.NHA_GATEWAY, netip.MustParseAddr("10.9.0.2").AsSlice())
	o, ok := parseNexthop(m)
	if !ok || o.ID != 13 || o.Oif != 7 || o.Gateway != netip.MustParseAddr("10.9.0.2") || len(o.Group) != 0 {
		t.Fatalf("single: %+v %v", o, ok)
	}
	// a group: id 12 = 13 (weight 1) and 14 (weight 3), resilient
	grp := append(append(u32(13), 0, 0, 0, 0), append(u32(14), 2, 0, 0, 0)...)
	m = nla(nla(nla(make([]byte, nhmsgLen), unix.NHA_ID, u32(12)), unix.NHA_GROUP, grp), nhaGroupType, []byte{1, 0})
	o, ok = parseNexthop(m)
	if !ok || o.ID != 12 || !slices.Equal(o.Group, []NhMember{{13, 1}, {14, 3}}) {
		t.Fatalf("group: %+v %v", o, ok)
	}
	// a blackhole, flagged dead
	m = nla(nla(make([]byte, nhmsgLen), unix.NHA_ID, u32(9)), unix.NHA_BLACKHOLE, nil)
	binary.NativeEndian.PutUint32(m[4:], unix.RTNH_F_DEAD)
	if o, ok = parseNexthop(m); !ok || !o.Blackhole || !o.Dead {
		t.Fatalf("blackhole: %+v %v", o, ok)
	}
	// an FDB nexthop is not for routes
	m = nla(nla(make([]byte, nhmsgLen), unix.NHA_ID, u32(5)), nhaFDB, nil)
	if _, ok = parseNexthop(m); ok {
		t.Fatal("FDB nexthop taken")
	}
}

func TestParseRouteNhID(t *testing.T) {
	// compat mode 0: table 254, 198.51.100.0/24, nhid 12, nothing else
	m := make([]byte, 12)
	m[0], m[1], m[4], m[7] = unix.AF_INET, 24, 254, unix.RTN_UNICAST
	m = nla(nla(m, unix.RTA_DST, netip.MustParseAddr("198.51.100.0").AsSlice()), rtaNhID, u32(12))
	r, ok := parseRoute(m, map[uint32]bool{254: true}, Links{})
	if !ok || r.NhID != 12 || r.Prefix != netip.MustParsePrefix("198.51.100.0/24") || len(r.Nexthops) != 0 {
		t.Fatalf("%+v %v", r, ok)
	}
}

func TestNhObjsExpand(t *testing.T) {
	links := Links{7: "ua", 8: "ua2"}
	n := newNhObjs()
	gw1, gw2 := netip.MustParseAddr("10.9.0.2"), netip.MustParseAddr("10.9.1.2")
	n.replace([]*NhObj{{ID: 13, Gateway: gw1, Oif: 7}, {ID: 14, Gateway: gw2, Oif: 8},
		{ID: 12, Group: []NhMember{{13, 1}, {14, 2}}}, {ID: 9, Blackhole: true}})
	rk := nhRouteKey{tp{254, netip.MustParsePrefix("198.51.100.0/24")}, 20}
	n.use(rk, 12)
	rt := Route{Table: 254, Prefix: rk.k.prefix, Metric: 20, NhID: 12}
	n.expand(&rt, links)
	if !slices.Equal(rt.Nexthops, []Nexthop{{gw1, "ua", 1}, {gw2, "ua2", 2}}) {
		t.Fatalf("group expanded to %+v", rt.Nexthops)
	}
	// The kernel deletes 13 (its link went down): group 12 shrinks, and
	// the routes naming 12 are to be expanded again.
	changed := n.replace([]*NhObj{{ID: 14, Gateway: gw2, Oif: 8}, {ID: 12, Group: []NhMember{{14, 2}}}, {ID: 9, Blackhole: true}})
	if !slices.Contains(changed, 12) {
		t.Fatalf("changed %v, want 12 among them", changed)
	}
	rs := n.routesOf(changed)
	if len(rs) != 1 || rs[0].NhID != 12 {
		t.Fatalf("routes to expand again: %+v", rs)
	}
	n.expand(&rs[0], links)
	if !slices.Equal(rs[0].Nexthops, []Nexthop{{gw2, "ua2", 2}}) {
		t.Fatalf("after the shrink: %+v", rs[0].Nexthops)
	}
	// An explicit delete of 14 takes it out of group 12 too.
	n.del(14)
	if g := n.objs[12]; len(g.Group) != 0 {
		t.Fatalf("group 12 still holds %+v", g.Group)
	}
	// A blackhole object makes a blackhole route.
	bh := Route{NhID: 9, Type: Unicast}
	n.expand(&bh, links)
	if bh.Type != Blackhole {
		t.Fatalf("blackhole object: %+v", bh)
	}
	// Moving the route to another object updates the index.
	n.use(rk, 9)
	if n.Users(12) != 0 || n.Users(9) != 1 {
		t.Fatalf("users: 12 has %d, 9 has %d", n.Users(12), n.Users(9))
	}
}
