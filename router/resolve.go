package router

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	dpdk "fibd/cgo"
)

// Ports maps interface names, as routes and neighbours name them, to DPDK
// ports. A port answers to its device name (41-00.1, net_pcap0) and to the
// names of its exception interfaces (rib41-00.1, dpi41-00.1).
type Ports interface {
	PortOf(dev string) (dpdk.PortID, bool)
}

// Hop is a resolved path: where a packet leaves and to which MAC.
type Hop struct {
	Type dpdk.NexthopType // Forward or Unresolved
	Port dpdk.PortID
	MAC  [6]byte // Forward only
}

func (h Hop) String() string {
	if h.Type == dpdk.NexthopForward {
		return fmt.Sprintf("port %d -> %s", h.Port, net.HardwareAddr(h.MAC[:]))
	}
	return fmt.Sprintf("port %d (unresolved)", h.Port)
}

// Target is what the FIB should do for one prefix: a single hop, a
// special action (local, blackhole, ...), or an ECMP set of weighted hops.
type Target struct {
	Type    dpdk.NexthopType // Forward, Unresolved, ECMP, Local, Blackhole, ...
	Hop     Hop              // Forward/Unresolved
	Members []Member         // ECMP, sorted
}

// Member is one ECMP path.
type Member struct {
	Hop    Hop
	Weight int
}

