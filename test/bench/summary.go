package main

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The run's scoreboard: the figures the FIB work is judged by (one
// full-view table's memory, lookups, build, changes, forwarding against
// l3fwd, the control plane's heap, restart and BGP load), each taken from
// the section that measured it and printed last, per FIB, beside its
// target. A figure a section did not measure (skipped, failed) prints as
// "-" and counts as not met.
type goal struct {
	name   string
	unit   string
	target float64
	atMost bool // the figure must be <= target (else >=)
	own    float64
	dpdk   float64
	// tie: the fraction by which own and dpdk must differ for this run
	// to order them (at least goalTieFloor); the forwarding rows and the
	// BGP load set it from the spread of their starts
	tie float64
}

// Keys of the scoreboard, in print order.
const (
	gMemory = iota
	gTables
	gLookup4
	gLookup6
	gBuild
	gChange
	gFwdSmall4
	gFwdSmall6
	gFwdFull4
	gFwdFull6
	gFwdMany4
	gFwdMany6
	gHeap
	gRestart
	gBGP
	gCount
)

var goals = [gCount]goal{
	gMemory:    {name: "DPDK memory, one full-view table (v4+v6)", unit: "MiB", target: 64, atMost: true},
	gTables:    {name: "full-view tables in 16 GiB", unit: "", target: 200},
	gLookup4:   {name: "IPv4 lookup, random hits, full view", unit: "ns", target: 8, atMost: true},
	gLookup6:   {name: "IPv6 lookup, random hits, full view", unit: "ns", target: 20, atMost: true},
	gBuild:     {name: "build 1M + 200k from nothing", unit: "s", target: 1, atMost: true},
	gChange:    {name: "single route change, p99 (slowest kind)", unit: "µs", target: 20, atMost: true},
	gFwdSmall4: {name: "forwarding / l3fwd, small table, IPv4", unit: "x", target: 1},
	gFwdSmall6: {name: "forwarding / l3fwd, small table, IPv6", unit: "x", target: 1},
	gFwdFull4:  {name: "forwarding / l3fwd, full view, IPv4", unit: "x", target: 1},
	gFwdFull6:  {name: "forwarding / l3fwd, full view, IPv6", unit: "x", target: 1},
	gFwdMany4:  {name: "forwarding / l3fwd, 65536 dst, IPv4", unit: "x", target: 1},
	gFwdMany6:  {name: "forwarding / l3fwd, 65536 dst, IPv6", unit: "x", target: 1},
	gHeap:      {name: "Go heap per route, control plane", unit: "B", target: 150, atMost: true},
	gRestart:   {name: "kernel table -> FIB equal after a restart", unit: "s", target: 3, atMost: true},
	gBGP:       {name: "FIB behind the kernel after a BGP full view", unit: "s", target: 0.5, atMost: true},
}

func init() {
	for i := range goals {
		goals[i].own, goals[i].dpdk = math.NaN(), math.NaN()
	}
}

// score records a figure for one FIB ("own" or "dpdk").
func score(key int, fib string, v float64) {
	if fib == "own" {
		goals[key].own = v
	} else {
		goals[key].dpdk = v
	}
}

// fwdGoal is the scoreboard key of a forwarding row: small, full or many
// (65,536 destinations), family 4 or 6.
func fwdGoal(kind string, family int) int {
	k := map[string]int{"small": gFwdSmall4, "full": gFwdFull4, "many": gFwdMany4}[kind]
	if family == 6 {
		k++
	}
	return k
}

// The lines of bench_lpm the scoreboard reads (the C program's output).
var (
	lpmFamily = regexp.MustCompile(`^IPv([46]):`)
	lpmBuild  = regexp.MustCompile(`^\s*fp_lpm\s+build ([0-9.]+) s\s+DPDK memory ([0-9.]+) MiB`)
	lpmLookup = regexp.MustCompile(`^\s*lookup\s+fp_lpm ([0-9.]+) ns\s+\S+ ([0-9.]+) ns`)
	lpmChange = regexp.MustCompile(`^\s*(fp_lpm|rte_fib6?) (delete|add|replace).*p99\s+([0-9.]+) us`)
	// the soak's -load-bench line, per FIB
	bgpBehind = regexp.MustCompile(`fibd_fib=(\w+).*FIB behind the kernel at the end ([0-9.]+) s.*netlink overruns ([0-9]+)`)
)

