package routerns

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"fibd/test/fullview"
	"fibd/test/testbird"
)

func birdConf(static4, static6 []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `router id 192.0.2.1;
protocol device { scan time 1; }
ipv4 table t4;
ipv6 table t6;
protocol kernel k4 {
	kernel table %[1]d;
	merge paths yes;
	ipv4 { table t4; export where source = RTS_STATIC; import none; };
}
protocol kernel k6 {
	kernel table %[1]d;
	merge paths yes;
	ipv6 { table t6; export where source = RTS_STATIC; import none; };
}
protocol static s4 {
	ipv4 { table t4; };
`, table)
	for _, r := range static4 {
		fmt.Fprintf(&b, "\troute %s;\n", r)
	}
	b.WriteString("}\nprotocol static s6 {\n\tipv6 { table t6; };\n")
	for _, r := range static6 {
		fmt.Fprintf(&b, "\troute %s;\n", r)
	}
	b.WriteString("}\n")
	return b.String()
}

// kernelRoutes counts the routes BIRD put into the table.
func kernelRoutes(t *testing.T, ns string) int {
	n := 0
	for _, fam := range []string{"-4", "-6"} {
		out, err := exec.Command("ip", "-n", ns, fam, "route", "show", "table", fmt.Sprint(table)).Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if l != "" && l[0] != ' ' && l[0] != '\t' { // multipath nexthops are indented lines
				n++
			}
		}
	}
	return n
}

func waitKernel(t *testing.T, ns string, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for kernelRoutes(t, ns) != want {
		if time.Now().After(deadline) {
			t.Fatalf("BIRD installed %d routes, want %d", kernelRoutes(t, ns), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func birdStatics(rng *rand.Rand, ps []netip.Prefix) []string {
	var out []string
	for _, p := range ps {
		gws := gws4
		if p.Addr().Is6() {
			gws = gws6
		}
		switch x := rng.IntN(10); {
		case x == 0:
			out = append(out, fmt.Sprintf("%s blackhole", p))
		case x < 3:
			g1, g2 := gws[0], gws[1]
			out = append(out, fmt.Sprintf("%s via %s via %s", p, g1.gw, g2.gw))
		default:
			out = append(out, fmt.Sprintf("%s via %s", p, gws[rng.IntN(len(gws))].gw))
		}
	}
	return out
}

// TestBIRD: BIRD 2 exports thousands of static routes (single, ECMP with
// merge paths, blackhole) into the kernel table; fibd agrees with the
// kernel after the initial load, after a reconfiguration that changes and
// withdraws routes, and after BIRD stops.
func TestBIRD(t *testing.T) {
	need(t)
	s := newScratch(t)
	rng := rand.New(rand.NewPCG(4, 4))
	v4 := fullview.IPv4(40, 3000)
	v6 := fullview.IPv6(41, 1000)
	all := append(append([]netip.Prefix{}, v4...), v6...)
	b := testbird.Start(t, s.name, birdConf(birdStatics(rng, v4), birdStatics(rng, v6)))
	r, fib := startRouter(t, s.name, 0)
	waitKernel(t, s.name, len(all))
	took := converge(t, s, r, fib, rng, all, 2000)
	t.Logf("BIRD exported %d routes: fibd agreed within %s", len(all), took)

	// Change half, withdraw a quarter.
	keep4, keep6 := v4[:len(v4)*3/4], v6[:len(v6)*3/4]
	b.Reconfigure(t, birdConf(birdStatics(rng, keep4), birdStatics(rng, keep6)))
	waitKernel(t, s.name, len(keep4)+len(keep6))
	took = converge(t, s, r, fib, rng, all, 2000)
	t.Logf("after reconfiguration (%d routes): agreed within %s", len(keep4)+len(keep6), took)

	// BIRD stops: it withdraws its routes; fibd follows the kernel.
	b.Stop()
	waitKernel(t, s.name, 0)
	converge(t, s, r, fib, rng, all, 1000)
}
