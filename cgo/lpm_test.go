package dpdk_test

import (
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"

	dpdk "fibd/cgo"
)

// fp_lpm (fibd's own LPM tables, cgo/dp/fp_lpm.c) against a naive
// reference: a map of prefixes, and a longest match that tries every
// length from the longest down. The input bytes are a program:
//
//	byte 0      family (bit 0: 0 = IPv4, 1 = IPv6)
//	bytes 1..2  seed of the generator that fills bits the program does
//	            not choose (random addresses, host bits, run contents)
//	then ops    one opcode byte (lpmOp, modulo lpmOps) and its operands
//
// Operands come from the input while it lasts, then read as zeros; the
// program ends with the input. Prefix lengths lean on the boundaries of
// the structure (the first level of 8 bits or the big one, 18 bits for
// IPv4 and 20 for IPv6, each 6-bit node below,
// the ends of the address), addresses on the edges of prefixes added so
// far (first, last, one before, one after, inside). After every op the
// table is checked: lookups of the changed prefix's edges (single), the
// op's own lookups (single and bulk), Get, and the prefix count; a full
// check (Walk equals the reference, every prefix's edges looked up in
// bulk) runs after batches, runs and at the end.

// lpmOp is an opcode; the input byte is taken modulo lpmOps.
type lpmOp byte

const (
	opAdd         lpmOp = iota // prefix, nexthop: add (or replace, if it is there)
	opAdd2                     // the same, twice as likely
	opReplace                  // index of a present prefix, nexthop
	opDelete                   // index of a present prefix
	opDelete2                  // the same, twice as likely
	opDeleteAny                // prefix: delete, ENOENT when absent
	opLookup                   // address
	opLookup2                  // the same, twice as likely
	opBulk                     // count (1..96), addresses: one bulk lookup
	opGet                      // prefix: exact match
	opDefer                    // start a batch, or commit the open one
	opCommit                   // commit (no-op when none is open)
	opRun                      // size: add a run of generated prefixes
	opPrune                    // how many to keep: delete prefixes, newest first
	opCheck                    // full check
	opWrongFamily              // an address of the other family everywhere
	opDense                    // count, level: fill one node with short runs
	lpmOps
)

// Prefix lengths the structure treats specially: the list, then
// the first level of either size (8, and 18 or 20) and every 6-bit node
// edge below it, each with its neighbours.
var (
	lpmBound4 = boundaries(32, bigBits(4), 0, 1, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32)
	lpmBound6 = boundaries(128, bigBits(6), 0, 1, 32, 48, 64, 127, 128)
)

// bigBits is the first level's size in bits once a table of family fam
// has grown: 18 + 6 = 24 gives IPv4 its direct level; 20 + 6 + 6 = 32 ends
// the common IPv6 /32 one node earlier than 18 would.
func bigBits(fam int) uint {
	if fam == 4 {
		return 18
	}
	return 20
}

