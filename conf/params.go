package conf

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Param describes one parameter that fibd knows.
type Param struct {
	Name string
	// Hot parameters take effect on reload (SIGHUP); a change to a cold one
	// needs a restart. The manual's [hot]/[cold] marks, where it has them.
	Hot bool
	// Section is "" for a top-level parameter (and for the sections
	// themselves, Name "router_device" and "lag"), else the section the
	// parameter belongs to.
	Section string
	Doc     string
}

// Params returns the table of every parameter fibd knows: the top-level
// ones, then each section followed by its own parameters.
func Params() []Param {
	var out []Param
	for _, p := range topParams {
		out = append(out, p.Param)
	}
	for _, s := range sections {
		out = append(out, s.Param)
		out = append(out, s.keys()...)
	}
	return out
}

// valueKind is what a parameter's value is. The fastdpi form only has text,
// but the TOML form has types and uses this to accept the right ones.
type valueKind uint8

const (
	kindString valueKind = iota
	kindInt
	kindBool
)

// spec is how a parameter takes its value, independently of what it is a
// field of.
type spec struct {
	kind valueKind
	// list parameters accumulate their occurrences (each subnet= line adds
	// a subnet, each element of a TOML array is one occurrence); for the
	// others the last occurrence wins, as in fastdpi.
	list bool
	// join, for a scalar parameter, allows a TOML array: its elements are
	// joined with this separator into one value ("a:b" for in_dev).
	join string
}

// param is one entry of a parameter table of T (Config, RouterDevice or
// Lag): the only place that knows how that parameter is parsed and printed.
type param[T any] struct {
	Param
	spec
	// set parses v and stores it in t; its error completes
	// "file:line: name: ".
	set func(t *T, v string) error
	// text returns the value(s) of the parameter in t in file form, one per
	// line to write; nil means not set. Parsing them back gives the value.
	text func(t *T) []string
}

// lookup finds key in a table.
func lookup[T any](table []param[T], key string) *param[T] {
	for i := range table {
		if table[i].Name == key {
			return &table[i]
		}
	}
	return nil
}

// Prefixes of fibd's namespaces: an unknown key with one of them is a typo,
// not a fastdpi parameter fibd has no use for. bras_, ajb_ and auth_ are not
// among them: fastdpi has many BRAS, pcap and authorisation parameters.
var strictPrefixes = []string{"router_", "fibd_"}

// Limits from the manual, and fibd's own.
const (
	maxSubnets = 16 // subnet (and subnet6) per router_device
	maxLags    = 10 // lag sections
)

