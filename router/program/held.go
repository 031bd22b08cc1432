package program

import (
	"iter"

	"fibd/router/rib"
)

// held is what the FIB holds for one kernel table: each prefix's
// programmed nexthop and mark, by family. An IPv4 prefix is keyed by 8
// bytes (rib.PrefixKey.Pack4): a full view's million slots take 12 bytes
// each, where a rib.PrefixKey key took 24; they are spread by first octet
// (rib.Map4), which a full view's first fill, in address order, needs.
//
// Concurrency: the Programmer's (its writer).
type held struct {
	v4 *rib.Map4[programmed]
	v6 map[rib.PrefixKey]programmed
}

// newHeld is an empty record sized for n4 IPv4 and n6 IPv6 prefixes.
func newHeld(n4, n6 int) *held {
	return &held{v4: rib.NewMap4[programmed](n4), v6: make(map[rib.PrefixKey]programmed, n6)}
}

// get is k's record (h may be nil: nothing held).
func (h *held) get(k rib.PrefixKey) (programmed, bool) {
	if h == nil {
		return 0, false
	}
	if k.Is4() {
		return h.v4.Get(k.Pack4())
	}
	x, ok := h.v6[k]
	return x, ok
}

func (h *held) set(k rib.PrefixKey, x programmed) {
	if k.Is4() {
		h.v4.Set(k.Pack4(), x)
	} else {
		h.v6[k] = x
	}
}

func (h *held) del(k rib.PrefixKey) {
	if k.Is4() {
		h.v4.Delete(k.Pack4())
	} else {
		delete(h.v6, k)
	}
}

// len counts the prefixes held (h may be nil).
func (h *held) len() int {
	if h == nil {
		return 0
	}
	return h.v4.Len() + len(h.v6)
}

// all yields every prefix held with its record (h may be nil). Setting
// the record of the prefix yielded is allowed.
func (h *held) all() iter.Seq2[rib.PrefixKey, programmed] {
	return func(yield func(rib.PrefixKey, programmed) bool) {
		if h == nil {
			return
		}
		for x, c := range h.v4.All() {
			if !yield(rib.Unpack4(x), c) {
				return
			}
		}
		for k, c := range h.v6 {
			if !yield(k, c) {
				return
			}
		}
	}
}