func boundaries(w int, big uint, extra ...int) []int {
	seen := map[int]bool{}
	var out []int
	add := func(l int) {
		if l >= 0 && l <= w && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	for _, l := range extra {
		add(l)
	}
	for _, s := range []int{8, int(big)} {
		for e := s; e <= w+1; e += 6 {
			add(e - 1)
			add(e)
			add(e + 1)
		}
	}
	slices.Sort(out)
	return out
}

// lpmRef is the reference table.
type lpmRef struct {
	m    map[netip.Prefix]uint32
	lens [129]int // prefixes per length, to skip empty lengths
}

func newRef() *lpmRef { return &lpmRef{m: map[netip.Prefix]uint32{}} }

func (r *lpmRef) clone() *lpmRef {
	c := &lpmRef{m: make(map[netip.Prefix]uint32, len(r.m)), lens: r.lens}
	for p, nh := range r.m {
		c.m[p] = nh
	}
	return c
}

func (r *lpmRef) lookup(a netip.Addr) uint32 {
	for l := a.BitLen(); l >= 0; l-- {
		if r.lens[l] == 0 {
			continue
		}
		p, _ := a.Prefix(l)
		if nh, ok := r.m[p]; ok {
			return nh
		}
	}
	return 0
}

// lpmRun is one program's state.
type lpmRun struct {
	t        *dpdk.LPM
	fam      int
	w        int
	in       []byte
	pos      int
	rng      *rand.Rand
	auto     bool // operands from rng (runs), not from the input
	cur      *lpmRef
	vis      *lpmRef // what lookups must see: cur, or its copy from when the batch began
	keys     []netip.Prefix
	idx      map[netip.Prefix]int
	pool     []netip.Prefix // prefixes added so far (present or not), for addresses
	bits     uint           // first-level bits last seen
	directAt uint64         // the IPv4 direct level's threshold (DirectAt)
	runs     int            // prefixes added by runs so far
	// budget is what full checks may still cost (walked prefixes and
	// addresses looked up): a program of many small runs in a large
	// table would otherwise spend seconds re-checking it, and the fuzzer
	// kills an input that takes 10 s.
	budget int
	trace  []string // the last ops, for failure messages
	step   int
	bulkA  []netip.Addr
	bulkN  []uint32
}

const (
	lpmPoolMax = 1 << 13
	lpmRunMax  = 12000 // prefixes added by runs and dense ops per program: bounds one exec's time
	lpmTrace   = 24
	// The reference's cost of the full checks of one program (walked
	// prefixes plus addresses), past which they shrink to a sample.
	lpmCheckBudget = 200000
)

// runLPM runs program in and returns the first difference from the
// reference, with the ops that led to it.
func runLPM(in []byte) (err error) {
	if len(in) < 3 {
		return nil
	}
	r := &lpmRun{fam: 4, w: 32, in: in, pos: 3, cur: newRef(), idx: map[netip.Prefix]int{},
		budget: lpmCheckBudget}
	if in[0]&1 == 1 {
		r.fam, r.w = 6, 128
	}
	r.rng = rand.New(rand.NewPCG(uint64(in[1])<<8|uint64(in[2]), 0x6670_6c70_6d))
	r.vis = r.cur
	if r.t, err = dpdk.NewLPM(r.fam); err != nil {
		return err
	}
	defer r.t.Free()
	r.bits = r.t.Stats().FirstBits
	if r.bits != 8 {
		return fmt.Errorf("new table: first level of %d bits, want 8", r.bits)
	}
	// the direct level: from the default (never reached here), at once
	// on growth, or when a run or a dense op crosses a count after it
	r.directAt = [4]uint64{16384, 0, 2100, 2600}[in[0]>>1&3]
	r.t.DirectAt(r.directAt)
	defer func() {
		if err != nil {
			err = fmt.Errorf("IPv%d, step %d: %w\nlast ops:\n  %s", r.fam, r.step, err,
				strings.Join(r.trace, "\n  "))
		}
	}()
	for r.pos < len(r.in) {
		r.step++
		if err := r.op(lpmOp(r.next() % byte(lpmOps))); err != nil {
			return err
		}
	}
	if r.vis != r.cur {
		r.note("commit (end)")
		if err := r.commit(); err != nil {
			return err
		}
	}
	r.budget = lpmCheckBudget // the last check is always whole
	return r.check()
}

func (r *lpmRun) note(format string, args ...any) {
	if len(r.trace) == lpmTrace {
		copy(r.trace, r.trace[1:])
		r.trace = r.trace[:lpmTrace-1]
	}
	r.trace = append(r.trace, fmt.Sprintf("%d: ", r.step)+fmt.Sprintf(format, args...))
}

// next is the next operand byte: from the input (0 once it is used up),
// or from the generator inside a run.
func (r *lpmRun) next() byte {
	if r.auto {
		return byte(r.rng.Uint32())
	}
	if r.pos >= len(r.in) {
		return 0
	}
	b := r.in[r.pos]
	r.pos++
	return b
}

func (r *lpmRun) deferred() bool { return r.vis != r.cur }

func (r *lpmRun) op(op lpmOp) error {
	switch op {
	case opAdd, opAdd2:
		return r.add(r.prefix(), r.nexthop())
	case opReplace:
		if len(r.keys) == 0 {
			return nil
		}
		return r.add(r.keys[int(r.next())%len(r.keys)], r.nexthop())
	case opDelete, opDelete2:
		if len(r.keys) == 0 {
			return nil
		}
		return r.del(r.keys[len(r.keys)-1-int(r.next())%len(r.keys)])
	case opDeleteAny:
		return r.del(r.prefix())
	case opLookup, opLookup2:
		a := r.addr()
		r.note("lookup %v", a)
		return r.lookups(a)
	case opBulk:
		n := 1 + int(r.next())%96
		r.bulkA = r.bulkA[:0]
		for range n {
			r.bulkA = append(r.bulkA, r.addr())
		}
		r.note("bulk lookup of %d (%v ...)", n, r.bulkA[0])
		return r.lookups(r.bulkA...)
	case opGet:
		p := r.prefix()
		r.note("get %v", p)
		return r.get(p)
	case opDefer:
		if r.deferred() {
			r.note("commit")
			return r.commit()
		}
		r.note("defer")
		r.t.Defer()
		r.vis = r.cur.clone()
		return nil
	case opCommit:
		r.note("commit")
		return r.commit()
	case opRun:
		return r.run(r.next())
	case opPrune:
		return r.prune(r.next())
	case opCheck:
		r.note("check")
		return r.check()
	case opWrongFamily:
		return r.wrongFamily()
	case opDense:
		return r.dense(r.next(), r.next())
	}
	return nil
}

// ---- operands ----

func (r *lpmRun) length() int {
	b := r.next()
	bound := lpmBound4
	if r.fam == 6 {
		bound = lpmBound6
	}
	if b < 192 {
		return bound[int(b)%len(bound)]
	}
	return int(r.next()) % (r.w + 1)
}

func (r *lpmRun) random() netip.Addr {
	b := make([]byte, r.w/8)
	for i := range b {
		b[i] = byte(r.rng.Uint32())
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// fromPool is a prefix added earlier, or false.
func (r *lpmRun) fromPool() (netip.Prefix, bool) {
	if len(r.pool) == 0 {
		return netip.Prefix{}, false
	}
	b := int(r.next())
	return r.pool[len(r.pool)-1-(b*b>>4)%len(r.pool)], true // the newest, mostly
}

// hostBits sets the bits of a from bit l on: to 1 (fill), or at random.
func (r *lpmRun) hostBits(a netip.Addr, l int, fill bool) netip.Addr {
	b := a.AsSlice()
	for i := l; i < r.w; i++ {
		if fill || r.rng.Uint32()&1 == 1 {
			b[i/8] |= 0x80 >> (i % 8)
		} else {
			b[i/8] &^= 0x80 >> (i % 8)
		}
	}
	a, _ = netip.AddrFromSlice(b)
	return a
}

// prefix is a prefix to add, delete or get: its length from the
// boundaries, its address random, under a known prefix (nesting), next
// to one (neighbours), or in a few shared regions (collisions in one
// first-level entry and one node).
func (r *lpmRun) prefix() netip.Prefix {
	l := r.length()
	var a netip.Addr
	switch r.next() % 5 {
	case 0:
		a = r.random()
	case 1, 2: // under, or over, a known prefix
		if p, ok := r.fromPool(); ok {
			a = r.hostBits(p.Addr(), p.Bits(), false)
		} else {
			a = r.random()
		}
	case 3: // at a known prefix's edge or just outside it
		if p, ok := r.fromPool(); ok {
			a = r.edge(p, r.next())
		} else {
			a = r.random()
		}
	case 4: // 10.x.y.z / 2001:db8:x:: with x a few values
		a = r.hostBits(r.region(), 8+2*int(r.next()%4), false)
	}
	p, _ := a.Prefix(l)
	return p
}

func (r *lpmRun) region() netip.Addr {
	if r.fam == 4 {
		return netip.AddrFrom4([4]byte{10, r.next() % 4, 0, 0})
	}
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, r.next() % 4})
}

// edge is the first or last address of p, one before or after it, or one
// inside (wrapping at the ends of the address space).
func (r *lpmRun) edge(p netip.Prefix, b byte) netip.Addr {
	first := p.Masked().Addr()
	last := r.hostBits(first, p.Bits(), true)
	switch b % 5 {
	case 0:
		return first
	case 1:
		return last
	case 2:
		if a := first.Prev(); a.IsValid() {
			return a
		}
		return r.hostBits(first, 0, true)
	case 3:
		if a := last.Next(); a.IsValid() {
			return a
		}
		if r.fam == 4 {
			return netip.IPv4Unspecified()
		}
		return netip.IPv6Unspecified()
	default:
		return r.hostBits(first, p.Bits(), false)
	}
}

// addr is an address to look up: mostly at the edge of a known prefix.
func (r *lpmRun) addr() netip.Addr {
	b := r.next()
	if b < 32 {
		return r.random()
	}
	p, ok := r.fromPool()
	if !ok {
		return r.random()
	}
	return r.edge(p, b)
}

// nexthop: mostly a few values (equal neighbours make runs of leaves),
// some large, a few invalid (0 and 2^31 must be refused).
func (r *lpmRun) nexthop() uint32 {
	b := r.next()
	switch {
	case b < 200:
		return 1 + uint32(b%6)
	case b < 248:
		return 1 + r.rng.Uint32N(1<<31-1)
	case b < 252:
		return 1<<31 - 1
	case b < 254:
		return 0
	default:
		return 1 << 31
	}
}

// ---- ops and checks ----

func (r *lpmRun) add(p netip.Prefix, nh uint32) error {
	if !r.auto {
		r.note("add %v -> %d", p, nh)
	}
	err := r.t.Add(p, nh)
	if nh == 0 || nh >= 1<<31 {
		if !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("add %v nexthop %d: %v, want EINVAL", p, nh, err)
		}
		return r.after(p)
	}
	if err != nil {
		return fmt.Errorf("add %v -> %d: %w", p, nh, err)
	}
	p = p.Masked()
	if _, ok := r.cur.m[p]; !ok {
		r.cur.lens[p.Bits()]++
		r.idx[p] = len(r.keys)
		r.keys = append(r.keys, p)
		if len(r.pool) < lpmPoolMax {
			r.pool = append(r.pool, p)
		} else {
			r.pool[r.rng.IntN(lpmPoolMax)] = p
		}
	}
	r.cur.m[p] = nh
	return r.after(p)
}

