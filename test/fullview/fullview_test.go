package fullview

import (
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// Sizes of the large tests: enough for the mix to be exact to well under
// a percent, small enough to run in a second.
const (
	testN4 = 300_000
	testN6 = 100_000
)

func checkBasics(t *testing.T, family string, ps []netip.Prefix, n int, is4 bool) {
	t.Helper()
	if len(ps) != n {
		t.Fatalf("%s: %d prefixes, want %d", family, len(ps), n)
	}
	seen := make(map[netip.Prefix]bool, n)
	for _, p := range ps {
		if !p.IsValid() || p.Addr().Is4() != is4 {
			t.Fatalf("%s: bad prefix %v", family, p)
		}
		if p != p.Masked() {
			t.Fatalf("%s: %v is not masked", family, p)
		}
		if seen[p] {
			t.Fatalf("%s: %v twice", family, p)
		}
		seen[p] = true
	}
}

// checkMix compares the share of every length with the wanted mix (the
// published shares, normalised) to within one percentage point.
func checkMix(t *testing.T, family string, ps []netip.Prefix, mix []lengthShare) {
	t.Helper()
	var got [129]int
	for _, p := range ps {
		got[p.Bits()]++
	}
	var total float64
	wantPct := map[int]float64{}
	for _, m := range mix {
		total += m.share
	}
	for _, m := range mix {
		wantPct[m.bits] += 100 * m.share / total
	}
	for bits := range got {
		g := 100 * float64(got[bits]) / float64(len(ps))
		if w := wantPct[bits]; math.Abs(g-w) > 1 {
			t.Errorf("%s /%d: %.2f%%, want %.2f%% ±1", family, bits, g, w)
		}
	}
}

func TestIPv4(t *testing.T) {
	ps := IPv4(1, testN4)
	checkBasics(t, "IPv4", ps, testN4, true)
	checkMix(t, "IPv4", ps, mix4)

	// Published shares, checked literally (they add up to 99.6%, so each
	// is off by at most that normalisation).
	var n [33]int
	for _, p := range ps {
		n[p.Bits()]++
	}
	for bits, pct := range map[int]float64{24: 63, 23: 10.8, 22: 10.5, 21: 4.9, 20: 4.3, 19: 2.4, 18: 1.3, 16: 1.2, 17: 0.8} {
		if g := 100 * float64(n[bits]) / testN4; math.Abs(g-pct) > 1 {
			t.Errorf("/%d: %.2f%%, want %.1f%% ±1", bits, g, pct)
		}
	}
	var shorter int
	for bits := 0; bits < 16; bits++ {
		if bits < 8 && n[bits] > 0 {
			t.Errorf("%d prefixes of /%d", n[bits], bits)
		}
		shorter += n[bits]
	}
	if g := 100 * float64(shorter) / testN4; math.Abs(g-0.4) > 0.1 {
		t.Errorf("shorter than /16: %.2f%%, want 0.4%%", g)
	}
	for bits := 25; bits <= 32; bits++ {
		if n[bits] > 0 {
			t.Errorf("%d prefixes of /%d", n[bits], bits)
		}
	}

	for _, p := range ps {
		if inExcluded4(p) {
			t.Fatalf("%v is in excluded space", p)
		}
	}

	// About half of the table is more-specifics of another prefix in it.
	set := make(map[netip.Prefix]bool, len(ps))
	for _, p := range ps {
		set[p] = true
	}
	covered := 0
	for _, p := range ps {
		for bits := p.Bits() - 1; bits >= 8; bits-- {
			if set[netip.PrefixFrom(p.Addr(), bits).Masked()] {
				covered++
				break
			}
		}
	}
	frac := float64(covered) / float64(len(ps))
	t.Logf("IPv4: %.1f%% more-specifics", 100*frac)
	if frac < 0.40 || frac > 0.60 {
		t.Errorf("%.1f%% of the prefixes are more-specifics, want about 50%%", 100*frac)
	}
}

// inExcluded4 checks against the list in the package documentation,
// written out again here rather than taken from excluded4.
func inExcluded4(p netip.Prefix) bool {
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/3",
		"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
	} {
		if netip.MustParsePrefix(s).Overlaps(p) {
			return true
		}
	}
	return false
}

