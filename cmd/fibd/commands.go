package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
	"fibd/cgo/fptypes"
	"fibd/cmd/internal/ctl"
	"fibd/conf"
	"fibd/kni"
	"fibd/router"
)

// withState runs f on the FIB writer's state, whichever mode fibd runs in.
// The writer waits while f runs: f copies what it needs and returns, and
// never writes to a client (see cmdRIBShow).
func (d *daemon) withState(f func(p *router.Programmer, rib *router.RIB)) error {
	if d.router != nil {
		d.router.Do(f)
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.prog == nil || d.staticRIB == nil {
		return errors.New("no routing state (neither router=1 nor --static)")
	}
	f(d.prog, d.staticRIB)
	return nil
}

func (d *daemon) device(p dpdk.PortID) string {
	for _, x := range d.ports.Ports {
		if x.ID == p {
			return x.Dev.Name
		}
	}
	return fmt.Sprintf("port%d", p)
}

// nexthopJSON is the JSON form of a FIB decision. Field names are stable.
type nexthopJSON struct {
	Type    string        `json:"type"`
	Device  string        `json:"device,omitempty"`
	VLAN    uint16        `json:"vlan,omitempty"` // 802.1Q VID of a sub-interface
	MAC     string        `json:"mac,omitempty"`
	Members []nexthopJSON `json:"members,omitempty"`
	Weight  int           `json:"weight,omitempty"`
}

func typeName(t dpdk.NexthopType) string {
	switch t {
	case dpdk.NexthopForward:
		return "forward"
	case dpdk.NexthopECMP:
		return "ecmp"
	case dpdk.NexthopUnresolved:
		return "unresolved"
	case dpdk.NexthopLocal:
		return "local"
	case dpdk.NexthopPunt:
		return "punt"
	case dpdk.NexthopBlackhole:
		return "blackhole"
	case dpdk.NexthopUnreachable:
		return "unreachable"
	case dpdk.NexthopProhibit:
		return "prohibit"
	}
	return "none"
}

func (d *daemon) nexthop(p *router.Programmer, t *router.Target) nexthopJSON {
	hop := func(h router.Hop) nexthopJSON {
		port, vid := p.Resolve(h.Port)
		n := nexthopJSON{Type: typeName(h.Type), Device: d.device(port), VLAN: vid}
		if h.Type == dpdk.NexthopForward {
			n.MAC = net.HardwareAddr(h.MAC[:]).String()
		}
		return n
	}
	switch t.Type {
	case dpdk.NexthopForward, dpdk.NexthopUnresolved, dpdk.NexthopPunt:
		return hop(t.Hop)
	case dpdk.NexthopECMP:
		n := nexthopJSON{Type: "ecmp"}
		for _, m := range t.Members {
			x := hop(m.Hop)
			x.Weight = m.Weight
			n.Members = append(n.Members, x)
		}
		return n
	}
	return nexthopJSON{Type: typeName(t.Type)}
}

// nexthopOf describes nexthop index idx as the programmer knows it.
func (d *daemon) nexthopOf(idx uint32) nexthopJSON {
	n := nexthopJSON{Type: "no_route"}
	if idx == dpdk.NexthopMiss {
		return n
	}
	d.withState(func(p *router.Programmer, _ *router.RIB) {
		if tg, ok := p.Nexthop(idx); ok {
			n = d.nexthop(p, &tg)
		}
	})
	return n
}

func (n nexthopJSON) String() string {
	switch n.Type {
	case "forward":
		if n.VLAN != 0 {
			return fmt.Sprintf("via %s dev %s vlan %d", n.MAC, n.Device, n.VLAN)
		}
		return fmt.Sprintf("via %s dev %s", n.MAC, n.Device)
	case "unresolved":
		return fmt.Sprintf("dev %s (neighbour unresolved)", n.Device)
	case "punt":
		return fmt.Sprintf("punt to the exception interface of %s", n.Device)
	case "ecmp":
		s := "ecmp"
		for _, m := range n.Members {
			s += fmt.Sprintf(" [%s weight %d]", m, m.Weight)
		}
		return s
	}
	return n.Type
}

func (d *daemon) tableOpt(c *ctl.Command) (uint32, error) {
	t := d.kernelTable()
	if s, ok := c.Opts["table"]; ok {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("table=%q: %w", s, err)
		}
		t = uint32(n)
	}
	if _, ok := d.fib.Tables()[t]; !ok {
		return 0, fmt.Errorf("%w: %d", errNoTable, t)
	}
	return t, nil
}

