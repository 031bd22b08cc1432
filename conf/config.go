package conf

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Direction tells which side of the router a device faces. fastdpi calls the
// two sides "subs" (subscribers, the in_dev devices) and "inet" (the
// internet, the out_dev devices).
type Direction uint8

const (
	DirSubs Direction = iota // listed in in_dev: faces the subscribers
	DirInet                  // listed in out_dev: faces the internet
)

// String returns "subs" or "inet", the words the manual uses for the two
// directions.
func (d Direction) String() string {
	if d == DirInet {
		return "inet"
	}
	return "subs"
}

// param returns the parameter that lists devices of this direction.
func (d Direction) param() string {
	if d == DirInet {
		return "out_dev"
	}
	return "in_dev"
}

// Device is one DPDK port named in in_dev or out_dev.
type Device struct {
	// Name as written in the file: a PCI address in fastdpi's short form
	// (41-00.1 for 0000:41:00.1), a full PCI address (0000:41:00.1) or a
	// DPDK virtual device name (net_pcap0, net_tap1, ...).
	Name  string
	Dir   Direction
	Index int // position in its in_dev or out_dev list, from 0
}

// DPDKName returns the name DPDK knows the port by: the full lower-case PCI
// address (0000:41:00.1) for PCI devices, the vdev name otherwise.
// rte_eth_dev_get_port_by_name accepts it.
func (d Device) DPDKName() string { return canonicalDevice(d.Name) }

// IsVdev reports whether the device is a DPDK virtual device (net_...), as
// opposed to a PCI one.
func (d Device) IsVdev() bool { return strings.HasPrefix(d.Name, "net_") }

// RouterDevice is one router_device section: a device whose routing-protocol
// traffic (the packets addressed to Subnets and Subnets6) is diverted to a
// veth pair, the Tap end in fibd's namespace and the Peer end in
// RouterNetns where the routing daemon (BIRD) runs.
type RouterDevice struct {
	Device   string         // a device of in_dev/out_dev, spelt as there
	Tap      string         // veth end on fibd's side; default "dpi"+device
	Peer     string         // veth end in RouterNetns; default "rib"+device
	Subnets  []netip.Prefix // IPv4, masked; at most 16
	Subnets6 []netip.Prefix // IPv6, masked; at most 16
	Line     int            // line of "router_device {"
}

// Lag is one lag section: devices aggregated into one link. Traffic for the
// subnets of the lag's router_device is diverted to its TAP from whichever
// member it arrives on.
type Lag struct {
	Name    string    // for logs only; default "lag0", "lag1", ... by position
	Mode    string    // fibd's: LagLACP (default) or LagBalance
	Devices []string  // at least two, all of one direction, spelt as in in_dev/out_dev
	Dir     Direction // the direction all members share
	Line    int       // line of "lag {"
}

// TableSize is one fibd_table_size: the capacity of one kernel table's FIB.
type TableSize struct {
	Table            uint32
	Routes4, Routes6 uint32
}

// LAG modes (the lag section's mode=, fibd's own key).
const (
	LagLACP    = "802.3ad" // IEEE 802.3ad with LACP (DPDK bonding mode 4)
	LagBalance = "balance" // static, no LACP (DPDK bonding mode 2)
)

// Ignored is a parameter fibd does not know and skipped: fastdpi.conf holds
// hundreds of DPI and BRAS parameters that are no business of a router.
type Ignored struct {
	Key  string
	Line int
}

