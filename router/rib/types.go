// Package rib resolves routing state into what the FIB must hold: the
// RIB (routes, addresses, neighbours, kernel nexthop objects) and its
// resolution into Targets per table and prefix, with the changes since the
// last flush for the programmer. Pure Go: it builds and tests without cgo.
//
// The types here are the common language of every state source: the static
// loader (router/static) and the netlink mirror (router) both produce
// them, the RIB consumes them.
package rib

import (
	"fmt"
	"net"
	"net/netip"
)

// RouteType mirrors the kernel's rtm_type values that fibd forwards on.
type RouteType uint8

const (
	Unicast     RouteType = iota // forward via nexthops (or on-link)
	Blackhole                    // drop silently
	Unreachable                  // drop, ICMP unreachable (exception path)
	Prohibit                     // drop, ICMP administratively prohibited
	Local                        // addressed to this router: goes to the exception path
	// Throw ends the lookup in its table: the kernel goes on with the next
	// ip rule (with none left, or routing by one table, as no route).
	Throw
)

func (t RouteType) String() string {
	switch t {
	case Unicast:
		return "unicast"
	case Blackhole:
		return "blackhole"
	case Unreachable:
		return "unreachable"
	case Prohibit:
		return "prohibit"
	case Local:
		return "local"
	case Throw:
		return "throw"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// MainTable is the kernel's RT_TABLE_MAIN, the table a route goes to when
// none is named.
const MainTable = 254

// Nexthop is one path of a route. An invalid Gateway means the destination
// is on-link (directly reachable on Dev).
type Nexthop struct {
	Gateway netip.Addr
	Dev     string // interface name: a port's device name or its rib peer name
	Weight  int    // 1..256 as in iproute2; 0 means 1
}

// Route is one entry of a routing table.
type Route struct {
	Table    uint32
	Prefix   netip.Prefix // always masked
	Type     RouteType
	Metric   uint32
	Nexthops []Nexthop // empty for blackhole/unreachable/prohibit
	// NhID is the kernel nexthop object the route names (RTA_NH_ID), 0
	// for none; Nexthops are then its expansion (NhObjs.Expand).
	NhID uint32
}

// Neigh is a resolved neighbour (ARP or NDP entry).
type Neigh struct {
	Addr netip.Addr
	MAC  net.HardwareAddr
	Dev  string
}

// Addr is an address configured on an interface, with its subnet length
// (10.0.0.1/24 means address 10.0.0.1 on the connected subnet 10.0.0.0/24).
type Addr struct {
	Prefix netip.Prefix // not masked: Addr() is the interface address
	Dev    string
}

// State is a complete snapshot of routing state from one source.
type State struct {
	Addrs    []Addr
	Routes   []Route
	Neighs   []Neigh
	Nexthops []*NhObj        // kernel nexthop objects (netlink dumps only)
	VLANs    map[int]VLAN    // by ifindex
	Macvlans map[int]Macvlan // by ifindex
	LinkUp   map[int]bool    // IFF_UP by ifindex (netlink dumps only)
	// Stale are the neighbours the kernel holds as NUD_STALE (netlink
	// dumps only): fibd confirms those it forwards to (Router.confirm).
	Stale []Neigh
}

// VLAN is an 802.1Q interface of the router netns.
type VLAN struct {
	Parent int    // ifindex of the interface it sits on
	ID     uint16 // VID
}

// Macvlan is a macvlan interface of the router netns.
type Macvlan struct {
	Parent int // ifindex of the interface it sits on
	MAC    [6]byte
}

// Links maps ifindex to interface name.
type Links map[int]string
