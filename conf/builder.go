package conf

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// builder turns the key=value occurrences that a front end (the fastdpi
// form or TOML) reads into a Config, then validates it as a whole. It
// collects every error instead of stopping at the first.
type builder struct {
	file  string
	cfg   *Config
	errs  []*Error
	lines map[string][]int // top-level key -> lines of its accepted occurrences
	sec   *section         // the open section, or nil
	secs  []*section       // every router_device and lag section, in order
}

// section is a section being read.
type section struct {
	name    string // router_device, lag, or the name of an unknown section
	line    int    // line of the opening "name {"
	ignored bool   // an unknown section: its contents are skipped
	rd      RouterDevice
	lag     Lag
	lines   map[string][]int // key -> lines of its accepted occurrences
}

func newBuilder(file string) *builder {
	c := Default()
	c.File = file
	return &builder{file: file, cfg: c, lines: map[string][]int{}}
}

// errorf records an error.
func (b *builder) errorf(line int, param, format string, args ...any) {
	b.errs = append(b.errs, &Error{File: b.file, Line: line, Param: param, Msg: fmt.Sprintf(format, args...)})
}

// line returns the line of the last occurrence of key in lines, or def.
func lastLine(lines map[string][]int, key string, def int) int {
	if l := lines[key]; len(l) > 0 {
		return l[len(l)-1]
	}
	return def
}

// nthLine returns the line of the i-th occurrence of key, or def.
func nthLine(lines map[string][]int, key string, i, def int) int {
	if l := lines[key]; i < len(l) {
		return l[i]
	}
	return def
}

// spec returns how key takes its value where the builder stands (at top
// level or in the open section); false if key is not a parameter there.
func (b *builder) spec(key string) (spec, bool) {
	if b.sec == nil {
		if p := lookup(topParams, key); p != nil {
			return p.spec, true
		}
		return spec{}, false
	}
	switch b.sec.name {
	case "router_device":
		if p := lookup(routerDeviceParams, key); p != nil {
			return p.spec, true
		}
	case "lag":
		if p := lookup(lagParams, key); p != nil {
			return p.spec, true
		}
	}
	return spec{}, false
}

// set applies one occurrence of key=val, read at line.
func (b *builder) set(key, val string, line int) {
	if s := b.sec; s != nil {
		b.setInSection(s, key, val, line)
		return
	}
	p := lookup(topParams, key)
	if p == nil {
		b.unknown(key, line)
		return
	}
	if hasControl(val) {
		b.errorf(line, key, "the value contains control characters")
		return
	}
	if err := p.set(b.cfg, val); err != nil {
		b.errorf(line, key, "%v", err)
		return
	}
	b.lines[key] = append(b.lines[key], line)
}

// unknown deals with a top-level key that is not a parameter of fibd's.
func (b *builder) unknown(key string, line int) {
	switch {
	case lookup(routerDeviceParams, key) != nil || lookup(lagParams, key) != nil:
		b.errorf(line, key, "allowed only inside a router_device { } or lag { } section")
	case isSection(key):
		b.errorf(line, key, "is a section: write %s {, with '{' on the same line", key)
	case hasStrictPrefix(key):
		b.errorf(line, key, "unknown parameter%s", suggest(key))
	default:
		b.cfg.Ignored = append(b.cfg.Ignored, Ignored{Key: key, Line: line})
	}
}