func cmdStatus(d *daemon, c *ctl.Command, o *output) error {
	type status struct {
		Mode        string  `json:"mode"`
		Config      string  `json:"config"`
		Netns       string  `json:"netns,omitempty"`
		KernelTable uint32  `json:"kernel_table"`
		Mirroring   bool    `json:"mirroring"`
		Routes4     uint64  `json:"routes4"`
		Routes6     uint64  `json:"routes6"`
		Nexthops    int     `json:"nexthops"`
		Refused     uint64  `json:"routes_refused"`
		Rebuilds    uint64  `json:"fib_rebuilds"`
		Resyncs     uint64  `json:"resyncs"`
		Overruns    uint64  `json:"overruns"`
		Events      uint64  `json:"netlink_events"`
		Reconciles  uint64  `json:"reconciles,omitempty"`
		Repaired    uint64  `json:"fib_repaired,omitempty"`
		Flushed     uint64  `json:"silent_flushes,omitempty"`
		Replaced    uint64  `json:"netns_replaced,omitempty"`
		TablesOut   string  `json:"tables_refused,omitempty"` // "id: why; …"
		Workers     int     `json:"workers"`
		GraceStalls uint64  `json:"grace_stalls"`
		Stalled     []int   `json:"stalled_workers"`
		Ports       int     `json:"ports"`
		Uptime      float64 `json:"uptime_seconds"`
	}
	cfg := d.config()
	s := status{Mode: "static", Config: cfg.File, KernelTable: d.kernelTable(),
		Nexthops: d.fib.NH.Live(), Refused: d.fib.Refused.Load(), Workers: dpdk.WorkerCount(),
		Ports: len(d.ports.Ports), Uptime: time.Since(d.started).Seconds()}
	rcu := dpdk.ReadRCUInfo()
	s.GraceStalls = rcu.Stalls
	if rcu.Stalled {
		s.Stalled = rcu.StalledWorkers
	}
	if d.router != nil {
		s.Mode, s.Netns = "router", cfg.RouterNetns
		s.Mirroring = d.router.Stats.Connected.Load()
		s.Resyncs, s.Overruns, s.Events = d.router.Stats.Resyncs.Load(), d.router.Stats.Overruns.Load(), d.router.Stats.Events.Load()
		s.Reconciles, s.Repaired = d.router.Stats.Reconciles.Load(), d.router.Stats.Repaired.Load()
		s.Flushed, s.Replaced = d.router.Stats.Flushed.Load(), d.router.Stats.NetnsReplaced.Load()
		s.TablesOut = d.router.RefusedTablesText()
	}
	for _, t := range d.fib.Tables() {
		if i, err := d.fib.Info(t); err == nil {
			s.Routes4 += i.Routes4
			s.Routes6 += i.Routes6
			s.Rebuilds += i.Rebuilds
		}
	}
	if o.json {
		return o.record(s)
	}
	tw := o.table()
	fmt.Fprintf(tw, "mode\t%s\nconfig\t%s\n", s.Mode, s.Config)
	if s.Mode == "router" {
		fmt.Fprintf(tw, "netns\t%s (mirroring: %v)\nresyncs / overruns / events\t%d / %d / %d\n", s.Netns, s.Mirroring, s.Resyncs, s.Overruns, s.Events)
		fmt.Fprintf(tw, "reconciles / FIB changes repaired\t%d / %d\nsilent kernel flushes followed\t%d\nnetns replaced\t%d\n",
			s.Reconciles, s.Repaired, s.Flushed, s.Replaced)
		if s.TablesOut != "" {
			fmt.Fprintf(tw, "tables refused\t%s\n", s.TablesOut)
		}
	}
	fmt.Fprintf(tw, "kernel table\t%d\nroutes\t%d IPv4, %d IPv6\nnexthops\t%d\nroutes refused\t%d\nFIB rebuilds\t%d\nworkers\t%d\nports\t%d\nuptime\t%s\n",
		s.KernelTable, s.Routes4, s.Routes6, s.Nexthops, s.Refused, s.Rebuilds, s.Workers, s.Ports,
		time.Duration(s.Uptime*float64(time.Second)).Round(time.Second))
	fmt.Fprintf(tw, "grace stalls\t%d", s.GraceStalls)
	if len(s.Stalled) > 0 {
		fmt.Fprintf(tw, " (STALLED NOW: workers %v; FIB changes held)", s.Stalled)
	}
	fmt.Fprintln(tw)
	return tw.Flush()
}

