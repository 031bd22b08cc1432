/* Benchmark (not a test) of fp_lpm next to rte_fib (DIR-24-8) and rte_fib6
 * (TRIE) configured as fp_fib.c configures them, in the same run, on the
 * same prefixes and addresses: memory, build time from nothing, ns per
 * lookup (random addresses inside random prefixes, bursts of 32 as
 * fp_route_burst does) and the time of single changes.
 *
 *   go run ./test/fullview/fvdump > /tmp/fv.txt   # 1M IPv4 + 200k IPv6
 *   build/cgo/dp/bench_lpm /tmp/fv.txt [huge]
 *
 * One prefix a line (a.b.c.d/n or IPv6/n). Runs an EAL on no hugepages. */
#define _GNU_SOURCE /* nftw (eal_rundir.h) */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_fib6.h>
#include <rte_malloc.h>

#include "eal_rundir.h"
#include "lpm_test.h"

#define BURST 32
/* lookup timing: the best of these rounds over all addresses, after one
 * round that warms the caches, fp_lpm and its peer in turn (the machine
 * may be shared). 5 rounds once put fp_lpm at 19.75 ns against rte_fib's
 * 17.15 in make bench, while three runs of bench_lpm right after put it
 * ahead (10.11/11.69, 16.62/16.96, 17.05/17.22): noise that comes in
 * bursts of a second can miss one side's 5 rounds of 20 ms. */
#define LOOKUP_ROUNDS 15
#define NADDR (1u << 20)

static size_t
heap_used(void)
{
	size_t sum = 0;
	for (unsigned s = 0; s < rte_socket_count(); s++) {
		struct rte_malloc_socket_stats st;
		if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(s), &st) == 0)
			sum += st.heap_allocsz_bytes;
	}
	return sum;
}

static void *
rte_alloc(void *arg, size_t size)
{
	(void)arg;
	return rte_malloc("fp_lpm", size, 64);
}

static void
rte_free_cb(void *arg, void *p)
{
	(void)arg;
	rte_free(p);
}

static struct pfx4 *p4;
static struct pfx6 *p6;
static size_t n4, n6;

#define NCHG 20000
/* Rounds of NCHG changes of each kind; a kind's figures are those of its
 * round with the lowest p99. A change's time is mostly waiting for memory
 * its table last touched long ago, and other processes on this machine
 * make that wait vary: the same code measured an IPv6 delete's p99 from
 * 12.6 to 28.3 us in twelve runs of lpm_ab.sh HEAD in a row. As for the
 * lookups, the quietest round is the one that tells the code. */
#define CHG_ROUNDS 5

static void
report_changes(const char *what, double (*t)[NCHG])
{
	unsigned best = 0;
	double p99[CHG_ROUNDS];
	for (unsigned r = 0; r < CHG_ROUNDS; r++) {
		qsort(t[r], NCHG, sizeof(double), cmp_double);
		p99[r] = t[r][NCHG * 99 / 100];
		if (p99[r] < p99[best])
			best = r;
	}
	printf("  %-34s p50 %6.2f us  p99 %6.2f us  max %7.1f us  (%u changes; p99 of %u rounds:", what,
	       t[best][NCHG / 2] * 1e6, p99[best] * 1e6, t[best][NCHG - 1] * 1e6, NCHG, CHG_ROUNDS);
	for (unsigned r = 0; r < CHG_ROUNDS; r++)
		printf(" %.2f", p99[r] * 1e6);
	printf(")\n");
}

/* The time of each single change, fp_lpm's and DPDK's, per kind and round. */
struct change_times {
	double del[CHG_ROUNDS][NCHG], add[CHG_ROUNDS][NCHG], repl[CHG_ROUNDS][NCHG]; /* fp_lpm */
	double fdel[CHG_ROUNDS][NCHG], fadd[CHG_ROUNDS][NCHG];                     /* rte_fib, one copy */
};

/* CHG_ROUNDS rounds of NCHG single changes on random prefixes of p (n of
 * them) into ct: fp_lpm table l deletes one, adds it back and replaces its
 * value; DPDK's f deletes it and adds it back with the replaced value. */
