package test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"fibd/ports/pcap"
	"fibd/test/nstest"
)

// running is a fibd started for the duration of a test, with fdpi_cli.
type running struct {
	cmd    *exec.Cmd
	cli    string
	addr   string
	secret string // the control secret's file (fibd_cli_secret)
	out    *syncBuffer
	conf   string
	done   chan struct{} // closed when fibd has exited
}

// stop ends fibd with SIGTERM and waits for it.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Fatal("fibd did not stop within 20s of SIGTERM")
	}
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startFibd runs fibd on the three-port pcap lab with static routes until
// the test ends, and waits for its control server.
func startFibd(t *testing.T, extra, static string) *running {
	t.Helper()
	return startFibdAt(t, extra, static, "")
}

// startFibdAt is startFibd with the control server at addr ("" = the
// lab's loopback port).
func startFibdAt(t *testing.T, extra, static, addr string) *running {
	t.Helper()
	fibdBin(t)
	l := newLab(t, extra)
	writePcap(t, l.path("in.pcap"), nil)
	return l.startAt(t, static, addr)
}

// start runs fibd on the lab's configuration (router=1 in it) until the
// test ends.
func (l *lab) start(t *testing.T) *running {
	t.Helper()
	return l.startAt(t, "", "")
}

func (l *lab) startAt(t *testing.T, static, addr string) *running {
	t.Helper()
	bin := fibdBin(t)
	cli := filepath.Join(filepath.Dir(bin), "fdpi_cli")
	if _, err := os.Stat(cli); err != nil {
		t.Skipf("fdpi_cli not built: %v", err)
	}
	if err := os.WriteFile(l.path("static.routes"), []byte(static), 0o644); err != nil {
		t.Fatal(err)
	}
	if addr == "" {
		addr = fmt.Sprintf("127.0.0.1:%d", l.port)
	}
	r := &running{cli: cli, addr: addr, secret: l.path("cli.secret"), out: &syncBuffer{}, conf: l.path("fastdpi.conf")}
	args := []string{"-c", r.conf, "--duration", "10m", "-q", "--log-level", "info"}
	if static != "" { // else router=1 in the configuration
		args = append(args, "--static", l.path("static.routes"))
	}
	r.cmd = exec.Command(bin, args...)
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	r.done = done
	go func() { r.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			r.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("fibd's output:\n%s", r.out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", r.addr)
		if err == nil {
			c.Close()
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("control server never came up: %v\n%s", err, r.out.String())
		}
		select {
		case <-done:
			t.Fatalf("fibd exited: %s", r.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// fdpi runs fdpi_cli with the control secret, as root would, and returns
// stdout, stderr and the exit status.
func (r *running) fdpi(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return r.fdpiAs(t, r.secret, args...)
}

// fdpiIn runs fdpi_cli as fdpi does, with stdin as its standard input.
func (r *running) fdpiIn(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	return r.run(t, r.secret, strings.NewReader(stdin), args...)
}

// fdpiAs runs fdpi_cli with the secret in file secret ("": unsigned
// requests, as a user who cannot read the secret sends them).
func (r *running) fdpiAs(t *testing.T, secret string, args ...string) (string, string, int) {
	t.Helper()
	return r.run(t, secret, nil, args...)
}

func (r *running) run(t *testing.T, secret string, stdin io.Reader, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(r.cli, append([]string{"-r", r.addr, "-k", secret}, args...)...)
	cmd.Stdin = stdin
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return so.String(), se.String(), code
}

const cliStatic = `address add 198.51.100.1/24 dev net_pcap1
address add 203.0.113.1/24 dev net_pcap2
address add 2001:db8:1::1/64 dev net_pcap1
neigh add 198.51.100.2 lladdr 02:00:00:00:01:02 dev net_pcap1
neigh add 203.0.113.2 lladdr 02:00:00:00:02:02 dev net_pcap2
neigh add 2001:db8:1::2 lladdr 02:00:00:00:01:02 dev net_pcap1
route add default via 198.51.100.2
route add 8.8.8.0/24 via 203.0.113.2
route add 1.1.1.0/24 nexthop via 198.51.100.2 dev net_pcap1 nexthop via 203.0.113.2 dev net_pcap2
route add blackhole 9.9.9.0/24
route add 2001:db8:100::/48 via 2001:db8:1::2
`

// TestCLI drives every router command through the real fdpi_cli against a
// running fibd and checks text and JSON answers.
func TestCLI(t *testing.T) {
	r := startFibd(t, "", cliStatic)

	out, _, code := r.fdpi(t, "help", "router")
	if code != 0 || !strings.Contains(out, "router fib lookup IP [table=N | iif=IFACE [from=IP]]") {
		t.Fatalf("help router: %d %q", code, out)
	}
	out, _, _ = r.fdpi(t, "router", "status")
	for _, want := range []string{"mode            static", "routes          ", "workers         1"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	// fib lookup, text and JSON
	out, _, code = r.fdpi(t, "router", "fib", "lookup", "8.8.8.8")
	if code != 0 || !strings.Contains(out, "via 02:00:00:00:02:02 dev net_pcap2") {
		t.Errorf("lookup 8.8.8.8: %d %q", code, out)
	}
	out, _, _ = r.fdpi(t, "--json", "--strict", "router", "fib", "lookup", "1.1.1.1")
	var lk struct {
		Address string `json:"address"`
		Table   uint32 `json:"table"`
		Nexthop struct {
			Type    string `json:"type"`
			Members []struct {
				Device string `json:"device"`
				MAC    string `json:"mac"`
			} `json:"members"`
		} `json:"nexthop"`
	}
	if err := json.Unmarshal([]byte(out), &lk); err != nil || lk.Nexthop.Type != "ecmp" || len(lk.Nexthop.Members) != 2 {
		t.Errorf("lookup 1.1.1.1 JSON: %v %q", err, out)
	}
	out, _, _ = r.fdpi(t, "--json", "router", "fib", "lookup", "9.9.9.9")
	if !strings.Contains(out, `"type":"blackhole"`) {
		t.Errorf("blackhole lookup: %q", out)
	}
	out, _, _ = r.fdpi(t, "--json", "router", "fib", "lookup", "2001:db8:100::7")
	if !strings.Contains(out, `"mac":"02:00:00:00:01:02"`) {
		t.Errorf("IPv6 lookup: %q", out)
	}

	// rib show streams one JSON object per line; a CIDR filters
	out, _, _ = r.fdpi(t, "--json", "--strict", "router", "rib", "show")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 10 {
		t.Errorf("rib show: %d lines", len(lines))
	}
	out, _, _ = r.fdpi(t, "router", "rib", "show", "8.0.0.0/8")
	if strings.TrimSpace(out) != "8.8.8.0/24 via 02:00:00:00:02:02 dev net_pcap2" {
		t.Errorf("rib show 8.0.0.0/8: %q", out)
	}

	// neighbours
	out, _, _ = r.fdpi(t, "router", "arp", "show")
	if !strings.Contains(out, "198.51.100.2") || !strings.Contains(out, "203.0.113.2") || strings.Contains(out, "2001:") {
		t.Errorf("arp show: %q", out)
	}
	out, _, _ = r.fdpi(t, "router", "ndp", "show")
	if !strings.Contains(out, "2001:db8:1::2") || strings.Contains(out, "198.51") {
		t.Errorf("ndp show: %q", out)
	}

	// devices, lags, stats
	out, _, _ = r.fdpi(t, "--json", "--strict", "router", "device", "show")
	if strings.Count(out, `"device":`) != 3 || !strings.Contains(out, `"link_up":true`) {
		t.Errorf("device show: %q", out)
	}
	out, _, _ = r.fdpi(t, "router", "lag", "show")
	if !strings.Contains(out, "no lag sections") {
		t.Errorf("lag show: %q", out)
	}
	out, _, _ = r.fdpi(t, "--json", "router", "stats", "show")
	var st stats
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Ports) != 3 {
		t.Errorf("stats show JSON: %v %q", err, out)
	}
	if _, _, code := r.fdpi(t, "router", "stats", "reset"); code != 0 {
		t.Errorf("stats reset: %d", code)
	}
	out, _, code = r.fdpi(t, "router", "fib", "refresh")
	if code != 0 || !strings.Contains(out, "reprogrammed") {
		t.Errorf("fib refresh: %d %q", code, out)
	}

	// errors: unknown command, bad target, bad table; fibd keeps serving
	if _, se, code := r.fdpi(t, "router", "bogus"); code != 1 || !strings.Contains(se, "unknown command") {
		t.Errorf("bogus: %d %q", code, se)
	}
	if _, se, code := r.fdpi(t, "router", "fib", "lookup", "not-an-ip"); code != 1 || !strings.Contains(se, "bad target") {
		t.Errorf("bad target: %d %q", code, se)
	}
	if _, se, code := r.fdpi(t, "router", "fib", "lookup", "1.2.3.4", "table=77"); code != 1 || !strings.Contains(se, "no such table") {
		t.Errorf("bad table: %d %q", code, se)
	}
	// raw garbage and an oversized request get an error line, not a crash
	for _, raw := range []string{"garbage\n", `{"args":["` + strings.Repeat("x", 20000) + `"]}` + "\n"} {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(raw))
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if !strings.HasPrefix(line, "error ") {
			t.Errorf("raw %.20q: answer %q", raw, line)
		}
	}
	if _, _, code := r.fdpi(t, "router", "status"); code != 0 {
		t.Fatal("fibd stopped answering after bad requests")
	}
}

// TestCLIJSONFields pins the JSON field names of every command's answer:
// scripts rely on them, so a change must be deliberate. The commands come
// from fibd's own table ("fdpi_cli --json help router"): a new command
// without a pinned entry here fails the test. fibd runs with router=1 on a
// scratch router netns, so that every command has something to say, and
// with router_rtnl_pcap=1, whose recording is checked afterwards.
func TestCLIJSONFields(t *testing.T) {
	fibdBin(t)
	ns := fmt.Sprintf("fibdj%d", os.Getpid())
	nstest.NS(t, ns)
	nstest.Batch(t, ns,
		"link add rib0 type veth peer name nbr0", "link add rib1 type veth peer name nbr1",
		"link set rib0 up", "link set rib1 up", "link set nbr0 up", "link set nbr1 up",
		"address add 192.0.2.1/24 dev rib0", "address add 198.51.100.1/24 dev rib1",
		"address add 2001:db8:1::1/64 dev rib1 nodad",
		"neigh add 198.51.100.2 lladdr 02:00:00:00:01:02 dev rib1 nud permanent",
		"neigh add 2001:db8:1::2 lladdr 02:00:00:00:01:02 dev rib1 nud permanent",
		"route add 8.8.8.0/24 via 198.51.100.2 table 100",
		"route add 2001:db8:100::/48 via 2001:db8:1::2 table 100",
		"nexthop add id 7 via 198.51.100.2 dev rib1",
		"route add 9.9.9.0/24 nhid 7 table 100",
		"rule add from 192.0.2.0/24 lookup 100 pref 100")
	dump := t.TempDir()
	// A lag of two null devices (pcap devices cannot be bonded: they take
	// no MAC address), so that lag show has one.
	l := newLabWith(t, func(dir string) string {
		return fmt.Sprintf(`in_dev=net_pcap0
out_dev=net_pcap1:net_null0:net_null1
fibd_vdev=net_pcap0,rx_pcap=%[1]s/in.pcap,tx_pcap=%[1]s/out0.pcap
fibd_vdev=net_pcap1,tx_pcap=%[1]s/out1.pcap
fibd_vdev=net_null0,no-rx=1
fibd_vdev=net_null1,no-rx=1
router=1
fibd_exception=none
router_netns=%[2]s
router_kernel_table=100
router_subs_announce=7
router_rtnl_pcap=1
ajb_udpi_path=%[3]s
bras_arp_mac=02:00:00:00:00:fe
bras_arp_ip=192.0.2.254
lag {
name=up
mode=balance
device=net_null0
device=net_null1
}
router_device {
device=net_pcap0
peer=rib0
}
router_device {
device=net_pcap1
peer=rib1
}`, dir, ns, dump)
	})
	writePcap(t, l.path("in.pcap"), nil)
	r := l.start(t)
	// Every answer, in the order they run: actions change what the next
	// ones see (announce add before announce show). fields are the keys
	// of the first JSON line; a list command must have one.
	ok := []string{"message", "ok"}
	want := []struct {
		args   string
		fields []string
	}{
		{"router status", []string{"config", "fib_rebuilds", "grace_stalls", "kernel_table", "mirroring", "mode", "netlink_events", "netns", "nexthops", "overruns", "ports", "resyncs", "routes4", "routes6", "routes_refused", "stalled_workers", "uptime_seconds", "workers"}},
		{"router fib lookup 8.8.8.8", []string{"address", "nexthop", "nexthop_index", "table"}},
		{"router rib show 8.0.0.0/8", []string{"nexthop", "prefix", "table"}},
		{"router arp show", []string{"address", "device", "mac"}},
		{"router ndp show", []string{"address", "device", "mac"}},
		{"router device show", []string{"device", "dir", "driver", "link_up", "mac", "peer", "port", "rx_missed", "rx_packets", "speed_mbps", "tap", "tx_packets"}},
		{"router lag show", []string{"devices", "dir", "name"}},
		{"router rule show", []string{"evaluated", "rule"}},
		{"router nexthop show", []string{"dev", "fib_index", "gateway", "id", "routes"}},
		{"router stats show", []string{"drops", "forwarded", "nexthops", "ports", "router", "routes4", "routes6", "routes_refused", "seconds", "workers"}},
		{"router stats reset", append([]string{"ports", "workers"}, ok...)},
		{"router fib refresh", append([]string{"source"}, ok...)},
		{"router reload", append([]string{"applied"}, ok...)},
		{"router announce add 100.64.1.7", append([]string{"dir", "prefix"}, ok...)},
		{"router announce show", []string{"dir", "prefix"}},
		// nexthop lines come first; the prefix lines (table, prefix,
		// nexthop_index, first, last) are pinned by TestFIBDump
		{"router fib dump table=100", []string{"nexthop", "nexthop_index"}},
		{"router announce del 100.64.1.7", append([]string{"dir", "prefix"}, ok...)},
		{"router announce accept 100.64.1.8", append([]string{"dir", "event", "prefix"}, ok...)},
		{"router announce reject 100.64.1.8", append([]string{"dir", "event", "prefix"}, ok...)},
		{"router announce stop 100.64.1.8", append([]string{"dir", "event", "prefix"}, ok...)},
		{"router announce batch", append([]string{"dir", "event", "line", "prefix"}, ok...)},
	}
	stdin := map[string]string{"router announce batch": "accept 100.64.1.9\n"} // fdpi_cli reads the batch
	out, se, code := r.fdpi(t, "--json", "--strict", "help", "router")
	if code != 0 {
		t.Fatalf("help router: %d %s", code, se)
	}
	commands := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var h struct {
			Command     string `json:"command"`
			Synopsis    string `json:"synopsis"`
			Doc         string `json:"doc"`
			NeedsSecret bool   `json:"needs_secret"`
		}
		if err := json.Unmarshal([]byte(line), &h); err != nil || h.Command == "" || h.Doc == "" {
			t.Fatalf("help router: %q: %v", line, err)
		}
		commands[h.Command] = true
	}
	text, _, _ := r.fdpi(t, "help", "router")
	for c := range commands {
		if !strings.Contains(text, c+" ") {
			t.Errorf("help router (text) does not list %q:\n%s", c, text)
		}
	}
	pinned := map[string]bool{}
	for _, w := range want {
		args := strings.Fields(w.args)
		name := ""
		for c := range commands { // the longest command the words start with
			if strings.HasPrefix(w.args+" ", c+" ") && len(c) > len(name) {
				name = c
			}
		}
		if name == "" {
			t.Errorf("%q: not a command of fibd (help router: %v)", w.args, commands)
			continue
		}
		pinned[name] = true
		out, se, code := r.fdpiIn(t, stdin[w.args], append([]string{"--json", "--strict"}, args...)...)
		if code != 0 {
			t.Errorf("%s: %d %s", w.args, code, se)
			continue
		}
		first := strings.SplitN(strings.TrimSpace(out), "\n", 2)[0]
		var m map[string]any
		if err := json.Unmarshal([]byte(first), &m); err != nil {
			t.Errorf("%s: %v (answer %q)", w.args, err, out)
			continue
		}
		var got []string
		for k := range m {
			got = append(got, k)
		}
		sort.Strings(got)
		if !slices.Equal(got, slices.Sorted(slices.Values(w.fields))) {
			t.Errorf("%s: fields %v, want %v", w.args, got, w.fields)
		}
		if slices.Contains(w.fields, "ok") && m["ok"] != true {
			t.Errorf("%s: %q, want ok:true", w.args, first)
		}
	}
	for c := range commands {
		if !pinned[c] {
			t.Errorf("command %q has no pinned JSON fields in this test", c)
		}
	}
	// Failures under --json: one JSON object, ok:false and the error, and
	// the exit status of a failure.
	for _, args := range [][]string{
		{"router", "fib", "lookup", "1.2.3.4", "table=77"},
		{"router", "bogus"},
		{"router", "announce", "add", "0.0.0.0/0"},
	} {
		out, _, code := r.fdpi(t, append([]string{"--json", "--strict"}, args...)...)
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil || code != 1 || m["ok"] != false || m["error"] == "" || len(m) != 2 {
			t.Errorf("%v: %d %q, want exit 1 and {\"ok\":false,\"error\":...}", args, code, out)
		}
	}
	if out, _, code := r.fdpiAs(t, "", "--json", "router", "stats", "reset"); code != 1 || !strings.Contains(out, `"ok":false`) || !strings.Contains(out, "control secret") {
		t.Errorf("unsigned stats reset under --json: %d %q", code, out)
	}
	r.stop(t)
	checkRtnlPcap(t, dump)
}

// TestReloadHotAndCold: SIGHUP applies a changed hot parameter and refuses
// a changed cold one, naming it, keeping the running configuration.
func TestReloadHotAndCold(t *testing.T) {
	r := startFibd(t, "", cliStatic)
	conf, err := os.ReadFile(r.conf)
	if err != nil {
		t.Fatal(err)
	}
	// hot: the idle back-off
	hot := strings.Replace(string(conf), "fibd_idle_sleep_us=50", "fibd_idle_sleep_us=500", 1)
	if hot == string(conf) {
		t.Fatal("lab config has no fibd_idle_sleep_us=50")
	}
	os.WriteFile(r.conf, []byte(hot), 0o644)
	r.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, r, "SIGHUP: configuration reloaded")
	if !strings.Contains(r.out.String(), "fibd_idle_sleep_us") {
		t.Errorf("hot parameter not reported as applied:\n%s", r.out.String())
	}
	// cold: the route limit, refused
	cold := strings.Replace(hot, "router_max_ip4_route_count=65536", "router_max_ip4_route_count=70000", 1)
	os.WriteFile(r.conf, []byte(cold), 0o644)
	r.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, r, "cold parameter(s) [router_max_ip4_route_count] changed")
	// The same through fdpi_cli: refused, exit status 1, fibd still fine.
	_, se, code := r.fdpi(t, "router", "reload")
	if code != 1 || !strings.Contains(se, "router_max_ip4_route_count") {
		t.Errorf("router reload with a cold change: %d %q", code, se)
	}
	os.WriteFile(r.conf, []byte(hot), 0o644)
	out, _, code := r.fdpi(t, "router", "reload")
	if code != 0 || !strings.Contains(out, "unchanged") {
		t.Errorf("router reload back to the running config: %d %q", code, out)
	}
}

func waitLog(t *testing.T, r *running, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("fibd never logged %q:\n%s", s, r.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMetrics scrapes /metrics of a running fibd after it forwarded the
// lab's capture and checks counters against what fdpi_cli reports.
func TestMetrics(t *testing.T) {
	r := startFibd(t, "", cliStatic)
	port := strings.TrimPrefix(r.addr, "127.0.0.1:")
	p, _ := strconv.Atoi(port)
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", p+1)
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /metrics: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		`fibd_fib_routes{family="ipv4"} `,
		`fibd_port_rx_packets_total{device="net_pcap0"} `,
		`fibd_drops_total{reason="no_route"} `,
		`fibd_port_link_up{device="net_pcap1"} 1`,
		`fibd_worker_forwarded_packets_total{worker="0"} `,
		`fibd_router_neighbours{family="ipv4"} 2`,
		`fibd_router_neighbours{family="ipv6"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The route count agrees with fdpi_cli.
	out, _, _ := r.fdpi(t, "--json", "router", "status")
	var st struct {
		Routes4 uint64 `json:"routes4"`
	}
	json.Unmarshal([]byte(out), &st)
	if !strings.Contains(body, fmt.Sprintf(`fibd_fib_routes{family="ipv4"} %d`, st.Routes4)) {
		t.Errorf("fibd_fib_routes ipv4 != %d (fdpi_cli)", st.Routes4)
	}
}

// TestCLIRemoteOnlyWhenConfigured: by default the control server answers
// on loopback only; another host (a namespace behind a veth) reaches it
// only when fibd_cli_listen names an address it can reach, and then only
// with the control secret, whatever the command.
func TestCLIRemoteOnlyWhenConfigured(t *testing.T) {
	fibdBin(t)
	ns := fmt.Sprintf("fibdc%d", os.Getpid())
	nstest.NS(t, ns)
	nstest.Veth(t, "", "fibdc0", ns, "fibdc1")
	nstest.Batch(t, "", "address add 198.51.100.77/30 dev fibdc0")
	nstest.Batch(t, ns, "address add 198.51.100.78/30 dev fibdc1")
	remote := func(r *running, addr, secret string) (string, int) {
		cmd := exec.Command("ip", "netns", "exec", ns, r.cli, "-r", addr, "-k", secret, "-t", "2", "router", "status")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		return string(out), 0
	}

	r := startFibd(t, "", cliStatic) // default: loopback
	port := strings.TrimPrefix(r.addr, "127.0.0.1:")
	if out, code := remote(r, "198.51.100.77:"+port, r.secret); code == 0 {
		t.Fatalf("a remote host reached the loopback-only control server:\n%s", out)
	}
	r.stop(t)

	p, _ := strconv.Atoi(port)
	r2 := startFibdAt(t, fmt.Sprintf("fibd_cli_listen=198.51.100.77:%d", p+2), cliStatic, fmt.Sprintf("198.51.100.77:%d", p+2))
	if out, code := remote(r2, r2.addr, r2.secret); code != 0 || !strings.Contains(out, "mode") {
		t.Fatalf("configured address not reachable: %d\n%s", code, out)
	}
	// Another host needs the secret even to read.
	if out, code := remote(r2, r2.addr, ""); code != 1 || !strings.Contains(out, "needs the control secret") {
		t.Fatalf("a remote client without the secret: %d\n%s", code, out)
	}
}

// checkRtnlPcap reads fibd's router_rtnl_pcap files in dir: the exchange
// with the kernel, each message after a Linux cooked header (as nlmon
// captures have it) whose packet type says who sent it. It wants fibd's
// own route dump requests (to the kernel), the kernel's dump replies
// (NLM_F_MULTI), its notifications (to fibd), and fibd's announcement
// requests (announce add, del: to the kernel).
func checkRtnlPcap(t *testing.T, dir string) {
	t.Helper()
	const packetUser, packetKernel = 6, 7 // linux/if_packet.h: to user space, to kernel space
	files, _ := filepath.Glob(filepath.Join(dir, "rtnl_*.pcap"))
	if len(files) == 0 {
		t.Fatalf("router_rtnl_pcap=1 wrote no rtnl_*.pcap in %s", dir)
	}
	var requests, replies, notifications, announcements, other int
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pcap.NewReader(f)
		if err != nil || r.LinkType() != 253 {
			t.Fatalf("%s: %v, link type %d, want 253 (LINKTYPE_NETLINK)", name, err, r.LinkType())
		}
		for {
			_, b, _, err := r.Next()
			if err != nil {
				break
			}
			if len(b) < 16+unix.NLMSG_HDRLEN || binary.BigEndian.Uint16(b[2:]) != 824 || binary.BigEndian.Uint16(b[14:]) != unix.NETLINK_ROUTE {
				t.Fatalf("%s: a record without the cooked header of ARPHRD_NETLINK, NETLINK_ROUTE: % x", name, b[:min(len(b), 32)])
			}
			dir, m := binary.BigEndian.Uint16(b), b[16:]
			typ, flags := binary.NativeEndian.Uint16(m[4:]), binary.NativeEndian.Uint16(m[6:])
			switch {
			case dir == packetKernel && typ == unix.RTM_GETROUTE && flags&unix.NLM_F_DUMP == unix.NLM_F_DUMP:
				requests++
			case dir == packetKernel && (typ == unix.RTM_NEWROUTE || typ == unix.RTM_DELROUTE) && len(m) > 21 && m[21] == 252:
				announcements++ // fibd's announcement routes (protocol 252)
			case dir == packetUser && typ == unix.RTM_NEWROUTE && flags&unix.NLM_F_MULTI != 0:
				replies++
			case dir == packetUser && (typ == unix.RTM_NEWROUTE || typ == unix.RTM_DELROUTE) && flags&unix.NLM_F_MULTI == 0:
				notifications++
			case dir != packetUser && dir != packetKernel:
				t.Errorf("%s: packet type %d, want %d or %d", name, dir, packetUser, packetKernel)
			default:
				other++
			}
		}
		f.Close()
	}
	// "fib refresh" dumps both families (the recording may start after
	// the first dump); announce add and del write two routes each
	// (router_subs_announce=7: both directions).
	if requests < 2 || replies < 2 || notifications < 4 || announcements < 4 {
		t.Errorf("rtnetlink recording %v: %d dump requests from fibd, %d dump replies, %d route notifications, %d announcement requests (%d other)",
			files, requests, replies, notifications, announcements, other)
	}
	t.Logf("rtnetlink recording: %d dump requests, %d dump replies, %d route notifications, %d announcement requests, %d other",
		requests, replies, notifications, announcements, other)
	// tshark reads the same: fibd's dump requests by their direction.
	if _, err := exec.LookPath("tshark"); err == nil {
		n := 0
		for _, name := range files {
			out, err := exec.Command("tshark", "-r", name, "-Y", "frame[1] == 7 && netlink-route.nltype == 26").Output()
			if err != nil {
				t.Fatalf("tshark -r %s: %v", name, err)
			}
			n += strings.Count(string(out), "Netlink route")
		}
		t.Logf("tshark: %d dump requests from fibd", n)
		if n != requests {
			t.Errorf("tshark finds %d dump requests from fibd, the test %d", n, requests)
		}
	}
}
