package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
	"fibd/conf"
	"fibd/lpm"
	"fibd/ports/pcap"
	"fibd/router"
	"fibd/test/fullview"
	"fibd/test/nstest"
)

// failoverPorts: rib0 and rib1 of the namespace are fibd's two ports.
type failoverPorts struct{ p [2]dpdk.PortID }

func (f failoverPorts) PortOf(dev string) (dpdk.PortID, bool) {
	switch dev {
	case "rib0":
		return f.p[0], true
	case "rib1":
		return f.p[1], true
	}
	return 0, false
}

// failoverMode is how the routes reach the kernel table.
type failoverMode struct {
	name    string
	objects bool // routes name a nexthop group object (FRR); else multipath routes (BIRD)
	compat  int  // net.ipv4.nexthop_compat_mode
}

// tag names the mode in a file name.
func (m failoverMode) tag() string {
	if m.objects {
		return fmt.Sprintf("objects%d", m.compat)
	}
	return "multipath"
}

// failoverBench: "failover under a full view". The routes go over an ECMP
// group of two upstreams (on rib0 and rib1); rib1's link goes down. It
// prints how long until sampled destinations all leave the dead member:
// in the fast path (the port's link flag; fibd's link watcher sets it
// within its 10 ms poll, or at once from an af_packet port's
// notification), and in the FIB (the kernel's nexthop objects or routes
// read again, the FIB nexthop rewritten).
func failoverBench(sizes [][2]int, v4, v6 []netip.Prefix) error {
	var ports failoverPorts
	var macs [2]net.HardwareAddr
	for i := range 2 {
		id, err := dpdk.PortByName(fmt.Sprintf("net_null%d", i+1))
		if err != nil {
			return err
		}
		if err := id.Setup(dpdk.PortConfig{RxQueues: 1, TxQueues: 1, RxDesc: 64, TxDesc: 64}); err != nil {
			return err
		}
		defer id.Close()
		info, err := id.Info()
		if err != nil {
			return err
		}
		ports.p[i], macs[i] = id, info.MAC
	}
	fmt.Printf("Failover under a full view (ECMP over two upstreams, one upstream's port goes down; fibd_fib=%s, the default)\n",
		conf.Default().FIB)
	fmt.Println("  fast path: port link flag set -> every sampled flow off the dead member;")
	fmt.Println("  kernel: ip link set down in the router netns, until the kernel is done (it flushes, then notifies);")
	fmt.Println("  FIB equal: from then until every sampled destination's FIB nexthop is without the dead member")
	for _, m := range []failoverMode{{"nexthop objects, compat 0", true, 0}, {"nexthop objects, compat 1", true, 1}, {"multipath routes (BIRD style)", false, 1}} {
		for _, sz := range sizes {
			n4, n6 := min(sz[0], len(v4)), min(sz[1], len(v6))
			fp, kp, cp, err := failoverOnce(m, ports, macs, v4[:n4], v6[:n6])
			if err != nil {
				return fmt.Errorf("%s, %d routes: %w", m.name, n4+n6, err)
			}
			fmt.Printf("  %-30s %8d routes: fast path %7.3f ms   kernel %7.1f ms   FIB equal %8.1f ms after it\n",
				m.name, n4+n6, ms(fp), ms(kp), ms(cp))
		}
	}
	fmt.Println()
	return nil
}