#define TIME_CHANGES(ct, l, f, p, n, lpm_del, lpm_add, fib_del, fib_add)                 \
	do {                                                                                \
		for (unsigned rd = 0; rd < CHG_ROUNDS; rd++) {                              \
			for (unsigned i = 0; i < NCHG; i++) {                               \
				size_t j = rnd() % (n);                                     \
				uint32_t nh = 1 + j % 60000;                                \
				double s = now_s();                                           \
				lpm_del(l, (p)[j].ip, (p)[j].d);                            \
				double m = now_s();                                           \
				lpm_add(l, (p)[j].ip, (p)[j].d, nh);                        \
				double e = now_s();                                           \
				lpm_add(l, (p)[j].ip, (p)[j].d, nh + 1);                    \
				double e2 = now_s();                                          \
				(ct)->del[rd][i] = m - s;                                   \
				(ct)->add[rd][i] = e - m;                                   \
				(ct)->repl[rd][i] = e2 - e;                                 \
				if (i % 32 == 31)                                           \
					fp_lpm_reclaim(l);                                  \
				s = now_s();                                                  \
				fib_del(f, (p)[j].ip, (p)[j].d);                            \
				m = now_s();                                                  \
				fib_add(f, (p)[j].ip, (p)[j].d, nh + 1);                    \
				e = now_s();                                                  \
				(ct)->fdel[rd][i] = m - s;                                  \
				(ct)->fadd[rd][i] = e - m;                                  \
			}                                                                   \
		}                                                                           \
	} while (0)

/* Prints the change times of fp_lpm and of fib ("rte_fib", "rte_fib6"),
 * then fp_lpm's memory after them. */
static void
report_change_times(struct change_times *ct, const char *fib, const struct fp_lpm *l)
{
	char what[64];
	report_changes("fp_lpm delete", ct->del);
	report_changes("fp_lpm add", ct->add);
	report_changes("fp_lpm replace", ct->repl);
	snprintf(what, sizeof(what), "%s delete (one copy)", fib);
	report_changes(what, ct->fdel);
	snprintf(what, sizeof(what), "%s add (one copy)", fib);
	report_changes(what, ct->fadd);
	struct fp_lpm_stats st;
	fp_lpm_stats(l, &st);
	printf("  fp_lpm after %u x 3 changes: DPDK memory %.1f MiB, in use %.1f MiB\n", CHG_ROUNDS * NCHG,
	       st.fib_bytes / 1048576.0, st.fib_used / 1048576.0);
}

/* Runs body (all NADDR lookups) and keeps in best the fastest round but
 * the first, which only warms the caches. A macro: a call through a
 * function pointer per burst would be timed with the lookups. */
#define TIME_ROUND(round, best, body)                \
	do {                                         \
		double t_ = now_s();                 \
		body;                                \
		t_ = now_s() - t_;                   \
		if ((round) > 0 && t_ < (best))      \
			(best) = t_;                 \
	} while (0)

/* The forwarding bench's 4096-destination rows: lookups that hit caches. */
#define NHOT 4096

/* Times OWN (fp_lpm, answers in a) and THEIRS (rte_fib, 64-bit answers in
 * out, copied to b), each with j the burst's first address: over all the
 * addresses, then over the first NHOT again and again. */
#define TIME_LOOKUPS(theirs, OWN, THEIRS)                                                  \
	do {                                                                               \
		double best_[2][2] = {{1e9, 1e9}, {1e9, 1e9}};                                \
		uint64_t out[BURST];                                                       \
		for (unsigned hot = 0; hot < 2; hot++) {                                   \
			unsigned span = hot ? NHOT : NADDR;                                \
			for (int round = 0; round <= LOOKUP_ROUNDS; round++) {             \
				TIME_ROUND(round, best_[hot][0],                              \
					   for (unsigned i = 0; i < NADDR; i += BURST) {   \
						   unsigned j = i % span;                  \
						   OWN;                                    \
					   });                                             \
				TIME_ROUND(round, best_[hot][1],                              \
					   for (unsigned i = 0; i < NADDR; i += BURST) {   \
						   unsigned j = i % span;                  \
						   THEIRS;                                 \
						   for (unsigned k = 0; k < BURST; k++)    \
							   b[j + k] = (uint32_t)out[k];    \
					   });                                             \
			}                                                                  \
		}                                                                          \
		print_lookups(theirs, best_[0][0], best_[0][1], best_[1][0], best_[1][1]);            \
	} while (0)

