package test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"fibd/ports/pcap"
	"fibd/test/fullview"
	"fibd/test/nstest"
	"fibd/test/testbird"
)

// xlab is the exception path's end-to-end topology. fibd's three ports are
// af_packet vdevs on veths whose other ends are in host namespaces:
//
//	cl (client)  ca ── fa  port A (in_dev)   managed TAP  riba ┐
//	up (BGP)     pb ── fb  port B (out_dev)  veth xb ── ribb   ├ rt: BIRD
//	os (OSPF)    pc ── fc  port C (out_dev)  managed TAP  ribc ┘
//
// up announces 10,000 IPv4 and 1,000 IPv6 routes plus 198.18.0.0/24 over
// eBGP (IPv4 and IPv6 sessions); os announces 198.18.0.0/16 over OSPFv2.
// Both answer for 198.18.0.1, the client's destination.
type xlab struct {
	sfx            string // names are unique per test process
	rt, cl, up, os string // namespaces
	fa, fb, fc, xb string // root-namespace interfaces
	r              *running
	dump           string // ajb_udpi_path: the TAP captures
	routerBird     *testbird.Bird
	upBird         *testbird.Bird
	osBird         *testbird.Bird
}

func newXlab(t *testing.T) *xlab {
	fibdBin(t)
	nstest.Tools(t, "bird", "birdc")
	s := strconv.Itoa(os.Getpid() % 100000)
	x := &xlab{sfx: s, rt: "xrt" + s, cl: "xcl" + s, up: "xup" + s, os: "xos" + s,
		fa: "xfa" + s, fb: "xfb" + s, fc: "xfc" + s, xb: "xxb" + s}
	nstest.NS(t, x.rt, x.cl, x.up, x.os)
	nstest.Links(t, x.fa, x.fb, x.fc, x.xb)
	nstest.Batch(t, "",
		"link add "+x.fa+" type veth peer name ca netns "+x.cl,
		"link add "+x.fb+" type veth peer name pb netns "+x.up,
		"link add "+x.fc+" type veth peer name pc netns "+x.os,
		// the manual's layout for port B: dpi end here, rib end in the router netns
		"link add "+x.xb+" type veth peer name ribb netns "+x.rt,
		"link set "+x.fa+" up", "link set "+x.fb+" up", "link set "+x.fc+" up")
	nstest.Batch(t, x.cl, "link set ca up", "address add 10.1.0.2/24 dev ca", "address add 2001:db8:1::2/64 dev ca nodad",
		"route add default via 10.1.0.1", "route add ::/0 via 2001:db8:1::1")
	nstest.Batch(t, x.up, "link set pb up", "address add 10.2.0.2/24 dev pb", "address add 2001:db8:2::2/64 dev pb nodad",
		"address add 198.18.0.1/32 dev lo", "address add 2001:db8:ffff::1/128 dev lo",
		"route add 10.1.0.0/24 via 10.2.0.1", "route add 2001:db8:1::/64 via 2001:db8:2::1")
	nstest.Batch(t, x.os, "link set pc up", "address add 10.3.0.2/24 dev pc", "address add 198.18.0.1/32 dev lo",
		"route add 10.1.0.0/24 via 10.3.0.1")
	nstest.Batch(t, x.rt, "link set ribb up", "address add 10.2.0.1/24 dev ribb", "address add 2001:db8:2::1/64 dev ribb nodad")
	// veths hand unfinished TCP checksums to af_packet (DESIGN.md)
	for _, c := range [][2]string{{x.cl, "ca"}, {x.up, "pb"}, {x.os, "pc"}, {x.rt, "ribb"}} {
		nstest.Exec(t, c[0], "ethtool", "-K", c[1], "tx", "off")
	}
	for _, k := range []string{"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"} {
		nstest.Exec(t, x.rt, "sysctl", "-qw", k)
	}

	x.dump = t.TempDir()
	l := newLabAt(t, routerConf(x.rt, []string{x.fa}, []string{x.fb, x.fc})+fmt.Sprintf(`
router_tap_pcap=all
router_rtnl_pcap=1
ajb_udpi_path=%[3]s
fibd_punt_rate_proto=2000
bras_ipv6_address=2001:db8:fe::1
router_device {
device=net_af_packet0
tap=xta%[1]s
peer=riba
}
router_device {
device=net_af_packet1
tap=%[2]s
peer=ribb
subnet=10.2.0.0/24
subnet6=2001:db8:2::/64
}
router_device {
device=net_af_packet2
tap=xtc%[1]s
peer=ribc
subnet=224.0.0.5/32
subnet=224.0.0.6/32
}`, s, x.xb, x.dump))
	x.r = l.start(t)
	// fibd made the TAPs of ports A and C in the router netns.
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _ := exec.Command("ip", "-n", x.rt, "link").CombinedOutput()
		if strings.Contains(string(out), "riba") && strings.Contains(string(out), "ribc") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no riba/ribc in %s:\n%s\nfibd:\n%s", x.rt, out, x.r.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	nstest.Batch(t, x.rt, "address add 10.1.0.1/24 dev riba", "address add 2001:db8:1::1/64 dev riba nodad",
		"address add 10.3.0.1/24 dev ribc")
	return x
}