// cmdRIBShow streams the RIB's routes, sorted. They are copied while the
// router waits (a snapshot, about 40 bytes a route), then written as fast
// as the client reads: a slow client never holds the router.
func cmdRIBShow(d *daemon, c *ctl.Command, o *output) error {
	table, err := d.tableOpt(c)
	if err != nil {
		return err
	}
	select {
	case d.ribShows <- struct{}{}:
		defer func() { <-d.ribShows }()
	default:
		return fmt.Errorf("busy: %d rib shows already running; try again", cap(d.ribShows))
	}
	match := func(t uint32, p netip.Prefix) bool {
		if t != table {
			return false
		}
		tg := c.Target
		switch {
		case tg.Prefix.IsValid():
			return tg.Prefix.Overlaps(p) && p.Bits() >= tg.Prefix.Bits()
		case tg.Addr.IsValid():
			return p.Contains(tg.Addr)
		case tg.From.IsValid():
			return p.Contains(tg.From) || p.Contains(tg.To) || (tg.From.Less(p.Addr()) && p.Addr().Less(tg.To))
		}
		return true
	}
	var snap *router.Snapshot
	var hops []nexthopJSON
	if err := d.withState(func(prog *router.Programmer, rib *router.RIB) {
		snap = rib.Snapshot(match)
		hops = make([]nexthopJSON, len(snap.Targets))
		for i := range snap.Targets {
			hops[i] = d.nexthop(prog, &snap.Targets[i])
		}
	}); err != nil {
		return err
	}
	// The router runs again from here on.
	slices.SortFunc(snap.Routes, func(a, b router.RouteView) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return a.Prefix.Bits() - b.Prefix.Bits()
	})
	type ribJSON struct {
		Table  uint32      `json:"table"`
		Prefix string      `json:"prefix"`
		Nextop nexthopJSON `json:"nexthop"`
	}
	o.begin()
	for _, r := range snap.Routes {
		var err error
		if o.json {
			err = o.record(ribJSON{r.Table, r.Prefix.String(), hops[r.Target]})
		} else {
			_, err = fmt.Fprintf(o.w, "%s %s\n", r.Prefix, hops[r.Target])
		}
		if err != nil { // the client is gone or too slow
			return err
		}
	}
	return nil
}

func cmdFIBLookup(d *daemon, c *ctl.Command, o *output) error {
	if !c.Target.Addr.IsValid() {
		return errors.New("router fib lookup IP [table=N | iif=IFACE [from=IP]]")
	}
	if _, ok := c.Opts["iif"]; ok {
		return ruleLookup(d, c, o)
	}
	table, err := d.tableOpt(c)
	if err != nil {
		return err
	}
	t := d.fib.Tables()[table]
	idx := d.fib.Lookup(t, c.Target.Addr)
	type lookupJSON struct {
		Addr    string      `json:"address"`
		Table   uint32      `json:"table"`
		Index   uint32      `json:"nexthop_index"`
		Nexthop nexthopJSON `json:"nexthop"`
	}
	res := lookupJSON{Addr: c.Target.Addr.String(), Table: table, Index: idx, Nexthop: d.nexthopOf(idx)}
	if o.json {
		return o.record(res)
	}
	_, err = fmt.Fprintf(o.w, "%s table %d: %s (nexthop %d)\n", res.Addr, table, res.Nexthop, idx)
	return err
}

