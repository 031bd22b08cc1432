package fastpath

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"

	dpdk "fibd/cgo"
	"fibd/router"
	"fibd/test/fullview"
)

// refLPM is the slow, obviously right longest-prefix match: one map per
// prefix length, tried from the longest.
type refLPM struct {
	byLen [129]map[netip.Prefix]router.Target
}

func newRef(d router.Desired, table uint32) *refLPM {
	r := &refLPM{}
	for p, t := range d[table] {
		m := r.byLen[p.Bits()]
		if m == nil {
			m = map[netip.Prefix]router.Target{}
			r.byLen[p.Bits()] = m
		}
		m[p] = t
	}
	return r
}

func (r *refLPM) lookup(a netip.Addr) (router.Target, bool) {
	for l := a.BitLen(); l >= 0; l-- {
		m := r.byLen[l]
		if m == nil {
			continue
		}
		if p, err := a.Prefix(l); err == nil {
			if t, ok := m[p]; ok {
				return t, true
			}
		}
	}
	return router.Target{}, false
}

var gateways = []router.Nexthop{
	{Gateway: netip.MustParseAddr("192.0.2.2"), Dev: "p0"},
	{Gateway: netip.MustParseAddr("198.51.100.2"), Dev: "p1"},
	{Gateway: netip.MustParseAddr("203.0.113.2"), Dev: "p2"},
	{Gateway: netip.MustParseAddr("192.0.2.77"), Dev: "p0"}, // no neighbour: unresolved
}

var gateways6 = []router.Nexthop{
	{Gateway: netip.MustParseAddr("2001:db8::2"), Dev: "p0"},
	{Gateway: netip.MustParseAddr("2001:db8:1::2"), Dev: "p1"},
	{Gateway: netip.MustParseAddr("2001:db8:1::77"), Dev: "p1"},
}

func randomRoute(rng *rand.Rand, p netip.Prefix) router.Route {
	r := router.Route{Table: router.MainTable, Prefix: p}
	gws := gateways
	if p.Addr().Is6() {
		gws = gateways6
	}
	switch x := rng.IntN(20); {
	case x == 0:
		r.Type = router.Blackhole
	case x == 1:
		r.Type = router.Unreachable
	case x < 5: // ECMP over two or three gateways, with weights
		perm := rng.Perm(len(gws))
		for _, i := range perm[:2+rng.IntN(len(gws)-1)] {
			nh := gws[i]
			nh.Weight = 1 + rng.IntN(3)
			r.Nexthops = append(r.Nexthops, nh)
		}
	default:
		r.Nexthops = []router.Nexthop{gws[rng.IntN(len(gws))]}
	}
	return r
}

// randomState: a synthetic table of n4+n6 routes with realistic prefixes,
// host routes, defaults, overlaps, ECMP, blackholes and unresolved hops.
func randomState(rng *rand.Rand, n4, n6 int) *router.State {
	st := baseState()
	st.Routes = st.Routes[:2] // keep the defaults
	for _, p := range fullview.IPv4(rng.Int64(), n4) {
		st.Routes = append(st.Routes, randomRoute(rng, p))
	}
	for _, p := range fullview.IPv6(rng.Int64(), n6) {
		st.Routes = append(st.Routes, randomRoute(rng, p))
	}
	for range n4 / 20 { // host routes inside existing prefixes
		base := st.Routes[2+rng.IntN(n4)].Prefix
		a := fullview.AddrIn(rng, base)
		st.Routes = append(st.Routes, randomRoute(rng, netip.PrefixFrom(a, 32)))
	}
	for range n6 / 20 {
		base := st.Routes[2+n4+rng.IntN(n6)].Prefix
		a := fullview.AddrIn(rng, base)
		st.Routes = append(st.Routes, randomRoute(rng, netip.PrefixFrom(a, 128)))
	}
	return dedup(st)
}

func dedup(st *router.State) *router.State {
	seen := map[netip.Prefix]bool{}
	out := st.Routes[:0]
	for _, r := range st.Routes {
		if !seen[r.Prefix] {
			seen[r.Prefix] = true
			out = append(out, r)
		}
	}
	st.Routes = out
	return st
}

