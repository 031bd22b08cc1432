// Package static loads routing state from an `ip -batch` file (labs,
// tests, --static) into a rib.State. Pure Go: it builds and tests without
// cgo.
package static

// Static routing state for labs and tests, written as an iproute2 batch
// script (the input of `ip -batch FILE`, optionally with the `ip` word and
// -4/-6 flags kept so that a shell script pastes in unchanged):
//
//	# uplink
//	address add 192.0.2.1/24 dev 41-00.0
//	neigh add 192.0.2.2 lladdr 02:00:00:00:00:02 dev 41-00.0
//	route add default via 192.0.2.2
//	ip -6 route add 2001:db8:1::/48 nexthop via fe80::1 dev a weight 2 nexthop via fe80::2 dev b
//	route add blackhole 198.51.100.0/24 table 100
//
// The file is a script: lines apply in order, so `route del` removes what
// an earlier `route add` created. Where iproute2 (or the kernel behind it)
// would refuse a line, Parse refuses it too, with the same wording
// where there is one ("File exists", "Invalid prefix for given prefix
// length"), so that a file that loads here also loads with `ip -batch`.
//
// Large files are expected (a full view is over a million routes), so the
// hot path allocates nothing per line in the steady state: tokens are
// substrings of one copy of the file, device names are interned, nexthops
// are carved out of shared chunks, and duplicates are found through a map
// with a pointer-free key.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"fibd/router/rib"
)

// Error is one problem in a static routing file. Parse joins
// all of a file's Errors with errors.Join; use errors.As to get at
// the first one, or an `interface{ Unwrap() []error }` assertion for all.
type Error struct {
	File string
	Line int // 1-based
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ip6DefaultMetric is the metric the kernel gives an IPv6 route added
// without one (or with metric 0): IP6_RT_PRIO_USER. IPv4 routes keep 0.
const ip6DefaultMetric = 1024

// Load reads and parses a static routing file; see Parse.
func Load(path string) (*rib.State, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, src)
}

// Parse parses src, a static routing file in iproute2 batch syntax,
// and returns the state it leaves behind. name is used in error messages.
// On any error it returns nil and every problem of the file, each a
// *Error, joined with errors.Join.
//
// Routes, addresses and neighbours keep the order of the lines that
// created them (a `replace` of an existing entry keeps its place). Route
// identity is what the kernel uses: table, prefix and metric; IPv6 routes
// without a metric get the kernel's default of 1024.
func Parse(name string, src []byte) (*rib.State, error) {
	// Size the route storage from a cheap upper estimate of the number of
	// routes, so that a full view does not grow (and copy) it 20 times.
	// Abbreviated commands ("ip r a") escape the count; they just grow.
	p := newStaticParser(name, bytes.Count(src, []byte("route")))
	// One copy of the file as a string: every token is then a substring of
	// it and costs nothing. Nothing in the result points into it (device
	// names are interned as fresh strings), so it is freed after parsing.
	text := string(src)
	for len(text) > 0 {
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		p.line++
		p.parseLine(line)
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return p.state(), nil
}

// routeKey identifies the routes that share a table and a prefix (the
// metric tells them apart; see staticParser.routeHead). It holds no
// pointers so that a map of a million of them is cheap to hash and
// invisible to the garbage collector.
type routeKey struct {
	addr  [16]byte
	table uint32
	bits  uint8
	is6   bool
}

func makeRouteKey(table uint32, p netip.Prefix) routeKey {
	return routeKey{addr: p.Addr().As16(), table: table, bits: uint8(p.Bits()), is6: p.Addr().Is6()}
}

type neighKey struct {
	addr netip.Addr
	dev  string
}

type addrKey struct {
	prefix netip.Prefix
	dev    string
}

type staticParser struct {
	file string
	line int
	errs []error

	// The state under construction. Deleted entries stay in place as
	// tombstones (an invalid Prefix or Addr) so that indices stay valid;
	// state() compacts them away at the end.
	addrs  []rib.Addr
	routes []rib.Route
	neighs []rib.Neigh

	// routeHead maps table+prefix to the first of its routes; routeNext
	// chains the others (same table and prefix, other metrics: rare), -1
	// ending a chain. routeNext runs parallel to routes.
	routeHead map[routeKey]int32
	routeNext []int32
	neighIdx  map[neighKey]int
	addrIdx   map[addrKey]int

	devs   map[string]string // interned device names
	nhPool []rib.Nexthop     // chunk that route nexthops are carved from

	// Scratch, reused from line to line.
	toks []string
	nhs  []rib.Nexthop
}

func newStaticParser(name string, routes int) *staticParser {
	return &staticParser{
		file:      name,
		routes:    make([]rib.Route, 0, routes),
		routeNext: make([]int32, 0, routes),
		routeHead: make(map[routeKey]int32, routes),
		neighIdx:  make(map[neighKey]int),
		addrIdx:   make(map[addrKey]int),
		devs:      make(map[string]string),
	}
}

func (p *staticParser) errorf(format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: p.line, Msg: fmt.Sprintf(format, args...)})
}