// topParams are the top-level parameters, in the order Marshal writes them.
var topParams = []param[Config]{
	devicesParam(Param{Name: "in_dev", Doc: "devices facing the subscribers, separated by ':'"}, DirSubs),
	devicesParam(Param{Name: "out_dev", Doc: "devices facing the internet, separated by ':'"}, DirInet),

	boolParam(Param{Name: "router", Doc: "enables the router"},
		func(c *Config) *bool { return &c.Router }),
	stringParam(Param{Name: "router_netns", Doc: "net namespace in which the routing daemon (BIRD) runs; required with router=1"},
		func(c *Config) *string { return &c.RouterNetns }, checkNetns),
	noDefault(intParam(Param{Name: "router_kernel_table", Doc: "number of the kernel routing table, built by the routing daemon, that fibd uses; required with router=1"},
		func(c *Config) *uint32 { return &c.RouterKernelTable }, 1, math.MaxUint32, checkKernelTable)),
	intParam(Param{Name: "router_subs_announce", Doc: "subscriber announcements, bit mask: 1 subscribers towards subs, 2 subscribers towards inet (not those with a private address and service 11), 4 NAT subnets towards inet, 8 subscriber gateways (fibd_subs_gateway) in the directions of 1 and 2"},
		func(c *Config) *uint8 { return &c.RouterSubsAnnounce }, 0, 15, nil),
	intParam(Param{Name: "router_subs_metrics", Hot: true, Doc: "metric of subscriber address announcements (default 32)"},
		func(c *Config) *uint32 { return &c.RouterSubsMetrics }, 0, math.MaxUint32, nil),
	intParam(Param{Name: "router_max_ip4_route_count", Doc: "maximum number of IPv4 routes, preallocated (default 1000000, at most 16M)"},
		func(c *Config) *uint32 { return &c.RouterMaxIP4Routes }, 1, 1<<24, nil),
	intParam(Param{Name: "router_max_ip6_route_count", Doc: "maximum number of IPv6 routes, preallocated (default 200000, at most 4M)"},
		func(c *Config) *uint32 { return &c.RouterMaxIP6Routes }, 1, 1<<22, nil),
	durationParam(Param{Name: "router_fib_refresh", Hot: true, Doc: "FIB update period in seconds (default 15, at most a day)"},
		func(c *Config) *time.Duration { return &c.RouterFIBRefresh }, time.Second, 1, 86400),
	intParam(Param{Name: "router_arp_cache_size", Doc: "size of the ARP cache, and of the IPv6 neighbour cache (default 1024, at most 32K)"},
		func(c *Config) *int { return &c.RouterARPCacheSize }, 1, 32768, nil),
	intParam(Param{Name: "router_sched_add_prio", Doc: "raises the priority of the router thread: its nice value is minus this (-19..20, default 0)"},
		func(c *Config) *int { return &c.RouterSchedAddPrio }, -19, 20, nil),
	intParam(Param{Name: "router_bind_core", Doc: "CPU the router thread is bound to, -1 = automatic (default)"},
		func(c *Config) *int { return &c.RouterBindCore }, -1, 1023, nil),
	tapPcapParam(Param{Name: "router_tap_pcap", Hot: true, Doc: "record the traffic of TAP interfaces to pcap: 'all' or TAP names separated by ';'"}),
	intParam(Param{Name: "router_tap_pcap_dir", Hot: true, Doc: "direction recorded by router_tap_pcap: 1 from the TAP, 2 towards the TAP, 0 or 3 both (default)"},
		func(c *Config) *int { return &c.RouterTapPcapDir }, 0, 3, nil),
	durationParam(Param{Name: "router_tap_pcap_rotate", Hot: true, Doc: "rotation period of TAP pcap files in seconds, 0 = ajb_udpi_ftimeout (default)"},
		func(c *Config) *time.Duration { return &c.RouterTapPcapRotate }, time.Second, 0, 7*86400),
	boolParam(Param{Name: "router_rtnl_pcap", Hot: true, Doc: "record the rtnetlink exchange with the kernel to pcap (files rtnl*: notifications, fibd's requests and the replies)"},
		func(c *Config) *bool { return &c.RouterRtnlPcap }),

	boolParam(Param{Name: "auth_announce_reject", Hot: true, Doc: "announce the addresses of subscribers whose authorisation was rejected"},
		func(c *Config) *bool { return &c.AuthAnnounceReject }),
	stringParam(Param{Name: "ajb_udpi_path", Hot: true, Doc: "directory of pcap files (default /var/dump/dpi)"},
		func(c *Config) *string { return &c.AjbUdpiPath }, checkNotEmpty),
	durationParam(Param{Name: "ajb_udpi_ftimeout", Hot: true, Doc: "rotation period of pcap files in minutes (default 10, at most a week)"},
		func(c *Config) *time.Duration { return &c.AjbUdpiFtimeout }, time.Minute, 1, 7*1440),
	saveIPParam(Param{Name: "ajb_save_ip", Hot: true, Doc: "record the packets whose source or destination is in one of these IPv4/IPv6 addresses or CIDRs (0.0.0.0/0 or ::/0: all of a family) to pcap under ajb_udpi_path (save_ip_<unix time>.pcap, a new file every ajb_udpi_ftimeout): each packet twice, as received and, when forwarded, as sent; separated by ';' or ',', repeatable; at most 16 per family; empty: off"}),

	macParam(Param{Name: "bras_arp_mac", Doc: "the gateway's virtual MAC; required with router=1, checked, not used by fibd (ports send from their own MACs, and the kernel answers ARP/NDP through the exception interfaces)"}),
	addrParam(Param{Name: "bras_arp_ip", Doc: "IPv4 address of fibd: the source of ICMP errors from a port or sub-interface without an IPv4 address; required with router=1; outside every TAP subnet"},
		func(c *Config) *netip.Addr { return &c.BrasArpIP }, parseHostIPv4),
	addrParam(Param{Name: "bras_ipv6_address", Doc: "global IPv6 address of fibd: the source of ICMPv6 errors from a port or sub-interface without an IPv6 address; required with router=1 when a router_device has subnet6; outside every TAP subnet"},
		func(c *Config) *netip.Addr { return &c.BrasIPv6Address }, parseHostIPv6),
	addrParam(Param{Name: "bras_ipv6_link_local", Doc: "IPv6 link-local address of the gateway (fe80::/10; derived from bras_arp_mac when unset); checked, not used by fibd"},
		func(c *Config) *netip.Addr { return &c.BrasIPv6LinkLocal }, parseLinkLocal),

	ealArgsParam(Param{Name: "fibd_eal_args", Doc: "extra DPDK EAL arguments, separated by blanks; repeatable"}),
	vdevParam(Param{Name: "fibd_vdev", Doc: "a DPDK virtual device, net_xxxN[,key=value...], passed to EAL as --vdev; its name can be used in in_dev/out_dev; repeatable"}),
	durationParam(Param{Name: "fibd_idle_sleep_us", Hot: true, Doc: "microseconds an idle worker sleeps between polls, 0 = busy polling (default)"},
		func(c *Config) *time.Duration { return &c.WorkerIdleSleep }, time.Microsecond, 0, 1000000),
	intParam(Param{Name: "fibd_mbufs", Doc: "mbufs in the pool of each port, 0 = sized automatically (default), with the packets net_pcap infinite_rx holds; never fewer than those plus the workers' caches"},
		func(c *Config) *int { return &c.Mbufs }, 0, 1<<24, nil),
	logLevelParam(Param{Name: "fibd_log_level", Hot: true, Doc: "log level: debug, info (default), warn or error"}),
	intParam(Param{Name: "fibd_announce_table_inet", Doc: "kernel table of the announcements towards inet (default router_kernel_table + 1; never router_kernel_table itself)"},
		func(c *Config) *uint32 { return &c.AnnounceTableInet }, 0, 0xffffffff, nil),
	intParam(Param{Name: "fibd_announce_table_subs", Doc: "kernel table of the announcements towards subs (default router_kernel_table + 2; never router_kernel_table itself)"},
		func(c *Config) *uint32 { return &c.AnnounceTableSubs }, 0, 0xffffffff, nil),
	prefixListParam(Param{Name: "fibd_nat_pool", Hot: true, Doc: "a NAT pool's public subnet (CIDR), announced towards inet with router_subs_announce bit 4; repeatable"},
		func(c *Config) *[]netip.Prefix { return &c.NATPools }),
	prefixListParam(Param{Name: "fibd_subs_gateway", Hot: true, Doc: "a gateway address (or subnet) the subscribers use, CIDR, announced in the directions of router_subs_announce bits 1 and 2 with bit 8; repeatable"},
		func(c *Config) *[]netip.Prefix { return &c.SubsGateways }),
	prefixListParam(Param{Name: "fibd_private_range", Doc: "a private address range (CIDR): a subscriber inside one with service 11 (NAT) is not announced towards inet; repeatable; default RFC 1918 and RFC 6598 (10/8, 172.16/12, 192.168/16, 100.64/10)"},
		func(c *Config) *[]netip.Prefix { return &c.PrivateRanges }),
	tableSizeParam(Param{Name: "fibd_table_size", Doc: "TABLE:IPV4:IPV6, the route capacity of one kernel table's FIB (default router_max_ip4/ip6_route_count); repeatable"}),
	stringParam(Param{Name: "fibd_hugepages", Doc: "hugepage memory fibd-prepare reserves before fibd starts, e.g. 4G (default 4G)"},
		func(c *Config) *string { return &c.Hugepages }, checkSize),
	stringParam(Param{Name: "fibd_metrics_listen", Doc: "address:port of the Prometheus /metrics endpoint (default 127.0.0.1:29001); non-loopback addresses only when set here"},
		func(c *Config) *string { return &c.MetricsListen }, checkListen),
	stringParam(Param{Name: "fibd_exception", Doc: "exception interfaces: auto (default: veth when the tap= interface exists, else tap), tap (fibd creates a TAP named peer= in router_netns), veth (attach to the operator's tap= veth end) or none"},
		func(c *Config) *string { return &c.Exception }, checkException),
	stringParam(Param{Name: "fibd_fib", Doc: "FIB structure of every table: own (default: fibd's compressed trie, one copy updated in place) or dpdk (rte_fib DIR-24-8 + rte_fib6 TRIE, a left-right pair)"},
		func(c *Config) *string { return &c.FIB }, checkFIB),
	intParam(Param{Name: "fibd_punt_rate_proto", Hot: true, Doc: "routing protocol packets (BGP, OSPF, BFD, ...) punted per second to the routing daemon, all ports together (default 100000)"},
		func(c *Config) *uint32 { return &c.PuntRateProto }, 0, 10000000, nil),
	intParam(Param{Name: "fibd_punt_rate_nd", Hot: true, Doc: "ARP and NDP packets punted per second (default 10000)"},
		func(c *Config) *uint32 { return &c.PuntRateND }, 0, 10000000, nil),
	intParam(Param{Name: "fibd_punt_rate_other", Hot: true, Doc: "other packets punted per second: ping, traffic to the router's addresses, protocol ports from non-peers (default 10000)"},
		func(c *Config) *uint32 { return &c.PuntRateOther }, 0, 10000000, nil),
	intParam(Param{Name: "fibd_punt_rate_glean", Hot: true, Doc: "packets towards neighbours not resolved yet punted per second, at most 4 per destination (default 250: each may make a kernel neighbour entry that lives ~3 s)"},
		func(c *Config) *uint32 { return &c.PuntRateGlean }, 0, 10000000, nil),
	stringParam(Param{Name: "fibd_cli_listen", Doc: "address:port of the control server fdpi_cli talks to (default 127.0.0.1:29000); non-loopback addresses only when set here"},
		func(c *Config) *string { return &c.CLIListen }, checkListen),
	stringParam(Param{Name: "fibd_cli_secret", Doc: "file of the secret fdpi_cli needs for commands that change state, and for every command on a non-loopback fibd_cli_listen (default /run/fibd/cli.secret; created with mode 0600 when missing)"},
		func(c *Config) *string { return &c.CLISecret }, checkAbsPath),
}

