package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"fibd/test/fullview"
)

// fwdManyDests is the number of distinct destinations of the
// cache-unfriendly captures: 64k random addresses spread the FIB's
// first-level reads over as many cache lines (4 MiB of DIR-24-8's tbl24
// alone), where the -dests captures (4096 by default) stay in L2.
const fwdManyDests = 1 << 16

// fwdMbufs is fibd_mbufs for the 64k-packet captures: net_pcap's
// infinite_rx holds the whole capture in mbufs of the port's pool.
const fwdMbufs = 1 << 17

// fwdFIBs are fibd's FIB implementations (fibd_fib), one column each.
var fwdFIBs = []string{"dpdk", "own"}

// fwdPeer is l3fwd as run for a group of rows: which binary, which rules.
type fwdPeer struct {
	bin            string
	rules4, rules6 string
	routes         int      // rules l3fwd must report loading
	mem            []string // EAL memory arguments
	start          time.Duration
}

// fwdRow is one line of the table: one capture, one table, every FIB.
type fwdRow struct {
	name         string
	pcap, static string
	max4, max6   int
	mbufs        int
	peer         *fwdPeer // nil: no l3fwd column (-no-l3fwd)
	goal         int      // the scoreboard's key (fwdGoal)
}

// forwarding measures Mpps of one worker lcore, fibd with each FIB next to
// l3fwd: a small table, the full view, and 64k destinations.
func forwarding(o *options, huge bool, v4, v6 []netip.Prefix) error {
	rng := rand.New(rand.NewPCG(3, 4))
	cmp4, cmp6 := v4[:min(o.cmpV4, len(v4))], v6[:min(o.cmpV6, len(v6))]
	dir := abs(o.build)
	files := map[string]string{}
	for _, f := range []string{"cmp4.pcap", "cmp6.pcap", "full4.pcap", "full6.pcap", "many4.pcap", "many6.pcap",
		"rules4", "rules6", "full.rules4", "full.rules6", "cmp.routes", "full.routes"} {
		files[f] = filepath.Join(dir, f)
	}
	cmpTable := fmt.Sprintf("table %dk+%dk", len(cmp4)/1000, len(cmp6)/1000)
	fullTable := fmt.Sprintf("full view %dk+%dk", len(v4)/1000, len(v6)/1000)
	// The 64k-destination rows use the full view, or the small table with -no-full.
	many4, many6, manyRoutes, manyTable := v4, v6, files["full.routes"], fullTable
	if o.noFull {
		many4, many6, manyRoutes, manyTable = cmp4, cmp6, files["cmp.routes"], cmpTable
	}
	gen := []struct {
		file   string
		routes []netip.Prefix
		n      int
		skip   bool
	}{
		{"cmp4.pcap", cmp4, o.dests, false},
		{"cmp6.pcap", cmp6, o.dests, false},
		{"full4.pcap", v4, o.dests, o.noFull},
		{"full6.pcap", v6, o.dests, o.noFull},
	}
	for _, g := range gen {
		if g.skip {
			continue
		}
		if err := packets(files[g.file], rng, g.routes, g.n); err != nil {
			return err
		}
	}
	if err := distinctPackets(files["many4.pcap"], rng, many4, fwdManyDests); err != nil {
		return err
	}
	if err := distinctPackets(files["many6.pcap"], rng, many6, fwdManyDests); err != nil {
		return err
	}
	if err := writeStatic(files["cmp.routes"], cmp4, cmp6); err != nil {
		return err
	}
	if !o.noFull {
		if err := writeStatic(files["full.routes"], v4, v6); err != nil {
			return err
		}
	}

	// l3fwd: the 22.11 example as patched for vdevs (small table), and the
	// big variant with its table limits and mbuf pool raised (full view,
	// 64k destinations).
	var small, big, bigMany *fwdPeer
	if !o.noL3fwd {
		if err := WriteL3fwdRules(files["rules4"], files["rules6"], cmp4, cmp6); err != nil {
			return err
		}
		bin, err := BuildL3fwd(filepath.Join(dir, "l3fwd"))
		if err != nil {
			return fmt.Errorf("building l3fwd: %w", err)
		}
		small = &fwdPeer{bin: bin, rules4: files["rules4"], rules6: files["rules6"], routes: len(cmp4) + len(cmp6),
			mem: ealMem(huge, 1024), start: 2 * time.Minute}
		bigBin, err := BuildL3fwdBig(filepath.Join(dir, "l3fwd-big"))
		if err != nil {
			return fmt.Errorf("building l3fwd (big variant): %w", err)
		}
		bigMany = &fwdPeer{bin: bigBin, rules4: files["rules4"], rules6: files["rules6"], routes: len(cmp4) + len(cmp6),
			mem: ealMem(huge, 2048), start: 2 * time.Minute}
		if !o.noFull {
			if err := WriteL3fwdBigRules(files["full.rules4"], files["full.rules6"], v4, v6); err != nil {
				return err
			}
			big = &fwdPeer{bin: bigBin, rules4: files["full.rules4"], rules6: files["full.rules6"], routes: len(v4) + len(v6),
				mem: ealMem(huge, 3072), start: 5 * time.Minute}
			bigMany = big
		}
	}

	rows := []fwdRow{
		{name: fmt.Sprintf("IPv4, %s, %d dst", cmpTable, o.dests), pcap: files["cmp4.pcap"], static: files["cmp.routes"], max4: 65536, max6: 65536, peer: small, goal: fwdGoal("small", 4)},
		{name: fmt.Sprintf("IPv6, %s, %d dst", cmpTable, o.dests), pcap: files["cmp6.pcap"], static: files["cmp.routes"], max4: 65536, max6: 65536, peer: small, goal: fwdGoal("small", 6)},
	}
	if !o.noFull {
		rows = append(rows,
			fwdRow{name: fmt.Sprintf("IPv4, %s, %d dst", fullTable, o.dests), pcap: files["full4.pcap"], static: files["full.routes"], max4: len(v4) + 16, max6: len(v6) + 16, peer: big, goal: fwdGoal("full", 4)},
			fwdRow{name: fmt.Sprintf("IPv6, %s, %d dst", fullTable, o.dests), pcap: files["full6.pcap"], static: files["full.routes"], max4: len(v4) + 16, max6: len(v6) + 16, peer: big, goal: fwdGoal("full", 6)})
	}
	rows = append(rows,
		fwdRow{name: fmt.Sprintf("IPv4, %s, %d dst", manyTable, fwdManyDests), pcap: files["many4.pcap"], static: manyRoutes, max4: max(len(many4)+16, 65536), max6: max(len(many6)+16, 65536), mbufs: fwdMbufs, peer: bigMany, goal: fwdGoal("many", 4)},
		fwdRow{name: fmt.Sprintf("IPv6, %s, %d dst", manyTable, fwdManyDests), pcap: files["many6.pcap"], static: manyRoutes, max4: max(len(many4)+16, 65536), max6: max(len(many6)+16, 65536), mbufs: fwdMbufs, peer: bigMany, goal: fwdGoal("many", 6)})

	starts := fwdStarts()
	window := max((o.window / time.Duration(starts)).Round(10*time.Millisecond), time.Second)
	fmt.Printf("Forwarding: one worker lcore, net_pcap0 (rx_pcap, infinite_rx) -> net_null0, 64B IPv4 / 62B IPv6 UDP frames to\n"+
		"random addresses inside the table's routes; Mpps of net_null0 tx over %s after %s warm-up in %d slices, a start's\n"+
		"figure its best slice, the row's the best of %d starts taken in turn (fibd dpdk, fibd own, l3fwd, again; %s=N)\n",
		window, o.warmup, fwdSlices, starts, fwdStartsEnv)
	const nameW = 40
	fmt.Printf("  %-*s %9s %9s %9s %10s %9s\n", nameW, "input", "fibd dpdk", "fibd own", "l3fwd", "dpdk/l3fwd", "own/l3fwd")
	var notes []string
	failed := 0
	spread, spreadAt := 0.0, ""
	for i, r := range rows {
		if o.fwdRows != nil && !o.fwdRows.MatchString(r.name) {
			continue
		}
		// columns: one per FIB, then l3fwd
		cols := len(fwdFIBs) + 1
		samples := make([][]float64, cols)
		errs := make([]error, cols)
		for st := range starts {
			for c := range cols {
				if errs[c] != nil {
					continue
				}
				var f float64
				var err error
				switch {
				case c < len(fwdFIBs):
					f, err = fibdRate(o, huge, fibdRun{pcap: r.pcap, static: r.static, max4: r.max4, max6: r.max6,
						fib: fwdFIBs[c], mbufs: r.mbufs, window: window, tag: fmt.Sprintf("%d-%s", i, fwdFIBs[c])})
				case r.peer != nil:
					f, err = r.peer.rate(o, r.pcap, window)
				default:
					continue
				}
				if err != nil {
					errs[c] = fmt.Errorf("start %d: %w", st+1, err)
					continue
				}
				samples[c] = append(samples[c], f)
			}
		}
		best := make([]float64, cols)
		noise := fwdNoiseFloor
		cells := make([]string, 0, 2*cols-1)
		for c := range cols {
			name := "l3fwd"
			if c < len(fwdFIBs) {
				name = "fibd (" + fwdFIBs[c] + " FIB)"
			}
			switch {
			case errs[c] != nil:
				failed++
				fmt.Fprintf(os.Stderr, "%s on %s: %v\n", name, r.name, errs[c])
				notes = append(notes, fmt.Sprintf("%s on %s: %s (details on stderr)", name, r.name, firstLine(errs[c])))
				cells = append(cells, "fail")
			case len(samples[c]) == 0:
				cells = append(cells, "-")
			default:
				best[c] = slices.Max(samples[c])
				cells = append(cells, fmt.Sprintf("%.2f", best[c]))
				if c < len(fwdFIBs) {
					noise = max(noise, startSpread(samples[c], false))
				}
				if d := (best[c] - slices.Min(samples[c])) / best[c]; d > spread {
					spread, spreadAt = d, fmt.Sprintf("%s, %s: %.2f", name, r.name, samples[c])
				}
			}
		}
		l := best[cols-1]
		goals[r.goal].tie = noise
		for c := range len(fwdFIBs) {
			if l > 0 && best[c] > 0 {
				score(r.goal, fwdFIBs[c], best[c]/l)
				cells = append(cells, fmt.Sprintf("%.2f", best[c]/l))
			} else {
				cells = append(cells, "-")
			}
		}
		fmt.Printf("  %-*s %9s %9s %9s %10s %9s\n", nameW, r.name, cells[0], cells[1], cells[2], cells[3], cells[4])
	}
	fmt.Println("  fibd dpdk / own: fibd_fib=dpdk (rte_fib DIR-24-8 + rte_fib6 TRIE) / own (fibd's compressed trie);")
	fmt.Println("   fibd does more per packet than l3fwd: RFC 1812 checks, ECMP-capable nexthops, named drop counters")
	if !o.noL3fwd {
		fmt.Printf("  l3fwd: DPDK's example with --lookup fib, built here; %s rows: as shipped but for vdev\n", cmpTable)
		fmt.Print("   offloads (limits 65,536 IPv4 / 65,535 IPv6 routes); ")
		if !o.noFull {
			fmt.Printf("%s and ", fullTable)
		}
		fmt.Printf("%d-dst rows: its big variant,\n", fwdManyDests)
		fmt.Println("   limits raised by the bench (rte_fib max_routes 1<<21 / 1<<19, tbl8 groups 1<<17 / 1<<19,")
		fmt.Println("   mbuf pool 1<<17 for a 64k-packet capture); every rule loaded (counted from l3fwd's output)")
	}
	if starts > 1 && spreadAt != "" {
		fmt.Printf("  the worst start was %.0f%% below the best (%s Mpps): other processes on the worker's core\n", 100*spread, spreadAt)
		fmt.Println("   only take from a start, hence the best of them. Two FIBs whose best starts differ by less than")
		fmt.Println("   the second-best start of either trails its best (at least 2%) are tied: the run cannot order them")
	}
	for _, n := range notes {
		fmt.Println("  note:", n)
	}
	fmt.Println()
	if failed > 0 {
		return fmt.Errorf("forwarding: %d measurement(s) failed (see the notes above)", failed)
	}
	return nil
}