// tokenize splits a line into words at blanks; a word starting with '#'
// starts a comment, as in iproute2's batch mode.
func (p *staticParser) tokenize(line string) []string {
	toks := p.toks[:0]
	for i := 0; i < len(line); {
		c := line[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' {
			i++
			continue
		}
		if c == '#' {
			break
		}
		j := i
		for j < len(line) && !isBlank(line[j]) {
			j++
		}
		toks = append(toks, line[i:j])
		i = j
	}
	p.toks = toks
	return toks
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

// isAbbrev reports whether word is a non-empty prefix of full: iproute2
// accepts any abbreviation of an object or command ("ip r a" is "ip route
// add").
func isAbbrev(word, full string) bool {
	return len(word) > 0 && strings.HasPrefix(full, word)
}

type staticCmd uint8

const (
	cmdAdd staticCmd = iota
	cmdReplace
	cmdDel
)

func (c staticCmd) String() string {
	switch c {
	case cmdAdd:
		return "add"
	case cmdReplace:
		return "replace"
	}
	return "del"
}

func (p *staticParser) parseLine(line string) {
	toks := p.tokenize(line)
	if len(toks) == 0 {
		return
	}
	if toks[0] == "ip" {
		toks = toks[1:]
	}
	family := 0 // 4 or 6 when forced by a flag, 0 to infer
	for len(toks) > 0 && strings.HasPrefix(toks[0], "-") {
		switch toks[0] {
		case "-4":
			family = 4
		case "-6":
			family = 6
		default:
			p.errorf("unknown option %q (only -4 and -6 are accepted)", toks[0])
			return
		}
		toks = toks[1:]
	}
	if len(toks) < 2 {
		p.errorf("incomplete command: want address, route or neigh followed by add, replace or del")
		return
	}
	obj, verb, args := toks[0], toks[1], toks[2:]
	var apply func(staticCmd, int, []string)
	switch {
	case isAbbrev(obj, "route"):
		apply = p.route
	case isAbbrev(obj, "address"):
		apply = p.address
	case isAbbrev(obj, "neighbour"), isAbbrev(obj, "neighbor"):
		apply = p.neigh
	default:
		p.errorf("unknown object %q: want address, route or neigh", obj)
		return
	}
	switch {
	case isAbbrev(verb, "add"):
		apply(cmdAdd, family, args)
	case isAbbrev(verb, "replace"):
		apply(cmdReplace, family, args)
	case isAbbrev(verb, "delete"):
		apply(cmdDel, family, args)
	default:
		p.errorf("unsupported command %q %q: want add, replace or del", obj, verb)
	}
}

// intern returns a copy of a device name that does not pin the file text,
// shared by every entry that names the same device.
func (p *staticParser) intern(dev string) string {
	if s, ok := p.devs[dev]; ok {
		return s
	}
	s := strings.Clone(dev)
	p.devs[s] = s
	return s
}

// parseAddr parses an address as iproute2 does (no zones).
func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("invalid address %q", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("invalid address %q: zones are not accepted, use dev", s)
	}
	return a, nil
}