func randomAddr(rng *rand.Rand, v6 bool) netip.Addr {
	if v6 {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		b[0] = 0x20 | byte(rng.IntN(32)) // 2000::/3 mostly
		return netip.AddrFrom16(b)
	}
	return netip.AddrFrom4([4]byte{byte(1 + rng.IntN(222)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
}

// compare checks the fast path's lookup against the reference for
// addresses inside random routes and for random addresses.
func compare(t *testing.T, rng *rand.Rand, st *router.State, want router.Desired, n int) {
	t.Helper()
	ref := newRef(want, router.MainTable)
	bad := 0
	for i := range n {
		var a netip.Addr
		switch i % 3 {
		case 0, 1:
			a = fullview.AddrIn(rng, st.Routes[rng.IntN(len(st.Routes))].Prefix)
		default:
			a = randomAddr(rng, rng.IntN(2) == 1)
		}
		exp, hit := ref.lookup(a)
		idx := env.fib.Lookup(env.table, a)
		if !hit {
			if idx != dpdk.NexthopMiss {
				t.Errorf("%s: fast path has nexthop %d, reference has no route", a, idx)
				bad++
			}
			continue
		}
		got, ok := env.prog.Nexthop(idx)
		if !ok || !reflect.DeepEqual(got, exp) {
			t.Errorf("%s: fast path -> %d %+v, reference %+v", a, idx, got, exp)
			bad++
		}
		if bad > 10 {
			t.Fatal("too many mismatches")
		}
	}
}

// TestFIBMatchesReference builds a 13k-route table, checks lookups, then
// changes a third of it (deletes, nexthop changes, new routes) several
// times, checking after each batch: both left-right copies take turns.
func TestFIBMatchesReference(t *testing.T) {
	need(t)
	rng := rand.New(rand.NewPCG(7, 11))
	st := randomState(rng, 10000, 3000)
	want := program(t, st)
	v4, v6, _ := env.fib.Routes(env.table)
	if v4+v6 < 10000 {
		t.Fatalf("only %d+%d routes in the FIB", v4, v6)
	}
	compare(t, rng, st, want, 60000)

	for round := range 4 {
		next := &router.State{Addrs: st.Addrs, Neighs: st.Neighs}
		for _, r := range st.Routes {
			switch x := rng.IntN(10); {
			case x == 0 && r.Prefix.Bits() > 0: // withdrawn
			case x == 1: // moved to another nexthop
				next.Routes = append(next.Routes, randomRoute(rng, r.Prefix))
			default:
				next.Routes = append(next.Routes, r)
			}
		}
		extra := randomState(rng, 1000, 300)
		next.Routes = append(next.Routes, extra.Routes[2:]...)
		st = dedup(next)
		want = program(t, st)
		compare(t, rng, st, want, 30000)
		t.Logf("round %d: %d routes, %d nexthops live", round, len(st.Routes), env.fib.NH.Live())
	}
	// Withdrawing everything empties the table.
	want = program(t, &router.State{})
	if v4, v6, _ := env.fib.Routes(env.table); v4+v6 != 0 {
		t.Fatalf("%d+%d routes left after withdrawing all", v4, v6)
	}
	if n := env.fib.NH.Live(); n != 0 {
		t.Fatalf("%d nexthops left after withdrawing all", n)
	}
	_ = want
}

// TestTableFull: a full table refuses further routes, counts them and keeps
// forwarding on what it holds.
func TestTableFull(t *testing.T) {
	need(t)
	rng := rand.New(rand.NewPCG(3, 4))
	st := baseState()
	st.Routes = st.Routes[:1]
	for _, p := range fullview.IPv4(99, 100500) {
		st.Routes = append(st.Routes, router.Route{Table: router.MainTable, Prefix: p,
			Nexthops: []router.Nexthop{gateways[1+rng.IntN(2)]}})
	}
	want, _ := router.Resolve(st, testPorts{}, router.MainTable)
	before := env.fib.Refused.Load()
	ss, err := env.prog.Sync(want)
	if err != nil {
		t.Fatal(err)
	}
	v4, _, _ := env.fib.Routes(env.table)
	if v4 != 100000 {
		t.Errorf("table holds %d IPv4 routes, want exactly its max 100000", v4)
	}
	if ss.Refused == 0 || env.fib.Refused.Load()-before != uint64(ss.Refused) {
		t.Errorf("refused %d, counter moved by %d", ss.Refused, env.fib.Refused.Load()-before)
	}
	if int(v4)+ss.Refused != len(want[router.MainTable])-countV6(want) {
		t.Errorf("held %d + refused %d != wanted %d", v4, ss.Refused, len(want[router.MainTable])-countV6(want))
	}
	// Lookups still answer for what is held.
	if idx := env.fib.Lookup(env.table, netip.MustParseAddr("192.0.2.2")); idx == dpdk.NexthopMiss {
		t.Error("connected route lost")
	}
	// Refused routes wait for a retry; once room is made, Retry puts
	// them in without a full sync.
	if env.prog.Pending() != ss.Refused {
		t.Fatalf("%d changes pending, %d refused", env.prog.Pending(), ss.Refused)
	}
	// Room is made by deleting routes the table holds, as the
	// programmer's record has them: a lookup that hits is no proof, since
	// a refused prefix inside a held one answers too (and deleting it
	// only drops its pending add, which once made this test fail with
	// "retry added 286 of 510").
	var dels []router.Change
	env.prog.EachProgrammed(router.MainTable, func(p netip.Prefix, _ uint32) {
		if tg, ok := want[router.MainTable][p]; ok && len(dels) < ss.Refused &&
			tg.Type == dpdk.NexthopForward && !p.IsSingleIP() {
			dels = append(dels, router.Change{Table: router.MainTable, Prefix: p, Del: true})
		}
	})
	if len(dels) != ss.Refused {
		t.Fatalf("found %d held routes to delete, want %d", len(dels), ss.Refused)
	}
	if _, err := env.prog.Update(dels); err != nil {
		t.Fatal(err)
	}
	rs, err := env.prog.Retry()
	if err != nil {
		t.Fatal(err)
	}
	if rs.Added != ss.Refused || env.prog.Pending() != 0 {
		t.Errorf("retry added %d of %d refused, %d still pending", rs.Added, ss.Refused, env.prog.Pending())
	}
	program(t, &router.State{})
}

func countV6(d router.Desired) int {
	n := 0
	for p := range d[router.MainTable] {
		if p.Addr().Is6() {
			n++
		}
	}
	return n
}

// TestTbl8AccountingDrift: DPDK 22.11's DIR-24-8 miscounts reserved tbl8
// groups when a /24 comes or goes while longer routes live in the same
// /24; unchecked, a table soon refuses every route longer than /24. The
// FIB rebuilds the affected copy and the routes go in.
func TestTbl8AccountingDrift(t *testing.T) {
	need(t)
	const slot = 7
	if err := dpdk.CreateTable(slot, dpdk.TableConfig{ID: 99, MaxRoutes4: 100000, MaxRoutes6: 1000}); err != nil {
		t.Fatal(err)
	}
	defer dpdk.DestroyTable(slot)
	const bh, local = 1000, 1001
	if err := dpdk.SetNexthop(bh, dpdk.Nexthop{Type: dpdk.NexthopBlackhole}); err != nil {
		t.Fatal(err)
	}
	if err := dpdk.SetNexthop(local, dpdk.Nexthop{Type: dpdk.NexthopLocal}); err != nil {
		t.Fatal(err)
	}
	defer dpdk.SetNexthop(bh, dpdk.Nexthop{})
	defer dpdk.SetNexthop(local, dpdk.Nexthop{})
	// 3000 /24 blocks, as many as the table has tbl8 groups (100000/32).
	ops := func(del bool, bits int) []dpdk.RouteOp {
		var o []dpdk.RouteOp
		for i := range 3000 {
			a := netip.AddrFrom4([4]byte{20, byte(i >> 8), byte(i), 7})
			p, _ := a.Prefix(bits)
			o = append(o, dpdk.RouteOp{Del: del, Prefix: p, Nexthop: local})
		}
		return o
	}
	apply := func(step string, o []dpdk.RouteOp) {
		t.Helper()
		_, failed, err := dpdk.ApplyRoutes(slot, o)
		if err != nil || failed != 0 {
			t.Fatalf("%s: %d of %d failed (%v)", step, failed, len(o), err)
		}
	}
	apply("covering /8", []dpdk.RouteOp{{Prefix: netip.MustParsePrefix("20.0.0.0/8"), Nexthop: bh}})
	for round := range 3 {
		apply("add /24s", ops(false, 24))
		apply("add /32s inside them", ops(false, 32)) // DPDK reserves nothing here
		apply("del /24s", ops(true, 24))
		apply("del /32s", ops(true, 32)) // ... but releases here
		apply("add /32s alone", ops(false, 32))
		apply("del /32s alone", ops(true, 32))
		t.Logf("round %d ok", round)
	}
	info, err := dpdk.ReadTableInfo(slot)
	if err != nil {
		t.Fatal(err)
	}
	if info.Routes4 != 1 || info.CloneFailures != 0 || info.Rebuilds == 0 {
		t.Fatalf("table info %+v, want just the /8, rebuilds and no clone failure", info)
	}
	if got := dpdk.Lookup(slot, netip.MustParseAddr("20.0.5.7")); got != bh {
		t.Fatalf("20.0.5.7 -> nexthop %d, want the /8's %d", got, bh)
	}
	t.Logf("copies rebuilt: %d", info.Rebuilds)
}
