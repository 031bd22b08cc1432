package rib

import (
	"cmp"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"fibd/cgo/fptypes"
)

// ECMP members are sorted by compareHops; before it they were sorted by
// their String forms, and a group's member order picks each flow's
// member: the two orders must agree, also where decimal ports sort as
// text (10 before 9) and where types meet on one port.
func TestCompareHopsIsStringOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	types := []fptypes.NexthopType{fptypes.NexthopForward, fptypes.NexthopUnresolved, fptypes.NexthopPunt}
	ports := []fptypes.PortID{0, 1, 2, 9, 10, 11, 19, 100, 1000, 65535}
	hop := func() Hop {
		h := Hop{Type: types[rng.IntN(len(types))], Port: ports[rng.IntN(len(ports))],
			Gw: netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(4))})}
		if h.Type == fptypes.NexthopForward {
			for i := range h.MAC {
				h.MAC[i] = []byte{0, 1, 0x0a, 0x10, 0xa0, 0xff}[rng.IntN(6)]
			}
		}
		return h
	}
	for range 20000 {
		a, b := hop(), hop()
		want := cmp.Compare(strings.Compare(a.String(), b.String()), 0)
		if got := cmp.Compare(compareHops(a, b), 0); got != want {
			t.Fatalf("compareHops(%v, %v) = %d, String order %d", a, b, got, want)
		}
	}
}
