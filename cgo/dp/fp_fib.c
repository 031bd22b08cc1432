/* FIB tables (left-right rte_fib/rte_fib6 pairs, or with fibd_fib=own
 * fibd's own LPM updated in place: see own_apply).
 *
 * rte_fib in DPDK 22.11 has no RCU integration and reuses tbl8 groups as
 * soon as a route is deleted, so a table that workers read must never be
 * modified. Every table therefore exists twice: the writer changes the copy
 * nobody reads, swaps the copies with one atomic store, waits for a QSBR
 * grace period (after which no worker can still be inside the old copy) and
 * replays the same changes on the old copy. Both copies see the same
 * operations in the same order, so they stay identical.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_rib.h>
#include <rte_rib6.h>

#include "fp.h"
#include "fp_fib.h"
#include "fp_nh.h"
#include "fp_rcu.h"
#include "fp_rules.h"

/* rte_fib keeps the nexthop in an entry whose low bit marks a tbl8 pointer:
 * with 2-byte entries 15 bits remain. Small nexthop tables use the small
 * entries and halve the FIB's memory. */
#define FP_NH_2B (FP_MAX_NEXTHOPS <= 32768)

struct fp_table fp_tables[FP_MAX_TABLES];

/* tbl8 groups when the operator gave none. DIR-24-8 needs a group for each
 * /24 that holds longer prefixes: rare in a full view, common for host
 * routes of neighbours and internal links; one per 32 routes covers both
 * with room. The IPv6 trie needs about 0.7 groups per route of a real
 * table, but DPDK 22.11 reserves pessimistically (a /48 with no covering
 * route reserves up to three groups, shared or not) and refuses routes
 * once the reservations reach the pool: 2 per route takes the synthetic
 * full view of `make bench` (200,000 routes) without a refusal. */
static uint32_t
tbl8_v4(const struct fp_table_conf *c)
{
	if (c->tbl8_4)
		return c->tbl8_4;
	return RTE_MIN(RTE_MAX(c->max_routes4 / 32, 1024u), 1u << 20);
}

/* IPv6 tbl8 groups: two per route. The TRIE reserves groups for a prefix
 * by the levels between it and the route above it *when it is added*, and
 * keeps them, so the need depends on the order routes come in: a 200k full
 * view of the DESIGN.md mix added sorted needs about 145k groups, added in
 * random order (as BGP delivers it) more than 250k. */
static uint32_t
tbl8_v6(const struct fp_table_conf *c)
{
	if (c->tbl8_6)
		return c->tbl8_6;
	return RTE_MIN(RTE_MAX(c->max_routes6 * 2, 1024u), 1u << 22);
}

/* rte_fib sizes its RIB at twice max_routes (branch points take nodes
 * too), so fibd's own count is the limit that bites; a little slack keeps
 * a replace near the limit from failing inside DPDK. */
static int
rib_nodes(uint32_t max_routes)
{
	return (int)RTE_MIN((uint64_t)max_routes + 1024, (uint64_t)INT32_MAX / 2);
}

/* Every rte_fib needs a unique name; rebuilt copies get a new one. Two
 * passes of a batch may rebuild at the same time (parallel apply). */
static _Atomic uint32_t fib_generation;

static struct rte_fib *
create4(uint16_t tidx, int copy, const struct fp_table_conf *conf)
{
	char name[64];
	struct rte_fib_conf c = {
		.type = RTE_FIB_DIR24_8,
		.default_nh = FP_NH_MISS,
		.max_routes = rib_nodes(conf->max_routes4),
		.dir24_8 = {
			.nh_sz = FP_NH_2B ? RTE_FIB_DIR24_8_2B : RTE_FIB_DIR24_8_4B,
			.num_tbl8 = tbl8_v4(conf),
		},
	};
	snprintf(name, sizeof(name), "fp4_%u_%d_%u", tidx, copy, atomic_fetch_add(&fib_generation, 1));
	return rte_fib_create(name, SOCKET_ID_ANY, &c);
}

