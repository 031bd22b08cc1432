package rib

import (
	"math/rand/v2"
	"testing"
)

// TestMap4 checks Map4 against a plain map on random keys of a few first
// octets (so that octets empty and fill again), with replaces and deletes
// of keys present and absent: Get, Len and All after every step batch.
func TestMap4(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := NewMap4[int](100)
	ref := map[uint64]int{}
	check := func(step int) {
		t.Helper()
		if m.Len() != len(ref) {
			t.Fatalf("step %d: Len %d, want %d", step, m.Len(), len(ref))
		}
		seen := 0
		for x, v := range m.All() {
			if w, ok := ref[x]; !ok || w != v {
				t.Fatalf("step %d: All yields %x=%d, want %d (held %v)", step, x, v, w, ok)
			}
			seen++
		}
		if seen != len(ref) {
			t.Fatalf("step %d: All yields %d prefixes, want %d", step, seen, len(ref))
		}
	}
	for i := range 50000 {
		oct := uint64(rng.IntN(5) * 60)
		x := oct<<32 | uint64(rng.IntN(64))<<8 | uint64(rng.IntN(33))
		switch rng.IntN(3) {
		case 0, 1:
			m.Set(x, i)
			ref[x] = i
		default:
			m.Delete(x)
			delete(ref, x)
		}
		v, ok := m.Get(x)
		if w, want := ref[x]; ok != want || v != w {
			t.Fatalf("step %d: Get(%x) = %d, %v; want %d, %v", i, x, v, ok, w, want)
		}
		if i%5000 == 0 {
			check(i)
		}
	}
	check(-1)
	for x := range ref {
		m.Delete(x)
	}
	if m.Len() != 0 {
		t.Fatalf("emptied: Len %d", m.Len())
	}
	for o, s := range m.oct {
		if s != nil {
			t.Fatalf("emptied: octet %d keeps its map", o)
		}
	}
}
