package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
	"fibd/cgo/fptypes"
	"fibd/cmd/internal/ctl"
	"fibd/conf"
	"fibd/kni"
	"fibd/lpm"
	"fibd/ports"
	"fibd/ports/pcap"
	"fibd/router"
)

// daemon is fibd. Its control server, metrics and tickers run on their
// own goroutines while the router goroutine writes the FIB; each shared
// field says how others read it.
type daemon struct {
	log zerolog.Logger
	// cfg is the configuration fibd started with. It never changes once run
	// has begun: run and the components read its cold parameters. The
	// running configuration, hot changes included, is config().
	cfg    *conf.Config
	live   atomic.Pointer[conf.Config] // set by reload (under mu); nil: cfg
	opt    *options
	stdout io.Writer

	eal    *dpdk.EAL
	ports  *ports.Set
	fib    *lpm.FIB
	prog   *router.Programmer // static state
	router *router.Router     // router=1: the netlink mirror

	exc       *kni.Set          // router=1: the exception interfaces
	announcer *router.Announcer // router=1: subscriber and NAT pool announcements
	policy    router.Policy

	// the address sync's own (its goroutine): router=1's session peers, and
	// what the fast path was last given per port
	peers   *router.Peers
	ifaddrs map[dpdk.PortID][]dpdk.IfAddr

	rtnlStop context.CancelFunc // router_rtnl_pcap recording, when on
	rctx     context.Context    // lives as long as the router

	mu        sync.Mutex  // guards prog, staticRIB, policy and reloads against the control server
	staticRIB *router.RIB // --static: the resolved state
	started   time.Time

	ctlAuth    *ctl.Verifier // the control secret (fibd_cli_secret); nil: none usable
	ctlAuthErr error         // why there is none
	ribShows   chan struct{} // a slot per rib show snapshot in progress
}

// config is the running configuration: cfg plus the hot changes of
// reloads. Any goroutine may read it; it is never modified, only replaced.
func (d *daemon) config() *conf.Config {
	if c := d.live.Load(); c != nil {
		return c
	}
	return d.cfg
}

// kernelTable is the table whose routes feed FIB slot 0: router_kernel_table,
// or the main table in labs without a router section.
func (d *daemon) kernelTable() uint32 {
	if d.cfg.RouterKernelTable != 0 {
		return d.cfg.RouterKernelTable
	}
	return router.MainTable
}

// loadStatic reads the static state; routes without a table (main) go to
// the kernel table, as if BIRD had written them there.
func (d *daemon) loadStatic() (*router.State, error) {
	st, err := router.LoadStatic(d.opt.static)
	if err != nil {
		return nil, err
	}
	kt := d.kernelTable()
	for i := range st.Routes {
		if st.Routes[i].Table == router.MainTable {
			st.Routes[i].Table = kt
		}
	}
	return st, nil
}

func (d *daemon) check() error {
	if _, err := ports.EALArgs(d.cfg); err != nil {
		return err
	}
	if d.opt.static != "" {
		if _, err := d.loadStatic(); err != nil {
			return err
		}
	}
	return nil
}

