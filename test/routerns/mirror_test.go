// Package routerns tests the netlink mirror against a real kernel: a
// scratch network namespace plays router_netns, routes change there with
// `ip`, and fibd's FIB (its own lookup, in-process, on an EAL with net_null
// ports) must take the same decision as the kernel's route lookup for many
// random destinations. Root only; every test removes its namespaces.
package routerns

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/vishvananda/netlink"

	dpdk "fibd/cgo"
	"fibd/lpm"
	"fibd/router"
	"fibd/test/fullview"
	"fibd/test/nstest"
)

const table = 100

// fibTable is the kernel table the router mirrors as router_kernel_table
// and fibd's lookups read: table, but the main table (254) for FRR, which
// without VRF devices installs its routes there.
var fibTable uint32 = table

var env struct {
	skip  string
	ports [2]dpdk.PortID
}

// ribPorts: rib0 and rib1 in the namespace are fibd's two ports.
type ribPorts struct{}

func (ribPorts) PortOf(dev string) (dpdk.PortID, bool) {
	switch dev {
	case "rib0":
		return env.ports[0], true
	case "rib1":
		return env.ports[1], true
	}
	return 0, false
}

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		env.skip = "needs root (netns, DPDK EAL)"
		os.Exit(m.Run())
	}
	prefix := fmt.Sprintf("fibdns%d", os.Getpid())
	code := 1
	func() {
		defer os.RemoveAll(filepath.Join("/var/run/dpdk", prefix))
		eal, err := dpdk.Init([]string{"routerns.test", "--no-huge", "-m", "1024", "--no-pci", "-l", "0",
			"--file-prefix", prefix, "--log-level", "lib.eal:warning",
			"--vdev", "net_null0,no-rx=1", "--vdev", "net_null1,no-rx=1"})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return
		}
		defer eal.Cleanup()
		if err := dpdk.CreatePool("ns_mbufs", 2048, -1); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return
		}
		for i := range 2 {
			id, err := dpdk.PortByName(fmt.Sprintf("net_null%d", i))
			if err == nil {
				err = id.Setup(dpdk.PortConfig{RxQueues: 1, TxQueues: 1, RxDesc: 64, TxDesc: 64})
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return
			}
			env.ports[i] = id
			defer id.Close()
		}
		code = m.Run()
	}()
	os.Exit(code)
}

// scratch is a namespace with two veth pairs: rib0/nbr0 and rib1/nbr1.
type scratch struct {
	name string
	h    *netlink.Handle
}

var (
	macA = "02:00:00:00:0a:02"
	macB = "02:00:00:00:0b:02"
	macC = "02:00:00:00:0c:02"
)

func newScratch(t *testing.T) *scratch {
	t.Helper()
	name := fmt.Sprintf("fibdt%d", os.Getpid())
	nstest.NS(t, name)
	nstest.Batch(t, name,
		"link add rib0 type veth peer name nbr0",
		"link add rib1 type veth peer name nbr1",
		"link set rib0 up", "link set nbr0 up", "link set rib1 up", "link set nbr1 up",
		"address add 192.0.2.1/24 dev rib0",
		"address add 198.51.100.1/24 dev rib1",
		"address add 2001:db8:0::1/64 dev rib0 nodad",
		"address add 2001:db8:1::1/64 dev rib1 nodad",
		"neigh add 192.0.2.2 lladdr "+macA+" dev rib0 nud permanent",
		"neigh add 198.51.100.2 lladdr "+macB+" dev rib1 nud permanent",
		"neigh add 198.51.100.3 lladdr "+macC+" dev rib1 nud permanent",
		"neigh add 2001:db8:0::2 lladdr "+macA+" dev rib0 nud permanent",
		"neigh add 2001:db8:1::2 lladdr "+macB+" dev rib1 nud permanent",
		fmt.Sprintf("rule add lookup %d pref 100", table))
	nstest.IP(t, "-n", name, "-6", "rule", "add", "lookup", fmt.Sprint(table), "pref", "100")
	return &scratch{name: name, h: nstest.Handle(t, name)}
}

// startRouter runs the mirror on a fresh FIB until the test ends.
func startRouter(t *testing.T, ns string, rcvBuf int) (*router.Router, *lpm.FIB) {
	t.Helper()
	return startRouterWith(t, ns, rcvBuf, lpm.Config{MaxRoutes4: 100000, MaxRoutes6: 50000})
}