func cmdNeighShow(v6 bool) func(*daemon, *ctl.Command, *output) error {
	return func(d *daemon, c *ctl.Command, o *output) error {
		type neighJSON struct {
			Addr   string `json:"address"`
			MAC    string `json:"mac"`
			Device string `json:"device"`
		}
		var ns []neighJSON
		err := d.withState(func(_ *router.Programmer, rib *router.RIB) {
			rib.EachNeigh(func(a netip.Addr, p fptypes.PortID, mac [6]byte) {
				if a.Is6() == v6 {
					ns = append(ns, neighJSON{a.String(), net.HardwareAddr(mac[:]).String(), d.device(dpdk.PortID(p))})
				}
			})
		})
		if err != nil {
			return err
		}
		slices.SortFunc(ns, func(a, b neighJSON) int {
			return netip.MustParseAddr(a.Addr).Compare(netip.MustParseAddr(b.Addr))
		})
		tw := o.table()
		for _, n := range ns {
			if o.json {
				o.record(n)
			} else {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", n.Addr, n.MAC, n.Device)
			}
		}
		return tw.Flush()
	}
}

// excJSON is a device's exception interface.
type excJSON struct {
	Mode     string            `json:"mode"`             // tap or veth
	Punted   uint64            `json:"punted"`           // frames written to it
	PuntDrop uint64            `json:"punt_dropped"`     // ... it refused
	Policed  map[string]uint64 `json:"policed"`          // held back, by class
	FromRib  uint64            `json:"from_rib"`         // frames the routing daemon sent
	FromDrop uint64            `json:"from_rib_dropped"` // ... lost to a full ring
	Attached bool              `json:"attached"`         // has a port (false while its netns is made again)
	Reattach uint64            `json:"reattached"`       // times made again after its netns or veth pair was
}

func cmdDeviceShow(d *daemon, c *ctl.Command, o *output) error {
	type devJSON struct {
		Device    string   `json:"device"`
		Dir       string   `json:"dir"`
		Port      uint16   `json:"port"`
		Driver    string   `json:"driver"`
		MAC       string   `json:"mac"`
		Link      bool     `json:"link_up"`
		Speed     uint32   `json:"speed_mbps"`
		Tap       string   `json:"tap,omitempty"`
		Peer      string   `json:"peer,omitempty"`
		Subnets   []string `json:"subnets,omitempty"`
		RxPkts    uint64   `json:"rx_packets"`
		TxPkts    uint64   `json:"tx_packets"`
		RxMissed  uint64   `json:"rx_missed"`
		Exception *excJSON `json:"exception,omitempty"`
	}
	exc := map[dpdk.PortID]kni.Stats{}
	if d.exc != nil {
		for _, s := range d.exc.Stats() {
			exc[s.Exception.Port.ID] = s
		}
	}
	tw := o.table()
	if !o.json {
		fmt.Fprintf(tw, "device\tdir\tport\tdriver\tmac\tlink\tpeer\trx\ttx\tpunted\tpoliced\tfrom_rib\tsubnets\n")
	}
	for _, p := range d.ports.Ports {
		x := devJSON{Device: p.Dev.Name, Dir: p.Dev.Dir.String(), Port: uint16(p.ID), Driver: p.Driver, MAC: p.MAC.String()}
		if l, err := p.Link(); err == nil {
			x.Link, x.Speed = l.Up, l.SpeedMbps
		}
		if s, err := p.ID.Stats(); err == nil {
			x.RxPkts, x.TxPkts, x.RxMissed = s.IPackets, s.OPackets, s.IMissed
		}
		dev := p.Dev.Name
		if p.Lag != nil { // the LAG's router_device names one of its members
			dev = p.Members[0].Dev.Name
		}
		if rd, ok := d.config().RouterDeviceFor(dev); ok {
			x.Tap, x.Peer = rd.Tap, rd.Peer
			for _, s := range append(append([]netip.Prefix{}, rd.Subnets...), rd.Subnets6...) {
				x.Subnets = append(x.Subnets, s.String())
			}
		}
		var punted, policed, fromRib uint64
		if e, ok := exc[p.ID]; ok {
			x.Exception = &excJSON{Mode: e.Exception.Mode, Punted: e.ToExc, PuntDrop: e.ToExcDrop,
				FromRib: e.FromExc, FromDrop: e.FromExcDrop, Attached: e.Attached, Reattach: e.Reattached,
				Policed: map[string]uint64{}}
			for c, n := range e.Policed {
				x.Exception.Policed[dpdk.PuntClasses[c]] = n
				policed += n
			}
			punted, fromRib = e.ToExc, e.FromExc
		}
		if o.json {
			o.record(x)
			continue
		}
		link := "down"
		if x.Link {
			link = "up"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%v\n", x.Device, x.Dir, x.Port, x.Driver, x.MAC, link,
			x.Peer, x.RxPkts, x.TxPkts, punted, policed, fromRib, x.Subnets)
	}
	return tw.Flush()
}