func (d *daemon) run(ctx context.Context, prog string, ealArgs []string) error {
	devArgs, err := ports.EALArgs(d.cfg)
	if err != nil {
		return err
	}
	var st *router.State
	if d.opt.static != "" {
		if st, err = d.loadStatic(); err != nil {
			return err
		}
	}
	var drain map[string]int
	if d.opt.lab {
		if drain, err = labInputs(d.cfg.Vdevs); err != nil {
			return err
		}
		for name := range drain {
			if _, ok := d.cfg.DeviceByName(name); !ok {
				return fmt.Errorf("--lab: %s has an rx_pcap but is not in in_dev/out_dev: its input would never be read", name)
			}
		}
	}

	args := append([]string{prog}, ealArgs...)
	args = append(args, devArgs...)
	d.log.Info().Strs("eal", args[1:]).Msg("starting EAL")
	if d.eal, err = dpdk.Init(args); err != nil {
		return err
	}
	defer func() {
		if err := d.eal.Cleanup(); err != nil {
			d.log.Warn().Err(err).Msg("EAL cleanup")
		}
	}()
	if control, err := dpdk.KeepOffWorkerCPUs(); err != nil {
		d.log.Warn().Err(err).Msg("control-plane threads may preempt workers")
	} else {
		d.log.Debug().Int("control_cpus", control.Count()).Msg("control plane kept off worker CPUs")
	}
	lcores := d.eal.WorkerLcores()
	if len(lcores) == 0 {
		return fmt.Errorf("no worker lcore: give the EAL at least two lcores (e.g. -l 0-1); lcore %d runs the control plane", d.eal.MainLcore())
	}
	if len(lcores) > dpdk.MaxWorkers {
		return fmt.Errorf("%d worker lcores, this build supports %d (meson option max_workers)", len(lcores), dpdk.MaxWorkers)
	}

	layout := ports.Layout{Workers: len(lcores), RxDesc: 1024, TxDesc: 1024}
	mbufs := d.cfg.Mbufs
	if mbufs == 0 {
		// Every rx and tx ring full, plus each worker's bursts and caches.
		mbufs = len(d.cfg.Devices)*len(lcores)*(layout.RxDesc+layout.TxDesc) + len(lcores)*(4*dpdk.Burst+512) + 4096
	}
	if err := dpdk.CreatePool("fibd_mbufs", uint32(mbufs), -1); err != nil {
		return err
	}
	if d.ports, err = ports.Open(d.log, d.cfg, layout); err != nil {
		return err
	}
	defer func() {
		if err := d.ports.Close(); err != nil {
			d.log.Warn().Err(err).Msg("closing ports")
		}
	}()

	sizes := map[uint32]lpm.TableSize{}
	for _, ts := range d.cfg.TableSizes {
		sizes[ts.Table] = lpm.TableSize{Routes4: ts.Routes4, Routes6: ts.Routes6}
	}
	d.fib = lpm.New(d.log, lpm.Config{MaxRoutes4: d.cfg.RouterMaxIP4Routes, MaxRoutes6: d.cfg.RouterMaxIP6Routes, Sizes: sizes,
		Own: d.cfg.FIB == conf.FIBOwn})
	if _, err := d.fib.Table(d.kernelTable(), 0); err != nil {
		return err
	}
	if st != nil {
		d.prog = router.NewProgrammer(d.log, d.fib)
		if err := d.program(st); err != nil {
			return err
		}
	}

	// In router mode the router goroutine is the FIB's writer. Forwarding
	// starts once the FIB mirrors the kernel, or after router_fib_refresh
	// at most (router_netns may not exist yet: forwarding starts anyway).
	routerDone := make(chan struct{})
	rctx, stopRouter := context.WithCancel(ctx)
	d.rctx = rctx
	defer func() { stopRouter(); <-routerDone }() // before the EAL goes, on every path
	if st == nil && d.cfg.Router {
		d.router = router.New(d.log, router.Config{
			Netns:        d.cfg.RouterNetns,
			KernelTable:  d.kernelTable(),
			ARPCacheSize: d.cfg.RouterARPCacheSize,
			Refresh:      d.cfg.RouterFIBRefresh,
			BindCore:     d.cfg.RouterBindCore,
			SchedAddPrio: d.cfg.RouterSchedAddPrio,
			Punts:        d.punts(),
		}, d.ports, d.fib)
		go func() {
			defer close(routerDone)
			d.router.Run(rctx)
		}()
		select {
		case <-d.router.Ready():
		case <-time.After(d.cfg.RouterFIBRefresh):
			d.log.Warn().Dur("router_fib_refresh", d.cfg.RouterFIBRefresh).
				Msg("FIB not mirrored yet; forwarding starts anyway")
		case <-ctx.Done():
		}
	} else {
		close(routerDone)
	}

	if err := dpdk.InitDataplane(len(lcores)); err != nil {
		return err
	}
	for _, w := range d.ports.Workers(lcores) {
		if err := dpdk.AddWorker(w); err != nil {
			return err
		}
	}
	dpdk.SetIdleSleep(d.cfg.WorkerIdleSleep)
	if err := d.setPuntRates(d.cfg); err != nil {
		return err
	}
	if d.cfg.Router && st == nil {
		if d.exc, err = kni.Open(d.log, d.cfg, d.ports); err != nil {
			return err
		}
		defer func() {
			if err := d.exc.Close(); err != nil {
				d.log.Warn().Err(err).Msg("closing exception interfaces")
			}
		}()
	}

	if n, err := ports.RaiseAFPacketSendBuffers(64 << 20); err != nil {
		d.log.Warn().Err(err).Msg("af_packet send buffers stay small: a full ring can hang a worker")
	} else if n > 0 {
		d.log.Debug().Int("sockets", n).Msg("af_packet send buffers raised")
	}
	dpdk.SetRouterAddrs(d.cfg.BrasArpIP, d.cfg.BrasIPv6Address)
	d.ifaddrs = map[dpdk.PortID][]dpdk.IfAddr{}
	if d.cfg.Router {
		d.peers = &router.Peers{Netns: d.cfg.RouterNetns}
	}
	d.syncPortAddrs()
	go func() { // addresses and peers change with the router netns
		t := time.NewTicker(time.Second)
		defer t.Stop()
		if d.peers != nil {
			defer d.peers.Close()
		}
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				d.syncPortAddrs()
				if d.exc != nil {
					d.exc.SyncLinks()
					if err := d.exc.TickCapture(time.Now()); err != nil {
						d.log.Error().Err(err).Msg("router_tap_pcap rotation")
					}
				}
			}
		}
	}()

	if err := d.ports.Start(); err != nil {
		return err
	}
	start := time.Now()
	d.started = start
	if err := d.eal.Launch(); err != nil {
		return err
	}
	go watchWorkers(rctx, d.log)
	go watchLinks(rctx, d.log, d.ports)
	// The exception thread runs where the main lcore does (off the workers').
	if err := d.eal.Do(dpdk.StartExceptions); err != nil {
		return err
	}
	// before the workers stop: they drain its rings; kni restarts it no more
	defer func() { d.exc.Unwatch(); dpdk.StopExceptions() }()
	if d.exc != nil {
		// a router netns made again: kni makes its interfaces again
		d.exc.Watch(func() error { return d.eal.Do(dpdk.StartExceptions) })
		d.exc.SyncLinks()
		if err := d.exc.SetCapture(kni.CaptureConfigOf(d.cfg)); err != nil {
			d.log.Error().Err(err).Msg("router_tap_pcap")
		}
	}
	d.setRtnlPcap(d.cfg)
	if d.cfg.Router {
		d.startAnnouncer()
		defer func() {
			if err := d.announcer.WithdrawAll(); err != nil {
				d.log.Warn().Err(err).Msg("withdrawing announcements")
			}
		}()
	}
	// The control server (fdpi_cli) and SIGHUP reloads.
	ln, err := d.listenCtl()
	if err != nil {
		return err
	}
	ctlDone, metricsDone := make(chan struct{}), make(chan struct{})
	go func() { defer close(ctlDone); d.serveCtl(rctx, ln) }()
	go func() { defer close(metricsDone); d.serveMetrics(rctx, d.cfg.MetricsListen) }()
	// Both servers read DPDK: they end before ports close and the EAL goes.
	defer func() { stopRouter(); <-ctlDone; <-metricsDone }()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-rctx.Done():
				return
			case <-hup:
				if hot, err := d.reload(); err != nil {
					d.log.Error().Err(err).Msg("SIGHUP")
				} else {
					d.log.Info().Strs("applied", hot).Msg("SIGHUP: configuration reloaded")
				}
			}
		}
	}()
	d.log.Info().Int("workers", len(lcores)).Dur("idle_sleep", d.cfg.WorkerIdleSleep).Msg("forwarding")

	d.wait(ctx, drain)
	// The router must be gone before the workers stop and the EAL goes.
	stopRouter()
	<-routerDone

	d.exc.Unwatch()
	if err := dpdk.StopExceptions(); err != nil {
		d.log.Warn().Err(err).Msg("stopping the exception thread")
	}
	if err := d.eal.StopWorkers(); err != nil {
		d.log.Warn().Err(err).Msg("stopping workers")
	}
	elapsed := time.Since(start)
	rep, err := d.report(elapsed)
	if err != nil {
		return err
	}
	if !d.opt.quiet {
		rep.writeText(d.stdout)
	}
	if d.opt.statsJSON != "" {
		if err := rep.writeJSON(d.opt.statsJSON); err != nil {
			return err
		}
	}
	return nil
}

