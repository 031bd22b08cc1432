package lpm

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
)

// fakeFIB is a FIB whose fast-path table calls are recorded instead of
// made: the table map and slot logic run without an EAL.
type fakeFIB struct {
	*FIB
	created   map[uint16]dpdk.TableConfig // live slots
	createErr error                       // the next createTable fails with it
	destroyEr error                       // the next destroyTable fails with it
	creates   int
}

func newFake(cfg Config) *fakeFIB {
	f := &fakeFIB{FIB: New(zerolog.Nop(), cfg), created: map[uint16]dpdk.TableConfig{}}
	f.createTable = func(slot uint16, c dpdk.TableConfig) error {
		if err := f.createErr; err != nil {
			f.createErr = nil
			return err
		}
		if _, ok := f.created[slot]; ok {
			return errors.New("slot created twice")
		}
		f.created[slot] = c
		f.creates++
		return nil
	}
	f.destroyTable = func(slot uint16) error {
		if err := f.destroyEr; err != nil {
			f.destroyEr = nil
			return err
		}
		if _, ok := f.created[slot]; !ok {
			return errors.New("slot destroyed but never created")
		}
		delete(f.created, slot)
		return nil
	}
	f.heapUsed = func() uint64 { return 0 }
	return f
}

// TestTableSlots: kernel tables get the first free slot or the one asked
// for; a table asked for again is the same one; a slot in use, out of
// range, or none free is an error that creates nothing; a destroyed
// table's slot is handed out again; the snapshot follows every change.
func TestTableSlots(t *testing.T) {
	if dpdk.MaxTables < 4 {
		t.Skipf("max_tables %d: the test needs 4", dpdk.MaxTables)
	}
	f := newFake(Config{MaxRoutes4: 10, MaxRoutes6: 5})
	main, err := f.Table(254, -1)
	if err != nil || main.Slot != 0 || main.ID != 254 {
		t.Fatalf("first table: %+v, %v; want slot 0", main, err)
	}
	at2, err := f.Table(100, 2)
	if err != nil || at2.Slot != 2 {
		t.Fatalf("table in slot 2: %+v, %v", at2, err)
	}
	next, err := f.Table(101, -1)
	if err != nil || next.Slot != 1 {
		t.Fatalf("next free slot: %+v, %v; want 1", next, err)
	}
	again, err := f.Table(254, 3)
	if err != nil || again != main || f.creates != 3 {
		t.Fatalf("table 254 again: %+v (%v), %d creates; want the first one, 3 creates", again, err, f.creates)
	}
	for _, slot := range []int{2, dpdk.MaxTables, 1 << 20} {
		if tb, err := f.Table(500, slot); err == nil {
			t.Errorf("slot %d: got %+v, want an error", slot, tb)
		}
	}
	if _, ok := f.Tables()[500]; ok || f.creates != 3 {
		t.Fatalf("a refused table is in the map or was created: %v, %d creates", f.Tables(), f.creates)
	}

	snap := f.Tables()
	if len(snap) != 3 || snap[254] != main || snap[100] != at2 || snap[101] != next {
		t.Fatalf("snapshot %v", snap)
	}
	if err := f.Destroy(next); err != nil {
		t.Fatal(err)
	}
	if len(snap) != 3 {
		t.Error("Destroy changed an earlier snapshot")
	}
	if _, ok := f.Tables()[101]; ok || len(f.Tables()) != 2 {
		t.Errorf("after Destroy: %v", f.Tables())
	}
	reused, err := f.Table(102, -1)
	if err != nil || reused.Slot != 1 {
		t.Fatalf("after Destroy: %+v, %v; want slot 1 again", reused, err)
	}

	// every slot taken: the next table is refused
	for id := uint32(1000); len(f.Tables()) < dpdk.MaxTables; id++ {
		if _, err := f.Table(id, -1); err != nil {
			t.Fatalf("table %d of %d: %v", len(f.Tables())+1, dpdk.MaxTables, err)
		}
	}
	if tb, err := f.Table(99, -1); err == nil {
		t.Errorf("table beyond max_tables: %+v, want an error", tb)
	}
}

// TestTableCreateAndDestroyFail: a table the fast path cannot create
// leaves its slot free and the map as it was, and the error wraps the
// fast path's; a table it cannot destroy stays.
func TestTableCreateAndDestroyFail(t *testing.T) {
	f := newFake(Config{MaxRoutes4: 10, MaxRoutes6: 5})
	f.createErr = syscall.ENOMEM
	if tb, err := f.Table(254, -1); !errors.Is(err, syscall.ENOMEM) {
		t.Fatalf("create failing with ENOMEM: %+v, %v", tb, err)
	}
	if len(f.Tables()) != 0 {
		t.Fatalf("a table that failed is in the map: %v", f.Tables())
	}
	tb, err := f.Table(254, -1)
	if err != nil || tb.Slot != 0 {
		t.Fatalf("after the failure: %+v, %v; want slot 0, still free", tb, err)
	}
	f.destroyEr = syscall.EBUSY
	if err := f.Destroy(tb); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("destroy failing with EBUSY: %v", err)
	}
	if f.Tables()[254] != tb {
		t.Fatal("a table that could not be destroyed left the map")
	}
	if other, err := f.Table(100, 0); err == nil {
		t.Fatalf("slot 0 handed out while its table lives: %+v", other)
	}
	if err := f.Destroy(tb); err != nil {
		t.Fatal(err)
	}
	if len(f.created) != 0 || len(f.Tables()) != 0 {
		t.Errorf("left: created %v, tables %v", f.created, f.Tables())
	}
}

