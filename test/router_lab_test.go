package test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"fibd/ports/pcap"
	"fibd/test/fullview"
	"fibd/test/nstest"
	"fibd/test/testbird"
)

// TestRouterModePcap runs fibd with router=1: it mirrors a kernel table of
// a scratch router_netns (rib1/rib2 stand for the exception interfaces of
// net_pcap1/net_pcap2) and forwards a capture along it. Every packet must
// leave where the kernel's own route lookup in that netns sends it.
func TestRouterModePcap(t *testing.T) {
	bin := fibdBin(t)
	ns := fmt.Sprintf("fibdr%d", os.Getpid())
	nstest.NS(t, ns)
	neigh := map[string]string{"198.51.100.2": "02:00:00:00:01:02", "203.0.113.2": "02:00:00:00:02:02",
		"2001:db8:1::2": "02:00:00:00:01:02", "2001:db8:2::2": "02:00:00:00:02:02"}
	setup := []string{
		"link add rib1 type veth peer name nbr1", "link add rib2 type veth peer name nbr2",
		"link set rib1 up", "link set rib2 up", "link set nbr1 up", "link set nbr2 up",
		"address add 198.51.100.1/24 dev rib1", "address add 203.0.113.1/24 dev rib2",
		"address add 2001:db8:1::1/64 dev rib1 nodad", "address add 2001:db8:2::1/64 dev rib2 nodad",
		"rule add lookup 100 pref 100",
	}
	for gw, mac := range neigh {
		dev := "rib1"
		if strings.HasPrefix(gw, "203.") || strings.HasPrefix(gw, "2001:db8:2:") {
			dev = "rib2"
		}
		setup = append(setup, fmt.Sprintf("neigh add %s lladdr %s dev %s nud permanent", gw, mac, dev))
	}
	rng := rand.New(rand.NewPCG(9, 9))
	routes := append(fullview.IPv4(50, 3000)[:2000], fullview.IPv6(51, 3000)[:600]...)
	for _, p := range routes {
		gw := []string{"198.51.100.2", "203.0.113.2"}[rng.IntN(2)]
		if p.Addr().Is6() {
			gw = []string{"2001:db8:1::2", "2001:db8:2::2"}[rng.IntN(2)]
		}
		if rng.IntN(15) == 0 {
			setup = append(setup, fmt.Sprintf("route add blackhole %s table 100", p))
		} else {
			setup = append(setup, fmt.Sprintf("route add %s via %s table 100", p, gw))
		}
	}
	nstest.Batch(t, ns, setup...)
	nstest.IP(t, "-n", ns, "-6", "rule", "add", "lookup", "100", "pref", "100")

	// The kernel's decision for every destination, before fibd runs.
	h := nstest.Handle(t, ns)
	type want struct {
		port int
		mac  string
		drop bool
	}
	smac, _ := net.ParseMAC(srcMAC)
	dmac, _ := net.ParseMAC("02:70:63:61:70:00")
	var frames [][]byte
	var wants []want
	for i := range 3000 {
		dst := fullview.AddrIn(rng, routes[rng.IntN(len(routes))])
		rs, err := h.RouteGet(dst.AsSlice())
		var w want
		switch {
		case errors.Is(err, syscall.EINVAL): // blackhole
			w.drop = true
		case err != nil:
			t.Fatalf("route get %s: %v", dst, err)
		default:
			l, err := h.LinkByIndex(rs[0].LinkIndex)
			if err != nil {
				t.Fatal(err)
			}
			w.port = map[string]int{"rib1": 1, "rib2": 2}[l.Attrs().Name]
			gw, _ := netip.AddrFromSlice(rs[0].Gw)
			w.mac = neigh[gw.Unmap().String()]
		}
		payload := make([]byte, 8)
		payload[0], payload[1] = byte(i>>8), byte(i)
		if dst.Is4() {
			frames = append(frames, pcap.EthIPv4UDP(dmac, smac, netip.MustParseAddr("192.0.2.9"), dst, 64, uint16(i), 9, payload))
		} else {
			frames = append(frames, pcap.EthIPv6UDP(dmac, smac, netip.MustParseAddr("2001:db8::9"), dst, 64, uint16(i), 9, payload))
		}
		wants = append(wants, w)
	}

	l := newLab(t, fmt.Sprintf(`router=1
fibd_exception=none
router_netns=%s
router_kernel_table=100
router_fib_refresh=5
bras_arp_mac=02:00:00:00:00:fe
bras_arp_ip=192.0.2.254
router_device {
device=net_pcap1
peer=rib1
}
router_device {
device=net_pcap2
peer=rib2
}`, ns))
	writePcap(t, l.path("in.pcap"), frames)
	st := l.run(t, bin, "")
	seen := make([]int, len(frames))
	for port := 1; port <= 2; port++ {
		for _, f := range readPcap(t, l.path(fmt.Sprintf("out%d.pcap", port))) {
			info, err := pcap.ParseEth(f)
			if err != nil || len(info.Payload) < 2 {
				t.Fatalf("port %d: bad output frame", port)
			}
			i := int(info.Payload[0])<<8 | int(info.Payload[1])
			seen[i]++
			w := wants[i]
			if w.drop || w.port != port || w.mac != info.DstMAC.String() {
				t.Errorf("packet %d: out of port %d to %s; kernel says %+v", i, port, info.DstMAC, w)
			}
		}
	}
	drops := 0
	for i, w := range wants {
		if w.drop {
			drops++
			if seen[i] != 0 {
				t.Errorf("packet %d forwarded, kernel blackholes it", i)
			}
		} else if seen[i] != 1 {
			t.Errorf("packet %d came out %d times", i, seen[i])
		}
	}
	if st.Drops["blackhole"] != uint64(drops) {
		t.Errorf("blackhole drops %d, kernel %d", st.Drops["blackhole"], drops)
	}
	if st.Routes4+st.Routes6 < uint64(len(routes)) {
		t.Errorf("FIB holds %d+%d routes, kernel table %d", st.Routes4, st.Routes6, len(routes))
	}
}

