package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
	"fibd/cgo/fptypes"
	"fibd/cmd/internal/ctl"
	"fibd/cmd/internal/lifecycle"
	"fibd/conf"
	"fibd/kni"
	"fibd/lpm"
	"fibd/ports"
	"fibd/ports/pcap"
	"fibd/router"
	"fibd/saveip"
)

// daemon is fibd: its components (components.go) in start order, and
// the state they share. The control server, the metrics and the report
// read that state only through query (query.go), which states the rule of
// each part.
//
// Concurrency: the fields below are written by the main goroutine while
// the components start (before the control and metrics servers and the
// SIGHUP handler exist) and never again, except where a field says
// otherwise; every goroutine started later may read them.
type daemon struct {
	log zerolog.Logger
	// cfg is the configuration fibd started with. It never changes once run
	// has begun: run and the components read its cold parameters. The
	// running configuration, hot changes included, is config().
	cfg    *conf.Config
	live   atomic.Pointer[conf.Config] // set by reload (under mu); nil: cfg
	opt    *options
	stdout io.Writer
	lc     *lifecycle.List[*conf.Config] // the components, in start order

	ealArgs []string      // argv of the EAL: program, EAL options, devices
	static  *router.State // --static: the state read before start, until the FIB has it
	lcores  []uint        // the worker lcores

	eal    *dpdk.EAL
	ports  *ports.Set
	fib    *lpm.FIB
	prog   *router.Programmer // static state
	router *router.Router     // router=1: the netlink mirror

	exc       *kni.Set          // router=1: the exception interfaces
	announcer *router.Announcer // router=1: subscriber and NAT pool announcements
	policy    router.Policy     // under mu: set at start and by reloads

	// the address sync's own (its goroutine): router=1's session peers, and
	// what the fast path was last given per port
	peers   *router.Peers
	ifaddrs map[dpdk.PortID][]dpdk.IfAddr
	// excThread: the exception thread runs (its component's start and
	// stop write it; the address sync's ticker reads it)
	excThread atomic.Bool

	// ajb_save_ip's recorder: set by its component's start, before the
	// control and metrics servers start; read through query.SaveIP
	saveIP *saveip.Recorder

	// the main goroutine's (start and stop): whether the workers were
	// launched, when, when they stopped, and whether run got to its end
	launched, finished bool
	started, stopped   time.Time

	mu        sync.Mutex  // guards prog, staticRIB, policy and reloads against the control server
	staticRIB *router.RIB // --static: the resolved state

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

// run starts the components in order, forwards until asked to stop (a
// signal, --duration, or in a lab the inputs drained), then stops them in
// reverse order: see components for the list and why it is in that order.
func (d *daemon) run(ctx context.Context, prog string, ealArgs []string) error {
	devArgs, err := ports.EALArgs(d.cfg)
	if err != nil {
		return err
	}
	if d.opt.static != "" {
		if d.static, err = d.loadStatic(); err != nil {
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
	d.ealArgs = append(append([]string{prog}, ealArgs...), devArgs...)
	if d.lc, err = d.components(); err != nil {
		return err
	}
	d.lc.Trace = func(step, name string, took time.Duration, err error) {
		msg := "component started"
		if step == "stop" {
			msg = "component stopped"
		}
		d.log.Debug().Str("component", name).Dur("took", took).Err(err).Msg(msg)
	}
	if err := d.lc.Start(ctx); err != nil {
		return err
	}
	d.log.Info().Int("workers", len(d.lcores)).Dur("idle_sleep", d.cfg.WorkerIdleSleep).Msg("forwarding")
	d.wait(ctx, drain)
	d.finished = true
	return d.lc.Stop()
}

// reload re-reads the configuration: it is validated (a changed cold
// parameter refuses the whole reload, naming it, and the running
// configuration stays), then each changed hot parameter goes to the one
// component that applies it (components). Callers: the SIGHUP handler and
// the control server; d.mu serialises them.
func (d *daemon) reload() (hot []string, err error) {
	nc, err := conf.Load(d.opt.config)
	if err != nil {
		return nil, fmt.Errorf("reload refused, running configuration kept: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.config()
	hot, cold := nc.Changed(cur)
	if len(cold) > 0 {
		return nil, fmt.Errorf("reload refused: cold parameter(s) %v changed (restart fibd to apply them); running configuration kept", cold)
	}
	if d.opt.idleSleep >= 0 { // the command line wins over the file
		nc.WorkerIdleSleep = cur.WorkerIdleSleep
	}
	logAdvice(d.log, nc)
	if err := d.lc.Apply(hot, cur, nc); err != nil {
		return nil, err
	}
	d.live.Store(nc)
	d.log.Info().Strs("hot", hot).Msg("configuration reloaded")
	return hot, nil
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