func cmdLagShow(d *daemon, c *ctl.Command, o *output) error {
	type lagJSON struct {
		Name    string   `json:"name"`
		Dir     string   `json:"dir"`
		Devices []string `json:"devices"`
	}
	lags := d.config().Lags
	for _, l := range lags {
		x := lagJSON{l.Name, l.Dir.String(), l.Devices}
		if o.json {
			o.record(x)
		} else {
			fmt.Fprintf(o.w, "%s (%s): %v\n", x.Name, x.Dir, x.Devices)
		}
	}
	if len(lags) == 0 && !o.json {
		fmt.Fprintln(o.w, "no lag sections")
	}
	return nil
}

// ruleLookup answers "router fib lookup IP iif=IFACE [from=IP]": what the
// fast path does with such a packet, through the ip rules.
func ruleLookup(d *daemon, c *ctl.Command, o *output) error {
	if d.router == nil {
		return errors.New("iif= needs router=1 (ip rules)")
	}
	dst := c.Target.Addr
	id, ok := d.router.InterfaceID(c.Opts["iif"])
	if !ok {
		return fmt.Errorf("iif=%s: not an interface of fibd", c.Opts["iif"])
	}
	src := netip.IPv4Unspecified()
	if dst.Is6() {
		src = netip.IPv6Unspecified()
	}
	if s, ok := c.Opts["from"]; ok {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Is4() != dst.Is4() {
			return fmt.Errorf("from=%q: want an address of the destination's family", s)
		}
		src = a
	}
	fam := 4
	if dst.Is6() {
		fam = 6
	}
	type lookupJSON struct {
		Addr    string      `json:"address"`
		IIF     string      `json:"iif"`
		Index   uint32      `json:"nexthop_index"`
		Nexthop nexthopJSON `json:"nexthop"`
	}
	res := lookupJSON{Addr: dst.String(), IIF: c.Opts["iif"]}
	nh, err := dpdk.LookupRules(fam, []dpdk.RuleQuery{{IIF: id, Src: src, Dst: dst}})
	switch {
	case errors.Is(err, syscall.ENOENT): // no rules evaluated: the kernel table decides
		t := d.fib.Tables()[d.kernelTable()]
		res.Index = d.fib.Lookup(t, dst)
	case err != nil:
		return err
	default:
		res.Index = nh[0]
	}
	if res.Index >= dpdk.VerdictDropBase {
		res.Nexthop = nexthopJSON{Type: dpdk.DropReasons()[res.Index-dpdk.VerdictDropBase]}
	} else {
		res.Nexthop = d.nexthopOf(res.Index)
	}
	if o.json {
		return o.record(res)
	}
	_, err = fmt.Fprintf(o.w, "%s iif %s: %s (nexthop %d)\n", res.Addr, res.IIF, res.Nexthop, res.Index)
	return err
}

func cmdRuleShow(d *daemon, c *ctl.Command, o *output) error {
	if d.router == nil {
		return errors.New("ip rules are mirrored with router=1")
	}
	plan := d.router.Rules()
	type ruleJSON struct {
		Rule      string `json:"rule"`
		Evaluated bool   `json:"evaluated"` // false: the kernel table alone decides (the usual chain)
		Problem   string `json:"problem,omitempty"`
	}
	if !o.json {
		if plan.Active {
			fmt.Fprintf(o.w, "the fast path evaluates %d rules, tables %v\n", len(plan.Rules), plan.Tables)
		} else {
			fmt.Fprintln(o.w, "the usual rules: every packet is looked up in the kernel table")
		}
	}
	for _, r := range plan.Rules {
		if o.json {
			o.record(ruleJSON{Rule: r.String(), Evaluated: plan.Active})
		} else {
			fmt.Fprintf(o.w, "  %s\n", r)
		}
	}
	for _, p := range plan.Problems {
		if o.json {
			o.record(ruleJSON{Rule: p, Problem: "unsupported"})
		} else {
			fmt.Fprintf(o.w, "  not evaluated: %s\n", p)
		}
	}
	return nil
}

