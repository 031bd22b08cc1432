package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"fibd/test/nstest"
)

// A fault kind: run injects it and returns when the fault is over (the
// lab is back as it was, as far as the operator is concerned); the time
// until the FIB equals the kernel counts from then.
type faultKind struct {
	name, doc string
	run       func(s *soak) (time.Time, error)
}

// allFaults, most valuable first.
var allFaults = []faultKind{
	{"flap", "upstream BGP sessions down (every route withdrawn) and up again", (*soak).flap},
	{"churn", "steady churn: a twentieth of the view withdrawn and announced again and again", (*soak).churn},
	{"portlink", "port B's link down and up (af_packet veth)", (*soak).portLink},
	{"birdkill", "kill -9 of the router's BIRD, then a new one", (*soak).birdKill},
	{"fibdkill", "kill -9 of fibd while BIRD loads the view, then a new fibd", (*soak).fibdKill},
	{"netns", "the router netns deleted and made again with its BIRD", (*soak).netnsRecreate},
	{"rule", "an ip rule to a new table added (table appears), then removed", (*soak).ruleAddDel},
	{"cli", "many concurrent fdpi_cli clients and metrics scrapes, one rib show reading slowly, during churn", (*soak).cliStorm},
	{"mac", "the upstream's interface gets a new MAC", (*soak).macChange},
	{"riblink", "the rib interface ribb down and up", (*soak).ribLink},
	{"addr", "the router's addresses on ribb removed and added again", (*soak).addrDelAdd},
}

func (s *soak) upstreamSessions(verb string) error {
	for _, p := range []string{"r4", "r6"} {
		if out, err := s.l.uBird.c(verb, p); err != nil {
			return fmt.Errorf("birdc %s %s: %w %s", verb, p, err, out)
		}
	}
	return nil
}

func (s *soak) flap() (time.Time, error) {
	if err := s.upstreamSessions("disable"); err != nil {
		return time.Time{}, err
	}
	// until BIRD has withdrawn everything from the kernel
	for deadline := time.Now().Add(s.quietTimeout()); s.countBird("-4", 254) > 0 || s.countBird("-6", 254) > 0; {
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("BIRD's routes still in the kernel %v after the flap", s.quietTimeout())
		}
		time.Sleep(500 * time.Millisecond)
	}
	err := s.upstreamSessions("enable")
	return time.Now(), err
}

// churnFor toggles the churn protocol for d; it returns the number of
// route updates announced.
func (s *soak) churnFor(d time.Duration) (int, error) {
	n := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		for _, verb := range []string{"disable", "enable"} {
			if out, err := s.l.uBird.c(verb, "churn4"); err != nil {
				return n, fmt.Errorf("birdc %s churn4: %w %s", verb, err, out)
			}
			n += len(s.l.churn4)
			time.Sleep(time.Duration(200+s.rng.IntN(600)) * time.Millisecond)
		}
	}
	return n, nil
}

func (s *soak) churnDuration() time.Duration {
	return min(30*time.Second, max(8*time.Second, s.cfg.Duration/40))
}

func (s *soak) churn() (time.Time, error) {
	t0 := time.Now()
	n, err := s.churnFor(s.churnDuration())
	s.logf("churn: %d updates in %v (%.0f/s)", n, time.Since(t0).Round(time.Millisecond), float64(n)/time.Since(t0).Seconds())
	return time.Now(), err
}

func (s *soak) portLink() (time.Time, error) {
	if err := s.l.staticRoutes(); err != nil {
		return time.Time{}, err
	}
	if _, err := nstest.RunErr("ip", "link", "set", s.l.fb, "down"); err != nil {
		return time.Time{}, err
	}
	time.Sleep(time.Duration(1000+s.rng.IntN(3000)) * time.Millisecond)
	_, err := nstest.RunErr("ip", "link", "set", s.l.fb, "up")
	return time.Now(), err
}

func (s *soak) ribLink() (time.Time, error) {
	if err := s.l.staticRoutes(); err != nil {
		return time.Time{}, err
	}
	if err := nstest.IPBatch(s.l.rt, "link set ribb down"); err != nil {
		return time.Time{}, err
	}
	time.Sleep(time.Duration(1000+s.rng.IntN(3000)) * time.Millisecond)
	err := nstest.IPBatch(s.l.rt, "link set ribb up")
	return time.Now(), err
}

func (s *soak) addrDelAdd() (time.Time, error) {
	if err := s.l.staticRoutes(); err != nil {
		return time.Time{}, err
	}
	if err := nstest.IPBatch(s.l.rt, "address del 10.2.0.1/24 dev ribb", "address del 2001:db8:2::1/64 dev ribb"); err != nil {
		return time.Time{}, err
	}
	time.Sleep(time.Duration(1000+s.rng.IntN(3000)) * time.Millisecond)
	err := nstest.IPBatch(s.l.rt, "address add 10.2.0.1/24 dev ribb", "address add 2001:db8:2::1/64 dev ribb nodad")
	return time.Now(), err
}

