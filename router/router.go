package router

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"fibd/lpm"
	"fibd/router/kernel"
	"fibd/router/rib"
)

// Config of the router goroutine.
type Config struct {
	Netns        string        // router_netns
	KernelTable  uint32        // router_kernel_table: feeds FIB slot 0 and holds connected/local routes
	Tables       []uint32      // further kernel tables to mirror
	Punts        []Punt        // router_device subnets (in KernelTable)
	ARPCacheSize int           // router_arp_cache_size, per family
	Refresh      time.Duration // router_fib_refresh: longest a change may wait; also the netns retry period
	RcvBuf       int           // netlink receive buffer per subscription (default 64 MiB)
	BindCore     int           // router_bind_core: CPU for the router thread, -1 = any
	SchedAddPrio int           // router_sched_add_prio: the thread's nice value is lowered by this
}

// Stats are the router's counters (read from any goroutine).
type Stats struct {
	Events        atomic.Uint64 // netlink notifications applied
	Batches       atomic.Uint64 // FIB updates applied
	Resyncs       atomic.Uint64 // dumps followed by mark-and-sweep
	TablesFreed   atomic.Uint64 // FIB tables freed when no rule named their kernel table any more
	Overruns      atomic.Uint64 // subscription failures (ENOBUFS, closed socket)
	NeighRefused  atomic.Uint64 // neighbours beyond router_arp_cache_size
	NeighProbes   atomic.Uint64 // resolutions asked of the kernel
	NeighConfirms atomic.Uint64 // stale neighbours in use handed to the kernel to confirm
	NetnsMissing  atomic.Uint64 // waits for router_netns to appear
	NetnsReplaced atomic.Uint64 // router_netns deleted and made again: mirrored anew
	Refreshes     atomic.Uint64 // router_fib_refresh periods
	Reconciles    atomic.Uint64 // comparisons of the whole RIB with the FIB (router_fib_refresh)
	Repaired      atomic.Uint64 // FIB changes router_fib_refresh had to make
	Redumps       atomic.Uint64 // route re-dumps after a link went down or up, or an IPv4 address went
	Flushed       atomic.Uint64 // routes the kernel removed without a notification, removed too
	Forged        atomic.Uint64 // notifications from a sender other than the kernel, dropped
	LastChangeLag atomic.Int64  // ns from dequeue to FIB applied, last batch
	Connected     atomic.Bool   // mirroring the netns right now
}

// Router mirrors router_netns into the FIB. Run owns the RIB and the
// programmer: it is the FIB's single writer.
//
// Concurrency: the goroutine of Run writes everything here. Others read
// the RIB, the programmer, the rules and the interfaces only under mu,
// through Do, Rules and InterfaceID, and only for as long as a copy takes
// (a client that reads slowly gets a copy, never the lock: RIB.Snapshot);
// Stats and the refresh period are atomics; the FIB's own rules are in
// lpm.FIB.
type Router struct {
	cfg      Config
	log      zerolog.Logger
	ports    *ifaces // fibd's ports and the VLAN and macvlan interfaces of their exception interfaces
	vlans    map[int]VLAN
	macvlans map[int]Macvlan
	rules    RulePlan // the netns's ip rules, as the fast path follows them
	// rulesWait lists the tables the published rules name but could not
	// use yet (no route, so no FIB slot): they are published again when
	// one of them has its slot.
	rulesWait []uint32
	rib       *RIB
	nh        *rib.NhObjs // the netns's nexthop objects, and the routes naming them
	prog      *Programmer
	k         *kernel.Kernel
	links     Links
	// linkUp is IFF_UP per ifindex, to see an interface go down or up.
	linkUp map[int]bool
	// redumpWanted, per family (0 IPv4, 1 IPv6): an event that makes the
	// kernel remove or revive routes without a notification was applied;
	// redump follows. Router goroutine only, as linkUp.
	redumpWanted [2]bool
	redumpDue    [2]bool
	want         map[uint32]bool // the mirrored tables, for applyRaw
	// sinceFull counts router_fib_refresh periods since the last full
	// reconcile. Router goroutine only.
	sinceFull int
	// ifindex per port (the rib interface), for neighbour probes.
	portIf map[uint16]int
	// confirmations asked in the current one-second window (confirm).
	// Router goroutine only.
	confirmWindow    time.Time
	confirmsInWindow int
	// mu is held while the RIB or the programmer change, so that Do can
	// look at them from another goroutine.
	mu        sync.Mutex
	ready     chan struct{} // closed after the first resync
	readyOnce sync.Once
	resyncReq chan struct{}
	refresh   atomic.Int64 // router_fib_refresh (hot), ns
	// trim returns the memory a large change freed (settleMemory); the
	// router goroutine resets it, the timer's goroutine runs it.
	trim *time.Timer

	Stats Stats
}

