package peering

import (
	"net/netip"
	"strings"
	"testing"
)

var plan Plan

func TestSeedFormulas(t *testing.T) {
	a4, a6, err := plan.Upstream(3, 0x123)
	if err != nil || a4.String() != "100.67.1.35" || a6.String() != "2804:269c:ffff:3::123" {
		t.Errorf("upstream: %s %s %v", a4, a6, err)
	}
	m4, m6, p4, p6, err := plan.Mux(3)
	if err != nil || m4.String() != "100.67.128.1" || m6 != netip.MustParseAddr("2804:269c:ffff:3:0:1::1") ||
		p4.String() != "100.67.128.0/17" || p6.String() != "2804:269c:ffff:3:0:1::/80" {
		t.Errorf("mux: %s %s %s %s %v", m4, m6, p4, p6, err)
	}
	c4, c6, err := plan.Client(3, 1)
	if err != nil || c4.String() != "100.67.128.2" || c6.String() != "2804:269c:ffff:3:0:1:0:2" {
		t.Errorf("client 1: %s %s %v", c4, c6, err)
	}
	if c4, _, _ := plan.Client(3, 300); c4.String() != "100.67.129.45" {
		t.Errorf("client 300: %s", c4)
	}
	l4, l6, err := plan.AL2S(7)
	if err != nil || l4.String() != "100.127.0.7" || l6.String() != "2804:269c:ff01::7" {
		t.Errorf("AL2S: %s %s %v", l4, l6, err)
	}
	r4, r6, err := plan.RemoteUpstream(258)
	if err != nil || r4.String() != "100.126.1.2" || r6.String() != "2804:269c:ff02::102" {
		t.Errorf("remote upstream: %s %s %v", r4, r6, err)
	}
	c, err := plan.ContainerVeth(2, 5)
	if err != nil || c.Net4.String() != "100.125.16.20/30" || c.Mux4.String() != "100.125.16.21" ||
		c.Container4.String() != "100.125.16.22" || c.Net6.String() != "2804:269c:ff03:2::5:0/112" ||
		c.Mux6.String() != "2804:269c:ff03:2::5:1" || c.Container6.String() != "2804:269c:ff03:2::5:2" {
		t.Errorf("container: %+v %v", c, err)
	}
}

func TestLimitsAreErrors(t *testing.T) {
	cases := map[string]error{}
	_, _, cases["upstream 2^15"] = plan.Upstream(1, 1<<15)
	_, _, cases["upstream 0"] = plan.Upstream(1, 0)
	_, _, cases["mux 61"] = plan.Upstream(61, 1)
	_, _, cases["mux -1"] = plan.Upstream(-1, 1)
	_, _, _, _, cases["mux 61 (mux)"] = plan.Mux(61)
	_, _, cases["client past the /17"] = plan.Client(1, MaxClient+1)
	_, _, cases["AL2S 256"] = plan.AL2S(256)
	_, _, cases["remote upstream 2^15"] = plan.RemoteUpstream(1 << 15)
	_, cases["container mux 32 (M<<3 overflows)"] = plan.ContainerVeth(32, 0)
	_, cases["experiment 64 (E*4 overflows)"] = plan.ContainerVeth(0, 64)
	for name, err := range cases {
		if err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("%s: %v, want an out-of-range error", name, err)
		}
	}
	// The edges themselves are fine.
	if a4, _, err := plan.Upstream(MaxMux, MaxUpstream); err != nil || a4.String() != "100.124.127.255" {
		t.Errorf("largest upstream: %s %v", a4, err)
	}
	if c4, _, err := plan.Client(0, MaxClient); err != nil || c4.String() != "100.64.255.255" {
		t.Errorf("last client: %s %v", c4, err)
	}
	if c, err := plan.ContainerVeth(MaxContainerMux, MaxExperiment); err != nil || c.Net4.String() != "100.125.248.252/30" {
		t.Errorf("last container: %+v %v", c, err)
	}
}

// TestReadings: the tunnel prefixes, and both readings of {mux} and
// {upstream} in the IPv6 formulas.
func TestReadings(t *testing.T) {
	p4, p6, err := plan.Tunnel(12)
	if err != nil || p4.String() != "100.76.0.0/16" || p6.String() != "2804:269c:ffff:c::/64" {
		t.Errorf("tunnel: %s %s %v", p4, p6, err)
	}
	dec := Plan{Reading: DecimalDigits}
	if _, p6, _ := dec.Tunnel(12); p6.String() != "2804:269c:ffff:12::/64" {
		t.Errorf("tunnel, decimal: %s", p6)
	}
	if _, a6, err := dec.Upstream(12, 300); err != nil || a6.String() != "2804:269c:ffff:12::300" {
		t.Errorf("upstream, decimal: %s %v", a6, err)
	}
	if _, a6, _ := plan.Upstream(12, 300); a6.String() != "2804:269c:ffff:c::12c" {
		t.Errorf("upstream, group value: %s", a6)
	}
	if _, _, err := dec.Upstream(1, 10000); err == nil || !strings.Contains(err.Error(), "at most 9999") {
		t.Errorf("upstream 10000 in decimal groups: %v", err)
	}
	if c, err := dec.ContainerVeth(2, 10); err != nil || c.Net6.String() != "2804:269c:ff03:2::10:0/112" {
		t.Errorf("container, decimal: %+v %v", c, err)
	}
}
