package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"time"

	"github.com/rs/zerolog"
	"github.com/vishvananda/netlink"

	dpdk "fibd/cgo"
	"fibd/lpm"
	"fibd/router"
	"fibd/test/fullview"
	"fibd/test/nstest"
)

// benchPorts: the namespace's rib0 is fibd's port 0.
type benchPorts struct{ port dpdk.PortID }

func (b benchPorts) PortOf(dev string) (dpdk.PortID, bool) { return b.port, dev == "rib0" }

const benchTable = 100

// routerBench measures the netlink mirror on a full view: the time from
// the full view being in the kernel table to fibd's FIB equalling it, and
// the latency of single route changes under it, from the kernel's change
// to the FIB's lookup seeing it.
func routerBench(v4, v6 []netip.Prefix) error {
	ns := fmt.Sprintf("fibdbench%d", os.Getpid())
	if err := nstest.AddNS(ns); err != nil {
		return err
	}
	defer nstest.DelNS(ns)
	if err := nstest.BatchFunc(ns, func(w *bufio.Writer) {
		fmt.Fprintln(w, "link add rib0 type veth peer name nbr0")
		fmt.Fprintln(w, "link set rib0 up")
		fmt.Fprintln(w, "link set nbr0 up")
		fmt.Fprintln(w, "address add 198.51.100.1/24 dev rib0")
		fmt.Fprintln(w, "address add 2001:db8:1::1/64 dev rib0 nodad")
		for i := 2; i < 6; i++ {
			fmt.Fprintf(w, "neigh add 198.51.100.%d lladdr 02:00:00:00:00:%02x dev rib0 nud permanent\n", i, i)
			fmt.Fprintf(w, "neigh add 2001:db8:1::%d lladdr 02:00:00:00:00:%02x dev rib0 nud permanent\n", i, i)
		}
	}); err != nil {
		return err
	}
	t0 := time.Now()
	if err := nstest.BatchFunc(ns, func(w *bufio.Writer) {
		for i, p := range v4 {
			fmt.Fprintf(w, "route add %s via 198.51.100.%d table %d\n", p, 2+i%4, benchTable)
		}
		for i, p := range v6 {
			fmt.Fprintf(w, "route add %s via 2001:db8:1::%d table %d\n", p, 2+i%4, benchTable)
		}
	}); err != nil {
		return err
	}
	kernelLoad := time.Since(t0)

	id, err := dpdk.PortByName("net_null0")
	if err != nil {
		return err
	}
	if err := id.Setup(dpdk.PortConfig{RxQueues: 1, TxQueues: 1, RxDesc: 64, TxDesc: 64}); err != nil {
		return err
	}
	defer id.Close()
	fmt.Printf("Router (netlink mirror of a netns kernel table, %d IPv4 + %d IPv6 routes via 4 neighbours)\n", len(v4), len(v6))
	fmt.Printf("  kernel load by ip -batch (not fibd)  %8.1f s\n", kernelLoad.Seconds())
	moved := map[int]int{} // route index -> its gateway now (2..5), across both runs
	have := make(map[netip.Prefix]bool, len(v4))
	for _, p := range v4 {
		have[p] = true
	}
	covered := func(a netip.Addr, bits int) bool { // by a more specific route
		for l := bits + 1; l <= 32; l++ {
			if q, _ := a.Prefix(l); have[q] {
				return true
			}
		}
		return false
	}
	for _, own := range []bool{false, true} {
		if err := mirrorBench(ns, id, v4, v6, own, moved, covered); err != nil {
			return err
		}
	}
	return nil
}

