package rib

import (
	"net/netip"
	"slices"
)

// internTab hands out small indices for distinct values, refcounted: a
// full view has a handful of distinct resolutions and path sets shared by
// a million prefixes, so each entry holds 4-byte indices instead of the
// values. Index 0 is never handed out: it stands for the zero value.
//
// Concurrency: the RIB's (its one writer's, and readers under the same
// lock). A *T from get stays valid until the next intern: callers use it
// at once or copy it. Never modify a value in place.
type internTab[T any] struct {
	list     []T // by index
	refs     []int32
	free     []uint32
	byID     map[string]uint32 // identity -> index
	id       []byte            // scratch for the identity
	identity func(b []byte, x *T) []byte
	equal    func(a, b *T) bool
	own      func(x *T) T // the table's own copy of x
	// recent are the last indices intern handed out anew or found by
	// identity: a full view's routes come in runs of a few paths and
	// resolutions (one per peer), and comparing with them costs less
	// than building the identity. An index freed and reused meanwhile
	// only fails the comparison.
	recent [4]uint32
	next   int // the slot of recent to fill next
	// arg holds internVal's argument: a pointer to a caller's variable
	// would move it to the heap (identity, equal and own are func
	// values, opaque to escape analysis), an allocation per route.
	arg T
}

func newInternTab[T any](identity func([]byte, *T) []byte, equal func(a, b *T) bool, own func(*T) T) *internTab[T] {
	return &internTab[T]{list: make([]T, 1), refs: make([]int32, 1), byID: map[string]uint32{},
		identity: identity, equal: equal, own: own}
}

// internVal is intern(&x) without x escaping.
func (tt *internTab[T]) internVal(x T) uint32 {
	tt.arg = x
	i := tt.intern(&tt.arg)
	var zero T
	tt.arg = zero // keeps nothing of x alive
	return i
}

// intern returns the index of a value equal to x, taking a reference.
func (tt *internTab[T]) intern(x *T) uint32 {
	for _, i := range tt.recent {
		if tt.refs[i] > 0 && tt.equal(&tt.list[i], x) {
			tt.refs[i]++
			return i
		}
	}
	i := tt.intern1(x)
	tt.recent[tt.next] = i
	tt.next = (tt.next + 1) % len(tt.recent)
	return i
}

func (tt *internTab[T]) intern1(x *T) uint32 {
	tt.id = tt.identity(tt.id[:0], x)
	if i, ok := tt.byID[string(tt.id)]; ok {
		tt.refs[i]++
		return i
	}
	c := tt.own(x)
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
func (tt *internTab[T]) release(i uint32) {
	if i == 0 {
		return
	}
	if tt.refs[i]--; tt.refs[i] > 0 {
		return
	}
	tt.id = tt.identity(tt.id[:0], &tt.list[i])
	delete(tt.byID, string(tt.id))
	var zero T
	tt.list[i] = zero
	tt.free = append(tt.free, i)
}

// get is value i.
func (tt *internTab[T]) get(i uint32) *T { return &tt.list[i] }

// live counts the distinct values in use.
func (tt *internTab[T]) live() int { return len(tt.byID) }

// targetTab interns the RIB's resolutions (Target: 80 bytes).
type targetTab = internTab[Target]

func newTargetTab() *targetTab {
	return newInternTab(func(b []byte, x *Target) []byte { return x.appendIdentity(b) },
		func(a, b *Target) bool { return a.Equal(b) },
		func(x *Target) Target {
			c := *x
			c.Members = append([]Member(nil), x.Members...)
			return c
		})
}

// pathTab interns the paths of the routes the RIB holds (a slice header
// and its array per route otherwise). Index 0 is no paths.
type pathTab struct{ *internTab[[]Nexthop] }

func newPathTab() pathTab {
	return pathTab{newInternTab(func(b []byte, ps *[]Nexthop) []byte {
		for _, p := range *ps {
			b = appendHopAddr(b, p.Gateway)
			b = append(append(b, p.Dev...), 0)
			b = append(b, byte(p.Weight), byte(p.Weight>>8))
		}
		return b
	}, func(a, b *[]Nexthop) bool { return slices.Equal(*a, *b) },
		func(ps *[]Nexthop) []Nexthop { return slices.Clip(slices.Clone(*ps)) })}
}

// intern returns the index of paths equal to ps (0 for none), taking a
// reference.
func (pt pathTab) intern(ps []Nexthop) uint32 {
	if len(ps) == 0 {
		return 0
	}
	return pt.internTab.internVal(ps)
}

// get is paths i: shared, read-only.
func (pt pathTab) get(i uint32) []Nexthop { return pt.list[i] }

// appendHopAddr appends a's identity: its bytes (none when invalid) and
// its length.
func appendHopAddr(b []byte, a netip.Addr) []byte {
	b, _ = a.AppendBinary(b)
	return append(b, byte(a.BitLen()))
}
