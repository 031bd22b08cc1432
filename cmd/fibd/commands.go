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

	dpdk "fibd/cgo"
	"fibd/cgo/fptypes"
	"fibd/cmd/internal/ctl"
	"fibd/kni"
	"fibd/router"
)

// withState runs f on the FIB writer's state, whichever mode fibd runs in
// (see query.WithState).
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
	case dpdk.NexthopThrow:
		return "throw"
	}
	return "none"
}

func (q *query) nexthop(p *router.Programmer, t *router.Target) nexthopJSON {
	hop := func(h router.Hop) nexthopJSON {
		port, vid := p.Resolve(h.Port)
		n := nexthopJSON{Type: typeName(h.Type), Device: q.Device(port), VLAN: vid}
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
func (q *query) nexthopOf(idx uint32) nexthopJSON {
	n := nexthopJSON{Type: "no_route"}
	if idx == dpdk.NexthopMiss {
		return n
	}
	q.WithState(func(p *router.Programmer, _ *router.RIB) {
		if tg, ok := p.Nexthop(idx); ok {
			n = q.nexthop(p, &tg)
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

func (q *query) tableOpt(c *ctl.Command) (uint32, error) {
	t := q.KernelTable()
	if s, ok := c.Opts["table"]; ok {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("table=%q: %w", s, err)
		}
		t = uint32(n)
	}
	if !q.HasTable(t) {
		return 0, fmt.Errorf("%w: %d", errNoTable, t)
	}
	return t, nil
}

func cmdStatus(q *query, c *ctl.Command, o *output) error {
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
		TablesFreed uint64  `json:"tables_freed,omitempty"`
		Workers     int     `json:"workers"`
		GraceStalls uint64  `json:"grace_stalls"`
		Stalled     []int   `json:"stalled_workers"`
		Ports       int     `json:"ports"`
		Uptime      float64 `json:"uptime_seconds"`
	}
	cfg := q.Config()
	fs := q.FIBSummary()
	s := status{Mode: q.Mode(), Config: cfg.File, KernelTable: q.KernelTable(),
		Routes4: fs.Routes4, Routes6: fs.Routes6, Rebuilds: fs.Rebuilds,
		Nexthops: fs.Nexthops, Refused: fs.Refused, Workers: dpdk.WorkerCount(),
		Ports: len(q.Ports()), Uptime: q.Uptime().Seconds()}
	rcu := dpdk.ReadRCUInfo()
	s.GraceStalls = rcu.Stalls
	if rcu.Stalled {
		s.Stalled = rcu.StalledWorkers
	}
	if m, ok := q.Mirror(); ok {
		s.Netns = cfg.RouterNetns
		s.Mirroring = m.Connected
		s.Resyncs, s.Overruns, s.Events = m.Resyncs, m.Overruns, m.Events
		s.Reconciles, s.Repaired = m.Reconciles, m.Repaired
		s.Flushed, s.Replaced = m.Flushed, m.Replaced
		s.TablesOut, s.TablesFreed = m.TablesRefusedText, m.TablesFreed
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
		if s.TablesFreed > 0 {
			fmt.Fprintf(tw, "tables freed (no rule names them)\t%d\n", s.TablesFreed)
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
func cmdRIBShow(q *query, c *ctl.Command, o *output) error {
	table, err := q.tableOpt(c)
	if err != nil {
		return err
	}
	release, err := q.ribShowSlot()
	if err != nil {
		return err
	}
	defer release()
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
	if err := q.WithState(func(prog *router.Programmer, rib *router.RIB) {
		snap = rib.Snapshot(match)
		hops = make([]nexthopJSON, len(snap.Targets))
		for i := range snap.Targets {
			hops[i] = q.nexthop(prog, &snap.Targets[i])
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

func cmdFIBLookup(q *query, c *ctl.Command, o *output) error {
	if !c.Target.Addr.IsValid() {
		return errors.New("router fib lookup IP [table=N | iif=IFACE [from=IP]]")
	}
	if _, ok := c.Opts["iif"]; ok {
		return ruleLookup(q, c, o)
	}
	table, err := q.tableOpt(c)
	if err != nil {
		return err
	}
	idx, err := q.Lookup(table, c.Target.Addr)
	if err != nil {
		return err
	}
	type lookupJSON struct {
		Addr    string      `json:"address"`
		Table   uint32      `json:"table"`
		Index   uint32      `json:"nexthop_index"`
		Nexthop nexthopJSON `json:"nexthop"`
	}
	res := lookupJSON{Addr: c.Target.Addr.String(), Table: table, Index: idx, Nexthop: q.nexthopOf(idx)}
	if o.json {
		return o.record(res)
	}
	_, err = fmt.Fprintf(o.w, "%s table %d: %s (nexthop %d)\n", res.Addr, table, res.Nexthop, idx)
	return err
}

func cmdNeighShow(v6 bool) func(*query, *ctl.Command, *output) error {
	return func(q *query, c *ctl.Command, o *output) error {
		type neighJSON struct {
			Addr   string `json:"address"`
			MAC    string `json:"mac"`
			Device string `json:"device"`
		}
		var ns []neighJSON
		err := q.WithState(func(_ *router.Programmer, rib *router.RIB) {
			rib.EachNeigh(func(a netip.Addr, p fptypes.PortID, mac [6]byte) {
				if a.Is6() == v6 {
					ns = append(ns, neighJSON{a.String(), net.HardwareAddr(mac[:]).String(), q.Device(dpdk.PortID(p))})
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

func cmdDeviceShow(q *query, c *ctl.Command, o *output) error {
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
	for _, s := range q.Exceptions() {
		exc[s.Exception.Port.ID] = s
	}
	tw := o.table()
	if !o.json {
		fmt.Fprintf(tw, "device\tdir\tport\tdriver\tmac\tlink\tpeer\trx\ttx\tpunted\tpoliced\tfrom_rib\tsubnets\n")
	}
	for _, p := range q.Ports() {
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
		if rd, ok := q.Config().RouterDeviceFor(dev); ok {
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

func cmdLagShow(q *query, c *ctl.Command, o *output) error {
	type lagJSON struct {
		Name    string   `json:"name"`
		Dir     string   `json:"dir"`
		Devices []string `json:"devices"`
	}
	lags := q.Config().Lags
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
func ruleLookup(q *query, c *ctl.Command, o *output) error {
	id, ok, err := q.InterfaceID(c.Opts["iif"])
	if err != nil {
		return err
	}
	dst := c.Target.Addr
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
		if res.Index, err = q.Lookup(q.KernelTable(), dst); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		res.Index = nh[0]
	}
	if res.Index >= dpdk.VerdictDropBase {
		res.Nexthop = nexthopJSON{Type: dpdk.DropReasons()[res.Index-dpdk.VerdictDropBase]}
	} else {
		res.Nexthop = q.nexthopOf(res.Index)
	}
	if o.json {
		return o.record(res)
	}
	_, err = fmt.Fprintf(o.w, "%s iif %s: %s (nexthop %d)\n", res.Addr, res.IIF, res.Nexthop, res.Index)
	return err
}

func cmdRuleShow(q *query, c *ctl.Command, o *output) error {
	plan, err := q.Rules()
	if err != nil {
		return err
	}
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

func cmdStatsShow(q *query, c *ctl.Command, o *output) error {
	r, err := q.Report(q.Uptime())
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

func cmdStatsReset(q *query, c *ctl.Command, o *output) error {
	nports, nworkers, err := q.ResetStats()
	if err != nil {
		return err
	}
	x := struct {
		result
		Ports   int `json:"ports"`   // ports whose counters were zeroed
		Workers int `json:"workers"` // workers whose counters were zeroed
	}{done("counters reset"), nports, nworkers}
	return o.answer(x, x.result)
}

func cmdFIBRefresh(q *query, c *ctl.Command, o *output) error {
	type refreshJSON struct {
		result
		Source string `json:"source"` // "kernel" (router=1) or the static file
	}
	src, err := q.Refresh()
	if err != nil {
		return err
	}
	x := refreshJSON{done("resync requested"), src}
	if src != "kernel" {
		x.Message = "static state reprogrammed from " + src
	}
	return o.answer(x, x.result)
}

func cmdReload(q *query, c *ctl.Command, o *output) error {
	hot, err := q.Reload()
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

func (q *query) announceTarget(c *ctl.Command) (netip.Prefix, error) {
	if _, err := q.Announced(); err != nil {
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

func cmdAnnounceAdd(q *query, c *ctl.Command, o *output) error {
	p, err := q.announceTarget(c)
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
	s.Pool = pool == "1" || (pool == "" && inPool(p, q.Config().NATPools))
	if !force {
		if err := announceAllowed(p, q.Config().NATPools); err != nil {
			return err
		}
	}
	dirs, pol, err := q.AnnounceFor(s)
	if err != nil {
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

func cmdAnnounceDel(q *query, c *ctl.Command, o *output) error {
	p, err := q.announceTarget(c)
	if err != nil {
		return err
	}
	if err := q.Announce(p, 0); err != nil {
		return err
	}
	x := announceJSON{done(p.String() + " withdrawn"), p.String(), router.Dir(0).String()}
	return o.answer(x, x.result)
}

func cmdAnnounceShow(q *query, c *ctl.Command, o *output) error {
	ann, err := q.Announced()
	if err != nil {
		return err
	}
	type annJSON struct {
		Prefix string `json:"prefix"`
		Dir    string `json:"dir"`
	}
	var ps []netip.Prefix
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