func checkLagMode(s string) error {
	if s != LagLACP && s != LagBalance {
		return fmt.Errorf("%q: want 802.3ad or balance", s)
	}
	return nil
}

func checkException(s string) error {
	switch s {
	case ExceptionAuto, ExceptionTap, ExceptionVeth, ExceptionNone:
		return nil
	}
	return fmt.Errorf("%q: want auto, tap, veth or none", s)
}

func checkFIB(s string) error {
	switch s {
	case FIBDPDK, FIBOwn:
		return nil
	}
	return fmt.Errorf("%q: want dpdk or own", s)
}

// checkSize accepts a memory size as dpdk-hugepages.py does: 512M, 4G.
func checkSize(s string) error {
	n := strings.TrimRight(s, "KMGkmg")
	if len(n) == len(s) || len(s)-len(n) != 1 {
		return fmt.Errorf("want a size with a unit, e.g. 4G")
	}
	if v, err := strconv.ParseUint(n, 10, 32); err != nil || v == 0 {
		return fmt.Errorf("want a size with a unit, e.g. 4G")
	}
	return nil
}

// checkListen accepts host:port with a literal IP address.
func checkAbsPath(s string) error {
	if !strings.HasPrefix(s, "/") {
		return fmt.Errorf("%q: want an absolute path", s)
	}
	return nil
}