// parsePrefix parses ADDR/LEN, or a bare ADDR meaning a host prefix. It
// does not require the prefix to be masked.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.IndexByte(s, '/') < 0 {
		a, err := parseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid prefix %q", s)
	}
	return pfx, nil
}

func familyOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

func familyName(f int) string {
	if f == 6 {
		return "IPv6"
	}
	return "IPv4"
}

// parseTable accepts a table number or one of the names iproute2 knows
// without /etc/iproute2/rt_tables. Table 0 means main, as in the kernel.
func parseTable(s string) (uint32, error) {
	switch s {
	case "main":
		return rib.MainTable, nil
	case "local":
		return 255, nil
	case "default":
		return 253, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid table %q: want a number or main", s)
	}
	if n == 0 {
		return rib.MainTable, nil
	}
	return uint32(n), nil
}

// ---- routes ----

// routeSpec is one parsed route line before it is applied.
type routeSpec struct {
	route       rib.Route
	typeGiven   bool
	metricGiven bool
	multipath   bool // nexthops came from `nexthop` clauses
}

func parseRouteType(s string) (rib.RouteType, bool) {
	switch s {
	case "unicast":
		return rib.Unicast, true
	case "blackhole":
		return rib.Blackhole, true
	case "unreachable":
		return rib.Unreachable, true
	case "prohibit":
		return rib.Prohibit, true
	case "throw":
		return rib.Throw, true
	}
	return 0, false
}

// Route types iproute2 knows that fibd does not take from a static file.
func isOtherRouteType(s string) bool {
	switch s {
	case "local", "broadcast", "anycast", "multicast", "nat", "xresolve":
		return true
	}
	return false
}

// looksLikeDestination tells a destination (address, prefix or "default")
// from a misspelt keyword, for a useful error message.
func looksLikeDestination(s string) bool {
	return s == "default" || strings.ContainsAny(s, ".:/") || (s[0] >= '0' && s[0] <= '9')
}

func (p *staticParser) route(cmd staticCmd, family int, args []string) {
	spec, err := p.parseRoute(cmd, family, args)
	if err != nil {
		p.errorf("route %s: %v", cmd, err)
		return
	}
	switch cmd {
	case cmdAdd, cmdReplace:
		if err := p.addRoute(&spec.route, cmd == cmdReplace); err != nil {
			p.errorf("route %s %s: %v", cmd, spec.route.Prefix, err)
		}
	case cmdDel:
		if !p.delRoute(&spec) {
			p.errorf("route del %s: no such route (No such process)", spec.route.Prefix)
		}
	}
}