static void
print_lookups(const char *theirs, double ta, double tf, double ha, double hf)
{
	printf("  lookup   fp_lpm %.2f ns  %s %.2f ns  (best of %d rounds after a warm-up)\n",
	       ta * 1e9 / NADDR, theirs, tf * 1e9 / NADDR, LOOKUP_ROUNDS);
	printf("  cached   fp_lpm %.2f ns  %s %.2f ns  (the first %u addresses over and over)\n",
	       ha * 1e9 / NADDR, theirs, hf * 1e9 / NADDR, NHOT);
}

/* The memory floor of IPv4 lookups on this machine: the same addresses in
 * the same bursts, reading what each structure reads but deciding nothing,
 * every read of a burst prefetched before the first is used (as fp_lpm's
 * bulk lookup does; rte_fib prefetches 15 ahead instead).
 *  - fp_lpm's shape, with its direct level (a table of more than 16384
 *    prefixes): a 2-byte entry of a 2^24 array (32 MiB);
 *  - without it: a 4-byte entry of a 2^S first level, then one 64-byte
 *    line that entry names, in a region as large as the nodes and leaves
 *    in use (99% of a full view's lookups end in such a flat block). A
 *    block holds 1 to 8 lines, picked by the address's next bits: timed
 *    with 1 line and with 8 lines per entry, the bounds of the real mix;
 *  - DIR-24-8's shape: a 4-byte entry of a 2^24 first level.
 * A lookup slower than its floor spends the difference deciding; one at
 * its floor can only get faster by touching less memory. Its own random
 * numbers: the addresses and changes of the rest stay what they were. */
static void
floor4(const uint32_t *addr, const struct fp_lpm_stats *st)
{
	unsigned S = st->first_bits;
	size_t dbytes = st->direct_bits ? (size_t)2 << st->direct_bits : 0;
	size_t region = st->fib_used - st->first_bytes;
	size_t nlines = region / 64 > 8 ? region / 64 : 8;
	/* only what the table's shape reads, beside DIR-24-8's array */
	uint32_t *dir = rte_malloc(NULL, sizeof(uint32_t) << 24, 64);
	uint16_t *dir16 = dbytes ? rte_malloc(NULL, dbytes, 64) : NULL;
	uint32_t *top = dbytes ? NULL : rte_malloc(NULL, sizeof(uint32_t) << S, 64);
	char *lines = dbytes ? NULL : rte_malloc(NULL, nlines * 64, 64);
	if (dir == NULL || (dbytes ? dir16 == NULL : top == NULL || lines == NULL)) {
		printf("  floor: no memory\n");
		goto out;
	}
	for (size_t i = 0; i < (1u << 24); i++) {
		dir[i] = (uint32_t)i;
		if (dir16 != NULL)
			dir16[i] = (uint16_t)i;
	}
	if (!dbytes) {
		uint64_t x = 0x9e3779b97f4a7c15u;
		for (size_t i = 0; i < (1u << S); i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			top[i] = (uint32_t)(x % (nlines - 7));
		}
		for (size_t i = 0; i < nlines * 16; i++)
			((uint32_t *)lines)[i] = (uint32_t)i;
	}
	volatile uint32_t sink = 0;
	double t2[2] = {1e9, 1e9}, t1 = 1e9, t16 = 1e9;
	for (int round = 0; round <= LOOKUP_ROUNDS; round++) {
		for (unsigned w = 0; w < 2 && !dbytes; w++) {
			unsigned spread = w ? 3 : 0; /* log2 of the lines per entry */
			TIME_ROUND(round, t2[w], for (unsigned i = 0; i < NADDR; i += BURST) {
				const char *ln[BURST];
				uint32_t acc = 0;
				for (unsigned j = 0; j < BURST; j++)
					__builtin_prefetch(&top[addr[i + j] >> (32 - S)]);
				for (unsigned j = 0; j < BURST; j++) {
					uint32_t a = addr[i + j];
					size_t line = top[a >> (32 - S)] +
						      ((uint64_t)a << (32 + S) >> 61 >> (3 - spread));
					ln[j] = lines + line * 64;
					__builtin_prefetch(ln[j]);
				}
				for (unsigned j = 0; j < BURST; j++)
					acc += *(const uint32_t *)(ln[j] + (addr[i + j] & 15) * 4);
				sink += acc;
			});
		}
		/* one read of a 2^24 array (of 2 or 4 bytes), a burst at a time */
#define ONE_READ(best, tbl)                                                         \
	TIME_ROUND(round, best, for (unsigned i = 0; i < NADDR; i += BURST) {        \
		uint32_t acc = 0;                                                    \
		for (unsigned j = 0; j < BURST; j++)                                 \
			__builtin_prefetch(&(tbl)[addr[i + j] >> 8]);                \
		for (unsigned j = 0; j < BURST; j++)                                 \
			acc += (tbl)[addr[i + j] >> 8];                              \
		sink += acc;                                                         \
	})
		if (dbytes)
			ONE_READ(t16, dir16);
		ONE_READ(t1, dir);
#undef ONE_READ
	}
	if (dbytes)
		printf("  floor    fp_lpm's read %.2f ns  (one entry of its %.0f MiB direct level)", t16 * 1e9 / NADDR,
		       dbytes / 1048576.0);
	else
		printf("  floor    fp_lpm's reads %.2f-%.2f ns  (2^%u first level, then one of 1 or 8 lines per entry in %.1f MiB)",
		       t2[0] * 1e9 / NADDR, t2[1] * 1e9 / NADDR, S, region / 1048576.0);
	printf("  DIR-24-8's read %.2f ns  (one entry of 64 MiB)\n", t1 * 1e9 / NADDR);
out:
	rte_free(top);
	rte_free(dir);
	rte_free(dir16);
	rte_free(lines);
}

