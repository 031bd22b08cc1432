/* fp_lpm against an earlier fp_lpm, in one process: both build the same
 * table from the same prefixes, then time bulk lookups of the same
 * addresses in alternating rounds, so that whatever else the machine does
 * falls on both alike, then times single changes on both. Not a test;
 * see lpm_ab.sh, which builds the earlier fp_lpm.c with every fp_lpm
 * symbol renamed "old_". Memory from
 * libc, 2 MiB-aligned and advised to transparent huge pages. Where the
 * two tables land still matters: run it against HEAD first (HEAD against
 * itself once read random IPv4 lookups at 12.6 and 10.8 ns).
 *
 *   cgo/dp/test/lpm_ab.sh REV FILE      # FILE: go run ./test/fullview/fvdump
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "lpm_test.h"

struct fp_lpm *old_fp_lpm_create(int family, const struct fp_lpm_alloc *a);
int old_fp_lpm4_add(struct fp_lpm *l, uint32_t ip, uint8_t depth, uint32_t nh);
int old_fp_lpm6_add(struct fp_lpm *l, const uint8_t ip[16], uint8_t depth, uint32_t nh);
void old_fp_lpm_defer(struct fp_lpm *l);
int old_fp_lpm_commit(struct fp_lpm *l);
void old_fp_lpm4_lookup_bulk(const struct fp_lpm *l, const uint32_t *ip, uint32_t *nh, unsigned n);
void old_fp_lpm6_lookup_bulk(const struct fp_lpm *l, const uint8_t (*ip)[16], uint32_t *nh, unsigned n);
int old_fp_lpm4_delete(struct fp_lpm *l, uint32_t ip, uint8_t depth);
int old_fp_lpm6_delete(struct fp_lpm *l, const uint8_t ip[16], uint8_t depth);
void old_fp_lpm_reclaim(struct fp_lpm *l);

#define NADDR (1u << 20)
#define NHOT 4096
#define BURST 32
#define ROUNDS 15
#define NCHG 20000

static void *
thp_alloc(void *arg, size_t size)
{
	(void)arg;
	void *p = NULL;
	if (posix_memalign(&p, 2u << 20, size) != 0)
		return NULL;
	madvise(p, size, MADV_HUGEPAGE);
	return p;
}

static void
thp_free(void *arg, void *p)
{
	(void)arg;
	free(p);
}

/* Times LOOKUP(v, j) (v 0: old, 1: new; burst at address j) in
 * alternating rounds over all addresses, then over the first NHOT again
 * and again; prints best and median of each, and how many answers differ. */
#define TIME_AB(name, LOOKUP, out0, out1)                                                   \
	do {                                                                                \
		for (unsigned hot = 0; hot < 2; hot++) {                                    \
			unsigned span = hot ? NHOT : NADDR;                                 \
			double t[2][ROUNDS];                                                \
			for (int r = -1; r < ROUNDS; r++)                                   \
				for (int v = 0; v < 2; v++) {                               \
					double t0 = now_s();                                  \
					for (unsigned i = 0; i < NADDR; i += BURST) {       \
						unsigned j = i % span;                      \
						LOOKUP;                                     \
					}                                                   \
					if (r >= 0)                                         \
						t[v][r] = (now_s() - t0) * 1e9 / NADDR;       \
				}                                                           \
			unsigned diff = 0;                                                  \
			for (unsigned i = 0; i < span; i++)                                 \
				diff += (out0)[i] != (out1)[i];                             \
			qsort(t[0], ROUNDS, sizeof(double), cmp_double);                    \
			qsort(t[1], ROUNDS, sizeof(double), cmp_double);                    \
			printf("%s %-6s  old best %6.2f median %6.2f ns   new best %6.2f median %6.2f ns" \
			       "   answers that differ: %u\n",                                 \
			       name, hot ? "cached" : "random", t[0][0], t[0][ROUNDS / 2], t[1][0], \
			       t[1][ROUNDS / 2], diff);                                     \
		}                                                                           \
	} while (0)

/* Single changes as bench_lpm times them (delete a random prefix, add it
 * back, replace its value), the same on the new table nl and the old ol,
 * the side that goes first alternating; prints p50 and p99 of each kind
 * per side. DEL and ADD(x) act on prefix j of side v (0: old). */
