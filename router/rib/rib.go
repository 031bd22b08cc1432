package rib

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"fibd/cgo/fptypes"
)

// RIB holds the routing state (routes of every mirrored table, addresses,
// neighbours) and resolves it into FIB targets incrementally: a change
// marks the prefixes it can affect, and Flush recomputes only those. The
// result is what the kernel would forward with the same state:
//
//   - the lowest metric wins among routes for the same table and prefix;
//   - a gateway is resolved through the neighbour table on its interface (a
//     route without dev finds the interface through the connected
//     subnets); a gateway without a neighbour entry is Unresolved, so its
//     packets are counted (and, with the exception path, handed to the
//     kernel to resolve) rather than silently lost;
//   - multipath routes become ECMP groups over their resolved members; a
//     member whose neighbour is unknown leaves the group while another
//     member is resolved;
//   - the router_device subnets (config) are punted to their port's
//     exception interface, and so is every kernel prefix inside them;
//   - addresses give their Local /32 or /128 and their connected subnet
//     (on-link, Unresolved) in the local table; a neighbour inside an
//     on-link prefix of its interface gets a host route to its MAC.
//
// A RIB has one writer (the router goroutine).
type RIB struct {
	ports      Ports
	localTable uint32

	entries entryMap // every table/prefix that has routes or a resolution
	addrs   map[ribAddr]struct{}
	neigh   map[NeighKey][6]byte
	onlink  map[fptypes.PortID]map[tp]int // on-link prefixes per port (refcounted: addresses, dev routes)

	// users lists, per gateway, the prefixes resolved through it. A list
	// may hold prefixes that no longer use the gateway, or the same one
	// twice (every recomputation lists its gateways again); a compaction
	// drops both. A list is compacted when its gateway's neighbour changes
	// and whenever it has doubled since the last compaction, so it never
	// holds more than twice its real users (a full view has 10^6 users on
	// a handful of gateways: a set per gateway costs more than it saves).
	users map[NeighKey]*userList
	sweep uint32 // generation of the last compaction (entry.seen)
	// flushed: a flush ran. The first one (a resync's, 10^6 routes)
	// lists each user once, with nothing stale: it compacts no list, and
	// spares a map lookup per route and per doubling of each list.
	flushed bool
	devless map[tp]struct{} // routes with a gateway but no dev: resolved via on-link prefixes
	punts   []Punt          // router_device subnets, in localTable

	dirty   dirtyList  // marked since the last Flush (entry.dirty dedupes)
	targets *targetTab // the distinct resolutions entries refer to
	paths   pathTab    // the distinct path sets routes share
	// memo: gateways' hops while a flush runs (memoOn), memoNext the
	// one to replace next (gatewayHop).
	memo     [4]hopMemo
	memoNext int
	memoOn   bool
	// yield, while set, is called for every entry settled with a
	// resolution (SettleEach).
	yield func(uint32, netip.Prefix, *Target)
	// Problems found by the last Flush (unusable entries), for logging.
	Problems []error
}

// PrefixKey is a prefix packed for use as a map key (18 bytes, not
// netip.Prefix's 32, of which a pointer for a zone no route has): the RIB
// and the programmer key every route of every table by it.
type PrefixKey struct {
	fam  uint8 // 4, 6, or 0 for the invalid prefix
	bits uint8
	addr [16]byte // IPv4 in the first four bytes
}

// KeyOf packs p.
func KeyOf(p netip.Prefix) PrefixKey {
	k := PrefixKey{bits: uint8(p.Bits())}
	switch a := p.Addr(); {
	case !p.IsValid():
	case a.Is4():
		k.fam = 4
		a4 := a.As4()
		copy(k.addr[:4], a4[:])
	default:
		k.fam, k.addr = 6, a.As16()
	}
	return k
}

// Prefix unpacks k.
func (k PrefixKey) Prefix() netip.Prefix {
	switch k.fam {
	case 4:
		return netip.PrefixFrom(netip.AddrFrom4([4]byte(k.addr[:4])), int(k.bits))
	case 6:
		return netip.PrefixFrom(netip.AddrFrom16(k.addr), int(k.bits))
	}
	return netip.Prefix{}
}

// Is6 reports whether k is an IPv6 prefix.
func (k PrefixKey) Is6() bool { return k.fam == 6 }

// tp is a prefix of a table (24 bytes): it keys every entry and fills
// every gateway's users list.
type tp struct {
	table uint32
	PrefixKey
}

func mkTP(table uint32, p netip.Prefix) tp { return tp{table, KeyOf(p)} }

// NeighKey identifies a neighbour: its address on a port.
type NeighKey struct {
	addr netip.Addr
	port fptypes.PortID
}

// Addr is the neighbour's address.
func (k NeighKey) Addr() netip.Addr { return k.addr }

// Port is the port (or sub-interface id) the neighbour is on.
func (k NeighKey) Port() fptypes.PortID { return k.port }

type ribAddr struct {
	prefix netip.Prefix // unmasked: address and subnet length
	port   fptypes.PortID
}

type dirtyEntry struct {
	k tp
	e *entry
}

