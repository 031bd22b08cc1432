/* What test_lpm.c and bench_lpm.c share: reproducible random numbers,
 * prefixes of both families as 128-bit keys, fp_lpm through one interface
 * for both widths, and random addresses inside a prefix. Header-only,
 * no EAL. */
#ifndef LPM_TEST_H
#define LPM_TEST_H

#include <stdint.h>
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

#endif /* LPM_TEST_H */