#define CHANGE_AB(name, n, nl, ol, DEL, ADD)                                                \
	do {                                                                                \
		static double t[2][3][NCHG];                                                \
		for (unsigned i = 0; i < NCHG; i++) {                                       \
			size_t j = rnd() % (n);                                             \
			uint32_t nh = 1 + j % 60000;                                        \
			for (unsigned s = 0; s < 2; s++) {                                  \
				unsigned v = (i + s) & 1;                                   \
				double t0 = now_s();                                          \
				DEL;                                                        \
				double t1 = now_s();                                          \
				ADD(nh);                                                    \
				double t2 = now_s();                                          \
				ADD(nh + 1);                                                \
				double t3 = now_s();                                          \
				t[v][0][i] = t1 - t0, t[v][1][i] = t2 - t1, t[v][2][i] = t3 - t2; \
			}                                                                   \
			if (i % 32 == 31)                                                   \
				fp_lpm_reclaim(nl), old_fp_lpm_reclaim(ol);                 \
		}                                                                           \
		static const char *kind[] = {"delete", "add", "replace"};                   \
		for (unsigned k = 0; k < 3; k++) {                                          \
			qsort(t[0][k], NCHG, sizeof(double), cmp_double);                   \
			qsort(t[1][k], NCHG, sizeof(double), cmp_double);                   \
			printf("%s %-7s  old p50 %6.2f p99 %6.2f us   new p50 %6.2f p99 %6.2f us\n", name, \
			       kind[k], t[0][k][NCHG / 2] * 1e6, t[0][k][NCHG * 99 / 100] * 1e6,  \
			       t[1][k][NCHG / 2] * 1e6, t[1][k][NCHG * 99 / 100] * 1e6);         \
		}                                                                           \
	} while (0)

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s PREFIXES\n", argv[0]);
		return 2;
	}
	struct pfx4 *p4;
	struct pfx6 *p6;
	size_t k4, k6;
	lpm_load_prefixes(argv[1], &p4, &k4, &p6, &k6);
	const struct fp_lpm_alloc mem = {thp_alloc, thp_free, NULL};
	struct fp_lpm *n4 = fp_lpm_create(4, &mem), *o4 = old_fp_lpm_create(4, &mem);
	struct fp_lpm *n6 = fp_lpm_create(6, &mem), *o6 = old_fp_lpm_create(6, &mem);
	fp_lpm_defer(n4), fp_lpm_defer(n6), old_fp_lpm_defer(o4), old_fp_lpm_defer(o6);
	for (size_t i = 0; i < k4; i++) {
		fp_lpm4_add(n4, p4[i].ip, p4[i].d, 1 + i % 60000);
		old_fp_lpm4_add(o4, p4[i].ip, p4[i].d, 1 + i % 60000);
	}
	for (size_t i = 0; i < k6; i++) {
		fp_lpm6_add(n6, p6[i].ip, p6[i].d, 1 + i % 60000);
		old_fp_lpm6_add(o6, p6[i].ip, p6[i].d, 1 + i % 60000);
	}
	if (fp_lpm_commit(n4) || fp_lpm_commit(n6) || old_fp_lpm_commit(o4) || old_fp_lpm_commit(o6)) {
		fprintf(stderr, "no memory\n");
		return 1;
	}
	/* the addresses as bench_lpm makes them */
	uint32_t *a4 = malloc(NADDR * 4), *r0 = malloc(NADDR * 4), *r1 = malloc(NADDR * 4);
	uint8_t (*a6)[16] = malloc(NADDR * 16);
	for (unsigned i = 0; i < NADDR && k4; i++) {
		const struct pfx4 *p = &p4[rnd() % k4];
		a4[i] = (uint32_t)(rnd_inside((u128)p->ip << 96, p->d, 32) >> 96);
	}
	for (unsigned i = 0; i < NADDR && k6; i++) {
		const struct pfx6 *p = &p6[rnd() % k6];
		to_bytes(rnd_inside(from_bytes(p->ip, 16), p->d, 128), a6[i]);
	}
	printf("%zu IPv4 + %zu IPv6 prefixes, %u random addresses inside them, bursts of %d, %d rounds each, alternating\n",
	       k4, k6, NADDR, BURST, ROUNDS);
	if (k4)
		TIME_AB("IPv4",
			v ? fp_lpm4_lookup_bulk(n4, a4 + j, r1 + j, BURST) : old_fp_lpm4_lookup_bulk(o4, a4 + j, r0 + j, BURST),
			r0, r1);
	if (k6)
		TIME_AB("IPv6",
			v ? fp_lpm6_lookup_bulk(n6, a6 + j, r1 + j, BURST) : old_fp_lpm6_lookup_bulk(o6, a6 + j, r0 + j, BURST),
			r0, r1);
#define ADD4(x) (v ? fp_lpm4_add(n4, p4[j].ip, p4[j].d, x) : old_fp_lpm4_add(o4, p4[j].ip, p4[j].d, x))
#define ADD6(x) (v ? fp_lpm6_add(n6, p6[j].ip, p6[j].d, x) : old_fp_lpm6_add(o6, p6[j].ip, p6[j].d, x))
	if (k4)
		CHANGE_AB("IPv4", k4, n4, o4,
			  v ? fp_lpm4_delete(n4, p4[j].ip, p4[j].d) : old_fp_lpm4_delete(o4, p4[j].ip, p4[j].d), ADD4);
	if (k6)
		CHANGE_AB("IPv6", k6, n6, o6,
			  v ? fp_lpm6_delete(n6, p6[j].ip, p6[j].d) : old_fp_lpm6_delete(o6, p6[j].ip, p6[j].d), ADD6);
	return 0;
}