// dirtyList holds the entries marked since the last flush, in the order
// they were marked: for a dump's RIB that is the kernel's order, so the
// first flush reads the entries (allocated in that order) and hands the
// FIB its prefixes in address order, where the map's order is random: a
// full view's restart spent 0.5 s less settling and 0.5 s less in the
// FIB's build. Chunks, so that listing a million entries copies none.
type dirtyList struct {
	chunks [][]dirtyEntry
}

const dirtyChunk = 4096

func (l *dirtyList) add(d dirtyEntry) {
	n := len(l.chunks)
	if n == 0 || len(l.chunks[n-1]) == dirtyChunk {
		l.chunks = append(l.chunks, make([]dirtyEntry, 0, dirtyChunk))
		n++
	}
	l.chunks[n-1] = append(l.chunks[n-1], d)
}

// reset empties the list, keeping one chunk.
func (l *dirtyList) reset() {
	if len(l.chunks) == 0 {
		return
	}
	c := l.chunks[0]
	clear(c)
	clear(l.chunks)
	l.chunks = append(l.chunks[:0:0], c[:0])
}

// entry is one table/prefix.
type entry struct {
	routes []cand // candidates, by metric
	out    uint32 // current resolution (RIB.targets), 0: none
	state  uint32 // the compaction generation that last kept it (dedupe), dirtyBit and listedBit
}

// Flags in entry.state; the compaction generation takes the other bits
// (an entry fits in 32 bytes).
const (
	// dirtyBit: marked for the next Flush (r.dirty lists it, once the
	// RIB was flushed).
	dirtyBit = 1 << 31
	// listedBit: the entry is in the users list of every gateway its best
	// route names with a dev, since it was last resolved through it: a
	// compaction keeps it there while that route stays (usesGateway), so
	// recomputing it (a neighbour's change, 10^6 routes) lists it again
	// only when its routes changed. Paths without a dev are listed every
	// time: their port follows the on-link prefixes.
	listedBit = 1 << 30
	genMask   = listedBit - 1
)

func (e *entry) has() bool            { return e.out != 0 }
func (e *entry) dirty() bool          { return e.state&dirtyBit != 0 }
func (e *entry) seen(gen uint32) bool { return e.state&genMask == gen }
func (e *entry) see(gen uint32)       { e.state = e.state&^genMask | gen }

// routesChanged: e's candidates changed; it must list its gateways again.
func (e *entry) routesChanged() { e.state &^= listedBit }

// cand is a candidate route of an entry: a Route less the table and
// prefix that the entry's key holds, with its paths interned (16 bytes,
// not a Route's 80, for every route of every table).
type cand struct {
	paths  uint32 // RIB.paths; a reference held
	metric uint32
	nhid   uint32
	typ    RouteType
	synced bool // SyncRoutes: the dump holds it (false outside SyncRoutes)
}

// cand interns rt's paths (a reference the cand holds) and returns it as
// a candidate.
func (r *RIB) cand(rt *Route) cand {
	return cand{paths: r.paths.intern(rt.Nexthops), metric: rt.Metric, nhid: rt.NhID, typ: rt.Type}
}

// route is c as a Route of key k's table and prefix.
func (r *RIB) route(k tp, c *cand) Route {
	return Route{Table: k.table, Prefix: k.Prefix(), Type: c.typ, Metric: c.metric, Nexthops: r.paths.get(c.paths), NhID: c.nhid}
}

// onlinkCand: c is a unicast route with one path and no gateway (an on-link
// prefix).
func (r *RIB) onlinkCand(c *cand) bool {
	ps := r.paths.get(c.paths)
	return c.typ == Unicast && len(ps) == 1 && !ps[0].Gateway.IsValid()
}

// userList is the prefixes resolved through one gateway (RIB.users), by
// table and family: an IPv4 prefix takes 8 bytes (Pack4), not a tp's 24.
type userList struct {
	tabs      []userTab // usually one
	n         int       // prefixes in all of tabs
	compactAt int       // length at which the list is compacted next
}

// userTab is the users of one table.
type userTab struct {
	table uint32
	v4    []uint64 // Pack4
	v6    []PrefixKey
}

// add lists u.
func (ul *userList) add(u tp) {
	i := slices.IndexFunc(ul.tabs, func(t userTab) bool { return t.table == u.table })
	if i < 0 {
		i = len(ul.tabs)
		ul.tabs = append(ul.tabs, userTab{table: u.table})
	}
	if t := &ul.tabs[i]; u.Is4() {
		t.v4 = append(t.v4, u.Pack4())
	} else {
		t.v6 = append(t.v6, u.PrefixKey)
	}
	ul.n++
}

// filter keeps the prefixes keep says yes to.
func (ul *userList) filter(keep func(tp) bool) {
	n := 0
	for i := range ul.tabs {
		t := &ul.tabs[i]
		v4 := t.v4[:0]
		for _, x := range t.v4 {
			if keep(tp{t.table, Unpack4(x)}) {
				v4 = append(v4, x)
			}
		}
		clear(t.v4[len(v4):])
		t.v4 = v4
		v6 := t.v6[:0]
		for _, k := range t.v6 {
			if keep(tp{t.table, k}) {
				v6 = append(v6, k)
			}
		}
		clear(t.v6[len(v6):])
		t.v6 = v6
		n += len(v4) + len(v6)
	}
	ul.tabs = slices.DeleteFunc(ul.tabs, func(t userTab) bool { return len(t.v4)+len(t.v6) == 0 })
	ul.n = n
}

