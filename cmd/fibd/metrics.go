package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	dpdk "fibd/cgo"
	"fibd/router"
)

// metrics exports fibd's counters to Prometheus. Nothing is kept in Go:
// every scrape reads the data plane's counters, as fdpi_cli does, through
// the query interface (its concurrency rule is query's).
type metrics struct{ q *query }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("fibd_"+name, help, labels, nil)
}

var (
	mPortCounters = []struct {
		d   *prometheus.Desc
		get func(dpdk.PortStats) uint64
	}{
		{desc("port_rx_packets_total", "Packets received by the port.", "device"), func(s dpdk.PortStats) uint64 { return s.IPackets }},
		{desc("port_tx_packets_total", "Packets sent by the port.", "device"), func(s dpdk.PortStats) uint64 { return s.OPackets }},
		{desc("port_rx_bytes_total", "Bytes received by the port.", "device"), func(s dpdk.PortStats) uint64 { return s.IBytes }},
		{desc("port_tx_bytes_total", "Bytes sent by the port.", "device"), func(s dpdk.PortStats) uint64 { return s.OBytes }},
		{desc("port_rx_missed_total", "Packets the port dropped for lack of rx descriptors.", "device"), func(s dpdk.PortStats) uint64 { return s.IMissed }},
		{desc("port_rx_errors_total", "Erroneous packets received.", "device"), func(s dpdk.PortStats) uint64 { return s.IErrors }},
		{desc("port_tx_errors_total", "Packets the port failed to send.", "device"), func(s dpdk.PortStats) uint64 { return s.OErrors }},
		{desc("port_rx_nombuf_total", "Receive failures for lack of mbufs.", "device"), func(s dpdk.PortStats) uint64 { return s.RxNoMbuf }},
	}
	mPortLink       = desc("port_link_up", "1 when the port's link is up.", "device")
	mWorkerRx       = desc("worker_rx_packets_total", "Packets a worker received.", "worker")
	mWorkerFwd      = desc("worker_forwarded_packets_total", "Packets a worker routed.", "worker")
	mWorkerTx       = desc("worker_tx_packets_total", "Packets a worker's tx accepted.", "worker")
	mWorkerIdle     = desc("worker_idle_polls_total", "Loop passes that received nothing.", "worker")
	mWorkerICMP     = desc("worker_icmp_errors_total", "ICMP errors: sent, held back by the rate limit (ratelimited), lost for want of an mbuf (alloc_failed).", "worker", "result")
	mDrops          = desc("drops_total", "Packets not forwarded, by reason (see fdpi_cli router stats show).", "reason")
	mRoutes         = desc("fib_routes", "Routes in the FIB tables.", "family")
	mNexthops       = desc("fib_nexthops", "Nexthop indices in use.")
	mRefused        = desc("fib_routes_refused_total", "Routes refused because a table was full.")
	mRebuilds       = desc("fib_rebuilds_total", "FIB copies rebuilt from scratch.")
	mGraceStalls    = desc("rcu_grace_stalls_total", "Grace periods that timed out because a worker made no pass (a wedged worker).")
	mGraceStalled   = desc("rcu_stalled", "1 while the last grace period timed out: FIB changes are held.")
	mRouterEvents   = desc("router_netlink_events_total", "Netlink notifications applied.")
	mRouterResyncs  = desc("router_resyncs_total", "Dumps followed by mark-and-sweep.")
	mRouterOverruns = desc("router_overruns_total", "Netlink subscription failures (ENOBUFS, closed).")
	mNeighRefused   = desc("router_neighbours_refused_total", "Neighbours beyond router_arp_cache_size.")
	mNeighProbes    = desc("router_neighbour_probes_total", "Resolutions asked of the kernel.")
	mNeighConfirms  = desc("router_neighbour_confirms_total", "Stale neighbours in use handed to the kernel to confirm.")
	mMirroring      = desc("router_mirroring", "1 while the router netns is mirrored.")
	mReconciles     = desc("router_reconciles_total", "router_fib_refresh comparisons of the whole RIB with the FIB.")
	mRepaired       = desc("router_fib_repaired_total", "FIB changes those comparisons had to make.")
	mFlushed        = desc("router_silent_flushes_total", "Routes the kernel removed without a notification, removed from the FIB too.")
	mForged         = desc("router_forged_notifications_total", "Messages on the netlink subscription that did not come from the kernel, dropped.")
	mNetnsReplaced  = desc("router_netns_replaced_total", "Times router_netns was deleted and made again under the same name.")
	mNexthopObjs    = desc("router_nexthop_objects", "Kernel nexthop objects mirrored.")
	mNHRewrites     = desc("router_nexthop_rewrites_total", "FIB nexthops rewritten in place (a nexthop object or a neighbour changed under its routes).")
	mRouteWrites    = desc("router_fib_route_writes_total", "Routes written to or deleted from the FIB.")
	mTablesRefused  = desc("router_tables_refused_total", "FIB tables that could not be made (no slot, no memory).")
	mTablesFreed    = desc("router_tables_freed_total", "FIB tables freed when no ip rule named their kernel table any more.")
	mNeighbours     = desc("router_neighbours", "Neighbours in fibd's cache.", "family")
	mAnnounced      = desc("announcements", "Prefixes announced into router_netns.")
	mPunted         = desc("exception_punted_packets_total", "Packets written to the device's exception interface.", "device")
	mPuntDrop       = desc("exception_punt_dropped_total", "Punted packets the exception interface did not accept.", "device")
	mPoliced        = desc("exception_policed_packets_total", "Punts held back by the policer.", "device", "class")
	mFromRib        = desc("exception_injected_packets_total", "Packets the routing daemon sent through the exception interface.", "device")
	mFromRibDrop    = desc("exception_inject_dropped_total", "Packets from the exception interface lost to a full ring.", "device")
	mExcReattached  = desc("exception_reattached_total", "Times the exception interface was made again after its router netns or veth pair was.", "device")
)

