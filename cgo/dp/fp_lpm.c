/* fibd's own LPM tables: see fp_lpm.h for the shape and the concurrency
 * rule. One implementation serves both families: the writer works on
 * 128-bit keys with the address left-aligned (an IPv4 address is the top
 * 32 bits), the lookups are written per family.
 *
 * Keys are padded with zero bits, so every node has 6 bits even where the
 * address ends inside it (an IPv4 node at bit 30 uses 2 real bits: its
 * prefixes are at most 2 bits long there and cover 16 slots each).
 *
 * Memory: the first level is one allocation; nodes and leaf runs come from
 * arenas (32-byte node units, 8-byte leaf units, 64-byte flat lines)
 * carved from chunks that double in size up to 2 MiB, with a free list per
 * size. A table of a few routes holds a few KiB.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fp_lpm.h"

typedef unsigned __int128 u128;

#define STRIDE 6
#define SLOTS 64
#define S_SMALL 8
/* The big first levels: 18 + 6 = 24 bits is where IPv4's direct level
 * and most of its prefixes end. IPv6 prefixes are mostly /32, /40, /44 and
 * /48: 20 + 6 + 6 = 32 ends a /32 in the second node (18 took a third),
 * and /44 one node earlier too, for 4 MiB of first level instead of 1. */
#define S_BIG4 18
#define S_BIG6 20
/* prefixes above which a table gets its big first level */
#define GROW_AT 2048
/* IPv4 prefixes above which a table gets its direct level */
#define DIRECT_AT 16384
#define DIRECT_BITS 24
#define MAX_LEVELS ((128 - S_SMALL) / STRIDE + 2)

/* Reader-visible node. The node itself lives in its parent's child array
 * (or at the head of a top block, for a first-level entry). A node without
 * children and with at most INLINE_RUNS runs keeps their values in place
 * of its pointers, a node with children and at most INLINE_RUNS_KIDS runs
 * in place of its leaf pointer: a walk that ends there reads no other line
 * (most IPv6 walks of a full view end in such a node; a node with children
 * usually has one run, the value its prefixes' cover gives every slot
 * without a child, as children do not break runs). A top node keeps its
 * runs behind it as well (the same block: see "first-level entries"). */
#define INLINE_RUNS 4
#define INLINE_RUNS_KIDS 2
struct node {
	uint64_t vec;     /* slot has a child */
	uint64_t leafvec; /* a run of equal values starts at this leaf slot */
	union {
		struct {
			struct node *child;
			uint32_t *leaf;
		};
		uint32_t runs[INLINE_RUNS];
	};
};

static inline bool
runs_inline(uint64_t vec, uint64_t leafvec)
{
	return __builtin_popcountll(leafvec) <= (vec == 0 ? INLINE_RUNS : INLINE_RUNS_KIDS);
}

/* Where node n's inline runs start: after the child pointer if it has one. */
static inline unsigned
runs_at(uint64_t vec)
{
	return vec == 0 ? 0 : INLINE_RUNS - INLINE_RUNS_KIDS;
}

/* Where node n's leaf run values are. */
static inline const uint32_t *
node_leaves(const struct node *n)
{
	return runs_inline(n->vec, n->leafvec) ? n->runs + runs_at(n->vec) : n->leaf;
}

/* One step in node n for slot idx: the child to go on with, or NULL and
 * *leaf the value's address. */
static inline const struct node *
step(const struct node *n, unsigned idx, const uint32_t **leaf)
{
	uint64_t bit = UINT64_C(1) << idx;
	if (n->vec & bit)
		return n->child + __builtin_popcountll(n->vec & (bit - 1));
	*leaf = node_leaves(n) + __builtin_popcountll(n->leafvec & ((bit << 1) - 1)) - 1;
	return NULL;
}

/* The first level: 2^S entries of 4 bytes (see "first-level entries"
 * below), and the chunks of the two arenas top blocks come from (flat,
 * then node), so that an entry names its block by chunk and 32-byte unit
 * in 28 bits. A chunk is recorded here before any entry names it and
 * stays as long as the root (arenas are replaced only with the root). */
#define CHUNKS 256 /* per arena: 512 MiB of 2 MiB chunks */
typedef uint32_t ent_t;

struct root {
	uint32_t bits; /* S */
	uint32_t pad0;
	uint16_t *_Atomic direct; /* the direct level, or NULL (see below) */
	uint32_t pad[12];
	char *chunk[2 * CHUNKS];
	ent_t top[];
};

/* ---- arenas ---- */

#define NODE_UNIT 32
#define FLAT_UNIT 64
#define LEAF_UNIT 8
#define MAX_UNITS 64
#define CHUNK_FIRST 1024
#define CHUNK_MAX (2u << 20)

struct chunk {
	struct chunk *next;
	size_t size;
	uint64_t pad[6];
};

struct arena {
	size_t unit;
	void *free[MAX_UNITS + 1];
	struct chunk *chunks;
	char *cur;
	size_t left;
	size_t bytes; /* chunks held */
	size_t used;  /* in live blocks */
	struct arena *next; /* in the limbo list */
	char **tab;   /* root chunk slots it records its chunks in, or NULL */
	unsigned slot0; /* root->chunk index of tab[0] */
	unsigned ntab;
};

/* ---- writer's shadow trie ---- */

/* One per node: the prefixes ending in this node's 6 bits (heap-numbered:
 * a prefix of l bits (1..6) with value b is bit (1 << l) + b, 2..127) and
 * the children. */
struct sh {
	uint64_t ibm[2];
	uint64_t cmap;
	uint32_t *nh;     /* popcount-indexed by ibm */
	struct sh **kid;  /* popcount-indexed by cmap */
	uint32_t uni;     /* the one value of every prefix in the subtree (see below) */
};

/* A subtree whose prefixes all have the value its slot inherits changes
 * no answer: the readers' trie has no node for it (the slot is a leaf),
 * as when a full view's more-specifics share their cover's nexthop. Each
 * shadow keeps the value all prefixes of its subtree share: UNI_NONE for
 * none, UNI_MIXED when they differ (values are below 2^31). */
#define UNI_NONE 0u
#define UNI_MIXED UINT32_MAX

struct blk {
	void *p;
	struct arena *ar;
	uint32_t units;
};

struct blkvec {
	struct blk *v;
	size_t n, cap;
};

struct ptrvec {
	void **v;
	size_t n, cap;
};

struct fp_lpm {
	struct root *_Atomic root; /* readers */

	/* writer */
	int fam;
	unsigned W;
	unsigned S;
	struct fp_lpm_alloc mem;
	struct arena *nodes, *leaves, *flat;
	/* the first level's record, in pages of 2^pb entries allocated on
	 * first use (see "the record" below) */
	uint32_t **topv;   /* 2^(S+1) values, heap-numbered prefixes of 0..S bits; 0 = none */
	struct sh ***topk; /* 2^S shadows, one per first-level entry */
	unsigned pb;
	uint64_t n_pfx;
	uint64_t direct_at;
	uint64_t direct_retry; /* no memory for it: the count to try again at */
	uint64_t n_sh;
	uint64_t sh_bytes;
	bool deferred;
	bool failed; /* the last op failed: fresh blocks must go back */
	struct blkvec fresh, pend, limbo;
	struct arena *limbo_arenas;
	struct ptrvec limbo_roots;
	uint64_t limbo_bytes;
};

static void *
libc_alloc(void *arg, size_t size)
{
	(void)arg;
	void *p = aligned_alloc(64, (size + 63) & ~(size_t)63);
	return p;
}

static void
libc_free(void *arg, void *p)
{
	(void)arg;
	free(p);
}

/* r, slot0: the root chunk slots to record chunks in, from slot0 on (top
 * blocks are named by index), or NULL */
static struct arena *
arena_new(size_t unit, struct root *r, unsigned slot0)
{
	struct arena *a = calloc(1, sizeof(*a));
	if (a != NULL) {
		a->unit = unit;
		a->tab = r != NULL ? &r->chunk[slot0] : NULL;
		a->slot0 = slot0;
	}
	return a;
}

static void
arena_destroy(const struct fp_lpm_alloc *m, struct arena *a)
{
	if (a == NULL)
		return;
	for (struct chunk *c = a->chunks, *n; c != NULL; c = n) {
		n = c->next;
		m->free(m->arg, c);
	}
	free(a);
}

static void *
arena_get(const struct fp_lpm_alloc *m, struct arena *a, unsigned units)
{
	void *p = a->free[units];
	if (p != NULL) {
		a->free[units] = *(void **)p;
		/* freed blocks are cold: the next taking of this size reads
		 * its link without waiting */
		__builtin_prefetch(a->free[units]);
		a->used += units * a->unit;
		return p;
	}
	size_t need = units * a->unit;
	if (a->left < need) {
		size_t sz = a->bytes < CHUNK_FIRST ? CHUNK_FIRST : a->bytes;
		if (sz > CHUNK_MAX)
			sz = CHUNK_MAX;
		if (sz < need + sizeof(struct chunk))
			sz = need + sizeof(struct chunk);
		if (a->tab != NULL && a->ntab == CHUNKS)
			return NULL;
		struct chunk *c = m->alloc(m->arg, sz);
		if (c == NULL)
			return NULL;
		if (a->tab != NULL)
			a->tab[a->ntab++] = (char *)c;
		/* the old chunk's tail goes to the free lists, largest first */
		while (a->left >= a->unit) {
			unsigned u = a->left / a->unit;
			if (u > MAX_UNITS)
				u = MAX_UNITS;
			*(void **)a->cur = a->free[u];
			a->free[u] = a->cur;
			a->cur += u * a->unit;
			a->left -= u * a->unit;
		}
		c->next = a->chunks;
		c->size = sz;
		a->chunks = c;
		a->bytes += sz;
		a->cur = (char *)(c + 1);
		a->left = sz - sizeof(*c);
	}
	p = a->cur;
	a->cur += need;
	a->left -= need;
	a->used += need;
	return p;
}

static void
arena_put(struct arena *a, void *p, unsigned units)
{
	*(void **)p = a->free[units];
	a->free[units] = p;
	a->used -= units * a->unit;
}

