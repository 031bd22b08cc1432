/* Unit tests of fp_lpm (fibd's own LPM tables), without an EAL: every
 * answer is compared with a naive reference (a hash of the prefixes, looked
 * up length by length), on boundary lengths, random and realistic tables,
 * random add/replace/delete sequences, allocation failures, and a reader
 * thread looking up while the writer churns. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpm_test.h"

static int passed, failed;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (cond) {                                                   \
			passed++;                                             \
		} else {                                                      \
			if (failed++ < 20) {                                  \
				fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
				fprintf(stderr, __VA_ARGS__);                 \
				fputc('\n', stderr);                          \
			}                                                     \
		}                                                             \
	} while (0)

/* ---- the reference: (key, depth) -> nh in an open-addressing hash ---- */

struct ref_e {
	u128 k;
	int16_t depth; /* -1 empty, -2 deleted */
	uint32_t nh;
};

struct ref {
	unsigned W;
	struct ref_e *e;
	size_t cap, n, used;
	unsigned count[129]; /* prefixes per length: skip empty lengths */
};

static size_t
ref_hash(u128 k, unsigned d, size_t cap)
{
	uint64_t h = (uint64_t)(k >> 64) * 0x9e3779b97f4a7c15ull ^ (uint64_t)k * 0xc2b2ae3d27d4eb4full ^ d;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return h & (cap - 1);
}

static void
ref_init(struct ref *r, unsigned W, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->W = W;
	r->cap = 1024;
	while (r->cap < max * 3)
		r->cap *= 2;
	r->e = malloc(r->cap * sizeof(*r->e));
	for (size_t i = 0; i < r->cap; i++)
		r->e[i].depth = -1;
}

static struct ref_e *
ref_find(const struct ref *r, u128 k, unsigned d)
{
	for (size_t i = ref_hash(k, d, r->cap);; i = (i + 1) & (r->cap - 1)) {
		struct ref_e *e = &r->e[i];
		if (e->depth == -1)
			return NULL;
		if (e->depth == (int)d && e->k == k)
			return e;
	}
}

static void
ref_set(struct ref *r, u128 k, unsigned d, uint32_t nh)
{
	k = mask(k, d);
	struct ref_e *e = ref_find(r, k, d);
	if (e != NULL) {
		e->nh = nh;
		return;
	}
	if (r->used * 2 > r->cap) {
		fprintf(stderr, "reference full\n");
		abort();
	}
	for (size_t i = ref_hash(k, d, r->cap);; i = (i + 1) & (r->cap - 1)) {
		if (r->e[i].depth < 0) {
			if (r->e[i].depth == -1)
				r->used++;
			r->e[i] = (struct ref_e){k, (int16_t)d, nh};
			r->n++;
			r->count[d]++;
			return;
		}
	}
}

static bool
ref_del(struct ref *r, u128 k, unsigned d)
{
	struct ref_e *e = ref_find(r, mask(k, d), d);
	if (e == NULL)
		return false;
	e->depth = -2;
	r->n--;
	r->count[d]--;
	return true;
}

static uint32_t
ref_lookup(const struct ref *r, u128 k)
{
	for (int d = r->W; d >= 0; d--) {
		if (r->count[d] == 0)
			continue;
		struct ref_e *e = ref_find(r, mask(k, d), d);
		if (e != NULL)
			return e->nh;
	}
	return 0;
}

/* Compare n addresses, single and bulk (in uneven group sizes). */
static bool
check_addrs(const struct fp_lpm *l, const struct ref *r, const u128 *a, unsigned n, const char *what)
{
	bool ok = true;
	uint32_t *ip4 = malloc(n * 4 + 4), *got = malloc(n * 4 + 4);
	uint8_t (*ip6)[16] = malloc(n * 16 + 16);
	for (unsigned i = 0; i < n; i++) {
		ip4[i] = (uint32_t)(a[i] >> 96);
		to_bytes(a[i], ip6[i]);
	}
	for (unsigned i = 0; i < n;) {
		unsigned g = 1 + rndn(70);
		if (g > n - i)
			g = n - i;
		if (r->W == 32)
			fp_lpm4_lookup_bulk(l, ip4 + i, got + i, g);
		else
			fp_lpm6_lookup_bulk(l, ip6 + i, got + i, g);
		i += g;
	}
	for (unsigned i = 0; i < n; i++) {
		uint32_t want = ref_lookup(r, a[i]);
		uint32_t one = lpm_lookup(l, r->W, a[i]);
		if (one != want || got[i] != want) {
			ok = false;
			CHECK(false, "%s: IPv%d address %016llx%016llx: lookup %u, bulk %u, want %u", what,
			      r->W == 32 ? 4 : 6, (unsigned long long)(a[i] >> 64),
			      (unsigned long long)a[i], one, got[i], want);
		}
	}
	if (ok)
		passed++;
	free(ip4);
	free(got);
	free(ip6);
	return ok;
}

