package lpm

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
)

// The tests that apply routes need the fast path's tables: an EAL without
// hugepages or devices, started by the first of them and ended after the
// last (root only; run them under the shared e2e lock).
var eal struct {
	once   sync.Once
	prefix string
	e      *dpdk.EAL
	err    error
}

func needEAL(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for the DPDK EAL")
	}
	eal.once.Do(func() {
		eal.prefix = fmt.Sprintf("fibdlpm%d", os.Getpid())
		eal.e, eal.err = dpdk.Init([]string{"lpm.test", "--no-huge", "-m", "1024", "--no-pci", "-l", "0",
			"--file-prefix", eal.prefix, "--log-level", "lib.eal:warning", "--log-level", "lib.fib:error"})
	})
	if eal.err != nil {
		t.Fatalf("EAL: %v", eal.err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if eal.e != nil {
		eal.e.Cleanup()
	}
	if eal.prefix != "" {
		os.RemoveAll(filepath.Join("/var/run/dpdk", eal.prefix))
	}
	os.Exit(code)
}

// fastTable is a FIB on the fast path's tables with one table of the
// given sizes; when the test ends the table is destroyed and then the
// nexthops it published are released.
func fastTable(t *testing.T, v4, v6 uint32) (*FIB, *Table) {
	t.Helper()
	return fastTableOf(t, Config{MaxRoutes4: v4, MaxRoutes6: v6})
}

func fastTableOf(t *testing.T, cfg Config) (*FIB, *Table) {
	t.Helper()
	needEAL(t)
	f := New(zerolog.Nop(), cfg)
	tb, err := f.Table(254, -1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Destroy(tb); err != nil {
			t.Error(err)
		}
		for idx := uint32(1); idx < f.NH.next; idx++ {
			if err := f.NH.Release(idx); err != nil {
				t.Error(err)
			}
		}
		if err := f.Commit(); err != nil {
			t.Error(err)
		}
	})
	return f, tb
}

// publish publishes a fresh nexthop of the given type (one that needs no
// port: the EAL here has none).
func publish(t *testing.T, f *FIB, typ dpdk.NexthopType) uint32 {
	t.Helper()
	idx, err := f.NH.Alloc()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.NH.Set(idx, dpdk.Nexthop{Type: typ}); err != nil {
		t.Fatal(err)
	}
	return idx
}

// TestApplyFullTable: a table sized for 4 IPv4 and 2 IPv6 routes takes
// that many from a batch of more and refuses the rest as full (ErrFull,
// counted in Result.Full and FIB.Refused); lookups follow what was
// applied; replacing a route already in a full table and deleting one are
// not refused; deleting an absent route fails without counting as full.
func TestApplyFullTable(t *testing.T) {
	f, tb := fastTable(t, 4, 2)
	a, b := publish(t, f, dpdk.NexthopBlackhole), publish(t, f, dpdk.NexthopUnreachable)
	var batch Batch
	var v4 []netip.Prefix
	for i := range 6 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16)
		v4 = append(v4, p)
		batch.Add(p, a)
	}
	v6 := []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/48"), netip.MustParsePrefix("2001:db8:2::/48"),
		netip.MustParsePrefix("2001:db8:3::/48")}
	for _, p := range v6 {
		batch.Add(p, b)
	}
	r, err := f.Apply(tb, &batch)
	if err != nil {
		t.Fatal(err)
	}
	if r.Applied != 6 || r.Full != 3 || len(r.Failed) != 3 || f.Refused.Load() != 3 {
		t.Fatalf("result %+v, refused %d; want 6 applied, 3 full", r, f.Refused.Load())
	}
	for _, fl := range r.Failed {
		if !errors.Is(fl.Err, ErrFull) || fl.Del {
			t.Errorf("refusal %+v: want an add refused with ErrFull", fl)
		}
	}
	if n4, n6, err := f.Routes(tb); err != nil || n4 != 4 || n6 != 2 {
		t.Fatalf("table holds %d + %d routes (%v), want 4 + 2", n4, n6, err)
	}
	in := map[netip.Prefix]bool{}
	for _, p := range append(append([]netip.Prefix{}, v4...), v6...) {
		in[p] = true
	}
	for _, fl := range r.Failed {
		delete(in, fl.Prefix)
	}
	for _, p := range append(append([]netip.Prefix{}, v4...), v6...) {
		want := dpdk.NexthopMiss
		if in[p] {
			want = a
			if p.Addr().Is6() {
				want = b
			}
		}
		if got := f.Lookup(tb, p.Addr().Next()); got != want {
			t.Errorf("lookup in %s: nexthop %d, want %d", p, got, want)
		}
	}

	// full, yet a replacement and a delete go through; an absent route's
	// delete fails on its own
	var held netip.Prefix
	for p := range in {
		if p.Addr().Is4() {
			held = p
			break
		}
	}
	batch.Reset()
	batch.Add(held, b)
	batch.Del(netip.MustParsePrefix("192.0.2.0/24"))
	r, err = f.Apply(tb, &batch)
	if err != nil {
		t.Fatal(err)
	}
	if r.Applied != 1 || r.Full != 0 || len(r.Failed) != 1 || !r.Failed[0].Del || f.Refused.Load() != 3 {
		t.Fatalf("replace + absent delete: %+v, refused %d", r, f.Refused.Load())
	}
	if got := f.Lookup(tb, held.Addr()); got != b {
		t.Errorf("replaced %s: nexthop %d, want %d", held, got, b)
	}
	batch.Reset()
	batch.Del(held)
	if r, err := f.Apply(tb, &batch); err != nil || r.Applied != 1 || len(r.Failed) != 0 {
		t.Fatalf("delete %s: %+v, %v", held, r, err)
	}
	if got := f.Lookup(tb, held.Addr()); got != dpdk.NexthopMiss {
		t.Errorf("deleted %s: nexthop %d, want a miss", held, got)
	}
	if n4, _, _ := f.Routes(tb); n4 != 3 {
		t.Errorf("after the delete: %d IPv4 routes, want 3", n4)
	}
}

