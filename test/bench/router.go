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
	"slices"
	"strings"
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

// mirrorStarts is how many times mirrorBench starts a router from an
// empty FIB over the full view (FIBD_BENCH_MIRROR_STARTS): the restart's
// figure is the best, as for the forwarding rows, since other processes
// on this machine only ever add to a start.
const (
	mirrorStarts    = 3
	mirrorStartsEnv = "FIBD_BENCH_MIRROR_STARTS"
)

// mirrorRun is one router mirroring the kernel table into a new FIB.
type mirrorRun struct {
	fib  *lpm.FIB
	tbl  *lpm.Table
	r    *router.Router
	took time.Duration // from the router's start to Ready
	stop func()        // stops the router and frees the FIB
}

// startMirror starts a router over the kernel table with a new, empty
// FIB and waits until it has mirrored the table.
func startMirror(ns string, id dpdk.PortID, v4, v6 []netip.Prefix, own bool) (*mirrorRun, error) {
	fib := lpm.New(zerolog.Nop(), lpm.Config{MaxRoutes4: uint32(len(v4) + 1024), MaxRoutes6: uint32(len(v6) + 1024), Own: own})
	free := func() {
		for _, t := range fib.Tables() {
			fib.Destroy(t)
		}
	}
	tbl, err := fib.Table(benchTable, 1)
	if err != nil {
		free()
		return nil, err
	}
	log := zerolog.Nop()
	if os.Getenv("FIBD_BENCH_LOG") != "" {
		log = zerolog.New(os.Stderr).Level(zerolog.InfoLevel)
	}
	r := router.New(log, router.Config{Netns: ns, KernelTable: benchTable, Refresh: 15 * time.Second, BindCore: -1},
		benchPorts{id}, fib)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t0 := time.Now()
	go func() { defer close(done); r.Run(ctx) }()
	m := &mirrorRun{fib: fib, tbl: tbl, r: r, stop: func() { cancel(); <-done; free() }}
	select {
	case <-r.Ready():
		m.took = time.Since(t0)
		return m, nil
	case <-time.After(5 * time.Minute):
		m.stop()
		return nil, fmt.Errorf("router never mirrored the full view")
	}
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
	starts := envStarts(mirrorStartsEnv, mirrorStarts)
	var ms0 runtime.MemStats
	var took []time.Duration
	var peak uint64 // the most heap a start's mirror left, garbage included
	var m *mirrorRun
	for i := range starts {
		if m != nil {
			m.stop()
			m = nil // nothing of the last start is live at ms0
		}
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		// FIBD_BENCH_CPUPROFILE=FILE: a CPU profile of each kind's
		// first start, to FILE.dpdk and FILE.own.
		stopProf := func() {}
		var err error
		if i == 0 {
			if stopProf, err = startCPUProfile(map[bool]string{false: ".dpdk", true: ".own"}[own]); err != nil {
				return err
			}
		}
		m, err = startMirror(ns, id, v4, v6, own)
		stopProf()
		if err != nil {
			return err
		}
		took = append(took, m.took)
		// the heap as the mirror left it, its garbage not collected yet:
		// how far a resync lets it grow
		var msr runtime.MemStats
		runtime.ReadMemStats(&msr)
		peak = max(peak, msr.HeapAlloc-min(msr.HeapAlloc, ms0.HeapAlloc))
	}
	defer m.stop()
	fib, tbl, r := m.fib, m.tbl, m.r
	mirror := slices.Min(took)
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
	fmt.Printf("    kernel table -> FIB equal (dump, resolve, %s) %8.2f s  (routes held %d + %d; best of %d starts: %s)\n",
		build, mirror.Seconds(), info.Routes4, info.Routes6, len(took), secondsList(took))
	fmt.Printf("    Go heap of the router after the mirror %8.1f MiB live (RIB, programmer state; %.0f bytes/route); %.1f MiB at its end, garbage included\n",
		mib(ms1.HeapAlloc-ms0.HeapAlloc), float64(ms1.HeapAlloc-ms0.HeapAlloc)/float64(len(v4)+len(v6)), mib(peak))
	fmt.Printf("    single route change, kernel replace -> FIB lookup sees it: p50 %.2f ms, p99 %.2f ms (%d changes)\n",
		float64(p50.Microseconds())/1e3, float64(p99.Microseconds())/1e3, len(lat))
	fmt.Printf("    netlink events %d, resyncs %d, overruns %d\n", r.Stats.Events.Load(), r.Stats.Resyncs.Load(), r.Stats.Overruns.Load())
	return nil
}

// secondsList prints durations as "[4.15 3.69 3.90] s".
func secondsList(d []time.Duration) string {
	f := make([]string, len(d))
	for i, x := range d {
		f[i] = fmt.Sprintf("%.2f", x.Seconds())
	}
	return "[" + strings.Join(f, " ") + "] s"
}
