package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"fibd/test/fullview"
)

// lpm is the reference longest-prefix match: one map per prefix length,
// searched from the longest length present. Slow and obviously right.
type lpm[V any] struct {
	byLen map[int]map[netip.Prefix]V
	lens  []int // descending
}

func newLPM[V any]() *lpm[V] { return &lpm[V]{byLen: map[int]map[netip.Prefix]V{}} }

func (t *lpm[V]) add(p netip.Prefix, v V) {
	m := t.byLen[p.Bits()]
	if m == nil {
		m = map[netip.Prefix]V{}
		t.byLen[p.Bits()] = m
		t.lens = append(t.lens, p.Bits())
		sort.Sort(sort.Reverse(sort.IntSlice(t.lens)))
	}
	m[p] = v
}

func (t *lpm[V]) get(p netip.Prefix) (V, bool) {
	v, ok := t.byLen[p.Bits()][p]
	return v, ok
}

func (t *lpm[V]) lookup(a netip.Addr) (netip.Prefix, V, bool) {
	for _, l := range t.lens {
		if l > a.BitLen() {
			continue
		}
		p := netip.PrefixFrom(a, l).Masked()
		if v, ok := t.byLen[l][p]; ok {
			return p, v, true
		}
	}
	var zero V
	return netip.Prefix{}, zero, false
}

// kroute is one route of a kernel table, as ip -j prints it.
type kroute struct {
	Type     string `json:"type"`
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway"`
	Dev      string `json:"dev"`
	Metric   int    `json:"metric"`
	Protocol string `json:"protocol"`
	Nexthops []struct {
		Gateway string `json:"gateway"`
		Dev     string `json:"dev"`
	} `json:"nexthops"`
}

func (r *kroute) String() string {
	t := r.Type
	if t == "" {
		t = "unicast"
	}
	s := t
	if r.Gateway != "" {
		s += " via " + r.Gateway
	}
	if r.Dev != "" {
		s += " dev " + r.Dev
	}
	for _, n := range r.Nexthops {
		s += fmt.Sprintf(" nexthop via %s dev %s", n.Gateway, n.Dev)
	}
	if r.Protocol != "" {
		s += " proto " + r.Protocol
	}
	return s
}

// ktable is a kernel table, both families.
type ktable struct {
	id     uint32
	routes []netip.Prefix
	lpm    *lpm[*kroute]
}

type neighKey struct {
	addr netip.Addr
	dev  string
}

// kstate is the router netns's kernel state the FIB mirrors.
type kstate struct {
	tables map[uint32]*ktable
	neigh  map[neighKey]string // usable entries: MAC
}