/* The memory floor of IPv6 lookups: the same addresses in the same bursts
 * read the lines fp_lpm's lookups wait for (fp_lpm6_trace: first-level
 * entry, nodes, leaf), round by round as fp_lpm6_lookup_bulk reads them,
 * each read's address depending on the last read's value but nothing
 * decided. The lines are kept as 4-byte offsets from the lowest, so that
 * what the replay streams besides them (25 MiB for a million addresses)
 * is not far from the lookup's 16 MiB of addresses: a stream evicts the
 * table's lines from the caches as it passes. fp_lpm near its floor can
 * only get faster by reading fewer lines per lookup; the gap between the
 * two is what its decisions cost. */
#define TRACE_MAX 24
static void
floor6(const struct fp_lpm *l, const uint8_t (*addr)[16])
{
	uint32_t *start = malloc((NADDR + 1) * sizeof(*start));
	size_t cap = (size_t)NADDR * 8, used = 0;
	uintptr_t *chain = malloc(cap * sizeof(*chain));
	unsigned most = 0;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	for (unsigned i = 0; i < NADDR; i++) {
		if (used + TRACE_MAX > cap)
			chain = realloc(chain, (cap *= 2) * sizeof(*chain));
		start[i] = (uint32_t)used;
		unsigned n = fp_lpm6_trace(l, addr[i], (const void **)(chain + used), TRACE_MAX);
		for (unsigned k = 0; k < n; k++) {
			lo = chain[used + k] < lo ? chain[used + k] : lo;
			hi = chain[used + k] > hi ? chain[used + k] : hi;
		}
		used += n;
		most = n > most ? n : most;
	}
	start[NADDR] = (uint32_t)used;
	if (hi - lo > UINT32_MAX) {
		printf("  floor    the table spans more than 4 GiB: not timed\n");
		goto out;
	}
	uint32_t *off = (uint32_t *)chain; /* packed in place: off[k] is written after chain[k] is read */
	for (size_t k = 0; k < used; k++)
		off[k] = (uint32_t)(chain[k] - lo);
	const char *base = (const char *)lo;
	volatile uint32_t sink = 0;
	double best = 1e9;
	for (int round = 0; round <= LOOKUP_ROUNDS; round++) {
		TIME_ROUND(round, best, for (unsigned i = 0; i < NADDR; i += BURST) {
			const char *p[BURST];
			uint8_t walk[BURST];
			unsigned nw = 0;
			uint32_t acc = 0;
			for (unsigned j = 0; j < BURST; j++) {
				p[j] = base + off[start[i + j]];
				__builtin_prefetch(p[j]);
				walk[nw++] = (uint8_t)j;
			}
			for (unsigned d = 1; nw != 0; d++) {
				unsigned m = 0;
				for (unsigned x = 0; x < nw; x++) {
					unsigned j = walk[x];
					uintptr_t v = *(const volatile uint32_t *)p[j];
					acc += (uint32_t)v;
					if (start[i + j] + d >= start[i + j + 1])
						continue;
					/* the next address waits for this value, as a walk's does */
					uintptr_t nx = (uintptr_t)(base + off[start[i + j] + d]);
					__asm__("and $0, %1\n\tadd %1, %0" : "+r"(nx), "+r"(v));
					p[j] = (const char *)nx;
					__builtin_prefetch(p[j]);
					walk[m++] = (uint8_t)j;
				}
				nw = m;
			}
			sink += acc;
		});
	}
	printf("  floor    fp_lpm's reads %.2f ns  (the %.2f lines a lookup waits for on average, %u at most, read in turn)\n",
	       best * 1e9 / NADDR, (double)used / NADDR, most);
out:
	free(start);
	free(chain);
}

