package main

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

// TestCompare: the comparison finds each kind of divergence it exists
// for, and none when fibd holds what the kernel holds (no root needed).
func TestCompare(t *testing.T) {
	kernel := func() *kstate {
		k := &kstate{tables: map[uint32]*ktable{}, neigh: map[neighKey]string{
			{netip.MustParseAddr("10.2.0.2"), "ribb"}: "02:00:00:00:00:02"}}
		kt := &ktable{id: 254, lpm: newLPM[*kroute]()}
		for p, r := range map[string]*kroute{
			"1.0.0.0/16":  {Gateway: "10.2.0.2", Dev: "ribb"},
			"1.0.4.0/24":  {Type: "blackhole"},
			"10.2.0.0/24": {Dev: "ribb"},
			"9.0.0.0/8":   {Gateway: "10.2.0.9", Dev: "ribb"}, // neighbour unknown
		} {
			pfx := netip.MustParsePrefix(p)
			kt.routes = append(kt.routes, pfx)
			kt.lpm.add(pfx, r)
		}
		k.tables[254] = kt
		return k
	}
	fwd := nexthop{Type: "forward", Device: "net_af_packet1", MAC: "02:00:00:00:00:02"}
	fibd := func() map[uint32]*ftable {
		f := &ftable{lpm: newLPM[uint32](), first: map[netip.Prefix]uint32{}, last: map[netip.Prefix]uint32{},
			nh: map[uint32]nexthop{1: fwd, 2: {Type: "blackhole"}, 3: {Type: "punt", Device: "net_af_packet1"},
				4: {Type: "unresolved", Device: "net_af_packet1"}, 99: {Type: "no_route"}}}
		for p, idx := range map[string]uint32{"1.0.0.0/16": 1, "1.0.4.0/24": 2, "10.2.0.0/24": 3, "9.0.0.0/8": 4} {
			pfx := netip.MustParsePrefix(p)
			f.lpm.add(pfx, idx)
			f.prefixes = append(f.prefixes, pfx)
			f.first[pfx], f.last[pfx] = idx, idx
		}
		return map[uint32]*ftable{254: f}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	if c := compare(kernel(), fibd(), rng, 200); c.nbad != 0 {
		t.Fatalf("equal tables: %d mismatches, first %v", c.nbad, c.bad[0])
	}
	for name, tc := range map[string]struct {
		change func(k *kstate, f map[uint32]*ftable)
		want   string
	}{
		"stale route in fibd": {func(k *kstate, f map[uint32]*ftable) {
			p := netip.MustParsePrefix("100.100.0.0/24")
			f[254].lpm.add(p, 1)
			f[254].prefixes = append(f[254].prefixes, p)
			f[254].first[p], f[254].last[p] = 1, 1
		}, "fibd's 100.100.0.0/24"},
		"route missing in fibd": {func(k *kstate, f map[uint32]*ftable) {
			p := netip.MustParsePrefix("5.5.0.0/16")
			k.tables[254].routes = append(k.tables[254].routes, p)
			k.tables[254].lpm.add(p, &kroute{Gateway: "10.2.0.2", Dev: "ribb"})
		}, "of 5.5.0.0/16"},
		"old MAC": {func(k *kstate, f map[uint32]*ftable) {
			k.neigh[neighKey{netip.MustParseAddr("10.2.0.2"), "ribb"}] = "02:00:00:00:00:03"
		}, "want forward via 02:00:00:00:00:03"},
		"forward without a kernel neighbour": {func(k *kstate, f map[uint32]*ftable) {
			f[254].nh[4] = fwd
		}, "no usable neighbour"},
		"fast path differs from the programming": {func(k *kstate, f map[uint32]*ftable) {
			f[254].last[netip.MustParsePrefix("1.0.0.0/16")] = 2
		}, "fast path's table differs"},
		"table not mirrored": {func(k *kstate, f map[uint32]*ftable) {
			k.tables[200] = &ktable{id: 200, lpm: newLPM[*kroute](), routes: []netip.Prefix{netip.MustParsePrefix("1.0.0.0/8")}}
		}, "table not mirrored"},
	} {
		k, f := kernel(), fibd()
		tc.change(k, f)
		c := compare(k, f, rng, 200)
		found := false
		for _, m := range c.bad {
			found = found || strings.Contains(m.String(), tc.want)
		}
		if !found {
			t.Errorf("%s: no mismatch with %q among %d: %v", name, tc.want, c.nbad, c.bad)
		}
	}
}
