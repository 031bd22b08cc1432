package main

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	dpdk "fibd/cgo"
	"fibd/conf"
	"fibd/kni"
	"fibd/ports"
	"fibd/router"
)

// query is how the control server's commands, the metrics and the
// counter report read fibd's state, and how the commands that act reach
// the daemon. They see nothing else of it.
//
// Concurrency: every method may be called from any goroutine from the
// start of the control component until the end of its Stop (the control
// server, the metrics and the SIGHUP handler come after every component
// they read in the list, so they run only while those exist); the report
// calls Report from the main goroutine after the workers stopped. Each
// method follows one rule and says which:
//
//   - set once at start, read freely: Ports, Device, KernelTable, Mode;
//   - an immutable snapshot replaced by reloads: Config;
//   - counters read with atomic loads (DPDK's, the router's, lpm's):
//     FIBSummary, Report; Mirror too, but its nexthop-object and refused-
//     table counts take the router's lock, so it waits while the router
//     goroutine holds it (a full-view resync or reconcile: about a
//     second); the exception interfaces' under kni's lock: Exceptions;
//   - lpm's table set, an atomic pointer to an immutable map: HasTable,
//     Lookup (the fast path's own lookup, lock-free);
//   - the FIB writer's state, lent only inside WithState under the
//     writer's lock (the router's, or d.mu with --static): f copies what it
//     needs and returns, and never waits for a client;
//   - the router's own snapshots, under its lock (Rules, Nexthops,
//     InterfaceID); the announcer's under its own (Announced, Announce).
//
// The actions (Reload, Refresh, ResetStats, Announce, AnnounceFor) take
// d.mu where they change what it guards.
type query struct{ d *daemon }

// query returns the daemon's query interface.
func (d *daemon) query() *query { return &query{d} }

// Config is the running configuration (hot changes included).
func (q *query) Config() *conf.Config { return q.d.config() }

// Mode is "router" (the netlink mirror) or "static".
func (q *query) Mode() string {
	if q.d.router != nil {
		return "router"
	}
	return "static"
}

// KernelTable is the table whose routes feed FIB slot 0.
func (q *query) KernelTable() uint32 { return q.d.kernelTable() }

// Uptime is how long the workers have been forwarding.
func (q *query) Uptime() time.Duration { return time.Since(q.d.started) }

// Ports are the ports, in port order. The slice is fixed after start;
// each port's counters and link are read through the port.
func (q *query) Ports() []*ports.Port { return q.d.ports.Ports }

// Device names a port by its device (in_dev/out_dev).
func (q *query) Device(p dpdk.PortID) string {
	for _, x := range q.d.ports.Ports {
		if x.ID == p {
			return x.Dev.Name
		}
	}
	return fmt.Sprintf("port%d", p)
}

// HasTable tells whether the FIB has a table for kernel table t.
func (q *query) HasTable(t uint32) bool {
	_, ok := q.d.fib.Tables()[t]
	return ok
}

// tableSlot is the fast path's slot of kernel table t.
func (q *query) tableSlot(t uint32) (uint16, bool) {
	tb, ok := q.d.fib.Tables()[t]
	if !ok {
		return 0, false
	}
	return tb.Slot, true
}

// Lookup is what the fast path's table for kernel table t answers for a
// (a nexthop index, dpdk.NexthopMiss for none).
func (q *query) Lookup(t uint32, a netip.Addr) (uint32, error) {
	tb, ok := q.d.fib.Tables()[t]
	if !ok {
		return 0, fmt.Errorf("%w: %d", errNoTable, t)
	}
	return q.d.fib.Lookup(tb, a), nil
}

// fibSummary counts what the FIB holds, all tables together.
type fibSummary struct {
	Routes4, Routes6, Rebuilds, Refused uint64
	Nexthops                            int
}

// FIBSummary reads the FIB's counters.
func (q *query) FIBSummary() fibSummary {
	f := q.d.fib
	s := fibSummary{Nexthops: f.NH.Live(), Refused: f.Refused.Load()}
	for _, t := range f.Tables() {
		if i, err := f.Info(t); err == nil {
			s.Routes4 += i.Routes4
			s.Routes6 += i.Routes6
			s.Rebuilds += i.Rebuilds
		}
	}
	return s
}

// mirror is the state of the netlink mirror (router=1).
type mirror struct {
	Connected                                   bool
	Events, Batches, Resyncs, Overruns          uint64
	NeighRefused, NeighProbes, NeighConfirms    uint64
	Reconciles, Repaired, Flushed, Replaced     uint64
	Forged                                      uint64
	NexthopObjects                              int
	NexthopRewrites, RouteWrites, TablesRefused uint64
	TablesFreed                                 uint64
	TablesRefusedText                           string // "id: why; …"
}

