// Package peering computes the address plan of a PEERING testbed mux (see
// shared/seeds/000_79270c725b577df0.txt): upstream macvlans, the mux and
// its clients, AL2S interfaces, remote upstreams and experiment container
// veths. Out-of-range identifiers are errors, never wrapped numbers.
//
// The seed writes IPv6 groups as {mux} and {upstream} and does not say how
// a number becomes a group. A Plan reads them one of two ways (Reading):
// by default the identifier is the group's value (mux 12 is the group c,
// upstream 300 is ::12c), so that every identifier the IPv4 plan allows
// also fits IPv6; DecimalDigits writes the identifier's decimal digits as
// the group (mux 12 is the group 12, upstream 300 is ::300), which reads
// better and stops at 9999.
package peering

import (
	"fmt"
	"net/netip"
)

// Limits of the plan.
const (
	// MaxMux keeps 100.{64+mux} below 100.125, which holds container veths
	// (100.126 remote upstreams, 100.127 AL2S).
	MaxMux = 60
	// MaxUpstream: upstreams live in the lower half of 100.{64+mux}.0.0/16,
	// so upstream>>8 < 128 ("approximately 2^15 peers").
	MaxUpstream = 1<<15 - 1
	// MaxClient: clients follow the mux (.128.1) in the upper /17.
	MaxClient = 1<<15 - 2
	// MaxAL2S: AL2S interfaces use the first /24 of 100.127.0.0/16.
	MaxAL2S = 255
	// MaxContainerMux: 100.125.{M<<3} must stay an octet.
	MaxContainerMux = 31
	// MaxExperiment: 100.125.x.{E*4} must stay an octet.
	MaxExperiment = 63
)

// Reading is how an identifier becomes an IPv6 group.
type Reading uint8

const (
	GroupValue    Reading = iota // the group's value is the identifier: 12 -> c
	DecimalDigits                // the group's digits are the identifier's: 12 -> 12
)

// Plan computes the address plan with one Reading of the IPv6 groups.
type Plan struct{ Reading Reading }

// group is identifier id as an IPv6 group.
func (p Plan) group(what string, id int) (uint16, error) {
	if p.Reading == GroupValue {
		return uint16(id), nil
	}
	if id > 9999 {
		return 0, fmt.Errorf("%s %d out of range for decimal IPv6 groups (at most 9999)", what, id)
	}
	var g uint16
	for _, d := range fmt.Sprint(id) {
		g = g<<4 | uint16(d-'0')
	}
	return g, nil
}

// groups converts identifiers (what, id pairs) to IPv6 groups.
func (p Plan) groups(ids ...any) ([]uint16, error) {
	var out []uint16
	for i := 0; i < len(ids); i += 2 {
		g, err := p.group(ids[i].(string), ids[i+1].(int))
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

func check(what string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s %d out of range %d..%d", what, v, lo, hi)
	}
	return nil
}

func v4(a, b, c, d int) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(a), byte(b), byte(c), byte(d)})
}

// v6 builds 2804:269c:<g2>:<g3>:<g4>:<g5>:<g6>:<g7>.
func v6(g2, g3, g4, g5, g6, g7 uint16) netip.Addr {
	var b [16]byte
	all := []uint16{0x2804, 0x269c, g2, g3, g4, g5, g6, g7}
	for i, g := range all {
		b[2*i], b[2*i+1] = byte(g>>8), byte(g)
	}
	return netip.AddrFrom16(b)
}

// Upstream is the address of upstream's macvlan on mux.
func (p Plan) Upstream(mux, upstream int) (v4a, v6a netip.Addr, err error) {
	if err = check("mux", mux, 0, MaxMux); err != nil {
		return
	}
	if err = check("upstream", upstream, 1, MaxUpstream); err != nil {
		return
	}
	g, err := p.groups("mux", mux, "upstream", upstream)
	if err != nil {
		return
	}
	return v4(100, 64+mux, upstream>>8, upstream&0xff), v6(0xffff, g[0], 0, 0, 0, g[1]), nil
}