func hasStrictPrefix(key string) bool {
	for _, p := range strictPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// suggest returns " (did you mean X?)" for the known parameter closest to
// a misspelt key, or "".
func suggest(key string) string {
	best, bestD := "", 3 // suggest only at distance 1 or 2
	for _, p := range topParams {
		if d := editDistance(key, p.Name); d < bestD {
			best, bestD = p.Name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func (b *builder) setInSection(s *section, key, val string, line int) {
	var found bool
	var err error
	switch {
	case s.ignored:
		return
	case s.name == "router_device":
		found, err = apply(routerDeviceParams, &s.rd, key, val)
	case s.name == "lag":
		found, err = apply(lagParams, &s.lag, key, val)
	}
	if found && hasControl(val) {
		err = errors.New("the value contains control characters")
	}
	switch {
	case !found:
		var names []string
		for _, k := range sectionByName(s.name).keys() {
			names = append(names, k.Name)
		}
		b.errorf(line, key, "not a parameter of the %s section (%s opened at line %d allows %s)",
			s.name, s.name, s.line, strings.Join(names, ", "))
	case err != nil:
		b.errorf(line, key, "%v", err)
	default:
		s.lines[key] = append(s.lines[key], line)
	}
}

// apply sets key in t if table has it.
func apply[T any](table []param[T], t *T, key, val string) (found bool, err error) {
	p := lookup(table, key)
	if p == nil {
		return false, nil
	}
	return true, p.set(t, val)
}

func sectionByName(name string) sectionKind {
	for _, s := range sections {
		if s.Name == name {
			return s
		}
	}
	panic("conf: no section " + name)
}

// open starts a section. An unknown name opens an ignored section unless it
// is in one of fibd's namespaces.
func (b *builder) open(name string, line int) {
	s := &section{name: name, line: line, lines: map[string][]int{}}
	if !isSection(name) {
		if hasStrictPrefix(name) {
			b.errorf(line, name, "unknown section (fibd has router_device and lag)")
		} else {
			b.cfg.Ignored = append(b.cfg.Ignored, Ignored{Key: name, Line: line})
		}
		s.ignored = true
	}
	b.sec = s
}

// close ends the open section.
func (b *builder) close() {
	if s := b.sec; s != nil && !s.ignored {
		b.secs = append(b.secs, s)
	}
	b.sec = nil
}

// finish validates the configuration as a whole and returns it, or all the
// errors found, sorted by line.
func (b *builder) finish() (*Config, error) {
	if b.sec != nil {
		b.errorf(b.sec.line, b.sec.name, "section is not closed: '}' missing")
		b.close()
	}
	b.checkDevices()
	b.checkVdevs()
	b.buildLags()
	b.buildRouterDevices()
	b.checkTapPcap()
	b.checkBRAS()
	b.checkRouter()
	if len(b.errs) == 0 {
		return b.cfg, nil
	}
	slices.SortStableFunc(b.errs, func(x, y *Error) int { return cmp.Compare(x.Line, y.Line) })
	errs := make([]error, len(b.errs))
	for i, e := range b.errs {
		errs[i] = e
	}
	return nil, errors.Join(errs...)
}

// checkDevices refuses a device listed in both in_dev and out_dev.
func (b *builder) checkDevices() {
	in := map[string]bool{}
	for _, d := range b.cfg.Devices {
		if d.Dir == DirSubs {
			in[canonicalDevice(d.Name)] = true
		} else if in[canonicalDevice(d.Name)] {
			b.errorf(lastLine(b.lines, "out_dev", 0), "out_dev",
				"device %s is in in_dev too; a device may appear only once", d.Name)
		}
	}
}

// checkVdevs refuses two fibd_vdev of one name, and a vdev with the name of
// a PCI device (impossible by syntax, but cheap to state).
func (b *builder) checkVdevs() {
	seen := map[string]int{}
	for i, v := range b.cfg.Vdevs {
		name, _ := checkVdev(v)
		line := nthLine(b.lines, "fibd_vdev", i, 0)
		if prev, ok := seen[name]; ok {
			b.errorf(line, "fibd_vdev", "vdev %s is already defined at line %d", name, prev)
			continue
		}
		seen[name] = line
	}
}

// sectionsNamed returns the sections called name, in order.
func (b *builder) sectionsNamed(name string) []*section {
	var out []*section
	for _, s := range b.secs {
		if s.name == name {
			out = append(out, s)
		}
	}
	return out
}

// buildLags checks the lag sections and fills Config.Lags.
func (b *builder) buildLags() {
	c := b.cfg
	member := map[string]*Lag{} // canonical device -> its lag
	names := map[string]int{}   // lag name -> line
	for i, s := range b.sectionsNamed("lag") {
		if i >= maxLags {
			b.errorf(s.line, "lag", "too many lag sections: at most %d", maxLags)
			continue
		}
		l := s.lag
		if l.Mode == "" {
			l.Mode = LagLACP
		}
		l.Line = s.line
		if l.Name == "" {
			l.Name = fmt.Sprintf("lag%d", i)
		}
		if prev, ok := names[l.Name]; ok {
			b.errorf(lastLine(s.lines, "name", s.line), "name", "lag name %q is already used at line %d", l.Name, prev)
		}
		names[l.Name] = s.line
		if len(l.Devices) < 2 {
			b.errorf(s.line, "lag", "a lag needs at least two devices, this one has %d", len(l.Devices))
		}
		var first *Device
		for j, name := range l.Devices {
			line := nthLine(s.lines, "device", j, s.line)
			d, ok := c.DeviceByName(name)
			if !ok {
				b.errorf(line, "device", "device %s is not in in_dev or out_dev", name)
				continue
			}
			l.Devices[j] = d.Name // spelt as in in_dev/out_dev
			key := canonicalDevice(name)
			if other, ok := member[key]; ok {
				if other.Line == l.Line {
					b.errorf(line, "device", "device %s is listed twice in this lag", name)
				} else {
					b.errorf(line, "device", "device %s is already in lag %s (line %d); a device may be in one lag only",
						name, other.Name, other.Line)
				}
				continue
			}
			member[key] = &l
			if first == nil {
				first = &d
				l.Dir = d.Dir
			} else if d.Dir != first.Dir {
				b.errorf(line, "device", "a lag cannot mix directions: %s is in %s (%s) but %s is in %s (%s)",
					name, d.Dir.param(), d.Dir, first.Name, first.Dir.param(), first.Dir)
			}
		}
		c.Lags = append(c.Lags, l)
	}
}

// buildRouterDevices checks the router_device sections, fills in default
// TAP names and Config.RouterDevices.
func (b *builder) buildRouterDevices() {
	c := b.cfg
	owner := map[string]*RouterDevice{} // canonical device -> router_device serving it
	vethNames := map[string]int{}       // tap and peer names -> line of their section
	for _, s := range b.sectionsNamed("router_device") {
		rd := s.rd
		rd.Line = s.line
		devLine := lastLine(s.lines, "device", s.line)
		if rd.Device == "" {
			b.errorf(s.line, "device", "router_device has no device= (the in_dev/out_dev device it is for)")
			continue
		}
		d, ok := c.DeviceByName(rd.Device)
		if !ok {
			b.errorf(devLine, "device", "device %s is not in in_dev or out_dev", rd.Device)
			continue
		}
		ok = b.defaultName(&rd.Tap, "dpi", rd.Device, "tap", devLine)
		ok = b.defaultName(&rd.Peer, "rib", rd.Device, "peer", devLine) && ok
		rd.Device = d.Name
		if !ok {
			continue
		}

		// One router_device per device, and per lag.
		served := []string{d.Name}
		l, inLag := c.LagOf(d.Name)
		if inLag {
			served = l.Devices
		}
		for _, m := range served {
			prev, taken := owner[canonicalDevice(m)]
			switch {
			case !taken:
				continue
			case canonicalDevice(m) == canonicalDevice(d.Name):
				b.errorf(devLine, "device", "device %s already has a router_device (line %d)", d.Name, prev.Line)
			default:
				b.errorf(devLine, "device", "device %s is in lag %s (line %d) with %s, which already has a router_device (line %d); one router_device serves the whole lag",
					d.Name, l.Name, l.Line, m, prev.Line)
			}
			ok = false
			break
		}
		for _, m := range served {
			if _, taken := owner[canonicalDevice(m)]; !taken {
				owner[canonicalDevice(m)] = &rd
			}
		}

		// The names of all veth ends are distinct: a TAP named like
		// another device's peer would only confuse.
		for _, n := range []struct{ key, name string }{{"tap", rd.Tap}, {"peer", rd.Peer}} {
			if prev, dup := vethNames[n.name]; dup {
				b.errorf(lastLine(s.lines, n.key, devLine), n.key, "%s is already the name of a TAP or peer (router_device at line %d)", n.name, prev)
				ok = false
				continue
			}
			vethNames[n.name] = s.line
		}
		if ok {
			c.RouterDevices = append(c.RouterDevices, rd)
		}
	}
}

// defaultName gives *name, a tap or peer name, its default prefix+device if
// unset, and checks a default name (a given one was checked when read).
func (b *builder) defaultName(name *string, prefix, device, key string, devLine int) bool {
	if *name != "" {
		return true
	}
	*name = prefix + device
	if err := checkIfName(*name); err != nil {
		b.errorf(devLine, key, "the default name %s+device is not usable: %v; set %s= in the router_device section",
			prefix, err, key)
		return false
	}
	return true
}

// checkTapPcap refuses router_tap_pcap names that are no router_device's
// TAP.
func (b *builder) checkTapPcap() {
	c := b.cfg
	for _, name := range c.RouterTapPcap {
		if name == "all" {
			continue
		}
		if !slices.ContainsFunc(c.RouterDevices, func(rd RouterDevice) bool { return rd.Tap == name }) {
			b.errorf(lastLine(b.lines, "router_tap_pcap", 0), "router_tap_pcap", "no router_device has the TAP %s", name)
		}
	}
}

// checkBRAS keeps fibd's own addresses out of the TAP subnets (the manual:
// they "should not be part of any subnet allocated to the TAP interfaces";
// packets to them would go to the routing daemon) and derives the
// link-local address.
func (b *builder) checkBRAS() {
	c := b.cfg
	for _, rd := range c.RouterDevices {
		for _, p := range rd.Subnets {
			if c.BrasArpIP.IsValid() && p.Contains(c.BrasArpIP) {
				b.errorf(lastLine(b.lines, "bras_arp_ip", 0), "bras_arp_ip",
					"%s is inside subnet %s of the router_device for %s (line %d); fibd's own address must not be diverted to a TAP",
					c.BrasArpIP, p, rd.Device, rd.Line)
			}
		}
		for _, p := range rd.Subnets6 {
			if c.BrasIPv6Address.IsValid() && p.Contains(c.BrasIPv6Address) {
				b.errorf(lastLine(b.lines, "bras_ipv6_address", 0), "bras_ipv6_address",
					"%s is inside subnet6 %s of the router_device for %s (line %d); fibd's own address must not be diverted to a TAP",
					c.BrasIPv6Address, p, rd.Device, rd.Line)
			}
		}
	}
	if !c.BrasIPv6LinkLocal.IsValid() && c.BrasArpMAC != nil {
		c.BrasIPv6LinkLocal = eui64LinkLocal(c.BrasArpMAC)
	}
}

// checkRouter checks what router=1 needs.
func (b *builder) checkRouter() {
	c := b.cfg
	if !c.Router {
		return
	}
	line := lastLine(b.lines, "router", 0)
	missing := func(param, why string) {
		b.errorf(line, param, "required with router=1 (%s)%s", why, b.ignoredLike(param))
	}
	if len(c.Devices) == 0 {
		b.errorf(line, "router", "router=1 but there are no devices: set in_dev and out_dev")
	}
	if c.RouterNetns == "" {
		missing("router_netns", "the net namespace where the routing daemon runs")
	}
	if c.RouterKernelTable == 0 {
		missing("router_kernel_table", "the kernel table the routing daemon builds")
	}
	if c.BrasArpMAC == nil {
		missing("bras_arp_mac", "fibd's MAC address, needed even with no BRAS mode enabled")
	}
	if !c.BrasArpIP.IsValid() {
		missing("bras_arp_ip", "fibd's IPv4 address, needed even with no BRAS mode enabled")
	}
	if !c.BrasIPv6Address.IsValid() {
		for _, rd := range c.RouterDevices {
			if len(rd.Subnets6) > 0 {
				missing("bras_ipv6_address", fmt.Sprintf("the router_device at line %d has subnet6", rd.Line))
				break
			}
		}
	}
}

// ignoredLike returns a hint naming an ignored key that looks like param:
// "bras_" keys are not checked for typos, fastdpi having many of them.
func (b *builder) ignoredLike(param string) string {
	for _, ig := range b.cfg.Ignored {
		if editDistance(ig.Key, param) <= 2 {
			return fmt.Sprintf("; %s at line %d was ignored, is it a misspelling?", ig.Key, ig.Line)
		}
	}
	return ""
}