// Mirror reads the router's counters; ok is false without router=1.
func (q *query) Mirror() (m mirror, ok bool) {
	r := q.d.router
	if r == nil {
		return m, false
	}
	s := &r.Stats
	m = mirror{Connected: s.Connected.Load(),
		Events: s.Events.Load(), Batches: s.Batches.Load(), Resyncs: s.Resyncs.Load(), Overruns: s.Overruns.Load(),
		NeighRefused: s.NeighRefused.Load(), NeighProbes: s.NeighProbes.Load(), NeighConfirms: s.NeighConfirms.Load(),
		Reconciles: s.Reconciles.Load(), Repaired: s.Repaired.Load(), Flushed: s.Flushed.Load(), Replaced: s.NetnsReplaced.Load(),
		Forged: s.Forged.Load(), TablesFreed: s.TablesFreed.Load(),
		NexthopObjects: r.NexthopObjects(), TablesRefused: r.TablesRefused(), TablesRefusedText: r.RefusedTablesText()}
	m.NexthopRewrites, m.RouteWrites = r.NexthopRewrites()
	return m, true
}

// WithState runs f on the FIB writer's state, whichever mode fibd runs
// in. The writer waits while f runs: f copies what it needs and returns,
// and never writes to a client (see cmdRIBShow).
func (q *query) WithState(f func(p *router.Programmer, rib *router.RIB)) error {
	return q.d.withState(f)
}

// Rules is the router netns's ip rules as the fast path follows them.
func (q *query) Rules() (router.RulePlan, error) {
	if q.d.router == nil {
		return router.RulePlan{}, errors.New("ip rules are mirrored with router=1")
	}
	return q.d.router.Rules(), nil
}

// InterfaceID is the fast path's id of an interface of router_netns.
func (q *query) InterfaceID(name string) (dpdk.PortID, bool, error) {
	if q.d.router == nil {
		return 0, false, errors.New("iif= needs router=1 (ip rules)")
	}
	id, ok := q.d.router.InterfaceID(name)
	return id, ok, nil
}

// Nexthops lists the kernel nexthop objects the router mirrors.
func (q *query) Nexthops() ([]router.NexthopView, error) {
	if q.d.router == nil {
		return nil, errors.New("nexthop objects need router=1")
	}
	return q.d.router.Nexthops(), nil
}

// Exceptions reads the exception interfaces' counters (none without
// router=1).
func (q *query) Exceptions() []kni.Stats {
	if q.d.exc == nil {
		return nil
	}
	return q.d.exc.Stats()
}

// Announced is what is announced into router_netns, and in which
// directions.
func (q *query) Announced() (map[netip.Prefix]router.Dir, error) {
	if q.d.announcer == nil {
		return nil, errors.New("announcements need router=1")
	}
	return q.d.announcer.Announced(), nil
}

// ribShowSlot takes one of the control server's ctlRIBShows slots for a
// rib show snapshot (each costs ~40 bytes a route); release gives it back.
func (q *query) ribShowSlot() (release func(), err error) {
	select {
	case q.d.ribShows <- struct{}{}:
		return func() { <-q.d.ribShows }, nil
	default:
		return nil, fmt.Errorf("busy: %d rib shows already running; try again", cap(q.d.ribShows))
	}
}

// Reload re-reads the configuration (see daemon.reload).
func (q *query) Reload() ([]string, error) { return q.d.reload() }

// Refresh resynchronises the FIB: with the kernel (router=1), or from the
// static file again. It returns the source: "kernel" or the file.
func (q *query) Refresh() (string, error) {
	d := q.d
	if d.router != nil {
		d.router.RequestResync()
		return "kernel", nil
	}
	if d.opt.static == "" {
		return "", errors.New("nothing to refresh from")
	}
	st, err := d.loadStatic()
	if err != nil {
		return "", err
	}
	return d.opt.static, d.program(st)
}

// ResetStats zeroes the counters of the ports and the workers.
func (q *query) ResetStats() (nports, nworkers int, err error) {
	dpdk.ResetWorkerStats()
	for _, p := range q.d.ports.Ports {
		if err := p.ID.ResetStats(); err != nil {
			return 0, 0, err
		}
	}
	return len(q.d.ports.Ports), dpdk.WorkerCount(), nil
}

// Announce announces p in dirs (0: withdraws it).
func (q *query) Announce(p netip.Prefix, dirs router.Dir) error {
	if q.d.announcer == nil {
		return errors.New("announcements need router=1 (a router netns to announce into)")
	}
	return q.d.announcer.Set(p, dirs)
}

// AnnounceFor announces a subscriber where the running policy says
// (router_subs_announce, auth_announce_reject), and returns the policy.
func (q *query) AnnounceFor(s router.Subscriber) (router.Dir, router.Policy, error) {
	q.d.mu.Lock()
	pol := q.d.policy
	q.d.mu.Unlock()
	dirs := pol.Dirs(s)
	return dirs, pol, q.Announce(s.Prefix, dirs)
}