// fwdStartsEnv names the environment variable that sets how many times
// each forwarding figure is started (default fwdStartsDefault); the figure
// is the best start. On a shared 2-core machine starts of the same l3fwd
// on the same capture gave 29, 14 and 8 Mpps (whatever else runs lands on
// the worker's core now and then), while the samples within one start
// agree within a few percent; interference only ever lowers a rate.
const (
	fwdStartsEnv     = "FIBD_BENCH_FWD_STARTS"
	fwdStartsDefault = 3
)

func fwdStarts() int { return envStarts(fwdStartsEnv, fwdStartsDefault) }

// fwdSlices is the number of slices a start's window is measured in; the
// start's figure is its best slice. Within a start, a process that lands
// on the worker's core for a moment takes from the slices it falls in,
// not from the start.
const fwdSlices = 5

// fwdNoiseFloor is the smallest difference between two FIBs' figures
// that orders them: starts of one FIB on one capture differ by this much
// on a quiet machine.
const fwdNoiseFloor = 0.02

// startSpread is how far the second-best start of s trails the best, as
// a fraction of the larger of the two: what this run's starts say its
// noise is (0 for fewer than two starts). lowerBetter: for times, where
// the best is the least.
func startSpread(s []float64, lowerBetter bool) float64 {
	if len(s) < 2 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	a, b := c[len(c)-1], c[len(c)-2]
	if lowerBetter {
		a, b = c[1], c[0]
	}
	if math.IsInf(a, 1) || a <= 0 {
		return 0 // an overrun (or nothing) is no measure of noise
	}
	return (a - b) / a
}