// startRouterWith is startRouter on a FIB of the given sizes.
func startRouterWith(t *testing.T, ns string, rcvBuf int, cfg lpm.Config) (*router.Router, *lpm.FIB) {
	t.Helper()
	fib := lpm.New(zerolog.Nop(), cfg)
	slot := 0
	for ; slot < dpdk.MaxTables; slot++ {
		if _, err := dpdk.ReadTableInfo(uint16(slot)); err != nil {
			break
		}
	}
	tb, err := fib.Table(fibTable, slot)
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	r := router.New(log, router.Config{Netns: ns, KernelTable: fibTable, Refresh: time.Second, RcvBuf: rcvBuf, BindCore: -1}, ribPorts{}, fib)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		// Empty the FIB and free its tables for the next test, the rules
		// naming them first (the fast path frees no table a rule names).
		r.Do(func(p *router.Programmer, _ *router.RIB) { p.Sync(router.Desired{}) })
		dpdk.SetRules(4, nil)
		dpdk.SetRules(6, nil)
		dpdk.DestroyTable(tb.Slot)
		for _, x := range fib.Tables() {
			if x != tb {
				dpdk.DestroyTable(x.Slot)
			}
		}
	})
	return r, fib
}

type gwInfo struct {
	gw   string
	dev  string
	port int
	mac  string
}

var gws4 = []gwInfo{{"192.0.2.2", "rib0", 0, macA}, {"198.51.100.2", "rib1", 1, macB}, {"198.51.100.3", "rib1", 1, macC}}
var gws6 = []gwInfo{{"2001:db8:0::2", "rib0", 0, macA}, {"2001:db8:1::2", "rib1", 1, macB}}

// gwsLL are the link-local addresses of the gateways when they are real
// interfaces with macA and macB (TestFRR: BGP's IPv6 nexthops).
var gwsLL = []gwInfo{{"fe80::ff:fe00:a02", "rib0", 0, macA}, {"fe80::ff:fe00:b02", "rib1", 1, macB}}

// routeLines makes `ip route` batch lines for prefixes: single paths,
// ECMP, on-link, blackhole and unreachable, into the mirrored table.
func routeLines(rng *rand.Rand, verb string, ps []netip.Prefix) []string {
	var out []string
	for _, p := range ps {
		gws := gws4
		if p.Addr().Is6() {
			gws = gws6
		}
		g := gws[rng.IntN(len(gws))]
		var l string
		switch x := rng.IntN(20); {
		case x == 0:
			l = fmt.Sprintf("route %s blackhole %s table %d", verb, p, table)
		case x == 1:
			l = fmt.Sprintf("route %s unreachable %s table %d", verb, p, table)
		case x == 2:
			l = fmt.Sprintf("route %s %s dev %s table %d", verb, p, g.dev, table)
		case x < 6:
			g2 := gws[(rng.IntN(len(gws)-1)+1+indexOf(gws, g))%len(gws)]
			l = fmt.Sprintf("route %s %s table %d nexthop via %s dev %s nexthop via %s dev %s",
				verb, p, table, g.gw, g.dev, g2.gw, g2.dev)
		default:
			l = fmt.Sprintf("route %s %s via %s dev %s table %d", verb, p, g.gw, g.dev, table)
		}
		out = append(out, l)
	}
	return out
}

func indexOf(gs []gwInfo, g gwInfo) int {
	for i := range gs {
		if gs[i] == g {
			return i
		}
	}
	return 0
}

// kernelDecision is what the kernel does with a packet to a.
type decision struct {
	drop string   // "no_route", "blackhole", "unreachable", "prohibit"
	hops []string // allowed "port/mac" (several for ECMP, the kernel picks one)
	via  string   // the one the kernel picked, for ECMP membership
}

