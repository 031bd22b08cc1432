package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
	"fibd/cmd/internal/lifecycle"
	"fibd/conf"
	"fibd/kni"
	"fibd/lpm"
	"fibd/ports"
	"fibd/ports/pcap"
	"fibd/router"
)

// component is one part of fibd; see lifecycle.Component.
type component = lifecycle.Component[*conf.Config]

// components lists fibd's parts in start order; they stop in the reverse
// order. Building the list starts nothing (TestHotParamsHaveOneApplier
// builds it from a bare daemon). The order is what keeps shutdown safe:
//
//   - the workers stop (dataplane) after the router has stopped writing the
//     FIB and after the exception thread has stopped (they drain the rings
//     it fills), and before the exception interfaces close (the ports the
//     exception thread used) and the report reads the final counters;
//   - the control server, the metrics and the SIGHUP handler come last:
//     they read or change every other component, so they are gone before
//     any of those stops, and nothing touches DPDK after the ports close
//     and the EAL goes;
//   - the report is written after every worker and every capture has
//     stopped, while the ports still hold their counters; the ports close
//     after it (pcap vdevs flush their files there), the EAL last.
//
// Each hot parameter of conf.Params is applied by exactly one component,
// the one that declares it in Hot (checked by lifecycle.New and by
// TestHotParamsHaveOneApplier).
func (d *daemon) components() (*lifecycle.List[*conf.Config], error) {
	w := &workers{d: d}
	rt := &routerComp{d: d}
	as := &addrSync{d: d}
	cp := &captures{d: d}
	sv := &saveIPComp{d: d}
	return lifecycle.New(
		component{Name: "log", Hot: []string{"fibd_log_level"}, Apply: d.applyLogLevel},
		component{Name: "eal", Start: d.startEAL, Stop: d.stopEAL},
		component{Name: "ports", Needs: []string{"eal"}, Start: d.startPorts, Stop: d.stopPorts},
		component{Name: "report", Needs: []string{"ports"}, Stop: d.writeReport},
		component{Name: "fib", Needs: []string{"ports"}, Start: d.startFIB},
		component{Name: "exceptions", Needs: []string{"ports"}, Start: d.openExceptions, Stop: d.closeExceptions},
		component{Name: "dataplane", Needs: []string{"ports", "fib"}, Start: d.startDataplane, Stop: d.stopDataplane,
			Hot:   []string{"fibd_idle_sleep_us", "fibd_punt_rate_proto", "fibd_punt_rate_nd", "fibd_punt_rate_other", "fibd_punt_rate_glean"},
			Apply: d.applyDataplane},
		component{Name: "router", Needs: []string{"fib", "dataplane"}, Start: rt.start, Stop: rt.stop,
			Hot: []string{"router_fib_refresh"}, Apply: rt.apply},
		component{Name: "addrsync", Needs: []string{"dataplane", "router", "exceptions"}, Start: as.start, Stop: as.stop},
		component{Name: "forwarding", Needs: []string{"router", "exceptions", "addrsync"}, Start: d.startForwarding},
		component{Name: "watchdog", Needs: []string{"forwarding"}, Start: w.start, Stop: w.stop},
		// ajb_udpi_path and ajb_udpi_ftimeout belong to captures, which
		// hands them on
		component{Name: "saveip", Needs: []string{"forwarding"}, Start: sv.start, Stop: sv.stop,
			Hot: []string{"ajb_save_ip"}, Apply: sv.apply},
		component{Name: "exception thread", Needs: []string{"exceptions", "forwarding"}, Start: d.startExceptionThread, Stop: d.stopExceptionThread},
		component{Name: "captures", Needs: []string{"exception thread"}, Start: cp.start, Stop: cp.stop,
			Hot:   []string{"router_tap_pcap", "router_tap_pcap_dir", "router_tap_pcap_rotate", "router_rtnl_pcap", "ajb_udpi_path", "ajb_udpi_ftimeout"},
			Apply: cp.apply},
		component{Name: "announcer", Start: d.startAnnouncer, Stop: d.stopAnnouncer,
			Hot:   []string{"router_subs_metrics", "auth_announce_reject", "fibd_nat_pool", "fibd_subs_gateway"},
			Apply: d.applyAnnouncements},
		goroutine("control", []string{"router", "announcer", "forwarding"}, d.startCtl),
		goroutine("metrics", []string{"router", "announcer", "forwarding"}, func(ctx context.Context) (func(), error) {
			return func() { d.serveMetrics(ctx, d.cfg.MetricsListen) }, nil
		}),
		goroutine("signals", []string{"control"}, d.startSignals),
	)
}

