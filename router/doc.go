// Package router turns routing state (from a static file in labs, from
// rtnetlink in production) into FIB changes for the data plane. It is the
// event loop (Router) that wires the rooms below it, along the data flow:
//
//	router/kernel  the netlink mirror of router_netns (reads)     ┐
//	router/static  the ip -batch static loader                    ┴→ rib.State
//	router/rib     the RIB: resolution into FIB targets, changes  → program
//	router/program the FIB programmer (lpm, the only cgo user)
//	router/announce announcements into router_netns (writes)
//	router/rtnl, router/rtnlpcap  rtnetlink sockets, recording
//	router/peering the PEERING mux address plan
//
// Here live what needs them all: the Router and its loop, the interfaces
// of the exception path's VLANs and macvlans (vlan.go), rule publication
// to the fast path (rules_sync.go), and the thread placement (cpu_linux.go).
// facade.go keeps the names cmd/ and test/ used before the split.
package router
