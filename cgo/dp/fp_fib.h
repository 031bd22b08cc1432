/* FIB tables: per table, two rte_fib/rte_fib6 copies (left-right) or
 * fibd's own LPM (fibd_fib=own). fp_fib.c owns them and is their only
 * writer. */
#ifndef FP_FIB_H
#define FP_FIB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_fib.h>
#include <rte_fib6.h>

#include "fp.h"
#include "fp_lpm.h"

struct fp_table {
	/* read by workers on every burst */
	struct rte_fib *v4[2];
	struct rte_fib6 *v6[2];
	struct fp_lpm *l4, *l6;       /* fibd_fib=own: the one copy (v4/v6 unused) */
	_Atomic uint32_t active;      /* copy workers read */
	_Atomic bool used;            /* readers check it before the pointers */
	uint32_t id;
	/* the writer's own, on another cache line */
	uint64_t routes4 __rte_cache_aligned;
	uint64_t routes6;
	uint64_t rebuilds, clone_failures;
	int stale;                    /* copy that missed changes (-1: none) */
	struct fp_table_conf conf;
} __rte_cache_aligned;

/* Writer: fp_fib.c only, under the control lock (create, destroy, apply,
 * rebuild). A batch may hand one part to a helper thread that the lock's
 * holder joins before it lets the lock go: the second rte_fib copy's
 * pass, or an own table's IPv6 share (l6, routes6 and its ops' results,
 * while the holder does l4 and routes4). Readers: workers (fp_worker.c,
 * and fp_rules.c on their behalf) read a table's first cache line through fp_table_lookup() as RCU
 * readers: `active` is switched with a release store and the copy it
 * left is written only after a grace period; own tables publish each
 * change with one store. `used` goes false (fp_table_destroy) only when
 * no rule set names the table, and the table is freed a grace period
 * later. Control calls read under the control lock. */
extern struct fp_table fp_tables[FP_MAX_TABLES];

/* The one place a lookup chooses the table's structure. family 4: ip
 * points to n host-order IPv4 words; family 6: to n 16-byte addresses
 * (network order). nh gets n nexthop indices (FP_NH_MISS: no route).
 * Always inlined: with a constant family the other branch disappears and
 * a worker's burst costs what a direct rte_fib or fp_lpm call costs. */
static __rte_always_inline void
fp_table_lookup(const struct fp_table *t, int family, const void *ip, uint64_t *nh, unsigned int n)
{
	const struct fp_lpm *own = family == 4 ? t->l4 : t->l6;
	if (own != NULL) {
		uint32_t r[64];
		for (unsigned int i = 0; i < n; i += 64) {
			unsigned int k = n - i < 64 ? n - i : 64;
			if (family == 4)
				fp_lpm4_lookup_bulk(own, (const uint32_t *)ip + i, r, k);
			else
				fp_lpm6_lookup_bulk(own, (const uint8_t (*)[16])ip + i, r, k);
			for (unsigned int j = 0; j < k; j++)
				nh[i + j] = r[j];
		}
		return;
	}
	uint32_t a = atomic_load_explicit(&t->active, memory_order_acquire);
	if (family == 4)
		rte_fib_lookup_bulk(t->v4[a], (uint32_t *)(uintptr_t)ip, nh, n);
	else
		rte_fib6_lookup_bulk(t->v6[a], (uint8_t (*)[16])(uintptr_t)ip, nh, n);
}

#endif /* FP_FIB_H */