// goroutine is a component that runs one goroutine: prepare (which may
// fail) returns what the goroutine runs, until its context ends; Stop ends
// that context and waits for the goroutine.
func goroutine(name string, needs []string, prepare func(ctx context.Context) (func(), error)) component {
	var stop context.CancelFunc
	done := make(chan struct{})
	return component{Name: name, Needs: needs,
		Start: func(ctx context.Context) error {
			ctx, cancel := context.WithCancel(ctx)
			run, err := prepare(ctx)
			if err != nil {
				cancel()
				return err
			}
			stop = cancel
			go func() { defer close(done); run() }()
			return nil
		},
		Stop: func() error { stop(); <-done; return nil },
	}
}

// applyLogLevel applies fibd_log_level, unless --log-level was given.
func (d *daemon) applyLogLevel(_ []string, _, nc *conf.Config) error {
	if d.opt.logLevel == "" {
		if lv, err := zerolog.ParseLevel(nc.LogLevel); err == nil {
			zerolog.SetGlobalLevel(lv)
		}
	}
	return nil
}

// startEAL starts DPDK's EAL on the arguments run prepared.
func (d *daemon) startEAL(context.Context) error {
	d.log.Info().Strs("eal", d.ealArgs[1:]).Msg("starting EAL")
	var err error
	if d.eal, err = dpdk.Init(d.ealArgs); err != nil {
		return err
	}
	if control, err := dpdk.KeepOffWorkerCPUs(); err != nil {
		d.log.Warn().Err(err).Msg("control-plane threads may preempt workers")
	} else {
		d.log.Debug().Int("control_cpus", control.Count()).Msg("control plane kept off worker CPUs")
	}
	return nil
}

func (d *daemon) stopEAL() error {
	if err := d.eal.Cleanup(); err != nil {
		d.log.Warn().Err(err).Msg("EAL cleanup")
	}
	return nil
}

// startPorts checks the worker lcores, makes the mbuf pool and opens the
// ports of in_dev/out_dev.
func (d *daemon) startPorts(context.Context) error {
	d.lcores = d.eal.WorkerLcores()
	if len(d.lcores) == 0 {
		return fmt.Errorf("no worker lcore: give the EAL at least two lcores (e.g. -l 0-1); lcore %d runs the control plane", d.eal.MainLcore())
	}
	if len(d.lcores) > dpdk.MaxWorkers {
		return fmt.Errorf("%d worker lcores, this build supports %d (meson option max_workers)", len(d.lcores), dpdk.MaxWorkers)
	}
	layout := ports.Layout{Workers: len(d.lcores), RxDesc: 1024, TxDesc: 1024}
	// net_pcap's infinite_rx keeps its captures in mbufs for good; a pool
	// too small for them fails the port's setup, after which DPDK 22.11
	// crashes at exit. Only the devices fibd sets up count.
	used := map[string]bool{}
	for _, dev := range d.cfg.Devices {
		used[dev.Name] = true
	}
	held := 0
	for _, v := range d.cfg.Vdevs {
		name, _, _ := strings.Cut(v, ",")
		if !used[name] {
			continue
		}
		n, err := pcap.InfiniteRxPackets(v, len(d.lcores))
		if err != nil {
			return err
		}
		held += n
	}
	// each worker's bursts and mempool cache, and some to receive with
	spare := len(d.lcores)*(4*dpdk.Burst+512) + 4096
	mbufs := d.cfg.Mbufs
	if mbufs == 0 {
		// every rx and tx ring full, plus the above
		mbufs = len(d.cfg.Devices)*len(d.lcores)*(layout.RxDesc+layout.TxDesc) + spare + held
	} else if mbufs < held+spare {
		return fmt.Errorf("fibd_mbufs=%d: the infinite_rx captures keep %d packets in mbufs, and %d workers need %d more to receive and forward: give at least %d, or 0 to size the pool automatically",
			mbufs, held, len(d.lcores), spare, held+spare)
	}
	if err := dpdk.CreatePool("fibd_mbufs", uint32(mbufs), -1); err != nil {
		return err
	}
	var err error
	d.ports, err = ports.Open(d.log, d.cfg, layout)
	return err
}

// stopPorts closes the ports: pcap vdevs flush their files here.
func (d *daemon) stopPorts() error {
	if err := d.ports.Close(); err != nil {
		d.log.Warn().Err(err).Msg("closing ports")
	}
	return nil
}

