// Package fptypes holds the fast path's small value types in plain Go, so
// that control-plane code that only computes with them (the RIB, the static
// loader) builds and tests without cgo and DPDK.
//
// The binding (fibd/cgo, package dpdk) re-exports NexthopType and its
// constants as aliases and checks at compile time that each value equals
// its C enum (cgo/fptypes_check.go). PortID is not an alias there: the
// binding's PortID carries the port's methods (Setup, Stats, ...), which Go
// only allows on a type of its own package; the two convert with
// dpdk.PortID(id) and fptypes.PortID(id).
package fptypes

// PortID identifies a port as the RIB sees it: an ethdev port id, or an
// interface id above the ports (a VLAN or macvlan sub-interface; see
// router's ifaces). Same numbering as dpdk.PortID.
type PortID uint16

// NexthopType says what the fast path does with packets routed to a
// nexthop. The values are those of enum fp_nh_type in cgo/dp/fp.h.
type NexthopType uint8

const (
	NexthopNone        NexthopType = 0 // free slot
	NexthopForward     NexthopType = 1 // out of Port to a neighbour's MAC
	NexthopECMP        NexthopType = 2 // a member by flow hash
	NexthopUnresolved  NexthopType = 3 // on Port, neighbour MAC unknown yet
	NexthopLocal       NexthopType = 4 // addressed to the router itself
	NexthopBlackhole   NexthopType = 5
	NexthopUnreachable NexthopType = 6
	NexthopProhibit    NexthopType = 7
	NexthopPunt        NexthopType = 8 // to Port's exception interface
	NexthopThrow       NexthopType = 9 // a throw route: ip rules go on with the next rule
)