static int
blk_push(struct blkvec *v, void *p, struct arena *ar, unsigned units)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct blk *n = realloc(v->v, cap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		v->v = n;
		v->cap = cap;
	}
	v->v[v->n++] = (struct blk){p, ar, units};
	return 0;
}

static int
ptr_push(struct ptrvec *v, void *p)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		void **n = realloc(v->v, cap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		v->v = n;
		v->cap = cap;
	}
	v->v[v->n++] = p;
	return 0;
}

/* Allocate for the change in progress (given back if it fails). */
static void *
take(struct fp_lpm *l, struct arena *ar, unsigned units)
{
	void *p = arena_get(&l->mem, ar, units);
	if (p == NULL)
		return NULL;
	if (blk_push(&l->fresh, p, ar, units) < 0) {
		arena_put(ar, p, units);
		return NULL;
	}
	return p;
}

/* Mark for freeing once the change is published and a grace period passed. */
static int
drop(struct fp_lpm *l, void *p, struct arena *ar, unsigned units)
{
	if (p == NULL || units == 0)
		return 0;
	return blk_push(&l->pend, p, ar, units);
}

static unsigned
leaf_units(unsigned n)
{
	return (n * 4 + LEAF_UNIT - 1) / LEAF_UNIT;
}

/* The change is published: what it replaced waits for a grace period. */
static void
op_done(struct fp_lpm *l)
{
	for (size_t i = 0; i < l->pend.n; i++) {
		struct blk *b = &l->pend.v[i];
		if (blk_push(&l->limbo, b->p, b->ar, b->units) < 0) {
			/* cannot remember it: leak rather than free early */
			continue;
		}
		l->limbo_bytes += b->units * b->ar->unit;
	}
	l->pend.n = 0;
	l->fresh.n = 0;
}

/* The change failed before publication: nothing was replaced. */
static void
op_undo(struct fp_lpm *l)
{
	for (size_t i = l->fresh.n; i-- > 0;)
		arena_put(l->fresh.v[i].ar, l->fresh.v[i].p, l->fresh.v[i].units);
	l->fresh.n = 0;
	l->pend.n = 0;
}

void
fp_lpm_reclaim(struct fp_lpm *l)
{
	for (size_t i = 0; i < l->limbo.n; i++)
		arena_put(l->limbo.v[i].ar, l->limbo.v[i].p, l->limbo.v[i].units);
	l->limbo.n = 0;
	for (struct arena *a = l->limbo_arenas, *n; a != NULL; a = n) {
		n = a->next;
		arena_destroy(&l->mem, a);
	}
	l->limbo_arenas = NULL;
	for (size_t i = 0; i < l->limbo_roots.n; i++)
		l->mem.free(l->mem.arg, l->limbo_roots.v[i]);
	l->limbo_roots.n = 0;
	l->limbo_bytes = 0;
}

/* ---- keys ---- */

static inline unsigned
key_slot(u128 k, unsigned o)
{
	return (unsigned)((k << o) >> (128 - STRIDE));
}

/* l (1..6) bits of k from bit o */
static inline unsigned
key_bits(u128 k, unsigned o, unsigned l)
{
	return (unsigned)((k << o) >> (128 - l));
}

static inline u128
key_mask(u128 k, unsigned depth)
{
	if (depth == 0)
		return 0;
	if (depth >= 128)
		return k;
	return k & ~((((u128)1) << (128 - depth)) - 1);
}

static u128
key4(uint32_t ip)
{
	return (u128)ip << 96;
}

static u128
key6(const uint8_t ip[16])
{
	u128 k = 0;
	for (int i = 0; i < 16; i++)
		k = k << 8 | ip[i];
	return k;
}

/* ---- shadow trie ---- */

static inline unsigned
ibm_rank(const struct sh *s, unsigned h)
{
	if (h < 64)
		return __builtin_popcountll(s->ibm[0] & ((UINT64_C(1) << h) - 1));
	return __builtin_popcountll(s->ibm[0]) +
	       __builtin_popcountll(s->ibm[1] & ((UINT64_C(1) << (h - 64)) - 1));
}

static inline bool
ibm_has(const struct sh *s, unsigned h)
{
	return (s->ibm[h >> 6] >> (h & 63)) & 1;
}

static inline unsigned
ibm_count(const struct sh *s)
{
	return __builtin_popcountll(s->ibm[0]) + __builtin_popcountll(s->ibm[1]);
}

static inline uint32_t
uni_add(uint32_t u, uint32_t v)
{
	return u == UNI_NONE ? v : v == UNI_NONE || v == u ? u : UNI_MIXED;
}

/* Recompute s->uni from its prefixes and its children's. */
static void
sh_uni(struct sh *s)
{
	uint32_t u = UNI_NONE;
	unsigned n = ibm_count(s);
	for (unsigned i = 0; i < n && u != UNI_MIXED; i++)
		u = uni_add(u, s->nh[i]);
	n = __builtin_popcountll(s->cmap);
	for (unsigned i = 0; i < n && u != UNI_MIXED; i++)
		u = uni_add(u, s->kid[i]->uni);
	s->uni = u;
}

/* Whether the subtree of s, under inherited value d, needs no node. */
static inline bool
sh_redundant(const struct sh *s, uint32_t d)
{
	return s->uni == UNI_NONE || s->uni == d;
}

static inline struct sh *
sh_kid(const struct sh *s, unsigned v)
{
	if (!((s->cmap >> v) & 1))
		return NULL;
	return s->kid[__builtin_popcountll(s->cmap & ((UINT64_C(1) << v) - 1))];
}

/* The value a slot gets from the node's own prefixes, or d. */
static uint32_t
sh_slot_value(const struct sh *s, unsigned v, uint32_t d)
{
	for (unsigned l = STRIDE; l >= 1; l--) {
		unsigned h = (1u << l) + (v >> (STRIDE - l));
		if (ibm_has(s, h))
			return s->nh[ibm_rank(s, h)];
	}
	return d;
}

static struct sh *
sh_add_kid(struct fp_lpm *l, struct sh *s, unsigned v)
{
	struct sh *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	unsigned n = __builtin_popcountll(s->cmap);
	unsigned r = __builtin_popcountll(s->cmap & ((UINT64_C(1) << v) - 1));
	struct sh **kid = s->kid;
	if ((n & (n - 1)) == 0) { /* capacities are powers of two */
		kid = realloc(s->kid, (n ? 2 * n : 1) * sizeof(*kid));
		if (kid == NULL) {
			free(k);
			return NULL;
		}
	}
	memmove(kid + r + 1, kid + r, (n - r) * sizeof(*kid));
	kid[r] = k;
	s->kid = kid;
	s->cmap |= UINT64_C(1) << v;
	l->n_sh++;
	l->sh_bytes += sizeof(*k) + sizeof(void *);
	return k;
}

static void
sh_del_kid(struct fp_lpm *l, struct sh *s, unsigned v)
{
	unsigned n = __builtin_popcountll(s->cmap);
	unsigned r = __builtin_popcountll(s->cmap & ((UINT64_C(1) << v) - 1));
	struct sh *k = s->kid[r];
	free(k->nh);
	free(k->kid);
	free(k);
	memmove(s->kid + r, s->kid + r + 1, (n - r - 1) * sizeof(*s->kid));
	s->cmap &= ~(UINT64_C(1) << v);
	if (s->cmap == 0) {
		free(s->kid);
		s->kid = NULL;
	}
	l->n_sh--;
	l->sh_bytes -= sizeof(*k) + sizeof(void *);
}

/* Set prefix h in s; *old gets the value it replaced (0: new). */
static int
sh_set(struct fp_lpm *l, struct sh *s, unsigned h, uint32_t nh, uint32_t *old)
{
	unsigned r = ibm_rank(s, h);
	if (ibm_has(s, h)) {
		*old = s->nh[r];
		s->nh[r] = nh;
		return 0;
	}
	*old = 0;
	unsigned n = ibm_count(s);
	uint32_t *a = s->nh;
	if ((n & (n - 1)) == 0) { /* capacities are powers of two */
		a = realloc(s->nh, (n ? 2 * n : 1) * sizeof(*a));
		if (a == NULL)
			return -ENOMEM;
	}
	memmove(a + r + 1, a + r, (n - r) * sizeof(*a));
	a[r] = nh;
	s->nh = a;
	s->ibm[h >> 6] |= UINT64_C(1) << (h & 63);
	l->sh_bytes += sizeof(uint32_t);
	return 0;
}

static void
sh_clear(struct fp_lpm *l, struct sh *s, unsigned h)
{
	unsigned r = ibm_rank(s, h);
	unsigned n = ibm_count(s);
	memmove(s->nh + r, s->nh + r + 1, (n - r - 1) * sizeof(*s->nh));
	s->ibm[h >> 6] &= ~(UINT64_C(1) << (h & 63));
	if (n == 1) {
		free(s->nh);
		s->nh = NULL;
	}
	l->sh_bytes -= sizeof(uint32_t);
}

static void
sh_free(struct sh *s)
{
	if (s == NULL)
		return;
	unsigned n = __builtin_popcountll(s->cmap);
	for (unsigned i = 0; i < n; i++)
		sh_free(s->kid[i]);
	free(s->kid);
	free(s->nh);
	free(s);
}

/* First-level prefixes (0..S bits) live in topv, heap-numbered. The
 * record's first level is paged: an IPv6 table's prefixes are nearly all
 * in 2000::/3, an eighth of its 2^20 entries, and a small table's in a
 * few places. A page is allocated on first use and kept. */
#define TOP_PAGE_BITS 10

static inline uint32_t
topv_get(const struct fp_lpm *l, size_t h)
{
	const uint32_t *p = l->topv[h >> l->pb];
	return p != NULL ? p[h & ((1u << l->pb) - 1)] : 0;
}

static inline struct sh *
topk_get(const struct fp_lpm *l, size_t t)
{
	struct sh *const *p = l->topk[t >> l->pb];
	return p != NULL ? p[t & ((1u << l->pb) - 1)] : NULL;
}

/* The first-level prefix after heap number *h (0 to start), shorter
 * ones first: *h and *v get it; false after the last. */