func failoverOnce(m failoverMode, ports failoverPorts, macs [2]net.HardwareAddr, v4, v6 []netip.Prefix) (fast, kernel, fib time.Duration, err error) {
	ns := fmt.Sprintf("fibdfo%d", os.Getpid())
	if err := nstest.AddNS(ns); err != nil {
		return 0, 0, 0, err
	}
	defer nstest.DelNS(ns)
	if _, err := nstest.RunErr("ip", "netns", "exec", ns, "sysctl", "-qw",
		fmt.Sprintf("net.ipv4.nexthop_compat_mode=%d", m.compat)); err != nil {
		return 0, 0, 0, err
	}
	const table = 100
	if err := nstest.BatchFunc(ns, func(w *bufio.Writer) {
		for i := range 2 {
			fmt.Fprintf(w, "link add rib%d type veth peer name nbr%d\n", i, i)
			fmt.Fprintf(w, "link set rib%d up\nlink set nbr%d up\n", i, i)
			fmt.Fprintf(w, "address add 10.9.%d.1/24 dev rib%d\n", i, i)
			fmt.Fprintf(w, "address add 2001:db8:9:%d::1/64 dev rib%d nodad\n", i, i)
			fmt.Fprintf(w, "neigh add 10.9.%d.2 lladdr 02:00:00:00:09:%02x dev rib%d nud permanent\n", i, i, i)
			fmt.Fprintf(w, "neigh add 2001:db8:9:%d::2 lladdr 02:00:00:00:09:%02x dev rib%d nud permanent\n", i, i, i)
		}
		if m.objects {
			fmt.Fprintln(w, "nexthop add id 1 via 10.9.0.2 dev rib0")
			fmt.Fprintln(w, "nexthop add id 2 via 10.9.1.2 dev rib1")
			fmt.Fprintln(w, "nexthop add id 3 group 1/2")
			fmt.Fprintln(w, "nexthop add id 4 via 2001:db8:9:0::2 dev rib0")
			fmt.Fprintln(w, "nexthop add id 5 via 2001:db8:9:1::2 dev rib1")
			fmt.Fprintln(w, "nexthop add id 6 group 4/5")
		}
		for _, p := range v4 {
			if m.objects {
				fmt.Fprintf(w, "route add %s nhid 3 table %d\n", p, table)
			} else {
				fmt.Fprintf(w, "route add %s table %d nexthop via 10.9.0.2 dev rib0 nexthop via 10.9.1.2 dev rib1\n", p, table)
			}
		}
		for _, p := range v6 {
			if m.objects {
				fmt.Fprintf(w, "route add %s nhid 6 table %d\n", p, table)
			} else {
				fmt.Fprintf(w, "route add %s table %d nexthop via 2001:db8:9:0::2 dev rib0 nexthop via 2001:db8:9:1::2 dev rib1\n", p, table)
			}
		}
	}); err != nil {
		return 0, 0, 0, err
	}
	// the FIB operators get: fibd_fib's default
	own := conf.Default().FIB == conf.FIBOwn
	fb := lpm.New(zerolog.Nop(), lpm.Config{MaxRoutes4: uint32(len(v4) + 1024), MaxRoutes6: uint32(len(v6) + 1024), Own: own})
	tbl, err := fb.Table(table, 2) // slot 1: the router bench's
	if err != nil {
		return 0, 0, 0, err
	}
	defer dpdk.DestroyTable(tbl.Slot)
	r := router.New(zerolog.Nop(), router.Config{Netns: ns, KernelTable: table, Refresh: time.Minute, BindCore: -1}, ports, fb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		r.Do(func(p *router.Programmer, _ *router.RIB) { p.Sync(router.Desired{}) })
	}()
	select {
	case <-r.Ready():
	case <-time.After(10 * time.Minute):
		return 0, 0, 0, fmt.Errorf("router never mirrored the routes")
	}
	// Samples: IPv4 destinations (frames for the fast path) and both
	// families for the FIB. Wait until the FIB holds them all over two
	// members.
	rng := rand.New(rand.NewPCG(21, 21))
	var dsts []netip.Addr
	for range 256 {
		dsts = append(dsts, fullview.AddrIn(rng, v4[rng.IntN(len(v4))]))
	}
	for range 64 {
		if len(v6) > 0 {
			dsts = append(dsts, fullview.AddrIn(rng, v6[rng.IntN(len(v6))]))
		}
	}
	twoMembers := func(want int) bool {
		ok := true
		r.Do(func(p *router.Programmer, _ *router.RIB) {
			for _, a := range dsts {
				t, found := p.Nexthop(fb.Lookup(tbl, a))
				n := len(t.Members)
				if t.Type != dpdk.NexthopECMP {
					n = 1
				}
				if !found || n != want {
					ok = false
					return
				}
			}
		})
		return ok
	}
	for deadline := time.Now().Add(5 * time.Minute); !twoMembers(2); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return 0, 0, 0, fmt.Errorf("the FIB never held the sampled routes over two members")
		}
	}
	src := netip.MustParseAddr("192.0.2.9")
	inMAC := net.HardwareAddr{2, 0, 0, 0, 0, 0x99}
	frames := func() [][]byte {
		var fs [][]byte
		for i, a := range dsts {
			if a.Is4() {
				fs = append(fs, pcap.EthIPv4UDP(macs[0], inMAC, src, a, 64, uint16(1000+i), 80, []byte("x")))
			}
		}
		return fs
	}
	deadMAC := string([]byte{2, 0, 0, 0, 9, 1})
	offDead := func() (bool, error) {
		fs := frames()
		v, err := dpdk.ProcessFrames(tbl.Slot, ports.p[0], fs)
		if err != nil {
			return false, err
		}
		for i, f := range fs {
			if v[i].Forward && string(f[0:6]) == deadMAC {
				return false, nil
			}
		}
		return true, nil
	}
	if ok, err := offDead(); err != nil || ok {
		return 0, 0, 0, fmt.Errorf("no sampled flow on the member to fail (%v): nothing to measure", err)
	}

	// Fast path: the port's link flag, as the link watcher sets it.
	t0 := time.Now()
	if err := ports.p[1].SetLinkDown(true); err != nil {
		return 0, 0, 0, err
	}
	for {
		ok, err := offDead()
		if err != nil {
			return 0, 0, 0, err
		}
		if ok {
			fast = time.Since(t0)
			break
		}
	}
	defer ports.p[1].SetLinkDown(false)

	// The FIB: the kernel reacts to the link going down, fibd follows.
	// The kernel's own work (flushing what the link carried) happens
	// before `ip` returns, and before it sends the link's notification.
	// FIBD_BENCH_CPUPROFILE=FILE: a CPU profile from the link going down
	// to an equal FIB, to FILE.failover-<mode>-<routes>
	stop, err := startCPUProfile(fmt.Sprintf(".failover-%s-%d", m.tag(), len(v4)+len(v6)))
	if err != nil {
		return 0, 0, 0, err
	}
	defer stop()
	t0 = time.Now()
	if _, err := nstest.RunErr("ip", "-n", ns, "link", "set", "rib1", "down"); err != nil {
		return 0, 0, 0, err
	}
	kernel = time.Since(t0)
	t0 = time.Now()
	for deadline := time.Now().Add(5 * time.Minute); !twoMembers(1); time.Sleep(200 * time.Microsecond) {
		if time.Now().After(deadline) {
			return 0, 0, 0, fmt.Errorf("the FIB kept the dead member")
		}
	}
	fib = time.Since(t0)
	return fast, kernel, fib, nil
}