/* Addresses around a prefix: first, last, just outside, random inside. */
static unsigned
around(u128 k, unsigned d, unsigned W, u128 *out)
{
	k = mask(k, d);
	u128 span = d == 0 ? ~(u128)0 : (((u128)1) << (128 - d)) - 1;
	u128 unit = ((u128)1) << (128 - W);
	unsigned n = 0;
	out[n++] = k;
	out[n++] = k + (span & ~(unit - 1));
	out[n++] = k - unit;
	out[n++] = k + span + 1;
	out[n++] = rnd_inside(k, d, W);
	return n;
}

struct walk_ctx {
	const struct ref *r;
	unsigned n, bad;
};

static int
walk_cb(void *arg, const uint8_t *ip, uint8_t depth, uint32_t nh)
{
	struct walk_ctx *c = arg;
	u128 k = from_bytes(ip, c->r->W / 8);
	struct ref_e *e = ref_find(c->r, k, depth);
	if (e == NULL || e->nh != nh || mask(k, depth) != k)
		c->bad++;
	c->n++;
	return 0;
}

static void
check_walk(const struct fp_lpm *l, const struct ref *r, const char *what)
{
	struct walk_ctx c = {r, 0, 0};
	fp_lpm_walk(l, walk_cb, &c);
	CHECK(c.bad == 0 && c.n == r->n, "%s: walk gave %u prefixes (%u wrong), want %zu", what,
	      c.n, c.bad, r->n);
	struct fp_lpm_stats st;
	fp_lpm_stats(l, &st);
	CHECK(st.prefixes == r->n, "%s: stats say %llu prefixes, want %zu", what,
	      (unsigned long long)st.prefixes, r->n);
}

/* ---- tests ---- */

static const unsigned bound4[] = {0, 1, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32};

static void
test_boundaries(unsigned W)
{
	struct fp_lpm *l = fp_lpm_create(W == 32 ? 4 : 6, NULL);
	struct ref r;
	ref_init(&r, W, 4096);
	u128 addrs[8];
	uint32_t nh = 1;
	/* every length, nested around one address, then again elsewhere */
	for (int round = 0; round < 3; round++) {
		u128 base = rnd_key(W);
		unsigned nl = W == 32 ? sizeof(bound4) / sizeof(bound4[0]) : 129;
		for (unsigned i = 0; i < nl; i++) {
			unsigned d = W == 32 ? bound4[i] : i;
			CHECK(lpm_add(l, W, base, d, nh) == 0, "add /%u", d);
			ref_set(&r, base, d, nh++);
			for (unsigned j = 0; j < nl; j++) {
				unsigned e = W == 32 ? bound4[j] : j;
				unsigned n = around(base, e, W, addrs);
				check_addrs(l, &r, addrs, n, "boundaries add");
			}
		}
		/* every length alone: the whole range of each, then removal */
		for (unsigned i = 0; i < nl; i++) {
			unsigned d = W == 32 ? bound4[i] : i;
			u128 k = rnd_key(W);
			lpm_add(l, W, k, d, nh);
			ref_set(&r, k, d, nh++);
			unsigned n = around(k, d, W, addrs);
			check_addrs(l, &r, addrs, n, "boundaries alone");
		}
		check_walk(l, &r, "boundaries");
		/* delete in random order */
		for (unsigned i = 0; i < nl; i++) {
			unsigned d = W == 32 ? bound4[rndn(nl)] : rndn(129);
			bool had = ref_del(&r, base, d);
			int rc = lpm_del(l, W, base, d);
			CHECK(rc == (had ? 0 : -ENOENT), "delete /%u: %d", d, rc);
			for (unsigned j = 0; j < nl; j += 3) {
				unsigned e = W == 32 ? bound4[j] : j;
				unsigned n = around(base, e, W, addrs);
				check_addrs(l, &r, addrs, n, "boundaries delete");
			}
		}
		fp_lpm_reclaim(l);
	}
	check_walk(l, &r, "boundaries end");
	fp_lpm_free(l);
	free(r.e);
}

/* A prefix length from a mix: IPv4 the DESIGN.md shares, IPv6 likewise;
 * 'flat' draws every length alike. */
static unsigned
mix_len(unsigned W, bool flat)
{
	if (flat)
		return rndn(W + 1);
	unsigned x = rndn(1000);
	if (W == 32) {
		static const struct { unsigned upto, len; } m[] = {
			{630, 24}, {738, 23}, {843, 22}, {892, 21}, {935, 20}, {959, 19},
			{972, 18}, {984, 16}, {992, 17}, {996, 25 + 0}, {1000, 8}};
		for (unsigned i = 0;; i++)
			if (x < m[i].upto)
				return m[i].len == 8 ? 8 + rndn(8) : m[i].len == 25 ? 25 + rndn(8) : m[i].len;
	}
	static const struct { unsigned upto, len; } m[] = {
		{460, 48}, {557, 32}, {653, 44}, {741, 40}, {778, 36}, {813, 47}, {843, 46},
		{864, 33}, {885, 34}, {905, 29}, {923, 45}, {940, 41}, {1000, 0}};
	for (unsigned i = 0;; i++)
		if (x < m[i].upto)
			return m[i].len ? m[i].len : 19 + rndn(46);
}