/* Prints how many of the n answers of the two structures differ. */
static void
report_diff(const uint32_t *a, const uint32_t *b, unsigned n)
{
	unsigned diff = 0;
	for (unsigned i = 0; i < n; i++)
		diff += a[i] != b[i];
	printf("  answers that differ between the two: %u\n", diff);
}

static void
bench4(void)
{
	uint32_t *addr = malloc(NADDR * 4), *a = malloc(NADDR * 4), *b = malloc(NADDR * 4);
	for (unsigned i = 0; i < NADDR; i++) {
		const struct pfx4 *p = &p4[rnd() % n4];
		addr[i] = (uint32_t)(rnd_inside((u128)p->ip << 96, p->d, 32) >> 96);
	}
	printf("IPv4: %zu prefixes, %u random addresses inside them, bursts of %d\n", n4, NADDR, BURST);

	/* ours */
	struct fp_lpm_alloc ra = {rte_alloc, rte_free_cb, NULL};
	size_t h0 = heap_used();
	double t0 = now_s();
	struct fp_lpm *l = fp_lpm_create(4, &ra);
	fp_lpm_defer(l);
	for (size_t i = 0; i < n4; i++)
		fp_lpm4_add(l, p4[i].ip, p4[i].d, 1 + i % 60000);
	fp_lpm_commit(l);
	double tb = now_s() - t0;
	struct fp_lpm_stats st;
	fp_lpm_stats(l, &st);
	printf("  fp_lpm   build %.3f s  DPDK memory %.1f MiB (heap delta %.1f MiB, nodes and leaves in use %.1f MiB)  writer record %.1f MiB  first level %u bits\n",
	       tb, st.fib_bytes / 1048576.0, (heap_used() - h0) / 1048576.0, st.fib_used / 1048576.0,
	       st.rib_bytes / 1048576.0, st.first_bits);

	/* rte_fib as fp_fib.c makes it */
	h0 = heap_used();
	t0 = now_s();
	struct rte_fib_conf c = {
		.type = RTE_FIB_DIR24_8,
		.default_nh = 0,
		.max_routes = (int)n4 + 1024,
		.dir24_8 = {.nh_sz = RTE_FIB_DIR24_8_4B, .num_tbl8 = n4 / 32 > 1024 ? n4 / 32 : 1024},
	};
	struct rte_fib *f = rte_fib_create("bench4", SOCKET_ID_ANY, &c);
	if (f == NULL) {
		printf("  rte_fib: cannot create (%s)\n", rte_strerror(rte_errno));
		exit(1);
	}
	for (size_t i = 0; i < n4; i++)
		rte_fib_add(f, p4[i].ip, p4[i].d, 1 + i % 60000);
	tb = now_s() - t0;
	printf("  rte_fib  build %.3f s  DPDK memory %.1f MiB (one copy; fibd keeps two)\n", tb,
	       (heap_used() - h0) / 1048576.0);

	TIME_LOOKUPS("rte_fib", fp_lpm4_lookup_bulk(l, addr + j, a + j, BURST),
		     rte_fib_lookup_bulk(f, addr + j, out, BURST));
	report_diff(a, b, NADDR);
	floor4(addr, &st);

	/* single changes: delete, add back, replace, on random prefixes */
	struct change_times *ct = malloc(sizeof(*ct));
	TIME_CHANGES(ct, l, f, p4, n4, fp_lpm4_delete, fp_lpm4_add, rte_fib_delete, rte_fib_add);
	fp_lpm_reclaim(l);
	report_change_times(ct, "rte_fib", l);
	fp_lpm_free(l);
	rte_fib_free(f);
	free(addr);
	free(a);
	free(b);
	free(ct);
}