func (s *scratch) kernel(a netip.Addr) (decision, error) {
	rs, err := s.h.RouteGet(a.AsSlice())
	switch {
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return decision{drop: "unreachable"}, nil
	case errors.Is(err, syscall.EINVAL):
		return decision{drop: "blackhole"}, nil
	case errors.Is(err, syscall.EACCES):
		return decision{drop: "prohibit"}, nil
	case err != nil:
		return decision{}, err
	}
	r := rs[0]
	link, err := s.h.LinkByIndex(r.LinkIndex)
	if err != nil {
		return decision{}, err
	}
	next := a
	if r.Gw != nil {
		next, _ = netip.AddrFromSlice(r.Gw)
		next = next.Unmap()
	}
	port := map[string]int{"rib0": 0, "rib1": 1}[link.Attrs().Name]
	mac := ""
	for _, g := range append(append(gws4, gws6...), gwsLL...) {
		if netip.MustParseAddr(g.gw) == next {
			mac = g.mac
		}
	}
	return decision{via: fmt.Sprintf("%d/%s", port, mac)}, nil
}

// fibd is the FIB's decision for a, from the fast path's own lookup.
func fibd(r *router.Router, fib *lpm.FIB, a netip.Addr) decision {
	var d decision
	r.Do(func(p *router.Programmer, _ *router.RIB) {
		t := fib.Tables()[fibTable]
		idx := fib.Lookup(t, a)
		if idx == dpdk.NexthopMiss {
			d.drop = "unreachable" // the kernel answers ENETUNREACH for no route
			return
		}
		tg, ok := p.Nexthop(idx)
		if !ok {
			d.drop = "nexthop not known to the programmer"
			return
		}
		hop := func(h router.Hop) string {
			if h.Type != dpdk.NexthopForward {
				return fmt.Sprintf("%d/", h.Port)
			}
			return fmt.Sprintf("%d/%s", h.Port, net.HardwareAddr(h.MAC[:]))
		}
		switch tg.Type {
		case dpdk.NexthopBlackhole:
			d.drop = "blackhole"
		case dpdk.NexthopUnreachable:
			d.drop = "unreachable"
		case dpdk.NexthopProhibit:
			d.drop = "prohibit"
		case dpdk.NexthopThrow: // the table ends here: no route
			d.drop = "unreachable"
		case dpdk.NexthopECMP:
			for _, m := range tg.Members {
				d.hops = append(d.hops, hop(m.Hop))
			}
		default:
			d.hops = []string{hop(tg.Hop)}
		}
	})
	return d
}

func agree(k, f decision) bool {
	if k.drop != "" || f.drop != "" {
		return k.drop == f.drop
	}
	for _, h := range f.hops {
		if h == k.via {
			return true
		}
	}
	return false
}

