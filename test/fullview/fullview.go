// Package fullview generates synthetic Internet routing tables ("full
// views") for tests and benchmarks: as many unique, masked prefixes as
// asked for, with the prefix-length mix of the public IPv4 and IPv6 tables
// (mid-2026) and a structure close enough to the real one that a trie,
// DIR-24-8 table or RIB tree sees realistic sharing and overlap.
//
// The output depends only on the seed and the count, not on the Go
// version: the random source is PCG, and every derived value (bounded
// integers, floats, shuffles) is computed here rather than by math/rand.
//
// What "realistic" means here:
//
//   - IPv4 prefixes come only from global unicast space (1/8 to 223/8 minus
//     the special ranges listed in excluded4, which include the three
//     documentation nets, so lab addresses never collide with the view).
//     About half of them are more-specifics of a shorter prefix that is
//     also in the table, as in the real table: some are placed on purpose
//     inside an earlier prefix (deaggregation, traffic engineering), the
//     rest land under one by chance, as real announcements do under the
//     large aggregates.
//   - IPv6 prefixes follow the allocation hierarchy: RIR blocks (/12 and a
//     few /16../23 blocks under 2000::/3) hold LIR allocations (/19../32,
//     announced or not, plus PI pools), which hold customer prefixes
//     (/33../64), placed near the start of their parent block the way
//     registries and ISPs hand them out and sometimes nested in another
//     customer prefix. Uniform random /48s would give every prefix its own
//     path from the root and overstate a trie's memory many times over.
package fullview

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"net/netip"
)

// lengthShare is one entry of a prefix-length mix: bits and its share (in
// percent, or any relative weight).
type lengthShare struct {
	bits  int
	share float64
}

// mix4 is the IPv4 length mix of the public table. The published shares
// add up to 99.6%; counts are computed from the normalised weights.
// "Shorter than /16" (0.4%) is spread over /8../15 doubling with each
// bit, as in the real table where /15s far outnumber /8s.
var mix4 = func() []lengthShare {
	m := []lengthShare{
		{24, 63}, {23, 10.8}, {22, 10.5}, {21, 4.9}, {20, 4.3},
		{19, 2.4}, {18, 1.3}, {16, 1.2}, {17, 0.8},
	}
	const shorter = 0.4
	for b := 8; b <= 15; b++ {
		m = append(m, lengthShare{b, shorter * float64(uint(1)<<(b-8)) / 255})
	}
	return m
}()

// mix6 is the IPv6 length mix of the public table: the published shares
// (94% in all) plus the remaining 6% spread over /19../64 with the shape
// of the real tail (/28, /38, /42, /56 and /64 stand out).
var mix6 = func() []lengthShare {
	m := []lengthShare{
		{48, 46}, {32, 9.7}, {44, 9.6}, {40, 8.8}, {36, 3.7}, {47, 3.5},
		{46, 3.0}, {33, 2.1}, {34, 2.1}, {29, 2.0}, {45, 1.8}, {41, 1.7},
	}
	rest := []lengthShare{
		{19, 0.02}, {20, 0.05}, {21, 0.03}, {22, 0.04}, {23, 0.03},
		{24, 0.08}, {25, 0.02}, {26, 0.03}, {27, 0.04}, {28, 0.30},
		{30, 0.25}, {31, 0.15}, {35, 0.20}, {37, 0.15}, {38, 0.45},
		{39, 0.25}, {42, 0.55}, {43, 0.30}, {49, 0.10}, {50, 0.06},
		{51, 0.05}, {52, 0.20}, {53, 0.04}, {54, 0.04}, {55, 0.03},
		{56, 1.10}, {57, 0.03}, {58, 0.04}, {59, 0.04}, {60, 0.25},
		{61, 0.03}, {62, 0.05}, {63, 0.04}, {64, 0.96},
	}
	var sum float64
	for _, r := range rest {
		sum += r.share
	}
	for _, r := range rest {
		m = append(m, lengthShare{r.bits, r.share * 6 / sum})
	}
	return m
}()

// counts splits n over the lengths of a mix in proportion to their shares,
// exactly (largest remainder), indexed by prefix length.
func counts(mix []lengthShare, n int) [65]int {
	var total float64
	for _, m := range mix {
		total += m.share
	}
	var c [65]int
	frac := make([]float64, len(mix))
	left := n
	for i, m := range mix {
		exact := float64(n) * m.share / total
		c[m.bits] = int(exact)
		frac[i] = exact - math.Floor(exact)
		left -= c[m.bits]
	}
	for ; left > 0; left-- {
		best := 0
		for i := range frac {
			if frac[i] > frac[best] {
				best = i
			}
		}
		c[mix[best].bits]++
		frac[best] = -1
	}
	return c
}