/* A prefix under a shared structure: IPv4 under a few /8s, IPv6 under
 * 2000::/3 with a few /12 blocks and LIR /32s, so tables nest and share. */
static u128
mix_key(unsigned W, unsigned d)
{
	u128 k = rnd_key(W);
	if (W == 32) {
		u128 top = (u128)(1 + rndn(60)) << 120;
		k = top | (k & ~((u128)0xff << 120));
	} else {
		u128 blk = (u128)(0x2000 + 0x100 * rndn(12)) << 112;
		u128 lir = (u128)rndn(4096) << 96 | (u128)rndn(64) << 88;
		k = blk | lir | (k & ((((u128)1) << 88) - 1));
		if (rndn(2)) /* customers near the start of their LIR block */
			k = (k & ~((((u128)1) << 88) - 1)) | ((u128)rndn(1024) << 78);
	}
	return mask(k, d);
}

static void
test_random(unsigned W, bool flat, unsigned size, unsigned ops, const char *what)
{
	printf("%s: %u prefixes, %u changes\n", what, size, ops);
	struct fp_lpm *l = fp_lpm_create(W == 32 ? 4 : 6, NULL);
	struct ref r;
	ref_init(&r, W, size + ops);
	u128 *keys = malloc(sizeof(u128) * (size + ops));
	uint8_t *lens = malloc(size + ops);
	unsigned nk = 0;
	/* a start table, loaded in one batch */
	fp_lpm_defer(l);
	for (unsigned i = 0; i < size; i++) {
		unsigned d = mix_len(W, flat);
		u128 k = mix_key(W, d);
		uint32_t nh = 1 + rndn(1000);
		CHECK(lpm_add(l, W, k, d, nh) == 0, "%s: add", what);
		ref_set(&r, k, d, nh);
		keys[nk] = k;
		lens[nk++] = d;
	}
	CHECK(fp_lpm_commit(l) == 0, "%s: commit", what);
	unsigned na = 4096;
	u128 *a = malloc(sizeof(u128) * na);
	for (unsigned i = 0; i < na; i++) {
		unsigned j = rndn(nk);
		unsigned n = around(keys[j], lens[j], W, &a[i]);
		i += n - 1;
		if (i + 6 >= na)
			break;
	}
	check_addrs(l, &r, a, na - 8, what);
	check_walk(l, &r, what);
	/* random changes, each checked around the prefix and in its cover */
	for (unsigned op = 0; op < ops; op++) {
		unsigned c = rndn(10);
		u128 k;
		unsigned d;
		if (c < 4 || nk == 0) { /* new prefix */
			d = mix_len(W, flat);
			k = mix_key(W, d);
			uint32_t nh = 1 + rndn(1000);
			CHECK(lpm_add(l, W, k, d, nh) == 0, "%s: add", what);
			ref_set(&r, k, d, nh);
			keys[nk] = k;
			lens[nk++] = d;
		} else if (c < 7) { /* replace */
			unsigned j = rndn(nk);
			k = keys[j];
			d = lens[j];
			uint32_t nh = 1 + rndn(1000);
			CHECK(lpm_add(l, W, k, d, nh) == 0, "%s: replace", what);
			ref_set(&r, k, d, nh);
		} else { /* delete (maybe one already gone) */
			unsigned j = rndn(nk);
			k = keys[j];
			d = lens[j];
			bool had = ref_del(&r, k, d);
			int rc = lpm_del(l, W, k, d);
			CHECK(rc == (had ? 0 : -ENOENT), "%s: delete: %d", what, rc);
		}
		u128 b[16];
		unsigned n = around(k, d, W, b);
		n += around(k, d > 4 ? d - 4 : 0, W, b + n);
		check_addrs(l, &r, b, n, what);
		if (op % 64 == 0)
			fp_lpm_reclaim(l);
		if (op % 1024 == 1023) {
			check_addrs(l, &r, a, na - 8, what);
			fp_lpm_reclaim(l);
			CHECK(fp_lpm_check(l) == 0, "%s: blocks in use are not the blocks reached", what);
		}
	}
	check_addrs(l, &r, a, na - 8, what);
	check_walk(l, &r, what);
	/* delete everything: back to no route, and to little memory */
	for (unsigned j = 0; j < nk; j++) {
		bool had = ref_del(&r, keys[j], lens[j]);
		CHECK(lpm_del(l, W, keys[j], lens[j]) == (had ? 0 : -ENOENT), "%s: delete all", what);
	}
	fp_lpm_reclaim(l);
	check_addrs(l, &r, a, na - 8, what);
	struct fp_lpm_stats st;
	fp_lpm_stats(l, &st);
	CHECK(st.prefixes == 0 && st.nodes == 0 && st.limbo_bytes == 0,
	      "%s: empty table holds %llu prefixes %llu nodes %llu limbo", what,
	      (unsigned long long)st.prefixes, (unsigned long long)st.nodes,
	      (unsigned long long)st.limbo_bytes);
	CHECK(st.fib_used == st.first_bytes && st.first_bytes < 4096 + (8ull << st.first_bits),
	      "%s: empty table uses %llu bytes", what, (unsigned long long)st.fib_used);
	free(a);
	free(keys);
	free(lens);
	free(r.e);
	fp_lpm_free(l);
}

