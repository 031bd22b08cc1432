// Package kni plans fibd's exception interfaces: for every router_device,
// the interface in router_netns (peer, default "rib"+device) through which
// the routing daemon sends and receives its protocol traffic, the fibd side
// of it (tap, default "dpi"+device), the subnets whose traffic is punted to
// it, and the ports it serves (all members of the device's LAG).
//
// The name is the manual's (and DPDK's old Kernel NIC Interface); the
// interfaces themselves are net_tap or virtio-user ports, or an operator's
// veth pair, as DESIGN.md describes.
package kni

import (
	"net/netip"

	"fibd/conf"
)

// Interface is one exception interface.
type Interface struct {
	Device   string         // router_device's device
	Tap      string         // fibd's side
	Peer     string         // the routing daemon's side, in router_netns
	Members  []string       // devices whose punted traffic goes here (the LAG, or the device)
	Subnets  []netip.Prefix // punted destinations, both families
	Upstream bool           // faces the internet (out_dev)
}

// Plan lists the exception interfaces cfg asks for, in configuration order.
func Plan(cfg *conf.Config) []Interface {
	var out []Interface
	for _, rd := range cfg.RouterDevices {
		it := Interface{Device: rd.Device, Tap: rd.Tap, Peer: rd.Peer, Members: []string{rd.Device}}
		if lag, ok := cfg.LagOf(rd.Device); ok {
			it.Members = append([]string(nil), lag.Devices...)
		}
		if d, ok := cfg.DeviceByName(rd.Device); ok {
			it.Upstream = d.Dir == conf.DirInet
		}
		it.Subnets = append(append(it.Subnets, rd.Subnets...), rd.Subnets6...)
		out = append(out, it)
	}
	return out
}