// seqPrefix4 and seqPrefix6 are the i-th of runs of distinct prefixes
// (10.x.y.0/24 and 2001:db8:x:y::/48, for i below 65,536).
func seqPrefix4(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
}

func seqPrefix6(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i)}), 48)
}

// ownTableOf is an own-FIB table of the given sizes and two published
// nexthops, a blackhole and an unreachable.
func ownTableOf(t *testing.T, n4, n6 uint32) (f *FIB, tb *Table, a, b uint32) {
	t.Helper()
	f, tb = fastTableOf(t, Config{MaxRoutes4: n4, MaxRoutes6: n6, Own: true})
	return f, tb, publish(t, f, dpdk.NexthopBlackhole), publish(t, f, dpdk.NexthopUnreachable)
}

// TestOwnBatchOverPartOfTable: on fibd's own FIB, a batch that rewrites
// a quarter of a table or more is recorded and the table built again
// whole (a link going down under multipath routes replaces every route
// over it); what the lookups see afterwards is what batches applied one
// by one would leave: replaced routes on their new nexthop, deleted ones
// gone, the others untouched, and the route counts follow.
func TestOwnBatchOverPartOfTable(t *testing.T) {
	const n4, n6 = 40000, 8000
	f, tb, a, b := ownTableOf(t, n4, n6)
	p4, p6 := seqPrefix4, seqPrefix6
	var batch Batch
	for i := range n4 {
		batch.Add(p4(i), a)
	}
	for i := range n6 {
		batch.Add(p6(i), a)
	}
	if r, err := f.Apply(tb, &batch); err != nil || r.Applied != n4+n6 {
		t.Fatalf("load: %+v, %v", r, err)
	}
	// 16,384 changes on a table of 48,000: IPv4 0..9999 move to b, IPv4
	// 10000..12383 and IPv6 0..3999 go; the rest stays on a
	batch.Reset()
	for i := range 10000 {
		batch.Add(p4(i), b)
	}
	for i := 10000; i < 12384; i++ {
		batch.Del(p4(i))
	}
	for i := range 4000 {
		batch.Del(p6(i))
	}
	if r, err := f.Apply(tb, &batch); err != nil || r.Applied != 16384 || len(r.Failed) != 0 {
		t.Fatalf("the batch: %+v, %v", r, err)
	}
	want4 := func(i int) uint32 {
		switch {
		case i < 10000:
			return b
		case i < 12384:
			return dpdk.NexthopMiss
		}
		return a
	}
	bad := 0
	for i := range n4 {
		if got := f.Lookup(tb, p4(i).Addr().Next()); got != want4(i) && bad < 5 {
			bad++
			t.Errorf("%s: nexthop %d, want %d", p4(i), got, want4(i))
		}
	}
	for i := range n6 {
		want := a
		if i < 4000 {
			want = dpdk.NexthopMiss
		}
		if got := f.Lookup(tb, p6(i).Addr().Next()); got != want && bad < 10 {
			bad++
			t.Errorf("%s: nexthop %d, want %d", p6(i), got, want)
		}
	}
	if got4, got6, err := f.Routes(tb); err != nil || got4 != n4-2384 || got6 != n6-4000 {
		t.Errorf("table holds %d + %d routes (%v), want %d + %d", got4, got6, err, n4-2384, n6-4000)
	}
}