func (r *lpmRun) del(p netip.Prefix) error {
	if !r.auto {
		r.note("delete %v", p)
	}
	err := r.t.Delete(p)
	p = p.Masked()
	if _, ok := r.cur.m[p]; !ok {
		if !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("delete of absent %v: %v, want ENOENT", p, err)
		}
		return r.after(p)
	}
	if err != nil {
		return fmt.Errorf("delete %v: %w", p, err)
	}
	delete(r.cur.m, p)
	r.cur.lens[p.Bits()]--
	i := r.idx[p]
	last := r.keys[len(r.keys)-1]
	r.keys[i] = last
	r.idx[last] = i
	r.keys = r.keys[:len(r.keys)-1]
	delete(r.idx, p)
	return r.after(p)
}

// after checks a change of p: the prefix count, the first level's size,
// Get of p, and (unless in a run) lookups at p's edges.
func (r *lpmRun) after(p netip.Prefix) error {
	if !r.deferred() {
		r.t.Reclaim()
	}
	st := r.t.Stats()
	if st.Prefixes != uint64(len(r.cur.m)) {
		return fmt.Errorf("stats: %d prefixes, want %d", st.Prefixes, len(r.cur.m))
	}
	if err := r.firstBits(st); err != nil {
		return err
	}
	shape(st, r.deferred())
	if r.auto {
		return nil
	}
	if !r.deferred() {
		if err := r.t.Check(); err != nil {
			return err
		}
	}
	if err := r.get(p); err != nil {
		return err
	}
	first := p.Masked().Addr()
	last := r.hostBits(first, p.Bits(), true)
	a := []netip.Addr{first, last}
	if b := first.Prev(); b.IsValid() {
		a = append(a, b)
	}
	if b := last.Next(); b.IsValid() {
		a = append(a, b)
	}
	return r.lookups(a...)
}

