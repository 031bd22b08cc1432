package routerns

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	dpdk "fibd/cgo"
	"fibd/router"
	"fibd/test/fullview"
	"fibd/test/nstest"
)

// writes reads the programmer's counts of nexthops rewritten in place and
// of routes written.
func writes(r *router.Router) (rewrites, routes uint64) {
	r.Do(func(p *router.Programmer, _ *router.RIB) {
		rewrites, routes = p.Rewrites.Load(), p.RouteWrites.Load()
	})
	return
}

// waitQuiet waits until the router applied every queued notification
// (none for a moment).
func waitQuiet(r *router.Router) {
	for last := r.Stats.Events.Load(); ; {
		time.Sleep(300 * time.Millisecond)
		n := r.Stats.Events.Load()
		if n == last {
			return
		}
		last = n
	}
}

// nhObjects are the kernel nexthop objects of TestNexthopObjects: single
// paths, groups with weights and a blackhole, per family.
var nhObjects = []string{
	"nexthop add id 1 via 192.0.2.2 dev rib0",
	"nexthop add id 2 via 198.51.100.2 dev rib1",
	"nexthop add id 3 via 198.51.100.3 dev rib1",
	"nexthop add id 4 dev rib1",
	"nexthop add id 9 blackhole",
	"nexthop add id 10 group 1/2",
	"nexthop add id 11 group 1,3/3",
	"nexthop add id 21 via 2001:db8:0::2 dev rib0",
	"nexthop add id 22 via 2001:db8:1::2 dev rib1",
	"nexthop add id 30 group 21/22",
}

