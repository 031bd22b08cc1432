package router

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ProtoFibd is the rtm_protocol of the routes fibd installs in
// router_netns to announce subscribers and NAT pools. The mirror skips
// them (they are announcements, not forwarding state); the routing daemon
// learns them (BIRD 2: a kernel protocol with `learn` and `import where
// krt_source = 252`, one per direction's table; see README).
const ProtoFibd = 252

// Dir is an announcement direction.
type Dir uint8

const (
	DirSubs Dir = 1 << iota // towards subscribers (in_dev side)
	DirInet                 // towards the internet (out_dev side)
)

func (d Dir) String() string {
	switch d {
	case DirSubs:
		return "subs"
	case DirInet:
		return "inet"
	case DirSubs | DirInet:
		return "subs,inet"
	}
	return "none"
}

// Announcer keeps the announcement routes in router_netns: one route per
// prefix and direction, in that direction's table, pointing at the
// exception interface of that direction, with metric router_subs_metrics.
type Announcer struct {
	Netns   string
	Tables  map[Dir]uint32 // announcement table per direction
	Metric  uint32
	Devs    map[Dir]string // exception interface (rib peer) per direction
	mu      sync.Mutex
	current map[netip.Prefix]Dir
}

// NewAnnouncer returns an announcer; nothing is installed until Set.
func NewAnnouncer(ns string, tables map[Dir]uint32, metric uint32, devs map[Dir]string) *Announcer {
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

func (a *Announcer) route(h *netlink.Handle, p netip.Prefix, d Dir) (*netlink.Route, error) {
	dev, ok := a.Devs[d]
	if !ok {
		return nil, fmt.Errorf("no router_device faces %s", d)
	}
	l, err := h.LinkByName(dev)
	if err != nil {
		return nil, fmt.Errorf("exception interface %s: %w", dev, err)
	}
	return &netlink.Route{
		LinkIndex: l.Attrs().Index, Dst: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
		Table: int(a.Tables[d]), Protocol: ProtoFibd, Priority: int(a.Metric), Scope: unix.RT_SCOPE_LINK,
	}, nil
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
		r, err := a.route(h, p, d)
		switch {
		case dirs&d != 0 && err != nil:
			errs = append(errs, err)
		case dirs&d != 0:
			err := h.RouteReplace(r)
			recordRouteRequest(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, r, err) // router_rtnl_pcap
			if err != nil {
				errs = append(errs, fmt.Errorf("announce %s to %s: %w", p, d, err))
			}
		case a.current[p]&d != 0 && err == nil:
			r.Priority = 0 // whatever metric it was announced with
			err := h.RouteDel(r)
			recordRouteRequest(unix.RTM_DELROUTE, 0, r, err) // router_rtnl_pcap
			if err != nil && !errors.Is(err, unix.ESRCH) {
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
	for p, dirs := range a.current {
		for _, d := range []Dir{DirSubs, DirInet} {
			if dirs&d == 0 {
				continue
			}
			r, err := a.route(h, p, d)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if err := h.RouteReplace(r); err != nil {
				errs = append(errs, fmt.Errorf("announce %s to %s with metric %d: %w", p, d, m, err))
				continue
			}
			r.Priority = int(old)
			if err := h.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("withdraw %s from %s with metric %d: %w", p, d, old, err))
			}
		}
	}
	return errors.Join(errs...)
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
	rs, err := h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Protocol: ProtoFibd, Table: unix.RT_TABLE_UNSPEC},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return 0, fmt.Errorf("list announcements: %w", err)
	}
	wanted := func(r *netlink.Route) bool {
		v6 := r.Family == netlink.FAMILY_V6
		p, ok := prefixOf(r.Dst, v6)
		if !ok {
			return false
		}
		for _, d := range []Dir{DirSubs, DirInet} {
			if a.current[p]&d == 0 {
				continue
			}
			w, err := a.route(h, p, d)
			if err == nil && w.Table == r.Table && w.Priority == r.Priority && w.LinkIndex == r.LinkIndex {
				return true
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
		if err := h.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) {
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

// Subscriber is one announce request (fdpi_cli router announce add).
type Subscriber struct {
	Prefix   netip.Prefix
	Dir      Dir  // 0: as router_subs_announce says
	Override int  // -1 unset; 0 never; 1 always (VasExperts-Route-Announce)
	Rejected bool // authorisation rejected
	NAT      bool // the subscriber is behind NAT (not announced to inet)
	Pool     bool // a NAT pool
}

// Policy is the manual's announcement configuration.
type Policy struct {
	Bits             uint8 // router_subs_announce: 1 subs, 2 inet, 4 NAT pools to inet, 8 gateways
	AnnounceRejected bool  // auth_announce_reject
}

// Dirs decides where s is announced, as the manual's algorithm says.
func (pol Policy) Dirs(s Subscriber) Dir {
	if s.Pool {
		if pol.Bits&4 != 0 {
			return DirInet
		}
		return 0
	}
	switch {
	case s.Override == 0:
		return 0
	case s.Override == 1:
	case s.Rejected && !pol.AnnounceRejected:
		return 0
	}
	var d Dir
	if pol.Bits&1 != 0 {
		d |= DirSubs
	}
	if pol.Bits&2 != 0 && !s.NAT {
		d |= DirInet
	}
	if s.Dir != 0 {
		d &= s.Dir
		if s.Override == 1 {
			d = s.Dir // an explicit request overrides the bits
		}
	}
	return d
}