func checkListen(s string) error {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return fmt.Errorf("want address:port (e.g. 127.0.0.1:29000): %w", err)
	}
	if ap.Port() == 0 {
		return fmt.Errorf("port 0")
	}
	return nil
}

// routerDeviceParams are the parameters of a router_device section.
var routerDeviceParams = []param[RouterDevice]{
	stringParam(Param{Name: "device", Section: "router_device", Doc: "device from in_dev/out_dev whose routing traffic goes to the TAP; required"},
		func(r *RouterDevice) *string { return &r.Device }, checkDevice),
	stringParam(Param{Name: "tap", Section: "router_device", Doc: "name of the veth end fibd uses (default 'dpi' + device)"},
		func(r *RouterDevice) *string { return &r.Tap }, checkIfName),
	stringParam(Param{Name: "peer", Section: "router_device", Doc: "name of the veth end in router_netns (default 'rib' + device)"},
		func(r *RouterDevice) *string { return &r.Peer }, checkIfName),
	subnetParam(Param{Name: "subnet", Section: "router_device", Doc: "IPv4 subnet whose traffic goes to the TAP; repeatable, at most 16"},
		func(r *RouterDevice) *[]netip.Prefix { return &r.Subnets }, 4),
	subnetParam(Param{Name: "subnet6", Section: "router_device", Doc: "IPv6 subnet whose traffic goes to the TAP; repeatable, at most 16"},
		func(r *RouterDevice) *[]netip.Prefix { return &r.Subnets6 }, 6),
}