func (m metrics) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(m, ch)
}

func (m metrics) Collect(ch chan<- prometheus.Metric) {
	q := m.q
	counter := func(ds *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(ds, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(ds *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(ds, prometheus.GaugeValue, v, labels...)
	}
	for _, p := range q.Ports() {
		if s, err := p.ID.Stats(); err == nil {
			for _, c := range mPortCounters {
				counter(c.d, c.get(s), p.Dev.Name)
			}
		}
		if l, err := p.Link(); err == nil {
			gauge(mPortLink, b2f(l.Up), p.Dev.Name)
		}
	}
	for _, e := range q.Exceptions() {
		dev := e.Exception.Device
		counter(mPunted, e.ToExc, dev)
		counter(mPuntDrop, e.ToExcDrop, dev)
		counter(mFromRib, e.FromExc, dev)
		counter(mFromRibDrop, e.FromExcDrop, dev)
		counter(mExcReattached, e.Reattached, dev)
		for c, n := range e.Policed {
			counter(mPoliced, n, dev, dpdk.PuntClasses[c])
		}
	}
	q.collectSaveIP(ch)
	names := dpdk.DropReasons()
	drops := make([]uint64, len(names))
	for i := range dpdk.WorkerCount() {
		s, err := dpdk.ReadWorkerStats(i)
		if err != nil {
			continue
		}
		w := strconv.Itoa(i)
		counter(mWorkerRx, s.Rx, w)
		counter(mWorkerFwd, s.Forwarded, w)
		counter(mWorkerTx, s.Tx, w)
		counter(mWorkerIdle, s.IdlePolls, w)
		counter(mWorkerICMP, s.ICMPSent, w, "sent")
		counter(mWorkerICMP, s.ICMPRateLimited, w, "ratelimited")
		counter(mWorkerICMP, s.ICMPAllocFailed, w, "alloc_failed")
		for r, n := range s.Drops {
			drops[r] += n
		}
	}
	for r, n := range drops {
		counter(mDrops, n, names[r])
	}
	fs := q.FIBSummary()
	gauge(mRoutes, float64(fs.Routes4), "ipv4")
	gauge(mRoutes, float64(fs.Routes6), "ipv6")
	gauge(mNexthops, float64(fs.Nexthops))
	counter(mRefused, fs.Refused)
	counter(mRebuilds, fs.Rebuilds)
	rcu := dpdk.ReadRCUInfo()
	counter(mGraceStalls, rcu.Stalls)
	gauge(mGraceStalled, b2f(rcu.Stalled))
	if m, ok := q.Mirror(); ok {
		counter(mRouterEvents, m.Events)
		counter(mRouterResyncs, m.Resyncs)
		counter(mRouterOverruns, m.Overruns)
		counter(mNeighRefused, m.NeighRefused)
		counter(mNeighProbes, m.NeighProbes)
		counter(mNeighConfirms, m.NeighConfirms)
		gauge(mMirroring, b2f(m.Connected))
		counter(mReconciles, m.Reconciles)
		counter(mRepaired, m.Repaired)
		counter(mFlushed, m.Flushed)
		counter(mForged, m.Forged)
		counter(mNetnsReplaced, m.Replaced)
		gauge(mNexthopObjs, float64(m.NexthopObjects))
		counter(mNHRewrites, m.NexthopRewrites)
		counter(mRouteWrites, m.RouteWrites)
		counter(mTablesRefused, m.TablesRefused)
		counter(mTablesFreed, m.TablesFreed)
	}
	q.WithState(func(_ *router.Programmer, rib *router.RIB) {
		gauge(mNeighbours, float64(rib.NeighboursOf(false)), "ipv4")
		gauge(mNeighbours, float64(rib.NeighboursOf(true)), "ipv6")
	})
	if ann, err := q.Announced(); err == nil {
		gauge(mAnnounced, float64(len(ann)))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// serveMetrics runs the /metrics endpoint until ctx ends, and returns once
// no scrape is in progress. A busy port is logged, not fatal: forwarding
// does not depend on it.
func (d *daemon) serveMetrics(ctx context.Context, addr string) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics{d.query()})
	registerMemory(reg)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		d.log.Error().Err(err).Str("fibd_metrics_listen", addr).Msg("metrics endpoint not available")
		return
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		// Let scrapes in progress finish: they read DPDK counters, which
		// must not happen once the ports close.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		d.log.Error().Err(err).Msg("metrics endpoint")
	}
	<-stopped
}
