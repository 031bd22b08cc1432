package test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"fibd/ports/pcap"
	"fibd/router/peering"
	"fibd/test/fullview"
	"fibd/test/nstest"
	"fibd/test/testbird"
)

// TestPeeringMux runs the PEERING mux of the seed through fibd, with its
// BIRD configuration unchanged:
//
//	mcl (client) ─ kca ─ ma  port A  managed TAP riba ┐  upstream1, upstream2: macvlans on riba
//	mu1 (AS 65001) ─ kb ─ mb  port B  managed TAP ribb ├ mrt: BIRD, tables 10001, 10002, 20000
//	mu2 (AS 65002) ─ kc ─ mc  port C  managed TAP ribc ┘
//
// Both upstreams announce overlapping prefixes over eBGP into one table
// each (10000+i); the client's prefix is in table 20000; ip rules pick the
// table by the incoming interface: the macvlan a client frame was sent to
// (its destination MAC), or the upstream's interface. Probes of every kind
// are sent through fibd and must come out where the kernel's own route
// lookup in the mux netns (ip route get ... iif ...) says.
func TestPeeringMux(t *testing.T) {
	fibdBin(t)
	nstest.Tools(t, "bird", "birdc")
	s := strconv.Itoa(os.Getpid() % 100000)
	rt, cl, u1, u2 := "mrt"+s, "mcl"+s, "mu1"+s, "mu2"+s
	ma, mb, mc := "ma"+s, "mb"+s, "mc"+s
	nstest.NS(t, rt, cl, u1, u2)
	nstest.Links(t, ma, mb, mc)
	nstest.Batch(t, "", "link add "+ma+" type veth peer name kca netns "+cl,
		"link add "+mb+" type veth peer name kb netns "+u1, "link add "+mc+" type veth peer name kc netns "+u2,
		"link set "+ma+" up", "link set "+mb+" up", "link set "+mc+" up")

	// The seed's address plan, mux 0: upstream i's macvlan at
	// 100.64.0.i, the mux at 100.64.128.1, the client after it.
	const mux = 0
	up1Addr, up1Addr6, err := peering.Plan{}.Upstream(mux, 1)
	if err != nil {
		t.Fatal(err)
	}
	up2Addr, up2Addr6, _ := peering.Plan{}.Upstream(mux, 2)
	muxAddr, muxAddr6, muxNet, _, _ := peering.Plan{}.Mux(mux)
	client, client6, _ := peering.Plan{}.Client(mux, 1)
	clientPfx, clientPfx6 := netip.MustParsePrefix("184.164.224.0/24"), netip.MustParsePrefix("2804:269c:1::/48")

	// the tunnel's routes: the mux's whole /16 and /64 are on the client's link
	nstest.Batch(t, cl, "link set kca up", fmt.Sprintf("address add %s/16 dev kca", client),
		fmt.Sprintf("address add %s/64 dev kca nodad", client6),
		"address add 184.164.224.1/32 dev lo", "address add 2804:269c:1::1/128 dev lo",
		fmt.Sprintf("route add 198.18.0.0/15 via %s", up1Addr), // upstream 1 by its macvlan
		fmt.Sprintf("route add 203.0.113.0/24 via %s", up2Addr),
		fmt.Sprintf("route add 2001:db8:8000::/33 via %s", up1Addr6))
	nstest.Batch(t, u1, "link set kb up", "address add 10.11.0.2/24 dev kb", "address add 198.18.0.1/32 dev lo",
		"address add 2001:db8:11::2/64 dev kb nodad", "address add 2001:db8:8000::1/128 dev lo",
		"route add 184.164.224.0/24 via 10.11.0.1", "route add 2804:269c:1::/48 via 2001:db8:11::1")
	nstest.Batch(t, u2, "link set kc up", "address add 10.12.0.2/24 dev kc", "address add 198.18.0.1/32 dev lo",
		"address add 2001:db8:12::2/64 dev kc nodad", "address add 2001:db8:8000::1/128 dev lo",
		"route add 184.164.224.0/24 via 10.12.0.1", "route add 2804:269c:1::/48 via 2001:db8:12::1")
	for _, c := range [][2]string{{cl, "kca"}, {u1, "kb"}, {u2, "kc"}} {
		nstest.Exec(t, c[0], "ethtool", "-K", c[1], "tx", "off")
	}
	for _, k := range []string{"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
		"net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.default.arp_ignore=1",
		"net.ipv4.conf.all.arp_announce=2", "net.ipv4.conf.default.arp_announce=2"} {
		nstest.Exec(t, rt, "sysctl", "-qw", k)
	}

	l := newLabAt(t, routerConf(rt, []string{ma}, []string{mb, mc})+fmt.Sprintf(`
bras_ipv6_address=2001:db8:fe::1
fibd_table_size=10001:4096:1024
fibd_table_size=10002:4096:1024
fibd_table_size=20000:1024:1024
router_device {
device=net_af_packet0
tap=xma%[1]s
peer=riba
}
router_device {
device=net_af_packet1
tap=xmb%[1]s
peer=ribb
}
router_device {
device=net_af_packet2
tap=xmc%[1]s
peer=ribc
}`, s))
	// four FIB tables (main, 10001, 10002, 20000) of 256 MiB each at least,
	// whatever their size: more DPDK memory than the other labs
	cf, _ := os.ReadFile(l.path("fastdpi.conf"))
	os.WriteFile(l.path("fastdpi.conf"), []byte(strings.Replace(string(cf), "-m 1024", "-m 2048", 1)), 0o644)
	r := l.start(t)
	nstest.WaitUntil(t, 20*time.Second, "the TAPs in the mux netns", func() bool {
		out, _ := exec.Command("ip", "-n", rt, "link").CombinedOutput()
		return strings.Contains(string(out), "riba") && strings.Contains(string(out), "ribc")
	})
	nstest.Batch(t, rt, fmt.Sprintf("address add %s/%d dev riba", muxAddr, muxNet.Bits()),
		fmt.Sprintf("address add %s/80 dev riba nodad", muxAddr6),
		"address add 10.11.0.1/24 dev ribb", "address add 10.12.0.1/24 dev ribc",
		"address add 2001:db8:11::1/64 dev ribb nodad", "address add 2001:db8:12::1/64 dev ribc nodad",
		"link add upstream1 link riba type macvlan mode bridge", "link set upstream1 up",
		"link add upstream2 link riba type macvlan mode bridge", "link set upstream2 up",
		fmt.Sprintf("address add %s/17 dev upstream1", up1Addr), fmt.Sprintf("address add %s/17 dev upstream2", up2Addr),
		fmt.Sprintf("address add %s/80 dev upstream1 nodad", up1Addr6), fmt.Sprintf("address add %s/80 dev upstream2 nodad", up2Addr6),
		fmt.Sprintf("route add %s via %s dev riba table 20000", clientPfx, client),
		fmt.Sprintf("route add %s via %s dev riba table 20000", clientPfx6, client6))
	for _, fam := range []string{"-4", "-6"} {
		for _, r := range []string{"iif upstream1 lookup 10001 pref 10001", "iif upstream2 lookup 10002 pref 10002",
			"iif ribb lookup 20000 pref 20000", "iif ribc lookup 20000 pref 20001"} {
			nstest.Run(t, append([]string{"ip", fam, "-n", rt, "rule", "add"}, strings.Fields(r)...)...)
		}
	}

	// Each upstream announces 1,500 prefixes, 1,000 of them the same,
	// plus 198.18.0.0/16; upstream 1 alone 203.0.113.0/24.
	common := avoid(fullview.IPv4(21, 4000), 1000, "10.0.0.0/8", "100.64.0.0/10", "184.164.224.0/24", "198.18.0.0/15", "203.0.113.0/24")
	own := avoid(fullview.IPv4(22, 4000), 1000, "10.0.0.0/8", "100.64.0.0/10", "184.164.224.0/24", "198.18.0.0/15", "203.0.113.0/24")
	common6 := avoid(fullview.IPv6(23, 800), 300, "2001:db8::/32", "2804:269c::/32")
	own6 := avoid(fullview.IPv6(24, 800), 300, "2001:db8::/32", "2804:269c::/32")
	bird := func(ns, id, as, nbr, nbr6 string, ps, ps6 []netip.Prefix, extra string) *testbird.Bird {
		return testbird.Start(t, ns, fmt.Sprintf(`router id %[1]s;
protocol device { scan time 1; }
protocol static s4 { ipv4;
%[2]s	route 198.18.0.0/16 blackhole;
%[3]s}
protocol static s6 { ipv6;
%[4]s	route 2001:db8:8000::/33 blackhole;
}
protocol bgp mux {
	local %[1]s as %[5]s; neighbor %[6]s as 47065;
	hold time 3; keepalive time 1; connect retry time 2; error wait time 1, 5;
	ipv4 { import none; export where source = RTS_STATIC; };
}
protocol bgp mux6 {
	neighbor %[7]s as 47065; local as %[5]s;
	hold time 3; keepalive time 1; connect retry time 2; error wait time 1, 5;
	ipv6 { import none; export where source = RTS_STATIC; };
}
`, id, staticRoutes(ps), extra, staticRoutes(ps6), as, nbr, nbr6))
	}
	bird(u1, "10.11.0.2", "65001", "10.11.0.1", "2001:db8:11::1", append(common, own[:500]...),
		append(common6, own6[:150]...), "\troute 203.0.113.0/24 blackhole;\n")
	bird(u2, "10.12.0.2", "65002", "10.12.0.1", "2001:db8:12::1", append(common, own[500:]...),
		append(common6, own6[150:]...), "")
	// The mux's BIRD, as PEERING runs it: one table per upstream, exported
	// to kernel table 10000+i.
	muxBird := testbird.Start(t, rt, `router id 10.11.0.1;
protocol device { scan time 1; }
ipv4 table up1;
ipv4 table up2;
ipv6 table up1v6;
ipv6 table up2v6;
protocol kernel k1 { kernel table 10001; scan time 1; ipv4 { table up1; import none; export all; }; }
protocol kernel k2 { kernel table 10002; scan time 1; ipv4 { table up2; import none; export all; }; }
protocol kernel k16 { kernel table 10001; scan time 1; ipv6 { table up1v6; import none; export all; }; }
protocol kernel k26 { kernel table 10002; scan time 1; ipv6 { table up2v6; import none; export all; }; }
protocol bgp upstream1 {
	local 10.11.0.1 as 47065; neighbor 10.11.0.2 as 65001;
	hold time 3; keepalive time 1; connect retry time 2; error wait time 1, 5;
	ipv4 { table up1; import all; export none; };
}
protocol bgp upstream2 {
	local 10.12.0.1 as 47065; neighbor 10.12.0.2 as 65002;
	hold time 3; keepalive time 1; connect retry time 2; error wait time 1, 5;
	ipv4 { table up2; import all; export none; };
}
protocol bgp upstream1v6 {
	local 2001:db8:11::1 as 47065; neighbor 2001:db8:11::2 as 65001;
	hold time 3; keepalive time 1; connect retry time 2; error wait time 1, 5;
	ipv6 { table up1v6; import all; export none; };
}
protocol bgp upstream2v6 {
	local 2001:db8:12::1 as 47065; neighbor 2001:db8:12::2 as 65002;
	hold time 3; keepalive time 1; connect retry time 2; error wait time 1, 5;
	ipv6 { table up2v6; import all; export none; };
}
`)
	muxBird.Eventually(t, 60*time.Second, "Established", "show", "protocols", "upstream1")
	for _, p := range []string{"upstream2", "upstream1v6", "upstream2v6"} {
		muxBird.Eventually(t, 30*time.Second, "Established", "show", "protocols", p)
	}
	nstest.WaitUntil(t, 30*time.Second, "1,501 routes in each upstream table", func() bool {
		for _, tb := range []string{"10001", "10002"} {
			out, _ := exec.Command("ip", "-n", rt, "route", "show", "table", tb).Output()
			if strings.Count(string(out), "\n") < 1501 {
				return false
			}
		}
		return true
	})
	nstest.WaitUntil(t, 30*time.Second, "301 IPv6 routes in each upstream table", func() bool {
		for _, tb := range []string{"10001", "10002"} {
			out, _ := exec.Command("ip", "-6", "-n", rt, "route", "show", "table", tb).Output()
			if strings.Count(string(out), "\n") < 301 {
				return false
			}
		}
		return true
	})
	// A throw route in upstream 1's table sends the lookup on to the next
	// rules, here the main table, which routes the prefix back to the
	// client: the kernel's decision for these destinations is "kca", where
	// a FIB that took the throw route for no route at all (or skipped it
	// for BIRD's route behind it) would say "kb".
	// (prefixes that hold no longer one in the tables, among those the
	// probes below go to)
	alone := func(step, n int, ps []netip.Prefix, all ...[]netip.Prefix) netip.Prefix {
		for i := 1; i < n; i++ {
			p, inside := ps[i*step], false
			for _, l := range all {
				for _, q := range l {
					inside = inside || q.Bits() > p.Bits() && p.Contains(q.Addr())
				}
			}
			if !inside {
				return p
			}
		}
		t.Fatal("no announced prefix without a longer one inside")
		return netip.Prefix{}
	}
	thrown, thrown6 := alone(20, 40, own, common, own), alone(5, 30, own6, common6, own6)
	nstest.Batch(t, rt, fmt.Sprintf("route add throw %s table 10001", thrown), fmt.Sprintf("route add throw %s table 10001 metric 1", thrown6), // ahead of BIRD's metric 32
		fmt.Sprintf("route add %s via %s dev riba", thrown, client), fmt.Sprintf("route add %s via %s dev riba", thrown6, client6))
	// the client learns the macvlans' MACs (and the mux the client's)
	for _, a := range []netip.Addr{up1Addr, up2Addr, muxAddr, up1Addr6, up2Addr6, muxAddr6} {
		nstest.Exec(t, cl, "ping", "-c", "1", "-W", "2", a.String())
	}
	// the FIB has every table, and a rule-routed ping works both ways
	nstest.WaitUntil(t, 30*time.Second, "fibd mirrors the upstream tables", func() bool {
		o1, _, _ := r.fdpi(t, "--json", "router", "fib", "lookup", own[0].Addr().String(), "table=10001")
		o2, _, _ := r.fdpi(t, "--json", "router", "fib", "lookup", own[600].Addr().String(), "table=10002")
		return strings.Contains(o1, `"forward"`) && strings.Contains(o2, `"forward"`)
	})
	nstest.WaitUntil(t, 10*time.Second, "fibd follows the throw routes to the main table", func() bool {
		for _, a := range []netip.Addr{thrown.Addr().Next(), thrown6.Addr().Next()} {
			o, _, _ := r.fdpi(t, "router", "fib", "lookup", a.String(), "iif=upstream1")
			if !strings.Contains(o, "net_af_packet0") {
				return false
			}
		}
		return true
	})
	if out, err := exec.Command("ip", "netns", "exec", cl, "ping", "-c", "3", "-i", "0.2", "-I", "184.164.224.1", "198.18.0.1").CombinedOutput(); err != nil {
		t.Errorf("client -> upstream 1 -> client: %v\n%s", err, out)
	}

	if out, _, _ := r.fdpi(t, "router", "rule", "show"); !strings.Contains(out, "iif upstream1 lookup 10001") ||
		!strings.Contains(out, "evaluates") {
		t.Errorf("router rule show:\n%s", out)
	}
	macs := map[string]net.HardwareAddr{}
	for _, dev := range []string{"upstream1", "upstream2", "riba", "ribb", "ribc"} {
		macs[dev] = nstest.MAC(t, rt, dev)
	}
	// ARP for a macvlan's address went to the kernel, which answered with
	// the macvlan's MAC (arp_ignore=1, arp_announce=2), as the seed needs
	for i, a := range []netip.Addr{up1Addr, up2Addr, up1Addr6, up2Addr6} {
		out := nstest.IP(t, "-n", cl, "neigh", "show", a.String())
		if want := macs[fmt.Sprintf("upstream%d", i%2+1)].String(); !strings.Contains(out, want) {
			t.Errorf("the client resolved %s to %q, want upstream%d's MAC %s", a, strings.TrimSpace(out), i%2+1, want)
		}
	}
	ports := map[string]string{"ribb": "kb", "ribc": "kc", "riba": "kca"} // mux interface -> host interface behind it
	clientMAC, u1MAC := nstest.MAC(t, cl, "kca"), nstest.MAC(t, u1, "kb")

	// The probes: from the client to each macvlan and to the mux itself,
	// and from upstream 1 to the client, for destinations of every kind.
	type probe struct {
		id       uint16
		iif      string // the mux interface the kernel sees it arrive on
		from     string // host namespace and interface that sends it
		src, dst netip.Addr
		want     string // host interface it must reach, "" for none
	}
	var dsts []netip.Addr
	for i := 0; i < 40; i++ {
		dsts = append(dsts, common[i*20].Addr().Next(), own[i*20].Addr().Next(), own[500+i*10].Addr().Next())
	}
	dsts = append(dsts, netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("203.0.113.9"),
		netip.MustParseAddr("192.0.2.99"), netip.MustParseAddr("184.164.224.1"), client)
	h := nstest.Handle(t, rt)
	var probes []probe
	add := func(iif, from string, src, dst netip.Addr) {
		p := probe{id: uint16(1000 + len(probes)), iif: iif, from: from, src: src, dst: dst}
		rs, err := h.RouteGetWithOptions(dst.AsSlice(), &netlink.RouteGetOptions{Iif: iif, SrcAddr: src.AsSlice()})
		if err == nil && len(rs) == 1 && rs[0].Type == unix.RTN_UNICAST {
			if l, err := h.LinkByIndex(rs[0].LinkIndex); err == nil {
				p.want = ports[l.Attrs().Name]
			}
		}
		probes = append(probes, p)
	}
	for i := 0; i < 30; i++ {
		dsts = append(dsts, common6[i*10].Addr().Next(), own6[i*5].Addr().Next(), own6[150+i*5].Addr().Next())
	}
	dsts = append(dsts, netip.MustParseAddr("2001:db8:8000::1"), netip.MustParseAddr("2804:269c:1::1"), client6,
		netip.MustParseAddr("2001:db8:ffff::1"))
	for _, d := range dsts {
		csrc, usrc := client, netip.MustParseAddr("198.18.0.1")
		if d.Is6() {
			csrc, usrc = client6, netip.MustParseAddr("2001:db8:8000::1")
		}
		for _, iif := range []string{"upstream1", "upstream2", "riba"} {
			if d == client6 && iif != "riba" {
				// the client to itself through a macvlan: the kernel's IPv6
				// route lookup refuses it (not a case fibd mimics)
				continue
			}
			add(iif, cl+"/kca", csrc, d)
		}
		add("ribb", u1+"/kb", usrc, d)
	}
	kinds := map[string]int{}
	for _, p := range probes {
		fam := "v4 "
		if p.dst.Is6() {
			fam = "v6 "
		}
		kinds[fam+p.iif+" -> "+p.want]++
	}
	t.Logf("%d probes; the kernel's decisions: %v", len(probes), kinds)
	for _, p := range probes {
		if p.iif == "upstream1" && (p.dst == thrown.Addr().Next() || p.dst == thrown6.Addr().Next()) && p.want != "kca" {
			t.Fatalf("the kernel sends %s from upstream1 to %q, want the client (kca) through the throw route", p.dst, p.want)
		}
	}
	for _, k := range []string{"v4 upstream1 -> kb", "v4 upstream2 -> kc", "v4 upstream2 -> ", "v4 riba -> ", "v4 ribb -> kca",
		"v4 upstream1 -> kca", "v6 upstream1 -> kb", "v6 upstream2 -> kc", "v6 upstream2 -> ", "v6 riba -> ", "v6 ribb -> kca"} {
		if kinds[k] == 0 {
			t.Fatalf("no probe where the kernel decides %q: the lab does not test it", k)
		}
	}

	// capture at every host (frames that arrive there), send, and compare
	var caps []*capture
	for _, c := range [][2]string{{cl, "kca"}, {u1, "kb"}, {u2, "kc"}} {
		cp, err := startCapture(c[0], c[1])
		if err != nil {
			t.Fatal(err)
		}
		caps = append(caps, cp)
	}
	frames := map[string][][]byte{}
	for _, p := range probes {
		var dmac, smac net.HardwareAddr
		switch p.iif {
		case "ribb":
			dmac, smac = macs["ribb"], u1MAC
		default:
			dmac, smac = macs[p.iif], clientMAC
		}
		build := pcap.EthIPv4UDP
		if p.dst.Is6() {
			build = pcap.EthIPv6UDP
		}
		frames[p.from] = append(frames[p.from], build(dmac, smac, p.src, p.dst, 64, p.id, 7, []byte("mux probe")))
	}
	for from, fs := range frames {
		ns, ifname, _ := strings.Cut(from, "/")
		if err := sendFrames(ns, ifname, fs); err != nil {
			t.Fatal(err)
		}
	}
	// Probes towards a neighbour the kernel is re-checking go through it and
	// may take a while: wait until nothing more arrives.
	count := func() (n int) {
		for _, c := range caps {
			n += c.count()
		}
		return n
	}
	for last, still, deadline := count(), 0, time.Now().Add(8*time.Second); still < 15 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		if n := count(); n != last {
			last, still = n, 0
		} else {
			still++
		}
	}
	got := map[uint16]string{}
	for i, host := range []string{"kca", "kb", "kc"} {
		hostMAC := map[string]net.HardwareAddr{"kca": clientMAC, "kb": u1MAC, "kc": nstest.MAC(t, u2, "kc")}[host]
		for _, f := range caps[i].stop() {
			e, err := pcap.ParseEth(f)
			if err != nil || !e.UDP || e.DstPort != 7 || e.DstMAC.String() != hostMAC.String() {
				continue // the probes themselves, seen leaving the client
			}
			if prev, ok := got[e.SrcPort]; ok && prev != host {
				t.Errorf("probe %d arrived at %s and %s", e.SrcPort, prev, host)
			}
			got[e.SrcPort] = host
		}
	}
	bad := 0
	for _, p := range probes {
		if got[p.id] != p.want {
			bad++
			if bad <= 10 {
				lk, _, _ := r.fdpi(t, "router", "fib", "lookup", p.dst.String(), "iif="+p.iif, "from="+p.src.String())
				t.Errorf("probe %d, %s -> %s in by %s: fibd sent it to %q, the kernel to %q; fibd's lookup now: %s",
					p.id, p.src, p.dst, p.iif, got[p.id], p.want, strings.TrimSpace(lk))
			}
		}
	}
	if bad > 0 {
		st, _, _ := r.fdpi(t, "router", "stats", "show")
		lk, _, _ := r.fdpi(t, "router", "fib", "lookup", clientPfx.Addr().Next().String(), "table=20000")
		arp, _, _ := r.fdpi(t, "router", "arp", "show")
		kn, _ := exec.Command("ip", "-n", rt, "neigh").CombinedOutput()
		ks, _ := exec.Command("ip", "-n", cl, "-s", "link", "show", "kca").CombinedOutput()
		kn = append(kn, ks...)
		t.Errorf("%d of %d probes differ from the kernel; fibd's counters:\n%s\n%s\n%s\nkernel:\n%s", bad, len(probes), st, lk, arp, kn)
	}
	// a rule change is followed at once (rule notifications)
	dst := own[600].Addr().Next() // upstream 2's alone
	if out, _, _ := r.fdpi(t, "router", "fib", "lookup", dst.String(), "iif=upstream2"); !strings.Contains(out, "dev net_af_packet2") {
		t.Errorf("before the rule goes: %s", out)
	}
	t0 := time.Now()
	nstest.IP(t, "-n", rt, "rule", "del", "pref", "10002")
	nstest.WaitUntil(t, 5*time.Second, "the deleted rule no longer routes", func() bool {
		out, _, _ := r.fdpi(t, "router", "fib", "lookup", dst.String(), "iif=upstream2")
		return strings.Contains(out, "no_route")
	})
	if d := time.Since(t0); d > 400*time.Millisecond {
		t.Errorf("rule deletion followed after %v", d)
	} else {
		t.Logf("rule deletion followed after %v", d)
	}
}