// lpmShapes counts table shapes reached. Coverage guidance sees Go code
// only, not the C under test: shape gives each size class of the table
// (prefixes, nodes, first-level bits, batch open) a branch of its own, so
// that inputs reaching a new one count as interesting.
var lpmShapes int

func shape(st dpdk.LPMStats, deferred bool) {
	switch bits.Len64(st.Prefixes) {
	case 0:
		lpmShapes++
	case 1:
		lpmShapes++
	case 2:
		lpmShapes++
	case 3:
		lpmShapes++
	case 4:
		lpmShapes++
	case 5:
		lpmShapes++
	case 6:
		lpmShapes++
	case 7:
		lpmShapes++
	case 8:
		lpmShapes++
	case 9:
		lpmShapes++
	case 10:
		lpmShapes++
	case 11:
		lpmShapes++
	case 12:
		lpmShapes++
	case 13:
		lpmShapes++
	case 14:
		lpmShapes++
	default:
		lpmShapes++
	}
	switch bits.Len64(st.Nodes) {
	case 0:
		lpmShapes++
	case 1:
		lpmShapes++
	case 2:
		lpmShapes++
	case 3:
		lpmShapes++
	case 4:
		lpmShapes++
	case 5:
		lpmShapes++
	case 6:
		lpmShapes++
	case 7:
		lpmShapes++
	case 8:
		lpmShapes++
	case 9:
		lpmShapes++
	case 10:
		lpmShapes++
	case 11:
		lpmShapes++
	case 12:
		lpmShapes++
	case 13:
		lpmShapes++
	case 14:
		lpmShapes++
	case 15:
		lpmShapes++
	case 16:
		lpmShapes++
	default:
		lpmShapes++
	}
	if st.FirstBits > 8 {
		lpmShapes++
		if deferred {
			lpmShapes++
		}
	}
	if st.DirectBits == 24 {
		lpmShapes++
	}
}

