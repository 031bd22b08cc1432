package routerns

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"fibd/router"
	"fibd/test/nstest"
)

// announced lists the protocol-252 routes of the namespace, one line each
// ("prefix table T metric M dev D"), both families.
func announced(t *testing.T, ns string) []string {
	t.Helper()
	var out []string
	for _, fam := range []string{"-4", "-6"} {
		b, err := exec.Command("ip", "-n", ns, fam, "-o", "route", "show", "table", "all", "proto", "252").CombinedOutput()
		if err != nil {
			t.Fatalf("ip route show: %v\n%s", err, b)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, strings.Join(strings.Fields(l), " "))
			}
		}
	}
	return out
}

// TestAnnouncerSweepsAndRemetrics: announcements an earlier run left
// behind (a crash: nothing withdrew them) go at start; a change of
// router_subs_metrics announces again with the new metric and leaves
// nothing with the old one; a withdrawal after it removes everything.
func TestAnnouncerSweepsAndRemetrics(t *testing.T) {
	need(t)
	s := newScratch(t)
	// What a crashed run left: in both announcement tables, and in a table
	// the configuration no longer names.
	nstest.Batch(t, s.name,
		"route add 10.200.0.0/24 dev rib0 table 101 proto 252 metric 7",
		"route add 10.200.1.0/24 dev rib1 table 100 proto 252 metric 10",
		"route add 10.200.2.0/24 dev rib1 table 555 proto 252",
		"route add 2001:db8:200::/48 dev rib0 table 101 proto 252 metric 7",
		// not an announcement: stays
		"route add 10.200.3.0/24 dev rib1 table 100 metric 7")
	a := router.NewAnnouncer(s.name, map[router.Dir]uint32{router.DirSubs: 101, router.DirInet: 100}, 10,
		map[router.Dir][]string{router.DirSubs: {"rib0"}, router.DirInet: {"rib1"}})
	n, err := a.Sweep()
	if err != nil {
		t.Fatal(err)
	}
	if got := announced(t, s.name); n != 4 || len(got) != 0 {
		t.Fatalf("sweep removed %d, left %q; want 4 removed, none left", n, got)
	}
	if out, _ := exec.Command("ip", "-n", s.name, "route", "show", "table", "100", "10.200.3.0/24").CombinedOutput(); !strings.Contains(string(out), "10.200.3.0/24") {
		t.Fatal("the sweep removed a route that is not an announcement")
	}

	p4, p6 := netip.MustParsePrefix("10.201.0.0/24"), netip.MustParsePrefix("2001:db8:201::/48")
	for _, p := range []netip.Prefix{p4, p6} {
		if err := a.Set(p, router.DirSubs|router.DirInet); err != nil {
			t.Fatal(err)
		}
	}
	if got := announced(t, s.name); len(got) != 4 || strings.Count(strings.Join(got, "\n"), "metric 10") != 4 {
		t.Fatalf("announced %q, want 4 routes with metric 10", got)
	}
	// A sweep now keeps what is wanted.
	if n, err := a.Sweep(); n != 0 || err != nil {
		t.Fatalf("second sweep removed %d (%v), want 0", n, err)
	}

	if err := a.SetMetric(20); err != nil {
		t.Fatal(err)
	}
	got := announced(t, s.name)
	if len(got) != 4 || strings.Count(strings.Join(got, "\n"), "metric 20") != 4 {
		t.Fatalf("after router_subs_metrics 10 -> 20: %q, want the 4 routes with metric 20 alone", got)
	}
	for _, p := range []netip.Prefix{p4, p6} {
		if err := a.Set(p, 0); err != nil {
			t.Fatal(err)
		}
	}
	if got := announced(t, s.name); len(got) != 0 {
		t.Fatalf("after withdrawing everything: %q left", got)
	}
}

// TestAnnouncerEveryInterface: the manual announces "for all TAP devices
// of the allowed direction". With two inet interfaces an IPv4 prefix is
// one multipath route through both (what BIRD learns as one route), an
// IPv6 prefix one route per interface; a metric change, a change of
// direction and a withdrawal keep exactly that set, and a sweep keeps it.
func TestAnnouncerEveryInterface(t *testing.T) {
	need(t)
	s := newScratch(t)
	nstest.Batch(t, s.name, "link add rib2 type veth peer name nbr2", "link set rib2 up", "link set nbr2 up")
	a := router.NewAnnouncer(s.name, map[router.Dir]uint32{router.DirInet: 101, router.DirSubs: 102}, 10,
		map[router.Dir][]string{router.DirSubs: {"rib0"}, router.DirInet: {"rib1", "rib2"}})
	p4, p6 := netip.MustParsePrefix("10.201.0.0/24"), netip.MustParsePrefix("2001:db8:201::/48")
	for _, p := range []netip.Prefix{p4, p6} {
		if err := a.Set(p, router.DirSubs|router.DirInet); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step, metric string, inet bool) {
		t.Helper()
		want := []string{
			"10.201.0.0/24 dev rib0 table 102 scope link metric " + metric,
			"2001:db8:201::/48 dev rib0 table 102 metric " + metric + " pref medium",
		}
		if inet {
			want = append(want,
				"10.201.0.0/24 table 101 metric "+metric+" nexthop dev rib1 weight 1 nexthop dev rib2 weight 1",
				"2001:db8:201::/48 dev rib1 table 101 metric "+metric+" pref medium",
				"2001:db8:201::/48 dev rib2 table 101 metric "+metric+" pref medium")
		}
		got := strings.Join(announced(t, s.name), "\n")
		got = strings.ReplaceAll(got, "\\ ", "") // ip -o marks the nexthop lines with '\'
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q missing from\n%s", step, w, got)
			}
		}
		if n := len(announced(t, s.name)); n != len(want) {
			t.Errorf("%s: %d routes, want %d:\n%s", step, n, len(want), got)
		}
	}
	check("announced both ways", "10", true)
	for _, p := range []netip.Prefix{p4, p6} { // again: nothing doubles
		if err := a.Set(p, router.DirSubs|router.DirInet); err != nil {
			t.Fatal(err)
		}
	}
	check("announced again", "10", true)
	if n, err := a.Sweep(); n != 0 || err != nil {
		t.Fatalf("sweep removed %d (%v) of what is wanted", n, err)
	}
	if err := a.SetMetric(20); err != nil {
		t.Fatal(err)
	}
	check("metric 10 -> 20", "20", true)
	for _, p := range []netip.Prefix{p4, p6} {
		if err := a.Set(p, router.DirSubs); err != nil {
			t.Fatal(err)
		}
	}
	check("towards subs only", "20", false)
	if err := a.WithdrawAll(); err != nil {
		t.Fatal(err)
	}
	if got := announced(t, s.name); len(got) != 0 {
		t.Fatalf("after withdrawing everything: %q left", got)
	}
}
