package kernel

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// nlmsg prefixes body with a netlink header of type typ.
func nlmsg(typ uint16, body []byte) []byte {
	m := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body))
	binary.NativeEndian.PutUint32(m[0:], uint32(unix.NLMSG_HDRLEN+len(body)))
	binary.NativeEndian.PutUint16(m[4:], typ)
	return append(m, body...)
}

// ifaddr is an ifaddrmsg of index with prefix length bits.
func ifaddr(family, bits byte, index uint32) []byte {
	m := []byte{family, bits, 0, 0, 0, 0, 0, 0}
	binary.NativeEndian.PutUint32(m[4:], index)
	return m
}

// TestConvertAddr: the reader turns address notifications into netip
// terms, prefers IFA_LOCAL, and leaves IPv6 link-local addresses out.
func TestConvertAddr(t *testing.T) {
	m := nla(nla(ifaddr(unix.AF_INET, 24, 7), unix.IFA_ADDRESS, []byte{192, 0, 2, 9}), unix.IFA_LOCAL, []byte{192, 0, 2, 1})
	e, ok := convert(nlmsg(unix.RTM_NEWADDR, m))
	if !ok || e.Addr == nil || e.Addr.Index != 7 || e.Addr.Del || e.Addr.Prefix != netip.MustParsePrefix("192.0.2.1/24") {
		t.Fatalf("IPv4 address: %+v %v", e.Addr, ok)
	}
	v6 := netip.MustParseAddr("2001:db8::1").AsSlice()
	e, ok = convert(nlmsg(unix.RTM_DELADDR, nla(ifaddr(unix.AF_INET6, 64, 3), unix.IFA_ADDRESS, v6)))
	if !ok || e.Addr == nil || !e.Addr.Del || e.Addr.Prefix != netip.MustParsePrefix("2001:db8::1/64") {
		t.Fatalf("IPv6 address removed: %+v %v", e.Addr, ok)
	}
	ll := netip.MustParseAddr("fe80::1").AsSlice()
	if e, ok = convert(nlmsg(unix.RTM_NEWADDR, nla(ifaddr(unix.AF_INET6, 64, 3), unix.IFA_ADDRESS, ll))); ok {
		t.Fatalf("link-local address queued: %+v", e.Addr)
	}
	if _, ok = convert(nlmsg(unix.RTM_NEWADDR, ifaddr(unix.AF_INET, 24, 7))); ok {
		t.Fatal("an address message without an address was queued")
	}
}

// TestConvertNeigh: a neighbour's MAC is kept only in a usable state; a
// delete is a delete whatever its state.
func TestConvertNeigh(t *testing.T) {
	ndmsg := func(state uint16) []byte {
		m := []byte{unix.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.NativeEndian.PutUint32(m[4:], 5)
		binary.NativeEndian.PutUint16(m[8:], state)
		return m
	}
	mac := []byte{2, 0, 0, 0, 0, 9}
	m := nla(nla(ndmsg(unix.NUD_STALE), unix.NDA_DST, []byte{192, 0, 2, 2}), unix.NDA_LLADDR, mac)
	e, ok := convert(nlmsg(unix.RTM_NEWNEIGH, m))
	if !ok || e.Neigh == nil || e.Neigh.Index != 5 || e.Neigh.Addr != netip.MustParseAddr("192.0.2.2") ||
		!e.Neigh.Stale || e.Neigh.Del || e.Neigh.MAC.String() != "02:00:00:00:00:09" {
		t.Fatalf("stale neighbour: %+v %v", e.Neigh, ok)
	}
	msg := nlmsg(unix.RTM_NEWNEIGH, m)
	e, _ = convert(msg)
	copy(msg[len(msg)-8:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // NDA_LLADDR is last
	if e.Neigh.MAC.String() != "02:00:00:00:00:09" {
		t.Fatalf("the queued MAC shares the receive buffer: %s", e.Neigh.MAC)
	}
	m = nla(nla(ndmsg(unix.NUD_FAILED), unix.NDA_DST, []byte{192, 0, 2, 2}), unix.NDA_LLADDR, mac)
	if e, ok = convert(nlmsg(unix.RTM_NEWNEIGH, m)); !ok || e.Neigh.MAC != nil {
		t.Fatalf("failed neighbour keeps its MAC: %+v %v", e.Neigh, ok)
	}
	m = nla(ndmsg(unix.NUD_REACHABLE), unix.NDA_DST, []byte{192, 0, 2, 2})
	if e, ok = convert(nlmsg(unix.RTM_DELNEIGH, m)); !ok || !e.Neigh.Del {
		t.Fatalf("deleted neighbour: %+v %v", e.Neigh, ok)
	}
}

// TestConvertRaw: routes and nexthop objects are queued raw, as a copy
// (the receive buffer is reused).
func TestConvertRaw(t *testing.T) {
	m := nlmsg(unix.RTM_NEWROUTE, make([]byte, 12))
	e, ok := convert(m)
	if !ok || e.Raw == nil || e.Raw.Type != unix.RTM_NEWROUTE || len(e.Raw.Body) != 12 {
		t.Fatalf("route: %+v %v", e.Raw, ok)
	}
	m[unix.NLMSG_HDRLEN] = 0xff
	if e.Raw.Body[0] != 0 {
		t.Fatal("the queued body shares the receive buffer")
	}
	if _, ok := convert(nlmsg(unix.RTM_NEWRULE, make([]byte, 12))); ok {
		t.Fatal("a rule notification was queued")
	}
}

// TestConvertLink: a link's index, name and IFF_UP, and a delete.
func TestConvertLink(t *testing.T) {
	ifinfo := func(flags uint32) []byte {
		m := make([]byte, unix.SizeofIfInfomsg)
		binary.NativeEndian.PutUint32(m[4:], 4)
		binary.NativeEndian.PutUint32(m[8:], flags)
		return nla(m, unix.IFLA_IFNAME, []byte("rib0\x00"))
	}
	e, ok := convert(nlmsg(unix.RTM_NEWLINK, ifinfo(unix.IFF_UP)))
	if !ok || e.Link == nil || e.Link.Index != 4 || e.Link.Name != "rib0" || !e.Link.Up || e.Link.Del {
		t.Fatalf("link up: %+v %v", e.Link, ok)
	}
	e, ok = convert(nlmsg(unix.RTM_DELLINK, ifinfo(0)))
	if !ok || e.Link == nil || e.Link.Up || !e.Link.Del || e.Link.VLAN != nil {
		t.Fatalf("link gone: %+v %v", e.Link, ok)
	}
}
