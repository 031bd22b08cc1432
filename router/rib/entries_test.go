package rib

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestEntryMap checks the per-table, per-family entry map against a plain
// map of tp on random prefixes of both families in a few tables, with
// deletions, and Pack4 against the prefix it packs.
func TestEntryMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := newEntryMap(10, 10)
	ref := map[tp]*entry{}
	for i := range 20000 {
		var p netip.Prefix
		if rng.IntN(3) == 0 {
			var a [16]byte
			for j := range a {
				a[j] = byte(rng.IntN(4))
			}
			p = netip.PrefixFrom(netip.AddrFrom16(a), rng.IntN(129)).Masked()
		} else {
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(rng.IntN(4) * 77), byte(rng.IntN(4)), 0, byte(rng.IntN(256))}), rng.IntN(33)).Masked()
		}
		k := mkTP(uint32(rng.IntN(3)), p)
		if k.Prefix() != p {
			t.Fatalf("%s packs and unpacks to %s", p, k.Prefix())
		}
		if p.Addr().Is4() && Unpack4(k.Pack4()) != k.PrefixKey {
			t.Fatalf("%s: Unpack4(Pack4) = %s", p, Unpack4(k.Pack4()).Prefix())
		}
		if e := ref[k]; e != nil {
			if m.get(k) != e {
				t.Fatalf("step %d: %v: got %p, want %p", i, k, m.get(k), e)
			}
			if rng.IntN(2) == 0 {
				m.del(k)
				delete(ref, k)
			}
			continue
		}
		if m.get(k) != nil {
			t.Fatalf("step %d: %v present, not set", i, k)
		}
		e := &entry{}
		m.set(k, e)
		ref[k] = e
	}
	if m.len() != len(ref) {
		t.Fatalf("len %d, want %d", m.len(), len(ref))
	}
	n := 0
	for k, e := range m.all() {
		if ref[k] != e {
			t.Fatalf("all yields %v: %p, want %p", k, e, ref[k])
		}
		n++
	}
	if n != len(ref) {
		t.Fatalf("all yields %d entries, want %d", n, len(ref))
	}
	for table := range uint32(3) {
		for _, v6 := range []bool{false, true} {
			want := 0
			for k := range ref {
				if k.table == table && k.Is6() == v6 {
					want++
				}
			}
			got := 0
			for k := range m.of(table, v6) {
				if k.table != table || k.Is6() != v6 {
					t.Fatalf("of(%d, %v) yields %v", table, v6, k)
				}
				got++
			}
			if got != want {
				t.Fatalf("of(%d, %v) yields %d, want %d", table, v6, got, want)
			}
		}
	}
}
