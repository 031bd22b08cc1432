package announce

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"fibd/router/rtnl"
	"fibd/router/rtnlpcap"
)

// maxDups bounds the deletions of one withdrawal: the kernel deletes one
// matching route per request, and a prefix has at most one route per
// exception interface of its direction (IPv6) plus leftovers.
const maxDups = 64

// Announcer keeps the announcement routes in router_netns, in each
// direction's table, through every exception interface of that direction
// (the manual: "for all TAP devices of the allowed direction"), with
// metric router_subs_metrics. With one interface a prefix is one device
// route. With several, an IPv4 prefix is one multipath route with a
// nexthop per interface (the routing daemon learns one route that names
// them all); the kernel has no multipath device-only IPv6 routes, so an
// IPv6 prefix is one route per interface, all with the same metric.
//
// Concurrency: every method takes mu; Netns, Tables and Devs are set
// before the first call and never change.
type Announcer struct {
	Netns   string
	Tables  map[Dir]uint32   // announcement table per direction
	Metric  uint32           // under mu
	Devs    map[Dir][]string // exception interfaces (rib peers) per direction, in configuration order
	mu      sync.Mutex
	current map[netip.Prefix]Dir
}

// New returns an announcer; nothing is installed until Set.
func New(ns string, tables map[Dir]uint32, metric uint32, devs map[Dir][]string) *Announcer {
	return &Announcer{Netns: ns, Tables: tables, Metric: metric, Devs: devs, current: map[netip.Prefix]Dir{}}
}

func (a *Announcer) handle() (*netlink.Handle, error) {
	if a.Netns == "" {
		return netlink.NewHandle()
	}
	ns, err := netns.GetFromName(a.Netns)
	if err != nil {
		return nil, fmt.Errorf("netns %s: %w", a.Netns, err)
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns)
}

// links resolves the exception interfaces of d; a missing one is an error
// while the others still serve.
func (a *Announcer) links(h *netlink.Handle, d Dir) ([]int, error) {
	devs := a.Devs[d]
	if len(devs) == 0 {
		return nil, fmt.Errorf("no router_device faces %s", d)
	}
	var idx []int
	var errs []error
	for _, dev := range devs {
		l, err := h.LinkByName(dev)
		if err != nil {
			errs = append(errs, fmt.Errorf("exception interface %s: %w", dev, err))
			continue
		}
		idx = append(idx, l.Attrs().Index)
	}
	return idx, errors.Join(errs...)
}

// routes are the kernel routes that announce p towards d with metric m
// through the interfaces idx.
func (a *Announcer) routes(p netip.Prefix, d Dir, m uint32, idx []int) []*netlink.Route {
	base := func() *netlink.Route {
		return &netlink.Route{
			Dst:   &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
			Table: int(a.Tables[d]), Protocol: rtnl.ProtoFibd, Priority: int(m), Scope: unix.RT_SCOPE_LINK,
		}
	}
	switch {
	case len(idx) == 0:
		return nil
	case len(idx) == 1 || p.Addr().Is6():
		out := make([]*netlink.Route, len(idx))
		for i, ix := range idx {
			out[i] = base()
			out[i].LinkIndex = ix
		}
		return out
	}
	r := base()
	r.Scope = unix.RT_SCOPE_UNIVERSE // a multipath route takes no link scope
	for _, ix := range idx {
		r.MultiPath = append(r.MultiPath, &netlink.NexthopInfo{LinkIndex: ix})
	}
	return []*netlink.Route{r}
}

// routeReplace, routeAppend and routeDel write a route and record the
// request with the kernel's answer (router_rtnl_pcap).
func routeReplace(h *netlink.Handle, r *netlink.Route) error {
	err := h.RouteReplace(r)
	rtnlpcap.RouteRequest(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, r, err)
	return err
}

func routeAppend(h *netlink.Handle, r *netlink.Route) error {
	err := h.RouteAppend(r)
	rtnlpcap.RouteRequest(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_APPEND, r, err)
	return err
}

func routeDel(h *netlink.Handle, r *netlink.Route) error {
	err := h.RouteDel(r)
	rtnlpcap.RouteRequest(unix.RTM_DELROUTE, 0, r, err)
	return err
}

