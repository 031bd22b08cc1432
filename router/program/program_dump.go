package program

import (
	"net/netip"

	"fibd/router/rib"
)

// EachProgrammed calls f for every prefix the FIB holds in kernel table
// table, with the nexthop index it was programmed with. Like every method
// of the Programmer, it runs on the writer's goroutine or under Router.Do.
func (p *Programmer) EachProgrammed(table uint32, f func(netip.Prefix, uint32)) {
	for k, x := range p.cur[table].all() {
		f(k.Prefix(), x.idx())
	}
}

// EachNexthop calls f for every nexthop index in use, with its target
// (same rule as EachProgrammed).
func (p *Programmer) EachNexthop(f func(uint32, *rib.Target)) {
	for _, e := range p.nh {
		f(e.idx, &e.target)
	}
}
