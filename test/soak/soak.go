package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config of one soak.
type Config struct {
	Duration         time.Duration // faults start until this much has passed
	Seed             int64         // fault order, churn, samples, view
	Routes4, Routes6 int           // the upstream's view
	Faults           []string      // fault kinds to draw from (nil: all)
	KeepGoing        bool          // after a failed fault, repair (refresh, restart fibd) and go on
	Bin              string        // directory of fibd and fdpi_cli
	Dir              string        // scratch directory: configurations and logs
	Out              io.Writer
	Sample           int      // random addresses per table and check
	FIBs             []string // fibd_fib kinds the load benchmark runs (-load-bench)
}

// result is what the soak saw of one fault kind.
type result struct {
	count, mismatches, failures int
	worst                       time.Duration
}

type memSample struct {
	label                string // when: start, cycle N, end
	pid                  int
	rss, goHeap, dpdkMem float64
	// rss split as the kernel counts it (/proc/PID/status): own is
	// anonymous and file memory, fibd's own (Go, C, code), less goRetained;
	// shared is DPDK's memory, which without hugepages (--no-huge: a
	// memfd) counts in RSS as its pages are first touched, up to the
	// EAL's -m, and with hugepages not at all.
	own, shared float64
	// goRetained is the Go heap's free pages not yet returned to the
	// kernel (heap idle less released): resident, but only until the
	// scavenger gets to them.
	goRetained float64
	// goRuntime is what the Go runtime holds from the kernel and has
	// not returned or left idle (heap in use, stacks, its own
	// structures); outside is own less goRuntime: C's malloc and code.
	// A leak shows in one of them; goroutines counts a leak of those.
	goRuntime, outside, goroutines float64
}

type soak struct {
	cfg     Config
	l       *lab
	rng     *rand.Rand // the current fault's draws
	order   *rand.Rand // the order of the faults in each cycle
	sample  *rand.Rand // random addresses of the comparisons
	out     io.Writer
	results map[string]*result
	mem     []memSample // after the start, each complete cycle (its floor), and at the end
	// floor is the current cycle's lowest memory, field by field, over the
	// samples taken after each fault once the FIB equalled the kernel: a
	// single sample depends on where the Go GC and the scavenger stood,
	// the floor of a cycle does not, and a leak raises it cycle by cycle
	floor *memSample
	// memFresh: the last sample was taken after the last fault (no end
	// sample needed)
	memFresh bool
	failed   []string
	bg       []*proc // the client's steady traffic
}