// key identifies a target so equal targets share one nexthop index.
func (t Target) key() string {
	switch t.Type {
	case dpdk.NexthopForward, dpdk.NexthopUnresolved:
		return t.Hop.String()
	case dpdk.NexthopECMP:
		var b strings.Builder
		b.WriteString("ecmp")
		for _, m := range t.Members {
			fmt.Fprintf(&b, "|%s*%d", m.Hop, m.Weight)
		}
		return b.String()
	}
	return fmt.Sprintf("special %d", t.Type)
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

// Resolve computes the FIB content for st, the way the kernel would forward
// with the same state:
//   - each route's gateways are resolved through the neighbour table on
//     their interface (a route without dev finds it through the connected
//     subnets); a gateway without a neighbour entry is Unresolved, so its
//     packets are counted (and, with the exception path, handed to the
//     kernel to resolve) rather than silently lost;
//   - multipath routes become ECMP groups over their resolved members; a
//     member whose neighbour is unknown leaves the group while another
//     member is resolved;
//   - among routes for the same prefix the lowest metric wins;
//   - addresses add their connected subnet (on-link, Unresolved) and a
//     Local /32 or /128 to localTable; neighbours inside an on-link prefix
//     of their interface add a host route, so on-link destinations are
//     forwarded to the right MAC.
//
// Routes whose interface is not one of fibd's ports are skipped and
// reported in problems; so are gateways with no interface to reach them.
func Resolve(st *State, ports Ports, localTable uint32) (Desired, []error) {
	var problems []error
	d := Desired{}

	type nkey struct {
		addr netip.Addr
		port dpdk.PortID
	}
	neigh := map[nkey][6]byte{}
	for _, n := range st.Neighs {
		p, ok := ports.PortOf(n.Dev)
		if !ok {
			problems = append(problems, fmt.Errorf("neighbour %s: dev %q is not a fibd port", n.Addr, n.Dev))
			continue
		}
		if len(n.MAC) != 6 {
			problems = append(problems, fmt.Errorf("neighbour %s: MAC %s is not Ethernet", n.Addr, n.MAC))
			continue
		}
		neigh[nkey{n.Addr.Unmap(), p}] = [6]byte(n.MAC)
	}

	// On-link prefixes per port: connected subnets and dev-only routes.
	type onlink struct {
		prefix netip.Prefix
		port   dpdk.PortID
		table  uint32
	}
	var onlinks []onlink
	for _, a := range st.Addrs {
		p, ok := ports.PortOf(a.Dev)
		if !ok {
			problems = append(problems, fmt.Errorf("address %s: dev %q is not a fibd port", a.Prefix, a.Dev))
			continue
		}
		onlinks = append(onlinks, onlink{a.Prefix.Masked(), p, localTable})
	}

	hopFor := func(gw netip.Addr, dev string) (Hop, error) {
		var port dpdk.PortID
		if dev != "" {
			p, ok := ports.PortOf(dev)
			if !ok {
				return Hop{}, fmt.Errorf("dev %q is not a fibd port", dev)
			}
			port = p
		} else {
			found := false
			for _, o := range onlinks {
				if o.prefix.Contains(gw) {
					port, found = o.port, true
					break
				}
			}
			if !found {
				return Hop{}, fmt.Errorf("gateway %s is on no connected subnet", gw)
			}
		}
		if !gw.IsValid() {
			return Hop{Type: dpdk.NexthopUnresolved, Port: port}, nil
		}
		if mac, ok := neigh[nkey{gw.Unmap(), port}]; ok {
			return Hop{Type: dpdk.NexthopForward, Port: port, MAC: mac}, nil
		}
		return Hop{Type: dpdk.NexthopUnresolved, Port: port}, nil
	}

	// Lowest metric per (table, prefix) first, so the winner is decided
	// before anything is resolved.
	routes := slices.Clone(st.Routes)
	slices.SortStableFunc(routes, func(a, b Route) int {
		return cmp.Compare(a.Metric, b.Metric)
	})
	type tp struct {
		table  uint32
		prefix netip.Prefix
	}
	seen := make(map[tp]bool, len(routes))
	for i := range routes {
		r := &routes[i]
		k := tp{r.Table, r.Prefix.Masked()}
		if seen[k] {
			continue
		}
		t, err := routeTarget(r, hopFor)
		if err != nil {
			problems = append(problems, fmt.Errorf("route %s table %d: %w", r.Prefix, r.Table, err))
			continue
		}
		seen[k] = true
		d.set(r.Table, k.prefix, t)
		if r.Type == Unicast && len(r.Nexthops) == 1 && !r.Nexthops[0].Gateway.IsValid() {
			onlinks = append(onlinks, onlink{k.prefix, t.Hop.Port, r.Table})
		}
	}

	// Connected subnets and local addresses, unless a route says otherwise.
	for _, a := range st.Addrs {
		p, ok := ports.PortOf(a.Dev)
		if !ok {
			continue
		}
		sub := a.Prefix.Masked()
		if !seen[tp{localTable, sub}] {
			d.set(localTable, sub, Target{Type: dpdk.NexthopUnresolved, Hop: Hop{Type: dpdk.NexthopUnresolved, Port: p}})
		}
		host := netip.PrefixFrom(a.Prefix.Addr(), a.Prefix.Addr().BitLen())
		d.set(localTable, host, Target{Type: dpdk.NexthopLocal})
	}

	// Host routes for neighbours on on-link prefixes of their port.
	for _, n := range st.Neighs {
		p, ok := ports.PortOf(n.Dev)
		if !ok || len(n.MAC) != 6 {
			continue
		}
		addr := n.Addr.Unmap()
		host := netip.PrefixFrom(addr, addr.BitLen())
		for _, o := range onlinks {
			if o.port != p || !o.prefix.Contains(addr) || seen[tp{o.table, host}] {
				continue
			}
			if cur, ok := d[o.table][host]; ok && cur.Type == dpdk.NexthopLocal {
				continue // our own address: stays local
			}
			hop := Hop{Type: dpdk.NexthopForward, Port: p, MAC: [6]byte(n.MAC)}
			d.set(o.table, host, Target{Type: dpdk.NexthopForward, Hop: hop})
		}
	}
	return d, problems
}

func routeTarget(r *Route, hopFor func(netip.Addr, string) (Hop, error)) (Target, error) {
	switch r.Type {
	case Blackhole:
		return Target{Type: dpdk.NexthopBlackhole}, nil
	case Unreachable:
		return Target{Type: dpdk.NexthopUnreachable}, nil
	case Prohibit:
		return Target{Type: dpdk.NexthopProhibit}, nil
	case Local:
		return Target{Type: dpdk.NexthopLocal}, nil
	}
	if len(r.Nexthops) == 0 {
		return Target{}, fmt.Errorf("unicast route without nexthop")
	}
	if len(r.Nexthops) == 1 {
		h, err := hopFor(r.Nexthops[0].Gateway, r.Nexthops[0].Dev)
		if err != nil {
			return Target{}, err
		}
		return Target{Type: h.Type, Hop: h}, nil
	}
	var all, resolved []Member
	for _, nh := range r.Nexthops {
		h, err := hopFor(nh.Gateway, nh.Dev)
		if err != nil {
			return Target{}, err
		}
		m := Member{Hop: h, Weight: max(nh.Weight, 1)}
		all = append(all, m)
		if h.Type == dpdk.NexthopForward {
			resolved = append(resolved, m)
		}
	}
	members := all
	if len(resolved) > 0 {
		members = resolved // unresolved members leave the group meanwhile
	}
	slices.SortFunc(members, func(a, b Member) int { return strings.Compare(a.Hop.String(), b.Hop.String()) })
	// Merge duplicates (the same neighbour listed twice adds weight).
	merged := members[:0:0]
	for _, m := range members {
		if k := len(merged); k > 0 && merged[k-1].Hop == m.Hop {
			merged[k-1].Weight += m.Weight
			continue
		}
		merged = append(merged, m)
	}
	if len(merged) == 1 {
		return Target{Type: merged[0].Hop.Type, Hop: merged[0].Hop}, nil
	}
	return Target{Type: dpdk.NexthopECMP, Members: merged}, nil
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