// TestReleaseAfterCommit: a released nexthop is unpublished at once and
// its index comes back only after Commit's grace period.
func TestReleaseAfterCommit(t *testing.T) {
	needEAL(t)
	f := New(zerolog.Nop(), Config{MaxRoutes4: 4, MaxRoutes6: 4})
	a, err := f.NH.Alloc()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.NH.Set(a, dpdk.Nexthop{Type: dpdk.NexthopBlackhole}); err != nil {
		t.Fatal(err)
	}
	if nh, err := dpdk.GetNexthop(a); err != nil || nh.Type != dpdk.NexthopBlackhole {
		t.Fatalf("published %d: %+v, %v", a, nh, err)
	}
	if err := f.NH.Release(a); err != nil {
		t.Fatal(err)
	}
	if nh, err := dpdk.GetNexthop(a); err == nil && nh.Type != dpdk.NexthopNone {
		t.Errorf("released %d still published: %+v", a, nh)
	}
	if f.NH.Live() != 0 {
		t.Errorf("live %d after the release, want 0", f.NH.Live())
	}
	b, _ := f.NH.Alloc()
	if b == a {
		t.Fatalf("index %d handed out again before Commit", a)
	}
	f.NH.Unalloc(b)
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	got := map[uint32]bool{}
	for range 2 {
		i, _ := f.NH.Alloc()
		got[i] = true
	}
	if !got[a] {
		t.Errorf("after Commit: allocated %v, want %d among them", got, a)
	}
}

// TestOwnBulkBatchKeepsItsOrder: a bulk batch on fibd's own FIB is
// recorded in address order, not the batch's (fp_table_apply sorts each
// family's share), yet what it leaves is what the batch's order says: the
// changes of one prefix apply in turn (add, delete, add again), and a
// batch that can fill the table keeps its order, so that the adds it
// refuses are its last ones (the programmer queues the routes that keep
// the router reachable first). The batch runs from high addresses to low
// so that both orders differ everywhere (its IPv6 prefixes differ in their
// first 32 bits, the sort's key).
func TestOwnBulkBatchKeepsItsOrder(t *testing.T) {
	const n4, n6 = 30000, 6000
	f, tb, a, b := ownTableOf(t, n4, n6)
	p4 := seqPrefix4
	p6 := func(i int) netip.Prefix {
		return netip.PrefixFrom(netip.AddrFrom16([16]byte{0x2a, 0x00, byte(i >> 8), byte(i), 0, 1}), 48)
	}
	// prefix i (even): add a, delete, add b; prefix i (odd): add b, then a
	// delete; the half of the table: every change of a prefix in a row
	var batch Batch
	want4, want6 := map[int]uint32{}, map[int]uint32{}
	for i := n4/2 - 1; i >= 0; i-- {
		if i%2 == 0 {
			batch.Add(p4(i), a)
			batch.Del(p4(i))
			batch.Add(p4(i), b)
			want4[i] = b
		} else {
			batch.Add(p4(i), b)
			batch.Del(p4(i))
			want4[i] = dpdk.NexthopMiss
		}
	}
	for i := n6/2 - 1; i >= 0; i-- {
		batch.Add(p6(i), b)
		batch.Add(p6(i), a) // replaced in the same batch
		want6[i] = a
	}
	r, err := f.Apply(tb, &batch)
	if err != nil || len(r.Failed) != 0 {
		t.Fatalf("the batch: %+v, %v", r, err)
	}
	check := func(step string) {
		t.Helper()
		bad := 0
		for i, want := range want4 {
			if got := f.Lookup(tb, p4(i).Addr().Next()); got != want && bad < 5 {
				bad++
				t.Errorf("%s: %s: nexthop %d, want %d", step, p4(i), got, want)
			}
		}
		for i, want := range want6 {
			if got := f.Lookup(tb, p6(i).Addr().Next()); got != want && bad < 10 {
				bad++
				t.Errorf("%s: %s: nexthop %d, want %d", step, p6(i), got, want)
			}
		}
	}
	check("in turn")
	held4 := uint32(n4 / 4) // the even half of the first n4/2

	// a batch with more adds than the table has room for: the last ones
	// in the batch's order are refused, whatever their addresses
	batch.Reset()
	room := n4 - int(held4)
	for i := n4 + room + 5000 - 1; i >= n4; i-- { // room + 5000 new prefixes, high to low
		batch.Add(p4(i), a)
	}
	r, err = f.Apply(tb, &batch)
	if err != nil || r.Full != 5000 {
		t.Fatalf("overfull batch: %d refused for a full table (%v), want 5000", r.Full, err)
	}
	wrong := 0
	for _, fl := range r.Failed {
		// the batch's last 5000 are the prefixes n4 .. n4+4999
		if i := int(fl.Prefix.Addr().As4()[1])<<8 | int(fl.Prefix.Addr().As4()[2]); i >= n4+5000 || i < n4 {
			if wrong++; wrong <= 5 {
				t.Errorf("refused %s, not one of the batch's last", fl.Prefix)
			}
		}
	}
	if wrong > 5 {
		t.Errorf("%d refusals in all were not the batch's last adds", wrong)
	}
	for i := n4 + 5000; i < n4+room+5000; i++ {
		want4[i] = a
	}
	check("full")
	if got4, _, err := f.Routes(tb); err != nil || got4 != n4 {
		t.Errorf("table holds %d IPv4 routes (%v), want %d", got4, err, n4)
	}
}