// setRtnlPcap starts or stops the recording of rtnetlink messages
// (router_rtnl_pcap, hot).
func (d *daemon) setRtnlPcap(c *conf.Config) {
	on := c.Router && c.RouterRtnlPcap && d.opt.static == ""
	if on == (d.rtnlStop != nil) {
		return
	}
	if !on {
		d.rtnlStop()
		d.rtnlStop = nil
		return
	}
	ctx, stop := context.WithCancel(d.rctx)
	d.rtnlStop = stop
	rotate := c.RouterTapPcapRotate
	if rotate == 0 {
		rotate = c.AjbUdpiFtimeout
	}
	go func() {
		if err := router.RecordRtnl(ctx, d.log, c.RouterNetns, c.AjbUdpiPath, rotate); err != nil {
			d.log.Error().Err(err).Msg("router_rtnl_pcap stopped")
		}
	}()
}

// punts lists the router_device subnets with their ports: the FIB sends
// them to the exception interfaces.
func (d *daemon) punts() []router.Punt {
	if d.cfg.Exception == conf.ExceptionNone {
		return nil
	}
	var out []router.Punt
	for _, it := range kni.Plan(d.cfg) {
		p, ok := d.ports.PortOf(it.Device)
		if !ok {
			continue
		}
		for _, s := range it.Subnets {
			out = append(out, router.Punt{Prefix: s, Port: fptypes.PortID(p)})
		}
	}
	return out
}

