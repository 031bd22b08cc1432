package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"fibd/test/fullview"
	"fibd/test/nstest"
)

// lab is the soak's topology. fibd's two ports are af_packet vdevs on
// veths whose other ends are in host namespaces; its exception interfaces
// are the manual's veth pairs (they outlive a fibd restart):
//
//	cl (client) ca ── fa  port A (in_dev)   veth xa ── riba ┐
//	up (BGP)    pb ── fb  port B (out_dev)  veth xb ── ribb ┘ rt: BIRD
//
// The upstream's BIRD announces the view over eBGP (IPv4 and IPv6); the
// router's BIRD exports it into kernel table 254, and its shorter
// prefixes (IPv4 up to /20, IPv6 up to /32) into table 200 too, which an
// ip rule selects for the client's second address.
type lab struct {
	sfx                string
	rt, cl, up         string // namespaces
	fa, fb, xa, xb     string // root-namespace interfaces
	dir                string
	ctlAddr, metrics   string
	bin                string // directory of fibd and fdpi_cli
	conf               string // fibd's configuration file
	fib                string // fibd_fib (empty: fibd's default)
	fibd               *proc
	rBird, uBird       *bird
	rBirdConf          string
	view4, view6       []netip.Prefix // announced by s4/s6 (always)
	churn4             []netip.Prefix // announced by churn4 (toggled)
	want4, want6       int            // BIRD's routes in table 254 when all is announced
	want200, want200v6 int            // and in table 200
	t200Dst            netip.Addr     // the client's destination through table 200
	peerMAC            string         // the upstream's MAC (pb)
	bgpTimers          string         // the BGP sessions' timers (bgpTimersFaults or bgpTimersLoad)
}

const (
	tableRule = 200 // reached by an ip rule
	tableNew  = 300 // appears and goes in the ip rule fault
	// the client's sources: the first through table 254, the second
	// (selected by the rule) through table 200
	clientSrc  = "10.1.0.2"
	clientSrc2 = "10.1.0.130"
	dst4       = "198.18.0.1"
	dst6       = "2001:db8:ffff::1"
)

// the lab's own address space, kept out of the view
var labNets = []string{"10.0.0.0/8", "198.18.0.0/15", "192.0.2.0/24", "2001:db8::/32"}