// shadowed: a more specific prefix of ps holds p's first address, which
// then does not look up to p.
func shadowed(ps []netip.Prefix, p netip.Prefix) bool {
	for _, q := range ps {
		if q.Bits() > p.Bits() && q.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

func setCompat(t *testing.T, ns string, mode int) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-w", fmt.Sprintf("net.ipv4.nexthop_compat_mode=%d", mode)).CombinedOutput()
	if err != nil {
		t.Skipf("no nexthop_compat_mode here: %v %s", err, out)
	}
}

// nhRoutes names objects in routes of the mirrored table.
func nhRoutes(rng *rand.Rand, ps []netip.Prefix) []string {
	var out []string
	for _, p := range ps {
		ids := []int{1, 2, 3, 4, 9, 10, 10, 11, 11}
		if p.Addr().Is6() {
			ids = []int{21, 22, 30, 30}
		}
		out = append(out, fmt.Sprintf("route add %s nhid %d table %d", p, ids[rng.IntN(len(ids))], table))
	}
	return out
}

// TestNexthopObjects: routes that name kernel nexthop objects (as FRR
// installs them), in both compat modes: with mode 0 a route message
// carries the object's id alone. fibd must agree with the kernel after the
// load, after objects change (a group's members, a gateway), after a link
// goes down (the kernel deletes its objects and shrinks the groups holding
// them without a word) and after an object is deleted.
func TestNexthopObjects(t *testing.T) {
	need(t)
	for _, mode := range []int{0, 1} {
		t.Run(fmt.Sprintf("compat%d", mode), func(t *testing.T) {
			s := newScratch(t)
			setCompat(t, s.name, mode)
			nstest.Batch(t, s.name, nhObjects...)
			rng := rand.New(rand.NewPCG(12, uint64(mode)))
			v4 := fullview.IPv4(60, 2000)
			v6 := fullview.IPv6(61, 600)
			all := append(append([]netip.Prefix{}, v4...), v6...)
			// Half before fibd starts (the dump), half after (notifications).
			nstest.Batch(t, s.name, nhRoutes(rng, all[:len(all)/2])...)
			r, fib := startRouter(t, s.name, 0)
			nstest.Batch(t, s.name, nhRoutes(rng, all[len(all)/2:])...)
			converge(t, s, r, fib, rng, all, 2000)
			for _, p := range all {
				if d := fibd(r, fib, p.Addr()); d.drop == "unreachable" {
					t.Fatalf("%s: fibd has it unreachable (a route naming a nexthop object)", p)
				}
			}

			// router nexthop show: object 10 is a group of 1 and 2, its
			// routes share one FIB nexthop, an ECMP group of two.
			var g router.NexthopView
			for _, v := range r.Nexthops() {
				if v.ID == 10 {
					g = v
				}
			}
			if len(g.Members) != 2 || g.Members[0].ID != 1 || g.Members[1].ID != 2 || g.Routes == 0 || !g.Indexed {
				t.Fatalf("object 10 shown as %+v", g)
			}
			r.Do(func(p *router.Programmer, _ *router.RIB) {
				if tg, ok := p.Nexthop(g.Index); !ok || tg.Type != dpdk.NexthopECMP || len(tg.Members) != 2 || tg.Obj != 10 {
					t.Fatalf("FIB nexthop %d of object 10: %+v", g.Index, tg)
				}
			})

			// The objects change under the routes: each is one nexthop
			// rewritten in place, no route written (compat mode 1's
			// route messages included).
			rw0, w0 := writes(r)
			nstest.Batch(t, s.name,
				"nexthop replace id 10 group 2/3",
				"nexthop replace id 1 via 198.51.100.3 dev rib1",
				"nexthop replace id 30 group 22")
			converge(t, s, r, fib, rng, all, 2000)
			waitQuiet(r)
			if rw, w := writes(r); w != w0 || rw-rw0 < 3 {
				t.Fatalf("object changes: %d routes written, %d nexthops rewritten; want 0 and >= 3", w-w0, rw-rw0)
			}

			// A neighbour's new MAC: its adjacency is rewritten, no route.
			rw0, w0 = writes(r)
			nstest.Batch(t, s.name, "neigh replace 198.51.100.3 lladdr 02:00:00:00:0d:02 dev rib1 nud permanent")
			probe := netip.Prefix{}
			r.Do(func(p *router.Programmer, rib *router.RIB) {
				rib.Each(func(tb uint32, pf netip.Prefix, tg *router.Target) {
					if tb == table && tg.Obj == 1 && !shadowed(all, pf) {
						probe = pf
					}
				})
			})
			deadline := time.Now().Add(10 * time.Second)
			for d := fibd(r, fib, probe.Addr()); len(d.hops) != 1 || d.hops[0] != "1/02:00:00:00:0d:02"; d = fibd(r, fib, probe.Addr()) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: fibd %+v after the neighbour's MAC changed", probe, d)
				}
				time.Sleep(50 * time.Millisecond)
			}
			waitQuiet(r)
			if rw, w := writes(r); w != w0 || rw == rw0 {
				t.Fatalf("MAC change: %d routes written, %d nexthops rewritten; want 0 and > 0", w-w0, rw-rw0)
			}
			nstest.Batch(t, s.name, "neigh replace 198.51.100.3 lladdr "+macC+" dev rib1 nud permanent")
			converge(t, s, r, fib, rng, all, 2000)

			// rib1 down: the kernel deletes its objects and shrinks the
			// groups holding them, silently; the routes on them go.
			nstest.Batch(t, s.name, "nexthop replace id 1 via 192.0.2.2 dev rib0", "link set rib1 down")
			converge(t, s, r, fib, rng, all, 2000)
			nstest.Batch(t, s.name, "link set rib1 up",
				"neigh replace 198.51.100.2 lladdr "+macB+" dev rib1 nud permanent",
				"neigh replace 198.51.100.3 lladdr "+macC+" dev rib1 nud permanent",
				"neigh replace 2001:db8:1::2 lladdr "+macB+" dev rib1 nud permanent",
				"nexthop add id 2 via 198.51.100.2 dev rib1",
				"nexthop replace id 10 group 1/2")
			converge(t, s, r, fib, rng, all, 2000)

			// An object deleted takes its routes with it.
			nstest.IP(t, "-n", s.name, "nexthop", "del", "id", "1")
			converge(t, s, r, fib, rng, all, 2000)
		})
	}
}
