package routerns

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"fibd/router/rib"
	"fibd/router/static"
	"fibd/test/nstest"
)

// staticScript exercises what a static file may hold, in the subset both
// fibd's loader and `ip -batch` accept (fibd also takes an `ip` word and
// -4/-6 flags, which ip -batch refuses): every object, replace and del,
// tables, metrics, weights, abbreviations, the route types fibd forwards on.
const staticScript = `# two ports, a table of their own
address add 192.0.2.1/24 dev sb0
address add 198.51.100.1/29 dev sb1
address add 2001:db8:0:1::1/64 dev sb0
addr add 2001:db8:a::1/64 dev sb1
neigh add 192.0.2.10 lladdr 02:00:00:00:00:10 dev sb0
neigh replace 192.0.2.10 lladdr 02:00:00:00:00:11 dev sb0
neighbour add 2001:db8:a::2 lladdr 02:00:00:00:0a:02 dev sb1
neigh add 198.51.100.2 lladdr 02:00:00:00:0b:02 dev sb1
neigh add 198.51.100.3 lladdr 02:00:00:00:0b:03 dev sb1
neigh del 198.51.100.3 dev sb1
route add default via 198.51.100.2 dev sb1
route add 10.0.0.0/8 via 192.0.2.10 table 100 metric 7
route add 10.0.0.0/8 via 198.51.100.2 table 100 metric 8
route add 10.1.0.0/16 nexthop via 192.0.2.10 dev sb0 weight 3 nexthop via 198.51.100.2 dev sb1
route add 10.2.0.0/16 dev sb0
route replace 10.2.0.0/16 via 198.51.100.3 dev sb1
route add 10.3.0.0/16 via 192.0.2.10
route del 10.3.0.0/16
route add 10.5.0.7 via 192.0.2.10 table 200
route add blackhole 9.9.9.0/24
route add unreachable 198.18.0.0/15 table 100
route add prohibit 203.0.113.0/24
r a 10.4.0.0/16 via 192.0.2.10
route add 2001:db8:100::/40 via 2001:db8:a::2 dev sb1
route add 2001:db8:200::/48 metric 5 nexthop via 2001:db8:a::2 dev sb1 weight 2 nexthop via 2001:db8:a::3 dev sb1
route add 2001:db8:300::/48 dev sb0 table 100
route add blackhole 2001:db8:dead::/48
route add unreachable 2001:db8:beef::/48 metric 9
`

// TestStaticLoadsLikeIPBatch: README promises that a static file that
// loads in fibd loads with `ip -batch` and means the same. Each file is
// loaded both ways, fibd's loader into a rib.State and ip -batch into a
// scratch namespace (with a veth per device the file names);
// the addresses, neighbours and routes must be the same sets.
func TestStaticLoadsLikeIPBatch(t *testing.T) {
	need(t)
	lab, err := os.ReadFile(filepath.Join("..", "lab", "static.routes"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		src  []byte
	}{{"script", []byte(staticScript)}, {"lab", lab}} {
		t.Run(c.name, func(t *testing.T) {
			st, err := static.Parse(c.name, c.src)
			if err != nil {
				t.Fatalf("fibd refuses the file: %v", err)
			}
			ns := fmt.Sprintf("fibdsb%d", os.Getpid())
			nstest.NS(t, ns) // removed when the test ends
			// No DAD: a tentative IPv6 address would make its gateways
			// unreachable for a moment.
			for _, k := range []string{"all", "default"} {
				if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw",
					"net.ipv6.conf."+k+".accept_dad=0").CombinedOutput(); err != nil {
					t.Fatalf("sysctl: %v %s", err, out)
				}
			}
			var links []string
			for _, d := range staticDevices(st) {
				links = append(links, "link add "+d+" type veth peer name p"+d, "link set "+d+" up", "link set p"+d+" up")
			}
			nstest.Batch(t, ns, links...)
			cmd := exec.Command("ip", "-n", ns, "-batch", "-")
			cmd.Stdin = strings.NewReader(string(c.src))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("ip -batch refuses the file fibd loads: %v\n%s", err, out)
			}
			compareSets(t, "address", staticAddrs(st), kernelAddrs(t, ns))
			compareSets(t, "neighbour", staticNeighs(st), kernelNeighs(t, ns))
			compareSets(t, "route", staticRoutes(st), kernelRoutes4and6(t, ns, st))
		})
	}
}