// parseRoute parses the arguments of `route add|replace|del`. Keywords may
// come in any order, as in iproute2, except that `nexthop` clauses end the
// line.
func (p *staticParser) parseRoute(cmd staticCmd, family int, args []string) (routeSpec, error) {
	var (
		spec     routeSpec
		dst      string
		via      netip.Addr
		dev      string
		tableSet bool
	)
	r := &spec.route
	r.Table = rib.MainTable
	nhs := p.nhs[:0]
	defer func() { p.nhs = nhs[:0] }()

	for i := 0; i < len(args); i++ {
		word := args[i]
		// value returns the argument of a keyword that needs one.
		value := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%q needs an argument", word)
			}
			i++
			return args[i], nil
		}
		switch word {
		case "to":
			v, err := value()
			if err != nil {
				return spec, err
			}
			if dst != "" {
				return spec, fmt.Errorf("duplicate destination %q", v)
			}
			dst = v
		case "via":
			v, err := value()
			if err != nil {
				return spec, err
			}
			if via.IsValid() {
				return spec, fmt.Errorf("duplicate via %q", v)
			}
			if via, err = parseGateway(v); err != nil {
				return spec, err
			}
		case "dev", "oif":
			v, err := value()
			if err != nil {
				return spec, err
			}
			if dev != "" {
				return spec, fmt.Errorf("duplicate dev %q", v)
			}
			dev = v
		case "table":
			v, err := value()
			if err != nil {
				return spec, err
			}
			if tableSet {
				return spec, fmt.Errorf("duplicate table %q", v)
			}
			if r.Table, err = parseTable(v); err != nil {
				return spec, err
			}
			tableSet = true
		case "metric", "priority", "preference":
			v, err := value()
			if err != nil {
				return spec, err
			}
			if spec.metricGiven {
				return spec, fmt.Errorf("duplicate metric %q", v)
			}
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return spec, fmt.Errorf("invalid metric %q", v)
			}
			r.Metric, spec.metricGiven = uint32(n), true
		case "proto", "protocol", "scope":
			// Accepted so that `ip route` output pastes in; fibd has no
			// use for either (every static route is forwarded alike).
			if _, err := value(); err != nil {
				return spec, err
			}
		case "onlink":
			// The gateway is on-link on dev even if no address says so.
			// fibd resolves gateways by neighbour entries, not by
			// connected subnets, whenever dev is given: nothing to keep.
		case "nexthop":
			var err error
			if nhs, err = parseNexthops(args[i:], nhs); err != nil {
				return spec, err
			}
			spec.multipath = true
			i = len(args)
		default:
			if t, ok := parseRouteType(word); ok {
				if spec.typeGiven {
					return spec, fmt.Errorf("duplicate route type %q", word)
				}
				r.Type, spec.typeGiven = t, true
				continue
			}
			if isOtherRouteType(word) {
				return spec, fmt.Errorf("unsupported route type %q (want unicast, blackhole, unreachable, prohibit or throw)", word)
			}
			if !looksLikeDestination(word) {
				return spec, fmt.Errorf("unknown keyword %q", word)
			}
			if dst != "" {
				return spec, fmt.Errorf("either %q is a duplicate destination or %q is garbage", dst, word)
			}
			dst = word
		}
	}
	if dst == "" {
		return spec, errors.New("missing destination prefix (or default)")
	}
	if spec.multipath && (via.IsValid() || dev != "") {
		return spec, errors.New("via and dev go inside nexthop clauses when nexthop is used")
	}
	if via.IsValid() || dev != "" {
		nhs = append(nhs, rib.Nexthop{Gateway: via, Dev: dev})
	}

	// The family: forced by -4/-6, else that of the prefix, else (for
	// default) that of the first gateway, else IPv4 as in iproute2.
	gwFamily := 0
	for _, nh := range nhs {
		if nh.Gateway.IsValid() {
			gwFamily = familyOf(nh.Gateway)
			break
		}
	}
	if dst == "default" {
		f := family
		if f == 0 {
			f = gwFamily
		}
		if f == 6 {
			r.Prefix = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		} else {
			r.Prefix = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		}
	} else {
		pfx, err := parsePrefix(dst)
		if err != nil {
			return spec, err
		}
		if pfx != pfx.Masked() {
			return spec, fmt.Errorf("%s: Invalid prefix for given prefix length (did you mean %s?)", pfx, pfx.Masked())
		}
		r.Prefix = pfx
	}
	pf := familyOf(r.Prefix.Addr())
	if family != 0 && family != pf {
		return spec, fmt.Errorf("%s prefix %s with -%d", familyName(pf), r.Prefix, family)
	}
	for _, nh := range nhs {
		if nh.Gateway.IsValid() && familyOf(nh.Gateway) != pf {
			return spec, fmt.Errorf("%s prefix %s with %s gateway %s", familyName(pf), r.Prefix, familyName(familyOf(nh.Gateway)), nh.Gateway)
		}
	}
	if pf == 6 && r.Metric == 0 {
		r.Metric = ip6DefaultMetric
	}
	if cmd == cmdDel {
		// A deletion matches on whatever it names; nothing is required.
		r.Nexthops = nhs
		return spec, nil
	}

	if r.Type != rib.Unicast {
		if len(nhs) > 0 {
			return spec, fmt.Errorf("%s route: Gateway, device and multipath can not be specified for this route type", r.Type)
		}
		return spec, nil
	}
	if len(nhs) == 0 {
		return spec, errors.New("unicast route needs via, dev or nexthop")
	}
	for _, nh := range nhs {
		if nh.Gateway.Is6() && nh.Gateway.IsLinkLocalUnicast() && nh.Dev == "" {
			return spec, fmt.Errorf("link-local gateway %s needs dev", nh.Gateway)
		}
	}
	r.Nexthops = nhs
	return spec, nil
}