// Config is a complete, validated configuration. Load, Parse and ParseTOML
// return one only if the file had no error at all; every default has been
// applied and every derived value (TAP names, the IPv6 link-local address)
// filled in.
type Config struct {
	File string // name the configuration was loaded from

	// Devices holds the in_dev devices, then the out_dev devices.
	Devices []Device

	Router             bool          // router: routing is on
	RouterNetns        string        // router_netns: netns of the routing daemon
	RouterKernelTable  uint32        // router_kernel_table: kernel table fibd reads (0 = unset)
	RouterSubsAnnounce uint8         // router_subs_announce: bit mask of Announce* flags
	RouterSubsMetrics  uint32        // router_subs_metrics: metric of announced subscriber routes
	RouterMaxIP4Routes uint32        // router_max_ip4_route_count
	RouterMaxIP6Routes uint32        // router_max_ip6_route_count
	RouterFIBRefresh   time.Duration // router_fib_refresh: period of FIB rebuilds
	RouterARPCacheSize int           // router_arp_cache_size: per family
	RouterSchedAddPrio int           // router_sched_add_prio: router thread nice = -RouterSchedAddPrio
	RouterBindCore     int           // router_bind_core: CPU of the router thread, -1 = automatic

	RouterTapPcap       []string      // router_tap_pcap: ["all"], TAP names, or empty (off)
	RouterTapPcapDir    int           // router_tap_pcap_dir: 1 from TAP, 2 to TAP, 0 or 3 both
	RouterTapPcapRotate time.Duration // router_tap_pcap_rotate: 0 = AjbUdpiFtimeout
	RouterRtnlPcap      bool          // router_rtnl_pcap: record the rtnetlink exchange with the kernel

	AuthAnnounceReject bool // auth_announce_reject: announce rejected subscribers too

	AjbUdpiPath     string         // ajb_udpi_path: directory of pcap files
	AjbUdpiFtimeout time.Duration  // ajb_udpi_ftimeout: pcap rotation period (minutes in the file)
	AjbSaveIP       []netip.Prefix // ajb_save_ip: record packets from or to these masks, before and after routing (hot)

	BrasArpMAC        net.HardwareAddr // bras_arp_mac: fibd's MAC on every port
	BrasArpIP         netip.Addr       // bras_arp_ip: fibd's own IPv4 address
	BrasIPv6Address   netip.Addr       // bras_ipv6_address: fibd's own global IPv6 address
	BrasIPv6LinkLocal netip.Addr       // bras_ipv6_link_local: derived from BrasArpMAC (EUI-64) when unset

	RouterDevices []RouterDevice // router_device sections, in file order
	Lags          []Lag          // lag sections, in file order

	// fibd's own parameters (not fastdpi's), all named fibd_*, follow.
	EALArgs           []string       // fibd_eal_args: extra EAL arguments
	Vdevs             []string       // fibd_vdev: "net_xxxN,k=v,..." each becomes an EAL --vdev
	WorkerIdleSleep   time.Duration  // fibd_idle_sleep_us: sleep of an idle worker, 0 = busy poll
	Mbufs             int            // fibd_mbufs: mbufs in each port's pool, 0 = automatic
	LogLevel          string         // fibd_log_level: debug, info, warn or error
	CLIListen         string         // fibd_cli_listen: control server address (fdpi_cli)
	CLISecret         string         // fibd_cli_secret: file of the secret that authenticates fdpi_cli
	MetricsListen     string         // fibd_metrics_listen: Prometheus endpoint address
	Hugepages         string         // fibd_hugepages: what fibd-prepare reserves (4G)
	NATPools          []netip.Prefix // fibd_nat_pool: NAT pools to announce (hot)
	SubsGateways      []netip.Prefix // fibd_subs_gateway: subscriber gateways to announce (hot)
	PrivateRanges     []netip.Prefix // fibd_private_range: none = RFC 1918 and RFC 6598
	AnnounceTableInet uint32         // fibd_announce_table_inet: 0 = router_kernel_table + 1
	AnnounceTableSubs uint32         // fibd_announce_table_subs: 0 = router_kernel_table + 2
	TableSizes        []TableSize    // fibd_table_size: per-table capacities
	Exception         string         // fibd_exception: auto, tap, veth or none
	FIB               string         // fibd_fib: dpdk or own
	PuntRateProto     uint32         // fibd_punt_rate_proto: routing protocol punts per second
	PuntRateND        uint32         // fibd_punt_rate_nd: ARP/NDP punts per second
	PuntRateOther     uint32         // fibd_punt_rate_other: other punts per second
	PuntRateGlean     uint32         // fibd_punt_rate_glean: punts towards unresolved neighbours per second

	Ignored []Ignored // unknown keys outside fibd's namespaces, in file order
}

// Bits of Config.RouterSubsAnnounce.
const (
	AnnounceSubsToSubs = 1 << iota // announce subscriber addresses towards subs
	AnnounceSubsToInet             // ... towards inet (subscribers without NAT)
	AnnounceNATToInet              // announce NAT pools towards inet
	AnnounceGateways               // announce subscriber gateways (direction from bits 1 and 2)
)

// Defaults of the parameters that have one. They are the manual's except
// for DefaultAjbUdpiFtimeout, whose default the Router chapter does not give.
const (
	DefaultRouterSubsMetrics  = 32
	DefaultRouterMaxIP4Routes = 1000000
	DefaultRouterMaxIP6Routes = 200000
	DefaultRouterFIBRefresh   = 15 * time.Second
	DefaultRouterARPCacheSize = 1024
	DefaultRouterBindCore     = -1
	DefaultAjbUdpiPath        = "/var/dump/dpi"
	// DefaultAjbUdpiFtimeout rotates TAP pcap files every 10 minutes: the
	// traffic of routing protocols is light, so this keeps the number of
	// files per TAP modest (144 a day) while a file covering a given
	// incident is still available soon after it.
	DefaultAjbUdpiFtimeout = 10 * time.Minute
	DefaultLogLevel        = "info"
	DefaultCLIListen       = "127.0.0.1:29000"      // fdpi_cli's default
	DefaultCLISecret       = "/run/fibd/cli.secret" // where fdpi_cli looks for it too
	DefaultMetricsListen   = "127.0.0.1:29001"
	DefaultException       = "auto"
	// Punt policer defaults: a full view arrives at BGP's own pace (a
	// segment carries a few dozen routes), ARP and NDP need little, and the
	// rest (ping, the first packets towards unresolved neighbours) is what
	// a flood is made of.
	DefaultPuntRateProto = 100000
	DefaultPuntRateND    = 10000
	DefaultPuntRateOther = 10000
	// Each glean punt may make the kernel an incomplete neighbour entry
	// that lives about 3 s: 250/s stays below gc_thresh3 (1024).
	DefaultPuntRateGlean = 250
)

