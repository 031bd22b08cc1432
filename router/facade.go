package router

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
	"fibd/cgo/fptypes"
	"fibd/lpm"
	"fibd/router/announce"
	"fibd/router/kernel"
	"fibd/router/program"
	"fibd/router/rib"
	"fibd/router/rtnl"
	"fibd/router/rtnlpcap"
	"fibd/router/static"
)

// The RIB and its types live in router/rib (pure Go); these names keep
// the router's API as it was for cmd/ and test/.
type (
	Addr      = rib.Addr
	Change    = rib.Change
	Desired   = rib.Desired
	Hop       = rib.Hop
	Links     = rib.Links
	Macvlan   = rib.Macvlan
	Member    = rib.Member
	Neigh     = rib.Neigh
	Nexthop   = rib.Nexthop
	NhMember  = rib.NhMember
	NhObj     = rib.NhObj
	Punt      = rib.Punt
	RIB       = rib.RIB
	Route     = rib.Route
	RouteType = rib.RouteType
	RouteView = rib.RouteView
	Snapshot  = rib.Snapshot
	State     = rib.State
	Target    = rib.Target
	VLAN      = rib.VLAN
)

const (
	MainTable   = rib.MainTable
	Unicast     = rib.Unicast
	Blackhole   = rib.Blackhole
	Unreachable = rib.Unreachable
	Prohibit    = rib.Prohibit
	Local       = rib.Local
)

// Ports maps an interface name to its port (ports.Set, the tests' fakes)
// in the binding's terms; rib.Ports is the same in fptypes terms, and
// ribPorts turns one into the other.
type Ports interface {
	PortOf(dev string) (dpdk.PortID, bool)
}

type ribPorts struct{ p Ports }

func (r ribPorts) PortOf(dev string) (fptypes.PortID, bool) {
	id, ok := r.p.PortOf(dev)
	return fptypes.PortID(id), ok
}

// NewRIB is rib.NewRIB on the binding's ports.
func NewRIB(ports Ports, localTable uint32, routes ...int) *RIB {
	return rib.NewRIB(ribPorts{ports}, localTable, routes...)
}

// Resolve is rib.Resolve on the binding's ports.
func Resolve(st *State, ports Ports, localTable uint32) (Desired, []error) {
	return rib.Resolve(st, ribPorts{ports}, localTable)
}

// Buckets is rib.Buckets.
func Buckets(weights []int, n int) []int { return rib.Buckets(weights, n) }

// The static loader lives in router/static; these names keep cmd/ and
// test/ as they were.
type StaticError = static.Error

// LoadStatic is static.Load.
func LoadStatic(path string) (*State, error) { return static.Load(path) }

// ParseStatic is static.Parse.
func ParseStatic(name string, src []byte) (*State, error) { return static.Parse(name, src) }

// RecordRtnl is rtnlpcap.Record (router_rtnl_pcap).
func RecordRtnl(ctx context.Context, log zerolog.Logger, name, dir string, rotate time.Duration) error {
	return rtnlpcap.Record(ctx, log, name, dir, rotate)
}

// Rules: the types live in router/rib.
type (
	Rule       = rib.Rule
	RuleAction = rib.RuleAction
	RulePlan   = rib.RulePlan
)

const (
	RuleLookup      = rib.RuleLookup
	RuleBlackhole   = rib.RuleBlackhole
	RuleUnreachable = rib.RuleUnreachable
	RuleProhibit    = rib.RuleProhibit
	LocalTable      = rib.LocalTable
	DefaultTable    = rib.DefaultTable
)

// PlanRules is rib.PlanRules.
func PlanRules(rules []Rule, kernelTable uint32) RulePlan { return rib.PlanRules(rules, kernelTable) }

// Peers is kernel.Peers (the BGP and LDP peers, through sock_diag).
type Peers = kernel.Peers

// ProtoFibd is rtnl.ProtoFibd, the route protocol of fibd's announcements.
const ProtoFibd = rtnl.ProtoFibd

// Announcements live in router/announce.
type (
	Announcer  = announce.Announcer
	Dir        = announce.Dir
	Policy     = announce.Policy
	Subscriber = announce.Subscriber
)

const (
	DirSubs    = announce.DirSubs
	DirInet    = announce.DirInet
	ServiceNAT = announce.ServiceNAT
)

// DefaultPrivate is announce.DefaultPrivate (the same slice).
var DefaultPrivate = announce.DefaultPrivate

// NewAnnouncer is announce.New.
func NewAnnouncer(ns string, tables map[Dir]uint32, metric uint32, devs map[Dir][]string) *Announcer {
	return announce.New(ns, tables, metric, devs)
}

// The FIB programmer lives in router/program.
type (
	Programmer = program.Programmer
	SyncStats  = program.SyncStats
)

// NewProgrammer is program.New.
func NewProgrammer(log zerolog.Logger, fib *lpm.FIB) *Programmer { return program.New(log, fib) }