// minCompact is the shortest list worth compacting on growth.
const minCompact = 64

// NewRIB returns an empty RIB. Addresses, connected subnets and neighbour
// host routes go to localTable. routes is a size hint: the number of
// routes, then of which IPv6.
func NewRIB(ports Ports, localTable uint32, routes ...int) *RIB {
	hint, hint6 := 0, 0
	if len(routes) > 0 {
		hint = routes[0]
	}
	if len(routes) > 1 {
		hint6 = min(routes[1], hint)
	}
	return &RIB{
		ports:      ports,
		localTable: localTable,
		entries:    newEntryMap(hint-hint6, hint6),
		addrs:      map[ribAddr]struct{}{},
		neigh:      map[NeighKey][6]byte{},
		onlink:     map[fptypes.PortID]map[tp]int{},
		users:      map[NeighKey]*userList{},
		devless:    map[tp]struct{}{},
		targets:    newTargetTab(),
		paths:      newPathTab(),
	}
}

// Punt is a router_device subnet: traffic to it goes to the exception
// interface of Port.
type Punt struct {
	Prefix netip.Prefix
	Port   fptypes.PortID
}

// SetPunts replaces the punted subnets.
func (r *RIB) SetPunts(ps []Punt) {
	for _, p := range r.punts {
		r.mark(mkTP(r.localTable, p.Prefix))
	}
	r.punts = make([]Punt, len(ps))
	for i, p := range ps {
		r.punts[i] = Punt{p.Prefix.Masked(), p.Port}
		r.mark(mkTP(r.localTable, r.punts[i].Prefix))
	}
	// Kernel prefixes inside a punted subnet change too.
	for k := range r.entries.all() {
		if k.table == r.localTable {
			r.mark(k)
		}
	}
}

// puntOf is the punted subnet holding prefix p (the longest).
func (r *RIB) puntOf(p netip.Prefix) (Punt, bool) {
	best, found := Punt{}, false
	for _, x := range r.punts {
		if x.Prefix.Bits() <= p.Bits() && x.Prefix.Contains(p.Addr()) && (!found || x.Prefix.Bits() > best.Prefix.Bits()) {
			best, found = x, true
		}
	}
	return best, found
}

// Load adds a complete state (addresses, neighbours, routes) and settles:
// the RIB of a dump or a static file. It returns the neighbours it could
// not take; Problems holds the entries that do not resolve.
func (r *RIB) Load(st *State) []error {
	var errs []error
	for _, a := range st.Addrs {
		r.AddAddr(a)
	}
	for _, n := range st.Neighs {
		if err := r.SetNeigh(n); err != nil {
			errs = append(errs, err)
		}
	}
	for _, rt := range st.Routes {
		r.AddRoute(rt)
	}
	r.Settle()
	return errs
}

// Resolve computes the FIB content for a complete state (see RIB).
func Resolve(st *State, ports Ports, localTable uint32) (Desired, []error) {
	r := NewRIB(ports, localTable, len(st.Routes))
	r.Load(st)
	return r.Desired(), r.Problems
}

// Desired is the RIB's current resolution, as a new map.
func (r *RIB) Desired() Desired {
	d := Desired{}
	for k, e := range r.entries.all() {
		if e.has() && k.table != ObjTable {
			d.set(k.table, k.Prefix(), *r.resolved(e))
		}
	}
	return d
}

// EachAddr calls f for every interface address, with its port.
func (r *RIB) EachAddr(f func(addr netip.Prefix, port fptypes.PortID)) {
	for a := range r.addrs {
		f(a.prefix, a.port)
	}
}

// EachNeigh calls f for every neighbour, with its port.
func (r *RIB) EachNeigh(f func(addr netip.Addr, port fptypes.PortID, mac [6]byte)) {
	for k, mac := range r.neigh {
		f(k.addr, k.port, mac)
	}
}

// Each calls f for every resolved table/prefix (no copy of the RIB).
func (r *RIB) Each(f func(table uint32, p netip.Prefix, t *Target)) {
	for k, e := range r.entries.all() {
		if e.has() && k.table != ObjTable {
			f(k.table, k.Prefix(), r.resolved(e))
		}
	}
}

// Routes counts the routes held (all candidates).
func (r *RIB) Routes() int {
	n := 0
	for k, e := range r.entries.all() {
		if k.table != ObjTable {
			n += len(e.routes)
		}
	}
	return n
}

// Len is the number of table/prefix entries (an upper bound of what Each
// yields).
func (r *RIB) Len() int { return r.entries.len() }

// Lens is Len per family (a size hint for the next RIB); r may be nil.
func (r *RIB) Lens() (v4, v6 int) {
	if r == nil {
		return 0, 0
	}
	return r.entries.n4, r.entries.n6
}

// Neighbours counts the neighbours held.
func (r *RIB) Neighbours() int { return len(r.neigh) }

func (r *RIB) entry(k tp) *entry {
	e := r.entries.get(k)
	if e == nil {
		e = &entry{}
		r.entries.set(k, e)
	}
	return e
}