// New returns a router over fib; nothing runs until Run.
func New(log zerolog.Logger, cfg Config, ports Ports, fib *lpm.FIB) *Router {
	if cfg.RcvBuf == 0 {
		cfg.RcvBuf = 64 << 20
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 15 * time.Second
	}
	tables := append([]uint32{cfg.KernelTable}, cfg.Tables...)
	ifs := newIfaces(ports)
	r := &Router{
		cfg:       cfg,
		log:       log.With().Str("component", "router").Str("netns", cfg.Netns).Logger(),
		ports:     ifs,
		vlans:     map[int]VLAN{},
		macvlans:  map[int]Macvlan{},
		rib:       newRIB(ifs, cfg, 0, 0),
		nh:        rib.NewNhObjs(),
		prog:      NewProgrammer(log, fib),
		k:         &kernel.Kernel{Netns: cfg.Netns, Tables: tables, RcvBuf: cfg.RcvBuf},
		portIf:    map[uint16]int{},
		linkUp:    map[int]bool{},
		ready:     make(chan struct{}),
		resyncReq: make(chan struct{}, 1),
	}
	r.k.Forged = &r.Stats.Forged
	r.prog.SetResolve(ifs.Resolve)
	r.refresh.Store(int64(cfg.Refresh))
	return r
}

// SetRefresh changes router_fib_refresh (a hot parameter).
func (r *Router) SetRefresh(d time.Duration) {
	if d > 0 {
		r.refresh.Store(int64(d))
	}
}

func (r *Router) refreshEvery() time.Duration { return time.Duration(r.refresh.Load()) }

// RequestResync asks for a full dump and mark-and-sweep (operator command).
func (r *Router) RequestResync() {
	select {
	case r.resyncReq <- struct{}{}:
	default:
	}
}

// Ready is closed once the FIB first mirrors the kernel.
func (r *Router) Ready() <-chan struct{} { return r.ready }

// Do runs f with the router's programmer while no change is being applied
// (tests, CLI). f must not keep what it reads nor wait for anything (a
// client, a channel): the router is stopped while it runs.
func (r *Router) Do(f func(p *Programmer, rib *RIB)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.prog, r.rib)
}

// Run mirrors until ctx ends. A missing or vanished netns, a dead routing
// daemon or a netlink overrun never empties the FIB: forwarding goes on
// with the last state while Run waits, retries and resynchronises.
func (r *Router) Run(ctx context.Context) error {
	// The thread is pinned and prioritised as configured. It is never
	// unlocked: it ends with Run instead of going back to the Go scheduler
	// with the router's affinity and nice value.
	runtime.LockOSThread()
	defer r.pinThread(ctx)() // Run returns once nothing it started runs
	missingLogged := false
	for ctx.Err() == nil {
		err := r.k.Open()
		if errors.Is(err, kernel.ErrNoNetns) {
			r.Stats.NetnsMissing.Add(1)
			if !missingLogged {
				r.log.Warn().Err(err).Msg("waiting for the router netns; the FIB keeps its last state")
				missingLogged = true
			}
			sleep(ctx, min(r.refreshEvery(), time.Second))
			continue
		}
		if err != nil {
			r.log.Error().Err(err).Msg("cannot mirror the router netns; retrying")
			sleep(ctx, time.Second)
			continue
		}
		missingLogged = false
		err = r.mirror(ctx)
		r.k.Close()
		r.Stats.Connected.Store(false)
		if err != nil && ctx.Err() == nil {
			r.log.Warn().Err(err).Msg("netlink mirror interrupted; resynchronising")
		}
	}
	return nil
}

