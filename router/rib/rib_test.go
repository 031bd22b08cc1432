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

type fakePorts map[string]fptypes.PortID

func (f fakePorts) PortOf(dev string) (fptypes.PortID, bool) { p, ok := f[dev]; return p, ok }

var ribPorts = fakePorts{"a": 0, "b": 1, "c": 2}

// TestRIBIncrementalEqualsFull: after any sequence of changes, the
// incrementally maintained resolution equals resolving the whole state
// from scratch.
func TestRIBIncrementalEqualsFull(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	devs := []string{"a", "b", "c", ""}
	subnets := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.1/24"), netip.MustParsePrefix("10.0.1.1/24"),
		netip.MustParsePrefix("10.0.2.1/24"), netip.MustParsePrefix("2001:db8::1/64"),
	}
	gw := func() netip.Addr {
		if rng.IntN(4) == 0 {
			return netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", 2+rng.IntN(6)))
		}
		return netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(3)), byte(2 + rng.IntN(6))})
	}
	pfx := func(v6 bool) netip.Prefix {
		if v6 {
			p, _ := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb9, byte(rng.IntN(4))}).Prefix(32 + 8*rng.IntN(3))
			return p
		}
		p, _ := netip.AddrFrom4([4]byte{20, byte(rng.IntN(4)), byte(rng.IntN(4)), byte(rng.IntN(4))}).Prefix(8 + 8*rng.IntN(4))
		return p
	}

	st := &State{}
	rib := NewRIB(ribPorts, MainTable)
	for step := range 3000 {
		switch op := rng.IntN(10); {
		case op < 4: // route add/replace
			g := gw()
			rt := Route{Table: MainTable + uint32(rng.IntN(2)), Prefix: pfx(g.Is6()), Metric: uint32(rng.IntN(3))}
			switch rng.IntN(6) {
			case 0:
				rt.Type = Blackhole
			case 1: // on-link
				rt.Nexthops = []Nexthop{{Dev: devs[rng.IntN(3)]}}
			case 2: // ECMP
				rt.Nexthops = []Nexthop{{Gateway: g, Dev: devs[rng.IntN(4)], Weight: 1 + rng.IntN(3)},
					{Gateway: gw(), Dev: devs[rng.IntN(4)]}}
				if rt.Nexthops[1].Gateway.Is6() != g.Is6() {
					rt.Nexthops = rt.Nexthops[:1]
				}
			default:
				rt.Nexthops = []Nexthop{{Gateway: g, Dev: devs[rng.IntN(4)]}}
			}
			st.Routes = upsertRoute(st.Routes, rt)
			rib.AddRoute(rt)
		case op < 5 && len(st.Routes) > 0: // route del
			i := rng.IntN(len(st.Routes))
			rib.DelRoute(st.Routes[i])
			st.Routes = append(st.Routes[:i], st.Routes[i+1:]...)
		case op < 8: // neighbour set/del
			n := Neigh{Addr: gw(), Dev: devs[rng.IntN(3)], MAC: net.HardwareAddr{2, 0, 0, 0, byte(rng.IntN(3)), byte(rng.IntN(256))}}
			if rng.IntN(3) == 0 {
				st.Neighs = delNeigh(st.Neighs, n)
				rib.DelNeigh(n)
			} else {
				st.Neighs = append(delNeigh(st.Neighs, n), n)
				rib.SetNeigh(n)
			}
		default: // address add/del
			a := Addr{Prefix: subnets[rng.IntN(len(subnets))], Dev: devs[rng.IntN(3)]}
			if i := addrIndex(st.Addrs, a); i >= 0 {
				st.Addrs = append(st.Addrs[:i], st.Addrs[i+1:]...)
				rib.DelAddr(a)
			} else {
				st.Addrs = append(st.Addrs, a)
				rib.AddAddr(a)
			}
		}
		if rng.IntN(5) == 0 || step == 2999 {
			rib.Flush()
			full, _ := Resolve(st, ribPorts, MainTable)
			if !reflect.DeepEqual(normal(rib.Desired()), normal(full)) {
				t.Fatalf("step %d: incremental\n%v\nfull\n%v", step, rib.Desired(), full)
			}
			// A fresh RIB settled and walked in one pass yields the same.
			fresh := NewRIB(ribPorts, MainTable)
			for _, a := range st.Addrs {
				fresh.AddAddr(a)
			}
			for _, n := range st.Neighs {
				fresh.SetNeigh(n)
			}
			for _, rt := range st.Routes {
				fresh.AddRoute(rt)
			}
			each := Desired{}
			fresh.SettleEach(func(table uint32, p netip.Prefix, t *Target) { each.set(table, p, *t) })
			if !reflect.DeepEqual(normal(each), normal(full)) {
				t.Fatalf("step %d: SettleEach\n%v\nfull\n%v", step, each, full)
			}
			if !reflect.DeepEqual(normal(fresh.Desired()), normal(full)) {
				t.Fatalf("step %d: after SettleEach\n%v\nfull\n%v", step, fresh.Desired(), full)
			}
		}
	}
	// Everything removed: nothing is left of it, interned targets and
	// paths included.
	for _, rt := range st.Routes {
		rib.DelRoute(rt)
	}
	for _, n := range st.Neighs {
		rib.DelNeigh(n)
	}
	for _, a := range st.Addrs {
		rib.DelAddr(a)
	}
	rib.Flush()
	if rib.entries.len() != 0 || rib.targets.live() != 0 || rib.paths.live() != 0 {
		t.Errorf("empty RIB holds %d entries, %d targets, %d path sets", rib.entries.len(), rib.targets.live(), rib.paths.live())
	}
}

