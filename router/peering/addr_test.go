package peering

import (
	"net/netip"
	"strings"
	"testing"
)

func TestSeedFormulas(t *testing.T) {
	a4, a6, err := Upstream(3, 0x123)
	if err != nil || a4.String() != "100.67.1.35" || a6.String() != "2804:269c:ffff:3::123" {
		t.Errorf("upstream: %s %s %v", a4, a6, err)
	}
	m4, m6, p4, p6, err := Mux(3)
	if err != nil || m4.String() != "100.67.128.1" || m6 != netip.MustParseAddr("2804:269c:ffff:3:0:1::1") ||
		p4.String() != "100.67.128.0/17" || p6.String() != "2804:269c:ffff:3:0:1::/80" {
		t.Errorf("mux: %s %s %s %s %v", m4, m6, p4, p6, err)
	}
	c4, c6, err := Client(3, 1)
	if err != nil || c4.String() != "100.67.128.2" || c6.String() != "2804:269c:ffff:3:0:1:0:2" {
		t.Errorf("client 1: %s %s %v", c4, c6, err)
	}
	if c4, _, _ := Client(3, 300); c4.String() != "100.67.129.45" {
		t.Errorf("client 300: %s", c4)
	}
	l4, l6, err := AL2S(7)
	if err != nil || l4.String() != "100.127.0.7" || l6.String() != "2804:269c:ff01::7" {
		t.Errorf("AL2S: %s %s %v", l4, l6, err)
	}
	r4, r6, err := RemoteUpstream(258)
	if err != nil || r4.String() != "100.126.1.2" || r6.String() != "2804:269c:ff02::102" {
		t.Errorf("remote upstream: %s %s %v", r4, r6, err)
	}
	c, err := ContainerVeth(2, 5)
	if err != nil || c.Net4.String() != "100.125.16.20/30" || c.Mux4.String() != "100.125.16.21" ||
		c.Container4.String() != "100.125.16.22" || c.Net6.String() != "2804:269c:ff03:2::5:0/112" ||
		c.Mux6.String() != "2804:269c:ff03:2::5:1" || c.Container6.String() != "2804:269c:ff03:2::5:2" {
		t.Errorf("container: %+v %v", c, err)
	}
}

func TestLimitsAreErrors(t *testing.T) {
	cases := map[string]error{}
	_, _, cases["upstream 2^15"] = Upstream(1, 1<<15)
	_, _, cases["upstream 0"] = Upstream(1, 0)
	_, _, cases["mux 61"] = Upstream(61, 1)
	_, _, cases["mux -1"] = Upstream(-1, 1)
	_, _, _, _, cases["mux 61 (mux)"] = Mux(61)
	_, _, cases["client past the /17"] = Client(1, MaxClient+1)
	_, _, cases["AL2S 256"] = AL2S(256)
	_, _, cases["remote upstream 2^15"] = RemoteUpstream(1 << 15)
	_, cases["container mux 32 (M<<3 overflows)"] = ContainerVeth(32, 0)
	_, cases["experiment 64 (E*4 overflows)"] = ContainerVeth(0, 64)
	for name, err := range cases {
		if err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("%s: %v, want an out-of-range error", name, err)
		}
	}
	// The edges themselves are fine.
	if a4, _, err := Upstream(MaxMux, MaxUpstream); err != nil || a4.String() != "100.124.127.255" {
		t.Errorf("largest upstream: %s %v", a4, err)
	}
	if c4, _, err := Client(0, MaxClient); err != nil || c4.String() != "100.64.255.255" {
		t.Errorf("last client: %s %v", c4, err)
	}
	if c, err := ContainerVeth(MaxContainerMux, MaxExperiment); err != nil || c.Net4.String() != "100.125.248.252/30" {
		t.Errorf("last container: %+v %v", c, err)
	}
}
