package rib

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
)

// TestSnapshot: a snapshot holds exactly the RIB's resolution (the
// selected part), shares each distinct target, and shares no memory with
// the RIB.
func TestSnapshot(t *testing.T) {
	st := &State{
		Addrs: []Addr{{netip.MustParsePrefix("10.0.0.1/24"), "a"}, {netip.MustParsePrefix("10.0.1.1/24"), "b"}},
		Neighs: []Neigh{{netip.MustParseAddr("10.0.0.2"), net.HardwareAddr{2, 0, 0, 0, 0, 2}, "a"},
			{netip.MustParseAddr("10.0.1.2"), net.HardwareAddr{2, 0, 0, 0, 1, 2}, "b"}},
	}
	for i := range 2000 {
		rt := Route{Table: MainTable, Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{20, byte(i >> 8), byte(i), 0}), 24)}
		switch i % 3 {
		case 0:
			rt.Nexthops = []Nexthop{{Gateway: netip.MustParseAddr("10.0.0.2")}}
		case 1:
			rt.Nexthops = []Nexthop{{Gateway: netip.MustParseAddr("10.0.0.2")}, {Gateway: netip.MustParseAddr("10.0.1.2"), Weight: 2}}
		case 2:
			rt.Type = Blackhole
		}
		st.Routes = append(st.Routes, rt)
	}
	rib := NewRIB(ribPorts, MainTable)
	rib.Load(st)
	want := rib.Desired()

	s := rib.Snapshot(nil)
	n := 0
	for _, m := range want {
		n += len(m)
	}
	if len(s.Routes) != n {
		t.Fatalf("snapshot has %d routes, the RIB %d", len(s.Routes), n)
	}
	for _, r := range s.Routes {
		w, ok := want[r.Table][r.Prefix]
		if !ok || !s.Targets[r.Target].Equal(&w) {
			t.Fatalf("%d %s: snapshot %+v, RIB %+v", r.Table, r.Prefix, s.Targets[r.Target], w)
		}
	}
	// forward via .2, ECMP, blackhole, plus the local/connected/neighbour ones
	if len(s.Targets) > 10 {
		t.Errorf("%d targets for a handful of distinct ones: not shared", len(s.Targets))
	}
	// nothing shared: changing the copy leaves the RIB alone
	for i := range s.Targets {
		for j := range s.Targets[i].Members {
			s.Targets[i].Members[j].Weight = 99
		}
	}
	if d := rib.Desired(); fmt.Sprint(d) != fmt.Sprint(want) {
		t.Error("changing a snapshot changed the RIB")
	}

	part := rib.Snapshot(func(table uint32, p netip.Prefix) bool {
		return netip.MustParsePrefix("20.0.0.0/16").Contains(p.Addr())
	})
	if len(part.Routes) != 256 {
		t.Errorf("filtered snapshot: %d routes, want 256", len(part.Routes))
	}
}