func cmdStatsShow(d *daemon, c *ctl.Command, o *output) error {
	r, err := d.report(time.Since(d.started))
	if err != nil {
		return err
	}
	if o.json {
		return o.record(r)
	}
	r.writeText(o.w)
	return nil
}

// result is the answer of a command that acts (stats reset, fib refresh,
// reload, announce add and del): under --json one object with "ok" (true),
// "message" (the text answer) and the command's own fields. A refusal is
// the status line's error, which fdpi_cli --json prints as
// {"ok":false,"error":"..."}. Field names are stable.
type result struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

func done(msg string) result { return result{OK: true, Message: msg} }

// answer writes an action's result: v (which embeds a result) under
// --json, its message otherwise.
func (o *output) answer(v any, r result) error {
	if o.json {
		return o.record(v)
	}
	_, err := fmt.Fprintln(o.w, r.Message)
	return err
}

func cmdStatsReset(d *daemon, c *ctl.Command, o *output) error {
	dpdk.ResetWorkerStats()
	for _, p := range d.ports.Ports {
		if err := p.ID.ResetStats(); err != nil {
			return err
		}
	}
	x := struct {
		result
		Ports   int `json:"ports"`   // ports whose counters were zeroed
		Workers int `json:"workers"` // workers whose counters were zeroed
	}{done("counters reset"), len(d.ports.Ports), dpdk.WorkerCount()}
	return o.answer(x, x.result)
}

func cmdFIBRefresh(d *daemon, c *ctl.Command, o *output) error {
	type refreshJSON struct {
		result
		Source string `json:"source"` // "kernel" (router=1) or the static file
	}
	if d.router != nil {
		d.router.RequestResync()
		x := refreshJSON{done("resync requested"), "kernel"}
		return o.answer(x, x.result)
	}
	if d.opt.static == "" {
		return errors.New("nothing to refresh from")
	}
	st, err := d.loadStatic()
	if err != nil {
		return err
	}
	if err := d.program(st); err != nil {
		return err
	}
	x := refreshJSON{done("static state reprogrammed from " + d.opt.static), d.opt.static}
	return o.answer(x, x.result)
}

func cmdReload(d *daemon, c *ctl.Command, o *output) error {
	hot, err := d.reload()
	if err != nil {
		return err
	}
	x := struct {
		result
		Applied []string `json:"applied"` // the hot parameters that changed; [] when none did
	}{done("configuration unchanged"), append([]string{}, hot...)}
	if len(hot) > 0 {
		x.Message = fmt.Sprintf("applied: %v", hot)
	}
	return o.answer(x, x.result)
}

// reload re-reads the configuration. Hot parameters apply now; a changed
// cold parameter refuses the whole reload, naming it, and the running
// configuration stays.
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
	dpdk.SetIdleSleep(nc.WorkerIdleSleep)
	if err := d.setPuntRates(nc); err != nil {
		return nil, err
	}
	dpdk.SetRouterAddrs(nc.BrasArpIP, nc.BrasIPv6Address)
	if d.opt.logLevel == "" {
		if lv, err := zerolog.ParseLevel(nc.LogLevel); err == nil {
			zerolog.SetGlobalLevel(lv)
		}
	}
	if d.router != nil {
		d.router.SetRefresh(nc.RouterFIBRefresh)
	}
	logAdvice(d.log, nc)
	d.setRtnlPcap(nc)
	if d.exc != nil { // router_tap_pcap* are hot
		if err := d.exc.SetCapture(kni.CaptureConfigOf(nc)); err != nil {
			d.log.Error().Err(err).Msg("router_tap_pcap")
		}
	}
	// router_subs_metrics, auth_announce_reject, fibd_nat_pool and
	// fibd_subs_gateway are hot
	d.reloadAnnouncements(cur, nc)
	d.live.Store(nc)
	d.log.Info().Strs("hot", hot).Msg("configuration reloaded")
	return hot, nil
}

func (d *daemon) announceTarget(c *ctl.Command) (netip.Prefix, error) {
	if d.announcer == nil {
		return netip.Prefix{}, errors.New("announcements need router=1 (a router netns to announce into)")
	}
	switch {
	case c.Target.Prefix.IsValid():
		return c.Target.Prefix, nil
	case c.Target.Addr.IsValid():
		return netip.PrefixFrom(c.Target.Addr, c.Target.Addr.BitLen()), nil
	}
	return netip.Prefix{}, errors.New("want IP or CIDR")
}