// routeEntry is entry(k) for a route: a new entry comes with room for
// one candidate in the same allocation (most prefixes have one route).
func (r *RIB) routeEntry(k tp) *entry {
	e := r.entries.get(k)
	if e == nil {
		b := &entry1{}
		b.routes = b.c[:0:1]
		e = &b.entry
		r.entries.set(k, e)
	}
	return e
}

// gatewaysWithin: every gateway c names with a dev (those an entry is
// listed under, listedBit), b names too, on the same dev.
func (r *RIB) gatewaysWithin(c, b *cand) bool {
	if c.paths == b.paths {
		return true
	}
	bp := r.paths.get(b.paths)
	for _, p := range r.paths.get(c.paths) {
		if p.Dev == "" || !p.Gateway.IsValid() {
			continue
		}
		if !slices.ContainsFunc(bp, func(q Nexthop) bool { return q.Gateway == p.Gateway && q.Dev == p.Dev }) {
			return false
		}
	}
	return true
}

// entry1 is an entry and the array of its first candidate.
type entry1 struct {
	entry
	c [1]cand
}

func (r *RIB) mark(k tp) { r.markEntry(k, r.entry(k)) }

func (r *RIB) markEntry(k tp, e *entry) {
	if !e.dirty() {
		e.state |= dirtyBit
		r.dirty.add(dirtyEntry{k, e})
	}
}

// Routes of one table and prefix are told apart by metric, as in the kernel.
// AddRoute adds or replaces (same table, prefix and metric) a route.
func (r *RIB) AddRoute(rt Route) {
	rt.Prefix = rt.Prefix.Masked()
	k := mkTP(rt.Table, rt.Prefix)
	r.addTo(k, r.routeEntry(k), &rt)
}

// addTo is AddRoute of rt (masked) into entry e of its key k.
func (r *RIB) addTo(k tp, e *entry, rt *Route) {
	c := r.cand(rt)
	i := slices.IndexFunc(e.routes, func(x cand) bool { return x.metric == rt.Metric })
	// The entry stays listed where it is when its best route stays, or
	// loses paths only (a multipath route's dead path: a million of them
	// when a link of a full view's ECMP goes down).
	if i < 0 || i == 0 && !r.gatewaysWithin(&c, &e.routes[0]) {
		e.routesChanged()
	}
	if i >= 0 {
		r.routeOut(k, &e.routes[i])
		e.routes[i] = c
	} else {
		e.routes = append(e.routes, c)
		if len(e.routes) > 1 {
			slices.SortStableFunc(e.routes, func(a, b cand) int { return cmp.Compare(a.metric, b.metric) })
		}
	}
	r.onlinkRoute(k, &c, +1)
	r.markEntry(k, e)
}

// DelRoute removes the route of rt's table, prefix and metric. It reports
// whether there was one.
func (r *RIB) DelRoute(rt Route) bool {
	rt.Prefix = rt.Prefix.Masked()
	k := mkTP(rt.Table, rt.Prefix)
	e := r.entries.get(k)
	if e == nil {
		return false
	}
	i := slices.IndexFunc(e.routes, func(x cand) bool { return x.metric == rt.Metric })
	if i < 0 {
		return false
	}
	r.delCand(k, e, i)
	return true
}

// delCand removes candidate i of entry e (key k).
func (r *RIB) delCand(k tp, e *entry, i int) {
	r.routeOut(k, &e.routes[i])
	e.routes = slices.Delete(e.routes, i, i+1)
	e.routesChanged()
	r.markEntry(k, e)
}

// SyncRoutes makes the routes of one family in tables equal to routes (a
// dump of them): the others are removed, the changed ones replaced. The
// resolution follows at the next Flush. It returns how many routes it
// removed and how many it added or replaced.
//
// It reads the dump from its end, so that of two routes with one key the
// later one decides, and marks each candidate the dump holds (cand.synced);
// a walk of the tables then removes the unmarked ones and clears the
// marks; last, what changed is added in the dump's order: entries near
// each other in a table are touched, and settled by the next flush, one
// after the other (a million of them when a link of a full view's
// multipath routes goes down).
func (r *RIB) SyncRoutes(v6 bool, tables []uint32, routes []Route) (removed, changed int) {
	// the routes to add, from the dump's end, with the entry each goes
	// into when the RIB has it (entries go only when a flush settles them)
	type pending struct {
		i int32
		e *entry
	}
	var adds []pending
	var fresh map[syncKey]bool // keys the RIB does not hold, decided
	for i := len(routes) - 1; i >= 0; i-- {
		rt := &routes[i]
		rt.Prefix = rt.Prefix.Masked()
		if rt.Prefix.Addr().Is6() != v6 || !slices.Contains(tables, rt.Table) {
			continue
		}
		k := mkTP(rt.Table, rt.Prefix)
		var c *cand
		e := r.entries.get(k)
		if e != nil && rt.Table != ObjTable {
			if j := slices.IndexFunc(e.routes, func(x cand) bool { return x.metric == rt.Metric }); j >= 0 {
				c = &e.routes[j]
			}
		}
		switch {
		case c == nil:
			sk := syncKey{k, rt.Metric}
			if fresh == nil {
				fresh = map[syncKey]bool{}
			}
			if !fresh[sk] {
				adds = append(adds, pending{int32(i), e})
			}
			fresh[sk] = true
		case !c.synced:
			c.synced = true
			if !r.sameContent(c, rt) {
				adds = append(adds, pending{int32(i), e})
			}
		}
	}
	for _, table := range slices.Compact(slices.Sorted(slices.Values(tables))) {
		if table == ObjTable {
			continue
		}
		for k, e := range r.entries.of(table, v6) {
			for i := 0; i < len(e.routes); {
				if e.routes[i].synced {
					e.routes[i].synced = false
					i++
					continue
				}
				r.delCand(k, e, i)
				removed++
			}
		}
	}
	for j := len(adds) - 1; j >= 0; j-- {
		rt := &routes[adds[j].i]
		k := mkTP(rt.Table, rt.Prefix)
		e := adds[j].e
		if e == nil {
			e = r.routeEntry(k)
		}
		r.addTo(k, e, rt)
		changed++
	}
	return removed, changed
}