// lagParams are the parameters of a lag section.
var lagParams = []param[Lag]{
	stringParam(Param{Name: "name", Section: "lag", Doc: "name of the LAG, for logs only"},
		func(l *Lag) *string { return &l.Name }, nil),
	stringParam(Param{Name: "mode", Section: "lag", Doc: "fibd's: 802.3ad (default, LACP) or balance (static); either sends a flow by the hash of its addresses and ports"},
		func(l *Lag) *string { return &l.Mode }, checkLagMode),
	{
		Param: Param{Name: "device", Section: "lag", Doc: "a device of the LAG, from in_dev/out_dev; one per member, at least two"},
		spec:  spec{list: true},
		set: func(l *Lag, v string) error {
			if err := checkDevice(v); err != nil {
				return err
			}
			l.Devices = append(l.Devices, v)
			return nil
		},
		text: func(l *Lag) []string { return l.Devices },
	},
}

// sectionKind describes a kind of section.
type sectionKind struct {
	Param
	keys func() []Param // its parameters
}

var sections = []sectionKind{
	{Param{Name: "router_device", Doc: "section: a device whose routing-protocol traffic is diverted to a veth pair (TAP) towards the routing daemon"},
		func() []Param { return paramsOf(routerDeviceParams) }},
	{Param{Name: "lag", Doc: "section: devices aggregated in a LAG, which share one router_device; at most 10"},
		func() []Param { return paramsOf(lagParams) }},
}

func paramsOf[T any](table []param[T]) []Param {
	var out []Param
	for _, p := range table {
		out = append(out, p.Param)
	}
	return out
}

// isSection reports whether name is a section fibd knows.
func isSection(name string) bool { return name == "router_device" || name == "lag" }

// Constructors of table entries, one per kind of value.

func boolParam[T any](p Param, field func(*T) *bool) param[T] {
	return param[T]{
		Param: p,
		spec:  spec{kind: kindBool},
		set: func(t *T, v string) error {
			b, err := parseBool(v)
			if err != nil {
				return err
			}
			*field(t) = b
			return nil
		},
		text: func(t *T) []string {
			if *field(t) {
				return []string{"1"}
			}
			return []string{"0"}
		},
	}
}