// setPuntRates applies the fibd_punt_rate_* policers (burst: a tenth of a
// second's worth, at least 64).
func (d *daemon) setPuntRates(c *conf.Config) error {
	for cls, pps := range map[dpdk.PuntClass]uint32{
		dpdk.PuntProto: c.PuntRateProto, dpdk.PuntND: c.PuntRateND, dpdk.PuntOther: c.PuntRateOther,
		dpdk.PuntGlean: c.PuntRateGlean,
	} {
		if err := dpdk.SetPuntRate(cls, pps, max(pps/10, 64)); err != nil {
			return err
		}
	}
	return nil
}

// syncPortAddrs tells the fast path fibd's addresses on each port and its
// sub-interfaces (the first of each family, link-local excluded: the
// source of its ICMP errors), their subnets and the routing daemon's
// session peers (where protocol punts may come from: the policer's
// protected class). Runs on one goroutine (start, then the ticker).
func (d *daemon) syncPortAddrs() {
	type pair struct{ v4, v6 netip.Addr }
	want := map[dpdk.PortID]pair{}
	ifaddrs := map[dpdk.PortID][]dpdk.IfAddr{}
	d.withState(func(prog *router.Programmer, rib *router.RIB) {
		rib.EachAddr(func(a netip.Prefix, rid fptypes.PortID) {
			id := dpdk.PortID(rid)
			ad := a.Addr()
			if ad.Is6() && ad.IsLinkLocalUnicast() {
				return // the fast path takes every link-local source as on-link
			}
			port, _ := prog.Resolve(rid)
			ifaddrs[port] = append(ifaddrs[port], dpdk.IfAddr{IIF: id, Prefix: a})
			x := want[id]
			switch {
			case ad.Is4() && (!x.v4.IsValid() || ad.Less(x.v4)):
				x.v4 = ad
			case ad.Is6() && (!x.v6.IsValid() || ad.Less(x.v6)):
				x.v6 = ad
			}
			want[id] = x
		})
	})
	var peers []netip.Addr
	if d.peers != nil {
		var err error
		if peers, err = d.peers.List(); err != nil {
			d.log.Debug().Err(err).Msg("routing daemon's peers not known")
		}
	}
	for _, p := range d.ports.Ports {
		x := want[p.ID]
		p.ID.SetAddrs(x.v4, x.v6)
		l := ifaddrs[p.ID]
		for _, a := range peers {
			l = append(l, dpdk.IfAddr{IIF: dpdk.AnyIIF, Prefix: netip.PrefixFrom(a, a.BitLen())})
		}
		// each sub-interface's lowest address of a family comes first
		slices.SortFunc(l, func(a, b dpdk.IfAddr) int {
			return cmp.Or(cmp.Compare(a.IIF, b.IIF), a.Prefix.Addr().Compare(b.Prefix.Addr()),
				cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()))
		})
		if slices.Equal(l, d.ifaddrs[p.ID]) {
			continue
		}
		if err := p.ID.SetIfAddrs(l); err != nil {
			d.log.Error().Err(err).Msg("interface addresses not given to the fast path")
			continue
		}
		d.ifaddrs[p.ID] = l
	}
}