// parseGateway parses the address after `via`. The kernel refuses
// multicast and unspecified gateways; so do we.
func parseGateway(s string) (netip.Addr, error) {
	a, err := parseAddr(s)
	if err != nil {
		return a, err
	}
	if a.IsUnspecified() || a.IsMulticast() {
		return netip.Addr{}, fmt.Errorf("invalid gateway %s", a)
	}
	return a, nil
}

// parseNexthops parses `nexthop via A dev X weight W nexthop ...` up to
// the end of the line, appending to nhs.
func parseNexthops(args []string, nhs []rib.Nexthop) ([]rib.Nexthop, error) {
	for i := 0; i < len(args); i++ {
		if args[i] != "nexthop" {
			return nhs, fmt.Errorf("\"nexthop\" or end of line expected instead of %q", args[i])
		}
		var nh rib.Nexthop
		for i+1 < len(args) && args[i+1] != "nexthop" {
			i++
			word := args[i]
			if word == "onlink" {
				continue
			}
			if i+1 >= len(args) {
				if word == "via" || word == "dev" || word == "weight" {
					return nhs, fmt.Errorf("%q needs an argument", word)
				}
				return nhs, fmt.Errorf("unknown nexthop keyword %q (want via, dev, weight or onlink)", word)
			}
			v := args[i+1]
			switch word {
			case "via":
				if nh.Gateway.IsValid() {
					return nhs, fmt.Errorf("duplicate via %q in nexthop", v)
				}
				a, err := parseGateway(v)
				if err != nil {
					return nhs, err
				}
				nh.Gateway = a
			case "dev":
				if nh.Dev != "" {
					return nhs, fmt.Errorf("duplicate dev %q in nexthop", v)
				}
				nh.Dev = v
			case "weight":
				w, err := strconv.Atoi(v)
				if err != nil || w < 1 || w > 256 {
					return nhs, fmt.Errorf("invalid weight %q: want 1..256", v)
				}
				nh.Weight = w
			default:
				return nhs, fmt.Errorf("unknown nexthop keyword %q (want via, dev, weight or onlink)", word)
			}
			i++
		}
		if !nh.Gateway.IsValid() && nh.Dev == "" {
			return nhs, errors.New("nexthop needs via or dev")
		}
		nhs = append(nhs, nh)
	}
	return nhs, nil
}

// ownNexthops copies scratch nexthops into storage owned by the state,
// carved from a shared chunk (one allocation per few thousand routes
// instead of one per route), with device names interned.
func (p *staticParser) ownNexthops(nhs []rib.Nexthop) []rib.Nexthop {
	if len(nhs) == 0 {
		return nil
	}
	if len(p.nhPool) < len(nhs) {
		p.nhPool = make([]rib.Nexthop, max(4096, len(nhs)))
	}
	out := p.nhPool[:len(nhs):len(nhs)]
	p.nhPool = p.nhPool[len(nhs):]
	for i, nh := range nhs {
		if nh.Dev != "" {
			nh.Dev = p.intern(nh.Dev)
		}
		out[i] = nh
	}
	return out
}

// addRoute applies `route add` (replace false) or `route replace`.
func (p *staticParser) addRoute(r *rib.Route, replace bool) error {
	key := makeRouteKey(r.Table, r.Prefix)
	head, ok := p.routeHead[key]
	if ok {
		for i := head; i >= 0; i = p.routeNext[i] {
			if p.routes[i].Metric != r.Metric {
				continue
			}
			if !replace {
				return fmt.Errorf("table %d metric %d already has this prefix (File exists); use route replace", r.Table, r.Metric)
			}
			r.Nexthops = p.ownNexthops(r.Nexthops)
			p.routes[i] = *r
			return nil
		}
	}
	idx := int32(len(p.routes))
	r.Nexthops = p.ownNexthops(r.Nexthops)
	p.routes = append(p.routes, *r)
	next := int32(-1)
	if ok {
		next = head
	}
	p.routeNext = append(p.routeNext, next)
	p.routeHead[key] = idx
	return nil
}

