package routerns

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"fibd/test/nstest"
)

// TestThrowRoutes: a throw route ends the lookup in its table; routing by
// that one table, the kernel answers "network unreachable" (no route), and
// fibd too, even when a less preferred route of the same prefix, or a
// shorter prefix, would forward. Deleting the throw route brings them back.
func TestThrowRoutes(t *testing.T) {
	need(t)
	s := newScratch(t)
	r, fib := startRouter(t, s.name, 0)
	rng := rand.New(rand.NewPCG(3, 3))
	ps := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:77::/48")}
	lines := []string{
		fmt.Sprintf("route add 203.0.0.0/8 via 198.51.100.2 table %d", table),
		fmt.Sprintf("route add 2001:db8::/32 via 2001:db8:1::2 dev rib1 table %d", table),
	}
	for _, p := range ps {
		gw := "192.0.2.2"
		if p.Addr().Is6() {
			gw = "2001:db8:0::2"
		}
		// the throw route goes ahead of the forwarding one by its metric
		lines = append(lines, fmt.Sprintf("route add %s via %s dev rib0 table %d metric 32", p, gw, table),
			fmt.Sprintf("route add throw %s table %d metric 1", p, table))
	}
	nstest.Batch(t, s.name, lines...)
	converge(t, s, r, fib, rng, ps, 50)
	for _, p := range ps {
		if k := mustKernel(t, s, p.Addr().Next()); k.drop != "unreachable" {
			t.Fatalf("the kernel's decision for %s: %+v, want no route (the lab does not test throw)", p, k)
		}
	}
	var del []string
	for _, p := range ps {
		del = append(del, fmt.Sprintf("route del throw %s table %d metric 1", p, table))
	}
	nstest.Batch(t, s.name, del...)
	converge(t, s, r, fib, rng, ps, 50)
	for _, p := range ps {
		if k := mustKernel(t, s, p.Addr().Next()); k.drop != "" {
			t.Fatalf("the kernel's decision for %s once the throw route went: %+v, want a forward", p, k)
		}
	}
}

func mustKernel(t *testing.T, s *scratch, a netip.Addr) decision {
	t.Helper()
	d, err := s.kernel(a)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
