package router

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	dpdk "fibd/cgo"
)

// subif is an interface on a port's exception interface: a VLAN (vid) or
// a macvlan (mac), which the fast path tells apart on ingress.
type subif struct {
	port dpdk.PortID
	vid  uint16
	mac  [6]byte
}

// ifaces resolves interface names for the RIB: fibd's ports by their
// names, and the interfaces the operator makes on exception interfaces:
// VLANs (the manual's way to use VLANs) and macvlans (the PEERING mux's
// upstreams, told apart by destination MAC). Each gets an id above the
// ports' (from dpdk.MaxPorts), kept while it exists: the ingress
// interface of ip rules, and, through Resolve, the port and VID of a
// nexthop.
type ifaces struct {
	base   Ports
	byName map[string]dpdk.PortID
	subs   map[dpdk.PortID]subif
	ids    map[subif]dpdk.PortID
	next   dpdk.PortID // where the search for a free id starts
	// what the fast path was last told, per port
	published map[dpdk.PortID][]dpdk.IIF
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

// sync takes the netns's links, VLANs and macvlans: those on an exception
// interface become interfaces of fibd, and the fast path learns their
// VIDs and MACs. It reports whether the set changed, and what the fast
// path refused.
func (f *ifaces) sync(links Links, vlans map[int]VLAN, macvlans map[int]Macvlan) (bool, error) {
	want := map[string]subif{}
	for idx, v := range vlans {
		if p, ok := f.base.PortOf(links[v.Parent]); ok && v.ID > 0 && v.ID < 4095 {
			want[links[idx]] = subif{port: p, vid: v.ID}
		}
	}
	for idx, m := range macvlans {
		if p, ok := f.base.PortOf(links[m.Parent]); ok {
			want[links[idx]] = subif{port: p, mac: m.MAC}
		}
	}
	changed := len(want) != len(f.byName)
	var errs []error
	live := map[subif]bool{}
	byName := make(map[string]dpdk.PortID, len(want))
	for name, s := range want {
		id, ok := f.ids[s]
		if !ok {
			if id, ok = f.alloc(); !ok {
				errs = append(errs, fmt.Errorf("%s: no interface id left (%d sub-interfaces)", name, len(f.subs)))
				continue
			}
			f.ids[s], f.subs[id] = id, s
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
			delete(f.ids, s)
			delete(f.subs, id)
			changed = true
		}
	}
	f.byName = byName
	if !changed {
		return false, errors.Join(errs...)
	}
	return true, errors.Join(append(errs, f.publish())...)
}

// maxIfaceID is the highest interface id: ids are 16 bits in the fast path.
const maxIfaceID = dpdk.PortID(0xffff)

// alloc finds an id no sub-interface holds, above the ports' ids. Ids are
// reused once freed, so that they never run past 16 bits into the ports'
// (the fast path would take a sub-interface for a port); the search goes
// on from the last id given, so that a freed id rests a while.
func (f *ifaces) alloc() (dpdk.PortID, bool) {
	span := int(maxIfaceID) - dpdk.MaxPorts + 1
	for range span {
		id := f.next
		if f.next == maxIfaceID {
			f.next = dpdk.PortID(dpdk.MaxPorts)
		} else {
			f.next++
		}
		if _, used := f.subs[id]; !used {
			return id, true
		}
	}
	return 0, false
}

// publish tells the fast path, per port, which VIDs are routed and which
// VIDs and MACs name which ingress interface.
func (f *ifaces) publish() error {
	next := map[dpdk.PortID][]dpdk.IIF{}
	for id, s := range f.subs {
		next[s.port] = append(next[s.port], dpdk.IIF{MAC: s.mac, VID: s.vid, ID: id})
	}
	var errs []error
	for p, old := range f.published {
		for _, x := range old {
			if x.VID != 0 {
				p.SetVLAN(x.VID, false)
			}
		}
		if _, ok := next[p]; !ok {
			errs = append(errs, p.SetIIFs(nil))
		}
	}
	for p, l := range next {
		slices.SortFunc(l, func(a, b dpdk.IIF) int { return cmp.Compare(a.ID, b.ID) })
		for _, x := range l {
			if x.VID != 0 {
				p.SetVLAN(x.VID, true)
			}
		}
		errs = append(errs, p.SetIIFs(l))
	}
	f.published = next
	return errors.Join(errs...)
}