// routerConf is the start of a router=1 configuration whose ports are
// af_packet vdevs on the given kernel interfaces.
func routerConf(netns string, in, out []string) string {
	var b strings.Builder
	var names [2][]string
	for d, ifs := range [][]string{in, out} {
		for _, i := range ifs {
			n := fmt.Sprintf("net_af_packet%d", len(names[0])+len(names[1]))
			names[d] = append(names[d], n)
			// rings of 4096 frames: a flood from a thread on the same two
			// cores must not overflow the kernel's side while fibd's worker
			// waits for a CPU
			fmt.Fprintf(&b, "fibd_vdev=%s,iface=%s,framecnt=4096\n", n, i)
		}
	}
	fmt.Fprintf(&b, "in_dev=%s\nout_dev=%s\nrouter=1\nrouter_netns=%s\nrouter_kernel_table=254\n",
		strings.Join(names[0], ":"), strings.Join(names[1], ":"), netns)
	b.WriteString("bras_arp_mac=02:00:00:00:00:fe\nbras_arp_ip=192.0.2.254\n")
	return b.String()
}

// fibLookup is fibd's decision for addr: the nexthop's type and device.
func (r *running) fibLookup(t *testing.T, addr string) (typ, dev string) {
	t.Helper()
	out, _, _ := r.fdpi(t, "--json", "router", "fib", "lookup", addr)
	var v struct {
		Nexthop struct {
			Type   string `json:"type"`
			Device string `json:"device"`
		} `json:"nexthop"`
	}
	json.Unmarshal([]byte(out), &v)
	return v.Nexthop.Type, v.Nexthop.Device
}

func (x *xlab) ping(t *testing.T, args ...string) (sent, got int) {
	t.Helper()
	out, _ := exec.Command("ip", append([]string{"netns", "exec", x.cl, "ping", "-q", "-n"}, args...)...).CombinedOutput()
	fmt.Sscanf(afterLast(string(out), "---"), "%d packets transmitted, %d received", &sent, &got)
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "packets transmitted") {
			fmt.Sscanf(strings.TrimSpace(l), "%d packets transmitted, %d received", &sent, &got)
		}
	}
	return sent, got
}

func afterLast(s, sep string) string {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[i:]
	}
	return s
}

// staticRoutes is BIRD's static protocol body for ps (BIRD's include does
// not work inside a protocol block).
func staticRoutes(ps []netip.Prefix) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "\troute %s blackhole;\n", p)
	}
	return b.String()
}

// avoid keeps generated routes off the lab's own addresses.
func avoid(ps []netip.Prefix, n int, own ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		clash := false
		for _, o := range own {
			op := netip.MustParsePrefix(o)
			if op.Overlaps(p) {
				clash = true
			}
		}
		if !clash {
			out = append(out, p)
		}
		if len(out) == n {
			break
		}
	}
	return out
}

