package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"fibd/test/nstest"
	"fibd/test/testbird"
)

// TestExceptionNetnsRemade: the router netns is deleted and made again
// under its name with a new BIRD (a routing container restarting); fibd
// makes its exception interfaces again (a new TAP in the new namespace, or
// af_packet on the operator's re-made veth pair), BGP comes back through
// fibd, its routes are in the FIB again and traffic flows.
//
//	cl (client)  ca ── fa  port A (in_dev)   exception riba ┐
//	up (BGP)     pb ── fb  port B (out_dev)  exception ribb ┴ rt: BIRD
func TestExceptionNetnsRemade(t *testing.T) {
	for _, mode := range []string{"veth", "tap"} {
		t.Run(mode, func(t *testing.T) { testNetnsRemade(t, mode) })
	}
}

func testNetnsRemade(t *testing.T, mode string) {
	fibdBin(t)
	nstest.Tools(t, "bird", "birdc")
	s := strconv.Itoa(os.Getpid() % 100000)
	rt, cl, up := "nrt"+s, "ncl"+s, "nup"+s
	fa, fb, xa, xb := "nfa"+s, "nfb"+s, "nxa"+s, "nxb"+s
	nstest.NS(t, rt, cl, up)
	nstest.Links(t, fa, fb, xa, xb)
	nstest.Batch(t, "",
		"link add "+fa+" type veth peer name ca netns "+cl,
		"link add "+fb+" type veth peer name pb netns "+up,
		"link set "+fa+" up", "link set "+fb+" up")
	nstest.Batch(t, cl, "link set ca up", "address add 10.1.0.2/24 dev ca", "route add default via 10.1.0.1")
	nstest.Batch(t, up, "link set pb up", "address add 10.2.0.2/24 dev pb", "address add 198.18.0.1/32 dev lo",
		"route add 10.1.0.0/24 via 10.2.0.1")
	nstest.Exec(t, up, "ethtool", "-K", "pb", "tx", "off")
	nstest.Exec(t, cl, "ethtool", "-K", "ca", "tx", "off")

	// The router netns as its owner makes it: forwarding on, the manual's
	// veth pairs (veth mode) or fibd's TAPs (tap mode), the addresses.
	makeRouterNS := func(first bool) {
		if !first {
			if err := nstest.AddNS(rt); err != nil { // NS removes it at the end
				t.Fatal(err)
			}
		}
		for _, k := range []string{"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"} {
			nstest.Exec(t, rt, "sysctl", "-qw", k)
		}
		if mode == "veth" {
			nstest.Batch(t, "", "link add "+xa+" type veth peer name riba netns "+rt,
				"link add "+xb+" type veth peer name ribb netns "+rt)
			nstest.Batch(t, rt, "link set riba up", "link set ribb up")
			for _, i := range []string{"riba", "ribb"} {
				nstest.Exec(t, rt, "ethtool", "-K", i, "tx", "off")
			}
		}
	}
	addAddrs := func() {
		nstest.Batch(t, rt, "address add 10.1.0.1/24 dev riba", "address add 10.2.0.1/24 dev ribb")
	}
	makeRouterNS(true)
	if mode == "veth" {
		addAddrs()
	}

	l := newLabAt(t, routerConf(rt, []string{fa}, []string{fb})+fmt.Sprintf(`fibd_exception=%s
router_device {
device=net_af_packet0
tap=%s
peer=riba
}
router_device {
device=net_af_packet1
tap=%s
peer=ribb
}`, mode, xa, xb))
	r := l.start(t)
	hasRibs := func() bool {
		out, _ := exec.Command("ip", "-n", rt, "link").CombinedOutput()
		return strings.Contains(string(out), "riba") && strings.Contains(string(out), "ribb")
	}
	if mode == "tap" {
		nstest.WaitUntil(t, 20*time.Second, "fibd's TAPs in "+rt, hasRibs)
		addAddrs()
	}

	routerConfText := `router id 10.2.0.1;
protocol device { scan time 1; }
protocol kernel k4 { scan time 1; ipv4 { import none; export where source = RTS_BGP; }; }
protocol bgp up4 {
	local 10.2.0.1 as 65001; neighbor 10.2.0.2 as 65002;
	hold time 3; keepalive time 1; connect retry time 2; error wait time 1, 5;
	ipv4 { import all; export none; };
}
`
	testbird.Start(t, up, `router id 10.2.0.2;
protocol device { scan time 1; }
protocol static s4 { ipv4; route 198.18.0.0/24 blackhole; route 203.0.113.0/24 blackhole; }
protocol bgp r4 {
	local 10.2.0.2 as 65002; neighbor 10.2.0.1 as 65001;
	hold time 3; keepalive time 1; connect retry time 2; error wait time 1, 5;
	ipv4 { import none; export where source = RTS_STATIC; };
}
`)
	ping := func() int {
		out, _ := exec.Command("ip", "netns", "exec", cl, "ping", "-q", "-n", "-c", "3", "-i", "0.3", "-W", "1", "198.18.0.1").CombinedOutput()
		var sent, got int
		for _, ln := range strings.Split(string(out), "\n") {
			if strings.Contains(ln, "packets transmitted") {
				fmt.Sscanf(strings.TrimSpace(ln), "%d packets transmitted, %d received", &sent, &got)
			}
		}
		return got
	}
	// BGP through fibd, its routes in the FIB, a ping through fibd.
	established := func(b *testbird.Bird, what string) {
		t.Helper()
		nstest.WaitUntil(t, 60*time.Second, what+": BGP established", func() bool {
			return strings.Contains(bgpLine(b, "up4"), "Established")
		})
		nstest.WaitUntil(t, 30*time.Second, what+": 198.18.0.0/24 and 203.0.113.0/24 in the FIB via port B", func() bool {
			t1, d1 := r.fibLookup(t, "198.18.0.1")
			t2, d2 := r.fibLookup(t, "203.0.113.9")
			return t1 == "forward" && d1 == "net_af_packet1" && t2 == "forward" && d2 == "net_af_packet1"
		})
		nstest.WaitUntil(t, 30*time.Second, what+": ping through fibd", func() bool { return ping() > 0 })
	}
	reattached := func() (n map[string]uint64) {
		out, _, _ := r.fdpi(t, "--json", "router", "device", "show")
		n = map[string]uint64{}
		for _, ln := range strings.Split(strings.TrimSpace(out), "\n") {
			var v struct {
				Device    string `json:"device"`
				Exception *struct {
					Attached bool   `json:"attached"`
					Reattach uint64 `json:"reattached"`
				} `json:"exception"`
			}
			if json.Unmarshal([]byte(ln), &v) == nil && v.Exception != nil && v.Exception.Attached {
				n[v.Device] = v.Exception.Reattach
			}
		}
		return n
	}

	routerBird := testbird.Start(t, rt, routerConfText)
	established(routerBird, "at start")
	if n := reattached(); n["net_af_packet0"] != 0 || n["net_af_packet1"] != 0 || len(n) != 2 {
		t.Fatalf("before the netns is made again: attached exceptions %v", n)
	}

	// The routing container restarts: its BIRD and netns go, and come back.
	routerBird.Stop()
	nstest.IP(t, "netns", "del", rt)
	if mode == "veth" { // fibd's router keeps the old netns alive: the pairs stay unless removed
		nstest.DelLinks(xa, xb)
	}
	nstest.WaitUntil(t, 10*time.Second, "exceptions released", func() bool { return len(reattached()) == 0 })
	time.Sleep(1500 * time.Millisecond) // fibd waits for the new netns meanwhile
	makeRouterNS(false)
	if mode == "tap" {
		nstest.WaitUntil(t, 20*time.Second, "fibd's TAPs in the new "+rt, hasRibs)
	}
	addAddrs()
	routerBird = testbird.Start(t, rt, routerConfText)
	established(routerBird, "after the netns was made again")
	if n := reattached(); n["net_af_packet0"] != 1 || n["net_af_packet1"] != 1 {
		t.Fatalf("re-attaches: %v\nfibd:\n%s", n, r.out.String())
	}
	for _, i := range []string{"riba", "ribb"} {
		port := "net_af_packet0"
		if i == "ribb" {
			port = "net_af_packet1"
		}
		if got, want := nstest.MAC(t, rt, i).String(), portMAC(t, r, port); got != want {
			t.Errorf("%s has MAC %s, not its port's %s", i, got, want)
		}
	}
}

// portMAC is a device's MAC as fibd shows it.
func portMAC(t *testing.T, r *running, dev string) string {
	out, _, _ := r.fdpi(t, "--json", "router", "device", "show")
	for _, ln := range strings.Split(strings.TrimSpace(out), "\n") {
		var v struct {
			Device string `json:"device"`
			MAC    string `json:"mac"`
		}
		if json.Unmarshal([]byte(ln), &v) == nil && v.Device == dev {
			return v.MAC
		}
	}
	t.Fatalf("no device %s in device show:\n%s", dev, out)
	return ""
}