func staticDevices(st *rib.State) []string {
	var out []string
	add := func(d string) {
		if d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	for _, a := range st.Addrs {
		add(a.Dev)
	}
	for _, n := range st.Neighs {
		add(n.Dev)
	}
	for _, r := range st.Routes {
		for _, nh := range r.Nexthops {
			add(nh.Dev)
		}
	}
	return out
}

func compareSets(t *testing.T, what string, fibd, kernel []string) {
	t.Helper()
	slices.Sort(fibd)
	slices.Sort(kernel)
	for _, x := range fibd {
		if !slices.Contains(kernel, x) {
			t.Errorf("%s only in fibd's state: %s", what, x)
		}
	}
	for _, x := range kernel {
		if !slices.Contains(fibd, x) {
			t.Errorf("%s only in the kernel: %s", what, x)
		}
	}
	if len(fibd) == 0 {
		t.Errorf("no %s at all: the comparison proves nothing", what)
	}
}

// linkLocal addresses are the kernel's own (every IPv6 interface that
// comes up gets one); the files here name none.
func linkLocal(p netip.Prefix) bool { return p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() }

func staticAddrs(st *rib.State) []string {
	var out []string
	for _, a := range st.Addrs {
		out = append(out, a.Prefix.String()+" dev "+a.Dev)
	}
	return out
}

func ipJSON(t *testing.T, ns string, v any, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns, "-j"}, args...)...).Output()
	if err != nil {
		t.Fatalf("ip %s: %v", strings.Join(args, " "), err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func kernelAddrs(t *testing.T, ns string) []string {
	var links []struct {
		Ifname   string `json:"ifname"`
		AddrInfo []struct {
			Local     string `json:"local"`
			Prefixlen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	ipJSON(t, ns, &links, "address", "show")
	var out []string
	for _, l := range links {
		if l.Ifname == "lo" || strings.HasPrefix(l.Ifname, "p") {
			continue
		}
		for _, a := range l.AddrInfo {
			p := netip.PrefixFrom(netip.MustParseAddr(a.Local), a.Prefixlen)
			if !linkLocal(p) {
				out = append(out, p.String()+" dev "+l.Ifname)
			}
		}
	}
	return out
}

func staticNeighs(st *rib.State) []string {
	var out []string
	for _, n := range st.Neighs {
		out = append(out, n.Addr.String()+" lladdr "+n.MAC.String()+" dev "+n.Dev)
	}
	return out
}

func kernelNeighs(t *testing.T, ns string) []string {
	var entries []struct {
		Dst    string `json:"dst"`
		Dev    string `json:"dev"`
		Lladdr string `json:"lladdr"`
	}
	ipJSON(t, ns, &entries, "neigh", "show")
	var out []string
	for _, n := range entries {
		out = append(out, netip.MustParseAddr(n.Dst).String()+" lladdr "+n.Lladdr+" dev "+n.Dev)
	}
	return out
}

// routeString is one route as both sides are compared: table, type,
// prefix, metric and its paths in order. A path's device is left out
// where the file names none (the kernel finds it from the gateway).
func routeString(table uint32, typ string, p netip.Prefix, metric uint32, hops []string) string {
	return fmt.Sprintf("table %d %s %s metric %d %s", table, typ, p, metric, strings.Join(hops, " "))
}

func hopString(gw netip.Addr, dev string, weight int) string {
	if weight == 0 {
		weight = 1
	}
	s := "nexthop"
	if gw.IsValid() {
		s += " via " + gw.String()
	}
	if dev != "" {
		s += " dev " + dev
	}
	return s + " weight " + strconv.Itoa(weight)
}

func staticRoutes(st *rib.State) []string {
	var out []string
	for _, r := range st.Routes {
		var hops []string
		for _, nh := range r.Nexthops {
			hops = append(hops, hopString(nh.Gateway, nh.Dev, nh.Weight))
		}
		out = append(out, routeString(r.Table, r.Type.String(), r.Prefix, r.Metric, hops))
	}
	return out
}

type kernelHop struct {
	Gateway string `json:"gateway"`
	Dev     string `json:"dev"`
	Weight  int    `json:"weight"`
}

// kernelRoutes4and6 reads the namespace's routes of every table, without
// those the kernel makes itself for addresses (proto kernel: connected,
// local, multicast); st tells which paths name no device.
func kernelRoutes4and6(t *testing.T, ns string, st *rib.State) []string {
	devless := map[string]bool{} // prefix+gateway of paths without a device in the file
	for _, r := range st.Routes {
		for _, nh := range r.Nexthops {
			if nh.Dev == "" {
				devless[r.Prefix.String()+" "+nh.Gateway.String()] = true
			}
		}
	}
	var out []string
	for _, fam := range []string{"-4", "-6"} {
		var rs []struct {
			Type     string      `json:"type"`
			Dst      string      `json:"dst"`
			Gateway  string      `json:"gateway"`
			Dev      string      `json:"dev"`
			Table    string      `json:"table"`
			Protocol string      `json:"protocol"`
			Metric   uint32      `json:"metric"`
			Nexthops []kernelHop `json:"nexthops"`
		}
		ipJSON(t, ns, &rs, fam, "route", "show", "table", "all")
		for _, r := range rs {
			if r.Protocol == "kernel" {
				continue
			}
			var p netip.Prefix
			switch {
			case r.Dst == "default" && fam == "-4":
				p = netip.MustParsePrefix("0.0.0.0/0")
			case r.Dst == "default":
				p = netip.MustParsePrefix("::/0")
			case strings.Contains(r.Dst, "/"):
				p = netip.MustParsePrefix(r.Dst)
			default:
				a := netip.MustParseAddr(r.Dst)
				p = netip.PrefixFrom(a, a.BitLen())
			}
			table := uint32(rib.MainTable)
			switch r.Table {
			case "", "main":
			case "local":
				table = 255
			default:
				n, err := strconv.ParseUint(r.Table, 10, 32)
				if err != nil {
					t.Fatalf("route %s: table %q", r.Dst, r.Table)
				}
				table = uint32(n)
			}
			typ := r.Type
			if typ == "" {
				typ = "unicast"
			}
			hops := r.Nexthops
			if len(hops) == 0 && typ == "unicast" {
				hops = []kernelHop{{Gateway: r.Gateway, Dev: r.Dev}}
			}
			var hs []string
			for _, h := range hops {
				var gw netip.Addr
				if h.Gateway != "" {
					gw = netip.MustParseAddr(h.Gateway)
				}
				dev := h.Dev
				if devless[p.String()+" "+gw.String()] {
					dev = ""
				}
				hs = append(hs, hopString(gw, dev, h.Weight))
			}
			out = append(out, routeString(table, typ, p, r.Metric, hs))
		}
	}
	return out
}