func normal(d Desired) map[string]NhKey {
	out := map[string]NhKey{}
	for t, m := range d {
		for p, x := range m {
			out[fmt.Sprintf("%d %s", t, p)] = x.Key()
		}
	}
	return out
}

func upsertRoute(rs []Route, rt Route) []Route {
	for i := range rs {
		if rs[i].Table == rt.Table && rs[i].Prefix == rt.Prefix && rs[i].Metric == rt.Metric {
			rs[i] = rt
			return rs
		}
	}
	return append(rs, rt)
}

func delNeigh(ns []Neigh, n Neigh) []Neigh {
	out := ns[:0]
	for _, x := range ns {
		if !(x.Addr == n.Addr && ribPorts[x.Dev] == ribPorts[n.Dev]) {
			out = append(out, x)
		}
	}
	return out
}

func addrIndex(as []Addr, a Addr) int {
	for i, x := range as {
		if x.Prefix == a.Prefix && ribPorts[x.Dev] == ribPorts[a.Dev] {
			return i
		}
	}
	return -1
}

func TestBuckets(t *testing.T) {
	for _, c := range []struct {
		w    []int
		n    int
		want []int
	}{
		{[]int{1, 1}, 64, []int{32, 32}},
		{[]int{1, 3}, 64, []int{16, 48}},
		{[]int{1, 1, 1}, 64, []int{22, 21, 21}},
		{[]int{1, 255}, 64, []int{1, 63}},
	} {
		got := make([]int, len(c.w))
		b := Buckets(c.w, c.n)
		if len(b) != c.n {
			t.Fatalf("%v: %d buckets", c.w, len(b))
		}
		for _, i := range b {
			got[i]++
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("weights %v: buckets per member %v, want %v", c.w, got, c.want)
		}
	}
}

// TestRIBPunts: a router_device subnet goes to its port's exception
// interface, and so does every kernel prefix inside it (the local address,
// the connected subnet, a neighbour's host route); routes around it stay.
func TestRIBPunts(t *testing.T) {
	rib := NewRIB(ribPorts, MainTable)
	rib.AddAddr(Addr{Prefix: netip.MustParsePrefix("10.0.2.1/30"), Dev: "b"})
	rib.SetNeigh(Neigh{Addr: netip.MustParseAddr("10.0.2.2"), Dev: "b", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}})
	rib.AddRoute(Route{Table: MainTable, Prefix: netip.MustParsePrefix("0.0.0.0/0"),
		Nexthops: []Nexthop{{Gateway: netip.MustParseAddr("10.0.2.2"), Dev: "b"}}})
	rib.SetPunts([]Punt{{netip.MustParsePrefix("10.0.2.0/30"), 1}, {netip.MustParsePrefix("224.0.0.5/32"), 1}})
	rib.Settle()
	want := map[string]fptypes.NexthopType{
		"10.0.2.0/30":  fptypes.NexthopPunt, // the subnet itself
		"10.0.2.1/32":  fptypes.NexthopPunt, // the local address inside it
		"10.0.2.2/32":  fptypes.NexthopPunt, // the neighbour's host route inside it
		"224.0.0.5/32": fptypes.NexthopPunt, // OSPF, listed
		"0.0.0.0/0":    fptypes.NexthopForward,
	}
	got := map[string]Target{}
	rib.Each(func(table uint32, p netip.Prefix, tg *Target) { got[p.String()] = *tg })
	for p, typ := range want {
		if g, ok := got[p]; !ok || g.Type != typ || typ == fptypes.NexthopPunt && g.Hop.Port != 1 {
			t.Errorf("%s: %+v, want type %d", p, g, typ)
		}
	}
	// Without the subnet, the kernel's own view comes back.
	rib.SetPunts(nil)
	changes := rib.Flush()
	got = map[string]Target{}
	rib.Each(func(table uint32, p netip.Prefix, tg *Target) { got[p.String()] = *tg })
	if got["10.0.2.1/32"].Type != fptypes.NexthopLocal || got["10.0.2.2/32"].Type != fptypes.NexthopForward {
		t.Errorf("after removing the punts: %+v (changes %+v)", got, changes)
	}
	if _, ok := got["224.0.0.5/32"]; ok {
		t.Error("224.0.0.5/32 stayed after its punt went")
	}
}

