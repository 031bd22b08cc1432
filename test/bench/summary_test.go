package main

import (
	"fmt"
	"math"
	"testing"
)

// Lines as bench_lpm and the soak print them (from a make bench run).
const lpmOut = `EAL memory: 2 MiB hugepages
IPv4: 1000000 prefixes, 1048576 random addresses inside them, bursts of 32
  fp_lpm   build 0.324 s  DPDK memory 47.0 MiB (heap delta 47.0 MiB, nodes and leaves in use 45.2 MiB)  writer record 14.9 MiB  first level 18 bits
  rte_fib  build 1.593 s  DPDK memory 477.2 MiB (one copy; fibd keeps two)
  lookup   fp_lpm 8.14 ns  rte_fib 9.35 ns  (best of 5 rounds after a warm-up)
  cached   fp_lpm 1.73 ns  rte_fib 1.96 ns  (the first 4096 addresses over and over)
  fp_lpm delete                      p50   1.42 us  p99   2.68 us  max    82.2 us  (20000 changes)
  fp_lpm add                         p50   0.45 us  p99   0.84 us  max    41.3 us  (20000 changes)
  rte_fib delete (one copy)          p50   2.93 us  p99   5.00 us  max    68.8 us  (20000 changes)
IPv6: 200000 prefixes, 1048576 random addresses inside them, bursts of 32
  fp_lpm   build 0.150 s  DPDK memory 10.0 MiB (heap delta 10.0 MiB, nodes and leaves in use 8.6 MiB)  writer record 15.7 MiB  first level 18 bits
  lookup   fp_lpm 23.42 ns  rte_fib6 61.91 ns  (best of 5 rounds after a warm-up)
  fp_lpm delete                      p50   3.73 us  p99   6.47 us  max   158.7 us  (20000 changes)
  rte_fib6 delete (one copy)         p50   5.35 us  p99  11.62 us  max   299.8 us  (20000 changes)
`

const bgpOut = `BGP full-view load (BIRD over eBGP into the router's kernel table)
  fibd_fib=dpdk 1000001 IPv4 + 200001 IPv6 routes (and 104468 + 25466 in table 200): BGP load 31.0 s (first route to kernel complete), FIB behind the kernel at the end 1.76 s, netlink overruns 0, resyncs 0; FIB equals the kernel
  fibd_fib=own  1000001 IPv4 + 200001 IPv6 routes (and 104468 + 25466 in table 200): BGP load 29.0 s (first route to kernel complete), FIB behind the kernel at the end 0.08 s, netlink overruns 2, resyncs 1; FIB equals the kernel
`

func TestScoreboardReadsItsSections(t *testing.T) {
	saved := goals
	t.Cleanup(func() { goals = saved })
	for i := range goals {
		goals[i].own, goals[i].dpdk = math.NaN(), math.NaN()
	}
	scoreLPM(lpmOut)
	scoreBGP(bgpOut)
	for _, c := range []struct {
		key       int
		own, dpdk float64
	}{
		{gMemory, 57, math.NaN()},
		{gTables, 287, math.NaN()},
		{gLookup4, 8.14, 9.35},
		{gLookup6, 23.42, 61.91},
		{gBuild, math.NaN(), math.NaN()}, // ownBuildBench's, not bench_lpm's
		{gChange, 6.47, 11.62},
		{gBGP, math.Inf(1), 1.76}, // own overran: the target fails whatever the delay
	} {
		g := goals[c.key]
		if !same(g.own, c.own) || !same(g.dpdk, c.dpdk) {
			t.Errorf("%s: own %v dpdk %v, want %v %v", g.name, g.own, g.dpdk, c.own, c.dpdk)
		}
	}
}

func same(a, b float64) bool {
	return math.IsNaN(a) && math.IsNaN(b) || math.Abs(a-b) < 1e-9 || a == b
}

func TestScoreboardVersus(t *testing.T) {
	for _, c := range []struct {
		g    goal
		want string
	}{
		{goal{own: 7.3, dpdk: 8.8, atMost: true}, "ahead"},
		{goal{own: 8.8, dpdk: 7.3, atMost: true}, "behind"},
		{goal{own: 0.80, dpdk: 0.77}, "ahead"},
		{goal{own: 0.77, dpdk: 0.80}, "behind"},
		// forwarding: 17.19 against 18.26 Mpps is 5.9% apart
		{goal{own: 17.19, dpdk: 18.26, tie: 0.06}, "tie (±6%)"},
		{goal{own: 17.19, dpdk: 18.26, tie: 0.05}, "behind"},
		{goal{own: 19.62, dpdk: 16.20, tie: 0.05}, "ahead"},
		{goal{own: 137.4, dpdk: 136.9, atMost: true}, "tie (±1%)"}, // the floor: no band set
		{goal{own: math.NaN(), dpdk: 1}, "-"},
	} {
		if got := c.g.versus(); got != c.want {
			t.Errorf("own %v dpdk %v tie %v: %q, want %q", c.g.own, c.g.dpdk, c.g.tie, got, c.want)
		}
	}
}

func TestStartSpread(t *testing.T) {
	for _, c := range []struct {
		s     []float64
		lower bool
		want  float64
	}{
		{[]float64{20}, false, 0},
		{[]float64{18, 20, 10}, false, 0.1}, // the worst start says nothing: the second best does
		{[]float64{20, 20, 5}, false, 0},
		{[]float64{0.35, 0.10}, true, (0.35 - 0.10) / 0.35}, // times: the least is best
		{[]float64{0.05, 0.10, 0.9}, true, 0.5},
		{[]float64{0.05, math.Inf(1)}, true, 0}, // an overrun measures no noise
	} {
		if got := startSpread(c.s, c.lower); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("startSpread(%v, %v) = %v, want %v", c.s, c.lower, got, c.want)
		}
	}
}

func TestScoreBGPTakesTheBestStart(t *testing.T) {
	saved := goals
	t.Cleanup(func() { goals = saved })
	goals[gBGP].own, goals[gBGP].dpdk, goals[gBGP].tie = math.NaN(), math.NaN(), 0
	line := func(fib string, behind float64, overruns int) string {
		return fmt.Sprintf("  fibd_fib=%-4s 1000001 IPv4 + 200001 IPv6 routes (and 104464 + 25477 in table 200): BGP load 49.8 s "+
			"(first route to kernel complete), FIB behind the kernel at the end %.2f s, netlink overruns %d, resyncs 0; FIB equals the kernel\n",
			fib, behind, overruns)
	}
	scoreBGP(line("dpdk", 0.09, 0) + line("own", 0.35, 0) + line("dpdk", 0.90, 0) + line("own", 0.10, 1))
	g := goals[gBGP]
	// own's second start overran: its first is its best; dpdk's best is 0.09
	if !same(g.own, 0.35) || !same(g.dpdk, 0.09) {
		t.Errorf("own %v dpdk %v, want 0.35 0.09", g.own, g.dpdk)
	}
	if want := (0.90 - 0.09) / 0.90; math.Abs(goals[gBGP].tie-want) > 1e-9 {
		t.Errorf("tie band %v, want %v (dpdk's two starts)", goals[gBGP].tie, want)
	}
}