func (x *xlab) startBirds(t *testing.T) {
	r4 := staticRoutes(avoid(fullview.IPv4(7, 12000), 10000, "10.0.0.0/8", "198.18.0.0/15", "192.0.2.0/24"))
	r6 := staticRoutes(avoid(fullview.IPv6(8, 1200), 1000, "2001:db8::/32"))
	x.routerBird = testbird.Start(t, x.rt, `router id 10.2.0.1;
protocol device { scan time 1; }
protocol kernel k4 {
	scan time 1;
	ipv4 { import none; export where source ~ [RTS_BGP, RTS_OSPF, RTS_OSPF_IA, RTS_OSPF_EXT1, RTS_OSPF_EXT2]; };
}
protocol kernel k6 {
	scan time 1;
	ipv6 { import none; export where source = RTS_BGP; };
}
protocol bgp up4 {
	local 10.2.0.1 as 65001; neighbor 10.2.0.2 as 65002;
	hold time 3; keepalive time 1; connect retry time 2; error wait time 1, 5;
	ipv4 { import all; export none; };
}
protocol bgp up6 {
	local 2001:db8:2::1 as 65001; neighbor 2001:db8:2::2 as 65002;
	hold time 3; keepalive time 1; connect retry time 2; error wait time 1, 5;
	ipv6 { import all; export none; };
}
protocol ospf v2 o4 {
	ipv4 { import all; export none; };
	area 0 { interface "ribc" { type broadcast; hello 1; dead 4; }; };
}
`)
	x.upBird = testbird.Start(t, x.up, fmt.Sprintf(`router id 10.2.0.2;
protocol device { scan time 1; }
protocol static s4 { ipv4;
%s}
protocol static moving { ipv4; route 198.18.0.0/24 blackhole; }
protocol static s6 { ipv6;
%s	route 2001:db8:ffff::/48 blackhole;
}
protocol bgp r4 {
	local 10.2.0.2 as 65002; neighbor 10.2.0.1 as 65001;
	hold time 3; keepalive time 1; connect retry time 2; error wait time 1, 5;
	ipv4 { import none; export where source = RTS_STATIC; };
}
protocol bgp r6 {
	local 2001:db8:2::2 as 65002; neighbor 2001:db8:2::1 as 65001;
	hold time 3; keepalive time 1; connect retry time 2; error wait time 1, 5;
	ipv6 { import none; export where source = RTS_STATIC; };
}
`, r4, r6))
	x.osBird = testbird.Start(t, x.os, `router id 10.3.0.2;
protocol device { scan time 1; }
protocol static wide { ipv4; route 198.18.0.0/16 blackhole; }
protocol ospf v2 o4 {
	ipv4 { import none; export where source = RTS_STATIC; };
	area 0 { interface "pc" { type broadcast; hello 1; dead 4; }; };
}
`)
}

// packetSocket opens a raw packet socket on interface ifname of namespace
// ns (a socket keeps its namespace: the caller uses it from any thread).
// listen binds it to receive every frame of the interface.
func packetSocket(ns, ifname string, listen bool) (int, *unix.SockaddrLinklayer, error) {
	// The thread goes back to its namespace afterwards: a thread that ends
	// takes the children it started along (Pdeathsig), BIRD among them.
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return 0, nil, err
	}
	defer orig.Close()
	h, err := netns.GetFromName(ns)
	if err != nil {
		runtime.UnlockOSThread()
		return 0, nil, err
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		runtime.UnlockOSThread()
		return 0, nil, err
	}
	fd, sa, err := openPacketSocket(ifname, listen)
	if rerr := netns.Set(orig); rerr != nil {
		// never reused in the wrong namespace: the thread stays locked
		// and ends with its goroutine
		if err == nil {
			unix.Close(fd)
		}
		return 0, nil, rerr
	}
	runtime.UnlockOSThread()
	return fd, sa, err
}

func openPacketSocket(ifname string, listen bool) (int, *unix.SockaddrLinklayer, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return 0, nil, err
	}
	proto := 0
	if listen {
		proto = int(htons(unix.ETH_P_ALL))
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, proto)
	if err != nil {
		return 0, nil, err
	}
	sa := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6, Protocol: uint16(proto)}
	if listen {
		if err := unix.Bind(fd, sa); err != nil {
			unix.Close(fd)
			return 0, nil, err
		}
	}
	return fd, sa, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// flood sends frame out of ifname in namespace ns until stop is closed;
// it returns the number sent.
//
// A real flood comes from another machine; here the sender shares the two
// cores with fibd and the BIRDs, so it runs at the lowest priority: it
// takes whatever CPU they leave, and does not starve their timers.
func flood(ns, ifname string, frames [][]byte, rate int, stop <-chan struct{}) (int, error) {
	fd, sa, err := packetSocket(ns, ifname, false)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	runtime.LockOSThread()
	tid := unix.Gettid()
	if err := unix.Setpriority(unix.PRIO_PROCESS, tid, 19); err != nil {
		runtime.UnlockOSThread()
		return 0, err
	}
	// the thread goes back to the pool as it was (non-root processes cannot
	// lower nice again: then it stays locked, and ends with the goroutine)
	defer func() {
		if unix.Setpriority(unix.PRIO_PROCESS, tid, 0) == nil {
			runtime.UnlockOSThread()
		}
	}()
	// frames in turn, rate a second (100k is as much as a thread on these
	// two cores sends without starving the box)
	n, t0 := 0, time.Now()
	for {
		select {
		case <-stop:
			return n, nil
		default:
		}
		for range 256 {
			if err := unix.Sendto(fd, frames[n%len(frames)], 0, sa); err == nil {
				n++
			}
		}
		if ahead := time.Duration(n)*time.Second/time.Duration(rate) - time.Since(t0); ahead > 0 {
			time.Sleep(ahead)
		}
	}
}