func cmdAnnounceAdd(d *daemon, c *ctl.Command, o *output) error {
	p, err := d.announceTarget(c)
	if err != nil {
		return err
	}
	s := router.Subscriber{Prefix: p, Override: -1}
	force, pool := false, ""
	for k, v := range c.Opts {
		switch {
		case k == "dir" && v == "inet":
			s.Dir = router.DirInet
		case k == "dir" && v == "subs":
			s.Dir = router.DirSubs
		case k == "announce" && (v == "0" || v == "1"):
			s.Override = int(v[0] - '0')
		case k == "reject" && (v == "0" || v == "1"):
			s.Rejected = v == "1"
		case k == "nat" && (v == "0" || v == "1"): // service 11
			s.NAT = v == "1"
		case k == "force" && (v == "0" || v == "1"):
			force = v == "1"
		case k == "pool" && (v == "0" || v == "1"):
			pool = v
		default:
			return fmt.Errorf("option %s=%s: want dir=inet|subs, announce=0|1, reject=0|1, nat=0|1, pool=0|1, force=0|1", k, v)
		}
	}
	// A part of a NAT pool is announced as a pool (bit 4, towards inet),
	// unless pool=0; pool=1 makes any prefix one.
	s.Pool = pool == "1" || (pool == "" && inPool(p, d.config().NATPools))
	if !force {
		if err := announceAllowed(p, d.config().NATPools); err != nil {
			return err
		}
	}
	d.mu.Lock()
	pol := d.policy
	d.mu.Unlock()
	dirs := pol.Dirs(s)
	if err := d.announcer.Set(p, dirs); err != nil {
		return err
	}
	x := announceJSON{done(fmt.Sprintf("%s announced to %s", p, dirs)), p.String(), dirs.String()}
	if dirs == 0 {
		x.Message = fmt.Sprintf("%s not announced (router_subs_announce=%d, auth_announce_reject, announce=)", p, pol.Bits)
	}
	return o.answer(x, x.result)
}

// announceJSON is the result of announce add and del.
type announceJSON struct {
	result
	Prefix string `json:"prefix"`
	Dir    string `json:"dir"` // as in announce show; "none": not announced (withdrawn)
}

// announceAllowed says whether p may be announced without force=1: a
// subscriber's address (a /32 or /128 host route of a unicast address) or
// a part of a configured NAT pool. Anything else (a default route, some
// other network's prefix) would be announced into BGP as if it were ours.
func announceAllowed(p netip.Prefix, pools []netip.Prefix) error {
	for _, pool := range pools {
		if pool.Bits() <= p.Bits() && pool.Contains(p.Addr()) {
			return nil
		}
	}
	if p.IsSingleIP() {
		if a := p.Addr(); !a.IsGlobalUnicast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return fmt.Errorf("refused: %s is not a unicast subscriber address (force=1 announces it anyway)", a)
		}
		return nil
	}
	return fmt.Errorf("refused: %s is neither a subscriber address (/32, /128) nor inside a fibd_nat_pool (force=1 announces it anyway)", p)
}

func cmdAnnounceDel(d *daemon, c *ctl.Command, o *output) error {
	p, err := d.announceTarget(c)
	if err != nil {
		return err
	}
	if err := d.announcer.Set(p, 0); err != nil {
		return err
	}
	x := announceJSON{done(p.String() + " withdrawn"), p.String(), router.Dir(0).String()}
	return o.answer(x, x.result)
}

func cmdAnnounceShow(d *daemon, c *ctl.Command, o *output) error {
	if d.announcer == nil {
		return errors.New("announcements need router=1")
	}
	type annJSON struct {
		Prefix string `json:"prefix"`
		Dir    string `json:"dir"`
	}
	var ps []netip.Prefix
	ann := d.announcer.Announced()
	for p := range ann {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	for _, p := range ps {
		if o.json {
			o.record(annJSON{p.String(), ann[p].String()})
		} else {
			fmt.Fprintf(o.w, "%s\t%s\n", p, ann[p])
		}
	}
	return nil
}