// Run runs a soak and returns an error if any fault ended in a mismatch,
// a crash, or traffic that did not flow, or if memory drifted.
func Run(cfg Config) (err error) {
	if cfg.Sample == 0 {
		cfg.Sample = 2000
	}
	s := &soak{cfg: cfg, l: newLab(&cfg), out: cfg.Out, results: map[string]*result{},
		rng:    rand.New(rand.NewPCG(uint64(cfg.Seed), 0)),
		order:  rand.New(rand.NewPCG(uint64(cfg.Seed), 1)),
		sample: rand.New(rand.NewPCG(uint64(cfg.Seed), 2))}
	s.logf("soak: seed %d, %d IPv4 + %d IPv6 routes, %v of faults; logs in %s", cfg.Seed, cfg.Routes4, cfg.Routes6, cfg.Duration, cfg.Dir)
	defer func() {
		// a bug of the soak itself still ends with a verdict
		if p := recover(); p != nil {
			err = fmt.Errorf("soak panicked: %v\n%s", p, debug.Stack())
		}
	}()
	defer func() {
		for _, p := range s.bg {
			p.Stop(syscall.SIGINT, 3*time.Second)
		}
		s.l.teardown()
	}()
	t0 := time.Now()
	s.l.view(cfg.Routes4, cfg.Routes6, cfg.Seed)
	if err := s.l.setup(); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := s.l.fibdConf(); err != nil {
		return err
	}
	if err := s.l.startFibd(); err != nil {
		return err
	}
	if err := s.l.startUpstream(); err != nil {
		return err
	}
	if err := s.l.startRouterBird(); err != nil {
		return err
	}
	if ok := s.settle("start", t0); !ok {
		return s.summary()
	}
	s.sampleMemory("start")
	for _, dst := range []string{dst4, dst6} {
		p, err := startProc("ping "+dst, s.l.dir+"/traffic.log", "ip", "netns", "exec", s.l.cl, "ping", "-n", "-q", "-i", "0.02", dst)
		if err != nil {
			return err
		}
		s.bg = append(s.bg, p)
	}
	kinds := s.kinds()
	deadline := time.Now().Add(cfg.Duration)
	for cycle := 1; time.Now().Before(deadline); cycle++ {
		order := slices.Clone(kinds)
		s.order.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		// fibd's restart comes first, and only every fourth cycle, so that
		// the cycles between run on one fibd process: its memory after
		// each of them shows drift
		if i := slices.Index(order, "fibdkill"); i >= 0 {
			order = slices.Delete(order, i, i+1)
			if cycle%4 == 1 {
				order = append([]string{"fibdkill"}, order...)
			}
		}
		s.logf("cycle %d: %s", cycle, strings.Join(order, ", "))
		complete := true
		for i, k := range order {
			if time.Now().After(deadline) {
				complete = false
				break
			}
			// each fault's own draws (durations, MACs, routes) depend on
			// the seed and its place only, whatever came before
			s.rng = rand.New(rand.NewPCG(uint64(s.cfg.Seed), uint64(cycle*1000+i+3)))
			s.memFresh = false
			if !s.fault(k) && !cfg.KeepGoing {
				return s.summary()
			}
			s.foldFloor()
		}
		if complete && s.floor != nil {
			m := *s.floor
			m.label = fmt.Sprintf("cycle %d", cycle)
			s.mem = append(s.mem, m)
			s.logMem(m, ", its floor")
			s.memFresh = true
		}
		s.floor = nil
	}
	return s.summary()
}

