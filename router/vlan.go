package router

import (
	dpdk "fibd/cgo"
)

// VLAN is an 802.1Q interface of the router netns.
type VLAN struct {
	Parent int    // ifindex of the interface it sits on
	ID     uint16 // VID
}

// subif is a VLAN sub-interface of a port's exception interface.
type subif struct {
	port dpdk.PortID
	vid  uint16
}

// ifaces resolves interface names for the RIB: fibd's ports by their
// names, and the VLAN interfaces the operator makes on exception
// interfaces (the manual's way to use VLANs), as interfaces of their own.
// A sub-interface gets an id above the ports' (from dpdk.MaxPorts), kept
// while it exists; Resolve turns it into the port and VID a nexthop uses.
type ifaces struct {
	base   Ports
	byName map[string]dpdk.PortID
	subs   map[dpdk.PortID]subif
	ids    map[subif]dpdk.PortID
	next   dpdk.PortID
}

func newIfaces(base Ports) *ifaces {
	return &ifaces{base: base, byName: map[string]dpdk.PortID{}, subs: map[dpdk.PortID]subif{},
		ids: map[subif]dpdk.PortID{}, next: dpdk.PortID(dpdk.MaxPorts)}
}

// PortOf implements Ports.
func (f *ifaces) PortOf(dev string) (dpdk.PortID, bool) {
	if p, ok := f.base.PortOf(dev); ok {
		return p, true
	}
	p, ok := f.byName[dev]
	return p, ok
}

// Resolve maps an interface id to the port a frame leaves by and the VID
// it is tagged with (0: untagged).
func (f *ifaces) Resolve(id dpdk.PortID) (dpdk.PortID, uint16) {
	if s, ok := f.subs[id]; ok {
		return s.port, s.vid
	}
	return id, 0
}

// sync takes the netns's links and VLANs: VLAN interfaces on an exception
// interface become sub-interfaces, and the fast path routes their tagged
// frames. It reports whether the set of sub-interfaces changed.
func (f *ifaces) sync(links Links, vlans map[int]VLAN) bool {
	want := map[string]subif{}
	for idx, v := range vlans {
		p, ok := f.base.PortOf(links[v.Parent])
		if !ok || v.ID == 0 || v.ID > 4094 {
			continue
		}
		want[links[idx]] = subif{p, v.ID}
	}
	changed := false
	live := map[subif]bool{}
	byName := make(map[string]dpdk.PortID, len(want))
	for name, s := range want {
		id, ok := f.ids[s]
		if !ok {
			id = f.next
			f.next++
			f.ids[s], f.subs[id] = id, s
			s.port.SetVLAN(s.vid, true)
			changed = true
		}
		if f.byName[name] != id {
			changed = true
		}
		byName[name] = id
		live[s] = true
	}
	for s, id := range f.ids {
		if !live[s] {
			s.port.SetVLAN(s.vid, false)
			delete(f.ids, s)
			delete(f.subs, id)
			changed = true
		}
	}
	if len(byName) != len(f.byName) {
		changed = true
	}
	f.byName = byName
	return changed
}