/* fp_lpm6_trace, which bench_lpm's IPv6 floor replays: the lines a
 * lookup waits for, the first-level entry first. */
static void
test_trace(void)
{
	const char *what = "IPv6 lookup trace";
	printf("%s\n", what);
	struct fp_lpm *l = fp_lpm_create(6, NULL);
	const void *at[24];
	uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6};
	CHECK(fp_lpm6_trace(l, ip, at, 24) == 1, "%s: an empty table reads its first-level entry only", what);
	uint8_t p[16];
	memcpy(p, ip, 8);
	memset(p + 8, 0, 8);
	CHECK(fp_lpm6_add(l, p, 64, 7) == 0, "%s: add", what);
	/* a small table's 8-bit first level, then nodes at bits 8, 14, ..., 62;
	 * the /64's node keeps its two runs inline: no leaf line */
	unsigned n = fp_lpm6_trace(l, ip, at, 24);
	CHECK(n == 11, "%s: %u lines for a /64 under an 8-bit first level, want 11", what, n);
	CHECK(fp_lpm6_trace(l, ip, at, 3) == 3, "%s: max bounds the count", what);
	ip[0] = 0x30;
	CHECK(fp_lpm6_trace(l, ip, at, 24) == 1, "%s: an address outside every prefix", what);
	fp_lpm_free(l);
}

/* The writer's record of the first level holds pages only where prefixes
 * are: a big IPv6 table inside one /20 (2^20 first-level entries) and
 * two short prefixes records a few pages, not the 16 MiB a dense record
 * would take; every prefix is still found, walked and looked up. */
static void
test_record_pages(void)
{
	const char *what = "paged IPv6 first-level record";
	printf("%s\n", what);
	struct fp_lpm *l = fp_lpm_create(6, NULL);
	struct ref r;
	ref_init(&r, 128, 4096);
	u128 base = (u128)0x20010db8u << 96; /* 2001:db8::/32 */
	for (unsigned i = 0; i < 3000; i++) {
		u128 k = base | (u128)i << 80; /* /48s */
		CHECK(lpm_add(l, 128, k, 48, 1 + i % 7) == 0, "%s: add", what);
		ref_set(&r, k, 48, 1 + i % 7);
	}
	/* a /16 and a /3: values of the first level, in two more pages */
	CHECK(lpm_add(l, 128, (u128)0x2a00u << 112, 16, 9) == 0, "%s: add /16", what);
	ref_set(&r, (u128)0x2a00u << 112, 16, 9);
	CHECK(lpm_add(l, 128, (u128)1 << 125, 3, 8) == 0, "%s: add /3", what);
	ref_set(&r, (u128)1 << 125, 3, 8);
	struct fp_lpm_stats st;
	fp_lpm_stats(l, &st);
	CHECK(st.first_bits == 20, "%s: first level of %u bits, want 20", what, st.first_bits);
	CHECK(st.rib_bytes < (1u << 20), "%s: the record takes %llu bytes for 3002 prefixes", what,
	      (unsigned long long)st.rib_bytes);
	u128 a[6] = {base, base | (u128)2999 << 80, base | (u128)3000 << 80,
		     (u128)0x2a00u << 112 | 5, (u128)0x3fffu << 112, (u128)0x4000u << 112};
	check_addrs(l, &r, a, 6, what);
	check_walk(l, &r, what);
	fp_lpm_free(l);
	free(r.e);
}

/* First nodes of every shape: a block of the big first level (S + 6
 * bits) filled slot by slot with values of its own until every slot has
 * one (flat blocks of 1, 2, 4 and 8 lines), with shorter prefixes in it
 * and longer ones under it (a node with children, and back), then
 * emptied; every change is checked over the whole block. */