static struct rte_fib6 *
create6(uint16_t tidx, int copy, const struct fp_table_conf *conf)
{
	char name[64];
	struct rte_fib6_conf c = {
		.type = RTE_FIB6_TRIE,
		.default_nh = FP_NH_MISS,
		.max_routes = rib_nodes(conf->max_routes6),
		.trie = {
			.nh_sz = FP_NH_2B ? RTE_FIB6_TRIE_2B : RTE_FIB6_TRIE_4B,
			.num_tbl8 = tbl8_v6(conf),
		},
	};
	snprintf(name, sizeof(name), "fp6_%u_%d_%u", tidx, copy, atomic_fetch_add(&fib_generation, 1));
	return rte_fib6_create(name, SOCKET_ID_ANY, &c);
}

/* Rebuild one copy of a table from the routes of src (another copy, or the
 * copy itself) into fresh rte_fib objects.
 *
 * Why: DPDK 22.11's DIR-24-8 keeps a count of reserved tbl8 groups that
 * drifts when a /24 route comes or goes while longer routes exist in the
 * same /24 (the reservation check counts the /24 itself as a longer
 * route), and the IPv6 trie's reservation is computed from the tree at add
 * and at delete time, which need not agree. A drifted count refuses routes
 * with ENOSPC although groups are free. A fresh table has an exact count.
 * It is also how the two copies are made equal again should they ever
 * differ, and the operator's "rebuild from scratch".
 *
 * The copy must not be readable by workers (standby, grace period passed).
 */
