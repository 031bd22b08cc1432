/* What test_lpm.c, bench_lpm.c and lpm_ab.c share: reproducible random
 * numbers, prefixes of both families as 128-bit keys, fp_lpm through one
 * interface for both widths, random addresses inside a prefix, and a
 * prefix file read in. Header-only, no EAL. */
#ifndef LPM_TEST_H
#define LPM_TEST_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fp_lpm.h"

/* An address or prefix of either family, left-aligned: IPv4 in the top
 * 32 bits. W is the width in use, 32 or 128. */
typedef unsigned __int128 u128;

/* xorshift64; fixed seeds make every run the same. */
static uint64_t rs = 88172645463325252ull;

static inline void
rnd_seed(uint64_t s)
{
	rs = s;
}

static inline uint64_t
rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static inline unsigned
rndn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* A random address of width W. */
static inline u128
rnd_key(unsigned W)
{
	u128 k = (u128)rnd() << 64 | rnd();
	if (W == 32)
		return k & ((u128)0xffffffff << 96);
	return k;
}

/* k with the bits beyond d cleared. */
static inline u128
mask(u128 k, unsigned d)
{
	if (d == 0)
		return 0;
	if (d >= 128)
		return k;
	return k & ~((((u128)1) << (128 - d)) - 1);
}

/* A random address of width W inside prefix k/d. */
static inline u128
rnd_inside(u128 k, unsigned d, unsigned W)
{
	u128 span = d == 0 ? ~(u128)0 : (((u128)1) << (128 - d)) - 1;
	u128 unit = ((u128)1) << (128 - W);
	return mask(k, d) + (rnd_key(128) & span & ~(unit - 1));
}

/* Network order bytes (16) <-> key; from_bytes reads n bytes. */
static inline void
to_bytes(u128 k, uint8_t ip[16])
{
	for (int i = 15; i >= 0; i--, k >>= 8)
		ip[i] = (uint8_t)k;
}

static inline u128
from_bytes(const uint8_t *ip, unsigned n)
{
	u128 k = 0;
	for (unsigned i = 0; i < 16; i++)
		k = k << 8 | (i < n ? ip[i] : 0);
	return k;
}

/* fp_lpm of width W: IPv4 tables take host-order words, IPv6 bytes. */
static inline int
lpm_add(struct fp_lpm *l, unsigned W, u128 k, unsigned d, uint32_t nh)
{
	if (W == 32)
		return fp_lpm4_add(l, (uint32_t)(k >> 96), d, nh);
	uint8_t ip[16];
	to_bytes(k, ip);
	return fp_lpm6_add(l, ip, d, nh);
}

static inline int
lpm_del(struct fp_lpm *l, unsigned W, u128 k, unsigned d)
{
	if (W == 32)
		return fp_lpm4_delete(l, (uint32_t)(k >> 96), d);
	uint8_t ip[16];
	to_bytes(k, ip);
	return fp_lpm6_delete(l, ip, d);
}

static inline uint32_t
lpm_lookup(const struct fp_lpm *l, unsigned W, u128 k)
{
	if (W == 32)
		return fp_lpm4_lookup(l, (uint32_t)(k >> 96));
	uint8_t ip[16];
	to_bytes(k, ip);
	return fp_lpm6_lookup(l, ip);
}

/* Seconds on the monotonic clock. */
static inline double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* For qsort: doubles in ascending order. */
static inline int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Prefixes read from a file of one per line (a.b.c.d/n or IPv6/n, as
 * `go run ./test/fullview/fvdump` writes them), IPv4 in host order. */
struct pfx4 {
	uint32_t ip;
	uint8_t d;
};

struct pfx6 {
	uint8_t ip[16];
	uint8_t d;
};

/* Reads path into *p4 / *p6 (counts *n4 / *n6); exits when it cannot. */
static inline void
lpm_load_prefixes(const char *path, struct pfx4 **p4, size_t *n4, struct pfx6 **p6, size_t *n6)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		perror(path);
		exit(1);
	}
	size_t c4 = 1 << 20, c6 = 1 << 18;
	*p4 = malloc(c4 * sizeof(**p4));
	*p6 = malloc(c6 * sizeof(**p6));
	*n4 = *n6 = 0;
	char line[128];
	while (fgets(line, sizeof(line), f)) {
		char *sl = strchr(line, '/');
		if (sl == NULL)
			continue;
		*sl = 0;
		int d = atoi(sl + 1);
		if (strchr(line, ':')) {
			if (*n6 == c6)
				*p6 = realloc(*p6, (c6 *= 2) * sizeof(**p6));
			if (inet_pton(AF_INET6, line, (*p6)[*n6].ip) == 1) {
				(*p6)[*n6].d = (uint8_t)d;
				(*n6)++;
			}
		} else {
			struct in_addr a;
			if (*n4 == c4)
				*p4 = realloc(*p4, (c4 *= 2) * sizeof(**p4));
			if (inet_pton(AF_INET, line, &a) == 1) {
				(*p4)[*n4].ip = ntohl(a.s_addr);
				(*p4)[*n4].d = (uint8_t)d;
				(*n4)++;
			}
		}
	}
	fclose(f);
}

#endif /* LPM_TEST_H */