// syncKey is a route of SyncRoutes: table, prefix and metric.
type syncKey struct {
	k      tp
	metric uint32
}

// sameContent: the two routes forward alike (same type and paths). Two
// routes naming the same object the RIB knows do: its entry says how,
// and their paths may be an older expansion of it.
func (r *RIB) sameContent(a *cand, b *Route) bool {
	if a.nhid != 0 && a.nhid == b.NhID && r.HasObj(a.nhid) {
		return true
	}
	return a.typ == b.Type && a.nhid == b.NhID && slices.Equal(r.paths.get(a.paths), b.Nexthops)
}

// routeOut accounts for a route leaving the RIB (replaced or removed).
func (r *RIB) routeOut(k tp, c *cand) {
	r.onlinkRoute(k, c, -1)
	r.paths.release(c.paths)
}

// onlinkRoute counts a dev-only unicast route as an on-link prefix.
func (r *RIB) onlinkRoute(k tp, c *cand, delta int) {
	if !r.onlinkCand(c) {
		return
	}
	if p, ok := r.ports.PortOf(r.paths.get(c.paths)[0].Dev); ok {
		r.onlinkAdd(p, k, delta)
	}
}

func (r *RIB) onlinkAdd(p fptypes.PortID, k tp, delta int) {
	m := r.onlink[p]
	if m == nil {
		m = map[tp]int{}
		r.onlink[p] = m
	}
	m[k] += delta
	if m[k] <= 0 {
		delete(m, k)
	}
	// Neighbours inside the prefix gain or lose their host routes.
	for nk := range r.neigh {
		if nk.port == p && k.Prefix().Contains(nk.addr) {
			r.mark(mkTP(k.table, host(nk.addr)))
		}
	}
	// Gateways without dev may now resolve elsewhere (or not at all).
	for w := range r.devless {
		r.mark(w)
	}
}

