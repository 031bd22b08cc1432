package rib

import (
	"encoding/binary"
	"iter"
)

// entryMap holds the RIB's entries by table, then by family: an IPv4
// prefix is keyed by 8 bytes (Pack4) where a tp takes 24, so a full
// view's million IPv4 map slots take 16 bytes each, not 32 (and they are
// spread by first octet, see Map4).
//
// Concurrency: the RIB's.
type entryMap struct {
	tabs   map[uint32]*tableEntries
	n4, n6 int // entries in all tables, per family (n6: and the invalid prefix)
	// last is the table the last access went to: a full view's routes
	// come table by table.
	last   *tableEntries
	lastID uint32
	// hint4, hint6 size the first route table's maps (NewRIB's hint),
	// then go to 0.
	hint4, hint6 int
}

// tableEntries is one table's entries.
type tableEntries struct {
	v4 Map4[*entry]         // by Pack4
	v6 map[PrefixKey]*entry // IPv6 (and the invalid prefix)
}

func newEntryMap(hint4, hint6 int) entryMap {
	return entryMap{tabs: map[uint32]*tableEntries{}, hint4: hint4, hint6: hint6}
}

// Pack4 is IPv4 prefix k in 8 bytes: its address and length (k must be
// IPv4: Is4).
func (k PrefixKey) Pack4() uint64 {
	return uint64(binary.BigEndian.Uint32(k.addr[:4]))<<8 | uint64(k.bits)
}

// Unpack4 is the IPv4 prefix that Pack4 made x of.
func Unpack4(x uint64) PrefixKey {
	k := PrefixKey{fam: 4, bits: uint8(x)}
	binary.BigEndian.PutUint32(k.addr[:4], uint32(x>>8))
	return k
}

// IsHost reports whether k is a host prefix (/32, /128).
func (k PrefixKey) IsHost() bool {
	return k.fam == 4 && k.bits == 32 || k.fam == 6 && k.bits == 128
}

// Is4 reports whether k is an IPv4 prefix.
func (k PrefixKey) Is4() bool { return k.fam == 4 }

// table is table id's entries; make: create it if missing (else nil).
func (m *entryMap) table(id uint32, make_ bool) *tableEntries {
	if m.last != nil && m.lastID == id {
		return m.last
	}
	t := m.tabs[id]
	if t == nil {
		if !make_ {
			return nil
		}
		t = &tableEntries{}
		if id != ObjTable && (m.hint4 > 0 || m.hint6 > 0) {
			t.v4.hint = m.hint4
			t.v6 = make(map[PrefixKey]*entry, m.hint6)
			m.hint4, m.hint6 = 0, 0
		} else {
			t.v6 = map[PrefixKey]*entry{}
		}
		m.tabs[id] = t
	}
	m.last, m.lastID = t, id
	return t
}

func (m *entryMap) get(k tp) *entry {
	t := m.table(k.table, false)
	if t == nil {
		return nil
	}
	if k.Is4() {
		e, _ := t.v4.Get(k.Pack4())
		return e
	}
	return t.v6[k.PrefixKey]
}

// set adds k, which is not there.
func (m *entryMap) set(k tp, e *entry) {
	t := m.table(k.table, true)
	if k.Is4() {
		t.v4.Set(k.Pack4(), e)
		m.n4++
	} else {
		t.v6[k.PrefixKey] = e
		m.n6++
	}
}

// del removes k, which is there; a table left empty goes.
func (m *entryMap) del(k tp) {
	t := m.table(k.table, false)
	if k.Is4() {
		t.v4.Delete(k.Pack4())
		m.n4--
	} else {
		delete(t.v6, k.PrefixKey)
		m.n6--
	}
	if t.v4.Len() == 0 && len(t.v6) == 0 {
		delete(m.tabs, k.table)
		m.last = nil
	}
}

func (m *entryMap) len() int { return m.n4 + m.n6 }

// all yields every entry, table by table (in no particular order).
func (m *entryMap) all() iter.Seq2[tp, *entry] {
	return func(yield func(tp, *entry) bool) {
		for id, t := range m.tabs {
			for x, e := range t.v4.All() {
				if !yield(tp{id, Unpack4(x)}, e) {
					return
				}
			}
			for k, e := range t.v6 {
				if !yield(tp{id, k}, e) {
					return
				}
			}
		}
	}
}

// of yields the entries of one table and family.
func (m *entryMap) of(id uint32, v6 bool) iter.Seq2[tp, *entry] {
	return func(yield func(tp, *entry) bool) {
		t := m.tabs[id]
		if t == nil {
			return
		}
		if !v6 {
			for x, e := range t.v4.All() {
				if !yield(tp{id, Unpack4(x)}, e) {
					return
				}
			}
			return
		}
		for k, e := range t.v6 {
			if k.Is6() && !yield(tp{id, k}, e) {
				return
			}
		}
	}
}