static int
rebuild_copy(uint16_t tidx, struct fp_table *t, int copy, int src)
{
	struct rte_fib *n4 = create4(tidx, copy, &t->conf);
	struct rte_fib6 *n6 = create6(tidx, copy, &t->conf);
	int rc = 0;
	if (n4 == NULL || n6 == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	struct rte_rib *r4 = rte_fib_get_rib(t->v4[src]);
	struct rte_rib_node *n = rte_rib_lookup_exact(r4, 0, 0);
	uint32_t ip;
	uint8_t depth;
	uint64_t nh;
	if (n != NULL) { /* get_nxt walks the more specifics of 0/0 only */
		rte_rib_get_nh(n, &nh);
		rc = rte_fib_add(n4, 0, 0, nh);
	}
	for (n = NULL; rc == 0 && (n = rte_rib_get_nxt(r4, 0, 0, n, RTE_RIB_GET_NXT_ALL)) != NULL;) {
		rte_rib_get_ip(n, &ip);
		rte_rib_get_depth(n, &depth);
		rte_rib_get_nh(n, &nh);
		rc = rte_fib_add(n4, ip, depth, nh);
	}
	struct rte_rib6 *r6 = rte_fib6_get_rib(t->v6[src]);
	static const uint8_t zero[16];
	uint8_t ip6[16];
	struct rte_rib6_node *m = rte_rib6_lookup_exact(r6, zero, 0);
	if (rc == 0 && m != NULL) {
		rte_rib6_get_nh(m, &nh);
		rc = rte_fib6_add(n6, zero, 0, nh);
	}
	for (m = NULL; rc == 0 && (m = rte_rib6_get_nxt(r6, zero, 0, m, RTE_RIB6_GET_NXT_ALL)) != NULL;) {
		rte_rib6_get_ip(m, ip6);
		rte_rib6_get_depth(m, &depth);
		rte_rib6_get_nh(m, &nh);
		rc = rte_fib6_add(n6, ip6, depth, nh);
	}
	if (rc != 0)
		goto fail;
	rte_fib_free(t->v4[copy]);
	rte_fib6_free(t->v6[copy]);
	t->v4[copy] = n4;
	t->v6[copy] = n6;
	__atomic_fetch_add(&t->rebuilds, 1, __ATOMIC_RELAXED);
	return 0;
fail:
	rte_fib_free(n4);
	rte_fib6_free(n6);
	return rc < 0 ? rc : -ENOMEM;
}

/* ---- fibd_fib=own: fibd's own LPM tables (fp_lpm.h) ----
 * One copy per family, changed in place: each change publishes itself
 * with one store, so a batch needs no standby copy, no replay and no
 * rebuild; what it replaced is freed after the batch's grace period. */

static void *
own_alloc(void *arg, size_t size)
{
	(void)arg;
	return rte_malloc("fp_lpm", size, RTE_CACHE_LINE_SIZE);
}

static void
own_free(void *arg, void *p)
{
	(void)arg;
	rte_free(p);
}

static const struct fp_lpm_alloc own_mem = {own_alloc, own_free, NULL};

static int
own_create(struct fp_table *t)
{
	t->l4 = fp_lpm_create(4, &own_mem);
	t->l6 = fp_lpm_create(6, &own_mem);
	return t->l4 != NULL && t->l6 != NULL ? 0 : -ENOMEM;
}

static bool valid_op(const struct fp_route_op *op);

/* A batch this large that changes a quarter of its table or more is
 * recorded whole and built once: a build costs about 0.6 us a route the
 * table holds, a change in place 2-3 us. The load of a full view is one;
 * so is a link going down under BIRD-style multipath routes, which the
 * kernel's re-dump turns into a replace of every route over the link
 * (1.2M replaces took 4.0 s in place). Readers see the old table until
 * the new one is published whole. */
#define FP_OWN_BULK 16384
#define FP_OWN_BULK_SHARE 4

/* One family's share of a batch on an own table: the ops of family fam
 * (4 takes the invalid ones too), in the batch's order or, for a bulk
 * batch, in address order (own_pass_order). The families are separate
 * structures with separate counts, so the two shares of a bulk batch run
 * at once (own_apply). */
struct own_pass {
	struct fp_table *t;
	const struct fp_route_op *ops;
	uint32_t n;
	int32_t *result;
	int fam;
	bool bulk;
	int failed;
	int commit; /* the family's fp_lpm_commit: 0 or -ENOMEM */
};

/* Whether op is in pass p's share (IPv4's takes the invalid families). */
static inline bool
in_pass(const struct own_pass *p, const struct fp_route_op *op)
{
	return (op->family == 6) == (p->fam == 6);
}

/* The first 32 bits of op's prefix, host order: masked to its length,
 * as the tables mask it, so that two ops on one prefix written with
 * different host bits have one key and keep their order. */
static inline uint32_t
op_key(const struct fp_route_op *op)
{
	uint32_t k;
	memcpy(&k, op->addr, 4);
	k = rte_be_to_cpu_32(k);
	return op->depth >= 32 ? k : op->depth == 0 ? 0 : k & ~(UINT32_MAX >> op->depth);
}

/* The order a bulk pass records its share in: by address (its first 32
 * bits), stable, so that the ops of one prefix keep theirs. Recording in
 * address order walks the record the way its last insert left it, where
 * an order of arrival (a peer's, a shuffled test's) misses the cache at
 * every level of every insert. Only when the share cannot reach the
 * table's limit (replaces counted as adds: a re-dump that replaces every
 * route keeps the kernel's order, address order already): a full table
 * refuses the adds that come last, and the programmer puts the routes
 * that keep the router reachable first. (An add refused for want of
 * memory, which a sorted share meets at an address and not at its end,
 * is no such promise.) NULL: the batch's order (also when memory is
 * short); else *m ops, free()d by the caller. */
static uint32_t *
own_pass_order(const struct own_pass *p, uint64_t held, uint64_t max, uint32_t *m)
{
	if (!p->bulk)
		return NULL;
	uint32_t k = 0, adds = 0;
	for (uint32_t i = 0; i < p->n; i++) {
		if (in_pass(p, &p->ops[i])) {
			k++;
			adds += p->ops[i].op == FP_ROUTE_ADD;
		}
	}
	if (k == 0 || held + adds > max)
		return NULL;
	/* items: key << 32 | op index, read from the ops once, in order */
	enum { DIGIT = 16, BUCKETS = 1 << DIGIT };
	uint64_t *a = malloc((size_t)k * sizeof(*a)), *b = malloc((size_t)k * sizeof(*b));
	uint32_t *cnt = malloc(BUCKETS * sizeof(*cnt));
	if (a == NULL || b == NULL || cnt == NULL) {
		free(a);
		free(b);
		free(cnt);
		return NULL;
	}
	k = 0;
	for (uint32_t i = 0; i < p->n; i++)
		if (in_pass(p, &p->ops[i]))
			a[k++] = (uint64_t)op_key(&p->ops[i]) << 32 | i;
	/* two counting passes over the key, low digit then high */
	for (unsigned shift = 32; shift < 64; shift += DIGIT) {
		memset(cnt, 0, BUCKETS * sizeof(*cnt));
		for (uint32_t j = 0; j < k; j++)
			cnt[(a[j] >> shift) & (BUCKETS - 1)]++;
		uint32_t sum = 0;
		for (uint32_t d = 0; d < BUCKETS; d++) {
			uint32_t c = cnt[d];
			cnt[d] = sum;
			sum += c;
		}
		for (uint32_t j = 0; j < k; j++)
			b[cnt[(a[j] >> shift) & (BUCKETS - 1)]++] = a[j];
		uint64_t *x = a;
		a = b;
		b = x;
	}
	free(b);
	free(cnt);
	uint32_t *ord = malloc((size_t)k * sizeof(*ord));
	if (ord != NULL) {
		for (uint32_t j = 0; j < k; j++)
			ord[j] = (uint32_t)a[j];
		*m = k;
	}
	free(a);
	return ord;
}

static void
own_pass_run(struct own_pass *p)
{
	struct fp_table *t = p->t;
	struct fp_lpm *l = p->fam == 4 ? t->l4 : t->l6;
	uint64_t *held = p->fam == 4 ? &t->routes4 : &t->routes6;
	uint64_t max = p->fam == 4 ? t->conf.max_routes4 : t->conf.max_routes6;
	uint32_t m = p->n;
	uint32_t *ord = own_pass_order(p, *held, max, &m);
	for (uint32_t j = 0; j < m; j++) {
		uint32_t i = ord != NULL ? ord[j] : j;
		const struct fp_route_op *op = &p->ops[i];
		if (!in_pass(p, op))
			continue;
		int rc;
		if (!valid_op(op)) {
			p->result[i] = -EINVAL;
			p->failed++;
			continue;
		}
		/* a full table (router_max_ip*_route_count) takes replaces
		 * only: the one case that looks the prefix up first */
		uint32_t old = 0;
		if (op->family == 4) {
			uint32_t ip;
			memcpy(&ip, op->addr, 4);
			ip = rte_be_to_cpu_32(ip);
			if (op->op == FP_ROUTE_DEL)
				rc = fp_lpm4_delete(l, ip, op->depth);
			else if (*held >= max && fp_lpm4_get(l, ip, op->depth, &old) < 0)
				rc = -ENOSPC;
			else if ((rc = fp_lpm4_put(l, ip, op->depth, op->nh, &old)) == 0 && old != 0)
				rc = 1; /* replaced: not counted */
		} else {
			if (op->op == FP_ROUTE_DEL)
				rc = fp_lpm6_delete(l, op->addr, op->depth);
			else if (*held >= max && fp_lpm6_get(l, op->addr, op->depth, &old) < 0)
				rc = -ENOSPC;
			else if ((rc = fp_lpm6_put(l, op->addr, op->depth, op->nh, &old)) == 0 && old != 0)
				rc = 1;
		}
		if (rc == -ENOMEM)
			rc = -ENOSPC; /* as rte_fib: the table cannot take it */
		if (rc < 0) {
			p->result[i] = rc;
			p->failed++;
			continue;
		}
		p->result[i] = 0;
		if (rc == 0)
			*held += op->op == FP_ROUTE_ADD ? 1 : -1;
	}
	free(ord);
	/* a batch was deferred; a single change may have left its table to be
	 * built from the record (memory ran out while undoing it): publish
	 * (nothing to do for a table that is not deferred) */
	p->commit = fp_lpm_commit(l);
}

static void *
own_pass_thread(void *arg)
{
	own_pass_run(arg);
	return NULL;
}

static int
own_apply(struct fp_table *t, const struct fp_route_op *ops, uint32_t n, int32_t *result)
{
	/* a whole-table build that failed (memory) is retried first */
	if (fp_lpm_commit(t->l4) < 0 || fp_lpm_commit(t->l6) < 0)
		return -ENOMEM;
	bool bulk = n >= FP_OWN_BULK && (uint64_t)n * FP_OWN_BULK_SHARE >= t->routes4 + t->routes6;
	if (bulk) {
		fp_lpm_defer(t->l4);
		fp_lpm_defer(t->l6);
	}
	struct own_pass p4 = {.t = t, .ops = ops, .n = n, .result = result, .fam = 4, .bulk = bulk};
	struct own_pass p6 = p4;
	p6.fam = 6;
	/* A bulk batch records and builds IPv6 on a second thread while this
	 * one does IPv4 (a full view's restart: about a quarter less time);
	 * without a thread, one after the other. */
	pthread_t th;
	bool twin = bulk && pthread_create(&th, NULL, own_pass_thread, &p6) == 0;
	own_pass_run(&p4);
	if (twin)
		pthread_join(th, NULL);
	else
		own_pass_run(&p6);
	if (p4.commit < 0 || p6.commit < 0)
		return -ENOMEM; /* recorded: published by the next apply */
	/* Free what the batch replaced once no worker can be inside it. A
	 * worker that does not report in time keeps it for a later batch. */
	if (fp_grace_period()) {
		fp_lpm_reclaim(t->l4);
		fp_lpm_reclaim(t->l6);
	}
	return p4.failed + p6.failed;
}

static void
table_free(struct fp_table *t)
{
	for (int k = 0; k < 2; k++) {
		rte_fib_free(t->v4[k]);
		rte_fib6_free(t->v6[k]);
		t->v4[k] = NULL;
		t->v6[k] = NULL;
	}
	fp_lpm_free(t->l4);
	fp_lpm_free(t->l6);
	t->l4 = NULL;
	t->l6 = NULL;
	t->used = false;
}

int
fp_table_create(uint16_t tidx, const struct fp_table_conf *conf)
{
	if (tidx >= FP_MAX_TABLES || conf->max_routes4 == 0 || conf->max_routes6 == 0)
		return -EINVAL;
	int rc = 0;
	fp_ctl_lock_take();
	struct fp_table *t = &fp_tables[tidx];
	if (t->used) {
		rc = -EEXIST;
		goto out;
	}
	rc = fp_nh_table_init();
	if (rc < 0)
		goto out;
	memset(t, 0, sizeof(*t));
	t->stale = -1;
	t->conf = *conf;
	t->id = conf->id;
	if (conf->own) {
		rc = own_create(t);
		if (rc < 0)
			goto fail;
		t->used = true;
		goto out;
	}
	for (int k = 0; k < 2; k++) {
		t->v4[k] = create4(tidx, k, &t->conf);
		t->v6[k] = create6(tidx, k, &t->conf);
		if (t->v4[k] == NULL || t->v6[k] == NULL) {
			/* the parameters were checked: what fails is the allocation
			 * (rte_fib reports it as EINVAL at times) */
			rc = rte_errno == EEXIST ? -EEXIST : -ENOMEM;
			goto fail;
		}
	}
	t->used = true;
	goto out;
fail:
	if (rc == 0)
		rc = -ENOMEM;
	table_free(t);
out:
	fp_ctl_lock_give();
	return rc;
}

int
fp_table_destroy(uint16_t tidx)
{
	if (tidx >= FP_MAX_TABLES)
		return -EINVAL;
	fp_ctl_lock_take();
	struct fp_table *t = &fp_tables[tidx];
	int rc = 0;
	if (!t->used) {
		rc = -ENOENT;
	} else if (fp_rules_name_table(tidx) || (tidx == 0 && fp_workers_running())) {
		/* a reader could reach it again: the single-table path of the
		 * workers reads slot 0 unchecked */
		rc = -EBUSY;
	} else {
		/* Readers reach a table only through a rule set (which no longer
		 * names it) and check `used` first: once a grace period passes
		 * after the store, none is inside it. */
		atomic_store_explicit(&t->used, false, memory_order_release);
		if (fp_grace_period()) {
			table_free(t);
		} else {
			atomic_store_explicit(&t->used, true, memory_order_relaxed);
			rc = -EAGAIN; /* a stalled worker may still read it */
		}
	}
	fp_ctl_lock_give();
	return rc;
}

static int
apply_one(struct fp_table *t, int copy, const struct fp_route_op *op)
{
	if (op->family == 4) {
		uint32_t ip;
		memcpy(&ip, op->addr, 4);
		ip = rte_be_to_cpu_32(ip);
		if (op->depth > 32)
			return -EINVAL;
		if (op->op == FP_ROUTE_ADD)
			return rte_fib_add(t->v4[copy], ip, op->depth, op->nh);
		return rte_fib_delete(t->v4[copy], ip, op->depth);
	}
	if (op->family == 6) {
		if (op->depth > 128)
			return -EINVAL;
		if (op->op == FP_ROUTE_ADD)
			return rte_fib6_add(t->v6[copy], op->addr, op->depth, op->nh);
		return rte_fib6_delete(t->v6[copy], op->addr, op->depth);
	}
	return -EAFNOSUPPORT;
}

/* apply_one, then make sure an add really took: DPDK 22.11 reports success
 * for a nexthop change of an existing prefix even when it could not get
 * the tbl8 groups to write it; its RIB then keeps the old nexthop. */
static int
apply_checked(struct fp_table *t, int copy, const struct fp_route_op *op, bool had)
{
	int rc = apply_one(t, copy, op);
	if (rc != 0 || op->op != FP_ROUTE_ADD || !had)
		return rc;
	uint64_t nh = FP_NH_MISS;
	if (op->family == 4) {
		uint32_t ip;
		memcpy(&ip, op->addr, 4);
		struct rte_rib_node *n = rte_rib_lookup_exact(rte_fib_get_rib(t->v4[copy]),
							      rte_be_to_cpu_32(ip), op->depth);
		if (n != NULL)
			rte_rib_get_nh(n, &nh);
	} else {
		struct rte_rib6_node *n = rte_rib6_lookup_exact(rte_fib6_get_rib(t->v6[copy]),
								op->addr, op->depth);
		if (n != NULL)
			rte_rib6_get_nh(n, &nh);
	}
	return nh == op->nh ? 0 : -ENOSPC;
}

/* Is this prefix already in the copy? Needed to keep route counts right,
 * since rte_fib_add on an existing prefix replaces its nexthop. */
static bool
exists(struct fp_table *t, int copy, const struct fp_route_op *op)
{
	if (op->family == 4) {
		uint32_t ip;
		memcpy(&ip, op->addr, 4);
		struct rte_rib *rib = rte_fib_get_rib(t->v4[copy]);
		return rte_rib_lookup_exact(rib, rte_be_to_cpu_32(ip), op->depth) != NULL;
	}
	struct rte_rib6 *rib = rte_fib6_get_rib(t->v6[copy]);
	return rte_rib6_lookup_exact(rib, op->addr, op->depth) != NULL;
}

static bool
valid_op(const struct fp_route_op *op)
{
	if (op->op != FP_ROUTE_ADD && op->op != FP_ROUTE_DEL)
		return false;
	if (op->op == FP_ROUTE_ADD && (op->nh == FP_NH_MISS || op->nh >= FP_MAX_NEXTHOPS))
		return false;
	return (op->family == 4 && op->depth <= 32) || (op->family == 6 && op->depth <= 128);
}

/* One pass of a batch over one copy. counts are the route counts the
 * max_routes limit checks against (the table's own for the pass that
 * counts, a private copy for a parallel twin). */
struct apply_pass {
	uint16_t tidx;
	struct fp_table *t;
	int copy;
	const struct fp_route_op *ops;
	uint32_t n;
	int32_t *result;
	uint64_t routes4, routes6;
	int failed;
	bool rebuilt;
};

static void
apply_pass_run(struct apply_pass *p)
{
	struct fp_table *t = p->t;
	for (uint32_t i = 0; i < p->n; i++) {
		const struct fp_route_op *op = &p->ops[i];
		if (!valid_op(op)) {
			p->result[i] = -EINVAL;
			p->failed++;
			continue;
		}
		/* A delete tells by its result whether the route was there. */
		bool had = op->op == FP_ROUTE_DEL || exists(t, p->copy, op);
		uint64_t *held = op->family == 4 ? &p->routes4 : &p->routes6;
		uint64_t max = op->family == 4 ? t->conf.max_routes4 : t->conf.max_routes6;
		int rc;
		if (op->op == FP_ROUTE_ADD && !had && *held >= max)
			rc = -ENOSPC; /* router_max_ip*_route_count reached */
		else
			rc = apply_checked(t, p->copy, op, had);
		if (rc == -ENOSPC && *held < max && !p->rebuilt) {
			/* Room by our count: maybe DPDK's tbl8 accounting drifted
			 * (see rebuild_copy). A fresh copy settles it; if it still
			 * refuses, the groups are really used up. */
			p->rebuilt = true;
			if (rebuild_copy(p->tidx, t, p->copy, p->copy) == 0)
				rc = apply_checked(t, p->copy, op, had);
		}
		if (rc == -ENOMEM)
			rc = -ENOSPC; /* RIB node pool or tbl8 groups exhausted */
		p->result[i] = rc;
		if (rc < 0) {
			p->failed++;
			continue;
		}
		*held += (op->op == FP_ROUTE_ADD) ? !had : -1;
	}
}

static void *
apply_pass_thread(void *arg)
{
	apply_pass_run(arg);
	return NULL;
}

/* Batches this large are applied to both copies at once when no worker
 * reads the table (the initial load of a full view, before forwarding
 * starts): the copies are independent and the machine has a spare core. */
#define FP_PARALLEL_BATCH 16384

int
fp_table_apply(uint16_t tidx, const struct fp_route_op *ops, uint32_t n, int32_t *result)
{
	if (tidx >= FP_MAX_TABLES)
		return -EINVAL;
	fp_ctl_lock_take();
	struct fp_table *t = &fp_tables[tidx];
	if (!t->used) {
		fp_ctl_lock_give();
		return -ENOENT;
	}
	/* fibd's own tables never change what a worker can still read: a
	 * stalled worker only delays the freeing of what changes replace */
	if (t->l4 != NULL) {
		int rc = own_apply(t, ops, n, result);
		fp_ctl_lock_give();
		return rc;
	}
	/* A worker that stalled may still be inside either copy: nothing is
	 * written until it has passed a quiescent point. */
	if (fp_rcu_stalled() && !fp_grace_period()) {
		fp_ctl_lock_give();
		return -ETIMEDOUT;
	}
	uint32_t act = atomic_load_explicit(&t->active, memory_order_relaxed);
	int standby = !act;

	/* 0. a copy that missed changes (its rebuild failed last time) is made
	 * equal to the active one before anything is published from it */
	if (t->stale == standby) {
		if (rebuild_copy(tidx, t, standby, act) != 0) {
			fp_ctl_lock_give();
			return -ENOMEM;
		}
		t->stale = -1;
	}

	struct apply_pass main = {
		.tidx = tidx, .t = t, .copy = standby, .ops = ops, .n = n, .result = result,
		.routes4 = t->routes4, .routes6 = t->routes6,
	};
	bool diverged = false;
	if (n >= FP_PARALLEL_BATCH && !fp_workers_running()) {
		/* Nobody reads either copy: both at once, then compare. */
		int32_t *twin_res = malloc(sizeof(*twin_res) * n);
		struct apply_pass twin = main;
		twin.copy = act;
		twin.result = twin_res;
		pthread_t th;
		if (twin_res != NULL && pthread_create(&th, NULL, apply_pass_thread, &twin) == 0) {
			apply_pass_run(&main);
			pthread_join(th, NULL);
			diverged = main.rebuilt || twin.rebuilt ||
				   memcmp(main.result, twin_res, sizeof(*twin_res) * n) != 0;
			free(twin_res);
			t->routes4 = main.routes4;
			t->routes6 = main.routes6;
			atomic_store_explicit(&t->active, standby, memory_order_release);
			fp_grace_period(); /* frees what the batch retired */
			goto check;
		}
		free(twin_res);
	}

	/* 1. the copy nobody reads */
	apply_pass_run(&main);
	t->routes4 = main.routes4;
	t->routes6 = main.routes6;
	/* 2. publish it, 3. wait until no worker is inside the old copy. A
	 * worker that does not report in time may still read it: the old copy
	 * stays as it is, marked stale, and is brought up to date once the
	 * worker has moved on (the next apply waits for that first). */
	atomic_store_explicit(&t->active, standby, memory_order_release);
	if (!fp_grace_period()) {
		t->stale = act;
		fp_ctl_lock_give();
		return main.failed;
	}
	/* 4. replay on the old copy. Identical input normally gives identical
	 * results; should the copies disagree anywhere (or the standby was
	 * rebuilt), the old one is rebuilt as a clone of the new. */
	diverged = main.rebuilt;
	for (uint32_t i = 0; i < n; i++)
		if (result[i] == 0 && apply_checked(t, act, &ops[i], true) != 0)
			diverged = true;
check:
	/* If even the clone fails (memory), the copy is marked stale and is
	 * repaired before it is ever published again. */
	if (diverged && rebuild_copy(tidx, t, act, standby) != 0) {
		t->clone_failures++;
		t->stale = act;
	}
	fp_ctl_lock_give();
	return main.failed;
}

int
fp_table_rebuild(uint16_t tidx)
{
	if (tidx >= FP_MAX_TABLES)
		return -EINVAL;
	fp_ctl_lock_take();
	struct fp_table *t = &fp_tables[tidx];
	int rc = -ENOENT;
	if (t->used && fp_rcu_stalled() && !fp_grace_period())
		rc = -ETIMEDOUT;
	else if (t->used && t->l4 != NULL) {
		/* fibd's own: rebuilt whole from its record, published at once */
		fp_lpm_defer(t->l4);
		fp_lpm_defer(t->l6);
		rc = fp_lpm_commit(t->l4) < 0 || fp_lpm_commit(t->l6) < 0 ? -ENOMEM : 0;
		if (fp_grace_period()) {
			fp_lpm_reclaim(t->l4);
			fp_lpm_reclaim(t->l6);
		}
		if (rc == 0)
			__atomic_fetch_add(&t->rebuilds, 1, __ATOMIC_RELAXED);
	} else if (t->used) {
		uint32_t act = atomic_load_explicit(&t->active, memory_order_relaxed);
		rc = rebuild_copy(tidx, t, !act, act);
		if (rc == 0) {
			t->stale = -1;
			atomic_store_explicit(&t->active, !act, memory_order_release);
			if (!fp_grace_period()) {
				t->stale = act;
				rc = -ETIMEDOUT;
			} else if ((rc = rebuild_copy(tidx, t, act, !act)) != 0) {
				t->stale = act;
			}
		}
	}
	fp_ctl_lock_give();
	return rc;
}

int
fp_table_info(uint16_t tidx, struct fp_table_info *info)
{
	if (tidx >= FP_MAX_TABLES)
		return -EINVAL;
	fp_ctl_lock_take();
	struct fp_table *t = &fp_tables[tidx];
	int rc = t->used ? 0 : -ENOENT;
	if (t->used) {
		info->routes4 = t->routes4;
		info->routes6 = t->routes6;
		info->rebuilds = t->rebuilds;
		info->clone_failures = t->clone_failures;
	}
	fp_ctl_lock_give();
	return rc;
}

uint32_t
fp_lookup4(uint16_t tidx, uint32_t addr_be)
{
	uint32_t ip = rte_be_to_cpu_32(addr_be), nh = FP_NH_MISS;
	fp_lookup4_bulk(tidx, &ip, &nh, 1);
	return nh;
}

uint32_t
fp_lookup6(uint16_t tidx, const uint8_t addr[16])
{
	uint32_t nh = FP_NH_MISS;
	fp_lookup6_bulk(tidx, (const uint8_t (*)[16])addr, &nh, 1);
	return nh;
}

#define LOOKUP_CHUNK 64

/* fp_lookup4_bulk and fp_lookup6_bulk: addrs are host-order IPv4 words or
 * 16-byte IPv6 addresses. */
static int
lookup_bulk(uint16_t tidx, int family, const void *addrs, uint32_t *nh, uint32_t n)
{
	if (tidx >= FP_MAX_TABLES)
		return -EINVAL;
	fp_ctl_lock_take();
	const struct fp_table *t = &fp_tables[tidx];
	if (!t->used) {
		fp_ctl_lock_give();
		return -ENOENT;
	}
	size_t width = family == 4 ? 4 : 16;
	uint64_t out[LOOKUP_CHUNK];
	for (uint32_t i = 0; i < n; i += LOOKUP_CHUNK) {
		uint32_t k = RTE_MIN(n - i, (uint32_t)LOOKUP_CHUNK);
		fp_table_lookup(t, family, (const uint8_t *)addrs + i * width, out, k);
		for (uint32_t j = 0; j < k; j++)
			nh[i + j] = (uint32_t)out[j];
	}
	fp_ctl_lock_give();
	return 0;
}

int
fp_lookup4_bulk(uint16_t tidx, const uint32_t *addrs, uint32_t *nh, uint32_t n)
{
	return lookup_bulk(tidx, 4, addrs, nh, n);
}

int
fp_lookup6_bulk(uint16_t tidx, const uint8_t (*addrs)[16], uint32_t *nh, uint32_t n)
{
	return lookup_bulk(tidx, 6, addrs, nh, n);
}

uint64_t
fp_heap_used(void)
{
	uint64_t used = 0;
	for (unsigned int s = 0; s < RTE_MAX_NUMA_NODES; s++) {
		struct rte_malloc_socket_stats st;
		if (rte_malloc_get_socket_stats(s, &st) == 0)
			used += st.heap_allocsz_bytes;
	}
	return used;
}