// readmeBirdConf is the BIRD configuration README's "The BIRD side" gives,
// as it is written there.
func readmeBirdConf(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const start = "```\n# bird.conf in router_netns"
	i := strings.Index(string(b), start)
	if i < 0 {
		t.Fatal("README has no block starting with # bird.conf in router_netns")
	}
	rest := string(b[i+4:])
	j := strings.Index(rest, "```")
	if j < 0 {
		t.Fatal("README's bird.conf block does not end")
	}
	return rest[:j]
}

// birdGone polls b's routes until prefix is not among them.
func birdGone(t *testing.T, b *testbird.Bird, within time.Duration, prefix string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		out, err := b.C("show", "route")
		if err == nil && !strings.Contains(out, prefix) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still in %s's routes:\n%s", prefix, b.NS, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestAnnouncements: subscriber addresses, NAT pools and gateways become
// kernel routes (protocol 252) in router_netns, in one table per
// direction, through every exception interface of each allowed direction,
// as router_subs_announce, auth_announce_reject, the private ranges with
// service 11 and per-subscriber overrides say, from the CLI and from
// authorisation events (announce batch); NAT pools follow a reload; BIRD
// runs README's configuration as it is written, exporting its BGP routes
// into router_kernel_table next to the announcement tables, and its three
// eBGP peers (two upstreams, one subscriber-side router) hear what they
// should; fibd does not forward along announcements; all are withdrawn
// when fibd stops.
func TestAnnouncements(t *testing.T) {
	fibdBin(t)
	ns := fmt.Sprintf("fibda%d", os.Getpid())
	nstest.NS(t, ns)
	// rib0 faces subs (net_pcap0, in_dev), rib1 and rib2 inet (out_dev).
	peers := []struct{ dev, local, remote string }{
		{"0", "192.0.2.1/24", "192.0.2.2/24"},
		{"1", "198.51.100.1/24", "198.51.100.2/24"},
		{"2", "203.0.113.1/25", "203.0.113.2/25"},
	}
	// Each peer in its own namespace, behind its veth.
	for _, p := range peers {
		pns := ns + "p" + p.dev
		nstest.NS(t, pns)
		nstest.Veth(t, ns, "rib"+p.dev, pns, "nbr"+p.dev)
		nstest.Batch(t, ns, "address add "+p.local+" dev rib"+p.dev)
		nstest.Batch(t, pns, "address add "+p.remote+" dev nbr"+p.dev)
	}
	// table: the kernel routes of protocol 252 in one table, one line each.
	table := func(tb string) string {
		out, err := exec.Command("ip", "-n", ns, "-o", "route", "show", "table", tb, "proto", "252").CombinedOutput()
		if err != nil && !strings.Contains(string(out), "does not exist") { // empty table
			t.Fatalf("ip route show: %v %s", err, out)
		}
		if err != nil {
			return ""
		}
		return strings.Join(strings.Fields(strings.ReplaceAll(string(out), "\\", "")), " ")
	}
	// towards: where addr is announced, as the kernel tables say: towards
	// subs through rib0, towards inet through both rib1 and rib2.
	towards := func(addr string) (subs, inet bool) {
		in, sb := table("101"), table("102")
		subs = strings.Contains(sb, addr+" dev rib0 ")
		inet = strings.Contains(in, addr+" metric 32 nexthop dev rib1 weight 1 nexthop dev rib2 weight 1")
		if !inet && strings.Contains(in, addr+" ") {
			t.Errorf("%s announced towards inet, not through rib1 and rib2 both: %s", addr, in)
		}
		return subs, inet
	}
	r := startFibd(t, fmt.Sprintf(`router=1
fibd_exception=none
router_netns=%s
router_kernel_table=100
router_fib_refresh=5
router_subs_announce=15
router_subs_metrics=32
auth_announce_reject=0
fibd_nat_pool=203.0.113.128/25
fibd_subs_gateway=100.64.0.1/32
bras_arp_mac=02:00:00:00:00:fe
bras_arp_ip=192.0.2.254
router_device {
device=net_pcap0
peer=rib0
}
router_device {
device=net_pcap1
peer=rib1
}
router_device {
device=net_pcap2
peer=rib2
}`, ns), "")

	if subs, inet := towards("203.0.113.128/25"); subs || !inet {
		t.Errorf("NAT pool towards subs %v, inet %v; want inet only:\n%s\n%s", subs, inet, table("101"), table("102"))
	}
	if subs, inet := towards("100.64.0.1"); !subs || !inet {
		t.Errorf("gateway towards subs %v, inet %v; want both", subs, inet)
	}
	// BIRD in router_netns with README's configuration; the peers.
	testbird.Start(t, ns, readmeBirdConf(t))
	peerConf := func(local, as, remote, routes string) string {
		return fmt.Sprintf(`router id %[1]s;
protocol device { scan time 1; }
protocol static own { ipv4; %[4]s }
protocol bgp fibd {
	local %[1]s as %[2]s;
	neighbor %[3]s as 65001;
	ipv4 { import all; export where proto = "own"; };
}
`, local, as, remote, routes)
	}
	up1 := testbird.Start(t, ns+"p1", peerConf("198.51.100.2", "65002", "198.51.100.1", "route 8.8.8.0/24 blackhole;"))
	up2 := testbird.Start(t, ns+"p2", peerConf("203.0.113.2", "65003", "203.0.113.1", ""))
	sub := testbird.Start(t, ns+"p0", peerConf("192.0.2.2", "65010", "192.0.2.1", ""))
	for _, b := range []*testbird.Bird{up1, up2} {
		b.Eventually(t, 60*time.Second, "203.0.113.128/25", "show", "route")
		b.Eventually(t, 30*time.Second, "100.64.0.1/32", "show", "route")
	}
	sub.Eventually(t, 30*time.Second, "100.64.0.1/32", "show", "route")
	// BIRD's own kernel protocol exports the upstream's route into
	// router_kernel_table next to the announcement tables, and fibd
	// forwards along it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _, _ := r.fdpi(t, "--json", "router", "fib", "lookup", "8.8.8.8", "table=100")
		if !strings.Contains(out, `"type":"no_route"`) && strings.Contains(out, `"device":"net_pcap1"`) {
			break
		}
		if time.Now().After(deadline) {
			kt, _ := exec.Command("ip", "-n", ns, "route", "show", "table", "100").CombinedOutput()
			t.Fatalf("BIRD's BGP route never reached fibd's FIB: %s\ntable 100:\n%s", out, kt)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Only subscriber addresses and parts of NAT pools, unless forced (and
	// nothing at all without the control secret).
	for _, args := range [][]string{{"100.64.2.0/24", "dir=inet"}, {"0.0.0.0/0"}, {"224.0.0.5"}} {
		if _, se, code := r.fdpi(t, append([]string{"router", "announce", "add"}, args...)...); code != 1 || !strings.Contains(se, "force=1") {
			t.Errorf("announce add %v: %d %q, want refused", args, code, se)
		}
	}
	if _, se, code := r.fdpiAs(t, "", "router", "announce", "add", "100.64.1.99"); code != 1 || !strings.Contains(se, "needs the control secret") {
		t.Errorf("unsigned announce add: %d %q, want refused", code, se)
	}
	if out, _, code := r.fdpi(t, "router", "announce", "add", "203.0.113.192/26"); code != 0 || !strings.Contains(out, "announced to inet") {
		t.Errorf("announce add of a part of a NAT pool: %d %q, want towards inet (a pool)", code, out)
	}
	if a := table("101") + table("102"); strings.Contains(a, "100.64.2.0/24") || strings.Contains(a, "default") || strings.Contains(a, "224.0.0.5") || strings.Contains(a, "100.64.1.99") {
		t.Errorf("refused announcements installed:\n%s", a)
	}
	r.fdpi(t, "router", "announce", "del", "203.0.113.192/26")
	for _, c := range []struct {
		args       []string
		subs, inet bool
		addr       string
		response   string
	}{
		{[]string{"100.64.1.7"}, true, true, "100.64.1.7", "announced to subs,inet"},
		{[]string{"10.1.1.1", "nat=1"}, true, false, "10.1.1.1", "announced to subs"},         // RFC 1918 + service 11
		{[]string{"100.64.1.20", "nat=1"}, true, false, "100.64.1.20", "announced to subs"},   // RFC 6598 + service 11
		{[]string{"10.1.1.2"}, true, true, "10.1.1.2", "announced to subs,inet"},              // private, no NAT
		{[]string{"198.18.7.7", "nat=1"}, true, true, "198.18.7.7", "announced to subs,inet"}, // public, NAT
		{[]string{"100.64.1.8", "reject=1"}, false, false, "100.64.1.8", "not announced"},
		{[]string{"100.64.1.9", "reject=1", "announce=1"}, true, true, "100.64.1.9", "announced"},
		{[]string{"100.64.1.10", "announce=0"}, false, false, "100.64.1.10", "not announced"},
		{[]string{"100.64.2.0/24", "dir=inet", "force=1"}, false, true, "100.64.2.0/24", "announced to inet"},
	} {
		out, se, code := r.fdpi(t, append([]string{"router", "announce", "add"}, c.args...)...)
		if code != 0 || !strings.Contains(out, c.response) {
			t.Errorf("announce add %v: %d %q %q", c.args, code, out, se)
		}
		if subs, inet := towards(c.addr); subs != c.subs || inet != c.inet {
			t.Errorf("%v: towards subs %v inet %v, want %v %v:\n%s\n%s", c.args, subs, inet, c.subs, c.inet, table("101"), table("102"))
		}
	}
	if a := table("102"); !strings.Contains(a, "100.64.1.7 dev rib0 scope link metric 32") {
		t.Errorf("router_subs_metrics not used:\n%s", a)
	}
	// IPv6: no device-only multipath in the kernel, so one route through
	// each inet interface.
	if out, se, code := r.fdpi(t, "router", "announce", "add", "2001:db8:77::7"); code != 0 || !strings.Contains(out, "announced to subs,inet") {
		t.Errorf("announce add of an IPv6 subscriber: %d %q %q", code, out, se)
	}
	v6 := func(tb string) string {
		out, _ := exec.Command("ip", "-n", ns, "-6", "-o", "route", "show", "table", tb, "proto", "252").CombinedOutput()
		return strings.Join(strings.Fields(string(out)), " ")
	}
	for _, w := range []struct{ tb, route string }{{"101", "2001:db8:77::7 dev rib1 metric 32"}, {"101", "2001:db8:77::7 dev rib2 metric 32"},
		{"102", "2001:db8:77::7 dev rib0 metric 32"}} {
		if got := v6(w.tb); !strings.Contains(got, w.route) {
			t.Errorf("IPv6 announcement: %q missing from table %s: %s", w.route, w.tb, got)
		}
	}
	r.fdpi(t, "router", "announce", "del", "2001:db8:77::7")
	if got := v6("101") + v6("102"); strings.Contains(got, "2001:db8:77::7") {
		t.Errorf("IPv6 announcement left after del: %s", got)
	}

	// Authorisation events, as an AAA script feeds them.
	batch := exec.Command(r.cli, "-r", r.addr, "-k", r.secret, "router", "announce", "batch")
	batch.Stdin = strings.NewReader(`# from the RADIUS script
accept 100.64.3.1
accept 100.64.3.2 VasExperts-Service-Profile=11:cgnat
accept 198.18.3.3 VasExperts-Service-Profile=5,11:cgnat
reject 100.64.3.4
reject 100.64.3.5 VasExperts-Route-Announce=1
accept 100.64.3.6 VasExperts-Route-Announce=0
accept 8.8.0.0/16
bogus 100.64.3.7

accept 100.64.3.8
stop 100.64.3.8
`)
	bout, berr := batch.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(berr, &ee) || ee.ExitCode() != 1 {
		t.Errorf("announce batch with refused lines: %v, want status 1\n%s", berr, bout)
	}
	for _, want := range []string{
		"2 ok 100.64.3.1/32 announced to subs,inet", "3 ok 100.64.3.2/32 announced to subs\n",
		"4 ok 198.18.3.3/32 announced to subs,inet", "5 ok 100.64.3.4/32 not announced",
		"6 ok 100.64.3.5/32 announced to subs,inet", "7 ok 100.64.3.6/32 not announced",
		"8 error refused", "9 error \"bogus\"", "11 ok 100.64.3.8/32 announced", "12 ok 100.64.3.8/32 withdrawn",
	} {
		if !strings.Contains(string(bout), want) {
			t.Errorf("announce batch: %q missing from\n%s", want, bout)
		}
	}
	for _, c := range []struct {
		addr       string
		subs, inet bool
	}{
		{"100.64.3.1", true, true}, {"100.64.3.2", true, false}, {"198.18.3.3", true, true},
		{"100.64.3.4", false, false}, {"100.64.3.5", true, true}, {"100.64.3.6", false, false},
		{"8.8.0.0/16", false, false}, {"100.64.3.8", false, false},
	} {
		if subs, inet := towards(c.addr); subs != c.subs || inet != c.inet {
			t.Errorf("after the batch, %s: towards subs %v inet %v, want %v %v", c.addr, subs, inet, c.subs, c.inet)
		}
	}
	// An unsigned batch changes nothing.
	batch = exec.Command(r.cli, "-r", r.addr, "-k", "", "router", "announce", "batch")
	batch.Stdin = strings.NewReader("accept 100.64.3.9\n")
	if bout, _ := batch.CombinedOutput(); !strings.Contains(string(bout), "1 error") || strings.Contains(table("102"), "100.64.3.9 ") {
		t.Errorf("unsigned batch line: %s", bout)
	}

	// Both upstreams hear the inet announcements, not the subs-only ones;
	// the subscribers' router hears the subs ones, not the NAT pool.
	for _, b := range []*testbird.Bird{up1, up2} {
		b.Eventually(t, 30*time.Second, "100.64.2.0/24", "show", "route")
		b.Eventually(t, 30*time.Second, "100.64.3.5/32", "show", "route")
		out := b.Eventually(t, 30*time.Second, "100.64.1.7/32", "show", "route")
		for _, no := range []string{"10.1.1.1/32", "100.64.1.20/32", "100.64.1.8/32", "100.64.3.2/32"} {
			if strings.Contains(out, no) {
				t.Errorf("%s heard %s, not announced towards inet:\n%s", b.NS, no, out)
			}
		}
	}
	out := sub.Eventually(t, 30*time.Second, "10.1.1.1/32", "show", "route")
	sub.Eventually(t, 30*time.Second, "100.64.3.2/32", "show", "route")
	if strings.Contains(out, "203.0.113.128/25") || strings.Contains(out, "100.64.2.0/24") {
		t.Errorf("the subscribers' router heard an inet-only announcement:\n%s", out)
	}
	// fibd does not forward along its own announcements.
	out, _, _ = r.fdpi(t, "--json", "router", "fib", "lookup", "100.64.1.7", "table=100")
	if !strings.Contains(out, `"type":"no_route"`) {
		t.Errorf("an announcement reached the FIB: %s", out)
	}
	out, _, _ = r.fdpi(t, "router", "announce", "show")
	if !strings.Contains(out, "100.64.1.7/32\tsubs,inet") || !strings.Contains(out, "203.0.113.128/25\tinet") || !strings.Contains(out, "100.64.0.1/32\tsubs,inet") {
		t.Errorf("announce show:\n%s", out)
	}
	if _, _, code := r.fdpi(t, "router", "announce", "del", "100.64.1.7"); code != 0 || strings.Contains(table("101")+table("102"), "100.64.1.7 ") {
		t.Errorf("announce del: %d\n%s", code, table("101")+table("102"))
	}
	birdGone(t, up2, 30*time.Second, "100.64.1.7/32")

	// The NAT pools are hot: a reload announces the new one and withdraws
	// the old one, and the upstreams follow.
	cfg, err := os.ReadFile(r.conf)
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), "fibd_nat_pool=203.0.113.128/25", "fibd_nat_pool=198.18.128.0/24", 1))
	if err := os.WriteFile(r.conf, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, se, code := r.fdpi(t, "router", "reload"); code != 0 || !strings.Contains(out, "fibd_nat_pool") {
		t.Fatalf("reload: %d %q %q", code, out, se)
	}
	if subs, inet := towards("198.18.128.0/24"); subs || !inet {
		t.Errorf("new NAT pool towards subs %v inet %v, want inet only", subs, inet)
	}
	if strings.Contains(table("101"), "203.0.113.128/25") {
		t.Errorf("old NAT pool still announced:\n%s", table("101"))
	}
	for _, b := range []*testbird.Bird{up1, up2} {
		b.Eventually(t, 30*time.Second, "198.18.128.0/24", "show", "route")
		birdGone(t, b, 30*time.Second, "203.0.113.128/25")
	}

	// Stopping fibd withdraws everything.
	r.cmd.Process.Signal(syscall.SIGTERM)
	deadline = time.Now().Add(20 * time.Second)
	for strings.TrimSpace(table("101")+table("102")) != "" {
		if time.Now().After(deadline) {
			t.Fatalf("announcements left after fibd stopped:\n%s\n%s", table("101"), table("102"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