// intParam is an integer in [lo, hi], with an optional further check.
func intParam[T any, N ~int | ~uint8 | ~uint32](p Param, field func(*T) *N, lo, hi int64, check func(int64) error) param[T] {
	return param[T]{
		Param: p,
		spec:  spec{kind: kindInt},
		set: func(t *T, v string) error {
			n, err := parseInt(v, lo, hi)
			if err == nil && check != nil {
				err = check(n)
			}
			if err != nil {
				return err
			}
			*field(t) = N(n)
			return nil
		},
		text: func(t *T) []string { return []string{strconv.FormatInt(int64(*field(t)), 10)} },
	}
}

// noDefault wraps an integer parameter without default, whose zero value
// means unset: it is not written then.
func noDefault[T any](p param[T]) param[T] {
	text := p.text
	p.text = func(t *T) []string {
		if v := text(t); !slices.Equal(v, []string{"0"}) {
			return v
		}
		return nil
	}
	return p
}

// durationParam is a whole number of unit in [lo, hi].
func durationParam[T any](p Param, field func(*T) *time.Duration, unit time.Duration, lo, hi int64) param[T] {
	return param[T]{
		Param: p,
		spec:  spec{kind: kindInt},
		set: func(t *T, v string) error {
			n, err := parseInt(v, lo, hi)
			if err != nil {
				return err
			}
			*field(t) = time.Duration(n) * unit
			return nil
		},
		text: func(t *T) []string { return []string{strconv.FormatInt(int64(*field(t)/unit), 10)} },
	}
}

// stringParam is free text, checked by check if not empty. An empty value
// unsets the parameter (restores its default if it has one).
func stringParam[T any](p Param, field func(*T) *string, check func(string) error) param[T] {
	return param[T]{
		Param: p,
		set: func(t *T, v string) error {
			if v != "" && check != nil {
				if err := check(v); err != nil {
					return err
				}
			}
			*field(t) = v
			return nil
		},
		text: func(t *T) []string {
			if *field(t) == "" {
				return nil
			}
			return []string{*field(t)}
		},
	}
}

func checkNotEmpty(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	return nil
}

// checkKernelTable refuses the table no routing daemon builds.
func checkKernelTable(n int64) error {
	if n == 255 {
		return errors.New("255 is the kernel's local table, which holds local addresses and no routes")
	}
	return nil
}

// addrParam is an IP address; empty unsets it.
func addrParam[T any](p Param, field func(*T) *netip.Addr, parse func(string) (netip.Addr, error)) param[T] {
	return param[T]{
		Param: p,
		set: func(t *T, v string) error {
			a := netip.Addr{}
			if v != "" {
				var err error
				if a, err = parse(v); err != nil {
					return err
				}
			}
			*field(t) = a
			return nil
		},
		text: func(t *T) []string {
			if !field(t).IsValid() {
				return nil
			}
			return []string{field(t).String()}
		},
	}
}

func macParam(p Param) param[Config] {
	return param[Config]{
		Param: p,
		set: func(c *Config, v string) error {
			var mac net.HardwareAddr
			if v != "" {
				var err error
				if mac, err = parseMAC(v); err != nil {
					return err
				}
			}
			c.BrasArpMAC = mac
			return nil
		},
		text: func(c *Config) []string {
			if c.BrasArpMAC == nil {
				return nil
			}
			return []string{c.BrasArpMAC.String()}
		},
	}
}