// writeReport prints and writes (--stats-json) the final counters, once
// the workers have stopped; nothing when fibd failed to start.
func (d *daemon) writeReport() error {
	if !d.finished || !d.launched {
		return nil
	}
	rep, err := d.query().Report(d.stopped.Sub(d.started))
	if err != nil {
		return err
	}
	if !d.opt.quiet {
		rep.writeText(d.stdout)
	}
	if d.opt.statsJSON != "" {
		return rep.writeJSON(d.opt.statsJSON)
	}
	return nil
}

// startFIB makes the FIB with the kernel table in slot 0, and programs
// the static state (--static).
func (d *daemon) startFIB(context.Context) error {
	sizes := map[uint32]lpm.TableSize{}
	for _, ts := range d.cfg.TableSizes {
		sizes[ts.Table] = lpm.TableSize{Routes4: ts.Routes4, Routes6: ts.Routes6}
	}
	d.fib = lpm.New(d.log, lpm.Config{MaxRoutes4: d.cfg.RouterMaxIP4Routes, MaxRoutes6: d.cfg.RouterMaxIP6Routes, Sizes: sizes,
		Own: d.cfg.FIB == conf.FIBOwn})
	if _, err := d.fib.Table(d.kernelTable(), 0); err != nil {
		return err
	}
	if st := d.static; st != nil {
		d.static = nil // the RIB keeps what it needs: the rest can go
		d.prog = router.NewProgrammer(d.log, d.fib)
		return d.program(st)
	}
	return nil
}

// routerMode tells whether the netlink mirror runs (router=1, no --static).
func (d *daemon) routerMode() bool { return d.cfg.Router && d.opt.static == "" }

// openExceptions brings up the exception interfaces (router=1). They are
// attached to their ports before the workers are added and launched, and
// exist before the router's first dump of router_netns.
func (d *daemon) openExceptions(context.Context) error {
	if !d.routerMode() {
		return nil
	}
	var err error
	d.exc, err = kni.Open(d.log, d.cfg, d.ports)
	return err
}

// closeExceptions removes them, after the exception thread and the
// workers stopped.
func (d *daemon) closeExceptions() error {
	if d.exc != nil {
		if err := d.exc.Close(); err != nil {
			d.log.Warn().Err(err).Msg("closing exception interfaces")
		}
	}
	return nil
}

// startDataplane prepares the workers (one per worker lcore) and the
// policer; the forwarding component launches them.
func (d *daemon) startDataplane(context.Context) error {
	if err := dpdk.InitDataplane(len(d.lcores)); err != nil {
		return err
	}
	for _, w := range d.ports.Workers(d.lcores) {
		if err := dpdk.AddWorker(w); err != nil {
			return err
		}
	}
	dpdk.SetIdleSleep(d.cfg.WorkerIdleSleep)
	return d.setPuntRates(d.cfg)
}

// stopDataplane stops the workers, when they were launched: after the
// router (the FIB's writer) and the exception thread have stopped.
func (d *daemon) stopDataplane() error {
	if !d.launched {
		return nil
	}
	if err := d.eal.StopWorkers(); err != nil {
		d.log.Warn().Err(err).Msg("stopping workers")
	}
	d.stopped = time.Now()
	return nil
}

// applyDataplane applies the idle back-off and the punt policer.
func (d *daemon) applyDataplane(changed []string, _, nc *conf.Config) error {
	if slices.Contains(changed, "fibd_idle_sleep_us") {
		dpdk.SetIdleSleep(nc.WorkerIdleSleep)
	}
	if slices.ContainsFunc(changed, func(p string) bool { return p != "fibd_idle_sleep_us" }) {
		return d.setPuntRates(nc)
	}
	return nil
}