func parseDst(s string, v6 bool) (netip.Prefix, error) {
	if s == "default" {
		if v6 {
			return netip.MustParsePrefix("::/0"), nil
		}
		return netip.MustParsePrefix("0.0.0.0/0"), nil
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	return p.Masked(), err
}

// dumpKernel reads the mirrored tables and the neighbours of netns ns.
func dumpKernel(ns string, tables []uint32) (*kstate, error) {
	k := &kstate{tables: map[uint32]*ktable{}, neigh: map[neighKey]string{}}
	for _, id := range tables {
		t := &ktable{id: id, lpm: newLPM[*kroute]()}
		for _, fam := range []string{"-4", "-6"} {
			out, err := exec.Command("ip", fam, "-j", "-n", ns, "route", "show", "table", strconv.Itoa(int(id))).Output()
			if err != nil {
				return nil, fmt.Errorf("ip %s route show table %d: %w", fam, id, err)
			}
			var rs []*kroute
			if len(strings.TrimSpace(string(out))) > 0 {
				if err := json.Unmarshal(out, &rs); err != nil {
					return nil, fmt.Errorf("ip %s -j route show table %d: %w", fam, id, err)
				}
			}
			for _, r := range rs {
				p, err := parseDst(r.Dst, fam == "-6")
				if err != nil {
					return nil, fmt.Errorf("route %q: %w", r.Dst, err)
				}
				if p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() || r.Type == "multicast" {
					continue // fibd leaves link-local out; the fast path drops it
				}
				// among routes for one prefix, the lowest metric wins
				if old, ok := t.lpm.get(p); ok && old.Metric <= r.Metric {
					continue
				} else if !ok {
					t.routes = append(t.routes, p)
				}
				t.lpm.add(p, r)
			}
		}
		k.tables[id] = t
	}
	out, err := exec.Command("ip", "-j", "-n", ns, "neigh", "show").Output()
	if err != nil {
		return nil, fmt.Errorf("ip neigh show: %w", err)
	}
	var ns_ []struct {
		Dst    string   `json:"dst"`
		Dev    string   `json:"dev"`
		LLAddr string   `json:"lladdr"`
		State  []string `json:"state"`
	}
	if err := json.Unmarshal(out, &ns_); err != nil {
		return nil, fmt.Errorf("ip -j neigh: %w", err)
	}
	for _, n := range ns_ {
		a, err := netip.ParseAddr(n.Dst)
		if err != nil || n.LLAddr == "" {
			continue
		}
		for _, s := range n.State {
			switch s {
			case "REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT", "NOARP":
				k.neigh[neighKey{a, n.Dev}] = strings.ToLower(n.LLAddr)
			}
		}
	}
	return k, nil
}

// nexthop is fibd's description of a FIB decision (router fib dump).
type nexthop struct {
	Type    string    `json:"type"`
	Device  string    `json:"device"`
	VLAN    int       `json:"vlan"`
	MAC     string    `json:"mac"`
	Members []nexthop `json:"members"`
}

func (n nexthop) String() string {
	b, _ := json.Marshal(n)
	return string(b)
}

// ftable is what fibd holds for one table: the prefixes it programmed,
// and the FIB's own answers for their first and last addresses.
type ftable struct {
	lpm         *lpm[uint32]
	prefixes    []netip.Prefix
	first, last map[netip.Prefix]uint32
	nh          map[uint32]nexthop
	missing     bool // fibd has no such table
}

func dumpFibd(addr string, table uint32, timeout time.Duration) (*ftable, error) {
	f := &ftable{lpm: newLPM[uint32](), first: map[netip.Prefix]uint32{}, last: map[netip.Prefix]uint32{}, nh: map[uint32]nexthop{}}
	err := ctlCall(addr, timeout, func(l []byte) error {
		var rec struct {
			Prefix  string   `json:"prefix"`
			Index   uint32   `json:"nexthop_index"`
			First   uint32   `json:"first"`
			Last    uint32   `json:"last"`
			Nexthop *nexthop `json:"nexthop"`
		}
		if err := json.Unmarshal(l, &rec); err != nil {
			return fmt.Errorf("router fib dump: %w: %.100q", err, l)
		}
		if rec.Nexthop != nil {
			f.nh[rec.Index] = *rec.Nexthop
			return nil
		}
		p, err := netip.ParsePrefix(rec.Prefix)
		if err != nil {
			return err
		}
		f.lpm.add(p, rec.Index)
		f.prefixes = append(f.prefixes, p)
		f.first[p], f.last[p] = rec.First, rec.Last
		return nil
	}, "router", "fib", "dump", fmt.Sprintf("table=%d", table))
	if err != nil && strings.Contains(err.Error(), "no such table") {
		f.missing = true
		return f, nil
	}
	return f, err
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// mismatch is one address where fibd and the kernel disagree.
type mismatch struct {
	table  uint32
	addr   netip.Addr
	route  string // the kernel route (or fibd prefix) the address was taken from
	kernel string
	fibd   string
	why    string
}

func (m mismatch) String() string {
	return fmt.Sprintf("table %d, %s (of %s): kernel %s; fibd %s (%s)", m.table, m.addr, m.route, m.kernel, m.fibd, m.why)
}

// comparison is the result of one comparison of every mirrored table.
type comparison struct {
	routes, addrs int // kernel routes compared, addresses looked up
	bad           []mismatch
	nbad          int
}

func (c *comparison) add(m mismatch) {
	c.nbad++
	if len(c.bad) < 20 {
		c.bad = append(c.bad, m)
	}
}

// ports maps the exception interfaces to fibd's ports.
var ports = map[string]string{"riba": "net_af_packet0", "ribb": "net_af_packet1"}

// agree tells whether fibd's decision n matches the kernel's route r for
// an address (nil r: no route).
func agree(k *kstate, r *kroute, n nexthop) (bool, string) {
	if r == nil {
		return n.Type == "no_route", "no kernel route"
	}
	switch r.Type {
	case "blackhole", "unreachable", "prohibit":
		return n.Type == r.Type, "type"
	case "throw":
		return true, ""
	case "", "unicast":
	default:
		return true, "" // a type fibd skips
	}
	hop := func(gw, dev string, n nexthop) (bool, string) {
		port, known := ports[dev]
		if !known {
			return true, "" // an interface of no port: nothing to check
		}
		if gw == "" { // on-link: per address, the kernel resolves
			ok := slices.Contains([]string{"forward", "unresolved", "punt", "local"}, n.Type) &&
				(n.Device == "" || n.Device == port)
			return ok, "on-link via " + port
		}
		g, err := netip.ParseAddr(gw)
		if err != nil {
			return false, "gateway " + gw
		}
		if mac, ok := k.neigh[neighKey{g, dev}]; ok {
			return n.Type == "forward" && n.Device == port && strings.EqualFold(n.MAC, mac),
				fmt.Sprintf("want forward via %s dev %s", mac, port)
		}
		return n.Type == "unresolved" && n.Device == port, "want unresolved dev " + port + " (no usable neighbour)"
	}
	if len(r.Nexthops) > 0 {
		if n.Type != "ecmp" || len(n.Members) != len(r.Nexthops) {
			return false, fmt.Sprintf("want ecmp of %d", len(r.Nexthops))
		}
		for i, m := range r.Nexthops {
			if ok, why := hop(m.Gateway, m.Dev, n.Members[i]); !ok {
				return false, "member: " + why
			}
		}
		return true, ""
	}
	return hop(r.Gateway, r.Dev, n)
}

// compare checks every route of every table (its first and last address)
// and sample random addresses, kernel against fibd; tables lists the
// mirrored tables.
func compare(k *kstate, f map[uint32]*ftable, rng *rand.Rand, sample int) *comparison {
	c := &comparison{}
	for id, kt := range k.tables {
		ft := f[id]
		if ft == nil || ft.missing {
			if len(kt.routes) > 0 {
				c.add(mismatch{table: id, kernel: fmt.Sprintf("%d routes", len(kt.routes)), fibd: "no such table", why: "table not mirrored"})
			}
			continue
		}
		// 1. the FIB answers what fibd programmed (its own lookup of each
		// programmed prefix's first and last address)
		for _, p := range ft.prefixes {
			for i, a := range []netip.Addr{p.Addr(), lastAddr(p)} {
				got := ft.first[p]
				if i == 1 {
					got = ft.last[p]
				}
				_, want, _ := ft.lpm.lookup(a)
				c.addrs++
				if got != want {
					c.add(mismatch{table: id, addr: a, route: p.String(), kernel: "-",
						fibd: fmt.Sprintf("FIB answers nexthop %d %s, programmed %d %s", got, ft.nh[got], want, ft.nh[want]),
						why:  "the fast path's table differs from what fibd programmed"})
				}
			}
		}
		decide := func(a netip.Addr) nexthop {
			if _, idx, ok := ft.lpm.lookup(a); ok {
				if n, ok := ft.nh[idx]; ok {
					return n
				}
				return nexthop{Type: fmt.Sprintf("unknown nexthop %d", idx)}
			}
			return nexthop{Type: "no_route"}
		}
		check := func(a netip.Addr, from string) {
			if a.Is6() && a.IsLinkLocalUnicast() {
				return // never forwarded (ip6_link_local): not compared
			}
			c.addrs++
			_, r, _ := kt.lpm.lookup(a)
			n := decide(a)
			if ok, why := agree(k, r, n); !ok {
				ks := "no route"
				if r != nil {
					ks = r.String()
				}
				c.add(mismatch{table: id, addr: a, route: from, kernel: ks, fibd: n.String(), why: why})
			}
		}
		// 2. every kernel route: its first and last address
		for _, p := range kt.routes {
			c.routes++
			check(p.Addr(), p.String())
			check(lastAddr(p), p.String())
		}
		// 3. every prefix fibd holds (a route the kernel no longer has)
		for _, p := range ft.prefixes {
			check(p.Addr(), "fibd's "+p.String())
		}
		// 4. random addresses: inside random routes, and anywhere
		for i := 0; i < sample && len(kt.routes) > 0; i++ {
			p := kt.routes[rng.IntN(len(kt.routes))]
			check(fullview.AddrIn(rng, p), "random in "+p.String())
			var a netip.Addr
			if i%2 == 0 {
				a = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
			} else {
				a = fullview.AddrIn(rng, netip.MustParsePrefix("2000::/3"))
			}
			check(a, "random")
		}
	}
	return c
}