// TestTableSizes: every table is created with the configuration's sizes,
// a table named in Sizes with its own, and Own selects fibd's structure.
func TestTableSizes(t *testing.T) {
	f := newFake(Config{MaxRoutes4: 1000, MaxRoutes6: 200, Own: true,
		Sizes: map[uint32]TableSize{100: {Routes4: 30, Routes6: 7}}})
	a, err := f.Table(254, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Table(100, -1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint16]dpdk.TableConfig{
		a.Slot: {ID: 254, MaxRoutes4: 1000, MaxRoutes6: 200, Own: true},
		b.Slot: {ID: 100, MaxRoutes4: 30, MaxRoutes6: 7, Own: true},
	}
	for slot, w := range want {
		if got := f.created[slot]; got != w {
			t.Errorf("slot %d created with %+v, want %+v", slot, got, w)
		}
	}
}

// TestBatch: adds and deletes are queued in order with their prefixes
// masked; Grow keeps them; Reset empties the batch for reuse.
func TestBatch(t *testing.T) {
	var b Batch
	b.Add(netip.MustParsePrefix("192.0.2.77/24"), 7)
	b.Del(netip.MustParsePrefix("2001:db8::1/32"))
	b.Add(netip.MustParsePrefix("10.0.0.0/8"), 9)
	b.Grow(100)
	want := []dpdk.RouteOp{
		{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Nexthop: 7},
		{Del: true, Prefix: netip.MustParsePrefix("2001:db8::/32")},
		{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Nexthop: 9},
	}
	if b.Len() != len(want) {
		t.Fatalf("Len %d, want %d", b.Len(), len(want))
	}
	for i, w := range want {
		if got := b.ops.At(i); got != w {
			t.Errorf("op %d: %+v, want %+v", i, got, w)
		}
	}
	if b.ops.Room() < 100 {
		t.Errorf("Grow(100): room for %d", b.ops.Room())
	}
	b.Reset()
	if b.Len() != 0 {
		t.Fatalf("after Reset: %d ops", b.Len())
	}
	b.Add(netip.MustParsePrefix("198.51.100.1/32"), 3)
	if b.Len() != 1 || b.ops.At(0).Nexthop != 3 {
		t.Errorf("reused batch: %+v", b.ops.At(0))
	}
}

// TestNexthopAlloc: indices start at 1 (0 is the FIB's miss), an index
// given back unpublished is reused at once, Live counts what is allocated,
// and the table refuses an allocation when every index is taken.
func TestNexthopAlloc(t *testing.T) {
	n := newNexthops()
	var got []uint32
	for range 3 {
		i, err := n.Alloc()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, i)
	}
	if got[0] != 1 || got[1] != 2 || got[2] != 3 || n.Live() != 3 {
		t.Fatalf("first indices %v, live %d; want [1 2 3], 3", got, n.Live())
	}
	n.Unalloc(2)
	if n.Live() != 2 {
		t.Errorf("live %d after Unalloc, want 2", n.Live())
	}
	if i, _ := n.Alloc(); i != 2 {
		t.Errorf("after Unalloc(2): Alloc gave %d, want 2 again", i)
	}
	// fill the table: MaxNexthops-1 usable indices in all
	for n.Live() < dpdk.MaxNexthops-1 {
		if _, err := n.Alloc(); err != nil {
			t.Fatalf("index %d of %d: %v", n.Live()+1, dpdk.MaxNexthops-1, err)
		}
	}
	if i, err := n.Alloc(); err == nil {
		t.Fatalf("full table gave index %d", i)
	}
	if n.Live() != dpdk.MaxNexthops-1 {
		t.Errorf("live %d after a refused Alloc, want %d", n.Live(), dpdk.MaxNexthops-1)
	}
	n.Unalloc(5)
	if i, err := n.Alloc(); err != nil || i != 5 {
		t.Errorf("full table after Unalloc(5): %d, %v", i, err)
	}
}

// TestNexthopPendingUntilReclaim: a released index is not handed out until
// the grace period (reclaim) has passed; a Commit with nothing pending
// needs no grace period at all.
func TestNexthopPendingUntilReclaim(t *testing.T) {
	f := newFake(Config{MaxRoutes4: 10, MaxRoutes6: 5})
	if err := f.Commit(); err != nil { // no EAL: dpdk.Sync must not be reached
		t.Fatal(err)
	}
	n := f.NH
	a, _ := n.Alloc()
	b, _ := n.Alloc()
	// what Release does after unpublishing (it needs the fast path)
	n.pending = append(n.pending, a)
	n.live.Add(-1)
	c, _ := n.Alloc()
	if c == a {
		t.Fatalf("index %d handed out again before the grace period", a)
	}
	n.reclaim()
	if d, _ := n.Alloc(); d != a {
		t.Errorf("after reclaim: Alloc gave %d, want %d", d, a)
	}
	if n.Live() != 3 || len(n.pending) != 0 {
		t.Errorf("live %d (want 3: %d, %d, %d), pending %v", n.Live(), a, b, c, n.pending)
	}
}