// TestRIBUsersBounded: every recomputation of a prefix lists its gateway
// again; under churn (the same routes announced again and again, others
// moving between gateways) a gateway's users list stays within twice its
// real users instead of growing with every update.
func TestRIBUsersBounded(t *testing.T) {
	rib := NewRIB(ribPorts, MainTable)
	rib.AddAddr(Addr{Prefix: netip.MustParsePrefix("10.0.0.1/24"), Dev: "a"})
	gw1, gw2 := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	if err := rib.SetNeigh(Neigh{Addr: gw1, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, Dev: "a"}); err != nil {
		t.Fatal(err)
	}
	const prefixes = 300
	route := func(i int, gw netip.Addr) Route {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{20, byte(i >> 8), byte(i), 0}), 24)
		return Route{Table: MainTable, Prefix: p, Nexthops: []Nexthop{{Gateway: gw, Dev: "a"}}}
	}
	for i := range prefixes {
		rib.AddRoute(route(i, gw1))
	}
	rib.Flush()
	k1, k2 := NeighKey{gw1, 0}, NeighKey{gw2, 0}
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 200 {
		for range 100 {
			i := rng.IntN(prefixes)
			gw := gw1
			if i%10 == 0 && round%2 == 1 { // a tenth flaps to the other gateway
				gw = gw2
			}
			rib.AddRoute(route(i, gw)) // a BGP update: same route again, or moved
			if i%7 == 0 {
				rib.AddRoute(Route{Table: MainTable, Prefix: route(i, gw).Prefix, Metric: 5,
					Nexthops: []Nexthop{{Gateway: gw, Dev: "a"}}}) // a second candidate
			}
		}
		rib.Flush()
	}
	for _, k := range []NeighKey{k1, k2} {
		if n := rib.usersLen(k); n > 2*prefixes+minCompact {
			t.Errorf("gateway %s: users list of %d entries after 20,000 updates of %d prefixes", k.addr, n, prefixes)
		}
	}
	// Still right: a neighbour change reaches every route through it.
	if err := rib.SetNeigh(Neigh{Addr: gw1, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 9}, Dev: "a"}); err != nil {
		t.Fatal(err)
	}
	rib.Flush()
	want := NewRIB(ribPorts, MainTable)
	want.AddAddr(Addr{Prefix: netip.MustParsePrefix("10.0.0.1/24"), Dev: "a"})
	want.SetNeigh(Neigh{Addr: gw1, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 9}, Dev: "a"})
	for k, e := range rib.entries.all() {
		for _, c := range e.routes {
			want.AddRoute(rib.route(k, &c))
		}
	}
	want.Settle()
	if !reflect.DeepEqual(rib.Desired(), want.Desired()) {
		t.Error("after the churn, the incremental resolution differs from a fresh one")
	}
}