// Tunnel is what the OpenVPN server routes to a client through the mux's
// tunnel: 100.{64+mux}.0.0/16 and 2804:269c:ffff:{mux}::/64.
func (p Plan) Tunnel(mux int) (p4, p6 netip.Prefix, err error) {
	if err = check("mux", mux, 0, MaxMux); err != nil {
		return
	}
	g, err := p.group("mux", mux)
	if err != nil {
		return
	}
	return netip.PrefixFrom(v4(100, 64+mux, 0, 0), 16), netip.PrefixFrom(v6(0xffff, g, 0, 0, 0, 0), 64), nil
}

// Mux is the mux's own address and the prefixes of the mux and its
// clients (the upper half of its /16 and 2804:269c:ffff:{mux}:0:1::/80).
func (p Plan) Mux(mux int) (v4a, v6a netip.Addr, p4, p6 netip.Prefix, err error) {
	if err = check("mux", mux, 0, MaxMux); err != nil {
		return
	}
	g, err := p.group("mux", mux)
	if err != nil {
		return
	}
	p4 = netip.PrefixFrom(v4(100, 64+mux, 128, 0), 17)
	p6 = netip.PrefixFrom(v6(0xffff, g, 0, 1, 0, 0), 80)
	return v4(100, 64+mux, 128, 1), v6(0xffff, g, 0, 1, 0, 1), p4, p6, nil
}

// Client is the k-th client address of mux (k = 1 follows the mux). Its
// last IPv6 group is an address count, not an identifier: always a value.
func (p Plan) Client(mux, k int) (v4a, v6a netip.Addr, err error) {
	if err = check("mux", mux, 0, MaxMux); err != nil {
		return
	}
	if err = check("client", k, 1, MaxClient); err != nil {
		return
	}
	g, err := p.group("mux", mux)
	if err != nil {
		return
	}
	off := 1 + k // .128.1 is the mux
	return v4(100, 64+mux, 128+off>>8, off&0xff), v6(0xffff, g, 0, 1, 0, uint16(off)), nil
}

// AL2S is the address of a mux's AL2S interface.
func (p Plan) AL2S(id int) (v4a, v6a netip.Addr, err error) {
	if err = check("AL2S id", id, 1, MaxAL2S); err != nil {
		return
	}
	g, err := p.group("AL2S id", id)
	if err != nil {
		return
	}
	return v4(100, 127, 0, id), v6(0xff01, 0, 0, 0, 0, g), nil
}

// RemoteUpstream is the address of a remote upstream (100.126.X.X, the
// upstream formula; IPv6 in the reserved 2804:269c:ff02::/48).
func (p Plan) RemoteUpstream(upstream int) (v4a, v6a netip.Addr, err error) {
	if err = check("upstream", upstream, 1, MaxUpstream); err != nil {
		return
	}
	g, err := p.group("upstream", upstream)
	if err != nil {
		return
	}
	return v4(100, 126, upstream>>8, upstream&0xff), v6(0xff02, 0, 0, 0, 0, g), nil
}

// Container is the veth of experiment exp's container on mux: the /30
// (/112 for IPv6), the mux end (.1) and the container end (.2).
type Container struct {
	Net4, Net6       netip.Prefix
	Mux4, Container4 netip.Addr
	Mux6, Container6 netip.Addr
}

// ContainerVeth computes 100.125.{M<<3}.{E*4}/30 and
// 2804:269c:ff03:M::E:0/112 for mux M and experiment E.
func (p Plan) ContainerVeth(mux, exp int) (Container, error) {
	if err := check("mux", mux, 0, MaxContainerMux); err != nil {
		return Container{}, fmt.Errorf("%w (100.125.{mux<<3} must stay an octet)", err)
	}
	if err := check("experiment", exp, 0, MaxExperiment); err != nil {
		return Container{}, fmt.Errorf("%w (100.125.x.{exp*4} must stay an octet)", err)
	}
	g, err := p.groups("mux", mux, "experiment", exp)
	if err != nil {
		return Container{}, err
	}
	base4 := v4(100, 125, mux<<3, exp*4)
	base6 := v6(0xff03, g[0], 0, 0, g[1], 0)
	return Container{
		Net4: netip.PrefixFrom(base4, 30), Net6: netip.PrefixFrom(base6, 112),
		Mux4: base4.Next(), Container4: base4.Next().Next(),
		Mux6: base6.Next(), Container6: base6.Next().Next(),
	}, nil
}