// mirror dumps, resyncs, then applies events until a subscription fails.
func (r *Router) mirror(ctx context.Context) error {
	if err := r.resync(); err != nil {
		return err
	}
	if err := r.followRules(); err != nil {
		return err
	}
	r.Stats.Connected.Store(true)
	r.readyOnce.Do(func() { close(r.ready) })
	tick := time.NewTicker(min(r.refreshEvery(), time.Second))
	defer tick.Stop()
	redump := time.NewTimer(time.Hour)
	redump.Stop()
	defer redump.Stop()
	lastSync := time.Now()
	for {
		if r.redumpWanted != [2]bool{} {
			// The kernel sends the link's RTM_NEWLINK before it flushes
			// the routes (and the address's RTM_DELADDR with the flush
			// under way): the dump waits for the burst to settle.
			for i, w := range r.redumpWanted {
				r.redumpDue[i] = r.redumpDue[i] || w
			}
			r.redumpWanted = [2]bool{}
			redump.Reset(redumpDelay)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.k.Signal():
		case <-redump.C:
			if err := r.redump(); err != nil {
				return err
			}
			continue
		case <-r.resyncReq:
			if err := r.resync(); err != nil {
				return err
			}
			continue
		case <-r.k.RulesChanged():
			if err := r.followRules(); err != nil {
				return err
			}
			continue
		case <-tick.C:
			if err := r.k.Alive(); err != nil {
				if errors.Is(err, kernel.ErrNetnsReplaced) {
					r.Stats.NetnsReplaced.Add(1)
				}
				return err
			}
			r.probeUnresolved()
			if err := r.followRules(); err != nil {
				return err
			}
			if time.Since(lastSync) >= r.refreshEvery() {
				// router_fib_refresh: the whole RIB against the FIB.
				r.reconcile()
				lastSync = time.Now()
			}
			continue
		}
		if err := r.batch(); err != nil {
			return err
		}
	}
}

// redumpDelay is how long a re-dump waits after the event that
// asked for it (further events push it back).
const redumpDelay = 50 * time.Millisecond