// devicesParam is in_dev or out_dev: it replaces the devices of its
// direction. An empty value leaves that direction without devices.
func devicesParam(p Param, dir Direction) param[Config] {
	return param[Config]{
		Param: p,
		spec:  spec{join: ":"},
		set: func(c *Config, v string) error {
			var devs []Device
			if strings.TrimSpace(v) != "" {
				seen := map[string]bool{}
				for i, name := range splitDevices(v) {
					if err := checkDevice(name); err != nil {
						return err
					}
					if key := canonicalDevice(name); seen[key] {
						return fmt.Errorf("device %s is listed twice", name)
					} else {
						seen[key] = true
					}
					devs = append(devs, Device{Name: name, Dir: dir, Index: i})
				}
			}
			var in, out []Device
			for _, d := range c.Devices {
				if d.Dir == DirSubs {
					in = append(in, d)
				} else {
					out = append(out, d)
				}
			}
			if dir == DirSubs {
				in = devs
			} else {
				out = devs
			}
			c.Devices = append(in, out...)
			return nil
		},
		text: func(c *Config) []string {
			var names []string
			for _, d := range c.Devices {
				if d.Dir == dir {
					names = append(names, d.Name)
				}
			}
			if names == nil {
				return nil
			}
			return []string{strings.Join(names, ":")}
		},
	}
}

// subnetParam adds a prefix of the given family to a router_device.
func subnetParam(p Param, field func(*RouterDevice) *[]netip.Prefix, family int) param[RouterDevice] {
	return param[RouterDevice]{
		Param: p,
		spec:  spec{list: true},
		set: func(r *RouterDevice, v string) error {
			pfx, err := parseSubnet(v, family)
			if err != nil {
				return err
			}
			list := field(r)
			if len(*list) >= maxSubnets {
				return fmt.Errorf("more than %d %s parameters in one router_device", maxSubnets, p.Name)
			}
			if slices.Contains(*list, pfx) {
				return fmt.Errorf("%s is listed twice", pfx)
			}
			*list = append(*list, pfx)
			return nil
		},
		text: func(r *RouterDevice) []string {
			var out []string
			for _, pfx := range *field(r) {
				out = append(out, pfx.String())
			}
			return out
		},
	}
}

func tapPcapParam(p Param) param[Config] {
	return param[Config]{
		Param: p,
		spec:  spec{join: ";"},
		set: func(c *Config, v string) error {
			var names []string
			for _, n := range strings.Split(v, ";") {
				if n = strings.TrimSpace(n); n == "" {
					continue
				}
				if n != "all" {
					if err := checkIfName(n); err != nil {
						return err
					}
				}
				if slices.Contains(names, n) {
					return fmt.Errorf("%s is listed twice", n)
				}
				names = append(names, n)
			}
			if len(names) > 1 && slices.Contains(names, "all") {
				return errors.New("'all' cannot be combined with TAP names")
			}
			c.RouterTapPcap = names
			return nil
		},
		text: func(c *Config) []string {
			if len(c.RouterTapPcap) == 0 {
				return nil
			}
			return []string{strings.Join(c.RouterTapPcap, ";")}
		},
	}
}

func ealArgsParam(p Param) param[Config] {
	return param[Config]{
		Param: p,
		spec:  spec{list: true},
		set: func(c *Config, v string) error {
			c.EALArgs = append(c.EALArgs, strings.Fields(v)...)
			return nil
		},
		// One argument per line: joined with blanks, an argument starting
		// with '#' would read as a comment.
		text: func(c *Config) []string { return c.EALArgs },
	}
}

func vdevParam(p Param) param[Config] {
	return param[Config]{
		Param: p,
		spec:  spec{list: true},
		set: func(c *Config, v string) error {
			if _, err := checkVdev(v); err != nil {
				return err
			}
			c.Vdevs = append(c.Vdevs, v)
			return nil
		},
		text: func(c *Config) []string { return c.Vdevs },
	}
}

// prefixListParam: KEY=CIDR, repeatable, kept masked (fibd_nat_pool: the
// NAT profiles' public subnets; fibd_subs_gateway; fibd_private_range).
func prefixListParam(p Param, field func(*Config) *[]netip.Prefix) param[Config] {
	return param[Config]{
		Param: p,
		spec:  spec{list: true},
		set: func(c *Config, v string) error {
			pfx, err := netip.ParsePrefix(v)
			if err != nil {
				return fmt.Errorf("want a CIDR: %w", err)
			}
			*field(c) = append(*field(c), pfx.Masked())
			return nil
		},
		text: func(c *Config) []string {
			out := make([]string, len(*field(c)))
			for i, x := range *field(c) {
				out[i] = x.String()
			}
			return out
		},
	}
}