func host(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// AddAddr adds an interface address (its local address and subnet).
func (r *RIB) AddAddr(a Addr) {
	p, ok := r.ports.PortOf(a.Dev)
	if !ok {
		r.Problems = append(r.Problems, fmt.Errorf("address %s: dev %q is not a fibd port", a.Prefix, a.Dev))
		return
	}
	k := ribAddr{a.Prefix, p}
	if _, ok := r.addrs[k]; ok {
		return
	}
	r.addrs[k] = struct{}{}
	r.mark(mkTP(r.localTable, host(a.Prefix.Addr())))
	sub := mkTP(r.localTable, a.Prefix.Masked())
	r.mark(sub)
	r.onlinkAdd(p, sub, +1)
}

// DelAddr removes an interface address.
func (r *RIB) DelAddr(a Addr) {
	p, ok := r.ports.PortOf(a.Dev)
	if !ok {
		return
	}
	k := ribAddr{a.Prefix, p}
	if _, ok := r.addrs[k]; !ok {
		return
	}
	delete(r.addrs, k)
	r.mark(mkTP(r.localTable, host(a.Prefix.Addr())))
	sub := mkTP(r.localTable, a.Prefix.Masked())
	r.mark(sub)
	r.onlinkAdd(p, sub, -1)
}

// SetNeigh adds or updates a resolved neighbour.
func (r *RIB) SetNeigh(n Neigh) error {
	p, ok := r.ports.PortOf(n.Dev)
	if !ok {
		return fmt.Errorf("neighbour %s: dev %q is not a fibd port", n.Addr, n.Dev)
	}
	if len(n.MAC) != 6 {
		return fmt.Errorf("neighbour %s: MAC %s is not Ethernet", n.Addr, n.MAC)
	}
	k := NeighKey{n.Addr.Unmap(), p}
	mac := [6]byte(n.MAC)
	if old, ok := r.neigh[k]; ok && old == mac {
		return nil
	}
	r.neigh[k] = mac
	r.neighChanged(k)
	return nil
}

// DelNeigh forgets a neighbour (failed, deleted, or its link went down).
func (r *RIB) DelNeigh(n Neigh) {
	p, ok := r.ports.PortOf(n.Dev)
	if !ok {
		return
	}
	k := NeighKey{n.Addr.Unmap(), p}
	if _, ok := r.neigh[k]; !ok {
		return
	}
	delete(r.neigh, k)
	r.neighChanged(k)
}

// HasNeigh reports whether addr is resolved on dev's port.
func (r *RIB) HasNeigh(addr netip.Addr, dev string) bool {
	p, ok := r.ports.PortOf(dev)
	if !ok {
		return false
	}
	_, ok = r.neigh[NeighKey{addr.Unmap(), p}]
	return ok
}

// NeighboursOf counts the neighbours of one family.
func (r *RIB) NeighboursOf(v6 bool) int {
	n := 0
	for k := range r.neigh {
		if k.addr.Is6() == v6 {
			n++
		}
	}
	return n
}

// compactUsers drops from k's list the prefixes that no longer use k and
// the repeated ones, calling f (if set) for each real user. A list left
// empty goes.
func (r *RIB) compactUsers(k NeighKey, f func(tp, *entry)) {
	ul := r.users[k]
	if ul == nil {
		return
	}
	r.memo = [len(r.memo)]hopMemo{} // the list may go
	r.sweep = (r.sweep + 1) & genMask
	ul.filter(func(u tp) bool {
		e := r.entries.get(u)
		if e == nil || e.seen(r.sweep) || !r.usesGateway(e, k) {
			return false
		}
		e.see(r.sweep)
		if f != nil {
			f(u, e)
		}
		return true
	})
	ul.compactAt = max(2*ul.n, minCompact)
	if ul.n == 0 {
		delete(r.users, k)
	}
}

// usesGateway reports whether entry e may resolve through gateway k: its
// best route names k's address on k's port, or with no dev (on-link
// lookup). It errs towards yes; a users list then keeps a prefix that a
// change of k recomputes for nothing. The gateways are not stored per
// entry: read from the route, they cost nothing.
func (r *RIB) usesGateway(e *entry, k NeighKey) bool {
	if len(e.routes) == 0 {
		return false
	}
	for _, nh := range r.paths.get(e.routes[0].paths) {
		if nh.Gateway.Unmap() != k.addr {
			continue
		}
		if nh.Dev == "" {
			return true
		}
		if p, ok := r.ports.PortOf(nh.Dev); ok && p == k.port {
			return true
		}
	}
	return false
}

// addUser lists prefix u as resolved through gateway k.
func (r *RIB) addUser(k NeighKey, u tp) { r.addUserTo(r.userList(k), k, u) }

// userList is gateway k's users list, made if missing.
func (r *RIB) userList(k NeighKey) *userList {
	ul := r.users[k]
	if ul == nil {
		ul = &userList{compactAt: minCompact}
		r.users[k] = ul
	}
	return ul
}

// addUserTo lists prefix u in ul, gateway k's users list.
func (r *RIB) addUserTo(ul *userList, k NeighKey, u tp) {
	ul.add(u)
	if ul.n >= ul.compactAt && r.flushed {
		r.compactUsers(k, nil)
	}
}

// usersLen counts the entries of gateway k's users list (tests).
func (r *RIB) usersLen(k NeighKey) int {
	if ul := r.users[k]; ul != nil {
		return ul.n
	}
	return 0
}

func (r *RIB) neighChanged(k NeighKey) {
	r.compactUsers(k, func(u tp, e *entry) { r.markEntry(u, e) })
	for o := range r.onlink[k.port] {
		if o.Prefix().Contains(k.addr) {
			r.mark(mkTP(o.table, host(k.addr)))
		}
	}
}

// Unresolved lists gateways that routes use but that have no neighbour
// entry: the kernel should be asked to resolve them.
// NeighInUse reports whether routes resolve through neighbour addr on dev
// (a users list may still hold prefixes that left: then it errs towards
// in use).
func (r *RIB) NeighInUse(addr netip.Addr, dev string) bool {
	p, ok := r.ports.PortOf(dev)
	if !ok {
		return false
	}
	ul := r.users[NeighKey{addr.Unmap(), p}]
	return ul != nil && ul.n > 0
}

func (r *RIB) Unresolved() []NeighKey {
	var out []NeighKey
	for k, ul := range r.users {
		if _, ok := r.neigh[k]; !ok && ul.n > 0 && k.addr.IsValid() {
			out = append(out, k)
		}
	}
	return out
}

// Change is one resolved FIB change; Del means the prefix goes.
type Change struct {
	Table  uint32
	Prefix netip.Prefix
	Del    bool
	Target Target
}

// Flush recomputes every prefix marked since the last Flush and returns
// the changes to the FIB.
func (r *RIB) Flush() []Change { return r.flush(true) }

// Settle recomputes like Flush but collects no changes: for a RIB built
// from a complete state (Load), read whole afterwards. A RIB whose FIB is
// programmed from it at once takes SettleEach.
func (r *RIB) Settle() { r.flush(false) }

// SettleEach is Settle then Each in one pass, for a RIB every entry of
// which is marked (one built from a dump, never flushed): it calls f for
// every resolved table/prefix as it settles it, sparing a second walk of
// a million entries. Another RIB is settled, then walked by Each.
func (r *RIB) SettleEach(f func(table uint32, p netip.Prefix, t *Target)) {
	if r.flushed {
		r.Settle()
		r.Each(f)
		return
	}
	r.yield = f
	defer func() { r.yield = nil }()
	r.flush(false)
}

func (r *RIB) flush(collect bool) []Change {
	r.Problems = r.Problems[:0:0]
	r.memoOn = true
	defer func() {
		r.memoOn = false
		r.memo = [len(r.memo)]hopMemo{}
	}()
	var out []Change
	// Objects first: the prefixes that refer to one read its new
	// resolution.
	for _, objects := range []bool{true, false} {
		for _, c := range r.dirty.chunks {
			for _, d := range c {
				if (d.k.table == ObjTable) != objects {
					continue
				}
				out = r.settle(d.k, d.e, collect, out)
			}
		}
	}
	r.dirty.reset()
	if !r.flushed {
		r.flushed = true
		for _, ul := range r.users {
			ul.compactAt = max(2*ul.n, minCompact)
		}
	}
	return out
}

// settle recomputes one marked entry and appends its change to out.
func (r *RIB) settle(k tp, e *entry, collect bool, out []Change) []Change {
	e.state &^= dirtyBit
	t, ok, err := r.compute(k, e)
	if err != nil {
		r.Problems = append(r.Problems, err)
	}
	switch {
	case ok && e.has() && r.targets.get(e.out).Equal(&t):
	case ok:
		old := e.out
		e.out = r.targets.internVal(t)
		r.targets.release(old) // 0: none
		if collect {
			out = append(out, Change{Table: k.table, Prefix: k.Prefix(), Target: *r.resolved(e)})
		}
	case e.has():
		r.targets.release(e.out)
		e.out = 0
		if collect && k.table != ObjTable { // an object's nexthop goes with its last route
			out = append(out, Change{Table: k.table, Prefix: k.Prefix(), Del: true})
		}
	}
	if !e.has() && len(e.routes) == 0 {
		r.entries.del(k)
	}
	if r.yield != nil && e.has() && k.table != ObjTable {
		r.yield(k.table, k.Prefix(), r.resolved(e))
	}
	return out
}

// compute resolves one table/prefix from scratch, updating dependencies.
func (r *RIB) compute(k tp, e *entry) (Target, bool, error) {
	delete(r.devless, k)
	if k.table == ObjTable {
		return r.computeObj(k, e)
	}

	// The manual: the router_device subnets go to the routing daemon, all
	// of them, whatever the kernel routes inside.
	if len(r.punts) > 0 && k.table == r.localTable {
		if p, ok := r.puntOf(k.Prefix()); ok {
			return Target{Type: fptypes.NexthopPunt, Hop: Hop{Type: fptypes.NexthopPunt, Port: p.Port}}, true, nil
		}
	}
	// The kernel's local table comes first: our own addresses.
	if k.table == r.localTable && k.Prefix().IsSingleIP() {
		for a := range r.addrs {
			if a.prefix.Addr() == k.Prefix().Addr() {
				return Target{Type: fptypes.NexthopLocal}, true, nil
			}
		}
	}
	if len(e.routes) > 0 {
		if t, ok := r.objRef(e.routes[0].nhid); ok {
			return t, true, nil
		}
		t, err := r.routeTarget(k, e, &e.routes[0])
		e.state |= listedBit
		if err != nil {
			// The kernel's best route cannot be followed (its interface is
			// not fibd's, its gateway unreachable): drop and count rather
			// than let a less specific route carry the traffic.
			return Target{Type: fptypes.NexthopUnreachable}, true,
				fmt.Errorf("route %s table %d: %w (installed as unreachable)", k.Prefix(), k.table, err)
		}
		return t, true, nil
	}
	// A subnet or neighbour present on several ports resolves to the lowest
	// one, so the answer never depends on map order.
	found := false
	var best Target
	if k.table == r.localTable {
		for a := range r.addrs {
			if a.prefix.Masked() == k.Prefix() && (!found || a.port < best.Hop.Port) {
				best = Target{Type: fptypes.NexthopUnresolved, Hop: Hop{Type: fptypes.NexthopUnresolved, Port: a.port}}
				found = true
			}
		}
		if found {
			return best, true, nil
		}
	}
	if k.Prefix().IsSingleIP() {
		a := k.Prefix().Addr()
		for p, ons := range r.onlink {
			mac, ok := r.neigh[NeighKey{a, p}]
			if !ok || (found && p > best.Hop.Port) {
				continue
			}
			for o := range ons {
				if o.table == k.table && o.Prefix().Contains(a) {
					best = Target{Type: fptypes.NexthopForward, Hop: Hop{Type: fptypes.NexthopForward, Port: p, Gw: a, MAC: mac}}
					found = true
					break
				}
			}
		}
	}
	return best, found, nil
}

var errNoSubnet = errors.New("gateway is on no connected subnet")

func (r *RIB) hop(k tp, e *entry, gw netip.Addr, dev string) (Hop, error) {
	var port fptypes.PortID
	if dev != "" {
		p, ok := r.ports.PortOf(dev)
		if !ok {
			return Hop{}, fmt.Errorf("dev %q is not a fibd port", dev)
		}
		port = p
	} else {
		r.devless[k] = struct{}{}
		// As the kernel: the longest on-link prefix holding the gateway
		// (lowest port on a tie, so the answer never depends on map order).
		found, best := false, -1
		for p, ons := range r.onlink {
			for o := range ons {
				if o.Prefix().Contains(gw) && (o.Prefix().Bits() > best || o.Prefix().Bits() == best && p < port) {
					port, found, best = p, true, o.Prefix().Bits()
				}
			}
		}
		if !found {
			return Hop{}, fmt.Errorf("%w: %s", errNoSubnet, gw)
		}
	}
	if !gw.IsValid() { // on-link: host routes of neighbours carry the MACs
		return Hop{Type: fptypes.NexthopUnresolved, Port: port}, nil
	}
	nk := NeighKey{gw.Unmap(), port}
	if dev == "" || e.state&listedBit == 0 {
		r.addUser(nk, k)
	}
	if mac, ok := r.neigh[nk]; ok {
		return Hop{Type: fptypes.NexthopForward, Port: port, Gw: nk.addr, MAC: mac}, nil
	}
	return Hop{Type: fptypes.NexthopUnresolved, Port: port, Gw: nk.addr}, nil
}

// hopMemo is a gateway's hop, remembered while a flush runs: a full
// view's million routes go through a handful of gateways, and comparing
// with the last few costs less than the port, neighbour and users
// lookups. Neither ports nor neighbours change during a flush; a users
// list may go (compactUsers), which forgets every memo.
type hopMemo struct {
	gw  netip.Addr
	dev string // "" : no memo
	hop Hop
	nk  NeighKey
	ul  *userList // nk's, once hop listed a user there
}

// gatewayHop is hop for a gateway named with its dev (the common case),
// through the memos while a flush runs.
func (r *RIB) gatewayHop(k tp, e *entry, gw netip.Addr, dev string) (Hop, error) {
	if !r.memoOn || dev == "" || !gw.IsValid() {
		return r.hop(k, e, gw, dev)
	}
	for i := range r.memo {
		m := &r.memo[i]
		if m.dev != dev || m.gw != gw {
			continue
		}
		h := m.hop // addUserTo may compact a list, which forgets m
		if e.state&listedBit == 0 {
			if m.ul == nil {
				m.ul = r.userList(m.nk)
			}
			r.addUserTo(m.ul, m.nk, k)
		}
		return h, nil
	}
	h, err := r.hop(k, e, gw, dev)
	if err != nil {
		return h, err
	}
	m := &r.memo[r.memoNext]
	r.memoNext = (r.memoNext + 1) % len(r.memo)
	*m = hopMemo{gw: gw, dev: dev, hop: h, nk: NeighKey{gw.Unmap(), h.Port}}
	return h, nil
}

func (r *RIB) routeTarget(k tp, e *entry, rt *cand) (Target, error) {
	t, err := r.pathsTarget(k, e, rt)
	if err == nil && rt.nhid != 0 {
		switch t.Type {
		case fptypes.NexthopForward, fptypes.NexthopUnresolved, fptypes.NexthopECMP:
			t.Obj = rt.nhid
		}
	}
	return t, err
}

func (r *RIB) pathsTarget(k tp, e *entry, rt *cand) (Target, error) {
	switch rt.typ {
	case Blackhole:
		return Target{Type: fptypes.NexthopBlackhole}, nil
	case Unreachable:
		return Target{Type: fptypes.NexthopUnreachable}, nil
	case Prohibit:
		return Target{Type: fptypes.NexthopProhibit}, nil
	case Throw:
		return Target{Type: fptypes.NexthopThrow}, nil
	case Local:
		return Target{Type: fptypes.NexthopLocal}, nil
	}
	paths := r.paths.get(rt.paths)
	if len(paths) == 0 {
		return Target{}, errors.New("unicast route without nexthop")
	}
	if len(paths) == 1 {
		h, err := r.gatewayHop(k, e, paths[0].Gateway, paths[0].Dev)
		if err != nil {
			return Target{}, err
		}
		return Target{Type: h.Type, Hop: h}, nil
	}
	var all, resolved []Member
	var bad []error
	for _, nh := range paths {
		h, err := r.gatewayHop(k, e, nh.Gateway, nh.Dev)
		if err != nil { // this path is unusable; the others still carry traffic
			bad = append(bad, err)
			continue
		}
		m := Member{Hop: h, Weight: max(nh.Weight, 1)}
		all = append(all, m)
		if h.Type == fptypes.NexthopForward {
			resolved = append(resolved, m)
		}
	}
	if len(all) == 0 {
		return Target{}, errors.Join(bad...)
	}
	if len(bad) > 0 {
		r.Problems = append(r.Problems, fmt.Errorf("route %s table %d: paths left out: %w", k.Prefix(), k.table, errors.Join(bad...)))
	}
	members := all
	if len(resolved) > 0 {
		members = resolved // unresolved members leave the group meanwhile
	}
	slices.SortFunc(members, func(a, b Member) int { return compareHops(a.Hop, b.Hop) })
	// The same neighbour listed twice adds its weights.
	merged := members[:0:0]
	for _, m := range members {
		if n := len(merged); n > 0 && merged[n-1].Hop == m.Hop {
			merged[n-1].Weight += m.Weight
			continue
		}
		merged = append(merged, m)
	}
	if len(merged) == 1 {
		return Target{Type: merged[0].Hop.Type, Hop: merged[0].Hop}, nil
	}
	return Target{Type: fptypes.NexthopECMP, Members: merged}, nil
}