// redump reads the routes of the mirrored tables again, of the families
// due, and makes the RIB's equal to them: IPv4 sends no RTM_DELROUTE for
// the routes it flushes when their interface goes down, nor for those it
// drops with an address (a gateway no longer on a connected subnet); both
// families mark multipath paths dead, or alive again, in silence. The
// events queued before the dump are applied first; those queued during it
// are applied after, as for a resync.
func (r *Router) redump() error {
	if err := r.batch(); err != nil {
		return err
	}
	due := r.redumpDue
	r.redumpDue = [2]bool{}
	// Nexthop objects first: the kernel removes those of an interface
	// going down, and shrinks the groups holding them, in silence.
	objs, err := r.k.DumpNexthops()
	if err != nil {
		return err
	}
	r.mu.Lock()
	if changed := r.nh.Replace(objs); len(changed) > 0 {
		r.objectsChanged(changed)
		r.log.Info().Int("objects", len(changed)).Msg("nexthop objects the kernel changed without a notification")
		// Programmed now, not after the route dump (a second on a full
		// view): the objects' routes follow with their nexthops' rewrite.
		if err := r.flush(); err != nil {
			r.log.Error().Err(err).Msg("FIB update")
		}
	}
	r.mu.Unlock()
	for fam, v6 := range []bool{false, true} {
		if !due[fam] {
			continue
		}
		routes, err := r.k.DumpRoutesOf(v6, r.links) // r.links changes on this goroutine only
		if err != nil {
			return err
		}
		r.mu.Lock()
		for i := range routes {
			rt := &routes[i]
			r.nh.Use(rib.RouteKey(rt.Table, rt.Prefix.Masked(), rt.Metric), rt.NhID)
			r.nh.Expand(rt, r.links)
		}
		removed, changed := r.rib.SyncRoutes(v6, r.k.Tables, routes)
		r.mu.Unlock()
		r.Stats.Redumps.Add(1)
		r.Stats.Flushed.Add(uint64(removed))
		if removed+changed > 0 {
			r.log.Info().Bool("ipv6", v6).Int("removed", removed).Int("changed", changed).
				Msg("routes the kernel changed without a notification")
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.flush(); err != nil {
		r.log.Error().Err(err).Msg("FIB update")
	}
	r.rulesAfterProgram()
	return nil
}

// rulesAfterProgram publishes the rules again when a table they name got
// its first routes (and so its FIB slot). r.mu is held.
func (r *Router) rulesAfterProgram() {
	tables := r.prog.FIB().Tables()
	if slices.ContainsFunc(r.rulesWait, func(t uint32) bool { return tables[t] != nil }) {
		r.pushRules()
	}
}

// dropTables frees the FIB tables of kernel tables no longer mirrored (an
// ip rule went). After a resync, whose mark-and-sweep deleted their
// routes; what cannot be freed yet is tried again every
// router_fib_refresh. r.mu is held.
func (r *Router) dropTables() {
	n, err := r.prog.DropTables(func(id uint32) bool { return slices.Contains(r.k.Tables, id) })
	r.Stats.TablesFreed.Add(uint64(n))
	if err != nil {
		r.log.Warn().Err(err).Msg("FIB table kept for now; tried again every router_fib_refresh")
	}
}

// followRules applies a change of the ip rules; a new table to mirror
// means a resync, which dumps its routes.
func (r *Router) followRules() error {
	tablesChanged, err := r.syncRules()
	if err != nil || !tablesChanged {
		return err
	}
	return r.resync()
}

// fullReconcileEvery: the whole RIB is compared with the FIB at least
// every this many router_fib_refresh periods, whatever the checks say.
const fullReconcileEvery = 10

// reconcile is router_fib_refresh's work. Each period it retries what a
// full table refused and checks each table's route counts against what
// was written to it; it compares the whole RIB with what the FIB holds,
// every table, and writes what differs, when anything suggests a
// difference (a failed batch or nexthop, a refused table made at last, a
// count that disagrees) and in any case every fullReconcileEvery periods: on a full
// view the comparison takes about a second of the router goroutine. What
// it had to change is counted (Stats.Repaired).
func (r *Router) reconcile() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Stats.Refreshes.Add(1)
	r.dropTables() // what a stalled worker kept before
	r.sinceFull++
	pending := r.prog.Pending()
	var ss SyncStats
	var err error
	switch {
	case r.sinceFull >= fullReconcileEvery || r.prog.NeedsReconcile():
		ss, err = r.prog.Reconcile(r.rib.Len(), r.rib.Each)
		r.sinceFull = 0
		r.Stats.Reconciles.Add(1)
	case pending > 0:
		ss, err = r.prog.Retry()
	default:
		return
	}
	if err != nil {
		r.log.Error().Err(err).Msg("reconciling the FIB with the RIB")
	}
	r.rulesAfterProgram()
	n := ss.Added + ss.Replaced + ss.Deleted
	if n == 0 && pending == 0 {
		return
	}
	r.Stats.Repaired.Add(uint64(n))
	lvl := zerolog.WarnLevel
	if n == 0 { // only what a full table refuses again
		lvl = zerolog.DebugLevel
	}
	r.log.WithLevel(lvl).Int("repaired", n).Int("added", ss.Added).Int("replaced", ss.Replaced).Int("deleted", ss.Deleted).
		Int("were_pending", pending).Int("still_refused", r.prog.Pending()).
		Msg("FIB reconciled with the RIB")
}

// RefusedTablesText describes the refused tables in one line ("id: why;
// …"), in table order; "" when there are none.
func (r *Router) RefusedTablesText() string {
	refused := r.RefusedTables()
	var out []string
	for _, id := range slices.Sorted(maps.Keys(refused)) {
		out = append(out, fmt.Sprintf("%d: %v", id, refused[id]))
	}
	return strings.Join(out, "; ")
}

// TablesRefused counts the FIB tables that could not be made (each
// refusal once). Any goroutine.
func (r *Router) TablesRefused() uint64 { return r.prog.TablesRefused.Load() }

// RefusedTables lists the kernel tables that have no FIB table (it could
// not be made), with why.
func (r *Router) RefusedTables() map[uint32]error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.prog.RefusedTables()
}