// rng is a PCG stream with the few derived values the generators need,
// computed here so that the output never changes with math/rand.
type rng struct{ pcg *rand.PCG }

func newRNG(seed int64, stream uint64) rng {
	return rng{rand.NewPCG(uint64(seed), stream)}
}

func (r rng) uint64() uint64 { return r.pcg.Uint64() }

// intn returns a uniform integer in [0, n) (Lemire's method, no modulo
// bias). n must be positive.
func (r rng) intn(n int) int {
	hi, lo := bits.Mul64(r.uint64(), uint64(n))
	if lo < uint64(n) {
		thresh := -uint64(n) % uint64(n)
		for lo < thresh {
			hi, lo = bits.Mul64(r.uint64(), uint64(n))
		}
	}
	return int(hi)
}

// float returns a uniform float64 in [0, 1).
func (r rng) float() float64 { return float64(r.uint64()>>11) / (1 << 53) }

// skewed returns an index in [0, n) where low indices are much more likely
// (index = n·u²: the first 1% of the range gets 10% of the picks). It
// gives parents the heavy-tailed number of children real ones have.
func (r rng) skewed(n int) int {
	u := r.float()
	return min(int(float64(n)*u*u), n-1)
}

// shuffle permutes s in place (Fisher–Yates).
func shuffle[T any](r rng, s []T) {
	for i := len(s) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}

// ---- IPv4 ----

// span4 is an inclusive range of IPv4 addresses.
type span4 struct{ first, last uint32 }

func mustSpan4(s string) span4 {
	p := netip.MustParsePrefix(s)
	a := p.Addr().As4()
	first := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	return span4{first, first | uint32(math.MaxUint32>>p.Bits())}
}

// excluded4 is the space inside 1/8..223/8 that is never announced (or
// that labs use for themselves): private, shared, loopback, link-local,
// benchmarking and documentation ranges.
var excluded4 = []span4{
	mustSpan4("0.0.0.0/8"),
	mustSpan4("10.0.0.0/8"),
	mustSpan4("100.64.0.0/10"),
	mustSpan4("127.0.0.0/8"),
	mustSpan4("169.254.0.0/16"),
	mustSpan4("172.16.0.0/12"),
	mustSpan4("192.0.0.0/24"),
	mustSpan4("192.0.2.0/24"),
	mustSpan4("192.168.0.0/16"),
	mustSpan4("198.18.0.0/15"),
	mustSpan4("198.51.100.0/24"),
	mustSpan4("203.0.113.0/24"),
	mustSpan4("224.0.0.0/3"), // multicast and reserved: not unicast
}

func overlapsExcluded4(first, last uint32) bool {
	for _, x := range excluded4 {
		if first <= x.last && x.first <= last {
			return true
		}
	}
	return false
}

// prefix4 packs an IPv4 prefix into one word (address << 8 | bits).
type prefix4 uint64

func makePrefix4(a uint32, bits int) prefix4 { return prefix4(uint64(a)<<8 | uint64(bits)) }
func (p prefix4) addr() uint32               { return uint32(p >> 8) }
func (p prefix4) bits() int                  { return int(p & 0xff) }

func mask4(a uint32, bits int) uint32 {
	if bits == 0 {
		return 0
	}
	return a &^ (math.MaxUint32 >> bits)
}

// bitset is a fixed-size set of small integers.
type bitset []uint64

func newBitset(n int) bitset       { return make(bitset, (n+63)/64) }
func (b bitset) has(i uint32) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i uint32)      { b[i/64] |= 1 << (i % 64) }
func (b bitset) setRange(i, n uint32) {
	for ; n > 0 && i%64 != 0; i, n = i+1, n-1 {
		b.set(i)
	}
	for ; n >= 64; i, n = i+64, n-64 {
		b[i/64] = math.MaxUint64
	}
	for ; n > 0; i, n = i+1, n-1 {
		b.set(i)
	}
}

// moreSpecific4 is the probability that a prefix of the given length is
// placed inside an existing shorter prefix; every other prefix (a root)
// is placed in space no shorter prefix covers. Real tables are about half
// more-specifics, mostly /22../24 deaggregates, and their short prefixes
// overlap heavily (a /8 holder announcing /9s../16s of it): these shares
// give both, whatever n is. (Placing roots anywhere would make the share
// grow with n: the aggregates of a full view cover most of the space, and
// real /24s sit mostly in the space they leave.)
func moreSpecific4(bits int) float64 {
	switch {
	case bits >= 22:
		return 0.55
	case bits >= 17:
		return 0.35
	}
	return 0.5
}