// maxSaveIP bounds ajb_save_ip's masks per address family: the fast path
// tests each recorded packet's two addresses against every one.
const maxSaveIP = 16

// saveIPParam: ajb_save_ip=IP|CIDR[;IP|CIDR...], repeatable (the manual's
// "ajb_save_ip=192.168.0.0/24"; a bare address is a host).
func saveIPParam(p Param) param[Config] {
	return param[Config]{
		Param: p,
		spec:  spec{list: true},
		set: func(c *Config, v string) error {
			for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' }) {
				if f = strings.TrimSpace(f); f == "" {
					continue
				}
				pfx, err := netip.ParsePrefix(f)
				if err != nil {
					a, aerr := netip.ParseAddr(f)
					if aerr != nil || a.Zone() != "" {
						return fmt.Errorf("%q: want an IP address or a CIDR", f)
					}
					a = a.Unmap()
					pfx = netip.PrefixFrom(a, a.BitLen())
				}
				pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-(pfx.Addr().BitLen()-pfx.Addr().Unmap().BitLen())).Masked()
				if !pfx.IsValid() {
					return fmt.Errorf("%q: not a mask of an IPv4 or IPv6 address", f)
				}
				if slices.Contains(c.AjbSaveIP, pfx) {
					continue
				}
				n := 0
				for _, q := range c.AjbSaveIP {
					if q.Addr().Is4() == pfx.Addr().Is4() {
						n++
					}
				}
				if n >= maxSaveIP {
					return fmt.Errorf("%s: more than %d masks of one address family", pfx, maxSaveIP)
				}
				c.AjbSaveIP = append(c.AjbSaveIP, pfx)
			}
			return nil
		},
		text: func(c *Config) []string {
			out := make([]string, len(c.AjbSaveIP))
			for i, x := range c.AjbSaveIP {
				out[i] = x.String()
			}
			return out
		},
	}
}

// tableSizeParam: fibd_table_size=TABLE:V4:V6, repeatable.
func tableSizeParam(p Param) param[Config] {
	return param[Config]{
		Param: p,
		spec:  spec{list: true},
		set: func(c *Config, v string) error {
			f := strings.Split(v, ":")
			if len(f) != 3 {
				return fmt.Errorf("%q: want TABLE:IPV4_ROUTES:IPV6_ROUTES", v)
			}
			var n [3]int64
			for i, x := range f {
				var err error
				if n[i], err = parseInt(x, 1, 1<<32-1); err != nil {
					return fmt.Errorf("%q: %w", v, err)
				}
			}
			for _, ts := range c.TableSizes {
				if ts.Table == uint32(n[0]) {
					return fmt.Errorf("table %d is sized twice", n[0])
				}
			}
			c.TableSizes = append(c.TableSizes, TableSize{uint32(n[0]), uint32(n[1]), uint32(n[2])})
			return nil
		},
		text: func(c *Config) []string {
			out := make([]string, len(c.TableSizes))
			for i, x := range c.TableSizes {
				out[i] = fmt.Sprintf("%d:%d:%d", x.Table, x.Routes4, x.Routes6)
			}
			return out
		},
	}
}

var logLevels = []string{"debug", "info", "warn", "error"}

func logLevelParam(p Param) param[Config] {
	return param[Config]{
		Param: p,
		set: func(c *Config, v string) error {
			l := strings.ToLower(v)
			if !slices.Contains(logLevels, l) {
				return fmt.Errorf("%q is not a log level (%s)", v, strings.Join(logLevels, ", "))
			}
			c.LogLevel = l
			return nil
		},
		text: func(c *Config) []string { return []string{c.LogLevel} },
	}
}
