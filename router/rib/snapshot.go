package rib

import (
	"encoding/binary"
	"net/netip"
	"slices"
)

// RouteView is one resolved route of a Snapshot.
type RouteView struct {
	Table  uint32
	Prefix netip.Prefix
	Target int32 // index in Snapshot.Targets
}

// Snapshot is a copy of (part of) a RIB's resolution, the caller's to keep:
// nothing in it is shared with the RIB. Routes with equal targets share
// one entry of Targets, so a full view costs about 40 bytes per route.
type Snapshot struct {
	Routes  []RouteView // in no particular order
	Targets []Target    // each distinct target once
}

// Snapshot copies the resolved routes that keep selects (nil: every one).
// It reads the RIB, so it runs where the RIB may be read (Router.Do): the
// copy is what makes the lock short. Whatever the caller then does with
// the snapshot (a client that reads an answer slowly) no longer holds the
// router.
func (r *RIB) Snapshot(keep func(table uint32, p netip.Prefix) bool) *Snapshot {
	s := &Snapshot{}
	ids := map[string]int32{}
	var id []byte
	for k, e := range r.entries.all() {
		if !e.has() || k.table == ObjTable || (keep != nil && !keep(k.table, k.Prefix())) {
			continue
		}
		out := r.resolved(e)
		id = out.appendIdentity(id[:0])
		i, ok := ids[string(id)]
		if !ok {
			i = int32(len(s.Targets))
			t := *out
			t.Members = slices.Clone(t.Members)
			s.Targets = append(s.Targets, t)
			ids[string(id)] = i
		}
		s.Routes = append(s.Routes, RouteView{Table: k.table, Prefix: k.Prefix(), Target: i})
	}
	return s
}

// appendIdentity appends what tells t apart from another target (the
// fields Equal compares), cheaply enough to run under the router's lock
// for every route of a full view.
func (t *Target) appendIdentity(b []byte) []byte {
	b = appendHopIdentity(binary.BigEndian.AppendUint32(append(b, byte(t.Type)), t.Obj), t.Hop)
	for _, m := range t.Members {
		b = binary.BigEndian.AppendUint32(appendHopIdentity(b, m.Hop), uint32(m.Weight))
	}
	return b
}

func appendHopIdentity(b []byte, h Hop) []byte {
	b = binary.BigEndian.AppendUint16(append(b, byte(h.Type)), uint16(h.Port))
	return appendHopAddr(append(b, h.MAC[:]...), h.Gw)
}
