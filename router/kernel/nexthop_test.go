package kernel

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"fibd/router/rib"
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
	if !ok || o.ID != 12 || !slices.Equal(o.Group, []rib.NhMember{{ID: 13, Weight: 1}, {ID: 14, Weight: 3}}) {
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
	r, ok := parseRoute(m, map[uint32]bool{254: true}, rib.Links{}, nil)
	if !ok || r.NhID != 12 || r.Prefix != netip.MustParsePrefix("198.51.100.0/24") || len(r.Nexthops) != 0 {
		t.Fatalf("%+v %v", r, ok)
	}
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// TestParseRouteMultipath: a multipath route's live paths, with or without
// a dump's cache; routes of the same paths share them, and a path the
// kernel marked dead (other bytes, so another cache entry) is left out.
func TestParseRouteMultipath(t *testing.T) {
	links := rib.Links{7: "rib0", 8: "rib1"}
	path := func(flags uint8, weight uint8, ifindex uint32, gw string) []byte {
		attrs := nla(nil, unix.RTA_GATEWAY, netip.MustParseAddr(gw).AsSlice())
		b := binary.NativeEndian.AppendUint16(nil, uint16(8+len(attrs)))
		b = append(b, flags, weight)
		return append(binary.NativeEndian.AppendUint32(b, ifindex), attrs...)
	}
	route := func(dst string, deadSecond bool) []byte {
		m := make([]byte, 12)
		m[0], m[1], m[4], m[7] = unix.AF_INET, 24, 254, unix.RTN_UNICAST
		var second uint8
		if deadSecond {
			second = unix.RTNH_F_DEAD | unix.RTNH_F_LINKDOWN
		}
		mp := append(path(0, 0, 7, "10.9.0.2"), path(second, 2, 8, "10.9.1.2")...)
		return nla(nla(m, unix.RTA_DST, netip.MustParseAddr(dst).AsSlice()), unix.RTA_MULTIPATH, mp)
	}
	both := []rib.Nexthop{{Gateway: netip.MustParseAddr("10.9.0.2"), Dev: "rib0", Weight: 1},
		{Gateway: netip.MustParseAddr("10.9.1.2"), Dev: "rib1", Weight: 3}}
	want := map[uint32]bool{254: true}
	for _, c := range []*pathCache{nil, newPathCache()} {
		a, okA := parseRoute(route("198.51.100.0", false), want, links, c)
		b, okB := parseRoute(route("198.51.101.0", false), want, links, c)
		d, okD := parseRoute(route("198.51.102.0", true), want, links, c)
		if !okA || !okB || !okD || !slices.Equal(a.Nexthops, both) || !slices.Equal(b.Nexthops, both) ||
			!slices.Equal(d.Nexthops, both[:1]) || b.Prefix != netip.MustParsePrefix("198.51.101.0/24") {
			t.Fatalf("cache %v: %+v / %+v / %+v", c != nil, a, b, d)
		}
		if shared := &a.Nexthops[0] == &b.Nexthops[0]; shared != (c != nil) {
			t.Errorf("cache %v: two routes of the same paths share them: %v", c != nil, shared)
		}
		if cap(a.Nexthops) != len(a.Nexthops) {
			t.Errorf("cache %v: paths have room to append in place (cap %d)", c != nil, cap(a.Nexthops))
		}
	}
}