// policedOf reads the policer's counters: device -> class -> punts held back.
func policedOf(t *testing.T, x *xlab) map[string]map[string]uint64 {
	t.Helper()
	devs, _, _ := x.r.fdpi(t, "--json", "router", "device", "show")
	out := map[string]map[string]uint64{}
	for _, l := range strings.Split(devs, "\n") {
		var d struct {
			Device    string `json:"device"`
			Exception struct {
				Policed map[string]uint64 `json:"policed"`
			} `json:"exception"`
		}
		if json.Unmarshal([]byte(l), &d) == nil && d.Device != "" {
			out[d.Device] = d.Exception.Policed
		}
	}
	return out
}

func linkFlags(t *testing.T, ns, dev string) string {
	out, _ := exec.Command("ip", "-n", ns, "-o", "link", "show", dev).CombinedOutput()
	s := string(out)
	if i, j := strings.Index(s, "<"), strings.Index(s, ">"); i >= 0 && j > i {
		return "," + s[i+1:j] + ","
	}
	return s
}

// sameSince tells whether two BIRD status lines of a protocol show the
// same "since" time (BIRD prints it to the millisecond, and it may move by
// one between two calls: a flap moves it by seconds).
func sameSince(a, b string) bool {
	fa, fb := strings.Fields(a), strings.Fields(b)
	if len(fa) < 5 || len(fb) < 5 {
		return false
	}
	ta, err1 := time.Parse("15:04:05.000", fa[4])
	tb, err2 := time.Parse("15:04:05.000", fb[4])
	if err1 != nil || err2 != nil {
		return fa[4] == fb[4]
	}
	return tb.Sub(ta).Abs() < time.Second
}

