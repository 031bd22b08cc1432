package fastpath

import (
	"net/netip"
	"testing"

	"github.com/rs/zerolog"

	"fibd/lpm"
	"fibd/router"
	"fibd/test/fullview"
)

// fullViewRIB resolves a full view (1M IPv4 + 200k IPv6 routes) in table 99.
func fullViewRIB() *router.RIB {
	rib := router.NewRIB(testPorts{}, 99, 1200000)
	rib.AddAddr(router.Addr{Prefix: netip.MustParsePrefix("198.51.100.1/24"), Dev: "p1"})
	rib.AddAddr(router.Addr{Prefix: netip.MustParsePrefix("2001:db8:1::1/64"), Dev: "p1"})
	for i := range 4 {
		rib.SetNeigh(router.Neigh{Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(2 + i)}), Dev: "p1", MAC: []byte{2, 0, 0, 0, 0, byte(i)}})
	}
	rib.SetNeigh(router.Neigh{Addr: netip.MustParseAddr("2001:db8:1::2"), Dev: "p1", MAC: []byte{2, 0, 0, 0, 0, 9}})
	for i, p := range fullview.IPv4(1, 1000000) {
		rib.AddRoute(router.Route{Table: 99, Prefix: p,
			Nexthops: []router.Nexthop{{Gateway: netip.AddrFrom4([4]byte{198, 51, 100, byte(2 + i%4)}), Dev: "p1"}}})
	}
	for _, p := range fullview.IPv6(2, 200000) {
		rib.AddRoute(router.Route{Table: 99, Prefix: p,
			Nexthops: []router.Nexthop{{Gateway: netip.MustParseAddr("2001:db8:1::2"), Dev: "p1"}}})
	}
	rib.Settle()
	return rib
}

// BenchmarkReconcileFullView is what router_fib_refresh costs on a full
// view when nothing differs: the whole RIB compared with the FIB's record
// and the table's counts.
func BenchmarkReconcileFullView(b *testing.B) {
	need(b)
	rib := fullViewRIB()
	fib := lpm.New(zerolog.Nop(), lpm.Config{MaxRoutes4: 1001000, MaxRoutes6: 201000})
	t, err := fib.Table(99, 9)
	if err != nil {
		b.Fatal(err)
	}
	defer fib.Destroy(t)
	prog := router.NewProgrammer(zerolog.Nop(), fib)
	defer prog.Sync(router.Desired{})
	if _, err := prog.SyncEach(rib.Len(), rib.Each); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		st, err := prog.Reconcile(rib.Len(), rib.Each)
		if err != nil || st.Added+st.Replaced+st.Deleted != 0 {
			b.Fatalf("%+v %v", st, err)
		}
	}
}

// BenchmarkProgramFullView programs a resolved full view (1M IPv4 + 200k
// IPv6 routes) into an empty FIB, as the first resync does.
func BenchmarkProgramFullView(b *testing.B) {
	need(b)
	rib := fullViewRIB()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		fib := lpm.New(zerolog.Nop(), lpm.Config{MaxRoutes4: 1001000, MaxRoutes6: 201000})
		t, err := fib.Table(99, 9)
		if err != nil {
			b.Fatal(err)
		}
		prog := router.NewProgrammer(zerolog.Nop(), fib)
		b.StartTimer()
		st, err := prog.SyncEach(rib.Len(), rib.Each)
		if err != nil || st.Added < 1200000 {
			b.Fatalf("%+v %v", st, err)
		}
		b.StopTimer()
		prog.Sync(router.Desired{})
		if err := fib.Destroy(t); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
