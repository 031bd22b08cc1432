package router

import (
	"testing"

	dpdk "fibd/cgo"
)

// TestIfacesVLANs: VLAN interfaces on an exception interface become
// sub-interfaces with ids of their own that resolve to port and VID;
// others are ignored; ids stay while the sub-interface lives.
func TestIfacesVLANs(t *testing.T) {
	f := newIfaces(fakePorts{"rib1": 1, "rib2": 2})
	links := Links{10: "rib1", 11: "rib1.100", 12: "x.5", 13: "rib2", 14: "rib2.7"}
	vlans := map[int]VLAN{11: {10, 100}, 12: {99, 5}, 14: {13, 7}}
	if ch, _ := f.sync(links, vlans, nil); !ch {
		t.Fatal("first sync reports no change")
	}
	id, ok := f.PortOf("rib1.100")
	if !ok || int(id) < dpdk.MaxPorts {
		t.Fatalf("rib1.100: %d %v", id, ok)
	}
	if p, vid := f.Resolve(id); p != 1 || vid != 100 {
		t.Errorf("rib1.100 resolves to port %d vid %d", p, vid)
	}
	if p, vid := f.Resolve(2); p != 2 || vid != 0 {
		t.Errorf("a port resolves to itself: %d %d", p, vid)
	}
	if _, ok := f.PortOf("x.5"); ok {
		t.Error("a VLAN on a foreign interface became a sub-interface")
	}
	if ch, _ := f.sync(links, vlans, nil); ch {
		t.Error("an unchanged netns reports a change")
	}
	delete(vlans, 14)
	if ch, _ := f.sync(links, vlans, nil); !ch {
		t.Error("a removed VLAN is no change")
	}
	if _, ok := f.PortOf("rib2.7"); ok {
		t.Error("rib2.7 outlived its VLAN")
	}
	if again, _ := f.PortOf("rib1.100"); again != id {
		t.Errorf("rib1.100 changed id %d -> %d", id, again)
	}
}
