package rib

import (
	"net/netip"
	"testing"
	"time"

	"fibd/cgo/fptypes"
	"fibd/test/fullview"
)

// BenchmarkMultipathFullView: a full view (1M IPv4 + 200k IPv6) of
// two-path multipath routes, BIRD's kind of ECMP, loaded and flushed
// ("load-s"); then the re-dump after the second path's link went down,
// in which every route lost that path (the kernel marks it dead, in
// silence), applied as the router's redump does: SyncRoutes per family
// ("sync-s"), then Flush ("flush-s").
func BenchmarkMultipathFullView(b *testing.B) {
	gw := [2]netip.Addr{netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.101.2")}
	gw6 := [2]netip.Addr{netip.MustParseAddr("2001:db8:1::2"), netip.MustParseAddr("2001:db8:2::2")}
	dev := [2]string{"a", "b"}
	v4, v6 := fullview.IPv4(1, 1000000), fullview.IPv6(2, 200000)
	paths := func(p netip.Prefix, n int) Route {
		g := gw
		if p.Addr().Is6() {
			g = gw6
		}
		rt := Route{Table: 100, Prefix: p}
		for i := range n {
			rt.Nexthops = append(rt.Nexthops, Nexthop{Gateway: g[i], Dev: dev[i]})
		}
		return rt
	}
	dump := func(v []netip.Prefix, n int) []Route {
		d := make([]Route, 0, len(v))
		for _, p := range v {
			d = append(d, paths(p, n))
		}
		return d
	}
	var load, sync, flush time.Duration
	for range b.N {
		b.StopTimer()
		full4, full6 := dump(v4, 2), dump(v6, 2)
		down4, down6 := dump(v4, 1), dump(v6, 1)
		b.StartTimer()
		t0 := time.Now()
		r := NewRIB(ribPorts, 100, len(v4)+len(v6))
		r.AddAddr(Addr{Prefix: netip.MustParsePrefix("198.51.100.1/24"), Dev: "a"})
		r.AddAddr(Addr{Prefix: netip.MustParsePrefix("198.51.101.1/24"), Dev: "b"})
		r.AddAddr(Addr{Prefix: netip.MustParsePrefix("2001:db8:1::1/64"), Dev: "a"})
		r.AddAddr(Addr{Prefix: netip.MustParsePrefix("2001:db8:2::1/64"), Dev: "b"})
		for i := range 2 {
			r.SetNeigh(Neigh{Addr: gw[i], Dev: dev[i], MAC: []byte{2, 0, 0, 0, 0, byte(i)}})
			r.SetNeigh(Neigh{Addr: gw6[i], Dev: dev[i], MAC: []byte{2, 0, 0, 0, 1, byte(i)}})
		}
		for _, rt := range full4 {
			r.AddRoute(rt)
		}
		for _, rt := range full6 {
			r.AddRoute(rt)
		}
		if n := changes(r.Flush(), fptypes.NexthopECMP); n != len(v4)+len(v6) {
			b.Fatal("load: ECMP routes", n)
		}
		t1 := time.Now()
		_, c4 := r.SyncRoutes(false, []uint32{100}, down4)
		_, c6 := r.SyncRoutes(true, []uint32{100}, down6)
		t2 := time.Now()
		ch := r.Flush()
		t3 := time.Now()
		if n := changes(ch, fptypes.NexthopForward); c4+c6 != len(v4)+len(v6) || n != len(v4)+len(v6) {
			b.Fatal("re-dump: changed", c4+c6, "single-hop routes", n)
		}
		load, sync, flush = load+t1.Sub(t0), sync+t2.Sub(t1), flush+t3.Sub(t2)
	}
	b.ReportMetric(load.Seconds()/float64(b.N), "load-s")
	b.ReportMetric(sync.Seconds()/float64(b.N), "sync-s")
	b.ReportMetric(flush.Seconds()/float64(b.N), "flush-s")
}

// changes counts the changes of table 100 to targets of type typ.
func changes(ch []Change, typ fptypes.NexthopType) int {
	n := 0
	for _, c := range ch {
		if c.Table == 100 && !c.Del && c.Target.Type == typ {
			n++
		}
	}
	return n
}
