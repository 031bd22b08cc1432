package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"time"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
	"fibd/lpm"
	"fibd/test/fullview"
)

// fibBench builds the full view into a left-right table pair and measures
// build time, memory and lookups, as the control plane and workers do.
func fibBench(o *options, huge bool, v4, v6 []netip.Prefix) error {
	prefix := fmt.Sprintf("fibdbench%d", os.Getpid())
	defer os.RemoveAll("/var/run/dpdk/" + prefix)
	args := append([]string{"bench", "-l", "0", "--no-pci", "--file-prefix", prefix,
		"--log-level", "lib.eal:warning", "--vdev", "net_null0,no-rx=1",
		"--vdev", "net_null1,no-rx=1", "--vdev", "net_null2,no-rx=1"}, ealMem(huge, 6144)...)
	eal, err := dpdk.Init(args)
	if err != nil {
		return err
	}
	defer eal.Cleanup()
	if o.buildOnly {
		return ownBuildBench(v4, v6)
	}
	if o.failoverOnly || o.routerOnly {
		if err := dpdk.CreatePool("bench_mbufs", 2048, -1); err != nil {
			return err
		}
		if o.routerOnly {
			return routerBench(v4, v6)
		}
		return failoverBench([][2]int{{10000, 2000}, {len(v4), len(v6)}}, v4, v6)
	}

	fib := lpm.New(zerolog.Nop(), lpm.Config{MaxRoutes4: uint32(len(v4)), MaxRoutes6: uint32(len(v6))})
	heap0 := dpdk.HeapUsed()
	t0 := time.Now()
	tbl, err := fib.Table(254, 0)
	if err != nil {
		return err
	}
	create := time.Since(t0)
	heapTables := dpdk.HeapUsed() - heap0

	nhs, err := neighbours(fib)
	if err != nil {
		return err
	}
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	build := func(tbl *lpm.Table, routes []netip.Prefix) (time.Duration, error) {
		const batch = 65536
		var b lpm.Batch
		start := time.Now()
		for i := 0; i < len(routes); i += batch {
			b.Reset()
			for j, p := range routes[i:min(i+batch, len(routes))] {
				b.Add(p, nhs[(i+j)%len(nhs)])
			}
			r, err := fib.Apply(tbl, &b)
			if err != nil {
				return 0, err
			}
			if len(r.Failed) > 0 {
				return 0, fmt.Errorf("%d routes refused, first %s: %v", len(r.Failed), r.Failed[0].Prefix, r.Failed[0].Err)
			}
		}
		return time.Since(start), nil
	}
	d4, err := build(tbl, v4)
	if err != nil {
		return err
	}
	d6, err := build(tbl, v6)
	if err != nil {
		return err
	}
	runtime.ReadMemStats(&ms1)
	heapFull := dpdk.HeapUsed() - heap0
	info, _ := fib.Info(tbl)

	fmt.Printf("FIB: synthetic full view, %d IPv4 + %d IPv6 prefixes (DESIGN.md length mix), left-right rte_fib DIR-24-8 + rte_fib6 TRIE, batches of 65536\n", len(v4), len(v6))
	fmt.Printf("  table create (2 copies x 2 families)   %8.1f ms\n", ms(create))
	fmt.Printf("  IPv4 build, both copies               %8.1f ms   %6.2f M routes/s\n", ms(d4), float64(len(v4))/d4.Seconds()/1e6)
	fmt.Printf("  IPv6 build, both copies               %8.1f ms   %6.2f M routes/s\n", ms(d6), float64(len(v6))/d6.Seconds()/1e6)
	fmt.Printf("  DPDK heap: tables empty               %8.1f MiB\n", mib(heapTables))
	fmt.Printf("  DPDK heap: tables full                %8.1f MiB  (routes held %d + %d, copy rebuilds %d)\n",
		mib(heapFull), info.Routes4, info.Routes6, info.Rebuilds)
	score(gMemory, "dpdk", mib(heapFull))
	score(gTables, "dpdk", math.Floor(16384/mib(heapFull)))
	score(gBuild, "dpdk", (d4 + d6).Seconds())
	fmt.Printf("  Go heap of the control plane          %8.1f MiB  (in use after build; generator input included)\n", mib(ms1.HeapInuse))

	// Lookups of destinations inside the table, in bursts as workers do.
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 1 << 22
	a4 := make([]uint32, n)
	for i := range a4 {
		b := fullview.AddrIn(rng, v4[rng.IntN(len(v4))]).As4()
		a4[i] = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	a6 := make([][16]byte, n)
	for i := range a6 {
		a6[i] = fullview.AddrIn(rng, v6[rng.IntN(len(v6))]).As16()
	}
	out := make([]uint32, n)
	t0 = time.Now()
	if err := dpdk.LookupBulk4(tbl.Slot, a4, out); err != nil {
		return err
	}
	l4 := time.Since(t0)
	miss := 0
	for _, v := range out {
		if v == dpdk.NexthopMiss {
			miss++
		}
	}
	t0 = time.Now()
	if err := dpdk.LookupBulk6(tbl.Slot, a6, out); err != nil {
		return err
	}
	l6 := time.Since(t0)
	for _, v := range out {
		if v == dpdk.NexthopMiss {
			miss++
		}
	}
	fmt.Printf("  IPv4 lookup, bulk of 64, random hits  %8.1f ns/lookup  (%d lookups)\n", float64(l4.Nanoseconds())/n, n)
	fmt.Printf("  IPv6 lookup, bulk of 64, random hits  %8.1f ns/lookup  (%d lookups, misses %d)\n", float64(l6.Nanoseconds())/n, n, miss)
	if err := rulesBench(fib, tbl, nhs, v4, v6, build, heapFull); err != nil {
		return err
	}

	// Single-route changes under the full view: one batch each.
	var b lpm.Batch
	var lat []time.Duration
	for i := range 2000 {
		b.Reset()
		p := v4[rng.IntN(len(v4))]
		b.Add(p, nhs[(i+1)%len(nhs)])
		t0 := time.Now()
		if _, err := fib.Apply(tbl, &b); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
	}
	p50, p99 := percentiles(lat)
	fmt.Printf("  single route change (apply, swap, grace period, replay): p50 %.1f us, p99 %.1f us (2000 changes)\n",
		float64(p50.Nanoseconds())/1e3, float64(p99.Nanoseconds())/1e3)
	fmt.Println()

	// The netlink mirror gets the memory back.
	if err := dpdk.DestroyTable(tbl.Slot); err != nil {
		return err
	}
	if err := ownBuildBench(v4, v6); err != nil {
		return err
	}
	if err := dpdk.CreatePool("bench_mbufs", 2048, -1); err != nil {
		return err
	}
	if err := routerBench(v4, v6); err != nil {
		return err
	}
	return failoverBench([][2]int{{10000, 2000}, {len(v4), len(v6)}}, v4, v6)
}

// ownBuildBench builds the full view from nothing into an own table the
// way fibd does on a restart's resync: one batch of both families, which
// fp_table_apply records and builds whole, IPv6 on a second thread. The
// figure is the first build, from the batch's first Add to Apply's return
// (page faults of fresh memory included); two more builds on fresh tables,
// with the batch's memory and the C heap warm, show what the first pays
// for them.
func ownBuildBench(v4, v6 []netip.Prefix) error {
	fib := lpm.New(zerolog.Nop(), lpm.Config{MaxRoutes4: uint32(len(v4)), MaxRoutes6: uint32(len(v6)), Own: true})
	nhs, err := neighbours(fib)
	if err != nil {
		return err
	}
	var b lpm.Batch
	var took []float64
	for run := range 3 {
		tbl, err := fib.Table(254, 0)
		if err != nil {
			return err
		}
		b.Reset()
		start := time.Now()
		b.Grow(len(v4) + len(v6)) // as fibd's programmer sizes a batch
		for i, p := range v4 {
			b.Add(p, nhs[i%len(nhs)])
		}
		for i, p := range v6 {
			b.Add(p, nhs[i%len(nhs)])
		}
		r, err := fib.Apply(tbl, &b)
		d := time.Since(start)
		if err == nil && len(r.Failed) > 0 {
			err = fmt.Errorf("%d routes refused, first %s: %v", len(r.Failed), r.Failed[0].Prefix, r.Failed[0].Err)
		}
		if err != nil {
			return fmt.Errorf("own build %d: %w", run, err)
		}
		took = append(took, d.Seconds())
		if err := fib.Destroy(tbl); err != nil {
			return err
		}
	}
	fmt.Printf("Own FIB (fibd_fib=own), built the way fibd loads a full view from nothing (a restart's resync): one batch of %d IPv4 + %d IPv6 routes, IPv6 on a second thread\n",
		len(v4), len(v6))
	fmt.Printf("  build from nothing  %.3f s  (first build, scored; two more on fresh tables, memory warm: %.3f %.3f s)\n\n",
		took[0], took[1], took[2])
	score(gBuild, "own", took[0])
	return nil
}

// neighbours publishes the 16 nexthops a bench's routes spread over, as
// in a multi-homed box (blackholes: the lookups are what is measured).
func neighbours(fib *lpm.FIB) ([]uint32, error) {
	var nhs []uint32
	for range 16 {
		idx, err := fib.NH.Alloc()
		if err != nil {
			return nil, err
		}
		if err := fib.NH.Set(idx, dpdk.Nexthop{Type: dpdk.NexthopBlackhole}); err != nil {
			return nil, err
		}
		nhs = append(nhs, idx)
	}
	return nhs, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
func mib(b uint64) float64       { return float64(b) / (1 << 20) }

// rulesBench mirrors a second full view (a PEERING upstream's table),
// publishes rules as the mux has them (local first, the upstream's table
// for its macvlan, then main) and measures the memory per mirrored table
// and the lookups through the rules.
func rulesBench(fib *lpm.FIB, main *lpm.Table, nhs []uint32, v4, v6 []netip.Prefix,
	build func(*lpm.Table, []netip.Prefix) (time.Duration, error), heapOne uint64) error {
	heap0 := dpdk.HeapUsed()
	up, err := fib.Table(10001, 1)
	if err != nil {
		return err
	}
	defer fib.Destroy(up) // after the rules go (deferred later, run first)
	if _, err := build(up, v4); err != nil {
		return err
	}
	if _, err := build(up, v6); err != nil {
		return err
	}
	perTable := dpdk.HeapUsed() - heap0
	const macvlan = dpdk.PortID(40)
	for _, fam := range []int{4, 6} {
		err := dpdk.SetRules(fam, []dpdk.Rule{
			{Prio: 0, IIF: dpdk.IIFAny, Action: dpdk.RuleLocal, Table: uint16(main.Slot)},
			{Prio: 10001, IIF: macvlan, Action: dpdk.RuleLookup, Table: uint16(up.Slot)},
			{Prio: 32766, IIF: dpdk.IIFAny, Action: dpdk.RuleLookup, Table: uint16(main.Slot)},
		})
		if err != nil {
			return err
		}
		defer dpdk.SetRules(fam, nil)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 1 << 20
	src4, src6 := netip.MustParseAddr("100.64.128.2"), netip.MustParseAddr("2804:269c:ffff:0:0:1::2")
	q4, q6 := make([]dpdk.RuleQuery, n), make([]dpdk.RuleQuery, n)
	for i := range n {
		iif := dpdk.PortID(0)
		if i%2 == 0 {
			iif = macvlan
		}
		q4[i] = dpdk.RuleQuery{IIF: iif, Src: src4, Dst: fullview.AddrIn(rng, v4[rng.IntN(len(v4))])}
		q6[i] = dpdk.RuleQuery{IIF: iif, Src: src6, Dst: fullview.AddrIn(rng, v6[rng.IntN(len(v6))])}
	}
	out := make([]uint32, n)
	var d [2]time.Duration
	for k, q := range [][]dpdk.RuleQuery{q4, q6} {
		b := dpdk.NewRuleBatch(4+2*k, q)
		t0 := time.Now()
		if err := b.Run(out); err != nil {
			return err
		}
		d[k] = time.Since(t0)
	}
	fmt.Printf("  a second full view (PEERING upstream) %8.1f MiB of DPDK heap (first table %.1f MiB): %d full views in 16 GiB\n",
		mib(perTable), mib(heapOne), (16<<30)/perTable)
	fmt.Printf("  IPv4 lookup through 3 ip rules         %8.1f ns/lookup  (%d lookups, half by iif to the upstream's table)\n",
		float64(d[0].Nanoseconds())/n, n)
	fmt.Printf("  IPv6 lookup through 3 ip rules         %8.1f ns/lookup  (%d lookups)\n", float64(d[1].Nanoseconds())/n, n)
	return nil
}
