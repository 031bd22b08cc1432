package routerns

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"fibd/router"
	"fibd/test/fullview"
	"fibd/test/nstest"
	"fibd/test/testfrr"
)

// upstream moves nbr0 and nbr1 of the scratch namespace into a namespace
// of their own, with the gateways' addresses and MACs (so the permanent
// neighbours of the scratch are right): the upstream router.
func upstream(t *testing.T, s *scratch) string {
	t.Helper()
	up := s.name + "u"
	nstest.NS(t, up)
	nstest.Batch(t, s.name, "link set nbr0 netns "+up, "link set nbr1 netns "+up)
	nstest.Batch(t, up,
		"link set nbr0 address "+macA, "link set nbr1 address "+macB,
		"link set nbr0 up", "link set nbr1 up",
		"address add 192.0.2.2/24 dev nbr0", "address add 198.51.100.2/24 dev nbr1",
		"address add 2001:db8:0::2/64 dev nbr0 nodad", "address add 2001:db8:1::2/64 dev nbr1 nodad")
	return up
}

// upstreamConf announces ps over both links (BGP network statements:
// no kernel routes needed with import-check off).
func upstreamConf(ps []netip.Prefix) string {
	var n4, n6 strings.Builder
	for _, p := range ps {
		if p.Addr().Is4() {
			fmt.Fprintf(&n4, "  network %s\n", p)
		} else {
			fmt.Fprintf(&n6, "  network %s\n", p)
		}
	}
	return fmt.Sprintf(`frr defaults traditional
hostname up
router bgp 65002
 bgp router-id 10.255.0.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 192.0.2.1 remote-as 65001
 neighbor 198.51.100.1 remote-as 65001
 neighbor 2001:db8:0::1 remote-as 65001
 neighbor 2001:db8:1::1 remote-as 65001
 neighbor 192.0.2.1 timers 1 3
 neighbor 198.51.100.1 timers 1 3
 neighbor 2001:db8:0::1 timers 1 3
 neighbor 2001:db8:1::1 timers 1 3
 address-family ipv4 unicast
%s  no neighbor 2001:db8:0::1 activate
  no neighbor 2001:db8:1::1 activate
 exit-address-family
 address-family ipv6 unicast
%s  neighbor 2001:db8:0::1 activate
  neighbor 2001:db8:1::1 activate
 exit-address-family
`, n4.String(), n6.String())
}

// routerConf peers with both links; multipath spreads over both, else the
// rib0 link is preferred (local preference) and rib1 is its backup.
func routerConf(multipath bool) string {
	paths, pref := "maximum-paths 4", ""
	if !multipath {
		paths = "maximum-paths 1"
		pref = "  neighbor 192.0.2.2 route-map PRIMARY in\n  neighbor 2001:db8:0::2 route-map PRIMARY in\n"
	}
	return fmt.Sprintf(`frr defaults traditional
hostname router
route-map PRIMARY permit 10
 set local-preference 200
router bgp 65001
 bgp router-id 10.255.0.1
 no bgp ebgp-requires-policy
 neighbor 192.0.2.2 remote-as 65002
 neighbor 198.51.100.2 remote-as 65002
 neighbor 2001:db8:0::2 remote-as 65002
 neighbor 2001:db8:1::2 remote-as 65002
 neighbor 192.0.2.2 timers 1 3
 neighbor 198.51.100.2 timers 1 3
 neighbor 2001:db8:0::2 timers 1 3
 neighbor 2001:db8:1::2 timers 1 3
 address-family ipv4 unicast
  %[1]s
%[2]s  no neighbor 2001:db8:0::2 activate
  no neighbor 2001:db8:1::2 activate
 exit-address-family
 address-family ipv6 unicast
  %[1]s
  neighbor 2001:db8:0::2 activate
  neighbor 2001:db8:1::2 activate
 exit-address-family
`, paths, pref)
}