// firstBits: 8 bits until the table (readers' copy) has held more than
// 2048 prefixes, then bigBits; never back.
func (r *lpmRun) firstBits(st dpdk.LPMStats) error {
	b, big := st.FirstBits, bigBits(r.fam)
	if b != 8 && b != big || b < r.bits {
		return fmt.Errorf("first level of %d bits (was %d)", b, r.bits)
	}
	r.bits = b
	if !r.deferred() && len(r.cur.m) > 2048 && b != big {
		return fmt.Errorf("first level of %d bits with %d prefixes", b, len(r.cur.m))
	}
	return r.directBits(st)
}

// directBits: the direct level exists for IPv4 under 18 first-level bits
// only, always above directAt prefixes and never at directAt/2 or fewer
// (in between it stays as it was).
func (r *lpmRun) directBits(st dpdk.LPMStats) error {
	d, n := st.DirectBits, uint64(len(r.cur.m))
	switch {
	case d != 0 && d != 24:
		return fmt.Errorf("direct level of %d bits", d)
	case d != 0 && (r.fam != 4 || st.FirstBits != 18):
		return fmt.Errorf("direct level in an IPv%d table of %d first-level bits", r.fam, st.FirstBits)
	case r.deferred() || r.fam != 4 || st.FirstBits != 18:
	case n > r.directAt && d == 0:
		return fmt.Errorf("no direct level with %d prefixes (threshold %d)", n, r.directAt)
	case n <= r.directAt/2 && d != 0:
		return fmt.Errorf("direct level with %d prefixes (threshold %d)", n, r.directAt)
	}
	return nil
}

func (r *lpmRun) get(p netip.Prefix) error {
	nh, ok := r.t.Get(p)
	want, wok := r.cur.m[p.Masked()]
	if nh != want || ok != wok {
		return fmt.Errorf("get %v = %d %v, want %d %v", p, nh, ok, want, wok)
	}
	return nil
}

// lookups compares each address single and, all at once, in bulk.
func (r *lpmRun) lookups(a ...netip.Addr) error {
	r.bulkN = slices.Grow(r.bulkN[:0], len(a))[:len(a)]
	r.t.LookupBulk(a, r.bulkN)
	for i, x := range a {
		want := r.vis.lookup(x)
		if got := r.t.Lookup(x); got != want {
			return fmt.Errorf("lookup %v = %d, want %d%s", x, got, want, r.why(x))
		}
		if r.bulkN[i] != want {
			return fmt.Errorf("bulk lookup [%d of %d] %v = %d, want %d%s", i, len(a), x, r.bulkN[i], want, r.why(x))
		}
	}
	return nil
}

// why lists the reference's prefixes that cover x.
func (r *lpmRun) why(x netip.Addr) string {
	var s []string
	for l := 0; l <= r.w; l++ {
		p, _ := x.Prefix(l)
		if nh, ok := r.vis.m[p]; ok {
			s = append(s, fmt.Sprintf("%v->%d", p, nh))
		}
	}
	d := ""
	if r.deferred() {
		d = " (batch open: table from before it)"
	}
	return fmt.Sprintf(" (covering%s: %v)", d, s)
}