// batch applies what the subscriptions queued, in one FIB update.
func (r *Router) batch() error {
	evs := r.k.Drain(50000)
	r.mu.Lock()
	defer r.mu.Unlock()
	t0 := time.Now()
	for _, e := range evs {
		if e.Err != nil {
			r.Stats.Overruns.Add(1)
			return e.Err
		}
		r.apply(e)
	}
	r.Stats.Events.Add(uint64(len(evs)))
	if err := r.flush(); err != nil {
		r.log.Error().Err(err).Msg("FIB update")
	}
	r.rulesAfterProgram()
	r.Stats.LastChangeLag.Store(int64(time.Since(t0)))
	return nil
}

// syncIfaces updates the VLAN and macvlan interfaces; true when they
// changed. r.mu is held.
func (r *Router) syncIfaces() bool {
	changed, err := r.ports.sync(r.links, r.vlans, r.macvlans)
	if err != nil {
		r.log.Error().Err(err).Msg("the fast path refused interfaces")
	}
	if changed {
		r.log.Info().Int("interfaces", len(r.ports.subs)).Msg("VLAN and macvlan interfaces changed")
		// the rules name interfaces by id: an iif that was not there
		// before (or is gone) changes them
		r.pushRules()
	}
	return changed
}

// newRIB is an empty RIB for routes routes, of which routes6 IPv6.
func newRIB(ports Ports, cfg Config, routes, routes6 int) *RIB {
	rib := NewRIB(ports, cfg.KernelTable, routes, routes6)
	rib.SetPunts(cfg.Punts)
	return rib
}

// resync replaces the RIB by a fresh dump and programs only differences.
// The new RIB takes the routes as the kernel dumps them (no slice of a
// million routes), under r.mu from the dump's first route on.
func (r *Router) resync() error {
	t0 := time.Now()
	var st *rib.State
	var nr *RIB
	routes, locked := 0, false
	defer func() {
		if locked {
			r.mu.Unlock()
		}
	}()
	h4, h6 := r.rib.Lens() // the last RIB's size, if any
	err := r.k.DumpEach(func(s *rib.State, links Links) func(*rib.Route) {
		if !locked { // begin runs again when a dump is interrupted
			r.mu.Lock()
			locked = true
		}
		st, routes = s, 0
		r.links = links
		r.linkUp = st.LinkUp
		r.vlans, r.macvlans = st.VLANs, st.Macvlans
		r.syncIfaces()
		r.indexPorts()
		nr = newRIB(r.ports, r.cfg, h4+h6, h6)
		for _, a := range st.Addrs {
			if _, ok := r.ports.PortOf(a.Dev); ok {
				nr.AddAddr(a)
			}
		}
		for _, n := range st.Neighs {
			r.setNeigh(nr, n)
		}
		r.nh = rib.NewNhObjs()
		r.nh.Replace(st.Nexthops)
		for id := range r.nh.All() {
			exp, _ := r.nh.Expansion(id, links)
			nr.SetObj(id, exp)
		}
		nh := r.nh
		return func(rt *rib.Route) {
			routes++
			if rt.NhID != 0 {
				nh.Use(rib.RouteKey(rt.Table, rt.Prefix, rt.Metric), rt.NhID)
				nh.Expand(rt, links)
			}
			nr.AddRoute(*rt)
		}
	})
	if err != nil {
		return err
	}
	tDump := time.Since(t0)
	// Resolved and programmed in one walk: the FIB takes each prefix as
	// the new RIB settles it.
	ss, err := r.prog.SyncEach(nr.Len(), nr.SettleEach)
	r.rib = nr
	for _, n := range st.Stale {
		r.confirm(n)
	}
	r.rulesAfterProgram()
	r.dropTables()
	r.settleMemory(bigChange) // the old RIB and the dump are garbage now
	r.Stats.Resyncs.Add(1)
	r.log.Info().Int("routes", routes).Int("addrs", len(st.Addrs)).Int("neighbours", nr.Neighbours()).
		Int("added", ss.Added).Int("replaced", ss.Replaced).Int("deleted", ss.Deleted).Int("refused", ss.Refused).
		Dur("dump", tDump).Dur("took", time.Since(t0)).Msg("resynchronised with the kernel")
	r.probeUnresolved()
	return err
}

