package rib

import (
	"net/netip"
	"slices"
)

// targetTab interns the RIB's resolutions. A full view has a handful of
// distinct targets (one per gateway, group or object) shared by a million
// prefixes: each entry holds a 4-byte index instead of an 80-byte Target.
//
// Concurrency: the RIB's (its one writer's, and readers under the same
// lock). A *Target from get stays valid until the next intern: callers use
// it at once or copy it.
type targetTab struct {
	list []Target // by index; 0 is never handed out
	refs []int32
	free []uint32
	byID map[string]uint32 // Target.appendIdentity -> index
	id   []byte            // scratch for the identity
}

func newTargetTab() *targetTab {
	return &targetTab{list: make([]Target, 1), refs: make([]int32, 1), byID: map[string]uint32{}}
}

// intern returns the index of a target equal to x, taking a reference.
// The table keeps its own copy of x's members.
func (tt *targetTab) intern(x *Target) uint32 {
	tt.id = x.appendIdentity(tt.id[:0])
	if i, ok := tt.byID[string(tt.id)]; ok {
		tt.refs[i]++
		return i
	}
	c := *x
	c.Members = append([]Member(nil), x.Members...)
	var i uint32
	if n := len(tt.free); n > 0 {
		i = tt.free[n-1]
		tt.free = tt.free[:n-1]
		tt.list[i] = c
	} else {
		i = uint32(len(tt.list))
		tt.list = append(tt.list, c)
		tt.refs = append(tt.refs, 0)
	}
	tt.refs[i] = 1
	tt.byID[string(tt.id)] = i
	return i
}

// release drops a reference to index i (0: none); the last one frees it.
func (tt *targetTab) release(i uint32) {
	if i == 0 {
		return
	}
	if tt.refs[i]--; tt.refs[i] > 0 {
		return
	}
	tt.id = tt.list[i].appendIdentity(tt.id[:0])
	delete(tt.byID, string(tt.id))
	tt.list[i] = Target{}
	tt.free = append(tt.free, i)
}

// get is target i.
func (tt *targetTab) get(i uint32) *Target { return &tt.list[i] }

// live counts the distinct targets in use.
func (tt *targetTab) live() int { return len(tt.byID) }

// pathTab interns the paths of the routes the RIB holds: routes through
// the same gateways share one read-only slice (a full view has a few
// distinct path sets for a million routes). Never modify a held route's
// Nexthops in place.
type pathTab struct {
	sets map[string]*pathSet
	id   []byte
}

type pathSet struct {
	paths []Nexthop
	refs  int
}

func newPathTab() *pathTab { return &pathTab{sets: map[string]*pathSet{}} }

func (pt *pathTab) identity(ps []Nexthop) []byte {
	b := pt.id[:0]
	for _, p := range ps {
		b = appendHopAddr(b, p.Gateway)
		b = append(append(b, p.Dev...), 0)
		b = append(b, byte(p.Weight), byte(p.Weight>>8))
	}
	pt.id = b
	return b
}

// intern returns a shared slice equal to ps, taking a reference.
func (pt *pathTab) intern(ps []Nexthop) []Nexthop {
	if len(ps) == 0 {
		return nil
	}
	id := pt.identity(ps)
	if s, ok := pt.sets[string(id)]; ok {
		s.refs++
		return s.paths
	}
	s := &pathSet{paths: slices.Clip(slices.Clone(ps)), refs: 1}
	pt.sets[string(id)] = s
	return s.paths
}

// release drops a reference taken by intern.
func (pt *pathTab) release(ps []Nexthop) {
	if len(ps) == 0 {
		return
	}
	id := pt.identity(ps)
	if s, ok := pt.sets[string(id)]; ok {
		if s.refs--; s.refs == 0 {
			delete(pt.sets, string(id))
		}
	}
}

// appendHopAddr appends a's identity: its bytes (none when invalid) and
// its length.
func appendHopAddr(b []byte, a netip.Addr) []byte {
	b, _ = a.AppendBinary(b)
	return append(b, byte(a.BitLen()))
}
