// Command bench prints fibd's benchmark figures (`make bench`):
//
//  1. FIB: build time, DPDK heap memory and ns per lookup for a synthetic
//     full view (DESIGN.md's prefix-length mix), in-process.
//  2. Forwarding: Mpps of one worker lcore for 64-byte IPv4 and IPv6
//     packets from a net_pcap infinite_rx source into net_null, for fibd
//     with each FIB (fibd_fib=dpdk, own) and for DPDK's l3fwd (built here
//     from the dpdk-doc sources, a second build with its route limits
//     raised for the full view) on the same packets and routes, with the
//     ratios: a small table, the full view, and 65,536 destinations.
//  3. LPM: fibd's own tables next to rte_fib on the same full view
//     (cgo/dp/test/bench_lpm, a subprocess run before this process
//     starts the EAL of 1).
//  4. BGP full-view load, first: the view from a real BIRD over eBGP into
//     the router netns, how far fibd's FIB is behind the kernel at the
//     end, overruns, resyncs (bin/soak -load-bench, a subprocess).
//
// Every figure is printed with its input. Runs as root (hugepages).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"fibd/test/fullview"
)

type options struct {
	bin      string
	build    string
	v4, v6   int
	cmpV4    int
	cmpV6    int
	dests    int
	warmup   time.Duration
	window   time.Duration
	noL3fwd  bool
	noFwd    bool
	noFull   bool
	noFIB    bool
	noLPM    bool
	hugepage int

	lpmTimeout                          time.Duration
	failoverOnly, routerOnly, buildOnly bool
	noBGP, bgpOnly                      bool
	fwdRows                             *regexp.Regexp // nil: every forwarding row
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/fibd", "fibd binary")
	flag.StringVar(&o.build, "build", "build/bench", "scratch directory (l3fwd build, pcaps, configs)")
	flag.IntVar(&o.v4, "v4", 1000000, "IPv4 routes of the full view")
	flag.IntVar(&o.v6, "v6", 200000, "IPv6 routes of the full view")
	flag.IntVar(&o.cmpV4, "cmp-v4", 60000, "IPv4 routes in the small fibd-vs-l3fwd table")
	flag.IntVar(&o.cmpV6, "cmp-v6", 20000, "IPv6 routes in the fibd-vs-l3fwd table")
	flag.IntVar(&o.dests, "dests", 4096, "distinct destinations in the packet capture")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "forwarding warm-up before measuring")
	flag.DurationVar(&o.window, "window", 5*time.Second, "forwarding measurement window")
	flag.BoolVar(&o.noL3fwd, "no-l3fwd", false, "skip the l3fwd peer")
	flag.BoolVar(&o.noFwd, "no-fwd", false, "skip the forwarding benchmarks")
	flag.BoolVar(&o.noFull, "no-full", false, "forward on the small table only (skip the full-view rows)")
	flag.BoolVar(&o.noFIB, "no-fib", false, "skip the FIB and router benchmarks")
	flag.BoolVar(&o.noLPM, "no-lpm", false, "skip the fp_lpm vs rte_fib comparison (bench_lpm)")
	flag.DurationVar(&o.lpmTimeout, "lpm-timeout", 10*time.Minute, "time limit of bench_lpm")
	flag.BoolVar(&o.failoverOnly, "failover-only", false, "run only the failover section (with -no-fwd -no-lpm)")
	flag.BoolVar(&o.routerOnly, "router-only", false, "run only the netlink mirror section (with -no-fwd -no-lpm)")
	flag.BoolVar(&o.buildOnly, "build-only", false, "run only the own FIB's build from nothing (with -no-fwd -no-lpm)")
	flag.BoolVar(&o.noBGP, "no-bgp", false, "skip the BGP full-view load (bin/soak -load-bench)")
	flag.BoolVar(&o.bgpOnly, "bgp-only", false, "run only the BGP full-view load")
	flag.IntVar(&o.hugepage, "hugepages", 3072, "2 MiB hugepages to reserve (0: run on --no-huge)")
	rows := flag.String("fwd-rows", "", "forward only on the rows whose input matches this regexp (e.g. 'IPv4, full')")
	flag.Parse()
	if *rows != "" {
		re, err := regexp.Compile(*rows)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: -fwd-rows:", err)
			os.Exit(2)
		}
		o.fwdRows = re
	}
	if err := run(&o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (DPDK EAL, hugepages)")
	}
	if err := os.MkdirAll(o.build, 0o755); err != nil {
		return err
	}
	huge, restore := reserveHugepages(o.hugepage)
	defer restore()
	machine(huge)
	defer printGoals()
	// The sections that run in subprocesses (the BGP load, forwarding,
	// bench_lpm) leave nothing behind in this one when they fail: the
	// others still run, the failed one's rows print as "-", and the run
	// ends with its error. One slow day's BGP flap cost a whole run's
	// figures before.
	var failed []error
	section := func(name string, err error) {
		if err != nil {
			fmt.Printf("%s FAILED (the other sections go on): %v\n\n", name, err)
			failed = append(failed, fmt.Errorf("%s: %w", name, err))
		}
	}
	if o.bgpOnly || !o.noBGP && !o.failoverOnly && !o.routerOnly && !o.buildOnly {
		section("BGP full-view load", bgpLoad(o))
		if o.bgpOnly {
			return errors.Join(failed...)
		}
	}

	v4 := fullview.IPv4(1, o.v4)
	v6 := fullview.IPv6(2, o.v6)
	if !o.noFwd {
		// Forwarding first: the FIB benchmark initialises an EAL in this
		// process, and DPDK cannot be re-initialised afterwards, but the
		// subprocesses need the hugepages it would hold.
		section("forwarding", forwarding(o, huge, v4, v6))
	}
	if !o.noLPM {
		// a subprocess with its own EAL: before this process starts one
		section("LPM (bench_lpm)", lpmBench(o, huge, v4, v6))
	}
	if o.noFIB && !o.buildOnly {
		return errors.Join(failed...)
	}
	return errors.Join(append(failed, fibBench(o, huge, v4, v6))...)
}