func (r *Router) indexPorts() {
	clear(r.portIf)
	for idx, name := range r.links {
		if p, ok := r.ports.PortOf(name); ok {
			r.portIf[uint16(p)] = idx
		}
	}
}

func (r *Router) flush() error {
	ch := r.rib.Flush()
	if len(ch) == 0 {
		return nil
	}
	r.Stats.Batches.Add(1)
	r.settleMemory(len(ch))
	ss, err := r.prog.Update(ch)
	r.log.Debug().Int("changes", len(ch)).Int("added", ss.Added).Int("replaced", ss.Replaced).
		Int("deleted", ss.Deleted).Int("refused", ss.Refused).Msg("FIB updated")
	return err
}

// bigChange is the number of route changes after which the memory they
// freed is handed back to the kernel at once (settleMemory).
const bigChange = 10000

// settleMemory: after a change of n routes (a resync, a view withdrawn or
// loaded) the heap holds the old state as garbage, and the Go runtime
// would return its pages to the kernel over minutes. Once no large change
// has come for a second, collect and return them: RSS then follows the
// routes held. Router goroutine.
func (r *Router) settleMemory(n int) {
	if n < bigChange {
		return
	}
	if r.trim == nil {
		r.trim = time.AfterFunc(time.Second, debug.FreeOSMemory)
		return
	}
	r.trim.Reset(time.Second)
}

// setNeigh adds a neighbour within router_arp_cache_size.
func (r *Router) setNeigh(rib *RIB, n Neigh) {
	if _, ok := r.ports.PortOf(n.Dev); !ok {
		return
	}
	if r.cfg.ARPCacheSize > 0 && !rib.HasNeigh(n.Addr, n.Dev) && rib.NeighboursOf(n.Addr.Is6()) >= r.cfg.ARPCacheSize {
		if r.Stats.NeighRefused.Add(1) == 1 {
			r.log.Error().Stringer("neighbour", n.Addr).Int("router_arp_cache_size", r.cfg.ARPCacheSize).
				Msg("neighbour cache full: further neighbours are refused and their routes stay unresolved")
		}
		return
	}
	rib.SetNeigh(n)
}