// delRoute applies `route del`: it removes the route of the table and
// prefix that matches everything the line names (metric, type, nexthops),
// the lowest metric first as the kernel does.
func (p *staticParser) delRoute(spec *routeSpec) bool {
	want := &spec.route
	key := makeRouteKey(want.Table, want.Prefix)
	head, ok := p.routeHead[key]
	if !ok {
		return false
	}
	best, prev, bestPrev := int32(-1), int32(-1), int32(-1)
	for i := head; i >= 0; prev, i = i, p.routeNext[i] {
		r := &p.routes[i]
		if spec.metricGiven && r.Metric != want.Metric {
			continue
		}
		if spec.typeGiven && r.Type != want.Type {
			continue
		}
		if !nexthopsMatch(want.Nexthops, spec.multipath, r.Nexthops) {
			continue
		}
		if best < 0 || r.Metric < p.routes[best].Metric {
			best, bestPrev = i, prev
		}
	}
	if best < 0 {
		return false
	}
	// Unlink from the chain, then leave a tombstone.
	next := p.routeNext[best]
	switch {
	case bestPrev >= 0:
		p.routeNext[bestPrev] = next
	case next >= 0:
		p.routeHead[key] = next
	default:
		delete(p.routeHead, key)
	}
	p.routes[best] = rib.Route{}
	return true
}

// nexthopsMatch reports whether a route's nexthops match those a `route
// del` names: none names any; a single via/dev matches a single-path
// route on the fields given; nexthop clauses must match one by one.
func nexthopsMatch(want []rib.Nexthop, multipath bool, have []rib.Nexthop) bool {
	if len(want) == 0 {
		return true
	}
	if len(want) != len(have) {
		return false
	}
	for i, w := range want {
		h := have[i]
		if w.Gateway.IsValid() && w.Gateway != h.Gateway {
			return false
		}
		if w.Dev != "" && w.Dev != h.Dev {
			return false
		}
		if multipath && w.Weight != 0 && w.Weight != h.Weight {
			return false
		}
	}
	return true
}

// ---- addresses ----

func (p *staticParser) address(cmd staticCmd, family int, args []string) {
	var local, dev string
	for i := 0; i < len(args); i++ {
		word := args[i]
		switch word {
		case "dev", "local":
			if i+1 >= len(args) {
				p.errorf("address %s: %q needs an argument", cmd, word)
				return
			}
			i++
			if word == "dev" {
				if dev != "" {
					p.errorf("address %s: duplicate dev %q", cmd, args[i])
					return
				}
				dev = args[i]
				continue
			}
			word = args[i] // `local ADDR` is ADDR
		default:
			if !looksLikeDestination(word) {
				p.errorf("address %s: unknown keyword %q", cmd, word)
				return
			}
		}
		if local != "" {
			p.errorf("address %s: duplicate address %q", cmd, word)
			return
		}
		local = word
	}
	if local == "" {
		p.errorf("address %s: missing address", cmd)
		return
	}
	if dev == "" {
		p.errorf("address %s %s: Not enough information: \"dev\" argument is required", cmd, local)
		return
	}
	pfx, err := parsePrefix(local)
	if err != nil {
		p.errorf("address %s: %v", cmd, err)
		return
	}
	if f := familyOf(pfx.Addr()); family != 0 && family != f {
		p.errorf("address %s: %s address %s with -%d", cmd, familyName(f), pfx, family)
		return
	}
	bare := strings.IndexByte(local, '/') < 0
	switch cmd {
	case cmdAdd, cmdReplace:
		key := addrKey{pfx, dev}
		if _, ok := p.addrIdx[key]; ok {
			// Replacing an identical address changes nothing.
			if cmd == cmdAdd {
				p.errorf("address add %s dev %s: address already assigned (File exists)", pfx, dev)
			}
			return
		}
		dev = p.intern(dev)
		p.addrIdx[addrKey{pfx, dev}] = len(p.addrs)
		p.addrs = append(p.addrs, rib.Addr{Prefix: pfx, Dev: dev})
	case cmdDel:
		// Without a length, iproute2 deletes the first address that
		// matches whatever its length.
		for i, a := range p.addrs {
			if a.Dev != dev || !a.Prefix.IsValid() {
				continue
			}
			if a.Prefix == pfx || (bare && a.Prefix.Addr() == pfx.Addr()) {
				delete(p.addrIdx, addrKey{a.Prefix, a.Dev})
				p.addrs[i] = rib.Addr{}
				return
			}
		}
		p.errorf("address del %s dev %s: no such address (Cannot assign requested address)", local, dev)
	}
}