static bool
topv_next(const struct fp_lpm *l, size_t *h, uint32_t *v)
{
	size_t in_page = ((size_t)1 << l->pb) - 1;
	for (size_t x = *h + 1; x < ((size_t)2 << l->S); x++) {
		const uint32_t *p = l->topv[x >> l->pb];
		if (p == NULL) {
			x |= in_page; /* the next page */
			continue;
		}
		if (p[x & in_page] != 0) {
			*h = x;
			*v = p[x & in_page];
			return true;
		}
	}
	return false;
}

/* The place of value h or shadow t, its page allocated if need be (NULL:
 * no memory). */
static uint32_t *
topv_ref(struct fp_lpm *l, size_t h)
{
	uint32_t **p = &l->topv[h >> l->pb];
	if (*p == NULL) {
		if ((*p = calloc((size_t)1 << l->pb, sizeof(**p))) == NULL)
			return NULL;
		l->sh_bytes += ((size_t)1 << l->pb) * sizeof(**p);
	}
	return &(*p)[h & ((1u << l->pb) - 1)];
}

static struct sh **
topk_ref(struct fp_lpm *l, size_t t)
{
	struct sh ***p = &l->topk[t >> l->pb];
	if (*p == NULL) {
		if ((*p = calloc((size_t)1 << l->pb, sizeof(**p))) == NULL)
			return NULL;
		l->sh_bytes += ((size_t)1 << l->pb) * sizeof(**p);
	}
	return &(*p)[t & ((1u << l->pb) - 1)];
}

static inline unsigned
top_h(unsigned S, u128 k, unsigned depth)
{
	(void)S;
	return depth == 0 ? 1 : (1u << depth) + (unsigned)(k >> (128 - depth));
}

/* Value and length of the longest first-level prefix over slot t (-1: none). */
static uint32_t
top_lpm(const struct fp_lpm *l, unsigned t, int *len)
{
	for (int d = l->S; d >= 0; d--) {
		uint32_t v = topv_get(l, (1u << d) + (t >> (l->S - d)));
		if (v != 0) {
			*len = d;
			return v;
		}
	}
	*len = -1;
	return 0;
}

/* ---- first-level entries and top blocks ---- */

/* A first-level entry is a value, (value << 1) | 1, or points to a top
 * block in one of two forms, told apart by bit 3:
 *
 * - flat (bit 3 clear), for a first node without children (nearly every
 *   first node of an IPv4 full view: /19../24 under S = 18): 2^k lines of
 *   64 bytes (k in bits 1..2); line p covers slots p * (64 >> k) onwards
 *   and holds a 64-bit map of where runs of equal values start among its
 *   slots, then up to FLAT_RUNS run values. k is the smallest that fits
 *   every line's runs (k = 3 always fits: 8 slots). A lookup computes the
 *   one line it needs from the entry and the address: one cache line
 *   after the first level, no load that waits for another.
 * - node (bit 3 set): a node allocated with its leaf runs right behind it
 *   (NODE_UNIT-aligned), bits 1..2 the number of 64-byte lines it spans
 *   beyond the first (3 at most counted), so that a lookup can prefetch
 *   node and leaves together before reading the node. */
#define E_NODE 8
#define FLAT_RUNS 14

static inline bool
is_leaf(ent_t e)
{
	return e & 1;
}

static inline bool
is_flat(ent_t e)
{
	return (e & (1 | E_NODE)) == 0;
}

static inline ent_t
mk_leaf(uint32_t v)
{
	return (v << 1) | 1;
}

/* The block an entry names: bits 4..31 are chunk slot << 16 | unit. */
static inline const char *
ent_block(const struct root *r, ent_t e)
{
	return r->chunk[e >> 20] + ((size_t)((e >> 4) & 0xffff) << 5);
}

/* The entry bits naming block p of arena a (which records its chunks). */
static ent_t
arena_index(const struct arena *a, const void *p)
{
	for (unsigned i = a->ntab; i-- > 0;) {
		const char *c = a->tab[i];
		if ((const char *)p >= c && (const char *)p < c + ((const struct chunk *)c)->size)
			return (ent_t)((a->slot0 + i) << 16 | (uint32_t)(((const char *)p - c) >> 5))
			       << 4;
	}
	return 0; /* not reached: p comes from a */
}

static inline unsigned
top_units(unsigned nleaves)
{
	return 1 + (nleaves * 4 + NODE_UNIT - 1) / NODE_UNIT;
}

static inline ent_t
mk_top(const struct fp_lpm *l, const struct node *x)
{
	uintptr_t a = (uintptr_t)x;
	uintptr_t end = a + sizeof(*x) + __builtin_popcountll(x->leafvec) * 4 - 1;
	unsigned extra = (unsigned)((end >> 6) - (a >> 6));
	return arena_index(l->nodes, x) | (extra < 3 ? extra : 3) << 1 | E_NODE;
}

/* The node of a node entry. */
static inline const struct node *
ent_node(const struct root *r, ent_t e)
{
	return (const struct node *)ent_block(r, e);
}

/* The node of entry e, or NULL for a value or a flat block. */
static inline const struct node *
top_node(const struct root *r, ent_t e)
{
	return (e & 1) || !(e & E_NODE) ? NULL : ent_node(r, e);
}

static inline unsigned
flat_units(ent_t e)
{
	return 1u << ((e >> 1) & 3);
}

/* The line of flat entry e that holds slot v. */
static inline const uint64_t *
flat_line(const struct root *r, ent_t e, unsigned v)
{
	unsigned k = (e >> 1) & 3;
	return (const uint64_t *)(ent_block(r, e) + ((size_t)(v >> (STRIDE - k)) << 6));
}

/* The slots of slot v's line up to v's own, as a mask of the line's run
 * map (slot j of a line is its bit j). */
static inline uint64_t
flat_upto(ent_t e, unsigned v)
{
	unsigned j = v & ((SLOTS - 1) >> ((e >> 1) & 3));
	return (UINT64_C(2) << j) - 1; /* j = 63: 0 - 1, all ones */
}

/* The value of the run the last set bit of upto is in: the run values
 * follow the 8-byte map, the first run's value at 32-bit index 2. */
static inline uint32_t
flat_read(const uint64_t *line, uint64_t upto)
{
	return ((const uint32_t *)line)[1 + __builtin_popcountll(line[0] & upto)];
}

static inline uint32_t
flat_get(ent_t e, const uint64_t *line, unsigned v)
{
	return flat_read(line, flat_upto(e, v));
}

/* The 64-byte lines node entry e's block spans beyond its first (3 at
 * most counted). */
static inline unsigned
top_extra(ent_t e)
{
	return (e >> 1) & 3;
}

/* Prefetch the lines of the top block of node entry e, up to three (a
 * node and 24 leaves or more), without a branch: a loop over a count that
 * varies from entry to entry would be mispredicted. */
static inline void
prefetch_top(const struct root *r, ent_t e)
{
	const char *p = ent_block(r, e);
	unsigned extra = top_extra(e);
	__builtin_prefetch(p);
	__builtin_prefetch(p + (extra >= 1 ? 64 : 0));
	__builtin_prefetch(p + (extra >= 2 ? 128 : extra * 64));
}

/* ---- the direct level (IPv4, big tables) ----
 *
 * Once an IPv4 table under S = 18 holds more than direct_at prefixes, its
 * root gets a second first level: 2^24 entries of 2 bytes, one per /24,
 * derived from the first level and its top blocks (S + STRIDE = 24, so a
 * first-level entry's 64 slots are 64 consecutive direct entries). An
 * entry is value + 1 when the whole /24 has that value and it is below
 * 65535 (every nexthop index of fibd's default build), else 0: "walk from
 * the first level", for a /24 with longer prefixes under it or a larger
 * value. A lookup that meets a value is one read of a 32 MiB array; the
 * rest take the usual walk.
 *
 * The writer rewrites a first-level entry's 64 direct entries after it
 * publishes the entry. A reader may meet a direct entry older or newer than
 * the first-level entry: each is a whole answer for its address, of the
 * table before or after the change, and values hold no pointers, so
 * nothing a direct entry leads to can be freed under a reader. Correctness
 * never depends on the direct level: without it (too many values, no
 * memory) every lookup walks. */

static inline uint16_t
direct_ent(uint32_t v)
{
	return v < 0xffff ? (uint16_t)(v + 1) : 0;
}

/* Rewrite first-level entry t's direct entries from the entry. */
static void
direct_fill(const struct root *r, uint16_t *direct, unsigned t)
{
	uint16_t *d = direct + ((size_t)t << STRIDE);
	ent_t e = r->top[t];
	if (is_leaf(e)) {
		uint16_t x = direct_ent((uint32_t)(e >> 1));
		for (unsigned v = 0; v < SLOTS; v++)
			__atomic_store_n(&d[v], x, __ATOMIC_RELAXED);
	} else if (is_flat(e)) {
		for (unsigned v = 0; v < SLOTS; v++)
			__atomic_store_n(&d[v], direct_ent(flat_get(e, flat_line(r, e, v), v)),
					 __ATOMIC_RELAXED);
	} else {
		const struct node *n = ent_node(r, e);
		for (unsigned v = 0; v < SLOTS; v++) {
			const uint32_t *leaf = NULL;
			uint16_t x = step(n, v, &leaf) == NULL ? direct_ent(*leaf) : 0;
			__atomic_store_n(&d[v], x, __ATOMIC_RELAXED);
		}
	}
}

static inline size_t
direct_bytes(void)
{
	return ((size_t)1 << DIRECT_BITS) * sizeof(uint16_t);
}

static bool
direct_wanted(const struct fp_lpm *l, unsigned S)
{
	return l->fam == 4 && S + STRIDE == DIRECT_BITS && l->n_pfx > l->direct_at;
}

/* A direct level for root r, filled from its first level, or NULL. */
static uint16_t *
direct_build(struct fp_lpm *l, const struct root *r)
{
	uint16_t *d = l->mem.alloc(l->mem.arg, direct_bytes());
	if (d == NULL)
		return NULL; /* every lookup walks: correct, only slower */
	for (unsigned t = 0; t < (1u << r->bits); t++)
		direct_fill(r, d, t);
	return d;
}

