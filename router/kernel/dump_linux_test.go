package kernel

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"fibd/router/rib"
	"fibd/test/fullview"
	"fibd/test/nstest"
)

// TestDumpAgreesWithLibrary: fibd's own route dump decoder returns exactly
// what vishvananda/netlink's decoding (ConvertRoute) gives, on a table with
// every kind of route fibd mirrors, in a scratch namespace.
func TestDumpAgreesWithLibrary(t *testing.T) {
	nstest.Root(t)
	name := fmt.Sprintf("fibdd%d", os.Getpid())
	nstest.NS(t, name)
	lines := []string{
		"link add dump0 type veth peer name dump1", "link set dump0 up", "link set dump1 up",
		"address add 198.51.100.1/24 dev dump0", "address add 2001:db8:1::1/64 dev dump0 nodad",
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for i, p := range append(fullview.IPv4(3, 3000)[:1500], fullview.IPv6(4, 3000)[:500]...) {
		gw, gw2 := "198.51.100.2", "198.51.100.3"
		if p.Addr().Is6() {
			gw, gw2 = "2001:db8:1::2", "2001:db8:1::3"
		}
		table := []int{100, 101, 254}[i%3]
		switch rng.IntN(7) {
		case 6:
			lines = append(lines, fmt.Sprintf("route add throw %s table %d", p, table))
		case 0:
			lines = append(lines, fmt.Sprintf("route add blackhole %s table %d", p, table))
		case 1:
			lines = append(lines, fmt.Sprintf("route add unreachable %s table %d metric 7", p, table))
		case 2:
			lines = append(lines, fmt.Sprintf("route add %s table %d nexthop via %s dev dump0 weight 3 nexthop via %s dev dump0", p, table, gw, gw2))
		case 3:
			lines = append(lines, fmt.Sprintf("route add %s dev dump0 table %d", p, table))
		default:
			lines = append(lines, fmt.Sprintf("route add %s via %s table %d metric %d", p, gw, table, rng.IntN(3)))
		}
	}
	nstest.Batch(t, name, lines...)
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ll, _ := h.LinkList()
	links := rib.Links{}
	for _, l := range ll {
		links[l.Attrs().Index] = l.Attrs().Name
	}
	want := map[uint32]bool{100: true, 254: true}
	var lib []rib.Route
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		h.RouteListFilteredIter(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE, func(r netlink.Route) bool {
			if want[uint32(r.Table)] {
				if x, ok := ConvertRoute(&r, links); ok {
					lib = append(lib, x)
				}
			}
			return true
		})
	}
	ours, err := dumpRoutes(ns, want, links, nil)
	if err != nil {
		t.Fatal(err)
	}
	key := func(r rib.Route) string {
		return fmt.Sprintf("%d %s %d %d %v", r.Table, r.Prefix, r.Metric, r.Type, r.Nexthops)
	}
	a, b := make([]string, len(lib)), make([]string, len(ours))
	for i := range lib {
		a[i] = key(lib[i])
	}
	for i := range ours {
		b[i] = key(ours[i])
	}
	slices.Sort(a)
	slices.Sort(b)
	if len(a) < 1000 {
		t.Fatalf("only %d routes dumped", len(a))
	}
	throws := map[bool]int{}
	for _, r := range ours {
		if r.Type == rib.Throw {
			throws[r.Prefix.Addr().Is6()]++
		}
	}
	if throws[false] == 0 || throws[true] == 0 {
		t.Errorf("throw routes dumped: %d IPv4, %d IPv6; want some of each", throws[false], throws[true])
	}
	if !slices.Equal(a, b) {
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Fatalf("%d routes (library) vs %d (ours); first difference:\n lib  %s\n ours %s", len(a), len(b), a[i], b[i])
			}
		}
		t.Fatalf("%d routes (library) vs %d (ours)", len(a), len(b))
	}
}