// converge waits until fibd agrees with the kernel on n destinations drawn
// inside prefixes (and at random), or fails after the deadline.
func converge(t *testing.T, s *scratch, r *router.Router, fib *lpm.FIB, rng *rand.Rand, ps []netip.Prefix, n int) time.Duration {
	t.Helper()
	addrs := make([]netip.Addr, n)
	for i := range addrs {
		addrs[i] = fullview.AddrIn(rng, ps[rng.IntN(len(ps))])
	}
	t0 := time.Now()
	deadline := t0.Add(30 * time.Second)
	for {
		bad := 0
		var first string
		for _, a := range addrs {
			k, err := s.kernel(a)
			if err != nil {
				t.Fatalf("kernel lookup %s: %v", a, err)
			}
			f := fibd(r, fib, a)
			if !agree(k, f) {
				if bad == 0 {
					first = fmt.Sprintf("%s: kernel %+v, fibd %+v", a, k, f)
				}
				bad++
			}
		}
		if bad == 0 {
			return time.Since(t0)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d destinations disagree after 30s; first %s (stats: resyncs %d overruns %d events %d)",
				bad, n, first, r.Stats.Resyncs.Load(), r.Stats.Overruns.Load(), r.Stats.Events.Load())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func need(t *testing.T) {
	if env.skip != "" {
		t.Skip(env.skip)
	}
}

// TestMirrorFollowsKernel adds, replaces and deletes thousands of IPv4 and
// IPv6 routes (single path, ECMP, on-link, blackhole, unreachable) and
// after each step compares fibd's decision with the kernel's.
func TestMirrorFollowsKernel(t *testing.T) {
	need(t)
	s := newScratch(t)
	r, fib := startRouter(t, s.name, 0)
	rng := rand.New(rand.NewPCG(1, 1))
	v4 := fullview.IPv4(10, 4000)
	v6 := fullview.IPv6(11, 1500)
	all := append(append([]netip.Prefix{}, v4...), v6...)

	nstest.Batch(t, s.name, routeLines(rng, "add", all)...)
	took := converge(t, s, r, fib, rng, all, 3000)
	t.Logf("added %d routes: fibd agreed within %s", len(all), took)

	// Replace a third with other nexthops, delete a third.
	var repl, del []netip.Prefix
	for _, p := range all {
		switch rng.IntN(3) {
		case 0:
			repl = append(repl, p)
		case 1:
			del = append(del, p)
		}
	}
	nstest.Batch(t, s.name, routeLines(rng, "replace", repl)...)
	var lines []string
	for _, p := range del {
		lines = append(lines, fmt.Sprintf("route del %s table %d", p, table))
	}
	nstest.Batch(t, s.name, lines...)
	took = converge(t, s, r, fib, rng, all, 3000)
	t.Logf("replaced %d, deleted %d: agreed within %s", len(repl), len(del), took)

	// Neighbour change: a gateway's MAC moves; its routes follow.
	nstest.Batch(t, s.name, "neigh replace 198.51.100.2 lladdr 02:00:00:00:0b:99 dev rib1 nud permanent")
	gws4[1].mac = "02:00:00:00:0b:99"
	defer func() { gws4[1].mac = macB }()
	took = converge(t, s, r, fib, rng, all, 2000)
	t.Logf("neighbour MAC change: agreed within %s", took)
	if r.Stats.Resyncs.Load() != 1 || r.Stats.Overruns.Load() != 0 {
		t.Errorf("resyncs %d overruns %d, want 1 and 0", r.Stats.Resyncs.Load(), r.Stats.Overruns.Load())
	}
}

// TestOverrunResyncs: a receive buffer far too small for a burst makes the
// kernel drop notifications (ENOBUFS); the router resynchronises by
// mark-and-sweep and ends equal to the kernel.
func TestOverrunResyncs(t *testing.T) {
	need(t)
	s := newScratch(t)
	r, fib := startRouter(t, s.name, 4096)
	rng := rand.New(rand.NewPCG(2, 2))
	v4 := fullview.IPv4(20, 20000)
	nstest.Batch(t, s.name, routeLines(rng, "add", v4)...)
	converge(t, s, r, fib, rng, v4, 2000)
	if r.Stats.Overruns.Load() == 0 || r.Stats.Resyncs.Load() < 2 {
		t.Fatalf("overruns %d resyncs %d: the burst should have overrun a 4 KiB buffer",
			r.Stats.Overruns.Load(), r.Stats.Resyncs.Load())
	}
	t.Logf("overruns %d, resyncs %d", r.Stats.Overruns.Load(), r.Stats.Resyncs.Load())
}

// TestNetnsVanishes: the namespace goes away; the FIB keeps forwarding on
// the last state; a new namespace of the same name is mirrored again.
func TestNetnsVanishes(t *testing.T) {
	need(t)
	s := newScratch(t)
	r, fib := startRouter(t, s.name, 0)
	rng := rand.New(rand.NewPCG(3, 3))
	v4 := fullview.IPv4(30, 3000)[:500]
	nstest.Batch(t, s.name, routeLines(rng, "add", v4)...)
	converge(t, s, r, fib, rng, v4, 500)
	before := r.Stats.Resyncs.Load()
	probe := fullview.AddrIn(rng, v4[0])
	want := fibd(r, fib, probe)

	nstest.IP(t, "netns", "del", s.name)
	time.Sleep(2500 * time.Millisecond)
	if got := fibd(r, fib, probe); !agreeExact(got, want) {
		t.Fatalf("after the netns vanished %s -> %+v, was %+v", probe, got, want)
	}
	if r.Stats.Connected.Load() {
		t.Fatal("router still claims to mirror a deleted netns")
	}
	s2 := newScratch(t) // same name
	v4b := fullview.IPv4(31, 3000)[:300]
	nstest.Batch(t, s2.name, routeLines(rng, "add", v4b)...)
	converge(t, s2, r, fib, rng, v4b, 500)
	if r.Stats.Resyncs.Load() <= before {
		t.Fatal("no resync after the netns came back")
	}
	// Routes of the old namespace are gone (mark and sweep).
	if d := fibd(r, fib, probe); d.drop == "" && !covered(v4b, probe) {
		t.Fatalf("%s still routed (%+v) after the new netns replaced the old", probe, d)
	}
}

func agreeExact(a, b decision) bool {
	return a.drop == b.drop && strings.Join(a.hops, ",") == strings.Join(b.hops, ",")
}

func covered(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// gatewayHost moves nbr0 into a netns of its own, the gateway 192.0.2.50
// (MAC 02:00:00:00:0d:0d) on rib0's link, removed when the test ends. It
// returns the netns.
func gatewayHost(t *testing.T, s *scratch) string {
	host := s.name + "h"
	nstest.NS(t, host)
	nstest.IP(t, "-n", s.name, "link", "set", "nbr0", "netns", host)
	nstest.Batch(t, host, "link set nbr0 address 02:00:00:00:0d:0d", "link set nbr0 up",
		"address add 192.0.2.50/24 dev nbr0")
	return host
}

// TestUnresolvedGatewayGetsResolved: a route via a gateway nobody has
// ARPed for is Unresolved at first; fibd asks the kernel to resolve it
// and, once the neighbour answers, forwards to its MAC.
func TestUnresolvedGatewayGetsResolved(t *testing.T) {
	need(t)
	s := newScratch(t)
	// The gateway lives behind nbr0, in its own namespace.
	gatewayHost(t, s)
	r, fib := startRouter(t, s.name, 0)
	nstest.IP(t, "-n", s.name, "route", "add", "203.0.113.0/24", "via", "192.0.2.50", "dev", "rib0", "table", fmt.Sprint(table))
	dst := netip.MustParseAddr("203.0.113.7")
	deadline := time.Now().Add(15 * time.Second)
	for {
		d := fibd(r, fib, dst)
		if len(d.hops) == 1 && d.hops[0] == "0/02:00:00:00:0d:0d" {
			break
		}
		if time.Now().After(deadline) {
			out, _ := exec.Command("ip", "-n", s.name, "neigh").CombinedOutput()
			t.Fatalf("gateway never resolved: fibd %+v, probes %d; kernel neighbours:\n%s", d, r.Stats.NeighProbes.Load(), out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r.Stats.NeighProbes.Load() == 0 {
		t.Error("resolved without fibd asking: the test proves nothing")
	}
}

// TestSilentFlushes: IPv4 sends no RTM_DELROUTE for the routes it flushes
// when their interface goes down, nor for those whose gateway an address
// removal leaves on no connected subnet, and it marks multipath paths
// dead (and alive again) in silence. fibd must drop what the kernel drops.
func TestSilentFlushes(t *testing.T) {
	need(t)
	s := newScratch(t)
	r, fib := startRouter(t, s.name, 0)
	var v4 []netip.Prefix // apart from each other, so that each answers for itself
	for i := range 120 {
		v4 = append(v4, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i), 0}), 24))
	}
	var lines []string
	for i, p := range v4 {
		switch {
		case i < 50: // the case: 50 routes via a gateway on rib0
			lines = append(lines, fmt.Sprintf("route add %s via 192.0.2.2 dev rib0 table %d", p, table))
		case i < 60:
			lines = append(lines, fmt.Sprintf("route add %s dev rib0 table %d", p, table))
		case i < 90:
			lines = append(lines, fmt.Sprintf("route add %s via 198.51.100.2 dev rib1 table %d", p, table))
		default:
			lines = append(lines, fmt.Sprintf("route add %s table %d nexthop via 192.0.2.2 dev rib0 nexthop via 198.51.100.3 dev rib1", p, table))
		}
	}
	nstest.Batch(t, s.name, lines...)
	rng := rand.New(rand.NewPCG(4, 4))
	converge(t, s, r, fib, rng, v4, 1000)

	// rib0 down and up: its routes are gone from the kernel, without a word.
	nstest.Batch(t, s.name, "link set rib0 down", "link set rib0 up")
	// its neighbours went with the link; the ones BIRD's peers would answer for come back
	nstest.Batch(t, s.name, "neigh replace 192.0.2.2 lladdr "+macA+" dev rib0 nud permanent")
	out, _ := exec.Command("ip", "-n", s.name, "-4", "route", "show", "table", fmt.Sprint(table)).CombinedOutput()
	if n := strings.Count(string(out), "192.0.2.2 dev rib0 \n") + strings.Count(string(out), "dev rib0 scope link"); n != 0 {
		t.Fatalf("the kernel kept %d single-path routes on rib0 after down/up: the test's premise is wrong\n%s", n, out)
	}
	converge(t, s, r, fib, rng, v4, 1000)
	for _, p := range v4[:60] {
		if d := fibd(r, fib, p.Addr()); d.drop != "unreachable" {
			t.Fatalf("%s: fibd still %+v after the kernel flushed it", p, d)
		}
	}
	if r.Stats.Flushed.Load() < 60 {
		t.Errorf("flushed %d routes, want at least 60", r.Stats.Flushed.Load())
	}

	// The address of rib1 goes: the routes via its subnet go too, and the
	// multipath routes lose their rib1 path.
	nstest.IP(t, "-n", s.name, "address", "del", "198.51.100.1/24", "dev", "rib1")
	converge(t, s, r, fib, rng, v4, 1000)
	for _, p := range v4[60:90] {
		if d := fibd(r, fib, p.Addr()); d.drop != "unreachable" {
			t.Fatalf("%s: fibd still %+v after its gateway's subnet went", p, d)
		}
	}
	for _, p := range v4[90:] {
		if d := fibd(r, fib, p.Addr()); len(d.hops) != 1 || d.hops[0] != "0/"+macA {
			t.Fatalf("%s: fibd %+v, want the rib0 path alone (the rib1 path is dead)", p, d)
		}
	}
	if r.Stats.Resyncs.Load() != 1 {
		t.Errorf("%d resyncs: the flushes should be followed without a full resync", r.Stats.Resyncs.Load())
	}
}

// TestNetnsReplaced: the namespace is deleted and made again under the
// same name at once. fibd must notice that the name now means another
// namespace (its handle kept the old one alive, quiet forever), subscribe
// to the new one and mirror it.
func TestNetnsReplaced(t *testing.T) {
	need(t)
	s := newScratch(t)
	r, fib := startRouter(t, s.name, 0)
	rng := rand.New(rand.NewPCG(5, 5))
	v4 := fullview.IPv4(50, 3000)[:300]
	nstest.Batch(t, s.name, routeLines(rng, "add", v4)...)
	converge(t, s, r, fib, rng, v4, 300)

	nstest.IP(t, "netns", "del", s.name)
	s2 := newScratch(t) // same name, right away
	v4b := fullview.IPv4(51, 3000)[:300]
	nstest.Batch(t, s2.name, routeLines(rng, "add", v4b)...)
	converge(t, s2, r, fib, rng, append(v4b, v4...), 1000)
	if r.Stats.NetnsReplaced.Load() == 0 {
		t.Error("NetnsReplaced not counted")
	}
}

// TestReconcileRepairs: a FIB batch that fails as a whole (here: its table
// is gone for a moment, then made again empty) loses nothing for good:
// router_fib_refresh compares the whole RIB with what the FIB holds and
// writes what is missing.
func TestReconcileRepairs(t *testing.T) {
	need(t)
	s := newScratch(t)
	r, fib := startRouter(t, s.name, 0)
	rng := rand.New(rand.NewPCG(6, 6))
	v4 := fullview.IPv4(60, 3000)[:400]
	v6 := fullview.IPv6(61, 1000)[:100]
	first := append(append([]netip.Prefix{}, v4[:200]...), v6[:50]...)
	nstest.Batch(t, s.name, routeLines(rng, "add", first)...)
	converge(t, s, r, fib, rng, first, 500)

	tb := fib.Tables()[table]
	r.Do(func(*router.Programmer, *router.RIB) {
		if err := dpdk.DestroyTable(tb.Slot); err != nil {
			t.Fatal(err)
		}
	})
	batches := r.Stats.Batches.Load()
	second := append(append([]netip.Prefix{}, v4[200:]...), v6[50:]...)
	nstest.Batch(t, s.name, routeLines(rng, "add", second)...)
	for deadline := time.Now().Add(10 * time.Second); r.Stats.Batches.Load() == batches; {
		if time.Now().After(deadline) {
			t.Fatal("the routes never reached the FIB programmer")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The table comes back, empty: the FIB has lost every route, both the
	// batch that failed and those before it.
	r.Do(func(*router.Programmer, *router.RIB) {
		if err := dpdk.CreateTable(tb.Slot, dpdk.TableConfig{ID: table, MaxRoutes4: 100000, MaxRoutes6: 50000}); err != nil {
			t.Fatal(err)
		}
	})
	all := append(first, second...)
	converge(t, s, r, fib, rng, all, 1000)
	if r.Stats.Repaired.Load() < uint64(len(all)) {
		t.Errorf("repaired %d, want at least %d", r.Stats.Repaired.Load(), len(all))
	}
}

// TestTableRefused: an ip rule names a table the FIB cannot make (here:
// sized beyond the EAL's memory). The table is refused once, counted and
// reported; the rest is mirrored on, without a resynchronisation loop.
func TestTableRefused(t *testing.T) {
	need(t)
	s := newScratch(t)
	const huge = 200
	r, fib := startRouterWith(t, s.name, 0, lpm.Config{MaxRoutes4: 100000, MaxRoutes6: 50000,
		Sizes: map[uint32]lpm.TableSize{huge: {Routes4: 1 << 26, Routes6: 1 << 26},
			router.MainTable: {Routes4: 1024, Routes6: 1024}}}) // main: the connected routes
	rng := rand.New(rand.NewPCG(7, 7))
	v4 := fullview.IPv4(70, 3000)[:300]
	nstest.Batch(t, s.name, routeLines(rng, "add", v4[:100])...)
	converge(t, s, r, fib, rng, v4[:100], 300)

	nstest.Batch(t, s.name,
		fmt.Sprintf("rule add iif nbr1 lookup %d pref 50", huge),
		fmt.Sprintf("route add 10.77.0.0/16 via 198.51.100.2 dev rib1 table %d", huge))
	for deadline := time.Now().Add(10 * time.Second); len(r.RefusedTables()) == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("table %d never refused (FIB tables %v)", huge, fib.Tables())
		}
		time.Sleep(20 * time.Millisecond)
	}
	resyncs := r.Stats.Resyncs.Load()
	// The rest is mirrored on.
	nstest.Batch(t, s.name, routeLines(rng, "add", v4[100:])...)
	converge(t, s, r, fib, rng, v4, 1000)
	// Three router_fib_refresh periods, each trying to make the table.
	for refreshes := r.Stats.Refreshes.Load(); r.Stats.Refreshes.Load() < refreshes+3; {
		time.Sleep(50 * time.Millisecond)
	}
	if n := r.Stats.Resyncs.Load() - resyncs; n != 0 {
		t.Errorf("%d resynchronisations since the table was refused, want none", n)
	}
	if _, ok := r.RefusedTables()[huge]; !ok {
		t.Errorf("refused tables %v, want %d", r.RefusedTables(), huge)
	}
	if n := r.TablesRefused(); n != 1 {
		t.Errorf("TablesRefused %d, want 1 (counted once, not per attempt)", n)
	}
	if _, ok := fib.Tables()[huge]; ok {
		t.Errorf("table %d made after all", huge)
	}
}

// TestTableFreed: the FIB table made for a kernel table that an ip rule
// named is freed, memory and slot, once no rule names it; the soak found
// 267 MiB kept for good per rule that came and went. The rule back makes
// it again, with its routes.
func TestTableFreed(t *testing.T) {
	need(t)
	s := newScratch(t)
	const extra = 300
	r, fib := startRouterWith(t, s.name, 0, lpm.Config{MaxRoutes4: 1024, MaxRoutes6: 1024,
		Sizes: map[uint32]lpm.TableSize{extra: {Routes4: 4096, Routes6: 1024}}})
	dst := netip.MustParseAddr("10.77.1.1")
	waitTable := func(present bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; {
			tb, ok := fib.Tables()[extra]
			if ok == present && (!present || fib.Lookup(tb, dst) != dpdk.NexthopMiss) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("table %d present %v after 10s, want %v (freed %d)", extra, ok, present, r.Stats.TablesFreed.Load())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitTable(false)
	heap := dpdk.HeapUsed()
	rule := fmt.Sprintf("rule %%s iif nbr1 lookup %d pref 50", extra)
	nstest.Batch(t, s.name, fmt.Sprintf(rule, "add"),
		fmt.Sprintf("route add 10.77.0.0/16 via 198.51.100.2 dev rib1 table %d", extra))
	waitTable(true)
	grown := dpdk.HeapUsed() - heap
	if grown < 16<<20 {
		t.Fatalf("table %d took %d KiB of DPDK heap, expected more (a DIR-24-8 first level alone is 64 MiB)", extra, grown>>10)
	}

	for round := 1; round <= 2; round++ {
		freed := r.Stats.TablesFreed.Load()
		nstest.Batch(t, s.name, fmt.Sprintf(rule, "del"))
		waitTable(false)
		// the main table's goes too: without the rule, the rules are the
		// usual chain, and fibd routes by table 100 alone
		for deadline := time.Now().Add(10 * time.Second); r.Stats.TablesFreed.Load()-freed < 2; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d tables freed, want 2 (%d and main)", round, r.Stats.TablesFreed.Load()-freed, extra)
			}
		}
		if _, ok := fib.Tables()[router.MainTable]; ok {
			t.Errorf("round %d: the main table's FIB table kept", round)
		}
		if now := dpdk.HeapUsed(); now > heap+grown/16 {
			t.Errorf("round %d: DPDK heap %d KiB above what it was before the table (it took %d KiB)",
				round, (now-heap)>>10, grown>>10)
		}
		nstest.Batch(t, s.name, fmt.Sprintf(rule, "add"))
		waitTable(true)
	}
	if rs := r.Rules(); len(rs.Rules) == 0 {
		t.Errorf("no rules after the rule came back")
	}
}

// TestNeighboursInUseConfirmed: the kernel sees none of the traffic fibd
// forwards, so a gateway that changes its MAC without a gratuitous ARP
// stayed STALE at the old MAC for good, and fibd with it. fibd hands a
// stale neighbour in use back to the kernel to confirm (as a packet would):
// one unicast probe, which the old MAC does not answer, then a new
// resolution. And it does so without flooding: about once per reachable
// time.
func TestNeighboursInUseConfirmed(t *testing.T) {
	need(t)
	s := newScratch(t)
	host := gatewayHost(t, s)
	ribMAC := nstest.MAC(t, s.name, "rib0")
	// The host never asks for us (a permanent entry): its own ARP requests
	// would confirm our entry too, and the test would prove nothing.
	nstest.Batch(t, host, "neigh add 192.0.2.1 lladdr "+ribMAC.String()+" dev nbr0 nud permanent")
	// short kernel timers on rib0, so that the test takes seconds (the
	// reachable time must stay above the first probe's delay, or the kernel
	// probes by itself: an entry used within the delay is probed, not
	// left STALE)
	for k, v := range map[string]string{"base_reachable_time_ms": "3000", "delay_first_probe_time": "1", "retrans_time_ms": "100"} {
		nstest.Exec(t, s.name, "sysctl", "-qw", "net.ipv4.neigh.rib0."+k+"="+v)
	}
	r, fib := startRouter(t, s.name, 0)
	nstest.IP(t, "-n", s.name, "route", "add", "203.0.113.0/24", "via", "192.0.2.50", "dev", "rib0", "table", fmt.Sprint(table))
	dst := netip.MustParseAddr("203.0.113.7")
	waitHop := func(want string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			d := fibd(r, fib, dst)
			if len(d.hops) == 1 && d.hops[0] == want {
				return
			}
			if time.Now().After(deadline) {
				out, _ := exec.Command("ip", "-n", s.name, "neigh").CombinedOutput()
				t.Fatalf("fibd %+v, want %s; confirms %d; kernel neighbours:\n%s", d, want, r.Stats.NeighConfirms.Load(), out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitHop("0/02:00:00:00:0d:0d", 15*time.Second)
	before := r.Stats.NeighConfirms.Load()
	start := time.Now()
	// A few reachable times pass, then the host changes its MAC silently
	// (arp_notify is off by default: no gratuitous ARP).
	time.Sleep(6 * time.Second)
	nstest.Batch(t, host, "link set nbr0 address 02:00:00:00:0e:0e")
	waitHop("0/02:00:00:00:0e:0e", 15*time.Second)
	// Quiet for a while: confirmations stay about one per reachable time
	// (1.5–4.5 s here, plus the probe), not one per event or per packet.
	time.Sleep(5 * time.Second)
	n := r.Stats.NeighConfirms.Load() - before
	if n == 0 {
		t.Errorf("no confirmation in %v (probes %d): the new MAC came some other way, the test proves nothing", time.Since(start), r.Stats.NeighProbes.Load())
	}
	if limit := uint64(time.Since(start)/(1500*time.Millisecond)) + 2; n > limit {
		t.Errorf("%d confirmations in %v for one neighbour: more than one per reachable time (%d)", n, time.Since(start), limit)
	}
}