/* Publish first-level entry t of r, then its direct entries. */
static void
publish_top(struct root *r, unsigned t, ent_t e)
{
	__atomic_store_n(&r->top[t], e, __ATOMIC_RELEASE);
	uint16_t *d = r->direct;
	if (d != NULL)
		direct_fill(r, d, t);
}

/* Give the readers' root a direct level or take it away, as the table's
 * size asks (with hysteresis: it goes below half the threshold). */
static void
direct_adjust(struct fp_lpm *l)
{
	struct root *r = l->root;
	if (l->deferred)
		return; /* the commit decides */
	if (r->direct == NULL && direct_wanted(l, r->bits) && l->n_pfx >= l->direct_retry) {
		uint16_t *d = direct_build(l, r);
		if (d != NULL) {
			__atomic_store_n(&r->direct, d, __ATOMIC_RELEASE);
			l->direct_retry = 0;
		} else {
			l->direct_retry = l->n_pfx + 4096; /* not at every add */
		}
	} else if (r->direct != NULL && l->n_pfx <= l->direct_at / 2) {
		uint16_t *d = r->direct;
		if (ptr_push(&l->limbo_roots, d) < 0)
			return; /* keep it: cannot free it later */
		__atomic_store_n(&r->direct, NULL, __ATOMIC_RELEASE);
		l->limbo_bytes += direct_bytes();
	}
}

/* ---- building nodes ---- */

static void
retire_subtree(struct fp_lpm *l, const struct node *n, int *rc)
{
	unsigned nc = __builtin_popcountll(n->vec);
	for (unsigned i = 0; i < nc; i++)
		retire_subtree(l, &n->child[i], rc);
	if (drop(l, n->child, l->nodes, nc) < 0)
		*rc = -ENOMEM;
	if (!runs_inline(n->vec, n->leafvec) &&
	    drop(l, n->leaf, l->leaves, leaf_units(__builtin_popcountll(n->leafvec))) < 0)
		*rc = -ENOMEM;
}

/* Retire the block of first-level entry e (not the subtrees below it). */
static int
drop_top(struct fp_lpm *l, ent_t e)
{
	if (is_leaf(e))
		return 0;
	if (is_flat(e))
		return drop(l, (void *)ent_block(l->root, e), l->flat, flat_units(e));
	const struct node *n = ent_node(l->root, e);
	return drop(l, (void *)n, l->nodes, top_units(__builtin_popcountll(n->leafvec)));
}

/* Retire everything first-level entry e holds. */
static void
retire_top(struct fp_lpm *l, ent_t e, int *rc)
{
	const struct node *n = top_node(l->root, e);
	if (n != NULL) {
		unsigned nc = __builtin_popcountll(n->vec);
		for (unsigned i = 0; i < nc; i++)
			retire_subtree(l, &n->child[i], rc);
		if (drop(l, n->child, l->nodes, nc) < 0)
			*rc = -ENOMEM;
	}
	if (drop_top(l, e) < 0)
		*rc = -ENOMEM;
}

/* Slot values of a node: the node's own prefixes over the default d, and
 * how many bits of the node the winning prefix has (0: the default). */
static void
paint(const struct sh *s, uint32_t d, uint32_t val[SLOTS], uint8_t len[SLOTS])
{
	for (unsigned v = 0; v < SLOTS; v++) {
		val[v] = d;
		len[v] = 0;
	}
	unsigned r = 0;
	for (unsigned w = 0; w < 2; w++) {
		for (uint64_t m = s->ibm[w]; m != 0; m &= m - 1) {
			unsigned h = w * 64 + __builtin_ctzll(m);
			unsigned l = 31 - __builtin_clz(h);
			unsigned span = 1u << (STRIDE - l);
			unsigned start = (h - (1u << l)) * span;
			uint32_t nh = s->nh[r++];
			for (unsigned i = start; i < start + span; i++) {
				val[i] = nh;
				len[i] = l;
			}
		}
	}
}

/* Build the flat block of a first node without children from its slot
 * values; *top gets its entry. */
static int
make_flat(struct fp_lpm *l, const uint32_t val[SLOTS], ent_t *top)
{
	unsigned k = 0;
	for (; k < 3; k++) {
		unsigned m = SLOTS >> k, worst = 0;
		for (unsigned p = 0; p < SLOTS; p += m) {
			unsigned n = 1;
			for (unsigned v = p + 1; v < p + m; v++)
				n += val[v] != val[v - 1];
			if (n > worst)
				worst = n;
		}
		if (worst <= FLAT_RUNS)
			break;
	}
	uint64_t *b = take(l, l->flat, 1u << k);
	if (b == NULL)
		return -ENOMEM;
	unsigned m = SLOTS >> k;
	for (unsigned p = 0; p < (1u << k); p++) {
		uint64_t *line = b + p * (FLAT_UNIT / sizeof(*b));
		uint32_t *runs = (uint32_t *)(line + 1);
		uint64_t map = 0;
		unsigned n = 0;
		memset(line, 0, FLAT_UNIT);
		for (unsigned j = 0; j < m; j++) {
			unsigned v = p * m + j;
			if (j == 0 || val[v] != val[v - 1]) {
				map |= UINT64_C(1) << j;
				runs[n++] = val[v];
			}
		}
		line[0] = map;
	}
	*top = arena_index(l->flat, b) | k << 1;
	return 0;
}

/* Build the node for shadow s at bit o with inherited value d into *out,
 * from old (the node it replaces, NULL if none). Slots a..a+cnt-1 changed:
 * there a child is rebuilt unless its value comes from a prefix of more
 * than keep bits of this node (then the change cannot reach it), or taken
 * from *ovr (for the slot on the path to a deeper change). Children of
 * other slots are shared with old. old's arrays, and subtrees that are no
 * longer children, are retired. With top != NULL the node is a first
 * node (out is unused): its top block is allocated here and *top gets its
 * entry; old is then the node of the entry it replaces (NULL for a value
 * or a flat block), whose block the caller retires (drop_top). */