static void
test_fragmented(unsigned W)
{
	const unsigned S = W == 32 ? 18 : 20, d6 = S + 6; /* S_BIG4, S_BIG6 */
	const char *what = W == 32 ? "fragmented IPv4 first nodes" : "fragmented IPv6 first nodes";
	printf("%s\n", what);
	struct fp_lpm *l = fp_lpm_create(W == 32 ? 4 : 6, NULL);
	struct ref r;
	ref_init(&r, W, 8192);
	/* enough prefixes elsewhere for the big first level */
	for (unsigned i = 0; i < 3000; i++) {
		u128 k = mask((u128)rnd() << 64 | rnd(), d6);
		uint32_t nh = 1 + rndn(1000);
		CHECK(lpm_add(l, W, k, d6, nh) == 0, "%s: add", what);
		ref_set(&r, k, d6, nh);
	}
	struct fp_lpm_stats st;
	fp_lpm_stats(l, &st);
	CHECK(st.first_bits == S, "%s: first level of %u bits, want %u", what, st.first_bits, S);
	u128 slot = (u128)1 << (128 - d6);
	for (unsigned blk = 0; blk < 6; blk++) {
		u128 base = mask((u128)rnd() << 64 | rnd(), S);
		/* phases: fill (mostly adds), churn, empty (mostly deletes) */
		for (unsigned op = 0; op < 600; op++) {
			unsigned c = rndn(20), phase = op / 200;
			u128 k = base + rndn(64) * slot;
			unsigned d = d6;
			if (c == 0) /* a shorter prefix in the block */
				d = S + 1 + rndn(5);
			else if (c == 1) /* a longer one: a child node */
				d = d6 + 1 + rndn(W - d6 < 8 ? W - d6 : 8);
			if (d > d6)
				k += ((u128)rnd() << 64 | rnd()) & (slot - 1);
			k = mask(k, d);
			bool add = phase == 0 ? c < 17 : phase == 1 ? c < 10 : c < 3;
			if (add) {
				/* few values in the churn: runs merge and split */
				uint32_t nh = 1 + (phase == 1 ? rndn(3) : rndn(1000));
				CHECK(lpm_add(l, W, k, d, nh) == 0, "%s: add", what);
				ref_set(&r, k, d, nh);
			} else {
				bool had = ref_del(&r, k, d);
				int rc = lpm_del(l, W, k, d);
				CHECK(rc == (had ? 0 : -ENOENT), "%s: delete: %d", what, rc);
			}
			u128 b[3 * 64];
			for (unsigned j = 0; j < 64; j++) {
				b[3 * j] = base + j * slot;
				b[3 * j + 1] = base + j * slot + (slot - 1);
				b[3 * j + 2] = base + j * slot + (((u128)rnd() << 64 | rnd()) & (slot - 1));
			}
			check_addrs(l, &r, b, 3 * 64, what);
			if (op % 64 == 0)
				fp_lpm_reclaim(l);
		}
		/* and the rest of it */
		for (unsigned j = 0; j < 64; j++)
			if (ref_del(&r, base + j * slot, d6))
				CHECK(lpm_del(l, W, base + j * slot, d6) == 0, "%s: delete", what);
	}
	check_walk(l, &r, what);
	fp_lpm_free(l);
	free(r.e);
}

/* A table of 100 routes costs kilobytes. */
static void
test_small(void)
{
	for (unsigned W = 32; W <= 128; W += 96) {
		struct fp_lpm *l = fp_lpm_create(W == 32 ? 4 : 6, NULL);
		for (unsigned i = 0; i < 100; i++) {
			unsigned d = mix_len(W, false);
			lpm_add(l, W, mix_key(W, d), d, 1 + i);
			fp_lpm_reclaim(l); /* as after each grace period */
		}
		struct fp_lpm_stats st;
		fp_lpm_stats(l, &st);
		printf("100 IPv%d routes: %llu bytes held, %llu in use, record %llu bytes\n",
		       W == 32 ? 4 : 6, (unsigned long long)st.fib_bytes,
		       (unsigned long long)st.fib_used, (unsigned long long)st.rib_bytes);
		CHECK(st.fib_bytes < 64 * 1024, "100 IPv%d routes hold %llu bytes", W == 32 ? 4 : 6,
		      (unsigned long long)st.fib_bytes);
		fp_lpm_free(l);
	}
}

/* fp_lpm*_put tells a new prefix (old 0) from a replaced one (its old
 * value), in place and deferred, and an invalid add replaces nothing. */