// machine prints what the figures were measured on.
func machine(huge bool) {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	dpdk, _ := exec.Command("pkg-config", "--modversion", "libdpdk").Output()
	mem := "no hugepages (--no-huge, 4 KiB pages)"
	if huge {
		mem = "2 MiB hugepages"
	}
	fmt.Printf("machine: %s, %d cores, %s, DPDK %s, %s\n\n", model, runtime.NumCPU(), runtime.Version(),
		strings.TrimSpace(string(dpdk)), mem)
}

// reserveHugepages makes n 2 MiB pages available on /dev/hugepages;
// restore gives them back.
func reserveHugepages(n int) (ok bool, restore func()) {
	restore = func() {}
	if n == 0 {
		return false, restore
	}
	const nr = "/proc/sys/vm/nr_hugepages"
	old, err := os.ReadFile(nr)
	if err != nil {
		return false, restore
	}
	if err := os.WriteFile(nr, []byte(fmt.Sprint(n)), 0o644); err != nil {
		return false, restore
	}
	restore = func() { os.WriteFile(nr, old, 0o644) }
	mounted, _ := os.ReadFile("/proc/mounts")
	if !strings.Contains(string(mounted), " /dev/hugepages hugetlbfs") {
		_, statErr := os.Stat("/dev/hugepages")
		os.MkdirAll("/dev/hugepages", 0o755)
		if err := exec.Command("mount", "-t", "hugetlbfs", "nodev", "/dev/hugepages").Run(); err != nil {
			return false, restore
		}
		// leave the machine as it was: unmount, and remove what was made
		restore = func() {
			exec.Command("umount", "/dev/hugepages").Run()
			if statErr != nil {
				os.Remove("/dev/hugepages")
			}
			os.WriteFile(nr, old, 0o644)
		}
	}
	got, _ := os.ReadFile(nr)
	if strings.TrimSpace(string(got)) != fmt.Sprint(n) {
		fmt.Printf("note: asked for %d hugepages, kernel gave %s\n", n, strings.TrimSpace(string(got)))
	}
	return true, restore
}

func ealMem(huge bool, mb int) []string {
	if huge {
		return []string{"--huge-unlink"}
	}
	return []string{"--no-huge", "-m", fmt.Sprint(mb)}
}

// packets writes a capture of 64-byte frames (62 for IPv6: its smallest
// UDP frame) to random destinations inside routes.
func packets(path string, rng *rand.Rand, routes []netip.Prefix, n int) error {
	var frames [][]byte
	smac, _ := net.ParseMAC("02:00:00:00:00:01")
	dmac, _ := net.ParseMAC("02:70:63:61:70:00")
	for i := range n {
		p := routes[rng.IntN(len(routes))]
		dst := fullview.AddrIn(rng, p)
		if dst.Is4() {
			frames = append(frames, eth4(dmac, smac, dst, uint16(i)))
		} else {
			frames = append(frames, eth6(dmac, smac, dst, uint16(i)))
		}
	}
	return writePcap(path, frames)
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func withTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