static int
make_node(struct fp_lpm *l, const struct sh *s, unsigned o, uint32_t d,
	  const struct node *old, unsigned a, unsigned cnt, unsigned keep,
	  const struct node *ovr, struct node *out, ent_t *top)
{
	uint32_t val[SLOTS];
	uint8_t len[SLOTS];
	paint(s, d, val, len);

	/* A change rebuilds whole subtrees under a short prefix, cold: ask
	 * for every child's shadow at once rather than miss on each in turn. */
	unsigned nk = __builtin_popcountll(s->cmap);
	for (unsigned k = 0; k < nk; k++)
		__builtin_prefetch(s->kid[k]);
	uint64_t vec = 0, leafvec = 0;
	unsigned k = 0;
	for (uint64_t m = s->cmap; m != 0; m &= m - 1, k++)
		if (!sh_redundant(s->kid[k], val[__builtin_ctzll(m)]))
			vec |= m & -m;
	uint32_t runs[SLOTS];
	unsigned nr = 0;
	for (uint64_t m = ~vec; m != 0; m &= m - 1) {
		unsigned v = __builtin_ctzll(m);
		if (nr == 0 || val[v] != runs[nr - 1]) {
			leafvec |= UINT64_C(1) << v;
			runs[nr++] = val[v];
		}
	}
	unsigned nc = __builtin_popcountll(vec);
	if (top != NULL && nc == 0) {
		int rc = make_flat(l, val, top);
		if (rc < 0)
			return rc;
	} else {
		if (top != NULL) {
			out = take(l, l->nodes, top_units(nr));
			if (out == NULL)
				return -ENOMEM;
		}
		out->vec = vec;
		out->leafvec = leafvec;
		if (top == NULL && runs_inline(vec, leafvec)) {
			memset(out->runs, 0, sizeof(out->runs));
			memcpy(out->runs + runs_at(vec), runs, nr * sizeof(runs[0]));
		} else {
			out->child = NULL;
			out->leaf = NULL;
			if (top != NULL)
				out->leaf = (uint32_t *)(out + 1);
			else if (nr != 0 && (out->leaf = take(l, l->leaves, leaf_units(nr))) == NULL)
				return -ENOMEM;
			if (nr != 0)
				memcpy(out->leaf, runs, nr * sizeof(runs[0]));
			/* a top node's runs stay behind it too: nothing reads
			 * its leaf pointer, which is its block's end */
			if (top != NULL && runs_inline(vec, leafvec))
				memcpy(out->runs + runs_at(vec), runs, nr * sizeof(runs[0]));
		}
		if (top != NULL)
			*top = mk_top(l, out);
		if (nc != 0) {
			out->child = take(l, l->nodes, nc);
			if (out->child == NULL)
				return -ENOMEM;
		}
		unsigned i = 0;
		for (uint64_t m = vec; m != 0; m &= m - 1, i++) {
			unsigned v = __builtin_ctzll(m);
			const struct node *oc = NULL;
			if (old != NULL && ((old->vec >> v) & 1))
				oc = &old->child[__builtin_popcountll(old->vec &
								      ((UINT64_C(1) << v) - 1))];
			bool in = v - a < cnt;
			if (ovr != NULL && v == a) {
				out->child[i] = *ovr;
			} else if (oc != NULL && (!in || len[v] > keep)) {
				out->child[i] = *oc;
			} else {
				int rc = make_node(l, sh_kid(s, v), o + STRIDE, val[v], oc, 0, SLOTS,
						   0, NULL, &out->child[i], NULL);
				if (rc < 0)
					return rc;
			}
		}
	}
	if (ovr != NULL && !((vec >> a) & 1)) {
		/* the change made the subtree redundant: what was built for it
		 * goes (never published, but a simple retirement is enough) */
		int rc = 0;
		retire_subtree(l, ovr, &rc);
		if (rc < 0)
			return rc;
	}
	if (old != NULL) {
		int rc = 0;
		unsigned j = 0;
		for (uint64_t m = old->vec; m != 0; m &= m - 1, j++) {
			unsigned v = __builtin_ctzll(m);
			/* the old child on a changed path was taken apart by the
			 * call that built ovr: what it held is retired or in ovr */
			if (!((vec >> v) & 1) && !(ovr != NULL && v == a))
				retire_subtree(l, &old->child[j], &rc);
		}
		if (rc < 0)
			return rc;
		if (drop(l, old->child, l->nodes, __builtin_popcountll(old->vec)) < 0)
			return -ENOMEM;
		if (top == NULL && !runs_inline(old->vec, old->leafvec) &&
		    drop(l, old->leaf, l->leaves, leaf_units(__builtin_popcountll(old->leafvec))) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Recompute first-level entry t from the record, sharing what can be
 * shared with the entry it replaces; publishes it. */
static int
set_top(struct fp_lpm *l, struct root *r, unsigned t)
{
	int dl;
	uint32_t d = top_lpm(l, t, &dl);
	ent_t e = r->top[t];
	ent_t ne;
	const struct sh *s = topk_get(l, t);
	if (s != NULL && !sh_redundant(s, d)) {
		int rc = make_node(l, s, l->S, d, top_node(r, e), 0, SLOTS, 0, NULL, NULL, &ne);
		if (rc < 0)
			return rc;
		if (drop_top(l, e) < 0)
			return -ENOMEM;
	} else {
		int rc = 0;
		retire_top(l, e, &rc);
		if (rc < 0)
			return rc;
		ne = mk_leaf(d);
	}
	publish_top(r, t, ne);
	return 0;
}

/* Rebuild what a change of prefix k/depth affects and publish it. The
 * record already holds the change. */
static int
update(struct fp_lpm *l, u128 k, unsigned depth)
{
	struct root *r = l->root;
	unsigned S = l->S;
	if (depth <= S) {
		/* each first-level entry under the prefix whose value it can
		 * give: one store each (each entry is old or new on its own) */
		unsigned t0 = depth == 0 ? 0 : (unsigned)(k >> (128 - depth)) << (S - depth);
		unsigned n = 1u << (S - depth);
		for (unsigned t = t0; t < t0 + n; t++) {
			int dl;
			top_lpm(l, t, &dl);
			if (dl > (int)depth)
				continue;
			int rc = set_top(l, r, t);
			if (rc < 0)
				return rc; /* the entries done so far are published */
			op_done(l);
		}
		return 0;
	}

	unsigned t = (unsigned)(k >> (128 - S));
	const struct sh *sh[MAX_LEVELS];
	const struct node *old[MAX_LEVELS];
	uint32_t d[MAX_LEVELS];
	unsigned v[MAX_LEVELS];
	int dl;
	d[0] = top_lpm(l, t, &dl);
	sh[0] = topk_get(l, t);
	ent_t e = r->top[t];
	old[0] = top_node(r, e);
	unsigned o = S, j = 0;
	while (depth > o + STRIDE) {
		unsigned s = key_slot(k, o);
		v[j + 1] = s;
		d[j + 1] = sh[j] ? sh_slot_value(sh[j], s, d[j]) : d[j];
		sh[j + 1] = sh[j] ? sh_kid(sh[j], s) : NULL;
		old[j + 1] = NULL;
		if (old[j] != NULL && ((old[j]->vec >> s) & 1))
			old[j + 1] = &old[j]->child[__builtin_popcountll(old[j]->vec &
									 ((UINT64_C(1) << s) - 1))];
		o += STRIDE;
		j++;
	}
	unsigned kl = j;
	int js = -1;
	for (unsigned i = 0; i <= kl && sh[i] != NULL; i++)
		js = i;
	if (js < 0 || sh_redundant(sh[0], d[0])) {
		int rc = 0;
		retire_top(l, e, &rc);
		if (rc < 0)
			return rc;
		publish_top(r, t, mk_leaf(d[0]));
		return 0;
	}
	unsigned a, cnt, keep = 0;
	unsigned oj = S + js * STRIDE;
	if ((unsigned)js == kl) {
		unsigned li = depth - oj;
		a = key_bits(k, oj, li) << (STRIDE - li);
		cnt = 1u << (STRIDE - li);
		keep = li;
	} else {
		a = v[js + 1];
		cnt = 1;
	}
	struct node n, p;
	ent_t ne = 0;
	int rc;
	if (js == 0) {
		rc = make_node(l, sh[0], S, d[0], old[0], a, cnt, keep, NULL, NULL, &ne);
	} else {
		rc = make_node(l, sh[js], oj, d[js], old[js], a, cnt, keep, NULL, &n, NULL);
		for (int i = js - 1; rc == 0 && i >= 1; i--) {
			rc = make_node(l, sh[i], S + i * STRIDE, d[i], old[i], v[i + 1], 1, 0, &n,
				       &p, NULL);
			n = p;
		}
		if (rc == 0)
			rc = make_node(l, sh[0], S, d[0], old[0], v[1], 1, 0, &n, NULL, &ne);
	}
	if (rc < 0)
		return rc;
	if (drop_top(l, e) < 0)
		return -ENOMEM;
	publish_top(r, t, ne);
	return 0;
}

/* ---- the record: first level and shadow ---- */

static int
record_init(struct fp_lpm *l, unsigned S)
{
	l->S = S;
	l->pb = S < TOP_PAGE_BITS ? S : TOP_PAGE_BITS;
	l->topv = calloc((size_t)2 << (S - l->pb), sizeof(*l->topv));
	l->topk = calloc((size_t)1 << (S - l->pb), sizeof(*l->topk));
	if (l->topv == NULL || l->topk == NULL) {
		free(l->topv);
		free(l->topk);
		l->topv = NULL;
		l->topk = NULL;
		return -ENOMEM;
	}
	l->sh_bytes = ((size_t)2 << (S - l->pb)) * sizeof(*l->topv) +
		      ((size_t)1 << (S - l->pb)) * sizeof(*l->topk);
	l->n_sh = 0;
	return 0;
}

/* Free a first level's record: its shadows and pages. */
static void
top_free(uint32_t **topv, struct sh ***topk, unsigned S, unsigned pb)
{
	if (topk != NULL)
		for (size_t pg = 0; pg < ((size_t)1 << (S - pb)); pg++) {
			if (topk[pg] == NULL)
				continue;
			for (size_t j = 0; j < ((size_t)1 << pb); j++)
				sh_free(topk[pg][j]);
			free(topk[pg]);
		}
	if (topv != NULL)
		for (size_t pg = 0; pg < ((size_t)2 << (S - pb)); pg++)
			free(topv[pg]);
	free(topk);
	free(topv);
}

static void
record_free(struct fp_lpm *l)
{
	top_free(l->topv, l->topk, l->S, l->pb);
	l->topk = NULL;
	l->topv = NULL;
}

/* Record k/depth -> nh; *old gets the value replaced (0: new prefix). */
static int
record_set(struct fp_lpm *l, u128 k, unsigned depth, uint32_t nh, uint32_t *old)
{
	if (depth <= l->S) {
		uint32_t *v = topv_ref(l, top_h(l->S, k, depth));
		if (v == NULL)
			return -ENOMEM;
		*old = *v;
		*v = nh;
		return 0;
	}
	struct sh **ts = topk_ref(l, (unsigned)(k >> (128 - l->S)));
	if (ts == NULL)
		return -ENOMEM;
	struct sh *s = *ts;
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return -ENOMEM;
		*ts = s;
		l->n_sh++;
		l->sh_bytes += sizeof(*s);
	}
	struct sh *path[MAX_LEVELS];
	unsigned o = l->S, j = 0;
	path[0] = s;
	while (depth > o + STRIDE) {
		unsigned v = key_slot(k, o);
		struct sh *c = sh_kid(s, v);
		if (c == NULL)
			c = sh_add_kid(l, s, v);
		if (c == NULL)
			return -ENOMEM; /* empty shadows left behind are pruned by the rollback */
		s = c;
		path[++j] = s;
		o += STRIDE;
	}
	unsigned li = depth - o;
	int rc = sh_set(l, s, (1u << li) + key_bits(k, o, li), nh, old);
	if (rc == 0)
		for (unsigned i = j + 1; i-- > 0;)
			sh_uni(path[i]);
	return rc;
}

/* Remove k/depth from the record (pruning empty shadows); *old gets its
 * value, 0 when it was not there (then empty shadows on its path, left by
 * a failed add, are pruned all the same). */
static void
record_clear(struct fp_lpm *l, u128 k, unsigned depth, uint32_t *old)
{
	*old = 0;
	if (depth <= l->S) {
		size_t h = top_h(l->S, k, depth);
		if ((*old = topv_get(l, h)) != 0)
			*topv_ref(l, h) = 0; /* its page exists */
		return;
	}
	unsigned t = (unsigned)(k >> (128 - l->S));
	struct sh *s = topk_get(l, t);
	if (s == NULL)
		return;
	struct sh *path[MAX_LEVELS];
	unsigned slot[MAX_LEVELS];
	unsigned o = l->S, j = 0;
	path[0] = s;
	while (s != NULL && depth > o + STRIDE) {
		slot[j + 1] = key_slot(k, o);
		s = sh_kid(s, slot[j + 1]);
		path[++j] = s;
		o += STRIDE;
	}
	if (s != NULL) {
		unsigned li = depth - o;
		unsigned h = (1u << li) + key_bits(k, o, li);
		if (ibm_has(s, h)) {
			*old = s->nh[ibm_rank(s, h)];
			sh_clear(l, s, h);
		}
	} else {
		j--; /* path[j] is the last that exists */
	}
	/* prune empty shadows bottom-up, then the summaries above them */
	int i = (int)j;
	for (; i >= 0; i--) {
		struct sh *c = path[i];
		if (c == NULL || c->cmap != 0 || c->ibm[0] != 0 || c->ibm[1] != 0)
			break;
		if (i == 0) {
			free(c->nh);
			free(c->kid);
			free(c);
			*topk_ref(l, t) = NULL; /* its page exists */
			l->n_sh--;
			l->sh_bytes -= sizeof(*c);
		} else {
			sh_del_kid(l, path[i - 1], slot[i]);
		}
	}
	for (; i >= 0; i--)
		sh_uni(path[i]);
}

static int
record_get(const struct fp_lpm *l, u128 k, unsigned depth, uint32_t *nh)
{
	if (depth <= l->S) {
		*nh = topv_get(l, top_h(l->S, k, depth));
		return *nh ? 0 : -ENOENT;
	}
	const struct sh *s = topk_get(l, (unsigned)(k >> (128 - l->S)));
	unsigned o = l->S;
	while (s != NULL && depth > o + STRIDE) {
		s = sh_kid(s, key_slot(k, o));
		o += STRIDE;
	}
	if (s == NULL)
		return -ENOENT;
	unsigned li = depth - o;
	unsigned h = (1u << li) + key_bits(k, o, li);
	if (!ibm_has(s, h))
		return -ENOENT;
	*nh = s->nh[ibm_rank(s, h)];
	return 0;
}

/* ---- walking the record ---- */

static int
walk_sh(const struct fp_lpm *l, const struct sh *s, u128 k, unsigned o,
	fp_lpm_walk_fn cb, void *arg)
{
	unsigned r = 0;
	uint8_t ip[16];
	for (unsigned w = 0; w < 2; w++) {
		for (uint64_t m = s->ibm[w]; m != 0; m &= m - 1) {
			unsigned h = w * 64 + __builtin_ctzll(m);
			unsigned li = 31 - __builtin_clz(h);
			u128 pk = k | ((u128)(h - (1u << li)) << (128 - o - li));
			for (int i = 15; i >= 0; i--, pk >>= 8)
				ip[i] = (uint8_t)pk;
			int rc = cb(arg, ip, (uint8_t)(o + li), s->nh[r++]);
			if (rc != 0)
				return rc;
		}
	}
	unsigned i = 0;
	for (uint64_t m = s->cmap; m != 0; m &= m - 1, i++) {
		unsigned v = __builtin_ctzll(m);
		int rc = walk_sh(l, s->kid[i], k | ((u128)v << (128 - o - STRIDE)), o + STRIDE,
				 cb, arg);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Prefix bits are counted from the top of the 128-bit key; for IPv4 the
 * address is the top 32 bits, so depths are the same and only the bytes
 * handed out differ (ip[0..3]). */
static int
walk_cb_adapt(const struct fp_lpm *l, fp_lpm_walk_fn cb, void *arg)
{
	uint8_t ip[16];
	size_t h = 0;
	uint32_t v;
	while (topv_next(l, &h, &v)) {
		unsigned d = 63 - __builtin_clzll(h);
		u128 pk = d ? (u128)(h - ((size_t)1 << d)) << (128 - d) : 0;
		for (int i = 15; i >= 0; i--, pk >>= 8)
			ip[i] = (uint8_t)pk;
		int rc = cb(arg, ip, (uint8_t)d, v);
		if (rc != 0)
			return rc;
	}
	for (size_t pg = 0; pg < ((size_t)1 << (l->S - l->pb)); pg++) {
		if (l->topk[pg] == NULL)
			continue;
		for (size_t j = 0; j < ((size_t)1 << l->pb); j++) {
			size_t t = pg << l->pb | j;
			if (l->topk[pg][j] == NULL)
				continue;
			int rc = walk_sh(l, l->topk[pg][j], (u128)t << (128 - l->S), l->S, cb, arg);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

int
fp_lpm_walk(const struct fp_lpm *l, fp_lpm_walk_fn cb, void *arg)
{
	return walk_cb_adapt(l, cb, arg);
}

/* ---- whole-table builds ---- */

/* Build a whole new table from the record and publish it: new arenas and
 * first level; the old ones are retired whole. */
static int
build_all(struct fp_lpm *l)
{
	size_t nt = (size_t)1 << l->S;
	struct root *nr = l->mem.alloc(l->mem.arg, sizeof(*nr) + nt * sizeof(ent_t));
	if (nr != NULL) {
		memset(nr->chunk, 0, sizeof(nr->chunk));
		nr->direct = NULL;
	}
	struct arena *na = arena_new(NODE_UNIT, nr, CHUNKS), *nl = arena_new(LEAF_UNIT, NULL, 0);
	struct arena *nf = arena_new(FLAT_UNIT, nr, 0);
	uint32_t *def = malloc(nt * sizeof(*def));
	struct arena *oa = l->nodes, *ol = l->leaves, *of = l->flat;
	int rc = 0;
	if (nr == NULL || na == NULL || nl == NULL || nf == NULL || def == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	nr->bits = l->S;
	/* first-level values: paint shorter prefixes first */
	memset(def, 0, nt * sizeof(*def));
	size_t h = 0;
	uint32_t v;
	while (topv_next(l, &h, &v)) {
		unsigned d = 63 - __builtin_clzll(h);
		size_t span = (size_t)1 << (l->S - d), b = h - ((size_t)1 << d);
		for (size_t i = b * span; i < (b + 1) * span; i++)
			def[i] = v;
	}
	l->nodes = na;
	l->leaves = nl;
	l->flat = nf;
	for (size_t t = 0; t < nt; t++) {
		const struct sh *s = topk_get(l, t);
		if (s == NULL || sh_redundant(s, def[t])) {
			nr->top[t] = mk_leaf(def[t]);
			continue;
		}
		rc = make_node(l, s, l->S, def[t], NULL, 0, SLOTS, 0, NULL, NULL,
			       &nr->top[t]);
		if (rc < 0)
			break;
		l->fresh.n = 0; /* the new arena goes as a whole on failure */
	}
	l->fresh.n = 0;
	l->pend.n = 0;
	if (rc < 0)
		goto fail;
	if (direct_wanted(l, l->S)) {
		nr->direct = direct_build(l, nr);
		l->direct_retry = nr->direct != NULL ? 0 : l->n_pfx + 4096;
	}
	struct root *orr = l->root;
	size_t held = l->limbo_roots.n;
	if (orr != NULL && (ptr_push(&l->limbo_roots, orr) < 0 ||
			    (orr->direct != NULL && ptr_push(&l->limbo_roots, orr->direct) < 0))) {
		l->limbo_roots.n = held;
		rc = -ENOMEM;
		goto fail;
	}
	free(def);
	__atomic_store_n(&l->root, nr, __ATOMIC_RELEASE);
	if (oa != NULL) {
		l->limbo_bytes += oa->bytes + ol->bytes + of->bytes;
		oa->next = ol;
		ol->next = of;
		of->next = l->limbo_arenas;
		l->limbo_arenas = oa;
	}
	return 0;
fail:
	l->nodes = oa;
	l->leaves = ol;
	l->flat = of;
	free(def);
	if (nr != NULL) {
		if (nr->direct != NULL)
			l->mem.free(l->mem.arg, nr->direct);
		l->mem.free(l->mem.arg, nr);
	}
	arena_destroy(&l->mem, na);
	arena_destroy(&l->mem, nl);
	arena_destroy(&l->mem, nf);
	return rc;
}

struct collect {
	uint8_t (*ip)[16];
	uint8_t *depth;
	uint32_t *nh;
	size_t n, cap;
};

static int
collect_cb(void *arg, const uint8_t *ip, uint8_t depth, uint32_t nh)
{
	struct collect *c = arg;
	memcpy(c->ip[c->n], ip, 16);
	c->depth[c->n] = depth;
	c->nh[c->n] = nh;
	c->n++;
	return 0;
}

/* Re-record every prefix under a first level of S bits. */
static int
record_resize(struct fp_lpm *l, unsigned S)
{
	struct collect c = {0};
	c.cap = l->n_pfx;
	c.ip = malloc(c.cap * 16 + 1);
	c.depth = malloc(c.cap + 1);
	c.nh = malloc(c.cap * 4 + 4);
	int rc = -ENOMEM;
	if (c.ip == NULL || c.depth == NULL || c.nh == NULL)
		goto out;
	fp_lpm_walk(l, collect_cb, &c);
	unsigned oS = l->S, opb = l->pb;
	uint32_t **otv = l->topv;
	struct sh ***otk = l->topk;
	uint64_t on = l->n_sh, ob = l->sh_bytes;
	rc = record_init(l, S);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < c.n && rc == 0; i++) {
		uint32_t old;
		rc = record_set(l, key6(c.ip[i]), c.depth[i], c.nh[i], &old);
	}
	if (rc < 0) {
		record_free(l);
		l->S = oS;
		l->pb = opb;
		l->topv = otv;
		l->topk = otk;
		l->n_sh = on;
		l->sh_bytes = ob;
		goto out;
	}
	top_free(otv, otk, oS, opb);
out:
	free(c.ip);
	free(c.depth);
	free(c.nh);
	return rc;
}

static unsigned
big_bits(const struct fp_lpm *l)
{
	return l->fam == 4 ? S_BIG4 : S_BIG6;
}

/* Grow the first level when the table has become large. */
static int
maybe_grow(struct fp_lpm *l)
{
	if (l->S >= big_bits(l) || l->n_pfx <= GROW_AT)
		return 0;
	unsigned oS = l->S;
	int rc = record_resize(l, big_bits(l));
	if (rc < 0)
		return 0; /* stays small: correct, only slower */
	rc = build_all(l);
	if (rc < 0 && record_resize(l, oS) < 0)
		l->deferred = true; /* the record is big, the root small: the next commit builds it */
	return 0;
}

/* ---- public ---- */

struct fp_lpm *
fp_lpm_create(int family, const struct fp_lpm_alloc *a)
{
	if (family != 4 && family != 6)
		return NULL;
	struct fp_lpm *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->fam = family;
	l->W = family == 4 ? 32 : 128;
	l->direct_at = DIRECT_AT;
	if (a != NULL)
		l->mem = *a;
	else
		l->mem = (struct fp_lpm_alloc){libc_alloc, libc_free, NULL};
	if (record_init(l, S_SMALL) < 0 || build_all(l) < 0) {
		fp_lpm_free(l);
		return NULL;
	}
	return l;
}

void
fp_lpm_free(struct fp_lpm *l)
{
	if (l == NULL)
		return;
	fp_lpm_reclaim(l);
	record_free(l);
	if (l->root != NULL) {
		if (l->root->direct != NULL)
			l->mem.free(l->mem.arg, l->root->direct);
		l->mem.free(l->mem.arg, l->root);
	}
	arena_destroy(&l->mem, l->nodes);
	arena_destroy(&l->mem, l->leaves);
	arena_destroy(&l->mem, l->flat);
	free(l->fresh.v);
	free(l->pend.v);
	free(l->limbo.v);
	free(l->limbo_roots.v);
	free(l);
}

/* *oldp: the value replaced, 0 for a new prefix or on an error */
static int
do_add(struct fp_lpm *l, u128 k, unsigned depth, uint32_t nh, uint32_t *oldp)
{
	*oldp = 0;
	if (depth > l->W || nh == 0 || nh > INT32_MAX)
		return -EINVAL;
	k = key_mask(k, depth);
	uint32_t old;
	int rc = record_set(l, k, depth, nh, &old);
	if (rc < 0) {
		uint32_t x;
		record_clear(l, k, depth, &x); /* prunes empty shadows made */
		return rc;
	}
	if (old == 0)
		l->n_pfx++;
	*oldp = old;
	if (l->deferred) {
		/* grow the record early: re-recording a big batch costs more */
		if (old == 0 && l->S < big_bits(l) && l->n_pfx > GROW_AT)
			record_resize(l, big_bits(l)); /* on failure: later, or small */
		return 0;
	}
	rc = update(l, k, depth);
	if (rc < 0) {
		op_undo(l);
		uint32_t x;
		if (old == 0) {
			record_clear(l, k, depth, &x);
			l->n_pfx--;
		} else {
			record_set(l, k, depth, old, &x);
		}
		/* entries of a short prefix published before the failure get
		 * their old value back; that may need memory too (new blocks
		 * for entries with deeper prefixes): if it fails, the readers'
		 * table is left to the next commit, which builds it from the
		 * record */
		if (depth <= l->S && update(l, k, depth) < 0) {
			op_undo(l);
			l->deferred = true;
		}
		*oldp = 0;
		return rc;
	}
	op_done(l);
	if (old == 0) {
		maybe_grow(l);
		direct_adjust(l);
	}
	return 0;
}

static int
do_delete(struct fp_lpm *l, u128 k, unsigned depth)
{
	if (depth > l->W)
		return -EINVAL;
	k = key_mask(k, depth);
	uint32_t old;
	if (record_get(l, k, depth, &old) < 0)
		return -ENOENT;
	record_clear(l, k, depth, &old);
	l->n_pfx--;
	if (l->deferred)
		return 0;
	int rc = update(l, k, depth);
	if (rc < 0) {
		op_undo(l);
		uint32_t x;
		if (record_set(l, k, depth, old, &x) < 0) {
			l->deferred = true; /* the record lost it: rebuilt without it */
		} else {
			l->n_pfx++;
			if (depth <= l->S && update(l, k, depth) < 0) {
				op_undo(l); /* as in do_add */
				l->deferred = true;
			}
		}
		return rc;
	}
	op_done(l);
	direct_adjust(l);
	return 0;
}

int
fp_lpm4_put(struct fp_lpm *l, uint32_t ip, uint8_t depth, uint32_t nh, uint32_t *old)
{
	*old = 0;
	if (l->fam != 4)
		return -EINVAL;
	return do_add(l, key4(ip), depth, nh, old);
}

int
fp_lpm6_put(struct fp_lpm *l, const uint8_t ip[16], uint8_t depth, uint32_t nh, uint32_t *old)
{
	*old = 0;
	if (l->fam != 6)
		return -EINVAL;
	return do_add(l, key6(ip), depth, nh, old);
}

int
fp_lpm4_add(struct fp_lpm *l, uint32_t ip, uint8_t depth, uint32_t nh)
{
	uint32_t old;
	return fp_lpm4_put(l, ip, depth, nh, &old);
}

int
fp_lpm6_add(struct fp_lpm *l, const uint8_t ip[16], uint8_t depth, uint32_t nh)
{
	uint32_t old;
	return fp_lpm6_put(l, ip, depth, nh, &old);
}

int
fp_lpm4_delete(struct fp_lpm *l, uint32_t ip, uint8_t depth)
{
	if (l->fam != 4)
		return -EINVAL;
	return do_delete(l, key4(ip), depth);
}

int
fp_lpm6_delete(struct fp_lpm *l, const uint8_t ip[16], uint8_t depth)
{
	if (l->fam != 6)
		return -EINVAL;
	return do_delete(l, key6(ip), depth);
}

int
fp_lpm4_get(const struct fp_lpm *l, uint32_t ip, uint8_t depth, uint32_t *nh)
{
	if (l->fam != 4 || depth > 32)
		return -EINVAL;
	return record_get(l, key_mask(key4(ip), depth), depth, nh);
}

int
fp_lpm6_get(const struct fp_lpm *l, const uint8_t ip[16], uint8_t depth, uint32_t *nh)
{
	if (l->fam != 6 || depth > 128)
		return -EINVAL;
	return record_get(l, key_mask(key6(ip), depth), depth, nh);
}

void
fp_lpm_defer(struct fp_lpm *l)
{
	l->deferred = true;
}

int
fp_lpm_commit(struct fp_lpm *l)
{
	if (!l->deferred)
		return 0;
	if (l->S < big_bits(l) && l->n_pfx > GROW_AT)
		record_resize(l, big_bits(l)); /* on failure: built small */
	int rc = build_all(l);
	if (rc == 0)
		l->deferred = false;
	return rc;
}

/* Bytes of each arena the subtree under n holds (not n itself). */
static void
held_subtree(const struct node *n, size_t *nodes, size_t *leaves)
{
	unsigned nc = __builtin_popcountll(n->vec);
	*nodes += (size_t)nc * NODE_UNIT;
	if (!runs_inline(n->vec, n->leafvec))
		*leaves += (size_t)leaf_units(__builtin_popcountll(n->leafvec)) * LEAF_UNIT;
	for (unsigned i = 0; i < nc; i++)
		held_subtree(&n->child[i], nodes, leaves);
}

int
fp_lpm_check(const struct fp_lpm *l)
{
	const struct root *r = l->root;
	size_t nodes = 0, leaves = 0, flat = 0;
	for (size_t t = 0; t < ((size_t)1 << r->bits); t++) {
		ent_t e = r->top[t];
		if (is_leaf(e))
			continue;
		if (is_flat(e)) {
			flat += (size_t)flat_units(e) * FLAT_UNIT;
			continue;
		}
		const struct node *n = ent_node(r, e);
		nodes += (size_t)top_units(__builtin_popcountll(n->leafvec)) * NODE_UNIT;
		unsigned nc = __builtin_popcountll(n->vec);
		nodes += (size_t)nc * NODE_UNIT;
		for (unsigned i = 0; i < nc; i++)
			held_subtree(&n->child[i], &nodes, &leaves);
	}
	if (l->limbo.n != 0 || nodes != l->nodes->used || leaves != l->leaves->used ||
	    flat != l->flat->used)
		return -1;
	return 0;
}

void
fp_lpm_direct_at(struct fp_lpm *l, uint64_t n)
{
	l->direct_at = n;
	direct_adjust(l);
}

void
fp_lpm_stats(const struct fp_lpm *l, struct fp_lpm_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->prefixes = l->n_pfx;
	size_t rb = sizeof(struct root) + ((size_t)1 << l->root->bits) * sizeof(ent_t);
	if (l->root->direct != NULL)
		rb += direct_bytes();
	st->first_bytes = rb;
	st->fib_bytes = rb + l->nodes->bytes + l->leaves->bytes + l->flat->bytes;
	st->fib_used = rb + l->nodes->used + l->leaves->used + l->flat->used;
	st->limbo_bytes = l->limbo_bytes;
	st->rib_bytes = l->sh_bytes + sizeof(*l);
	st->nodes = l->n_sh;
	st->first_bits = l->root->bits;
	st->direct_bits = l->root->direct != NULL ? DIRECT_BITS : 0;
}

/* ---- lookups ---- */

static inline const struct root *
root_of(const struct fp_lpm *l)
{
	return __atomic_load_n(&l->root, __ATOMIC_ACQUIRE);
}

uint32_t
fp_lpm4_lookup(const struct fp_lpm *l, uint32_t ip)
{
	const struct root *r = root_of(l);
	const uint16_t *d = __atomic_load_n(&r->direct, __ATOMIC_ACQUIRE);
	if (d != NULL) {
		uint16_t x = __atomic_load_n(&d[ip >> (32 - DIRECT_BITS)], __ATOMIC_RELAXED);
		if (x != 0)
			return x - 1u;
	}
	ent_t e = __atomic_load_n(&r->top[ip >> (32 - r->bits)], __ATOMIC_ACQUIRE);
	if (is_leaf(e))
		return (uint32_t)(e >> 1);
	uint64_t k = (uint64_t)ip << (32 + r->bits);
	if (is_flat(e)) {
		unsigned v = (unsigned)(k >> (64 - STRIDE));
		return flat_get(e, flat_line(r, e, v), v);
	}
	const struct node *n = ent_node(r, e);
	const uint32_t *leaf = NULL;
	while ((n = step(n, (unsigned)(k >> (64 - STRIDE)), &leaf)) != NULL)
		k <<= STRIDE;
	return *leaf;
}

static inline u128
load6(const uint8_t ip[16])
{
	uint64_t hi, lo;
	memcpy(&hi, ip, 8);
	memcpy(&lo, ip + 8, 8);
	return (u128)__builtin_bswap64(hi) << 64 | __builtin_bswap64(lo);
}

uint32_t
fp_lpm6_lookup(const struct fp_lpm *l, const uint8_t ip[16])
{
	const struct root *r = root_of(l);
	u128 k = load6(ip);
	ent_t e = __atomic_load_n(&r->top[(unsigned)(k >> (128 - r->bits))], __ATOMIC_ACQUIRE);
	if (is_leaf(e))
		return (uint32_t)(e >> 1);
	k <<= r->bits;
	if (is_flat(e)) {
		unsigned v = (unsigned)(k >> (128 - STRIDE));
		return flat_get(e, flat_line(r, e, v), v);
	}
	const struct node *n = ent_node(r, e);
	const uint32_t *leaf = NULL;
	while ((n = step(n, (unsigned)(k >> (128 - STRIDE)), &leaf)) != NULL)
		k <<= STRIDE;
	return *leaf;
}

/* The STRIDE bits of the address hi:lo (host order) from bit off on (0:
 * the most significant). off is the same for a whole round of a group's
 * walk, so the branches go the same way for every address of the round. */
static inline unsigned
bits6(uint64_t hi, uint64_t lo, unsigned off)
{
	if (off <= 64 - STRIDE)
		return (unsigned)(hi << off >> (64 - STRIDE));
	if (off >= 64)
		return (unsigned)(lo << (off - 64) >> (64 - STRIDE));
	return (unsigned)((hi << off | lo >> (64 - off)) >> (64 - STRIDE));
}

/* Bulk lookups go level by level over a group of addresses: each round
 * takes one step for every address still walking and prefetches where it
 * goes next, so the cache misses of a group overlap. */
#define GROUP 32
/* How far ahead of its read the direct level's entry is prefetched. A
 * pass that prefetched the whole group before reading it waited at the
 * prefetches once the core's miss buffers were full (a worker's profile
 * put 79% of the lookup there); 8 ahead keeps as many reads in flight and
 * took an in-cache lookup from 4.00 to 3.13 ns (lpm_ab, best of 15), with
 * random reads unchanged within noise. */
#define AHEAD4 8

/* One group (g <= GROUP) of IPv4 lookups from the first level. IPv4 ends
 * in the first node for nearly every address of a real table (S = 18:
 * /19../24 are one node down), so: prefetch every first-level entry, then
 * the line of every flat block the group needs (or every node block, node
 * and leaves), then finish each address in its top block; the few that go
 * deeper (/25 and longer) walk on and have their leaf prefetched, and are
 * read last. */
static inline void
lookup4_group(const struct root *r, const uint32_t *a, uint32_t *out, unsigned g)
{
	const unsigned S = r->bits;
	ent_t ent[GROUP];
	const uint32_t *leaf[GROUP];
	const uint64_t *line[GROUP];
	uint64_t upto[GROUP]; /* flat: the line's slots up to the address's */
	uint8_t deep[GROUP];
	unsigned nd = 0;
	for (unsigned i = 0; i < g; i++)
		__builtin_prefetch(&r->top[a[i] >> (32 - S)]);
	/* while the lines load, everything but reading them is done */
	for (unsigned i = 0; i < g; i++) {
		ent_t e = __atomic_load_n(&r->top[a[i] >> (32 - S)], __ATOMIC_ACQUIRE);
		ent[i] = e;
		if (is_leaf(e))
			continue;
		if (is_flat(e)) {
			unsigned v = (unsigned)((uint64_t)a[i] << (32 + S) >> (64 - STRIDE));
			line[i] = flat_line(r, e, v);
			__builtin_prefetch(line[i]);
			upto[i] = flat_upto(e, v);
		} else {
			prefetch_top(r, e);
		}
	}
	for (unsigned i = 0; i < g; i++) {
		ent_t e = ent[i];
		if (is_leaf(e)) {
			out[i] = (uint32_t)(e >> 1);
			continue;
		}
		if (is_flat(e)) {
			out[i] = flat_read(line[i], upto[i]);
			continue;
		}
		uint64_t k = (uint64_t)a[i] << (32 + S);
		const struct node *c = ent_node(r, e);
		uint64_t bit = UINT64_C(1) << (k >> (64 - STRIDE));
		if (!(c->vec & bit)) {
			/* a top node: its runs follow it (and may be inline too) */
			out[i] = ((const uint32_t *)(c + 1))[__builtin_popcountll(c->leafvec & ((bit << 1) - 1)) - 1];
			continue;
		}
		c = c->child + __builtin_popcountll(c->vec & (bit - 1));
		k <<= STRIDE;
		while ((c = step(c, (unsigned)(k >> (64 - STRIDE)), &leaf[i])) != NULL)
			k <<= STRIDE;
		__builtin_prefetch(leaf[i]);
		deep[nd++] = i;
	}
	for (unsigned j = 0; j < nd; j++)
		out[deep[j]] = *leaf[deep[j]];
}

void
fp_lpm4_lookup_bulk(const struct fp_lpm *l, const uint32_t *ip, uint32_t *nh, unsigned n)
{
	const struct root *r = root_of(l);
	const uint16_t *d = __atomic_load_n(&r->direct, __ATOMIC_ACQUIRE);
	for (unsigned base = 0; base < n; base += GROUP) {
		unsigned g = n - base < GROUP ? n - base : GROUP;
		const uint32_t *a = ip + base;
		uint32_t *out = nh + base;
		if (d == NULL) {
			lookup4_group(r, a, out, g);
			continue;
		}
		/* the direct level answers nearly all; an entry of 0 (walk)
		 * leaves 2^32 - 1, the only answer with the top bit set. The
		 * loops do no more than they must: every instruction in them
		 * delays the next burst's loads. */
		uint32_t any = 0;
		unsigned i = 0, pf = g < AHEAD4 ? g : AHEAD4;
		for (; i < pf; i++)
			__builtin_prefetch(&d[a[i] >> (32 - DIRECT_BITS)]);
		for (i = 0; i + AHEAD4 < g; i++) {
			__builtin_prefetch(&d[a[i + AHEAD4] >> (32 - DIRECT_BITS)]);
			uint32_t v = __atomic_load_n(&d[a[i] >> (32 - DIRECT_BITS)], __ATOMIC_RELAXED) - 1u;
			out[i] = v;
			any |= v;
		}
		for (; i < g; i++) {
			uint32_t v = __atomic_load_n(&d[a[i] >> (32 - DIRECT_BITS)], __ATOMIC_RELAXED) - 1u;
			out[i] = v;
			any |= v;
		}
		if (!(any >> 31))
			continue;
		uint32_t wa[GROUP], wo[GROUP];
		uint8_t wi[GROUP];
		unsigned nw = 0;
		for (unsigned i = 0; i < g; i++) {
			if (out[i] == UINT32_MAX) {
				wa[nw] = a[i];
				wi[nw++] = (uint8_t)i;
			}
		}
		lookup4_group(r, wa, wo, nw);
		for (unsigned j = 0; j < nw; j++)
			out[wi[j]] = wo[j];
	}
}

void
fp_lpm6_lookup_bulk(const struct fp_lpm *l, const uint8_t (*ip)[16], uint32_t *nh, unsigned n)
{
	const struct root *r = root_of(l);
	const unsigned S = r->bits;
	for (unsigned base = 0; base < n; base += GROUP) {
		unsigned g = n - base < GROUP ? n - base : GROUP;
		uint32_t *out = nh + base;
		const struct node *cur[GROUP];
		const uint32_t *leaf[GROUP];
		uint64_t hi[GROUP], lo[GROUP];
		uint8_t walk[GROUP], done[GROUP], flat[GROUP];
		ent_t fe[GROUP];
		const uint64_t *line[GROUP];
		unsigned nw = 0, nd = 0, nf = 0;
		for (unsigned i = 0; i < g; i++) {
			memcpy(&hi[i], ip[base + i], 8);
			memcpy(&lo[i], ip[base + i] + 8, 8);
			hi[i] = __builtin_bswap64(hi[i]);
			lo[i] = __builtin_bswap64(lo[i]);
			__builtin_prefetch(&r->top[hi[i] >> (64 - S)]);
		}
		for (unsigned i = 0; i < g; i++) {
			ent_t e = __atomic_load_n(&r->top[hi[i] >> (64 - S)], __ATOMIC_ACQUIRE);
			if (is_leaf(e)) {
				out[i] = (uint32_t)(e >> 1);
				continue;
			}
			if (is_flat(e)) {
				fe[i] = e;
				line[i] = flat_line(r, e, bits6(hi[i], lo[i], S));
				__builtin_prefetch(line[i]);
				flat[nf++] = i;
				continue;
			}
			cur[i] = ent_node(r, e);
			prefetch_top(r, e);
			walk[nw++] = i;
		}
		/* every address still walking is at the same depth in a round */
		for (unsigned off = S; nw != 0; off += STRIDE) {
			unsigned m = 0;
			for (unsigned j = 0; j < nw; j++) {
				unsigned i = walk[j];
				const struct node *c = step(cur[i], bits6(hi[i], lo[i], off), &leaf[i]);
				if (c != NULL) {
					cur[i] = c;
					walk[m++] = i;
					__builtin_prefetch(c);
				} else {
					__builtin_prefetch(leaf[i]);
					done[nd++] = i;
				}
			}
			nw = m;
		}
		for (unsigned j = 0; j < nf; j++) {
			unsigned i = flat[j];
			out[i] = flat_get(fe[i], line[i], bits6(hi[i], lo[i], S));
		}
		for (unsigned j = 0; j < nd; j++)
			out[done[j]] = *leaf[done[j]];
	}
}

/* ---- benchmarks ---- */

/* The chain a lookup of ip waits for, as fp_lpm6_lookup_bulk reads it:
 * the first-level entry, then each node, then the leaf value unless it is
 * on a line already read (a node's inline runs, the leaves a top block
 * carries behind its node, which the bulk lookup prefetches with it). */
unsigned
fp_lpm6_trace(const struct fp_lpm *l, const uint8_t ip[16], const void **at, unsigned max)
{
	const struct root *r = root_of(l);
	unsigned n = 0;
	u128 k = load6(ip);
	const ent_t *te = &r->top[(unsigned)(k >> (128 - r->bits))];
	if (n < max)
		at[n++] = te;
	ent_t e = *te;
	if (is_leaf(e))
		return n;
	k <<= r->bits;
	if (is_flat(e)) {
		if (n < max)
			at[n++] = flat_line(r, e, (unsigned)(k >> (128 - STRIDE)));
		return n;
	}
	const struct node *c = ent_node(r, e);
	uintptr_t blk0 = (uintptr_t)c >> 6, blk1 = blk0 + top_extra(e); /* the top block's lines */
	const uint32_t *leaf = NULL;
	if (n < max)
		at[n++] = c;
	uintptr_t last = (uintptr_t)c >> 6;
	while ((c = step(c, (unsigned)(k >> (128 - STRIDE)), &leaf)) != NULL) {
		k <<= STRIDE;
		if (n < max)
			at[n++] = c;
		last = (uintptr_t)c >> 6;
	}
	uintptr_t ll = (uintptr_t)leaf >> 6;
	bool in_top = n == 2 && ll >= blk0 && ll <= blk1;
	if (ll != last && !in_top && n < max)
		at[n++] = leaf;
	return n;
}