func (s *soak) logf(format string, args ...any) {
	fmt.Fprintf(s.out, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func (s *soak) kinds() []string {
	var ks []string
	for _, f := range allFaults {
		if len(s.cfg.Faults) == 0 || slices.Contains(s.cfg.Faults, f.name) {
			ks = append(ks, f.name)
		}
	}
	return ks
}

func (s *soak) res(kind string) *result {
	r := s.results[kind]
	if r == nil {
		r = &result{}
		s.results[kind] = r
	}
	return r
}

// fault injects one fault and checks the outcome; false when it failed.
func (s *soak) fault(kind string) bool {
	var f faultKind
	for _, x := range allFaults {
		if x.name == kind {
			f = x
		}
	}
	s.logf("fault %s: %s", kind, f.doc)
	t0, err := f.run(s)
	if err != nil {
		s.fail(kind, fmt.Sprintf("injecting the fault: %v", err))
		s.repair(kind)
		return false
	}
	ok := s.settle(kind, t0)
	if !ok {
		s.repair(kind)
	}
	return ok
}

func (s *soak) fail(kind, msg string) {
	s.res(kind).failures++
	s.failed = append(s.failed, kind+": "+msg)
	s.logf("FAIL %s: %s (seed %d)", kind, msg, s.cfg.Seed)
}

// repair brings the lab back to a known state after a failed fault when
// the soak goes on, so that the next fault is judged on its own.
func (s *soak) repair(kind string) {
	if !s.cfg.KeepGoing {
		return
	}
	s.logf("repair after %s: restarting fibd and the router's BIRD", kind)
	if s.l.fibd != nil && s.l.fibd.Alive() {
		s.l.stopFibd()
	}
	if s.l.rBird != nil {
		s.l.rBird.Stop(syscall.SIGTERM, 5*time.Second)
	}
	if err := s.l.startFibd(); err != nil {
		s.logf("repair: %v", err)
		return
	}
	if err := s.l.startRouterBird(); err != nil {
		s.logf("repair: %v", err)
	}
	s.waitQuiet()
}

// mirrored lists the tables fibd must mirror: the kernel table and every
// table an ip rule looks up.
func (s *soak) mirrored() ([]uint32, error) {
	tables := []uint32{254}
	for _, fam := range []string{"-4", "-6"} {
		out, err := exec.Command("ip", fam, "-j", "-n", s.l.rt, "rule", "show").Output()
		if err != nil {
			return nil, fmt.Errorf("ip rule show: %w", err)
		}
		var rules []struct {
			Table string `json:"table"`
		}
		if err := json.Unmarshal(out, &rules); err != nil {
			return nil, err
		}
		for _, r := range rules {
			if n, err := strconv.Atoi(r.Table); err == nil && n != 255 && n != 253 && !slices.Contains(tables, uint32(n)) {
				tables = append(tables, uint32(n))
			}
		}
	}
	return tables, nil
}

// countBird counts BIRD's routes in a kernel table.
func (s *soak) countBird(fam string, table int) int {
	out, err := exec.Command("ip", fam, "-n", s.l.rt, "route", "show", "table", strconv.Itoa(table), "proto", "bird").Output()
	if err != nil {
		return -1
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && l[0] != ' ' && l[0] != '\t' {
			n++
		}
	}
	return n
}

// quietTimeout scales with the view: BIRD installs ~60k routes/s.
func (s *soak) quietTimeout() time.Duration {
	return 90*time.Second + time.Duration(s.l.want4+s.l.want6)*time.Second/4000
}

// waitQuiet waits until both BGP sessions are up and every route BIRD
// should have put into the kernel is there, unchanged for two polls.
func (s *soak) waitQuiet() error {
	deadline := time.Now().Add(s.quietTimeout())
	last := ""
	stable := 0
	for {
		c := [4]int{s.countBird("-4", 254), s.countBird("-6", 254), s.countBird("-4", tableRule), s.countBird("-6", tableRule)}
		want := [4]int{s.l.want4, s.l.want6, s.l.want200, s.l.want200v6}
		up := s.l.rBird != nil && s.l.rBird.established("up4", "up6")
		now := fmt.Sprint(c)
		if up && c == want && now == last {
			stable++
		} else {
			stable = 0
		}
		if stable >= 1 {
			return nil
		}
		last = now
		if s.l.rBird == nil {
			return errors.New("the router's BIRD is not running")
		}
		if !s.l.rBird.Alive() {
			return fmt.Errorf("the router's BIRD has exited:\n%s", s.l.rBird.tail(20))
		}
		if time.Now().After(deadline) {
			bgp := ""
			if s.l.rBird != nil {
				bgp, _ = s.l.rBird.c("show", "protocols")
			}
			return fmt.Errorf("BGP not quiet after %v: BIRD routes in the kernel (254 v4, v6, %d v4, v6) %v, want %v; router BIRD:\n%s",
				s.quietTimeout(), tableRule, c, want, bgp)
		}
		time.Sleep(2 * time.Second)
	}
}

// equalTimeout bounds the time from quiet BGP to an equal FIB.
func (s *soak) equalTimeout() time.Duration {
	return 60*time.Second + time.Duration(s.l.want4+s.l.want6)*time.Second/10000
}

// settle waits for quiet BGP, then compares the FIB with the kernel until
// they are equal, then checks fibd and the traffic; it records the
// outcome under kind.
func (s *soak) settle(kind string, t0 time.Time) bool {
	r := s.res(kind)
	r.count++
	if err := s.waitQuiet(); err != nil {
		s.fail(kind, err.Error())
		return false
	}
	deadline := time.Now().Add(s.equalTimeout())
	var c *comparison
	var lastErr error
	var lastLog, tc time.Time
	for {
		if !s.l.fibd.Alive() {
			s.fail(kind, "fibd has crashed:\n"+s.l.fibd.tail(60))
			return false
		}
		var err error
		tc = time.Now()
		c, err = s.compareOnce()
		if err != nil {
			lastErr = err
			s.logf("%s: comparison: %v", kind, err)
		} else if c.nbad == 0 {
			break
		} else if time.Since(lastLog) > 15*time.Second {
			lastLog = time.Now()
			s.logf("%s: %d addresses differ yet (comparison took %v), e.g. %s", kind, c.nbad, time.Since(tc).Round(time.Millisecond), c.bad[0])
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if c == nil || c.nbad > 0 {
		if c == nil {
			s.fail(kind, fmt.Sprintf("no comparison could be made within %v: %v", s.equalTimeout(), lastErr))
			return false
		}
		r.mismatches += c.nbad
		for _, m := range c.bad {
			s.logf("MISMATCH after %s (seed %d): %s", kind, s.cfg.Seed, m)
		}
		s.fail(kind, fmt.Sprintf("%d addresses of %d differ from the kernel %v after BGP was quiet", c.nbad, c.addrs, s.equalTimeout()))
		return false
	}
	// the dumps of the first equal comparison were taken as it started
	took := max(0, tc.Sub(t0))
	r.worst = max(r.worst, took)
	s.logf("%s: FIB equals the kernel after %v (%d routes, %d addresses compared)", kind, took.Round(time.Millisecond), c.routes, c.addrs)
	if !s.trafficFlows() {
		s.fail(kind, "traffic does not flow through fibd")
		return false
	}
	if !s.l.fibd.Alive() {
		s.fail(kind, "fibd has crashed:\n"+s.l.fibd.tail(60))
		return false
	}
	return true
}

// compareOnce dumps the kernel and fibd and compares them.
func (s *soak) compareOnce() (*comparison, error) {
	tables, err := s.mirrored()
	if err != nil {
		return nil, err
	}
	k, err := dumpKernel(s.l.rt, tables)
	if err != nil {
		return nil, err
	}
	f := map[uint32]*ftable{}
	for _, t := range tables {
		if f[t], err = dumpFibd(s.l.ctlAddr, t, 30*time.Second+time.Duration(s.l.want4+s.l.want6)*time.Second/10000); err != nil {
			return nil, err
		}
	}
	c := compare(k, f, s.sample, s.cfg.Sample)
	if c.nbad > 0 {
		return c, nil
	}
	// a few through fdpi_cli's single lookup too (the real command)
	for i := 0; i < 10; i++ {
		t := tables[s.sample.IntN(len(tables))]
		kt := k.tables[t]
		if len(kt.routes) == 0 {
			continue
		}
		p := kt.routes[s.sample.IntN(len(kt.routes))]
		out, err := exec.Command(s.l.bin+"/fdpi_cli", "-r", s.l.ctlAddr, "--json", "router", "fib", "lookup", p.Addr().String(),
			fmt.Sprintf("table=%d", t)).Output()
		if err != nil {
			return nil, fmt.Errorf("fdpi_cli router fib lookup: %w", err)
		}
		var v struct {
			Nexthop nexthop `json:"nexthop"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			return nil, fmt.Errorf("fdpi_cli router fib lookup: %w: %s", err, out)
		}
		_, r, _ := kt.lpm.lookup(p.Addr())
		if ok, why := agree(k, r, v.Nexthop); !ok {
			c.add(mismatch{table: t, addr: p.Addr(), route: p.String() + " (fdpi_cli router fib lookup)", kernel: r.String(), fibd: v.Nexthop.String(), why: why})
		}
	}
	return c, nil
}

// trafficFlows pings through fibd: through table 254 in both families,
// and through table 200 (the ip rule); a few tries.
func (s *soak) trafficFlows() bool {
	probes := [][]string{{"-I", clientSrc, dst4}, {"-I", clientSrc2, s.l.t200Dst.String()}, {"-6", dst6}}
	for _, p := range probes {
		ok := false
		for try := 0; try < 5 && !ok; try++ {
			args := append([]string{"netns", "exec", s.l.cl, "ping", "-n", "-q", "-c", "5", "-i", "0.1", "-W", "1"}, p...)
			out, _ := exec.Command("ip", args...).CombinedOutput()
			var sent, got int
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, "packets transmitted") {
					fmt.Sscanf(strings.TrimSpace(l), "%d packets transmitted, %d received", &sent, &got)
				}
			}
			ok = got >= 4
			if !ok {
				s.logf("traffic: ping %s: %d of %d", strings.Join(p, " "), got, sent)
				time.Sleep(2 * time.Second)
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// scrape reads fibd's memory gauges from /metrics.
func (s *soak) scrape() (memSample, error) {
	m := memSample{pid: s.l.fibd.Cmd.Process.Pid}
	resp, err := http.Get("http://" + s.l.metrics + "/metrics")
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	found := 0
	var idle, released, sys float64
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "process_resident_memory_bytes":
			m.rss = v
			found++
		case "go_gc_heap_live_bytes":
			m.goHeap = v
			found++
		case "fibd_dpdk_heap_bytes":
			m.dpdkMem = v
			found++
		case "go_memstats_heap_idle_bytes":
			idle = v
		case "go_memstats_heap_released_bytes":
			released = v
		case "go_memstats_sys_bytes":
			sys = v
		case "go_goroutines":
			m.goroutines = v
		}
	}
	if found != 3 {
		return m, errors.New("/metrics lacks process_resident_memory_bytes, go_gc_heap_live_bytes or fibd_dpdk_heap_bytes")
	}
	m.goRetained = max(idle-released, 0)
	m.goRuntime = max(sys-idle, 0)
	return m, sc.Err()
}

// readStatus splits the process's RSS into its own memory and DPDK's.
func (m *memSample) readStatus() error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.pid))
	if err != nil {
		return err
	}
	kb := map[string]float64{}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if f := strings.Fields(v); ok && len(f) == 2 && f[1] == "kB" {
			n, _ := strconv.ParseFloat(f[0], 64)
			kb[k] = n * 1024
		}
	}
	if _, ok := kb["RssAnon"]; !ok {
		return fmt.Errorf("/proc/%d/status has no RssAnon", m.pid)
	}
	// Own memory leaves out the heap pages the Go runtime freed but keeps
	// for reuse (its scavenger returns them to the kernel over minutes):
	// what is left is what fibd holds and uses.
	m.own, m.shared = max(kb["RssAnon"]+kb["RssFile"]-m.goRetained, 0), kb["RssShmem"]
	m.outside = max(m.own-m.goRuntime, 0)
	return nil
}

// foldFloor takes a memory sample into the current cycle's floor (a new
// fibd process starts a new floor).
func (s *soak) foldFloor() {
	if s.l.fibd == nil || !s.l.fibd.Alive() {
		return
	}
	m, err := s.scrape()
	if err == nil {
		err = m.readStatus()
	}
	if err != nil {
		s.logf("memory: %v", err)
		return
	}
	f := s.floor
	if f == nil || f.pid != m.pid {
		s.floor = &m
		return
	}
	f.rss, f.own, f.shared = min(f.rss, m.rss), min(f.own, m.own), min(f.shared, m.shared)
	f.goHeap, f.dpdkMem = min(f.goHeap, m.goHeap), min(f.dpdkMem, m.dpdkMem)
	f.goRuntime, f.outside = min(f.goRuntime, m.goRuntime), min(f.outside, m.outside)
	f.goroutines = min(f.goroutines, m.goroutines)
}

func (s *soak) sampleMemory(label string) {
	m, err := s.scrape()
	if err != nil {
		s.logf("memory (%s): %v", label, err)
		return
	}
	m.label = label
	if err := m.readStatus(); err != nil {
		s.logf("memory (%s): %v", label, err)
		return
	}
	s.mem = append(s.mem, m)
	s.logMem(m, "")
}

func (s *soak) logMem(m memSample, what string) {
	s.logf("memory (%s%s): RSS %.1f MiB (own %.1f: Go runtime %.1f, outside it %.1f; DPDK's memory touched %.1f), Go heap %.1f MiB, DPDK heap %.1f MiB, %.0f goroutines (fibd pid %d)",
		m.label, what, m.rss/(1<<20), m.own/(1<<20), m.goRuntime/(1<<20), m.outside/(1<<20), m.shared/(1<<20),
		m.goHeap/(1<<20), m.dpdkMem/(1<<20), m.goroutines, m.pid)
}

// summary prints the table of fault kinds and memory, and returns the
// soak's verdict.
func (s *soak) summary() error {
	w := s.out
	fmt.Fprintf(w, "\n==== soak summary (seed %d, %d IPv4 + %d IPv6 routes announced) ====\n", s.cfg.Seed, s.l.want4, s.l.want6)
	fmt.Fprintf(w, "%-10s %6s %11s %9s %15s\n", "fault", "count", "mismatches", "failures", "worst to equal")
	var names []string
	for _, f := range append([]faultKind{{name: "start"}}, allFaults...) {
		if _, ok := s.results[f.name]; ok {
			names = append(names, f.name)
		}
	}
	for _, n := range names {
		r := s.results[n]
		fmt.Fprintf(w, "%-10s %6d %11d %9d %15v\n", n, r.count, r.mismatches, r.failures, r.worst.Round(time.Millisecond))
	}
	for _, p := range s.bg {
		p.Stop(syscall.SIGINT, 3*time.Second)
	}
	s.bg = nil
	if b, err := exec.Command("grep", "-h", "packets transmitted", s.l.dir+"/traffic.log").Output(); err == nil {
		fmt.Fprintf(w, "steady traffic (ping every 20 ms, faults included):\n%s", b)
	}
	var errs []error
	if !s.memFresh && s.l.fibd != nil && s.l.fibd.Alive() {
		s.sampleMemory("end")
	}
	if len(s.mem) > 0 {
		// every sample: the start, each cycle, the end
		byPid := map[int][]memSample{} // complete cycles per fibd process
		var same []memSample           // those of the longest-lived process
		for _, m := range s.mem {
			if strings.HasPrefix(m.label, "cycle") {
				byPid[m.pid] = append(byPid[m.pid], m)
				if len(byPid[m.pid]) > len(same) {
					same = byPid[m.pid]
				}
			}
		}
		fmt.Fprintf(w, "memory        %9s %9s %9s %9s %9s %9s %9s %10s\n", "RSS MiB", "own MiB", "Go rt MiB", "other MiB",
			"Go heap", "DPDK MiB", "touched", "goroutines")
		for _, m := range s.mem {
			fmt.Fprintf(w, "%-13s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %10.0f  (fibd pid %d)\n", m.label, m.rss/(1<<20),
				m.own/(1<<20), m.goRuntime/(1<<20), m.outside/(1<<20), m.goHeap/(1<<20), m.dpdkMem/(1<<20), m.shared/(1<<20),
				m.goroutines, m.pid)
		}
		// Drift once warm, on the longest-lived fibd process: from the
		// floor of its second complete cycle to that of its last. Its
		// first cycle is the warm-up: fibdkill opens the cycle that
		// starts a process, so it is young for much of it (its malloc
		// arenas, goroutine stacks and Go's runtime structures reach
		// their working size over the first faults).
		// RSS is judged without DPDK's own memory: what DPDK's heap holds
		// is judged by its allocations (DPDK heap); the pages its
		// allocator has touched at least once ("touched", counted in RSS
		// only without hugepages) only grow, up to the EAL's -m.
		if len(same) >= 3 {
			warm, last := same[1], same[len(same)-1]
			for _, x := range []struct {
				name string
				a, b float64
			}{{"own RSS", warm.own, last.own}, {"DPDK heap", warm.dpdkMem, last.dpdkMem}, {"Go heap", warm.goHeap, last.goHeap}} {
				d := (x.b - x.a) / x.a * 100
				fmt.Fprintf(w, "drift %-9s %+.1f%% (%s to %s, fibd pid %d)\n", x.name, d, warm.label, last.label, last.pid)
				if d > 5 {
					errs = append(errs, fmt.Errorf("%s grew %.1f%% once warm", x.name, d))
				}
			}
		} else {
			fmt.Fprintf(w, "drift: not judged (no fibd process lived through three complete cycles)\n")
		}
	}
	for _, f := range s.failed {
		errs = append(errs, errors.New(f))
	}
	if len(errs) > 0 && s.l.fibd != nil {
		fmt.Fprintf(w, "fibd's log, last lines:\n%s\n", s.l.fibd.tail(15))
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "RESULT: FAIL, seed %d (%d problems)\n", s.cfg.Seed, len(errs))
		return errors.Join(errs...)
	}
	fmt.Fprintf(w, "RESULT: PASS, seed %d\n", s.cfg.Seed)
	return nil
}