func (r *Router) apply(e kernel.Event) {
	switch {
	case e.Link != nil:
		l := e.Link
		delete(r.vlans, l.Index)
		delete(r.macvlans, l.Index)
		wasUp, known := r.linkUp[l.Index]
		if l.Del {
			delete(r.links, l.Index)
			delete(r.linkUp, l.Index)
			if wasUp {
				r.redumpWanted = [2]bool{true, true}
			}
		} else {
			r.links[l.Index] = l.Name
			r.linkUp[l.Index] = l.Up
			// Down: the kernel flushes the IPv4 routes through it and
			// kills their multipath paths. Up: it revives those paths.
			if known && l.Up != wasUp {
				r.redumpWanted = [2]bool{true, true}
			}
			// Down, it also removes the nexthop objects on it, and their
			// places in groups, in silence: done here at once (one
			// nexthop rewrite per group, whatever the routes), and
			// confirmed by the re-dump.
			if known && wasUp && !l.Up {
				r.objectsChanged(r.nh.FlushDev(l.Index))
			}
			if l.VLAN != nil {
				r.vlans[l.Index] = *l.VLAN
			}
			if l.Macvlan != nil {
				r.macvlans[l.Index] = *l.Macvlan
			}
		}
		// An interface that comes or goes changes how routes on it resolve
		// and what the rules' iif names: resynchronise (rare, and never
		// empties the FIB).
		if r.syncIfaces() {
			r.RequestResync()
		}
		r.indexPorts()
	case e.Addr != nil:
		if e.Addr.Del && e.Addr.Prefix.Addr().Is4() {
			// The kernel drops, silently, the IPv4 routes whose gateway
			// the address made reachable (on any interface: fibd's or not).
			r.redumpWanted[0] = true
		}
		a := Addr{Prefix: e.Addr.Prefix, Dev: r.links[e.Addr.Index]}
		if _, ok := r.ports.PortOf(a.Dev); !ok {
			return
		}
		if e.Addr.Del {
			r.rib.DelAddr(a)
		} else {
			r.rib.AddAddr(a)
		}
	case e.Neigh != nil:
		n := Neigh{Addr: e.Neigh.Addr, MAC: e.Neigh.MAC, Dev: r.links[e.Neigh.Index]}
		if !e.Neigh.Del && n.MAC != nil {
			r.setNeigh(r.rib, n)
			if e.Neigh.Stale {
				r.confirm(n)
			}
			return
		}
		r.rib.DelNeigh(Neigh{Addr: n.Addr, Dev: n.Dev})
	case e.Raw != nil:
		r.applyRaw(e.Raw)
	}
}

// applyRaw applies a route or nexthop object notification.
func (r *Router) applyRaw(m *kernel.RawMsg) {
	switch m.Type {
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
		if r.want == nil {
			r.want = map[uint32]bool{}
		}
		clear(r.want)
		for _, t := range r.k.Tables {
			r.want[t] = true
		}
		rt, ok := m.Route(r.want, r.links)
		if !ok {
			return
		}
		rk := rib.RouteKey(rt.Table, rt.Prefix, rt.Metric)
		if m.Type == unix.RTM_DELROUTE {
			r.nh.Use(rk, 0)
			r.rib.DelRoute(rt)
			return
		}
		r.nh.Use(rk, rt.NhID)
		r.nh.Expand(&rt, r.links)
		// NLM_F_REPLACE or not: same table/prefix/metric is an update;
		// an update that resolves as before costs no FIB write.
		r.rib.AddRoute(rt)
	case unix.RTM_NEWNEXTHOP:
		o, ok := m.Nexthop()
		if !ok {
			return
		}
		if old := r.nh.Obj(o.ID); old != nil && rib.SameObj(old, o) {
			return
		}
		r.objectsChanged(r.nh.Set(o))
	case kernel.RTMDelNexthop:
		id := m.NexthopID()
		if id == 0 {
			return
		}
		// The kernel removes the routes naming it; whether it says so
		// depends on the family: read them again.
		r.objectsChanged(r.nh.Del(id))
		r.redumpWanted = [2]bool{true, true}
	}
}

// objectsChanged gives the RIB the new expansion of objects ids
// (RIB.FollowObjects). r.mu is held.
func (r *Router) objectsChanged(ids []uint32) { r.rib.FollowObjects(r.nh, ids, r.links) }

// confirmRate bounds the confirmations asked of the kernel per second, so
// that a full cache going stale at once does not become an ARP storm.
const confirmRate = 1000