func (r *lpmRun) commit() error {
	if err := r.t.Commit(); err != nil {
		return err
	}
	r.t.Reclaim()
	r.vis = r.cur
	return r.check()
}

// run adds n generated prefixes (n up to 4000: past the first level's
// growth at 2048), the operands from the generator.
func (r *lpmRun) run(b byte) error {
	n := 1 + int(b)%64
	if b >= 128 {
		n = 1000 + 24*int(b-128)
	}
	n = min(n, lpmRunMax-r.runs)
	if n <= 0 {
		return nil
	}
	r.runs += n
	r.note("run of %d adds (from %d prefixes)", n, len(r.cur.m))
	r.auto = true
	defer func() { r.auto = false }()
	for range n {
		if err := r.add(r.prefix(), r.nexthop()); err != nil {
			return err
		}
	}
	r.auto = false
	return r.check()
}

// dense adds n prefixes (1..64) ending in one node: the first level's
// (the first-level bits S: a flat block while the node has no children)
// or the one level l (0..3) nodes below it, with nexthops that alternate
// so that the node's leaves hold many short runs.
func (r *lpmRun) dense(n, l byte) error {
	top := min(int(r.bits)+6*int(l%4), r.w-1)
	base, _ := r.random().Prefix(top)
	cnt := min(1+int(n%64), lpmRunMax-r.runs)
	if cnt <= 0 {
		return nil
	}
	r.runs += cnt
	r.note("dense %d under %v", cnt, base)
	r.auto = true
	defer func() { r.auto = false }()
	for i := range cnt {
		d := min(top+1+r.rng.IntN(6), r.w)
		p, _ := r.hostBits(base.Addr(), top, false).Prefix(d)
		if err := r.add(p, 1+uint32(i%2)+uint32(r.rng.IntN(2))*uint32(i%3)); err != nil {
			return err
		}
	}
	r.auto = false
	return r.check()
}

// prune deletes the newest prefixes until a few are left (b < 128), or
// every other one (b >= 128).
func (r *lpmRun) prune(b byte) error {
	keep := int(b%16) * 4
	r.note("prune %d to %d", len(r.keys), keep)
	r.auto = true
	defer func() { r.auto = false }()
	for i := len(r.keys) - 1; i >= 0 && len(r.keys) > keep; i-- {
		if i >= len(r.keys) || b >= 128 && i%2 == 0 {
			continue
		}
		if err := r.del(r.keys[i]); err != nil {
			return err
		}
	}
	r.auto = false
	return r.check()
}

// wrongFamily: every call with an address of the other family is refused.
func (r *lpmRun) wrongFamily() error {
	r.note("other family")
	a := netip.MustParseAddr("2001:db8::1")
	if r.fam == 6 {
		a = netip.MustParseAddr("10.0.0.1")
	}
	p, _ := a.Prefix(a.BitLen() / 2)
	if err := r.t.Add(p, 1); !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("add %v to an IPv%d table: %v, want EINVAL", p, r.fam, err)
	}
	if err := r.t.Delete(p); !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("delete %v in an IPv%d table: %v, want EINVAL", p, r.fam, err)
	}
	if nh, ok := r.t.Get(p); ok {
		return fmt.Errorf("get %v in an IPv%d table: %d", p, r.fam, nh)
	}
	if nh := r.t.Lookup(a); nh != 0 {
		return fmt.Errorf("lookup %v in an IPv%d table: %d", a, r.fam, nh)
	}
	return nil
}