// routerComp is the netlink mirror (router=1): the router goroutine, the
// FIB's single writer from its start until its stop.
type routerComp struct {
	d      *daemon
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs the router. Forwarding starts once the FIB mirrors the
// kernel, or after router_fib_refresh at most (router_netns may not exist
// yet: forwarding starts anyway).
func (r *routerComp) start(ctx context.Context) error {
	d := r.d
	if !d.routerMode() {
		return nil
	}
	d.router = router.New(d.log, router.Config{
		Netns:        d.cfg.RouterNetns,
		KernelTable:  d.kernelTable(),
		ARPCacheSize: d.cfg.RouterARPCacheSize,
		Refresh:      d.cfg.RouterFIBRefresh,
		BindCore:     d.cfg.RouterBindCore,
		SchedAddPrio: d.cfg.RouterSchedAddPrio,
		Punts:        d.punts(),
	}, d.ports, d.fib)
	rctx, stop := context.WithCancel(ctx)
	r.cancel, r.done = stop, make(chan struct{})
	go func() {
		defer close(r.done)
		d.router.Run(rctx)
	}()
	select {
	case <-d.router.Ready():
	case <-time.After(d.cfg.RouterFIBRefresh):
		d.log.Warn().Dur("router_fib_refresh", d.cfg.RouterFIBRefresh).
			Msg("FIB not mirrored yet; forwarding starts anyway")
	case <-ctx.Done():
	}
	return nil
}

func (r *routerComp) stop() error {
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
	return nil
}

func (r *routerComp) apply(_ []string, _, nc *conf.Config) error {
	if r.d.router != nil {
		r.d.router.SetRefresh(nc.RouterFIBRefresh)
	}
	return nil
}

// addrSync gives the fast path fibd's addresses and the routing daemon's
// peers (syncPortAddrs) at start and every second; the same ticker keeps
// the exception interfaces' links and TAP captures in step.
type addrSync struct {
	d      *daemon
	cancel context.CancelFunc
	done   chan struct{}
}

func (a *addrSync) start(ctx context.Context) error {
	d := a.d
	dpdk.SetRouterAddrs(d.cfg.BrasArpIP, d.cfg.BrasIPv6Address)
	d.ifaddrs = map[dpdk.PortID][]dpdk.IfAddr{}
	if d.cfg.Router {
		d.peers = &router.Peers{Netns: d.cfg.RouterNetns}
	}
	d.syncPortAddrs()
	ctx, a.cancel = context.WithCancel(ctx)
	a.done = make(chan struct{})
	go func() { // addresses and peers change with the router netns
		defer close(a.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				d.syncPortAddrs()
				if d.exc != nil && d.excThread.Load() {
					d.exc.SyncLinks()
					if err := d.exc.TickCapture(time.Now()); err != nil {
						d.log.Error().Err(err).Msg("router_tap_pcap rotation")
					}
				}
			}
		}
	}()
	return nil
}

func (a *addrSync) stop() error {
	a.cancel()
	<-a.done
	if a.d.peers != nil {
		a.d.peers.Close()
	}
	return nil
}

// startForwarding starts the ports and launches the workers. They stop
// with the dataplane component, once the router has stopped.
func (d *daemon) startForwarding(context.Context) error {
	if n, err := ports.RaiseAFPacketSendBuffers(64 << 20); err != nil {
		d.log.Warn().Err(err).Msg("af_packet send buffers stay small: a full ring can hang a worker")
	} else if n > 0 {
		d.log.Debug().Int("sockets", n).Msg("af_packet send buffers raised")
	}
	if err := d.ports.Start(); err != nil {
		return err
	}
	d.started = time.Now()
	if err := d.eal.Launch(); err != nil {
		return err
	}
	d.launched = true
	return nil
}