static void
test_put(void)
{
	struct fp_lpm *l4 = fp_lpm_create(4, NULL), *l6 = fp_lpm_create(6, NULL);
	const uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8};
	for (int deferred = 0; deferred < 2; deferred++) {
		if (deferred) {
			fp_lpm_defer(l4);
			fp_lpm_defer(l6);
		}
		uint32_t base = deferred ? 100 : 0, old = 7;
		CHECK(fp_lpm4_put(l4, 0x0a000000, 8, base + 1, &old) == 0 && old == (deferred ? 3 : 0),
		      "IPv4 put %s: old %u", deferred ? "deferred" : "new", old);
		CHECK(fp_lpm4_put(l4, 0x0a000000, 8, base + 2, &old) == 0 && old == base + 1,
		      "IPv4 replace: old %u, want %u", old, base + 1);
		CHECK(fp_lpm4_put(l4, 0x0a000000, 16, base + 5, &old) == 0 && old == (deferred ? 5 : 0),
		      "IPv4 longer prefix under it: old %u", old);
		CHECK(fp_lpm6_put(l6, ip6, 32, base + 1, &old) == 0 && old == (deferred ? 3 : 0),
		      "IPv6 put: old %u", old);
		CHECK(fp_lpm6_put(l6, ip6, 32, base + 2, &old) == 0 && old == base + 1,
		      "IPv6 replace: old %u, want %u", old, base + 1);
		CHECK(fp_lpm4_put(l4, 0x0a000000, 33, 9, &old) == -EINVAL && old == 0, "IPv4 /33: old %u", old);
		CHECK(fp_lpm4_put(l4, 0x0a000000, 8, 0, &old) == -EINVAL && old == 0, "nexthop 0: old %u", old);
		CHECK(fp_lpm6_put(l4, ip6, 32, 9, &old) == -EINVAL && old == 0, "IPv6 put on IPv4 table");
		/* the next round starts from what this one left */
		uint32_t x;
		fp_lpm4_put(l4, 0x0a000000, 8, 3, &x);
		fp_lpm6_put(l6, ip6, 32, 3, &x);
	}
	CHECK(fp_lpm_commit(l4) == 0 && fp_lpm_commit(l6) == 0, "commit");
	CHECK(fp_lpm4_lookup(l4, 0x0a010101) == 3 && fp_lpm4_lookup(l4, 0x0a000101) == 105 &&
		      fp_lpm6_lookup(l6, ip6) == 3,
	      "lookups after the puts");
	fp_lpm_free(l4);
	fp_lpm_free(l6);
}

/* An allocator that fails one chosen allocation, or (fail_sticky) every
 * one from the chosen one on. */
static _Atomic long fail_at;
static _Atomic bool fail_sticky;

static void *
failing_alloc(void *arg, size_t size)
{
	(void)arg;
	long n = atomic_fetch_sub(&fail_at, 1);
	if (n == 1 || (atomic_load(&fail_sticky) && n <= 1))
		return NULL;
	return aligned_alloc(64, (size + 63) & ~(size_t)63);
}

static void
plain_free(void *arg, void *p)
{
	(void)arg;
	free(p);
}

/* fp_lpm*_put through the family's call; *prior gets the exact prefix's
 * value before it (0: none), read without allocating. */
static int
lpm_put(struct fp_lpm *l, unsigned W, u128 k, unsigned d, uint32_t nh, uint32_t *old, uint32_t *prior)
{
	uint8_t ip[16];
	to_bytes(k, ip);
	*prior = 0;
	if (W == 32) {
		fp_lpm4_get(l, (uint32_t)(k >> 96), d, prior);
		return fp_lpm4_put(l, (uint32_t)(k >> 96), d, nh, old);
	}
	fp_lpm6_get(l, ip, d, prior);
	return fp_lpm6_put(l, ip, d, nh, old);
}

static void
test_nomem(unsigned W, unsigned ops)
{
	struct fp_lpm_alloc fa = {failing_alloc, plain_free, NULL};
	atomic_store(&fail_at, 0);
	struct fp_lpm *l = fp_lpm_create(W == 32 ? 4 : 6, &fa);
	fp_lpm_direct_at(l, 2500); /* IPv4: the direct level's 32 MiB can fail too */
	struct ref r;
	ref_init(&r, W, 20000);
	u128 *keys = malloc(sizeof(u128) * 20000);
	uint8_t *lens = malloc(20000);
	unsigned nk = 0, nfail = 0;
	for (unsigned op = 0; op < ops; op++) {
		atomic_store(&fail_at, 1 + rndn(3)); /* the next chunk or so fails */
		unsigned d;
		u128 k;
		int rc;
		if (rndn(4) || nk == 0) {
			d = mix_len(W, false);
			k = mix_key(W, d);
			uint32_t nh = 1 + rndn(100), old = 7, prior;
			rc = lpm_put(l, W, k, d, nh, &old, &prior);
			/* put says what it replaced, and nothing when it failed */
			CHECK(old == (rc == 0 ? prior : 0), "nomem: put rc %d old %u, was %u", rc, old, prior);
			if (rc == 0) {
				ref_set(&r, k, d, nh);
				keys[nk] = k;
				lens[nk++] = d;
			}
		} else {
			unsigned j = rndn(nk);
			k = keys[j];
			d = lens[j];
			rc = lpm_del(l, W, k, d);
			if (rc == 0)
				ref_del(&r, k, d);
		}
		atomic_store(&fail_at, 0);
		CHECK(rc == 0 || rc == -ENOMEM || rc == -ENOENT, "nomem: rc %d", rc);
		nfail += rc == -ENOMEM;
		u128 b[8];
		unsigned n = around(k, d, W, b);
		check_addrs(l, &r, b, n, "nomem");
		if (op % 100 == 0) {
			fp_lpm_reclaim(l);
			CHECK(fp_lpm_check(l) == 0, "nomem: blocks in use are not the blocks reached");
		}
	}
	CHECK(nfail > 0, "nomem: no allocation failed");
	check_walk(l, &r, "nomem");
	fp_lpm_free(l);
	free(keys);
	free(lens);
	free(r.e);
}