// check: Walk gives exactly the reference, the count matches, and every
// prefix's edges look up as in the reference (in bulk; a sample of 2048
// prefixes in large tables). Once the program's budget is spent, only
// the count and the edges of 32 prefixes.
func (r *lpmRun) check() error {
	if r.budget <= 0 {
		return r.checkSample(32)
	}
	r.budget -= len(r.cur.m)
	if !r.deferred() {
		r.t.Reclaim()
		if err := r.t.Check(); err != nil {
			return err
		}
	}
	seen := make(map[netip.Prefix]bool, len(r.cur.m))
	var werr error
	err := r.t.Walk(func(p netip.Prefix, nh uint32) bool {
		switch want, ok := r.cur.m[p]; {
		case p != p.Masked():
			werr = fmt.Errorf("walk: %v has host bits", p)
		case seen[p]:
			werr = fmt.Errorf("walk: %v twice", p)
		case !ok:
			werr = fmt.Errorf("walk: %v -> %d is not in the table", p, nh)
		case nh != want:
			werr = fmt.Errorf("walk: %v -> %d, want %d", p, nh, want)
		}
		seen[p] = true
		return werr == nil
	})
	if err = errors.Join(err, werr); err != nil {
		return err
	}
	if len(seen) != len(r.cur.m) {
		for _, p := range r.keys {
			if !seen[p] {
				return fmt.Errorf("walk: %d of %d prefixes, %v missing", len(seen), len(r.cur.m), p)
			}
		}
	}
	return r.checkSample(2048)
}

// checkSample checks the count and looks up the edges of n prefixes.
func (r *lpmRun) checkSample(n int) error {
	st := r.t.Stats()
	if st.Prefixes != uint64(len(r.cur.m)) {
		return fmt.Errorf("stats: %d prefixes, want %d", st.Prefixes, len(r.cur.m))
	}
	if err := r.firstBits(st); err != nil {
		return err
	}
	keys := r.keys
	if r.deferred() {
		keys = keys[:0:0]
		for p := range r.vis.m {
			keys = append(keys, p)
		}
		slices.SortFunc(keys, netip.Prefix.Compare)
	}
	step := max(1, len(keys)/n)
	var a []netip.Addr
	for i := 0; i < len(keys); i += step {
		first := keys[i].Addr()
		last := r.hostBits(first, keys[i].Bits(), true)
		a = append(a, first, last)
		if b := first.Prev(); b.IsValid() {
			a = append(a, b)
		}
		if b := last.Next(); b.IsValid() {
			a = append(a, b)
		}
	}
	r.budget -= len(a)
	r.bulkN = slices.Grow(r.bulkN[:0], len(a))[:len(a)]
	r.t.LookupBulk(a, r.bulkN)
	for i, x := range a {
		if want := r.vis.lookup(x); r.bulkN[i] != want {
			return fmt.Errorf("check: bulk lookup %v = %d, want %d%s", x, r.bulkN[i], want, r.why(x))
		}
	}
	return nil
}

// ---- the programs ----

// lpmProg writes a program: fam 4 or 6, a seed, then opcodes with their
// operands (the helpers below spell the operands each op reads).
func lpmProg(fam int, seed uint16, ops ...[]byte) []byte {
	b := []byte{0, byte(seed >> 8), byte(seed)}
	if fam == 6 {
		b[0] = 1
	}
	for _, o := range ops {
		b = append(b, o...)
	}
	return b
}

func o(op lpmOp, operands ...byte) []byte { return append([]byte{byte(op)}, operands...) }

// Operands of prefix(): the length (an index into the boundaries, below
// 192), the mode, and the mode's own.
const (
	pfxRandom = 0 // nothing more
	pfxUnder  = 1 // which known prefix (0: the newest)
)

// addNew adds a random prefix of boundary length bound[li].
func addNew(li, nh byte) []byte { return o(opAdd, li, pfxRandom, nh) }

// addUnder adds a prefix of length bound[li] under the pool's newest
// (when it is shorter), else over it.
func addUnder(li, nh byte) []byte { return o(opAdd, li, pfxUnder, 0, nh) }

// lookupEdge looks up edge e (0 first, 1 last, 2 before, 3 after, 4
// inside) of the newest-but-k known prefix.
func lookupEdge(e, k byte) []byte { return o(opLookup, 40+e, k) }

// bulkEdges looks up n edges of the newest known prefixes in one bulk.
func bulkEdges(n int) []byte {
	b := o(opBulk, byte(n-1))
	for i := range n {
		b = append(b, 40+byte(i%5), byte(i/5))
	}
	return b
}

