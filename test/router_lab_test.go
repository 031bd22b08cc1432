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

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"fibd/ports/pcap"
	"fibd/test/fullview"
	"fibd/test/testbird"
)

// TestRouterModePcap runs fibd with router=1: it mirrors a kernel table of
// a scratch router_netns (rib1/rib2 stand for the exception interfaces of
// net_pcap1/net_pcap2) and forwards a capture along it. Every packet must
// leave where the kernel's own route lookup in that netns sends it.
func TestRouterModePcap(t *testing.T) {
	bin := fibdBin(t)
	ns := fmt.Sprintf("fibdr%d", os.Getpid())
	exec.Command("ip", "netns", "del", ns).Run()
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	neigh := map[string]string{"198.51.100.2": "02:00:00:00:01:02", "203.0.113.2": "02:00:00:00:02:02",
		"2001:db8:1::2": "02:00:00:00:01:02", "2001:db8:2::2": "02:00:00:00:02:02"}
	setup := []string{
		"link set lo up",
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
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(setup, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v\n%s", err, out)
	}
	if out, err := exec.Command("ip", "-n", ns, "-6", "rule", "add", "lookup", "100", "pref", "100").CombinedOutput(); err != nil {
		t.Fatalf("ip -6 rule: %v %s", err, out)
	}

	// The kernel's decision for every destination, before fibd runs.
	nsh, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(nsh)
	nsh.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
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

// TestAnnouncements: subscriber addresses and NAT pools become kernel
// routes (protocol 252) in router_netns, in one table per direction,
// towards the exception interface of each allowed direction, as router_subs_announce, auth_announce_reject and
// per-subscriber overrides say; fibd does not forward along them; all are
// withdrawn when fibd stops.
func TestAnnouncements(t *testing.T) {
	fibdBin(t)
	ns := fmt.Sprintf("fibda%d", os.Getpid())
	exec.Command("ip", "netns", "del", ns).Run()
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	setup := "link add rib0 type veth peer name nbr0\nlink add rib1 type veth peer name nbr1\n" +
		"link set rib0 up\nlink set rib1 up\nlink set nbr0 up\nlink set nbr1 up\n" +
		"address add 192.0.2.1/24 dev rib0\naddress add 198.51.100.1/24 dev rib1\n"
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(setup)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v\n%s", err, out)
	}
	announced := func() string { // inet announcements in table 100, subs in 101
		var all string
		for _, table := range []string{"100", "101"} {
			out, err := exec.Command("ip", "-n", ns, "route", "show", "table", table, "proto", "252").CombinedOutput()
			if err != nil && !strings.Contains(string(out), "does not exist") { // empty table
				t.Fatalf("ip route show: %v %s", err, out)
			}
			if err == nil {
				all += string(out)
			}
		}
		return all
	}
	r := startFibd(t, fmt.Sprintf(`router=1
fibd_exception=none
router_netns=%s
router_kernel_table=100
router_fib_refresh=5
router_subs_announce=7
router_subs_metrics=32
auth_announce_reject=0
fibd_nat_pool=203.0.113.128/25
bras_arp_mac=02:00:00:00:00:fe
bras_arp_ip=192.0.2.254
router_device {
device=net_pcap0
peer=rib0
}
router_device {
device=net_pcap1
peer=rib1
}`, ns), "")

	if a := announced(); !strings.Contains(a, "203.0.113.128/25 dev rib1") || strings.Contains(a, "203.0.113.128/25 dev rib0") {
		t.Errorf("NAT pool not announced towards inet only:\n%s", a)
	}
	// BIRD in router_netns learns the announcements and exports the inet
	// ones to an eBGP peer behind rib1 (in its own namespace, with BIRD).
	peerNS := ns + "p"
	exec.Command("ip", "netns", "del", peerNS).Run()
	if out, err := exec.Command("ip", "netns", "add", peerNS).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", peerNS).Run() })
	for _, c := range [][]string{
		{"-n", ns, "link", "set", "nbr1", "netns", peerNS},
		{"-n", peerNS, "address", "add", "198.51.100.2/24", "dev", "nbr1"},
		{"-n", peerNS, "link", "set", "nbr1", "up"},
		{"-n", peerNS, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", c, err, out)
		}
	}
	testbird.Start(t, ns, `router id 198.51.100.1;
protocol device { scan time 1; }
ipv4 table subs4;
protocol kernel announce_inet {
	kernel table 100;
	learn;
	scan time 1;
	ipv4 { import where krt_source = 252; export none; };
}
protocol kernel announce_subs {
	kernel table 101;
	learn;
	scan time 1;
	ipv4 { table subs4; import where krt_source = 252; export none; };
}
protocol bgp upstream {
	local 198.51.100.1 as 65001;
	neighbor 198.51.100.2 as 65002;
	ipv4 { import none; export where proto = "announce_inet"; };
}
`)
	peer := testbird.Start(t, peerNS, `router id 198.51.100.2;
protocol device { scan time 1; }
protocol bgp fibd {
	local 198.51.100.2 as 65002;
	neighbor 198.51.100.1 as 65001;
	ipv4 { import all; export none; };
}
`)
	peer.Eventually(t, 30*time.Second, "203.0.113.128/25", "show", "route")
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
	if out, _, code := r.fdpi(t, "router", "announce", "add", "203.0.113.192/26"); code != 0 || !strings.Contains(out, "announced") {
		t.Errorf("announce add of a part of a NAT pool: %d %q", code, out)
	}
	if a := announced(); strings.Contains(a, "100.64.2.0/24") || strings.Contains(a, "default") || strings.Contains(a, "224.0.0.5") || strings.Contains(a, "100.64.1.99") {
		t.Errorf("refused announcements installed:\n%s", a)
	}
	r.fdpi(t, "router", "announce", "del", "203.0.113.192/26")
	for _, c := range []struct {
		args     []string
		subs     bool
		inet     bool
		addr     string
		response string
	}{
		{[]string{"100.64.1.7"}, true, true, "100.64.1.7", "announced to subs,inet"},
		{[]string{"10.1.1.1", "nat=1"}, true, false, "10.1.1.1", "announced to subs"},
		{[]string{"100.64.1.8", "reject=1"}, false, false, "100.64.1.8", "not announced"},
		{[]string{"100.64.1.9", "reject=1", "announce=1"}, true, true, "100.64.1.9", "announced"},
		{[]string{"100.64.1.10", "announce=0"}, false, false, "100.64.1.10", "not announced"},
		{[]string{"100.64.2.0/24", "dir=inet", "force=1"}, false, true, "100.64.2.0/24", "announced to inet"},
	} {
		out, se, code := r.fdpi(t, append([]string{"router", "announce", "add"}, c.args...)...)
		if code != 0 || !strings.Contains(out, c.response) {
			t.Errorf("announce add %v: %d %q %q", c.args, code, out, se)
		}
		a := announced()
		if got := strings.Contains(a, c.addr+" dev rib0"); got != c.subs {
			t.Errorf("%v: towards subs %v, want %v:\n%s", c.args, got, c.subs, a)
		}
		if got := strings.Contains(a, c.addr+" dev rib1"); got != c.inet {
			t.Errorf("%v: towards inet %v, want %v:\n%s", c.args, got, c.inet, a)
		}
	}
	if a := announced(); !strings.Contains(a, "100.64.1.7 dev rib0 scope link metric 32") || !strings.Contains(a, "100.64.1.7 dev rib1 scope link metric 32") {
		t.Errorf("router_subs_metrics not used:\n%s", a)
	}
	// The peer hears the inet announcements, not the subs-only ones.
	out := peer.Eventually(t, 30*time.Second, "100.64.2.0/24", "show", "route")
	peer.Eventually(t, 30*time.Second, "100.64.1.7/32", "show", "route")
	if strings.Contains(out, "10.1.1.1/32") || strings.Contains(out, "100.64.1.8/32") {
		t.Errorf("the inet peer heard a subs-only or unannounced address:\n%s", out)
	}
	// fibd does not forward along its own announcements.
	out, _, _ = r.fdpi(t, "--json", "router", "fib", "lookup", "100.64.1.7", "table=100")
	if !strings.Contains(out, `"type":"no_route"`) {
		t.Errorf("an announcement reached the FIB: %s", out)
	}
	out, _, _ = r.fdpi(t, "router", "announce", "show")
	if !strings.Contains(out, "100.64.1.7/32\tsubs,inet") || !strings.Contains(out, "203.0.113.128/25\tinet") {
		t.Errorf("announce show:\n%s", out)
	}
	if _, _, code := r.fdpi(t, "router", "announce", "del", "100.64.1.7"); code != 0 || strings.Contains(announced(), "100.64.1.7 ") {
		t.Errorf("announce del: %d\n%s", code, announced())
	}
	// Stopping fibd withdraws everything.
	r.cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(20 * time.Second)
	for strings.TrimSpace(announced()) != "" {
		if time.Now().After(deadline) {
			t.Fatalf("announcements left after fibd stopped:\n%s", announced())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