// rate runs l3fwd on the capture and returns its Mpps: its best slice.
func (p *fwdPeer) rate(o *options, pcapFile string, window time.Duration) (float64, error) {
	ctx, cancel := withTimeout(p.start + o.warmup + window + time.Minute)
	defer cancel()
	s, err := L3fwdRun{Bin: p.bin, Pcap: pcapFile, Rules4: p.rules4, Rules6: p.rules6,
		Lookup: "fib", Lcore: 1, Warmup: o.warmup, Window: window, EALMem: p.mem,
		StartTimeout: p.start, Routes: p.routes, Samples: fwdSlices}.RunSamples(ctx)
	if err != nil {
		return 0, err
	}
	return slices.Max(s), nil
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// distinctPackets writes a capture of n frames (64 bytes IPv4, 62 IPv6)
// to n distinct random destinations inside routes.
func distinctPackets(path string, rng *rand.Rand, routes []netip.Prefix, n int) error {
	smac, _ := net.ParseMAC("02:00:00:00:00:01")
	dmac, _ := net.ParseMAC("02:70:63:61:70:00")
	seen := make(map[netip.Addr]bool, n)
	frames := make([][]byte, 0, n)
	for tries := 0; len(frames) < n; tries++ {
		if tries > 16*n {
			return fmt.Errorf("%s: only %d distinct destinations found in %d routes, want %d", path, len(frames), len(routes), n)
		}
		dst := fullview.AddrIn(rng, routes[rng.IntN(len(routes))])
		if seen[dst] {
			continue
		}
		seen[dst] = true
		if dst.Is4() {
			frames = append(frames, eth4(dmac, smac, dst, uint16(len(frames))))
		} else {
			frames = append(frames, eth6(dmac, smac, dst, uint16(len(frames))))
		}
	}
	return writePcap(path, frames)
}

// writeStatic writes routes via one neighbour on net_null0.
func writeStatic(path string, v4, v6 []netip.Prefix) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "address add 198.51.100.1/24 dev net_null0")
	fmt.Fprintln(w, "address add 2001:db8:1::1/64 dev net_null0")
	fmt.Fprintln(w, "neigh add 198.51.100.2 lladdr 02:00:00:00:00:02 dev net_null0")
	fmt.Fprintln(w, "neigh add 2001:db8:1::2 lladdr 02:00:00:00:00:02 dev net_null0")
	for _, p := range v4 {
		fmt.Fprintf(w, "route add %s via 198.51.100.2 dev net_null0\n", p)
	}
	for _, p := range v6 {
		fmt.Fprintf(w, "route add %s via 2001:db8:1::2 dev net_null0\n", p)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// fibdRun is one fibd measurement: capture, routes, table sizes, FIB.
type fibdRun struct {
	pcap, static string
	max4, max6   int
	fib          string // fibd_fib: dpdk or own
	mbufs        int    // fibd_mbufs, 0 = fibd's own sizing
	window       time.Duration
	tag          string // names the log file (fibd-<tag>.log)
}

// fibdRate runs fibd on the capture and routes, busy-polling, and returns
// net_null0's tx rate in Mpps.
func fibdRate(o *options, huge bool, r fibdRun) (float64, error) {
	prefix := fmt.Sprintf("fibdbenchfwd%d", os.Getpid())
	defer os.RemoveAll("/var/run/dpdk/" + prefix)
	cfg := filepath.Join(abs(o.build), "fibd.conf")
	mem := ""
	for _, a := range ealMem(huge, 3072) {
		mem += " " + a
	}
	conf := fmt.Sprintf(`in_dev=net_pcap0
out_dev=net_null0
fibd_vdev=net_pcap0,rx_pcap=%s,infinite_rx=1,tx_pcap=/dev/null
fibd_vdev=net_null0,no-rx=1
fibd_eal_args=-l 0-1 --file-prefix %s --log-level lib.eal:warning%s
fibd_idle_sleep_us=0
fibd_fib=%s
fibd_mbufs=%d
router_max_ip4_route_count=%d
router_max_ip6_route_count=%d
`, r.pcap, prefix, mem, r.fib, r.mbufs, r.max4, r.max6)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return 0, err
	}
	cmd := exec.Command(abs(o.bin), "-c", cfg, "--static", r.static, "-q", "--log-level", "warn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.Create(filepath.Join(abs(o.build), "fibd-"+r.tag+".log"))
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tel, err := dialTelemetryCtx(ctx, prefix)
	if err != nil {
		return 0, fmt.Errorf("telemetry: %w (see %s)", err, logf.Name())
	}
	defer tel.Close()
	for { // forwarding starts once the FIB is programmed
		_, out, _, err := tel.PortStats(1)
		if err == nil && out > 0 {
			break
		}
		select {
		case err := <-exited:
			return 0, fmt.Errorf("fibd exited: %v (see %s)", err, logf.Name())
		case <-ctx.Done():
			return 0, fmt.Errorf("no packet forwarded in time (see %s)", logf.Name())
		case <-time.After(100 * time.Millisecond):
		}
	}
	pps, err := tel.TxRates(1, o.warmup, r.window, fwdSlices)
	if err != nil {
		return 0, err
	}
	return slices.Max(pps) / 1e6, nil
}