func TestIPv6(t *testing.T) {
	ps := IPv6(1, testN6)
	checkBasics(t, "IPv6", ps, testN6, false)
	checkMix(t, "IPv6", ps, mix6)

	var n [129]int
	for _, p := range ps {
		n[p.Bits()]++
	}
	published := map[int]float64{48: 46, 32: 9.7, 44: 9.6, 40: 8.8, 36: 3.7, 47: 3.5, 46: 3.0, 33: 2.1, 34: 2.1, 29: 2.0, 45: 1.8, 41: 1.7}
	rest := 0
	for bits, c := range n {
		if pct, ok := published[bits]; ok {
			if g := 100 * float64(c) / testN6; math.Abs(g-pct) > 1 {
				t.Errorf("/%d: %.2f%%, want %.1f%% ±1", bits, g, pct)
			}
			continue
		}
		if c > 0 && (bits < 19 || bits > 64) {
			t.Errorf("%d prefixes of /%d", c, bits)
		}
		rest += c
	}
	if g := 100 * float64(rest) / testN6; math.Abs(g-6) > 1 {
		t.Errorf("other lengths: %.2f%%, want 6%%", g)
	}

	global := netip.MustParsePrefix("2000::/3")
	doc := netip.MustParsePrefix("2001:db8::/32")
	for _, p := range ps {
		if !global.Contains(p.Addr()) || p.Overlaps(doc) {
			t.Fatalf("%v outside global unicast space", p)
		}
	}

	// Clustering: customer prefixes share few /32s, unlike uniform random
	// ones (which would nearly all sit in a /32 of their own).
	slash32 := map[netip.Prefix]bool{}
	customers := 0
	for _, p := range ps {
		if p.Bits() > 32 {
			customers++
			slash32[netip.PrefixFrom(p.Addr(), 32).Masked()] = true
		}
	}
	ratio := float64(len(slash32)) / float64(customers)
	t.Logf("IPv6: %d customer prefixes in %d /32s", customers, len(slash32))
	if ratio > 0.4 {
		t.Errorf("customer prefixes spread over %d /32s (%.0f%%): not clustered", len(slash32), 100*ratio)
	}
	// ... yet not piled into a handful of them either.
	if ratio < 0.05 {
		t.Errorf("customer prefixes in only %d /32s (%.1f%%)", len(slash32), 100*ratio)
	}
}

func TestDeterministic(t *testing.T) {
	for _, gen := range []func(int64, int) []netip.Prefix{IPv4, IPv6} {
		a, b, c := gen(7, 20_000), gen(7, 20_000), gen(8, 20_000)
		if !slices.Equal(a, b) {
			t.Errorf("same seed, different output")
		}
		if slices.Equal(a, c) {
			t.Errorf("different seeds, same output")
		}
	}
}

// Counts from tiny to large are met exactly, without panics.
func TestCounts(t *testing.T) {
	for _, n := range []int{0, 1, 2, 10, 99, 1000, 12345} {
		if got := len(IPv4(3, n)); got != n {
			t.Errorf("IPv4(%d): %d prefixes", n, got)
		}
		if got := len(IPv6(3, n)); got != n {
			t.Errorf("IPv6(%d): %d prefixes", n, got)
		}
	}
	if IPv4(1, -1) != nil || IPv6(1, -1) != nil {
		t.Errorf("negative n gives prefixes")
	}
}

// A full view (1.2M IPv4 + 300k IPv6) takes well under 3 s; measured
// here with a wide margin for a loaded machine, and not in -short mode.
func TestFullViewTime(t *testing.T) {
	if testing.Short() {
		t.Skip("full view in -short mode")
	}
	start := time.Now()
	v4, v6 := IPv4(1, 1_200_000), IPv6(1, 300_000)
	d := time.Since(start)
	t.Logf("1.2M IPv4 + 300k IPv6 in %v", d)
	if len(v4) != 1_200_000 || len(v6) != 300_000 {
		t.Fatalf("got %d + %d prefixes", len(v4), len(v6))
	}
	if d > 6*time.Second {
		t.Errorf("full view took %v, want < 3 s", d)
	}
}

func BenchmarkIPv4(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		IPv4(1, 1_200_000)
	}
}

func BenchmarkIPv6(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		IPv6(1, 300_000)
	}
}
