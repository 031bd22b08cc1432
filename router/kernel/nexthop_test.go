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