// rootAttempts is how long a root looks for uncovered space before it
// settles for a place under another prefix; only counts far beyond a
// full view come near it.
const rootAttempts = 1024

// maxAttempts bounds the retries for one prefix; only an impossible count
// (more prefixes of a length than the space holds) exhausts it.
const maxAttempts = 1 << 16

// IPv4 returns n unique, masked IPv4 prefixes of /8 to /24 with the
// length mix of the public table, in random order. The same seed and n
// give the same slice. n is meant for table sizes up to about two million
// (a full view takes a few hundred milliseconds); beyond, free space for
// new aggregates runs short and generation slows down. It panics if the
// unicast space cannot hold the prefixes asked for at all.
func IPv4(seed int64, n int) []netip.Prefix {
	if n <= 0 {
		return nil
	}
	r := newRNG(seed, 0x1f0f4)
	want := counts(mix4, n)
	all := make([]prefix4, 0, n)
	// taken[bits] holds the prefixes of each length made so far (by
	// index, address >> (32-bits)); covered holds every /24 that some
	// prefix made so far covers. Together 6 MiB, far less than a map.
	var taken [25]bitset
	covered := newBitset(1 << 24)

	// Shortest first, so that the candidates for covering prefixes exist
	// before their more-specifics are placed, and so that a /24 found in
	// covered is covered by a shorter prefix or is a duplicate.
	for bits := 8; bits <= 24; bits++ {
		taken[bits] = newBitset(1 << bits)
		parents := len(all) // every prefix so far is shorter than bits
		for range want[bits] {
			// Decided once: retrying a root until it finds free space
			// must not turn it into a more-specific.
			child := parents > 0 && r.float() < moreSpecific4(bits)
			for attempt := 0; ; attempt++ {
				if attempt == maxAttempts {
					panic(fmt.Sprintf("fullview: cannot place %d IPv4 /%d prefixes", want[bits], bits))
				}
				a := mask4(uint32(r.uint64()), bits)
				if attempt == rootAttempts && parents > 0 {
					child = true
				}
				if child {
					// Anywhere inside a random shorter prefix.
					p := all[r.intn(parents)]
					a = p.addr() | a&^mask4(math.MaxUint32, p.bits())
				} else if covered.has(a >> 8) {
					continue // under an aggregate or taken: not a root
				}
				if overlapsExcluded4(a, a|math.MaxUint32>>bits) || taken[bits].has(a>>(32-bits)) {
					continue
				}
				taken[bits].set(a >> (32 - bits))
				covered.setRange(a>>8, 1<<(24-bits))
				all = append(all, makePrefix4(a, bits))
				break
			}
		}
	}
	shuffle(r, all)
	out := make([]netip.Prefix, len(all))
	for i, p := range all {
		a := p.addr()
		out[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), p.bits())
	}
	return out
}

// ---- IPv6 ----

// Every generated IPv6 prefix is at most /64, so only the upper 64 bits
// of its address matter: prefix6 is those bits and the length.
type prefix6 struct {
	hi   uint64
	bits uint8
}

func mask6(hi uint64, bits int) uint64 {
	if bits == 0 {
		return 0
	}
	return hi &^ (math.MaxUint64 >> bits)
}

func (p prefix6) last() uint64 { return p.hi | math.MaxUint64>>p.bits }

func mustPrefix6(s string) prefix6 {
	p := netip.MustParsePrefix(s)
	b := p.Addr().As16()
	var hi uint64
	for _, x := range b[:8] {
		hi = hi<<8 | uint64(x)
	}
	return prefix6{hi, uint8(p.Bits())}
}

// rirBlock is a block a regional registry allocates from, with a weight
// proportional to its share of the announced prefixes.
type rirBlock struct {
	prefix6
	weight int
}

var rirBlocks6 = []rirBlock{
	{mustPrefix6("2001::/16"), 8},  // the first /23s of every RIR
	{mustPrefix6("2003::/18"), 2},  // RIPE NCC
	{mustPrefix6("2400::/12"), 18}, // APNIC
	{mustPrefix6("2600::/12"), 20}, // ARIN
	{mustPrefix6("2610::/23"), 1},  // ARIN
	{mustPrefix6("2620::/23"), 3},  // ARIN PI assignments
	{mustPrefix6("2800::/12"), 12}, // LACNIC
	{mustPrefix6("2a00::/12"), 28}, // RIPE NCC
	{mustPrefix6("2a10::/12"), 7},  // RIPE NCC
	{mustPrefix6("2c00::/12"), 1},  // AFRINIC
}