// TestRIBSyncRoutes: a re-dump of one family's routes removes from the
// RIB what the kernel no longer has, takes what changed, and leaves the
// other family and the tables not named alone; the resolution is that of
// a RIB built from the new state.
func TestRIBSyncRoutes(t *testing.T) {
	addr := Addr{Prefix: netip.MustParsePrefix("10.0.0.1/24"), Dev: "a"}
	addr6 := Addr{Prefix: netip.MustParsePrefix("2001:db8::1/64"), Dev: "a"}
	gw, gw2, gw6 := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3"), netip.MustParseAddr("2001:db8::2")
	via := func(table uint32, p string, metric uint32, g netip.Addr) Route {
		return Route{Table: table, Prefix: netip.MustParsePrefix(p), Metric: metric, Nexthops: []Nexthop{{Gateway: g, Dev: "a"}}}
	}
	before := []Route{
		via(100, "20.0.0.0/8", 0, gw), via(100, "20.0.0.0/8", 10, gw2), // two candidates
		via(100, "21.0.0.0/8", 0, gw),
		via(100, "22.0.0.0/8", 0, gw),
		{Table: 100, Prefix: netip.MustParsePrefix("23.0.0.0/8"), Nexthops: []Nexthop{{Dev: "a"}}},
		via(200, "24.0.0.0/8", 0, gw), // a table not re-read
		via(100, "2001:db9::/32", 0, gw6),
	}
	dump := []Route{ // what the kernel has now, IPv4 of table 100
		via(100, "20.0.0.0/8", 10, gw2), // the metric-0 candidate went
		via(100, "22.0.0.0/8", 0, gw2),  // another gateway
		via(100, "25.0.0.0/8", 0, gw),   // new
	}
	load := func(routes []Route) *RIB {
		rib := NewRIB(ribPorts, 100)
		rib.AddAddr(addr)
		rib.AddAddr(addr6)
		for _, g := range []netip.Addr{gw, gw2, gw6} {
			rib.SetNeigh(Neigh{Addr: g, MAC: net.HardwareAddr{2, 0, 0, 0, 0, g.As16()[15]}, Dev: "a"})
		}
		for _, rt := range routes {
			rib.AddRoute(rt)
		}
		rib.Settle()
		return rib
	}
	rib := load(before)
	removed, changed := rib.SyncRoutes(false, []uint32{100}, slices.Clone(dump))
	rib.Flush()
	if removed != 3 || changed != 2 {
		t.Errorf("removed %d changed %d, want 3 and 2", removed, changed)
	}
	want := load(append(slices.Clone(dump), before[5], before[6]))
	if !reflect.DeepEqual(rib.Desired(), want.Desired()) {
		t.Errorf("after the sync:\n got %v\nwant %v", rib.Desired(), want.Desired())
	}
	if n := rib.Routes(); n != want.Routes() {
		t.Errorf("%d routes held, want %d", n, want.Routes())
	}
	// The same dump again changes nothing; an empty one then removes
	// every route it marked before (no mark outlives its sync).
	if removed, changed := rib.SyncRoutes(false, []uint32{100}, slices.Clone(dump)); removed != 0 || changed != 0 {
		t.Errorf("the same dump again: removed %d changed %d, want none", removed, changed)
	}
	if removed, changed := rib.SyncRoutes(false, []uint32{100}, nil); removed != len(dump) || changed != 0 {
		t.Errorf("an empty dump: removed %d changed %d, want %d and 0", removed, changed, len(dump))
	}
	rib.Flush()
	if n := rib.Routes(); n != want.Routes()-len(dump) {
		t.Errorf("after an empty dump, %d routes held, want %d", n, want.Routes()-len(dump))
	}
}

// TestRIBSyncRoutesLastWins: a dump that holds one table/prefix/metric
// twice leaves the RIB with the later of the two, whether or not the RIB
// held the earlier one already.
func TestRIBSyncRoutesLastWins(t *testing.T) {
	gw, gw2 := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	via := func(g netip.Addr) Route {
		return Route{Table: 100, Prefix: netip.MustParsePrefix("20.0.0.0/8"), Nexthops: []Nexthop{{Gateway: g, Dev: "a"}}}
	}
	for _, tc := range []struct {
		dump    []Route
		changed int
		want    netip.Addr
	}{
		{[]Route{via(gw2), via(gw)}, 0, gw}, // the later one is what the RIB holds
		{[]Route{via(gw), via(gw2)}, 1, gw2},
	} {
		rib := NewRIB(ribPorts, 100)
		rib.AddAddr(Addr{Prefix: netip.MustParsePrefix("10.0.0.1/24"), Dev: "a"})
		for _, g := range []netip.Addr{gw, gw2} {
			rib.SetNeigh(Neigh{Addr: g, MAC: net.HardwareAddr{2, 0, 0, 0, 0, g.As4()[3]}, Dev: "a"})
		}
		rib.AddRoute(via(gw))
		rib.Settle()
		removed, changed := rib.SyncRoutes(false, []uint32{100}, tc.dump)
		rib.Flush()
		if removed != 0 || changed != tc.changed {
			t.Errorf("dump %v: removed %d changed %d, want 0 and %d", tc.dump, removed, changed, tc.changed)
		}
		got := rib.Desired()[100][netip.MustParsePrefix("20.0.0.0/8")]
		if got.Hop.Gw != tc.want {
			t.Errorf("dump %v: 20.0.0.0/8 goes to %v, want %v", tc.dump, got.Hop.Gw, tc.want)
		}
	}
}