// scoreLPM reads bench_lpm's output: the own FIB's memory, lookups and
// slowest p99 change; rte_fib's lookups and changes (one copy: fibd keeps
// two, so its real cost per change is higher). The build row is fibd's
// own path, measured by ownBuildBench: bench_lpm builds the families one
// after the other, fibd builds them at once.
func scoreLPM(out string) {
	fam := 0
	mem := 0.0
	p99 := map[string]float64{}
	for _, l := range strings.Split(out, "\n") {
		if m := lpmFamily.FindStringSubmatch(l); m != nil {
			fam, _ = strconv.Atoi(m[1])
			continue
		}
		if m := lpmBuild.FindStringSubmatch(l); m != nil {
			mb, _ := strconv.ParseFloat(m[2], 64)
			mem += mb
			continue
		}
		if m := lpmLookup.FindStringSubmatch(l); m != nil && fam != 0 {
			own, _ := strconv.ParseFloat(m[1], 64)
			theirs, _ := strconv.ParseFloat(m[2], 64)
			k := gLookup4
			if fam == 6 {
				k = gLookup6
			}
			score(k, "own", own)
			score(k, "dpdk", theirs)
			continue
		}
		if m := lpmChange.FindStringSubmatch(l); m != nil {
			v, _ := strconv.ParseFloat(m[3], 64)
			fib := "own"
			if m[1] != "fp_lpm" {
				fib = "dpdk"
			}
			p99[fib] = max(p99[fib], v)
		}
	}
	if mem > 0 {
		score(gMemory, "own", mem)
		score(gTables, "own", math.Floor(16384/mem))
	}
	for fib, v := range p99 {
		score(gChange, fib, v)
	}
}

// scoreBGP reads the soak's load-bench lines, one per start of each FIB:
// a FIB's figure is its best start, and the starts' spread is the row's
// tie band.
func scoreBGP(out string) {
	starts := map[string][]float64{}
	for _, l := range strings.Split(out, "\n") {
		if m := bgpBehind.FindStringSubmatch(l); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			if m[3] != "0" {
				v = math.Inf(1) // an overrun fails the target whatever the delay
			}
			starts[m[1]] = append(starts[m[1]], v)
		}
	}
	for fib, s := range starts {
		score(gBGP, fib, slices.Min(s))
		goals[gBGP].tie = max(goals[gBGP].tie, startSpread(s, true))
	}
}

// printGoals prints the scoreboard: whether fibd_fib=own meets each
// target, and how it compares with fibd_fib=dpdk in this run: ahead, tied
// (closer than the run can tell apart) or behind. own became the default
// on a run where it was behind on no row.
func printGoals() {
	fmt.Println("Targets (figures of this run; `-`: not measured; fibd_fib=dpdk's change p99 is one rte_fib copy;")
	fmt.Println("vs dpdk: `tie` where the two differ by less than the row's noise, shown beside it)")
	fmt.Printf("  %-46s %10s %10s %12s  %-9s %s\n", "figure", "own", "dpdk", "target", "own meets", "own vs dpdk")
	behind := []string{}
	for _, g := range goals {
		cmp := ">= "
		if g.atMost {
			cmp = "<= "
		}
		vs := g.versus()
		if vs == "behind" {
			behind = append(behind, g.name)
		}
		fmt.Printf("  %-46s %10s %10s %12s  %-9s %s\n", g.name, goalCell(g.own, g.unit), goalCell(g.dpdk, g.unit),
			cmp+goalCell(g.target, g.unit), yesNo(g.better(g.own, g.target, true)), vs)
	}
	if len(behind) == 0 {
		fmt.Println("  own is behind dpdk on no row of this run")
	} else {
		fmt.Printf("  own is behind dpdk on: %s\n", strings.Join(behind, "; "))
	}
	fmt.Println()
}

// goalTieFloor is the least tie band of any row: figures 1% apart (the
// Go heap per route of the two FIBs, which share the control plane) say
// nothing about which is better.
const goalTieFloor = 0.01

// versus compares own with dpdk: "ahead", "behind", "tie (±x%)" when they
// differ by no more than the tie band, or "-" when either is unmeasured.
func (g goal) versus() string {
	if math.IsNaN(g.own) || math.IsNaN(g.dpdk) {
		return "-"
	}
	band := max(g.tie, goalTieFloor)
	if d := math.Abs(g.own-g.dpdk) / max(math.Abs(g.own), math.Abs(g.dpdk)); d <= band {
		return fmt.Sprintf("tie (±%.0f%%)", 100*band)
	}
	if *g.better(g.own, g.dpdk, false) {
		return "ahead"
	}
	return "behind"
}

// better reports whether a is on the good side of b (or equal, when
// orEqual): nil when either is unmeasured.
func (g goal) better(a, b float64, orEqual bool) *bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return nil
	}
	r := a > b || orEqual && a == b
	if g.atMost {
		r = a < b || orEqual && a == b
	}
	return &r
}

func yesNo(b *bool) string {
	switch {
	case b == nil:
		return "-"
	case *b:
		return "yes"
	}
	return "no"
}

func goalCell(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case math.IsInf(v, 1):
		return "overrun"
	case unit == "x":
		return fmt.Sprintf("%.2f", v)
	case v == math.Trunc(v):
		return strings.TrimSpace(fmt.Sprintf("%.0f %s", v, unit))
	case v >= 100:
		return fmt.Sprintf("%.0f %s", v, unit)
	default:
		return strings.TrimSpace(fmt.Sprintf("%.2f %s", v, unit))
	}
}