// ---- neighbours ----

func (p *staticParser) neigh(cmd staticCmd, family int, args []string) {
	var (
		addrTok, dev string
		mac          net.HardwareAddr
	)
	for i := 0; i < len(args); i++ {
		word := args[i]
		switch word {
		case "to", "lladdr", "dev", "nud":
			if i+1 >= len(args) {
				p.errorf("neigh %s: %q needs an argument", cmd, word)
				return
			}
			i++
			v := args[i]
			switch word {
			case "to":
				if addrTok != "" {
					p.errorf("neigh %s: duplicate address %q", cmd, v)
					return
				}
				addrTok = v
			case "lladdr":
				if mac != nil {
					p.errorf("neigh %s: duplicate lladdr %q", cmd, v)
					return
				}
				m, err := net.ParseMAC(v)
				if err != nil || len(m) != 6 {
					p.errorf("neigh %s: invalid lladdr %q: want an Ethernet MAC such as 02:00:00:00:00:01", cmd, v)
					return
				}
				mac = m
			case "dev":
				if dev != "" {
					p.errorf("neigh %s: duplicate dev %q", cmd, v)
					return
				}
				dev = v
			case "nud":
				// The state is the kernel's business; a static entry
				// is simply valid. Only names iproute2 knows pass.
				switch v {
				case "permanent", "reachable", "stale", "noarp":
				default:
					p.errorf("neigh %s: unsupported nud state %q (want permanent, reachable, stale or noarp)", cmd, v)
					return
				}
			}
		default:
			if !looksLikeDestination(word) {
				p.errorf("neigh %s: unknown keyword %q", cmd, word)
				return
			}
			if addrTok != "" {
				p.errorf("neigh %s: duplicate address %q", cmd, word)
				return
			}
			addrTok = word
		}
	}
	if addrTok == "" || dev == "" {
		p.errorf("neigh %s: Device and destination are required arguments", cmd)
		return
	}
	addr, err := parseAddr(addrTok)
	if err != nil {
		p.errorf("neigh %s: %v", cmd, err)
		return
	}
	if f := familyOf(addr); family != 0 && family != f {
		p.errorf("neigh %s: %s address %s with -%d", cmd, familyName(f), addr, family)
		return
	}
	i, exists := p.neighIdx[neighKey{addr, dev}]
	switch cmd {
	case cmdAdd, cmdReplace:
		if mac == nil {
			p.errorf("neigh %s %s: lladdr is required", cmd, addr)
			return
		}
		if exists {
			if cmd == cmdAdd {
				p.errorf("neigh add %s dev %s: entry exists (File exists); use neigh replace", addr, dev)
				return
			}
			p.neighs[i].MAC = mac
			return
		}
		dev = p.intern(dev)
		p.neighIdx[neighKey{addr, dev}] = len(p.neighs)
		p.neighs = append(p.neighs, rib.Neigh{Addr: addr, MAC: mac, Dev: dev})
	case cmdDel:
		if !exists {
			p.errorf("neigh del %s dev %s: no such entry (No such file or directory)", addr, dev)
			return
		}
		delete(p.neighIdx, neighKey{addr, dev})
		p.neighs[i] = rib.Neigh{}
	}
}