// bgpRoutes counts the BGP routes in the main table of ns, and those with
// more than one path.
func bgpRoutes(t *testing.T, ns string) (n, multi int) {
	t.Helper()
	for _, fam := range []string{"-4", "-6"} {
		out, err := exec.Command("ip", "-n", ns, fam, "route", "show", "table", "main", "proto", "bgp").CombinedOutput()
		if err != nil {
			t.Fatalf("ip route: %v\n%s", err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if l == "" || strings.HasPrefix(l, "\t") || strings.HasPrefix(l, " ") {
				continue
			}
			n++
		}
	}
	return n, multi
}

// waitBGP waits until the kernel holds want BGP routes and, with nhGroup,
// until they name a nexthop group of two paths.
func waitBGP(t *testing.T, ns string, want int, multipath bool, f *testfrr.Frr) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, _ := bgpRoutes(t, ns)
		ok := n == want
		if ok && multipath && want > 0 {
			out, _ := exec.Command("ip", "-n", ns, "nexthop", "show").CombinedOutput()
			ok = strings.Contains(string(out), "group")
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			out, _ := f.Vtysh("show bgp summary")
			t.Fatalf("kernel holds %d BGP routes, want %d (multipath %v)\n%s\n%s", n, want, multipath, out, f.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestFRR: FRR (zebra + bgpd) in the router netns learns thousands of IPv4
// and IPv6 prefixes over eBGP from an upstream on two links, multipath or
// primary/backup, and installs them in the main table through nexthop
// objects. In both nexthop compat modes fibd must agree with the kernel
// after the load, a link going down, a BGP shutdown, an upstream restart,
// and FRR stopping (zebra sweeps its routes) and starting again.
func TestFRR(t *testing.T) {
	need(t)
	if _, err := os.Stat("/usr/lib/frr/zebra"); err != nil {
		t.Skip("frr is not installed (make deps)")
	}
	fibTable = router.MainTable
	t.Cleanup(func() { fibTable = table })
	for _, mode := range []int{0, 1} {
		for _, multipath := range []bool{true, false} {
			if !t.Run(fmt.Sprintf("compat%d/multipath=%v", mode, multipath), func(t *testing.T) {
				frrCase(t, mode, multipath)
			}) {
				return
			}
		}
	}
}

func frrCase(t *testing.T, mode int, multipath bool) {
	s := newScratch(t)
	setCompat(t, s.name, mode)
	up := upstream(t, s)
	rng := rand.New(rand.NewPCG(15, uint64(mode)))
	v4 := fullview.IPv4(70, 2000)
	v6 := fullview.IPv6(71, 500)
	all := append(append([]netip.Prefix{}, v4...), v6...)
	u := testfrr.Start(t, up, s.name+"-up", upstreamConf(all))
	f := testfrr.Start(t, s.name, s.name+"-rt", routerConf(multipath))
	r, fib := startRouter(t, s.name, 0)
	waitBGP(t, s.name, len(all), multipath, f)
	took := converge(t, s, r, fib, rng, all, 2000)
	t.Logf("FRR installed %d routes: fibd agreed within %s", len(all), took)
	wantHops := 1
	if multipath {
		wantHops = 2
	}
	// (an IPv6 path's link-local gateway joins once fibd had the kernel
	// resolve it)
	for _, p := range []netip.Prefix{v4[0], v6[0]} {
		deadline := time.Now().Add(15 * time.Second)
		for d := fibd(r, fib, p.Addr()); len(d.hops) != wantHops; d = fibd(r, fib, p.Addr()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: fibd %+v, want %d paths", p, d, wantHops)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// The primary link goes down in the router netns: the kernel drops
	// its nexthop objects at once, FRR moves the routes to the other link.
	nstest.IP(t, "-n", s.name, "link", "set", "rib0", "down")
	waitBGP(t, s.name, len(all), false, f)
	converge(t, s, r, fib, rng, all, 2000)
	for _, p := range []netip.Prefix{v4[1], v6[1]} {
		if d := fibd(r, fib, p.Addr()); len(d.hops) != 1 || !strings.HasPrefix(d.hops[0], "1/") {
			t.Fatalf("%s: fibd %+v after rib0 went down, want the rib1 path alone", p, d)
		}
	}
	nstest.Batch(t, s.name, "link set rib0 up",
		"neigh replace 192.0.2.2 lladdr "+macA+" dev rib0 nud permanent",
		"neigh replace 2001:db8:0::2 lladdr "+macA+" dev rib0 nud permanent")
	waitBGP(t, s.name, len(all), multipath, f)
	f.Eventually(t, 60*time.Second, "Established", "show bgp neighbor 192.0.2.2")
	converge(t, s, r, fib, rng, all, 2000)

	// BGP shutdown of the rib1 sessions.
	if out, err := f.Vtysh("configure terminal", "router bgp 65001", "neighbor 198.51.100.2 shutdown", "neighbor 2001:db8:1::2 shutdown"); err != nil {
		t.Fatalf("vtysh: %v\n%s", err, out)
	}
	waitBGP(t, s.name, len(all), false, f)
	converge(t, s, r, fib, rng, all, 2000)
	if out, err := f.Vtysh("configure terminal", "router bgp 65001", "no neighbor 198.51.100.2 shutdown", "no neighbor 2001:db8:1::2 shutdown"); err != nil {
		t.Fatalf("vtysh: %v\n%s", err, out)
	}
	waitBGP(t, s.name, len(all), multipath, f)
	converge(t, s, r, fib, rng, all, 2000)

	// The upstream's bgpd restarts: every route is withdrawn, then back.
	u.Kill("bgpd", syscall.SIGKILL)
	waitBGP(t, s.name, 0, false, f)
	converge(t, s, r, fib, rng, all, 1000)
	u.Restart(t, "bgpd")
	waitBGP(t, s.name, len(all), multipath, f)
	converge(t, s, r, fib, rng, all, 2000)

	// FRR stops: zebra sweeps its routes and objects; fibd follows. Then
	// it starts again.
	f.Stop()
	waitBGP(t, s.name, 0, false, f)
	converge(t, s, r, fib, rng, all, 1000)
	for _, d := range testfrr.Daemons {
		f.Restart(t, d)
	}
	waitBGP(t, s.name, len(all), multipath, f)
	converge(t, s, r, fib, rng, all, 2000)
	if n := r.Stats.Overruns.Load(); n != 0 {
		t.Errorf("%d overruns", n)
	}
	t.Logf("resyncs %d, re-dumps %d, events %d", r.Stats.Resyncs.Load(), r.Stats.Redumps.Load(), r.Stats.Events.Load())
}