// install adds rs: a prefix through one route per table and metric is
// replaced whole (IPv4 multipath included); IPv6 routes through several
// interfaces are appended one by one (the kernel keeps each; a replace
// would take the place of whichever came first), an existing one being
// fine.
func install(h *netlink.Handle, rs []*netlink.Route) error {
	if len(rs) == 1 {
		return routeReplace(h, rs[0])
	}
	var errs []error
	for _, r := range rs {
		if err := routeAppend(h, r); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// withdraw removes every announcement route of p in table, whatever its
// metric or interfaces.
func withdraw(h *netlink.Handle, p netip.Prefix, table uint32) error {
	for range maxDups {
		r := &netlink.Route{Dst: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
			Table: int(table), Protocol: rtnl.ProtoFibd, Scope: unix.RT_SCOPE_NOWHERE} // any scope, metric, interface
		if err := routeDel(h, r); err != nil {
			if errors.Is(err, unix.ESRCH) {
				return nil
			}
			return err
		}
	}
	return nil
}

// Set announces p in dirs (0 withdraws it).
func (a *Announcer) Set(p netip.Prefix, dirs Dir) error {
	p = p.Masked()
	a.mu.Lock()
	defer a.mu.Unlock()
	h, err := a.handle()
	if err != nil {
		return err
	}
	defer h.Close()
	var errs []error
	for _, d := range []Dir{DirSubs, DirInet} {
		switch {
		case dirs&d != 0:
			idx, err := a.links(h, d)
			if err != nil {
				errs = append(errs, err)
			}
			rs := a.routes(p, d, a.Metric, idx)
			if len(rs) == 0 {
				continue
			}
			if err := install(h, rs); err != nil {
				errs = append(errs, fmt.Errorf("announce %s to %s: %w", p, d, err))
			}
		case a.current[p]&d != 0:
			if err := withdraw(h, p, a.Tables[d]); err != nil {
				errs = append(errs, fmt.Errorf("withdraw %s from %s: %w", p, d, err))
			}
		}
	}
	if dirs == 0 {
		delete(a.current, p)
	} else {
		a.current[p] = dirs
	}
	return errors.Join(errs...)
}

// SetMetric changes router_subs_metrics: every announcement is made again
// with the new metric (before the old one goes, so that the routing
// daemon never sees the prefix withdrawn), and later ones use it.
func (a *Announcer) SetMetric(m uint32) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.Metric
	if m == old {
		return nil
	}
	a.Metric = m
	if len(a.current) == 0 {
		return nil
	}
	h, err := a.handle()
	if err != nil {
		return err
	}
	defer h.Close()
	var errs []error
	for _, d := range []Dir{DirSubs, DirInet} {
		idx, err := a.links(h, d)
		for p, dirs := range a.current {
			if dirs&d == 0 {
				continue
			}
			if err != nil {
				errs = append(errs, err)
			}
			if err := install(h, a.routes(p, d, m, idx)); err != nil {
				errs = append(errs, fmt.Errorf("announce %s to %s with metric %d: %w", p, d, m, err))
				continue
			}
			for _, r := range a.routes(p, d, old, idx) {
				r.MultiPath = nil // a delete matches by table, prefix, protocol, metric (and interface when one is given)
				r.Scope = unix.RT_SCOPE_NOWHERE
				if err := routeDel(h, r); err != nil && !errors.Is(err, unix.ESRCH) {
					errs = append(errs, fmt.Errorf("withdraw %s from %s with metric %d: %w", p, d, old, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// nexthops lists the interfaces of a kernel route, sorted.
func nexthops(r *netlink.Route) []int {
	var out []int
	if r.LinkIndex != 0 {
		out = append(out, r.LinkIndex)
	}
	for _, nh := range r.MultiPath {
		out = append(out, nh.LinkIndex)
	}
	slices.Sort(out)
	return out
}

// Sweep removes the announcement routes (protocol 252, any table) that
// are not wanted now: those an earlier run left behind when it crashed,
// or that carry another table, metric or interface than Set would give
// them. fibd calls it at start, before announcing anything. It returns
// how many it removed.
func (a *Announcer) Sweep() (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	h, err := a.handle()
	if err != nil {
		return 0, err
	}
	defer h.Close()
	rs, err := h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Protocol: rtnl.ProtoFibd, Table: unix.RT_TABLE_UNSPEC},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return 0, fmt.Errorf("list announcements: %w", err)
	}
	idx := map[Dir][]int{}
	for _, d := range []Dir{DirSubs, DirInet} {
		idx[d], _ = a.links(h, d)
	}
	wanted := func(r *netlink.Route) bool {
		v6 := r.Family == netlink.FAMILY_V6
		p, ok := rtnl.Prefix(r.Dst, v6)
		if !ok {
			return false
		}
		got := nexthops(r)
		for _, d := range []Dir{DirSubs, DirInet} {
			if a.current[p]&d == 0 {
				continue
			}
			for _, w := range a.routes(p, d, a.Metric, idx[d]) {
				if w.Table == r.Table && w.Priority == r.Priority && slices.Equal(nexthops(w), got) {
					return true
				}
			}
		}
		return false
	}
	n := 0
	var errs []error
	for i := range rs {
		r := &rs[i]
		if wanted(r) {
			continue
		}
		if len(r.MultiPath) > 0 {
			r.MultiPath = nil // deleted by table, prefix, protocol and metric
		}
		if err := routeDel(h, r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("remove stale announcement %s table %d: %w", r.Dst, r.Table, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// Announced lists what is announced, by prefix.
func (a *Announcer) Announced() map[netip.Prefix]Dir {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[netip.Prefix]Dir, len(a.current))
	for p, d := range a.current {
		out[p] = d
	}
	return out
}

// WithdrawAll removes every announcement (shutdown).
func (a *Announcer) WithdrawAll() error {
	var errs []error
	for p := range a.Announced() {
		if err := a.Set(p, 0); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
