package router

import (
	"testing"

	dpdk "fibd/cgo"
)

// fakePorts names the ports of the tests.
type fakePorts map[string]dpdk.PortID

func (f fakePorts) PortOf(dev string) (dpdk.PortID, bool) { p, ok := f[dev]; return p, ok }

// TestIfacesVLANs: VLAN interfaces on an exception interface become
// sub-interfaces with ids of their own that resolve to port and VID;
// others are ignored; ids stay while the sub-interface lives.
func TestIfacesVLANs(t *testing.T) {
	f := newIfaces(fakePorts{"rib1": 1, "rib2": 2})
	links := Links{10: "rib1", 11: "rib1.100", 12: "x.5", 13: "rib2", 14: "rib2.7"}
	vlans := map[int]VLAN{11: {Parent: 10, ID: 100}, 12: {Parent: 99, ID: 5}, 14: {Parent: 13, ID: 7}}
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

// TestIfacesIDsNeverWrap: interfaces that come and go for longer than 16
// bits of ids last never get an id of a port (they used to wrap to 0).
func TestIfacesIDsNeverWrap(t *testing.T) {
	f := newIfaces(fakePorts{"rib1": 1})
	links := Links{10: "rib1", 11: "up1", 12: "up2"}
	seen := map[dpdk.PortID]bool{}
	for i := range 70000 {
		mv := map[int]Macvlan{11: {Parent: 10, MAC: [6]byte{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}},
			12: {Parent: 10, MAC: [6]byte{2, 1, 0, 0, 0, 1}}}
		if _, err := f.sync(links, nil, mv); err != nil && i == 0 {
			t.Logf("publish without an EAL: %v", err)
		}
		id, ok := f.PortOf("up1")
		if !ok || int(id) < dpdk.MaxPorts {
			t.Fatalf("round %d: up1 got id %d (ports are below %d)", i, id, dpdk.MaxPorts)
		}
		if other, _ := f.PortOf("up2"); other == id {
			t.Fatalf("round %d: up1 and up2 share id %d", i, id)
		}
		seen[id] = true
	}
	if len(f.subs) != 2 || len(f.ids) != 2 {
		t.Errorf("%d sub-interfaces kept, want 2", len(f.subs))
	}
	if len(seen) < 1000 {
		t.Errorf("a freed id was reused at once (%d distinct ids)", len(seen))
	}
}