func (s *soak) birdKill() (time.Time, error) {
	s.l.rBird.Stop(syscall.SIGKILL, 5*time.Second)
	time.Sleep(time.Duration(s.rng.IntN(2000)) * time.Millisecond)
	err := s.l.startRouterBird()
	return time.Now(), err
}

// fibdKill: the upstream sessions restart, and while the router's BIRD
// loads the view into the kernel, fibd is killed and started again.
func (s *soak) fibdKill() (time.Time, error) {
	if err := s.upstreamSessions("disable"); err != nil {
		return time.Time{}, err
	}
	time.Sleep(time.Second)
	if err := s.upstreamSessions("enable"); err != nil {
		return time.Time{}, err
	}
	// into the load: until some routes are back in the kernel
	for deadline := time.Now().Add(30 * time.Second); s.countBird("-4", 254) < s.l.want4/10 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	s.l.fibd.Stop(syscall.SIGKILL, time.Second)
	if err := s.l.startFibd(); err != nil {
		return time.Time{}, err
	}
	return time.Now(), nil
}

// netnsRecreate: the router netns goes (its BIRD with it) and is made
// again under the same name, as a reboot of the routing container would.
func (s *soak) netnsRecreate() (time.Time, error) {
	s.l.rBird.Stop(syscall.SIGTERM, 5*time.Second)
	if _, err := nstest.RunErr("ip", "netns", "del", s.l.rt); err != nil {
		return time.Time{}, err
	}
	// the exception veths die with the namespace, unless something (fibd)
	// still holds it: then they are removed by hand
	time.Sleep(500 * time.Millisecond)
	nstest.DelLinks(s.l.xa, s.l.xb)
	time.Sleep(time.Duration(500+s.rng.IntN(2000)) * time.Millisecond)
	if err := nstest.AddNS(s.l.rt); err != nil {
		return time.Time{}, err
	}
	if err := s.l.setupRouterNS(); err != nil {
		return time.Time{}, err
	}
	err := s.l.startRouterBird()
	return time.Now(), err
}

// ruleAddDel: routes into a new table, then a rule that looks it up (the
// table appears in fibd), checked; then the rule and routes go, checked.
func (s *soak) ruleAddDel() (time.Time, error) {
	// 500 IPv4 /24s in 11.0.0.0/8 and 100 IPv6 /48s in 2a00::/16, at
	// random (some land on prefixes of the view: different tables)
	var lines []string
	seen := map[string]bool{}
	for len(seen) < 500 {
		p := fmt.Sprintf("11.%d.%d.0/24", s.rng.IntN(256), s.rng.IntN(256))
		if !seen[p] {
			seen[p] = true
			lines = append(lines, fmt.Sprintf("route add %s via 10.2.0.2 dev ribb table %d", p, tableNew))
		}
	}
	for len(seen) < 600 {
		p := fmt.Sprintf("2a00:%x:%x::/48", s.rng.IntN(65536), s.rng.IntN(65536))
		if !seen[p] {
			seen[p] = true
			lines = append(lines, fmt.Sprintf("route add %s via 2001:db8:2::2 dev ribb table %d", p, tableNew))
		}
	}
	lines = append(lines, fmt.Sprintf("route add blackhole 10.1.0.64/26 table %d", tableNew))
	if err := nstest.IPBatch(s.l.rt, lines...); err != nil {
		return time.Time{}, err
	}
	pref := strconv.Itoa(900)
	if _, err := nstest.RunErr("ip", "-4", "-n", s.l.rt, "rule", "add", "from", "10.1.0.64/26", "lookup", strconv.Itoa(tableNew), "pref", pref); err != nil {
		return time.Time{}, err
	}
	if _, err := nstest.RunErr("ip", "-6", "-n", s.l.rt, "rule", "add", "from", "2001:db8:1::4000/114", "lookup", strconv.Itoa(tableNew), "pref", pref); err != nil {
		return time.Time{}, err
	}
	if !s.settle("rule", time.Now()) {
		return time.Time{}, fmt.Errorf("with the new table")
	}
	for _, fam := range []string{"-4", "-6"} {
		if _, err := nstest.RunErr("ip", fam, "-n", s.l.rt, "rule", "del", "pref", pref); err != nil {
			return time.Time{}, err
		}
		if _, err := nstest.RunErr("ip", fam, "-n", s.l.rt, "route", "flush", "table", strconv.Itoa(tableNew)); err != nil {
			return time.Time{}, err
		}
	}
	return time.Now(), nil
}

