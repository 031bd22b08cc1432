package rib

import (
	"net/netip"
	"runtime"
	"testing"

	"fibd/test/fullview"
)

// BenchmarkResolveFullView builds and resolves a RIB of a full view (1M
// IPv4 + 200k IPv6 routes via four neighbours) from scratch, as a resync
// does. The routes name their interface, as the kernel's always do.
func BenchmarkResolveFullView(b *testing.B) {
	st := &State{
		Addrs: []Addr{{Prefix: netip.MustParsePrefix("198.51.100.1/24"), Dev: "a"},
			{Prefix: netip.MustParsePrefix("2001:db8:1::1/64"), Dev: "a"}},
	}
	for i := range 4 {
		st.Neighs = append(st.Neighs, Neigh{Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(2 + i)}), Dev: "a",
			MAC: []byte{2, 0, 0, 0, 0, byte(i)}})
	}
	for i, p := range fullview.IPv4(1, 1000000) {
		st.Routes = append(st.Routes, Route{Table: 100, Prefix: p,
			Nexthops: []Nexthop{{Gateway: netip.AddrFrom4([4]byte{198, 51, 100, byte(2 + i%4)}), Dev: "a"}}})
	}
	for _, p := range fullview.IPv6(2, 200000) {
		st.Routes = append(st.Routes, Route{Table: 100, Prefix: p,
			Nexthops: []Nexthop{{Gateway: netip.MustParseAddr("2001:db8:1::2"), Dev: "a"}}})
	}
	b.ResetTimer()
	for range b.N {
		r := NewRIB(ribPorts, 100, len(st.Routes))
		r.Load(st)
		if n := r.Routes(); n < 1200000 {
			b.Fatal(n)
		}
	}
}

// BenchmarkRIBMemoryFullView reports the Go heap a full view's RIB holds
// (1M IPv4 + 200k IPv6 routes resolved through four neighbours), in bytes
// per route, measured live after a GC.
func BenchmarkRIBMemoryFullView(b *testing.B) {
	v4, v6 := fullview.IPv4(1, 1000000), fullview.IPv6(2, 200000)
	gw6 := netip.MustParseAddr("2001:db8:1::2")
	for range b.N {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		r := NewRIB(ribPorts, 100, len(v4)+len(v6))
		r.AddAddr(Addr{Prefix: netip.MustParsePrefix("198.51.100.1/24"), Dev: "a"})
		r.AddAddr(Addr{Prefix: netip.MustParsePrefix("2001:db8:1::1/64"), Dev: "a"})
		for i := range 4 {
			r.SetNeigh(Neigh{Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(2 + i)}), Dev: "a", MAC: []byte{2, 0, 0, 0, 0, byte(i)}})
		}
		for i, p := range v4 {
			r.AddRoute(Route{Table: 100, Prefix: p, Nexthops: []Nexthop{{Gateway: netip.AddrFrom4([4]byte{198, 51, 100, byte(2 + i%4)}), Dev: "a"}}})
		}
		for _, p := range v6 {
			r.AddRoute(Route{Table: 100, Prefix: p, Nexthops: []Nexthop{{Gateway: gw6, Dev: "a"}}})
		}
		r.Settle()
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/float64(r.Routes()), "B/route")
		runtime.KeepAlive(r)
	}
}