// capture collects the frames that arrive on an interface of a namespace
// (a raw socket of the test's own: no tcpdump buffering or timing).
type capture struct {
	fd     int
	mu     sync.Mutex
	frames [][]byte
	done   chan struct{} // closed by stop
	closed chan struct{} // closed when the reader has ended
}

func startCapture(ns, ifname string) (*capture, error) {
	fd, _, err := packetSocket(ns, ifname, true)
	if err != nil {
		return nil, err
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
	tv := unix.Timeval{Usec: 50000} // to see stop in time
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	c := &capture{fd: fd, done: make(chan struct{}), closed: make(chan struct{})}
	go func() {
		defer close(c.closed)
		defer unix.Close(fd)
		buf := make([]byte, 65536)
		for {
			select {
			case <-c.done:
				return
			default:
			}
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				continue
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			c.mu.Lock()
			c.frames = append(c.frames, append([]byte(nil), buf[:n]...))
			c.mu.Unlock()
		}
	}()
	return c, nil
}

func (c *capture) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.frames)
}

// stop ends the capture and returns what arrived.
func (c *capture) stop() [][]byte {
	close(c.done)
	<-c.closed
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames
}

// sendFrames writes frames out of ifname in namespace ns, paced a little
// so that no queue on the way overflows.
func sendFrames(ns, ifname string, frames [][]byte) error {
	fd, sa, err := packetSocket(ns, ifname, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for i, f := range frames {
		if err := unix.Sendto(fd, f, 0, sa); err != nil {
			return fmt.Errorf("frame %d: %w", i, err)
		}
		if i%16 == 15 {
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}