// cliStorm: concurrent fdpi_cli clients of every read command and
// metrics scrapes while the view churns; a rib show whose reader takes a
// few bytes at a time stays open through the check that follows.
func (s *soak) cliStorm() (time.Time, error) {
	// a small receive buffer, so that fibd's answer does not fit in the
	// sockets' buffers even for a small view: fibd must wait for this reader
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	slow, err := d.Dial("tcp", s.l.ctlAddr)
	if err != nil {
		return time.Time{}, err
	}
	if err := writeRequest(slow, []string{"router", "rib", "show", "all"}); err != nil {
		slow.Close()
		return time.Time{}, err
	}
	// the slow reader: 512 bytes every 100 ms, until the check is over
	stopSlow := make(chan struct{})
	slowDone := make(chan int64)
	go func() {
		var n int64
		buf := make([]byte, 512)
		for {
			select {
			case <-stopSlow:
				slow.Close()
				slowDone <- n
				return
			case <-time.After(100 * time.Millisecond):
			}
			slow.SetReadDeadline(time.Now().Add(time.Second))
			k, err := slow.Read(buf)
			n += int64(k)
			if err != nil && !os.IsTimeout(err) {
				<-stopSlow
				slowDone <- n
				return
			}
		}
	}()
	cmds := [][]string{{"router", "status"}, {"router", "rib", "show", "198.18.0.1"}, {"router", "arp", "show"},
		{"router", "ndp", "show"}, {"router", "device", "show"}, {"router", "rule", "show"}, {"router", "stats", "show"},
		{"router", "fib", "lookup", dst4}, {"router", "fib", "lookup", dst6}, {"router", "fib", "lookup", s.l.t200Dst.String(), "table=200"},
		{"router", "fib", "lookup", dst4, "iif=riba", "from=" + clientSrc2}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	fail := func(e string) {
		mu.Lock()
		if len(errs) < 5 {
			errs = append(errs, e)
		}
		mu.Unlock()
	}
	stop := make(chan struct{})
	clients, scrapes, refusedBusy := 0, 0, 0
	for g := 0; g < 12; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := cmds[(g+i)%len(cmds)]
				args := append([]string{"-r", s.l.ctlAddr, "-t", "30", "--json", "--strict"}, c...)
				out, err := exec.Command(s.l.bin+"/fdpi_cli", args...).CombinedOutput()
				// fibd answers at most two rib shows at once and refuses
				// the others at once, saying so: an answer, not a failure
				busy := err != nil && c[1] == "rib" && strings.Contains(string(out), "busy:")
				if err != nil && !busy {
					fail(fmt.Sprintf("fdpi_cli %s: %v %s", strings.Join(c, " "), err, out))
				}
				mu.Lock()
				clients++
				if busy {
					refusedBusy++
				}
				mu.Unlock()
			}
		}(g)
	}
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &http.Client{Timeout: 30 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := cl.Get("http://" + s.l.metrics + "/metrics")
				if err != nil {
					fail(fmt.Sprintf("metrics: %v", err))
					continue
				}
				sc := bufio.NewScanner(resp.Body)
				lines := 0
				for sc.Scan() {
					lines++
				}
				resp.Body.Close()
				if lines < 10 {
					fail(fmt.Sprintf("metrics: %d lines", lines))
				}
				mu.Lock()
				scrapes++
				mu.Unlock()
			}
		}()
	}
	n, cerr := s.churnFor(s.churnDuration())
	close(stop)
	wg.Wait()
	s.logf("cli: %d fdpi_cli answers (%d rib shows refused as busy), %d metrics scrapes, %d churn updates meanwhile", clients, refusedBusy, scrapes, n)
	t := time.Now()
	ok := s.settle("cli", t)
	close(stopSlow)
	read := <-slowDone
	s.logf("cli: the slow rib show reader took %d bytes", read)
	if cerr != nil {
		return time.Time{}, cerr
	}
	if len(errs) > 0 {
		return time.Time{}, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	if !ok {
		return time.Time{}, fmt.Errorf("while the slow rib show was open")
	}
	return t, nil
}

// macChange gives the upstream's interface a new MAC; the router's
// kernel learns it from what the upstream's kernel announces, or when its
// entry gets stale, and fibd must follow.
func (s *soak) macChange() (time.Time, error) {
	mac := net.HardwareAddr{0x02, 0x5a, byte(s.rng.Uint32()), byte(s.rng.Uint32()), byte(s.rng.Uint32()), byte(s.rng.Uint32())}
	if err := nstest.IPBatch(s.l.up, "link set pb address "+mac.String()); err != nil {
		return time.Time{}, err
	}
	s.l.peerMAC = mac.String()
	return time.Now(), nil
}
