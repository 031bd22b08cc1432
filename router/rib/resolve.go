package rib

import (
	"bytes"
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"fibd/cgo/fptypes"
)

// Ports maps interface names, as routes and neighbours name them, to DPDK
// ports. A port answers to its device name (41-00.1, net_pcap0) and to the
// names of its exception interfaces (rib41-00.1, dpi41-00.1).
type Ports interface {
	PortOf(dev string) (fptypes.PortID, bool)
}

// Hop is a resolved path: where a packet leaves and to which MAC.
type Hop struct {
	Type fptypes.NexthopType // Forward or Unresolved
	Port fptypes.PortID
	// Gw is the neighbour the hop goes to (a route's gateway, or the
	// destination of a neighbour's host route); invalid for on-link
	// subnets. With Port it is the hop's adjacency: the FIB nexthop is
	// keyed by it, so a new MAC is one nexthop write.
	Gw  netip.Addr
	MAC [6]byte // Forward only
}

// compareHops orders two hops as their String forms sort, without making
// them (a full view of multipath routes sorts two million members): the
// port's decimal digits as text, then unresolved before forwarded before
// punted, then the MAC. An ECMP group keeps the member order it always
// had, which decides each flow's member.
func compareHops(a, b Hop) int {
	var da, db [5]byte // a PortID has at most 5 digits
	pa := strconv.AppendUint(da[:0], uint64(a.Port), 10)
	pb := strconv.AppendUint(db[:0], uint64(b.Port), 10)
	if c := bytes.Compare(pa, pb); c != 0 {
		return c
	}
	if c := cmp.Compare(hopRank(a.Type), hopRank(b.Type)); c != 0 {
		return c
	}
	if a.Type == fptypes.NexthopForward {
		return bytes.Compare(a.MAC[:], b.MAC[:])
	}
	return 0
}

// hopRank: the order of String's texts after the port (" (", " -", " e").
func hopRank(t fptypes.NexthopType) int {
	switch t {
	case fptypes.NexthopForward:
		return 1
	case fptypes.NexthopPunt:
		return 2
	}
	return 0
}

func (h Hop) String() string {
	switch h.Type {
	case fptypes.NexthopForward:
		return fmt.Sprintf("port %d -> %s", h.Port, net.HardwareAddr(h.MAC[:]))
	case fptypes.NexthopPunt:
		return fmt.Sprintf("port %d exception interface", h.Port)
	}
	return fmt.Sprintf("port %d (unresolved)", h.Port)
}

// Target is what the FIB should do for one prefix: a single hop, a
// special action (local, blackhole, ...), or an ECMP set of weighted hops.
type Target struct {
	Type    fptypes.NexthopType // Forward, Unresolved, ECMP, Local, Punt, Blackhole, ...
	Hop     Hop                 // Forward/Unresolved; Punt: the port whose exception interface takes it
	Members []Member            // ECMP, sorted
	// Obj is the kernel nexthop object the route names (0: none). All
	// routes naming an object share one FIB nexthop, rewritten in place
	// when the object (or a member's neighbour) changes: one write, not
	// one per route. Inside the RIB, Type NexthopNone with Obj set is a
	// reference to the object's resolution (objects.go); what the RIB
	// yields is always resolved.
	Obj uint32
}

// Member is one ECMP path.
type Member struct {
	Hop    Hop
	Weight int
}

// NhKey identifies a FIB nexthop: targets of the same key share one
// nexthop index, and a target whose key exists with other content
// rewrites that nexthop in place (Programmer.ensure). The key is the
// kernel nexthop object for routes naming one; else the adjacency (port,
// which includes the VLAN, and neighbour) for a hop to a neighbour,
// resolved or not, so that a MAC change or a resolution is one write; an
// ECMP group's members' adjacencies and weights. It is comparable and,
// but for ECMP groups, built without allocating.
type NhKey struct {
	typ   fptypes.NexthopType // NexthopNone for an adjacency or an object
	port  fptypes.PortID
	gw    netip.Addr
	mac   [6]byte
	obj   uint32
	group string // ECMP: the members and weights
}

// ObjKey is the NhKey of the routes naming kernel nexthop object id.
func ObjKey(id uint32) NhKey { return NhKey{obj: id} }

func (t *Target) Key() NhKey {
	if t.Obj != 0 {
		return NhKey{obj: t.Obj}
	}
	switch t.Type {
	case fptypes.NexthopForward, fptypes.NexthopUnresolved:
		if t.Hop.Gw.IsValid() {
			return NhKey{port: t.Hop.Port, gw: t.Hop.Gw}
		}
		return NhKey{typ: t.Type, port: t.Hop.Port, mac: t.Hop.MAC}
	case fptypes.NexthopPunt:
		return NhKey{typ: t.Type, port: t.Hop.Port, mac: t.Hop.MAC}
	case fptypes.NexthopECMP:
		var b strings.Builder
		for _, m := range t.Members {
			if m.Hop.Gw.IsValid() {
				fmt.Fprintf(&b, "%d/%s*%d|", m.Hop.Port, m.Hop.Gw, m.Weight)
			} else {
				fmt.Fprintf(&b, "%s*%d|", m.Hop, m.Weight)
			}
		}
		return NhKey{typ: t.Type, group: b.String()}
	}
	return NhKey{typ: t.Type}
}

// Equal reports whether t and o send packets the same way, through the
// same FIB nexthop.
func (t *Target) Equal(o *Target) bool {
	return t.Type == o.Type && t.Hop == o.Hop && t.Obj == o.Obj && slices.Equal(t.Members, o.Members)
}

// Desired is the FIB content a state calls for: kernel table -> prefix ->
// target.
type Desired map[uint32]map[netip.Prefix]Target

func (d Desired) set(table uint32, p netip.Prefix, t Target) {
	m := d[table]
	if m == nil {
		m = map[netip.Prefix]Target{}
		d[table] = m
	}
	m[p] = t
}

// Buckets spreads weighted members over n hash buckets in proportion to
// their weights (largest remainder), every member getting at least one.
// Member i's index in the result is i; callers map it to nexthop indices.
func Buckets(weights []int, n int) []int {
	total := 0
	for _, w := range weights {
		total += w
	}
	if len(weights) > n {
		n = len(weights)
	}
	count := make([]int, len(weights))
	rem := make([]int, len(weights))
	used := 0
	for i, w := range weights {
		count[i] = w * n / total
		if count[i] == 0 {
			count[i] = 1
		}
		rem[i] = w * n % total
		used += count[i]
	}
	for used < n {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		count[best]++
		rem[best] = -1
		used++
	}
	for used > n { // only when minimum-one bumps overfilled
		big := 0
		for i := range count {
			if count[i] > count[big] {
				big = i
			}
		}
		count[big]--
		used--
	}
	out := make([]int, 0, n)
	for i, c := range count {
		for range c {
			out = append(out, i)
		}
	}
	return out
}