// program resolves a state and applies it to the FIB.
func (d *daemon) program(st *router.State) error {
	t0 := time.Now()
	rib := router.NewRIB(d.ports, d.kernelTable(), len(st.Routes))
	for _, err := range rib.Load(st) {
		d.log.Warn().Err(err).Msg("static state: neighbour not usable")
	}
	for _, p := range rib.Problems {
		d.log.Warn().Err(p).Msg("static state: entry not usable")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ss, err := d.prog.SyncEach(rib.Len(), rib.Each)
	d.staticRIB = rib
	if err != nil {
		return err
	}
	d.log.Info().Int("added", ss.Added).Int("replaced", ss.Replaced).Int("deleted", ss.Deleted).
		Int("refused", ss.Refused).Int("nexthops", ss.Nexthops).Dur("took", time.Since(t0)).
		Msg("FIB programmed")
	return nil
}

// wait returns when the context ends, the duration passes, or (lab) every
// rx_pcap has been received in full.
func (d *daemon) wait(ctx context.Context, drain map[string]int) {
	var deadline <-chan time.Time
	if d.opt.duration > 0 {
		t := time.NewTimer(d.opt.duration)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var last uint64
	lastChange := time.Now()
	for {
		select {
		case <-ctx.Done():
			d.log.Info().Msg("signal: stopping")
			return
		case <-deadline:
			return
		case <-tick.C:
			if drain == nil {
				continue
			}
			done, seen := d.drained(drain)
			if done {
				d.log.Info().Uint64("packets", seen).Msg("lab inputs drained")
				return
			}
			if seen != last {
				last, lastChange = seen, time.Now()
			} else if time.Since(lastChange) > 10*time.Second {
				d.log.Warn().Uint64("received", seen).Msg("lab inputs stalled for 10s: stopping")
				return
			}
		}
	}
}

// drained tells whether every port with an rx_pcap has received (or
// counted as missed or erroneous) all of the file's packets.
func (d *daemon) drained(want map[string]int) (bool, uint64) {
	done := true
	var total uint64
	for _, p := range d.ports.Ports {
		n, ok := want[p.Name.DPDK]
		if !ok {
			continue
		}
		s, err := p.ID.Stats()
		if err != nil {
			return false, total
		}
		got := s.IPackets + s.IMissed + s.IErrors + s.RxNoMbuf
		total += got
		if got < uint64(n) {
			done = false
		}
	}
	return done, total
}

// labInputs counts the packets of every rx_pcap of the pcap vdevs. A vdev
// with infinite_rx never drains and is refused in lab mode.
func labInputs(vdevs []string) (map[string]int, error) {
	want := map[string]int{}
	for _, spec := range vdevs {
		parts := strings.Split(spec, ",")
		name := parts[0]
		for _, kv := range parts[1:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "rx_pcap":
				n, err := pcap.CountPackets(v)
				if err != nil {
					return nil, fmt.Errorf("%s: rx_pcap: %w", name, err)
				}
				want[name] += n
			case "infinite_rx":
				if v != "0" {
					return nil, fmt.Errorf("%s: infinite_rx never drains; use --duration instead of --lab", name)
				}
			}
		}
	}
	if len(want) == 0 {
		return nil, errors.New("--lab needs at least one fibd_vdev with rx_pcap=")
	}
	return want, nil
}