/* Memory that stays short: a change fails, and so does undoing it (a
 * short prefix over entries with deeper ones needs new blocks either
 * way). The table is then left to the next commit, which fibd makes at the
 * end of every apply: after it, the table answers as the record says. */
static void
test_nomem_sticky(unsigned W, unsigned ops)
{
	struct fp_lpm_alloc fa = {failing_alloc, plain_free, NULL};
	atomic_store(&fail_at, 0);
	atomic_store(&fail_sticky, false);
	struct fp_lpm *l = fp_lpm_create(W == 32 ? 4 : 6, &fa);
	struct ref r;
	ref_init(&r, W, 4000);
	/* deep prefixes first, so that short ones cover first-level entries
	 * with blocks under them */
	for (unsigned i = 0; i < 3000; i++) {
		unsigned d = W == 32 ? 25 + rndn(8) : 49 + rndn(16);
		u128 k = mix_key(W, d);
		uint32_t nh = 1 + rndn(100);
		if (lpm_add(l, W, k, d, nh) == 0)
			ref_set(&r, k, d, nh);
	}
	unsigned deferred = 0;
	for (unsigned op = 0; op < ops; op++) {
		unsigned d = W == 32 ? 8 + rndn(10) : 16 + rndn(16);
		u128 k = mix_key(W, d);
		uint32_t nh = 1 + rndn(100);
		atomic_store(&fail_sticky, true); /* every allocation fails */
		atomic_store(&fail_at, 1);
		int rc = lpm_add(l, W, k, d, nh);
		atomic_store(&fail_sticky, false);
		atomic_store(&fail_at, 0);
		CHECK(rc == 0 || rc == -ENOMEM, "nomem sticky: rc %d", rc);
		if (rc == 0)
			ref_set(&r, k, d, nh);
		deferred += fp_lpm_commit(l) == 0 && rc < 0;
		u128 b[8];
		unsigned n = around(k, d, W, b);
		check_addrs(l, &r, b, n, "nomem sticky");
		/* no reclaim: what changes retire stays held, so the arenas
		 * need new chunks, and those fail */
	}
	check_walk(l, &r, "nomem sticky");
	fp_lpm_reclaim(l);
	CHECK(deferred > 0, "nomem sticky: no change failed");
	fp_lpm_free(l);
	free(r.e);
}

/* ---- a reader looking up while the writer churns ---- */

struct stress {
	struct fp_lpm *l;
	unsigned W;
	_Atomic bool stop;
	_Atomic uint64_t passes; /* the reader's quiescent points */
	_Atomic uint64_t bad, lookups;
	u128 stable[256];    /* addresses whose answer never changes */
	uint32_t stable_nh[256];
	u128 moving[256];    /* addresses under churning prefixes */
	uint32_t lo[256], hi[256]; /* their allowed answers: a value range */
};

static void *
reader(void *arg)
{
	struct stress *s = arg;
	uint32_t ip4[512], got[512];
	uint8_t ip6[512][16];
	for (unsigned i = 0; i < 256; i++) {
		ip4[i] = (uint32_t)(s->stable[i] >> 96);
		ip4[256 + i] = (uint32_t)(s->moving[i] >> 96);
		to_bytes(s->stable[i], ip6[i]);
		to_bytes(s->moving[i], ip6[256 + i]);
	}
	while (!atomic_load(&s->stop)) {
		if (s->W == 32)
			fp_lpm4_lookup_bulk(s->l, ip4, got, 512);
		else
			fp_lpm6_lookup_bulk(s->l, ip6, got, 512);
		uint64_t bad = 0;
		for (unsigned i = 0; i < 256; i++) {
			bad += got[i] != s->stable_nh[i];
			bad += got[256 + i] < s->lo[i] || got[256 + i] > s->hi[i];
		}
		if (bad)
			atomic_fetch_add(&s->bad, bad);
		atomic_fetch_add(&s->lookups, 512);
		atomic_fetch_add(&s->passes, 1); /* quiescent: holds no pointer */
	}
	return NULL;
}

/* Grace period: wait until the reader passed a quiescent point. */
static void
grace(struct stress *s)
{
	uint64_t p = atomic_load(&s->passes);
	while (atomic_load(&s->passes) < p + 2 && !atomic_load(&s->stop))
		;
}