// TestReplacedRouteFollowsItsNeighbours: a route replaced by one with
// fewer paths (a multipath route's dead path) keeps the gateway listings
// it had, one with other paths lists those; either way the route follows
// its gateways' neighbour changes afterwards, through a compaction of
// their users lists too.
func TestReplacedRouteFollowsItsNeighbours(t *testing.T) {
	gws := []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3"), netip.MustParseAddr("10.0.0.4")}
	p := netip.MustParsePrefix("20.0.0.0/8")
	via := func(g ...netip.Addr) Route {
		rt := Route{Table: 100, Prefix: p}
		for _, gw := range g {
			rt.Nexthops = append(rt.Nexthops, Nexthop{Gateway: gw, Dev: "a"})
		}
		return rt
	}
	mac := func(g netip.Addr, v byte) net.HardwareAddr { return net.HardwareAddr{2, 0, 0, 0, v, g.As4()[3]} }
	for _, tc := range []struct {
		name  string
		after Route
		gw    netip.Addr // the one path left
	}{
		{"fewer paths", via(gws[0]), gws[0]},
		{"other paths", via(gws[2]), gws[2]},
	} {
		rib := NewRIB(ribPorts, 100)
		rib.AddAddr(Addr{Prefix: netip.MustParsePrefix("10.0.0.1/24"), Dev: "a"})
		for _, g := range gws {
			rib.SetNeigh(Neigh{Addr: g, MAC: mac(g, 0), Dev: "a"})
		}
		rib.AddRoute(via(gws[0], gws[1]))
		rib.Flush()
		rib.AddRoute(tc.after)
		rib.Flush()
		for round := byte(1); round <= 3; round++ {
			if round == 3 { // many users come and go: the gateway's list is compacted
				for i := range 2 * minCompact {
					rib.AddRoute(Route{Table: 100, Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{30, 0, byte(i >> 8), byte(i)}), 32),
						Nexthops: []Nexthop{{Gateway: tc.gw, Dev: "a"}}})
				}
				rib.Flush()
			}
			rib.SetNeigh(Neigh{Addr: tc.gw, MAC: mac(tc.gw, round), Dev: "a"})
			rib.Flush()
			got := rib.Desired()[100][p]
			if got.Type != fptypes.NexthopForward || got.Hop.Gw != tc.gw || net.HardwareAddr(got.Hop.MAC[:]).String() != mac(tc.gw, round).String() {
				t.Fatalf("%s, round %d: %v goes to %v, want %v at %v", tc.name, round, p, got, tc.gw, mac(tc.gw, round))
			}
		}
	}
}

// TestCompactionDuringFlush: a gateway's users list compacted in the
// middle of a flush (it doubled) leaves every prefix resolved as a full
// resolution does (the remembered hops of the flush are forgotten then,
// not read).
func TestCompactionDuringFlush(t *testing.T) {
	st := &State{Addrs: []Addr{{Prefix: netip.MustParsePrefix("10.0.0.1/24"), Dev: "a"}}}
	for i := range 2 {
		st.Neighs = append(st.Neighs, Neigh{Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(2 + i)}), Dev: "a",
			MAC: net.HardwareAddr{2, 0, 0, 0, 0, byte(i)}})
	}
	for i := range 300 {
		st.Routes = append(st.Routes, Route{Table: MainTable, Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{20, 0, byte(i), 0}), 24),
			Nexthops: []Nexthop{{Gateway: netip.AddrFrom4([4]byte{10, 0, 0, byte(2 + i%2)}), Dev: "a"}}})
	}
	rib := NewRIB(ribPorts, MainTable)
	rib.Load(st)
	full, _ := Resolve(st, ribPorts, MainTable)
	for round := range 4 {
		// The same routes again: each lists its gateway anew, and the
		// lists double (and are compacted) while the flush runs.
		for _, rt := range st.Routes {
			rt.Metric = 0
			rt.NhID = 0
			rib.AddRoute(rt)
		}
		rib.Flush()
		if got := rib.Desired(); !reflect.DeepEqual(normal(got), normal(full)) {
			t.Fatalf("round %d: incremental\n%v\nfull\n%v", round, got, full)
		}
	}
}
