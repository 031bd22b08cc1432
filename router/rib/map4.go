package rib

import "iter"

// Map4 maps IPv4 prefixes, as PrefixKey.Pack4 packs them, to values: one
// Go map per first octet. The kernel dumps a table in address order, and
// a map of one /8 (a few thousand prefixes of a full view) stays in the
// cache while its part of the dump is inserted, where one map of a million
// missed it on nearly every insert: a full view's restart spent 0.6 s of
// the router goroutine's 1.0 s of RIB inserts, and 0.5 s of the FIB
// record's fill, probing them. Lookups cost one more index.
//
// The zero Map4 is empty and ready. Concurrency: its owner's.
type Map4[V any] struct {
	oct [256]map[uint64]V // nil until used
	n   int
	// hint: the prefixes expected; a first octet's map is made for an
	// even share of them (a /8 is 1/224 of the unicast space)
	hint int
}

// NewMap4 is an empty map sized for about hint prefixes.
func NewMap4[V any](hint int) *Map4[V] { return &Map4[V]{hint: hint} }

func octet(x uint64) uint8 { return uint8(x >> 32) }

// Get is x's value, if any.
func (m *Map4[V]) Get(x uint64) (V, bool) {
	v, ok := m.oct[octet(x)][x]
	return v, ok
}

// Set adds or replaces x's value.
func (m *Map4[V]) Set(x uint64, v V) {
	s := &m.oct[octet(x)]
	if *s == nil {
		*s = make(map[uint64]V, m.hint/224)
	}
	n := len(*s)
	(*s)[x] = v
	m.n += len(*s) - n
}

// Delete removes x, if there.
func (m *Map4[V]) Delete(x uint64) {
	s := &m.oct[octet(x)]
	n := len(*s)
	delete(*s, x)
	m.n -= n - len(*s)
	if len(*s) == 0 {
		*s = nil // a map keeps the room it grew to
	}
}

// Len is the number of prefixes held.
func (m *Map4[V]) Len() int { return m.n }

// All yields every prefix and its value, in no particular order. Setting
// or deleting the prefix yielded is allowed.
func (m *Map4[V]) All() iter.Seq2[uint64, V] {
	return func(yield func(uint64, V) bool) {
		for _, s := range &m.oct {
			for x, v := range s {
				if !yield(x, v) {
					return
				}
			}
		}
	}
}