func avoid(ps []netip.Prefix, n int) []netip.Prefix {
	var own []netip.Prefix
	for _, s := range labNets {
		own = append(own, netip.MustParsePrefix(s))
	}
	out := make([]netip.Prefix, 0, n)
	for _, p := range ps {
		clash := false
		for _, o := range own {
			if o.Overlaps(p) {
				clash = true
				break
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

func newLab(cfg *Config) *lab {
	s := strconv.Itoa(os.Getpid() % 100000)
	return &lab{sfx: s, rt: "srt" + s, cl: "scl" + s, up: "sup" + s,
		fa: "sfa" + s, fb: "sfb" + s, xa: "sxa" + s, xb: "sxb" + s,
		dir: cfg.Dir, bin: cfg.Bin, bgpTimers: bgpTimersFaults,
		ctlAddr: freeLocal(21000 + os.Getpid()%4000),
		metrics: freeLocal(25000 + os.Getpid()%4000)}
}

// freeLocal is a loopback address for one of fibd's listeners: the first
// port from p on that nothing holds now. Ports stay below Linux's
// ephemeral range (32768 on): there, any outgoing connection of this
// machine (the soak's own CLI polls, among others) may hold the port when
// fibd binds it, and fibd then stops with "address already in use".
func freeLocal(p int) string {
	for i := range 1000 {
		a := fmt.Sprintf("127.0.0.1:%d", p+i)
		if ln, err := net.Listen("tcp", a); err == nil {
			ln.Close()
			return a
		}
	}
	return fmt.Sprintf("127.0.0.1:%d", p)
}

// view makes the routes the upstream announces.
func (l *lab) view(n4, n6 int, seed int64) {
	all4 := avoid(fullview.IPv4(seed, n4+n4/20+100), n4)
	all6 := avoid(fullview.IPv6(seed+1, n6+n6/20+100), n6)
	// a twentieth of the IPv4 view (at least 1,000) is toggled by the churn
	nc := max(1000, n4/20)
	if nc > len(all4)/2 {
		nc = len(all4) / 2
	}
	l.churn4, l.view4, l.view6 = all4[:nc], all4[nc:], all6
	l.want4, l.want6 = len(all4)+1, len(all6)+1 // + 198.18.0.0/24, 2001:db8:ffff::/48
	for _, p := range all4 {
		if p.Bits() <= 20 {
			l.want200++
			if !l.t200Dst.IsValid() && !p.Addr().IsPrivate() {
				l.t200Dst = p.Addr().Next()
			}
		}
	}
	for _, p := range all6 {
		if p.Bits() <= 32 {
			l.want200v6++
		}
	}
}

// cleanup removes what the lab made; it runs before setup too (a
// leftover of a killed run with the same pid).
func (l *lab) cleanup() {
	for _, ns := range []string{l.rt, l.cl, l.up} {
		nstest.DelNS(ns)
	}
	nstest.DelLinks(l.fa, l.fb, l.xa, l.xb)
}

func (l *lab) setup() error {
	l.cleanup()
	for _, ns := range []string{l.rt, l.cl, l.up} {
		if err := nstest.AddNS(ns); err != nil {
			return err
		}
	}
	if err := nstest.IPBatch("",
		"link add "+l.fa+" type veth peer name ca netns "+l.cl,
		"link add "+l.fb+" type veth peer name pb netns "+l.up,
		"link set "+l.fa+" up", "link set "+l.fb+" up"); err != nil {
		return err
	}
	if err := nstest.IPBatch(l.cl, "link set ca up", "address add 10.1.0.2/24 dev ca", "address add 10.1.0.130/24 dev ca",
		"address add 2001:db8:1::2/64 dev ca nodad",
		"route add default via 10.1.0.1", "route add ::/0 via 2001:db8:1::1"); err != nil {
		return err
	}
	if err := nstest.IPBatch(l.up, "link set pb up", "address add 10.2.0.2/24 dev pb", "address add 2001:db8:2::2/64 dev pb nodad",
		"address add "+dst4+"/32 dev lo", "address add "+dst6+"/128 dev lo", "address add "+l.t200Dst.String()+"/32 dev lo",
		"route add 10.1.0.0/24 via 10.2.0.1", "route add 2001:db8:1::/64 via 2001:db8:2::1"); err != nil {
		return err
	}
	if _, err := nstest.RunErr("ip", "netns", "exec", l.cl, "ethtool", "-K", "ca", "tx", "off"); err != nil {
		return err
	}
	if _, err := nstest.RunErr("ip", "netns", "exec", l.up, "ethtool", "-K", "pb", "tx", "off"); err != nil {
		return err
	}
	out, err := nstest.RunErr("ip", "netns", "exec", l.up, "cat", "/sys/class/net/pb/address")
	if err != nil {
		return err
	}
	l.peerMAC = strings.TrimSpace(out)
	return l.setupRouterNS()
}

// setupRouterNS makes the router namespace's side: the rib ends of the
// exception veths, their addresses, forwarding and the ip rules (again
// after the netns fault).
func (l *lab) setupRouterNS() error {
	if err := nstest.IPBatch("",
		"link add "+l.xa+" type veth peer name riba netns "+l.rt,
		"link add "+l.xb+" type veth peer name ribb netns "+l.rt); err != nil {
		return err
	}
	if err := nstest.IPBatch(l.rt, "link set riba up", "link set ribb up"); err != nil {
		return err
	}
	if err := l.routerAddrs(); err != nil {
		return err
	}
	if err := l.staticRoutes(); err != nil {
		return err
	}
	for _, i := range []string{"riba", "ribb"} {
		if _, err := nstest.RunErr("ip", "netns", "exec", l.rt, "ethtool", "-K", i, "tx", "off"); err != nil {
			return err
		}
	}
	// keep_addr_on_down: the IPv6 addresses stay through the rib link fault
	for _, k := range []string{"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
		"net.ipv6.conf.all.keep_addr_on_down=1", "net.ipv6.conf.default.keep_addr_on_down=1"} {
		if _, err := nstest.RunErr("ip", "netns", "exec", l.rt, "sysctl", "-qw", k); err != nil {
			return err
		}
	}
	if _, err := nstest.RunErr("ip", "-4", "-n", l.rt, "rule", "add", "from", "10.1.0.128/25", "lookup", strconv.Itoa(tableRule), "pref", "1000"); err != nil {
		return err
	}
	_, err := nstest.RunErr("ip", "-6", "-n", l.rt, "rule", "add", "from", "2001:db8:1::8000/113", "lookup", strconv.Itoa(tableRule), "pref", "1000")
	return err
}

// staticRoutes puts routes into table 254 that no daemon owns (proto
// static, as an operator's): the kernel flushes them silently when ribb
// goes down or loses its address, and nothing adds them again, so the
// FIB must drop them on its own. The faults that flush them put them
// back first.
func (l *lab) staticRoutes() error {
	var lines []string
	for i := range 50 {
		lines = append(lines, fmt.Sprintf("route replace 100.100.%d.0/24 via 10.2.0.2 dev ribb proto static", i))
	}
	return nstest.IPBatch(l.rt, lines...)
}

func (l *lab) routerAddrs() error {
	return nstest.IPBatch(l.rt, "address add 10.1.0.1/24 dev riba", "address add 2001:db8:1::1/64 dev riba nodad",
		"address add 10.2.0.1/24 dev ribb", "address add 2001:db8:2::1/64 dev ribb nodad")
}

// fibdConf writes fibd's configuration: capacities from the view's size,
// DPDK memory from the capacities.
func (l *lab) fibdConf() error {
	max4 := roundPow2(l.want4 + l.want4/4 + 1024)
	max6 := roundPow2(l.want6 + l.want6/4 + 1024)
	// MiB: what a table of these capacities takes (a full view: about
	// 4 GiB), twice, for the copy a rebuild makes
	mem := 1536 + max4/512 + max6/64
	c := fmt.Sprintf(`fibd_eal_args=-l 0-1 --no-huge -m %[1]d --file-prefix fibdsoak%[2]s --log-level lib.eal:warning
fibd_idle_sleep_us=50
fibd_cli_listen=%[3]s
fibd_metrics_listen=%[4]s
fibd_cli_secret=%[16]s
router_max_ip4_route_count=%[5]d
router_max_ip6_route_count=%[6]d
fibd_table_size=%[7]d:%[8]d:%[9]d
fibd_table_size=%[10]d:4096:1024
fibd_vdev=net_af_packet0,iface=%[11]s,framecnt=4096
fibd_vdev=net_af_packet1,iface=%[12]s,framecnt=4096
in_dev=net_af_packet0
out_dev=net_af_packet1
router=1
router_netns=%[13]s
router_kernel_table=254
bras_arp_mac=02:00:00:00:00:fe
bras_arp_ip=192.0.2.254
bras_ipv6_address=2001:db8:fe::1
router_device {
device=net_af_packet0
tap=%[14]s
peer=riba
}
router_device {
device=net_af_packet1
tap=%[15]s
peer=ribb
subnet=10.2.0.0/24
subnet6=2001:db8:2::/64
}
`, mem, l.sfx, l.ctlAddr, l.metrics, max4, max6, tableRule, roundPow2(l.want200*2+1024), roundPow2(l.want200v6*2+1024),
		tableNew, l.fa, l.fb, l.rt, l.xa, l.xb, filepath.Join(l.dir, "cli.secret"))
	if l.fib != "" {
		c += "fibd_fib=" + l.fib + "\n"
	}
	l.conf = filepath.Join(l.dir, "fastdpi.conf")
	return os.WriteFile(l.conf, []byte(c), 0o644)
}

func roundPow2(n int) int {
	p := 1024
	for p < n {
		p *= 2
	}
	return p
}

// startFibd runs fibd and waits until its control server answers.
func (l *lab) startFibd() error {
	p, err := startProc("fibd", filepath.Join(l.dir, "fibd.log"), filepath.Join(l.bin, "fibd"),
		"-c", l.conf, "-q", "--log-level", "info")
	if err != nil {
		return err
	}
	l.fibd = p
	for deadline := time.Now().Add(60 * time.Second); ; {
		var st struct {
			Mode string `json:"mode"`
		}
		if ctlJSON(l.ctlAddr, &st, "router", "status") == nil && st.Mode == "router" {
			return nil
		}
		if !p.Alive() {
			return fmt.Errorf("fibd exited at start:\n%s", p.tail(40))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("fibd's control server does not answer after 60s:\n%s", p.tail(40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (l *lab) stopFibd() {
	if l.fibd != nil {
		l.fibd.Stop(syscall.SIGTERM, 30*time.Second)
	}
}

func staticBody(ps []netip.Prefix) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "\troute %s blackhole;\n", p)
	}
	return b.String()
}

// The BGP sessions' timers. The soak's faults (a link cut, a BIRD
// killed) should end a session within seconds; the load bench has no
// faults, and there a 9 s hold time ended sessions that were sound: with
// a million routes in the kernel table on this 2-core machine, the router
// BIRD's I/O loop stalled for 5-7 s at a time on a slow day (its kernel
// protocol's scans), two stalls in a row outlasted the hold time, and the
// sessions' resets put the view back in flight while the FIB was being
// compared. The load bench takes timers routers commonly run.
const (
	bgpTimersFaults = "hold time 9; keepalive time 3; connect retry time 2; error wait time 1, 5;"
	bgpTimersLoad   = "hold time 90; keepalive time 30; connect retry time 2; error wait time 1, 5;"
)

func (l *lab) startUpstream() error {
	conf := fmt.Sprintf(`router id 10.2.0.2;
protocol device { scan time 1; }
protocol static s4 { ipv4;
%s	route 198.18.0.0/24 blackhole;
}
protocol static churn4 { ipv4;
%s}
protocol static s6 { ipv6;
%s	route 2001:db8:ffff::/48 blackhole;
}
protocol bgp r4 {
	local 10.2.0.2 as 65002; neighbor 10.2.0.1 as 65001;
	%[4]s
	ipv4 { import none; export where source = RTS_STATIC; };
}
protocol bgp r6 {
	local 2001:db8:2::2 as 65002; neighbor 2001:db8:2::1 as 65001;
	%[4]s
	ipv6 { import none; export where source = RTS_STATIC; };
}
`, staticBody(l.view4), staticBody(l.churn4), staticBody(l.view6), l.bgpTimers)
	b, err := startBird(l.up, filepath.Join(l.dir, "bird-up"), conf)
	l.uBird = b
	return err
}

func (l *lab) startRouterBird() error {
	if l.rBirdConf == "" {
		l.rBirdConf = fmt.Sprintf(`router id 10.2.0.1;
protocol device { scan time 1; }
protocol kernel k4 { scan time 5; ipv4 { import none; export where source = RTS_BGP; }; }
protocol kernel k6 { scan time 5; ipv6 { import none; export where source = RTS_BGP; }; }
ipv4 table rule4;
ipv6 table rule6;
protocol pipe p4 { table master4; peer table rule4; import none; export where source = RTS_BGP && net.len <= 20; }
protocol pipe p6 { table master6; peer table rule6; import none; export where source = RTS_BGP && net.len <= 32; }
protocol kernel k4r { kernel table %[1]d; scan time 5; ipv4 { table rule4; import none; export all; }; }
protocol kernel k6r { kernel table %[1]d; scan time 5; ipv6 { table rule6; import none; export all; }; }
protocol bgp up4 {
	local 10.2.0.1 as 65001; neighbor 10.2.0.2 as 65002;
	%[2]s
	ipv4 { import all; export none; };
}
protocol bgp up6 {
	local 2001:db8:2::1 as 65001; neighbor 2001:db8:2::2 as 65002;
	%[2]s
	ipv6 { import all; export none; };
}
`, tableRule, l.bgpTimers)
	}
	b, err := startBird(l.rt, filepath.Join(l.dir, "bird-rt"), l.rBirdConf)
	l.rBird = b
	return err
}

// teardown stops everything the lab started and removes its namespaces
// and interfaces.
func (l *lab) teardown() {
	for _, b := range []*bird{l.rBird, l.uBird} {
		if b != nil {
			b.Stop(syscall.SIGTERM, 5*time.Second)
		}
	}
	l.stopFibd()
	l.cleanup()
	os.RemoveAll(filepath.Join("/var/run/dpdk", "fibdsoak"+l.sfx))
}