// bgpLine is BIRD's status line of protocol name (a busy BIRD may not
// answer birdc at once: a few tries).
func bgpLine(b *testbird.Bird, name string) string {
	for range 10 {
		out, _ := b.C("show", "protocols", name)
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, name+" ") {
				return strings.Join(strings.Fields(l), " ")
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	return ""
}

// TestExceptionPath: an unmodified BIRD in router_netns runs eBGP (IPv4 and
// IPv6) and OSPFv2 through fibd's ports, over both kinds of exception
// interface; fibd forwards along what BIRD learns; traceroute shows fibd;
// a withdrawal moves traffic at once; a punt flood neither drops BGP nor
// stops forwarding; link state is mirrored.
func TestExceptionPath(t *testing.T) {
	x := newXlab(t)
	x.startBirds(t)
	if os.Getenv("XLAB_PAUSE") != "" { // a look at the running lab before the checks

		time.Sleep(200 * time.Second)
	}
	x.routerBird.Eventually(t, 60*time.Second, "Established", "show", "protocols", "up4")
	x.routerBird.Eventually(t, 30*time.Second, "Established", "show", "protocols", "up6")
	x.routerBird.Eventually(t, 60*time.Second, "Full", "show", "ospf", "neighbors", "o4")

	// BIRD puts what it learned into the kernel table; fibd mirrors it.
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _, _ := x.r.fdpi(t, "--json", "router", "status")
		var st struct {
			Routes4 int `json:"routes4"`
			Routes6 int `json:"routes6"`
		}
		json.Unmarshal([]byte(out), &st)
		if st.Routes4 >= 10000 && st.Routes6 >= 1000 {
			t.Logf("FIB: %d IPv4, %d IPv6 routes", st.Routes4, st.Routes6)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("FIB never reached 10000/1000 routes: %s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, a := range []string{"198.18.0.1", "2001:db8:ffff::1"} {
		if typ, dev := x.r.fibLookup(t, a); typ != "forward" || dev != "net_af_packet1" {
			t.Fatalf("%s: %s via %s, want forward via net_af_packet1 (BGP)", a, typ, dev)
		}
	}

	// ping, both families, through fibd to the BGP upstream
	if s, g := x.ping(t, "-c", "5", "-i", "0.05", "198.18.0.1"); g != s || s != 5 {
		t.Errorf("ping 198.18.0.1: %d of %d", g, s)
	}
	if s, g := x.ping(t, "-6", "-c", "5", "-i", "0.05", "2001:db8:ffff::1"); g != s || s != 5 {
		t.Errorf("ping 2001:db8:ffff::1: %d of %d", g, s)
	}

	// a capture at the upstream: routed by fibd (its MAC, TTL decremented)
	capFile := filepath.Join(t.TempDir(), "up.pcap")
	tcpdump := exec.Command("ip", "netns", "exec", x.up, "tcpdump", "-Z", "root", "--immediate-mode", "-U", "-n", "-i", "pb", "-c", "3", "-w", capFile,
		"icmp[icmptype] == icmp-echo")
	if err := tcpdump.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	x.ping(t, "-c", "3", "-i", "0.1", "198.18.0.1")
	done := make(chan error, 1)
	go func() { done <- tcpdump.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		tcpdump.Process.Kill()
		<-done
		t.Fatal("tcpdump saw no 3 echo requests at the upstream")
	}
	portB := nstest.MAC(t, "", x.fb)
	for _, f := range readPcap(t, capFile) {
		e, err := pcap.ParseEth(f)
		if err != nil || e.TTL != 63 || e.SrcMAC.String() != portB.String() {
			t.Errorf("captured echo request: ttl %d src %s (want 63, %s), err %v", e.TTL, e.SrcMAC, portB, err)
		}
	}

	// iperf3: TCP through fibd
	srv := nstest.Start(t, exec.Command("ip", "netns", "exec", x.up, "iperf3", "-s", "-1", "-B", "198.18.0.1"))
	defer srv.Stop(syscall.SIGKILL, time.Second)
	time.Sleep(500 * time.Millisecond)
	out, err := exec.Command("ip", "netns", "exec", x.cl, "iperf3", "-c", "198.18.0.1", "-t", "2", "-J").CombinedOutput()
	var ip3 struct {
		End struct {
			SumReceived struct {
				Bps float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err != nil || json.Unmarshal(out, &ip3) != nil || ip3.End.SumReceived.Bps <= 0 {
		t.Errorf("iperf3 through fibd: %v\n%s", err, out)
	} else {
		t.Logf("iperf3 through fibd: %.0f Mbit/s", ip3.End.SumReceived.Bps/1e6)
	}

	// traceroute shows fibd's hop: its address on the client's port
	out, _ = exec.Command("ip", "netns", "exec", x.cl, "traceroute", "-n", "-q", "1", "-w", "2", "-m", "3", "198.18.0.1").CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 3 || !strings.Contains(lines[1], "10.1.0.1") || !strings.Contains(lines[2], "198.18.0.1") {
		t.Errorf("traceroute:\n%s", out)
	}

	// withdrawal: the /24 goes, traffic moves to the OSPF /16 within a second
	if typ, dev := x.r.fibLookup(t, "198.18.0.1"); dev != "net_af_packet1" {
		t.Fatalf("before the withdrawal: %s via %s", typ, dev)
	}
	osRx := func() int {
		b, _ := exec.Command("ip", "netns", "exec", x.os, "cat", "/sys/class/net/pc/statistics/rx_packets").Output()
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	rx0 := osRx()
	t0 := time.Now()
	if out, err := x.upBird.C("disable", "moving"); err != nil {
		t.Fatalf("birdc disable moving: %v %s", err, out)
	}
	for {
		if _, dev := x.r.fibLookup(t, "198.18.0.1"); dev == "net_af_packet2" {
			break
		}
		if time.Since(t0) > 5*time.Second {
			t.Fatalf("withdrawal not followed within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	moved := time.Since(t0)
	t.Logf("withdrawal to FIB: %v", moved)
	if moved > time.Second {
		t.Errorf("traffic moved after %v, want within a second", moved)
	}
	if s, g := x.ping(t, "-c", "20", "-i", "0.02", "198.18.0.1"); g < 19 {
		t.Errorf("after the move: %d of %d pings", g, s)
	}
	if d := osRx() - rx0; d < 19 {
		t.Errorf("the OSPF neighbour received %d packets after the move, want the pings", d)
	}
	// a neighbour the kernel forgets: packets go through the kernel, which
	// resolves it again, and none is lost meanwhile
	punted := func() uint64 {
		out, _, _ := x.r.fdpi(t, "--json", "router", "stats", "show")
		var st struct {
			Workers []struct {
				Punted uint64 `json:"punted"`
			} `json:"workers"`
		}
		json.Unmarshal([]byte(out), &st)
		var n uint64
		for _, w := range st.Workers {
			n += w.Punted
		}
		return n
	}
	// fibd's view of the neighbour is rewritten in place (one nexthop
	// write); the unresolved state itself may last only milliseconds when
	// BIRD's own OSPF packets make the kernel resolve it again at once, so
	// the rewrite count, not a lookup, shows that fibd saw it go.
	rewrites := func() int {
		out, _, _ := x.r.fdpi(t, "router", "nexthop", "show")
		_, tail, _ := strings.Cut(out, "rewritten in place: ")
		n, _ := strconv.Atoi(strings.TrimRight(strings.SplitN(tail, ";", 2)[0], " \n"))
		return n
	}
	p0, rw0 := punted(), rewrites()
	nstest.Batch(t, x.rt, "neigh flush dev ribc")
	nstest.WaitUntil(t, 5*time.Second, "fibd sees the neighbour go", func() bool { return rewrites() > rw0 })
	typ, _ := x.r.fibLookup(t, "198.18.0.1")
	if s, g := x.ping(t, "-c", "10", "-i", "0.05", "198.18.0.1"); g != s || s != 10 {
		t.Errorf("towards a forgotten neighbour: %d of %d pings", g, s)
	}
	if d := punted() - p0; d > 0 {
		t.Logf("%d packets went through the kernel until the neighbour was resolved", d)
	} else if typ == "unresolved" {
		t.Error("no packet went through the kernel while the neighbour was unresolved")
	} else {
		t.Logf("the kernel had resolved the neighbour again before the pings (%s)", typ)
	}
	if typ, _ := x.r.fibLookup(t, "198.18.0.1"); typ != "forward" {
		t.Errorf("neighbour not resolved again: %s", typ)
	}
	x.upBird.C("enable", "moving")

	// a flood towards the router's address at 100k frames/s (fifty times
	// the protected class's rate here, ten times "other"'s), from source
	// port 179 but not from a peer, and a scan of a connected /24 nobody answers in: BGP (hold time
	// 3 s) survives, forwarding goes on, the flood is policed as "other"
	// and the scan as "glean"
	nstest.IP(t, "-n", x.rt, "address", "add", "10.9.0.1/24", "dev", "riba")
	defer exec.Command("ip", "-n", x.rt, "address", "del", "10.9.0.1/24", "dev", "riba").Run()
	nstest.WaitUntil(t, 5*time.Second, "10.9.0.0/24 connected", func() bool {
		typ, _ := x.r.fibLookup(t, "10.9.0.77")
		return typ == "unresolved"
	})
	before := bgpLine(x.routerBird, "up4")
	before6 := bgpLine(x.routerBird, "up6")
	pol0 := policedOf(t, x)
	frame := pcap.EthIPv4UDP(portB, nstest.MAC(t, x.up, "pb"), netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("10.2.0.1"),
		64, 179, 179, make([]byte, 64))
	portA := nstest.MAC(t, "", x.fa)
	var scan [][]byte
	for i := 1; i < 255; i++ {
		scan = append(scan, pcap.EthIPv4UDP(portA, nstest.MAC(t, x.cl, "ca"), netip.MustParseAddr("10.1.0.2"),
			netip.AddrFrom4([4]byte{10, 9, 0, byte(i)}), 64, 4000, 9, []byte("scan")))
	}
	stop := make(chan struct{})
	floodStart := time.Now()
	var sent, scanned atomic.Int64
	fdone := make(chan error, 2)
	go func() {
		n, err := flood(x.up, "pb", [][]byte{frame}, 100000, stop)
		sent.Store(int64(n))
		fdone <- err
	}()
	go func() {
		n, err := flood(x.cl, "ca", scan, 5000, stop)
		scanned.Store(int64(n))
		fdone <- err
	}()
	fs, fg := x.ping(t, "-c", "45", "-i", "0.1", "198.18.0.1") // 4.5 s: longer than the hold time
	close(stop)
	for range 2 {
		if err := <-fdone; err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond) // the backlog of the flood drains
	t.Logf("flood: %d frames, scan: %d frames in %.1fs; pings during it: %d of %d", sent.Load(), scanned.Load(),
		time.Since(floodStart).Seconds(), fg, fs)
	if fg < fs*9/10 {
		t.Errorf("forwarding during the flood: %d of %d pings", fg, fs)
	}
	after := bgpLine(x.routerBird, "up4")
	after6 := bgpLine(x.routerBird, "up6")
	if !strings.Contains(after, "Established") || !sameSince(before, after) ||
		!strings.Contains(after6, "Established") || !sameSince(before6, after6) {
		devs, _, _ := x.r.fdpi(t, "router", "device", "show")
		st, _, _ := x.r.fdpi(t, "router", "stats", "show")
		raw, berr := x.routerBird.C("show", "protocols")
		after += fmt.Sprintf(" (birdc: %v %q)", berr, raw)
		rlog, _ := os.ReadFile(filepath.Join(x.routerBird.Dir, "bird.log"))
		plog, _ := os.ReadFile(filepath.Join(x.upBird.Dir, "bird.log"))
		t.Errorf("BGP session disturbed by the flood:\nbefore %s / %s\nafter  %s / %s\n%s\n%s\nrouter BIRD:\n%s\npeer BIRD:\n%s",
			before, before6, after, after6, devs, st, rlog, plog)
	}
	pol1 := policedOf(t, x)
	if pol1 == nil && os.Getenv("XLAB_QUIT") != "" { // debugging aid: fibd's goroutines
		x.r.cmd.Process.Signal(syscall.SIGQUIT)
		time.Sleep(2 * time.Second)
	}
	t.Logf("policed before %v, after %v", pol0, pol1)
	other := pol1["net_af_packet1"]["other"] - pol0["net_af_packet1"]["other"]
	proto := pol1["net_af_packet1"]["proto"] - pol0["net_af_packet1"]["proto"]
	glean := pol1["net_af_packet0"]["glean"] - pol0["net_af_packet0"]["glean"]
	if other == 0 || int64(other) > sent.Load() || proto != 0 {
		t.Errorf("flood of %d frames from port 179 of a stranger: policed %d as other, %d as proto (want 0): %v",
			sent.Load(), other, proto, pol1)
	}
	if glean == 0 || int64(glean) > scanned.Load() {
		t.Errorf("scan of %d frames: %d policed as glean: %v", scanned.Load(), glean, pol1)
	}

	x.checkVLAN(t)

	// router_tap_pcap=all: the BGP session, both ways, in port B's capture
	caps, _ := filepath.Glob(filepath.Join(x.dump, "tap_"+x.xb+"_*.pcap"))
	if len(caps) != 1 {
		t.Fatalf("captures of %s: %v", x.xb, caps)
	}
	var fromRib, toRib int
	for _, f := range readPcap(t, caps[0]) {
		e, err := pcap.ParseEth(f)
		if err != nil || e.Proto != 6 || len(f) < 14+e.HeaderLen+4 {
			continue
		}
		l4 := f[14+e.HeaderLen:]
		if binary.BigEndian.Uint16(l4) != 179 && binary.BigEndian.Uint16(l4[2:]) != 179 {
			continue
		}
		switch {
		case e.SrcIP == netip.MustParseAddr("10.2.0.1"):
			fromRib++
		case e.DstIP == netip.MustParseAddr("10.2.0.1"):
			toRib++
		}
	}
	if fromRib == 0 || toRib == 0 {
		t.Errorf("BGP in %s: %d segments from the rib interface, %d to it", caps[0], fromRib, toRib)
	}
	if out, err := exec.Command("tcpdump", "-n", "-r", caps[0], "-c", "1").CombinedOutput(); err != nil {
		t.Errorf("tcpdump cannot read %s: %v\n%s", caps[0], err, out)
	}

	// router_rtnl_pcap=1: the kernel's notifications of BIRD's routes (the
	// rest of the exchange is checked by TestCLIJSONFields)
	rtnl, _ := filepath.Glob(filepath.Join(x.dump, "rtnl_*.pcap"))
	newRoutes := 0
	for _, name := range rtnl {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pcap.NewReader(f)
		if err != nil || r.LinkType() != 253 {
			t.Fatalf("%s: %v, link type %d", name, err, r.LinkType())
		}
		for {
			_, m, _, err := r.Next()
			if err != nil {
				break
			}
			// a cooked header (16 bytes; the kernel's messages: packet type 6), then the message
			if len(m) >= 32 && binary.BigEndian.Uint16(m) == 6 && binary.NativeEndian.Uint16(m[16+4:]) == unix.RTM_NEWROUTE &&
				binary.NativeEndian.Uint16(m[16+6:])&unix.NLM_F_MULTI == 0 { // a notification, not a dump reply
				newRoutes++
			}
		}
		f.Close()
	}
	if newRoutes < 11000 {
		t.Errorf("rtnetlink recording %v: %d RTM_NEWROUTE, want the 11,000 BIRD installed", rtnl, newRoutes)
	}

	// link state: port A down -> its TAP goes down; port B down -> the
	// manual's veth loses carrier; and back up
	nstest.IP(t, "link", "set", x.fa, "down")
	nstest.IP(t, "link", "set", x.fb, "down")
	nstest.WaitUntil(t, 5*time.Second, "riba down, ribb without carrier", func() bool {
		return !strings.Contains(linkFlags(t, x.rt, "riba"), ",UP,") && !strings.Contains(linkFlags(t, x.rt, "ribb"), "LOWER_UP")
	})
	nstest.IP(t, "link", "set", x.fa, "up")
	nstest.IP(t, "link", "set", x.fb, "up")
	nstest.WaitUntil(t, 5*time.Second, "riba and ribb up again", func() bool {
		return strings.Contains(linkFlags(t, x.rt, "riba"), ",UP,") && strings.Contains(linkFlags(t, x.rt, "ribb"), "LOWER_UP")
	})
	if s, g := x.ping(t, "-c", "3", "-i", "0.2", "10.1.0.1"); g != s {
		t.Errorf("ping of the router after the link came back: %d of %d", g, s)
	}

	// fibd stops: its TAPs leave the router netns, the operator's veth stays
	x.r.stop(t)
	out, _ = exec.Command("ip", "-n", x.rt, "-o", "link").CombinedOutput()
	if strings.Contains(string(out), "riba") || strings.Contains(string(out), "ribc") || !strings.Contains(string(out), "ribb") {
		t.Errorf("after fibd stopped:\n%s", out)
	}
}

// checkVLAN: tagged frames reach ribb as they are, the operator's
// ribb.100 takes them; fibd mirrors it, so a route via ribb.100 leaves
// port B tagged and the router answers on it.
func (x *xlab) checkVLAN(t *testing.T) {
	if out, err := exec.Command("ip", "-n", x.up, "link", "add", "link", "pb", "name", "pb.100", "type", "vlan", "id", "100").CombinedOutput(); err != nil {
		t.Logf("VLAN sub-interfaces not checked end to end: this kernel cannot make VLAN interfaces (%s)", strings.TrimSpace(string(out)))
		return
	}
	nstest.Batch(t, x.up, "link set pb.100 up",
		"address add 10.20.0.2/24 dev pb.100", "address add 198.19.0.1/32 dev lo")
	nstest.Batch(t, x.rt, "link add link ribb name ribb.100 type vlan id 100", "link set ribb.100 up",
		"address add 10.20.0.1/24 dev ribb.100")
	out, err := exec.Command("ip", "netns", "exec", x.up, "ping", "-c", "3", "-i", "0.1", "-W", "2", "10.20.0.1").CombinedOutput()
	if err != nil {
		t.Errorf("ping of the router on VLAN 100: %v\n%s", err, out)
	}
	nstest.Batch(t, x.rt, "route add 198.19.0.0/24 via 10.20.0.2 dev ribb.100")
	nstest.WaitUntil(t, 5*time.Second, "198.19.0.1 via VLAN 100 in the FIB", func() bool {
		o, _, _ := x.r.fdpi(t, "--json", "router", "fib", "lookup", "198.19.0.1")
		return strings.Contains(o, `"vlan":100`) && strings.Contains(o, `"type":"forward"`)
	})
	vlanRx := func() int {
		b, _ := exec.Command("ip", "netns", "exec", x.up, "cat", "/sys/class/net/pb.100/statistics/rx_packets").Output()
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	v0 := vlanRx()
	if s, g := x.ping(t, "-c", "10", "-i", "0.05", "198.19.0.1"); g != s || s != 10 {
		t.Errorf("ping via VLAN 100: %d of %d", g, s)
	}
	if d := vlanRx() - v0; d < 10 {
		t.Errorf("pb.100 received %d frames, want the 10 pings tagged", d)
	}

}