static void
test_stress(unsigned W, unsigned ops)
{
	struct stress *s = calloc(1, sizeof(*s));
	s->W = W;
	s->l = fp_lpm_create(W == 32 ? 4 : 6, NULL);
	/* a background table */
	fp_lpm_defer(s->l);
	for (unsigned i = 0; i < 20000; i++) {
		unsigned d = mix_len(W, false);
		lpm_add(s->l, W, mix_key(W, d), d, 1 + rndn(100));
	}
	fp_lpm_commit(s->l);
	/* stable: host routes (longest, never shadowed) with values 5000+ */
	for (unsigned i = 0; i < 256; i++) {
		s->stable[i] = rnd_key(W);
		s->stable_nh[i] = 5000 + i;
		lpm_add(s->l, W, s->stable[i], W, s->stable_nh[i]);
	}
	/* moving: prefix i (a /20../28 or /40../56) toggles between values
	 * 10000+i*16 .. +15, under a cover that gives 10000+i*16 too */
	u128 mk[256];
	unsigned md[256];
	for (unsigned i = 0; i < 256; i++) {
		md[i] = W == 32 ? 20 + rndn(9) : 40 + rndn(17);
		/* each in a block of its own, away from the background table */
		u128 blk = W == 32 ? ((u128)(0xf0000000u | i << 16) << 96)
				   : ((u128)0x3fff << 112 | (u128)i << 96);
		u128 low = rnd_key(W) & ~mask(~(u128)0, W == 32 ? 16 : 32);
		mk[i] = mask(blk | low, md[i]);
		s->moving[i] = mk[i] | (rnd_key(W) & ~mask(~(u128)0, md[i]) & mask(~(u128)0, W));
		s->lo[i] = 10000 + i * 16;
		s->hi[i] = s->lo[i] + 15;
		lpm_add(s->l, W, mk[i], md[i] - 1, s->lo[i]); /* the cover */
		lpm_add(s->l, W, mk[i], md[i], s->lo[i] + 1);
	}
	pthread_t th;
	pthread_create(&th, NULL, reader, s);
	for (unsigned op = 0; op < ops; op++) {
		unsigned i = rndn(256);
		switch (rndn(3)) {
		case 0:
			lpm_add(s->l, W, mk[i], md[i], s->lo[i] + 1 + rndn(15));
			break;
		case 1:
			lpm_del(s->l, W, mk[i], md[i]);
			break;
		default: /* churn more-specifics under it, and their removal */
			lpm_add(s->l, W, mk[i] | ((u128)1 << (127 - md[i] - 2)), md[i] + 3,
			      s->lo[i] + rndn(16));
			lpm_del(s->l, W, mk[i] | ((u128)1 << (127 - md[i] - 2)), md[i] + 3);
			break;
		}
		if (op % 256 == 0) {
			grace(s);
			fp_lpm_reclaim(s->l);
		}
	}
	atomic_store(&s->stop, true);
	pthread_join(th, NULL);
	CHECK(atomic_load(&s->bad) == 0 && atomic_load(&s->lookups) > 0,
	      "stress IPv%d: %llu wrong answers in %llu lookups", W == 32 ? 4 : 6,
	      (unsigned long long)atomic_load(&s->bad), (unsigned long long)atomic_load(&s->lookups));
	printf("stress IPv%d: %llu lookups during %u changes\n", W == 32 ? 4 : 6,
	       (unsigned long long)atomic_load(&s->lookups), ops);
	fp_lpm_free(s->l);
	free(s);
}

/* TEST_LPM_SCALE=percent shrinks the runs (sanitizer builds). */
static unsigned
sc(unsigned n)
{
	const char *e = getenv("TEST_LPM_SCALE");
	unsigned p = e ? (unsigned)atoi(e) : 100;
	return n * p / 100 + 1;
}

int
main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_small();
	test_put();
	test_boundaries(32);
	test_boundaries(128);
	test_fragmented(32);
	test_fragmented(128);
	test_record_pages();
	test_trace();
	test_random(32, true, 300, sc(20000), "random IPv4 flat lengths");
	test_random(128, true, 300, sc(20000), "random IPv6 flat lengths");
	test_random(32, false, 1500, sc(10000), "IPv4 mix, small first level");
	test_random(128, false, 1500, sc(10000), "IPv6 mix, small first level");
	test_random(32, false, sc(60000), sc(20000), "IPv4 mix");
	test_random(128, false, sc(60000), sc(20000), "IPv6 mix");
	test_nomem(32, sc(5000));
	test_nomem(128, sc(5000));
	test_nomem_sticky(32, sc(2000));
	test_nomem_sticky(128, sc(2000));
	test_stress(32, sc(50000));
	test_stress(128, sc(50000));
	printf("lpm: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