// workers watches the workers (watchWorkers) and the links (watchLinks).
type workers struct {
	d      *daemon
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (w *workers) start(ctx context.Context) error {
	ctx, w.cancel = context.WithCancel(ctx)
	w.wg.Add(2)
	go func() { defer w.wg.Done(); watchWorkers(ctx, w.d.log) }()
	go func() { defer w.wg.Done(); watchLinks(ctx, w.d.log, w.d.ports) }()
	return nil
}

func (w *workers) stop() error {
	w.cancel()
	w.wg.Wait()
	return nil
}

// startExceptionThread starts the exception thread where the main lcore
// runs (off the workers'), and lets kni make the exception interfaces
// again (and restart the thread) when router_netns is made again.
func (d *daemon) startExceptionThread(context.Context) error {
	if err := d.eal.Do(dpdk.StartExceptions); err != nil {
		return err
	}
	if d.exc != nil {
		d.exc.Watch(func() error { return d.eal.Do(dpdk.StartExceptions) })
		d.exc.SyncLinks()
	}
	d.excThread.Store(true)
	return nil
}

// stopExceptionThread stops it before the workers stop (they drain its
// rings); kni restarts it no more.
func (d *daemon) stopExceptionThread() error {
	// the address sync's ticker outlives it: no more link mirroring or
	// capture rotation (a file handed over now would have no taker)
	d.excThread.Store(false)
	d.exc.Unwatch()
	if err := dpdk.StopExceptions(); err != nil {
		d.log.Warn().Err(err).Msg("stopping the exception thread")
	}
	return nil
}

// captures are the pcap recordings: the TAP traffic (router_tap_pcap*,
// written by the exception thread, rotated by the address sync's ticker)
// and the rtnetlink exchange (router_rtnl_pcap, a goroutine of its own).
// Both write under ajb_udpi_path and rotate after ajb_udpi_ftimeout unless
// router_tap_pcap_rotate says otherwise.
//
// Concurrency: start, apply (under the daemon's reload lock) and stop are
// never concurrent; the recording goroutine only reads its arguments.
type captures struct {
	d *daemon
	// the rtnetlink recording, when on: where it records, how to stop it,
	// and closed once it has ended (its file flushed)
	rtnl     rtnlTarget
	rtnlStop context.CancelFunc
	rtnlDone chan struct{}
	ctx      context.Context // the daemon's: recordings end with it too
}

// rtnlTarget is what a recording of the rtnetlink exchange depends on.
type rtnlTarget struct {
	netns, dir string
	rotate     time.Duration
}

func (c *captures) start(ctx context.Context) error {
	c.ctx = ctx
	c.setTap(c.d.cfg)
	c.setRtnl(c.d.cfg)
	return nil
}

func (c *captures) apply(changed []string, _, nc *conf.Config) error {
	tap := slices.ContainsFunc(changed, func(p string) bool { return p != "router_rtnl_pcap" })
	if tap {
		c.setTap(nc)
	}
	c.setRtnl(nc)
	if slices.Contains(changed, "ajb_udpi_path") || slices.Contains(changed, "ajb_udpi_ftimeout") {
		c.d.reloadSaveIP(nc) // ajb_save_ip's files go there too
	}
	return nil
}

// stop ends the rtnetlink recording and waits for its file; the TAP
// captures end with the exception thread and their interfaces.
func (c *captures) stop() error {
	c.stopRtnl()
	return nil
}

func (c *captures) setTap(cfg *conf.Config) {
	if c.d.exc == nil {
		return
	}
	if err := c.d.exc.SetCapture(kni.CaptureConfigOf(cfg)); err != nil {
		c.d.log.Error().Err(err).Msg("router_tap_pcap")
	}
}

// setRtnl starts, stops or (its directory or rotation changed) restarts
// the recording of rtnetlink messages.
func (c *captures) setRtnl(cfg *conf.Config) {
	on := cfg.Router && cfg.RouterRtnlPcap && c.d.opt.static == ""
	rotate := cfg.RouterTapPcapRotate
	if rotate == 0 {
		rotate = cfg.AjbUdpiFtimeout
	}
	t := rtnlTarget{netns: cfg.RouterNetns, dir: cfg.AjbUdpiPath, rotate: rotate}
	if c.rtnlStop != nil && (!on || t != c.rtnl) {
		c.stopRtnl()
	}
	if !on || c.rtnlStop != nil {
		return
	}
	ctx, stop := context.WithCancel(c.ctx)
	done := make(chan struct{})
	c.rtnl, c.rtnlStop, c.rtnlDone = t, stop, done
	log := c.d.log
	go func() {
		defer close(done)
		if err := router.RecordRtnl(ctx, log, t.netns, t.dir, t.rotate); err != nil && !errors.Is(err, context.Canceled) {
			log.Error().Err(err).Msg("router_rtnl_pcap stopped")
		}
	}()
}

func (c *captures) stopRtnl() {
	if c.rtnlStop == nil {
		return
	}
	c.rtnlStop()
	<-c.rtnlDone
	c.rtnlStop, c.rtnlDone = nil, nil
}

// startAnnouncer prepares the announcements (router=1, also with
// --static) and announces the NAT pools and gateways.
func (d *daemon) startAnnouncer(context.Context) error {
	if d.cfg.Router {
		d.startAnnouncements()
	}
	return nil
}

// stopAnnouncer withdraws every announcement.
func (d *daemon) stopAnnouncer() error {
	if d.announcer != nil {
		if err := d.announcer.WithdrawAll(); err != nil {
			d.log.Warn().Err(err).Msg("withdrawing announcements")
		}
	}
	return nil
}

// startCtl opens the control server's socket (fdpi_cli).
func (d *daemon) startCtl(ctx context.Context) (func(), error) {
	ln, err := d.listenCtl()
	if err != nil {
		return nil, err
	}
	return func() { d.serveCtl(ctx, ln) }, nil
}

// startSignals reloads the configuration on SIGHUP.
func (d *daemon) startSignals(ctx context.Context) (func(), error) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if hot, err := d.reload(); err != nil {
					d.log.Error().Err(err).Msg("SIGHUP")
				} else {
					d.log.Info().Strs("applied", hot).Msg("SIGHUP: configuration reloaded")
				}
			}
		}
	}, nil
}