// mirrorBench runs a router over the kernel table with one kind of FIB
// (rte_fib's left-right pair, or fibd's own) and prints its figures.
// covered tells whether an address is inside a more specific route than
// one of bits.
func mirrorBench(ns string, id dpdk.PortID, v4, v6 []netip.Prefix, own bool, moved map[int]int,
	covered func(netip.Addr, int) bool) error {
	kind, build := "rte_fib (fibd_fib=dpdk)", "program both copies"
	if own {
		kind, build = "fibd's own (fibd_fib=own)", "program"
	}
	fib := lpm.New(zerolog.Nop(), lpm.Config{MaxRoutes4: uint32(len(v4) + 1024), MaxRoutes6: uint32(len(v6) + 1024), Own: own})
	defer func() {
		for _, t := range fib.Tables() {
			fib.Destroy(t)
		}
	}()
	tbl, err := fib.Table(benchTable, 1)
	if err != nil {
		return err
	}
	var ms0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	log := zerolog.Nop()
	if os.Getenv("FIBD_BENCH_LOG") != "" {
		log = zerolog.New(os.Stderr).Level(zerolog.InfoLevel)
	}
	r := router.New(log, router.Config{Netns: ns, KernelTable: benchTable, Refresh: 15 * time.Second, BindCore: -1},
		benchPorts{id}, fib)
	// FIBD_BENCH_CPUPROFILE=FILE: a CPU profile of each mirror, to
	// FILE.dpdk and FILE.own.
	stop, err := startCPUProfile(map[bool]string{false: ".dpdk", true: ".own"}[own])
	if err != nil {
		return err
	}
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t0 := time.Now()
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-r.Ready():
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("router never mirrored the full view")
	}
	mirror := time.Since(t0)
	info, _ := fib.Info(tbl)
	var ms1 runtime.MemStats
	runtime.GC() // live data only: the dump's garbage is not the router's memory
	runtime.ReadMemStats(&ms1)

	// Single changes: move a random route to another gateway and wait
	// until the FIB's lookup answers with the new neighbour.
	h, err := nstest.HandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	rng := rand.New(rand.NewPCG(8, 8))
	var lat []time.Duration
	for len(lat) < 300 {
		i := rng.IntN(len(v4))
		p := v4[i]
		dst := fullview.AddrIn(rng, p)
		if covered(dst, p.Bits()) {
			continue
		}
		cur, ok := moved[i]
		if !ok {
			cur = 2 + i%4
		}
		next := 2 + (cur-2+1)%4
		moved[i] = next
		gw := netip.AddrFrom4([4]byte{198, 51, 100, byte(next)})
		before := fib.Lookup(tbl, dst)
		_, ipn, _ := net.ParseCIDR(p.String())
		rt := &netlink.Route{Dst: ipn, Gw: gw.AsSlice(), Table: benchTable}
		start := time.Now()
		if err := h.RouteReplace(rt); err != nil {
			return fmt.Errorf("route replace %s: %w", p, err)
		}
		for {
			idx := fib.Lookup(tbl, dst)
			if idx != before {
				lat = append(lat, time.Since(start))
				break
			}
			if time.Since(start) > 10*time.Second {
				return fmt.Errorf("change of %s never reached the FIB", p)
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	p50, p99 := percentiles(lat)
	kindKey := "dpdk"
	if own {
		kindKey = "own"
	}
	score(gRestart, kindKey, mirror.Seconds())
	score(gHeap, kindKey, float64(ms1.HeapAlloc-ms0.HeapAlloc)/float64(len(v4)+len(v6)))
	fmt.Printf("  FIB: %s\n", kind)
	fmt.Printf("    kernel table -> FIB equal (dump, resolve, %s) %8.2f s  (routes held %d + %d)\n",
		build, mirror.Seconds(), info.Routes4, info.Routes6)
	fmt.Printf("    Go heap of the router after the mirror %8.1f MiB live (RIB, programmer state; %.0f bytes/route)\n",
		mib(ms1.HeapAlloc-ms0.HeapAlloc), float64(ms1.HeapAlloc-ms0.HeapAlloc)/float64(len(v4)+len(v6)))
	fmt.Printf("    single route change, kernel replace -> FIB lookup sees it: p50 %.2f ms, p99 %.2f ms (%d changes)\n",
		float64(p50.Microseconds())/1e3, float64(p99.Microseconds())/1e3, len(lat))
	fmt.Printf("    netlink events %d, resyncs %d, overruns %d\n", r.Stats.Events.Load(), r.Stats.Resyncs.Load(), r.Stats.Overruns.Load())
	return nil
}