static void
bench6(void)
{
	uint8_t (*addr)[16] = malloc(NADDR * 16);
	uint32_t *a = malloc(NADDR * 4), *b = malloc(NADDR * 4);
	for (unsigned i = 0; i < NADDR; i++) {
		const struct pfx6 *p = &p6[rnd() % n6];
		to_bytes(rnd_inside(from_bytes(p->ip, 16), p->d, 128), addr[i]);
	}
	printf("IPv6: %zu prefixes, %u random addresses inside them, bursts of %d\n", n6, NADDR, BURST);
	struct fp_lpm_alloc ra = {rte_alloc, rte_free_cb, NULL};
	size_t h0 = heap_used();
	double t0 = now_s();
	struct fp_lpm *l = fp_lpm_create(6, &ra);
	fp_lpm_defer(l);
	for (size_t i = 0; i < n6; i++)
		fp_lpm6_add(l, p6[i].ip, p6[i].d, 1 + i % 60000);
	fp_lpm_commit(l);
	double tb = now_s() - t0;
	struct fp_lpm_stats st;
	fp_lpm_stats(l, &st);
	printf("  fp_lpm   build %.3f s  DPDK memory %.1f MiB (heap delta %.1f MiB, nodes and leaves in use %.1f MiB)  writer record %.1f MiB  first level %u bits\n",
	       tb, st.fib_bytes / 1048576.0, (heap_used() - h0) / 1048576.0, st.fib_used / 1048576.0,
	       st.rib_bytes / 1048576.0, st.first_bits);

	h0 = heap_used();
	t0 = now_s();
	struct rte_fib6_conf c = {
		.type = RTE_FIB6_TRIE,
		.default_nh = 0,
		.max_routes = (int)n6 + 1024,
		.trie = {.nh_sz = RTE_FIB6_TRIE_4B, .num_tbl8 = n6 * 2 > 1024 ? n6 * 2 : 1024},
	};
	struct rte_fib6 *f = rte_fib6_create("bench6", SOCKET_ID_ANY, &c);
	if (f == NULL) {
		printf("  rte_fib6: cannot create (%s)\n", rte_strerror(rte_errno));
		exit(1);
	}
	unsigned refused = 0;
	for (size_t i = 0; i < n6; i++)
		refused += rte_fib6_add(f, p6[i].ip, p6[i].d, 1 + i % 60000) != 0;
	tb = now_s() - t0;
	printf("  rte_fib6 build %.3f s  DPDK memory %.1f MiB (one copy; fibd keeps two)%s\n", tb,
	       (heap_used() - h0) / 1048576.0, refused ? "  ROUTES REFUSED" : "");

	TIME_LOOKUPS("rte_fib6", fp_lpm6_lookup_bulk(l, addr + j, a + j, BURST),
		     rte_fib6_lookup_bulk(f, addr + j, out, BURST));
	report_diff(a, b, NADDR);
	floor6(l, (const uint8_t(*)[16])addr);

	struct change_times *ct = malloc(sizeof(*ct));
	TIME_CHANGES(ct, l, f, p6, n6, fp_lpm6_delete, fp_lpm6_add, rte_fib6_delete, rte_fib6_add);
	fp_lpm_reclaim(l);
	report_change_times(ct, "rte_fib6", l);
	fp_lpm_free(l);
	rte_fib6_free(f);
	free(addr);
	free(a);
	free(b);
	free(ct);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s prefixes.txt   (go run ./test/fullview/fvdump > prefixes.txt)\n",
			argv[0]);
		return 2;
	}
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=benchlpm%d", (int)getpid());
	/* "huge" as the second argument: on hugepages (as `make bench`;
	 * the caller reserves them), else on no hugepages */
	bool huge = argc > 2 && strcmp(argv[2], "huge") == 0;
	char *eal[] = {argv[0], "--no-pci", "-l", "0", "--log-level=lib.eal:error", prefix,
		       "-m", "2300", huge ? "--huge-unlink" : "--no-huge", NULL};
	printf("EAL memory: %s\n", huge ? "2 MiB hugepages" : "no hugepages (4 KiB pages)");
	if (rte_eal_init(9, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	rnd_seed(0x9e3779b97f4a7c15ull);
	lpm_load_prefixes(argv[1], &p4, &n4, &p6, &n6);
	bench4();
	bench6();
	eal_cleanup_rundir(rte_eal_cleanup);
	return 0;
}