// confirm hands a stale neighbour that routes use to the kernel as its own
// traffic would (NTF_USE): the kernel sees none of the packets fibd
// forwards, so without this an entry stays STALE with its MAC forever (a
// neighbour that changed its MAC without a gratuitous ARP keeps receiving
// at the old one) or is collected. The kernel then probes it by unicast
// once (DELAY, PROBE): one ARP or NS per neighbour per reachable time,
// REACHABLE again, or FAILED and resolved anew.
func (r *Router) confirm(n Neigh) {
	if r.rib == nil || !r.rib.NeighInUse(n.Addr, n.Dev) {
		return
	}
	now := time.Now()
	if now.Sub(r.confirmWindow) >= time.Second {
		r.confirmWindow, r.confirmsInWindow = now, 0
	}
	if r.confirmsInWindow >= confirmRate {
		return // the next STALE notification (or resync) asks again
	}
	idx, ok := r.ifindexOf(n.Dev)
	if !ok {
		return
	}
	if err := r.k.ResolveNeigh(idx, n.Addr); err == nil {
		r.confirmsInWindow++
		r.Stats.NeighConfirms.Add(1)
	}
}

// ifindexOf is the netns ifindex of interface dev.
func (r *Router) ifindexOf(dev string) (int, bool) {
	for idx, name := range r.links {
		if name == dev {
			return idx, true
		}
	}
	return 0, false
}

// probeUnresolved asks the kernel to resolve gateways routes use but the
// neighbour table lacks, so no operator has to ping them.
func (r *Router) probeUnresolved() {
	for _, k := range r.rib.Unresolved() {
		idx, ok := r.portIf[uint16(k.Port())]
		if !ok {
			continue
		}
		if err := r.k.ResolveNeigh(idx, k.Addr()); err == nil {
			r.Stats.NeighProbes.Add(1)
		}
	}
}

// pinThread applies router_bind_core and router_sched_add_prio to the
// locked OS thread of Run. Go has no thread priorities: the nice value of
// this thread (Linux nices threads individually) stands in for them.
// router_bind_core=-1 (the manual's autodetection) picks the least loaded
// CPU outside the workers'. The returned wait blocks until the goroutine
// that samples the load is gone (at once when ctx has ended: the sample
// is cut short), so that nothing of the router outlives Run: a router
// stopped within its first 200 ms of mirroring was kept, RIB and all,
// until that sample ended.
func (r *Router) pinThread(ctx context.Context) (wait func()) {
	wait = func() {}
	tid := unix.Gettid()
	pin := func(core int) {
		var set unix.CPUSet
		set.Set(core)
		if err := unix.SchedSetaffinity(tid, &set); err != nil && ctx.Err() == nil { // else: Run's thread may be gone
			r.log.Warn().Err(err).Int("router_bind_core", core).Msg("cannot pin the router thread")
		}
	}
	switch core := r.cfg.BindCore; {
	case core >= 0:
		pin(core)
	default:
		// The load is sampled once the first mirror is made: a sample
		// taken first would delay a restart's FIB by as much, and one
		// taken during the mirror would see the router's own work. The
		// thread is pinned from this goroutine (affinity is per thread
		// id); Run's thread lives until ctx ends.
		done := make(chan struct{})
		wait = func() { <-done }
		go func() {
			defer close(done)
			select {
			case <-r.ready:
			case <-ctx.Done():
				return
			}
			cpu, load, err := autoCore(ctx, tid, 200*time.Millisecond)
			switch {
			case ctx.Err() != nil:
			case err != nil:
				r.log.Warn().Err(err).Msg("router_bind_core=-1: no core chosen, the router thread is not pinned")
			default:
				r.log.Info().Int("cpu", cpu).Float64("load", load).
					Msg("router_bind_core=-1: the router thread runs on the least loaded CPU outside the workers'")
				pin(cpu)
			}
		}()
	}
	if r.cfg.SchedAddPrio != 0 {
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, -r.cfg.SchedAddPrio); err != nil {
			r.log.Warn().Err(err).Int("router_sched_add_prio", r.cfg.SchedAddPrio).Msg("cannot set the router thread's priority")
		}
	}
	return wait
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