// state compacts the tombstones away and returns the result.
func (p *staticParser) state() *rib.State {
	st := &rib.State{}
	for _, a := range p.addrs {
		if a.Prefix.IsValid() {
			st.Addrs = append(st.Addrs, a)
		}
	}
	for _, n := range p.neighs {
		if n.Addr.IsValid() {
			st.Neighs = append(st.Neighs, n)
		}
	}
	routes := p.routes[:0]
	for _, r := range p.routes {
		if r.Prefix.IsValid() {
			routes = append(routes, r)
		}
	}
	clear(p.routes[len(routes):]) // drop references held by the tail
	st.Routes = routes
	return st
}

// ---- writing ----

// Format writes s in the syntax Parse reads (and `ip -batch`
// too): addresses, then neighbours, then routes, one command per line.
// IPv4 default routes are written "default", IPv6 ones "::/0" so that no
// -6 flag is needed; metrics equal to the kernel default (0 for IPv4, 1024
// for IPv6) are left out, so an IPv6 route with metric 0 reads back with
// 1024. Routes of type Local cannot be written and make it fail.
func Format(w io.Writer, s *rib.State) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var b []byte
	for _, a := range s.Addrs {
		b = append(b[:0], "address add "...)
		b = a.Prefix.AppendTo(b)
		b = append(b, " dev "...)
		b = append(b, a.Dev...)
		b = append(b, '\n')
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	for _, n := range s.Neighs {
		b = append(b[:0], "neigh add "...)
		b = n.Addr.AppendTo(b)
		b = append(b, " lladdr "...)
		b = append(b, n.MAC.String()...)
		b = append(b, " dev "...)
		b = append(b, n.Dev...)
		b = append(b, " nud permanent\n"...)
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	for i := range s.Routes {
		var err error
		if b, err = appendRoute(b[:0], &s.Routes[i]); err != nil {
			return err
		}
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func appendRoute(b []byte, r *rib.Route) ([]byte, error) {
	if !r.Prefix.IsValid() {
		return b, errors.New("router: Format: route with an invalid prefix")
	}
	b = append(b, "route add "...)
	switch r.Type {
	case rib.Unicast:
	case rib.Blackhole, rib.Unreachable, rib.Prohibit, rib.Throw:
		b = append(b, r.Type.String()...)
		b = append(b, ' ')
	default:
		return b, fmt.Errorf("router: Format: %s: cannot write a %s route", r.Prefix, r.Type)
	}
	if r.Prefix.Bits() == 0 && r.Prefix.Addr().Is4() {
		b = append(b, "default"...)
	} else {
		b = r.Prefix.AppendTo(b)
	}
	if r.Table != rib.MainTable {
		b = append(b, " table "...)
		b = strconv.AppendUint(b, uint64(r.Table), 10)
	}
	defMetric := uint32(0)
	if r.Prefix.Addr().Is6() {
		defMetric = ip6DefaultMetric
	}
	if r.Metric != defMetric && r.Metric != 0 {
		b = append(b, " metric "...)
		b = strconv.AppendUint(b, uint64(r.Metric), 10)
	}
	// A single path without a weight is written plainly; anything else
	// in nexthop clauses, which are the only place for a weight.
	if len(r.Nexthops) == 1 && r.Nexthops[0].Weight == 0 {
		b = appendHop(b, r.Nexthops[0])
	} else {
		for _, nh := range r.Nexthops {
			b = append(b, " nexthop"...)
			b = appendHop(b, nh)
			if nh.Weight != 0 {
				b = append(b, " weight "...)
				b = strconv.AppendInt(b, int64(nh.Weight), 10)
			}
		}
	}
	return append(b, '\n'), nil
}

func appendHop(b []byte, nh rib.Nexthop) []byte {
	if nh.Gateway.IsValid() {
		b = append(b, " via "...)
		b = nh.Gateway.AppendTo(b)
	}
	if nh.Dev != "" {
		b = append(b, " dev "...)
		b = append(b, nh.Dev...)
	}
	return b
}