// excluded6 is the space inside the RIR blocks that is not allocated to
// networks: IETF protocol assignments and the documentation prefix.
var excluded6 = []prefix6{
	mustPrefix6("2001::/23"),
	mustPrefix6("2001:db8::/32"),
	mustPrefix6("3fff::/20"),
}

func overlapsExcluded6(p prefix6) bool {
	for _, x := range excluded6 {
		if p.hi <= x.last() && x.hi <= p.last() {
			return true
		}
	}
	return false
}

// IPv6 returns n unique, masked IPv6 prefixes under 2000::/3 with the
// length mix of the public table and its allocation structure, in random
// order. The same seed and n give the same slice.
func IPv6(seed int64, n int) []netip.Prefix {
	if n <= 0 {
		return nil
	}
	r := newRNG(seed, 0x1f0f6)
	want := counts(mix6, n)
	seen := make(map[prefix6]struct{}, n)
	all := make([]prefix6, 0, n)
	add := func(p prefix6) bool {
		if _, dup := seen[p]; dup || overlapsExcluded6(p) {
			return false
		}
		seen[p] = struct{}{}
		all = append(all, p)
		return true
	}

	var totalWeight int
	for _, b := range rirBlocks6 {
		totalWeight += b.weight
	}
	rirBlock := func() prefix6 {
		w := r.intn(totalWeight)
		for _, b := range rirBlocks6 {
			if w < b.weight {
				return b.prefix6
			}
			w -= b.weight
		}
		panic("unreachable")
	}
	// inside returns a random prefix of the given length inside parent,
	// or false if parent is not shorter. With lowFirst it prefers the
	// start of the parent (the length of the random part is itself
	// random), the way blocks are handed out in order, so that siblings
	// share most of their path from the root.
	inside := func(parent prefix6, bits int, lowFirst bool) (prefix6, bool) {
		free := bits - int(parent.bits)
		if free <= 0 {
			return prefix6{}, false
		}
		if lowFirst {
			free = r.intn(free + 1)
		}
		var sub uint64
		if free > 0 {
			sub = r.uint64() >> (64 - free) << (64 - bits)
		}
		return prefix6{parent.hi | sub, uint8(bits)}, true
	}
	place := func(bits int, pick func() prefix6) {
		for attempt := 0; ; attempt++ {
			if attempt == maxAttempts {
				panic(fmt.Sprintf("fullview: cannot place %d IPv6 /%d prefixes", want[bits], bits))
			}
			// After a few collisions in crowded parents, spread out.
			if p, ok := inside(pick(), bits, attempt < 8); ok && add(p) {
				return
			}
		}
	}

	// Registry level: allocations of /19../32 straight from RIR blocks,
	// a tenth of them inside a shorter allocation of the same holder.
	for bits := 19; bits <= 32; bits++ {
		allocs := len(all)
		for range want[bits] {
			place(bits, func() prefix6 {
				if allocs > 0 && r.float() < 0.1 {
					return all[r.intn(allocs)]
				}
				return rirBlock()
			})
		}
	}
	announced := len(all)

	// Allocations whose holders announce only more-specifics, and PI
	// pools that registries assign /48s from: parents for customers, not
	// in the table. Kept apart from all and seen.
	pools := make([]prefix6, 0, announced/3+1+announced)
	for len(pools) < announced/3+1 {
		bits := 32
		switch u := r.float(); {
		case u < 0.2:
			bits = 26
		case u < 0.5:
			bits = 29
		}
		if p, ok := inside(rirBlock(), bits, false); ok && !overlapsExcluded6(p) {
			pools = append(pools, p)
		}
	}
	pools = append(pools, all[:announced]...)
	shuffle(r, pools) // the skewed pick below must not favour one kind

	// Customer level: /33../64 inside allocations (heavy-tailed: a few
	// large ISPs have most customers), a quarter nested inside an earlier
	// customer prefix (a /48 of an announced /40, say).
	for bits := 33; bits <= 64; bits++ {
		customers := len(all) - announced // all shorter than bits
		for range want[bits] {
			place(bits, func() prefix6 {
				if customers > 0 && r.float() < 0.25 {
					return all[announced+r.intn(customers)]
				}
				return pools[r.skewed(len(pools))]
			})
		}
	}

	shuffle(r, all)
	out := make([]netip.Prefix, len(all))
	for i, p := range all {
		var b [16]byte
		for j := range 8 {
			b[j] = byte(p.hi >> (56 - 8*j))
		}
		out[i] = netip.PrefixFrom(netip.AddrFrom16(b), int(p.bits))
	}
	return out
}

// AddrIn returns a random address inside p (host bits random).
func AddrIn(r *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		if r.IntN(2) == 1 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