// lpmSeeds are the seed corpus: the boundaries, first-level growth past
// 2048 prefixes and back down, batches, refusals.
func lpmSeeds() [][]byte {
	var seeds [][]byte
	for _, fam := range []int{4, 6} {
		bound := lpmBound4
		if fam == 6 {
			bound = lpmBound6
		}
		// a chain of prefixes at every boundary length, each under the
		// one before, every edge looked up, then deleted newest first
		ops := [][]byte{addNew(0, 1)}
		for i := 1; i < len(bound); i++ {
			ops = append(ops, addUnder(byte(i), byte(1+i%2)))
			for e := range byte(5) {
				ops = append(ops, lookupEdge(e, 0), lookupEdge(e, 1))
			}
		}
		ops = append(ops, bulkEdges(96), o(opCheck))
		for range bound {
			ops = append(ops, o(opDelete, 0), lookupEdge(4, 1), bulkEdges(10))
		}
		seeds = append(seeds, lpmProg(fam, 1, ops...))

		// the same lengths longest first: each new prefix covers the last
		ops = [][]byte{addNew(byte(len(bound)-1), 3)}
		for i := len(bound) - 2; i >= 0; i-- {
			ops = append(ops, addUnder(byte(i), byte(i%3)), lookupEdge(2, 1), lookupEdge(3, 1))
			if i%4 == 0 {
				ops = append(ops, o(opReplace, byte(i), 7), o(opDelete, byte(i)), bulkEdges(33))
			}
		}
		seeds = append(seeds, lpmProg(fam, 2, append(ops, o(opCheck))...))

		// growth: a run past 2048 prefixes, changes and lookups in the
		// big table, pruned back to a few, then more changes in it
		seeds = append(seeds, lpmProg(fam, 3,
			addNew(3, 1), o(opRun, 255), lookupEdge(1, 0), bulkEdges(64),
			addUnder(9, 4), o(opDelete, 5), o(opPrune, 3), addUnder(12, 5),
			lookupEdge(0, 0), o(opPrune, 0), o(opRun, 20), bulkEdges(40), o(opCheck)))

		// a batch: changes while deferred are invisible to lookups, a
		// run inside it grows the record, the commit publishes it all
		seeds = append(seeds, lpmProg(fam, 4,
			o(opRun, 40), o(opDefer), addUnder(5, 2), lookupEdge(0, 0), o(opDelete, 0),
			o(opRun, 250), bulkEdges(40), o(opCheck), o(opCommit), lookupEdge(1, 0),
			o(opDefer), o(opPrune, 1), lookupEdge(3, 2), o(opDefer), bulkEdges(20)))

		// dense nodes at the first level and below, small and grown
		seeds = append(seeds, lpmProg(fam, 6,
			o(opDense, 63, 0), o(opDense, 63, 1), o(opDense, 40, 2), o(opDense, 63, 3),
			bulkEdges(96), o(opPrune, 16+4), o(opDense, 63, 0), o(opRun, 200),
			o(opDense, 63, 0), o(opDense, 63, 1), o(opDense, 63, 2), bulkEdges(96),
			o(opPrune, 1), o(opDense, 63, 0), o(opCheck)))

		// invalid nexthops (0, 2^31) next to the largest valid one, and
		// the other family
		seeds = append(seeds, lpmProg(fam, 5,
			addNew(1, 253), addNew(1, 255), addNew(1, 250), o(opWrongFamily),
			o(opDeleteAny, 4, pfxRandom), o(opCheck)))
	}
	// the IPv4 programs again with the direct level on at each threshold
	for _, s := range seeds {
		if s[0]&1 == 0 {
			for d := range byte(3) {
				seeds = append(seeds, append([]byte{s[0] | (d+1)<<1}, s[1:]...))
			}
		}
	}
	return seeds
}

func FuzzLPM(f *testing.F) {
	for _, s := range lpmSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if err := runLPM(in); err != nil {
			t.Fatal(err)
		}
	})
}

// TestLPMRandomPrograms runs the fuzz target's checker over random
// programs, so that plain `go test` exercises it.
func TestLPMRandomPrograms(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		in := make([]byte, 3+rng.IntN(600))
		for j := range in {
			in[j] = byte(rng.Uint32())
		}
		for j := 3; j < len(in)-1; j++ { // keep runs small for speed...
			if in[j]%byte(lpmOps) == byte(opRun) {
				in[j+1] &= 0x7f
			}
		}
		if i%100 == 0 { // ... but grow the first level in some
			in = slices.Insert(in, 3, byte(opRun), 200)
		}
		if err := runLPM(in); err != nil {
			t.Fatalf("program %d (%x): %v", i, in, err)
		}
	}
}