// FIB structures (fibd_fib).
const (
	FIBDPDK = "dpdk" // rte_fib DIR-24-8 + rte_fib6 TRIE, a left-right pair per table
	FIBOwn  = "own"  // fibd's own compressed trie (cgo/dp/fp_lpm.h), one copy per table
)

// Exception interface modes (fibd_exception).
const (
	ExceptionAuto = "auto" // veth when the tap= interface exists, else tap
	ExceptionTap  = "tap"  // fibd creates a TAP named peer= in router_netns
	ExceptionVeth = "veth" // the manual's layout: fibd attaches to the operator's tap= veth end
	ExceptionNone = "none" // no exception path: local traffic is dropped and counted
)

// Default returns a configuration with every parameter at its default: the
// router off, no devices, no sections.
func Default() *Config {
	return &Config{
		RouterSubsMetrics:  DefaultRouterSubsMetrics,
		RouterMaxIP4Routes: DefaultRouterMaxIP4Routes,
		RouterMaxIP6Routes: DefaultRouterMaxIP6Routes,
		RouterFIBRefresh:   DefaultRouterFIBRefresh,
		RouterARPCacheSize: DefaultRouterARPCacheSize,
		RouterBindCore:     DefaultRouterBindCore,
		AjbUdpiPath:        DefaultAjbUdpiPath,
		AjbUdpiFtimeout:    DefaultAjbUdpiFtimeout,
		LogLevel:           DefaultLogLevel,
		CLIListen:          DefaultCLIListen,
		CLISecret:          DefaultCLISecret,
		MetricsListen:      DefaultMetricsListen,
		Exception:          DefaultException,
		FIB:                FIBOwn,
		PuntRateProto:      DefaultPuntRateProto,
		PuntRateND:         DefaultPuntRateND,
		PuntRateOther:      DefaultPuntRateOther,
		PuntRateGlean:      DefaultPuntRateGlean,
	}
}

// DeviceByName returns the in_dev/out_dev device called name. A PCI device
// matches in either spelling (41-00.1 and 0000:41:00.1 are the same port).
func (c *Config) DeviceByName(name string) (Device, bool) {
	key := canonicalDevice(name)
	for _, d := range c.Devices {
		if canonicalDevice(d.Name) == key {
			return d, true
		}
	}
	return Device{}, false
}

// LagOf returns the lag that device dev belongs to.
func (c *Config) LagOf(dev string) (Lag, bool) {
	key := canonicalDevice(dev)
	for _, l := range c.Lags {
		for _, m := range l.Devices {
			if canonicalDevice(m) == key {
				return l, true
			}
		}
	}
	return Lag{}, false
}

// RouterDeviceFor returns the router_device that serves device dev: its own,
// or, for a member of a lag, the one described for any member of the lag
// (there is at most one per lag).
func (c *Config) RouterDeviceFor(dev string) (RouterDevice, bool) {
	members := []string{dev}
	if l, ok := c.LagOf(dev); ok {
		members = l.Devices
	}
	for _, rd := range c.RouterDevices {
		for _, m := range members {
			if canonicalDevice(rd.Device) == canonicalDevice(m) {
				return rd, true
			}
		}
	}
	return RouterDevice{}, false
}

// TapPcapRotation returns the effective rotation period of TAP pcap files:
// router_tap_pcap_rotate, or ajb_udpi_ftimeout when that is 0.
func (c *Config) TapPcapRotation() time.Duration {
	if c.RouterTapPcapRotate > 0 {
		return c.RouterTapPcapRotate
	}
	return c.AjbUdpiFtimeout
}

// PcapTap reports whether router_tap_pcap asks for the traffic of the TAP
// interface named tap to be recorded.
func (c *Config) PcapTap(tap string) bool {
	return slices.Equal(c.RouterTapPcap, []string{"all"}) || slices.Contains(c.RouterTapPcap, tap)
}
