/* fp_lpm against an earlier fp_lpm, in one process: both build the same
 * table from the same prefixes, then time bulk lookups of the same
 * addresses in alternating rounds, so that whatever else the machine does
 * falls on both alike. Not a test; see lpm_ab.sh, which builds the
 * earlier fp_lpm.c with every fp_lpm symbol renamed "old_". Memory from
 * libc, 2 MiB-aligned and advised to transparent huge pages.
 *
 *   cgo/dp/test/lpm_ab.sh REV FILE      # FILE: go run ./test/fullview/fvdump
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "fp_lpm.h"

struct fp_lpm *old_fp_lpm_create(int family, const struct fp_lpm_alloc *a);
int old_fp_lpm4_add(struct fp_lpm *l, uint32_t ip, uint8_t depth, uint32_t nh);
int old_fp_lpm6_add(struct fp_lpm *l, const uint8_t ip[16], uint8_t depth, uint32_t nh);
void old_fp_lpm_defer(struct fp_lpm *l);
int old_fp_lpm_commit(struct fp_lpm *l);
void old_fp_lpm4_lookup_bulk(const struct fp_lpm *l, const uint32_t *ip, uint32_t *nh, unsigned n);
void old_fp_lpm6_lookup_bulk(const struct fp_lpm *l, const uint8_t (*ip)[16], uint32_t *nh, unsigned n);

#define NADDR (1u << 20)
#define NHOT 4096
#define BURST 32
#define ROUNDS 15

static uint64_t seed = 88172645463325252ull;

static uint64_t
rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

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

/* A random address inside prefix p/d (w bits), in place. */
static void
inside(uint8_t *a, const uint8_t *p, unsigned d, unsigned w)
{
	memcpy(a, p, w / 8);
	for (unsigned b = d; b < w; b++) {
		uint8_t bit = 0x80 >> (b % 8);
		a[b / 8] = rnd() & 1 ? a[b / 8] | bit : a[b / 8] & ~bit;
	}
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
					double t0 = now();                                  \
					for (unsigned i = 0; i < NADDR; i += BURST) {       \
						unsigned j = i % span;                      \
						LOOKUP;                                     \
					}                                                   \
					if (r >= 0)                                         \
						t[v][r] = (now() - t0) * 1e9 / NADDR;       \
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

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s PREFIXES\n", argv[0]);
		return 2;
	}
	FILE *f = fopen(argv[1], "r");
	if (f == NULL) {
		perror(argv[1]);
		return 1;
	}
	const struct fp_lpm_alloc mem = {thp_alloc, thp_free, NULL};
	struct fp_lpm *n4 = fp_lpm_create(4, &mem), *o4 = old_fp_lpm_create(4, &mem);
	struct fp_lpm *n6 = fp_lpm_create(6, &mem), *o6 = old_fp_lpm_create(6, &mem);
	fp_lpm_defer(n4), fp_lpm_defer(n6), old_fp_lpm_defer(o4), old_fp_lpm_defer(o6);
	size_t c4 = 1 << 20, c6 = 1 << 18, k4 = 0, k6 = 0;
	uint8_t (*p4)[5] = malloc(c4 * 5), (*p6)[17] = malloc(c6 * 17);
	char line[128];
	while (fgets(line, sizeof(line), f)) {
		char *sl = strchr(line, '/');
		if (sl == NULL)
			continue;
		*sl = 0;
		uint8_t d = (uint8_t)atoi(sl + 1);
		if (strchr(line, ':')) {
			if (k6 == c6)
				p6 = realloc(p6, (c6 *= 2) * 17);
			if (inet_pton(AF_INET6, line, p6[k6]) != 1)
				continue;
			p6[k6][16] = d;
			uint32_t nh = 1 + k6 % 60000;
			fp_lpm6_add(n6, p6[k6], d, nh);
			old_fp_lpm6_add(o6, p6[k6], d, nh);
			k6++;
		} else {
			if (k4 == c4)
				p4 = realloc(p4, (c4 *= 2) * 5);
			if (inet_pton(AF_INET, line, p4[k4]) != 1)
				continue;
			p4[k4][4] = d;
			uint32_t ip, nh = 1 + k4 % 60000;
			memcpy(&ip, p4[k4], 4);
			fp_lpm4_add(n4, ntohl(ip), d, nh);
			old_fp_lpm4_add(o4, ntohl(ip), d, nh);
			k4++;
		}
	}
	fclose(f);
	if (fp_lpm_commit(n4) || fp_lpm_commit(n6) || old_fp_lpm_commit(o4) || old_fp_lpm_commit(o6)) {
		fprintf(stderr, "no memory\n");
		return 1;
	}
	uint32_t *a4 = malloc(NADDR * 4), *r0 = malloc(NADDR * 4), *r1 = malloc(NADDR * 4);
	uint8_t (*a6)[16] = malloc(NADDR * 16);
	for (unsigned i = 0; i < NADDR && k4; i++) {
		uint8_t b[4];
		size_t j = rnd() % k4;
		inside(b, p4[j], p4[j][4], 32);
		memcpy(&a4[i], b, 4);
		a4[i] = ntohl(a4[i]);
	}
	for (unsigned i = 0; i < NADDR && k6; i++) {
		size_t j = rnd() % k6;
		inside(a6[i], p6[j], p6[j][16], 128);
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
	return 0;
}
